"""Ports: the small interfaces the app expects from hardware.

Drivers (firmware/basalt/drivers) implement them on real boards; host_tests/fakes.py
implements them for tests and the simulator, enforcing the same contracts.
Every method documents the contract an implementation must keep.
"""


class Motor:
    """A stepper behind a STEP/DIR/EN driver, pushing the syringe plunger.

    Contract (fail safe):
    - The driver is disabled at construction (power-up) and stays disabled unless
      enable() was called; the app disables it again whenever a move has finished.
    - move(steps, duration_ms) starts `steps` microsteps spread evenly over
      `duration_ms`. Step pulses are timed by hardware (PIO, RMT, timer), never by a
      Python loop. It raises MotorFault when the driver is disabled or a move is
      still running, and ValueError when steps < 1 or the rate exceeds max_step_hz.
    - set_direction() raises MotorFault while a move is running.
    - move() also raises ValueError above 1,000,000 microsteps or for a step period
      over 250 s; busy() stays True until the last step's period has passed.
    - steps_done() counts the microsteps the hardware has actually issued in the
      current or last move; stop() aborts a move and returns that count. After stop()
      it is an upper bound: the steps issued before EN went inactive (exact on PIO).
    - poll() collects progress from the step timer (and feeds timers that need it);
      the app calls it, or busy(), at least once per tick while a move runs.
    """

    max_step_hz = 0

    def enable(self):
        raise NotImplementedError

    def disable(self):
        raise NotImplementedError

    def is_enabled(self):
        raise NotImplementedError

    def set_direction(self, forward):
        raise NotImplementedError

    def move(self, steps, duration_ms):
        raise NotImplementedError

    def busy(self):
        raise NotImplementedError

    def steps_done(self):
        raise NotImplementedError

    def stop(self):
        raise NotImplementedError

    def poll(self):
        return self.busy()


class Clock:
    """The one clock: a monotonic millisecond count that never goes backwards.

    On a board it is kept from time.ticks_ms() through ticks_diff (so the 2**30 wrap of
    ticks never shows); in the simulator it is virtual. Core code never reads it: the
    app reads it once per tick and passes now_ms down.
    """

    def now_ms(self):
        raise NotImplementedError

    async def sleep_ms(self, ms):
        raise NotImplementedError
