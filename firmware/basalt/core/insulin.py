"""The exponential insulin action model (Loop, oref0) and its integer table.

With peak tp and duration td in minutes (docs/references.md):

    tau = tp (1 - tp/td) / (1 - 2 tp/td),  a = 2 tau / td,
    S   = 1 / (1 - a + (1 + a) exp(-td/tau))
    iob(t) = 1 - S (1 - a) ((t^2 / (tau td (1 - a)) - t/tau - 1) exp(-t/tau) + 1)

for 0 <= t < td, and 0 from td on. Floats are used once, to build a per-minute table of
the insulin-on-board fraction in 1/16384ths; everything after that is integers, so an
IOB evaluation allocates nothing on MicroPython (where every float is a heap object).
"""

import math
from array import array

from basalt.core.check import int_in
from basalt.core.errors import InvalidValue
from basalt.core.units import MS_PER_MIN

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):
        return value


ONE = const(16384)  # the table's unit: a fraction of 1 in 1/16384ths (2**14)
SHIFT = const(14)

# (name, peak minutes) -- the presets Loop offers. What each is stays a comment: no
# firmware text shows it, and a string here cost heap on every board.
PRESETS = (
    ("rapid_adult", 75),  # rapid-acting, adults (lispro, aspart, glulisine)
    ("rapid_child", 65),  # rapid-acting, children
    ("ultra_rapid", 55),  # ultra-rapid (Fiasp, Lyumjev)
)
DURATION_MIN_MIN = 300  # oref0 forces at least 5 h
DURATION_MAX_MIN = 480
PEAK_MIN_MIN = 35
PEAK_MAX_MIN = 120


def preset_peak(name):
    for preset, peak in PRESETS:
        if preset == name:
            return peak
    raise InvalidValue("insulin type", name, "one of " + ", ".join(p[0] for p in PRESETS))


def iob_fraction(t_min, peak_min, duration_min):
    """The insulin still on board t minutes after a dose, as a float fraction (0..1)."""
    if t_min <= 0:
        return 1.0
    if t_min >= duration_min:
        return 0.0
    tau, square, scale = _left_factors(peak_min, duration_min)
    return _left(float(t_min), tau, square, scale)


def _left_factors(peak_min, duration_min):
    """(tau, tau x duration x (1 - a), s x (1 - a)): what _left() needs of a model,
    worked out once for a whole table."""
    tau, a, s = _shape(peak_min, duration_min)
    return tau, tau * float(duration_min) * (1 - a), s * (1 - a)


def _left(t, tau, square, scale):
    """The fraction left t minutes after a dose (0 < t < duration)."""
    return 1 - scale * ((t * t / square - t / tau - 1) * math.exp(-t / tau) + 1)


def activity_fraction(t_min, peak_min, duration_min):
    """The fraction of a dose acting per minute, t minutes after it (float)."""
    if t_min <= 0 or t_min >= duration_min:
        return 0.0
    tau, _, s = _shape(peak_min, duration_min)
    t = float(t_min)
    return s / (tau * tau) * t * (1 - t / duration_min) * math.exp(-t / tau)


def _shape(peak_min, duration_min):
    tp = float(peak_min)
    td = float(duration_min)
    tau = tp * (1 - tp / td) / (1 - 2 * tp / td)
    a = 2 * tau / td
    s = 1 / (1 - a + (1 + a) * math.exp(-td / tau))
    return tau, a, s


_RESTART_MIN = const(16)  # _table() restarts its steps from the formula this often


def _table(peak_min, duration_min):
    """An array of ONE, then per minute m round(ONE x _left(m)), ..., 0 at the duration
    and 0 past it.

    The values of _left() minute by minute (host_tests/test_iob.py compares them), in
    5 floats a minute, not 12: a float is a heap object on MicroPython, and every boot
    builds this table. ONE x _left(m) + 0.5 is written as k - poly(m) x decay(m), poly
    a quadratic in m stepped by its differences, decay = exp(-m / tau) stepped by one
    factor; both restart from the formula every _RESTART_MIN minutes, so that rounding
    in single-precision floats (rp2) cannot build up along the curve."""
    tau, square, scale = _left_factors(peak_min, duration_min)
    k = ONE * (1 - scale) + 0.5
    a = scale * ONE / square  # poly(m) = a m^2 - b m - c
    b = scale * ONE / tau
    c = scale * ONE
    bend = 2 * a  # poly's second difference
    step = math.exp(-1 / tau)
    table = array("H", bytes(2 * (duration_min + 2)))  # 2 bytes an entry, not a list's 4
    table[0] = ONE
    for minute in range(1, duration_min):
        if minute % _RESTART_MIN == 1:
            poly = (a * minute - b) * minute - c
            rise = a * (2 * minute + 1) - b  # poly(m + 1) - poly(m)
            decay = math.exp(-minute / tau)
        else:
            poly += rise
            rise += bend
            decay *= step
        table[minute] = int(k - poly * decay)
    return table


class InsulinModel:
    """An insulin's action curve as a table: iob_ppm16k(age_ms) in 1/16384ths, no floats.

    table[m] is the fraction left m whole minutes after a dose; between minutes the
    value is interpolated linearly with integers. table[duration] is 0.
    """

    def __init__(self, peak_min, duration_min):
        int_in("insulin duration", duration_min, DURATION_MIN_MIN, DURATION_MAX_MIN, "min")
        int_in("insulin peak", peak_min, PEAK_MIN_MIN, PEAK_MAX_MIN, "min")
        self.peak_min = peak_min
        self.duration_min = duration_min
        self.duration_ms = duration_min * MS_PER_MIN
        self.table = _table(peak_min, duration_min)

    def left(self, age_ms):
        """The fraction of a dose still on board age_ms after it, in 1/16384ths."""
        if age_ms <= 0:
            return ONE
        if age_ms >= self.duration_ms:
            return 0
        minute = age_ms // MS_PER_MIN
        within = age_ms - minute * MS_PER_MIN
        here = self.table[minute]
        return here - (here - self.table[minute + 1]) * within // MS_PER_MIN
