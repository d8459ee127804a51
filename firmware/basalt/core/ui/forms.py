"""The menus' screens: lists, number entry, dose confirmation. Loaded with the menus and
forgotten with them when the screen is home (basalt.core.ui.menu.MENU_MODULES); the
screens shown outside the menus are basalt.core.ui.screens.

Each screen has move(menu, view, step, repeat) for up (+1) and down (-1), select(menu,
view) for a confirmed select press, and draw(painter, view, menu). Screens never act on
the pump: they push other screens or hand a plain-data command to menu.emit().
"""

from basalt.core.ui.screens import (
    BAR_W,
    COLS,
    LABEL_COLS,
    LABEL_X,
    ROW_Y,
    ROWS,
    Screen,
    _bytes,
    _scroll_marks,
    footer,
    title_bar,
)
from basalt.core.ui.text import Line


class ListScreen(Screen):
    """A list of (label, action) items; build(menu, view) makes it fresh each time, so
    items appear and disappear with the pump's state (e.g. Resume only when suspended)."""

    def __init__(self, title, build):
        self.title = title
        self.build = build
        self.index = 0
        self.top = 0

    def items(self, menu, view):
        items = self.build(menu, view)
        if not menu.has_back:
            items.append(("Back", _back))
        return items

    def move(self, menu, view, step, repeat):
        count = len(self.items(menu, view))
        self.index = max(0, min(count - 1, self.index - step))

    def select(self, menu, view):
        items = self.items(menu, view)
        if items:
            items[min(self.index, len(items) - 1)][1](menu, view)

    def draw(self, p, view, menu):
        title_bar(p, self.title)
        items = self.items(menu, view)
        if not items:
            p.text(b"(nothing here)", 0, ROW_Y[0])
            return
        self.index = min(self.index, len(items) - 1)
        if self.index < self.top:
            self.top = self.index
        elif self.index >= self.top + ROWS:
            self.top = self.index - ROWS + 1
        for row in range(ROWS):
            i = self.top + row
            if i >= len(items):
                break
            y = ROW_Y[row]
            label = _bytes(items[i][0])
            if len(label) > LABEL_COLS:  # cut, and say so: the last one shown is "~"
                label = label[:LABEL_COLS - 1] + b"~"
            if i == self.index:
                p.c.fill_rect(0, y - 1, BAR_W, 10, 1)
                p.text(label, LABEL_X, y, 0)
            else:
                p.text(label, LABEL_X, y)
        _scroll_marks(p, self.top, len(items))


def _back(menu, view):
    menu.pop()


class NumberScreen(Screen):
    """Enter a number with up/down; held keys repeat and speed up tenfold after a while.

    value, lo, hi, step are integers in the stored unit (mU, g, min, %); with decimals
    (0-3) the value is thousandths shown as units with that many places.
    done(menu, view, value) runs on select once value >= min_ok (a dose of 0 cannot be
    chosen).
    """

    FAST_AFTER = 10  # repeats before the step grows tenfold

    def __init__(self, title, unit, value, lo, hi, step, done, decimals=None, min_ok=None,
                 minutes=False, fast=True):
        self.title = title
        self.unit = unit
        self.value = max(lo, min(hi, value))
        self.lo, self.hi, self.step = lo, hi, step
        self.done = done
        self.decimals = decimals
        self.min_ok = lo if min_ok is None else min_ok
        self.minutes = minutes
        self.fast = fast
        self._repeats = 0
        self.line = Line(12)
        self.unit_text = _bytes(unit)
        hint = self.format(self.format(Line(COLS).put(b"("), lo).put_char(45), hi)
        self.hint = hint.put_char(41)

    def move(self, menu, view, step, repeat):
        self._repeats = self._repeats + 1 if repeat else 0
        size = self.step
        if self.fast and self._repeats > self.FAST_AFTER:
            size *= 10
        self.value = max(self.lo, min(self.hi, self.value + step * size))

    def select(self, menu, view):
        if self.value >= self.min_ok:
            self.done(menu, view, self.value)

    def format(self, line, value):
        if self.minutes:
            return line.put_minutes(value)
        if self.decimals is not None:
            return line.put_milli(value, self.decimals)
        return line.put_int(value)

    def draw(self, p, view, menu):
        title_bar(p, self.title)
        line = self.format(self.line.clear(), self.value)
        if self.minutes:
            end = p.line_text(line, 8, 22)
        else:
            end = p.big_line(line, 8, 16)
        p.text(self.unit_text, end + 4, 22)
        p.line_text(self.hint, 0, 38)
        footer(p, b"OK: next" if self.value >= self.min_ok else b"choose an amount")


class ConfirmScreen(Screen):
    """The only screen that emits a dose: it shows the amount (big) and the details,
    and a fresh select press sends exactly the command built with those numbers."""

    def __init__(self, title, big, unit, details, command, then=None):
        self.title = title
        self.big = big  # already formatted, e.g. "2.50"
        self.unit = unit
        self.details = details  # short str lines
        self.command = command
        self.then = then

    def select(self, menu, view):
        menu.emit(self.command)
        menu.home()
        if self.then is not None:
            self.then(menu, view)

    def draw(self, p, view, menu):
        title_bar(p, self.title)
        y = 12
        if self.big:
            end = p.big(_bytes(self.big), 4, 13)
            p.text(_bytes(self.unit), end + 4, 21)
            y = 32
        for text in self.details[:(54 - y) // 9]:
            p.text(_bytes(text), 0, y)
            y += 9
        footer(p, menu.confirm_hint)
