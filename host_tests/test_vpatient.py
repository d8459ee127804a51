"""The MicroPython virtual patient (tools/vpatient): simglucose's data, model and sensor."""

import csv
import json
import os
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools.sim import patient_compare, patients
from tools.vpatient import params
from tools.vpatient.cgm import CGM, Mt19937, _not_a_knot
from tools.vpatient.patient import Patient, names

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import numpy as np
    import simglucose
    from scipy.interpolate import interp1d

TABLES = os.path.join(os.path.dirname(simglucose.__file__), "params")
ONE_PER_GROUP = ("adolescent#002", "adult#004", "child#007")


def _csv(name):
    with open(os.path.join(TABLES, name)) as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


def test_every_value_is_simglucoses():
    model, quest = _csv("vpatient_params.csv"), _csv("Quest.csv")
    assert names() == list(model) == list(patients.PATIENTS)
    columns = params.FIELDS.split() + ["x0_%2d" % i for i in range(1, 14)]
    assert len(params.FIELDS.split()) == params.N_FIELDS
    for name in names():
        expected = [float(model[name][c]) for c in columns]
        expected += [float(quest[name]["CR"]), float(quest[name]["CF"])]
        assert list(params.row(name)) == expected, name


@pytest.mark.parametrize("name", ONE_PER_GROUP)
def test_settings_are_the_cohorts(name):
    settings, patient = patients.settings_for(name), Patient(name)
    assert patient.basal_u_h == pytest.approx(settings.basal_u_h, rel=1e-12)
    assert patient.carb_ratio_g_u == settings.carb_ratio_g_u
    assert patient.isf_mg_dl_u == settings.isf_mg_dl_u


@pytest.mark.parametrize("call, problem", [
    (lambda: Patient("adult#011"), "unknown virtual patient 'adult#011'"),
    (lambda: Patient("adult#001").step(-1, 0, 0), "minutes -1 is not 0-10080"),
    (lambda: Patient("adult#001").step(10081, 0, 0), "minutes 10081 is not 0-10080"),
    (lambda: Patient("adult#001").step(1, -5, 0), "carbs_g -5 is not 0 or 0.001-1000 g"),
    (lambda: Patient("adult#001").step(1, 1e-9, 0), "carbs_g 1e-09 is not 0 or 0.001-1000"),
    (lambda: Patient("adult#001").step(1, float("nan"), 0), "carbs_g nan"),
    (lambda: Patient("adult#001").step(1, 0, -0.1), "insulin_u_per_min -0.1 is not 0-100"),
    (lambda: Patient("adult#001").step(1, 0, float("inf")), "insulin_u_per_min inf"),
])
def test_bad_input_is_refused_by_name(call, problem):
    with pytest.raises(ValueError, match=problem):
        call()


@pytest.mark.parametrize("name", ONE_PER_GROUP)
def test_basal_alone_holds_the_fasting_glucose(name):
    patient = Patient(name)
    start = patient.glucose_mg_dl
    patient.step(720, 0, patient.basal_u_h / 60)
    assert patient.t_min == 720
    assert patient.glucose_mg_dl == pytest.approx(start, abs=0.01)


@given(minutes=st.integers(0, 60), carbs=st.just(0.0) | st.floats(0.001, 200),
       extra_u_min=st.floats(0, 2),
       name=st.sampled_from(ONE_PER_GROUP))
def test_a_long_step_is_the_same_as_minutes_one_by_one(minutes, carbs, extra_u_min, name):
    one, many = Patient(name), Patient(name)
    rate = one.basal_u_h / 60 + extra_u_min
    one.step(minutes, carbs, rate)  # the carbs are eaten at 5 g/min from the first minute
    many.step(1 if minutes else 0, carbs, rate)
    for _ in range(minutes - 1):
        many.step(1, 0, rate)
    assert one.x == many.x and one.t_min == many.t_min == minutes


def test_a_meal_raises_glucose_and_insulin_lowers_it():
    def after_3_h(carbs, bolus_u):
        patient = Patient("adolescent#005")
        rate = patient.basal_u_h / 60
        patient.step(1, carbs, rate + bolus_u)
        patient.step(179, 0, rate)
        return patient.glucose_mg_dl

    fasting, meal = after_3_h(0, 0), after_3_h(50, 0)
    bolused = after_3_h(50, 50 / Patient("adolescent#005").carb_ratio_g_u)
    assert meal > fasting + 30
    assert fasting < bolused < meal


@pytest.mark.parametrize("seed", [0, 1, 7, 12345, 2**32 - 1])
def test_the_random_stream_is_numpys_randomstate(seed):
    mine, numpy = Mt19937(seed), np.random.RandomState(seed)
    assert [mine.normal() for _ in range(9)] == pytest.approx(numpy.randn(9), abs=1e-12)
    assert [mine.uniform() for _ in range(5)] == list(numpy.random_sample(5))


