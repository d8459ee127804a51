"""Piezo buzzer on a PWM pin, playing the alarm patterns of basalt.core.alarms.

PwmBuzzer implements the Buzzer port. play()/stop() only record what to play; step()
drives the PWM for a given time and says how long until the next change, and run()
is the coroutine the app schedules to call it. A piezo is loudest with a square wave:
volume 1000 is 50 % duty, lower volumes shorten the pulse. MicroPython only (machine
is passed in by tests, or imported in the constructor).
"""

from basalt.core.alarms import check_pattern
from basalt.core.units import shifted
from basalt.drivers.stepdir import hw_module
from basalt.ports import Buzzer

try:
    from micropython import const
except ImportError:  # CPython (host tests)

    def const(value):
        return value


_IDLE_MS = const(50)  # how often run() looks for a new pattern, without a wake flag
_SILENT_MS = const(60_000)  # with one: play() and stop() end the wait
_HALF_DUTY = const(32768)


class PwmBuzzer(Buzzer):
    def __init__(self, pin, machine=None):
        """pin: the board's buzzer Pin (board.buzzer.pin); silent from the start."""
        machine = hw_module(machine, "machine")
        self._invert = pin.invert
        self._off_duty = 65535 if pin.invert else 0
        self._pwm = machine.PWM(machine.Pin(pin.number, machine.Pin.OUT))
        self._pwm.duty_u16(self._off_duty)
        self._freq = 0
        self._duty = self._off_duty
        self._pattern = None
        self._started = None
        self._wake = None  # the flag run() waits on, when it has one

    def play(self, pattern):
        check_pattern(pattern)
        if pattern is not self._pattern:
            self._pattern = pattern
            self._started = None  # starts from its first note at the next step()
            self._changed()

    def stop(self):
        self._pattern = None
        self._silence()
        self._changed()

    def _changed(self):
        if self._wake is not None:
            self._wake.set()

    def rebase(self, shift_ms):
        self._started = shifted(self._started, shift_ms)

    def step(self, now_ms):
        """Set the PWM for time now_ms; returns the ms until the output changes next."""
        pattern = self._pattern
        if pattern is None:
            self._silence()
            return _IDLE_MS
        if self._started is None:
            self._started = now_ms
        volume, repeat_ms, notes = pattern
        t = (now_ms - self._started) % repeat_ms
        for freq, on_ms, off_ms in notes:
            if t < on_ms:
                self._tone(freq, volume)
                return on_ms - t
            t -= on_ms
            if t < off_ms:
                self._silence()
                return off_ms - t
            t -= off_ms
        self._silence()
        return repeat_ms - (now_ms - self._started) % repeat_ms

    async def run(self, clock, wake=None):
        """Play forever on the app's clock (schedule with asyncio.create_task). wake: a
        flag (asyncio.ThreadSafeFlag) that play() and stop() set, waited on with
        clock.wait_ms until the output's next change; without one, looks every _IDLE_MS."""
        self._wake = wake
        while True:
            wait = self.step(clock.now_ms())
            if wake is None:
                await clock.sleep_ms(wait if wait < _IDLE_MS else _IDLE_MS)
            else:
                await clock.wait_ms(wake, _SILENT_MS if self._pattern is None else wait)

    def _tone(self, freq, volume):
        duty = volume * _HALF_DUTY // 1000
        if self._invert:
            duty = 65535 - duty
        if freq != self._freq:
            self._pwm.freq(freq)
            self._freq = freq
        if duty != self._duty:
            self._pwm.duty_u16(duty)
            self._duty = duty

    def _silence(self):
        if self._duty != self._off_duty:
            self._pwm.duty_u16(self._off_duty)
            self._duty = self._off_duty
