"""The simulator's board: a BD 3 mL syringe on an M5 lead screw, fake hardware."""

from copy import deepcopy

from boards.pico_w import BOARD as PICO_W

# The Pico W's syringe, drive and peripherals on fake hardware: a motor without
# microstep pins, and the display on other pins.
BOARD = dict(
    deepcopy(PICO_W), name="sim", mcu="host",
    motor={"driver": "fake", "step": 2, "dir": 3, "enable": {"pin": 4, "invert": True},
           "max_step_hz": 4000},
    display={"i2c": 0, "sda": 20, "scl": 21, "address": 0x3C},
)
