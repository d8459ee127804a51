"""Host-side tools for Basalt (simulator, bench, MicroPython VM runner, build helpers).

Importing `tools` puts firmware/ (the `basalt` package) and boards/ on sys.path, so
`python -m tools.<name>` works from the repository root without any set-up.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _folder in ("boards", "firmware"):
    _path = os.path.join(ROOT, _folder)
    if _path not in sys.path:
        sys.path.insert(0, _path)
