"""STEP/DIR/EN stepper drivers (A4988, DRV8825, TMC2209): everything but the pulse timer.

StepDirMotor implements the Motor port (basalt.ports) for a driver wired to three GPIOs
plus optional microstep-select pins. It owns the plain outputs (EN, DIR, MS*), the
argument checks, the fail-safe rules and the step bookkeeping. A subclass supplies only
the hardware that times the STEP pulses (RP2040 PIO, ESP32 RMT), through three hooks
and one attribute:

    _start(steps, period_us)   hand a move to the timer; the first step is due now
    _service()                 collect progress into self._done; True while running
    _abort()                   stop the timer, leave STEP idle, set self._done
    (self._done)               microsteps the timer has issued in this move

Fail safe: EN is the first pin touched and is driven to its inactive level before any
other pin or peripheral exists; stop() and disable() drive it inactive again. MicroPython
only (hardware modules are passed in or imported in the constructor, never at import).
"""

from basalt.core.check import is_int
from basalt.core.errors import MotorFault
from basalt.ports import Motor

try:
    from micropython import const
except ImportError:  # CPython (host tests)

    def const(value):
        return value


# DIR must be stable before the next STEP rising edge: A4988 200 ns, DRV8825 650 ns,
# TMC2209 20 ns (datasheet setup times). 1 us covers all three.
_DIR_SETUP_US = const(1)
# STEP high time used by timers that choose it (RMT): twice the datasheet minimum.
_PULSE_MARGIN = const(2)
# Largest move and slowest step we accept. Steps: keeps steps * 1000 a small int (below
# 2**30); a whole BD 3 mL syringe at 1/16 is ~207,000 microsteps, longer travel takes
# several moves. Period: ticks_diff() is only valid for spans below 2**29 us (~537 s).
_MAX_STEPS = const(1_000_000)
_MAX_PERIOD_US = const(250_000_000)


def hw_module(given, name):
    """The hardware module to use: the one passed in (tests pass fakes) or the real one."""
    return given if given is not None else __import__(name)


class StepDirMotor(Motor):
    """Motor port for a STEP/DIR/EN driver; subclasses add the STEP pulse timer."""

    def __init__(self, config, machine=None, time=None):
        machine = hw_module(machine, "machine")
        self._time = hw_module(time, "time")
        self.config = config
        self.max_step_hz = config.max_step_hz
        self.pulse_us = config.min_pulse_us * _PULSE_MARGIN
        # EN first, at its inactive level: the driver is disabled before anything else.
        self._en = self._output(machine, config.enable, False)
        self._enabled = False
        self._forward = True
        self._dir = self._output(machine, config.direction, True)
        self._ms = []
        for ms_pin, level in zip(config.microstep_pins, config.microstep_levels):
            self._ms.append(self._output(machine, ms_pin, level))
        # STEP last, idle: the subclass hands it to its pulse timer.
        self._on = config.step.level(True)
        self._off = config.step.level(False)
        self._step = self._output(machine, config.step, False)
        self._moving = False
        self._steps = 0  # microsteps in the current or last move
        self._done = 0  # microsteps the timer has issued in the current or last move
        self._fault = None  # a latched timer fault: no further moves

    @staticmethod
    def _output(machine, spec, active):
        """An output driven to the level of `active` (set before the pin is switched on)."""
        pin = machine.Pin
        pull = {"up": pin.PULL_UP, "down": pin.PULL_DOWN}.get(spec.pull)
        return pin(spec.number, pin.OUT, pull, value=spec.level(active))

    # ----- Motor port -------------------------------------------------------------

    def enable(self):
        if self._fault:
            raise MotorFault("enable refused: " + self._fault)
        self._en.value(self.config.enable.level(True))
        self._enabled = True

    def disable(self):
        """Disable the driver; a running move is aborted first (see stop())."""
        if self._moving:
            self.stop()
            return
        self._en.value(self.config.enable.level(False))
        self._enabled = False

    def en_reads_active(self):
        """The EN line read back at its pin (the power-on self-test): True if it is at the
        driver's active level (a short, a missing pull-up, the wrong pin)."""
        return self._en.value() == self.config.enable.level(True)

    def is_enabled(self):
        return self._enabled

    def set_direction(self, forward):
        if self.busy():
            raise MotorFault("set_direction refused: a move is still running")
        forward = bool(forward)
        self._dir.value(self.config.direction.level(forward))
        self._forward = forward
        self._time.sleep_us(_DIR_SETUP_US)  # DIR setup time before the next STEP edge

    def move(self, steps, duration_ms):
        """Start `steps` microsteps spread evenly over `duration_ms` (first step now).

        The step period is rounded up to the timer's resolution, so the hardware never
        steps faster than asked; a move may end a few microseconds per step later.
        """
        if self._fault:
            raise MotorFault("move refused: " + self._fault)
        if not self._enabled:
            raise MotorFault("move refused: the motor driver is disabled (call enable())")
        if self.busy():
            raise MotorFault("move refused: the previous move is still running")
        if not is_int(steps) or not 1 <= steps <= _MAX_STEPS:
            raise ValueError("steps: %r is not allowed; allowed: 1 to %d microsteps"
                             % (steps, _MAX_STEPS))
        if not is_int(duration_ms) or duration_ms < 1:
            raise ValueError("duration_ms: %r is not allowed; allowed: 1 ms or more"
                             % (duration_ms,))
        # steps * 1000 / duration_ms > max_step_hz, in small integers (// and %, not
        # divmod: its tuple would be garbage on every move).
        hz = steps * 1000 // duration_ms
        if hz > self.max_step_hz or (hz == self.max_step_hz and steps * 1000 % duration_ms):
            raise ValueError("step rate: %d steps in %d ms is above motor.max_step_hz "
                             "(%d Hz)" % (steps, duration_ms, self.max_step_hz))
        # Period in us, rounded up, without leaving the small-int range.
        period_us = (duration_ms // steps * 1000
                     + (duration_ms % steps * 1000 + steps - 1) // steps)
        if period_us > _MAX_PERIOD_US:
            raise ValueError("step period: %d us is not allowed; allowed: at most %d us "
                             "between microsteps" % (period_us, _MAX_PERIOD_US))
        if period_us < 2 * self.pulse_us:
            raise ValueError("step period: %d us is shorter than two %d us STEP pulses"
                             % (period_us, self.pulse_us))
        self._steps = steps
        self._done = 0
        self._moving = True
        try:
            self._start(steps, period_us)
        except Exception:
            self.stop()
            raise

    def busy(self):
        if self._moving and not self._service():
            self._moving = False
        return self._moving

    def steps_done(self):
        self.busy()
        return self._done

    def stop(self):
        """Disable the driver at once, then stop the timer; return the steps issued.

        EN goes inactive first, so the motor stops moving even before the timer does.
        """
        self._en.value(self.config.enable.level(False))
        self._enabled = False
        if self._moving:
            self._moving = False
            self._abort()
        return self._done

    def poll(self):
        """Collect progress (and, for timers that need it, feed the next chunk).

        Same as busy(). Call it at least once per application tick while a move runs.
        """
        return self.busy()

    # ----- hooks for the timer ------------------------------------------------------

    def _start(self, steps, period_us):
        raise NotImplementedError

    def _service(self):
        raise NotImplementedError

    def _abort(self):
        raise NotImplementedError
