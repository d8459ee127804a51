"""The closed loop's decisions: table tests of every branch, safety properties over any
input, the settings section, and the loop composed in the app."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basalt.core import command_parse, loop
from basalt.core.errors import ConfigError, InvalidValue
from basalt.core.insulin import InsulinModel
from basalt.core.iob import IobTracker
from basalt.core.settings import load_settings, parse_settings_text
from tools.settings.example import EXAMPLE

M = 60_000
H = 3_600_000
THERAPY = (50, 10_000, 110)  # sensitivity 50 mg/dL/U, carb ratio 10 g/U, target 110


class FlatIob:
    """Insulin on board that never decays: no insulin effect in the prediction."""

    def __init__(self, mu=0):
        self.mu = mu

    def iob_mu(self, now_ms):
        return self.mu

    def activity_mu_h(self, now_ms):
        return 0


def state(scheduled=1_000, highest=1_200, temp=None, max_basal=5_000, max_iob=10_000):
    s = loop.PumpState()
    s.scheduled_mu_h = scheduled
    s.highest_mu_h = highest
    s.max_basal_mu_h = max_basal
    s.max_iob_mu = max_iob
    s.temp_mu_h = temp
    s.temp_left_min = 20 if temp is not None else 0
    return s


def make(mode="closed", auto_bolus=True, **kw):
    return loop.Loop(loop.LoopSettings(mode, 80, auto_bolus, 40, 30, 180, **kw))


def decide(lp, glucose, trend=0, iob=None, st_=None, now=10 * H, therapy=THERAPY):
    cgm = None if glucose is None else (glucose * 1000, trend, None)
    return lp.decide(now, therapy, cgm, "CGM reading is 16 min old (limit 15 min)",
                     iob or FlatIob(), st_ or state())


def test_max_temp_is_the_oref0_rule():
    assert loop.max_temp_mu_h(state(1_000, 1_200, max_basal=5_000)) == 3_600  # 3 x highest
    assert loop.max_temp_mu_h(state(500, 1_200, max_basal=5_000)) == 2_000  # 4 x current
    assert loop.max_temp_mu_h(state(1_000, 1_200, max_basal=2_500)) == 2_500  # max basal


def test_off_mode_leaves_the_pump_alone():
    d = decide(make("off"), 300, 3_000)
    assert d.action == "none" and d.bolus_mu == 0 and "pump therapy" in d.reason


def test_stopped_pump_waits():
    s = state()
    s.delivering, s.stop_reason = False, "suspended"
    d = decide(make(), 300, 0, st_=s)
    assert d.action == "none" and "suspended" in d.reason


@pytest.mark.parametrize("temp, action, words", [
    (3_000, "cancel", "high temp cancelled"),
    (0, "keep", "low temp ends in 20 min"),
    (None, "keep", "scheduled basal"),
])
def test_no_usable_cgm_falls_back_and_never_raises_insulin(temp, action, words):
    d = decide(make(), None, st_=state(temp=temp))
    assert d.action == action and d.bolus_mu == 0 and words in d.reason
    assert "16 min old" in d.reason


def test_glucose_below_threshold_suspends():
    d = decide(make(), 75)
    assert (d.action, d.rate_mu_h, d.minutes) == ("temp", 0, 30)
    assert "below the suspend threshold 80" in d.reason


def test_predicted_low_suspends_before_it_happens():
    d = decide(make(), 120, trend=-2_000)  # falling 2 mg/dL/min
    assert d.action == "temp" and d.rate_mu_h == 0 and d.lowest < 80
    assert d.reason.startswith("predicted")


def test_insulin_on_board_predicts_the_low():
    d = decide(make(), 130, iob=_real_iob(3_000))  # 3 U just given, sensitivity 50
    assert d.rate_mu_h == 0 and d.eventual < 0 + 130 - 100


def test_suspend_only_never_raises_insulin():
    d = decide(make("suspend_only"), 300, trend=3_000, st_=state(temp=0))
    assert d.action == "cancel" and d.bolus_mu == 0 and "scheduled basal" in d.reason


def test_high_glucose_gets_a_high_temp_and_no_bolus():
    d = decide(make(), 200)
    assert d.need_mu == (200 - 110) * 1000 // 50 and not d.uam
    assert d.bolus_mu == 0 and d.rate_mu_h == 3_600  # 1 + 2 x 1.8 U/h, the max temp


def test_an_unannounced_rise_gets_a_fraction_as_bolus():
    d = decide(make(), 200, trend=1_000)  # 1 mg/dL/min, nothing on record explains it
    # The rise fades over 180 min: +90 mg/dL eventually, and the dose aims from there.
    assert d.uam and d.eventual == 200 + 90 and d.basis == d.eventual
    assert d.bolus_mu == 500  # 40 % of 3.6 U, capped at 30 min of 1 U/h basal
    assert d.rate_mu_h == 3_600 and d.minutes == 30 and "automatic bolus 0.5 U" in d.reason


def test_a_rise_below_target_is_an_unannounced_meal_too():
    d = decide(make(), 90, trend=800)  # 0.8 mg/dL/min: +72 mg/dL over 180 min
    assert d.uam and d.eventual == 90 + 72 and d.bolus_mu == 0  # temps only below 150
    assert d.action == "temp" and d.rate_mu_h == 1_000 + 2 * (162 - 110) * 1000 // 50


@pytest.mark.parametrize("glucose, iob_mu, bolus_mu", [
    (140, 0, 0),  # below 150 mg/dL: temps only
    (160, 0, 500),
    (160, 1_000, 200),  # 1 U on board: 0.2 U more brings glucose to 100, were it to stop
    (160, 1_200, 0),
])
def test_an_automatic_bolus_keeps_glucose_above_the_guard(glucose, iob_mu, bolus_mu):
    d = decide(make(), glucose, trend=3_000, iob=FlatIob(iob_mu))
    assert d.uam and d.bolus_mu == bolus_mu


def test_without_auto_bolus_only_temps():
    d = decide(make(auto_bolus=False), 140)
    assert d.bolus_mu == 0 and d.rate_mu_h == 1_000 + 2 * 600


def test_max_iob_stops_any_rise():
    weak = (5, 10_000, 110)  # 10 U on board lower glucose by only 50 mg/dL
    d = decide(make(), 300, iob=FlatIob(10_000), therapy=weak)
    assert d.action == "keep" and d.bolus_mu == 0 and "max of 10 U" in d.reason
    d = decide(make(), 300, iob=FlatIob(9_500), therapy=weak)
    assert d.need_mu == 500 and "limited to 0.5 U by max IOB" in d.reason


def test_below_target_lowers_the_basal():
    d = decide(make(), 95)
    assert d.action == "temp" and d.rate_mu_h == 1_000 - 2 * 300


def test_at_target_is_scheduled():
    d = decide(make(), 110, st_=state(temp=2_000))
    assert d.action == "cancel" and "scheduled basal" in d.reason


def test_due_every_five_minutes_or_on_a_new_reading():
    lp = make()
    assert lp.due(0, 0)
    lp.decide(0, THERAPY, (120_000, 0, None), None, FlatIob(), state(), latest_offset=0)
    assert not lp.due(4 * M, 0)
    assert lp.due(3 * M, 3)
    assert lp.due(5 * M, 0)


def test_announced_carbs_decay_linearly():
    lp = make()
    lp.add_carbs(0, 50)
    assert lp.cob_g(0) == 50 and lp.cob_g(90 * M) == 25 and lp.cob_g(180 * M) == 0


def make_with_carbs(grams=50):
    lp = make()
    lp.add_carbs(0, grams)
    return lp


def test_announced_carbs_raise_the_prediction():
    lp = make()
    lp.add_carbs(0, 50)
    d = decide(lp, 120, now=0)
    # All 50 g: 5 mg/dL per g = +250; glucose flat while the model expects a rise of
    # 250/180 mg/dL/min is a deviation that fades over an hour: -42.
    assert d.eventual == 120 + 250 - 42
    assert d.prediction[4] == 120 + 250 * 60 // 180 - 42  # one hour: a third absorbed
    # The model wants insulin, but glucose is not rising as it expects: the CGM wins.
    assert d.need_mu > 0 and d.action == "keep" and d.bolus_mu == 0
    assert "below what insulin and carbs explain: no more insulin" in d.reason
    # Falling 0.8 mg/dL/min at 160: measured against the way from eventual 344 to the
    # target in 2 h as well (1.95 mg/dL/min), and it falls 0.24 faster than that.
    d = decide(make_with_carbs(), 160, trend=-800, now=0)
    assert d.need_mu > 0 and d.action == "keep" and d.bolus_mu == 0
    assert "below the slope expected" in d.reason and "no more insulin" in d.reason
    lp = make()
    lp.add_carbs(0, 50)
    d = decide(lp, 120, trend=50_000 * 50 // 180 * 1000 // 10_000, now=0)  # as modelled
    # Temps only: the meal was announced (and bolused for), automatic boluses are for
    # rises nobody announced.
    assert d.action == "temp" and d.rate_mu_h > 1_000 and d.bolus_mu == 0


@pytest.mark.parametrize("glucose, trend, temp, action, words", [
    # High, and the model wants more insulin, but glucose falls faster than it explains.
    # (Expected: what insulin and carbs explain, plus eventual 170 to target 110 in 2 h.)
    (200, -1_000, None, "keep", "runs 2.5 mg/dL/5 min below the slope expected"),
    (200, -1_000, 3_000, "cancel", "no more insulin"),
    # Below target, but rising faster than explained: no low temp (a suspend still wins).
    # (From 0.2 mg/dL/min a rise is an unannounced meal: test_a_rise_below_target_...)
    (100, 150, None, "keep", "rises 0.75 mg/dL/5 min above what insulin and carbs explain"),
    (100, 150, 200, "cancel", "no less insulin"),
])
def test_the_cgm_overrules_the_model_direction(glucose, trend, temp, action, words):
    d = decide(make(), glucose, trend, st_=state(temp=temp))
    assert d.action == action and d.bolus_mu == 0 and words in d.reason
    assert d.deviation_milli == trend  # no insulin acting, no carbs: all of it unexplained


def test_a_predicted_low_still_suspends_while_rising_faster_than_explained():
    d = decide(make(), 79, trend=300)
    assert (d.action, d.rate_mu_h) == ("temp", 0)


def test_in_control_only_while_the_closed_loop_doses_from_glucose():
    lp = make()
    assert not lp.in_control(0)
    decide(lp, 150, now=10 * H)
    assert lp.in_control(10 * H) and lp.in_control(10 * H + 10 * M)
    assert not lp.in_control(10 * H + 11 * M)  # two periods without a decision
    decide(lp, None, now=10 * H + 15 * M)  # no usable CGM
    assert not lp.in_control(10 * H + 15 * M)
    for mode in ("suspend_only", "off"):
        other = make(mode)
        decide(other, 150, now=10 * H)
        assert not other.in_control(10 * H)


def test_a_fast_rise_uses_up_carbs_instead_of_being_chased():
    lp = make()
    lp.add_carbs(0, 30)
    decide(lp, 120, now=0)
    d = decide(lp, 150, trend=4_000, now=5 * M)
    assert d.cob_g < 30 - 30 * 5 // 180 and d.eventual <= 150 + d.cob_g * 5


def test_bad_inputs_are_refused():
    with pytest.raises(InvalidValue):
        make().add_carbs(0, 0)
    with pytest.raises(InvalidValue):
        make().set_mode("auto")
    with pytest.raises(InvalidValue, match="loop_mode mode"):
        command_parse.validate({"cmd": "loop_mode", "mode": "on"})
    with pytest.raises(InvalidValue, match="carbs"):
        command_parse.validate({"cmd": "carbs", "grams": 12.5})
    with pytest.raises(InvalidValue):
        command_parse.validate({"cmd": "carbs", "grams": 10, "extra": 1})


@given(glucose=st.integers(40, 400), trend=st.integers(-6_000, 6_000),
       iob=st.integers(-3_000, 15_000), scheduled=st.integers(50, 3_000),
       temp=st.one_of(st.none(), st.integers(0, 6_000)),
       mode=st.sampled_from(loop.MODES), carbs=st.integers(0, 120))
def test_no_decision_is_unsafe(glucose, trend, iob, scheduled, temp, mode, carbs):
    lp = make(mode)
    if carbs:
        lp.add_carbs(10 * H - 20 * M, carbs)
    s = state(scheduled, max(scheduled, 1_200), temp)
    d = decide(lp, glucose, trend, FlatIob(iob), s)
    assert d.reason
    assert d.bolus_mu >= 0 and d.bolus_mu % 10 == 0
    if d.action == "temp":
        assert d.minutes == 30 and 0 <= d.rate_mu_h <= loop.max_temp_mu_h(s)
    if mode == "off":
        assert d.action == "none"
    if mode != "closed" or glucose < 80 or d.lowest < 80:
        assert d.bolus_mu == 0
        assert d.action != "temp" or d.rate_mu_h == 0
    if mode != "off" and (glucose < 80 or d.lowest < 80):
        assert (d.action, d.rate_mu_h) == ("temp", 0)
    if iob >= 10_000 and mode != "off":
        assert d.bolus_mu == 0 and (d.action != "temp" or d.rate_mu_h <= scheduled)
    if d.bolus_mu:
        assert d.bolus_mu <= d.need_mu * 40 // 100 and d.bolus_mu <= scheduled * 30 // 60
    # Glucose below the slope expected (what the model explains, plus the way from the
    # eventual glucose to the target in 2 h), or flat and below what the model explains:
    # never more insulin; rising above what the model explains: never less.
    off = None if d.eventual is None else (
        d.deviation_milli - (THERAPY[2] - d.eventual) * 1000 // loop.EXPECT_MIN)
    if (off is not None and off < 0) or (d.deviation_milli < 0
                                        and trend > -loop.UAM_MIN_TREND):
        assert d.bolus_mu == 0 and (d.action != "temp" or d.rate_mu_h <= scheduled)
    if d.deviation_milli > 0 and trend > 0 and glucose >= 80 and d.lowest >= 80:
        assert d.action != "temp" or d.rate_mu_h >= scheduled  # and never less


def _real_iob(bolus_mu):
    tracker = IobTracker(InsulinModel(75, 360))
    tracker.add_bolus(10 * H, bolus_mu)
    return tracker


# ----- settings ---------------------------------------------------------------------------


def test_settings_loop_section_defaults_and_values():
    obj = parse_settings_text(EXAMPLE)
    obj.pop("loop", None)
    settings = load_settings(obj)[0]
    assert settings.loop.mode == "off" and settings.loop.suspend_mg_dl == 80
    obj["loop"] = {"mode": "closed", "suspend_threshold_mg_dl": 75, "auto_bolus": True,
                   "auto_bolus_percent": 30, "auto_bolus_max_min": 45,
                   "carb_absorption_min": 150}
    got = load_settings(obj)[0].loop
    assert (got.mode, got.suspend_mg_dl, got.auto_bolus, got.auto_bolus_percent,
            got.auto_bolus_max_min, got.absorption_min) == ("closed", 75, True, 30, 45, 150)


@pytest.mark.parametrize("key, value, words", [
    ("mode", "auto", "loop.mode"),
    ("suspend_threshold_mg_dl", 60, "loop.suspend_threshold_mg_dl: 60"),
    ("auto_bolus", 1, "loop.auto_bolus"),
    ("auto_bolus_percent", 90, "10 to 80"),
    ("auto_bolus_max_min", -1, "loop.auto_bolus_max_min"),
    ("carb_absorption_min", 30, "60 to 360"),
    ("bogus", 1, "unknown key"),
])
def test_settings_loop_section_refuses_bad_values(key, value, words):
    obj = parse_settings_text(EXAMPLE)
    obj["loop"] = {key: value}
    with pytest.raises(ConfigError, match=words):
        load_settings(obj)


# ----- the loop in the app ----------------------------------------------------------------


def app_with_loop(mode="closed"):
    from basalt.app import PumpApp
    from basalt.core.readings import ReadingStore
    from tools.fakes import FakeMotor, VirtualClock
    from tools.sim import load_sim_board

    obj = parse_settings_text(EXAMPLE)
    obj["loop"] = {"mode": mode, "auto_bolus": True}
    settings = load_settings(obj)[0]
    board = load_sim_board()
    clock = VirtualClock()
    app = PumpApp(board, clock, FakeMotor(clock, board.motor.max_step_hz), tick_ms=1_000,
                  settings=settings)
    app.command({"cmd": "new_reservoir", "units": 200})
    app.command({"cmd": "resume"})
    app.cgm = ReadingStore(clock.now_ms())
    return app, clock


def feed(app, clock, values, every_min=5):
    from basalt.core import cgms, cgms_sensor

    for value in values:
        offset = clock.now_ms() // M
        record = cgms.decode_measurements(bytes(cgms_sensor.encode_record(
            cgms_sensor.sfloat_from_milli(value * 1000), offset, crc=True)), True)[0]
        app.cgm.add(clock.now_ms(), record)
        for _ in range(every_min * 60):
            app.step()
            clock.advance(1_000)


def loop_events(app):
    return [d for kind, d in app.pop_events() if kind == "loop_decision"]


def test_app_loop_raises_then_suspends_through_the_engine():
    app, clock = app_with_loop()
    feed(app, clock, [250, 252, 255, 256, 258, 260])
    decisions = loop_events(app)
    assert decisions and decisions[-1]["action"] == "temp"
    rate, percent, left = app.engine.temp_basal()
    assert rate > app.engine.profiles.current().rate_at(app.engine.day_ms()) and left <= 30
    assert app.engine.bolus_steps > 0  # automatic boluses
    feed(app, clock, [150, 120, 95, 75, 70, 68])
    assert app.engine.temp_basal()[0] == 0
    assert "suspend threshold" in loop_events(app)[-1]["reason"]


def test_app_loop_falls_back_when_the_cgm_stops():
    app, clock = app_with_loop()
    feed(app, clock, [250, 252, 255, 256, 258, 260])
    assert app.engine.temp_basal()[0] > 1_500
    for _ in range(20 * 60):
        app.step()
        clock.advance(1_000)
    assert app.engine.temp_basal() is None  # high temp cancelled at 15 min
    assert "old" in loop_events(app)[-1]["reason"]


def test_app_loop_commands():
    app, clock = app_with_loop("off")
    assert app.command({"cmd": "loop_mode", "mode": "suspend_only"}) == "suspend_only"
    assert app.loop.mode == "suspend_only"
    app.command({"cmd": "carbs", "grams": 40})
    assert app.loop.cob_g(clock.now_ms()) == 40
    with pytest.raises(InvalidValue):
        app.command({"cmd": "loop_mode", "mode": "auto"})
    assert app.loop.mode == "suspend_only"
    assert [k for k, _ in app.pop_events()][-2:] == ["loop_mode", "carbs"]


def test_app_calculator_leaves_highs_to_the_loop_while_it_is_in_control():
    app, clock = app_with_loop()
    feed(app, clock, [250, 250, 250])
    cgm = (250, app.cgm.latest_reading(clock.now_ms()).at_ms)
    looping = app.suggest_bolus(60, cgm=cgm)
    assert looping["looping"] and looping["correction_mu"] == 0
    assert looping["suggested_mu"] <= looping["meal_mu"]
    app.command({"cmd": "loop_mode", "mode": "off"})
    plain = app.suggest_bolus(60, cgm=cgm)
    assert not plain["looping"] and plain["correction_mu"] > 0
