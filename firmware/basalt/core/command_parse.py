"""Commands as plain data in the user's units ({"cmd": "bolus", "units": 2.5}: the REPL,
files, host tools over USB) turned into the pump's units for basalt.core.commands.
Imported when such a command first arrives: the buttons and the loop send values in the
pump's units and never need it."""

from basalt.core import schedule
from basalt.core.basal import rate_from_user
from basalt.core.commands import CLOCK, MILLI, SEGMENTS, check, check_keys, lookup
from basalt.core.errors import InvalidValue
from basalt.core.schedule import parse_clock
from basalt.core.units import MS_PER_MIN, to_milli


def parse(cmd):
    """Plain data in the user's units -> (name, values in the pump's units, the values as
    given), keys and conversions checked; the ranges are checked by check()."""
    command = lookup(cmd)
    values, shown = values_from_user(command, cmd)
    return command.name, values, shown


def validate(cmd):
    """Plain data checked all the way (keys, conversions, ranges) without running it:
    (name, values in the pump's units)."""
    name, values, shown = parse(cmd)
    check(name, values, shown)
    return name, values


def values_from_user(command, cmd):
    """(values in the pump's units, the values as given) of a plain-data command."""
    name = command.name
    check_keys(command, cmd)
    values = {}
    shown = {}
    for field in command.fields:
        if field.key in cmd:
            values[field.key] = _from_user(field, name + " " + field.key, cmd)
            shown[field.key] = cmd[field.key]
    return values, shown


def _from_user(field, where, cmd):
    """A user's value in the pump's units (conversion only; check() is the range)."""
    value = cmd[field.key]
    kind = field.kind
    if kind == MILLI:
        try:
            return to_milli(where, value, field.unit)
        except InvalidValue as error:
            raise InvalidValue(where, value, error.allowed + ", " + field.allowed())
    if kind == CLOCK:
        return parse_clock(where, value) * MS_PER_MIN
    if kind == SEGMENTS:  # its messages name the profile
        return segments_from_user(cmd.get("name"), value)
    return value


def segments_from_user(name, segments):
    """[['00:00', 0.8], ['06:00', 1.2], ...] (U/h) -> [(0, 800), (360, 1200), ...]."""
    return schedule.segments_from_user("profile %s" % name, segments, 1, rate_from_user,
                                       "[HH:MM, U/h]")
