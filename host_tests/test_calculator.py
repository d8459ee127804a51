"""The bolus calculator: hand-computed suggestions, properties, and every bad input
refused with a clear error and no dose."""

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basalt.app import PumpApp
from basalt.core import commands
from basalt.core.board_file import load_board
from basalt.core.calculator import DeliveryUncertain, GlucoseTooOld, confirm, suggest
from basalt.core.errors import InvalidValue, NotAllowedNow
from basalt.core.limits import CARBS_MAX_G
from basalt.core.settings import load_settings, parse_settings_text
from boards import sim as sim_board
from tools.fakes import FakeMotor, VirtualClock
from tools.settings.example import EXAMPLE

M = 60_000
H = 3_600_000
NOW = 50 * H
BASE = parse_settings_text(EXAMPLE)
# The example: carb ratio 10 g/U (00:00), 12 (11:00), 9.5 (17:00); sensitivity 50 (00:00),
# 45 (06:00); target 100-120 (00:00), 110-140 (22:00); increment 0.05 U; max bolus 10 U;
# max IOB 20 U; minimum glucose 70; reverse correction off.
SETTINGS = load_settings(BASE)[0]


def settings_with(**bolus):
    obj = copy.deepcopy(BASE)
    obj["bolus"].update(bolus)
    return load_settings(obj)[0]


REVERSE = settings_with(reverse_correction=True)


class FixedIob:
    """A stand-in for the tracker: fixed bolus and net IOB (what the calculator reads)."""

    def __init__(self, bolus_mu=0, net_mu=None):
        self.bolus = bolus_mu
        self.net = bolus_mu if net_mu is None else net_mu

    def bolus_iob_mu(self, now_ms):
        return self.bolus

    def iob_mu(self, now_ms):
        return self.net


def at(clock):
    hours, minutes = clock.split(":")
    return (int(hours) * 60 + int(minutes)) * M


# (id, time, carbs, glucose, bolus IOB, net IOB, meal, correction, from correction,
#  from meal, suggested, capped_by) -- worked by hand from the example settings.
CASES = [
    ("meal-only-no-glucose", "08:00", 60, None, 0, 0, 6_000, 0, 0, 0, 6_000, None),
    ("meal-and-correction", "08:00", 60, 210, 0, 0, 6_000, 2_000, 0, 0, 8_000, None),
    # (210 - 120) / 45 = 2 U; 1.5 U on board comes off the correction only
    ("iob-from-correction", "08:00", 60, 210, 1_500, 1_500, 6_000, 2_000, 1_500, 0, 6_500,
     None),
    # 3 U on board: 2 U off the correction, the other 1 U off the meal
    ("iob-spills-to-meal", "08:00", 60, 210, 3_000, 3_000, 6_000, 2_000, 2_000, 1_000, 5_000,
     None),
    ("in-range-iob-off-meal", "08:00", 60, 110, 1_000, 1_000, 6_000, 0, 0, 1_000, 5_000, None),
    ("lunch-ratio", "12:00", 45, 110, 0, 0, 3_750, 0, 0, 0, 3_750, None),
    # 47 / 12 = 3.9166 U, rounded down to 0.05 U
    ("rounded-down", "12:00", 47, 110, 0, 0, 3_916, 0, 0, 0, 3_900, None),
    ("capped-at-max-bolus", "08:00", 130, 300, 0, 0, 13_000, 4_000, 0, 0, 10_000,
     "max_bolus"),
    ("correction-only", "08:00", 0, 150, 0, 0, 0, 666, 0, 0, 650, None),
    ("iob-covers-all", "08:00", 20, 150, 5_000, 5_000, 2_000, 666, 666, 2_000, 0, None),
    # 15 U net on board (basal included), max IOB 20 U: room for 5 U
    ("capped-by-max-iob", "08:00", 60, 110, 0, 15_000, 6_000, 0, 0, 0, 5_000, "max_iob"),
    ("negative-net-iob-ignored", "08:00", 60, 110, 0, -500, 6_000, 0, 0, 0, 6_000, None),
    # 23:00: ratio 9.5, target 110-140, sensitivity 45: 2 + (200 - 140) / 45 = 3.333 U
    ("late-evening", "23:00", 19, 200, 0, 0, 2_000, 1_333, 0, 0, 3_300, None),
    ("below-low-target-no-reverse", "08:00", 60, 90, 0, 0, 6_000, 0, 0, 0, 6_000, None),
    ("at-high-target-no-correction", "08:00", 60, 120, 0, 0, 6_000, 0, 0, 0, 6_000, None),
    ("midnight-sensitivity-50", "05:59", 0, 220, 0, 0, 0, 2_000, 0, 0, 2_000, None),
    ("max-carbs", "08:00", 300, None, 0, 0, 30_000, 0, 0, 0, 10_000, "max_bolus"),
]


