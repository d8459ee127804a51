"""How far the loop trusts its CGM (docs/cgm-trust.md): what it may add over scheduled
basal in any 3 h and any 24 h, the loop_limit alarm when that binds, a step in glucose,
and a record whose time offset the pump's clock cannot have reached."""

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basalt.core import cgms, cgms_sensor, loop
from basalt.core.errors import ConfigError
from basalt.core.readings import RATE, ReadingStore
from basalt.core.settings import load_settings, parse_settings_text
from tools.settings.example import EXAMPLE
from tools.sim import faults

M = 60_000
H = 3_600_000
FIXTURE = Path(__file__).resolve().parent / "scenarios" / "decide_max_temp_binding.json"


def base_record():
    """Glucose flat at 250, no IOB: the loop asks for 3 U/h over 1 U/h scheduled (a
    30-minute temp adds 1 U), highest rate 1.2 U/h: default bounds 7.2 U / 3 h and
    28.8 U / 24 h."""
    record = json.loads(FIXTURE.read_text())
    record.pop("why")
    return record


def at(record, now_ms):
    """The record moved to now_ms (its readings with it)."""
    out = copy.deepcopy(record)
    shift = now_ms - out["now_ms"]
    out["now_ms"] = now_ms
    for entry in out["readings"]:
        entry[0] += shift
    return out


# ----- the pure entry point ----------------------------------------------------------------

def test_defaults_are_hours_of_the_highest_scheduled_rate():
    record = base_record()
    assert loop.extra_limits(record["settings"], record["schedule"]) == (7_200, 28_800)
    record["settings"]["max_extra_3h_mu"] = 2_000
    record["settings"]["max_extra_24h_mu"] = 9_000
    assert loop.extra_limits(record["settings"], record["schedule"]) == (2_000, 9_000)
    d, state = loop.decide(base_record())
    assert (d.action, d.rate_mu_h, d.extra_limit) == ("temp", 3_000, None)
    assert state["loop_temp"] == [d.at_ms, 2_000, d.at_ms + 30 * M]  # 2 U/h over, 30 min
    assert state["extra"] == []  # nothing has run yet


@pytest.mark.parametrize("extra, settings_, rate, limit, action", [
    # (buckets before now, loop settings, rate, bound that cut, action)
    ([[-H, 6_700]], {}, 2_000, "3 h", "temp"),  # 0.5 U left: 1 U/h over for 30 min
    ([[-H, 7_200]], {}, None, "3 h", "keep"),  # nothing left: scheduled basal
    ([[-20 * H, 4_800]], {"max_extra_24h_mu": 5_000}, 1_400, "24 h", "temp"),
    ([[-25 * H, 50_000]], {}, 3_000, None, "temp"),  # older than 24 h: forgotten
    ([[-4 * H, 7_000]], {}, 3_000, None, "temp"),  # its hour ended 3 h ago: not in 3 h
])
def test_the_bound_cuts_the_temp_to_what_is_left(extra, settings_, rate, limit, action):
    record = base_record()
    now = record["now_ms"]
    record["state"]["extra"] = [[now + start, mu] for start, mu in extra]
    record["settings"].update(settings_)
    pristine = copy.deepcopy(record)
    d, state = loop.decide(record)
    assert record == pristine  # pure: the input is not changed
    assert (d.action, d.rate_mu_h, d.extra_limit) == (action, rate, limit)
    if limit:
        assert "loop extra over scheduled basal capped" in d.reason
    assert all(start + H > now - 24 * H for start, _ in state["extra"])


def test_an_automatic_bolus_is_cut_first_then_the_temp():
    record = base_record()
    record["settings"]["auto_bolus"] = True
    for entry in record["readings"]:  # rising 1 mg/dL/min, unexplained: boluses allowed
        entry[1] -= (record["now_ms"] - entry[0]) // M * 1_000
    d, _ = loop.decide(record)
    assert (d.bolus_mu, d.rate_mu_h, d.extra_limit) == (500, 3_000, None)  # 30 min of basal
    now = record["now_ms"]
    record["state"]["extra"] = [[now - H, 6_500]]  # 0.7 U left
    d, state = loop.decide(record)
    assert (d.bolus_mu, d.rate_mu_h, d.extra_limit) == (500, 1_400, "3 h")
    assert state["extra"] == [[now - H, 6_500], [now, 500]]  # the bolus counts at once
    record["state"]["extra"] = [[now - H, 6_900]]  # 0.3 U left
    d, _ = loop.decide(record)
    assert (d.bolus_mu, d.action, d.extra_limit) == (300, "keep", "3 h")


