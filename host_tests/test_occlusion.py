"""Occlusion detection: the detector (tables and properties), calibration, the engine's
alarm stop and back-off, and the app end to end on the syringe physics."""

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basalt.app import PumpApp
from basalt.core import forcecal
from basalt.core.board_file import load_board
from basalt.core.delivery import STOP_OCCLUSION, STOP_SENSOR_FAULT, DeliveryEngine
from basalt.core.errors import ConfigError, InvalidValue, NotAllowedNow
from basalt.core.occlusion import OCCLUSION, SENSOR_FAULT, OcclusionDetector
from basalt.core.occlusion_config import PARAMS, load_occlusion_config
from boards import sim as sim_board
from host_tests.vectors.vectorkit import engine_snapshot
from tools.fakes import FakeIob, FakeMotor, VirtualClock, open_limits
from tools.sim.occlusion_physics import PARAMS as PHYSICS
from tools.sim.occlusion_physics import SimForceSensor, SyringePhysics

BOARD = load_board(sim_board.BOARD)
STEPS_PER_U = BOARD.usteps_for_mu(1000)  # 690
HOUR = 3_600_000


# ----- a small synthetic line for the detector alone --------------------------------------


class Line:
    """Force readings of an open or blocked line: friction with stick-slip, drift, noise.

    Open: while the stopper sticks, each step adds `drive` mN until `band` above the
    kinetic friction, then it slips back. Blocked: every step adds `stiff` mN for good.
    """

    def __init__(self, seed, band=150, noise=20, drift_mn_h=20, drive=12, stiff=5):
        self.rng = random.Random(seed)
        self.band, self.noise, self.drift = band, noise, drift_mn_h
        self.drive, self.stiff = drive, stiff
        self.stick = self.rng.randint(0, band)
        self.pressure = 0
        self.blocked = False

    def push(self, steps):
        for _ in range(steps):
            if self.blocked:
                self.pressure += self.stiff
            else:
                self.stick += self.drive
                if self.stick > self.band:
                    self.stick = 0

    def read(self, now_ms):
        drift = self.drift * now_ms // HOUR
        noise = self.rng.randint(-2 * self.noise, 2 * self.noise)  # bounded envelope
        return 1500 + self.stick + self.pressure + drift + noise


def drive(detector, line, rate_mu_h, start_ms, ms, tick_ms, onset_ms=None):
    """Feed the detector like the app does; returns (alarm, time of alarm)."""
    cost = BOARD.ustep_volume_pl * 360
    acc = rate_mu_h * start_ms % cost
    now = start_ms
    while now < start_ms + ms:
        now += tick_ms
        if onset_ms is not None and now >= onset_ms:
            line.blocked = True
        acc += rate_mu_h * tick_ms
        steps, acc = divmod(acc, cost)
        line.push(steps)
        alarm = detector.update(now, steps, line.read(now))
        if alarm is not None:
            return alarm, now
    return None, now


def started(line, now=0):
    detector = OcclusionDetector()
    detector.reset(now)
    detector.update(now, 0, line.read(now))
    return detector


# ----- tables ------------------------------------------------------------------------


@pytest.mark.parametrize("rate_mu_h, tick_ms", [(100, 10_000), (1_000, 1_000), (5_000, 250)])
def test_open_line_with_stick_slip_noise_and_drift_never_alarms(rate_mu_h, tick_ms):
    line = Line(seed=rate_mu_h, band=200, noise=30, drift_mn_h=30)
    alarm, _ = drive(started(line), line, rate_mu_h, 0, 12 * HOUR, tick_ms)
    assert alarm is None


def test_force_rising_without_steps_is_drift_not_occlusion():
    line = Line(seed=1, noise=5, drift_mn_h=2_000)  # 2 N in an hour, no delivery
    alarm, _ = drive(started(line), line, 0, 0, HOUR, 1_000)
    assert alarm is None


def test_a_single_spike_is_not_an_occlusion():
    detector = OcclusionDetector()
    for i in range(20):
        force = 4_000 if i == 10 else 1_500
        assert detector.update(i * 10_000, 2, force) is None


