"""The deploy steps (see tools/deploy/__init__.py): check, build, plan, run."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from tools import mpy_compile

REPO_ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = REPO_ROOT / "firmware"
BOARDS = REPO_ROOT / "boards"
MANIFEST = FIRMWARE / "package.json"  # mip manifest; its "deps" are the one dependency list
BUILD = REPO_ROOT / "build" / "deploy"

# Where each MCU's firmware can go with mpremote. `march` is mpy-cross's -march (only
# native code depends on it, but it is stamped for the board all the same); `platform` is
# sys.platform on the board; `arch` the native arch code in sys.implementation._mpy >> 10.
TARGETS = {
    "rp2040": {"march": "armv6m", "arch": 4, "platform": "rp2"},
    "esp32": {"march": "xtensawin", "arch": 10, "platform": "esp32"},
    "vboard": {"march": None, "arch": 0, "platform": "webassembly"},
}
# Boards that exist but are not deployed with mpremote: (short hint, what to do instead).
NOT_DEPLOYED = {
    "host": ("simulator only", "is the simulator's board: run `make sim` instead"),
    "raspberry_pi": ("runs on the Pi", "runs under CPython on the Pi itself: copy the repo "
                     "to the Pi and run `python3 -m tools.pi` there (README, Raspberry Pi "
                     "bench rigs)"),
}
MPY_VERSION = 6  # .mpy format written by mpy-cross 1.29 (sys.implementation._mpy & 0xff)
PROBE_TAG = "BASALT-PROBE"
PROBE = ("import sys; print(%r, sys.platform, getattr(sys.implementation, '_mpy', 0))"
         % PROBE_TAG)
VERIFY = "from basalt.version import VERSION, BOARD; print('installed', VERSION, 'for', BOARD)"
# mpremote's own names for ports besides device paths (mpremote docs, "Shortcuts").
PORT_SHORTCUTS = ("a", "u", "c")
PORT_SCHEMES = ("id:", "port:", "rfc2217://", "socket://", "auto")


class DeployError(Exception):
    """Something the user must fix; the message says what and how."""


# ----- boards --------------------------------------------------------------------------


def board_names():
    return sorted(p.stem for p in BOARDS.glob("*.py") if not p.stem.startswith("_"))


def read_board_file(name):
    """The BOARD dict of boards/<name>.py, executed in a fresh namespace."""
    path = BOARDS / (name + ".py")
    namespace = {"__name__": "board"}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    return namespace["BOARD"]


def boards_help():
    """One line per board: its name, its MCU and whether deploy can install it."""
    lines = []
    for name in board_names():
        mcu = read_board_file(name).get("mcu", "?")
        how = "" if mcu in TARGETS else "(%s)" % NOT_DEPLOYED.get(mcu, ("not deployable",))[0]
        lines.append(("  %-15s mcu %-13s %s" % (name, mcu, how)).rstrip())
    return "\n".join(lines)


def check_board(name):
    """Load and validate boards/<name>.py; return (BOARD dict, Board) or raise DeployError."""
    usage = "make deploy BOARD=<board> PORT=<port>"
    if not name:
        raise DeployError("BOARD is not set. Usage: %s\nBoards (boards/*.py):\n%s"
                          % (usage, boards_help()))
    if name not in board_names():
        raise DeployError("unknown board %r: there is no boards/%s.py. Usage: %s\n"
                          "Boards (boards/*.py):\n%s" % (name, name, usage, boards_help()))
    from basalt.core.board_file import load_board
    from basalt.core.errors import ConfigError

    spec = read_board_file(name)
    try:
        board = load_board(spec)
    except ConfigError as exc:
        raise DeployError("boards/%s.py is not a valid board file: %s" % (name, exc))
    if board.mcu not in TARGETS:
        why = NOT_DEPLOYED.get(board.mcu, ("", "cannot be deployed with mpremote"))[1]
        raise DeployError("boards/%s.py (mcu %s) %s" % (name, board.mcu, why))
    return spec, board


def check_settings(path, board):
    """Check a settings file as the board will (load_settings); returns notes to print."""
    if path is None:
        return ["no SETTINGS given: the board keeps the /settings.json it has (without one "
                "it runs no therapy); pass SETTINGS=path/to/settings.json to install one"]
    from basalt.core.errors import ConfigError
    from basalt.core.settings import load_settings, parse_settings_text

    path = Path(path)
    if not path.is_file():
        raise DeployError("SETTINGS=%s: no such file" % path)
    try:
        _, warnings = load_settings(parse_settings_text(path.read_text(encoding="utf-8")),
                                    board)
    except (ConfigError, UnicodeDecodeError) as exc:
        raise DeployError("SETTINGS=%s is refused:\n%s" % (path, exc))
    return ["settings warning: %s" % w for w in warnings]


def dependencies():
    """micropython-lib packages the firmware needs: `deps` of firmware/package.json."""
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return ["%s@%s" % (name, version) if version != "latest" else name
            for name, version in manifest.get("deps", [])]


def firmware_files():
    """Every firmware source file, relative to firmware/ (what the mip manifest lists)."""
    return sorted(p.relative_to(FIRMWARE).as_posix() for p in FIRMWARE.rglob("*.py")
                  if "__pycache__" not in p.parts)


def manifest_text():
    """firmware/package.json as it must be: every firmware file, the same deps and version.

    `python -m tools.deploy --write-manifest` writes it; a test checks it is current.
    """
    current = json.loads(MANIFEST.read_text(encoding="utf-8"))
    pair = '    ["%s", "%s"]'
    return ('{\n  "urls": [\n%s\n  ],\n  "deps": [\n%s\n  ],\n  "version": "%s"\n}\n' % (
        ",\n".join(pair % (f, f) for f in firmware_files()),
        ",\n".join(pair % (name, version) for name, version in current["deps"]),
        current["version"]))


# ----- ports ---------------------------------------------------------------------------


def find_mpremote():
    """mpremote from PATH, else the one installed beside this Python (the venv's)."""
    found = shutil.which("mpremote")
    if found:
        return found
    sibling = Path(sys.executable).with_name("mpremote")
    if sibling.is_file():
        return str(sibling)
    raise DeployError("mpremote not found: run `make setup` (it is pinned in requirements.txt)")


def list_ports(mpremote):
    """The serial ports mpremote sees (`mpremote connect list`), one line each."""
    proc = subprocess.run([mpremote, "connect", "list"], capture_output=True, text=True)
    return [line for line in proc.stdout.splitlines() if line.strip()]


def ports_help(mpremote):
    ports = list_ports(mpremote)
    if not ports:
        return ("No serial ports found (`mpremote connect list` lists none): plug the "
                "board in with a data cable and flash MicroPython 1.29 on it first.")
    return "Serial ports (`mpremote connect list`):\n" + "\n".join("  " + p for p in ports)


def check_port(port, mpremote):
    usage = "make deploy BOARD=<board> PORT=<port>, e.g. PORT=/dev/ttyACM0"
    if not port:
        raise DeployError("PORT is not set. Usage: %s\n%s" % (usage, ports_help(mpremote)))
    if _is_shortcut(port):
        return
    if not os.path.exists(port):
        raise DeployError("PORT=%s does not exist. Usage: %s\n%s"
                          % (port, usage, ports_help(mpremote)))
    if not stat.S_ISCHR(os.stat(port).st_mode):
        raise DeployError("PORT=%s is not a serial device. Usage: %s\n%s"
                          % (port, usage, ports_help(mpremote)))
    if not os.access(port, os.R_OK | os.W_OK):
        raise DeployError("PORT=%s exists but you may not open it: on Debian/Ubuntu add "
                          "yourself to the dialout group (sudo usermod -aG dialout $USER, "
                          "then log in again)" % port)


def _is_shortcut(port):
    if port.startswith(PORT_SCHEMES):
        return True
    return len(port) >= 2 and port[0] in PORT_SHORTCUTS and port[1:].isdigit()


# ----- build ---------------------------------------------------------------------------


def git_version():
    """`git describe --tags --always --dirty`, or "unknown" outside a git checkout."""
    try:
        proc = subprocess.run(["git", "describe", "--tags", "--always", "--dirty"],
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else "unknown"


def build(name, board, out_root=None, version=None):
    """Compile the firmware for the board into out_root/<name>/; return that directory.

    Layout (as on the board): basalt/**.mpy (with basalt/version.mpy), main.py, board.py.
    """
    out = Path(out_root or BUILD) / name
    march = TARGETS[board.mcu]["march"]
    extra = ["-march=" + march] if march else []
    compiled = out / "mpy"
    count, failures = mpy_compile.compile_tree([FIRMWARE / "basalt"], compiled,
                                               extra_args=extra)
    if failures:
        raise DeployError("mpy-cross failed on %s:\n%s" % (failures[0][0], failures[0][1]))
    stage = out / "stage"
    if stage.exists():
        shutil.rmtree(stage)
    shutil.copytree(compiled / "firmware" / "basalt", stage / "basalt")
    version_py = out / "version.py"
    version_py.write_text('"""Stamped by tools/deploy."""\n\nVERSION = %r\nBOARD = %r\n'
                          % (version or git_version(), name), encoding="utf-8")
    error = mpy_compile.compile_file(version_py, stage / "basalt" / "version.mpy",
                                     "basalt/version.py", extra_args=extra)
    if error:
        raise DeployError("mpy-cross failed on the version stamp: " + error)
    shutil.copyfile(FIRMWARE / "main.py", stage / "main.py")
    shutil.copyfile(BOARDS / (name + ".py"), stage / "board.py")
    return stage


def device_files(stage):
    """Paths on the board that deploy writes under /basalt (for the stale-file sweep)."""
    return sorted("/" + p.relative_to(stage).as_posix()
                  for p in (stage / "basalt").rglob("*") if p.is_file())


def sweep_code(keep):
    """Device code removing every file under /basalt that deploy does not write.

    A stale basalt/x.py left by an older copy would shadow the new x.mpy (MicroPython
    imports .py before .mpy), so it must go; unchanged files stay (mpremote skips them).
    """
    return (
        "import os\n"
        "keep = set(%r)\n"
        "def sweep(d):\n"
        "    for entry in os.ilistdir(d):\n"
        "        p = d + '/' + entry[0]\n"
        "        if entry[1] == 0x4000:\n"
        "            sweep(p)\n"
        "            if not any(k.startswith(p + '/') for k in keep):\n"
        "                os.rmdir(p)\n"
        "        elif p not in keep:\n"
        "            os.remove(p)\n"
        "try:\n"
        "    sweep('/basalt')\n"
        "except OSError:\n"
        "    pass\n"
        "for p in ('/board.mpy', '/main.mpy'):\n"
        "    try:\n"
        "        os.remove(p)\n"
        "    except OSError:\n"
        "        pass\n" % (sorted(keep),)
    )


# ----- plan and run --------------------------------------------------------------------


def plan(mpremote, port, stage, deps, settings=None, index=None):
    """The mpremote calls, in order, as (label, argv) pairs."""
    connect = [mpremote, "connect", port]
    steps = [("probe", connect + ["exec", PROBE])]
    if deps:
        mip = connect + ["mip", "install"]
        if index:
            mip += ["--index", str(index)]
        steps.append(("dependencies", mip + list(deps)))
    copy = connect + ["exec", sweep_code(device_files(stage)),
                      "+", "fs", "cp", "-r", str(stage / "basalt"), ":",
                      "+", "fs", "cp", str(stage / "main.py"), ":main.py",
                      "+", "fs", "cp", str(stage / "board.py"), ":board.py"]
    if settings:
        copy += ["+", "fs", "cp", str(settings), ":settings.json"]
    copy += ["+", "exec", VERIFY]
    steps.append(("firmware", copy))
    steps.append(("reset", connect + ["reset"]))
    return steps


def check_probe(output, port, name, board):
    """The board on the port must be the kind the board file describes."""
    target = TARGETS[board.mcu]
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == PROBE_TAG and parts[2].isdigit():
            platform, mpy = parts[1], int(parts[2])
            break
    else:
        raise DeployError("the device on %s did not answer like MicroPython: %r"
                          % (port, output[-200:]))
    if platform != target["platform"]:
        raise DeployError("the board on %s is a %r MicroPython board, but boards/%s.py is "
                          "for the %s (%r): pick the board file that matches the hardware"
                          % (port, platform, name, board.mcu, target["platform"]))
    if mpy & 0xFF != MPY_VERSION:
        raise DeployError("the board on %s reads .mpy version %d, ours is %d: flash "
                          "MicroPython 1.29 on it" % (port, mpy & 0xFF, MPY_VERSION))
    if target["arch"] and mpy >> 10 != target["arch"]:
        raise DeployError("the board on %s has native arch %d, boards/%s.py's %s is %s (%d)"
                          % (port, mpy >> 10, name, board.mcu, target["march"],
                             target["arch"]))


def run_step(label, argv, port, mpremote):
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.stdout:
        sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise DeployError("%s step failed (mpremote exit %d): %s\nIs it MicroPython 1.29 on "
                          "%s, and is no other program (screen, Thonny, another mpremote) "
                          "holding the port?\n%s"
                          % (label, proc.returncode, detail[-1] if detail else "",
                             port, ports_help(mpremote)))
    return proc.stdout


def deploy(name, port, settings=None, with_deps=True, index=None, dry_run=False,
           out_root=None, version=None):
    """Check, build and install; returns the stage directory. Raises DeployError."""
    _, board = check_board(name)
    mpremote = find_mpremote()
    notes = check_settings(settings, board)
    check_port(port, mpremote)
    stage = build(name, board, out_root, version)
    deps = dependencies() if with_deps else []
    if not with_deps:
        notes.append("dependencies not installed (--no-deps / MIP=0): %s"
                     % ", ".join(dependencies()))
    for note in notes:
        print("deploy: note:", note)
    steps = plan(mpremote, port, stage, deps, settings, index)
    for label, argv in steps:
        print("deploy: %s: %s" % (label, " ".join(_shown(a) for a in argv[1:])))
        if dry_run:
            continue
        output = run_step(label, argv, port, mpremote)
        if label == "probe":
            check_probe(output, port, name, board)
    return stage


def _shown(arg):
    """An argument as printed: device code is summarised, not dumped."""
    if "\n" in arg:
        return "'<%d lines of device code>'" % arg.count("\n")
    return arg if arg and " " not in arg else repr(arg)
