"""Every bad command is refused with a typed error, and refusing it changes nothing.

The rule under test: every command validates its arguments (negative, NaN, non-numeric,
out of range, too fine, bad profile segments, unknown profile, a bolus while suspended or
with too little insulin, ...). Each gets a typed error whose message names the field, the
value and the allowed range (or, for NotAllowedNow, the reason); nothing is delivered and
the state is unchanged.

Each case runs through one of the two layers:
  engine   DeliveryEngine methods, integers (mU, mU/h, minutes)
  cmd      basalt.core.command_engine.apply with plain data in user units (U, U/h, "HH:MM")

and is checked three ways against a twin engine built the same way that never got it:
  1. at the time of the last tick: the exact error, and snapshot() identical before/after;
  2. 90 s later (a command arriving between ticks): refused again, and tick() then returns
     exactly what the twin's tick() returns, with identical snapshots and events;
  3. one more hour of ticks on both engines: identical steps, snapshots and events.
"""


import pytest

from basalt.core import command_engine
from basalt.core.delivery import DeliveryEngine
from basalt.core.errors import InvalidValue, NotAllowedNow
from basalt.core.units import MS_PER_MIN
from host_tests.vectors.vectorkit import engine_snapshot
from tools import boardfiles
from tools.fakes import FakeIob, open_limits

BOLUS_KEYS = ("keys carb_ratio, carbs, cmd, correction, glucose, glucose_source, iob, meal, "
              "sensitivity, suggested, target_high, target_low, units")


def _sim_board():
    return boardfiles.load("sim")


SIM = _sim_board()

DAY_START_MS = 330 * MS_PER_MIN  # the engines start at 05:30
NOW = 20 * MS_PER_MIN  # the last tick of the set-up (05:50)
LATER = NOW + 90_000  # a command arriving between ticks
HOUR_TICKS = 60  # one minute each

DAY = [(0, 800), (360, 1200), (720, 1000), (1080, 900)]  # active in most states
NIGHT = [(0, 600), (420, 900)]
HIGH = [(0, 800), (360, 20_000), (720, 1000)]  # 20 U/h from 06:00

STATES = (
    "running",  # 200 U fitted, scheduled basal running
    "suspended",  # as running, suspended at NOW
    "low",  # 10 U fitted, an 8 U bolus delivered: about 1.7 U left, running
    "low_suspended",  # as low, suspended at NOW
    "empty",  # 10 U fitted, a 9.9 U bolus and basal ran it dry: stopped
    "high",  # as running, profile HIGH active (20 U/h from 06:00)
    "six_profiles",  # as running, with 6 profiles saved (the most allowed)
    "extended",  # 10 U fitted, a 6 U extended bolus over 8 h started at 05:30
    "temp_percent",  # as running, profile HIGH saved (not active), a 200 % temp basal for 8 h
)


def build(state):
    """A running engine in a named state; the same state twice gives identical twins."""
    assert state in STATES
    engine = DeliveryEngine(SIM, 0, open_limits(), FakeIob(), day_ms=DAY_START_MS)
    engine.set_profile(0, "day", DAY)
    engine.set_profile(0, "night", NIGHT)
    if state in ("high", "temp_percent"):
        engine.set_profile(0, "high", HIGH)
    if state == "high":
        engine.activate_profile(0, "high")
    if state == "six_profiles":
        for name in ("p3", "p4", "p5", "p6"):
            engine.set_profile(0, name, NIGHT)
    small = state in ("low", "low_suspended", "empty", "extended")
    engine.new_reservoir(0, 10_000 if small else 200_000)
    engine.resume(0)
    if state in ("low", "low_suspended"):
        engine.bolus(0, 8_000)
    elif state == "empty":
        engine.bolus(0, 9_900)
    elif state == "extended":
        engine.extended_bolus(0, 6_000, 480)
    elif state == "temp_percent":
        engine.start_temp_basal(0, 480, percent=200)
    for now in range(10_000, NOW + 1, 10_000):
        engine.tick(now)
    if state in ("suspended", "low_suspended"):
        engine.suspend(NOW)
    engine.tick(NOW)  # nothing owed: the snapshot is the settled state at NOW
    _check_state(engine, state)
    return engine


def _check_state(engine, state):
    stopped = {"suspended": "suspended", "low_suspended": "suspended",
               "empty": "reservoir empty"}.get(state)
    assert engine.stop_reason == stopped
    assert engine.profiles.active == ("high" if state == "high" else "day")
    assert len(engine.profiles.profiles) == (6 if state == "six_profiles" else
                                             3 if state in ("high", "temp_percent") else 2)
    assert not engine.bolus_running() or state == "extended"
    if state == "temp_percent":
        assert engine.temp_basal() == (None, 200, 460)
    else:
        assert engine.temp_basal() is None
    if state in ("low", "low_suspended"):
        assert 1_500 < engine.reservoir_mu() < 2_000
    if state == "empty":
        assert engine.reservoir_steps == 0


class Problem(str):
    """A structural problem, shown as '<field>: <problem>; allowed: ...' instead of a value."""


UNKNOWN = Problem("unknown key")
MISSING = Problem("missing")




# ----- case tables ------------------------------------------------------------------
# (id, state, call(engine, now), error type, field or command, value text, allowed or reason)
# value text is None for NotAllowedNow (the command and the reason are checked instead).

NAN = float("nan")
INF = float("inf")


def E(ident, call, error, field, value, allowed, state="running", marks=()):
    return pytest.param(state, call, error, field, value, allowed, id="engine-" + ident,
                        marks=marks)