def test_a_temp_counts_as_running_until_replaced_cancelled_or_over():
    record = base_record()
    t0 = record["now_ms"]
    d, state = loop.decide(record)  # temp 3 U/h: 2 U/h over scheduled from t0
    later = at(record, t0 + 10 * M)
    later["state"] = state
    later["readings"] = []  # no CGM: the high temp is cancelled
    later["pump"]["temp_mu_h"] = 3_000
    d, state = loop.decide(later)
    assert d.action == "cancel" and state["loop_temp"] is None
    assert state["extra"] == [[t0 + 10 * M, 334]]  # 2 U/h for 10 min, rounded up
    # A decision that keeps (the pump stopped) leaves the temp counted to its end.
    record = base_record()
    d, state = loop.decide(record)
    stopped = at(record, t0 + 5 * M)
    stopped["state"] = state
    stopped["pump"]["stop_reason"] = "suspended"
    _, state = loop.decide(stopped)
    assert state["loop_temp"] == [t0 + 5 * M, 2_000, t0 + 30 * M]
    again = at(record, t0 + 2 * H)
    again["state"] = state
    again["pump"]["stop_reason"] = "suspended"
    _, state = loop.decide(again)
    assert state["loop_temp"] is None
    assert sum(mu for _, mu in state["extra"]) == 167 + 834  # 30 min in all: 1 U


def run_day(gaps, settings_=None, auto_bolus=False):
    """Pure decisions for a day of a spoofed CGM at 250 flat, no IOB (the need never
    falls): (per-minute mU over scheduled, as the pump would run it, bounds)."""
    record = base_record()
    record["settings"]["auto_bolus"] = auto_bolus
    record["settings"].update(settings_ or {})
    scheduled = record["schedule"]["scheduled_mu_h"]
    state = record["state"]
    t0 = record["now_ms"]
    minute = 0
    over_per_min = [0.0] * (26 * 60)
    temp = None  # (rate, until minute)
    i = 0
    while minute < 24 * 60:
        now = at(record, t0 + minute * M)
        now["state"] = state
        now["pump"]["temp_mu_h"] = temp[0] if temp and temp[1] > minute else None
        d, state = loop.decide(now)
        over_per_min[minute] += d.bolus_mu
        if d.action == "temp":
            temp = (d.rate_mu_h, minute + d.minutes)
        elif d.action == "cancel":
            temp = None
        gap = gaps[i % len(gaps)]
        i += 1
        for m in range(minute, minute + gap):
            if temp and temp[1] > m:
                over_per_min[m] += max(0, temp[0] - scheduled) / 60
        minute += gap
    return over_per_min, loop.extra_limits(record["settings"], record["schedule"])


def worst(over_per_min, minutes):
    return max(sum(over_per_min[i:i + minutes]) for i in range(len(over_per_min) - minutes))


@settings(max_examples=12, deadline=None)
@given(st.lists(st.integers(1, 45), min_size=1, max_size=8), st.booleans(),
       st.sampled_from([{}, {"max_extra_3h_mu": 1_500, "max_extra_24h_mu": 6_000},
                        {"max_extra_3h_mu": 0, "max_extra_24h_mu": 0}]))
def test_no_3_h_or_24_h_stretch_holds_more_than_the_bound(gaps, auto_bolus, settings_):
    """Whatever the decision rhythm (1 to 45 min apart, temps running out between), the
    insulin the loop's temps and boluses add never exceeds either bound."""
    over, (most_3h, most_24h) = run_day(gaps, settings_, auto_bolus)
    assert worst(over, 180) <= most_3h + 1
    assert worst(over, 24 * 60) <= most_24h + 1


def test_mode_changes_and_new_settings_keep_what_the_loop_added():
    from basalt.app.loop_runner import LoopRunner

    lp = loop.Loop(loop.LoopSettings("closed"))
    lp.state = dict(lp.state, extra=[[0, 5_000]], loop_temp=[0, 100, 30 * M])
    lp.set_mode("suspend_only")
    assert lp.state["extra"] == [[0, 5_000]] and lp.state["last_ms"] is None
    lp.add_carbs(M, 20)
    assert lp.state["extra"] == [[0, 5_000]] and lp.state["loop_temp"] == [0, 100, 30 * M]

    class Settings:
        def __init__(self, mode):
            self.loop = loop.LoopSettings(mode)

    runner = LoopRunner(None, None, None, None, None)
    runner.replace(Settings("closed"))
    runner.loop.state = dict(runner.loop.state, extra=[[0, 4_000]])
    runner.replace(Settings("suspend_only"))  # a changed loop section: a new Loop
    assert runner.loop.mode == "suspend_only" and runner.loop.state["extra"] == [[0, 4_000]]


