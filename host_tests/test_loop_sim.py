"""Basalt on the virtual patients: the pump and loop controllers, the closed-loop day with
the CGM over the BLE client, and the loop benchmark's options (the cohort itself is a
benchmark: python -m tools.bench loop)."""

import pytest

from basalt.core.units import PL_PER_MU
from tools.sim import cohort, controllers, loop_day, patients

MEAL = {60: (45.0, 45.0)}


def test_pump_controller_boluses_with_the_calculator_and_counts_motor_steps():
    name = "adult#004"
    settings = patients.settings_for(name)
    pump = controllers.BasaltPump(settings, 3)
    start = controllers._forward_steps(pump.motor)
    given = sum(pump.minute(m, 120.0, MEAL.get(m, (0, None))[1]) for m in range(180))
    steps = controllers._forward_steps(pump.motor) - start
    assert given == pytest.approx(steps * pump.board.ustep_volume_pl / PL_PER_MU / 1000)
    (minute, units), = pump.boluses
    assert minute == 60 and units == pytest.approx(45 / settings.carb_ratio_g_u, abs=0.05)
    basal = 179 / 60 * round(settings.basal_u_h, 3)
    assert given == pytest.approx(units + basal, abs=0.03)
    assert pump.app.loop.mode == "off"


def test_settings_follow_the_patient_table():
    patient = patients.settings_for("child#003")
    obj = controllers.settings_json(patient, "closed")
    assert obj["basal"]["profiles"]["sim"] == [["00:00", round(patient.basal_u_h, 3)]]
    assert obj["carb_ratio_g_per_u"] == [["00:00", 22.0]]
    assert obj["sensitivity_mg_dl_per_u"] == [["00:00", 31]]
    settings = controllers.basalt_settings(patient, "closed")
    assert settings.loop.mode == "closed" and settings.insulin_type == "rapid_child"


def test_loop_controller_suspends_on_a_falling_cgm():
    pump = controllers.BasaltLoop(patients.settings_for("adult#001"), 3)
    for minute in range(90):
        pump.minute(minute, 150.0 - minute, None)
    assert pump.app.engine.temp_basal()[0] == 0
    assert "suspend" in pump.app.loop.last.reason


def test_cohort_runs_basalt_controllers():
    plan = cohort.meal_plan(cohort.parse_meals("1:00=30"), 1, 1.0, 0, __import__("random")
                            .Random(1))
    for name in ("pump", "loop"):
        trace = cohort.simulate("adolescent#001", name, 150, plan, 1)
        assert len(trace["glucose"]) == 150 and sum(trace["insulin_u"]) > 1


def test_loop_day_over_the_ble_client(tmp_path, capsys):
    rows = loop_day.run("adult#002", 3, str(tmp_path), plot=False)
    out = capsys.readouterr().out
    assert len(rows) == 180 and (tmp_path / "loop.csv").exists()
    assert sum(1 for r in rows if r["cgm_stored"]) > 170  # readings arrived over BLE
    assert "CGM over Bluetooth" in out and " 0 malformed" in out
    assert " 0 link events" not in out  # the client's events reach the app's history


def test_loop_day_refuses_bad_options(capsys):
    assert loop_day.main(["--patient", "adult#011"]) == 2
    assert loop_day.main(["--hours", "0"]) == 2
    assert "error" in capsys.readouterr().err


def test_loop_benchmark_refuses_bad_options(capsys):
    from tools.bench import __main__ as bench_main

    with pytest.raises(SystemExit):
        bench_main.main(["loop", "--days", "0"])
    with pytest.raises(SystemExit):
        bench_main.main(["loop", "--patients", "adult#099"])
    assert "unknown" in capsys.readouterr().err
