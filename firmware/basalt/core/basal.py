"""Basal profiles: up to 6 named 24-hour schedules of up to 48 segments.

A segment is (start minute, rate in mU/h) on a 30-minute grid; each runs until the
next one starts, the last until midnight, so the first must start at 00:00.
"""

from basalt.core.check import int_in, text
from basalt.core.errors import refused
from basalt.core.limits import MAX_PROFILES, MAX_RATE_MU_H
from basalt.core.schedule import (
    MAX_SEGMENTS,  # noqa: F401 (the profile limits live here too)
    Schedule,
    check_segments,
)
from basalt.core.units import MIN_PER_DAY, MS_PER_DAY, milli_in

try:
    from micropython import const
except ImportError:  # CPython (host tests)

    def const(value):
        return value


# Refusals (basalt.core.refusals' numbers): their texts are built only when raised.
_TOO_MANY_PROFILES = const(5)
_NO_SUCH_PROFILE = const(6)
_DELETE_ACTIVE = const(7)
_NAME_TAKEN = const(8)
_NO_PROFILE = const(9)


class BasalProfile(Schedule):
    def __init__(self, name, starts_min, rates_mu_h):
        Schedule.__init__(self, starts_min, rates_mu_h)
        self.name = name
        self.rates_mu_h = rates_mu_h

    def rate_at(self, day_ms):
        return self.rates_mu_h[self.index_at(day_ms)]

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


def make_profile(name, segments, field=None, problems=None):
    """Validate (start_minute, rate_mu_h) pairs into a BasalProfile.

    `field` names the profile in messages ("profile <name>" by default); with a
    `problems` list, every problem is collected there and None returned if any.
    """
    text("profile name", name, 1, 16)
    checked = check_segments(field or "profile %s" % name, segments, _rate,
                             "(start minute, rate mU/h)", problems)
    return None if checked is None else BasalProfile(name, checked[0], checked[1])


def rate_from_user(where, values):
    """A segment's rate in U/h as the user wrote it ([0.85]) -> mU/h."""
    return milli_in(where + " rate", values[0], 0, MAX_RATE_MU_H, 1, "U/h")


def _rate(where, rate):
    return int_in(where + " rate", rate, 0, MAX_RATE_MU_H, "mU/h")


class BasalProfiles:
    """The named profiles and which one is active."""

    def __init__(self):
        self.profiles = {}
        self.active = None

    def put(self, name, segments):
        profile = make_profile(name, segments)
        if name not in self.profiles and len(self.profiles) >= MAX_PROFILES:
            raise refused(_TOO_MANY_PROFILES, MAX_PROFILES)
        self.profiles[name] = profile
        if self.active is None:
            self.active = name
        return profile

    def get(self, name):
        text("profile name", name, 1, 16)
        if name not in self.profiles:
            names = ", ".join(sorted(self.profiles)) or "(none saved yet)"
            raise refused(_NO_SUCH_PROFILE, name, names)
        return self.profiles[name]

    def delete(self, name):
        self.get(name)
        if name == self.active:
            raise refused(_DELETE_ACTIVE, name)
        del self.profiles[name]

    def rename(self, name, new_name):
        profile = self.get(name)
        text("profile name", new_name, 1, 16)
        if new_name in self.profiles:
            raise refused(_NAME_TAKEN, new_name)
        del self.profiles[name]
        self.profiles[new_name] = BasalProfile(new_name, profile.starts_min, profile.rates_mu_h)
        if self.active == name:
            self.active = new_name

    def copy(self):
        """The same profiles in a separate table (profiles themselves never change)."""
        twin = BasalProfiles()
        twin.profiles = dict(self.profiles)
        twin.active = self.active
        return twin

    def current(self):
        if self.active is None:
            raise refused(_NO_PROFILE)
        return self.profiles[self.active]
