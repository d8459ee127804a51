"""Alarms wired into the app: each alarm's rule end to end on fake hardware (delivery
fault, reservoir, battery, auto-off, reminders, infusion set, daily max), the buzzer and
the banner, resume waiting for acknowledgement, and the motor moving only what the gate
let through."""

import random

import pytest

from basalt.app import PumpApp
from basalt.core.alarms import HIGH, LOW, MEDIUM, PATTERNS
from basalt.core.errors import (
    BasaltError,
    ConfigError,
    InvalidValue,
    LimitExceeded,
    NotAllowedNow,
)
from basalt.core.monitors import BatteryMonitor
from basalt.core.settings import load_settings, parse_settings_text
from basalt.core.units import MS_PER_HOUR, MS_PER_MIN
from host_tests.test_safety import BOARD, limits
from host_tests.vectors.vectorkit import bolus_room_mu
from tools.fakes import FakeBattery, FakeBuzzer, FaultyMotor, VirtualClock
from tools.settings.example import EXAMPLE

PROFILE = {"cmd": "set_profile", "name": "Day", "segments": [["00:00", 1.0]]}
QUIET = {"reservoir_low_u": 20, "auto_off_h": 0, "site_change_days": 0,
         "suspend_reminder_min": 0, "glucose_check_min": 0}


def settings_with(alarms=None):
    """The example settings file with the alarms given (user units), others off."""
    obj = parse_settings_text(EXAMPLE)
    obj["alarms"] = dict(QUIET, **(alarms or {}))
    return load_settings(obj, BOARD)[0]


class Rig:
    """An app on fake hardware: with a settings file (alarms=...), or without one under
    explicit limits (lim=...) and a 1 U/h profile."""

    def __init__(self, alarms=None, lim=None, battery_mv=None, noise_mv=0, fill=100,
                 tick_ms=1_000):
        self.clock = VirtualClock()
        self.motor = FaultyMotor(self.clock, BOARD.motor.max_step_hz)
        self.buzzer = FakeBuzzer(self.clock)
        self.battery = None if battery_mv is None else FakeBattery(battery_mv, noise_mv)
        if lim is None:
            kwargs = {"settings": settings_with(alarms)}
        else:
            kwargs = {"limits": lim}
        self.app = PumpApp(BOARD, self.clock, self.motor, tick_ms=tick_ms, buzzer=self.buzzer,
                           battery=self.battery, **kwargs)
        setup = [{"cmd": "new_reservoir", "units": fill}, {"cmd": "resume"}]
        for cmd in ([PROFILE] if lim is not None else []) + setup:
            self.app.command(cmd)
        self.app.step()

    def run(self, ms, every=None):
        end = self.clock.now_ms() + ms
        while self.clock.now_ms() < end:
            self.clock.advance(min(every or self.app.tick_ms, end - self.clock.now_ms()))
            self.app.step()

    def kinds(self):
        return [(kind, detail.get("code")) for kind, detail in self.app.pop_events()]

    def raised(self):
        return [d["code"] for k, d in self.app.pop_events() if k == "alarm_raised"]


def test_without_settings_or_limits_every_dose_is_refused():
    clock = VirtualClock()
    motor = FaultyMotor(clock)
    app = PumpApp(BOARD, clock, motor)
    for cmd in (PROFILE, {"cmd": "temp_basal", "rate": 1, "minutes": 30}):
        with pytest.raises(NotAllowedNow):
            app.command(cmd)
    app.command({"cmd": "new_reservoir", "units": 100})
    app.command({"cmd": "resume"})
    with pytest.raises(NotAllowedNow, match="no therapy settings are loaded"):
        app.command({"cmd": "bolus", "units": 1})
    for _ in range(100):
        clock.advance(60_000)
        app.step()
    assert motor.position() <= 0 and app.engine.basal_steps == 0


