"""basalt.core is pure: no module under firmware/basalt/core imports hardware, clocks,
the event loop or the OS, at any nesting depth (inside functions, try blocks, ...).
"""

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CORE_DIR = REPO_ROOT / "firmware" / "basalt" / "core"
FORBIDDEN = frozenset(
    [
        "machine",
        "bluetooth",
        "asyncio",
        "uasyncio",
        "time",
        "utime",
        "rp2",
        "esp32",
        "os",
        "network",
    ]
)
CORE_FILES = sorted(p for p in CORE_DIR.rglob("*.py") if "__pycache__" not in p.parts)


def forbidden_imports(source, filename="<source>"):
    """List of (line, module) for each import of a forbidden top-level module."""
    found = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: stays inside the package
                continue
            names = [node.module or ""]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "__import__"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        else:
            continue
        for name in names:
            if name.split(".")[0] in FORBIDDEN:
                found.append((node.lineno, name))
    return found


@pytest.mark.parametrize("path", CORE_FILES, ids=[str(p.relative_to(CORE_DIR)) for p in CORE_FILES])
def test_core_module_is_pure(path):
    hits = forbidden_imports(path.read_text(encoding="utf-8"), str(path))
    assert not hits, "\n".join(
        f"{path.relative_to(REPO_ROOT)}:{line}: core must not import {name!r}"
        for line, name in hits
    )


@pytest.mark.parametrize(
    "source, module",
    [
        ("import machine", "machine"),
        ("import os.path", "os.path"),
        ("import json, time", "time"),
        ("import utime as t", "utime"),
        ("from bluetooth import BLE", "bluetooth"),
        ("from asyncio.core import sleep", "asyncio.core"),
        ("def f():\n    import uasyncio\n", "uasyncio"),
        ("try:\n    import rp2\nexcept ImportError:\n    pass\n", "rp2"),
        ("class A:\n    def m(self):\n        if x:\n            from esp32 import NVS\n", "esp32"),
        ("import network", "network"),
        ("m = __import__('time')", "time"),
    ],
)
def test_checker_catches_forbidden_import(source, module):
    assert [name for _, name in forbidden_imports(source)] == [module]


@pytest.mark.parametrize(
    "source",
    [
        "import json",
        "from micropython import const",
        "from . import units",
        "from .time_math import ticks",  # relative: a core module that happens to say time
        "import timeline",  # prefix of a forbidden name is not the name
        "from basalt.core import machine_state",
        "x = 'import time'",
    ],
)
def test_checker_allows_pure_imports(source):
    assert forbidden_imports(source) == []
