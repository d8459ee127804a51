"""Glucose entry, carbs for a low, site change and the alarm screens: loaded when one of
them is first opened (basalt.core.ui.flows hooks them in with one line each).

A typed glucose is in the user's unit (mg/dL, or mmol/L when the settings say so) and
goes out in mg/dL, the command table's unit; the bounds are the table's, converted.
"""

from basalt.core.alarms import ALARMS, HIGH
from basalt.core.commands import COMMANDS
from basalt.core.glucose_alerts import TREAT_G
from basalt.core.ui.forms import ConfirmScreen, ListScreen, NumberScreen
from basalt.core.ui.home import alarm_label
from basalt.core.ui.screens import MessageScreen
from basalt.core.ui.text import Line

try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(value):
        return value

_MG_PER_MMOL_MILLI = const(18_016)  # mg/dL per mmol/L x 1000 (glucose: 180.16 g/mol)
_MMOL_STEP = const(100)  # 0.1 mmol/L
_START_MG_DL = const(120)
_TREAT_STEP_G = const(5)
LOW_CODES = ("urgent_low", "low", "urgent_low_soon", "recheck_bg")
_CARBS = ["fast, no insulin", "recheck in 15min"]
# What to do, for the alarms whose banner cannot say it all.
ADVICE = {
    "infusion_set": "Glucose still high after insulin. Check the site and tubing. Check "
                    "ketones: if high, give insulin by pen or syringe and change the site.",
    "urgent_low": "Eat 15 g fast carbs now. Recheck in 15 min.",
    "low": "Eat 15 g fast carbs. Recheck in 15 min.",
    "urgent_low_soon": "Below 55 within 20 min: eat fast carbs.",
    "recheck_bg": "Check glucose now. Still low: 15 g more.",
    "high": "Check glucose and ketones. Still high: check the site.",
    "zero_basal": "No basal for long and no low reading. Check glucose and the CGM.",
}


def to_mg_dl(mmol_milli):
    return (mmol_milli * _MG_PER_MMOL_MILLI + 500_000) // 1_000_000


def mmol_bounds(lo, hi):
    """The 0.1 mmol/L steps whose mg/dL lies within lo..hi."""
    low = lo * 1_000_000 // _MG_PER_MMOL_MILLI // _MMOL_STEP * _MMOL_STEP
    while to_mg_dl(low) < lo:
        low += _MMOL_STEP
    high = hi * 1_000_000 // _MG_PER_MMOL_MILLI // _MMOL_STEP * _MMOL_STEP + _MMOL_STEP
    while to_mg_dl(high) > hi:
        high -= _MMOL_STEP
    return low, high


# ----- glucose entry -------------------------------------------------------------------

def glucose_screen(view, then=None):
    """then(menu, view) runs after the reading is saved (the calculator's carbs)."""
    lo, hi, step = COMMANDS["glucose"].field("mg_dl").bounds()
    mmol = view.glucose_units == "mmol/L"

    def done(menu, view, value):
        mg = to_mg_dl(value) if mmol else value
        shown = Line(8).put_milli(value, 1).text() if mmol else "%d" % mg
        details = ["fingerstick"] + (["= %d mg/dL" % mg] if mmol else [])

        def after(menu, view):
            if mg <= view.low_mg_dl:
                menu.push(treat_screen())
            elif then is not None:
                then(menu, view)

        menu.push(ConfirmScreen(b"Save glucose?", shown, view.glucose_units, details,
                                ("glucose", {"mg_dl": mg}), after))

    if mmol:
        lo, hi = mmol_bounds(lo, hi)
        start = _START_MG_DL * 1_000_000 // _MG_PER_MMOL_MILLI // _MMOL_STEP * _MMOL_STEP
        return NumberScreen(b"Glucose", "mmol/L", start, lo, hi, _MMOL_STEP, done, decimals=1)
    return NumberScreen(b"Glucose", "mg/dL", _START_MG_DL, lo, hi, step, done)


def open_glucose(menu, view):
    menu.push(glucose_screen(view))


def calc_glucose(menu, view, carbs_screen):
    """The calculator without a glucose fit for dosing: type one, or go on without a
    correction."""
    def typed(menu, view):
        menu.push(glucose_screen(view, lambda menu, view: menu.push(carbs_screen())))

    menu.push(ListScreen(b"No glucose", lambda menu, view: [
        ("Enter glucose", typed), ("No correction", lambda m, v: m.push(carbs_screen()))]))


# ----- a low: the 15 g rule ------------------------------------------------------------

def treat_screen():
    lo, hi, _ = COMMANDS["treat_low"].field("grams").bounds()

    def done(menu, view, grams):
        menu.push(ConfirmScreen(b"Carbs taken?", "%d" % grams, "g", _CARBS,
                                ("treat_low", {"grams": grams})))

    return NumberScreen(b"Carbs for low", "g", TREAT_G, lo, hi, _TREAT_STEP_G, done, fast=False)


# ----- site change ---------------------------------------------------------------------

def _site_confirm(title):
    return ConfirmScreen(title, "", "", ["site reminder", "starts over"],
                         ("site_changed", {}))


def open_site(menu, view):
    menu.push(_site_confirm(b"Site changed?"))


def site_prompt(menu, view):
    """After a new reservoir: the site is usually changed with it."""
    menu.push(_site_confirm(b"New site too?"))


# ----- alarms --------------------------------------------------------------------------

def open_alarm(menu, view, code):
    """What to do (for the alarms that say more than their banner), then the actions."""
    actions = ListScreen(alarm_label(code), lambda menu, view: _actions(view, code))
    advice = ADVICE.get(code)
    if advice is None:
        menu.push(actions)
        return
    screen = MessageScreen(alarm_label(code), advice + " OK: next")
    screen.on_select = lambda menu, view: menu.replace(actions)
    menu.push(screen)


def _actions(view, code):
    state = None
    for entry in view.alarms:
        if entry[0] == code:
            state = entry
    items = []
    if state is not None and not state[1]:
        items.append(("Acknowledge", _send("acknowledge", code)))
        if code in ALARMS and ALARMS[code][0] != HIGH and not state[2]:
            items.append(("Snooze", _send("snooze", code)))
    if code in LOW_CODES:
        items.append(("Carbs taken", lambda menu, view: menu.push(treat_screen())))
    if code == "recheck_bg" or code == "glucose_check":
        items.append(("Enter glucose", open_glucose))
    return items


def _send(cmd, code):
    def action(menu, view):
        menu.emit((cmd, {"alarm": code}))
        menu.pop()

    return action
