"""Boot on a real board: load /board.py, build the drivers and the app, run it.

Kept out of main.py so main.py stays a few lines; everything here is wiring.
"""

import asyncio
import time

from basalt.app import BOOT_WARNING, PumpApp
from basalt.core.board import load_board
from basalt.ports import Clock


class TicksClock(Clock):
    """The one clock on a board: a monotonic ms count built from ticks_diff.

    ticks_ms() wraps (2**30 ms on most ports); summing ticks_diff over calls never
    sees the wrap as long as now_ms() is called at least once per wrap period.
    """

    def __init__(self):
        self._last = time.ticks_ms()
        self._now = 0

    def now_ms(self):
        ticks = time.ticks_ms()
        self._now += time.ticks_diff(ticks, self._last)
        self._last = ticks
        return self._now

    async def sleep_ms(self, ms):
        await asyncio.sleep_ms(ms)


def make_motor(board):
    """The stepper adapter for the board's MCU; the driver starts disabled."""
    if board.mcu == "rp2040":
        from basalt.drivers.stepper_rp2 import PioStepper

        return PioStepper(board.motor)
    if board.mcu == "esp32":
        from basalt.drivers.stepper_esp32 import RmtStepper

        return RmtStepper(board.motor)
    raise ValueError("no motor adapter for mcu %r" % board.mcu)


def start():
    from board import BOARD  # the board file deploy copied to the device as /board.py

    print(BOOT_WARNING)
    board = load_board(BOARD)
    app = PumpApp(board, TicksClock(), make_motor(board))
    asyncio.run(app.run())
