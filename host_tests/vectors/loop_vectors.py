"""Closed-loop vectors for the MicroPython lane: the same decisions (predictions, temps,
automatic boluses, reasons) on CPython and MicroPython. Integers and text only."""

import json

from basalt.core import cgms, cgms_sensor, command_parse, loop
from basalt.core.errors import BasaltError
from basalt.core.insulin import InsulinModel
from basalt.core.iob import IobTracker
from basalt.core.readings import ReadingStore

M = 60_000
H = 3_600_000
THERAPY = (45, 12_000, 110)


def emit(name, value):
    print(json.dumps([name, value], separators=(",", ":")))


def state_row(state):
    """The loop's state as sorted pairs (MicroPython's dicts keep no order)."""
    return [[key, state[key]] for key in sorted(state)]


def decision_row(d):
    items = d.as_dict()
    return [[key, items[key]] for key in sorted(items)] + [["prediction", d.prediction]]


def state(scheduled, temp=None, delivering=True):
    s = loop.PumpState()
    s.delivering = delivering
    s.stop_reason = None if delivering else "suspended"
    s.scheduled_mu_h = scheduled
    s.highest_mu_h = 1_200
    s.max_basal_mu_h = 3_000
    s.max_iob_mu = 8_000
    s.temp_mu_h = temp
    s.temp_left_min = 0 if temp is None else 25
    return s


class Lcg:
    def __init__(self, seed):
        self.state = seed

    def below(self, n):
        self.state = (self.state * 1664525 + 1013904223) & 0xFFFFFFFF
        return (self.state >> 8) % n


# ----- a day of decisions from a reading store and a real IOB tracker ------------------

