"""The history journal on flash: append-only records in numbered segment files, the
oldest segment removed when there are more than `segments`. Byte layouts are pure
(basalt.core.journal); this moves bytes through the Storage port."""

from basalt.core import journal as jnl
from basalt.storage.files import guarded

SEGMENT_BYTES = 16_384
SEGMENTS = 16  # 256 KiB of flash for history; docs/ give the days it keeps


class Journal:
    def __init__(self, storage, segment_bytes=SEGMENT_BYTES, segments=SEGMENTS):
        self.storage = storage
        self.segment_bytes = segment_bytes
        self.segments = segments
        self.boot = 0
        self.seq = 1
        self._current = None  # [number, size]
        self._own = []  # numbers of readable segments, oldest first
        self._highest = 0
        self.list_error = None  # why the file list could not be read, at the last read()
        self.read_errors = []

    def read(self, visit=None, wanted=None):
        """A JournalView of everything readable; never raises on damage. With visit,
        records go to visit(record) one by one and are not kept, and only one segment
        file is in memory at a time; with wanted, only those kinds' details are decoded
        (the others' are None)."""
        files = []
        self.list_error = None
        try:
            listed = self.storage.names()
        except OSError as error:  # the boot goes on; the boot screen says so
            listed = []
            self.list_error = str(error)
        for name in listed:
            number = jnl.segment_number(name)
            if number is not None:
                files.append((number, name))
        files.sort()
        self._highest = files[-1][0] if files else 0
        self.read_errors = []  # (file, error) of segments the flash would not read
        from basalt.core.journal_read import read_journal  # at boot (BOOT_ONLY)

        view = read_journal(((name, self._read(name)) for _, name in files), visit, wanted)
        foreign = [name for name, _ in view.foreign]
        self._own = [number for number, name in files if name not in foreign]
        return view

    def _read(self, name):
        """A segment's bytes; one the flash will not read counts as empty (the boot
        goes on) and is listed in read_errors for the boot screen."""
        try:
            return self.storage.read(name) or b""
        except OSError as error:
            self.read_errors.append((name, str(error)))
            return b""

    def open(self, view, boot, seq):
        """Continue after what was read: a torn tail is left as it is (kept for the
        record) and writing goes on in a fresh segment."""
        self.boot = boot
        self.seq = seq
        last = view.last_segment
        self._current = None
        if last is not None and not last[2] and last[0] == self._highest:
            self._current = [last[0], last[1]]

    def append(self, kind, detail, at_ms):
        """Write one record; returns its sequence number once it is durable."""
        data = jnl.encode_record(self.seq, self.boot, at_ms, kind, detail)
        current = self._current
        fresh = current is None or current[1] + len(data) > self.segment_bytes
        if fresh:
            # The header and the first record go in one write: a segment never exists
            # without a record in it.
            self._highest += 1
            current = self._current = [self._highest, 0]
            data = jnl.encode_header(self._highest, self.boot) + data
        name = jnl.segment_name(current[0])
        guarded("append", name, self.storage.append, name, data)
        current[1] += len(data)
        if fresh:
            self._own.append(current[0])
            self._rotate()
        seq = self.seq
        self.seq += 1
        return seq

    def _rotate(self):
        while len(self._own) > self.segments:
            name = jnl.segment_name(self._own.pop(0))
            guarded("remove", name, self.storage.remove, name)


def bundle(storage):
    """All segment files of a storage, oldest first, as one byte string."""
    out = bytearray()
    for name in sorted(storage.names()):
        if jnl.segment_number(name) is not None:
            out.extend(storage.read(name) or b"")
    return bytes(out)
