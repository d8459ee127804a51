"""The 48-hour delivery history both IOB benchmarks (CPython and MicroPython) evaluate."""

from basalt.core.insulin import InsulinModel
from basalt.core.iob import IobTracker

M = 60_000


def history_48h(duration_min):
    """A tracker after 48 h: basal off schedule every minute, a bolus every 3 hours."""
    iob = IobTracker(InsulinModel(75, duration_min))
    for minute in range(48 * 60):
        iob.add_basal(minute * M + 17_000, 15 + minute % 7, 16)
        if minute % 180 == 90:
            iob.add_bolus(minute * M + 5_000, 4_000)
    return iob
