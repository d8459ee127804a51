"""The mip manifests, generated: one per deployable board, and one with everything.

    python -m tools.deploy manifests      (writes them; a test regenerates and compares)

firmware/<board>.package.json lists main.py and every file under firmware/basalt/ except
the drivers the board does not use (another MCU's stepper, a force sensor of another
kind, a display, buzzer or battery driver the board file has no section for) and, on a
board without Bluetooth, the modules that themselves import aioble/bluetooth. Its deps are the
micropython-lib packages the board needs: aioble only with Bluetooth (the BLE CGM),
ssd1306 only with a display. firmware/package.json is every file and every dep (any
board file; the board file itself is yours to copy).

frozen/<board>/manifest.py is the same board's list in MicroPython's manifest convention
(include/require/package), for a firmware build with basalt/ frozen into flash
(docs/flash-builds.md); generated with the mip manifests from the same lists.

The file list is computed from the tree, never written down here, so moving modules
(basalt/app/, storage/, ble/) needs only a regeneration. What IS written down is which
driver belongs to which board feature (DRIVERS, SHARED_DRIVERS): a new driver that is in
neither stops the generation with a message saying so.

Why firmware/ and not boards/ or a folder of their own: mip resolves a manifest's
relative URLs against the manifest's own location and does not normalise "../"
(mpremote joins base + "/" + url), so a manifest beside main.py and basalt/ is the one
that works from any fork with `mip install github:<owner>/<repo>/firmware/pico_w.package.json`.
"""

import json
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = REPO_ROOT / "firmware"
ALL_BOARDS = FIRMWARE / "package.json"

# Driver module -> the board feature that needs it: ("mcu", name), ("force", kind), or a
# peripheral section of the board file.
DRIVERS = {
    "stepper_rp2": ("mcu", "rp2040"),
    "stepper_esp32": ("mcu", "esp32"),
    "stepper_virtual": ("mcu", "vboard"),
    "hx711": ("force", "hx711"),
    "hx711_rp2": ("mcu", "rp2040"),  # the PIO reader (make_force on an RP2040)
    "fsr": ("force", "fsr"),
    "ssd1306_display": ("display",),
    "buzzer": ("buzzer",),
    "battery": ("battery",),
}
SHARED_DRIVERS = ("__init__", "stepdir", "watchdog")  # every board
BLE_IMPORT = re.compile(r"^\s*(?:import|from)\s+(?:aioble|bluetooth)\b", re.M)
# micropython-lib packages, by the board feature that needs them.
BLE_DEPS = ("aioble-core", "aioble-central", "aioble-client", "aioble-security")
DISPLAY_DEPS = ("ssd1306",)


# Frozen builds: the MicroPython 1.29 board each MCU's firmware is built as, and the
# manifest its stock firmware freezes, which a custom FROZEN_MANIFEST replaces and so
# must include (MicroPython docs, "MicroPython manifest files").
FROZEN_BOARDS = {
    "rp2040": ("RPI_PICO_W", "ports/rp2", "$(BOARD_DIR)/manifest.py"),
    "esp32": ("ESP32_GENERIC", "ports/esp32", "$(PORT_DIR)/boards/manifest.py"),
}


class ManifestError(Exception):
    """The tree has a module the generator cannot place; the message says what to do."""


def manifest_path(name):
    return FIRMWARE / ("%s.package.json" % name)


