"""Basal profiles: validation, lookups at segment boundaries, and the 24-hour sums.

A profile is up to 48 (start minute, rate mU/h) segments on a 30-minute grid, sorted,
the first at 00:00; each runs until the next starts, the last until midnight.
"""


import pytest
from hypothesis import given
from hypothesis import strategies as st

from basalt.core.basal import MAX_SEGMENTS, BasalProfiles, make_profile
from basalt.core.command_engine import apply
from basalt.core.delivery import DeliveryEngine
from basalt.core.errors import InvalidValue, NotAllowedNow
from basalt.core.limits import MAX_PROFILES, MAX_RATE_MU_H
from basalt.core.units import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN
from tools import boardfiles
from tools.fakes import FakeIob, open_limits

H = MS_PER_HOUR
M = MS_PER_MIN
DAY = [(0, 800), (360, 1200), (720, 1000), (1080, 900)]  # 00:00 06:00 12:00 18:00
FULL = [(i * 30, i * 500) for i in range(48)]  # every half hour, 0 to 23.5 U/h


def test_limits_are_the_documented_ones():
    assert (MAX_PROFILES, MAX_SEGMENTS, MAX_RATE_MU_H) == (6, 48, 30_000)


# ----- make_profile: valid shapes -------------------------------------------------------

VALID = [
    ("single-midnight-segment", [(0, 800)]),
    ("single-zero-rate", [(0, 0)]),
    ("single-max-rate", [(0, 30_000)]),
    ("four-segments", DAY),
    ("tuples-of-tuples", tuple(DAY)),
    ("lists-of-lists", [list(s) for s in DAY]),
    ("last-at-23:30", [(0, 800), (1410, 30_000)]),
    ("full-48", FULL),
]


@pytest.mark.parametrize("segments", [s for _, s in VALID], ids=[i for i, _ in VALID])
def test_make_profile_accepts(segments):
    profile = make_profile("Day", segments)
    assert profile.name == "Day"
    assert profile.segments() == [tuple(s) for s in segments]
    assert profile.starts_min == tuple(s[0] for s in segments)
    assert profile.rates_mu_h == tuple(s[1] for s in segments)


# ----- make_profile: refused ------------------------------------------------------------

F = "profile Day"
HALF_HOURS = "00:00 to 23:30 on the half hour"
INVALID = [
    ("no-segments", "Day", [], F + " segments", "0", "1 to 48 segments"),
    ("not-a-list", "Day", "00:00", F + " segments", "'00:00'", "1 to 48 segments"),
    ("49-segments", "Day", FULL + [(1439, 1)], F + " segments", "49", "1 to 48 segments"),
    ("segment-not-a-pair", "Day", [(0,)], F + " segment 1", "(0,)", "a pair"),
    ("segment-a-number", "Day", [0], F + " segment 1", "0", "a pair"),
    # starts: order problems are shown as clock times, range problems as the value given
    ("first-not-midnight", "Day", [(30, 800)], F + " segment 1 start", "'00:30'",
     "00:00 (the first segment starts at midnight"),
    ("unsorted", "Day", [(0, 1), (720, 1), (360, 1)], F + " segment 3 start", "'06:00'",
     "after 12:00"),
    ("duplicate-start", "Day", [(0, 1), (360, 1), (360, 2)], F + " segment 3 start",
     "'06:00'", "after 06:00"),
    ("off-grid", "Day", [(0, 1), (45, 1)], F + " segment 2 start", "'00:45'", HALF_HOURS),
    ("start-1440", "Day", [(0, 1), (1440, 1)], F + " segment 2 start", "1440", HALF_HOURS),
    ("start-negative", "Day", [(-30, 1)], F + " segment 1 start", "-30", HALF_HOURS),
    ("start-float", "Day", [(0.0, 1)], F + " segment 1 start", "0.0", HALF_HOURS),
    ("start-bool", "Day", [(False, 1)], F + " segment 1 start", "False", HALF_HOURS),
    ("rate-over-30U/h", "Day", [(0, 30_001)], F + " segment 1 rate", "30001",
     "0 to 30000 mU/h"),
    ("rate-negative", "Day", [(0, -1)], F + " segment 1 rate", "-1", "0 to 30000 mU/h"),
    ("rate-float", "Day", [(0, 800.5)], F + " segment 1 rate", "800.5", "0 to 30000 mU/h"),
    ("rate-nan", "Day", [(0, float("nan"))], F + " segment 1 rate", "nan",
     "0 to 30000 mU/h"),
    ("rate-bool", "Day", [(0, True)], F + " segment 1 rate", "True", "0 to 30000 mU/h"),
    ("rate-text", "Day", [(0, "800")], F + " segment 1 rate", "'800'", "0 to 30000 mU/h"),
    ("name-empty", "", DAY, "profile name", "''", "1 to 16 printable characters"),
    ("name-17-chars", "A" * 17, DAY, "profile name", "'" + "A" * 17 + "'",
     "1 to 16 printable characters"),
    ("name-non-ascii", "Ni\u00f1o", DAY, "profile name", "'Ni\u00f1o'",
     "1 to 16 printable characters"),
    ("name-not-text", 7, DAY, "profile name", "7", "1 to 16 printable characters"),
]


