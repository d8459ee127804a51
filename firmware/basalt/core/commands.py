"""The one command table: every command the pump takes, declared once.

Each Command names its fields (key, kind, unit, range), the guards that must hold
before it runs, and its handler ("part.method", called with now_ms and the values in
field order). The REPL, the simulator, host tools, the loop and the menus all enter
through Dispatcher.run(); the range of every field is checked in Field.check() and
nowhere else, and the menus' number screens read their bounds from the same fields.

Two forms reach the table:
    {"cmd": "bolus", "units": 2.5}        plain data in the user's units (REPL, files)
    ("bolus", {"units": 2500})            values in the pump's units (menus, the loop):
                                          mU, mU/h, minutes; never turned into text
Unknown keys, missing keys and bad values are refused before anything is changed.
"""

from basalt import call_and_forget
from basalt.core.alarms import check_code
from basalt.core.check import _span, exact_keys, is_int, one_of, text
from basalt.core.errors import InvalidValue
from basalt.core.limits import FILL_MAX_MU
from basalt.core.units import MS_PER_DAY, MS_PER_MIN, fmt_milli

try:
    from micropython import const
except ImportError:  # CPython (host tests)

    def const(value):
        return value

# Field kinds: how a user's value becomes the pump's.
MILLI = "milli"  # a number of units (int, float or exact decimal text) -> thousandths
WHOLE = "whole"  # an int in its unit (min, %, g)
CHOICE = "choice"  # one of a tuple of strings
NAME = "name"  # a profile name: 1-16 printable characters
CLOCK = "clock"  # "HH:MM" -> ms after midnight
SEGMENTS = "segments"  # [["HH:MM", U/h], ...] -> [(minute, mU/h), ...]
ALARM = "alarm"  # an alarm code
TABLE = "table"  # a JSON table, checked by its own schema (settings)

# Guards: state rules a command may need, each checked in Dispatcher._guard().
ACK = "ack"  # the boot screen was acknowledged
DELIVERING = "delivering"  # delivery is not stopped
ALARMS_ACKED = "alarms_acked"  # no unacknowledged alarm that stopped delivery
STATE_KNOWN = "state_known"  # the restart knew the pump's state and the settings are valid

SYRINGE = "syringe"  # a field bound: the board's syringe capacity

# Refusals by number: the texts are basalt.core.command_list's, built only on refusal.
_BAD_CLOCK = const(0)
_NOT_A_TABLE = const(1)
_NOT_A_COMMAND = const(2)
_NO_PART = const(3)
_BOOT_SCREEN = const(4)
_STOPPED = const(5)


def _refused(code, *values):
    """The InvalidValue or NotAllowedNow for refusal `code` (what, then the values)."""
    return call_and_forget("basalt.core.command_list", "refusal", code, values)


class in_units:
    """A value in thousandths shown in the user's unit in a message: 2500 -> 2.5."""

    def __init__(self, milli):
        self.text = fmt_milli(milli)

    def __str__(self):
        return self.text

    __repr__ = __str__


