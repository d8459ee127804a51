"""Runs inside the MicroPython VM (host_tests/test_frozen.py): the heap `import basalt.app`
takes from a ROMFS image mounted on /rom (argv[1] "rom"; the image's own bytes are not
counted, as flash is not heap) or from a filesystem copy of the same .mpy files ("fs").

Prints "<where> <bytes>", "<where>_file <basalt.app.__file__>" and "version <stamp>".
The `payload` package (a --lib dir) carries the image and the files as hex.
"""

import gc
import os
import sys

import vfs
from payload import FILES, IMAGE


def mkdirs(path):
    parts = path.split("/")
    for i in range(1, len(parts)):
        try:
            os.mkdir("/".join(parts[:i]))
        except OSError:
            pass


def place(where):
    """The image mounted, or the files written; returns the folder to import from."""
    if where == "rom":
        vfs.mount(vfs.VfsRom(bytes.fromhex(IMAGE)), "/rom")
        return "/rom"
    for path, data in FILES.items():
        mkdirs("/fsb/" + path)
        with open("/fsb/" + path, "wb") as f:
            f.write(bytes.fromhex(data))
    return "/fsb"


def main(where):
    sys.path.insert(0, place(where))
    sys.modules.pop("payload")
    gc.collect()
    before = gc.mem_alloc()
    import basalt.app

    gc.collect()
    print(where, gc.mem_alloc() - before)
    print(where + "_file", basalt.app.__file__)
    import basalt.version

    print("version", basalt.version.VERSION)


main(sys.argv[1])
