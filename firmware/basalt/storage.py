"""The Storage port on files: littlefs on a board (MicroPython os), any folder on a host.

Writes are closed (and os.sync()ed where it exists) before they return. littlefs commits
a file at close and renames atomically, which replace() relies on.
"""

import os

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
