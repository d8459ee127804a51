"""The loop's pure entry point, basalt.core.loop.decide(inputs) -> (decision, state):
every fixture pair (host_tests/scenarios/decide_*.json + .expected.json) through the
function, the CLI and the MicroPython VM; the record's schema; results that do not
depend on the date; an input never changed; and the stateful Loop (what the app holds)
agreeing with the pure function over random sequences."""

import copy
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basalt.core import cgms, cgms_sensor, loop
from basalt.core.errors import InvalidValue
from basalt.core.insulin import InsulinModel
from basalt.core.iob import IobTracker
from basalt.core.readings import NO_VALUE, ReadingStore
from host_tests.vectors.vectorkit import Lcg
from tools.sim import decide as decide_cli

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = REPO / "host_tests" / "scenarios"
FIXTURES = sorted(p for p in SCENARIOS.glob("decide_*.json")
                  if not p.name.endswith(".expected.json"))
NAMES = [p.stem for p in FIXTURES]
M = 60_000
H = 3_600_000


def load(path):
    with open(path) as handle:
        return json.load(handle)


def expected_path(path):
    return path.with_name(path.stem + ".expected.json")


def run(record):
    decision, state = loop.decide(record)
    return loop.result(decision, state)


# ----- the fixture pairs ------------------------------------------------------------------


def test_the_fixtures_cover_the_cases_of_the_issue():
    wanted = {"in_range", "rising_with_carbs", "predicted_low_suspend", "low_glucose_suspend",
              "stale_cgm_fallback", "max_temp_binding", "max_iob_binding",
              "carb_record_expiring", "cgm_overrules_more_insulin",
              "cgm_overrules_less_insulin", "suspend_only_mode"}
    assert wanted <= {name[len("decide_"):] for name in NAMES}
    for path in FIXTURES:
        assert expected_path(path).exists(), path.name
        assert len(load(path)["why"]) > 20  # each says what it shows


@pytest.mark.parametrize("path", FIXTURES, ids=NAMES)
def test_fixture_through_the_function(path):
    record = load(path)
    pristine = copy.deepcopy(record)
    assert run(record) == load(expected_path(path))
    assert record == pristine  # the input record is never changed


@pytest.mark.parametrize("path", FIXTURES, ids=NAMES)
def test_fixture_through_the_cli(path, capsys):
    assert decide_cli.main([str(path)]) == 0
    out = capsys.readouterr().out
    assert out == expected_path(path).read_text()  # byte for byte: the expected file


