"""Raspberry Pi Pico W: TMC2209 (step/dir mode, 1/16) on a BD 3 mL syringe, M5 lead screw."""

# Pin plan (RP2040 GPIO numbers). Every pin below is configured in BOARD;
# load_board() refuses a GPIO used twice.
#
# motor (BOARD["motor"]):
#   GP2  STEP -> TMC2209 STEP
#   GP3  DIR  -> TMC2209 DIR
#   GP6  EN   -> TMC2209 EN, active low; a 10 k pull-up to 3V3 keeps it off during reset
#   GP7  MS1  -> TMC2209 MS1 } both high: 1/16 microstepping (levels come from the
#   GP8  MS2  -> TMC2209 MS2 } driver table in basalt.core.board_file)
#
# 4 = I2C0 SDA, SSD1306 OLED (the Pico's default I2C0 pins)
# 5 = I2C0 SCL, SSD1306 OLED
# 10 = button UP, to GND, internal pull-up
# 11 = button DOWN, to GND, internal pull-up
# 12 = button SELECT, to GND, internal pull-up
# 13 = button BACK, to GND, internal pull-up
# 14 = HX711 DOUT (force sensor)
# 15 = HX711 PD_SCK
# 16 = buzzer, PWM slice 0 A, through a transistor
# 28 = battery voltage, ADC2, through a 2:1 divider
#
# Free: GP0/GP1 (UART0, debug console), GP9, GP17-GP22, GP26-GP27 (ADC0-1).
# Not on the header of a Pico W: GP23, GP24, GP25 and GP29 belong to the CYW43 radio
# (GP29/ADC3 reads VSYS/3 only while the radio's SPI is idle, hence GP28 for the battery).

BOARD = {
    "name": "pico_w",
    "mcu": "rp2040",
    "motor": {
        "driver": "tmc2209",
        "step": 2,
        "dir": 3,
        "enable": {"pin": 6, "invert": True},
        "microstep_pins": [7, 8],  # MS1, MS2
        "max_step_hz": 4000,
    },
    # Bore area of a BD 3 mL syringe as used by the Poseidon pump (docs/references.md).
    "syringe": {"capacity_ml": 3.0, "bore_area_mm2": 57.89},
    "drive": {"lead_mm": 0.8, "full_steps_per_rev": 200, "microsteps": 16},
    "display": {"i2c": 0, "sda": 4, "scl": 5, "address": 0x3C},
    "buttons": {
        "up": {"pin": 10, "invert": True, "pull": "up"},
        "down": {"pin": 11, "invert": True, "pull": "up"},
        "select": {"pin": 12, "invert": True, "pull": "up"},
        "back": {"pin": 13, "invert": True, "pull": "up"},
    },
    "force": {"kind": "hx711", "dout": 14, "sck": 15},
    "buzzer": {"pin": 16},
    # One Li-ion cell on VSYS through a 2:1 divider (100 k / 100 k) to GP28.
    "battery": {"adc": 28, "divider": 2.0, "full_mv": 4200, "low_mv": 3500,
                "critical_mv": 3300},
}
