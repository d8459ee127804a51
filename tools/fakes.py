"""Fake hardware for host tests and the simulator. Each fake enforces its port's contract."""

from basalt.core.errors import MotorFault
from basalt.ports import Clock, Motor


class VirtualClock(Clock):
    """Simulated monotonic time; advanced by the simulator or a test."""

    def __init__(self, start_ms=0):
        self._now = start_ms

    def now_ms(self):
        return self._now

    def advance(self, ms):
        if ms < 0:
            raise ValueError("a clock never goes backwards (advance %d ms)" % ms)
        self._now += ms

    async def sleep_ms(self, ms):
        self.advance(ms)


class FakeMotor(Motor):
    """A step/dir stepper whose pulses follow the clock, like PIO or RMT would.

    Refuses steps while disabled, a second move while busy, direction changes while
    moving, and rates above max_step_hz. Disabling mid-move stops the pulses.
    """

    def __init__(self, clock, max_step_hz=4_000):
        self.clock = clock
        self.max_step_hz = max_step_hz
        self.enabled = False
        self.forward = True
        self.forward_steps = 0  # completed moves, by direction
        self.reverse_steps = 0
        self.moves = []  # (start_ms, steps, duration_ms, forward) for tests
        self._move = None  # [start_ms, steps, duration_ms]
        self._last_done = 0

    def enable(self):
        self.enabled = True

    def disable(self):
        self._settle(truncate=True)
        self.enabled = False

    def is_enabled(self):
        return self.enabled

    def set_direction(self, forward):
        if self.busy():
            raise MotorFault("direction changed while the motor is moving")
        self._settle(truncate=False)  # book the finished move in its own direction
        self.forward = bool(forward)

    def move(self, steps, duration_ms):
        if not self.enabled:
            raise MotorFault("move of %d steps while the driver is disabled" % steps)
        if self.busy():
            raise MotorFault("move requested while the previous move is running")
        if not isinstance(steps, int) or steps < 1:
            raise ValueError("steps must be a positive integer, got %r" % (steps,))
        if not isinstance(duration_ms, int) or duration_ms < 1:
            raise ValueError("duration_ms must be a positive integer, got %r" % (duration_ms,))
        if steps * 1000 > self.max_step_hz * duration_ms:
            raise ValueError("%d steps in %d ms exceeds %d Hz" % (steps, duration_ms,
                                                                   self.max_step_hz))
        self._settle(truncate=False)
        self._move = [self.clock.now_ms(), steps, duration_ms]
        self.moves.append((self.clock.now_ms(), steps, duration_ms, self.forward))

    def busy(self):
        move = self._move
        return move is not None and self.clock.now_ms() - move[0] < move[2]

    def steps_done(self):
        move = self._move
        if move is None:
            return self._last_done
        elapsed = min(self.clock.now_ms() - move[0], move[2])
        return move[1] * elapsed // move[2]

    def stop(self):
        done = self.steps_done()
        self.disable()
        return done

    def position(self):
        """Net plunger travel in microsteps, including a move in progress."""
        running = self.steps_done() if self._move is not None else 0
        sign = 1 if self.forward else -1
        return self.forward_steps - self.reverse_steps + sign * running

    def _settle(self, truncate):
        """Book a finished (or, when truncating, interrupted) move into the totals."""
        move = self._move
        if move is None or (self.busy() and not truncate):
            return
        done = self.steps_done()
        if self.forward:
            self.forward_steps += done
        else:
            self.reverse_steps += done
        self._last_done = done
        self._move = None
