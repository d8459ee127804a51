"""Motor supervision: the only code that moves the motor.

Steps the engine planned wait in `pending` until the motor is idle; a move is spread
over one tick (longer if the driver is slower), checked when it ends (steps reported
= steps commanded, finished by its deadline) and the driver is disabled between moves.
"""

from basalt.core.units import shifted

try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(value):
        return value

# A move still running this long after its end (or its own length, if longer) is a
# delivery fault. Step pulses are hardware-timed, so only a jam or a dead timer gets here;
# the margin covers a late tick and slower step generators (the virtual board's).
_MOVE_GRACE_MS = const(2_000)


class MotorSupervisor:
    def __init__(self, motor, stream, tick_ms):
        self.motor = motor
        self.stream = stream
        self.tick_ms = tick_ms
        self.pending_steps = 0  # planned by the engine, not yet handed to the motor
        self.rewind_steps = 0
        self.moved_steps = 0  # forward microsteps the motor reported done
        self.rewound_steps = 0
        self.forward = True
        self.move_steps = 0  # the move in progress: commanded steps ...
        self._forward_steps = 0  # the last forward move's
        self._deadline = 0  # ... and by when it must have finished
        motor.disable()
        motor.set_direction(True)

    def rebase(self, shift_ms):
        self._deadline = shifted(self._deadline, shift_ms)

    def on_event(self, kind, detail):
        if kind == "reservoir_fitted":  # the plunger goes back before anything else
            self.rewind_steps += detail["rewind_steps"]

    def plan(self, steps):
        self.pending_steps += steps

    def busy(self):
        return self.motor.busy()

    def start_next(self, now_ms, lease):
        """With the motor idle: a rewind first, else the pending forward steps if the
        persistence's lease allows (lease.may_move(now_ms); None: no persistence)."""
        if self.motor.busy():
            return
        if self.rewind_steps:
            self._start(now_ms, False, self.rewind_steps)
            self.rewind_steps = 0
        elif self.pending_steps and (lease is None or lease.may_move(now_ms)):
            self._start(now_ms, True, self.pending_steps)
            self.pending_steps = 0

    def _start(self, now_ms, forward, steps):
        motor = self.motor
        if self.forward != forward:
            motor.set_direction(forward)
            self.forward = forward
        # Spread the steps over one tick, or longer if the driver could not keep up.
        duration = max(self.tick_ms, -(-steps * 1000 // motor.max_step_hz))
        motor.enable()
        motor.move(steps, duration)
        self.move_steps = steps
        if forward:
            self._forward_steps = steps
        self._deadline = now_ms + duration + max(_MOVE_GRACE_MS, duration)

    def reap(self, now_ms):
        """A finished move: count its steps and disable the driver (idle = disabled).
        Returns the fault detail when steps reported != steps commanded or the move ran
        past its deadline (see _MOVE_GRACE_MS), else None."""
        motor = self.motor
        if not motor.is_enabled():
            return None
        late = motor.busy() and now_ms > self._deadline
        if motor.busy() and not late:
            return None
        done = motor.stop() if late else motor.steps_done()
        self._count(done)
        motor.disable()
        if late or done != self.move_steps:
            return {"commanded_steps": self.move_steps, "done_steps": done,
                    "late_ms": now_ms - self._deadline if late else 0}
        return None

    def _count(self, done):
        if self.forward:
            self.moved_steps += done
        else:
            self.rewound_steps += done

    def halt(self, now_ms):
        """Stop a running move and drop planned steps (reported as not delivered)."""
        motor = self.motor
        dropped = self.pending_steps
        if motor.is_enabled() and motor.busy():
            done = motor.stop()
            self._count(done)
            if self.forward:
                dropped += self.move_steps - done
        motor.disable()
        self.pending_steps = 0
        if dropped:
            self.stream.emit("steps_not_delivered", {"steps": dropped, "at_ms": now_ms})

    def stop_forward(self):
        """An alarm stop: drop planned steps and stop a forward move; returns the steps
        commanded but not moved (the engine takes them back)."""
        unmoved = self.pending_steps
        self.pending_steps = 0
        if self.forward and self.motor.busy():
            done = self.motor.stop()
            self.moved_steps += done
            unmoved += self.move_steps - done
        return unmoved

    def drop_pending(self):
        """Flash failed: nothing planned may move (missed insulin is never made up)."""
        self.pending_steps = 0

    def unmoved_steps(self):
        """Steps planned but perhaps not moved yet: pending, and all of the forward move
        while the motor runs (the checkpoint's low bounds)."""
        return self.pending_steps + (self._forward_steps if self.motor.busy() else 0)