class Field:
    # Defaults live on the class and a field stores only what differs: every member
    # costs heap on MicroPython.
    lo = 0
    hi = 0
    step = 1
    unit = ""
    optional = False
    choices = ()

    def __init__(self, key, kind, lo=0, hi=0, step=1, unit="", optional=False, choices=()):
        self.key = key
        self.kind = kind
        if lo or hi:
            self.lo = lo
            self.hi = hi
        if step != 1:
            self.step = step
        if unit:
            self.unit = unit
        if optional:
            self.optional = True
        if choices:
            self.choices = choices

    def bounds(self, syringe_mu=FILL_MAX_MU):
        """(lo, hi, step) in the pump's units: what the menus offer."""
        hi = syringe_mu if self.hi == SYRINGE else self.hi
        return self.lo, hi, self.step

    def allowed(self, syringe_mu=FILL_MAX_MU):
        lo, hi, step = self.bounds(syringe_mu)
        if self.kind == MILLI:
            return "%s to %s %s in steps of %s %s" % (fmt_milli(lo), fmt_milli(hi), self.unit,
                                                      fmt_milli(step), self.unit)
        return _span(lo, hi, self.unit, step)

    def check(self, where, value, shown=None, syringe_mu=FILL_MAX_MU):
        """The field's rule, in the pump's units; `shown` is the value as the user gave
        it (for the message)."""
        kind = self.kind
        if kind in (MILLI, WHOLE):
            lo, hi, step = self.bounds(syringe_mu)
            if not is_int(value) or value < lo or value > hi or value % step:
                if shown is None:
                    shown = in_units(value) if kind == MILLI and is_int(value) else value
                raise InvalidValue(where, shown, self.allowed(syringe_mu))
        elif kind == CHOICE:
            one_of(where, value, self.choices)
        elif kind == NAME:
            text(where, value, 1, 16)
        elif kind == CLOCK and (not is_int(value) or not 0 <= value < MS_PER_DAY
                                or value % MS_PER_MIN):
            raise _refused(_BAD_CLOCK, where, value)
        elif kind == ALARM:
            check_code(value)
        elif kind == TABLE and not isinstance(value, dict):
            raise _refused(_NOT_A_TABLE, where, value)
        return value


class Command:
    # As for Field: defaults on the class, the rest derived when asked.
    guards = (ACK,)
    # (key, key, field named in the refusal, what the user may give): exactly one.
    one_of = None
    internal = False  # only the pump's own parts send it (the loop)
    rule = None  # rule(values): checks between fields, may add derived values
    _args = None
    _label = None

    def __init__(self, name, fields, handler, guards=None, one_of=None, internal=False,
                 rule=None, args=None, label=None):
        self.name = name
        self.fields = fields
        self.handler = handler  # "part.method": part names a Dispatcher target
        if guards is not None:
            self.guards = guards
        if one_of is not None:
            self.one_of = one_of
        if internal:
            self.internal = True
        if rule is not None:
            self.rule = rule
        if args is not None:
            self._args = args
        if label is not None:
            self._label = label

    @property
    def part(self):
        return self.handler.split(".")[0]

    @property
    def method(self):
        return self.handler.split(".")[1]

    @property
    def label(self):
        """How a refusal of the pump's state names it ("dual-wave bolus refused: ...")."""
        return self._label or self.name.replace("_", " ")

    @property
    def args(self):
        """The handler's arguments after now_ms, by key (default: every field in order)."""
        return self._args or tuple(field.key for field in self.fields)

    def field(self, key):
        for field in self.fields:
            if field.key == key:
                return field
        raise KeyError(key)


def table():
    """Every command, in order, built anew: what COMMANDS looks up by name (and
    tools.command_table prints). The declarations are basalt.core.command_list, imported
    for the call and forgotten after: a running pump builds a command a few times an
    hour at most."""
    return call_and_forget("basalt.core.command_list", "table")


class _Table:
    """The command table by name, read as a dict is ([], get, in, iteration, len). A
    Command is built from table() when asked and only the last few are kept: the whole
    table kept for good was the largest thing a booted pump held (4.7 KB of objects on
    MicroPython, with the ADVICE fields), and even its names are built only when asked."""

    KEEP = 4

    def __init__(self):
        self._kept = {}

    def get(self, name, default=None):
        command = self._kept.get(name)
        if command is not None:
            return command
        for command in table():
            if command.name == name:
                if len(self._kept) >= self.KEEP:
                    self._kept.clear()
                self._kept[name] = command
                return command
        return default

    def __getitem__(self, name):
        command = self.get(name)
        if command is None:
            raise KeyError(name)
        return command

    def __contains__(self, name):
        return self.get(name) is not None

    def names(self):
        return [command.name for command in table()]

    def __iter__(self):
        return iter(self.names())

    def __len__(self):
        return len(self.names())


COMMANDS = _Table()


