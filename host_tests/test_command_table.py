"""The one command table: every command declared once, every field's range enforced
in one place (Field.check, through Dispatcher.run), and the menus' number screens
bounded by the same declarations."""

import re
from pathlib import Path

import pytest

from basalt.core import command_parse, commands
from basalt.core.command_docs import DOCS
from basalt.core.command_engine import EngineOnly
from basalt.core.commands import COMMANDS, MILLI, WHOLE, Dispatcher
from basalt.core.delivery import DeliveryEngine
from basalt.core.errors import BasaltError, InvalidValue
from basalt.core.ui import flows
from basalt.core.ui.forms import NumberScreen
from basalt.core.ui.view import PumpView
from basalt.core.units import fmt_milli
from tools.fakes import FakeIob, open_limits
from tools.sim import load_sim_board

FIRMWARE = Path(__file__).resolve().parents[1] / "firmware" / "basalt"
BOARD = load_sim_board()

# Every command, its handler and its fields as (key, kind, lo, hi, step, unit): the table
# as a reader of the developer guide sees it. A change to the table changes this list.
EXPECTED = {
    "bolus": ("engine.bolus", [("units", MILLI, 10, 25_000, 10, "U"),
                               ("carbs", WHOLE, 0, 300, 1, "g"),
                               ("meal", MILLI, 0, 25_000, 1, "U"),
                               ("correction", MILLI, -25_000, 25_000, 1, "U"),
                               ("iob", MILLI, -100_000, 100_000, 1, "U"),
                               ("glucose", WHOLE, 20, 600, 1, "mg/dL"),
                               ("carb_ratio", MILLI, 1, 300_000, 1, "g/U"),
                               ("sensitivity", WHOLE, 1, 1_000, 1, "mg/dL/U"),
                               ("target_low", WHOLE, 20, 600, 1, "mg/dL"),
                               ("target_high", WHOLE, 20, 600, 1, "mg/dL"),
                               ("suggested", MILLI, 0, 25_000, 1, "U")]),
    "extended_bolus": ("engine.extended_bolus", [("units", MILLI, 10, 25_000, 10, "U"),
                                                 ("minutes", WHOLE, 15, 480, 1, "min")]),
    "dual_bolus": ("engine.dual_bolus", [("units", MILLI, 20, 25_000, 10, "U"),
                                         ("now_units", MILLI, 10, 25_000, 10, "U"),
                                         ("now_percent", WHOLE, 1, 99, 1, "%"),
                                         ("minutes", WHOLE, 15, 480, 1, "min")]),
    "temp_basal": ("engine.start_temp_basal", [("minutes", WHOLE, 15, 4_320, 1, "min"),
                                               ("rate", MILLI, 0, 30_000, 1, "U/h"),
                                               ("percent", WHOLE, 0, 250, 1, "%")]),
    "prime": ("engine.prime", [("units", MILLI, 100, 30_000, 100, "U")]),
    "new_reservoir": ("engine.new_reservoir", [("units", MILLI, 10_000, "syringe", 100, "U")]),
    "carbs": ("loop.carbs", [("grams", WHOLE, 1, 300, 1, "g")]),
    "glucose": ("care.glucose", [("mg_dl", WHOLE, 20, 600, 1, "mg/dL")]),
    "treat_low": ("care.treat_low", [("grams", WHOLE, 5, 60, 1, "g")]),
    "reconcile_bolus": ("keeper.reconcile", [("units", MILLI, 0, 25_000, 1, "U")]),
    "force_scale": ("keeper.force_scale", [("newtons", MILLI, 100, 100_000, 1, "N")]),
    "loop_temp": ("engine.auto_temp_basal", [("rate", MILLI, 0, 30_000, 1, "U/h"),
                                             ("minutes", WHOLE, 30, 30, 1, "min")]),
    "loop_bolus": ("engine.auto_bolus", [("units", MILLI, 10, 25_000, 10, "U")]),
    "set_clock": ("engine.set_clock", [("year", WHOLE, 2024, 2099, 1, ""),
                                       ("month", WHOLE, 1, 12, 1, ""),
                                       ("day", WHOLE, 1, 31, 1, "")]),
    "activity": ("activity.start", [("minutes", WHOLE, 30, 1_440, 1, "min")]),
}
NO_NUMBERS = ("cancel_bolus", "cancel_temp_basal", "suspend", "resume", "set_profile",
              "activate_profile", "delete_profile", "set_time", "acknowledge", "snooze",
              "loop_mode", "boot_ack", "save_settings", "force_tare", "loop_cancel_temp",
              "site_changed", "rename_profile", "end_activity", "reload_settings",
              "cgm_pair", "cgm_forget")