def test_settings_and_limits_are_not_both_given_and_alarm_settings_are_checked():
    clock = VirtualClock()
    motor = FaultyMotor(clock)
    with pytest.raises(ConfigError, match="limits"):
        PumpApp(BOARD, clock, motor, settings=settings_with(), limits=limits())
    bad = settings_with()
    bad.alarms.auto_off_min = 1.5
    with pytest.raises(ConfigError, match="alarms.auto_off_min"):
        PumpApp(BOARD, clock, motor, settings=bad)


# ----- delivery fault -----------------------------------------------------------------

def _bolus_running(rig):
    rig.app.command({"cmd": "bolus", "units": 5})
    rig.run(2_000)
    rig.app.pop_events()


def test_skipped_steps_are_a_latched_delivery_fault_that_stops_delivery():
    rig = Rig()
    _bolus_running(rig)
    rig.motor.skip_next = 3
    rig.run(3_000)
    engine = rig.app.engine
    assert engine.stop_reason == "delivery fault" and not engine.bolus_running()
    assert rig.app.alarms.active() == ["delivery_fault"]
    assert rig.buzzer.playing in PATTERNS[HIGH]
    raised = [d for k, d in rig.app.pop_events() if k == "alarm_raised"]
    assert raised[0]["commanded_steps"] - raised[0]["done_steps"] == 3
    moves = len(rig.motor.moves)
    rig.run(60_000)
    assert len(rig.motor.moves) == moves and not rig.motor.is_enabled()
    with pytest.raises(NotAllowedNow, match="acknowledge the delivery_fault alarm first"):
        rig.app.command({"cmd": "resume"})
    rig.app.acknowledge("delivery_fault")
    assert rig.app.alarms.active() == []  # one-shot: acknowledged = over
    rig.run(1_000)
    assert rig.buzzer.playing is None
    rig.app.command({"cmd": "resume"})
    rig.run(10 * MS_PER_MIN)
    assert len(rig.motor.moves) > moves


def test_a_move_that_does_not_finish_in_time_is_a_delivery_fault():
    rig = Rig()
    _bolus_running(rig)
    rig.motor.stall_next = True
    rig.run(3_000)
    assert rig.app.engine.stop_reason is None  # a late tick is not a fault
    rig.run(5_000)
    assert rig.app.engine.stop_reason == "delivery fault"
    assert not rig.motor.is_enabled() and not rig.motor.busy()
    detail = [d for k, d in rig.app.pop_events() if k == "alarm_raised"][0]
    assert detail["done_steps"] == 0 and detail["late_ms"] > 0


def test_a_fault_drops_steps_not_yet_moved_and_says_so():
    rig = Rig(tick_ms=250)
    _bolus_running(rig)
    rig.clock.advance(100)  # mid-move
    rig.app.fault("occlusion", {"force_mn": 900})
    events = rig.app.pop_events()
    dropped = [d for k, d in events if k == "steps_not_delivered"]
    assert dropped and dropped[0]["steps"] > 0
    assert rig.app.engine.stop_reason == "occlusion"
    assert not rig.motor.is_enabled()
    assert rig.motor.position() == rig.app.motion.moved_steps
    assert rig.app.alarms.banner() == ("OCCLUSION", "Check tubing")


# ----- reservoir ----------------------------------------------------------------------

def test_reservoir_low_then_empty_then_a_new_reservoir():
    rig = Rig({"reservoir_low_u": 10}, fill=12)
    rig.app.command({"cmd": "bolus", "units": 3})  # 9 U left: low
    rig.run(5 * MS_PER_MIN)
    assert rig.raised() == ["reservoir_low"]
    assert rig.buzzer.playing is PATTERNS[MEDIUM][0]
    rig.app.snooze("reservoir_low")
    rig.run(MS_PER_MIN)
    assert rig.buzzer.playing is None
    rig.app.command({"cmd": "extended_bolus", "units": 8.5, "minutes": 15})
    rig.run(2 * MS_PER_HOUR, every=60_000)
    assert rig.app.engine.stop_reason == "reservoir empty"
    events = rig.kinds()
    assert ("alarm_raised", "reservoir_empty") in events
    assert ("alarm_cleared", "reservoir_low") in events  # empty replaces low
    assert rig.buzzer.playing in PATTERNS[HIGH]
    rig.app.command({"cmd": "new_reservoir", "units": 100})
    rig.run(1_000)
    assert rig.app.alarms.active() == ["reservoir_empty"]  # latched until acknowledged
    rig.app.acknowledge("reservoir_empty")
    rig.app.command({"cmd": "resume"})
    rig.run(1_000)
    assert rig.app.alarms.active() == []


