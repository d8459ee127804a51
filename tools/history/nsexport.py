"""A journal as Nightscout's three API v1 collections: entries (CGM readings),
treatments (doses, carbs, care events) and devicestatus (loop decisions), each a list
that is the body of its POST. The field conventions and where they come from are in
docs/references.md ("Nightscout"); every choice below names its reason.

Basal is sent as it ran. The journal records every change of the running rate
(basal_rate), and Nightscout draws basal from its own profile with Temp Basal
treatments on top; the pump's schedule is not in the journal and a site's profile
may differ from the pump's, so each stretch of basal (scheduled, temp, suspended,
pump off) is a Temp Basal with the `absolute` rate that ran and its real `duration`:
Nightscout then draws what was delivered whatever its profile says. A stretch with
nothing delivered because the pump stopped is `absolute` 0 with `type` PUMP_SUSPEND,
as AndroidAPS uploads a suspend it reads from a pump.

Older journals lack some fields (the reasons added in issue 19); a missing field is
left out of the object, never guessed.

Fields of our own, beside Nightscout's (a site keeps any field it is sent):
  identifier   stable UUID of the record (and part): a re-upload replaces, not adds
  date         epoch ms of created_at, as AndroidAPS sends it
  programmed   U the user (or loop) confirmed, beside insulin, what the motor gave
  basalt       the dose's why as the pump journaled it (source, calculator figures)
  basal        what a Temp Basal stretch was: scheduled, temp, suspended or off
  reason       why delivery stopped, or who set a temp (the record's cause)
  timeGuessed  true when the pump's clock was never set and the time follows --start
"""

import uuid
from fractions import Fraction

from basalt.core.readings import arrow_for
from basalt.core.ui.history_detail import describe
from tools.history import GUESSED, iso, placed

ENTERED_BY = "basalt"
# identifier: a UUID from the record's place, as Loop and AndroidAPS send one, so that
# a re-upload replaces instead of adding (Nightscout upserts treatments by it).
_NAMESPACE = uuid.UUID("6f1c2b8e-1d0a-4c55-9a57-6b9b1e0d5a19")
RATE_CAUSES = ("temp_basal_started", "temp_basal_done", "temp_basal_cancelled",
               "temp_basal_resumed", "temp_basal_ended", "stopped", "alarm_stop", "resumed",
               "profile_activated", "clock_set", "clock_unknown", "basal_capped")
CAUSE_WINDOW_MS = 60_000  # a basal_rate record follows its cause at the next tick
BOLUS_ENDS = ("bolus_done", "bolus_cancelled")
BOLUS_RESTARTS = ("bolus_interrupted", "bolus_assumed", "bolus_reconciled")
CARE = {"site_changed": "Site Change", "low_treated": "Carb Correction",
        "reservoir_fitted": "Insulin Change"}
NOTES = ("alarm", "alarm_raised", "loop_mode", "profile_activated", "prime_done",
         "clock_set", "clock_unknown", "limit_reached", "bolus_interrupted")


def microstep_pl(view):
    """The motor's microstep volume in pL (a Fraction), from the journal alone: a
    record's own ustep_pl if one has it, else the narrowest range that every
    (delivered_steps, delivered_mu = steps x volume // 10,000) pair allows; None when
    no record has both."""
    lo, hi = Fraction(0), None
    for record in view.records:
        detail = record.detail
        if isinstance(detail.get("ustep_pl"), int):
            return Fraction(detail["ustep_pl"])
        steps, mu = detail.get("delivered_steps"), detail.get("delivered_mu")
        if isinstance(steps, int) and isinstance(mu, int) and steps > 0:
            lo = max(lo, Fraction(mu * 10_000, steps))
            top = Fraction((mu + 1) * 10_000, steps)
            hi = top if hi is None else min(hi, top)
    return None if hi is None else (lo + hi) / 2


def units(mu):
    """mU (int or Fraction) as Nightscout's U, to 0.0001 U (a tenth of a mU, finer than
    a microstep, so per-hour sums keep the pump's resolution)."""
    return round(float(mu) / 1000, 4)