def test_the_spline_is_scipys_cubic_interpolation():
    knots = list(np.random.RandomState(3).randn(11) * 10)
    expected = interp1d(np.arange(11) * 15.0, knots, kind="cubic")(np.arange(51) * 3.0)
    assert _not_a_knot(knots, 5) == pytest.approx(list(expected), abs=1e-9)


class _Held:
    def __init__(self, t_min, sc_glucose_mg_dl):
        self.t_min, self.sc_glucose_mg_dl = t_min, sc_glucose_mg_dl


def test_cgm_reads_every_3_minutes_holds_between_and_clips():
    sensor = CGM(seed=2)
    first = sensor.measure(_Held(0, 120.0))
    assert sensor.measure(_Held(1, 300.0)) == first == sensor.measure(_Held(2, 50.0))
    assert sensor.measure(_Held(3, 10.0)) == 39.0
    assert sensor.measure(_Held(6, 900.0)) == 600.0
    assert abs(sensor.measure(_Held(9, 150.0)) - 150.0) < 60


def _plan(hours):
    meals = [(60, 50.0), (240, 30.0)]
    return [patient_compare.plan_for(name, meals, "auto", "auto", hours)
            for name in ONE_PER_GROUP]


def test_the_port_under_cpython_follows_simglucose():
    """The module's own code on CPython, before the VM: same inputs, same traces."""
    for spec in _plan(6):
        _, reference = patient_compare.simglucose_traces((spec, 360, 1))
        patient, sensor = Patient(spec["name"]), CGM(1)
        events = {m: (g, u) for m, g, u in spec["events"]}
        mine = ([patient.glucose_mg_dl], [patient.sc_glucose_mg_dl], [sensor.measure(patient)])
        for minute in range(360):
            carbs, bolus = events.get(minute, (0.0, 0.0))
            patient.step(1, carbs, spec["basal_u_min"] + bolus)
            for trace, value in zip(mine, (patient.glucose_mg_dl, patient.sc_glucose_mg_dl,
                                           sensor.measure(patient))):
                trace.append(value)
        for channel, (got, want) in patient_compare.differences(reference, mine).items():
            assert got < 0.5 and want < 0.05, (spec["name"], channel)


def test_in_the_micropython_vm_the_port_meets_the_targets(capsys):
    """The command as documented, short: three patients, 6 h, in the VM and simglucose."""
    from tools.mpvm import missing_requirements

    missing = missing_requirements()
    if missing:
        pytest.fail("MicroPython lane cannot run: %s" % missing, pytrace=False)
    argv = ["--patients", ",".join(ONE_PER_GROUP), "--meals", "1:00=50,4:00=30", "--hours", "6",
            "--jobs", "1", "--json"]
    assert patient_compare.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["patients"] == 3 and result["within_targets"]
    assert result["max_abs_mg_dl"] < 0.5 and result["sc_max_abs_mg_dl"] < 0.5
    assert result["cgm_max_abs_mg_dl"] < 0.5
    assert 0 < result["vm_s_per_day"] < 144  # faster than 600 x real time
    assert set(result["per_patient"]) == set(ONE_PER_GROUP)


def test_the_summary_fails_a_port_that_drifts():
    flat = [100.0] * 61
    drifted = [100.0 + i / 10 for i in range(61)]  # up to 6 mg/dL off
    result = patient_compare.summary({"adult#001": (flat, flat, flat)},
                                     {"adult#001": (drifted, flat, flat)}, 60, 10)
    assert not result["within_targets"]
    assert result["max_abs_mg_dl"] == 6.0 and result["worst"] == "adult#001"


@pytest.mark.parametrize("argv, problem", [
    (["--patients", "adult#011"], "--patients: unknown 'adult#011'"),
    (["--basal", "lots"], "--basal: 'lots' is not auto or U/h 0-10"),
    (["--basal", "11"], "--basal: '11'"),
    (["--boluses", "7:00=0"], "--boluses: '7:00=0': units must be above 0 and at most 30"),
    (["--boluses", "25:00=1"], "--boluses: '25:00=1' is not HH:MM=UNITS"),
    (["--meals", "7:00"], "--meals: '7:00' is not HH:MM=GRAMS"),
    (["--hours", "0"], "--hours must be 1 to 168, got 0"),
])
def test_patient_compare_refuses_bad_options(argv, problem, capsys):
    assert patient_compare.main(argv) == 2
    assert problem in capsys.readouterr().err


def test_plans_repeat_meals_daily_and_merge_a_bolus_into_its_minute():
    spec = patient_compare.plan_for("adult#001", [(420, 45.0)], 0.6, [(420, 2.0), (600, 1.0)],
                                    34)  # to 10:00 on day 2
    assert spec["basal_u_min"] == pytest.approx(0.01)
    assert spec["events"] == [[420, 45.0, 2.0], [600, 0.0, 1.0], [1860, 45.0, 2.0]]
    auto = patient_compare.plan_for("adult#001", [(420, 45.0)], "auto", "auto", 24)
    cr = patients.settings_for("adult#001").carb_ratio_g_u
    assert auto["events"] == [[420, 45.0, 45.0 / cr]]