def test_a_record_with_a_broken_bound_or_state_is_refused_naming_the_field():
    from basalt.core.errors import InvalidValue

    for change, field in (
            (("settings", "max_extra_3h_mu", 50_001), "settings.max_extra_3h_mu"),
            (("settings", "max_extra_24h_mu", -1), "settings.max_extra_24h_mu"),
            (("state", "extra", [[5, 1], [5, 1]]), "state.extra[1] start_ms"),
            (("state", "extra", [[5]]), "state.extra[0]"),
            (("state", "loop_temp", [10, 100, 10]), "state.loop_temp end_ms"),
            (("state", "loop_temp", [10, 0, 20]), "state.loop_temp mu_h")):
        record = base_record()
        section, key, value = change
        record[section][key] = value
        with pytest.raises(InvalidValue) as info:
            loop.decide(record)
        assert info.value.field == field and info.value.value is not None


# ----- the settings file ----------------------------------------------------------------

def with_loop(**keys):
    obj = parse_settings_text(EXAMPLE)
    obj["loop"] = dict(obj["loop"], **keys)
    return obj


def test_the_bounds_in_the_settings_file():
    settings_, _ = load_settings(parse_settings_text(EXAMPLE))
    assert (settings_.loop.max_extra_3h_mu, settings_.loop.max_extra_24h_mu) == (None, None)
    settings_, _ = load_settings(with_loop(max_extra_3h_u=3, max_extra_24h_u=12.5))
    assert (settings_.loop.max_extra_3h_mu, settings_.loop.max_extra_24h_mu) == (3_000, 12_500)
    assert settings_.loop.as_dict()["max_extra_24h_mu"] == 12_500


@pytest.mark.parametrize("keys, field, allowed", [
    ({"max_extra_3h_u": 51}, "loop.max_extra_3h_u", "0 to 50 U over scheduled basal"),
    ({"max_extra_24h_u": 201}, "loop.max_extra_24h_u", "0 to 200 U over scheduled basal"),
    ({"max_extra_24h_u": "lots"}, "loop.max_extra_24h_u", "0 to 200 U"),
    ({"max_extra_3h_u": 0.005}, "loop.max_extra_3h_u", "in steps of 0.01 U"),
    ({"max_extra_3h_u": 10, "max_extra_24h_u": 8}, "loop.max_extra_3h_u",
     "at most loop.max_extra_24h_u (8 U)"),
    # One refused and the other given, or both refused: the refusal, not a comparison.
    ({"max_extra_3h_u": 1.005, "max_extra_24h_u": 8}, "loop.max_extra_3h_u", "steps of 0.01 U"),
    ({"max_extra_3h_u": 2, "max_extra_24h_u": 8.005}, "loop.max_extra_24h_u", "steps of 0.01 U"),
    ({"max_extra_3h_u": "x", "max_extra_24h_u": -1}, "loop.max_extra_3h_u", "0 to 50 U"),
])
def test_bounds_outside_their_range_are_refused(keys, field, allowed):
    with pytest.raises(ConfigError) as info:
        load_settings(with_loop(**keys))
    assert info.value.field == field and allowed in info.value.allowed


# ----- a spoofed day through the whole app -------------------------------------------------

DAY = 24 * 60


def spoofed_day(loop_keys):
    """A CGM that replays 350 +- 2 mg/dL all day into the app in closed loop (the example
    settings: 0.8-1.2 U/h scheduled, max basal 3 U/h, max IOB 20 U; auto-off off, as a
    user pressing buttons would keep it)."""
    scenario = {"minutes": DAY, "loop": loop_keys,
                "settings": {"alarms": {"auto_off_h": 0}},
                "cgm": [[0, DAY, "spoof", 350]], "events": []}
    app, decisions = faults.run(scenario)
    engine = app.engine
    delivered = app.board.mu_for_usteps(engine.basal_steps + engine.bolus_steps)
    extra = delivered - engine.profiles.current().daily_total_mu()
    per_min = [0.0] * DAY
    for i, d in enumerate(decisions):
        end = decisions[i + 1]["minute"] if i + 1 < len(decisions) else DAY
        per_min[d["minute"]] += d["bolus_mu"]
        temp = d["temp_after"]
        if temp is not None:
            for m in range(d["minute"], min(end, d["minute"] + 30, DAY)):
                per_min[m] += max(0, temp - d["scheduled_mu_h"]) / 60
    return app, decisions, extra, per_min


