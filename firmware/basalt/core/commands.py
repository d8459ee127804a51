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

from basalt.core.alarms import check_code
from basalt.core.check import _span, exact_keys, is_int, one_of, text
from basalt.core.clock import check_date
from basalt.core.errors import InvalidValue, NotAllowedNow
from basalt.core.limits import BOLUS_STEP_MU, FILL_MAX_MU
from basalt.core.units import MS_PER_DAY, MS_PER_MIN, fmt_milli

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
            raise InvalidValue(where, value, "a time of day 00:00 to 23:59 (ms on the minute)")
        elif kind == ALARM:
            check_code(value)
        elif kind == TABLE and not isinstance(value, dict):
            raise InvalidValue(where, value, "a table of settings")
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


def _dual_rule(values):
    """The now part: exactly one of now_units or now_percent, leaving at least 0.01 U for
    the extended part; a percent is rounded down to 0.01 U."""
    amount = values["units"]
    if values.get("now_units") is None:
        now_mu = amount * values["now_percent"] // 100 // BOLUS_STEP_MU * BOLUS_STEP_MU
        if now_mu < BOLUS_STEP_MU:
            raise InvalidValue("dual_bolus now_percent", values["now_percent"],
                               "a share of at least 0.01 U")
        values["now_units"] = now_mu
    elif values["now_units"] > amount - BOLUS_STEP_MU:
        raise InvalidValue("dual_bolus now_units", in_units(values["now_units"]),
                           "%s to %s U in steps of 0.01 U" % (
                               fmt_milli(BOLUS_STEP_MU), fmt_milli(amount - BOLUS_STEP_MU)))


def _clock_rule(values):
    """The day must exist in its month; the date becomes days since 1970."""
    values["days"] = check_date("set_clock", values["year"], values["month"], values["day"])


