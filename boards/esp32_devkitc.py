"""ESP32 DevKitC (ESP32-WROOM-32): DRV8825 at 1/16 on a BD 3 mL syringe, M5 lead screw."""

# Pin plan (ESP32 GPIO numbers). Every pin below is configured in BOARD;
# load_board() refuses a GPIO used twice.
# Nothing here uses the strapping pins GPIO0, 2, 5, 12, 15, the flash bus GPIO6-11, or
# UART0 GPIO1/3 (USB console). ADC2 does not work while the radio is on, so the battery
# uses ADC1. GPIO16/17 carry PSRAM on WROVER variants of the DevKitC.
#
# motor (BOARD["motor"]):
#   GPIO25  STEP  -> DRV8825 STEP
#   GPIO26  DIR   -> DRV8825 DIR
#   GPIO27  EN    -> DRV8825 nENBL, active low; a 10 k pull-up to 3V3 keeps it off in reset
#   GPIO18  MODE0 -> DRV8825 M0 } low, low, high: 1/16 microstepping (levels come from
#   GPIO19  MODE1 -> DRV8825 M1 } the driver table in basalt.core.board_file)
#   GPIO23  MODE2 -> DRV8825 M2 }
#
# 21 = I2C SDA, SSD1306 OLED
# 22 = I2C SCL, SSD1306 OLED
# 13 = button UP, to GND, internal pull-up
# 14 = button DOWN, to GND, internal pull-up
# 32 = button SELECT, to GND, internal pull-up
# 33 = button BACK, to GND, internal pull-up
# 35 = HX711 DOUT (force sensor; input-only pin, driven by the HX711)
# 4 = HX711 PD_SCK
# 16 = buzzer, LEDC PWM, through an NPN transistor (WROOM modules; on a WROVER
#               DevKitC, where GPIO16 is PSRAM, use GPIO2 with the transistor's base
#               pull-down, which also holds that strapping pin low at boot as it must be)
# 34 = battery voltage, ADC1_CH6, through a 2:1 divider (input-only pin)
#
# Free: GPIO17, GPIO36 and GPIO39 (input-only).

BOARD = {
    "name": "esp32_devkitc",
    "mcu": "esp32",
    "motor": {
        "driver": "drv8825",
        "step": 25,
        "dir": 26,
        "enable": {"pin": 27, "invert": True},
        "microstep_pins": [18, 19, 23],  # MODE0, MODE1, MODE2
        "max_step_hz": 2000,
    },
    # Bore area of a BD 3 mL syringe as used by the Poseidon pump (docs/references.md).
    "syringe": {"capacity_ml": 3.0, "bore_area_mm2": 57.89},
    "drive": {"lead_mm": 0.8, "full_steps_per_rev": 200, "microsteps": 16},
    "display": {"i2c": 0, "sda": 21, "scl": 22, "address": 0x3C},
    "buttons": {
        "up": {"pin": 13, "invert": True, "pull": "up"},
        "down": {"pin": 14, "invert": True, "pull": "up"},
        # GPIO32/33 have internal pull-ups (34-39 have none, so no buttons there).
        "select": {"pin": 32, "invert": True, "pull": "up"},
        "back": {"pin": 33, "invert": True, "pull": "up"},
    },
    "force": {"kind": "hx711", "dout": 35, "sck": 4},
    "buzzer": {"pin": 16},
    # One Li-ion cell through a 2:1 divider (100 k / 100 k) to GPIO34 (ADC1_CH6).
    "battery": {"adc": 34, "divider": 2.0, "full_mv": 4200, "low_mv": 3500,
                "critical_mv": 3300},
}
