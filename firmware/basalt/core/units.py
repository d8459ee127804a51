"""Units and exact conversions. Insulin is U-100: 1 U = 10 uL.

Amounts are integer milliunits (mU), rates integer mU/h, time integer ms,
motor travel integer microsteps, volumes integer picolitres (pL).
"""

from basalt.core.check import ascii_digits
from basalt.core.errors import InvalidValue

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):
        return value


MS_PER_MIN = const(60_000)
MIN_PER_HOUR = const(60)
MS_PER_HOUR = const(3_600_000)
MS_PER_DAY = const(86_400_000)
MIN_PER_DAY = const(1_440)
_MU_PER_U = const(1_000)
SMALL_INT_MAX = const(0x3FFFFFFF)  # largest small int on 32-bit MicroPython
PL_PER_MU = const(10_000)  # 1 mU of U-100 insulin = 0.01 uL = 10,000 pL

# The time epoch: once the app's now_ms reaches REBASE_AT_MS (6.2 days) the clock and
# every stored time move back by REBASE_SHIFT_MS, so time stays a small int for years.
# The shift is whole days: minute, 5-min and hour buckets keep their alignment. Stored
# times older than TIME_FLOOR_MS stay there: then now - t (at most 2**29 + 2**28 plus a
# late tick) is a small int, and "at least 6.3 days ago" answers every comparison the
# pump makes (its longest interval is the 3-day site change).
REBASE_AT_MS = const(0x20000000)  # 2**29
REBASE_SHIFT_MS = const(259_200_000)  # 3 days
TIME_FLOOR_MS = const(-0x10000000)  # -2**28


def shifted(at_ms, shift_ms):
    """A stored absolute time after the clock moved back by shift_ms (None stays None)."""
    if at_ms is None:
        return None
    at_ms -= shift_ms
    return at_ms if at_ms > TIME_FLOOR_MS else TIME_FLOOR_MS


def shift_list(times, shift_ms):
    """shifted() applied in place to a list of times."""
    for i in range(len(times)):
        times[i] = shifted(times[i], shift_ms)


def fmt_milli(milli):
    """1500 -> '1.5', 10 -> '0.01', -250 -> '-0.25' (exact, no float)."""
    if not isinstance(milli, int) or isinstance(milli, bool):
        raise TypeError("fmt_milli takes an int, not %r" % (milli,))
    sign = "-" if milli < 0 else ""
    whole = abs(milli) // 1000  # not divmod: no tuple (the screens format every redraw)
    frac = abs(milli) % 1000
    if not frac:
        return "%s%d" % (sign, whole)
    return ("%s%d.%03d" % (sign, whole, frac)).rstrip("0")


def to_milli(field, value, unit):
    """A user's number of units (int, float or decimal text) as exact thousandths.

    Refuses bools, NaN, infinities, non-numbers and anything finer than 0.001.
    """
    if isinstance(value, bool):
        raise InvalidValue(field, value, "a number of " + unit)
    if isinstance(value, int):
        return value * 1000
    if isinstance(value, float):
        return _float_to_milli(field, value, unit)
    if isinstance(value, str):
        return _text_to_milli(field, value, unit)
    raise InvalidValue(field, value, "a number of " + unit)


def milli_in(field, value, lo, hi, step, unit):
    """to_milli, then a range and resolution check shown in the user's unit (its text
    built only for a refusal)."""
    try:
        milli = to_milli(field, value, unit)
    except InvalidValue as error:
        raise InvalidValue(field, value, error.allowed + ", " + _milli_span(lo, hi, step, unit))
    if milli < lo or milli > hi or milli % step:
        raise InvalidValue(field, value, _milli_span(lo, hi, step, unit))
    return milli


def _milli_span(lo, hi, step, unit):
    return "%s to %s %s in steps of %s %s" % (fmt_milli(lo), fmt_milli(hi), unit,
                                             fmt_milli(step), unit)


def _epsilon():
    """This interpreter's float epsilon: 2**-52 on CPython, 2**-23 on rp2's floats."""
    eps = 1.0
    while 1.0 + eps / 2 != 1.0:
        eps /= 2
    return eps


# Made once: on MicroPython each float a check makes is a heap object.
_TWICE_EPSILON = 2 * _epsilon()
_INF = float("inf")
_NEG_INF = float("-inf")


def _float_to_milli(field, value, unit):
    if value != value or value == _INF or value == _NEG_INF:
        raise InvalidValue(field, value, "a finite number of " + unit)
    if value > 1_000_000 or value < -1_000_000:
        raise InvalidValue(field, value, "a number of " + unit + " below 1000000")
    scaled = value * 1000
    milli = int(round(scaled))
    # value*1000 is off by at most ~1 epsilon relative (input and product rounding), so
    # twice that passes every float the user meant as 3 decimals, and nothing finer.
    if abs(scaled - milli) > max(1e-9, abs(scaled) * _TWICE_EPSILON):
        raise InvalidValue(field, value, "at most 3 decimals of " + unit)
    return milli


def _text_to_milli(field, value, unit):
    text = value.strip(" \t\r\n")  # ASCII blanks only, the same on both interpreters
    sign = 1
    if text[:1] in ("-", "+"):
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    if not ascii_digits(whole + frac) or len(whole) > 7:
        raise InvalidValue(field, value, "a decimal number of " + unit)
    if len(frac) > 3:
        raise InvalidValue(field, value, "at most 3 decimals of " + unit)
    milli = int(whole or "0") * 1000 + int((frac + "000")[:3])
    return sign * milli