@pytest.mark.parametrize("rate_mu_h, tick_ms, bound_min", [
    (100, 10_000, 150), (1_000, 2_000, 15), (30_000, 250, 1),
])
def test_blocked_line_alarms_and_reports_what_it_holds(rate_mu_h, tick_ms, bound_min):
    line = Line(seed=3)
    detector = started(line)
    onset = HOUR
    alarm, at = drive(detector, line, rate_mu_h, 0, 3 * HOUR + bound_min * 60_000, tick_ms,
                      onset_ms=onset)
    assert alarm is not None and alarm["code"] == OCCLUSION
    assert onset < at <= onset + bound_min * 60_000
    assert alarm["at_ms"] == at
    assert alarm["force_mn"] - alarm["baseline_mn"] == alarm["rise_mn"] >= detector.threshold
    # What the blocked line holds, from the measured slope (5 mN per step here).
    assert 2_000 <= alarm["slope_umn_per_step"] <= 11_000
    assert alarm["compressed_steps"] == alarm["rise_mn"] * 1000 // alarm["slope_umn_per_step"]
    assert alarm["backoff_steps"] == alarm["compressed_steps"] + alarm["takeup_steps"]
    assert detector.update(at + 1000, 5, 9_000) is None  # latched until reset


def test_bolus_flow_pressure_is_allowed_but_a_blocked_bolus_alarms_fast():
    # Open line: flow force k*v with v' = rate - v/tau (k 8 mN, tau 6 s: inside the bound).
    detector = OcclusionDetector()
    rng = random.Random(7)
    v = 0.0
    now = 0
    rate = 17.3  # steps/s at 1.5 U/min
    for i in range(2_000):  # 500 s: a 12 U bolus
        now += 250
        v += rate * 0.25 - v * 0.25 / 6
        force = 1500 + int(8 * v) + rng.randint(-40, 40)
        assert detector.update(now, 4 + (i % 3 == 0), force) is None
    blocked_at = now
    pressure = 8 * v
    while True:  # the same bolus, blocked: nothing flows out any more
        now += 250
        pressure += 4.3 * 5
        force = 1500 + int(pressure) + rng.randint(-40, 40)
        alarm = detector.update(now, 4 + (now // 250 % 3 == 0), force)
        if alarm is not None:
            break
    assert now - blocked_at <= 30_000


@pytest.mark.parametrize("reason", ["timeout", "saturated", "no answer", "open"])
def test_bad_reads_in_a_row_make_a_sensor_fault(reason):
    detector = OcclusionDetector()
    detector.update(0, 0, 1500)
    assert detector.sensor_failed(1, reason, "x") is None
    assert detector.sensor_failed(2, reason, "x") is None
    alarm = detector.sensor_failed(3, reason, "it broke")
    assert alarm == {"code": SENSOR_FAULT, "at_ms": 3, "reason": reason,
                     "detail": "it broke", "reads": 3}


def test_a_good_read_between_failures_starts_the_count_again():
    detector = OcclusionDetector()
    for i in range(10):
        assert detector.sensor_failed(i * 3, "timeout", "x") is None or i >= 2
        detector = detector if i < 2 else OcclusionDetector()
        assert detector.sensor_failed(i * 3 + 1, "timeout", "x") is None
        assert detector.update(i * 3 + 2, 0, 1500) is None


@pytest.mark.parametrize("readings, words", [
    ([1500, 1500, 1500, 99_000, 99_000, 99_000], "outside"),
    ([1500, 1500, 1500, -9_000, -9_000, -9_000], "outside"),
    ([1500, 1480, 1520, 8_000, 8_100, 8_200], "jumps"),
    ([1500, 1501, 1502, "1500", None, 1.5e3], "not an integer"),
])
def test_implausible_readings_are_a_fault_not_a_force(readings, words):
    detector = OcclusionDetector()
    alarm = None
    for i, reading in enumerate(readings):
        alarm = detector.update(i * 1000, 1, reading)
    assert alarm["code"] == SENSOR_FAULT and alarm["reason"] == "implausible"
    assert words in alarm["detail"]


def test_a_stuck_reading_is_a_fault():
    detector = OcclusionDetector({"stuck_reads": 10})
    alarms = [detector.update(i * 1000, 1, 1234) for i in range(13)]
    assert alarms[:12] == [None] * 12 and "identical readings" in alarms[12]["detail"]


def test_settle_steps_reseat_the_drive_train_without_alarm():
    detector = OcclusionDetector()
    detector.reset(0, settle_steps=300)
    force = -1500
    for i in range(1, 40):  # 300 steps of take-up raise the force by 3 N
        force += 80
        assert detector.update(i * 250, 8, min(force, 1500)) is None
    for i in range(40, 60):
        assert detector.update(i * 250, 0, 1500 + i % 3) is None
    assert abs(detector.baseline - 1500) < 20
    assert detector.residual() < 20


@pytest.mark.parametrize("config, key", [
    ({"threshold_mn": 10}, "occlusion.threshold_mn"),
    ({"threshold_mn": True}, "occlusion.threshold_mn"),
    ({"filter_ms": 1.5}, "occlusion.filter_ms"),
    ({"bogus": 1}, "occlusion.bogus"),
    ({"min_force_mn": 0, "max_force_mn": 0}, "occlusion.max_force_mn"),
    ({"min_force_mn": -1000, "max_force_mn": 1000, "stuck_reads": 5}, "occlusion.stuck_reads"),
])
def test_bad_detector_settings_are_refused_by_key(config, key):
    with pytest.raises(ConfigError) as caught:
        load_occlusion_config(config)
    assert caught.value.field == key
    assert "allowed" in str(caught.value)


def test_detector_settings_default_and_overlay():
    cfg = load_occlusion_config({"threshold_mn": 600})
    assert cfg["threshold_mn"] == 600
    assert all(cfg[k] == PARAMS[k][0] for k in PARAMS if k != "threshold_mn")


# ----- properties ----------------------------------------------------------------------


rates = st.sampled_from([100, 500, 1_000, 3_000])
ticks = st.sampled_from([2_000, 5_000, 10_000])  # 250 ms ticks: the tables above


@given(st.integers(0, 10_000), rates, ticks, st.integers(0, 200), st.integers(1, 30),
       st.integers(-30, 30))
def test_no_alarm_in_the_noise_envelope(seed, rate, tick, band, noise, drift):
    """Stick-slip up to 0.2 N, noise up to +-60 mN, drift up to 30 mN/h: never an alarm.
    (A live sensor is never noiseless: identical readings for minutes are a fault.)"""
    line = Line(seed, band=band, noise=noise, drift_mn_h=drift)
    alarm, _ = drive(started(line), line, rate, 0, 2 * HOUR, tick)
    assert alarm is None


@given(st.integers(0, 10_000), rates, ticks, st.integers(3, 12), st.integers(0, 200),
       st.integers(1, 30))
def test_always_alarms_within_a_bound_after_onset(seed, rate, tick, stiff, band, noise):
    """The alarm comes once the blocked line holds at most the threshold in use (the
    learned one, or the ceiling while the run is still learning), the stick-slip band,
    the noise, the flow allowance and the confirmation rise, while the baseline follows
    at drift speed - counted in steps - plus the filter's lag (filter_steps steps)."""
    line = Line(seed, band=band, noise=noise, drift_mn_h=0, stiff=stiff)
    detector = started(line)
    onset = 20 * 60_000
    assert drive(detector, line, rate, 0, onset, tick) == (None, onset)
    learned = detector.noise_mn is not None
    threshold = detector.threshold if learned else PARAMS["threshold_max_mn"][0]
    cost = BOARD.ustep_volume_pl * 360
    # The baseline follows a rise at up to drift_mn_h: per step that is chase uN.
    chase = PARAMS["drift_mn_h"][0] * 1000 * cost // (rate * HOUR) + 1
    # The flow allowance at this rate: its steady value plus one tick's steps.
    allowance = PARAMS["flow_umn_per_step"][0] * (
        rate * (PARAMS["flow_ms"][0] + tick) // cost + 1) // 1000
    held = threshold + band + 4 * noise + PARAMS["confirm_rise_mn"][0] + allowance
    bound_steps = (held * 1000 // (stiff * 1000 - chase) + PARAMS["confirm_steps"][0] + 2
                   + 3 * PARAMS["filter_steps"][0])
    bound_ms = bound_steps * cost // rate + 2 * tick
    alarm, at = drive(detector, line, rate, onset, bound_ms, tick, onset_ms=onset)
    assert alarm is not None and alarm["code"] == OCCLUSION
    assert at - onset <= bound_ms


# ----- calibration ---------------------------------------------------------------------


def test_calibration_tare_and_scale_procedures():
    cal = forcecal.nominal("hx711")
    cal = forcecal.tare(cal, [-52_300, -52_311, -52_290, -52_320, -52_305])
    assert cal["tare_counts"] == -52_305
    cal = forcecal.scale(cal, [-52_305 + 27_468] * 5, 981)  # 100 g
    assert cal == {"tare_counts": -52_305, "counts_per_n": 28_000}
    assert forcecal.counts_to_mn(cal, -52_305 + 28_000 * 2) == 2_000
    assert forcecal.load_force_calibration(dict(cal)) == cal  # round-trips as plain data


@pytest.mark.parametrize("call, field", [
    (lambda: forcecal.tare(forcecal.nominal("hx711"), [0, 0, 0, 0, 5_000]), "tare readings"),
    (lambda: forcecal.tare(forcecal.nominal("hx711"), [0, 0]), "tare readings"),
    (lambda: forcecal.scale(forcecal.nominal("hx711"), [0] * 5, 1_000), "scale readings"),
    (lambda: forcecal.scale(forcecal.nominal("hx711"), [3_000] * 5, 5), "known force"),
    (lambda: forcecal.scale(forcecal.nominal("hx711"), [1 << 24] * 5, 1_000),
     "scale readings"),
])
def test_calibration_procedures_refuse_bad_readings(call, field):
    with pytest.raises(InvalidValue) as caught:
        call()
    assert caught.value.field == field


@pytest.mark.parametrize("cal, key", [
    ({"tare_counts": 0}, "force_calibration.counts_per_n"),
    ({"tare_counts": 0, "counts_per_n": 0}, "force_calibration.counts_per_n"),
    ({"tare_counts": 1 << 23, "counts_per_n": 10}, "force_calibration.tare_counts"),
    ({"tare_counts": 0, "counts_per_n": 2_000_000}, "force_calibration.counts_per_n"),
    ({"tare_counts": 0, "counts_per_n": 10, "x": 1}, "force_calibration.x"),
    ([], "force_calibration"),
])
def test_stored_calibration_is_checked_by_key(cal, key):
    with pytest.raises(ConfigError) as caught:
        forcecal.load_force_calibration(cal)
    assert caught.value.field == key


@given(st.integers(-(1 << 23), (1 << 23) - 1), st.integers(-(1 << 23), (1 << 23) - 1),
       st.integers(1, 1_000_000), st.booleans())
def test_counts_to_mn_is_the_exact_floor(raw, tare, per_n, flip):
    per_n = -per_n if flip else per_n
    cal = {"tare_counts": tare, "counts_per_n": per_n}
    assert forcecal.counts_to_mn(cal, raw) == (raw - tare) * 1000 // per_n


# ----- the engine's alarm stop ------------------------------------------------------------


def running_engine():
    engine = DeliveryEngine(BOARD, 0, open_limits(), FakeIob())
    engine.set_profile(0, "Flat", [(0, 1_000)])
    engine.new_reservoir(0, 100_000)
    engine.resume(0)
    engine.tick(HOUR)
    engine.bolus(HOUR, 5_000)
    engine.tick(HOUR + 60_000)
    engine.pop_events()
    return engine


def test_alarm_stop_stops_cancels_backs_off_and_resume_reseats():
    engine = running_engine()
    plunger, reservoir = engine.plunger_steps, engine.reservoir_steps
    backoff = engine.alarm_stop(HOUR + 60_000, STOP_OCCLUSION, 400, 250, 7)
    assert backoff == 400 and engine.stop_reason == STOP_OCCLUSION
    assert engine.plunger_steps == plunger - 407
    assert engine.reservoir_steps == reservoir + 7 + 150
    kinds = [kind for kind, _ in engine.pop_events()]
    assert kinds == ["bolus_cancelled", "stopped", "alarm_stop"]
    assert engine.tick(2 * HOUR) == 0  # nothing moves while stopped
    engine.resume(2 * HOUR)
    assert engine.tick(2 * HOUR) == 250  # the take-up, before any therapy
    assert engine.pop_events()[-1] == ("resumed", {"takeup_steps": 250, "cause": "user",
                                                   "after": "occlusion", "at_ms": 2 * HOUR})


def test_alarm_stop_refusals_change_nothing():
    engine = running_engine()
    before = engine_snapshot(engine)
    with pytest.raises(InvalidValue):
        engine.alarm_stop(HOUR + 60_000, "tired", 10)
    with pytest.raises(InvalidValue):
        engine.alarm_stop(HOUR + 60_000, STOP_OCCLUSION, -1)
    with pytest.raises(InvalidValue):
        engine.alarm_stop(HOUR + 60_000, STOP_OCCLUSION, 10, 0, 10 ** 7)
    assert engine_snapshot(engine) == before
    engine.alarm_stop(HOUR + 60_000, STOP_SENSOR_FAULT)
    with pytest.raises(NotAllowedNow):
        engine.alarm_stop(HOUR + 60_000, STOP_OCCLUSION, 10)


def test_back_off_never_exceeds_the_plunger_travel():
    engine = running_engine()
    travel = engine.plunger_steps
    assert engine.alarm_stop(HOUR + 60_000, STOP_OCCLUSION, 10 ** 6, 10 ** 6) == travel
    assert engine.plunger_steps == 0


# ----- the app on the syringe physics -----------------------------------------------------


def physics_app(seed=5, tick_ms=1_000):
    clock = VirtualClock()
    motor = FakeMotor(clock, BOARD.motor.max_step_hz)
    physics = SyringePhysics(BOARD.ustep_volume_pl, dict(PHYSICS), seed=seed)
    sensor = SimForceSensor(physics, motor, clock)
    app = PumpApp(BOARD, clock, motor, tick_ms=tick_ms, force=sensor, limits=open_limits())
    for cmd in ({"cmd": "set_profile", "name": "Flat", "segments": [["00:00", 1.0]]},
                {"cmd": "new_reservoir", "units": 100}, {"cmd": "prime", "units": 2}):
        app.command(cmd)
    run_until_alarm(app, clock, 30_000)
    physics.seat(motor.position())
    app.command({"cmd": "resume"})
    return app, clock, motor, physics, sensor


def run_until_alarm(app, clock, ms):
    end = clock.now_ms() + ms
    while clock.now_ms() < end:
        clock.advance(app.tick_ms)
        app.step()
        alarms = [d for k, d in app.pop_events() if k == "alarm"]
        if alarms:
            return alarms[0]
    return None


def test_app_stops_and_backs_off_on_a_blocked_line_then_resumes():
    app, clock, motor, physics, _ = physics_app()
    assert run_until_alarm(app, clock, 20 * 60_000) is None
    physics.occlude(clock.now_ms(), motor.position())
    at_onset = motor.position()
    alarm = run_until_alarm(app, clock, 30 * 60_000)
    assert alarm["code"] == OCCLUSION and app.engine.stop_reason == STOP_OCCLUSION
    assert alarm["not_delivered_mu"] >= 0 and alarm["force_mn"] > 1_500
    at_alarm = motor.position()
    assert 20 <= at_alarm - at_onset <= 200  # ~0.03-0.3 U pushed into the blocked line
    run_until_alarm(app, clock, 5_000)
    assert motor.position() == at_alarm - alarm["backoff_steps"]
    assert not motor.is_enabled()
    physics.advance(clock.now_ms(), motor.position())
    assert physics.fluid_force_n() < 0.1  # the pressure is relieved
    physics.clear(clock.now_ms(), motor.position())
    with pytest.raises(NotAllowedNow, match="acknowledge the occlusion alarm first"):
        app.command({"cmd": "resume"})  # a high alarm latches until acknowledged
    app.acknowledge("occlusion")
    app.command({"cmd": "resume"})
    assert run_until_alarm(app, clock, 30 * 60_000) is None
    assert app.engine.stop_reason is None


@pytest.mark.parametrize("fault, reason", [
    ("timeout", "timeout"), ("saturated", "saturated"), ("garbage", "implausible"),
    ("stuck", "implausible"),
])
def test_a_broken_sensor_stops_delivery_with_a_sensor_fault(fault, reason):
    app, clock, motor, _, sensor = physics_app(tick_ms=250)
    assert run_until_alarm(app, clock, 60_000) is None
    sensor.fault = fault
    alarm = run_until_alarm(app, clock, 60_000)
    assert alarm["code"] == SENSOR_FAULT and alarm["reason"] == reason
    assert app.engine.stop_reason == STOP_SENSOR_FAULT
    position = motor.position()
    assert run_until_alarm(app, clock, 60_000) is None
    assert motor.position() == position  # nothing moves blind


def test_the_sensor_is_read_only_while_delivering():
    app, clock, _, _, sensor = physics_app()
    app.command({"cmd": "suspend"})
    reads = sensor.reads
    run_until_alarm(app, clock, 60_000)
    assert sensor.reads == reads


def test_app_without_a_force_sensor_delivers_as_before():
    clock = VirtualClock()
    motor = FakeMotor(clock, BOARD.motor.max_step_hz)
    app = PumpApp(BOARD, clock, motor, limits=open_limits())
    for cmd in ({"cmd": "set_profile", "name": "Flat", "segments": [["00:00", 1.0]]},
                {"cmd": "new_reservoir", "units": 100}, {"cmd": "resume"}):
        app.command(cmd)
    assert run_until_alarm(app, clock, HOUR) is None
    assert app.engine.basal_steps == STEPS_PER_U


# ----- the simulator with physics ----------------------------------------------------------


OCCLUSION_PROGRAM = Path(__file__).resolve().parents[1] / "tools" / "sim" / "occlusion_program.json"


def test_sim_program_blocks_the_line_and_the_pump_alarms_and_resumes():
    from tools import sim

    recorder = sim.run(sim.load_program(str(OCCLUSION_PROGRAM)), hours=13)
    minutes = [(minute, alarm["code"]) for minute, alarm in recorder.alarms]
    assert len(minutes) == 2 and all(code == OCCLUSION for _, code in minutes)
    assert 600 < minutes[0][0] <= 615  # blocked at 10:00 at 1 U/h
    assert 751 <= minutes[1][0] <= 752  # blocked at 12:31 during a bolus: within 60 s
    assert recorder.app.engine.stop_reason is None  # resumed after each was cleared
    assert len(recorder.force_n) == len(recorder.rows)


@pytest.mark.parametrize("change, key", [
    ({"physics": False}, "program.physics"),
    ({"events": [{"at": "10:00", "sim": "explode"}]}, "program.events[0].sim"),
    ({"events": [{"at": "10:00", "sim": "occlude", "units": 1}]}, "program.events[0].units"),
])
def test_sim_events_need_physics_and_a_known_kind(tmp_path, change, key):
    import json

    from tools import sim

    program = json.loads(OCCLUSION_PROGRAM.read_text())
    program.update(change)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(program))
    with pytest.raises(ConfigError) as caught:
        sim.load_program(str(path))
    assert caught.value.field == key
