"""Runs inside the MicroPython VM: bytes allocated per steady-state delivery tick.

Prints one JSON line: {"scenario": bytes per tick, ...}. gc is disabled around the
measured loop and gc.mem_alloc() deltas are divided by the tick count.
"""

import gc
import json
import sys

sys.path.append("/lib/boards")

from sim import BOARD  # noqa: E402

from basalt.core.board_file import load_board  # noqa: E402
from basalt.core.delivery import DeliveryEngine  # noqa: E402
from basalt.core.safety import Limits  # noqa: E402

TICK_MS = 250
TICKS = 2000


LIMITS = Limits(max_bolus_mu=25_000, max_basal_mu_h=30_000, max_iob_mu=100_000,
                max_daily_mu=1_000_000, max_bolus_60min_mu=75_000)


class NoIob:
    def iob_mu(self, now_ms):
        return 0


def engine_with(setup):
    engine = DeliveryEngine(load_board(BOARD), 0, LIMITS, NoIob(), 0)
    engine.set_profile(0, "P", [(0, 800), (360, 1200), (720, 1000), (1320, 700)])
    engine.new_reservoir(0, 200_000)
    engine.resume(0)
    now = setup(engine)
    for _ in range(100):  # warm up past any first-call effects
        now += TICK_MS
        engine.tick(now)
    engine.pop_events()
    return engine, now


def measure(engine, now, tick=None):
    tick = tick or engine.tick
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(TICKS):
        now += TICK_MS
        tick(now)
    used = gc.mem_alloc() - before
    gc.enable()
    return used / TICKS


def basal_only(engine):
    return 0


def bolus_running(engine):
    engine.bolus(0, 20_000)  # 13 min at 1.5 U/min: still running when measured
    return 0


def everything(engine):
    engine.start_temp_basal(0, 120, percent=150)
    engine.dual_bolus(0, 10_000, 2_000, 240)
    engine.tick(60_000)  # the dual wave's now part is done: extended part running
    return 60_000


def capped_temp(engine):
    """A 250 % temp over 0.8 U/h, the clock then set into 1.2 U/h under a 2 U/h max:
    delivered at the gate's cap, every basal step counted against its budget."""
    engine.set_limits(0, Limits(max_bolus_mu=25_000, max_basal_mu_h=2_000, max_iob_mu=100_000,
                                max_daily_mu=1_000_000, max_bolus_60min_mu=75_000))
    engine.start_temp_basal(0, 240, percent=250)
    engine.set_time_of_day(0, 6 * 3_600_000)
    return 0


class Control:
    """Allocates one small tuple per tick: proves the method sees allocations."""

    def tick(self, now):
        return (now, now)


results = {"control_tuple": measure(Control(), 0)}
for name, setup in (("basal", basal_only), ("bolus", bolus_running),
                    ("temp+dual", everything), ("capped temp", capped_temp)):
    engine, now = engine_with(setup)
    results[name] = measure(engine, now)
print(json.dumps(results))
