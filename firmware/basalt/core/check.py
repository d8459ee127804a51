"""Strict value checks shared by commands, the board schema and (later) settings.

Each check returns the value or raises InvalidValue naming field, value and range.
Numbers are never coerced: a bool is not an int, a float is not an int, NaN is refused.
"""

from basalt.core.errors import ConfigError, InvalidValue


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value):
    if isinstance(value, bool):
        return False
    if is_int(value):
        return True
    # NaN is the only float that differs from itself; infinities fail range checks.
    return isinstance(value, float) and value == value


def int_in(field, value, lo, hi, unit="", step=1, error=InvalidValue):
    """An int in [lo, hi] that is a multiple of `step` (the range's text is built only
    for a refusal: a passing check allocates nothing)."""
    if not is_int(value) or value < lo or value > hi or value % step:
        raise error(field, value, _span(lo, hi, unit, step))
    return value


def number_in(field, value, lo, hi, unit="", error=InvalidValue):
    """An int or finite float in [lo, hi]."""
    if not is_number(value) or value < lo or value > hi:
        raise error(field, value, _span(lo, hi, unit, None))
    return value


def one_of(field, value, choices, error=InvalidValue):
    """One of the choices, of the same type (16.0 is not 16, True is not 1)."""
    if type(value) is not type(choices[0]) or value not in choices:
        raise error(field, value, "one of " + ", ".join(str(c) for c in choices))
    return value


def flag(field, value, error=InvalidValue):
    if not isinstance(value, bool):
        raise error(field, value, "true or false")
    return value


def text(field, value, min_len, max_len, error=InvalidValue):
    """Printable ASCII text of bounded length (what the OLED font can show)."""
    ok = isinstance(value, str) and min_len <= len(value) <= max_len
    if ok:
        for ch in value:
            if not " " <= ch <= "~":
                ok = False
                break
    if not ok:
        raise error(field, value, "%d to %d printable characters" % (min_len, max_len))
    return value


def exact_keys(path, obj, required, optional=(), error=ConfigError):
    """A dict with every required key and no key outside required + optional."""
    if not isinstance(obj, dict):
        raise error(path or "(top)", obj, "a table of keys",
                    "a %s where a table of keys belongs" % type(obj).__name__)
    for key in obj:
        if key not in required and key not in optional:
            allowed = ", ".join(sorted(list(required) + list(optional)))
            raise error(_join(path, key), key, "keys " + allowed, "unknown key")
    for key in required:
        if key not in obj:
            raise error(_join(path, key), None, "a value is required", "missing")
    return obj


def ascii_digits(text_):
    """Only 0-9: str.isdigit() also accepts other scripts' digits and superscripts."""
    if not text_:
        return False
    for ch in text_:
        if not "0" <= ch <= "9":
            return False
    return True


def _join(path, key):
    return path + "." + str(key) if path else str(key)


def _span(lo, hi, unit, step):
    unit = " " + unit if unit else ""
    text_ = "%s to %s%s" % (lo, hi, unit)
    if step and step != 1:
        text_ += " in steps of %s" % step
    elif step == 1:
        text_ += " (whole numbers)"
    return text_
