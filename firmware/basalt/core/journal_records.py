"""One journal record (or a segment header) read back from its bytes: what History
reads a page at a time (basalt.storage.history_pages) and what boot recovery scans with
(basalt.core.journal_read). Pure; layouts in basalt.core.journal."""

import struct

from basalt.core.journal import (
    _HEADER,
    _RECORD,
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
)

# ----- decoding -------------------------------------------------------------------

class _Reader:
    def __init__(self, data, pos, end):
        self.data = data
        self.pos = pos
        self.end = end

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
        return bytes(self.data[start:self.pos]).decode()

    def items(self, depth):
        count = self.varint()
        out = {}
        for _ in range(count):
            code = self.byte()
            key = self.text() if code == LITERAL else _name(KEYS, code, "key")
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


def _record_at(data, pos):
    """(Record, end) if a valid record starts at pos, else None."""
    size = len(data)
    if pos + RECORD_OVERHEAD > size or data[pos] != SYNC:
        return None
    _, code, length, seq, boot, at_ms = struct.unpack_from(_RECORD, data, pos)
    end = pos + 14 + length + 4
    if length > MAX_PAYLOAD or end > size:
        return None
    (check,) = struct.unpack_from("<I", data, end - 4)
    if check != crc(bytes(data[pos:end - 4])):
        return None
    try:
        reader = _Reader(data, pos + 14, end - 4)
        kind = reader.text() if code == LITERAL else _name(KINDS, code, "kind")
        detail = reader.items(0)
        if reader.pos != reader.end:
            return None
    except (ValueError, UnicodeError):
        return None
    return Record(seq, boot, at_ms, kind, detail), end
