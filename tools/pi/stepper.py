"""ThreadStepper: STEP pulses on a Raspberry Pi from a dedicated thread (CPython, blinka).

The honest limit: Linux is not a real-time OS. A Python thread can only ask to be woken
at a time; the kernel wakes it later, by tens of microseconds when the Pi is idle and by
milliseconds under load (and the GIL adds the app thread's bytecode slices). So this
driver does what can be done in software, and measures the rest:

- the schedule is absolute: rising edge k is due at t0 + k * period (perf_counter_ns),
  so lateness never accumulates into the move's rate or length;
- the thread sleeps until shortly before each edge (`spin_us`) and spins the rest, which
  trades one core's time for sub-100 us edges on an idle Pi;
- an edge that comes late is issued at once and later ones catch up to the schedule, but
  never closer together than 1 / max_step_hz (the driver's and motor's limit), so steps
  are not lost to a burst;
- the interpreter's GIL switch interval is lowered to 0.2 ms (process-wide), so the
  step thread never waits the default 5 ms behind the app's thread;
- every edge's lateness is recorded in `jitter` (count, max, mean and a histogram);
  `python -m tools.bench pi_jitter --json` reports it for the machine it runs on;
- the count is exact: `steps_done()` counts rising edges written. After stop(), EN went
  inactive first (StepDirMotor.stop), so the count is an upper bound of the steps the
  motor made, as the Motor port asks.

For microsecond-exact pulses on a Pi use hardware: the pigpio daemon's DMA-timed waves,
or a Pico running this firmware as the step generator. For a syringe pump at 1-100
microsteps per second, the thread's jitter is far below one step period: the dose is
counted in steps, not in timing.
"""

import sys
import threading
import time

from basalt.drivers.stepdir import StepDirMotor
from tools.pi.machine import Machine, Time

_SWITCH_INTERVAL_S = 0.0002
_BUCKETS_US = (10, 50, 100, 500, 1_000, 5_000)  # histogram upper bounds; the last is open


class Jitter:
    """Lateness of rising edges versus their schedule, in microseconds."""

    def __init__(self):
        self.count = 0
        self.total_ns = 0
        self.max_ns = 0
        self.histogram = [0] * (len(_BUCKETS_US) + 1)

    def add(self, late_ns):
        self.count += 1
        self.total_ns += late_ns
        self.max_ns = max(self.max_ns, late_ns)
        us = late_ns // 1000
        for i, bound in enumerate(_BUCKETS_US):
            if us < bound:
                self.histogram[i] += 1
                return
        self.histogram[-1] += 1

    def summary(self):
        labels = ["<%d" % b for b in _BUCKETS_US] + [">=%d" % _BUCKETS_US[-1]]
        return {
            "edges": self.count,
            "late_max_us": self.max_ns // 1000,
            "late_mean_us": round(self.total_ns / self.count / 1000, 1) if self.count else 0,
            "late_histogram_us": [[label, n] for label, n in zip(labels, self.histogram)],
        }


class ThreadStepper(StepDirMotor):
    """Motor port on a STEP/DIR/EN driver wired to the Pi's GPIO (see module doc)."""

    def __init__(self, config, machine=None, time_module=None, spin_us=300):
        StepDirMotor.__init__(self, config, machine or Machine(), time_module or Time())
        self.spin_ns = spin_us * 1000
        # CPython hands the GIL over every 5 ms by default: a step thread that needs it
        # would wait up to that long behind the app's thread. 0.2 ms bounds that wait.
        sys.setswitchinterval(min(sys.getswitchinterval(), _SWITCH_INTERVAL_S))
        self.min_period_ns = 1_000_000_000 // config.max_step_hz
        self.jitter = Jitter()
        self._issued = 0
        self._running = False
        self._cancel = threading.Event()
        self._thread = None

    # ----- hooks --------------------------------------------------------------------

    def _start(self, steps, period_us):
        self._issued = 0
        self._running = True
        self._cancel.clear()
        self._thread = threading.Thread(target=self._pulses, name="step-timer",
                                        args=(steps, period_us * 1000), daemon=True)
        self._thread.start()

    def _service(self):
        running = self._running
        self._done = self._issued
        return running

    def _abort(self):
        self._cancel.set()
        if self._thread is not None:
            self._thread.join()  # at most one pulse and a wake-up away
        self._running = False
        self._done = self._issued

    # ----- the timer thread ---------------------------------------------------------

    def _pulses(self, steps, period_ns):
        clock = time.perf_counter_ns
        pin, on, off = self._step, self._on, self._off
        pulse_ns = self.pulse_us * 1000
        due = clock()
        edge = due
        try:
            for _ in range(steps):
                if not self._wait_until(due):
                    return
                pin.value(on)
                edge = clock()  # after the write: successive writes are >= min period apart
                self._issued += 1
                self.jitter.add(edge - due)
                self._spin_until(edge + pulse_ns)
                pin.value(off)
                # Next edge on schedule, but never sooner than the motor's fastest rate.
                due = max(due + period_ns, edge + self.min_period_ns)
            self._wait_until(edge + period_ns)  # busy() until the last period has passed
        finally:
            pin.value(off)
            self._running = False

    def _wait_until(self, deadline_ns):
        """Sleep, then spin, until deadline_ns; False if the move was cancelled."""
        while True:
            left = deadline_ns - time.perf_counter_ns()
            if left <= 0:
                return not self._cancel.is_set()
            if left > self.spin_ns:
                if self._cancel.wait((left - self.spin_ns) / 1e9):
                    return False
            elif self._cancel.is_set():
                return False

    @staticmethod
    def _spin_until(deadline_ns):
        while time.perf_counter_ns() < deadline_ns:
            pass
