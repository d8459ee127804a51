"""An opened History entry in words: what happened, who did it and why, from the fields
the record holds. Imported when an entry is opened (basalt.core.ui.history_pages);
goes with the menus (basalt.core.ui.menu.MENU_MODULES)."""

from basalt.core.alarms import ALARMS
from basalt.core.ui.history import _u
from basalt.core.ui.history_pages import _CAUSES
from basalt.core.ui.screens import minutes_text
from basalt.core.units import fmt_milli


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
