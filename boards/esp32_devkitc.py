"""ESP32 DevKitC-VE (ESP32-WROVER-E, PSRAM): DRV8825 at 1/16 on a BD 3 mL syringe, M5 lead screw.

A PSRAM board: the firmware's heap does not fit the ~111 KB an ESP32-WROOM module leaves
(tools.bench memory; docs/references.md). Flash MicroPython's ESP32_GENERIC-SPIRAM
firmware.
"""

# Pin plan (ESP32 GPIO numbers). Every pin below is configured in BOARD;
# load_board() refuses a GPIO used twice.
# Nothing here uses the flash bus GPIO6-11, the PSRAM pins GPIO16/17 (WROVER), UART0
# GPIO1/3 (USB console), or a strapping pin but GPIO2 (the buzzer, held low at boot by
# its transistor's base pull-down, as it must be). ADC2 does not work while the radio is
# on, so the battery uses ADC1.
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
# 2 = buzzer, LEDC PWM, through an NPN transistor whose 10 k base pull-down also holds
#               this strapping pin low at boot (on a WROOM DevKitC, without PSRAM, it
#               was GPIO16; that board lacks the heap, see the docstring)
# 34 = battery voltage, ADC1_CH6, through a 2:1 divider (input-only pin)
#
# Free: GPIO36 and GPIO39 (input-only).

BOARD = {
    "name": "esp32_devkitc",
    "mcu": "esp32",
    "psram": True,  # a WROVER module: the GC heap lives in its PSRAM
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
    "buzzer": {"pin": 2},
    # One Li-ion cell through a 2:1 divider (100 k / 100 k) to GPIO34 (ADC1_CH6).
    "battery": {"adc": 34, "divider": 2.0, "full_mv": 4200, "low_mv": 3500,
                "critical_mv": 3300},
}
