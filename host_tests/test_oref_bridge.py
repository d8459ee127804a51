"""The OpenAPS bridge (tools/sim/oref.py, tools/sim/oref0_bridge.js): what it hands
oref0 is what oref0's own code reads, in oref0's units, and it agrees with Basalt's
loop fed the same story (host_tests/scenarios/oref_same_inputs.json)."""

import json
import os
import re
import shutil
import subprocess

import pytest

from tools import ROOT
from tools.sim import cohort, controllers, oref, patients

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node missing")

OREF0 = os.path.join(ROOT, "node_modules", "oref0", "lib")
FIXTURE = os.path.join(ROOT, "host_tests", "scenarios", "oref_same_inputs.json")


def _source(*parts):
    with open(os.path.join(OREF0, *parts)) as handle:
        return handle.read()


def _reads(source, name):
    """True when oref0's source reads field `name` of a record (x.name or x['name'])."""
    return re.search(r"\.%s\b|\[['\"]%s['\"]\]" % (re.escape(name), re.escape(name)),
                     source) is not None


def _story(kind):
    """The fixture fed to one controller; returns the controller after the last minute."""
    with open(FIXTURE) as handle:
        story = json.load(handle)
    cgm = dict(story["cgm"])
    meal_at, grams = story["meal"]
    controller = kind(patients.settings_for(story["patient"]), 3)
    for minute in range(story["minutes"]):
        controller.minute(minute, cgm.get(minute), grams if minute == meal_at else None)
    return controller, story


@pytest.fixture(scope="module")
def fed():
    return {"oref0": _story(oref.Oref0), "loop": _story(controllers.BasaltLoop)}


def test_the_request_uses_the_fields_oref0_reads(fed):
    controller, _ = fed["oref0"]
    request = controller.request()
    glucose = _source("glucose-get-last.js") + _source("determine-basal", "cob.js")
    history = _source("iob", "history.js") + _source("meal", "history.js")
    for entry in request["glucose"]:
        for key in entry:
            assert _reads(glucose, key), "glucose entry field %r: oref0 never reads it" % key
    kinds = {r["_type"] for r in request["history"]}
    assert {"Bolus", "TempBasal", "TempBasalDuration"} <= kinds
    for record in request["history"]:
        assert '"%s"' % record["_type"] in history, record["_type"]
        for key in record:
            assert _reads(history, key) or key in ("programmed", "unabsorbed"), key
    assert request["carbs"] and all(_reads(history, k) for c in request["carbs"] for k in c)
    determine = _source("determine-basal", "determine-basal.js")
    for key in request["currenttemp"]:
        assert _reads(determine, "currenttemp." + key) or _reads(determine, key), key
    # the clock and times oref0 parses as zoned ISO (lib/iob/index.js warns otherwise)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", request["clock"])
    assert request["history"] == sorted(request["history"], key=lambda r: r["timestamp"],
                                        reverse=True), "oref0 reads its history newest first"


def test_the_profile_is_basalts_settings_in_oref0s_units(fed):
    controller, _ = fed["oref0"]
    settings, profile = controller.settings_dict, controller.profile
    generator = "".join(_source("profile", name) for name in
                        ("index.js", "basal.js", "targets.js", "isf.js", "carbs.js"))
    for key in oref.profile_inputs(settings, oref.OREF1_PREFS):
        # read by the generator, or one of its defaults() (an input replaces a default)
        assert re.search(r"\binputs\.%s\b" % key, generator) or \
            re.search(r"\b%s\s*:" % key, generator), key
    basal_u_h = settings["basal"]["profiles"]["sim"][0][1]
    assert profile["current_basal"] == pytest.approx(basal_u_h)  # U/h
    assert profile["max_basal"] == settings["limits"]["max_basal_u_h"]  # U/h
    assert profile["max_iob"] == settings["limits"]["max_iob_u"]  # U
    assert profile["sens"] == settings["sensitivity_mg_dl_per_u"][0][1]  # mg/dL per U
    assert profile["carb_ratio"] == settings["carb_ratio_g_per_u"][0][1]  # g per U
    assert profile["dia"] == settings["insulin"]["duration_h"]  # hours
    assert profile["min_bg"] == settings["target_mg_dl"][0][1]  # oref0 doses to the low end
    assert profile["insulinPeakTime"] == 75 and profile["curve"] == "rapid-acting"
    assert profile["enableSMB_always"] is False and profile["enableUAM"] is True  # defaults