UNBOUNDED = {"max_extra_3h_u": 50, "max_extra_24h_u": 200}


@pytest.mark.parametrize("auto_bolus", [False, True], ids=["temps", "auto-bolus"])
def test_a_spoofed_350_day_is_bounded_by_the_settings(auto_bolus):
    # The finding: with the bound out of the way the loop adds about 49 U in 24 h (max
    # IOB never binds: the max temp does), more with automatic boluses.
    app, _, extra, _ = spoofed_day(dict(UNBOUNDED, auto_bolus=auto_bolus))
    assert extra > 45_000
    assert "loop_limit" not in app.alarms.active()
    # Defaults: 6 h and 24 h of the highest rate (1.2 U/h): 7.2 U and 28.8 U.
    app, decisions, extra, per_min = spoofed_day({"auto_bolus": auto_bolus})
    assert extra <= 28_800 + 50  # the motor's whole steps
    assert 25_000 < extra  # the bound, not something else, stopped it
    assert worst(per_min, 180) <= 7_200 + 1 and sum(per_min) <= 28_800 + 1
    first = next(d for d in decisions if d["extra_limit"])
    assert first["minute"] <= 180  # the alarm comes within 3 h of the spoof starting
    assert "loop_limit" in app.alarms.active()
    # Tighter bounds from the file hold as well.
    app, _, extra, per_min = spoofed_day({"auto_bolus": auto_bolus, "max_extra_3h_u": 2,
                                          "max_extra_24h_u": 6})
    assert extra <= 6_000 + 50 and worst(per_min, 180) <= 2_000 + 1


def test_the_loop_limit_alarm_latches_and_is_journaled_with_its_numbers():
    scenario = {"minutes": 240, "loop": {"max_extra_3h_u": 1, "max_extra_24h_u": 4},
                "settings": {"alarms": {"auto_off_h": 0}},
                "cgm": [[0, 120, "spoof", 350], [120, 240, "steady", 110]], "events": []}
    app, decisions = faults.run(scenario)
    limited = [d for d in decisions if d["extra_limit"]]
    assert limited and limited[0]["extra_limit"] == "3 h"
    assert all(d["extra_limit"] is None for d in decisions if d["minute"] >= 150)
    assert "loop_limit" in app.alarms.active()  # the cause ended; it waits to be read
    app.command({"cmd": "acknowledge", "alarm": "loop_limit"})
    assert "loop_limit" not in app.alarms.active()


# ----- a step in glucose ------------------------------------------------------------------

def test_a_step_from_100_to_395_is_not_dosed():
    """A jump no blood glucose makes: flagged until 50 min could explain 300 mg/dL, and
    flagged readings in the last 30 min forbid raising insulin after that."""
    scenario = {"minutes": 300, "loop": {"auto_bolus": True},
                "settings": {"alarms": {"auto_off_h": 0}},
                "cgm": [[0, 60, "steady", 100], [60, 300, "steady", 395]], "events": []}
    _, decisions = faults.run(scenario)
    after = [d for d in decisions if d["minute"] >= 60]
    raised = [d for d in after if d["bolus_mu"] or (
        d["temp_after"] is not None and d["temp_after"] > d["scheduled_mu_h"])]
    assert raised == []  # nothing above scheduled basal in the 4 h after the step
    assert not any(d["glucose"] for d in after if d["minute"] < 60 + 45)  # not usable


def rec(offset, mg_dl):
    raw = cgms_sensor.sfloat_from_milli(mg_dl * 1000)
    return cgms.decode_measurements(bytes(cgms_sensor.encode_record(raw, offset)))[0]


def test_a_rise_is_measured_against_the_last_hour_a_fall_against_15_min():
    store = ReadingStore(0)
    for offset in range(0, 30, 5):
        store.add(offset * M, rec(offset, 100))
    flags = [store.add(offset * M, rec(offset, 395)) for offset in range(30, 100, 5)]
    # 295 mg/dL above the last believable 100 (offset 25): flagged while that is more
    # than 6 mg/dL/min, offsets 30 to 70; at 75 (50 min) it could be real.
    assert [bool(f & RATE) for f in flags] == [True] * 9 + [False] * 5
    # A real fall is believed as soon as 15 min of readings no longer contradict it.
    store = ReadingStore(0)
    for offset in range(0, 30, 5):
        store.add(offset * M, rec(offset, 300))
    falls = [store.add(offset * M, rec(offset, 60)) for offset in range(30, 60, 5)]
    assert [bool(f & RATE) for f in falls] == [True, True, True, False, False, False]


