"""The virtual-patient harness: same physiology as simglucose, faster, and strict CLI input."""

import warnings
from datetime import datetime, timedelta

import pytest

from tools.sim import cohort, patients

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from simglucose.actuator.pump import InsulinPump
    from simglucose.controller.basal_bolus_ctrller import BBController
    from simglucose.patient.t1dpatient import Action, T1DPatient
    from simglucose.sensor.cgm import CGMSensor
    from simglucose.simulation.env import T1DSimEnv
    from simglucose.simulation.scenario import CustomScenario
    from simglucose.simulation.sim_engine import SimObj


@pytest.mark.parametrize("name", ["child#003", "adult#007"])
def test_fast_parameters_give_simglucoses_own_trajectory(name):
    """Plain parameters and the plain-float model (patients.model) give simglucose's
    own states to the bit, through meals (the gut's tanh terms), boluses, a
    sensitivity change and a stretch without insulin (the renal and zero-clamp terms)."""
    reference = T1DPatient.withName(name)
    fast = patients.VirtualPatient(name, sensor_seed=1)
    assert fast._patient._odesolver.f is patients.model
    base = fast.insulin_action()
    for minute in range(600):
        carbs = {20: 30.0, 200: 80.0}.get(minute, 0.0)
        insulin = 0.0 if 300 <= minute < 420 else 0.05 if minute % 7 else 0.3
        if minute == 450:
            fast.set_insulin_action(base, 1.5)
            reference._params.Vmx, reference._params.kp3 = base[0] * 1.5, base[1] * 1.5
        reference.step(Action(CHO=carbs, insulin=insulin))
        fast.step(insulin, carbs)
        assert fast._patient.state.tolist() == reference.state.tolist(), minute
        assert fast.glucose() == float(reference.observation.Gsub)


def test_simglucose_bb_matches_simglucoses_own_engine():
    """Our harness + SimglucoseBB reproduce simglucose's env + BBController sample by sample."""
    name, hours, seed = "adolescent#004", 3, 3
    start = datetime(2026, 1, 1)
    meals = [(1, 45.0)]  # hours after start, grams
    env = T1DSimEnv(T1DPatient.withName(name), CGMSensor.withName("Dexcom", seed=seed),
                    InsulinPump.withName("Insulet"), CustomScenario(start, meals))
    sim = SimObj(env, BBController(), timedelta(hours=hours), animate=False, path=None)
    sim.simulate()
    expected = sim.results()

    plan = {60: (45.0, 45.0)}
    trace = cohort.simulate(name, "simglucose-bb", hours * 60, plan, seed)
    sample = 3
    for k in range(1, hours * 60 // sample):
        # The engine reports the mean of the samples after each of the sample's minutes.
        window = slice(k * sample - sample + 1, k * sample + 1)
        glucose = trace["glucose"][window]
        if len(glucose) < sample:
            break
        assert sum(glucose) / sample == pytest.approx(expected["BG"].iloc[k], abs=1e-9)
        insulin = trace["insulin_u"][(k - 1) * sample:k * sample]
        assert sum(insulin) / sample == pytest.approx(expected["insulin"].iloc[k - 1],
                                                      abs=1e-12)
    bolus = sum(trace["insulin_u"]) - hours * 60 * trace["insulin_u"][0]
    assert bolus > 45 / patients.settings_for(name).carb_ratio_g_u * 0.99


@pytest.mark.parametrize("text, meals", [
    ("7:00=45,12:00=70", [(420, 45.0), (720, 70.0)]),
    ("22:15=15, 6:30=20.5", [(390, 20.5), (1335, 15.0)]),
])
def test_parse_meals(text, meals):
    assert cohort.parse_meals(text) == meals


@pytest.mark.parametrize("text, problem", [
    ("7=45", "HH:MM=GRAMS"),
    ("7:00", "HH:MM=GRAMS"),
    ("24:00=10", "0:00-23:59"),
    ("7:60=10", "0:00-23:59"),
    ("7:00=0", "above 0"),
    ("7:00=-5", "above 0"),
    ("7:00=401", "at most 400"),
    ("7:00=nan", "above 0"),
    ("7:00=lots", "HH:MM=GRAMS"),
])
def test_parse_meals_refuses(text, problem):
    with pytest.raises(ValueError, match=problem):
        cohort.parse_meals(text)


@pytest.mark.parametrize("text, fraction", [("all", 1.0), ("none", 0.0), ("0.5", 0.5)])
def test_parse_announce(text, fraction):
    assert cohort.parse_announce(text) == fraction


@pytest.mark.parametrize("text", ["some", "1.5", "-0.1", "nan"])
def test_parse_announce_refuses(text):
    with pytest.raises(ValueError, match="--announce"):
        cohort.parse_announce(text)


def test_meal_plan_announces_the_fraction_with_bounded_counting_error():
    import random

    plan = cohort.meal_plan([(420, 50.0)], 400, 0.25, 20, random.Random(5))
    announced = [a for _, a in plan.values() if a is not None]
    assert 70 <= len(announced) <= 130
    assert all(40 <= a <= 60 for a in announced)
    assert len(set(announced)) > 5


def test_outcome_metrics_by_hand():
    glucose = [50, 60, 100, 150, 190, 260, 120, 80, 181, 70]
    m = cohort.outcome(glucose, 12.5)
    assert (m["tir"], m["tbr70"], m["tbr54"], m["tar180"], m["tar250"]) == (
        50.0, 20.0, 10.0, 30.0, 10.0)
    assert m["mean"] == 126.1 and m["insulin_u"] == 12.5


def test_cli_refuses_unknown_patients_and_days(capsys):
    assert cohort.main(["--controller", "simglucose-bb", "--patients", "adult#011"]) == 2
    assert "unknown 'adult#011'" in capsys.readouterr().err
    assert cohort.main(["--controller", "simglucose-bb", "--days", "0"]) == 2
    assert "--days must be 1 to 30" in capsys.readouterr().err