def test_oref0_and_basalt_see_the_same_glucose_insulin_and_carbs(fed):
    controller, story = fed["oref0"]
    answer = controller.last
    suggested, iob = answer["suggested"], answer["iob"]
    app = controller.app
    # the same pump's deliveries, counted by oref0 from the history and by Basalt's IOB
    basalt_iob_u = app.iob.iob_mu(app.clock.now_ms()) / 1000
    assert iob["iob"] == pytest.approx(basalt_iob_u, abs=0.1), (iob, basalt_iob_u)
    (_, bolus_u), = controller.boluses  # the user's meal bolus, in U
    assert 0.4 * bolus_u < iob["bolusiob"] < bolus_u  # 90 min later, in U (not mU)
    loop, _ = fed["loop"]
    decisions = [d for k, d in loop.app.pop_events() if k == "loop_decision"]
    last = decisions[-1]
    newest = story["cgm"][-1][1]
    assert suggested["bg"] == newest  # mg/dL: oref0 takes the newest reading
    assert abs(last["glucose"] - newest) <= 5  # Basalt: the least-squares line's value
    # oref0's delta: mg/dL per 5 min, the mean slope to the readings 2.5-7.5 min old
    # (glucose-get-last.js); Basalt's trend: mg/dL per min x 1000 over its fit
    (t0, g0), (t1, g1), (t2, g2) = story["cgm"][-3:]
    delta = ((g2 - g1) / (t2 - t1) * 5 + (g2 - g0) / (t2 - t0) * 5) / 2
    assert float(suggested["tick"]) == round(delta)
    assert 0 < last["trend_milli"] * 5 / 1000 < 3 * delta
    grams = story["meal"][1]
    assert answer["meal"]["carbs"] == grams  # g, from the carb entry in the history
    # oref0 counts carbs absorbed from the rise it sees (here all of them); Basalt's
    # record absorbs linearly
    after_meal = [d for d in decisions if d["at_ms"] > decisions[0]["at_ms"] + 33 * 60_000]
    assert 0 <= answer["meal"]["mealCOB"] <= grams and 0 < after_meal[0]["cob_g"] <= grams
    assert controller.errors == [] and controller.refused == []


def test_a_decision_enacts_oref0s_temp_through_the_gate(fed):
    controller, _ = fed["oref0"]
    events = controller.history.records
    temps = [r for r in events if r["_type"] == "TempBasal"]
    assert temps, "oref0 set no temp basal on a rising glucose"
    rate_u_h = controller.app.engine.temp_basal()[0] / 1000
    assert rate_u_h == pytest.approx(temps[-1]["rate"])


def test_a_refused_command_is_counted_and_changes_nothing():
    controller = oref.Oref0(patients.settings_for("adult#001"), 3)
    limit = controller.settings_dict["limits"]["max_basal_u_h"]
    controller.enact(0, {"rate": limit + 5, "duration": 30})
    assert len(controller.refused) == 1 and "temp" in controller.refused[0][1]
    assert controller.app.engine.temp_basal() is None


@pytest.mark.parametrize("minutes", [30, 60, 120])
def test_oref0s_longer_temps_run_as_the_pumps_loop_temp(minutes):
    """oref0 sets a 120-minute zero temp on a low; the pump's loop temps last 30 minutes
    (the command table), so it runs for 30 and oref0 renews it: never refused."""
    controller = oref.Oref0(patients.settings_for("adult#001"), 3)
    controller.enact(0, {"rate": 0, "duration": minutes})
    rate, _, left = controller.app.engine.temp_basal()
    assert controller.refused == [] and rate == 0
    assert left == oref.LOOP_TEMP_MIN == 30


ERRORS = (  # (request line, what the answer's error says)
    ("not json", "not JSON"),
    ('{"op": "launch"}', "unknown op"),
    ('{"op": "decide"}', "decide threw"),
    ('{"op": "profile", "inputs": {"settings": {"insulin_action_curve": 0}}}', "refused"),
)