class _Export:
    def __init__(self, view, start_ms, device):
        self.view = view
        self.device = device
        self.points = placed(view, start_ms)
        self.volume = microstep_pl(view)
        self.entries, self.treatments, self.statuses = [], [], []

    # ----- helpers ------------------------------------------------------------------

    def delivered_mu(self, detail):
        """A bolus part's delivered insulin: its microsteps times the step volume (the
        journal's delivered_mu is rounded down to a mU)."""
        steps = detail.get("delivered_steps")
        if self.volume is not None and isinstance(steps, int):
            return steps * self.volume / 10_000
        return Fraction(detail.get("delivered_mu") or 0)

    def treatment(self, when, source, record, event, part="", **fields):
        out = {"eventType": event, "created_at": iso(when), "date": when,
               "enteredBy": ENTERED_BY, "identifier": self.ident(record, part, when)}
        out.update({key: value for key, value in fields.items() if value is not None})
        if source == GUESSED:
            out["timeGuessed"] = True
        self.treatments.append(out)
        return out

    def ident(self, record, part, when):
        key = "%s/%d/%d/%d/%s" % (self.device, record.boot, record.seq, when, part)
        return str(uuid.uuid5(_NAMESPACE, key))

    # ----- the records --------------------------------------------------------------

    def run(self):
        started = {}  # (boot, bolus id) -> (when, source, record)
        extended_at = {}  # (boot, bolus id) -> (when of the extended part's start, steps)
        boluses = set()  # (boot, id) already sent (a reconciled restart comes later)
        # An alarm is journaled as raised (alarm_raised) after the event that raised it
        # (alarm); a Note for each would say it twice. Older journals have only alarm.
        notes = set(NOTES) - ({"alarm"} if any(
            r.kind == "alarm_raised" for r in self.view.records) else set())
        for when, record, source in self.points:
            kind, detail = record.kind, record.detail
            if kind == "glucose":
                self.glucose(when, source, record)
            elif kind in CARE:
                self.care(when, source, record)
            elif kind == "carbs":
                self.carbs(when, source, record, started)
            elif kind == "bolus_started":
                started[(record.boot, detail.get("id"))] = (when, source, record)
            elif kind == "bolus_part_done":
                key = (record.boot, detail.get("id"))
                extended_at[key] = (when, self.delivered_mu(detail))
                self.bolus_now(key, started, record, done=when)
                boluses.add(key)
            elif kind in BOLUS_ENDS:
                key = (record.boot, detail.get("id"))
                if key in extended_at or self.kind_of(key, started, detail) == "extended":
                    self.bolus_extended(key, started, extended_at, when, record)
                else:
                    self.bolus_now(key, started, record, done=when)
                boluses.add(key)
            elif kind in BOLUS_RESTARTS:
                self.bolus_restart(when, source, record, started, boluses)
            elif kind == "loop_decision":
                self.loop(when, source, record)
            if kind in notes:
                self.treatment(when, source, record, "Note", notes=words(kind, detail),
                               reason=detail.get("reason") or detail.get("code"))
        self.basal()
        return self.shaped()

    def glucose(self, when, source, record):
        detail = record.detail
        mg_dl = detail.get("mg_dl")
        if not isinstance(mg_dl, int):
            return
        if detail.get("source") == "finger":  # typed from a meter: a careportal BG Check
            self.treatment(when, source, record, "BG Check", glucose=mg_dl,
                           glucoseType="Finger", units="mg/dl")
            return
        entry = {"type": "sgv", "sgv": mg_dl, "date": when, "dateString": iso(when),
                 "direction": arrow_for(detail.get("trend")), "device": self.device}
        if detail.get("flags"):  # kept on the pump, never dosed from
            entry["flags"] = detail["flags"]
        if source == GUESSED:
            entry["timeGuessed"] = True
        self.entries.append(entry)

    def care(self, when, source, record):
        detail = record.detail
        fields = {"notes": words(record.kind, detail)}
        if record.kind == "low_treated":
            fields["carbs"] = detail.get("grams")
        self.treatment(when, source, record, CARE[record.kind], **fields)

    def carbs(self, when, source, record, started):
        """Carbs announced to the loop alone; those the calculator announced are in its
        Meal Bolus already (records19: source "calculator"; an older record without
        a source is matched to a calculator bolus at the same moment)."""
        detail = record.detail
        if detail.get("source") == "calculator":
            return
        for _, _, b_record in started.values():
            if (b_record.boot == record.boot and abs(b_record.at_ms - record.at_ms) <= 1000
                    and _carbs(b_record.detail) == detail.get("grams")):
                return
        self.treatment(when, source, record, "Carb Correction", carbs=detail.get("grams"),
                       notes="carbs announced to the loop")

    @staticmethod
    def kind_of(key, started, detail):
        start = started.get(key)
        return detail.get("kind") or (start[2].detail.get("kind") if start else None)

    def bolus_now(self, key, started, record, done):
        """A normal bolus or a dual's now part: Meal Bolus when it came with carbs,
        Correction Bolus otherwise; the loop's automatic bolus is a Correction Bolus with
        isSMB, as AndroidAPS marks an SMB. insulin is what the motor delivered."""
        when, source, start = started.get(key, (done, GUESSED, record))
        detail = start.detail
        carbs = _carbs(detail)
        insulin = units(self.delivered_mu(record.detail))
        # Nightscout drops an insulin of 0: a bolus stopped before its first microstep,
        # without carbs, is a Note that says so.
        event = "Meal Bolus" if carbs else "Correction Bolus" if insulin else "Note"
        fields = {"insulin": insulin or None, "carbs": carbs or None,
                  "notes": _bolus_notes(start, record), "programmed": units(
                      detail.get("now_mu") or detail.get("programmed_mu") or 0)}
        if detail.get("source") == "loop":
            fields.update(isSMB=True, type="SMB")
        if isinstance(detail.get("mg_dl"), int):  # the glucose the calculator used
            fields.update(glucose=detail["mg_dl"], units="mg/dl", glucoseType={
                "typed": "Finger", "cgm": "Sensor"}.get(detail.get("glucose_source")))
        fields.update(_reason_fields(detail))
        self.treatment(when, source, start, event, "now", **fields)

    def bolus_extended(self, key, started, extended_at, done, record):
        """An extended bolus, or a dual's extended part, as AndroidAPS uploads a pump's
        extended bolus: a Combo Bolus at the part's start with splitNow 0, splitExt 100,
        enteredinsulin and relative (U/h) over the minutes it ran, so Nightscout draws
        it as basal and does not count it at once in its IOB."""
        when, source, start = started.get(key, (done, GUESSED, record))
        begin, now_part = extended_at.get(key, (when, 0))
        amount = self.delivered_mu(record.detail) - now_part  # the end reports both parts
        minutes = (done - begin) / 60_000
        entered = units(amount)
        if entered <= 0 or minutes <= 0:  # stopped before a microstep of it went in
            self.treatment(begin, source, start, "Note", "extended",
                           notes=_bolus_notes(start, record))
            return
        fields = {"enteredinsulin": entered, "splitNow": 0, "splitExt": 100,
                  "relative": round(entered / minutes * 60, 6) if minutes else 0,
                  "duration": minutes, "durationInMilliseconds": done - begin,
                  "notes": _bolus_notes(start, record),
                  "programmed": units(start.detail.get("extended_mu") or 0)}
        fields.update(_reason_fields(start.detail))
        self.treatment(begin, source, start, "Combo Bolus", "extended", **fields)

    def bolus_restart(self, when, source, record, started, sent):
        """A bolus a restart cut: counted by the user (bolus_reconciled), assumed
        (bolus_assumed), or still open (bolus_interrupted: the most it can have been,
        so Nightscout's IOB is never below the truth)."""
        detail = record.detail
        key = (detail.get("bolus_boot", record.boot), detail.get("id"))
        if record.kind == "bolus_interrupted":
            mu = detail.get("delivered_hi_mu")
        else:
            mu = detail.get("delivered_mu")
        if key in sent or not isinstance(mu, int):
            return
        at, at_source, start = started.get(key, (when, source, record))
        if record.kind == "bolus_interrupted" and any(
                r.kind == "bolus_reconciled" and r.detail.get("id") == detail.get("id")
                for _, r, _ in self.points):
            return  # the reconciled amount is sent instead
        carbs = _carbs(start.detail)
        self.treatment(at, at_source, start, "Meal Bolus" if carbs else "Correction Bolus",
                       "restart", insulin=units(mu), carbs=carbs or None,
                       notes=describe(record.kind, detail))

    def loop(self, when, source, record):
        """A loop decision in the shape oref0 rigs upload (openaps.iob, .suggested,
        .enacted), so Nightscout's loop pill, COB and forecast show it."""
        detail = record.detail
        stamp = iso(when)
        suggested = {"timestamp": stamp, "bg": detail.get("glucose"),
                     "eventualBG": detail.get("eventual"), "COB": detail.get("cob_g"),
                     "IOB": _u(detail.get("iob_mu")), "reason": describe(
                         "loop_decision", detail), "deliverAt": stamp}
        if detail.get("action") == "temp":
            suggested.update(rate=_u(detail.get("rate_mu_h")), duration=detail.get("minutes"))
        if detail.get("bolus_mu"):
            suggested["units"] = _u(detail["bolus_mu"])
        prediction = detail.get("prediction")
        if isinstance(prediction, list) and prediction:
            # oref0's predBGs are 5-minute points; the pump predicts every 15 minutes
            suggested["predBGs"] = {"IOB": _five_minute(prediction)}
        suggested = {k: v for k, v in suggested.items() if v is not None}
        openaps = {"suggested": suggested}
        if detail.get("iob_mu") is not None:
            openaps["iob"] = {"iob": _u(detail["iob_mu"]), "timestamp": stamp}
        if detail.get("action") in ("temp", "cancel") or detail.get("bolus_mu"):
            enacted = dict(suggested, received=not detail.get("refused"))
            if detail.get("action") == "cancel":
                enacted.update(rate=0, duration=0)
            openaps["enacted"] = enacted
        status = {"device": self.device, "created_at": stamp, "openaps": openaps,
                  "pump": {"clock": stamp}}
        if source == GUESSED:
            status["timeGuessed"] = True
        self.statuses.append(status)

    # ----- basal as it ran -----------------------------------------------------------

    def basal(self):
        for start, end, rate, cause, source, record in basal_stretches(self.points):
            minutes = (end - start) / 60_000
            if end <= start:
                continue
            suspended = cause.get("suspended")
            fields = {"absolute": rate / 1000, "rate": rate / 1000, "duration": minutes,
                      "durationInMilliseconds": end - start, "notes": cause["notes"],
                      "type": "PUMP_SUSPEND" if suspended else "NORMAL",
                      "basal": cause["what"]}
            if cause.get("percent") is not None:
                fields["percent"] = cause["percent"] - 100  # Nightscout's: the change
            if cause.get("reason"):
                fields["reason"] = cause["reason"]
            self.treatment(start, source, record, "Temp Basal", "basal", **fields)

    def shaped(self):
        _unique_times(self.treatments)
        self.treatments.sort(key=lambda t: t["date"])
        seen = set()
        entries = []
        for entry in self.entries:  # Nightscout keeps one reading per time and type
            if entry["date"] not in seen:
                seen.add(entry["date"])
                entries.append(entry)
        return {"entries": entries, "treatments": self.treatments,
                "devicestatus": self.statuses}