# ----- battery ------------------------------------------------------------------------

def test_a_noisy_battery_near_a_threshold_does_not_flap():
    rig = Rig(battery_mv=3_500, noise_mv=150)  # sim board: low 3500 mV, critical 3300
    rig.run(6 * MS_PER_HOUR, every=5_000)
    raised = [k for k in rig.kinds() if k[0] in ("alarm_raised", "alarm_cleared")]
    assert len(raised) <= 1
    assert rig.battery.reads >= 6 * 360 - 1


def test_battery_draining_goes_low_then_critical_and_recovers_with_hysteresis():
    rig = Rig(battery_mv=3_900, noise_mv=30)
    seen = []
    for mv in range(3_900, 3_200, -10):
        rig.battery.mv = mv
        rig.run(60_000, every=10_000)
        seen += [k for k in rig.kinds() if k[0] == "alarm_raised"]
    assert seen == [("alarm_raised", "battery_low"), ("alarm_raised", "battery_critical")]
    assert rig.buzzer.playing in PATTERNS[HIGH]
    assert rig.app.engine.stop_reason is None  # critical battery warns; it does not stop
    rig.app.acknowledge("battery_critical")
    rig.battery.mv = 3_380  # above critical but inside the hysteresis band: stays
    rig.run(5 * MS_PER_MIN, every=10_000)
    assert "battery_critical" in rig.app.alarms.active()
    rig.battery.mv = 4_100
    rig.run(10 * MS_PER_MIN, every=10_000)
    assert rig.app.alarms.active() == []


def test_a_failing_or_absent_battery_is_harmless():
    rig = Rig(battery_mv=3_900)
    rig.battery.failing = True
    rig.run(MS_PER_MIN)
    assert rig.app.alarms.active() == []
    rig.battery.failing = False
    rig.battery.mv = -5  # a nonsense reading is skipped, not a crash
    rig.battery.noise_mv = 0
    rig.run(MS_PER_MIN)
    assert rig.app.monitor.battery.filtered_mv == 3_900


@pytest.mark.parametrize("readings, level", [
    ([3_400] * 4, 0),  # four readings: not yet confirmed
    ([3_400] * 150, 1),
    ([3_100] * 150, 2),
    ([3_100] * 150 + [3_350] * 150, 2),  # inside the critical band + hysteresis: stays
    ([3_100] * 150 + [3_450] * 150, 1),
    ([3_100] * 150 + [3_650] * 150, 0),
])
def test_battery_levels_need_confirmation_and_hysteresis(readings, level):
    monitor = BatteryMonitor(4_200, 3_500, 3_300)
    monitor.update(3_900)
    for mv in readings:
        monitor.update(mv)
    assert monitor.level == level


@pytest.mark.parametrize("value", [None, 3.9, "3900", -1, True])
def test_battery_readings_of_the_wrong_type_or_range_are_refused(value):
    with pytest.raises(InvalidValue, match="battery millivolts"):
        BatteryMonitor(4_200, 3_500, 3_300).update(value)


def test_battery_levels_must_be_ordered():
    with pytest.raises(ConfigError):
        BatteryMonitor(4_200, 3_200, 3_300)


# ----- auto-off, suspend reminder, site change, glucose check --------------------------

def test_auto_off_suspends_with_an_alarm_after_hours_without_a_button_press():
    rig = Rig({"auto_off_h": 5})
    for _ in range(3):  # pressing a button keeps it running
        rig.run(4 * MS_PER_HOUR, every=60_000)
        rig.app.button_pressed()
    assert rig.app.engine.stop_reason is None
    rig.run(5 * MS_PER_HOUR, every=60_000)
    assert rig.app.engine.stop_reason == "auto off"
    assert rig.app.alarms.active() == ["auto_off"]
    with pytest.raises(NotAllowedNow, match="auto_off"):
        rig.app.command({"cmd": "resume"})
    rig.app.acknowledge("auto_off")  # the press that acknowledges also clears the cause
    assert rig.app.alarms.active() == []
    rig.app.command({"cmd": "resume"})
    rig.run(MS_PER_HOUR, every=60_000)
    assert rig.app.engine.stop_reason is None