def test_bridge_errors_are_answers_not_crashes():
    lines = "".join(line + "\n" for line, _ in ERRORS)
    proc = subprocess.run(["node", oref.BRIDGE_JS], input=lines, capture_output=True,
                          text=True, cwd=ROOT, timeout=60)
    answers = [json.loads(a) for a in proc.stdout.splitlines()]
    assert len(answers) == len(ERRORS), proc.stdout
    for (line, problem), answer in zip(ERRORS, answers):
        assert problem in answer["error"], (line, answer)


def test_bridge_errors_are_counted_by_the_controller():
    controller = oref.Oref0(patients.settings_for("adult#001"), 3)
    controller.profile = {}  # oref0 cannot decide without a profile
    controller.cgm_sample(0, 120)
    controller.decide(0)
    assert len(controller.errors) == 1 and controller.last is None


def test_the_fast_paths_give_oref0s_own_answers(fed):
    """The bridge's moment and insulin-curve shortcuts change no number."""
    controller, _ = fed["oref0"]
    line = json.dumps(controller.request()) + "\n"
    answers = []
    for plain in ("0", "1"):
        env = dict(os.environ, OREF0_BRIDGE_PLAIN_MOMENT=plain)
        proc = subprocess.run(["node", oref.BRIDGE_JS], input=line, capture_output=True,
                              text=True, cwd=ROOT, env=env, timeout=60)
        answers.append(proc.stdout)
    assert answers[0] == answers[1] and '"suggested"' in answers[0]


def test_twelve_hours_of_history_decide_as_a_day_would(fed):
    """HISTORY_KEEP_MIN is exact: records older than carbs' 6 h plus DIA change nothing."""
    controller, _ = fed["oref0"]
    request = controller.request()
    older = [{"_type": "Bolus", "timestamp": oref.iso(-13 * 3_600_000), "amount": 4.0,
              "programmed": 4.0, "unabsorbed": 0, "duration": 0}]
    with_day = dict(request, history=request["history"] + older)
    assert controller.bridge.call(with_day) == controller.bridge.call(request)


@pytest.mark.parametrize("kind, detail, records", [
    ("temp_basal_started", {"rate_mu_h": 1250, "percent": None, "duration_min": 30},
     [("TempBasal", "rate", 1.25), ("TempBasalDuration", "duration (min)", 30)]),
    ("temp_basal_cancelled", {"ran_min": 4},
     [("TempBasal", "rate", 0), ("TempBasalDuration", "duration (min)", 0)]),
    ("bolus_started", {"id": 3, "programmed_mu": 2350}, [("Bolus", "amount", 2.35)]),
    ("reservoir_fitted", {"fill_mu": 300_000}, [("Rewind", None, None)]),
    ("temp_basal_started", {"rate_mu_h": None, "percent": 50, "duration_min": 30}, []),
])
def test_pump_events_become_oref0_records(kind, detail, records):
    history = oref.PumpHistory()
    history.add(60_000, kind, detail)
    got, _ = history.recent(120_000)
    assert [(r["_type"], r.get(k) if k else None) for r, (_, k, _) in
            zip(reversed(got), records)] == [(t, v) for t, _, v in records]
    assert all(r["timestamp"] == "2026-01-01T00:01:00.000Z" for r in got)


def test_a_suspend_shows_only_when_it_stopped_delivery():
    history = oref.PumpHistory()
    history.add(0, "stopped", {"reason": "suspended"})
    history.add(30_000, "resumed", {"takeup_steps": 0})  # a refill within the minute
    history.add(600_000, "stopped", {"reason": "suspended"})
    assert [r["_type"] for r in history.recent(610_000)[0]] == []
    assert [r["_type"] for r in history.recent(700_000)[0]] == ["PumpSuspend"]
    history.add(900_000, "resumed", {"takeup_steps": 0})
    assert [r["_type"] for r in history.recent(960_000)[0]] == ["PumpResume", "PumpSuspend"]


ENACT = oref.Oref0.enact


