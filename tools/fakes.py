"""Fake hardware for host tests and the simulator. Each fake enforces its port's contract."""

import random

from basalt.core.alarms import check_pattern
from basalt.core.errors import MotorFault
from basalt.core.safety import Limits
from basalt.ports import Battery, Buzzer, Clock, Motor
from tools.screens.hostfb import HostFrameBuffer


class VirtualClock(Clock):
    """Simulated monotonic time; advanced by the simulator or a test.

    rebase_at_ms (None: never) lets the app move it back as a board's clock is moved
    (Clock.rebase); the fakes keep to uptime_ms(), the world's time, which never moves.
    """

    def __init__(self, start_ms=0, rebase_at_ms=None):
        self._now = start_ms
        self.rebase_at_ms = rebase_at_ms

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
        self._move = [self.clock.uptime_ms(), steps, duration_ms]
        self.moves.append((self.clock.uptime_ms(), steps, duration_ms, self.forward))

    def busy(self):
        move = self._move
        return move is not None and self.clock.uptime_ms() - move[0] < move[2]

    def steps_done(self):
        move = self._move
        if move is None:
            return self._last_done
        elapsed = min(self.clock.uptime_ms() - move[0], move[2])
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

    def forward_travel(self):
        """Microsteps moved forward so far (delivery), a move in progress included;
        rewinds are not subtracted."""
        running = self.steps_done() if self._move is not None and self.forward else 0
        return self.forward_steps + running

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


# ----- stand-ins for the safety gate's inputs ------------------------------------------
# A pump never delivers without limits: without them the safety gate refuses every dose.
# Tests, benches and the simulator without a settings file pass these explicit values;
# on a device they come from the settings file (Settings.limits).


class FakeIob:
    """Stand-in insulin-on-board provider: returns whatever the test set (mU).

    The real tracker (basalt.core.iob.IobTracker) has the same two methods.
    """

    def __init__(self, iob_mu=0):
        self.value = iob_mu

    def iob_mu(self, now_ms):
        return self.value

    def bolus_iob_mu(self, now_ms):
        return self.value


def open_limits():
    """The widest limits the gate accepts: for tests of delivery mechanics."""
    return Limits(max_bolus_mu=25_000, max_basal_mu_h=30_000, max_iob_mu=100_000,
                  max_daily_mu=1_000_000, max_bolus_60min_mu=75_000)


def bench_limits():
    """Ordinary adult limits for the simulator's bench day."""
    return Limits(max_bolus_mu=10_000, max_basal_mu_h=3_000, max_iob_mu=30_000,
                  max_bolus_60min_mu=15_000, max_daily_mu=80_000)


class FakeBuzzer(Buzzer):
    """Records every pattern change as (at_ms, pattern or None); refuses bad patterns."""

    def __init__(self, clock):
        self.clock = clock
        self.playing = None
        self.log = []

    def play(self, pattern):
        check_pattern(pattern)
        if pattern is not self.playing:
            self.playing = pattern
            self.log.append((self.clock.now_ms(), pattern))

    def stop(self):
        if self.playing is not None:
            self.playing = None
            self.log.append((self.clock.now_ms(), None))


class FakeBattery(Battery):
    """A battery at `mv` with uniform ADC noise of +-noise_mv; `failing` makes reads fail."""

    def __init__(self, mv, noise_mv=0, seed=1):
        self.mv = mv
        self.noise_mv = noise_mv
        self.failing = False
        self.reads = 0
        self._rng = random.Random(seed)

    def read_mv(self):
        self.reads += 1
        if self.failing:
            raise OSError("battery ADC did not answer")
        noise = self._rng.randint(-self.noise_mv, self.noise_mv) if self.noise_mv else 0
        return self.mv + noise


class FaultyMotor(FakeMotor):
    """A FakeMotor that can break like real drive trains do, for delivery-fault tests.

    skip_next = n: the next move issues n fewer steps than commanded (a skipping motor).
    stall_next = True: the next move issues no steps and never finishes (a jam).
    """

    def __init__(self, clock, max_step_hz=4_000):
        super().__init__(clock, max_step_hz)
        self.skip_next = 0
        self.stall_next = False
        self._skip = 0
        self._stalled = False

    def move(self, steps, duration_ms):
        super().move(steps, duration_ms)
        self._skip, self.skip_next = min(self.skip_next, steps), 0
        self._stalled, self.stall_next = self.stall_next, False

    def busy(self):
        if self._stalled and self._move is not None:
            return True
        return super().busy()

    def steps_done(self):
        if self._stalled and self._move is not None:
            return 0
        done = super().steps_done()
        if self._move is not None and done == self._move[1]:
            done -= self._skip  # the skipped steps show once the move has run its time
        return done

    def _settle(self, truncate):
        super()._settle(truncate)
        if self._move is None:
            self._stalled = False


class FakeDisplay(HostFrameBuffer):
    """An SSD1306 on the host: a framebuf-compatible canvas; only show() makes a frame
    visible (``shown``), as on the panel. Counts frames and remembers the dim state."""

    def __init__(self, width=128, height=64):
        super().__init__(width, height)
        self.shown = bytes(len(self.buf))
        self.frames = 0
        self.dimmed = False

    def show(self):
        self.shown = bytes(self.buf)
        self.frames += 1

    def dim(self, dimmed):
        self.dimmed = bool(dimmed)


class FakeKey:
    """A key as the UI sees it: a callable, True while pressed (set ``down``)."""

    def __init__(self):
        self.down = False

    def __call__(self):
        return self.down


def fake_keys(count=4):
    """(up, down, select[, back]) fake keys."""
    return tuple(FakeKey() for _ in range(count))
