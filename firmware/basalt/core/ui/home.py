"""The home screen, drawn without allocating: every field is formatted into a Line
allocated once, labels are bytes constants, alarm and state names come from tables.

Layout (128 x 64):
   y 0   state  clock                 battery
   y 12  GLUCOSE trend     age
   y 21                    reservoir
         (without a CGM: "no CGM" and the reservoir share one row, y 16)
   y 30  IOB
   y 39  basal or temp basal
   y 48  running bolus: delivered / programmed and a bar
   y 55  the most urgent alarm (inverted when not yet acknowledged), else a hint
"""

from basalt.core.activity import RULES, TAG
from basalt.core.errors import BasaltError
from basalt.core.ui.text import Line
from basalt.core.ui.view import LOOP_CLOSED

try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(value):
        return value

try:  # the alarm manager's table of banner titles (branch issue3-safety)
    from basalt.core.alarms import banner as _banner
except ImportError:
    _banner = None

_LABELS = {}  # code -> title as bytes, made once per code
STOP_LABELS = {"suspended": b"SUSP", "reservoir empty": b"EMPTY", "no reservoir": b"NO RES"}
BOLUS_LABELS = {"normal": b"Bol ", "extended": b"Ext ", "dual": b"Dual "}
_SHOWN_MS = const(3_600_000)  # a reading older than an hour is not shown as a value


def alarm_label(code):
    """An alarm's title as bytes: the alarm table's banner title, else the code itself
    ("reservoir_low" -> "RESERVOIR LOW"). Made once per code, so redraws allocate nothing."""
    label = _LABELS.get(code)
    if label is None:
        title = None
        if _banner is not None:
            try:
                title = _banner(code)[0]
            except BasaltError:  # a code the table does not know
                title = None
        label = (title or str(code).upper().replace("_", " "))[:15].encode()
        _LABELS[code] = label
    return label


def draw_trend(canvas, trend, x, y):
    """An arrow in a 12 x 16 box at (x, y): flat, 45 degrees, straight, or doubled."""
    if trend is None:
        return
    cx, cy = x + 6, y + 8
    if trend == 0:
        canvas.line(cx - 6, cy, cx + 5, cy, 1)
        canvas.line(cx + 5, cy, cx + 1, cy - 4, 1)
        canvas.line(cx + 5, cy, cx + 1, cy + 4, 1)
    elif trend == 1 or trend == -1:
        s = -trend  # screen y grows downwards
        canvas.line(cx - 5, cy - 5 * s, cx + 4, cy + 4 * s, 1)
        canvas.line(cx + 4, cy + 4 * s, cx - 2, cy + 4 * s, 1)
        canvas.line(cx + 4, cy + 4 * s, cx + 4, cy - 2 * s, 1)
    else:
        s = 1 if trend > 0 else -1
        if trend == 2 or trend == -2:
            _shaft(canvas, cx, cy, s)
        else:
            _shaft(canvas, cx - 3, cy, s)
            _shaft(canvas, cx + 3, cy, s)


def _shaft(canvas, ax, cy, s):
    """A vertical arrow at x = ax pointing up (s = 1) or down (s = -1)."""
    canvas.vline(ax, cy - 7, 15, 1)
    tip = cy - 7 * s
    canvas.line(ax, tip, ax - 3, tip + 3 * s, 1)
    canvas.line(ax, tip, ax + 3, tip + 3 * s, 1)


