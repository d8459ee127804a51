"""Insulin on board: the exponential model against docs/references.md, its integer table, and
the tracker fed from what the engine actually delivered (bounded memory, exact sums)."""


import pytest
from hypothesis import given
from hypothesis import strategies as st

from basalt.app import PumpApp
from basalt.core.board_file import load_board
from basalt.core.errors import InvalidValue
from basalt.core.insulin import (
    ONE,
    PRESETS,
    InsulinModel,
    activity_fraction,
    iob_fraction,
    preset_peak,
)
from basalt.core.iob import BUCKETS, IobTracker
from basalt.core.settings import load_settings, parse_settings_text
from boards import sim as sim_board
from tools.fakes import FakeMotor, VirtualClock, open_limits
from tools.settings.example import EXAMPLE

M = 60_000
H = 3_600_000
BOARD = load_board(sim_board.BOARD)
# docs/references.md check values, peak 75 min, duration 360 min.
CHECK = [(30, 0.9295), (60, 0.7793), (120, 0.4498), (180, 0.2082), (240, 0.0727),
         (300, 0.0139)]
MODEL = InsulinModel(75, 360)


# ----- the model ---------------------------------------------------------------------

@pytest.mark.parametrize("minute, expected", CHECK)
def test_model_matches_reference_check_values(minute, expected):
    assert abs(iob_fraction(minute, 75, 360) - expected) < 0.0001
    assert abs(MODEL.left(minute * M) / ONE - expected) < 0.0002


def test_model_edges():
    assert iob_fraction(0, 75, 360) == 1.0 and iob_fraction(360, 75, 360) == 0.0
    assert iob_fraction(-5, 75, 360) == 1.0 and iob_fraction(500, 75, 360) == 0.0
    assert MODEL.left(0) == MODEL.left(-1) == ONE
    assert MODEL.left(360 * M) == MODEL.left(360 * M - 1) // ONE == 0
    assert MODEL.left(10**9) == 0


def test_presets_are_loops():
    assert [(name, peak) for name, peak in PRESETS] == [
        ("rapid_adult", 75), ("rapid_child", 65), ("ultra_rapid", 55)]
    assert preset_peak("ultra_rapid") == 55
    with pytest.raises(InvalidValue, match="insulin type: 'nph' is not allowed"):
        preset_peak("nph")


@pytest.mark.parametrize("peak", [55, 65, 75])
@pytest.mark.parametrize("duration", [300, 360, 420, 480])
def test_table_follows_the_formula_between_minutes(peak, duration):
    model = InsulinModel(peak, duration)
    for age_ms in range(0, duration * M, 7 * M + 12_345):
        exact = iob_fraction(age_ms / M, peak, duration)
        assert abs(model.left(age_ms) / ONE - exact) < 0.0002, age_ms
    previous = ONE
    for age_ms in range(0, duration * M + M, 20_000):  # never rises
        assert model.left(age_ms) <= previous
        previous = model.left(age_ms)


@pytest.mark.parametrize("peak", [35, 55, 65, 75, 120])
@pytest.mark.parametrize("duration", [300, 330, 360, 390, 420, 450, 480, 301, 479])
def test_table_is_the_formula_rounded_minute_by_minute(peak, duration):
    """The table is built in steps (few floats: each is a heap object on MicroPython);
    its values are the formula's, rounded, at every minute (every peak and duration
    allowed was compared once: 15,566 models, no entry differs)."""
    table = list(InsulinModel(peak, duration).table)
    assert len(table) == duration + 2 and table[duration:] == [0, 0]
    assert table[:duration] == [int(iob_fraction(m, peak, duration) * ONE + 0.5)
                                for m in range(duration)]


def test_activity_is_the_slope_of_iob():
    for minute in (10, 75, 200, 350):
        slope = (iob_fraction(minute - 0.01, 75, 360) - iob_fraction(minute + 0.01, 75, 360)) / 0.02
        assert abs(activity_fraction(minute, 75, 360) - slope) < 1e-6
    peak_activity = max(activity_fraction(m, 75, 360) for m in range(360))
    assert abs(activity_fraction(75, 75, 360) - peak_activity) < 1e-9  # the peak is at 75


@pytest.mark.parametrize("peak, duration, field", [(75, 299, "insulin duration"),
                                                   (75, 481, "insulin duration"),
                                                   (34, 360, "insulin peak"),
                                                   (121, 360, "insulin peak"),
                                                   (75.0, 360, "insulin peak")])
def test_model_refuses_out_of_range(peak, duration, field):
    with pytest.raises(InvalidValue, match=field):
        InsulinModel(peak, duration)


