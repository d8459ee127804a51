"""History lines: one event (kind, detail) as at most 16 characters for the screen.

Events are the engine's and app's (kind, detail-with-at_ms) tuples; alarm events and
CGM readings are shown too once those branches emit them. Unknown kinds show their name.
"""

from basalt.core.ui.home import alarm_label
from basalt.core.units import MS_PER_DAY, MS_PER_MIN


def _u(milli):
    """Units to the nearest 0.01 U (a delivered 499 mU, one microstep short of 0.5 U,
    reads 0.50)."""
    hundredths = (milli + 5) // 10
    return "%d.%02d" % (hundredths // 100, hundredths % 100)


def _bolus(detail):
    return "bol " + _u(detail.get("programmed_mu", 0))


def _ended(word):
    def text(detail):
        return "%s %s" % (word, _u(detail.get("delivered_mu", 0)))

    return text


def _temp(detail):
    if detail.get("percent") is not None:
        return "temp %d%%" % detail["percent"]
    return "temp " + _u(detail.get("rate_mu_h") or 0)


def _alarm(prefix):
    def text(detail):
        return prefix + alarm_label(detail.get("code", "")).decode().lower()

    return text


def _reading(detail):
    return "bg %s" % detail.get("mgdl", detail.get("glucose_mgdl", "?"))


_STOPS = {"suspended": "suspended", "reservoir empty": "res. empty",
          "no reservoir": "no reservoir"}
_FORMATS = {
    "bolus_started": _bolus,
    "bolus_done": _ended("done"),
    "bolus_cancelled": _ended("stop"),
    "temp_basal_started": _temp,
    "temp_basal_cancelled": lambda d: "temp off",
    "temp_basal_done": lambda d: "temp end",
    "basal_capped": lambda d: "cap " + _u(d.get("rate_mu_h") or 0),  # at max basal
    "stopped": lambda d: _STOPS.get(d.get("reason"), "stopped"),
    "resumed": lambda d: "resumed",
    "prime_started": lambda d: "prime " + _u(d.get("programmed_mu", 0)),
    "reservoir_fitted": lambda d: "fill " + _u(d.get("fill_mu", 0))[:-3],
    "profile_activated": lambda d: "prof " + str(d.get("name", "")),
    "alarm": _alarm("!"),
    "alarm_raised": _alarm("!"),
    "cgm_restored": lambda d: "CGM back",
    "cgm_time": lambda d: "CGM clock",
    "alarm_acknowledged": _alarm("ok "),
    "alarm_cleared": _alarm("end "),
    "reading": _reading,
    "bolus_reconciled": lambda d: "count " + _u(d.get("delivered_mu", 0)),
    "boot": lambda d: "boot " + str(d.get("cause", "")),
    "boot_acknowledged": lambda d: "boot seen",
    "glucose": lambda d: "%s %s" % ("meter" if d.get("source") == "finger" else "bg",
                                    d.get("mg_dl", "?")),
    "low_treated": lambda d: "low: %s g" % d.get("grams", "?"),
    "site_changed": lambda d: "new site",
}
# Skipped: parts of a whole already shown, and "the cause is gone" notes (the alarm's
# own end is shown when it ends).
SKIPPED = ("bolus_part_done", "prime_done", "cgm_time_ok", "loop_limit_ended", "site_age")


def history_line(kind, detail, now_ms, day_ms):
    """'HH:MM text' for an event, given the pump's time of day now; None to skip it."""
    if kind in SKIPPED:
        return None
    fmt = _FORMATS.get(kind)
    text = fmt(detail) if fmt is not None else kind
    at = (day_ms - (now_ms - detail.get("at_ms", now_ms))) % MS_PER_DAY
    minute = at // MS_PER_MIN
    return ("%02d:%02d %s" % (minute // 60, minute % 60, text))[:16]
