"""The screens the pump shows outside the menus (boot, messages, stop bolus) and what
every screen shares; the menus' lists, number entry and dose confirmation are in
basalt.core.ui.forms (loaded with the menus).

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


def _scroll_marks(p, top, count):
    """Small triangles at the right edge when there is more above or below."""
    if top > 0:
        p.c.line(124, 12, 122, 15, 1)
        p.c.line(124, 12, 126, 15, 1)
    if top + ROWS < count:
        p.c.line(124, 61, 122, 58, 1)
        p.c.line(124, 61, 126, 58, 1)


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