# ----- the tracker -----------------------------------------------------------------------

def test_one_bolus_follows_the_curve_and_ends_at_the_duration():
    iob = IobTracker(MODEL)
    iob.add_bolus(10 * M + 5_000, 4_000)  # counted from 10:00 (its minute's start)
    assert iob.bolus_iob_mu(10 * M) == 4_000
    for minute, expected in CHECK:
        assert iob.bolus_iob_mu((10 + minute) * M) == 4_000 * MODEL.left(minute * M) // ONE
        assert abs(iob.bolus_iob_mu((10 + minute) * M) - 4_000 * expected) <= 1
    assert iob.bolus_iob_mu((10 + 360) * M) == 0
    assert iob.iob_mu((10 + 360) * M) == 0


def test_activity_of_a_bolus_follows_the_model():
    iob = IobTracker(MODEL)
    iob.add_bolus(0, 10_000)
    assert iob.activity_mu_h(0) == 10_000 * (ONE - MODEL.table[1]) * 60 // ONE
    for minute in (30, 75, 200):
        expected = 10_000 * activity_fraction(minute + 0.5, 75, 360) * 60  # mU/h
        # the table keeps 1/16384ths, so a minute's decay is good to about 1 %
        assert abs(iob.activity_mu_h(minute * M + 30_000) - expected) < 10 + expected / 100
    assert iob.activity_mu_h(360 * M) == 0


