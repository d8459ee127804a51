"""The Pi's watchdog: the Watchdog port in software, for a rig that has no machine.WDT.

On a board the hardware watchdog resets the MCU when the supervisor stops feeding it
(a task went silent); the reset disables the stepper driver and the app restarts from
its checkpoint. On the Pi a thread watches the feeds instead: once the supervisor has
not fed it for timeout_ms, it calls `expired` once, from the thread, while the stalled
event loop cannot. The rig's `expired` stops the motor (ThreadStepper.stop(): EN off
first) and ends the process with WATCHDOG_EXIT, the reset's counterpart (a service
manager restarts it; the Keeper recovers from the journal and checkpoint).
"""

import threading
import time

from basalt.core.check import int_in
from basalt.ports import Watchdog

WATCHDOG_EXIT = 3  # the process's exit status after the watchdog fired


class SoftWatchdog(Watchdog):
    def __init__(self, expired, timeout_ms=4_000, poll_ms=100):
        self.timeout_ms = int_in("watchdog timeout", timeout_ms, 100, 60_000, "ms")
        self._expired = expired
        self._poll_s = poll_ms / 1000
        self._fed = None  # monotonic time of the last feed; None until started
        self._thread = None
        self._stopped = False
        self.fired = False

    def start(self):
        if self._thread is None:
            self._fed = time.monotonic()
            self._thread = threading.Thread(target=self._watch, name="watchdog",
                                            daemon=True)
            self._thread.start()

    def feed(self):
        if self._fed is not None:
            self._fed = time.monotonic()

    def stop(self):
        """An orderly end of the run: the thread stops watching (a board cannot)."""
        self._stopped = True

    def _watch(self):
        while not self._stopped:
            time.sleep(self._poll_s)
            if self._stopped:
                return
            silent_ms = int((time.monotonic() - self._fed) * 1000)
            if silent_ms > self.timeout_ms:
                self.fired = True
                self._expired(silent_ms)
                return