def table():
    """Every command, in order, built anew: what COMMANDS looks up by name (and
    tools.command_table prints)."""
    # Imported here, as locals: names only the table reads take no slot in the module.
    from basalt.core.activity import KINDS, MAX_MIN, MIN_MIN
    from basalt.core.clock import YEAR_MAX, YEAR_MIN
    from basalt.core.forcecal import KNOWN_MAX_MN, KNOWN_MIN_MN
    from basalt.core.limits import (
        BOLUS_MAX_MU,
        CARBS_MAX_G,
        EXTENDED_MAX_MIN,
        EXTENDED_MIN_MIN,
        FILL_MIN_MU,
        FILL_STEP_MU,
        GLUCOSE_MAX,
        GLUCOSE_MIN,
        MAX_RATE_MU_H,
        PRIME_MAX_MU,
        PRIME_STEP_MU,
        TEMP_MAX_MIN,
        TEMP_MAX_PERCENT,
        TEMP_MIN_MIN,
    )
    from basalt.core.loop_state import MODES, TEMP_MIN

    bolus_units = Field("units", MILLI, BOLUS_STEP_MU, BOLUS_MAX_MU, BOLUS_STEP_MU, "U")
    extended_minutes = Field("minutes", WHOLE, EXTENDED_MIN_MIN, EXTENDED_MAX_MIN, 1, "min")
    temp_minutes = Field("minutes", WHOLE, TEMP_MIN_MIN, TEMP_MAX_MIN, 1, "min")
    temp_rate = Field("rate", MILLI, 0, MAX_RATE_MU_H, 1, "U/h", optional=True)
    temp_percent = Field("percent", WHOLE, 0, TEMP_MAX_PERCENT, 1, "%", optional=True)
    profile_name = Field("name", NAME)
    carbs = Field("grams", WHOLE, 1, CARBS_MAX_G, 1, "g")
    alarm_code = Field("alarm", ALARM)
    time_of_day = Field("time", CLOCK, 0, MS_PER_DAY - MS_PER_MIN, MS_PER_MIN)
    # A calculator bolus carries the advice the user confirmed, for the history (a record
    # only: the safety gate checks the units as for any bolus).
    advice = (Field("carbs", WHOLE, 0, CARBS_MAX_G, 1, "g", optional=True),
              Field("meal", MILLI, 0, BOLUS_MAX_MU, 1, "U", optional=True),
              Field("correction", MILLI, -BOLUS_MAX_MU, BOLUS_MAX_MU, 1, "U", optional=True),
              Field("iob", MILLI, -4 * BOLUS_MAX_MU, 4 * BOLUS_MAX_MU, 1, "U", optional=True),
              Field("glucose", WHOLE, GLUCOSE_MIN, GLUCOSE_MAX, 1, "mg/dL", optional=True),
              Field("glucose_source", CHOICE, optional=True, choices=("cgm", "typed")),
              Field("carb_ratio", MILLI, 1, CARBS_MAX_G * 1000, 1, "g/U", optional=True),
              Field("sensitivity", WHOLE, 1, 1_000, 1, "mg/dL/U", optional=True),
              Field("target_low", WHOLE, GLUCOSE_MIN, GLUCOSE_MAX, 1, "mg/dL", optional=True),
              Field("target_high", WHOLE, GLUCOSE_MIN, GLUCOSE_MAX, 1, "mg/dL", optional=True),
              Field("suggested", MILLI, 0, BOLUS_MAX_MU, 1, "U", optional=True))

    dose = (ACK, DELIVERING)

    return (
        Command("bolus", (bolus_units,) + advice, "engine.bolus", dose),
        Command("extended_bolus", (bolus_units, extended_minutes), "engine.extended_bolus", dose),
        Command("dual_bolus", (
            Field("units", MILLI, 2 * BOLUS_STEP_MU, BOLUS_MAX_MU, BOLUS_STEP_MU, "U"),
            Field("now_units", MILLI, BOLUS_STEP_MU, BOLUS_MAX_MU, BOLUS_STEP_MU, "U",
                  optional=True),
            Field("now_percent", WHOLE, 1, 99, 1, "%", optional=True),
            extended_minutes), "engine.dual_bolus", dose,
            ("now_units", "now_percent", "dual_bolus now",
             "exactly one of now_units or now_percent"), rule=_dual_rule,
            args=("units", "now_units", "minutes"), label="dual-wave bolus"),
        Command("cancel_bolus", (), "engine.cancel_bolus"),
        Command("temp_basal", (temp_minutes, temp_rate, temp_percent), "engine.start_temp_basal",
                dose, ("rate", "percent", "temp_basal", "exactly one of rate (U/h) or percent")),
        Command("cancel_temp_basal", (), "engine.cancel_temp_basal"),
        Command("suspend", (), "engine.suspend"),
        Command("resume", (), "engine.resume", (ACK, STATE_KNOWN, ALARMS_ACKED)),
        Command("prime", (Field("units", MILLI, PRIME_STEP_MU, PRIME_MAX_MU, PRIME_STEP_MU,
                                "U"),), "engine.prime"),
        Command("new_reservoir", (Field("units", MILLI, FILL_MIN_MU, SYRINGE, FILL_STEP_MU,
                                        "U"),), "engine.new_reservoir"),
        Command("set_profile", (profile_name,
                                Field("segments", SEGMENTS, 0, MAX_RATE_MU_H, 1, "U/h")),
                "profiles.set_profile"),
        Command("activate_profile", (profile_name,), "profiles.activate_profile"),
        Command("delete_profile", (profile_name,), "profiles.delete_profile"),
        Command("rename_profile", (profile_name, Field("new_name", NAME)),
                "profiles.rename_profile"),
        Command("set_time", (time_of_day,), "engine.set_time_of_day"),
        # Allowed on the boot screen: it asks for the clock when the RTC lost it.
        Command("set_clock", (Field("year", WHOLE, YEAR_MIN, YEAR_MAX),
                              Field("month", WHOLE, 1, 12), Field("day", WHOLE, 1, 31),
                              time_of_day), "engine.set_clock", (),
                rule=_clock_rule, args=("days", "time")),
        Command("activity", (Field("mode", CHOICE, choices=KINDS),
                             Field("minutes", WHOLE, MIN_MIN, MAX_MIN, 1, "min")),
                "activity.start"),
        Command("end_activity", (), "activity.stop"),
        Command("acknowledge", (alarm_code,), "alarms.acknowledge", ()),
        Command("snooze", (alarm_code,), "alarms.snooze", ()),
        Command("loop_mode", (Field("mode", CHOICE, choices=MODES),), "loop.set_mode"),
        Command("carbs", (carbs, Field("source", CHOICE, optional=True,
                                       choices=("user", "calculator"))),
                "loop.carbs"),
        Command("glucose", (Field("mg_dl", WHOLE, GLUCOSE_MIN, GLUCOSE_MAX, 1, "mg/dL"),),
                "care.glucose"),
        Command("treat_low", (Field("grams", WHOLE, 5, 60, 1, "g"),), "care.treat_low"),
        Command("site_changed", (), "care.site_changed"),
        Command("boot_ack", (Field("time", CLOCK, optional=True),), "keeper.acknowledge_boot", ()),
        Command("reconcile_bolus", (Field("units", MILLI, 0, BOLUS_MAX_MU, 1, "U",
                                          optional=True),),
                "keeper.reconcile"),
        Command("save_settings", (Field("settings", TABLE),), "keeper.save_settings"),
        Command("reload_settings", (), "keeper.reload_settings"),
        Command("force_tare", (), "keeper.force_tare"),
        Command("force_scale", (Field("newtons", MILLI, KNOWN_MIN_MN, KNOWN_MAX_MN, 1, "N"),),
                "keeper.force_scale"),
        Command("cgm_pair", (Field("answer", CHOICE, choices=("yes", "no")),), "cgm.answer", ()),
        Command("cgm_forget", (), "cgm.forget"),
        # The loop's own actions: the same safety gate, never from outside the pump.
        Command("loop_temp", (Field("rate", MILLI, 0, MAX_RATE_MU_H, 1, "U/h"),
                              Field("minutes", WHOLE, TEMP_MIN, TEMP_MIN, 1, "min"),
                              Field("cause", CHOICE, optional=True,
                                    choices=("low_glucose_suspend",))),
                "engine.auto_temp_basal", (DELIVERING,), internal=True, label="temp basal"),
        Command("loop_bolus", (bolus_units,), "engine.auto_bolus", (DELIVERING,), internal=True),
        Command("loop_cancel_temp", (), "engine.auto_cancel_temp", (), internal=True),
    )