def test_net_iob_counts_basal_against_the_schedule():
    iob = IobTracker(MODEL)
    iob.add_bolus(0, 2_000)
    iob.add_basal(M, 0, 100)  # suspended: 0.1 U missed
    iob.add_basal(2 * M, 150, 50)  # high temp: 0.1 U extra
    iob.add_basal(3 * M, 50, 200)  # low temp: 0.15 U missed
    now = 3 * M
    assert iob.bolus_iob_mu(now) == 2_000 * MODEL.left(now) // ONE
    expected = (2_000 * MODEL.left(now) - 100 * MODEL.left(2 * M) + 100 * MODEL.left(M)
                - 150 * ONE)
    assert iob.iob_mu(now) - iob.bolus_iob_mu(now) in (
        expected // ONE - 2_000 * MODEL.left(now) // ONE,
        expected // ONE - 2_000 * MODEL.left(now) // ONE + 1)


def test_memory_is_bounded_and_old_insulin_is_dropped():
    iob = IobTracker(InsulinModel(75, 480))
    for minute in range(48 * 60):  # 48 h of a bolus every minute
        iob.add_bolus(minute * M, 10)
    assert len(iob._bolus) == len(iob._net) == BUCKETS
    now = 48 * H
    expected = sum(10 * iob.model.left(age * M) for age in range(1, 481))
    assert iob.bolus_iob_mu(now) == expected // ONE
    iob.add_bolus(now - 481 * M, 5_000)  # older than any duration: no effect left
    assert iob.bolus_iob_mu(now) == expected // ONE


def test_a_late_reconciled_bolus_counts_from_when_it_was_delivered():
    iob = IobTracker(MODEL)
    iob.add_bolus(100 * M, 1_000)
    iob.add_bolus(40 * M, 3_000)  # reported late by the journal
    assert iob.bolus_iob_mu(100 * M) == (1_000 * ONE + 3_000 * MODEL.left(60 * M)) // ONE


def test_a_new_model_keeps_the_history():
    iob = IobTracker(MODEL)
    iob.add_bolus(0, 5_000)
    iob.set_model(InsulinModel(55, 300))
    assert iob.bolus_iob_mu(60 * M) == 5_000 * InsulinModel(55, 300).left(60 * M) // ONE


def test_large_amounts_in_one_minute_stay_exact():
    iob = IobTracker(MODEL)
    for _ in range(4):
        iob.add_bolus(1_000, 25_000)  # e.g. late reconciled boluses landing together
    iob.add_basal(2_000, 0, 30_000)
    assert iob.bolus_iob_mu(0) == 100_000
    for minute in (0, 1, 59, 61, 200):
        now = minute * M + 12_345
        assert iob.bolus_iob_mu(now) == 100_000 * MODEL.left(now) // ONE
        assert iob.iob_mu(now) == 70_000 * MODEL.left(now) // ONE
    with pytest.raises(InvalidValue, match="insulin amount: 1000001 is not allowed"):
        iob.add_bolus(0, 1_000_001)
    with pytest.raises(InvalidValue, match="insulin amount: -1000001 is not allowed"):
        iob.add_basal(0, 0, 1_000_001)


deliveries = st.lists(st.tuples(st.integers(0, 20 * H), st.integers(1, 25_000)), max_size=12,
                      unique_by=lambda dose: dose[0] // M)  # one pump cannot do 65 U a minute


@given(deliveries, st.lists(st.integers(0, 30 * H), min_size=1, max_size=20),
       st.sampled_from([300, 360, 480]))
def test_bolus_iob_never_rises_without_a_delivery_never_negative_and_ends(doses, times,
                                                                          duration):
    model = InsulinModel(75, duration)
    iob = IobTracker(model)
    doses.sort()
    for at, amount in doses:
        iob.add_bolus(at, amount)
    last = doses[-1][0] if doses else 0
    after = [t for t in sorted(times) if t >= last]
    previous = None
    for t in after:
        value = iob.bolus_iob_mu(t)
        assert value >= 0
        if previous is not None:
            assert value <= previous
        previous = value
    assert iob.bolus_iob_mu(last + duration * M) == 0
    # against an oracle that sums every dose on its own, with the float formula
    for t in after:
        exact = sum(a * iob_fraction((t - at // M * M) / M, 75, duration) for at, a in doses
                    if t - at < 480 * M)
        assert abs(iob.bolus_iob_mu(t) - exact) <= 1 + sum(a for _, a in doses) * 0.0002


# ----- fed from the engine, through the app -------------------------------------------

def make_app(settings=None, tick_ms=250):
    clock = VirtualClock()
    app = PumpApp(BOARD, clock, FakeMotor(clock, BOARD.motor.max_step_hz), tick_ms=tick_ms,
                  settings=settings, limits=None if settings is not None else open_limits())
    return app, clock


def run(app, clock, ms):
    end = clock.now_ms() + ms
    while clock.now_ms() < end:
        clock.advance(min(app.tick_ms, end - clock.now_ms()))
        app.step()


SETTINGS = load_settings(parse_settings_text(EXAMPLE))[0]


def test_settings_configure_the_engine_and_the_curve():
    app, _ = make_app(SETTINGS)
    engine = app.engine
    assert engine.profiles.active == "Weekday"
    assert sorted(engine.profiles.profiles) == ["Weekday", "Weekend"]
    assert engine.profiles.current().segments() == (
        SETTINGS.basal_profiles.current().segments())
    assert engine.bolus_speed_mu_min == 1_500
    assert (app.iob.model.peak_min, app.iob.model.duration_min) == (75, 360)


@pytest.mark.parametrize("tick_ms", [250, 1_000, 60_000])
def test_iob_comes_from_what_was_delivered(tick_ms):
    app, clock = make_app(SETTINGS, tick_ms)
    for cmd in ({"cmd": "new_reservoir", "units": 200}, {"cmd": "resume"}):
        app.command(cmd)
    run(app, clock, 2 * H)
    # basal as scheduled: net basal IOB stays within a few mU of zero
    assert abs(app.iob.iob_mu(clock.now_ms())) <= 3
    app.command({"cmd": "bolus", "units": 3})
    run(app, clock, 5 * M)  # 2 min at 1.5 U/min, then 3 more
    delivered = BOARD.mu_for_usteps(app.engine.bolus_steps)
    assert 2_990 <= delivered <= 3_000
    now = clock.now_ms()
    bolus = app.iob.bolus_iob_mu(now)
    assert delivered * MODEL.left(5 * M) // ONE <= bolus <= delivered * MODEL.left(2 * M) // ONE
    app.command({"cmd": "suspend"})
    run(app, clock, H)
    now = clock.now_ms()
    # an hour of missed basal (0.8 U/h at 02:05-03:05 on Weekday) is negative IOB:
    # the sum of -0.8/60 U a minute, each decayed by its age (+-1 minute of bucketing)
    missed = sum(-800 * MODEL.left(age * M) for age in range(60)) // 60 // ONE
    assert abs(app.iob.iob_mu(now) - app.iob.bolus_iob_mu(now) - missed) <= 15
    assert -800 < missed < -700
    run(app, clock, 8 * H)
    assert app.iob.bolus_iob_mu(clock.now_ms()) == 0


def test_prime_is_not_insulin_on_board():
    app, clock = make_app(SETTINGS)
    app.command({"cmd": "new_reservoir", "units": 200})
    app.command({"cmd": "prime", "units": 10})
    run(app, clock, 2 * M)
    assert app.engine.prime_steps > 0
    assert app.iob.bolus_iob_mu(clock.now_ms()) == 0
    assert app.iob.activity_mu_h(clock.now_ms()) <= 0  # only missed basal while suspended