def draw_battery(canvas, pct, x, y):
    if pct is None:
        return
    canvas.rect(x, y, 13, 8, 1)
    canvas.fill_rect(x + 13, y + 2, 2, 4, 1)
    canvas.fill_rect(x + 2, y + 2, 9 * max(0, min(pct, 100)) // 100, 4, 1)


class HomeScreen:
    title = b"Home"

    def __init__(self):
        self.a = Line(16)
        self.b = Line(16)

    def move(self, menu, view, step, repeat):
        pass

    def select(self, menu, view):
        menu.open_main()

    def draw(self, p, view, menu):
        c = p.c
        a = self.a
        self._status(p, view)
        c.hline(0, 9, 128, 1)
        self._glucose(p, view)
        a.clear().put(b"IOB ")
        if view.iob_mu is None:
            a.put(b"--")
        else:
            a.put_milli(view.iob_mu, 2).put(b" U")
        p.line_text(a, 0, 30)
        self._basal(p, view)
        self._bolus(p, view)
        self._footer(p, view, menu)

    def _status(self, p, view):
        a = self.a.clear()
        if view.stop_reason is not None:
            a.put(STOP_LABELS.get(view.stop_reason, b"STOP"))
        else:
            a.put(b"LOOP" if view.loop == LOOP_CLOSED else b"OPEN")
        p.line_text(a, 0, 0)
        if view.clock_min is not None:
            p.line_text(a.clear().put_clock(view.clock_min), 52, 0)
        else:
            p.text(b"time?", 52, 0)
        if view.activity is not None:
            p.text(RULES[view.activity][TAG], 93, 0)
        draw_battery(p.c, view.battery_pct, 110, 0)

    def _glucose(self, p, view):
        a, b = self.a, self.b
        res_y = 21
        if view.glucose_mgdl is None:
            res_y = 16  # the row of "no CGM": no age line above it
            p.text(b"no CGM", 0, res_y)
        else:
            age = view.glucose_age_ms or 0
            a.clear()
            if age >= _SHOWN_MS:
                a.put(b"---")
            else:
                a.put_int(view.glucose_mgdl)
            end = p.big_line(a, 0, 12)
            if age < _SHOWN_MS:
                draw_trend(p.c, view.trend, end + 2, 12)
            b.clear()
            if age >= _SHOWN_MS:
                b.put(b">1h ago")
            else:
                b.put_int(age // 60_000).put(b"m ago")
            p.line_text(b, 64, 12)
        b.clear().put(b"Res ")
        if view.reservoir_mu is None:
            b.put(b"--")
        else:
            b.put_int(view.reservoir_mu // 1000).put_char(85)
        p.line_text(b, 64, res_y)

    def _basal(self, p, view):
        a = self.a.clear()
        if view.temp_left_min is None:
            a.put(b"Basal ").put_milli(view.basal_mu_h, 2).put(b" U/h")
        else:
            if view.temp_percent is not None:
                a.put_char(84).put_int(view.temp_percent).put(b"% ").put_milli(view.basal_mu_h, 2)
            else:
                a.put(b"T ").put_milli(view.basal_mu_h, 2).put(b"U/h")
            a.put_char(32).put_minutes(view.temp_left_min)
        p.line_text(a, 0, 39)

    def _bolus(self, p, view):
        if view.bolus_kind is None:
            return
        a = self.a.clear()
        a.put(BOLUS_LABELS.get(view.bolus_kind, b"Bol "))
        a.put_milli(view.bolus_delivered_mu, 2).put_char(47).put_milli(view.bolus_programmed_mu, 2)
        end = p.line_text(a, 0, 48) + 2
        width = 128 - end
        if width >= 6:
            p.c.rect(end, 48, width, 7, 1)
            programmed = view.bolus_programmed_mu or 1
            done = (width - 2) * min(view.bolus_delivered_mu, programmed) // programmed
            p.c.fill_rect(end + 1, 49, done, 5, 1)

    def _footer(self, p, view, menu):
        alarms = view.alarms
        if alarms:
            code, acknowledged, snoozed = alarms[0]
            label = alarm_label(code)
            if acknowledged or snoozed:
                p.text(b"!", 0, 56)
                p.text(label, 10, 56)
            else:
                p.c.fill_rect(0, 55, 128, 9, 1)
                p.text(b"!", 1, 56, 0)
                p.text(label, 10, 56, 0)
        elif view.bolus_kind is not None:
            p.text(menu.stop_hint, 0, 56)
        else:
            p.text(b"OK: menu", 0, 56)