def basal_stretches(points):
    """[(start, end, rate mU/h, cause, source, record)]: the running basal rate between
    its changes, each with why it ran (scheduled, temp, suspended); between two boots a
    stretch of rate 0 (the pump was off or restarting). A rate change starts at its
    cause (the command), not at the tick that journaled it."""
    out = []
    state = {"temp": None, "stop": None}
    current = None  # [start, rate, cause, source, record]
    cause_at = None
    last = None  # (when, boot) of the previous record
    for when, record, source in points:
        kind, detail = record.kind, record.detail
        if last is not None and record.boot != last[1]:
            if current is not None:
                out.append((current[0], last[0], current[1], current[2], current[3],
                            current[4]))
                current = None
            if when > last[0]:
                out.append((last[0], when, 0, {"what": "off", "suspended": True,
                                               "notes": "pump off or restarting",
                                               "reason": "restart"}, source, record))
            state = {"temp": None, "stop": None}
        last = (when, record.boot)
        _track(state, kind, detail)
        if kind in RATE_CAUSES:
            cause_at = when
        if kind != "basal_rate":
            continue
        start = cause_at if cause_at is not None and when - cause_at <= CAUSE_WINDOW_MS \
            else when
        cause_at = None
        if current is not None:
            start = max(start, current[0])
            if current[2].get("suspended") and state.get("resumed"):  # who resumed, why
                current[2]["notes"] += "; " + words("resumed", state.pop("resumed"))
            out.append((current[0], start, current[1], current[2], current[3], current[4]))
        rate = detail.get("rate_mu_h") or 0
        current = [start, rate, _cause(state, rate), source, record]
    if current is not None and last is not None:
        out.append((current[0], last[0], current[1], current[2], current[3], current[4]))
    return out