def P(ident, cmd, error, field, value, allowed, state="running", marks=()):
    """A command as the menus and the loop send it: (name, values in mU, mU/h, min)."""
    return pytest.param(state, lambda engine, at: command_engine.apply(engine, at, cmd), error,
                        field, value, allowed, id="pump-" + ident, marks=marks)


def C(ident, cmd, error, field, value, allowed, state="running", marks=(), now=None):
    if now is None:
        def call(engine, at):
            return command_engine.apply(engine, at, cmd)
    else:
        def call(engine, at):
            return command_engine.apply(engine, now, cmd)
    return pytest.param(state, call, error, field, value, allowed, id="cmd-" + ident,
                        marks=marks)


BOLUS_U = "0.01 to 25 U in steps of 0.01 U"
NOT_TEXT_U = "a decimal number of U, " + BOLUS_U
NOT_NUMBER_U = "a number of U, " + BOLUS_U
NOT_FINITE_U = "a finite number of U, " + BOLUS_U


def _bolus(amount):
    return lambda e, now: e.bolus(now, amount)


def _cmd_bolus(units):
    return {"cmd": "bolus", "units": units}


PUMP_BOLUS = [
    P("bolus-negative", ("bolus", {"units": -1000}), InvalidValue, "bolus units", "-1",
      BOLUS_U),
    P("bolus-zero", ("bolus", {"units": 0}), InvalidValue, "bolus units", "0", BOLUS_U),
    P("bolus-nan", ("bolus", {"units": NAN}), InvalidValue, "bolus units", "nan", BOLUS_U),
    P("bolus-inf", ("bolus", {"units": INF}), InvalidValue, "bolus units", "inf", BOLUS_U),
    P("bolus-text", ("bolus", {"units": "abc"}), InvalidValue, "bolus units", "'abc'",
      BOLUS_U),
    P("bolus-none", ("bolus", {"units": None}), InvalidValue, "bolus units", "None", BOLUS_U),
    P("bolus-bool", ("bolus", {"units": True}), InvalidValue, "bolus units", "True", BOLUS_U),
    P("bolus-list", ("bolus", {"units": [1]}), InvalidValue, "bolus units", "[1]", BOLUS_U),
    P("bolus-float-mu", ("bolus", {"units": 1000.0}), InvalidValue, "bolus units", "1000.0",
      BOLUS_U),
    P("bolus-too-fine-5mU", ("bolus", {"units": 5}), InvalidValue, "bolus units", "0.005",
      BOLUS_U),
    P("bolus-too-fine-1005mU", ("bolus", {"units": 1005}), InvalidValue, "bolus units",
      "1.005", BOLUS_U),
    P("bolus-over-max", ("bolus", {"units": 25_010}), InvalidValue, "bolus units", "25.01",
      BOLUS_U),
    P("bolus-1e9-int", ("bolus", {"units": 10**9}), InvalidValue, "bolus units",
      "1000000", BOLUS_U),
    P("bolus-1e9-float", ("bolus", {"units": 1e9}), InvalidValue, "bolus units",
      "1000000000.0", BOLUS_U),
    P("bolus-unknown-key", ("bolus", {"units": 1000, "now": 1}), InvalidValue, "bolus.now",
      UNKNOWN, BOLUS_KEYS),
    P("loop-bolus-from-outside", {"cmd": "loop_bolus", "units": 1}, InvalidValue, "cmd",
      "'loop_bolus'", "one of "),
]

CMD_BOLUS = [
    C("bolus-negative", _cmd_bolus(-1), InvalidValue, "bolus units", "-1", BOLUS_U),
    C("bolus-zero", _cmd_bolus(0), InvalidValue, "bolus units", "0", BOLUS_U),
    C("bolus-nan", _cmd_bolus(NAN), InvalidValue, "bolus units", "nan", NOT_FINITE_U),
    C("bolus-inf", _cmd_bolus(INF), InvalidValue, "bolus units", "inf", NOT_FINITE_U),
    C("bolus-text", _cmd_bolus("abc"), InvalidValue, "bolus units", "'abc'", NOT_TEXT_U),
    C("bolus-none", _cmd_bolus(None), InvalidValue, "bolus units", "None", NOT_NUMBER_U),
    C("bolus-bool", _cmd_bolus(True), InvalidValue, "bolus units", "True", NOT_NUMBER_U),
    C("bolus-list", _cmd_bolus([1]), InvalidValue, "bolus units", "[1]", NOT_NUMBER_U),
    C("bolus-too-fine-0.005", _cmd_bolus(0.005), InvalidValue, "bolus units", "0.005",
      BOLUS_U),
    C("bolus-too-fine-text-0.005", _cmd_bolus("0.005"), InvalidValue, "bolus units",
      "'0.005'", BOLUS_U),
    C("bolus-4-decimals", _cmd_bolus(1.2345), InvalidValue, "bolus units", "1.2345",
      "at most 3 decimals of U, " + BOLUS_U),
    C("bolus-over-max-25.01", _cmd_bolus(25.01), InvalidValue, "bolus units", "25.01",
      BOLUS_U),
    C("bolus-over-max-text", _cmd_bolus("25.01"), InvalidValue, "bolus units", "'25.01'",
      BOLUS_U),
    C("bolus-1e9-int", _cmd_bolus(10**9), InvalidValue, "bolus units", "1000000000", BOLUS_U),
    C("bolus-1e9-float", _cmd_bolus(1e9), InvalidValue, "bolus units", "1000000000.0",
      "a number of U below 1000000, " + BOLUS_U),
    C("bolus-exponent-text", _cmd_bolus("1e3"), InvalidValue, "bolus units", "'1e3'",
      NOT_TEXT_U),
    C("bolus-arabic-indic-digit", _cmd_bolus("\u0661"), InvalidValue, "bolus units",
      "'\u0661'", NOT_TEXT_U),
    C("bolus-superscript-digit", _cmd_bolus("\u00b2"), InvalidValue, "bolus units",
      "'\u00b2'", NOT_TEXT_U),
]

