"""machine.WDT behind the Watchdog port (rp2 allows at most 8,388 ms)."""

from basalt.core.check import int_in
from basalt.ports import Watchdog

try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(value):
        return value

_MAX_TIMEOUT_MS = const(8_000)


class MachineWatchdog(Watchdog):
    def __init__(self, timeout_ms=4_000):
        self.timeout_ms = int_in("watchdog timeout", timeout_ms, 1_000, _MAX_TIMEOUT_MS, "ms")
        self._wdt = None

    def start(self):
        if self._wdt is None:
            from machine import WDT

            self._wdt = WDT(timeout=self.timeout_ms)

    def feed(self):
        if self._wdt is not None:
            self._wdt.feed()