def _track(state, kind, detail):
    if kind in ("temp_basal_started", "temp_basal_resumed"):
        state["temp"] = detail
    elif kind in ("temp_basal_done", "temp_basal_cancelled", "temp_basal_ended"):
        state["temp"] = None
    elif kind == "stopped":
        state["stop"] = detail
        state["temp"] = None
        state["resumed"] = None
    elif kind == "alarm_stop" and state["stop"] is None:
        state["stop"] = detail
    elif kind == "resumed":
        state["stop"] = None
        state["resumed"] = detail


def _cause(state, rate):
    stop, temp = state["stop"], state["temp"]
    if rate == 0 and (stop is not None or temp is None):
        why = (stop or {}).get("cause") or (stop or {}).get("reason") or "not delivering"
        return {"what": "suspended", "suspended": True, "reason": why,
                "notes": describe("stopped", stop) if stop and stop.get("reason") else
                "delivery stopped: %s" % why}
    if temp is not None:
        who = "the loop" if temp.get("source") == "loop" else "the user"
        what = ("%d %%" % temp["percent"]) if temp.get("percent") is not None else \
            "%s U/h" % _u(temp.get("rate_mu_h"))
        cause = {"what": "temp", "percent": temp.get("percent"),
                 "notes": "temp basal %s by %s" % (what, who),
                 "reason": temp.get("cause") or temp.get("source")}
        return cause
    return {"what": "scheduled", "notes": "scheduled basal"}


