"""One journal record (or a segment header) read back from its bytes: what History
reads a page at a time (basalt.storage.history_pages) and what boot recovery scans with
(basalt.core.journal_read). Pure; layouts in basalt.core.journal."""

import struct

from basalt.core.journal import (
    _HEADER,
    HEADER_SIZE,
    KEYS,
    KINDS,
    LITERAL,
    MAGIC,
    MAX_PAYLOAD,
    RECORD_OVERHEAD,
    SYNC,
    T_DICT,
    T_FALSE,
    T_INT,
    T_LIST,
    T_NONE,
    T_STR,
    T_TRUE,
    Record,
    crc,
    crc32,
    crc32_soft,
)

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):
        return value

# ----- decoding -------------------------------------------------------------------

# The CRC-32 of a record's bytes with its own CRC after them: the same for every intact
# record, so a frame is checked in one pass and no CRC is unpacked (on a board a 32-bit
# CRC is a heap object; this one is a small int).
_RESIDUE = const(0x2144DF1C)


def frame_end(data, view, pos, size):
    """Where the record at pos ends if its frame checks out (sync byte, length, CRC over
    view, a memoryview of data), 0 if it does not, -1 if it runs past size."""
    if pos + RECORD_OVERHEAD > size:
        return -1
    if data[pos] != SYNC:
        return 0
    length = data[pos + 2] | data[pos + 3] << 8
    end = pos + RECORD_OVERHEAD + length
    if length > MAX_PAYLOAD:
        return 0
    if end > size:
        return -1
    return end if (crc32 or crc32_soft)(view[pos:end]) == _RESIDUE else 0


class RecordReader:
    """Decodes the records of one buffer; names caches each kind and key name met (one
    string per name for the whole read, not one per record)."""

    def __init__(self, data, view=None, wanted=None):
        self.data = data
        self.view = memoryview(data) if view is None else view
        self.wanted = wanted  # kind names whose detail is decoded (None: every kind)
        self.names = {}
        self.pos = self.end = self.next = 0

    def record(self, pos, into=None):
        """The Record starting at pos if it checks out (its end in self.next), else
        None; with into, that Record refilled (a new one is a heap object with its
        attribute table). A kind not wanted has its payload checked as fully as a
        decoded one, and detail None."""
        data = self.data
        end = frame_end(data, self.view, pos, len(data))
        if end <= 0:
            return None
        code = data[pos + 1]
        seq = _u32(data, pos + 4)
        boot = data[pos + 8] | data[pos + 9] << 8
        at_ms = _u32(data, pos + 10)
        self.pos = pos + 14
        self.end = end - 4
        try:
            kind = self.text() if code == LITERAL else self.name(KINDS, code, 0)
            if self.wanted is None or kind in self.wanted:
                detail = self.items(0)
            else:
                detail = self.skip_items(0)
            if self.pos != self.end:
                return None
        except (ValueError, UnicodeError):
            return None
        self.next = end
        if into is None:
            return Record(seq, boot, at_ms, kind, detail)
        into.__init__(seq, boot, at_ms, kind, detail)
        return into

    def name(self, table, code, base):
        name = self.names.get(code + base)
        if name is None:
            name = self.names[code + base] = _name(table, code, "key" if base else "kind")
        return name

    def byte(self):
        if self.pos >= self.end:
            raise ValueError("payload ends early")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def varint(self):
        n = shift = 0
        while True:
            byte = self.byte()
            n |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return n
            shift += 7
            if shift > 63:
                raise ValueError("varint too long")

    def text(self):
        size = self.varint()
        if self.pos + size > self.end:
            raise ValueError("text runs past the payload")
        start = self.pos
        self.pos += size
        return str(self.view[start:self.pos], "utf-8")

    def items(self, depth):
        count = self.varint()
        out = {}
        for _ in range(count):
            code = self.byte()
            key = self.text() if code == LITERAL else self.name(KEYS, code, 256)
            out[key] = self.value(depth)
        return out

    def value(self, depth):
        if depth > 8:
            raise ValueError("nested too deep")
        tag = self.byte()
        if tag == T_NONE:
            return None
        if tag == T_FALSE or tag == T_TRUE:
            return tag == T_TRUE
        if tag == T_INT:
            n = self.varint()
            return -((n + 1) >> 1) if n & 1 else n >> 1
        if tag == T_STR:
            return self.text()
        if tag == T_LIST:
            return [self.value(depth + 1) for _ in range(self.varint())]
        if tag == T_DICT:
            return self.items(depth + 1)
        raise ValueError("unknown value tag %d" % tag)

    def skip_items(self, depth):
        """As items(), raising on the same payloads, keeping nothing (a text is still
        decoded: its UTF-8 is checked as when it is kept)."""
        for _ in range(self.varint()):
            if self.byte() == LITERAL:
                self.text()
            self.skip_value(depth)

    def skip_value(self, depth):
        if depth > 8:
            raise ValueError("nested too deep")
        tag = self.byte()
        if tag == T_INT:
            self.varint()
        elif tag == T_STR:
            self.text()
        elif tag == T_LIST:
            for _ in range(self.varint()):
                self.skip_value(depth + 1)
        elif tag == T_DICT:
            self.skip_items(depth + 1)
        elif tag > T_TRUE:
            raise ValueError("unknown value tag %d" % tag)


def _u32(data, at):
    return data[at] | data[at + 1] << 8 | data[at + 2] << 16 | data[at + 3] << 24


def _name(table, code, what):
    """The code-th word of KINDS or KEYS (see basalt.core.journal)."""
    start = 0
    for _ in range(code):
        start = table.find(" ", start) + 1
        if not start:
            break
    end = table.find(" ", start) if start else -1
    if end > start:
        return table[start:end]
    return "%s#%d" % (what, code)  # from a newer firmware: kept, shown by its number


def parse_header(data):
    """(version, segment, boot) of a segment header, or None if it is damaged."""
    if len(data) < HEADER_SIZE:
        return None
    magic, version, _, segment, boot, check = struct.unpack_from(_HEADER, data, 0)
    if magic != MAGIC or check != crc(bytes(data[:HEADER_SIZE - 4])):
        return None
    return version, segment, boot


def record_at(data, pos):
    """(Record, end) if a valid record starts at pos, else None."""
    reader = RecordReader(data)
    record = reader.record(pos)
    return None if record is None else (record, reader.next)