class _Table:
    """The command table by name, read as a dict is ([], get, in, iteration, len). A
    Command is built from table() when asked and only the last few are kept: the whole
    table kept for good was the largest thing a booted pump held (4.7 KB of objects on
    MicroPython, with the ADVICE fields)."""

    KEEP = 4

    def __init__(self):
        self.names = tuple(command.name for command in table())
        self._kept = {}

    def get(self, name, default=None):
        command = self._kept.get(name)
        if command is not None or name not in self.names:
            return command or default
        if len(self._kept) >= self.KEEP:
            self._kept.clear()
        for command in table():
            if command.name == name:
                self._kept[name] = command
                return command

    def __getitem__(self, name):
        command = self.get(name)
        if command is None:
            raise KeyError(name)
        return command

    def __contains__(self, name):
        return name in self.names

    def __iter__(self):
        return iter(self.names)

    def __len__(self):
        return len(self.names)


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
        raise InvalidValue("command", cmd, "a table such as {'cmd': 'bolus', 'units': 1.5}")
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
            raise NotAllowedNow(name, _MISSING.get(command.part,
                                                   "this pump has no " + command.part))
        return getattr(target, command.method)(now_ms, *args)

    def _guard(self, guard, command):
        state = self.state
        name = command.name
        if guard == ACK:
            if state.awaiting_ack():
                raise NotAllowedNow(name, "acknowledge the boot screen first")
        elif guard == DELIVERING:
            reason = state.stop_reason()
            if reason is not None:
                raise NotAllowedNow(command.label, "pump is stopped (%s)" % reason)
        elif guard == ALARMS_ACKED:
            state.require_resumable(name)
        elif guard == STATE_KNOWN:
            state.require_known_state(name)


_MISSING = {"loop": "no therapy settings are loaded", "keeper": "this pump keeps no journal",
            "cgm": "no CGM is configured"}
