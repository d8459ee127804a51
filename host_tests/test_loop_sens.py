"""The loop's autosens (basalt.core.loop): what the CGM shows of the sensitivity, learnt
in the loop's state, bounded, and used only to give less insulin than the settings
say, never more."""

import copy
import json
from pathlib import Path

import pytest

from basalt.core import loop
from basalt.core.errors import InvalidValue

M = 60_000
FIXTURE = Path(__file__).resolve().parent / "scenarios" / "decide_in_range.json"


def record(glucose=110, slope_per_min=0, activity_mu_h=0, iob_mu=0, carbs=(), sens=None):
    """decide_in_range's record (scheduled 1 U/h, sensitivity 50 mg/dL/U, target 110)
    with glucose ending at `glucose` after falling or rising `slope_per_min` mg/dL a
    minute for 30 min, insulin acting and on board, carbs and the learnt sums."""
    out = json.loads(FIXTURE.read_text())
    out.pop("why")
    now = out["now_ms"]
    out["readings"] = [[now - 120_000 - k * 5 * M, (glucose - slope_per_min * (2 + 5 * k)) * 1000,
                        0] for k in range(6, -1, -1)]
    out["iob"] = {"mu": [max(0, iob_mu - 150 * k) for k in range(loop.POINTS)],
                  "activity_mu_h": activity_mu_h}
    out["state"]["carbs"] = [list(c) for c in carbs]
    if sens is not None:
        out["state"]["sens"] = list(sens)
    return out


def decisions(first, count):
    """count decisions 5 minutes apart, each fed the state the one before returned."""
    state, out = first["state"], []
    for k in range(count):
        rec = copy.deepcopy(first)
        shift = 5 * M * k
        rec["now_ms"] += shift
        for entry in rec["readings"]:
            entry[0] += shift
        rec["state"] = dict(state, last_ms=rec["now_ms"] - 5 * M)
        d, state = loop.decide(rec)
        out.append((d, state))
    return out


@pytest.mark.parametrize("sums, ratio", [
    (None, 1000),  # nothing learnt: the settings
    ((0, 0), 1000),
    ((5_000, 5_000), 1000),  # glucose answers insulin as the settings say
    ((6_000, 4_000), 778),  # more strongly: 9,000 / 7,000 with the prior, inverted
    ((30_000, 20_000), 697),  # 1.43 x as strongly: past oref0's autosens_min 0.7
    ((100_000, 20_000), 350),  # far more: bounded at the loop's floor, 0.35
    ((1_000, 20_000), 1000),  # weaker (resistance): never more insulin than the settings
    ((-50_000, 20_000), 1000),  # glucose against insulin's direction: the settings
])
def test_the_ratio_from_the_sums_is_bounded_and_never_above_the_settings(sums, ratio):
    assert loop.sens_ratio(sums) == ratio


def test_glucose_falling_twice_as_fast_as_insulin_explains_is_learnt():
    # 0.6 U/h net acting at 50 mg/dL/U explains 0.5 mg/dL/min; the CGM falls 1.
    steps = decisions(record(150, -1, activity_mu_h=600, iob_mu=1_500), 60)
    ratios = [d.sens for d, _ in steps]
    assert ratios[0] == 1000  # the first decision uses what was learnt before it
    assert all(b <= a for a, b in zip(ratios, ratios[1:]))  # it only learns more
    # Twice as strongly: the ratio heads for 0.5 (the neutral start still counts).
    assert ratios[6] < 1000 and loop.SENS_LOW < 500 <= ratios[-1] < 600
    assert steps[-1][1]["sens"][0] > steps[-1][1]["sens"][1] > 0