def test_the_cli_as_a_command():
    path = SCENARIOS / "decide_rising_with_carbs.json"
    proc = subprocess.run([sys.executable, "-m", "tools.sim", "decide", str(path)],
                          cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(REPO / "firmware") + ":" + str(REPO),
                               "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected_path(path).read_text()


def test_what_the_fixtures_show():
    """Spot checks that the expected files say what their names claim (the files were
    produced by the code; these read them as a reviewer would)."""
    out = {path.stem[len("decide_"):]: load(expected_path(path)) for path in FIXTURES}

    def d(name):
        return out[name]["decision"]

    assert d("in_range")["action"] == "keep" and d("in_range")["need_mu"] == 0
    assert d("rising_with_carbs")["action"] == "temp" and d("rising_with_carbs")["bolus_mu"] == 0
    assert out["rising_with_carbs"]["state"]["carbs"][0][2] > 0  # counted as early
    for name in ("predicted_low_suspend", "low_glucose_suspend", "lo_reading_suspends"):
        assert (d(name)["action"], d(name)["rate_mu_h"], d(name)["minutes"]) == ("temp", 0, 30)
    assert d("predicted_low_suspend")["glucose"] >= 80 > d("predicted_low_suspend")["lowest"]
    assert d("stale_cgm_fallback")["action"] == "cancel"
    assert d("stale_cgm_fallback")["glucose"] is None
    assert d("max_temp_binding")["rate_mu_h"] == d("max_temp_binding")["max_temp_mu_h"] == 3000
    assert d("max_iob_binding")["action"] == "keep" and "at the max" in d("max_iob_binding")[
        "reason"]
    record = load(SCENARIOS / "decide_carb_record_expiring.json")
    assert len(record["state"]["carbs"]) == 2
    assert [c[0] for c in out["carb_record_expiring"]["state"]["carbs"]] == [
        record["state"]["carbs"][1][0]]
    assert "no more insulin" in d("cgm_overrules_more_insulin")["reason"]
    assert d("cgm_overrules_more_insulin")["need_mu"] > 0
    assert "no less insulin" in d("cgm_overrules_less_insulin")["reason"]
    assert d("cgm_overrules_less_insulin")["need_mu"] < 0
    assert d("suspend_only_mode")["action"] == "cancel" and d("suspend_only_mode")["glucose"] > 200
    assert d("pump_stopped_waits")["action"] == "none"
    assert "faulty" in d("faulty_reading_caution")["reason"]
    for name in out:
        assert out[name]["state"]["last_ms"] == out[name]["decision"]["at_ms"]


# ----- the schema -------------------------------------------------------------------------


def base():
    return load(SCENARIOS / "decide_rising_with_carbs.json")


@pytest.mark.parametrize("change, words", [
    (lambda r: r["schedule"].update(isf_mg_dl_u=0),
     "schedule.isf_mg_dl_u: 0 is not allowed; allowed: 1 to 1000 mg/dL per U"),
    (lambda r: r["settings"].update(mode="auto"), "settings.mode: 'auto'"),
    (lambda r: r["settings"].update(suspend_mg_dl=50), "settings.suspend_mg_dl: 50 is not allowed; "
     "allowed: 67 to 110"),
    (lambda r: r.update(bogus=1), "bogus: unknown key; allowed: keys iob, now_ms"),
    (lambda r: r.pop("pump"), "pump: missing; allowed: a value is required"),
    (lambda r: r["iob"]["mu"].pop(), "iob.mu: '16 entries' is not allowed; allowed: a list of 17"),
    (lambda r: r["readings"].reverse(), "readings[1] at_ms"),
    (lambda r: r["readings"][-1].__setitem__(0, r["readings"][-1][0] + 1), "whole minutes"),
    (lambda r: r["readings"][-1].__setitem__(1, None), "None only with the no_value flag"),
    (lambda r: r["readings"][0].__setitem__(2, 64), "readings[0] flags: 64"),
    (lambda r: r["state"]["carbs"].__setitem__(0, [0, 401, 0]), "state.carbs[0] grams: 401"),
    (lambda r: r["state"]["carbs"].__setitem__(0, [0, 10, 10_001]), "early_mg: 10001"),
    (lambda r: r["state"].update(carbs=[[0, 10, 0]] * 9), "state.carbs"),
    (lambda r: r.update(now_ms=True), "now_ms: True"),
    (lambda r: r.update(now_ms=2 ** 41), "now_ms"),
    (lambda r: r["pump"].update(temp_mu_h=-1), "pump.temp_mu_h: -1"),
    (lambda r: r["pump"].update(stop_reason=""), "pump.stop_reason"),
    (lambda r: r["schedule"].update(highest_mu_h=500), "at least scheduled_mu_h (1000)"),
])
def test_a_bad_record_names_field_value_and_range(change, words, tmp_path, capsys):
    record = base()
    change(record)
    with pytest.raises(InvalidValue) as raised:
        loop.decide(record)
    assert words in str(raised.value)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(record))
    assert decide_cli.main([str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and words in lines[0] and str(path) in lines[0]


def test_the_cli_refuses_what_is_not_a_record(tmp_path, capsys):
    path = tmp_path / "x.json"
    path.write_text("{not json")
    assert decide_cli.main([str(path)]) == 2
    assert decide_cli.main([str(tmp_path / "missing.json")]) == 2
    path.write_text("[1, 2]")
    assert decide_cli.main([str(path)]) == 2
    assert decide_cli.main([]) == 2
    err = capsys.readouterr().err.splitlines()
    assert "not JSON" in err[0] and "missing.json" in err[1] and "(top)" in err[2]
    assert err[3].startswith("usage")


# ----- properties -------------------------------------------------------------------------


@st.composite
def records(draw):
    """Valid input records: readings with gaps and flags, a real IOB curve, meals of all
    ages (some past their absorption), any mode and pump state."""
    now = draw(st.integers(0, 30 * 24 * H))
    cadence = draw(st.sampled_from((1, 5)))
    count = draw(st.integers(0, 31 // cadence + 1))
    newest_age = draw(st.one_of(st.integers(0, 5 * M), st.integers(0, 25 * M)))
    glucose = draw(st.integers(45, 380))
    slope = draw(st.integers(-3_000, 3_000))
    readings = []
    for k in range(count):
        at = now - newest_age - (count - 1 - k) * cadence * M
        value = glucose * 1000 + slope * (k - count + 1) * cadence + draw(
            st.integers(-4_000, 4_000))
        flags = draw(st.sampled_from((0,) * 12 + (1, 2, 4)))
        readings.append([at, None if flags & NO_VALUE else max(value, 0), flags])
    tracker = IobTracker(InsulinModel(75, 360))
    for _ in range(draw(st.integers(0, 3))):
        tracker.add_bolus(now - draw(st.integers(0, 400)) * M, draw(st.integers(10, 8_000)))
    tracker.add_basal(now - 5 * M, 0, draw(st.integers(0, 300)))
    carbs = [[now - draw(st.integers(-5, 400)) * M, draw(st.integers(1, 120)), 0]
             for _ in range(draw(st.integers(0, 4)))]
    for entry in carbs:
        entry[2] = draw(st.integers(0, entry[1] * 500))
    scheduled = draw(st.integers(50, 2_500))
    temp = draw(st.one_of(st.none(), st.integers(0, 5_000)))
    return {
        "now_ms": now, "readings": readings, "iob": loop.iob_figures(tracker, now),
        "schedule": {"scheduled_mu_h": scheduled,
                     "highest_mu_h": scheduled + draw(st.integers(0, 1_000)),
                     "max_basal_mu_h": draw(st.integers(0, 6_000)),
                     "max_iob_mu": draw(st.integers(0, 15_000)),
                     "isf_mg_dl_u": draw(st.integers(10, 200)),
                     "carb_ratio_mg_u": draw(st.integers(3_000, 30_000)),
                     "target_mg_dl": draw(st.integers(90, 140))},
        "settings": {"mode": draw(st.sampled_from(("closed", "closed", "suspend_only", "off"))),
                     "suspend_mg_dl": draw(st.integers(67, 110)),
                     "auto_bolus": draw(st.booleans()),
                     "auto_bolus_percent": draw(st.integers(10, 80)),
                     "auto_bolus_max_min": draw(st.integers(0, 120)),
                     "absorption_min": draw(st.integers(60, 360))},
        "pump": {"stop_reason": draw(st.sampled_from((None,) * 7 + ("suspended",))),
                 "temp_mu_h": temp, "temp_left_min": 0 if temp is None else draw(
                     st.integers(1, 30)),
                 "bolus_running": draw(st.booleans()), "bolus_step_mu": 10},
        "state": {"carbs": carbs,
                  "last_ms": draw(st.one_of(st.none(), st.integers(now - 2 * H, now)))},
    }


def shifted(record, shift):
    """Every time in the record moved by `shift` ms (the IOB curve is relative: no times)."""
    out = copy.deepcopy(record)
    out["now_ms"] += shift
    for entry in out["readings"]:
        entry[0] += shift
    for entry in out["state"]["carbs"]:
        entry[0] += shift
    if out["state"]["last_ms"] is not None:
        out["state"]["last_ms"] += shift
    _shift_extra(out["state"], shift)
    return out


def _shift_extra(state, shift):
    """The times in what the loop added (hourly buckets, its running temp)."""
    for entry in state.get("extra", []):
        entry[0] += shift
    temp = state.get("loop_temp")
    if temp is not None:
        temp[0] += shift
        temp[2] += shift


@given(records(), st.integers(-(2 ** 39), 2 ** 39))
def test_results_do_not_depend_on_the_date(record, shift):
    before = copy.deepcopy(record)
    first = run(record)
    later = run(shifted(record, shift))
    assert record == before  # never changed
    moved = copy.deepcopy(first)
    moved["decision"]["at_ms"] += shift
    moved["state"]["last_ms"] += shift
    for entry in moved["state"]["carbs"]:
        entry[0] += shift
    _shift_extra(moved["state"], shift)
    assert later == moved


@given(records())
def test_decisions_stay_within_the_rules(record):
    decision, state = loop.decide(record)
    d = decision.as_dict()
    assert d["reason"] and d["bolus_mu"] >= 0
    if d["action"] == "temp":
        assert d["minutes"] == 30 and 0 <= d["rate_mu_h"] <= d["max_temp_mu_h"]
    if record["settings"]["mode"] != "closed":
        assert d["bolus_mu"] == 0 and (d["action"] != "temp" or d["rate_mu_h"] == 0)
    if d["glucose"] is None:
        assert d["bolus_mu"] == 0 and d["action"] != "temp"
    absorb = record["settings"]["absorption_min"] * M
    kept = [c[:2] for c in record["state"]["carbs"] if record["now_ms"] - c[0] < absorb]
    assert [c[:2] for c in state["carbs"]] == kept  # only meals past their time go
    for new, old in zip(state["carbs"], [c for c in record["state"]["carbs"]
                                         if record["now_ms"] - c[0] < absorb]):
        assert old[2] <= new[2] <= new[1] * 1000  # early absorption only grows


# ----- the stateful wrapper agrees with the pure function ----------------------------------


def pump_state(rng, scheduled):
    s = loop.PumpState()
    s.delivering = rng.below(10) > 0
    s.stop_reason = None if s.delivering else "suspended"
    s.scheduled_mu_h = scheduled
    s.highest_mu_h = scheduled + 200
    s.max_basal_mu_h = 3_000
    s.max_iob_mu = 6_000
    s.temp_mu_h = (None, 0, 500, 2_500)[rng.below(4)]
    s.temp_left_min = 0 if s.temp_mu_h is None else 1 + rng.below(30)
    s.bolus_running = rng.below(8) == 0
    return s


@settings(max_examples=25)
@given(st.integers(0, 2 ** 32 - 1), st.sampled_from(loop.MODES), st.booleans())
def test_the_wrapper_and_the_pure_function_agree(seed, mode, auto_bolus):
    rng = Lcg(seed)
    lp = loop.Loop(loop.LoopSettings(mode, 80, auto_bolus, 40, 30, 120 + rng.below(120)))
    tracker = IobTracker(InsulinModel(75, 360))
    store = ReadingStore(0)
    state = {"carbs": [], "last_ms": None}
    glucose = 80 + rng.below(200)
    now = 0
    for step in range(60):
        now += (1 + rng.below(6)) * M
        glucose = max(40, min(400, glucose + rng.below(13) - 6))
        if rng.below(6):  # sometimes the reading is lost
            raw = None if rng.below(25) == 0 else glucose * 1000
            record = cgms.decode_measurements(bytes(cgms_sensor.encode_record(
                0x07FF if raw is None else cgms_sensor.sfloat_from_milli(raw), now // M,
                crc=True)), True)[0]
            store.add(now, record)
        if rng.below(12) == 0:
            grams = 5 + rng.below(80)
            lp.add_carbs(now, grams)
            state = dict(state, carbs=loop.add_carbs(state["carbs"], now, grams))
            tracker.add_bolus(now, grams * 60)
        if rng.below(25) == 0:
            new_mode = loop.MODES[rng.below(3)]
            lp.set_mode(new_mode)
            mode = new_mode
            state = dict(state, last_ms=None)  # what the loop added stays counted
        pump = pump_state(rng, 600 + rng.below(600))
        therapy = (30 + rng.below(60), 8_000 + rng.below(8_000), 100 + rng.below(20))
        record = {"now_ms": now, "readings": store.recent(loop.FIT_MIN),
                  "iob": loop.iob_figures(tracker, now),
                  "schedule": loop.schedule_section(pump, therapy),
                  "settings": lp.settings.as_dict(mode), "pump": loop.pump_section(pump),
                  "state": state}
        pure, state = loop.decide(record)
        cgm, why = loop.cgm_input(store, now)
        wrapped = lp.decide(now, therapy, cgm, why, tracker, pump, store.latest)
        assert loop.result(wrapped, lp.state) == loop.result(pure, state), step
        assert lp.cob_g(now) == pure.cob_g
        if pure.bolus_mu:
            tracker.add_bolus(now, pure.bolus_mu)


def test_cgm_input_is_the_old_store_rule():
    """cgm_input now goes through the plain readings: the same answer as the store's own
    fit and dosing check give, over a store with gaps, flags and staleness."""
    rng = random.Random(5)
    store = ReadingStore(0)
    glucose = 150_000
    for minute in range(0, 400, 5):
        glucose += rng.randint(-5_000, 5_000)
        if rng.random() < 0.8:
            store.add(minute * M, cgms.decode_measurements(bytes(cgms_sensor.encode_record(
                cgms_sensor.sfloat_from_milli(glucose), minute, crc=True)), True)[0])
        for age in (0, 14 * M, 15 * M, 16 * M):
            now = minute * M + age
            cgm, why = loop.cgm_input(store, now)
            reading, refused = store.latest_for_dosing(now)
            if reading is None or reading.age_ms >= store.stale_ms:
                assert cgm is None and why
                continue
            fit = store.fit(reading.offset, loop.FIT_MIN)
            if fit is None:
                assert cgm == (reading.glucose_milli, None, None)
            elif fit[2] > loop.NOISY_MILLI:
                assert cgm is None and "noisy" in why
            else:
                assert cgm[:2] == fit[:2] and (cgm[2] is None) == (fit[3] == 0)


# ----- the record from the live pump --------------------------------------------------------


def _old_pump_state(app):
    """The pump state as the app built it before the loop's pure entry point (the oracle)."""
    from basalt.core.limits import BOLUS_STEP_MU

    engine = app.engine
    state = loop.PumpState()
    state.stop_reason = engine.stop_reason
    state.delivering = engine.stop_reason is None
    profile = engine.profiles.current()
    state.scheduled_mu_h = profile.rate_at(engine.day_ms())
    state.highest_mu_h = max(profile.rates_mu_h)
    state.max_basal_mu_h = app.settings.limits.max_basal_mu_h
    state.max_iob_mu = app.settings.limits.max_iob_mu
    temp = engine.temp_basal()
    if temp is None:
        state.temp_mu_h = None
    else:
        rate, percent, _ = temp
        state.temp_mu_h = rate if rate is not None else state.scheduled_mu_h * percent // 100
    state.temp_left_min = 0 if temp is None else temp[2]
    state.bolus_running = engine.bolus_running()
    state.bolus_step_mu = BOLUS_STEP_MU
    return state


def test_pump_inputs_builds_what_the_app_decides_from():
    from basalt.core.limits import BOLUS_STEP_MU
    from host_tests.test_loop import app_with_loop, feed

    app, clock = app_with_loop()
    feed(app, clock, [180, 185, 190, 196, 200, 203])
    app.command({"cmd": "carbs", "grams": 30})
    app.command({"cmd": "temp_basal", "percent": 150, "minutes": 30})
    now = clock.now_ms()
    record = loop.pump_inputs(now, app.cgm, app.iob, app.settings, app.engine, app.loop.mode,
                              app.loop.state, BOLUS_STEP_MU)
    loop.check_inputs(record)
    assert record["pump"]["temp_mu_h"] == record["schedule"]["scheduled_mu_h"] * 3 // 2
    assert record["state"]["carbs"][-1][1] == 30 and len(record["readings"]) == 6
    json.dumps(record)  # plain data
    # The same decision as the app's own path (therapy, _pump_state, cgm_input) gives.
    day = app.engine.day_ms()
    low, high = app.settings.targets.value_at(day)
    therapy = (app.settings.sensitivity.value_at(day), app.settings.carb_ratio.value_at(day),
               (low + high) // 2)
    twin = loop.Loop(app.settings.loop)
    twin.mode, twin.state = app.loop.mode, app.loop.state
    cgm, why = loop.cgm_input(app.cgm, now)
    old = twin.decide(now, therapy, cgm, why, app.iob, _old_pump_state(app), app.cgm.latest)
    new, state = loop.decide(record)
    assert loop.result(new, state) == loop.result(old, twin.state)
    assert new.action == "temp" and new.glucose > 190
    # What the app will call: the same decision, and its record replays through the CLI.
    live = loop.Loop(app.settings.loop)
    live.mode, live.state = app.loop.mode, app.loop.state
    d = live.decide_from(now, app.cgm, app.iob, app.settings, app.engine, BOLUS_STEP_MU)
    assert loop.result(d, live.state) == loop.result(old, twin.state)
    assert live.last is d and not live.due(now + 60_000, app.cgm.latest)
    # The settings' aim offset moves the record's target, never out of the range.
    for offset, target in ((-4, (low + high) // 2 - 4), (-15, low)):
        app.settings.loop.aim_offset_mg_dl = offset
        aimed = loop.pump_inputs(now, app.cgm, app.iob, app.settings, app.engine,
                                 app.loop.mode, app.loop.state, BOLUS_STEP_MU)
        assert aimed["schedule"]["target_mg_dl"] == target
    assert live.in_control(now) and app.loop.state["last_ms"] != now  # the app's untouched
    assert decide_cli.run(json.loads(json.dumps(live.inputs))) == loop.result(d, live.state)


# ----- MicroPython -----------------------------------------------------------------------------

VM_SCRIPT = """
import json
from basalt.core import loop
for name, text in FIXTURES:
    decision, state = loop.decide(json.loads(text))
    print(json.dumps([name, loop.result(decision, state)]))
"""


def test_the_fixtures_decide_the_same_in_micropython():
    from tools.mpvm import MicroPythonError, missing_requirements, run_micropython_code

    missing = missing_requirements()
    if missing:
        pytest.fail("MicroPython lane cannot run: %s" % missing, pytrace=False)
    fixtures = [(p.stem, p.read_text()) for p in FIXTURES]
    code = "FIXTURES = %r\n%s" % (fixtures, VM_SCRIPT)
    try:
        out = run_micropython_code(code, lib_dirs=[REPO / "firmware" / "basalt"], timeout=300)
    except MicroPythonError as error:
        pytest.fail("decide failed under MicroPython:\n%s" % error, pytrace=False)
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [name for name, _ in rows] == NAMES
    for (name, got), path in zip(rows, FIXTURES):
        assert got == load(expected_path(path)), name


def test_decide_from_gives_every_decision_the_app_makes_today():
    """Over a running app (meal, highs, a fall to a suspend, a user temp), the call the
    app makes (Loop.decide_from on its live parts) decides as its path before did."""
    from host_tests.test_loop import app_with_loop, feed

    app, clock = app_with_loop()
    real = app.loop.decide_from
    agreed = []

    def both(now, store, iob, settings, engine, bolus_step_mu, activity=None):
        # The path the app took before: therapy, its own pump state and cgm_input.
        day = engine.day_ms()
        low, high = settings.targets.value_at(day)
        therapy = (settings.sensitivity.value_at(day), settings.carb_ratio.value_at(day),
                   (low + high) // 2)
        twin = loop.Loop(app.settings.loop)
        twin.mode, twin.state = app.loop.mode, app.loop.state
        cgm, why = loop.cgm_input(store, now)
        theirs = twin.decide(now, therapy, cgm, why, iob, _old_pump_state(app), store.latest)
        mine = real(now, store, iob, settings, engine, bolus_step_mu, activity)
        agreed.append(loop.result(mine, app.loop.state) == loop.result(theirs, twin.state))
        return mine

    app.loop.decide_from = both
    feed(app, clock, [160, 165, 172])
    app.command({"cmd": "carbs", "grams": 45})
    feed(app, clock, [180, 190, 204, 215, 222, 226, 228, 224, 215])
    app.command({"cmd": "temp_basal", "percent": 50, "minutes": 30})
    feed(app, clock, [200, 180, 150, 120, 100, 85, 74, 70])
    app.command({"cmd": "loop_mode", "mode": "suspend_only"})
    feed(app, clock, [72, 80, 95])
    assert len(agreed) > 20 and all(agreed)
