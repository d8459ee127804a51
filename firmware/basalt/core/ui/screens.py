"""The menu screens: lists, number entry, dose confirmation, messages, scrolling text.

Each screen has move(menu, view, step, repeat) for up (+1) and down (-1), select(menu, view) for a
confirmed select press, and draw(painter, view, menu). Screens never act on the pump:
they push other screens or hand a plain-data command to menu.emit().
"""

from basalt.core.ui.text import Line

ROW_Y = (12, 22, 32, 42, 52)  # list rows under the title bar
ROWS = len(ROW_Y)
COLS = 16
# List rows: a label of LABEL_COLS characters from LABEL_X keeps its ink (glyph columns
# 1-7) inside the highlight bar (x 0 to BAR_W - 1), clear of the scroll marks (x >= 122).
LABEL_X = 1
LABEL_COLS = COLS - 1
BAR_W = 121


def units2(milli):
    """'2.50' for 2500 mU (allocates; for menus, not for the home screen)."""
    return Line(12).put_milli(milli, 2).text()


def minutes_text(minutes):
    return Line(8).put_minutes(minutes).text()


def wrap(text, width=COLS):
    """Words into lines of at most `width` characters (long words are cut)."""
    lines = []
    line = ""
    for word in text.split():
        while len(word) > width:
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:width])
            word = word[width:]
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= width:
            line += " " + word
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def _bytes(label):
    return label.encode() if isinstance(label, str) else label


def title_bar(p, title):
    p.c.fill_rect(0, 0, 128, 10, 1)
    p.text(_bytes(title), 2, 1, 0)


def footer(p, text):
    p.c.hline(0, 54, 128, 1)
    p.text(_bytes(text), 0, 56)


class Screen:
    title = b""

    def move(self, menu, view, step, repeat):
        pass

    def select(self, menu, view):
        pass

    def draw(self, p, view, menu):
        title_bar(p, self.title)


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


def _scroll_marks(p, top, count):
    """Small triangles at the right edge when there is more above or below."""
    if top > 0:
        p.c.line(124, 12, 122, 15, 1)
        p.c.line(124, 12, 126, 15, 1)
    if top + ROWS < count:
        p.c.line(124, 61, 122, 58, 1)
        p.c.line(124, 61, 126, 58, 1)


def _back(menu, view):
    menu.pop()


class TextScreen(Screen):
    """Scrolling read-only lines: history, settings. lines(view) gives str lines."""

    def __init__(self, title, lines, empty="(empty)", on_select=None):
        self.title = title
        self.lines = lines
        self.empty = empty
        self.on_select = on_select
        self.top = 0

    def move(self, menu, view, step, repeat):
        count = len(self.lines(view))
        self.top = max(0, min(max(0, count - ROWS), self.top - step))

    def select(self, menu, view):
        if self.on_select is None:
            menu.pop()
        else:
            self.on_select(menu, view)

    def draw(self, p, view, menu):
        title_bar(p, self.title)
        lines = self.lines(view)
        if not lines:
            p.text(_bytes(self.empty), 0, ROW_Y[0])
        for row in range(ROWS):
            if self.top + row < len(lines):
                p.text(_bytes(lines[self.top + row])[:COLS - 1], 0, ROW_Y[row])
        _scroll_marks(p, self.top, len(lines))


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


class MessageScreen(TextScreen):
    """A message (a refusal, a note), scrolled with up/down; select or back closes it."""

    def __init__(self, title, text):
        lines = wrap(text, COLS - 1)  # the last column is for the scroll marks
        super().__init__(title, lambda view: lines)


class StopBolusScreen(Screen):
    """Reached by a long press from any screen while a bolus runs; select stops it."""

    title = b"Stop bolus?"

    def __init__(self):
        self.line = Line(COLS)

    def select(self, menu, view):
        if view.bolus_kind is not None:
            menu.emit(("cancel_bolus", {}))
        menu.home()

    def draw(self, p, view, menu):
        title_bar(p, self.title)
        if view.bolus_kind is None:
            p.text(b"No bolus running", 0, 22)
            footer(p, b"OK: home")
            return
        line = self.line.clear().put_milli(view.bolus_delivered_mu, 2).put(b" of ")
        p.line_text(line.put_milli(view.bolus_programmed_mu, 2).put(b" U"), 0, 16)
        p.text(b"delivered", 0, 26)
        p.text(b"OK stops it now", 0, 40)
        footer(p, menu.confirm_hint)


class BootScreen(Screen):
    """Version and the benchtop warning; closes by itself or on any key. After a restart
    with notes (view.boot_notes) the warning shows for the same time (or until a key),
    then the notes, which select acknowledges: no power-on skips the warning."""

    def __init__(self, version, warning, splash=True):
        self.version = version
        self.lines = wrap(warning)
        self.top = 0
        self.splash = splash  # the warning is on screen

    def warning_shown(self, view):
        """The warning, not the notes: any key or the boot timeout closes it."""
        return view.boot_notes is None or self.splash

    def move(self, menu, view, step, repeat):
        self.top = max(0, self.top - step)

    def select(self, menu, view):
        if view.boot_notes is not None and view.clock_min is None:
            from basalt.core.ui.flows_setup import boot_clock  # asks for the time

            boot_clock(menu, view)
            return
        if view.boot_notes is not None:
            menu.emit(("boot_ack", {}))
        menu.pop()

    def draw(self, p, view, menu):
        if not self.warning_shown(view):
            self._notes(p, view)
            return
        p.c.rect(0, 0, 128, 64, 1)
        p.text(b"BASALT", 40, 4)
        p.text(_bytes(self.version)[:14], 64 - 4 * min(14, len(self.version)), 14)
        p.c.hline(8, 24, 112, 1)
        y = 28
        for text in self.lines[:4]:
            p.text(_bytes(text), 64 - 4 * len(text), y)
            y += 9

    def _notes(self, p, view):
        title_bar(p, "Basalt " + self.version)
        lines = []
        for note in view.boot_notes:
            lines += wrap(note)
        rows = ROWS - 1
        self.top = min(self.top, max(0, len(lines) - rows))
        for row in range(rows):
            if self.top + row < len(lines):
                p.text(_bytes(lines[self.top + row]), 0, ROW_Y[row])
        _scroll_marks(p, self.top, len(lines) - 1)
        footer(p, b"OK: set time" if view.clock_min is None else b"OK: continue")
