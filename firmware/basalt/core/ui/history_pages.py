"""The journal on the screen: every record since the journal began, a screen at a time,
newest first, each with its source and its reason. Imported when History is opened.

The screen holds only the rows it shows: up and down past the edge read the next newer
or older record from `pages` (basalt.storage.history_pages.JournalPages on the pump:
newest(), older(pos), newer(pos), record(pos) -> a record with boot, at_ms, kind,
detail; boot: the running boot; boots: {boot: (at_ms, day_ms)} of boot records seen).
Select opens the entry: its time, what happened, who did it and why, from the fields
the record holds (basalt.core.ui.history_detail, loaded when an entry opens).
"""

from basalt.core.ui.history import _FORMATS, _u
from basalt.core.ui.screens import (
    BAR_W,
    LABEL_X,
    ROW_Y,
    ROWS,
    MessageScreen,
    Screen,
    _scroll_marks,
    title_bar,
)
from basalt.core.units import MS_PER_DAY, MS_PER_MIN

try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(value):
        return value

# Records that are parts of a whole shown elsewhere, or too frequent to page through
# (CGM readings every 5 minutes: the CGM's own list has them; hourly basal totals).
# A glucose typed from a meter is shown: the user entered it. What the occlusion
# detector learned is on the calibration screen (and would read as an occlusion here).
HIDDEN = ("bolus_part_done", "prime_done", "cgm_time_ok", "loop_limit_ended",
          "basal_summary", "basal_rate", "limits_set", "occlusion_learned")
_SEARCH_MOST = const(200)  # records read at most for one move (a run of hidden ones)


class HistoryPagesScreen(Screen):
    title = b"History"

    def __init__(self, pages):
        self.pages = pages
        self.rows = []  # (pos, record), newest first: only what is on screen
        self.index = 0
        self.newer_left = False
        self.older_left = False
        pos = pages.newest()
        found = None
        if pos is not None:
            record = pages.record(pos)
            found = (pos, record) if shown(record) else self._next(pos, pages.older)
        while found is not None and len(self.rows) < ROWS:
            self.rows.append(found)
            found = self._next(found[0], pages.older)
        self.older_left = found is not None

    def _next(self, pos, step):
        """The next shown record from pos in one direction, or None."""
        for _ in range(_SEARCH_MOST):
            pos = step(pos)
            if pos is None:
                return None
            record = self.pages.record(pos)
            if shown(record):
                return pos, record
        return None

    def move(self, menu, view, step, repeat):
        rows = self.rows
        if not rows:
            return
        if step < 0:  # down: older
            if self.index < len(rows) - 1:
                self.index += 1
                return
            found = self._next(rows[-1][0], self.pages.older)
            self.older_left = found is not None
            if found is not None:
                rows.pop(0)
                rows.append(found)
                self.newer_left = True
        else:
            if self.index > 0:
                self.index -= 1
                return
            found = self._next(rows[0][0], self.pages.newer)
            self.newer_left = found is not None
            if found is not None:
                rows.pop()
                rows.insert(0, found)
                self.older_left = True

    def select(self, menu, view):
        if self.rows:
            record = self.rows[self.index][1]
            when = clock_text(self.pages, record.boot, record.at_ms)
            from basalt.core.ui.history_detail import describe  # an entry opened

            menu.push(MessageScreen(when + " " + summary(record.kind, record.detail),
                                    describe(record.kind, record.detail)))

    def draw(self, p, view, menu):
        title_bar(p, self.title)
        if not self.rows:
            p.text(b"no history yet", 0, ROW_Y[0])
            return
        for row in range(len(self.rows)):
            record = self.rows[row][1]
            label = (clock_text(self.pages, record.boot, record.at_ms) + " " +
                     summary(record.kind, record.detail))[:15].encode()
            y = ROW_Y[row]
            if row == self.index:
                p.c.fill_rect(0, y - 1, BAR_W, 10, 1)
                p.text(label, LABEL_X, y, 0)
            else:
                p.text(label, LABEL_X, y)
        top = 1 if self.newer_left else 0
        _scroll_marks(p, top, top + ROWS + (1 if self.older_left else 0))


def shown(record):
    if record is None or record.kind in HIDDEN:
        return False
    return record.kind != "glucose" or record.detail.get("source") == "finger"


def clock_text(pages, boot, at_ms):
    """"HH:MM" of a record: the running boot's by the pump's clock, an older boot's by
    its boot record's time of day when that was read; else "b7+3h" (boot 7, 3 h after
    it started)."""
    if boot in pages.boots:
        start_ms, start_day = pages.boots[boot]
        day = (start_day + at_ms - start_ms) % MS_PER_DAY
    else:
        return "b%d+%dh" % (boot, at_ms // (60 * MS_PER_MIN))
    minute = day // MS_PER_MIN
    return "%02d:%02d" % (minute // 60, minute % 60)


def summary(kind, d):
    """The list's few words (after the time)."""
    if kind == "loop_decision":
        action = d.get("action")
        if action == "temp":
            return "loop " + _u(d.get("rate_mu_h") or 0)
        return "loop " + str(action)
    if kind == "bolus_started" and d.get("source") in ("calculator", "loop"):
        return ("cal " if d["source"] == "calculator" else "auto ") + _u(
            d.get("programmed_mu", 0))
    if kind in ("cgm_pair", "cgm_link"):
        return "CGM " + str(d.get("state"))
    if kind == "cgm_backfill":
        return "CGM +%s" % d.get("records", "?")
    if kind == "alarm_stop":
        return "stop " + str(d.get("reason"))
    if kind == "bolus_interrupted":
        return "cut " + _u(d.get("programmed_mu", 0))
    if kind == "stopped" and d.get("cause") in _CAUSES:
        return "stop " + d["cause"].split("_")[0][:6]
    fmt = _FORMATS.get(kind)
    return fmt(d) if fmt is not None else kind


_CAUSES = {"user": "by the user", "alarm": "by an alarm", "occlusion": "by an occlusion",
           "empty_reservoir": "the reservoir is empty", "limit": "a limit was reached",
           "loop": "by the loop", "restart": "after a restart",
           "low_glucose_suspend": "low glucose suspend"}
