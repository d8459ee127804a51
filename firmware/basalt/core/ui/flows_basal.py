"""Basal screens, loaded when first opened: a temp basal in percent or in U/h, and the
basal profiles (create, edit segments on the 30-minute grid, copy, rename, delete,
activate). Every profile edit is confirmed with the day's total it leaves; the command
table checks it, the settings schema with it when a settings file holds the profiles."""

from basalt.core.basal import make_profile
from basalt.core.commands import COMMANDS
from basalt.core.errors import BasaltError
from basalt.core.limits import MAX_PROFILES
from basalt.core.schedule import GRID_MIN, hhmm
from basalt.core.ui import flows
from basalt.core.ui.forms import ConfirmScreen, ListScreen, NumberScreen
from basalt.core.ui.screens import Screen, footer, minutes_text, title_bar, units2
from basalt.core.ui.text import Line
from basalt.core.units import MIN_PER_DAY

try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(value):
        return value

_RATE_STEP_MU_H = const(50)  # 0.05 U/h on the device; the command table allows 0.001
NAME_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"
_DEL = len(NAME_CHARS)
_DONE = _DEL + 1


def _bounds(command, key):
    return COMMANDS[command].field(key).bounds()


# ----- temp basal -------------------------------------------------------------------------

def temp_screen(menu, view):
    menu.push(ListScreen(b"Temp basal", lambda m, v: [
        ("Percent", lambda m, v: m.push(flows._temp_percent_screen())),
        ("Rate U/h", lambda m, v: m.push(_temp_rate_screen(v)))]))


def _rate_screen(title, view, start, done, command="set_profile", key="segments"):
    """A rate in U/h: the field's bounds, at most the settings' max basal."""
    lo, hi, _ = _bounds(command, key)
    if view.max_basal_mu_h is not None:
        hi = min(hi, view.max_basal_mu_h)
    hi = hi // _RATE_STEP_MU_H * _RATE_STEP_MU_H
    return NumberScreen(title, "U/h", start // _RATE_STEP_MU_H * _RATE_STEP_MU_H, lo, hi,
                        _RATE_STEP_MU_H, done, decimals=2)


def _temp_rate_screen(view):
    def rate_done(menu, view, rate):
        def done(menu, view, minutes):
            menu.push(ConfirmScreen(b"Confirm temp", units2(rate), "U/h",
                                    ["instead of sched", "for " + minutes_text(minutes)],
                                    ("temp_basal", {"rate": rate, "minutes": minutes})))

        first, last, _ = _bounds("temp_basal", "minutes")
        menu.push(NumberScreen(b"Temp for", "", 60, first, last, flows.TEMP_STEP_MIN, done,
                               minutes=True))

    return _rate_screen(b"Temp rate", view, view.basal_mu_h, rate_done, "temp_basal", "rate")


# ----- profiles ---------------------------------------------------------------------------

def profiles_screen(menu, view):
    menu.push(ListScreen(b"Profiles", _profile_items))


def _profile_items(menu, view):
    items = []
    for name in view.profiles:
        mark = "*" if name == view.active_profile else " "
        items.append((mark + name, _opener(_actions, name)))
    if len(view.profiles) < MAX_PROFILES:
        items.append(("New profile", _new))
    return items


def _segments(view, name):
    return [] if view.profile_segments is None else view.profile_segments(name)


def _opener(make, *args):
    def action(menu, view):
        menu.push(make(*args))

    return action


def total_text(segments):
    """The day's total of (minute, mU/h) segments as '19.20', or None if invalid."""
    try:
        return units2(make_profile("x", segments).daily_total_mu())
    except BasaltError:
        return None


class SaveScreen(ConfirmScreen):
    """A confirmed profile edit: sends it, then goes back to `back` (the editor)."""

    def __init__(self, title, segments, details, command, back=None):
        ConfirmScreen.__init__(self, title, total_text(segments) or "-", "U/day", details,
                               command)
        self.back = back

    def select(self, menu, view):
        menu.emit(self.command)
        if self.back is None or self.back not in menu.stack:
            menu.home()
            return
        while menu.top() is not self.back:
            menu.pop()


def _actions(name):
    def build(menu, view):
        segments = _segments(view, name)
        items = []
        if name != view.active_profile:
            items.append(("Activate", lambda m, v: m.push(SaveScreen(
                b"Switch profile?", segments, ["to " + name],
                ("activate_profile", {"name": name})))))
        items.append(("Edit segments", _opener(_editor, name)))
        items.append(("Copy", lambda m, v: m.push(NameScreen(b"Copy as", "", _copied(name)))))
        items.append(("Rename", lambda m, v: m.push(NameScreen(b"New name", name,
                                                               _renamed(name)))))
        if name != view.active_profile:
            items.append(("Delete", lambda m, v: m.push(ConfirmScreen(
                b"Delete profile?", "", "", [name, "(not undone)"],
                ("delete_profile", {"name": name})))))
        return items

    return ListScreen(name, build)


def _unused(menu, view, name):
    if name in view.profiles:
        flows.refused(menu, "%s is already a profile" % name)
        return False
    return True


def _copied(source):
    def done(menu, view, name):
        if _unused(menu, view, name):
            segments = _segments(view, source)
            menu.push(SaveScreen(b"Copy profile?", segments, [source + " as", name],
                                 ("set_profile", {"name": name, "segments": segments})))

    return done