EXT_MIN = "15 to 480 min (whole numbers)"
DUAL_NOW_U = "0.01 to 1.99 U in steps of 0.01 U"

PUMP_EXTENDED = [
    P("extended-14min", ("extended_bolus", {"units": 1000, "minutes": 14}), InvalidValue,
      "extended_bolus minutes", "14", EXT_MIN),
    P("extended-481min", ("extended_bolus", {"units": 1000, "minutes": 481}), InvalidValue,
      "extended_bolus minutes", "481", EXT_MIN),
    P("extended-30.5min", ("extended_bolus", {"units": 1000, "minutes": 30.5}), InvalidValue,
      "extended_bolus minutes", "30.5", EXT_MIN),
    P("extended-amount-too-fine", ("extended_bolus", {"units": 1005, "minutes": 60}),
      InvalidValue, "extended_bolus units", "1.005", BOLUS_U),
    P("dual-now-equals-total", ("dual_bolus", {"units": 2000, "now_units": 2000,
                                               "minutes": 60}), InvalidValue,
      "dual_bolus now_units", "2", DUAL_NOW_U),
    P("dual-now-above-total", ("dual_bolus", {"units": 2000, "now_units": 3000,
                                              "minutes": 60}), InvalidValue,
      "dual_bolus now_units", "3", DUAL_NOW_U),
    P("dual-now-zero", ("dual_bolus", {"units": 2000, "now_units": 0, "minutes": 60}),
      InvalidValue, "dual_bolus now_units", "0", "0.01 to 25 U in steps of 0.01 U"),
    P("dual-14min", ("dual_bolus", {"units": 2000, "now_units": 1000, "minutes": 14}),
      InvalidValue, "dual_bolus minutes", "14", EXT_MIN),
]

CMD_EXTENDED = [
    C("extended-14min", {"cmd": "extended_bolus", "units": 1, "minutes": 14}, InvalidValue,
      "extended_bolus minutes", "14", EXT_MIN),
    C("extended-481min", {"cmd": "extended_bolus", "units": 1, "minutes": 481}, InvalidValue,
      "extended_bolus minutes", "481", EXT_MIN),
    C("extended-30.5min", {"cmd": "extended_bolus", "units": 1, "minutes": 30.5},
      InvalidValue, "extended_bolus minutes", "30.5", EXT_MIN),
    C("extended-minutes-bool", {"cmd": "extended_bolus", "units": 1, "minutes": True},
      InvalidValue, "extended_bolus minutes", "True", EXT_MIN),
    C("extended-minutes-text", {"cmd": "extended_bolus", "units": 1, "minutes": "60"},
      InvalidValue, "extended_bolus minutes", "'60'", EXT_MIN),
    C("dual-30.5min", {"cmd": "dual_bolus", "units": 2, "now_percent": 50, "minutes": 30.5},
      InvalidValue, "dual_bolus minutes", "30.5", EXT_MIN),
    C("dual-14min", {"cmd": "dual_bolus", "units": 2, "now_percent": 50, "minutes": 14},
      InvalidValue, "dual_bolus minutes", "14", EXT_MIN),
    C("dual-now-units-equals-total",
      {"cmd": "dual_bolus", "units": 2, "now_units": 2, "minutes": 60}, InvalidValue,
      "dual_bolus now_units", "2", "0.01 to 1.99 U in steps of 0.01"),
    C("dual-now-units-above-total",
      {"cmd": "dual_bolus", "units": 2, "now_units": 2.5, "minutes": 60}, InvalidValue,
      "dual_bolus now_units", "2.5", "0.01 to 1.99 U in steps of 0.01"),
    C("dual-now-percent-0",
      {"cmd": "dual_bolus", "units": 2, "now_percent": 0, "minutes": 60}, InvalidValue,
      "dual_bolus now_percent", "0", "1 to 99 %"),
    C("dual-now-percent-100",
      {"cmd": "dual_bolus", "units": 2, "now_percent": 100, "minutes": 60}, InvalidValue,
      "dual_bolus now_percent", "100", "1 to 99 %"),
    C("dual-now-both", {"cmd": "dual_bolus", "units": 2, "now_units": 1, "now_percent": 50,
                        "minutes": 60},
      InvalidValue, "dual_bolus now", "'both'", "exactly one of now_units or now_percent"),
    C("dual-now-neither", {"cmd": "dual_bolus", "units": 2, "minutes": 60}, InvalidValue,
      "dual_bolus now", "'neither'", "exactly one of now_units or now_percent"),
]

PERCENT = "0 to 250 %"
TEMP_MIN = "15 to 4320 min (whole numbers)"


def _temp(duration, rate=None, percent=None):
    return lambda e, now: e.start_temp_basal(now, duration, rate_mu_h=rate, percent=percent)


def _cmd_temp(**keys):
    cmd = {"cmd": "temp_basal", "minutes": 60}
    cmd.update(keys)
    return cmd