iob = IobTracker(InsulinModel(75, 360))
store = ReadingStore(0)
lp = loop.Loop(loop.LoopSettings("closed", 80, True, 40, 30, 180))
rng = Lcg(7)
glucose = 140
temp = None
for step in range(72):  # six hours, a reading every 5 minutes
    now = step * 5 * M
    if step == 12:
        lp.add_carbs(now, 60)
        iob.add_bolus(now, 4_000)
    glucose += rng.below(9) - 4 + (6 if 12 <= step < 24 else 0) - (3 if 24 <= step < 40 else 0)
    record = cgms.decode_measurements(bytes(cgms_sensor.encode_record(
        cgms_sensor.sfloat_from_milli(glucose * 1000), step * 5, crc=True)), True)[0]
    store.add(now, record)
    cgm, why = loop.cgm_input(store, now)
    d = lp.decide(now, THERAPY, cgm, why, iob, state(1_000, temp), store.latest)
    if d.action == "temp":
        temp = d.rate_mu_h
    elif d.action == "cancel":
        temp = None
    if d.bolus_mu:
        iob.add_bolus(now, d.bolus_mu)
    iob.add_basal(now + 5 * M, (temp if temp is not None else 1_000) * 5 // 60, 1_000 * 5 // 60)
    emit("day", [step, glucose, decision_row(d)])

# ----- every branch -----------------------------------------------------------------------

flat = IobTracker(InsulinModel(65, 300))
for mode in loop.MODES:
    one = loop.Loop(loop.LoopSettings(mode, 75, True, 50, 60, 120))
    for g, trend in ((60, 0), (90, -2_500), (100, 800), (115, 0), (180, 1_000), (200, -1_000),
                     (320, 3_000)):
        d = one.decide(10 * H, THERAPY, (g * 1000, trend, None), None, flat, state(800))
        emit("branch", [mode, g, trend, decision_row(d)])
    d = one.decide(11 * H, THERAPY, None, "CGM reading not usable: flat", flat, state(800, 2_000))
    emit("stale", [mode, decision_row(d)])
    d = one.decide(12 * H, THERAPY, (200_000, 0, None), None, flat, state(800, None, False))
    emit("stopped", [mode, decision_row(d)])
    d = one.decide(13 * H, THERAPY, (250_000, 500, "1 faulty CGM reading(s) in the last 30 min"),
                   None, flat, state(800))
    emit("caution", [mode, decision_row(d)])
    emit("in_control", [mode, [one.in_control(13 * H + k * M) for k in (0, 10, 11)]])

emit("max_temp", [loop.max_temp_mu_h(state(s)) for s in (100, 500, 900, 1_200)])
for cmd in ({"cmd": "loop_mode", "mode": "closed"}, {"cmd": "loop_mode", "mode": "on"},
            {"cmd": "carbs", "grams": 30}, {"cmd": "carbs", "grams": 0}, {"cmd": "carbs"}):
    try:
        emit("command", list(command_parse.validate(cmd)))
    except BasaltError as error:
        emit("command", [type(error).__name__, str(error)])

# ----- the pure entry point: records from a live store and tracker, and bad records ----------

pure_store = ReadingStore(0)
pure_iob = IobTracker(InsulinModel(75, 360))
pure_state = {"carbs": [], "last_ms": None}
pure_settings = loop.LoopSettings("closed", 80, True, 40, 30, 150)
rng = Lcg(11)
glucose = 170
for step in range(48):
    now = step * 5 * M
    if step in (6, 30):
        pure_state = {"carbs": loop.add_carbs(pure_state["carbs"], now, 40 + step),
                      "last_ms": pure_state["last_ms"]}
        pure_iob.add_bolus(now, 3_000)
    glucose += rng.below(11) - 5 + (5 if 6 <= step < 14 else 0)
    if rng.below(8):
        record = cgms.decode_measurements(bytes(cgms_sensor.encode_record(
            cgms_sensor.sfloat_from_milli(glucose * 1000), step * 5, crc=True)), True)[0]
        pure_store.add(now, record)
    pump = state(900, None if step % 7 else 1_500)
    inputs = {"now_ms": now, "readings": pure_store.recent(loop.FIT_MIN),
              "iob": loop.iob_figures(pure_iob, now),
              "schedule": loop.schedule_section(pump, THERAPY),
              "settings": pure_settings.as_dict(), "pump": loop.pump_section(pump),
              "state": pure_state}
    d, pure_state = loop.decide(inputs)
    if d.bolus_mu:
        pure_iob.add_bolus(now, d.bolus_mu)
    emit("pure", [step, decision_row(d), state_row(pure_state)])

for field, value in (("now_ms", "soon"), ("readings", {}), ("iob", {"mu": [0] * 3}),
                     ("state", {"carbs": [[0, 500, 0]], "last_ms": None}),
                     ("pump", {"stop_reason": None}), ("settings", None)):
    bad = dict(inputs)
    bad[field] = value
    try:
        loop.decide(bad)
        emit("bad", [field, "accepted"])
    except BasaltError as error:
        emit("bad", [field, type(error).__name__, str(error)])

# ----- what the loop may add over scheduled basal: a spoofed 300 mg/dL for 8 hours --------

bound_settings = loop.LoopSettings("closed", 80, True, 40, 30, 180, 2_000, 5_000)
bound_state = {"carbs": [], "last_ms": None}
temp = None
for step in range(96):
    now = 7 * H + step * 5 * M + (step % 4) * M  # decisions 5 to 8 minutes apart
    pump = state(800, temp)
    readings = [[now - k * 5 * M, (300 - k) * 1000, 0] for k in range(6, -1, -1)]
    inputs = {"now_ms": now, "readings": readings,
              "iob": {"mu": [0] * loop.POINTS, "activity_mu_h": 0},
              "schedule": loop.schedule_section(pump, THERAPY),
              "settings": bound_settings.as_dict(), "pump": loop.pump_section(pump),
              "state": bound_state}
    d, bound_state = loop.decide(inputs)
    temp = d.rate_mu_h if d.action == "temp" else (None if d.action == "cancel" else temp)
    emit("bound", [step, d.action, d.rate_mu_h, d.bolus_mu, d.extra_limit, d.extra_3h_mu, d.reason,
                   d.extra_24h_mu, state_row(bound_state)[1:]])
emit("limits", [loop.extra_limits(bound_settings.as_dict(), {"highest_mu_h": 1_250}),
                loop.extra_limits(loop.LoopSettings().as_dict(), {"highest_mu_h": 1_250})])