@pytest.mark.parametrize("why, rec", [
    ("carbs on board: the meal, not the sensitivity",
     record(150, -1, 600, 1_500, carbs=[[36_120_000 - 30 * M, 40, 0]])),
    ("an unexplained rise: a meal nobody announced",
     record(150, 2, 600, 1_500)),
    ("no trend (too few readings)", None),
])
def test_meals_and_missing_trends_teach_nothing_and_the_past_fades(why, rec):
    if rec is None:
        rec = record(150, -1, 600, 1_500)
        rec["readings"] = rec["readings"][-2:]
    rec["state"]["sens"] = [24_000, 12_000]
    d, state = loop.decide(rec)
    kept = loop.SENS_MIN - 5
    assert state["sens"] == [24_000 * kept // loop.SENS_MIN, 12_000 * kept // loop.SENS_MIN], why


def test_a_sensitive_patient_gets_less_insulin_a_resistant_one_no_more():
    plain, _ = loop.decide(record(140))
    sensitive, _ = loop.decide(record(140, sens=(24_000, 12_000)))
    resistant, _ = loop.decide(record(140, sens=(3_000, 24_000)))
    assert plain.action == "temp" and plain.rate_mu_h == 2_200  # 0.6 U over 30 min
    assert sensitive.sens == loop.sens_ratio((24_000, 12_000)) < 1000
    assert 1_000 < sensitive.rate_mu_h < 2_000
    assert resistant.as_dict() == plain.as_dict()
    assert "sensitivity" in sensitive.reason and "sensitivity" not in plain.reason


def test_a_low_is_predicted_sooner_for_a_sensitive_patient():
    plain, _ = loop.decide(record(120, 0, 600, 1_500))
    sensitive, _ = loop.decide(record(120, 0, 600, 1_500, sens=(24_000, 12_000)))
    assert sensitive.lowest < plain.lowest


@pytest.mark.parametrize("sens, field", [
    ([1, 2, 3], "state.sens"),
    ("x", "state.sens"),
    ([0, -1], "state.sens effect_squared"),
    ([loop.SENS_SUM_LIMIT + 1, 0], "state.sens trend_x_effect"),
])
def test_a_broken_sens_state_is_refused_naming_the_field(sens, field):
    rec = record()
    rec["state"]["sens"] = sens
    with pytest.raises(InvalidValue) as info:
        loop.decide(rec)
    assert info.value.field == field


def test_the_sums_stay_small_ints_however_wild_the_record():
    rec = record(300, -20, activity_mu_h=900_000, iob_mu=0)  # 20 mg/dL/min down
    rec["state"]["sens"] = [loop.SENS_SUM_LIMIT, loop.SENS_SUM_LIMIT]
    steps = decisions(rec, 5)
    kept = loop.SENS_SUM_LIMIT * (loop.SENS_MIN - 5) // loop.SENS_MIN
    clamped = loop.SENS_CLAMP * loop.SENS_CLAMP // 1000  # both slopes at the clamp
    assert steps[0][1]["sens"] == [kept + clamped, kept + clamped]
    for _, state in steps:
        assert -loop.SENS_SUM_LIMIT <= state["sens"][0] <= loop.SENS_SUM_LIMIT
        assert 0 <= state["sens"][1] <= loop.SENS_SUM_LIMIT


def test_the_wrapper_keeps_what_it_learnt_until_the_settings_change():
    from basalt.app.loop_runner import LoopRunner

    lp = loop.Loop(loop.LoopSettings("closed"))
    lp.state = dict(lp.state, sens=[24_000, 12_000])
    lp.set_mode("suspend_only")
    lp.add_carbs(M, 20)
    lp.rebase(10 * M)
    assert lp.state["sens"] == [24_000, 12_000]

    class Settings:
        def __init__(self, mode):
            self.loop = loop.LoopSettings(mode)

    runner = LoopRunner(None, None, None, None, None)
    runner.replace(Settings("closed"))
    runner.loop.state = dict(runner.loop.state, sens=[24_000, 12_000])
    runner.replace(Settings("suspend_only"))  # measured against the old settings
    assert runner.loop.state["sens"] is None


# ----- where the loop aims ---------------------------------------------------------------

@pytest.mark.parametrize("low, high, offset, target", [
    (110, 140, 0, 125), (110, 140, -4, 121), (110, 140, -15, 110), (100, 110, 15, 110),
    (100, 100, -15, 100),
])
def test_the_loop_aims_from_the_middle_of_the_range_and_never_outside_it(low, high, offset,
                                                                          target):
    assert loop._aim(low, high, offset) == target


def test_the_aim_offset_in_the_settings_file():
    from basalt.core.errors import ConfigError
    from basalt.core.settings import load_settings, parse_settings_text
    from tools.settings.example import EXAMPLE

    obj = parse_settings_text(EXAMPLE)
    assert load_settings(obj)[0].loop.aim_offset_mg_dl == 0
    obj["loop"] = dict(obj["loop"], aim_offset_mg_dl=-4)
    assert load_settings(obj)[0].loop.aim_offset_mg_dl == -4
    obj["loop"]["aim_offset_mg_dl"] = 16
    with pytest.raises(ConfigError) as info:
        load_settings(obj)
    assert "loop.aim_offset_mg_dl" in str(info.value) and "16" in str(info.value)


@pytest.mark.parametrize("most, sens, bound", [
    (8_400, 1000, 8_400),  # 7 h of 1.2 U/h, the settings' sensitivity: the setting
    (8_400, 900, 7_560),  # more sensitive: the room above the default shrinks
    (8_400, 350, 7_200),  # far more: never below the default (6 h)
    (7_200, 350, 7_200),  # the default itself is kept
    (3_000, 350, 3_000),  # a tighter setting is kept whatever the ratio
])
def test_a_3h_bound_above_the_default_shrinks_for_a_sensitive_patient(most, sens, bound):
    assert loop._sensitive_3h(most, sens, 1_200) == bound


def test_a_sensitive_patient_meets_the_3h_bound_a_resistant_one_does_not():
    def at_bound(sens):
        rec = record(140, sens=sens)
        rec["settings"]["max_extra_3h_mu"] = 8_400  # 7 h of the highest rate, 1.2 U/h
        rec["state"]["extra"] = [[rec["now_ms"] - 30 * M, 7_200]]  # the default's 6 h used
        return loop.decide(rec)[0]
    plain, sensitive = at_bound(None), at_bound((24_000, 12_000))
    assert plain.action == "temp" and plain.rate_mu_h == 2_200 and plain.extra_limit is None
    assert sensitive.extra_limit == "3 h" and sensitive.limit == "loop_3h"
    assert sensitive.action != "temp" or sensitive.rate_mu_h == 1_000
