"""Read a pump's history journal on the host: from a board (mpremote), a pulled bundle,
a folder of segment files or a simulator run; export CSV or Nightscout JSON; plot.

A bundle is the segment files concatenated oldest first (`pull` and `tools.sim
--journal` write one); a folder holds the segment files as the board stores them.
"""

import datetime
import json
import os

from basalt.core import journal as jnl
from basalt.core import journal_read as jread
from basalt.core.readings import arrow_for

DEFAULT_START = "2026-01-01T00:00:00Z"


class HistoryError(Exception):
    """The file cannot be read as a journal; the message says why and what to do."""


def split_bundle(data):
    """[(name, bytes)] of the segments in a bundle (split at valid segment headers)."""
    starts = []
    pos = data.find(jnl.MAGIC)
    while pos >= 0:
        if jread.parse_header(data[pos:pos + jnl.HEADER_SIZE]) is not None:
            starts.append(pos)
        pos = data.find(jnl.MAGIC, pos + 1)
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    ends = starts[1:] + [len(data)]
    return [("%s@%d" % ("bundle", s), data[s:e]) for s, e in zip(starts, ends)]


def load(path):
    """A JournalView of a bundle file or a folder of segments; HistoryError if nothing
    in it is a journal record."""
    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if jnl.segment_number(n) is not None)
        files = []
        for name in names:
            with open(os.path.join(path, name), "rb") as handle:
                files.append((name, handle.read()))
        size = sum(len(d) for _, d in files)
    else:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise HistoryError("%s: %s" % (path, error.strerror or error))
        files = split_bundle(data)
        size = len(data)
    view = jread.read_journal(files)
    if not view.records:
        why = "; ".join(message for _, message in view.foreign) or (
            "%d bytes, none of them a journal record with a valid CRC" % size)
        raise HistoryError("%s holds no readable history: %s" % (path, why))
    return view


def warnings(view):
    out = []
    if view.damaged:
        out.append("skipped %d damaged bytes in %d places (torn or corrupt records)" % (
            view.damaged_bytes(), len(view.damaged)))
    for name, message in view.foreign:
        out.append(message.replace(name, "segment " + name))
    return out


def parse_start(text):
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HistoryError("--start %r: not an ISO date and time such as %s" % (
            text, DEFAULT_START))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp() * 1000)


def timeline(view, start_ms):
    """[(epoch ms, record)]: a boot whose record carries epoch_s is placed there; a boot
    without one follows the previous boot's last record (the time the pump was off is
    unknown); the first such boot starts at start_ms."""
    out = []
    offset = None  # epoch ms of at_ms 0 in the current boot
    boot = None
    last = start_ms
    for record in view.records:
        if record.boot != boot:
            boot = record.boot
            offset = last - record.at_ms if out else start_ms - record.at_ms
            if record.kind == "boot" and record.detail.get("epoch_s"):
                offset = record.detail["epoch_s"] * 1000 - record.at_ms
        when = offset + record.at_ms
        last = when
        out.append((when, record))
    return out


def iso(epoch_ms):
    moment = datetime.datetime.fromtimestamp(epoch_ms / 1000, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (epoch_ms % 1000)


def csv_rows(view, start_ms):
    for when, record in timeline(view, start_ms):
        yield {"seq": record.seq, "boot": record.boot, "at_ms": record.at_ms,
               "time": iso(when), "kind": record.kind,
               "detail": json.dumps(record.detail, sort_keys=True)}


CSV_FIELDS = ("seq", "boot", "at_ms", "time", "kind", "detail")

def direction(trend_milli):
    """Nightscout's arrow for a journaled trend (mg/dL per minute x 1000, as the reading
    store computes it): the pump's own rule, so export and screen agree."""
    return arrow_for(trend_milli)


def nightscout(view, start_ms):
    """{"entries": [...], "treatments": [...]} with Nightscout's field names."""
    entries = []
    treatments = []
    started = {}
    for when, record in timeline(view, start_ms):
        detail = record.detail
        kind = record.kind
        if kind in CARE_EVENTS or (kind == "glucose" and detail.get("source") == "finger"):
            treatments.append(_care(when, kind, detail))
        elif kind == "glucose" and isinstance(detail.get("mg_dl"), int):
            entries.append({"type": "sgv", "sgv": detail["mg_dl"], "date": when,
                            "dateString": iso(when), "direction": direction(detail.get("trend")),
                            "device": "basalt"})
        elif kind == "bolus_started":
            started[(record.boot, detail.get("id"))] = (when, detail)
        elif kind in ("bolus_done", "bolus_cancelled", "bolus_reconciled"):
            treatments.append(_bolus(when, record, started))
        elif kind == "temp_basal_started":
            treatment = {"eventType": "Temp Basal", "duration": detail.get("duration_min"),
                         "created_at": iso(when), "enteredBy": "basalt"}
            if detail.get("rate_mu_h") is not None:
                treatment["absolute"] = detail["rate_mu_h"] / 1000
            else:
                treatment["percent"] = detail.get("percent", 100) - 100  # NS: the change
            treatments.append(treatment)
        elif kind in ("temp_basal_cancelled", "temp_basal_ended"):
            treatments.append({"eventType": "Temp Basal", "duration": 0,
                               "created_at": iso(when), "enteredBy": "basalt"})
        elif kind in ("alarm", "alarm_raised"):
            treatments.append({"eventType": "Note", "notes": "alarm: %s" % detail.get("code"),
                               "created_at": iso(when), "enteredBy": "basalt"})
    return {"entries": entries, "treatments": treatments}


# Events the user logged on the pump, as Nightscout's careportal names them; a typed
# glucose is a "BG Check" from a finger, not a sensor entry.
CARE_EVENTS = {"low_treated": "Carb Correction", "site_changed": "Site Change"}


def _care(when, kind, detail):
    treatment = {"eventType": CARE_EVENTS.get(kind, "BG Check"), "created_at": iso(when),
                 "enteredBy": "basalt"}
    if kind == "low_treated":
        treatment["carbs"] = detail.get("grams")
    elif kind == "glucose":
        treatment.update({"glucose": detail.get("mg_dl"), "glucoseType": "Finger",
                          "units": "mg/dl"})
    return treatment


def _bolus(when, record, started):
    detail = record.detail
    key = (detail.get("bolus_boot", record.boot), detail.get("id"))
    start_when, start = started.get(key, (when, {}))
    delivered = detail.get("delivered_mu", 0) / 1000
    kind = detail.get("kind") or start.get("kind")
    carbs = start.get("carbs")
    if kind in ("dual", "extended"):
        event = "Combo Bolus"
    elif carbs:
        event = "Meal Bolus"
    else:
        event = "Correction Bolus"
    treatment = {"eventType": event, "insulin": delivered, "created_at": iso(start_when),
                 "enteredBy": "basalt",
                 "notes": "%s: programmed %.3f U" % (record.kind, detail.get(
                     "programmed_mu", 0) / 1000)}
    if carbs:
        treatment["carbs"] = carbs
    if event == "Combo Bolus":
        treatment["duration"] = start.get("duration_min", 0)
    return treatment
