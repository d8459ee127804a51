"""The Storage port on files (littlefs on a board, any folder on a host), and the two
ways Basalt reads them: damaged-as-empty bytes, and validated JSON files.

Writes are closed (and os.sync()ed where it exists) before they return. littlefs commits
a file at close and renames atomically, which replace() relies on.
"""

import json
import os

from basalt.core import strict_json
from basalt.core.errors import ConfigError
from basalt.ports import Storage

_ENOENT = 2


def _sync():
    sync = getattr(os, "sync", None)
    if sync is not None:
        sync()


class FileStorage(Storage):
    def __init__(self, root="/data"):
        self.root = root
        try:
            os.mkdir(root)
        except OSError:
            pass  # already there

    def _path(self, name):
        return self.root.rstrip("/") + "/" + name  # FileStorage("/") is the top folder

    def read(self, name):
        try:
            with open(self._path(name), "rb") as handle:
                return handle.read()
        except OSError as error:
            if error.args and error.args[0] == _ENOENT:
                return None
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


def read_or_empty(storage, name):
    """A file's bytes; a file the flash cannot read counts as damaged (empty), so a
    read error never stops the boot."""
    try:
        return storage.read(name) or b""
    except OSError:
        return b""


class ValidatedFile:
    """A JSON file replaced only by a complete, validated one (atomically)."""

    def __init__(self, storage, name, validator, parse=None):
        self.storage = storage
        self.name = name
        self.validator = validator  # obj -> anything; raises ConfigError naming the key
        self.parse = parse  # text -> obj (default: strict JSON); raises ConfigError

    def load(self):
        """(obj, validated) or (None, None) if there is no file; raises ConfigError."""
        try:
            data = self.storage.read(self.name)
            if data is None:
                data = self.storage.read(self.name + ".new")  # renamed away, not over (FAT)
        except OSError as error:
            raise ConfigError(self.name, "(unreadable)", "a readable file", "flash read "
                              "failed: %s" % error)
        if data is None:
            return None, None
        try:
            text = bytes(data).decode()
            obj = (self.parse(text) if self.parse is not None
                   else strict_json.loads(text, strict_json.DEFAULT_MAX_DEPTH, self.name))
        except (ValueError, UnicodeError):
            raise ConfigError(self.name, "(%d bytes)" % len(data), "a JSON table",
                              "not valid JSON")
        return obj, self.validator(obj)

    def save(self, obj, validated=None):
        """Validate (unless given what the validator returned for obj), then replace
        the file; a refused obj changes nothing."""
        if validated is None:
            validated = self.validator(obj)
        self.storage.replace(self.name, json.dumps(obj).encode())
        return validated