@pytest.mark.parametrize("name, segments, field, value, allowed",
                         [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_make_profile_refuses(name, segments, field, value, allowed):
    with pytest.raises(InvalidValue) as info:
        make_profile(name, segments)
    message = str(info.value)
    assert message.startswith(f"{field}: {value} is not allowed; allowed: "), message
    assert allowed in message, message


# ----- BasalProfiles ------------------------------------------------------------------


def test_first_saved_profile_becomes_active_and_others_do_not():
    profiles = BasalProfiles()
    with pytest.raises(NotAllowedNow, match="no basal profile is set"):
        profiles.current()
    profiles.put("Day", DAY)
    profiles.put("Night", [(0, 500)])
    assert profiles.active == "Day"
    assert profiles.current().name == "Day"
    assert profiles.get("Night").rates_mu_h == (500,)


def test_seventh_profile_is_refused_but_replacing_one_of_six_is_not():
    profiles = BasalProfiles()
    for i in range(MAX_PROFILES):
        profiles.put(f"P{i}", [(0, 100 * i)])
    with pytest.raises(NotAllowedNow, match="already 6 profiles"):
        profiles.put("P6", [(0, 100)])
    assert sorted(profiles.profiles) == [f"P{i}" for i in range(6)]
    profiles.put("P3", [(0, 1234)])  # replaces: still 6
    assert profiles.get("P3").rates_mu_h == (1234,)
    profiles.delete("P5")
    profiles.put("P6", [(0, 100)])
    assert len(profiles.profiles) == MAX_PROFILES


def test_an_invalid_replacement_keeps_the_old_profile():
    profiles = BasalProfiles()
    profiles.put("Day", DAY)
    with pytest.raises(InvalidValue):
        profiles.put("Day", [(0, 800), (360, 40_000)])
    assert profiles.get("Day").segments() == DAY


def test_unknown_and_active_profiles_cannot_be_deleted():
    profiles = BasalProfiles()
    profiles.put("Day", DAY)
    profiles.put("Night", [(0, 500)])
    with pytest.raises(InvalidValue) as info:
        profiles.delete("Gone")
    assert str(info.value) == ("profile: 'Gone' is not allowed; "
                               "allowed: a saved profile: Day, Night")
    with pytest.raises(NotAllowedNow) as info:
        profiles.delete("Day")
    assert str(info.value) == "delete profile refused: Day is the active profile"
    assert sorted(profiles.profiles) == ["Day", "Night"]
    profiles.delete("Night")
    assert sorted(profiles.profiles) == ["Day"]


# ----- lookups at boundaries --------------------------------------------------------------

PROFILE = make_profile("Day", DAY)
LAST_MS = MS_PER_DAY - 1  # 23:59:59.999

AT = [
    # (id, day_ms, index, rate, ms to next change)
    ("00:00", 0, 0, 800, 6 * H),
    ("00:00:00.001", 1, 0, 800, 6 * H - 1),
    ("05:59:59.999", 6 * H - 1, 0, 800, 1),
    ("06:00", 6 * H, 1, 1200, 6 * H),
    ("06:00:00.001", 6 * H + 1, 1, 1200, 6 * H - 1),
    ("06:29:59.999", 6 * H + 30 * M - 1, 1, 1200, 5 * H + 30 * M + 1),
    ("11:59:59.999", 12 * H - 1, 1, 1200, 1),
    ("12:00", 12 * H, 2, 1000, 6 * H),
    ("17:59:59.999", 18 * H - 1, 2, 1000, 1),
    ("18:00", 18 * H, 3, 900, 6 * H),
    ("18:00:00.001", 18 * H + 1, 3, 900, 6 * H - 1),
    ("23:59:59.999", LAST_MS, 3, 900, 1),
]


@pytest.mark.parametrize("day_ms, index, rate, to_next", [a[1:] for a in AT],
                         ids=[a[0] for a in AT])
def test_lookups_at_boundaries(day_ms, index, rate, to_next):
    assert PROFILE.index_at(day_ms) == index
    assert PROFILE.rate_at(day_ms) == rate
    assert PROFILE.ms_to_next_change(day_ms) == to_next


@pytest.mark.parametrize("day_ms", [0, 12 * H, LAST_MS], ids=["00:00", "12:00", "23:59:59.999"])
def test_single_segment_runs_until_midnight(day_ms):
    profile = make_profile("Flat", [(0, 700)])
    assert profile.index_at(day_ms) == 0
    assert profile.rate_at(day_ms) == 700
    assert profile.ms_to_next_change(day_ms) == MS_PER_DAY - day_ms


def test_full_48_segment_profile_changes_every_half_hour():
    profile = make_profile("Full", FULL)
    for i in range(48):
        start = i * 30 * M
        assert profile.index_at(start) == i
        assert profile.rate_at(start + 30 * M - 1) == i * 500
        assert profile.ms_to_next_change(start) == 30 * M
        assert profile.ms_to_next_change(start + 30 * M - 1) == 1


# ----- max_rate_over ----------------------------------------------------------------

# 2 U/h 00:00-01:00, 0.5 U/h 01:00-23:00, 0.7 U/h 23:00-24:00.
NIGHT_PEAK = make_profile("Peak", [(0, 2000), (60, 500), (1380, 700)])

MAX_OVER = [
    ("23:30-for-1h-crosses-midnight", 23 * H + 30 * M, H, 2000),
    ("23:00-for-30min", 23 * H, 30 * M, 700),
    ("22:00-for-1h-ends-at-a-start", 22 * H, H, 500),
    ("22:00-for-1h-and-1ms", 22 * H, H + 1, 700),
    ("23:59:59.999-for-1ms", LAST_MS, 1, 700),
    ("23:59:59.999-for-2ms", LAST_MS, 2, 2000),
    ("01:00-for-22h", H, 22 * H, 500),
    ("01:00-for-24h-wraps-to-00:00", H, 24 * H, 2000),
    ("00:30-for-48h", 30 * M, 48 * H, 2000),
    ("zero-duration", 12 * H, 0, 0),
]


@pytest.mark.parametrize("day_ms, duration, highest", [c[1:] for c in MAX_OVER],
                         ids=[c[0] for c in MAX_OVER])
def test_max_rate_over(day_ms, duration, highest):
    assert NIGHT_PEAK.max_rate_over(day_ms, duration) == highest


# ----- daily_total_mu ------------------------------------------------------------------

TOTALS = [
    # 6 h each at 0.8, 1.2, 1.0, 0.9 U/h = 4.8 + 7.2 + 6.0 + 5.4 = 23.4 U
    ("four-segments", DAY, 23_400),
    ("flat-1U/h", [(0, 1000)], 24_000),
    ("zero", [(0, 0)], 0),
    ("max-30U/h", [(0, 30_000)], 720_000),
    # 1 U/h for 1 h, 0.5 U/h for 22 h, 0.7 U/h for 1 h = 1 + 11 + 0.7 = 12.7 U
    ("night-peak", [(0, 2000), (60, 500), (1380, 700)], 2000 + 11_000 + 700),
    # 0.001 U/h for 30 min + 0.002 U/h for 23.5 h = 0.0005 + 0.047 = 0.0475 U -> 47 mU
    ("rounds-down", [(0, 1), (30, 2)], 47),
    # 48 half hours at 0, 0.5, ... 23.5 U/h: 0.5 h x 0.5 U/h x (0 + 1 + ... + 47) = 282 U
    ("full-48", FULL, 282_000),
]


@pytest.mark.parametrize("segments, total", [t[1:] for t in TOTALS],
                         ids=[t[0] for t in TOTALS])
def test_daily_total_mu(segments, total):
    assert make_profile("T", segments).daily_total_mu() == total


# ----- properties -----------------------------------------------------------------------


@st.composite
def profiles(draw):
    starts = sorted(draw(st.sets(st.integers(1, 47), max_size=47)))
    rates = draw(st.lists(st.integers(0, MAX_RATE_MU_H), min_size=len(starts) + 1,
                          max_size=len(starts) + 1))
    return make_profile("H", [(0, rates[0])] + [(s * 30, r) for s, r in zip(starts, rates[1:])])


day_times = st.integers(0, MS_PER_DAY - 1)


@given(profiles(), day_times, st.data())
def test_next_change_lands_on_a_start_and_the_rate_is_constant_until_then(profile, day_ms,
                                                                          data):
    to_next = profile.ms_to_next_change(day_ms)
    assert 0 < to_next <= MS_PER_DAY - day_ms
    end = day_ms + to_next
    starts_ms = [s * MS_PER_MIN for s in profile.starts_min]
    assert end == MS_PER_DAY or end in starts_ms
    # No segment starts strictly inside (day_ms, end).
    assert not [s for s in starts_ms if day_ms < s < end]
    i = profile.index_at(day_ms)
    inside = data.draw(st.integers(day_ms, end - 1))
    for t in (day_ms, inside, end - 1):
        assert profile.index_at(t) == i
        assert profile.rate_at(t) == profile.rates_mu_h[i]
    if end < MS_PER_DAY:
        assert profile.index_at(end) == i + 1
    assert starts_ms[i] <= day_ms


@given(profiles(), day_times, st.integers(1, 3 * MS_PER_DAY))
def test_max_rate_over_is_the_highest_segment_touched(profile, day_ms, duration):
    # Independent: the segment at day_ms plus every segment starting inside the window.
    touched = {profile.rate_at(day_ms)}
    for start_min, rate in profile.segments():
        for day in range(4):
            t = start_min * MS_PER_MIN + day * MS_PER_DAY
            if day_ms < t < day_ms + duration:
                touched.add(rate)
    assert profile.max_rate_over(day_ms, duration) == max(touched)


@given(profiles())
def test_daily_total_is_the_sum_of_segment_integrals(profile):
    ends = list(profile.starts_min[1:]) + [24 * 60]
    exact_mu_min = sum(r * (e - s) for s, e, r in
                       zip(profile.starts_min, ends, profile.rates_mu_h))
    total = profile.daily_total_mu()
    assert total * 60 <= exact_mu_min < (total + 1) * 60


# ----- editing the active profile in a running engine -----------------------------------


def _sim_board():
    return boardfiles.load("sim")


def _flat_engine():
    engine = DeliveryEngine(_sim_board(), 0, open_limits(), FakeIob())
    engine.set_profile(0, "Day", [(0, 800)])
    engine.new_reservoir(0, 200_000)
    engine.resume(0)
    engine.tick(0)
    return engine


def test_replacing_the_active_profile_takes_effect_from_now_not_from_the_last_tick():
    edited, twin = _flat_engine(), _flat_engine()
    apply(edited, 30 * M, {"cmd": "set_profile", "name": "Day", "segments": [["00:00", 30]]})
    # 30 min at 0.8 U/h = 0.4 U = 276 whole microsteps of 14,473 pL.
    assert twin.tick(30 * M) == 276
    assert edited.tick(30 * M) == 276
    # From then on the new rate: 0.4 U + 30 min at 30 U/h = 15.4 U = 10,640 microsteps in all.
    assert edited.tick(60 * M) == 10_640 - 276
    assert twin.tick(60 * M) == 552 - 276  # 0.8 U in the hour


def test_an_unknown_profile_when_none_is_saved_says_so():
    with pytest.raises(InvalidValue) as info:
        BasalProfiles().get("Day")
    assert str(info.value) == ("profile: 'Day' is not allowed; "
                               "allowed: a saved profile: (none saved yet)")
