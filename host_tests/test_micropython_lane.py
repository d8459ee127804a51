"""The MicroPython lane: core vectors must print the same lines on CPython and MicroPython.

Every ``host_tests/vectors/*_vectors.py`` is run twice:

* under CPython (this interpreter) with ``firmware/``, ``host_tests/`` and the repo root
  on PYTHONPATH;
* inside real MicroPython 1.29 (WebAssembly build, under node) with ``firmware/basalt``,
  ``host_tests/vectors`` and ``tools/screens`` copied to ``/lib``.

Both runs use ``import basalt...`` / ``import vectors...``; the UI reference screens are
``tools.screens.reference`` on CPython and ``screens.reference`` in the VM (ui_vectors.py tries
one, then the other). Neither run puts the script's own folder on the path. The outputs
must be identical line for line, and non-empty.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools.mpvm import MicroPythonError, _command, missing_requirements, run_micropython

REPO_ROOT = Path(__file__).resolve().parent.parent
VECTORS_DIR = REPO_ROOT / "host_tests" / "vectors"
LIB_DIRS = (REPO_ROOT / "firmware" / "basalt", VECTORS_DIR, REPO_ROOT / "tools" / "screens")
TIMEOUT_S = 300
VECTOR_FILES = sorted(VECTORS_DIR.glob("*_vectors.py"))


def run_cpython(script):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT / "firmware"), str(REPO_ROOT / "host_tests"), str(REPO_ROOT)])
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONIOENCODING"] = "utf-8"
    # -P: do not put the script's folder on sys.path (MicroPython will not either).
    proc = subprocess.run(
        [sys.executable, "-P", "-s", str(script)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        timeout=TIMEOUT_S,
    )
    stdout = proc.stdout.decode("utf-8", errors="replace")
    if proc.returncode != 0:
        pytest.fail(
            f"{script.name} failed under CPython (exit {proc.returncode}):\n"
            + proc.stderr.decode("utf-8", errors="replace"),
            pytrace=False,
        )
    return stdout


def first_difference(expected_lines, actual_lines):
    """(line number from 1, expected, actual) of the first difference, or None."""
    for number, (want, got) in enumerate(zip(expected_lines, actual_lines), start=1):
        if want != got:
            return number, want, got
    if len(expected_lines) != len(actual_lines):
        number = min(len(expected_lines), len(actual_lines)) + 1
        want = expected_lines[number - 1] if number <= len(expected_lines) else "<no line>"
        got = actual_lines[number - 1] if number <= len(actual_lines) else "<no line>"
        return number, want, got
    return None


def test_vector_files_exist():
    assert VECTOR_FILES, f"no *_vectors.py files in {VECTORS_DIR}"


def test_micropython_vm_is_set_up():
    missing = missing_requirements()
    if missing:
        pytest.fail(f"MicroPython lane cannot run: {missing}", pytrace=False)


@pytest.mark.parametrize("script", VECTOR_FILES, ids=[p.stem for p in VECTOR_FILES])
def test_vectors_match_micropython(script):
    missing = missing_requirements()
    if missing:
        pytest.fail(f"MicroPython lane cannot run: {missing}", pytrace=False)

    cpython_out = run_cpython(script)
    try:
        micropython_out = run_micropython(script, lib_dirs=LIB_DIRS, timeout=TIMEOUT_S)
    except MicroPythonError as exc:
        pytest.fail(f"{script.name} failed under MicroPython:\n{exc}", pytrace=False)

    expected = cpython_out.splitlines()
    actual = micropython_out.splitlines()
    assert expected, f"{script.name} printed nothing under CPython"
    diff = first_difference(expected, actual)
    if diff is not None:
        number, want, got = diff
        pytest.fail(
            f"{script.name}: outputs differ at line {number} "
            f"(CPython {len(expected)} lines, MicroPython {len(actual)} lines)\n"
            f"  CPython:     {want}\n"
            f"  MicroPython: {got}",
            pytrace=False,
        )


def test_first_difference_reports_line_and_length():
    assert first_difference(["a", "b"], ["a", "b"]) is None
    assert first_difference(["a", "b"], ["a", "c"]) == (2, "b", "c")
    assert first_difference(["a"], ["a", "x"]) == (2, "<no line>", "x")
    assert first_difference(["a", "y"], ["a"]) == (2, "y", "<no line>")


def test_runner_really_runs_micropython_and_reports_failures(tmp_path):
    """The VM runner can fail: it reports exceptions and exit codes, passes argv and libs."""
    missing = missing_requirements()
    if missing:
        pytest.fail(f"MicroPython lane cannot run: {missing}", pytrace=False)
    lib = tmp_path / "probe_lib"
    lib.mkdir()
    (lib / "__init__.py").write_text("VALUE = 41\n")
    (lib / "skip.txt").write_text("not copied\n")
    script = tmp_path / "probe.py"
    script.write_text(
        "import sys, os, probe_lib\n"
        "print(sys.implementation.name, sys.argv[1:], probe_lib.VALUE + 1)\n"
        "print(sorted(os.listdir('/lib/probe_lib')))\n"
        "print('x' * 100000)\n"
        "if sys.argv[1] == 'exit': sys.exit(3)\n"
        "if sys.argv[1] == 'raise': raise ValueError('probe says no')\n"
    )
    out = run_micropython(script, lib_dirs=[lib], args=["ok", "2"]).splitlines()
    assert out[0] == "micropython ['ok', '2'] 42"
    assert out[1] == "['__init__.py']"
    assert out[2] == "x" * 100000
    with pytest.raises(MicroPythonError) as raised:
        run_micropython(script, lib_dirs=[lib], args=["raise"])
    assert "ValueError: probe says no" in raised.value.stderr
    assert raised.value.returncode == 1
    with pytest.raises(MicroPythonError) as raised:
        run_micropython(script, lib_dirs=[lib], args=["exit"])
    assert raised.value.returncode == 3


def test_a_long_output_from_a_timer_reaches_a_slow_reader_whole(tmp_path):
    """What a timer callback prints after the script returned (100 KB: one 64 KB buffer
    and a rest) is written as the process exits; a pipe whose reader lags must still get
    every byte (a loaded host cut the
    benches' transcripts short when the runner wrote through Node's asynchronous pipe
    stream)."""
    script = tmp_path / "late.py"
    script.write_text(
        "import js\n"
        "def late(*_):\n"
        "    for n in range(400):\n"
        "        print('%05d' % n + 'y' * 250)\n"
        "    print('END')\n"
        "js.setTimeout(late, 10)\n"
    )
    proc = subprocess.Popen(_command(script, (), (), None), cwd=Path(__file__).parent.parent,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)  # the reader lags: the first 64 KB fill the pipe, the rest waits
    out, err = proc.communicate(timeout=120)
    lines = out.decode().splitlines()
    assert proc.returncode == 0, err.decode()
    assert len(lines) == 401 and lines[-1] == "END"
    assert lines[399] == "00399" + "y" * 250
