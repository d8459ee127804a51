"""Run Python scripts inside real MicroPython (the WebAssembly build, under node).

The runner is ``tools/mpvm/run.mjs``; it needs ``node`` on PATH and ``npm ci`` done
(``make setup`` does it). Typical use::

    from tools.mpvm import run_micropython
    out = run_micropython("host_tests/vectors/smoke_vectors.py",
                          lib_dirs=["firmware/basalt", "host_tests/vectors"])

Each ``lib_dirs`` entry appears in the VM as ``/lib/<basename>`` (so ``firmware/basalt``
gives ``import basalt``). Relative paths are taken relative to the current directory.
"""

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNNER = REPO_ROOT / "tools" / "mpvm" / "run.mjs"
PACKAGE = "@micropython/micropython-webassembly-pyscript"
PACKAGE_ENTRY = REPO_ROOT / "node_modules" / PACKAGE / "micropython.mjs"
SETUP_HINT = "run `make setup` (or `make test`, which sets it up) from the repo root"

__all__ = [
    "MicroPythonError",
    "REPO_ROOT",
    "missing_requirements",
    "node_available",
    "run_micropython",
    "run_micropython_code",
]


class MicroPythonError(RuntimeError):
    """The script failed inside MicroPython (or the VM could not be started).

    ``stderr`` holds the MicroPython traceback, ``stdout`` what was printed before the
    failure, ``returncode`` the runner's exit status (None on timeout).
    """

    def __init__(self, message, stdout="", stderr="", returncode=None):
        super().__init__(message)
        self.stdout = stdout
        self.stderr = stderr
        self.returncode = returncode


def missing_requirements():
    """Return a message saying what is missing to run the VM, or None if all is there."""
    if shutil.which("node") is None:
        return "node is not on PATH (need node >= 18); " + SETUP_HINT
    if not PACKAGE_ENTRY.is_file():
        return f"npm package {PACKAGE} is not installed in {REPO_ROOT / 'node_modules'}; " + (
            SETUP_HINT
        )
    return None


def node_available():
    """True when node and the MicroPython npm package are both present."""
    return missing_requirements() is None


def _command(script_path, lib_dirs, args, heap):
    cmd = ["node", str(RUNNER)]
    for lib in lib_dirs:
        cmd += ["--lib", str(Path(lib).resolve())]
    if heap is not None:
        cmd += ["--heap", str(int(heap))]
    cmd += ["--", str(Path(script_path).resolve())]
    cmd += [str(a) for a in args]
    return cmd


def run_micropython(script_path, lib_dirs=(), args=(), heap=None, timeout=600, waiting=None):
    """Run ``script_path`` in MicroPython; return its stdout (str, UTF-8).

    ``lib_dirs``: host directories copied into the VM as ``/lib/<basename>``.
    ``args``: become ``sys.argv[1:]``. ``heap``: GC heap in bytes (default 4 MiB).
    ``waiting``: called about once a second while the VM runs (progress reports).
    Raises MicroPythonError on a non-zero exit (a Python exception, SystemExit with a
    non-zero code), on timeout, or when node / the npm package is missing.
    """
    missing = missing_requirements()
    if missing:
        raise MicroPythonError(missing)
    cmd = _command(script_path, lib_dirs, args, heap)
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(os.environ, NODE_NO_WARNINGS="1"))
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            # Retrying communicate() after its timeout loses no output (subprocess docs).
            out, err = proc.communicate(timeout=max(0.01, min(1.0, left)))
            break
        except subprocess.TimeoutExpired:
            if left <= 1.0:
                proc.kill()
                out, err = proc.communicate()
                raise MicroPythonError(
                    f"MicroPython run of {script_path} timed out after {timeout} s",
                    stdout=_text(out),
                    stderr=_text(err),
                ) from None
            if waiting is not None:
                waiting()
    stdout = _text(out)
    stderr = _text(err)
    if proc.returncode != 0:
        raise MicroPythonError(
            f"MicroPython run of {script_path} failed (exit {proc.returncode}):\n{stderr}",
            stdout=stdout,
            stderr=stderr,
            returncode=proc.returncode,
        )
    return stdout


def run_micropython_code(code, lib_dirs=(), args=(), heap=None, timeout=600):
    """Like run_micropython, but for source text (written to a temporary file)."""
    with tempfile.TemporaryDirectory(prefix="mpvm-") as tmp:
        script = Path(tmp) / "snippet.py"
        script.write_text(code, encoding="utf-8")
        return run_micropython(script, lib_dirs=lib_dirs, args=args, heap=heap, timeout=timeout)


def _text(data):
    if data is None:
        return ""
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    return data
