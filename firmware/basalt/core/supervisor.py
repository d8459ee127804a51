"""Task supervisor: the watchdog is fed only while every task checks in. Pure.

Each long-running task calls check_in(name, now_ms) once per loop. poll(now_ms) feeds
the hardware watchdog only if every registered task checked in within max_silence_ms.
A task that goes quiet latches the supervisor into starving the watchdog, which then
resets the board: a stuck task ends in a reset (motor driver disabled at power-up), never
in a motor left running with nobody watching it.
"""

from basalt.core.errors import InvalidValue
from basalt.core.units import shifted


class Supervisor:
    def __init__(self, watchdog, max_silence_ms):
        if max_silence_ms < 1 or max_silence_ms >= watchdog.timeout_ms:
            raise InvalidValue("supervisor max_silence_ms", max_silence_ms,
                               "1 to %d ms (below the watchdog timeout)" % (
                                   watchdog.timeout_ms - 1))
        self.watchdog = watchdog
        self.max_silence_ms = max_silence_ms
        self.starved_by = None  # the first task found silent; latched
        self._seen = {}

    def register(self, name, now_ms):
        self._seen[name] = now_ms

    def check_in(self, name, now_ms):
        if name not in self._seen:
            raise InvalidValue("supervisor task", name, "a registered task: " +
                               ", ".join(sorted(self._seen)))
        self._seen[name] = now_ms

    def rebase(self, shift_ms):
        """The app's clock moved back by shift_ms (PumpApp.rebase)."""
        seen = self._seen
        for name in seen:
            seen[name] = shifted(seen[name], shift_ms)

    def poll(self, now_ms):
        """Feed the watchdog if every task is alive; returns whether it fed."""
        if self.starved_by is None:
            for name in sorted(self._seen):
                if now_ms - self._seen[name] > self.max_silence_ms:
                    self.starved_by = name
                    break
        if self.starved_by is not None or not self._seen:
            return False
        self.watchdog.feed()
        return True

    async def run(self, clock, period_ms, armed=None):
        """The supervisor task: arm the watchdog, then poll every period_ms.

        armed: a callable that says when to arm (None: at once). The board arms it once
        the boot screen is acknowledged: before that the motor driver stays disabled, and
        an unarmed watchdog lets mpremote interrupt a freshly reset board (a started
        machine.WDT cannot be stopped, not even by a soft reset) to deploy or inspect it.
        """
        while armed is not None and not armed():
            await clock.sleep_ms(period_ms)
        self.watchdog.start()
        while True:
            self.poll(clock.now_ms())
            await clock.sleep_ms(period_ms)