@pytest.mark.parametrize("clock, carbs, glucose, bolus_iob, net_iob, meal, correction, "
                         "from_correction, from_meal, suggested, capped",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hand_computed_suggestions(clock, carbs, glucose, bolus_iob, net_iob, meal, correction,
                                   from_correction, from_meal, suggested, capped):
    out = suggest(SETTINGS, FixedIob(bolus_iob, net_iob), NOW, at(clock), carbs, glucose)
    assert (out["meal_mu"], out["correction_mu"], out["iob_from_correction_mu"],
            out["iob_from_meal_mu"], out["suggested_mu"], out["capped_by"]) == (
        meal, correction, from_correction, from_meal, suggested, capped)
    assert out["glucose_source"] == (None if glucose is None else "typed")
    if capped:
        assert any("capped" in reason for reason in out["reasons"])


def test_reverse_correction_lowers_the_meal_bolus():
    # (82 - 100) / 45 = -0.4 U off 6 U of meal
    out = suggest(REVERSE, FixedIob(), NOW, at("08:00"), 60, 82)
    assert (out["correction_mu"], out["calculated_mu"], out["suggested_mu"]) == (-400, 5_600,
                                                                                5_600)
    out = suggest(REVERSE, FixedIob(), NOW, at("08:00"), 2, 72)  # never below zero
    assert (out["correction_mu"], out["suggested_mu"]) == (-622, 0)


@pytest.mark.parametrize("glucose", [20, 69])
def test_below_minimum_glucose_suggests_nothing_and_says_so(glucose):
    out = suggest(SETTINGS, FixedIob(), NOW, at("08:00"), 80, glucose)
    assert out["suggested_mu"] == 0 and out["meal_mu"] == 0
    assert out["reasons"] == ["glucose %d mg/dL is below 70 mg/dL: no insulin suggested; "
                              "treat the low first" % glucose]
    assert suggest(SETTINGS, FixedIob(), NOW, at("08:00"), 80, 70)["suggested_mu"] == 8_000


def test_breakdown_is_plain_data():
    out = suggest(SETTINGS, FixedIob(1_000), NOW, at("08:00"), 60, 210)
    assert sorted(out) == sorted([
        "carbs_g", "glucose_mg_dl", "glucose_source", "carb_ratio_mg_per_u",
        "sensitivity_mg_dl_per_u", "target_low_mg_dl", "target_high_mg_dl", "bolus_iob_mu",
        "net_iob_mu", "increment_mu", "max_bolus_mu", "capped_by", "reasons", "meal_mu",
        "correction_mu", "iob_from_correction_mu", "iob_from_meal_mu", "calculated_mu",
        "suggested_mu", "looping"])
    for key, value in out.items():
        assert value is None or isinstance(value, (int, str, list)), key
    assert out["reasons"] == ["1 U on board from boluses: 1 U taken from the correction, "
                              "0 U from the meal"]


# ----- while the closed loop is in control ---------------------------------------------

# (id, carbs, glucose, bolus IOB, net IOB, correction, from correction, from meal, suggested)
LOOPING = [
    # 210 mg/dL: the loop corrects it with temps; the bolus covers the meal only
    ("high-left-to-the-loop", 60, 210, 0, 0, 0, 0, 0, 6_000),
    # 1.5 U on board in all (1 U of it the loop's extra basal) comes off the meal
    ("net-iob-counts", 60, 110, 500, 1_500, 0, 0, 1_500, 4_500),
    ("bolus-iob-when-larger", 60, 110, 2_000, 800, 0, 0, 2_000, 4_000),
    ("negative-net-iob-ignored", 60, 110, 0, -700, 0, 0, 0, 6_000),
]


@pytest.mark.parametrize("carbs, glucose, bolus_iob, net_iob, correction, from_correction, "
                         "from_meal, suggested", [c[1:] for c in LOOPING],
                         ids=[c[0] for c in LOOPING])
def test_looping_covers_the_meal_and_leaves_highs_to_the_loop(carbs, glucose, bolus_iob, net_iob,
                                                              correction, from_correction,
                                                              from_meal, suggested):
    out = suggest(SETTINGS, FixedIob(bolus_iob, net_iob), NOW, at("08:00"), carbs, glucose,
                  looping=True)
    assert (out["correction_mu"], out["iob_from_correction_mu"], out["iob_from_meal_mu"],
            out["suggested_mu"], out["looping"]) == (correction, from_correction, from_meal,
                                                     suggested, True)


def test_looping_says_why_and_still_reverse_corrects():
    out = suggest(SETTINGS, FixedIob(0, 1_500), NOW, at("08:00"), 60, 210, looping=True)
    assert out["reasons"] == [
        "closed loop: the loop corrects 210 mg/dL with temp basals; no correction bolus",
        "1.5 U on board in all (closed loop: its extra basal counts): 0 U taken from the "
        "correction, 1.5 U from the meal"]
    assert not suggest(SETTINGS, FixedIob(), NOW, at("08:00"), 60, 210)["looping"]
    out = suggest(REVERSE, FixedIob(), NOW, at("08:00"), 60, 82, looping=True)
    assert (out["correction_mu"], out["suggested_mu"]) == (-400, 5_600)


@given(carbs=st.integers(0, 200), glucose=st.integers(70, 400),
       bolus_iob=st.integers(0, 8_000), net_iob=st.integers(-2_000, 12_000))
def test_looping_never_suggests_more_than_pump_therapy(carbs, glucose, bolus_iob, net_iob):
    iob = FixedIob(bolus_iob, net_iob)
    looping = suggest(SETTINGS, iob, NOW, at("08:00"), carbs, glucose, looping=True)
    plain = suggest(SETTINGS, iob, NOW, at("08:00"), carbs, glucose)
    assert looping["suggested_mu"] <= plain["suggested_mu"]


# ----- glucose from the CGM ------------------------------------------------------------

def test_fresh_cgm_is_used():
    out = suggest(SETTINGS, FixedIob(), NOW, at("08:00"), 0, cgm=(210, NOW - 15 * M))
    assert (out["glucose_mg_dl"], out["glucose_source"], out["correction_mu"]) == (210, "cgm",
                                                                                 2_000)


@pytest.mark.parametrize("age_ms", [15 * M + 1, 16 * M, 3 * H])
def test_stale_cgm_is_refused(age_ms):
    with pytest.raises(GlucoseTooOld) as info:
        suggest(SETTINGS, FixedIob(), NOW, at("08:00"), 40, cgm=(150, NOW - age_ms))
    assert isinstance(info.value, NotAllowedNow)
    assert "the CGM reading is %d min old (fresh is at most 15 min)" % (age_ms // M) in str(
        info.value)


# ----- bad input: a clear error and no suggestion ---------------------------------------

BAD = [
    ("carbs-negative", {"carbs_g": -1}, InvalidValue, "carbs: -1 is not allowed; allowed: "
     "0 to 300 g"),
    ("carbs-absurd", {"carbs_g": 301}, InvalidValue, "carbs: 301 is not allowed"),
    ("carbs-text", {"carbs_g": "lots"}, InvalidValue, "carbs: 'lots' is not allowed"),
    ("carbs-none", {"carbs_g": None}, InvalidValue, "carbs: None is not allowed"),
    ("carbs-bool", {"carbs_g": True}, InvalidValue, "carbs: True is not allowed"),
    ("carbs-fraction", {"carbs_g": 12.5}, InvalidValue, "in steps of 1 g"),
    ("carbs-nan", {"carbs_g": float("nan")}, InvalidValue, "carbs: nan is not allowed"),
    ("glucose-19", {"glucose_mg_dl": 19}, InvalidValue, "glucose: 19 is not allowed; "
     "allowed: 20 to 600 mg/dL"),
    ("glucose-601", {"glucose_mg_dl": 601}, InvalidValue, "glucose: 601 is not allowed"),
    ("glucose-text", {"glucose_mg_dl": "HI"}, InvalidValue, "glucose: 'HI' is not allowed"),
    ("cgm-601", {"cgm": (601, NOW)}, InvalidValue, "cgm glucose: 601 is not allowed"),
    ("cgm-future", {"cgm": (150, NOW + 1)}, InvalidValue, "cgm reading time: %d is not "
     "allowed; allowed: at most %d ms (not in the future)" % (NOW + 1, NOW)),
    ("cgm-time-text", {"cgm": (150, "now")}, InvalidValue, "cgm reading time: 'now' is not "
     "allowed"),
    ("cgm-shape", {"cgm": 150}, InvalidValue, "cgm: 150 is not allowed; allowed: a pair"),
    ("typed-and-cgm", {"glucose_mg_dl": 150, "cgm": (150, NOW)}, InvalidValue,
     "glucose: 'typed and CGM' is not allowed"),
    ("day-ms-out-of-range", {"day_ms": 24 * H}, InvalidValue, "time of day: 86400000"),
    ("uncertain-bolus", {"uncertain_bolus": {"programmed_mu": 4_000, "at_ms": NOW - H}},
     DeliveryUncertain, "bolus calculator refused: the last bolus (4 U programmed) has no "
     "confirmed delivered amount; enter what was delivered first"),
    ("uncertain-unknown", {"uncertain_bolus": True}, DeliveryUncertain, "the last bolus has"),
]


@pytest.mark.parametrize("changes, error, message", [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_input_is_refused(changes, error, message):
    args = {"carbs_g": 40, "day_ms": at("08:00")}
    args.update(changes)
    day_ms = args.pop("day_ms")
    with pytest.raises(error) as info:
        suggest(SETTINGS, FixedIob(), NOW, day_ms, **args)
    assert message in str(info.value)


def test_uncertain_delivery_is_refused_before_anything_else():
    with pytest.raises(DeliveryUncertain):
        suggest(SETTINGS, FixedIob(), NOW, at("08:00"), -5, 5, uncertain_bolus={})


def test_settings_missing_a_segment_never_reach_the_calculator():
    obj = copy.deepcopy(BASE)
    obj["carb_ratio_g_per_u"] = [["06:00", 10]]
    with pytest.raises(InvalidValue, match="carb_ratio_g_per_u segment 1 start"):
        load_settings(obj)


# ----- confirmation -----------------------------------------------------------------

def test_confirm_turns_the_confirmed_amount_into_a_bolus_command():
    out = suggest(SETTINGS, FixedIob(), NOW, at("08:00"), 60, 210)
    assert confirm(out, "8") == {"cmd": "bolus", "units": "8"}
    assert confirm(out, 7.25) == {"cmd": "bolus", "units": "7.25"}  # the user edited it
    for units in (0, 10.01, -1, "x", 0.005):
        with pytest.raises(InvalidValue, match="confirmed bolus"):
            confirm(out, units)


def test_the_calculator_itself_changes_nothing():
    iob = FixedIob(500)
    before = copy.deepcopy(vars(SETTINGS.limits))
    suggest(SETTINGS, iob, NOW, at("08:00"), 60, 210)
    assert vars(SETTINGS.limits) == before and iob.bolus == 500
    assert "bolus" in commands.COMMANDS  # delivery only ever goes through a command


# ----- properties ------------------------------------------------------------------------

inputs = st.tuples(st.integers(0, CARBS_MAX_G), st.one_of(st.none(), st.integers(20, 600)),
                   st.integers(0, 40_000), st.integers(-5_000, 40_000),
                   st.integers(0, 24 * 60 - 1), st.sampled_from([SETTINGS, REVERSE]))


@given(inputs, st.integers(1, 40_000))
def test_suggestion_never_exceeds_max_bolus_nor_ignores_iob(case, more_iob):
    carbs, glucose, bolus_iob, extra_net, minute, settings = case
    net = bolus_iob + extra_net
    out = suggest(settings, FixedIob(bolus_iob, net), NOW, minute * M, carbs, glucose)
    amount = out["suggested_mu"]
    assert 0 <= amount <= settings.limits.max_bolus_mu
    assert amount % settings.bolus_increment_mu == 0
    assert amount <= max(0, out["meal_mu"] + out["correction_mu"] - bolus_iob)
    assert amount <= max(0, settings.limits.max_iob_mu - net)
    more = suggest(settings, FixedIob(bolus_iob + more_iob, net + more_iob), NOW, minute * M,
                   carbs, glucose)
    assert more["suggested_mu"] <= amount


@given(st.integers(0, CARBS_MAX_G - 1), st.integers(20, 599), st.integers(0, 24 * 60 - 1))
def test_more_carbs_or_higher_glucose_never_suggests_less(carbs, glucose, minute):
    def amount(c, g):
        return suggest(REVERSE, FixedIob(), NOW, minute * M, c, g)["suggested_mu"]

    assert amount(carbs + 1, glucose) >= amount(carbs, glucose)
    if glucose >= 70:
        assert amount(carbs, glucose + 1) >= amount(carbs, glucose)


# ----- through the app ---------------------------------------------------------------

def test_the_app_suggests_from_the_insulin_it_delivered():
    board = load_board(sim_board.BOARD)
    clock = VirtualClock()
    app = PumpApp(board, clock, FakeMotor(clock, board.motor.max_step_hz), settings=SETTINGS)
    bare = PumpApp(board, clock, FakeMotor(clock, board.motor.max_step_hz))
    with pytest.raises(NotAllowedNow, match="no therapy settings"):
        bare.suggest_bolus(40)
    for cmd in ({"cmd": "new_reservoir", "units": 200}, {"cmd": "resume"},
                {"cmd": "set_time", "time": "08:00"}):
        app.command(cmd)
    app.command(confirm(app.suggest_bolus(30), 3))  # 30 g at 10 g/U
    for _ in range(30 * 60 * 4):
        clock.advance(250)
        app.step()
    out = app.suggest_bolus(30, 210)
    on_board = app.iob.bolus_iob_mu(clock.now_ms())
    assert 2_700 < out["bolus_iob_mu"] == on_board < 3_000
    # 2 U correction all covered, the rest off the 3 U meal
    assert out["suggested_mu"] == (5_000 - on_board) // 50 * 50
    assert app.engine.bolus_steps == board.usteps_for_mu(3_000)


class KeeperStandIn:
    """The parts of basalt.storage.keeper.Keeper the calculator wiring uses."""

    awaiting_ack = False

    def __init__(self, uncertain):
        self.uncertain = uncertain

    def bind(self, board, engine, iob, motion, stream, occlusion, apply_settings):
        self.iob = iob
        self.profiles = engine

    def reconcile(self, now, delivered_mu=None):
        delivered = self.uncertain["delivered_hi_mu"]
        self.uncertain = None
        self.iob.add_bolus(now, delivered)
        return delivered

    def require_known_state(self, name):
        pass

    def command_done(self, now):
        pass

    def on_tick(self, now):
        pass

    def may_move(self, now):
        return True


def test_an_interrupted_bolus_locks_the_calculator_until_reconciled():
    board = load_board(sim_board.BOARD)
    clock = VirtualClock()
    app = PumpApp(board, clock, FakeMotor(clock, board.motor.max_step_hz), settings=SETTINGS)
    app.keeper = KeeperStandIn({"programmed_mu": 4_000, "delivered_lo_mu": 1_000,
                                "delivered_hi_mu": 2_500})
    with pytest.raises(DeliveryUncertain, match=r"the last bolus \(4 U programmed\)"):
        app.suggest_bolus(30, 150)
    assert app.command({"cmd": "reconcile_bolus"}) == 2_500
    out = app.suggest_bolus(30, 150)  # unlocked; the reconciled insulin is on board
    assert out["bolus_iob_mu"] == 2_500
    # 00:00: 30 g / 10 g/U = 3 U, (150 - 120) / 50 = 0.6 U, less 2.5 U on board
    assert out["suggested_mu"] == 1_100
