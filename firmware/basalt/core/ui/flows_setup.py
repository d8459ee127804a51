"""Setup screens, loaded when first opened: the clock (date and time), the force
sensor's calibration and the activity modes. Bounds come from the command table."""

from basalt.core.activity import KINDS, RULES
from basalt.core.clock import civil_from_days, date_text, days_from_civil, month_days
from basalt.core.commands import COMMANDS
from basalt.core.ui.forms import ConfirmScreen, ListScreen, NumberScreen
from basalt.core.ui.screens import minutes_text
from basalt.core.ui.text import Line
from basalt.core.units import MS_PER_HOUR, MS_PER_MIN

try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(value):
        return value

ACTIVITY_NAMES = {"exercise": "Exercise", "sleep": "Sleep", "sick": "Sick day"}
ACTIVITY_DEFAULT_MIN = {"exercise": 60, "sleep": 480, "sick": 1_440}
_ACTIVITY_STEP_MIN = const(30)
_KNOWN_DEFAULT_MN = const(1_960)  # a 200 g weight: 1.961 N
_KNOWN_STEP_MN = const(10)


def _bounds(command, key):
    return COMMANDS[command].field(key).bounds()


def _open(make):
    def action(menu, view):
        menu.push(make(view))

    return action


def clock_text(view):
    if view.clock_min is None:
        return "--:--"
    return Line(5).put_clock(view.clock_min).text()


# ----- setup ----------------------------------------------------------------------------

def setup_screen(menu, view):
    menu.push(ListScreen(b"Setup", _setup_items))


def _setup_items(menu, view):
    items = [("Clock " + clock_text(view), clock_flow)]
    if view.force_cal is not None:
        items.append(("Calibration", _open(_calibration)))
    items.append(("Reload settings", lambda m, v: m.push(ConfirmScreen(
        b"Reload settings?", "", "", ["read the file", "and apply it now"],
        ("reload_settings", {})))))
    return items


# ----- the clock ------------------------------------------------------------------------

def clock_flow(menu, view, then=None):
    """Year, month, day, hour, minute; then a confirm screen sends set_clock."""
    lo, hi, _ = _bounds("set_clock", "year")
    days = view.date_days if view.date_days is not None else days_from_civil(lo, 1, 1)
    year0, month0, day0 = civil_from_days(days)

    def year_done(menu, view, year):
        def month_done(menu, view, month):
            _, top, _ = _bounds("set_clock", "day")
            top = min(top, month_days(year, month))

            def day_done(menu, view, day):
                menu.push(_time_screen(view, year, month, day, then))

            menu.push(NumberScreen(b"Day", "", min(day0, top), 1, top, 1, day_done))

        first, last, _ = _bounds("set_clock", "month")
        menu.push(NumberScreen(b"Month", "", month0, first, last, 1, month_done, fast=False))

    menu.push(NumberScreen(b"Year", "", year0, lo, hi, 1, year_done, fast=False))


