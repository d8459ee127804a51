"""Runs inside the MicroPython VM: IOB of 48 h of history, time and bytes per call.

Prints one JSON line. gc is disabled around each measured loop and gc.mem_alloc()
deltas are divided by the call count; time comes from time.ticks_us(), the best of
REPEATS loops (the host is shared, so the fastest loop is the least disturbed).
"""

import gc
import json
import sys
import time

sys.path.append("/lib/boards")
sys.path.append("/lib/bench")

from iob_history import history_48h  # noqa: E402
from sim import BOARD  # noqa: E402

from basalt.core.board_file import load_board  # noqa: E402
from basalt.core.delivery import DeliveryEngine  # noqa: E402
from basalt.core.iob import DeliveryFeed  # noqa: E402
from basalt.core.safety import Limits  # noqa: E402

H = 3_600_000
CALLS = 200
REPEATS = 5
TICK_MS = 250


def measure(call, now, step):
    """(most bytes per call, fewest microseconds per call) over REPEATS loops."""
    most, fastest = 0, None
    for _ in range(REPEATS):
        used, us = measure_once(call, now, step)
        most = max(most, used)
        fastest = us if fastest is None else min(fastest, us)
    return most, fastest


def measure_once(call, now, step):
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    started = time.ticks_us()
    for _ in range(CALLS):
        call(now)
        now += step
    elapsed = time.ticks_diff(time.ticks_us(), started)
    used = gc.mem_alloc() - before
    gc.enable()
    return used / CALLS, elapsed / CALLS


def control(now):
    return (now, now)  # one small tuple per call: proves the probe sees allocations


def feed_ticks():
    history = history_48h(360)
    engine = DeliveryEngine(load_board(BOARD), 0, Limits(25_000, 30_000, 100_000, 75_000,
                                                         1_000_000), history, 0)
    engine.set_profile(0, "P", [(0, 800), (360, 1200), (720, 1000), (1320, 700)])
    engine.new_reservoir(0, 200_000)
    engine.resume(0)
    engine.bolus(0, 20_000)
    feed = DeliveryFeed(history, engine, 0)
    now = 0
    for _ in range(100):
        now += TICK_MS
        engine.tick(now)
        feed.update(now)

    clock = [now]

    def tick(_):
        clock[0] += TICK_MS  # its own clock: every repeat moves on in time
        at = clock[0]
        engine.tick(at)
        feed.update(at)

    return tick, now


results = {"control_bytes": measure(control, 0, 1)[0]}
now = 48 * H
for duration in (360, 480):
    iob = history_48h(duration)
    for name, call in (("iob_mu", iob.iob_mu), ("bolus_iob_mu", iob.bolus_iob_mu),
                       ("activity_mu_h", iob.activity_mu_h)):
        used, us = measure(call, now, 1_000)
        results["%s_%d" % (name, duration)] = {"bytes": used, "us": us}
tick, now = feed_ticks()
used, us = measure(tick, now + TICK_MS, TICK_MS)
results["engine_tick_plus_iob_feed"] = {"bytes": used, "us": us}
print(json.dumps(results))