def _carbs(detail):
    carbs = detail.get("carbs_g", detail.get("carbs"))
    return carbs if isinstance(carbs, int) and carbs > 0 else None


def _u(mu):
    return None if not isinstance(mu, int) else mu / 1000


def _u_text(mu):
    return "%g" % (mu / 1000) if isinstance(mu, int) else "?"


def _five_minute(prediction):
    """Every 15-minute point repeated into oref0's 5-minute series (None ends it)."""
    out = []
    for i, value in enumerate(prediction):
        if not isinstance(value, int):
            break
        out.extend([value] * (1 if i == len(prediction) - 1 else 3))
    return out


def _bolus_notes(start, record):
    text = describe("bolus_started", start.detail) if start is not None else ""
    if record.kind == "bolus_part_done":
        ended = "now part delivered: %s U of %s U" % (
            _u(record.detail.get("delivered_mu")), _u(record.detail.get("programmed_mu")))
    else:
        ended = describe(record.kind, record.detail)
    return "; ".join(t.strip() for t in (text, ended) if t)


_WORDS = {  # the records the pump's history screen leaves as raw fields
    "reservoir_fitted": lambda d: "reservoir fitted with %s U" % _u_text(d.get("fill_mu")),
    "prime_done": lambda d: "primed %s U into the tubing (%s microsteps; not counted as "
                            "insulin given)" % (_u_text(d.get("programmed_mu")),
                                                d.get("delivered_steps")),
    "clock_set": lambda d: "clock set on the pump (by the %s)%s" % (
        d.get("how"), "" if d.get("was_known") else ", which did not know the time"),
    "clock_unknown": lambda d: "clock unknown after a restart: the profile's lowest rate "
                               "(%s U/h) runs until it is set" % _u_text(d.get("rate_mu_h")),
    "loop_mode": lambda d: "loop mode: %s" % d.get("mode"),
    "profile_activated": lambda d: "basal profile %s active" % d.get("name"),
    "limit_reached": lambda d: "limit reached: %s; delivery stopped" % (
        str(d.get("limit")).replace("_", " ")),
    "low_treated": lambda d: "low treated with %s g of fast carbs (not told to the loop)" % (
        d.get("grams")),
}


def words(kind, detail):
    """A record in words: the pump's own (its history screen), or the export's for the
    records the screen shows as raw fields."""
    phrase = _WORDS.get(kind)
    return phrase(detail) if phrase is not None else describe(kind, detail).strip()


