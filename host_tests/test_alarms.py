"""The alarm manager: priorities and patterns, latching, acknowledge, snooze and re-alert,
escalation, ordering, events for every change, and typed errors for bad input."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basalt.core import command_engine
from basalt.core.alarm_texts import TEXTS
from basalt.core.alarms import (
    ALARMS,
    CODES,
    ESCALATE_MS,
    HIGH,
    LOW,
    MEDIUM,
    PATTERNS,
    SNOOZE_MS,
    AlarmManager,
    banner,
    check_pattern,
)
from basalt.core.errors import InvalidValue, NotAllowedNow
from basalt.core.units import MS_PER_MIN

HIGH_CODE, MEDIUM_CODE, LOW_CODE = "occlusion", "reservoir_low", "falling"


def kinds(manager):
    return [kind for kind, _ in manager.pop_events()]


# ----- the table -------------------------------------------------------------------

def test_every_code_has_a_priority_and_a_banner_that_fits_the_screen():
    assert set(CODES) >= {"occlusion", "reservoir_empty", "reservoir_low", "battery_low",
                          "battery_critical", "auto_off", "delivery_fault",
                          "suspended_too_long", "site_change", "glucose_check", "infusion_set",
                          "sensor_fault", "cgm_lost"}
    for code in CODES:
        priority, stops, latches = ALARMS[code]
        title, hint = TEXTS[code]
        assert priority in (HIGH, MEDIUM, LOW)
        assert code == code.lower() and " " not in code
        assert 1 <= len(title) <= 16 and 1 <= len(hint) <= 16
        assert all(" " <= ch <= "~" for ch in title + hint)
        assert banner(code) == (title, hint)
        if priority == HIGH:
            assert latches  # every high alarm latches until acknowledged
        if stops:
            assert priority == HIGH


def test_priorities_sound_distinct_patterns_and_escalation_is_louder_and_faster():
    flat = [p for by_level in PATTERNS for p in by_level]
    assert len({(p[1], p[2]) for p in flat}) == len(flat)  # all distinct
    assert len({p[2] for p in flat}) == 3  # a pulse train per priority
    for normal, escalated in PATTERNS:
        check_pattern(normal)
        check_pattern(escalated)
        assert escalated[0] > normal[0] and escalated[1] < normal[1]
    # IEC 60601-1-8 style pulse counts: high 10, medium 3, low 2.
    assert [len(PATTERNS[p][0][2]) for p in (HIGH, MEDIUM, LOW)] == [10, 3, 2]


@pytest.mark.parametrize("pattern", [
    None, (), (500, 1000), (500, 1000, ()), (1001, 1000, ((2000, 100, 100),)),
    (500, 50, ((2000, 100, 100),)), (500, 1000, ((99, 100, 100),)),
    (500, 1000, ((2000, 0, 100),)), (500, 1000, ((2000, 600, 600),)),
    (500, 1000, ((2000.0, 100, 100),)), (True, 1000, ((2000, 100, 100),)),
    (500, 1000, [(2000, 100, 100)]),
])
def test_bad_patterns_are_refused(pattern):
    with pytest.raises(InvalidValue, match="buzzer pattern"):
        check_pattern(pattern)


# ----- raise, latch, acknowledge, clear ------------------------------------------------

def test_raise_is_an_event_once_and_repeat_raises_are_quiet():
    m = AlarmManager()
    assert m.raise_alarm(10, HIGH_CODE, {"force_mn": 1234}) is True
    assert m.raise_alarm(20, HIGH_CODE) is False
    events = m.pop_events()
    assert events == [("alarm_raised", {"code": HIGH_CODE, "priority": "high",
                                        "force_mn": 1234, "at_ms": 10})]


def test_high_alarm_latches_until_acknowledged_even_when_the_cause_clears():
    m = AlarmManager()
    m.raise_alarm(0, HIGH_CODE)
    assert m.clear(1_000, HIGH_CODE) is False
    assert m.active() == [HIGH_CODE]
    assert m.sounding(1_000) is PATTERNS[HIGH][0]
    m.acknowledge(2_000, HIGH_CODE)
    assert m.active() == [] and m.sounding(2_000) is None
    assert kinds(m) == ["alarm_raised", "alarm_acknowledged", "alarm_cleared"]


def test_acknowledged_alarm_is_silent_and_ends_when_its_cause_clears():
    m = AlarmManager()
    m.raise_alarm(0, HIGH_CODE)
    m.acknowledge(100, HIGH_CODE)
    assert m.active() == [HIGH_CODE] and m.sounding(100) is None
    assert m.blocking() is None
    m.raise_alarm(200, HIGH_CODE)  # still present: nothing new
    m.clear(300, HIGH_CODE)
    assert m.active() == []
    events = m.pop_events()
    assert [k for k, _ in events] == ["alarm_raised", "alarm_acknowledged", "alarm_cleared"]
    assert events[-1][1] == {"code": HIGH_CODE, "why": "cause cleared", "lasted_ms": 300,
                             "at_ms": 300}


def test_medium_alarm_ends_when_its_cause_clears_unless_it_latches():
    m = AlarmManager()
    m.raise_alarm(0, MEDIUM_CODE)
    m.clear(10, MEDIUM_CODE)
    assert m.active() == []
    m.raise_alarm(20, "infusion_set")  # a one-shot warning latches
    m.clear(20, "infusion_set")
    assert m.active() == ["infusion_set"]


def test_stopping_alarms_block_until_acknowledged():
    m = AlarmManager()
    m.raise_alarm(0, MEDIUM_CODE)
    assert m.blocking() is None
    m.raise_alarm(0, "delivery_fault")
    assert m.blocking() == "delivery_fault"
    m.acknowledge(1, "delivery_fault")
    assert m.blocking() is None


# ----- snooze, re-alert, escalation --------------------------------------------------

def test_medium_and_low_can_be_snoozed_and_alert_again():
    for code, priority in ((MEDIUM_CODE, MEDIUM), (LOW_CODE, LOW)):
        m = AlarmManager()
        m.raise_alarm(0, code)
        m.snooze(1_000, code)
        assert m.sounding(1_000) is None
        m.evaluate(1_000 + SNOOZE_MS[priority] - 1)
        assert m.sounding(1_000 + SNOOZE_MS[priority] - 1) is None
        m.evaluate(1_000 + SNOOZE_MS[priority])
        assert m.sounding(1_000 + SNOOZE_MS[priority]) is PATTERNS[priority][0]
        assert kinds(m) == ["alarm_raised", "alarm_snoozed", "alarm_realerted"]


def test_high_alarms_cannot_be_snoozed():
    m = AlarmManager()
    m.raise_alarm(0, HIGH_CODE)
    with pytest.raises(NotAllowedNow, match="high priority: acknowledge it"):
        m.snooze(0, HIGH_CODE)
    assert m.sounding(0) is PATTERNS[HIGH][0]


def test_unacknowledged_alarm_escalates_louder_then_up_a_priority():
    m = AlarmManager()
    m.raise_alarm(0, LOW_CODE)
    t = 0
    seen = [m.sounding(0)]
    for _ in range(6):
        t += ESCALATE_MS[LOW] if seen[-1] in PATTERNS[LOW] else ESCALATE_MS[MEDIUM] \
            if seen[-1] in PATTERNS[MEDIUM] else ESCALATE_MS[HIGH]
        m.evaluate(t)
        seen.append(m.sounding(t))
    assert seen == [PATTERNS[LOW][0], PATTERNS[LOW][1], PATTERNS[MEDIUM][0],
                    PATTERNS[MEDIUM][1], PATTERNS[HIGH][0], PATTERNS[HIGH][1],
                    PATTERNS[HIGH][1]]
    assert m.state(LOW_CODE)["priority"] == "high"
    with pytest.raises(NotAllowedNow):
        m.snooze(t, LOW_CODE)  # escalated to high: acknowledge only
    assert kinds(m).count("alarm_escalated") == 5


def test_acknowledged_or_snoozed_alarms_do_not_escalate():
    m = AlarmManager()
    m.raise_alarm(0, MEDIUM_CODE)
    m.raise_alarm(0, "battery_low")
    m.acknowledge(0, MEDIUM_CODE)
    m.snooze(0, "battery_low")
    m.evaluate(SNOOZE_MS[MEDIUM] - 1)
    assert m.state(MEDIUM_CODE)["level"] == 0 and m.state("battery_low")["level"] == 0


def test_the_most_urgent_sound_wins_and_order_is_priority_then_unacknowledged_then_age():
    m = AlarmManager()
    m.raise_alarm(0, LOW_CODE)
    m.raise_alarm(1, MEDIUM_CODE)
    m.raise_alarm(2, "battery_low")
    m.raise_alarm(3, HIGH_CODE)
    m.raise_alarm(4, "delivery_fault")
    assert m.active() == [HIGH_CODE, "delivery_fault", MEDIUM_CODE, "battery_low", LOW_CODE]
    assert m.most_urgent() == HIGH_CODE and m.banner() == ("OCCLUSION", "Check tubing")
    m.acknowledge(5, HIGH_CODE)
    assert m.active()[:2] == ["delivery_fault", HIGH_CODE]
    assert m.sounding(5) is PATTERNS[HIGH][0]
    m.acknowledge(6, "delivery_fault")
    assert m.sounding(6) is PATTERNS[MEDIUM][0]


# ----- bad input ----------------------------------------------------------------------

@pytest.mark.parametrize("code", ["Occlusion", "fire", "", None, 3, ("occlusion",)])
@pytest.mark.parametrize("action", ["raise_alarm", "clear", "acknowledge", "snooze"])
def test_codes_not_in_the_table_are_typed_errors(code, action):
    m = AlarmManager()
    with pytest.raises(InvalidValue, match="alarm code") as caught:
        getattr(m, action)(0, code)
    assert "occlusion" in caught.value.allowed
    assert m.active() == [] and m.pop_events() == []


@pytest.mark.parametrize("detail", ["x", 5, [1], {"a": 1.5}, {1: 2}, {"a": [1]}])
def test_bad_detail_is_refused_before_anything_changes(detail):
    m = AlarmManager()
    with pytest.raises(InvalidValue, match="alarm detail"):
        m.raise_alarm(0, HIGH_CODE, detail)
    assert m.active() == []


def test_actions_on_inactive_alarms_are_refused():
    m = AlarmManager()
    for action in ("acknowledge", "snooze"):
        with pytest.raises(NotAllowedNow, match="no reservoir_low alarm is active"):
            getattr(m, action)(0, MEDIUM_CODE)
    m.raise_alarm(0, MEDIUM_CODE)
    m.acknowledge(0, MEDIUM_CODE)
    with pytest.raises(NotAllowedNow, match="already acknowledged"):
        m.acknowledge(0, MEDIUM_CODE)
    with pytest.raises(NotAllowedNow, match="already acknowledged"):
        m.snooze(0, MEDIUM_CODE)


@pytest.mark.parametrize("cmd, error, text", [
    ({"cmd": "acknowledge"}, InvalidValue, "acknowledge.alarm"),
    ({"cmd": "acknowledge", "alarm": "fire"}, InvalidValue, "alarm code"),
    ({"cmd": "snooze", "alarm": "occlusion", "minutes": 5}, InvalidValue, "snooze.minutes"),
    ({"cmd": "snooze", "alarm": "occlusion"}, NotAllowedNow, "high priority"),
    ({"cmd": "silence", "alarm": "occlusion"}, InvalidValue, "acknowledge' or 'snooze"),
    ("acknowledge", InvalidValue, "acknowledge' or 'snooze"),
    ({"cmd": ["acknowledge"]}, InvalidValue, "acknowledge' or 'snooze"),
])
def test_alarm_commands_check_their_input(cmd, error, text):
    m = AlarmManager()
    m.raise_alarm(0, HIGH_CODE)
    m.pop_events()
    with pytest.raises(error, match=text):
        command_engine.apply_alarm(m, 0, cmd)
    assert m.state(HIGH_CODE)["acknowledged"] is False and m.pop_events() == []


# ----- property: the manager's state always follows the rules ------------------------

ops = st.lists(st.tuples(st.sampled_from(["raise", "clear", "ack", "snooze", "wait"]),
                         st.sampled_from(CODES), st.integers(0, 20 * MS_PER_MIN)),
               max_size=80)


@given(ops)
def test_random_sequences_keep_the_rules(script):
    m = AlarmManager()
    now = 0
    for op, code, gap in script:
        now += gap if op == "wait" else 0
        try:
            if op == "raise":
                m.raise_alarm(now, code)
            elif op == "clear":
                m.clear(now, code)
            elif op == "ack":
                m.acknowledge(now, code)
            elif op == "snooze":
                m.snooze(now, code)
            else:
                m.evaluate(now)
        except NotAllowedNow:
            pass
        # Never more than one slot per code; sounding only for alerting alarms.
        active = m.active()
        assert len(active) == len(set(active))
        sound = m.sounding(now)
        alerting = [c for c in active if not m.state(c)["acknowledged"]
                    and not (m.state(c)["snoozed_until_ms"] > now)]
        assert (sound is None) == (not alerting)
        for c in active:
            state = m.state(c)
            if state["acknowledged"]:
                assert state["cause"]  # acknowledged with no cause would have ended
    # Every raise is matched by at most one clear, in order, per code.
    depth = {}
    for kind, detail in m.pop_events():
        if kind == "alarm_raised":
            assert depth.get(detail["code"], 0) == 0
            depth[detail["code"]] = 1
        elif kind == "alarm_cleared":
            assert depth.get(detail["code"]) == 1
            depth[detail["code"]] = 0
        assert detail["at_ms"] <= now