def test_the_table_lists_every_command_once():
    assert sorted(COMMANDS) == sorted(list(EXPECTED) + list(NO_NUMBERS))
    assert len(commands.table()) == len(COMMANDS)  # no name declared twice
    for name, (handler, fields) in EXPECTED.items():
        command = COMMANDS[name]
        assert command.handler == handler
        got = [(f.key, f.kind, f.lo, f.hi, f.step, f.unit) for f in command.fields
               if f.kind in (MILLI, WHOLE)]
        assert got == fields, name
    for name in NO_NUMBERS:
        assert not [f for f in COMMANDS[name].fields if f.kind in (MILLI, WHOLE)], name


def test_every_command_says_what_it_does_and_no_other_name_is_documented():
    # The words live apart from the table (a running pump does not hold them).
    assert sorted(DOCS) == sorted(COMMANDS)
    assert all(isinstance(DOCS[name], str) and len(DOCS[name]) > 8 for name in DOCS)


def test_internal_commands_only_come_from_the_pump():
    internal = sorted(name for name in COMMANDS if COMMANDS[name].internal)
    assert internal == ["loop_bolus", "loop_cancel_temp", "loop_temp"]
    for name in internal:
        with pytest.raises(InvalidValue, match="cmd: '%s' is not allowed" % name):
            command_parse.parse({"cmd": name})


def _engine():
    engine = DeliveryEngine(BOARD, 0, open_limits(), FakeIob())
    engine.set_profile(0, "day", [(0, 1_000)])
    engine.activate_profile(0, "day")
    engine.new_reservoir(0, 200_000)
    engine.resume(0)  # delivering: only the fields can refuse
    return engine


class _Recorder:
    """A handler that only records what reaches it: proof the table alone refused."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        return lambda *args: self.calls.append((name, args))


def _valid(command):
    """Values in the pump's units that pass every field of the command."""
    values = {}
    for field in command.fields:
        if field.kind in (MILLI, WHOLE, commands.CLOCK) and not field.optional:
            values[field.key] = field.bounds(BOARD.syringe_capacity_mu)[1]
        elif field.kind == commands.CHOICE:
            values[field.key] = field.choices[0]
    if command.one_of:
        key = command.one_of[0]
        values[key] = command.field(key).bounds()[0] if key != "now_units" else 10
    if command.name == "dual_bolus":
        values["units"] = 2_000
    return values


RANGED = [(name, field.key) for name in EXPECTED for field in COMMANDS[name].fields
          if field.kind in (MILLI, WHOLE)]


