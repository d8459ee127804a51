"""The menus and their flows: which screens follow which, and the commands they build.

Every dose flow ends in a ConfirmScreen built from the numbers the user chose, showing
them; nothing here sends a command any other way (menu.emit is called by screens).
Commands go out as (name, values) in the pump's units (mU, minutes, %): the numbers
chosen are the numbers sent. Number screens take their bounds from the command table's
fields (basalt.core.commands); the menus only choose a coarser step.
"""

from basalt.core.commands import COMMANDS
from basalt.core.errors import BasaltError
from basalt.core.loop_state import MODES
from basalt.core.ui.forms import ConfirmScreen, ListScreen, NumberScreen
from basalt.core.ui.home import alarm_label
from basalt.core.ui.screens import (
    MessageScreen,
    StopBolusScreen,
    TextScreen,
    minutes_text,
    units2,
    wrap,
)
from basalt.core.ui.text import Line

try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(value):
        return value

_PRIME_DEFAULT_MU = const(2_000)
_FILL_DEFAULT_MU = const(150_000)
_FILL_STEP_UI_MU = const(1_000)  # whole units on the device; the engine allows 0.1 U
TEMP_STEP_MIN = 15
_TEMP_STEP_PERCENT = const(10)
# Each of basalt.core.loop.MODES as the menus show it: the main menu's short word, the
# list's name, and what the mode does.
LOOP_LABELS = {"off": ("off", "Off", ["pump therapy:", "scheduled basal"]),
               "suspend_only": ("suspend", "Suspend only", ["basal stops before",
                                                            "a predicted low"]),
               "closed": ("closed", "Closed loop", ["basal follows", "the CGM"])}


def main_menu():
    return ListScreen(b"Menu", _main_items)


def _main_items(menu, view):
    items = []
    if view.bolus_kind is not None:
        items.append(("Stop bolus", _open(StopBolusScreen)))
    alarm = view.most_urgent()
    if alarm is not None:  # the alarm on the screen: select, select acts on it
        items.append(("!" + alarm_label(alarm).decode(), _care("open_alarm", alarm)))
    items += [
        ("Bolus", _open(lambda: ListScreen(b"Bolus", _bolus_items))),
        ("Basal", _open(lambda: ListScreen(b"Basal", _basal_items))),
    ]
    if view.loop_mode is not None:
        items.append(("Loop: " + LOOP_LABELS[view.loop_mode][0],
                      _open(lambda: ListScreen(b"Loop mode", _loop_items))))
    items += [
        ("Alarms (%d)" % len(view.alarms), _open(lambda: ListScreen(b"Alarms", _alarm_items))),
    ]
    if view.cgm_link is not None:
        items.append(("CGM", _open_cgm))
    items += [
        ("History", _open_history),
        ("Settings", _open(lambda: TextScreen(b"Settings", _settings, "no settings"))),
        ("Glucose", _care("open_glucose")),
        ("Site changed", _care("open_site")),
    ]
    items.append(("Activity" + ("" if view.activity is None else ": " + view.activity),
                  _lazy("flows_setup", "activity_screen")))
    items.append(("Setup", _lazy("flows_setup", "setup_screen")))
    return items


def _open_cgm(menu, view):
    from basalt.core.ui.flows_cgm import cgm_screen  # only when a CGM is there

    menu.push(cgm_screen())


def _open_history(menu, view):
    if view.open_journal is None:  # no journal (a host without storage): recent events
        menu.push(TextScreen(b"History", _history, "no history yet"))
        return
    from basalt.core.ui.history_pages import HistoryPagesScreen

    menu.push(HistoryPagesScreen(view.open_journal()))


def _lazy(module, name):
    """An action in a screen module loaded when it is first opened (memory)."""
    def action(menu, view):
        mod = __import__("basalt.core.ui." + module, None, None, (name,))
        getattr(mod, name)(menu, view)

    return action


def _open(make):
    def action(menu, view):
        menu.push(make())

    return action


def _care(name, *args):
    """A flow of basalt.core.ui.flows_care, imported when first opened (memory)."""
    def action(menu, view):
        from basalt.core.ui import flows_care

        getattr(flows_care, name)(menu, view, *args)

    return action


# ----- bolus --------------------------------------------------------------------------

def _bolus_items(menu, view):
    items = []
    if view.uncertain is not None:
        items.append(("Interrupted bol", _open(lambda: _reconcile_screen(view))))
    if view.advise is not None:
        items.append(("Calculator", _calculator))
    items += [
        ("Normal", _open(lambda: _amount_screen(view, b"Normal bolus", _confirm_normal))),
        ("Extended", _open(lambda: _amount_screen(view, b"Extended bolus", _ext_minutes))),
        ("Dual wave", _open(lambda: _amount_screen(view, b"Dual wave", _dual_now, 2))),
    ]
    return items