PUMP_TEMP = [
    P("temp-percent-minus-1", ("temp_basal", {"minutes": 60, "percent": -1}), InvalidValue,
      "temp_basal percent", "-1", PERCENT),
    P("temp-percent-251", ("temp_basal", {"minutes": 60, "percent": 251}), InvalidValue,
      "temp_basal percent", "251", PERCENT),
    P("temp-percent-float", ("temp_basal", {"minutes": 60, "percent": 50.5}), InvalidValue,
      "temp_basal percent", "50.5", PERCENT),
    P("temp-rate-30001", ("temp_basal", {"minutes": 60, "rate": 30_001}), InvalidValue,
      "temp_basal rate", "30.001", "0 to 30 U/h"),
    P("temp-rate-negative", ("temp_basal", {"minutes": 60, "rate": -1}), InvalidValue,
      "temp_basal rate", "-0.001", "0 to 30 U/h"),
    P("temp-rate-and-percent", ("temp_basal", {"minutes": 60, "rate": 1000, "percent": 50}),
      InvalidValue, "temp_basal", "'both'", "exactly one of rate (U/h) or percent"),
    P("temp-neither", ("temp_basal", {"minutes": 60}), InvalidValue, "temp_basal",
      "'neither'", "exactly one of rate (U/h) or percent"),
    P("temp-14min", ("temp_basal", {"minutes": 14, "percent": 50}), InvalidValue,
      "temp_basal minutes", "14", TEMP_MIN),
    P("temp-4321min", ("temp_basal", {"minutes": 4321, "percent": 50}), InvalidValue,
      "temp_basal minutes", "4321", TEMP_MIN),
    E("temp-percent-over-30U/h-on-high-profile", _temp(60, percent=200), InvalidValue,
      "temp basal percent", "200", "at most 150 % here", state="high"),
    P("temp-while-suspended", ("temp_basal", {"minutes": 60, "percent": 50}), NotAllowedNow,
      "temp basal", None, "suspended", state="suspended"),
]

CMD_TEMP = [
    C("temp-percent-minus-1", _cmd_temp(percent=-1), InvalidValue, "temp_basal percent", "-1",
      PERCENT),
    C("temp-percent-251", _cmd_temp(percent=251), InvalidValue, "temp_basal percent", "251",
      PERCENT),
    C("temp-rate-30.001", _cmd_temp(rate=30.001), InvalidValue, "temp_basal rate", "30.001",
      "0 to 30 U/h"),
    C("temp-rate-negative", _cmd_temp(rate=-0.5), InvalidValue, "temp_basal rate", "-0.5",
      "0 to 30 U/h"),
    C("temp-rate-and-percent", _cmd_temp(rate=1, percent=50), InvalidValue, "temp_basal",
      "'both'", "exactly one of rate (U/h) or percent"),
    C("temp-neither", _cmd_temp(), InvalidValue, "temp_basal", "'neither'",
      "exactly one of rate (U/h) or percent"),
    C("temp-14min", _cmd_temp(percent=50, minutes=14), InvalidValue, "temp_basal minutes",
      "14", TEMP_MIN),
    C("temp-4321min", _cmd_temp(percent=50, minutes=4321), InvalidValue,
      "temp_basal minutes", "4321", TEMP_MIN),
    C("temp-30.5min", _cmd_temp(percent=50, minutes=30.5), InvalidValue,
      "temp_basal minutes", "30.5", TEMP_MIN),
    C("temp-rate-text", _cmd_temp(rate="abc"), InvalidValue, "temp_basal rate", "'abc'",
      "a decimal number of U/h, 0 to 30 U/h in steps of 0.001 U/h"),
    C("temp-percent-over-30U/h-on-high-profile", _cmd_temp(percent=200), InvalidValue,
      "temp basal percent", "200", "at most 150 % here", state="high"),
    C("temp-while-suspended", _cmd_temp(percent=50), NotAllowedNow, "temp basal", None,
      "suspended", state="suspended"),
]


def _segments(*pairs):
    return lambda e, now: e.set_profile(now, "day", list(pairs))


def _cmd_segments(*pairs):
    return {"cmd": "set_profile", "name": "day", "segments": [list(p) for p in pairs]}


GRID_48 = [(i * 30, 800) for i in range(48)]
GRID_48_USER = [[f"{i // 2:02d}:{i % 2 * 30:02d}", 0.8] for i in range(48)]
SEG = "profile day segment"
HALF_HOURS = "00:00 to 23:30 on the half hour"
SAVED = "a saved profile: day, night"
NAME = "1 to 16 printable characters"
OVER_30 = ("the running 200 % temp basal would reach 40 U/h on profile {} (the most is 30 U/h); "
           "cancel it first")

