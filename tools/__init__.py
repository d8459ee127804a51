"""Host-side tools for Basalt (simulator, bench, MicroPython VM runner, build helpers).

Importing `tools` puts firmware/ (the `basalt` package) and boards/ on sys.path, so
`python -m tools.<name>` works from the repository root without any set-up.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Why the tools touch sys.path (and nothing else does): `python -m tools.X` from the repo
# root must find the firmware as the device does, `import basalt` (firmware/ is not a
# package of the repo), and board files by their bare name as the device's /board.py
# and tools/sim's load_sim_board("sim") expect; tests get the same from pyproject.toml.
for _folder in ("boards", "firmware"):
    _path = os.path.join(ROOT, _folder)
    if _path not in sys.path:
        sys.path.insert(0, _path)