@pytest.mark.parametrize("name, key", RANGED, ids=["%s.%s" % pair for pair in RANGED])
def test_each_field_range_is_enforced_by_the_table_before_any_handler(name, key):
    """Just outside each end (and off the step) is refused by Field.check, naming the field,
    the value and the range, and the handler is never called; just inside reaches it."""
    command = COMMANDS[name]
    field = command.field(key)
    lo, hi, step = field.bounds(BOARD.syringe_capacity_mu)
    part = command.handler.split(".")[0]
    recorder = _Recorder()
    dispatcher = Dispatcher({part: recorder}, EngineOnly(_engine()), BOARD.syringe_capacity_mu)
    bad = [lo - step, hi + step] + ([lo + step // 2] if step > 1 else [])
    for value in bad:
        values = _valid(command)
        values[key] = value
        if command.one_of and key in command.one_of:
            other = [k for k in command.one_of[:2] if k != key][0]
            values.pop(other, None)
        with pytest.raises(InvalidValue) as raised:
            dispatcher.run(0, (name, values))
        shown = fmt_milli(value) if field.kind == MILLI else str(value)
        assert str(raised.value).startswith("%s %s: %s is not allowed; allowed: " % (
            name, key, shown)), str(raised.value)
        assert field.unit in str(raised.value)
    assert recorder.calls == []
    values = _valid(command)
    dispatcher.run(0, (name, values))
    assert len(recorder.calls) == 1


RANGE_CONSTANTS = ("BOLUS_STEP_MU", "BOLUS_MAX_MU", "EXTENDED_MIN_MIN", "EXTENDED_MAX_MIN",
                   "TEMP_MIN_MIN", "TEMP_MAX_MIN", "TEMP_MAX_PERCENT", "PRIME_STEP_MU",
                   "PRIME_MAX_MU", "FILL_MIN_MU", "FILL_STEP_MU", "CARBS_MAX_G")
# Where else a command range constant may appear, and why it is not a second check of a
# command's field: each is a different rule that shares the pump's hard maximum.
ALLOWED_USES = {
    "core/limits.py": "the declaration",
    "core/commands.py": "the command table (the default syringe bound)",
    "core/command_list.py": "the command table's declarations",
    "core/settings.py": "the settings file's own ranges (max bolus, bolus increment, fill)",
    "core/safety.py": "the widest limits the safety gate accepts from settings",
    "core/calculator.py": "the calculator's carbs input and rounding to the bolus step",
    "core/loop.py": "the loop's automatic bolus rounds to the bolus step",
    "core/loop_state.py": "the loop's carb record: an announced meal within the carbs maximum",
    "core/loop_check.py": "the loop's input record schema",
    "app/loop_runner.py": "the bolus step the loop rounds to",
    "app/ui_rare.py": "the settings screen shows the hard maximum without a settings file",
}


def test_command_ranges_are_not_checked_anywhere_else():
    """No other firmware module uses a command field's range constant: the engine, the
    menus and the persistence take their bounds from the table."""
    pattern = re.compile(r"\b(%s)\b" % "|".join(RANGE_CONSTANTS))
    found = {}
    for path in FIRMWARE.rglob("*.py"):
        rel = path.relative_to(FIRMWARE).as_posix()
        names = set(pattern.findall(path.read_text()))
        if names:
            found[rel] = names
    assert sorted(set(found) - set(ALLOWED_USES)) == []
    # The engine is where each range used to be checked again; it now checks none.
    assert "core/delivery.py" not in found and "core/ui/flows.py" not in found


def _number_screens(view):
    """The number screens the dose flows open first, by title."""
    screens = {}
    for make in (lambda: flows._amount_screen(view, b"Normal bolus", None),
                 lambda: flows._minutes_screen(b"Extended over", None),
                 flows._carbs_screen, flows._temp_percent_screen, flows._prime_screen,
                 lambda: flows._fill_screen(view)):
        screen = make()
        assert isinstance(screen, NumberScreen)
        screens[bytes(screen.title)] = screen
    return screens


def test_the_menus_number_screens_are_bounded_by_the_table():
    view = PumpView()
    view.reservoir_capacity_mu = BOARD.syringe_capacity_mu
    view.bolus_increment_mu = 10
    screens = _number_screens(view)

    def bounds(name, key):
        return COMMANDS[name].field(key).bounds(BOARD.syringe_capacity_mu)

    assert screens[b"Normal bolus"].hi == bounds("bolus", "units")[1]
    assert (screens[b"Extended over"].lo, screens[b"Extended over"].hi) == \
        bounds("extended_bolus", "minutes")[:2]
    assert (screens[b"Temp basal"].lo, screens[b"Temp basal"].hi) == \
        bounds("temp_basal", "percent")[:2]
    assert (screens[b"Prime"].lo, screens[b"Prime"].hi) == bounds("prime", "units")[:2]
    assert screens[b"Carbs"].hi == bounds("carbs", "grams")[1]
    assert screens[b"Reservoir fill"].lo == bounds("new_reservoir", "units")[0]
    assert screens[b"Reservoir fill"].hi <= bounds("new_reservoir", "units")[1]
    view.max_bolus_mu = 4_000  # with settings: their max bolus, never above the table's
    assert _number_screens(view)[b"Normal bolus"].hi == 4_000


@pytest.mark.parametrize("targets, cmd, message", [
    ({}, ("save_settings", {"settings": {}}),
     "save_settings refused: this pump keeps no journal"),
    ({}, ("loop_mode", {"mode": "off"}), "loop_mode refused: no therapy settings are loaded"),
    ({}, ("cgm_forget", {}), "cgm_forget refused: no CGM is configured"),
    ({}, ("site_changed", {}), "site_changed refused: this pump has no care"),
    ({"keeper": _Recorder()}, ("save_settings", {"settings": [1]}),
     "save_settings settings: [1] is not allowed; allowed: a table of settings"),
    ({"engine": _Recorder()}, ("set_time", {"time": 90_000}),
     "set_time time: 90000 is not allowed; allowed: a time of day 00:00 to 23:59 "
     "(ms on the minute)"),
])
def test_the_dispatchers_refusals_say_what_is_missing_or_wrong(targets, cmd, message):
    """Refusal texts (built only on refusal) as the user or a host reads them."""
    with pytest.raises(BasaltError) as raised:
        Dispatcher(targets, EngineOnly(_engine())).run(0, cmd)
    assert str(raised.value) == message
    assert all(not getattr(t, "calls", []) for t in targets.values())
