"""Basal profiles: up to 6 named 24-hour schedules of up to 48 segments.

A segment is (start minute, rate in mU/h) on a 30-minute grid; each runs until the
next one starts, the last until midnight, so the first must start at 00:00.
"""

from basalt.core.check import int_in, is_int, text
from basalt.core.errors import InvalidValue, NotAllowedNow
from basalt.core.units import MIN_PER_DAY, MS_PER_DAY, MS_PER_MIN

MAX_PROFILES = 6
MAX_SEGMENTS = 48
GRID_MIN = 30
MAX_RATE_MU_H = 30_000  # 30 U/h


class BasalProfile:
    def __init__(self, name, starts_min, rates_mu_h):
        self.name = name
        self.starts_min = starts_min
        self.rates_mu_h = rates_mu_h

    def segments(self):
        return list(zip(self.starts_min, self.rates_mu_h))

    def index_at(self, day_ms):
        minute = day_ms // MS_PER_MIN
        i = len(self.starts_min) - 1
        while self.starts_min[i] > minute:
            i -= 1
        return i

    def rate_at(self, day_ms):
        return self.rates_mu_h[self.index_at(day_ms)]

    def ms_to_next_change(self, day_ms):
        """Milliseconds from day_ms to the next segment start (midnight wraps to 00:00)."""
        i = self.index_at(day_ms) + 1
        end_min = self.starts_min[i] if i < len(self.starts_min) else MIN_PER_DAY
        return end_min * MS_PER_MIN - day_ms

    def max_rate_over(self, day_ms, duration_ms):
        """Highest scheduled rate in [day_ms, day_ms + duration_ms)."""
        highest = 0
        while duration_ms > 0:
            highest = max(highest, self.rate_at(day_ms))
            span = self.ms_to_next_change(day_ms)
            duration_ms -= span
            day_ms = (day_ms + span) % MS_PER_DAY
        return highest

    def daily_total_mu(self):
        """Scheduled insulin over 24 h, rounded down to whole mU."""
        total = 0
        ends = list(self.starts_min[1:]) + [MIN_PER_DAY]
        for start, end, rate in zip(self.starts_min, ends, self.rates_mu_h):
            total += rate * (end - start)
        return total // 60


def make_profile(name, segments):
    """Validate (start_minute, rate_mu_h) pairs into a BasalProfile."""
    text("profile name", name, 1, 16)
    field = "profile %s" % name
    if not isinstance(segments, (list, tuple)) or not 1 <= len(segments) <= MAX_SEGMENTS:
        raise InvalidValue(field + " segments", _count(segments),
                           "1 to %d segments" % MAX_SEGMENTS)
    starts = []
    rates = []
    for i, segment in enumerate(segments):
        where = "%s segment %d" % (field, i + 1)
        if not isinstance(segment, (list, tuple)) or len(segment) != 2:
            raise InvalidValue(where, segment, "a pair (start minute, rate mU/h)")
        start = segment[0]
        if not is_int(start) or not 0 <= start < MIN_PER_DAY or start % GRID_MIN:
            shown = hhmm(start) if is_int(start) and 0 <= start < MIN_PER_DAY else start
            raise InvalidValue(where + " start", shown, "00:00 to 23:30 on the half hour")
        if i == 0 and start != 0:
            raise InvalidValue(where + " start", hhmm(start), "00:00 (the first segment "
                               "starts at midnight so the profile covers 24 h)")
        if i and start <= starts[-1]:
            raise InvalidValue(where + " start", hhmm(start), "after %s (segments sorted, "
                               "not overlapping)" % hhmm(starts[-1]))
        starts.append(start)
        rates.append(int_in(where + " rate", segment[1], 0, MAX_RATE_MU_H, "mU/h"))
    return BasalProfile(name, tuple(starts), tuple(rates))


class BasalProfiles:
    """The named profiles and which one is active."""

    def __init__(self):
        self.profiles = {}
        self.active = None

    def put(self, name, segments):
        profile = make_profile(name, segments)
        if name not in self.profiles and len(self.profiles) >= MAX_PROFILES:
            raise NotAllowedNow("save profile", "already %d profiles (the most allowed); "
                                "delete one first" % MAX_PROFILES)
        self.profiles[name] = profile
        if self.active is None:
            self.active = name
        return profile

    def get(self, name):
        text("profile name", name, 1, 16)
        if name not in self.profiles:
            names = ", ".join(sorted(self.profiles)) or "(none saved yet)"
            raise InvalidValue("profile", name, "a saved profile: " + names)
        return self.profiles[name]

    def delete(self, name):
        self.get(name)
        if name == self.active:
            raise NotAllowedNow("delete profile", "%s is the active profile" % name)
        del self.profiles[name]

    def current(self):
        if self.active is None:
            raise NotAllowedNow("basal", "no basal profile is set")
        return self.profiles[self.active]


def hhmm(minute):
    return "%02d:%02d" % (minute // 60, minute % 60)


def _count(segments):
    return len(segments) if isinstance(segments, (list, tuple)) else segments
