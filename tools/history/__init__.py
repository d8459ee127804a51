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


# Where a boot's times come from (the CSV's time_source column, the export's flag).
CLOCK, CLOCK_SET, GUESSED = "pump clock", "clock set on the pump", "guessed"


class Start:
    """Where the times come from besides the journal: start_ms for a boot that never
    knew the clock (--start), and the pump clock's offset from UTC (--utc-offset: the
    RTC and the menu's clock hold local time, Nightscout wants UTC). Functions that
    take a start take an int (start_ms, the clock in UTC) or a Start."""

    def __init__(self, start_ms, utc_offset_ms=0):
        self.start_ms = start_ms
        self.utc_offset_ms = utc_offset_ms


def parse_offset(text):
    """'+01:00', '-05:30', 'Z' or '0' -> ms the pump's clock is ahead of UTC."""
    sign, rest = (-1, text[1:]) if text[:1] == "-" else (1, text.lstrip("+"))
    hours, _, minutes = rest.partition(":")
    if text in ("Z", "0") or (hours.isdigit() and (minutes.isdigit() or not minutes)
                               and int(hours) <= 14 and int(minutes or 0) < 60):
        if text in ("Z", "0"):
            return 0
        return sign * (int(hours) * 60 + int(minutes or 0)) * 60_000
    raise HistoryError("--utc-offset %r: the pump clock's offset from UTC, such as +01:00 "
                       "or -05:00" % text)


def placed(view, start):
    """[(epoch ms, record, source)]. A boot whose boot record carries epoch_s (the RTC
    was set) is placed there; one whose clock was set from the menu later in the boot
    (clock_set: days, minute) is placed by that record (both less the clock's UTC
    offset); a boot with neither follows the previous boot's last record (the time the
    pump was off is unknown), the first one from the start: those times are guessed
    (source GUESSED)."""
    if not isinstance(start, Start):
        start = Start(start)
    start_ms = start.start_ms
    anchors = {boot: (offset - start.utc_offset_ms, source)
               for boot, (offset, source) in _anchors(view).items()}
    out = []
    boot = None
    last = start_ms
    for record in view.records:
        if record.boot != boot:
            boot = record.boot
            offset, source = anchors.get(boot, (None, GUESSED))
            if offset is None:
                offset = last - record.at_ms if out else start_ms - record.at_ms
        when = offset + record.at_ms
        last = when
        out.append((when, record, source))
    return out


def _anchors(view):
    """{boot: (epoch ms of its at_ms 0, source)} for the boots that knew the time."""
    anchors = {}
    for record in view.records:
        detail = record.detail
        if record.boot in anchors and anchors[record.boot][1] == CLOCK:
            continue
        if record.kind == "boot" and detail.get("epoch_s"):
            anchors[record.boot] = (detail["epoch_s"] * 1000 - record.at_ms, CLOCK)
        elif (record.kind == "clock_set" and record.boot not in anchors
              and isinstance(detail.get("days"), int)):
            wall = detail["days"] * 86_400_000 + detail.get("minute", 0) * 60_000
            anchors[record.boot] = (wall - record.at_ms, CLOCK_SET)
    return anchors


def timeline(view, start):
    """[(epoch ms, record)] as placed()."""
    return [(when, record) for when, record, _ in placed(view, start)]


def guessed(view, start):
    """True when some record's time is a guess (a boot that never knew the clock)."""
    return any(source == GUESSED for _, _, source in placed(view, start))


def clock_warning(view, start):
    """The warning for a journal whose times are (partly) guessed, or None."""
    points = placed(view, start)
    start_ms = start.start_ms if isinstance(start, Start) else start
    boots = sorted({r.boot for _, r, source in points if source == GUESSED})
    if not boots:
        return None
    return ("the pump's clock was never set in boot%s %s: those records follow on from "
            "--start %s, a guess (set the clock: Menu > Setup > Clock, or mpremote rtc --set; or "
            "give --start the time of the first record)" % (
                "s" if len(boots) > 1 else "", ", ".join(str(b) for b in boots),
                iso(start_ms)))


def iso(epoch_ms):
    moment = datetime.datetime.fromtimestamp(epoch_ms / 1000, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (epoch_ms % 1000)


BASE_FIELDS = ("seq", "boot", "at_ms", "time", "time_source", "kind")


def csv_fields(view):
    """The CSV's columns: the record's place, then every detail key any record has
    (sorted), so no field of any record is lost."""
    keys = set()
    for record in view.records:
        keys.update(_column(key) for key in record.detail)
    return BASE_FIELDS + tuple(sorted(keys))


def _column(key):
    """A detail key's column; one named like a base column (a bolus's kind) is
    detail_<key>."""
    return "detail_" + key if key in BASE_FIELDS else key


def csv_rows(view, start):
    for when, record, source in placed(view, start):
        row = {"seq": record.seq, "boot": record.boot, "at_ms": record.at_ms,
               "time": iso(when), "time_source": source, "kind": record.kind}
        for key, value in record.detail.items():
            row[_column(key)] = json.dumps(value) if isinstance(value, (list, dict)) else value
        yield row


def direction(trend_milli):
    """Nightscout's arrow for a journaled trend (mg/dL per minute x 1000, as the reading
    store computes it): the pump's own rule, so export and screen agree."""
    return arrow_for(trend_milli)


def nightscout(view, start, device="basalt"):
    """{"entries", "treatments", "devicestatus"}: each list the body of its API v1
    POST (tools/history/nsexport.py maps the records)."""
    from tools.history import nsexport

    return nsexport.export(view, start, device)