ENGINE_PROFILE = [
    E("profile-unsorted", _segments((0, 800), (720, 1000), (360, 1200)), InvalidValue,
      SEG + " 3 start", "'06:00'", "after 12:00"),
    E("profile-duplicate-start", _segments((0, 800), (360, 1200), (360, 1000)), InvalidValue,
      SEG + " 3 start", "'06:00'", "after 06:00"),
    E("profile-not-from-midnight", _segments((60, 800), (360, 1200)), InvalidValue,
      SEG + " 1 start", "'01:00'", "00:00 (the first segment starts at midnight"),
    E("profile-off-grid", _segments((0, 800), (375, 1200)), InvalidValue, SEG + " 2 start",
      "'06:15'", HALF_HOURS),
    E("profile-start-1440", _segments((0, 800), (1440, 1200)), InvalidValue,
      SEG + " 2 start", "1440", HALF_HOURS),
    E("profile-49-segments", lambda e, now: e.set_profile(now, "day", GRID_48 + [(1439, 800)]),
      InvalidValue, "profile day segments", "49", "1 to 48 segments"),
    E("profile-no-segments", _segments(), InvalidValue, "profile day segments", "0",
      "1 to 48 segments"),
    E("profile-rate-over-30U/h", _segments((0, 800), (360, 30_001)), InvalidValue,
      SEG + " 2 rate", "30001", "0 to 30000 mU/h"),
    E("profile-rate-negative", _segments((0, -1)), InvalidValue, SEG + " 1 rate", "-1",
      "0 to 30000 mU/h"),
    E("profile-rate-fraction-of-mU", _segments((0, 800), (360, 1200.5)), InvalidValue,
      SEG + " 2 rate", "1200.5", "0 to 30000 mU/h"),
    E("profile-segment-not-a-pair", _segments((0, 800, 1)), InvalidValue, SEG + " 1",
      "(0, 800, 1)", "a pair"),
    E("profile-name-empty", lambda e, now: e.set_profile(now, "", DAY), InvalidValue,
      "profile name", "''", NAME),
    E("profile-name-list", lambda e, now: e.set_profile(now, ["day"], DAY), InvalidValue,
      "profile name", "['day']", NAME),
    E("activate-unknown-profile", lambda e, now: e.activate_profile(now, "nope"),
      InvalidValue, "profile", "'nope'", SAVED),
    E("activate-profile-name-list", lambda e, now: e.activate_profile(now, ["day"]),
      InvalidValue, "profile name", "['day']", NAME),
    E("delete-unknown-profile", lambda e, now: e.delete_profile(now, "nope"), InvalidValue,
      "profile", "'nope'", SAVED),
    E("delete-profile-name-list", lambda e, now: e.delete_profile(now, ["day"]), InvalidValue,
      "profile name", "['day']", NAME),
    E("delete-active-profile", lambda e, now: e.delete_profile(now, "day"), NotAllowedNow,
      "delete profile", None, "day is the active profile"),
    E("seventh-profile", lambda e, now: e.set_profile(now, "p7", NIGHT), NotAllowedNow,
      "save profile", None, "already 6 profiles", state="six_profiles"),
    E("activate-profile-200%-temp-over-30U/h", lambda e, now: e.activate_profile(now, "high"),
      NotAllowedNow, "activate profile", None, OVER_30.format("high"), state="temp_percent"),
    E("save-active-profile-200%-temp-over-30U/h",
      lambda e, now: e.set_profile(now, "day", HIGH), NotAllowedNow, "save profile", None,
      OVER_30.format("day"), state="temp_percent"),
]

CLOCK = "'HH:MM' from 00:00 to 23:59"

CMD_PROFILE = [
    C("profile-unsorted", _cmd_segments(("00:00", 0.8), ("12:00", 1), ("06:00", 1.2)),
      InvalidValue, SEG + " 3 start", "'06:00'", "after 12:00"),
    C("profile-duplicate-start", _cmd_segments(("00:00", 0.8), ("06:00", 1.2), ("06:00", 1)),
      InvalidValue, SEG + " 3 start", "'06:00'", "after 06:00"),
    C("profile-not-from-midnight", _cmd_segments(("01:00", 0.8), ("06:00", 1.2)),
      InvalidValue, SEG + " 1 start", "'01:00'", "00:00 (the first segment starts at midnight"),
    C("profile-off-grid", _cmd_segments(("00:00", 0.8), ("06:15", 1.2)), InvalidValue,
      SEG + " 2 start", "'06:15'", HALF_HOURS),
    C("profile-49-segments",
      {"cmd": "set_profile", "name": "day", "segments": GRID_48_USER + [["23:59", 0.8]]},
      InvalidValue, "profile day segments", "49", "1 to 48 segments"),
    C("profile-rate-over-30U/h", _cmd_segments(("00:00", 0.8), ("06:00", 30.001)),
      InvalidValue, SEG + " 2 rate", "30.001", "0 to 30 U/h"),
    C("profile-rate-4-decimals", _cmd_segments(("00:00", 0.8), ("06:00", 1.2345)),
      InvalidValue, SEG + " 2 rate", "1.2345", "at most 3 decimals of U/h, 0 to 30 U/h"),
    C("profile-rate-4-decimals-text", _cmd_segments(("00:00", 0.8), ("06:00", "1.2345")),
      InvalidValue, SEG + " 2 rate", "'1.2345'", "at most 3 decimals of U/h, 0 to 30 U/h"),
    C("profile-rate-negative", _cmd_segments(("00:00", -0.1)), InvalidValue,
      SEG + " 1 rate", "-0.1", "0 to 30 U/h"),
    C("profile-clock-24:00", _cmd_segments(("00:00", 0.8), ("24:00", 1.2)), InvalidValue,
      SEG + " 2 start", "'24:00'", CLOCK),
    C("profile-clock-7:00", _cmd_segments(("00:00", 0.8), ("7:00", 1.2)), InvalidValue,
      SEG + " 2 start", "'7:00'", CLOCK),
    C("profile-clock-07:60", _cmd_segments(("00:00", 0.8), ("07:60", 1.2)), InvalidValue,
      SEG + " 2 start", "'07:60'", CLOCK),
    C("profile-clock-int-700", _cmd_segments(("00:00", 0.8), (700, 1.2)), InvalidValue,
      SEG + " 2 start", "700", CLOCK),
    C("profile-clock-superscript", _cmd_segments(("00:00", 0.8), ("0\u00b2:00", 1.2)),
      InvalidValue, SEG + " 2 start", "'0\u00b2:00'", CLOCK),
    C("profile-clock-arabic-indic", _cmd_segments(("00:00", 0.8), ("\u0660\u0667:00", 1.2)),
      InvalidValue, SEG + " 2 start", "'\u0660\u0667:00'", CLOCK),
    C("profile-segments-not-a-list", {"cmd": "set_profile", "name": "day", "segments": "x"},
      InvalidValue, "profile day segments", "'x'", "a list of [HH:MM, U/h]"),
    C("profile-segment-not-a-pair", {"cmd": "set_profile", "name": "day",
                                     "segments": [["00:00", 0.8, 1]]},
      InvalidValue, SEG + " 1", "['00:00', 0.8, 1]", "a pair [HH:MM, U/h]"),
    C("profile-name-list", {"cmd": "set_profile", "name": ["day"], "segments": [["00:00", 1]]},
      InvalidValue, "set_profile name", "['day']", NAME),
    C("activate-unknown-profile", {"cmd": "activate_profile", "name": "nope"}, InvalidValue,
      "profile", "'nope'", SAVED),
    C("activate-profile-name-list", {"cmd": "activate_profile", "name": ["day"]},
      InvalidValue, "activate_profile name", "['day']", NAME),
    C("delete-unknown-profile", {"cmd": "delete_profile", "name": "nope"}, InvalidValue,
      "profile", "'nope'", SAVED),
    C("delete-active-profile", {"cmd": "delete_profile", "name": "day"}, NotAllowedNow,
      "delete profile", None, "day is the active profile"),
    C("delete-profile-extra-key", {"cmd": "delete_profile", "name": "night", "now": True},
      InvalidValue, "delete_profile.now", UNKNOWN, "keys cmd, name"),
    C("seventh-profile", {"cmd": "set_profile", "name": "p7", "segments": [["00:00", 1]]},
      NotAllowedNow, "save profile", None, "already 6 profiles", state="six_profiles"),
    C("activate-profile-200%-temp-over-30U/h", {"cmd": "activate_profile", "name": "high"},
      NotAllowedNow, "activate profile", None, OVER_30.format("high"), state="temp_percent"),
    C("save-active-profile-200%-temp-over-30U/h",
      _cmd_segments(("00:00", 0.8), ("06:00", 20), ("12:00", 1)), NotAllowedNow,
      "save profile", None, OVER_30.format("day"), state="temp_percent"),
    C("set-time-7:00", {"cmd": "set_time", "time": "7:00"}, InvalidValue, "set_time time",
      "'7:00'", CLOCK),
    C("set-time-24:00", {"cmd": "set_time", "time": "24:00"}, InvalidValue, "set_time time",
      "'24:00'", CLOCK),
]