REASON_KEYS = ("source", "carbs_g", "meal_mu", "correction_mu", "iob_mu", "mg_dl",
               "glucose_source", "carb_ratio_mg_per_u", "sensitivity_mg_dl_per_u",
               "target_low_mg_dl", "target_high_mg_dl", "suggested_mu")


def _reason_fields(detail):
    """The dose's why, as the pump journaled it (units in the key names: _mu, mg_dl),
    under `basalt` so no Nightscout field is redefined."""
    why = {key: detail[key] for key in REASON_KEYS if detail.get(key) is not None}
    return {"basalt": why} if why else {}


def _unique_times(treatments):
    """Nightscout keeps one treatment per created_at and eventType (when it does not
    know identifier) and one temp basal per ms: a second one at the same ms moves on by
    a ms."""
    seen = set()
    for treatment in sorted(treatments, key=lambda t: t["date"]):
        while (treatment["date"], treatment["eventType"]) in seen:
            treatment["date"] += 1
            treatment["created_at"] = iso(treatment["date"])
        seen.add((treatment["date"], treatment["eventType"]))


def export(view, start_ms, device=ENTERED_BY):
    return _Export(view, start_ms, device).run()


# ----- the export's check: what Nightscout counts, hour by hour ------------------------

def delivered_hours(view, start_ms, volume=None):
    """[(start, end, mU)]: the pump's own count of insulin delivered in each of its
    hourly basal summaries (the motor's basal microsteps in that hour) plus the
    boluses' microsteps, a normal bolus (or a dual's now part) in the hour it started,
    an extended part spread evenly over the time it ran. volume: the microstep in pL
    (default: as the journal shows it, microstep_pl). None without a step volume."""
    volume = volume or microstep_pl(view)
    if volume is None:
        return None
    points = placed(view, start_ms)
    hours = []
    for when, record, _ in points:
        if record.kind == "basal_summary" and record.detail.get("minutes") == 60:
            steps = record.detail.get("delivered_steps", 0)
            hours.append([when - 60 * 60_000, when, Fraction(steps) * volume / 10_000])
    for at, until, mu in _bolus_parts(points, volume):
        for hour in hours:
            if until is None:
                if hour[0] <= at < hour[1]:
                    hour[2] += mu
            elif until > at:
                overlap = min(until, hour[1]) - max(at, hour[0])
                if overlap > 0:
                    hour[2] += mu * overlap / (until - at)
    return [tuple(h) for h in hours]


def _bolus_parts(points, volume):
    """[(start, end or None for an instant, mU)] of every bolus part the motor gave."""
    started, parts, now_steps = {}, [], {}
    for when, record, _ in points:
        key = (record.boot, record.detail.get("id"))
        steps = record.detail.get("delivered_steps")
        if record.kind == "bolus_started":
            started[key] = (when, record.detail.get("kind"))
        elif record.kind == "bolus_part_done" and isinstance(steps, int):
            at = started.get(key, (when, None))[0]
            parts.append((at, None, steps * volume / 10_000))
            now_steps[key] = (when, steps)
        elif record.kind in BOLUS_ENDS and isinstance(steps, int):
            at, kind = started.get(key, (when, None))
            if key in now_steps:
                begin, done = now_steps[key]
                parts.append((begin, when, (steps - done) * volume / 10_000))
            elif kind == "extended":
                parts.append((at, when, steps * volume / 10_000))
            else:
                parts.append((at, None, steps * volume / 10_000))
    return parts


def hourly_agreement(view, start_ms, treatments, volume=None):
    """[(hour start, pump mU, Nightscout mU, gap in microsteps)] for each of the pump's
    full hours, Nightscout's figure recomputed from `treatments` by its own rules."""
    from tools.history import nsmodel

    volume = volume or microstep_pl(view)
    hours = delivered_hours(view, start_ms, volume)
    if not hours:
        return []
    step_mu = volume / 10_000
    out = []
    for start, end, pump_mu in hours:
        ns_mu = nsmodel.insulin_between(treatments, start, end) * 1000
        out.append((start, float(pump_mu), ns_mu, (ns_mu - float(pump_mu)) / float(step_mu)))
    return out
