"""The Storage port on files (littlefs on a board, any folder on a host), and the two
ways Basalt reads them: damaged-as-empty bytes, and validated JSON files.

Writes are closed (and os.sync()ed where it exists) before they return. littlefs commits
a file at close and renames atomically, which replace() relies on.
"""

import os

from basalt import call_and_forget
from basalt.core.errors import ConfigError, StorageFault
from basalt.core.journal import crc
from basalt.ports import Storage

try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(value):
        return value

_ENOENT = const(2)


def _sync():
    sync = getattr(os, "sync", None)
    if sync is not None:
        sync()


class FileStorage(Storage):
    def __init__(self, root="/data"):
        self.root = root
        self._prefix = root.rstrip("/") + "/"  # FileStorage("/") is the top folder
        try:
            os.mkdir(root)
        except OSError:
            pass  # already there

    def _path(self, name):
        return self._prefix + name  # one new string a file operation

    def read(self, name):
        try:
            with open(self._path(name), "rb") as handle:
                return handle.read()
        except OSError as error:
            if error.args and error.args[0] == _ENOENT:
                return None
            raise

    def read_at(self, name, offset, size):
        try:
            with open(self._path(name), "rb") as handle:
                handle.seek(offset)
                return handle.read(size)
        except OSError as error:
            if error.args and error.args[0] == _ENOENT:
                return b""
            raise

    def _put(self, name, data, mode):
        with open(self._path(name), mode) as handle:
            handle.write(data)
            handle.flush()
        _sync()

    def append(self, name, data):
        self._put(name, data, "ab")

    def write(self, name, data):
        self._put(name, data, "wb")

    def replace(self, name, data):
        temp = name + ".new"
        self._put(temp, data, "wb")
        try:
            os.rename(self._path(temp), self._path(name))
        except OSError:
            # FAT refuses to rename over a file; littlefs (the boards' default) does not.
            self.remove(name)
            os.rename(self._path(temp), self._path(name))
        _sync()

    def names(self):
        return sorted(os.listdir(self.root))

    def size(self, name):
        try:
            return os.stat(self._path(name))[6]
        except OSError:
            return 0

    def remove(self, name):
        try:
            os.remove(self._path(name))
        except OSError:
            pass


def guarded(operation, name, call, *args):
    """call(*args); an OSError of the Storage port becomes a StorageFault naming the
    file and the error (no storage path raises a bare OSError)."""
    try:
        return call(*args)
    except OSError as error:
        raise StorageFault(name, operation, error)


SUM_SUFFIX = ".sum"


def _sums(text):
    """[(crc, length)] of a .sum file's text; None if it cannot be parsed."""
    parts = text.split()
    if not parts or len(parts) % 2:
        return None
    out = []
    try:
        for i in range(0, len(parts), 2):
            out.append((int(parts[i]), int(parts[i + 1])))
    except ValueError:
        return None
    return out


class ValidatedFile:
    """A JSON file replaced only by a complete, validated one (atomically), read back
    and compared before save() returns.

    littlefs does not checksum file contents, so beside each file the pump writes it
    keeps NAME.sum: the CRC-32 and length of the bytes it wrote (and of the ones before,
    so a power cut between the two renames still matches). A file of the length the
    pump wrote whose CRC matches neither is bit rot: refused, never used. A file of
    another length was copied over by a person (a laptop, mpremote): it is checked by
    the validator as any file without a .sum."""

    def __init__(self, storage, name, validator, parse=None):
        self.storage = storage
        self.name = name
        self.validator = validator  # obj -> anything; raises ConfigError naming the key
        self.parse = parse  # text -> obj (default: strict JSON); raises ConfigError
        self.replaced = False  # the last load() found a file not written by the pump

    def load(self):
        """(obj, validated) or (None, None) if there is no file; raises ConfigError."""
        self.replaced = False
        try:
            data = self.storage.read(self.name)
            if data is None:
                data = self.storage.read(self.name + ".new")  # renamed away, not over (FAT)
        except OSError as error:
            raise ConfigError(self.name, "(unreadable)", "a readable file", "flash read "
                              "failed: %s" % error)
        if data is None:
            return None, None
        self._check_sum(bytes(data))
        from basalt.core import strict_json  # files are read at boot (basalt.app.device)

        try:
            text = bytes(data).decode()
            obj = (self.parse(text) if self.parse is not None
                   else strict_json.loads(text, strict_json.DEFAULT_MAX_DEPTH, self.name))
        except (ValueError, UnicodeError):
            raise ConfigError(self.name, "(%d bytes)" % len(data), "a JSON table",
                              "not valid JSON")
        return obj, self.validator(obj)

    def _check_sum(self, data):
        try:
            raw = self.storage.read(self.name + SUM_SUFFIX)
        except OSError:
            raw = None  # an unreadable sum: the file is judged by its validator alone
        if raw is None:
            return
        try:
            sums = _sums(bytes(raw).decode())
        except UnicodeError:
            sums = None
        if sums is None:
            raise ConfigError(self.name, "(%d bytes)" % len(data), "a file matching "
                              + self.name + SUM_SUFFIX, "its checksum file is damaged")
        here = (crc(data), len(data))
        if here in sums:
            return
        for _, length in sums:
            if length == len(data):
                raise ConfigError(self.name, "(%d bytes)" % len(data), "the bytes the pump "
                                  "wrote (a file copied over it: delete " + self.name
                                  + SUM_SUFFIX + " too)", "damaged on flash (checksum "
                                  "mismatch)")
        self.replaced = True  # another length: a person copied a file over it

    def save(self, obj, validated=None):
        """Validate (unless given what the validator returned for obj), then replace
        the file and read it back; a refused obj changes nothing. A flash error (or
        bytes that read back otherwise) raises StorageFault: the old file is then still
        the one a boot loads, or the new one if only the read-back failed. Seldom (a
        settings save): its code is basalt.storage.file_save, loaded for the call."""
        return call_and_forget("basalt.storage.file_save", "save", self, obj, validated)

    def raw(self):
        """The file's bytes as they are (None if there is none or it cannot be read)."""
        try:
            return self.storage.read(self.name)
        except OSError:
            return None

    def restore(self, old):
        """Put back the bytes raw() gave before a save (None: no file); False if the
        flash failed here too (it then keeps whatever it kept)."""
        try:
            if old is None:
                self.storage.remove(self.name)
            else:
                self.storage.replace(self.name, bytes(old))
        except OSError:
            return False
        return True

    def remove(self):
        guarded("remove", self.name, self.storage.remove, self.name)
        guarded("remove", self.name + SUM_SUFFIX, self.storage.remove,
                self.name + SUM_SUFFIX)
