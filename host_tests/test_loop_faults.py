"""Closed-loop fault scenarios (host_tests/scenarios/loop_*.json with their expected
files): CGM dropouts, a stuck sensor, a compression low, noise, a missed meal bolus, a
user suspend, a fall toward a low. Each must do what its expected file says and break
none of the rules in tools/sim/faults.py."""

import json

import pytest

from tools.sim import faults

NAMES = faults.names()


def test_every_fault_of_the_issue_has_a_scenario():
    assert {"dropout_20", "dropout_90", "stuck", "compression_low", "noise_burst",
            "missed_bolus", "user_suspend"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_scenario_behaves_as_expected(name):
    result = faults.run_one(name)
    assert result["decisions"] > 0
    assert result["problems"] == []


def test_a_wrong_expectation_is_caught():
    scenario, expected = faults.load("dropout_90")
    app, decisions = faults.run(scenario)
    wrong = {"expect": [{"from": 70, "to": 150, "expect": "high"}]}
    problems = faults.check(app, decisions, wrong)
    assert problems and "expect high" in problems[0] and "old" in problems[0]


def test_the_rules_catch_an_unsafe_decision():
    scenario, expected = faults.load("dropout_20")
    app, decisions = faults.run(scenario)
    unsafe = [dict(d) for d in decisions]
    stale = next(d for d in unsafe if d["glucose"] is None)
    stale.update(action="temp", rate_mu_h=stale["max_temp_mu_h"] + 10, minutes=60,
                 bolus_mu=500)
    problems = " | ".join(faults.check(app, unsafe, {"expect": []}))
    assert "above the max temp" in problems and "temp for 60 min" in problems
    assert "without a usable CGM" in problems and "predicted low" in problems


def test_cli_runs_scenarios(capsys):
    assert faults.main(["user_suspend", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result[0]["name"] == "user_suspend" and result[0]["problems"] == []
    assert any("pump stopped" in row[5] for row in result[0]["trace"])
    assert faults.main(["nonsense"]) == 2
