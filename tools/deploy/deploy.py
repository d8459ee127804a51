"""The deploy steps (see tools/deploy/__init__.py): check, build, plan, run."""

import os
import pprint
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from tools import boardfiles, mpy_compile
from tools.deploy import manifest

REPO_ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = REPO_ROOT / "firmware"
BOARDS = REPO_ROOT / "boards"
BUILD = REPO_ROOT / "build" / "deploy"

# Where each MCU's firmware can go with mpremote. `march` is mpy-cross's -march (only
# native code depends on it, but it is stamped for the board all the same); `platform` is
# sys.platform on the board; `arch` the native arch code in sys.implementation._mpy >> 10;
# `ble` whether it has the Bluetooth radio the CGM client needs (aioble): the rp2040 board
# deploy knows is the Pico W (CYW43); the virtual board has no `bluetooth` module.
TARGETS = {
    "rp2040": {"march": "armv6m", "arch": 4, "platform": "rp2", "ble": True},
    "esp32": {"march": "xtensawin", "arch": 10, "platform": "esp32", "ble": True},
    "vboard": {"march": None, "arch": 0, "platform": "webassembly", "ble": False},
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


board_names = boardfiles.board_names
read_board_file = boardfiles.board_spec


def deployable_boards():
    """(name, Board) of every board file whose MCU deploy can install, by name."""
    from basalt.core.board_file import load_board

    out = []
    for name in board_names():
        board = load_board(read_board_file(name))
        if board.mcu in TARGETS:
            out.append((name, board))
    return out


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


def board_manifest(name):
    """firmware/<name>.package.json, checked against the tree (a stale one is refused)."""
    path = manifest.manifest_path(name)
    try:
        data = manifest.read(name)
        current = manifest.expected().get(path)
    except manifest.ManifestError as exc:
        raise DeployError(str(exc))
    if path.read_text(encoding="utf-8") != current:
        raise DeployError("%s is out of date with the firmware tree or boards/%s.py: run "
                          "`python -m tools.deploy manifests` (and commit it)"
                          % ("firmware/" + path.name, name))
    return data


def dependencies(name):
    """micropython-lib packages the board needs: `deps` of its manifest."""
    return ["%s@%s" % (dep, version) if version != "latest" else dep
            for dep, version in board_manifest(name).get("deps", [])]


# ----- ports ---------------------------------------------------------------------------


def find_mpremote():
    """mpremote from PATH, else the one installed beside this Python (the venv's)."""
    found = shutil.which("mpremote")
    if found:
        return found
    sibling = Path(sys.executable).with_name("mpremote")
    if sibling.is_file():
        return str(sibling)
    raise DeployError("mpremote not found: run `make setup` (it is pinned in "
                      "requirements/deploy.txt)")


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
    """`git describe --always --dirty` (the commit, "-dirty" with local changes), or
    "unknown" outside a git checkout."""
    try:
        proc = subprocess.run(["git", "describe", "--always", "--dirty"],
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else "unknown"


def stamp_version(version=None):
    """The one version string of a deployed firmware: --version as given, else the
    package version with the commit, e.g. "0.1.0+d039efa" (semver build metadata).

    deploy writes it to basalt/version.py; basalt.VERSION (the boot screen, the
    journal's boot record through basalt.firmware_version()) reads it from there.
    """
    return version or "%s+%s" % (manifest.package_version(), git_version())


def build(name, board, out_root=None, version=None, files=None, lines=False):
    """Compile the firmware for the board into out_root/<name>/; return the stage.

    Layout (as on the board): basalt/**.mpy (with basalt/version.mpy), main.py, board.py.
    `files` (relative to firmware/, as the board's manifest lists them) limits basalt/
    to the board's own drivers; None stages every file. lines: keep line numbers in
    the bytecode (mpy_compile.board_args).
    """
    out = Path(out_root or BUILD) / name
    march = TARGETS[board.mcu]["march"]
    extra = [*mpy_compile.board_args(lines)] + (["-march=" + march] if march else [])
    compiled = out / "mpy"
    count, failures = mpy_compile.compile_tree([FIRMWARE / "basalt"], compiled,
                                               extra_args=extra)
    if failures:
        raise DeployError("mpy-cross failed on %s:\n%s" % (failures[0][0], failures[0][1]))
    stage = out / "stage"
    if stage.exists():
        shutil.rmtree(stage)
    wanted = None if files is None else {f[:-3] + ".mpy" for f in files}
    for mpy in sorted((compiled / "firmware" / "basalt").rglob("*.mpy")):
        relative = mpy.relative_to(compiled / "firmware").as_posix()
        if wanted is None or relative in wanted:
            (stage / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(mpy, stage / relative)
    version_py = out / "version.py"
    version_py.write_text('"""Stamped by tools/deploy (basalt.VERSION reads it)."""\n\n'
                          'VERSION = %r\nBOARD = %r\n' % (stamp_version(version), name),
                          encoding="utf-8")
    error = mpy_compile.compile_file(version_py, stage / "basalt" / "version.mpy",
                                     "basalt/version.py", extra_args=extra)
    if error:
        raise DeployError("mpy-cross failed on the version stamp: " + error)
    shutil.copyfile(FIRMWARE / "main.py", stage / "main.py")
    (stage / "board.py").write_text(board_file_text(name), encoding="utf-8")
    return stage


def board_file_text(name):
    """The device's /board.py: the board file's BOARD written out whole, so a board file
    built from another (boards/vboard.py from pico_w.py) needs nothing else on the board."""
    spec = read_board_file(name)
    return ('"""Board file %s, written by tools/deploy from boards/%s.py."""\n\nBOARD = %s\n'
            % (name, name, pprint.pformat(spec, width=88, sort_dicts=False)))


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


DROP_SETTINGS_SUM = ("import os\ntry:\n    os.remove('/settings.json.sum')\n"
                     "except OSError:\n    pass")


def plan(mpremote, port, stage, deps, settings=None, index=None, romfs_image=None):
    """The mpremote calls, in order, as (label, argv) pairs. With romfs_image, basalt/
    goes to the board's ROMFS partition and leaves its filesystem (romfs_step)."""
    connect = [mpremote, "connect", port]
    steps = [("probe", connect + ["exec", PROBE])]
    if deps:
        mip = connect + ["mip", "install"]
        if index:
            mip += ["--index", str(index)]
        steps.append(("dependencies", mip + list(deps)))
    if romfs_image:
        steps.append(("romfs", connect + ["romfs", "deploy", str(romfs_image)]))
        copy = connect + ["exec", sweep_code(()) + ROMFS_DROP_FS_BASALT]
    else:
        copy = connect + ["exec", sweep_code(device_files(stage)),
                          "+", "fs", "cp", "-r", str(stage / "basalt"), ":"]
    copy += ["+", "fs", "cp", str(stage / "main.py"), ":main.py",
             "+", "fs", "cp", str(stage / "board.py"), ":board.py"]
    if settings:
        # The pump keeps a checksum beside the settings it wrote; a file put there by
        # hand is checked as a new one only without it.
        copy += ["+", "exec", DROP_SETTINGS_SUM, "+", "fs", "cp", str(settings),
                 ":settings.json"]
    if romfs_image:
        copy += ["+", "soft-reset"]  # mounts the new image at /rom (raw REPL: no main.py)
    copy += ["+", "exec", VERIFY]
    steps.append(("firmware", copy))
    steps.append(("reset", connect + ["reset"]))
    return steps


# ----- ROMFS (make deploy ROMFS=1) -------------------------------------------------------

# The size of the board's first ROMFS partition, 0 without one: no vfs.rom_ioctl (firmware
# built without MICROPY_VFS_ROM), no segment, or an empty one (the WebAssembly VM's).
ROMFS_PROBE = ("import vfs\ntry:\n    d = vfs.rom_ioctl(2, 0)\n"
               "    n = d.ioctl(4, 0) * d.ioctl(5, 0) if hasattr(d, 'ioctl') else len(d)\n"
               "except Exception:\n    n = 0\nprint('BASALT-ROMFS', n)")
# /rom comes after '' on sys.path, so a basalt/ left on the filesystem would shadow it.
ROMFS_DROP_FS_BASALT = "try:\n    os.rmdir('/basalt')\nexcept OSError:\n    pass\n"
ROMFS_NONE = ("deploy: romfs: the MicroPython on %s has no ROMFS partition (stock 1.29 "
              "firmware for the Pico W and the ESP32 has none: docs/flash-builds.md); "
              "basalt/ goes to the filesystem as usual")


def build_romfs(stage):
    """A ROMFS image of the stage's compiled basalt/ (mpremote's own image writer), as
    stage/../basalt.romfs. Returns its path."""
    import contextlib
    import io

    from mpremote.romfs import make_romfs

    tree = stage.parent / "romfs"
    if tree.exists():
        shutil.rmtree(tree)
    shutil.copytree(stage / "basalt", tree / "basalt")
    with contextlib.redirect_stdout(io.StringIO()):  # it prints the whole tree
        image = make_romfs(str(tree), mpy_cross=False)
    path = stage.parent / "basalt.romfs"
    path.write_bytes(image)
    return path


def romfs_step(mpremote, port, stage, name, dry_run=False):
    """ROMFS=1: the image to deploy, or None (said in one line) when the board's firmware
    has no ROMFS partition. A dry run builds the image and asks the board nothing."""
    image = build_romfs(stage)
    size = image.stat().st_size
    if dry_run:
        print("deploy: romfs: %s, %d bytes (the board's partition is asked when deploying)"
              % (image, size))
        return image
    output = run_step("romfs", [mpremote, "connect", port, "exec", ROMFS_PROBE], port,
                      mpremote, name)
    found = [line.split()[1] for line in output.splitlines()
             if line.startswith("BASALT-ROMFS ") and line.split()[1].isdigit()]
    partition = int(found[0]) if found else 0
    if partition <= 0:
        print(ROMFS_NONE % port)
        return None
    if size > partition:
        raise DeployError("the ROMFS image is %d bytes, the ROMFS partition on %s %d: deploy "
                          "without ROMFS=1, or build firmware with a larger partition "
                          "(docs/flash-builds.md)" % (size, port, partition))
    print("deploy: romfs: %s, %d bytes, into a %d-byte partition" % (image, size, partition))
    return image


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


# What mpremote prints when it cannot reach the board, and when mip cannot fetch a
# package (mpremote's mip downloads on this computer: urllib's errors, "Package not
# found", a local --index that lacks the file).
PORT_SIGNS = ("failed to access", "could not enter raw repl", "no device found",
              "no device with serial number", "could not open port", "device disconnected",
              "device reports readiness", "Input/output error", "TransportError")
DOWNLOAD_SIGNS = ("requesting ", "Package not found", "Error opening", "File not found",
                  "name resolution", "Name or service not known", "Network is unreachable",
                  "urlopen error", "timed out", "certificate verify failed",
                  "Connection refused", "Package may be partially installed")


def failure_kind(label, output):
    """"port" or "download": what a failed mpremote step's output points at."""
    if any(sign in output for sign in PORT_SIGNS):
        return "port"
    if label == "dependencies":
        # The probe just answered on this port: a mip failure that names no port
        # problem is the download (network, index, package name).
        return "download"
    return "download" if any(sign in output for sign in DOWNLOAD_SIGNS) else "port"


def run_step(label, argv, port, mpremote, board_name="<board>", deps=()):
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.stdout:
        sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        output = (proc.stderr or "") + (proc.stdout or "")
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        last = detail[-1] if detail else ""
        if failure_kind(label, output) == "download":
            raise DeployError(
                "%s step failed: mip could not download the micropython-lib packages (%s): "
                "%s\nThis is the network or the package index, not the port (the board on "
                "%s answered). Deploy without them: make deploy BOARD=%s PORT=%s MIP=0 "
                "(python -m tools.deploy ... --no-deps); then, once online: mpremote connect "
                "%s mip install %s; or serve them from a local mirror with MIP_INDEX=DIR "
                "(--index)." % (label, ", ".join(deps), last, port, board_name, port, port,
                                " ".join(deps)))
        raise DeployError("%s step failed (mpremote exit %d): %s\nThis is the port or the "
                          "board: is it MicroPython 1.29 on %s, and is no other program "
                          "(screen, Thonny, another mpremote) holding the port?\n%s"
                          % (label, proc.returncode, last, port, ports_help(mpremote)))
    return proc.stdout


def deploy(name, port, settings=None, with_deps=True, index=None, dry_run=False,
           out_root=None, version=None, stop_therapy=False, link_factory=None,
           romfs=False, lines=False):
    """Check, build and install; returns the stage directory. Raises DeployError.

    A dry run checks and builds, prints the plan and runs nothing: it needs no port that
    exists (without one the plan shows PORT) and no mpremote installed.
    """
    _, board = check_board(name)
    notes = check_settings(settings, board)
    if dry_run:
        try:
            mpremote = find_mpremote()
        except DeployError:
            mpremote = "mpremote"
        if not port:
            notes.append("no PORT given: the plan shows PORT where the port goes")
            port = "PORT"
    else:
        mpremote = find_mpremote()
        check_port(port, mpremote)
    listed = board_manifest(name)
    stage = build(name, board, out_root, version,
                  files=[f for f, _ in listed["urls"] if f.startswith("basalt/")],
                  lines=lines)
    deps = dependencies(name)
    if not with_deps:
        notes.append("dependencies not installed (--no-deps / MIP=0): %s"
                     % (", ".join(deps) or "none"))
        deps = []
    for note in notes:
        print("deploy: note:", note)
    guard = None if dry_run else therapy_guard(port, stop_therapy, link_factory)
    try:
        # ROMFS=1 asks the board for its partition: after the guard, like every call
        romfs_image = romfs_step(mpremote, port, stage, name, dry_run) if romfs else None
        steps = plan(mpremote, port, stage, deps, settings, index, romfs_image)
        for label, argv in steps:
            print("deploy: %s: %s" % (label, " ".join(_shown(a) for a in argv[1:])))
            if dry_run:
                continue
            output = run_step(label, argv, port, mpremote, name, deps)
            if label == "probe":
                check_probe(output, port, name, board)
    except DeployError:
        if guard is not None:
            guard.failed()  # a pump deploy stopped is not left stopped in silence
        raise
    if guard is not None:
        _guarded(guard.after)
    return stage


def therapy_guard(port, stop_therapy, link_factory=None):
    """Before mpremote takes the board: a delivering pump is refused (or, with
    --stop-therapy, suspended) and the app stopped cleanly (tools/deploy/therapy.py)."""
    from tools.deploy.therapy import TherapyGuard

    guard = TherapyGuard(port, stop_therapy, **({"link_factory": link_factory}
                                                if link_factory else {}))
    _guarded(guard.before)
    return guard


def _guarded(step):
    from tools.deploy.therapy import TherapyError

    try:
        return step()
    except TherapyError as error:
        raise DeployError(str(error)) from None


def _shown(arg):
    """An argument as printed: device code is summarised, not dumped."""
    if "\n" in arg:
        return "'<%d lines of device code>'" % arg.count("\n")
    return arg if arg and " " not in arg else repr(arg)
