"""Reading the history journal's bytes back (layouts in basalt.core.journal). Pure.

Never raises on damage: a record whose CRC fails is skipped, the reader looks for the
next sync byte whose record checks out, and the skipped bytes are reported as damaged
spans. Used by boot recovery (then dropped from RAM) and by the host tools.
"""

from basalt.core.journal import (
    _SYNC_BYTE,
    FORMAT_VERSION,
    HEADER_SIZE,
    JournalError,
    Record,
    segment_number,
)
from basalt.core.journal_records import RecordReader, parse_header


def scan(data, start=HEADER_SIZE, visit=None, wanted=None):
    """Every valid record in a segment's bytes, and the damaged spans [(start, end)].

    Never raises on damage: bad bytes are skipped up to the next sync byte that starts
    a record whose CRC checks out. With visit, each record is handed to visit(record)
    instead of being kept (a board cannot hold a whole journal's records in RAM): the
    same Record object each time, refilled, so a visitor keeps its fields, never it. With
    wanted (kind names), only those kinds' details are decoded; any other record comes
    with detail None (its payload still checked: what counts as damaged is the same).
    """
    records = []
    damaged = []
    pos = start
    size = len(data)
    bad_from = -1
    reader = RecordReader(data, None, wanted)
    into = None if visit is None else Record(0, 0, 0, None, None)
    while pos < size:
        record = reader.record(pos, into)
        if record is not None:
            if bad_from >= 0:
                damaged.append((bad_from, pos))
                bad_from = -1
            if visit is None:
                records.append(record)
            else:
                visit(record)
            pos = reader.next
            continue
        if bad_from < 0:
            bad_from = pos
        nxt = data.find(_SYNC_BYTE, pos + 1)
        pos = size if nxt < 0 else nxt
    if bad_from >= 0:
        damaged.append((bad_from, size))
    return records, damaged


def read_segment(data, name="segment", visit=None, wanted=None):
    """(header or None, records, damaged spans) of one segment file's bytes.

    Raises JournalError for a segment written by a newer firmware (its format is
    unknown, so its bytes are not guessed at).
    """
    header = parse_header(data)
    if header is not None and header[0] > FORMAT_VERSION:
        raise JournalError("%s was written by a newer firmware (journal format %d; this "
                           "firmware reads format %d); it is kept unchanged" % (
                               name, header[0], FORMAT_VERSION))
    # A damaged header is scanned like any bytes: the records after it still count.
    records, damaged = scan(data, HEADER_SIZE if header is not None else 0, visit, wanted)
    return header, records, damaged


# A drop of more than this in a boot's 32-bit ms count is a wrap. On a board it is a
# heap object: each test is written as a drop compared with it, never as a sum with it
# (a sum would make a new one for every record read).
HALF_RANGE = 1 << 31


def unwrap_times(records):
    """Give each record a full at_ms. Within one boot the 32-bit count only grows, but a
    record may be about an earlier moment (a back-filled CGM reading): only a drop of
    more than half the range is a wrap."""
    last = {}
    for record in records:
        base, prev = last.get(record.boot, (0, -1))
        at = base + record.at_ms
        if prev - at > HALF_RANGE:
            base += 1 << 32
            at += 1 << 32
        last[record.boot] = (base, max(at, prev))
        record.at_ms = at
    return records


class JournalView:
    """Everything readable in a journal: records in order, damage and foreign segments."""

    def __init__(self):
        self.records = []  # kept only when read without a visitor
        self.count = 0
        self.damaged = []  # (file name, start byte, end byte)
        self.foreign = []  # (file name, message): segments from a newer firmware
        self.last_segment = None  # (number, size, torn tail?) of the newest readable one
        self._seq = 0  # the last record read's seq and boot (0: none read)
        self._boot = 0

    def _seen(self, record):
        self.count += 1
        self._seq = record.seq
        self._boot = record.boot

    def damaged_bytes(self):
        total = 0
        for _, start, end in self.damaged:
            total += end - start
        return total

    def next_seq(self):
        return self._seq + 1

    def last_boot(self):
        return self._boot


def read_journal(files, visit=None, wanted=None):
    """files: (segment file name, bytes) pairs, oldest first (a generator keeps one file
    in memory at a time). Never raises on damage. With visit, records are handed to it
    and not kept (one Record refilled: see scan); with wanted, only those kinds' details
    are decoded."""
    view = JournalView()

    def seen(record):
        view._seen(record)
        visit(record)

    for name, data in files:
        data = bytes(data)
        try:
            _, records, damaged = read_segment(data, name, visit and seen, wanted)
        except JournalError as error:
            view.foreign.append((name, str(error)))
            continue
        for record in records:  # without a visitor: each a Record of its own, kept
            view._seen(record)
        view.records += records
        for start, end in damaged:
            view.damaged.append((name, start, end))
        torn = bool(damaged) and damaged[-1][1] == len(data)
        view.last_segment = (segment_number(name), len(data), torn)
    unwrap_times(view.records)
    return view