FOR_NEW_DOSES = " U left in the reservoir for new doses"
FILL_U = "10 to 300 U in steps of 0.1"

ENGINE_STATE = [
    P("bolus-while-suspended", ("bolus", {"units": 1000}), NotAllowedNow, "bolus", None,
      "pump is stopped (suspended)", state="suspended"),
    P("extended-while-suspended", ("extended_bolus", {"units": 1000, "minutes": 60}),
      NotAllowedNow, "extended bolus", None, "pump is stopped (suspended)",
      state="suspended"),
    P("dual-while-suspended", ("dual_bolus", {"units": 2000, "now_units": 1000,
                                              "minutes": 60}), NotAllowedNow,
      "dual-wave bolus", None, "pump is stopped (suspended)", state="suspended"),
    P("bolus-reservoir-empty", ("bolus", {"units": 1000}), NotAllowedNow, "bolus", None,
      "pump is stopped (reservoir empty)", state="empty"),
    E("bolus-more-than-left", _bolus(5000), NotAllowedNow, "bolus", None,
      ("5 U is more than the ", FOR_NEW_DOSES), state="low"),
    E("extended-more-than-left", lambda e, now: e.extended_bolus(now, 5000, 60),
      NotAllowedNow, "extended bolus", None, ("5 U is more than the ", FOR_NEW_DOSES),
      state="low"),
    E("bolus-more-than-left-after-running-extended", _bolus(5000), NotAllowedNow, "bolus",
      None, ("5 U is more than the ", FOR_NEW_DOSES), state="extended"),
    E("prime-while-delivering", lambda e, now: e.prime(now, 1000), NotAllowedNow, "prime",
      None, "suspend delivery first"),
    E("prime-more-than-left", lambda e, now: e.prime(now, 5000), NotAllowedNow, "prime", None,
      ("5 U is more than the ", FOR_NEW_DOSES), state="low_suspended"),
    P("prime-too-fine", ("prime", {"units": 1050}), InvalidValue, "prime units",
      "1.05", "0.1 to 30 U in steps of 0.1 U", state="suspended"),
    E("new-reservoir-while-delivering", lambda e, now: e.new_reservoir(now, 100_000),
      NotAllowedNow, "new reservoir", None, "suspend delivery first"),
    P("new-reservoir-above-capacity", ("new_reservoir", {"units": 300_100}),
      InvalidValue, "new_reservoir units", "300.1", FILL_U, state="suspended"),
    P("new-reservoir-9.9U", ("new_reservoir", {"units": 9_900}), InvalidValue,
      "new_reservoir units", "9.9", FILL_U, state="suspended"),
    E("resume-not-suspended", lambda e, now: e.resume(now), NotAllowedNow, "resume", None,
      "not suspended"),
    E("resume-reservoir-empty", lambda e, now: e.resume(now), NotAllowedNow, "resume", None,
      "reservoir empty", state="empty"),
    E("suspend-already-suspended", lambda e, now: e.suspend(now), NotAllowedNow, "suspend",
      None, "already stopped", state="suspended"),
    E("cancel-bolus-none-running", lambda e, now: e.cancel_bolus(now), NotAllowedNow,
      "cancel bolus", None, "no bolus is running"),
    E("cancel-temp-none-running", lambda e, now: e.cancel_temp_basal(now), NotAllowedNow,
      "cancel temp basal", None, "no temp basal is running"),
    E("tick-before-last-tick", lambda e, now: e.tick(NOW - 1), InvalidValue, "now_ms",
      str(NOW - 1), f"not before the last tick at {NOW}"),
    E("bolus-before-last-tick", lambda e, now: e.bolus(NOW - 1, 1000), InvalidValue,
      "now_ms", str(NOW - 1), f"not before the last tick at {NOW}"),
]