def test_auto_off_off_means_never():
    rig = Rig({"auto_off_h": 0})
    rig.run(48 * MS_PER_HOUR, every=10 * 60_000)
    assert rig.app.engine.stop_reason is None


def test_suspended_too_long_reminds_and_resume_clears_it():
    rig = Rig({"suspend_reminder_min": 30})
    rig.app.command({"cmd": "suspend"})
    rig.run(29 * MS_PER_MIN, every=60_000)
    assert rig.app.alarms.active() == []
    rig.run(2 * MS_PER_MIN, every=60_000)
    assert rig.app.alarms.active() == ["suspended_too_long"]
    rig.app.command({"cmd": "resume"})
    rig.run(1_000)
    assert rig.app.alarms.active() == []


def test_site_change_reminder_every_few_days():
    rig = Rig({"site_change_days": 3})
    rig.run(3 * 24 * MS_PER_HOUR - MS_PER_MIN, every=10 * 60_000)
    assert rig.app.alarms.active() == []
    rig.run(10 * MS_PER_MIN, every=60_000)
    assert rig.app.alarms.active() == ["site_change"]
    assert rig.buzzer.playing is PATTERNS[LOW][0]
    rig.app.site_changed()
    assert rig.app.alarms.active() == []


def test_glucose_check_reminder_only_without_a_cgm():
    rig = Rig({"glucose_check_min": 240})
    for _ in range(3 * 12 * 6):  # 18 h of CGM readings every 5 min: no reminder
        rig.run(5 * MS_PER_MIN, every=60_000)
        rig.app.glucose(120)
    assert rig.app.alarms.active() == []
    rig.run(4 * MS_PER_HOUR + MS_PER_MIN, every=60_000)  # the CGM went quiet
    assert rig.app.alarms.active() == ["glucose_check"]
    rig.app.glucose(140, from_cgm=False)  # a fingerstick
    assert rig.app.alarms.active() == []


# ----- possible infusion-set failure ----------------------------------------------------

def _cgm(rig, values, every_min=5):
    for value in values:
        rig.run(every_min * MS_PER_MIN, every=60_000)
        rig.app.glucose(value)


@pytest.mark.parametrize("after_bolus, alarm", [
    ([300] * 30, True),  # flat at 300 for 2.5 h
    ([300 + i for i in range(30)], True),  # rising
    ([300 - 3 * i for i in range(30)], False),  # falling as it should: 300 -> 213
    ([300 - i for i in range(30)], True),  # falling, but above 250 for 2 h: 300 -> 271
    ([300] * 22 + [250] + [300] * 7, False),  # back to 250 once: the watch ends
    ([240] * 30, False),  # flat but not above 250
])
def test_high_for_two_hours_after_a_correction_warns(after_bolus, alarm):
    rig = Rig()
    _cgm(rig, [300] * 6)
    rig.app.command({"cmd": "bolus", "units": 2})  # a bolus while high is a correction
    _cgm(rig, after_bolus)
    raised = rig.raised()
    assert raised == (["infusion_set"] if alarm else [])
    if alarm:
        assert rig.app.alarms.banner() == ("CHECK SITE", "and ketones")


def test_no_warning_without_a_correction_bolus():
    rig = Rig()
    _cgm(rig, [320] * 40)
    assert rig.raised() == []


@pytest.mark.parametrize("value", [None, 19, 601, 120.5, "120"])
def test_glucose_readings_of_the_wrong_type_or_range_are_refused(value):
    rig = Rig()
    with pytest.raises(InvalidValue, match="glucose"):
        rig.app.glucose(value)


# ----- daily maximum --------------------------------------------------------------------