def _renamed(old):
    def done(menu, view, name):
        if name == old or _unused(menu, view, name):
            menu.push(ConfirmScreen(b"Rename?", "", "", [old, "to " + name],
                                    ("rename_profile", {"name": old, "new_name": name})))

    return done


def _new(menu, view):
    def named(menu, view, name):
        if not _unused(menu, view, name):
            return

        def rated(menu, view, rate):
            segments = [(0, rate)]
            menu.push(SaveScreen(b"New profile?", segments, [name, "all day " + units2(rate)],
                                 ("set_profile", {"name": name, "segments": segments})))

        menu.push(_rate_screen(b"Rate all day", view, view.basal_mu_h or 1_000, rated))

    menu.push(NameScreen(b"Profile name", "", named))


# ----- the segment editor -------------------------------------------------------------------

def _editor(name):
    screen = ListScreen(name, None)

    def build(menu, view):
        segments = _segments(view, name)
        items = []
        for i in range(len(segments)):
            start, rate = segments[i]
            items.append(("%s %s" % (hhmm(start), units2(rate)), _segment(name, i, screen)))
        if len(segments) < MIN_PER_DAY // GRID_MIN:
            items.append(("Add segment", _add(name, screen)))
        return items

    screen.build = build
    return screen


def _save(name, segments, what, back):
    return SaveScreen(b"Save profile?", segments, [what],
                      ("set_profile", {"name": name, "segments": segments}), back)


def _segment(name, i, editor):
    def action(menu, view):
        segments = _segments(view, name)
        start, rate = segments[i]

        def rate_done(menu, view, new_rate):
            edited = list(segments)
            edited[i] = (start, new_rate)
            menu.push(_save(name, edited, "%s %s U/h" % (hhmm(start), units2(new_rate)),
                            editor))

        items = [("Rate", lambda m, v: m.push(_rate_screen(b"Rate from " + hhmm(start).encode(),
                                                            v, rate, rate_done)))]
        if i > 0:
            items.append(("Start", lambda m, v: m.push(_start_screen(
                name, segments, i, editor))))
            rest = segments[:i] + segments[i + 1:]
            items.append(("Remove", lambda m, v: m.push(_save(
                name, rest, "remove " + hhmm(start), editor))))
        menu.push(ListScreen(b"Segment " + hhmm(start).encode(), lambda m, v: items))

    return action


def _start_screen(name, segments, i, editor):
    """A segment's start, between its neighbours, on the 30-minute grid."""
    lo = segments[i - 1][0] + GRID_MIN
    hi = segments[i + 1][0] - GRID_MIN if i + 1 < len(segments) else MIN_PER_DAY - GRID_MIN

    def done(menu, view, start):
        edited = list(segments)
        edited[i] = (start, segments[i][1])
        menu.push(_save(name, edited, "start %s" % hhmm(start), editor))

    return ClockScreen(b"Start at", segments[i][0], lo, hi, done)


def _add(name, editor):
    def action(menu, view):
        segments = _segments(view, name)

        def start_done(menu, view, start):
            for begin, _ in segments:
                if begin == start:
                    flows.refused(menu, "a segment starts at %s already" % hhmm(start))
                    return
            rate = segments[0][1]
            for begin, value in segments:
                if begin <= start:
                    rate = value

            def rate_done(menu, view, new_rate):
                edited = sorted(list(segments) + [(start, new_rate)])
                menu.push(_save(name, edited, "%s %s U/h" % (hhmm(start), units2(new_rate)),
                                editor))

            menu.push(_rate_screen(b"Rate from " + hhmm(start).encode(), view, rate,
                                   rate_done))

        menu.push(ClockScreen(b"New segment at", 12 * 60, GRID_MIN, MIN_PER_DAY - GRID_MIN,
                              start_done))

    return action


class ClockScreen(NumberScreen):
    """A time of day in minutes on the 30-minute grid, shown as HH:MM."""

    def __init__(self, title, value, lo, hi, done):
        NumberScreen.__init__(self, title, "", value, lo, hi, GRID_MIN, done, fast=False)

    def format(self, line, value):
        return line.put_clock(value)


class NameScreen(Screen):
    """A name, one character at a time: up/down choose it, select adds it; the last two
    choices are "del" (remove the last character) and "done"."""

    def __init__(self, title, start, done):
        self.title = title
        self.name = start
        self.index = _DONE if start else 0
        self.done = done
        self.line = Line(16)

    def move(self, menu, view, step, repeat):
        self.index = (self.index + step) % (_DONE + 1)

    def select(self, menu, view):
        if self.index == _DONE:
            if self.name:
                self.done(menu, view, self.name)
        elif self.index == _DEL:
            self.name = self.name[:-1]
        elif len(self.name) < 16:
            self.name += chr(NAME_CHARS[self.index])

    def draw(self, p, view, menu):
        title_bar(p, self.title)
        p.text(self.name[-15:].encode() + b"_", 0, 16)
        if self.index == _DONE:
            choice = b"[done]"
        elif self.index == _DEL:
            choice = b"[del]"
        else:
            choice = NAME_CHARS[self.index:self.index + 1]
        p.text(b"add: " + choice, 0, 32)
        footer(p, b"UP/DN  OK: add")