def _decisions(monkeypatch, sessions, env=None, minutes=600):
    """oref1 for `minutes` on adult#001 with meals at 0:30 and 8:00 (history kept 8 h,
    so that records are dropped within the run): each decision's suggestion and the
    bridge's answers."""
    monkeypatch.setattr(oref, "HISTORY_KEEP_MIN", 8 * 60)
    monkeypatch.setattr(oref.Oref0, "sessions", sessions)
    answers = []

    def recorded(self, minute, suggested):
        answers.append(self.last)
        return ENACT(self, minute, suggested)

    monkeypatch.setattr(oref.Oref0, "enact", recorded)
    monkeypatch.setattr(oref, "_bridge", oref.Bridge(env))
    try:
        trace = cohort.simulate("adult#001", "oref1", minutes,
                                {30: (45.0, 45.0), 480: (60.0, 60.0)}, 1)
    finally:
        oref._bridge.close()
    return trace, answers


def test_sessions_and_the_readable_history_decide_as_whole_requests(monkeypatch):
    """Sending only what changed (a session), and giving each of oref0's steps only the
    records it can read, change no decision: the run matches one that hands oref0 the
    whole history every time, and the bridge's check (each decision also made on the
    whole history) finds no difference, while records were left out."""
    whole, whole_answers = _decisions(monkeypatch, False)
    trace, answers = _decisions(monkeypatch, True, {"OREF0_BRIDGE_CHECK_HISTORY": "1"})
    assert trace["controller"].errors == [] and whole["controller"].errors == []
    assert [a["suggested"] for a in answers] == [a["suggested"] for a in whole_answers]
    assert trace["glucose"] == whole["glucose"] and trace["insulin_u"] == whole["insulin_u"]
    reads = [a["read"] for a in answers]
    assert any(r["iob"] < r["whole"] for r in reads)  # IOB: DIA (6 h) and a temp back
    late = [(r, a["meal"]["carbs"]) for r, a in zip(reads, answers)][-60:]
    assert any(r["meal"] < r["whole"] and carbs for r, carbs in late)  # carbs in window



def test_a_session_holds_what_a_whole_request_would_send(monkeypatch):
    """The records, carbs, glucose and profile a session holds after each step are
    those of the whole request: records added, a bolus cancelled after it was sent, a
    suspend shown while it lasts, a temp target, and old records and readings dropped."""
    monkeypatch.setattr(oref, "HISTORY_KEEP_MIN", 60)
    monkeypatch.setattr(oref, "GLUCOSE_KEEP_MIN", 30)
    controller = oref.Oref0(patients.settings_for("adult#001"), 3)
    history = controller.history
    events = {
        3: [("bolus_started", {"id": 1, "programmed_mu": 2000}),
            ("carbs", {"grams": 30})],
        12: [("bolus_cancelled", {"id": 1, "delivered_mu": 1250})],
        20: [("temp_basal_started", {"rate_mu_h": 500, "percent": None, "duration_min": 30})],
        40: [("stopped", {"reason": "suspended"})],
        50: [("resumed", {"takeup_steps": 0})],
        70: [("temp_basal_cancelled", {"ran_min": 4}), ("reservoir_fitted", {})],
    }
    controller.temp_targets.append((30 * 60_000, 60 * 60_000, oref.EXERCISE_TARGET))
    seen = set()
    for minute in range(0, 100, 3):
        for at in range(minute - 2, minute + 1):
            for kind, detail in events.get(at, ()):
                history.add(at * 60_000, kind, detail)
        controller.cgm_sample(minute, 100 + minute)
        controller._now = minute * 60_000
        whole = controller.request()
        step = controller.bridge.call(dict(controller.step_request(), echo=True))["inputs"]
        for key in ("clock", "glucose", "history", "carbs", "profile", "currenttemp"):
            assert step[key] == whole[key], (minute, key)
        kinds = [r["_type"] for r in whole["history"]]
        seen.add(("suspend shown", kinds[:1] == ["PumpSuspend"]))
        seen.add(("cancelled bolus", any(r.get("amount") == 1.25 for r in whole["history"])))
        seen.add(("bolus dropped", minute > 60 and "Bolus" not in kinds))
        seen.add(("temp target", whole["profile"].get("temptargetSet") is True))
    assert all((what, True) in seen for what, _ in seen), seen