def _time_screen(view, year, month, day, then):
    _, top, step = _bounds("set_clock", "time")
    now_min = view.clock_min if view.clock_min is not None else 12 * 60

    def hour_done(menu, view, hour):
        def minute_done(menu, view, minute):
            time_ms = hour * MS_PER_HOUR + minute * MS_PER_MIN
            days = days_from_civil(year, month, day)
            when = Line(5).put_clock(hour * 60 + minute).text()
            menu.push(ConfirmScreen(b"Set clock?", "", "", [
                date_text(days), when, "basal follows"],
                ("set_clock", {"year": year, "month": month, "day": day, "time": time_ms}),
                then))

        last = min(59, (top - hour * MS_PER_HOUR) // step)
        menu.push(NumberScreen(b"Minute", "", now_min % 60, 0, last, 1, minute_done))

    return NumberScreen(b"Hour", "", now_min // 60, 0, top // MS_PER_HOUR, 1, hour_done,
                        fast=False)


def boot_clock(menu, view):
    """From the boot screen when the time is not known: set it, or go on without it
    (the lowest basal rate runs until it is set)."""
    def ack(menu, view):
        menu.emit(("boot_ack", {}))

    def later(menu, view):
        ack(menu, view)
        menu.home()

    menu.push(ListScreen(b"Time not set", lambda m, v: [
        ("Set clock", lambda m, v: clock_flow(m, v, ack)), ("Skip: low basal", later)]))


# ----- calibration ----------------------------------------------------------------------

def _calibration(view):
    return ListScreen(b"Calibration", _calibration_items)


def _calibration_items(menu, view):
    cal = view.force_cal
    if cal is None:
        return []
    items = [("zero %d" % cal[0], _none), ("%d counts/N" % cal[1], _none),
             ("Tare (free)", _tare), ("Scale: weight", _open(_scale_screen))]
    if view.occlusion is not None:
        items.append(("Occl. learned", _open(_learned)))
    return items


def _learned(view):
    return ListScreen(b"Occl. learned", _learned_items)


def _learned_items(menu, view):
    """What the occlusion detector learned of this rig and run ("--": still learning;
    "ref": no prime seen, the reference mechanics' flow allowance)."""
    got = view.occlusion
    if got is None:
        return []
    flow = got["flow_umn_per_step"]
    rows = ["thr %d mN" % got["threshold_mn"]]
    for key, label, unit in (("noise_mn", "noise", "mN"), ("band_mn", "band", "mN"),
                             ("drift_mn_h", "drift", "mN/h")):
        value = got[key]
        rows.append("%s %s %s" % (label, "--" if value is None else value, unit))
    rows.append("flow %s.%s mN/st" % (flow // 1000, flow % 1000 // 100))
    rows.append("tau %d s %s" % (got["flow_ms"] // 1000, "" if got["flow_learned"] else "ref"))
    return [(row, _none) for row in rows]


def _none(menu, view):
    pass


def _tare(menu, view):
    menu.push(ConfirmScreen(b"Tare sensor?", "", "", [
        "suspended, and", "plunger free:", "its reading is", "the new zero"],
        ("force_tare", {})))


def _scale_screen(view):
    lo, hi, _ = _bounds("force_scale", "newtons")

    def done(menu, view, known_mn):
        menu.push(ConfirmScreen(b"Scale sensor?", Line(8).put_milli(known_mn, 2).text(), "N",
                                ["on the sensor", "now (suspended)"],
                                ("force_scale", {"newtons": known_mn})))

    return NumberScreen(b"Known force", "N", _KNOWN_DEFAULT_MN, lo, hi, _KNOWN_STEP_MN, done,
                        decimals=2)


# ----- activity modes ---------------------------------------------------------------------

def activity_screen(menu, view):
    menu.push(ListScreen(b"Activity", _activity_items))


def _activity_items(menu, view):
    items = []
    for kind in KINDS:
        mark = "*" if kind == view.activity else " "
        items.append((mark + ACTIVITY_NAMES[kind], _open(_activity_minutes(kind))))
    if view.activity is not None:
        items.append(("End " + ACTIVITY_NAMES[view.activity], lambda m, v: m.push(
            ConfirmScreen(b"End activity?", "", "", [ACTIVITY_NAMES[view.activity],
                                                      "back to normal"],
                          ("end_activity", {})))))
    return items


def activity_details(kind):
    target, share, auto, remind, _ = RULES[kind]
    lines = []
    if target:
        lines.append("target %d mg/dL" % target)
    if share < 100:
        lines.append("dose %d%% of need" % share)
    if not auto:
        lines.append("no auto boluses")
    if remind:
        lines += ["check ketones +", "site every %dh" % (remind // 60)]
    return lines


def _activity_minutes(kind):
    def make(view):
        lo, hi, _ = _bounds("activity", "minutes")

        def done(menu, view, minutes):
            menu.push(ConfirmScreen(("%s?" % ACTIVITY_NAMES[kind]).encode(), "", "",
                                    ["for " + minutes_text(minutes)] + activity_details(kind),
                                    ("activity", {"mode": kind, "minutes": minutes})))

        return NumberScreen(b"For how long", "", ACTIVITY_DEFAULT_MIN[kind], lo, hi,
                            _ACTIVITY_STEP_MIN, done, minutes=True)

    return make