def test_reaching_the_daily_maximum_raises_a_high_alarm():
    rig = Rig(lim=limits(bolus=5_000, hour=5_000, daily=6_000))
    rig.app.command({"cmd": "bolus", "units": 5})
    rig.run(2 * MS_PER_HOUR, every=60_000)
    assert rig.app.engine.stop_reason == "limit reached: max daily insulin"
    assert rig.app.alarms.active() == ["daily_max"]
    assert rig.buzzer.playing in PATTERNS[HIGH]


# ----- the motor moves only what the gate let through --------------------------------

COMMANDS = [
    {"cmd": "bolus", "units": 3}, {"cmd": "bolus", "units": 12},
    {"cmd": "extended_bolus", "units": 4, "minutes": 30},
    {"cmd": "dual_bolus", "units": 6, "now_units": 2, "minutes": 60},
    {"cmd": "temp_basal", "rate": 1.5, "minutes": 60},
    {"cmd": "temp_basal", "rate": 2.5, "minutes": 60},
    {"cmd": "temp_basal", "percent": 180, "minutes": 30},
    {"cmd": "suspend"}, {"cmd": "resume"}, {"cmd": "cancel_bolus"},
    {"cmd": "set_profile", "name": "Day", "segments": [["00:00", 2.5]]},
    {"cmd": "set_profile", "name": "Day", "segments": [["00:00", 1.8]]},
]


@pytest.mark.parametrize("seed", range(6))
def test_the_motor_moves_only_steps_the_gate_counted(seed):
    rng = random.Random(seed)
    rig = Rig(lim=limits(daily=25_000), fill=300, tick_ms=250)
    for _ in range(60):
        try:
            rig.app.command(rng.choice(COMMANDS))
        except BasaltError:
            pass
        rig.run(rng.choice((1_000, 60_000, 15 * MS_PER_MIN)), every=rng.choice((250, 5_000)))
    if rig.app.engine.stop_reason is None:
        rig.app.command({"cmd": "suspend"})
    rig.run(2_000)  # the last moves finish
    engine = rig.app.engine
    assert engine.basal_rate_mu_h() <= 2_000
    assert rig.motor.position() == rig.app.motion.moved_steps == (engine.gate.delivered_steps
                                                           + engine.prime_steps)


def test_the_gate_reads_the_apps_own_insulin_on_board():
    """With a settings file the gate's IOB is the app's IobTracker, fed by delivery."""
    rig = Rig()  # example settings: max bolus 10 U, 15 U in 60 min, max IOB 20 U
    for _ in range(2):
        rig.app.command({"cmd": "bolus", "units": 10})
        rig.run(65 * MS_PER_MIN, every=60_000)  # out of the 60-minute window
    on_board = rig.app.iob.iob_mu(rig.clock.now_ms())
    assert 10_000 < on_board < 20_000
    with pytest.raises(LimitExceeded) as caught:
        rig.app.command({"cmd": "bolus", "units": 10})
    assert caught.value.limit == "max_iob"
    assert "max insulin on board is 20 U" in str(caught.value)
    room = bolus_room_mu(rig.app.engine, rig.clock.now_ms())
    assert 0 < room <= 20_000 - on_board


def test_new_safety_settings_apply_while_running_or_change_nothing():
    rig = Rig(fill=40)
    refused = settings_with({"reservoir_low_u": 50})
    refused.limits.max_basal_mu_h = 1_000  # the active profile reaches 1.2 U/h
    with pytest.raises(LimitExceeded, match="max basal is 1 U/h"):
        rig.app.apply_settings(refused)
    rig.run(1_000)
    assert rig.app.alarms.active() == []  # the alarm settings did not change either
    lower = settings_with({"reservoir_low_u": 50})
    lower.limits.max_bolus_mu = 2_000
    rig.app.apply_settings(lower)
    with pytest.raises(LimitExceeded, match="max bolus is 2 U"):
        rig.app.command({"cmd": "bolus", "units": 3})
    rig.run(1_000)
    assert rig.app.alarms.active() == ["reservoir_low"]  # 40 U fitted, threshold now 50 U