# ----- insulin on board after a reset ------------------------------------------------

BOLUS_DELIVERED = ("bolus_done", "bolus_cancelled", "bolus_reconciled", "bolus_assumed")
REPLAY_MAX = 64  # boluses kept while reading (far more than fit in 8 h)


class _Boot:
    def __init__(self, boot, at_ms):
        self.boot = boot
        self.first = at_ms  # its first and last record's time, in its own clock
        self.last = at_ms
        self.wrap = 0
        self.epoch_zero = None  # wall-clock ms of its at_ms 0, if its boot record says
        self.offset = 0  # what placed() adds to its times to put them on the current clock


class BolusReplay:
    """Bolus insulin from the journal, placed on the current boot's clock.

    A journal visitor (read_journal(..., visit=replay.visit)) that keeps the boluses
    delivered (bolus_done, bolus_cancelled: delivered_mu; bolus_reconciled: the amount
    the user settled) and each boot's first and last record. Each bolus counts at the
    time its record was written (the end of the bolus; later means more insulin on
    board). placed() maps every earlier boot onto the current clock: a boot's last
    record is followed by the next boot's start after the time the pump was off, taken
    from the two boots' wall clocks when both knew it, else as no time at all (the
    safe side: the most insulin still on board).
    """

    DELIVERED = BOLUS_DELIVERED  # the record kinds whose delivered_mu it keeps

    def __init__(self):
        self._boots = []  # _Boot, oldest first (only those the kept boluses need)
        self._doses = []  # (_Boot, at_ms, mU)

    def visit(self, record):
        boot = self._boots[-1] if self._boots else None
        at = record.at_ms
        if boot is None or boot.boot != record.boot:
            boot = _Boot(record.boot, at)
            self._boots.append(boot)
            self._trim()
        else:
            if boot.last - at - boot.wrap > HALF_RANGE:  # the 32-bit ms count wrapped
                boot.wrap += 1 << 32
            at += boot.wrap
            if at > boot.last:
                boot.last = at
        detail = record.detail
        if record.kind == "boot":
            if isinstance(detail.get("epoch_s"), int):
                boot.epoch_zero = detail["epoch_s"] * 1000 - at
            if isinstance(detail.get("alive_ms"), int):
                self.alive(detail.get("alive_boot"), detail["alive_ms"], 1)
        elif record.kind in self.DELIVERED:
            mu = self.amount(detail)
            if isinstance(mu, int) and mu > 0:
                self._doses.append((boot, at, mu))
                if len(self._doses) > REPLAY_MAX:
                    self._doses.pop(0)
                    self._trim()

    def amount(self, detail):
        return detail.get("delivered_mu")

    def alive(self, boot, at_ms, before=0):
        """The pump was still running at at_ms (32-bit) of `boot` (from its last
        checkpoint), the newest boot read or, with before=1, the one before it."""
        if len(self._boots) <= before:
            return
        last = self._boots[-1 - before]
        if last.boot != boot:
            return
        at = at_ms + last.wrap
        if last.last - at > HALF_RANGE:
            at += 1 << 32  # written after the count wrapped, unseen by the journal
        if at > last.last:
            last.last = at

    def _trim(self):
        """Forget boots older than the oldest bolus kept (the newest is always kept)."""
        oldest = self._doses[0][0] if self._doses else self._boots[-1]
        while self._boots[0] is not oldest:
            self._boots.pop(0)

    def placed(self, now_ms, epoch_s=None, window_ms=None):
        """[(at_ms on the current clock, mU)] of the boluses less than window_ms before
        now_ms (all, if None), and whether every gap between boots was known."""
        known = True
        end = now_ms  # the start of the boot after the one being placed
        wall = None if epoch_s is None else epoch_s * 1000  # wall time of `end`
        for boot in reversed(self._boots):
            gap = 0
            if wall is not None and boot.epoch_zero is not None:
                gap = max(0, wall - (boot.epoch_zero + boot.last))
            else:
                known = False
            boot.offset = end - boot.last - gap
            end = boot.offset + boot.first
            wall = None if boot.epoch_zero is None else boot.epoch_zero + boot.first
        out = []
        for boot, at, mu in self._doses:
            when = at + boot.offset
            if window_ms is None or now_ms - when < window_ms:
                out.append((when, mu))
        return out, known or not self._boots


class BasalReplay(BolusReplay):
    """The hourly basal summaries, placed as BolusReplay places boluses: the basal part
    of the 24-hour total when the checkpoint that held it is lost."""

    DELIVERED = ("basal_summary",)


class SiteReplay(BolusReplay):
    """Site changes, placed as BolusReplay places boluses: the site-change reminder's
    clock after a reset (without wall clocks, the time off counts as none)."""

    DELIVERED = ("site_changed",)

    def amount(self, detail):
        return 1
