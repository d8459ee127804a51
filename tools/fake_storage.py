"""In-memory flash for tests, the simulator and the power-cut benchmark.

FakeStorage keeps the Storage port's contract and can cut the power at any byte of any
write: every write is a run of cut points on one global byte count (an append or write
of n bytes spans n points, replace() n + 1: its temporary file, then the rename). When
the count reaches the armed point the bytes before it land, the rest do not (or, with
garbage=True, land as noise: a partly programmed flash block), and PowerCut is raised.
PowerCut is a BaseException so no `except Exception` in the firmware can swallow it.

Flash faults: fail_writes (an OSError every write raises before anything lands: a dead
flash), enospc_above (writes of more than that many bytes raise ENOSPC, smaller ones
still succeed: a nearly full flash; 0 is a full flash) and flip() (one bit of a file
inverted in place: bit rot, which littlefs does not checksum). A write() that runs out
of space has already truncated its file, as open(name, "wb") does.
"""

import random

from basalt.ports import Storage

ENOSPC = 28


class PowerCut(BaseException):
    """The power went off in the middle of a write."""


class FakeStorage(Storage):
    def __init__(self, cut_at=None, garbage=False, seed=0):
        self.files = {}
        self.position = 0  # cut points passed so far
        self.ops = 0  # writes (append, write, replace, remove) so far
        self.cut_at = cut_at
        self.garbage = garbage
        self.fail_writes = None  # an OSError to raise from every write (a dead flash)
        self.enospc_above = None  # writes of more bytes than this raise ENOSPC
        self._rng = random.Random(seed)

    def arm(self, cut_at, garbage=False):
        self.cut_at = cut_at
        self.garbage = garbage

    # ----- reads ---------------------------------------------------------------------

    def read(self, name):
        data = self.files.get(name)
        return None if data is None else bytes(data)

    def names(self):
        return sorted(self.files)

    def size(self, name):
        return len(self.files.get(name, b""))

    # ----- writes --------------------------------------------------------------------

    def _space(self, name, data, truncate=False):
        limit = self.enospc_above
        if limit is not None and len(data) > limit:
            if truncate and name in self.files:
                self.files[name] = bytearray()
            raise OSError(ENOSPC, "No space left on device")

    def append(self, name, data):
        self._space(name, data)
        old = self.files.get(name, bytearray())
        landed = self._land(data)
        self.files[name] = bytearray(old) + landed
        self._maybe_cut(len(data))

    def write(self, name, data):
        self._space(name, data, truncate=True)
        landed = self._land(data)
        self.files[name] = bytearray(landed)  # the old content is gone from the start
        self._maybe_cut(len(data))

    def replace(self, name, data):
        self._space(name, data)  # the temporary file cannot be written: nothing changes
        temp = name + ".new"
        self.write(temp, data)
        self._land(b"r")  # the rename is one more cut point: before it, nothing changed
        self._maybe_cut(1)
        self.files[name] = self.files.pop(temp)

    def remove(self, name):
        self._land(b"x")
        self._maybe_cut(1)
        self.files.pop(name, None)

    def _land(self, data):
        """The bytes of this write that reach flash before the cut (all, if none)."""
        if self.fail_writes is not None:
            raise self.fail_writes
        self.ops += 1
        start = self.position
        self.position += len(data)
        cut = self.cut_at
        if cut is None or not start <= cut < self.position:
            return bytearray(data)
        keep = cut - start
        landed = bytearray(data[:keep])
        if self.garbage:
            landed.extend(self._rng.getrandbits(8) for _ in range(len(data) - keep))
        return landed

    def _maybe_cut(self, size):
        cut = self.cut_at
        if cut is not None and self.position - size <= cut < self.position:
            self.cut_at = None
            raise PowerCut("power cut at byte %d of a %d-byte write" % (
                cut - (self.position - size), size))

    def corrupt(self, name, offset, data):
        """Overwrite bytes of a file in place (a bad block, a flipped bit)."""
        buf = self.files[name]
        buf[offset:offset + len(data)] = data

    def flip(self, name, bit):
        """Invert one bit of a file in place (bit counts from the file's first byte)."""
        buf = self.files[name]
        buf[bit // 8] ^= 1 << (bit % 8)
