"""Tests and tools import each other normally: no sys.path lines between them.

The tests get the repo root and firmware/ from pytest's `pythonpath` (pyproject.toml);
the fakes shared by tests and tools live in tools/. The only sys.path lines left are
tools/__init__.py's (so `python -m tools.X` finds the firmware without set-up) and the
scripts that run inside the MicroPython VM, which set the VM's own module path.
"""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ALLOWED = {"tools/__init__.py"}
SYS_PATH = re.compile(r"sys\.path\s*(\.(insert|append|extend)|\[|\+?=)")


def sources():
    for folder in ("host_tests", "tools"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if "__pycache__" not in path.parts:
                yield path.relative_to(REPO).as_posix(), path.read_text(encoding="utf-8")


def test_no_sys_path_changes_outside_the_tools_package_and_the_vm_scripts():
    found = [name for name, text in sources()
             if SYS_PATH.search(text) and name not in ALLOWED and not name.endswith("_vm.py")]
    assert found == []


def test_the_tools_never_import_the_tests():
    found = [name for name, text in sources() if name.startswith("tools/")
             and re.search(r"^\s*(from|import)\s+(host_tests|vectors)\b", text, re.M)]
    assert found == []


def test_the_fakes_live_in_tools():
    assert not list((REPO / "host_tests").glob("fake*.py"))
    assert {"fakes.py", "fake_ble.py", "fake_mcu.py", "fake_mpremote.py",
            "fake_storage.py"} <= {p.name for p in (REPO / "tools").glob("fake*.py")}
