"""Shared pytest setup for Basalt host tests.

* ``firmware/`` and the repo root go on sys.path, so tests can ``import basalt...`` and
  ``import tools...`` without installing anything.
* Hypothesis profiles: "ci" (the default: 200 examples, no deadline) and "dev" /
  "thorough" (2000 examples, no deadline). Pick one with the HYPOTHESIS_PROFILE
  environment variable, e.g. ``HYPOTHESIS_PROFILE=thorough make test``.
"""

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

REPO_ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = REPO_ROOT / "firmware"

for _path in (FIRMWARE_DIR, REPO_ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

settings.register_profile(
    "ci",
    deadline=None,
    max_examples=200,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
for _name in ("dev", "thorough"):
    settings.register_profile(
        _name,
        deadline=None,
        max_examples=2000,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