# ----- a bad time offset ------------------------------------------------------------------

def test_one_far_future_offset_is_ignored_with_a_message_and_readings_go_on():
    store = ReadingStore(0)
    for offset in range(0, 30, 5):
        store.add(offset * M + 3_000, rec(offset, 118 + offset % 7))
    store.pop_events()
    assert store.add(30 * M + 3_000, rec(60_000, 120)) is None  # 41 days ahead
    events = store.pop_events()
    assert [kind for kind, _ in events] == ["cgm_time", "alarm", "cgm_time_ok"]
    assert events[0][1]["result"] == "ignored"
    assert "ahead of the pump's clock: ignored" in events[0][1]["message"]
    assert events[1][1]["code"] == "cgm_time"
    for offset in range(35, 60, 5):
        assert store.add(offset * M + 3_000, rec(offset, 118 + offset % 7)) == 0
    reading, why = store.latest_for_dosing(55 * M + 3_000)
    assert why is None and reading.offset == 55
    assert store.counts["future"] == 1 and store.latest == 55


def test_a_sensor_clock_that_really_moved_is_followed_after_three_records():
    store = ReadingStore(0)
    for offset in range(0, 30, 5):
        store.add(offset * M, rec(offset, 120))
    store.pop_events()
    now = 30 * M
    results = []
    for i in range(4):  # the sensor's clock jumped 2 days ahead and stays there
        results.append(store.add(now + i * 5 * M, rec(2_880 + 30 + i * 5, 130)))
    assert results == [None, None, 0, 0]  # the third, 10 min after the first, re-anchors
    kinds = [(k, d.get("result")) for k, d in store.pop_events() if k == "cgm_time"]
    assert kinds == [("cgm_time", "ignored"), ("cgm_time", "reanchored")]
    assert store.counts["reanchored"] == 1
    reading = store.latest_reading(now + 15 * M)
    assert reading.offset == 2_880 + 45 and reading.age_ms == 0


def test_a_bad_first_offset_does_not_leave_the_cgm_dead():
    """No anchor yet: a far-future first record defines it, and every true record is
    then 'too old'. Three of those that agree on a clock start the store over."""
    store = ReadingStore(0)
    store.add(0, rec(60_000, 120))
    stored = [store.add(offset * M, rec(offset, 118 + offset % 7)) for offset in range(5, 40, 5)]
    assert stored == [None, None, 0, 0, 0, 0, 0]
    events = store.pop_events()
    assert [kind for kind, _ in events] == ["cgm_time", "alarm", "cgm_time_ok"]
    assert events[0][1]["message"] == ("CGM clock moved: readings start over from offset "
                                       "15 min")
    assert store.counts["reanchored"] == 1
    reading, why = store.latest_for_dosing(35 * M)
    assert why is None and reading.offset == 35


def test_the_app_shows_the_cgm_time_alarm_until_it_is_read():
    app, clock = faults.make_app({}, {"alarms": {"auto_off_h": 0}})
    for minute in range(0, 60, 5):
        offset = 60_000 if minute == 20 else minute
        app.cgm.add(clock.now_ms(), rec(offset, 118 + minute % 7))
        for _ in range(5 * 6):
            app.step()
            clock.advance(10_000)
    assert "cgm_time" in app.alarms.active()
    assert app.cgm.latest == 55
    reading, why = app.cgm.latest_for_dosing(clock.now_ms())
    assert why is None
    kinds = [kind for kind, _ in app.pop_events()]
    assert "cgm_time" in kinds
    app.command({"cmd": "acknowledge", "alarm": "cgm_time"})
    assert "cgm_time" not in app.alarms.active()


def test_the_history_screen_names_the_clock_event_and_skips_the_cause_notes():
    from basalt.core.ui.history import history_line

    assert history_line("cgm_time", {"at_ms": 0, "result": "ignored"}, 0, 0) == \
        "00:00 CGM clock"
    assert history_line("cgm_time_ok", {"at_ms": 0}, 0, 0) is None
    assert history_line("loop_limit_ended", {"at_ms": 0}, 0, 0) is None
    assert history_line("alarm", {"at_ms": 0, "code": "loop_limit"}, 0, 0) == \
        "00:00 !loop limit"[:16]
