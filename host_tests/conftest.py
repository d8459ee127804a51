"""Shared pytest setup for Basalt host tests.

* ``firmware/`` and the repo root are on sys.path through pytest's ``pythonpath``
  (pyproject.toml), so tests ``import basalt...``, ``import tools...`` (the fakes live in
  tools/) and ``from boards import ...`` without installing anything.
* Hypothesis profiles: "ci" (the default: 200 examples, no deadline) and "dev" /
  "thorough" (2000 examples, no deadline). Pick one with the HYPOTHESIS_PROFILE
  environment variable, e.g. ``HYPOTHESIS_PROFILE=thorough make test``.
"""

import os

from hypothesis import HealthCheck, settings

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
