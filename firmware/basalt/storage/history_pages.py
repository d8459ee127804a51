"""The journal read a record at a time for the history screen: newest first, both ways,
never the whole journal in memory. Imported when the history screen opens.

A position is (segment number, record index). A segment is indexed once when the reader
first enters it: its bytes are read CHUNK at a time through Storage.read_at, every
record's frame checked as at boot (sync byte, length, CRC), and only each record's
offset and length kept (two small arrays; a 16 KiB segment of ~40-byte records holds
~400). A record is decoded when it is shown, not to index it (decoding every record of a
segment made ~500 bytes of garbage each); one whose frame checks out but whose payload
does not decode reads back as None, which the screen skips. Two segments' indexes are
kept (a page that crosses a boundary does not index one again). Boot records, decoded
while indexing, give their boot's time of day, so older boots' records show a clock
time too.
"""

from array import array

from basalt.core import journal as jnl
from basalt.core import journal_records  # reading records back (History only)

CHUNK = 1_280  # read at once: more than one record of the largest size
_KEPT = 2
_BOOT = jnl.KINDS.index("boot")  # the kind code in a boot record's frame


class JournalPages:
    def __init__(self, journal, now_ms=None, day_ms=None):
        """now_ms, day_ms: the running boot's clock and time of day, to show its
        records' times."""
        self.storage = journal.storage
        self.boot = journal.boot
        self.segments = sorted(n for n in (jnl.segment_number(name) for name in
                                           self.storage.names()) if n is not None)
        self._indexes = []  # [(segment, offsets, lengths)], newest use last
        # boot -> (at_ms, day_ms): a moment of that boot and its time of day (boot
        # records seen while indexing; the running boot from now)
        self.boots = {}
        if now_ms is not None:
            self.boots[journal.boot] = (now_ms, day_ms)

    # ----- positions --------------------------------------------------------------

    def newest(self):
        for i in range(len(self.segments) - 1, -1, -1):
            count = len(self._index(self.segments[i])[0])
            if count:
                return self.segments[i], count - 1
        return None

    def older(self, pos):
        segment, index = pos
        if index > 0:
            return segment, index - 1
        i = self.segments.index(segment) - 1
        while i >= 0:
            count = len(self._index(self.segments[i])[0])
            if count:
                return self.segments[i], count - 1
            i -= 1
        return None

    def newer(self, pos):
        segment, index = pos
        if index + 1 < len(self._index(segment)[0]):
            return segment, index + 1
        i = self.segments.index(segment) + 1
        while i < len(self.segments):
            if len(self._index(self.segments[i])[0]):
                return self.segments[i], 0
            i += 1
        return None

    def record(self, pos):
        """The jnl.Record at pos, or None if its bytes no longer check out (rotated)."""
        segment, index = pos
        offsets, lengths = self._index(segment)
        data = self.storage.read_at(jnl.segment_name(segment), offsets[index], lengths[index])
        found = journal_records.record_at(data, 0)
        return None if found is None else found[0]

    # ----- indexing ---------------------------------------------------------------

    def _index(self, segment):
        for kept in self._indexes:
            if kept[0] == segment:
                return kept[1], kept[2]
        offsets, lengths = self._scan(jnl.segment_name(segment))
        self._indexes.append((segment, offsets, lengths))
        if len(self._indexes) > _KEPT:
            self._indexes.pop(0)
        return offsets, lengths

    def _scan(self, name):
        """Offsets and lengths of the valid records of one segment file, CHUNK bytes in
        memory at a time; damaged bytes are skipped to the next record that checks out
        (as the boot's reader does)."""
        offsets = array("H")
        lengths = array("H")
        read = self.storage.read_at
        head = read(name, 0, jnl.HEADER_SIZE)
        pos = jnl.HEADER_SIZE if journal_records.parse_header(head) is not None else 0
        while True:
            data = read(name, pos, CHUNK)
            eof = len(data) < CHUNK
            at = self._walk(data, eof, pos, offsets, lengths)
            if eof or at == 0 and not data:
                return offsets, lengths
            pos += at

    def _walk(self, data, eof, base, offsets, lengths):
        """Index the records in data (read from file offset base); returns where the
        next read starts (a record cut by the chunk's end is read whole next time)."""
        at = 0
        size = len(data)
        view = memoryview(data)  # CRCs over slices of it: no copy of each record
        while at + jnl.RECORD_OVERHEAD <= size:
            end = self._frame_end(data, view, at, size, eof)
            if end < 0:
                return at  # cut by the chunk: CHUNK holds the largest record whole
            if end:
                offsets.append(base + at)
                lengths.append(end - at)
                at = end
                continue
            nxt = data.find(b"\xb5", at + 1)
            at = size if nxt < 0 else nxt
        return at

    def _frame_end(self, data, view, at, size, eof):
        """Where the record at `at` ends if its frame checks out (sync byte, length,
        CRC; a boot record also decoded, for its boot's time of day), 0 if not, -1 if
        the chunk cuts it."""
        end = journal_records.frame_end(data, view, at, size)
        if end < 0:
            return 0 if eof else -1
        if not end:
            return 0
        if data[at + 1] == _BOOT:
            found = journal_records.record_at(data, at)
            if found is None:
                return 0
            record = found[0]
            if isinstance(record.detail.get("day_ms"), int) and record.boot != self.boot:
                self.boots[record.boot] = (record.at_ms, record.detail["day_ms"])
        return end
