"""The virtual board (`make vboard`): MicroPython in WebAssembly with a simulated machine.

Wired like the Pico W (same GPIO numbers, same syringe and drive), so what runs here runs
on a Pico. The STEP pulses come from the virtual board's step generator
(basalt.drivers.stepper_virtual), timed by the VM's clock instead of PIO.
"""

from copy import deepcopy

from boards.pico_w import BOARD as PICO_W

# The Pico W's board file, on the virtual board's MCU. Deploy writes it out whole as the
# device's /board.py (a board has no boards/ folder to import from).
BOARD = dict(deepcopy(PICO_W), name="vboard", mcu="vboard")