def package_version():
    """The release in firmware/basalt/__init__.py (PACKAGE_VERSION)."""
    text = (FIRMWARE / "basalt" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^PACKAGE_VERSION = "([0-9]+\.[0-9]+\.[0-9]+)"', text, re.M)
    if not found:
        raise ManifestError("firmware/basalt/__init__.py has no PACKAGE_VERSION = \"X.Y.Z\"")
    return found.group(1)


def firmware_files():
    """Every firmware source file, relative to firmware/, sorted."""
    return sorted(p.relative_to(FIRMWARE).as_posix() for p in FIRMWARE.rglob("*.py")
                  if "__pycache__" not in p.parts)


def uses_ble(path):
    """A module that imports aioble or bluetooth itself (anywhere in it, as the CGM
    client does inside its factory). Only direct imports count: a module that imports
    such a module lazily (board_main) runs on every board."""
    return bool(BLE_IMPORT.search((FIRMWARE / path).read_text(encoding="utf-8")))


def driver_stems():
    """The driver modules in the tree; ManifestError for one no table claims."""
    stems = []
    for path in firmware_files():
        parts = path.split("/")
        if parts[:2] == ["basalt", "drivers"] and len(parts) == 3:
            stem = parts[2][:-3]
            if stem not in DRIVERS and stem not in SHARED_DRIVERS:
                raise ManifestError(
                    "firmware/basalt/drivers/%s.py: tools/deploy/manifest.py does not know "
                    "which boards need it; add it to DRIVERS (by the board feature that "
                    "uses it) or to SHARED_DRIVERS" % stem)
            stems.append(stem)
    return stems


def _driver_needed(stem, board):
    if stem in SHARED_DRIVERS:
        return True
    need = DRIVERS[stem]
    if need[0] == "mcu":
        return board.mcu == need[1]
    if need[0] == "force":
        return board.force is not None and board.force.kind == need[1]
    return getattr(board, need[0]) is not None


def board_files(board, ble):
    """The firmware files board needs (relative to firmware/), from the tree as it is."""
    files = []
    for path in firmware_files():
        parts = path.split("/")
        if parts[:2] == ["basalt", "drivers"] and len(parts) == 3:
            if not _driver_needed(parts[2][:-3], board):
                continue
        if not ble and uses_ble(path):
            continue
        files.append(path)
    return files


def board_deps(board, ble):
    return list(BLE_DEPS if ble else ()) + list(DISPLAY_DEPS if board.display else ())


def text(files, deps, version):
    """The manifest as written: urls relative to firmware/, deps at "latest"."""
    pair = '    ["%s", "%s"]'
    return ('{\n  "urls": [\n%s\n  ],\n  "deps": [\n%s\n  ],\n  "version": "%s"\n}\n' % (
        ",\n".join(pair % (f, f) for f in files),
        ",\n".join(pair % (d, "latest") for d in deps), version))


def frozen_root():
    """frozen/, beside firmware/ (a frozen manifest's base_path is ../../firmware)."""
    return FIRMWARE.parent / "frozen"


def frozen_path(name):
    return frozen_root() / name / "manifest.py"


def frozen_text(name, mcu, files, deps):
    """A board's frozen manifest: the stock manifest, its deps, basalt/ from firmware/."""
    port_board, port, stock = FROZEN_BOARDS[mcu]
    package = [f[len("basalt/"):] for f in files if f.startswith("basalt/")]
    return "\n".join(
        ["# Basalt frozen into the MicroPython 1.29 firmware for boards/%s.py (%s)." % (
            name, port_board),
         "# Generated by `python -m tools.deploy manifests` from the lists that make",
         "# firmware/%s.package.json; a test checks the two agree. Build it from" % name,
         "# a MicroPython checkout's %s (docs/flash-builds.md):" % port,
         "#   make BOARD=%s FROZEN_MANIFEST=<absolute path of this file>" % port_board,
         "# main.py, board.py and settings.json stay on the board's filesystem.",
         'include("%s")  # what the stock %s firmware freezes' % (stock, port_board)]
        + ['require("%s")' % dep for dep in deps]
        + ['package(', '    "basalt",', '    files=[']
        + ['        "%s",' % f for f in package]
        + ['    ],', '    base_path="../../firmware",', ')', ""])


def frozen_expected():
    """{path: text} of the frozen manifest of every board with a MicroPython port."""
    from tools.deploy.deploy import TARGETS, deployable_boards

    out = {}
    for name, board in deployable_boards():
        if board.mcu in FROZEN_BOARDS:
            ble = TARGETS[board.mcu]["ble"]
            out[frozen_path(name)] = frozen_text(name, board.mcu, board_files(board, ble),
                                                 board_deps(board, ble))
    return out


def expected():
    """{path: text} of every manifest as the tree and the board files make it."""
    from tools.deploy.deploy import TARGETS, deployable_boards

    version = package_version()
    driver_stems()  # every driver placed before any list is made
    out = {ALL_BOARDS: text(firmware_files(), list(BLE_DEPS + DISPLAY_DEPS), version)}
    for name, board in deployable_boards():
        ble = TARGETS[board.mcu]["ble"]
        out[manifest_path(name)] = text(board_files(board, ble), board_deps(board, ble),
                                        version)
    return out


def write():
    """Write every manifest; remove per-board ones of boards that are gone. Paths."""
    wanted = expected()
    frozen = frozen_expected()
    for stale in list(FIRMWARE.glob("*.package.json")) + list(frozen_root().glob("*/manifest.py")):
        if stale not in wanted and stale not in frozen:
            stale.unlink()
    wanted.update(frozen)
    for path, content in sorted(wanted.items()):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return sorted(wanted)


def read(name):
    """The per-board manifest as committed (a dict), or ManifestError naming the fix."""
    path = manifest_path(name)
    if not path.is_file():
        raise ManifestError("%s is missing: run `python -m tools.deploy manifests`"
                            % ("firmware/" + path.name))
    return json.loads(path.read_text(encoding="utf-8"))
