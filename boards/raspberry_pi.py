"""Raspberry Pi bench rig: the app under CPython on the Pi's GPIO (adafruit-blinka).

Run it on the Pi with `python3 -m tools.pi` (see README, "Raspberry Pi bench rigs").
Same driver, syringe and drive as the Pico W rig; BCM GPIO numbers of the 40-pin header.
Linux times the STEP pulses from a thread, not from hardware: see
tools/pi/stepper.py for the jitter this gives.
"""

# Pin plan (BCM numbers; header pin in brackets):
#   GPIO2  [3]  I2C1 SDA, SSD1306 OLED       GPIO3  [5]  I2C1 SCL
#   GPIO17 [11] STEP -> TMC2209 STEP         GPIO27 [13] DIR -> TMC2209 DIR
#   GPIO22 [15] EN -> TMC2209 EN, active low, 10 k pull-up to 3V3 keeps it off at boot
#   GPIO23 [16] MS1                          GPIO24 [18] MS2  (both high: 1/16)
#   GPIO5  [29] button UP    GPIO6 [31] DOWN    GPIO13 [33] SELECT    GPIO19 [35] BACK
#   GPIO20 [38] HX711 DOUT                   GPIO21 [40] HX711 PD_SCK
#   GPIO12 [32] buzzer (hardware PWM0), through a transistor
# No battery section: the Pi runs from its mains supply and has no ADC.

BOARD = {
    "name": "raspberry_pi",
    "mcu": "raspberry_pi",
    "motor": {
        "driver": "tmc2209",
        "step": 17,
        "dir": 27,
        "enable": {"pin": 22, "invert": True},
        "microstep_pins": [23, 24],  # MS1, MS2
        # A thread on Linux cannot keep a faster schedule (see blinka_stepper.py).
        "max_step_hz": 1000,
    },
    # Bore area of a BD 3 mL syringe as used by the Poseidon pump (docs/references.md).
    "syringe": {"capacity_ml": 3.0, "bore_area_mm2": 57.89},
    "drive": {"lead_mm": 0.8, "full_steps_per_rev": 200, "microsteps": 16},
    "display": {"i2c": 1, "sda": 2, "scl": 3, "address": 0x3C},
    "buttons": {
        "up": {"pin": 5, "invert": True, "pull": "up"},
        "down": {"pin": 6, "invert": True, "pull": "up"},
        "select": {"pin": 13, "invert": True, "pull": "up"},
        "back": {"pin": 19, "invert": True, "pull": "up"},
    },
    "force": {"kind": "hx711", "dout": 20, "sck": 21},
    "buzzer": {"pin": 12},
}