def lookup(cmd):
    """The Command a plain-data {"cmd": name, ...} or a (name, values) pair names; plain
    data may not name an internal command (only the pump's own parts send those)."""
    if isinstance(cmd, tuple) and len(cmd) == 2 and isinstance(cmd[1], dict):
        command = COMMANDS.get(cmd[0]) if isinstance(cmd[0], str) else None
        if command is not None:
            return command
        raise InvalidValue("cmd", cmd[0], "one of " + ", ".join(sorted(COMMANDS)))
    if not isinstance(cmd, dict):
        raise _refused(_NOT_A_COMMAND, "command", cmd)
    name = cmd.get("cmd")
    command = COMMANDS.get(name) if isinstance(name, str) else None
    if command is None or command.internal:
        raise InvalidValue("cmd", name, "one of " + ", ".join(public_names()))
    return command


def check_keys(command, table):
    """Exactly the command's keys (and "cmd" in plain data): unknown or missing ones are
    refused by name."""
    required = ["cmd"]
    optional = []
    for field in command.fields:
        (optional if field.optional else required).append(field.key)
    if "cmd" not in table:  # (name, values): the name is not among the values
        table = dict(table)
        table["cmd"] = command.name
    exact_keys(command.name, table, required, optional, InvalidValue)


def public_names():
    return sorted(command.name for command in table() if not command.internal)


def check(name, values, shown=None, syringe_mu=FILL_MAX_MU):
    """Every field's rule and the command's own, in the pump's units. Returns the
    handler's arguments in field order (None for an optional field not given)."""
    command = COMMANDS.get(name) if isinstance(name, str) else None
    if command is None:
        raise InvalidValue("cmd", name, "one of " + ", ".join(sorted(COMMANDS)))
    return _check(command, values, shown, syringe_mu)


def _check(command, values, shown, syringe_mu):
    name = command.name
    pair = command.one_of
    if pair is not None and (values.get(pair[0]) is None) == (values.get(pair[1]) is None):
        raise InvalidValue(pair[2], "both" if values.get(pair[0]) is not None else "neither",
                           pair[3])
    for field in command.fields:
        value = values.get(field.key)
        if value is None:
            if not field.optional:
                raise InvalidValue(name + " " + field.key, None, field.allowed(syringe_mu))
            continue
        field.check(name + " " + field.key, value,
                    None if shown is None else shown.get(field.key), syringe_mu)
    if command.rule is not None:
        command.rule(values)
    return [values.get(key) for key in command.args]


class Dispatcher:
    """Runs commands against the pump's parts: targets maps a handler's part name
    ("engine", "pump", "loop", "keeper", ...) to the object; state answers the guards
    (awaiting_ack(), stop_reason(), require_resumable(name), require_known_state(name))."""

    def __init__(self, targets, state, syringe_mu=FILL_MAX_MU):
        self.targets = targets
        self.state = state
        self.syringe_mu = syringe_mu

    def run(self, now_ms, cmd):
        """A command as plain data (user units) or as (name, values) (pump units)."""
        command = lookup(cmd)
        name = command.name
        if ACK in command.guards:  # nothing runs until the boot screen was read
            self._guard(ACK, command)
        if isinstance(cmd, tuple):
            values = dict(cmd[1])
            check_keys(command, values)
            shown = None
        else:  # plain data in the user's units: a host or the REPL, not the buttons
            from basalt.core.command_parse import values_from_user

            values, shown = values_from_user(command, cmd)
        args = _check(command, values, shown, self.syringe_mu)
        for guard in command.guards:
            if guard != ACK:
                self._guard(guard, command)
        target = self.targets.get(command.part)
        if target is None:
            raise _refused(_NO_PART, name, command.part)
        return getattr(target, command.method)(now_ms, *args)

    def _guard(self, guard, command):
        state = self.state
        name = command.name
        if guard == ACK:
            if state.awaiting_ack():
                raise _refused(_BOOT_SCREEN, name)
        elif guard == DELIVERING:
            reason = state.stop_reason()
            if reason is not None:
                raise _refused(_STOPPED, command.label, reason)
        elif guard == ALARMS_ACKED:
            state.require_resumable(name)
        elif guard == STATE_KNOWN:
            state.require_known_state(name)

