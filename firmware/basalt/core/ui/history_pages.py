"""The journal on the screen: every record since the journal began, a screen at a time,
newest first, each with its source and its reason. Imported when History is opened.

The screen holds only the rows it shows: up and down past the edge read the next newer
or older record from `pages` (basalt.storage.history_pages.JournalPages on the pump:
newest(), older(pos), newer(pos), record(pos) -> a record with boot, at_ms, kind,
detail; boot: the running boot; boots: {boot: (at_ms, day_ms)} of boot records seen).
Select opens the entry: its time, what happened, who did it and why, from the fields
the record holds (describe()).
"""

from basalt.core.alarms import ALARMS
from basalt.core.ui.history import _FORMATS, _u
from basalt.core.ui.screens import (
    BAR_W,
    LABEL_X,
    ROW_Y,
    ROWS,
    MessageScreen,
    Screen,
    _scroll_marks,
    minutes_text,
    title_bar,
)
from basalt.core.units import MS_PER_DAY, MS_PER_MIN, fmt_milli

# Records that are parts of a whole shown elsewhere, or too frequent to page through
# (CGM readings every 5 minutes: the CGM's own list has them; hourly basal totals).
# A glucose typed from a meter is shown: the user entered it. What the occlusion
# detector learned is on the calibration screen (and would read as an occlusion here).
HIDDEN = ("bolus_part_done", "prime_done", "cgm_time_ok", "loop_limit_ended",
          "basal_summary", "basal_rate", "limits_set", "occlusion_learned")
SEARCH_MOST = 200  # records read at most for one move (a run of hidden ones)


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
        for _ in range(SEARCH_MOST):
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


def _units(mu):
    return _u(mu or 0) + " U"


def _bolus(d):
    source = d.get("source", "user")
    text = "bolus %s" % _units(d.get("programmed_mu"))
    if d.get("kind") in ("extended", "dual"):
        text += " (%s: %s now, %s over %s)" % (
            d["kind"], _units(d.get("now_mu")), _units(d.get("extended_mu")),
            minutes_text(d.get("duration_min", 0)))
    if source == "calculator":
        return text + _advice(d)
    if source == "loop":
        return text + " by the loop (automatic)"
    return text + ", amount set by the user"


def _advice(d):
    """Why a calculator bolus: its parts, the glucose and where it came from, the
    settings it used, and what was suggested against what the user confirmed."""
    parts = []
    if d.get("carbs_g"):
        parts.append("meal %d g %s" % (d["carbs_g"], _units(d.get("meal_mu"))))
    if d.get("correction_mu"):
        parts.append("corr %s%s" % ("-" if d["correction_mu"] < 0 else "",
                                    _units(abs(d["correction_mu"]))))
    text = " from the calculator: " + (" + ".join(parts) or "no meal, no correction")
    if d.get("iob_mu"):
        text += " - IOB %s" % _units(d["iob_mu"])
    if d.get("mg_dl") is not None:
        text += "; bg %d mg/dL %s" % (d["mg_dl"], d.get("glucose_source") or "")
    else:
        text += "; no bg"
    if d.get("carb_ratio_mg_per_u"):
        text += "; 1 U per %s g" % fmt_milli(d["carb_ratio_mg_per_u"])
    if d.get("sensitivity_mg_dl_per_u"):
        text += ", 1 U per %d mg/dL" % d["sensitivity_mg_dl_per_u"]
    if d.get("target_low_mg_dl") is not None:
        text += ", target %s-%s" % (d["target_low_mg_dl"], d.get("target_high_mg_dl"))
    suggested = d.get("suggested_mu")
    if suggested is not None:
        text += "; suggested %s" % _units(suggested)
        if suggested != d.get("programmed_mu"):
            text += ", user set %s" % _units(d.get("programmed_mu"))
    return text


_CAUSES = {"user": "by the user", "alarm": "by an alarm", "occlusion": "by an occlusion",
           "empty_reservoir": "the reservoir is empty", "limit": "a limit was reached",
           "loop": "by the loop", "restart": "after a restart",
           "low_glucose_suspend": "low glucose suspend"}


def _why(d):
    """ ' (by the user)' from a record's cause, with the alarm code if one stopped it."""
    cause = d.get("cause")
    if cause is None:
        return ""
    text = _CAUSES.get(cause, str(cause))
    if d.get("alarm"):
        text += " " + d["alarm"].replace("_", " ")
    return " (%s)" % text


def _cancelled_temp(d):
    return "temp basal ended after %s%s" % (minutes_text(d.get("ran_min", 0)), _why(d))


