"""Copy the journal off a board with mpremote (the same tool that deploys it)."""

import os
import shutil
import subprocess
import sys

from basalt.core import journal as jnl

REMOTE_DIR = "/data"


class PullError(Exception):
    pass


def mpremote_command():
    """mpremote from PATH, else the one installed beside this Python."""
    found = shutil.which("mpremote")
    if found:
        return [found]
    beside = os.path.join(os.path.dirname(sys.executable), "mpremote")
    if os.path.exists(beside):
        return [beside]
    return [sys.executable, "-m", "mpremote"]


def subprocess_runner(args):
    proc = subprocess.run(mpremote_command() + args, capture_output=True, text=True,
                          timeout=120)
    if proc.returncode != 0:
        raise PullError("mpremote %s failed (exit %d): %s" % (
            " ".join(args), proc.returncode, (proc.stderr or proc.stdout).strip()))
    return proc.stdout


def list_remote(port, runner):
    """Segment and checkpoint file names in the board's /data."""
    out = runner(["connect", port, "fs", "ls", ":" + REMOTE_DIR])
    names = []
    for line in out.splitlines():
        parts = line.split()
        if parts and (jnl.segment_number(parts[-1]) is not None or
                      parts[-1] in ("ck0.bin", "ck1.bin")):
            names.append(parts[-1])
    return sorted(names)


def pull(port, out_dir, runner=subprocess_runner):
    """Copy /data's journal files to out_dir/segments and write out_dir/journal.bin (the
    segments concatenated). Returns the bundle path."""
    names = list_remote(port, runner)
    segments = [n for n in names if jnl.segment_number(n) is not None]
    if not segments:
        raise PullError("no journal segments in %s on %s" % (REMOTE_DIR, port))
    folder = os.path.join(out_dir, "segments")
    os.makedirs(folder, exist_ok=True)
    for name in names:
        runner(["connect", port, "fs", "cp", ":%s/%s" % (REMOTE_DIR, name),
                os.path.join(folder, name)])
    bundle_path = os.path.join(out_dir, "journal.bin")
    with open(bundle_path, "wb") as out:
        for name in segments:
            with open(os.path.join(folder, name), "rb") as handle:
                out.write(handle.read())
    return bundle_path
