"""Copy the journal off a board.

With the pump app running, through its USB console service (tools.pump_link): the
journal is read in chunks between delivery ticks, and therapy never stops. With the app
not running (its REPL answers), with mpremote, which is then free to take the board;
the pump is left as it was found, stopped, and pull says so loudly.
"""

import os
import shutil
import subprocess
import sys

from basalt.core import journal as jnl
from tools import pump_link

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
    return _wanted(line.split()[-1] for line in out.splitlines() if line.split())


def _wanted(names):
    """The journal's segments and the checkpoints, in name order."""
    return sorted(n for n in names if jnl.segment_number(n) is not None or
                  n in ("ck0.bin", "ck1.bin"))


def pull(port, out_dir, runner=subprocess_runner, link_factory=pump_link.PumpLink,
         say=print, stop_therapy=False):
    """Copy /data's journal files to out_dir/segments and write out_dir/journal.bin (the
    segments concatenated). Returns the bundle path. stop_therapy: when no pump app
    answers (firmware without the USB service), copy with mpremote anyway, which stops
    the program, then reset the board so the pump starts again."""
    folder = os.path.join(out_dir, "segments")
    try:
        with link_factory(port) as link:
            before = link.status()
            files = dict(link.files())
            names = _wanted(files)
            _check(names, port)
            os.makedirs(folder, exist_ok=True)
            for name in names:  # each file as long as it was when listed
                _write(os.path.join(folder, name), link.read_file(name, files[name]))
            after = link.status()
        say(_while_running(before, after))
    except pump_link.Refused as error:
        raise PullError("the pump on %s refused: %s" % (port, error)) from None
    except pump_link.NotRunning:
        names = _copy_with_mpremote(port, runner, folder)
        say(pump_link.loudly([
            "THE PUMP APP IS NOT RUNNING on %s: nothing is delivered." % port,
            "It was stopped before this pull (the REPL answered); pull copied the",
            "journal with mpremote. Start the pump: Ctrl-D at its REPL, or",
            "mpremote connect %s reset" % port]))
    except pump_link.NoAnswer as error:
        if not stop_therapy:
            raise PullError("%s. Firmware without the USB service (older than this pull) "
                            "can only be read with mpremote, which stops the pump "
                            "program: pull --stop-therapy does that and restarts it"
                            % error) from None
        names = _copy_with_mpremote(port, runner, folder)
        runner(["connect", port, "reset"])
        say(pump_link.loudly([
            "THERAPY WAS STOPPED by this pull (--stop-therapy: mpremote on %s)," % port,
            "and the board was reset: the pump restarts with its boot screen and",
            "DELIVERS NOTHING UNTIL IT IS ACKNOWLEDGED on the pump."]))
    except OSError as error:  # the port cannot be opened
        raise PullError("cannot open %s: %s" % (port, error)) from None
    bundle_path = os.path.join(out_dir, "journal.bin")
    with open(bundle_path, "wb") as out:
        for name in names:
            if jnl.segment_number(name) is not None:
                with open(os.path.join(folder, name), "rb") as handle:
                    out.write(handle.read())
    return bundle_path


def _copy_with_mpremote(port, runner, folder):
    names = list_remote(port, runner)
    _check(names, port)
    os.makedirs(folder, exist_ok=True)
    for name in names:
        runner(["connect", port, "fs", "cp", ":%s/%s" % (REMOTE_DIR, name),
                os.path.join(folder, name)])
    return names


def _check(names, port):
    if not any(jnl.segment_number(n) is not None for n in names):
        raise PullError("no journal segments in %s on %s" % (REMOTE_DIR, port))


def _write(path, data):
    with open(path, "wb") as handle:
        handle.write(data)


def _while_running(before, after):
    """What the pump did while pull read it (it is never stopped by a pull)."""
    if before["boot"] != after["boot"]:
        return pump_link.loudly(["THE PUMP RESTARTED during the pull: it is %s"
                                 % pump_link.describe(after)])
    return ("the pump kept running: %s; %d basal and %d bolus microsteps in the %.1f s "
            "the pull took" % (pump_link.describe(after), after["basal"] - before["basal"],
                               after["bolus"] - before["bolus"],
                               (after["ms"] - before["ms"]) / 1000))
