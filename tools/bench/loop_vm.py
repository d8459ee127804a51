"""Runs inside the MicroPython VM: the cost of one closed-loop decision.

A tracker with 48 h of delivery history (every minute off schedule, a bolus every 3 h),
a reading store with 6 h of 5-minute readings, two meals on board; decide() in closed
loop with automatic boluses. Prints one JSON line: bytes allocated and microseconds per
decision (gc disabled, gc.mem_alloc() deltas; the fastest of REPEATS loops), for the
whole decision and for its parts (the least-squares fit, the prediction).
"""

import gc
import json
import sys
import time

sys.path.append("/lib/bench")

from iob_history import history_48h  # noqa: E402

from basalt.core import cgms, cgms_sensor, loop  # noqa: E402
from basalt.core.readings import ReadingStore  # noqa: E402

M = 60_000
H = 3_600_000
CALLS = 50
REPEATS = 3
THERAPY = (45, 12_000, 110)


def measure(call):
    most, fastest = 0, None
    for _ in range(REPEATS):
        gc.collect()
        gc.disable()
        before = gc.mem_alloc()
        started = time.ticks_us()
        for i in range(CALLS):
            call(i)
        elapsed = time.ticks_diff(time.ticks_us(), started)
        used = gc.mem_alloc() - before
        gc.enable()
        most = max(most, used / CALLS)
        fastest = elapsed / CALLS if fastest is None else min(fastest, elapsed / CALLS)
    return {"bytes": most, "us": fastest}


iob = history_48h(360)
now = 48 * H
store = ReadingStore(now - 6 * H)
for k in range(72):
    at = now - 6 * H + k * 5 * M
    value = 140_000 + (k % 12) * 3_000
    record = cgms.decode_measurements(bytes(cgms_sensor.encode_record(
        cgms_sensor.sfloat_from_milli(value), k * 5, crc=True)), True)[0]
    store.add(at, record)
lp = loop.Loop(loop.LoopSettings("closed", 80, True, 40, 30, 180))
lp.add_carbs(now - 40 * M, 60)
lp.add_carbs(now - 100 * M, 30)
state = loop.PumpState()
state.scheduled_mu_h, state.highest_mu_h, state.max_basal_mu_h = 1_000, 1_200, 3_000
state.max_iob_mu = 20_000


def decision(i):
    at = now + i * 1_000
    cgm, why = loop.cgm_input(store, now)
    lp.decide(at, THERAPY, cgm, why, iob, state, store.latest)


def fit_only(i):
    store.fit(store.latest, loop.FIT_MIN)


def iob_only(i):
    iob.iob_mu(now + i * 1_000)


def control(i):
    return (i, i)


results = {
    "control_bytes": measure(control)["bytes"],
    "decision": measure(decision),
    "fit": measure(fit_only),
    "one_iob_call": measure(iob_only),
    "iob_calls_per_decision": loop.POINTS + 2,
    "prediction_points": loop.POINTS,
}
print(json.dumps(results))