def _field(command, key):
    return COMMANDS[command].field(key)


def _bolus_step(view):
    return max(_field("bolus", "units").step, view.bolus_increment_mu)


def _amount_screen(view, title, done, min_steps=1, start=0):
    step = _bolus_step(view)
    _, top, _ = _field("bolus", "units").bounds()
    if view.max_bolus_mu is not None:  # the settings' max bolus, when one is loaded
        top = min(top, view.max_bolus_mu)
    top = top // step * step
    return NumberScreen(title, "U", start, 0, top, step, done, decimals=2,
                        min_ok=min_steps * step)


def _confirm_normal(menu, view, amount):
    menu.push(ConfirmScreen(b"Confirm bolus", units2(amount), "U", ["normal, now"],
                            ("bolus", {"units": amount})))


def _ext_minutes(menu, view, amount):
    def done(menu, view, minutes):
        menu.push(ConfirmScreen(b"Confirm extended", units2(amount), "U",
                                ["over " + minutes_text(minutes)],
                                ("extended_bolus", {"units": amount, "minutes": minutes})))

    menu.push(_minutes_screen(b"Extended over", done))


def _minutes_screen(title, done):
    lo, hi, _ = _field("extended_bolus", "minutes").bounds()
    return NumberScreen(title, "", 120, lo, hi, TEMP_STEP_MIN, done, minutes=True,
                        fast=False)


def _dual_now(menu, view, amount):
    step = _bolus_step(view)

    def now_done(menu, view, now_mu):
        def done(menu, view, minutes):
            later = amount - now_mu
            menu.push(ConfirmScreen(
                b"Confirm dual", units2(amount), "U",
                ["now " + units2(now_mu) + " U",
                 units2(later) + " U in " + minutes_text(minutes)],
                ("dual_bolus", {"units": amount, "now_units": now_mu, "minutes": minutes})))

        menu.push(_minutes_screen(b"Rest over", done))

    half = amount // 2 // step * step
    menu.push(NumberScreen(b"Now part", "U", half, step, amount - step, step, now_done,
                           decimals=2))


def _reconcile_screen(view):
    """After a reset mid-bolus: the user says how much of it to count as delivered
    (between what surely went in and what may have); this moves no insulin."""
    lo, hi, programmed = view.uncertain

    def done(menu, view, amount):
        menu.push(ConfirmScreen(b"Count delivered", Line(12).put_milli(amount, 3).text(), "U",
                                ["of %s U planned" % units2(programmed), "(no insulin moves)"],
                                ("reconcile_bolus", {"units": amount})))

    return NumberScreen(b"Delivered?", "U", hi, lo, hi, 1, done, decimals=3,
                        fast=False)


def _calculator(menu, view):
    if view.bg_for_dosing:
        menu.push(_carbs_screen())
    else:  # type a glucose first, or go on without a correction
        _care("calc_glucose", _carbs_screen)(menu, view)


def _carbs_screen():
    # 0 g: a correction only; the calculator takes what the carbs command takes.
    return NumberScreen(b"Carbs", "g", 0, 0, _field("carbs", "grams").hi, 1, _advice)


def _advice(menu, view, carbs_g):
    if view.advise is None:  # the calculator went away (settings unloaded)
        menu.home()
        return
    try:
        advice = view.advise(carbs_g)
    except BasaltError as error:
        refused(menu, error)
        return
    total, parts, notes = advice[:3]
    record = advice[3] if len(advice) > 3 else {}
    lines = ["%-9s%6s" % (label[:9], units2(mu)) for label, mu in parts]
    lines.append("%-9s%6s" % ("total", units2(total)))
    for note in notes:
        lines += wrap(note)
    step = _bolus_step(view)
    top = _field("bolus", "units").hi if view.max_bolus_mu is None else view.max_bolus_mu
    suggested = max(0, min(total, top)) // step * step

    def edit(menu, view):
        menu.push(_amount_screen(view, b"Bolus (edit)", _confirm_meal(carbs_g, record), 1,
                                 suggested))

    menu.push(TextScreen("%dg advice" % carbs_g, lambda view: lines, on_select=edit))


def _confirm_meal(carbs_g, record):
    """The calculator's bolus, with its advice (record: the bolus command's advice
    fields) for the history: once confirmed, the carbs go on record for the loop too
    (a pump without a loop has nobody to tell)."""

    def announce(menu, view):
        if carbs_g and view.loop_mode is not None:
            menu.emit(("carbs", {"grams": carbs_g, "source": "calculator"}))

    def done(menu, view, amount):
        details = ["normal, now"] + (["%d g carbs" % carbs_g] if carbs_g else [])
        menu.push(ConfirmScreen(b"Confirm bolus", units2(amount), "U", details,
                                ("bolus", _with(record, amount)), announce))

    return done