CMD_STATE = [
    C("bolus-while-suspended", _cmd_bolus(1), NotAllowedNow, "bolus", None,
      "pump is stopped (suspended)", state="suspended"),
    C("bolus-reservoir-empty", _cmd_bolus(1), NotAllowedNow, "bolus", None,
      "pump is stopped (reservoir empty)", state="empty"),
    C("bolus-more-than-left", _cmd_bolus(5), NotAllowedNow, "bolus", None,
      ("5 U is more than the ", FOR_NEW_DOSES), state="low"),
    C("bolus-more-than-left-after-running-extended", _cmd_bolus(5), NotAllowedNow, "bolus",
      None, ("5 U is more than the ", FOR_NEW_DOSES), state="extended"),
    C("prime-while-delivering", {"cmd": "prime", "units": 1}, NotAllowedNow, "prime", None,
      "suspend delivery first"),
    C("prime-more-than-left", {"cmd": "prime", "units": 5}, NotAllowedNow, "prime", None,
      ("5 U is more than the ", FOR_NEW_DOSES), state="low_suspended"),
    C("prime-too-fine", {"cmd": "prime", "units": 1.05}, InvalidValue, "prime units", "1.05",
      "0.1 to 30 U in steps of 0.1", state="suspended"),
    C("new-reservoir-while-delivering", {"cmd": "new_reservoir", "units": 100},
      NotAllowedNow, "new reservoir", None, "suspend delivery first"),
    C("new-reservoir-above-capacity", {"cmd": "new_reservoir", "units": 300.1}, InvalidValue,
      "new_reservoir units", "300.1", FILL_U, state="suspended"),
    C("new-reservoir-9.9U", {"cmd": "new_reservoir", "units": 9.9}, InvalidValue,
      "new_reservoir units", "9.9", FILL_U, state="suspended"),
    C("resume-not-suspended", {"cmd": "resume"}, NotAllowedNow, "resume", None,
      "not suspended"),
    C("cancel-bolus-none-running", {"cmd": "cancel_bolus"}, NotAllowedNow, "cancel bolus",
      None, "no bolus is running"),
    C("cancel-temp-none-running", {"cmd": "cancel_temp_basal"}, NotAllowedNow,
      "cancel temp basal", None, "no temp basal is running"),
    C("unknown-command", {"cmd": "bolsu", "units": 1}, InvalidValue, "cmd", "'bolsu'",
      "one of acknowledge, activate_profile, activity, bolus, boot_ack, cancel_bolus"),
    C("command-name-missing", {"units": 1}, InvalidValue, "cmd", "None", "one of "),
    C("command-not-a-dict", "bolus", InvalidValue, "command", "'bolus'", "a table such as"),
    C("command-text-not-a-command-name", "hello", InvalidValue, "command", "'hello'",
      "a table such as"),
    C("command-a-list", ["bolus", 1], InvalidValue, "command", "['bolus', 1]",
      "a table such as"),
    C("command-name-unhashable", {"cmd": ["bolus"], "units": 1}, InvalidValue, "cmd",
      "['bolus']", "one of "),
    C("unknown-extra-key", {"cmd": "bolus", "units": 1, "unit": 1}, InvalidValue,
      "bolus.unit", UNKNOWN, BOLUS_KEYS),
    C("unknown-extra-key-temp", _cmd_temp(percent=50, rate_uh=1), InvalidValue,
      "temp_basal.rate_uh", UNKNOWN, "keys cmd, minutes, percent, rate"),
    C("unknown-extra-key-resume", {"cmd": "resume", "at": "now"}, InvalidValue, "resume.at",
      UNKNOWN, "keys cmd", state="suspended"),
    C("missing-key", {"cmd": "bolus"}, InvalidValue, "bolus.units", MISSING,
      "a value is required"),
    C("missing-key-minutes", {"cmd": "extended_bolus", "units": 1}, InvalidValue,
      "extended_bolus.minutes", MISSING, "a value is required"),
    C("bolus-before-last-tick", _cmd_bolus(1), InvalidValue, "now_ms", str(NOW - 1),
      f"not before the last tick at {NOW}", now=NOW - 1),
    C("resume-before-last-tick", {"cmd": "resume"}, InvalidValue, "now_ms", str(NOW - 1),
      f"not before the last tick at {NOW}", state="suspended", now=NOW - 1),
]

CASES = (PUMP_BOLUS + CMD_BOLUS + PUMP_EXTENDED + CMD_EXTENDED + PUMP_TEMP + CMD_TEMP
         + ENGINE_PROFILE + CMD_PROFILE + ENGINE_STATE + CMD_STATE)


# ----- the check ----------------------------------------------------------------------


def _assert_message(err, error, field, value, allowed):
    message = str(err)
    # Exactly the type: ConfigError (a subclass of InvalidValue) is for board/settings files.
    assert type(err) is error, f"{type(err).__name__}: {message}"
    if value is None:
        assert message.startswith(field + " refused: "), message
    elif isinstance(value, Problem):
        assert message.startswith(f"{field}: {value}; allowed: "), message
    else:
        assert message.startswith(f"{field}: {value} is not allowed; allowed: "), message
    for part in allowed if isinstance(allowed, tuple) else (allowed,):
        assert part in message, message


