"""24-hour schedules on a 30-minute grid: the one rule for every time-segmented setting.

Basal profiles, carb ratios, sensitivities and target ranges are each a list of
segments (start minute, value). A segment runs until the next one starts, the last
until midnight, so the first must start at 00:00; starts are on the half hour, sorted
and never repeated; 1 to 48 segments.
"""

from basalt.core.check import is_int
from basalt.core.errors import InvalidValue
from basalt.core.units import MIN_PER_DAY, MS_PER_MIN

MAX_SEGMENTS = 48
GRID_MIN = 30


class Schedule:
    """Validated segments: starts_min[i] (minutes after midnight) and values[i]."""

    def __init__(self, starts_min, values):
        self.starts_min = starts_min
        self.values = values

    def segments(self):
        return list(zip(self.starts_min, self.values))

    def index_at(self, day_ms):
        minute = day_ms // MS_PER_MIN
        i = len(self.starts_min) - 1
        while self.starts_min[i] > minute:
            i -= 1
        return i

    def value_at(self, day_ms):
        return self.values[self.index_at(day_ms)]

    def ms_to_next_change(self, day_ms):
        """Milliseconds from day_ms to the next segment start (midnight wraps to 00:00)."""
        i = self.index_at(day_ms) + 1
        end_min = self.starts_min[i] if i < len(self.starts_min) else MIN_PER_DAY
        return end_min * MS_PER_MIN - day_ms


def check_segments(field, segments, check_value, shape, problems=None):
    """(start minute, value) pairs -> (starts, values) tuples, or InvalidValue.

    check_value(where, value) validates one value, a pure check ("<field> segment 3"
    is `where` in its refusal; a value that passes is checked under the bare field);
    `shape` describes one segment for messages, e.g. "(start minute, rate mU/h)".
    With a `problems` list every problem is appended to it (and None returned if there
    was any) instead of raising the first.
    """
    if not isinstance(segments, (list, tuple)) or not 1 <= len(segments) <= MAX_SEGMENTS:
        return _problem(problems, InvalidValue(field + " segments", _count(segments),
                                               "1 to %d segments" % MAX_SEGMENTS))
    starts = []
    values = []
    failed = False
    for i, segment in enumerate(segments):
        try:
            start, value = _segment(field, i, segment, starts, check_value, shape)
        except InvalidValue as error:
            _problem(problems, error)
            failed = True
            continue
        starts.append(start)
        values.append(value)
    return None if failed else (tuple(starts), tuple(values))


def _segment(field, i, segment, starts, check_value, shape):
    if not isinstance(segment, (list, tuple)) or len(segment) != 2:
        raise InvalidValue(_where(field, i), segment, "a pair " + shape)
    start = segment[0]
    if not is_int(start) or not 0 <= start < MIN_PER_DAY or start % GRID_MIN:
        shown = hhmm(start) if is_int(start) and 0 <= start < MIN_PER_DAY else start
        raise InvalidValue(_where(field, i) + " start", shown,
                           "00:00 to 23:30 on the half hour")
    if i == 0 and start != 0:
        raise InvalidValue(_where(field, i) + " start", hhmm(start), "00:00 (the first "
                           "segment starts at midnight so the schedule covers 24 h)")
    if starts and start <= starts[-1]:
        raise InvalidValue(_where(field, i) + " start", hhmm(start), "after %s (segments "
                           "sorted, not overlapping)" % hhmm(starts[-1]))
    return start, _named(check_value, field, i, segment[1])


def _where(field, i):
    return "%s segment %d" % (field, i + 1)


def _named(check, field, i, value):
    """check(where, value) for segment i of field, its name ("<field> segment 3") built
    only for a refusal: a value is checked under the bare field name, and a refused one
    again under the segment's name (the checks are pure), which raises that error."""
    try:
        return check(field, value)
    except InvalidValue:
        return check(_where(field, i), value)


def segments_from_user(field, segments, width, convert, shape, problems=None):
    """[['HH:MM', v1, ...], ...] in user units -> [(minute, convert(where, [v1, ...]))].

    convert is pure, as check_segments' check_value (named the same way).
    `width` is how many values follow the start; `shape` shows one segment, e.g.
    "[HH:MM, U/h]". Grid and order are checked afterwards by check_segments.
    With a `problems` list every problem is collected there; a value that failed is
    then None in its pair (so the starts can still be checked), and the whole result
    is None if a segment or its start could not be read.
    """
    if not isinstance(segments, list):
        return _problem(problems, InvalidValue(field + " segments", segments,
                                               "a list of " + shape))
    out = []
    readable = True
    for i, segment in enumerate(segments):
        try:
            if not isinstance(segment, list) or len(segment) != width + 1:
                raise InvalidValue(_where(field, i), segment,
                                   ("a pair " if width == 1 else "a list ") + shape)
            start = _clock(segment[0])
            if start < 0:
                parse_clock(_where(field, i) + " start", segment[0])  # raises, named
        except InvalidValue as error:
            _problem(problems, error)
            readable = False
            continue
        try:
            value = _named(convert, field, i, segment[1:])
        except InvalidValue as error:
            _problem(problems, error)
            value = None
        out.append((start, value))
    return out if readable else None


def _problem(problems, error):
    """Raise the error, or note it in the problems list and return None."""
    if problems is None:
        raise error
    problems.append(error)
    return None


def parse_clock(field, value):
    """'HH:MM' -> minutes after midnight."""
    minute = _clock(value)
    if minute < 0:
        raise InvalidValue(field, value, "a time of day 'HH:MM' from 00:00 to 23:59")
    return minute


def _clock(value):
    """'HH:MM' -> minutes after midnight, or -1: read a character at a time (a slice
    would be a new string on MicroPython, and a settings file has dozens of times).
    Only ASCII digits (str.isdigit() also takes other scripts' digits)."""
    if not isinstance(value, str) or len(value) != 5 or value[2] != ":":
        return -1
    digits = 0
    for i in (0, 1, 3, 4):
        digit = ord(value[i]) - 48
        if not 0 <= digit <= 9:
            return -1
        digits = digits * 10 + digit
    if digits // 100 >= 24 or digits % 100 >= 60:
        return -1
    return digits // 100 * 60 + digits % 100


def hhmm(minute):
    return "%02d:%02d" % (minute // 60, minute % 60)


def _count(segments):
    return len(segments) if isinstance(segments, (list, tuple)) else segments
