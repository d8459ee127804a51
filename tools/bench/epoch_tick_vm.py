"""Runs inside the MicroPython VM: bytes allocated per steady-state app tick
(PumpApp.step: the whole delivery tick) with the clock started just below 2**30, 2**31
and 2**32 ms, the uptimes past which ms counts are heap ints on 32-bit MicroPython.

The app moves its clock back (PumpApp.rebase) at its first tick and every
REBASE_SHIFT_MS after: steady state allocates nothing. "no_epoch_2**30" is the same
tick with the clock never moved back: it shows what the epoch saves (and that the
measurement sees allocations). Prints one JSON line: {"scenario": bytes per tick}.
"""

import gc
import json
import sys

sys.path.append("/lib/boards")

from sim import BOARD  # noqa: E402

from basalt.app import PumpApp  # noqa: E402
from basalt.core.board_file import load_board  # noqa: E402
from basalt.core.safety import Limits  # noqa: E402
from basalt.core.units import REBASE_AT_MS  # noqa: E402
from basalt.ports import Clock, Motor  # noqa: E402

TICK_MS = 250
TICKS = 2000
LIMITS = Limits(max_bolus_mu=25_000, max_basal_mu_h=30_000, max_iob_mu=100_000,
                max_daily_mu=1_000_000, max_bolus_60min_mu=75_000)


class TestClock(Clock):
    def __init__(self, start_ms, rebase_at_ms):
        self._now = start_ms
        self.rebase_at_ms = rebase_at_ms

    def now_ms(self):
        return self._now


class InstantMotor(Motor):
    """Every move done at once (the tick's own work is what is measured)."""

    max_step_hz = 4_000

    def __init__(self):
        self.enabled = False
        self.done = 0

    def enable(self):
        self.enabled = True

    def disable(self):
        self.enabled = False

    def is_enabled(self):
        return self.enabled

    def set_direction(self, forward):
        pass

    def move(self, steps, duration_ms):
        self.done = steps

    def busy(self):
        return False

    def steps_done(self):
        return self.done

    def stop(self):
        self.enabled = False
        return self.done


def measure(start_ms, rebase_at_ms, bolus_mu):
    clock = TestClock(start_ms, rebase_at_ms)
    app = PumpApp(load_board(BOARD), clock, InstantMotor(), tick_ms=TICK_MS, limits=LIMITS,
                  collect_events=False)
    for cmd in (("set_profile", {"name": "P", "segments": [(0, 800), (360, 1200)]}),
                ("activate_profile", {"name": "P"}), ("new_reservoir", {"units": 200_000}),
                ("resume", {}), ("bolus", {"units": bolus_mu} if bolus_mu else None)):
        if cmd[1] is not None:
            app.command(cmd)
    step = app.step
    for _ in range(200):  # the first tick moves the epoch; then warm up
        clock._now += TICK_MS
        step()
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(TICKS):
        clock._now += TICK_MS
        step()
    used = gc.mem_alloc() - before
    gc.enable()
    return used / TICKS, clock.now_ms(), clock.uptime_ms()


results = {}
for power in (30, 31, 32):
    start = (1 << power) - 10_000
    for name, bolus in (("basal", 0), ("bolus", 20_000)):
        per_tick, now, uptime = measure(start, REBASE_AT_MS, bolus)
        results["%s_2**%d" % (name, power)] = per_tick
        results["now_ms_2**%d" % power] = now
        results["uptime_ms_2**%d" % power] = uptime
results["no_epoch_2**30"] = measure((1 << 30) - 10_000, None, 0)[0]
print(json.dumps(results))