def _refuse(engine, call, now, error):
    try:
        call(engine, now)
    except (InvalidValue, NotAllowedNow) as err:
        return err
    pytest.fail(f"{error.__name__} was not raised (accepted)")


@pytest.mark.parametrize("state, call, error, field, value, allowed", CASES)
def test_bad_command_is_refused_and_changes_nothing(state, call, error, field, value,
                                                    allowed):
    engine, twin = build(state), build(state)
    before = engine_snapshot(engine)
    assert before == engine_snapshot(twin)

    # 1. At the time of the last tick: typed error, clear message, nothing changed.
    err = _refuse(engine, call, NOW, error)
    _assert_message(err, error, field, value, allowed)
    assert engine_snapshot(engine) == before
    assert engine.tick(NOW) == twin.tick(NOW) == 0
    assert engine_snapshot(engine) == engine_snapshot(twin)

    # 2. Between ticks: refused again; the next tick owes exactly what the twin's does.
    err = _refuse(engine, call, LATER, error)
    _assert_message(err, error, field, value, allowed)
    assert engine.tick(LATER) == twin.tick(LATER)
    assert engine_snapshot(engine) == engine_snapshot(twin)
    assert engine.events == twin.events

    # 3. Delivery afterwards is unaffected too.
    steps = twin_steps = 0
    for minute in range(1, HOUR_TICKS + 1):
        steps += engine.tick(LATER + minute * MS_PER_MIN)
        twin_steps += twin.tick(LATER + minute * MS_PER_MIN)
    assert steps == twin_steps
    assert engine_snapshot(engine) == engine_snapshot(twin)
    assert engine.events == twin.events


def test_insulin_left_for_new_doses_is_never_shown_below_zero():
    engine = build("extended")
    later = NOW + 240 * MS_PER_MIN  # basal has used what the extended bolus still owes
    for now in range(NOW, later + 1, MS_PER_MIN):
        engine.tick(now)
    assert engine.stop_reason is None and engine.bolus_running()
    owed = sum(part["steps"] - part["done_steps"] for part in engine.bolus_parts())
    assert owed > engine.reservoir_steps
    with pytest.raises(NotAllowedNow) as info:
        engine.bolus(later, 10)
    assert str(info.value) == ("bolus refused: 0.01 U is more than the 0 U left in the "
                               "reservoir for new doses")


# ----- the set-up itself is worth pinning: the tests above rely on it ----------------


@pytest.mark.parametrize("state", STATES)
def test_states_are_deterministic_twins(state):
    assert engine_snapshot(build(state)) == engine_snapshot(build(state))


def test_running_state_delivers_basal_in_the_compared_hour():
    engine = build("running")
    steps = sum(engine.tick(LATER + m * MS_PER_MIN) for m in range(HOUR_TICKS + 1))
    # 05:50 -> 06:51:30 at 0.8 then 1.2 U/h: about 1.2 U, 691 microsteps per unit.
    assert 700 < steps < 900


def test_good_commands_are_accepted_in_the_same_states():
    """Guards the tables: the near neighbours of the bad inputs are accepted."""
    good = [
        ("running", {"cmd": "bolus", "units": 0.01}),
        ("running", {"cmd": "bolus", "units": 25}),
        ("running", {"cmd": "bolus", "units": "2.5"}),
        ("running", {"cmd": "extended_bolus", "units": 1, "minutes": 15}),
        ("running", {"cmd": "extended_bolus", "units": 1, "minutes": 480}),
        ("running", {"cmd": "dual_bolus", "units": 2, "now_units": 1.99, "minutes": 60}),
        ("running", {"cmd": "dual_bolus", "units": 2, "now_percent": 99, "minutes": 60}),
        ("running", {"cmd": "temp_basal", "minutes": 15, "percent": 0}),
        ("running", {"cmd": "temp_basal", "minutes": 4320, "percent": 250}),
        ("running", {"cmd": "temp_basal", "minutes": 60, "rate": 30}),
        ("high", {"cmd": "temp_basal", "minutes": 60, "percent": 150}),
        ("temp_percent", {"cmd": "set_profile", "name": "night",
                          "segments": [["00:00", 0.6], ["06:00", 20]]}),
        ("temp_percent", {"cmd": "set_profile", "name": "day",
                          "segments": [["00:00", 0.8], ["06:00", 15]]}),
        ("running", {"cmd": "delete_profile", "name": "night"}),
        ("running", {"cmd": "set_profile", "name": "day",
                     "segments": [["00:00", 0.8], ["23:30", 30]]}),
        ("running", {"cmd": "set_profile", "name": "p3", "segments": GRID_48_USER}),
        ("running", {"cmd": "activate_profile", "name": "night"}),
        ("six_profiles", {"cmd": "set_profile", "name": "p6", "segments": [["00:00", 1]]}),
        ("low", {"cmd": "bolus", "units": 1.5}),
        ("suspended", {"cmd": "new_reservoir", "units": 300}),
        ("suspended", {"cmd": "new_reservoir", "units": 10}),
        ("suspended", {"cmd": "prime", "units": 30}),
        ("suspended", {"cmd": "resume"}),
        ("empty", {"cmd": "new_reservoir", "units": 100}),
    ]
    for state, cmd in good:
        engine = build(state)
        command_engine.apply(engine, LATER, cmd)
        assert engine.events, cmd