def _with(record, amount):
    """The bolus command with the advice fields that fit their declared range (the
    advice is a record: one out of range is left out, never a reason to refuse)."""
    values = {"units": amount}
    for key in record:
        value = record[key]
        if value is not None:
            field = _field("bolus", key)
            lo, hi, _ = field.bounds()
            if value in field.choices if field.choices else lo <= value <= hi:
                values[key] = value
    return values


# ----- the loop -----------------------------------------------------------------------

def _loop_items(menu, view):
    items = []
    for name in MODES:
        _, label, details = LOOP_LABELS[name]
        mark = "*" if name == view.loop_mode else " "
        items.append((mark + label, _confirm(b"Loop mode?", ["to " + label] + details,
                                             ("loop_mode", {"mode": name}))))
    return items


# ----- basal --------------------------------------------------------------------------

def _basal_items(menu, view):
    items = [("Profile " + (view.active_profile or "-"), _lazy("flows_basal",
                                                               "profiles_screen"))]
    if view.stop_reason is None:
        if view.temp_left_min is None:
            items.append(("Temp basal", _lazy("flows_basal", "temp_screen")))
        else:
            items.append(("Cancel temp", _confirm(b"Cancel temp?", ["back to scheduled"],
                                                  ("cancel_temp_basal", {}))))
        items.append(("Suspend", _confirm(b"Suspend?", ["stops all delivery",
                                                         "boluses cancelled"],
                                          ("suspend", {}))))
    elif view.stop_reason == "suspended":
        items.append(("Resume", _confirm(b"Resume?", ["scheduled basal",
                                                       "missed is not given"],
                                         ("resume", {}))))
    items.append(("Prime", _open(_prime_screen)))
    items.append(("New reservoir", _open(lambda: _fill_screen(view))))
    return items


def _confirm(title, details, command, big="", unit=""):
    def action(menu, view):
        menu.push(ConfirmScreen(title, big, unit, details, command))

    return action


def _temp_percent_screen():
    def percent_done(menu, view, percent):
        def done(menu, view, minutes):
            menu.push(ConfirmScreen(b"Confirm temp", "%d" % percent, "%",
                                    ["of scheduled", "for " + minutes_text(minutes)],
                                    ("temp_basal", {"percent": percent, "minutes": minutes})))

        lo, hi, _ = _field("temp_basal", "minutes").bounds()
        menu.push(NumberScreen(b"Temp for", "", 60, lo, hi, TEMP_STEP_MIN, done,
                               minutes=True))

    lo, hi, _ = _field("temp_basal", "percent").bounds()
    return NumberScreen(b"Temp basal", "%", 100, lo, hi, _TEMP_STEP_PERCENT, percent_done,
                        fast=False)


def _prime_screen():
    def done(menu, view, amount):
        menu.push(ConfirmScreen(b"Confirm prime", units2(amount), "U",
                                ["disconnected!", "fills the tubing"],
                                ("prime", {"units": amount})))

    lo, hi, step = _field("prime", "units").bounds()
    return NumberScreen(b"Prime", "U", _PRIME_DEFAULT_MU, lo, hi, step, done, decimals=1)


def _fill_screen(view):
    def done(menu, view, amount):
        menu.push(ConfirmScreen(b"New reservoir", units2(amount), "U",
                                ["rewinds plunger", "then prime"],
                                ("new_reservoir", {"units": amount}),
                                _care("site_prompt")))

    lo, top, _ = _field("new_reservoir", "units").bounds(view.reservoir_capacity_mu)
    top = top // _FILL_STEP_UI_MU * _FILL_STEP_UI_MU
    return NumberScreen(b"Reservoir fill", "U", _FILL_DEFAULT_MU, lo, top, _FILL_STEP_UI_MU,
                        done, decimals=0)


# ----- alarms, history, settings ------------------------------------------------------

def _alarm_items(menu, view):
    items = []
    for code, acknowledged, snoozed in view.alarms:
        state = "z" if snoozed else ("." if acknowledged else "!")
        items.append((state + alarm_label(code).decode(), _care("open_alarm", code)))
    return items


def _history(view):
    return list(view.history)


def _settings(view):
    return list(view.settings)


def refused(menu, error):
    """Show why the pump refused a command (the error's own message)."""
    menu.show_message(b"Not done", str(error))


__all__ = ["main_menu", "refused", "MessageScreen"]