def _resumed(d):
    text = "delivery resumed" + _why(d)
    if d.get("after"):
        text += " after: " + d["after"]
    return text + "; missed insulin is not made up"


def _carbs(d):
    alone = d.get("source") != "calculator"
    return "carbs %s g announced to the loop%s" % (
        d.get("grams"), " alone" if alone else " with a calculator bolus")


def _loop(d):
    action = d.get("action")
    then = {"temp": "temp %s/h for %s min" % (_units(d.get("rate_mu_h")), d.get("minutes")),
            "cancel": "scheduled basal", "keep": "no change", "none": "nothing"}.get(
        action, str(action))
    if d.get("bolus_mu"):
        then += " + bolus " + _units(d["bolus_mu"])
    text = "loop (%s): " % d.get("mode")
    if d.get("eventual") is not None:
        text += "eventual %s -> " % d["eventual"]
    text += then
    if d.get("glucose") is not None:
        text += "; bg %s, IOB %s" % (d["glucose"], _units(d.get("iob_mu")))
    prediction = d.get("prediction")
    if prediction and len(prediction) > 8:  # points every 15 min
        text += "; predicted %s, %s, %s at 30, 60, 120 min" % (
            prediction[2], prediction[4], prediction[8])
    if d.get("limit"):
        text += "; bound by " + d["limit"].replace("_", " ")
    if d.get("reason"):
        text += ". " + d["reason"]
    if d.get("refused"):
        text += ". REFUSED: " + d["refused"]
    return text


def _temp(d):
    what = "%d %%" % d["percent"] if d.get("percent") is not None else \
        _units(d.get("rate_mu_h")) + "/h"
    return "temp basal %s for %s, by %s%s" % (
        what, minutes_text(d.get("duration_min") or 0),
        "the loop" if d.get("source") == "loop" else "the user", _why(d))


def _alarm(d):
    code = d.get("code", "?")
    stops = code in ALARMS and ALARMS[code][1]
    text = "alarm: %s%s" % (code.replace("_", " "), ", delivery stopped" if stops else "")
    if isinstance(d.get("detail"), str):
        text += " (%s)" % d["detail"]
    return text


def _alarm_stop(d):
    return "delivery stopped (%s): %s of the bolus not delivered" % (
        d.get("reason"), _units(d.get("bolus_not_delivered_mu")))


def _ended(how):
    def text(d):
        return "bolus %s: %s of %s%s" % (how, _units(d.get("delivered_mu")),
                                         _units(d.get("programmed_mu")), _why(d))

    return text


def _interrupted(d):
    return "bolus of %s interrupted by a restart: %s to %s delivered; the user counts it" % (
        _units(d.get("programmed_mu")), _units(d.get("delivered_lo_mu")),
        _units(d.get("delivered_hi_mu")))


def _link(what):
    def text(d):
        out = "%s: %s" % (what, d.get("state", ""))
        return out + (" (%s)" % d["detail"] if d.get("detail") else "")

    return text


_REASONS = {
    "bolus_started": _bolus,
    "bolus_done": _ended("delivered"),
    "bolus_cancelled": _ended("stopped"),
    "loop_decision": _loop,
    "temp_basal_started": _temp,
    "alarm": _alarm,
    "alarm_raised": _alarm,
    "alarm_stop": _alarm_stop,
    "cgm_link": _link("CGM link"),
    "cgm_pair": _link("CGM pairing"),
    "bolus_interrupted": _interrupted,
    "bolus_assumed": lambda d: "bolus of %s counted as delivered (%s)" % (
        _units(d.get("delivered_mu")), d.get("reason")),
    "bolus_reconciled": lambda d: "interrupted bolus counted by the user: %s" % _units(
        d.get("delivered_mu")),
    "cgm_backfill": lambda d: "CGM back-fill (RACP) of the records since offset %s: %s, "
                              "%s records" % (d.get("since"), d.get("result"),
                                              d.get("records", "?")),
    "carbs": _carbs,
    "stopped": lambda d: "delivery stopped: %s%s" % (d.get("reason"), _why(d)),
    "resumed": _resumed,
    "temp_basal_cancelled": _cancelled_temp,
    "boot": lambda d: "pump started (%s), firmware %s" % (d.get("cause"), d.get("fw")),
}


def describe(kind, d):
    """What happened, who did it and why, in words (wrapped by the screen)."""
    fmt = _REASONS.get(kind)
    if fmt is not None:
        return fmt(d)
    items = ["%s %s" % (key, d[key]) for key in sorted(d) if key != "at_ms"]
    return kind.replace("_", " ") + (": " + ", ".join(items) if items else "")
