"""The board files in boards/: their names, and one read by name with a clear error.

Host tools take a board by its file name (`--board pico_w` is boards/pico_w.py); this is
the one place that turns such a name into the BOARD dict, so every tool refuses an
unknown name with the same one-line message listing the valid ones.
"""

import os

from tools import ROOT

BOARDS_DIR = os.path.join(ROOT, "boards")


class UnknownBoard(ValueError):
    """A board name with no boards/<name>.py; the message lists the valid names."""


def board_names():
    """Every board file's name, sorted: boards/<name>.py."""
    return sorted(f[:-3] for f in os.listdir(BOARDS_DIR)
                  if f.endswith(".py") and not f.startswith("_"))


def board_spec(name):
    """The BOARD dict of boards/<name>.py, executed in a fresh namespace (a new copy)."""
    names = board_names()
    if name not in names:
        raise UnknownBoard("unknown board %r: no boards/%s.py; valid boards: %s"
                           % (name, name, ", ".join(names)))
    path = os.path.join(BOARDS_DIR, name + ".py")
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    namespace = {"__name__": "board"}
    exec(compile(source, path, "exec"), namespace)
    return namespace["BOARD"]


def load(name):
    """The validated Board of boards/<name>.py (UnknownBoard, or ConfigError if invalid)."""
    from basalt.core.board_file import load_board

    return load_board(board_spec(name))
