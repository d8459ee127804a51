"""The alarm manager's and the basal profiles' refusals, word for word as a user or a
host reads them (their texts are built only on refusal, from basalt.core.refusals), and
nothing changed by them."""

import pytest

from basalt.core.alarms import PATTERNS, AlarmManager, check_pattern
from basalt.core.basal import BasalProfiles
from basalt.core.errors import InvalidValue, NotAllowedNow
from basalt.core.limits import MAX_PROFILES


def acked():
    manager = AlarmManager()
    manager.raise_alarm(0, "reservoir_low")
    manager.acknowledge(1, "reservoir_low")
    return manager


def high():
    manager = AlarmManager()
    manager.raise_alarm(0, "occlusion")
    return manager


@pytest.mark.parametrize("make, act, error, message", [
    (acked, lambda m: m.acknowledge(2, "reservoir_low"), NotAllowedNow,
     "acknowledge refused: reservoir_low is already acknowledged"),
    (acked, lambda m: m.snooze(2, "reservoir_low"), NotAllowedNow,
     "snooze refused: reservoir_low is already acknowledged"),
    (high, lambda m: m.snooze(2, "occlusion"), NotAllowedNow,
     "snooze refused: occlusion is high priority: acknowledge it"),
    (AlarmManager, lambda m: m.acknowledge(2, "battery_low"), NotAllowedNow,
     "acknowledge refused: no battery_low alarm is active"),
    (AlarmManager, lambda m: m.raise_alarm(2, "battery_low", {"mv": 1.5}), InvalidValue,
     "alarm detail: {'mv': 1.5} is not allowed; allowed: a table of names to ints, text or "
     "None"),
])
def test_alarm_refusals(make, act, error, message):
    manager = make()
    before = manager.state("reservoir_low"), manager.state("occlusion")
    with pytest.raises(error) as raised:
        act(manager)
    assert str(raised.value) == message
    assert (manager.state("reservoir_low"), manager.state("occlusion")) == before


def test_a_bad_buzzer_pattern_says_what_a_pattern_is():
    with pytest.raises(InvalidValue) as raised:
        check_pattern((2000,) + PATTERNS[0][0][1:])
    assert str(raised.value) == (
        "buzzer pattern: %r is not allowed; allowed: (volume 0-1000, repeat 100-600000 ms, "
        "1-32 notes of (100-10000 Hz, 1-5000 ms on, 0-5000 ms off) that fit in the repeat)"
        % ((2000,) + PATTERNS[0][0][1:],))


def full_profiles():
    profiles = BasalProfiles()
    for i in range(MAX_PROFILES):
        profiles.put("p%d" % i, [(0, 1_000)])
    return profiles


@pytest.mark.parametrize("make, act, error, message", [
    (full_profiles, lambda p: p.put("new", [(0, 500)]), NotAllowedNow,
     "save profile refused: already %d profiles (the most allowed); delete one first"
     % MAX_PROFILES),
    (BasalProfiles, lambda p: p.get("day"), InvalidValue,
     "profile: 'day' is not allowed; allowed: a saved profile: (none saved yet)"),
    (full_profiles, lambda p: p.get("day"), InvalidValue,
     "profile: 'day' is not allowed; allowed: a saved profile: "
     + ", ".join("p%d" % i for i in range(MAX_PROFILES))),
    (full_profiles, lambda p: p.delete("p0"), NotAllowedNow,
     "delete profile refused: p0 is the active profile"),
    (full_profiles, lambda p: p.rename("p1", "p2"), NotAllowedNow,
     "rename profile refused: p2 is already a profile"),
    (BasalProfiles, lambda p: p.current(), NotAllowedNow,
     "basal refused: no basal profile is set"),
])
def test_profile_refusals(make, act, error, message):
    profiles = make()
    before = (sorted(profiles.profiles), profiles.active)
    with pytest.raises(error) as raised:
        act(profiles)
    assert str(raised.value) == message
    assert (sorted(profiles.profiles), profiles.active) == before


def test_resume_waits_for_the_stop_alarm_and_says_which():
    from basalt.core.monitors import DEFAULT_ALARMS, PumpMonitor

    class Engine:
        class board:
            @staticmethod
            def usteps_for_mu(mu):
                return mu

    alarms = AlarmManager()
    alarms.raise_alarm(0, "occlusion")
    monitor = PumpMonitor(Engine(), alarms, DEFAULT_ALARMS, 0)
    with pytest.raises(NotAllowedNow) as raised:
        monitor.require_resumable()
    assert str(raised.value) == "resume refused: acknowledge the occlusion alarm first"


def test_battery_levels_out_of_order_are_refused():
    from basalt.core.errors import ConfigError
    from basalt.core.monitors import BatteryMonitor

    with pytest.raises(ConfigError) as raised:
        BatteryMonitor(3_000, 3_500, 3_200)
    assert str(raised.value) == ("battery: (3200, 3500, 3000) is not allowed; allowed: "
                                 "critical_mv < low_mv < full_mv (integers)")
