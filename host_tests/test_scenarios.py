"""The scenario library (tools/sim/scenarios/): every file loads, bad ones are refused
naming the key, and each scenario does to the run what its description says."""

import json
import random

import pytest

from tools.sim import cohort, patients, scenarios


def _world(days=1, **changes):
    scenario = dict(scenarios.plain(cohort.parse_meals(cohort.MEALS)), **changes)
    return scenarios.World(scenario, days, random.Random(1), random.Random(2))


def test_the_library_has_the_issue_scenarios_and_all_load():
    assert {"announced", "unannounced", "carb_error", "late_bolus", "missed_bolus",
            "exercise", "sick_day", "cgm_faults", "failing_site"} <= set(scenarios.names())
    for name in scenarios.names():
        assert scenarios.load(name)["description"]


@pytest.mark.parametrize("raw, problem", [
    ({"description": "x", "annouce": "all"}, "annouce"),
    ({"description": "x", "carb_error_pct": 120}, "carb_error_pct"),
    ({"description": "x", "missed_meals": ["13:00"]}, "a meal's time"),
    ({"description": "x", "sensitivity": [{"at": "16:00", "hours": 3}]}, "keys at, hours"),
    ({"description": "x", "sensitivity": [{"at": "25:00", "hours": 3, "factor": 2}]},
     "HH:MM"),
    ({"description": "x", "sensitivity": [{"at": "16:00", "hours": 3, "factor": 2,
                                           "activity": "nap"}]}, "exercise or sick"),
    ({"description": "x", "cgm_noise": [{"at": "1:00", "minutes": 0, "sd_mg_dl": 5}]},
     "cgm_noise[0].minutes"),
    ({"description": "x", "site_failure": {"at": "8:00", "hours": 6}}, "site_failure"),
    ({"announce": "all"}, "description"),
])
def test_bad_scenarios_are_refused_naming_the_key(raw, problem):
    with pytest.raises(ValueError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        scenarios.check("bad", raw)


def test_an_unknown_name_lists_the_library(tmp_path):
    with pytest.raises(ValueError, match="known: announced"):
        scenarios.load("nope")
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"description": "my own", "announce": "none"}))
    assert scenarios.load(str(path))["announce"] == 0.0


def test_meals_only_scenarios_plan_as_cohort_does():
    meals = cohort.parse_meals(cohort.MEALS)
    world = scenarios.World(scenarios.plain(meals, 0.7, 25), 2, random.Random("1:x"), None)
    assert world.plan == cohort.meal_plan(meals, 2, 0.7, 25, random.Random("1:x"))


def test_a_late_bolus_comes_after_the_meal():
    world = _world(bolus_delay_min=15)
    assert world.plan[420] == (45.0, None) and world.plan[435] == (0.0, 45)


def test_a_missed_meal_is_eaten_and_never_announced():
    world = _world(missed_meals=[720])
    assert world.plan[720] == (70.0, None) and world.plan[1080] == (80.0, 80)


def test_sensitivity_windows_and_the_users_activity_repeat_daily():
    row = {"at": 960, "hours": 3, "factor": 1.5, "activity": "exercise"}
    world = _world(days=2, sensitivity=[row])
    assert [world.insulin_factor(m) for m in (959, 960, 1139, 1140, 1440 + 1000)] == \
        [1.0, 1.5, 1.5, 1.0, 1.5]
    assert world.actions == {960: [("exercise", 180)], 2400: [("exercise", 180)]}


def test_the_patient_feels_the_sensitivity_factor():
    """The same insulin lowers glucose more with insulin working 1.5 times as strongly."""
    ends = []
    for factor in (1.0, 1.5):
        patient = patients.VirtualPatient("adult#001", sensor_seed=1)
        patient.set_insulin_action(patient.insulin_action(), factor)
        for minute in range(120):
            patient.step(2.0 if minute == 0 else 0.02, 0.0)
        ends.append(patient.glucose())
    assert ends[1] < ends[0] - 10


def test_a_failing_site_absorbs_less_until_it_is_changed():
    site = {"at": 480, "hours": 6, "to_percent": 30, "changed_after_h": 14}
    world = _world(site_failure=site)
    assert [round(world.absorbed(m), 3) for m in (479, 480, 660, 840, 1000, 1320)] == \
        [1.0, 1.0, 0.65, 0.3, 0.3, 1.0]


def test_cgm_dropouts_and_noise_bursts():
    world = _world(cgm_dropouts=[{"at": 180, "minutes": 30}],
                   cgm_noise=[{"at": 600, "minutes": 60, "sd_mg_dl": 20}])
    assert world.cgm(179, 120.0) == 120.0 and world.cgm(180, 120.0) is None
    assert world.cgm(210, 120.0) == 120.0
    noisy = [world.cgm(m, 120.0) for m in range(600, 660)]
    assert all(39 <= v <= 400 for v in noisy) and 10 < _sd(noisy) < 30


def _sd(values):
    mean = sum(values) / len(values)
    return (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5


def test_a_dropout_gives_the_pump_no_reading():
    """cohort.simulate hands the controller None; Basalt's pump stores nothing then."""
    scenario = dict(scenarios.load("announced"), cgm_dropouts=[{"at": 0, "minutes": 60}])
    world = scenarios.world(scenario, 1, 1, "adult#001")
    trace = cohort.simulate("adult#001", "pump", 90, None, 1, world)
    assert trace["cgm"][:60] == [None] * 60 and trace["cgm"][60] is not None
    assert trace["controller"].app.cgm.latest is not None
