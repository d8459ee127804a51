"""The mip manifests: generated from the tree and the board files, current, installable.

firmware/<board>.package.json (one per deployable board) and firmware/package.json (every
file, every dep) are written by `python -m tools.deploy manifests`; a test here
regenerates them and compares, so a stale manifest fails. `mpremote mip install
github:<owner>/<repo>/firmware/pico_w.package.json` reads one; its relative "urls" resolve
against the manifest's own location (so forks and local checkouts work).
"""

import json
import shutil
from pathlib import Path

import pytest
from mpremote import mip

from tools import boardfiles
from tools.deploy import deploy as dp
from tools.deploy import manifest as mf

REPO = Path(__file__).resolve().parent.parent
FIRMWARE = REPO / "firmware"
DEPLOYABLE = ["esp32_devkitc", "pico_w", "vboard"]


def load(path):
    return json.loads(path.read_text())


def tree():
    return sorted(p.relative_to(FIRMWARE).as_posix() for p in FIRMWARE.rglob("*.py")
                  if "__pycache__" not in p.parts)


def test_every_manifest_is_current():
    expected = mf.expected()
    assert sorted(p.name for p in expected) == sorted(
        ["package.json"] + ["%s.package.json" % n for n in DEPLOYABLE])
    for path, text in expected.items():
        assert path.is_file() and path.read_text() == text, (
            "%s is stale: run `python -m tools.deploy manifests`" % path.name)
    assert sorted(FIRMWARE.glob("*.package.json")) == sorted(
        p for p in expected if p.name != "package.json")  # none of a board that is gone


def test_the_full_manifest_lists_every_file_once():
    urls = load(FIRMWARE / "package.json")["urls"]
    assert [target for target, _ in urls] == tree()
    for target, source in urls:
        assert source == target  # relative to the manifest: firmware/<path>


def files_of(board):
    return [target for target, _ in load(FIRMWARE / ("%s.package.json" % board))["urls"]]


@pytest.mark.parametrize("board, stepper", [("pico_w", "stepper_rp2"),
                                            ("esp32_devkitc", "stepper_esp32"),
                                            ("vboard", "stepper_virtual")])
def test_a_board_gets_its_own_stepper_driver_and_the_shared_files(board, stepper):
    files = files_of(board)
    drivers = {f.split("/")[-1][:-3] for f in files if f.startswith("basalt/drivers/")}
    steppers = {d for d in drivers if d.startswith("stepper_")}
    assert steppers == {stepper}
    # the board's peripherals: HX711 force sensor, display, buzzer, battery; no FSR
    assert {"hx711", "ssd1306_display", "buzzer", "battery", "stepdir"} <= drivers
    assert "fsr" not in drivers
    # everything outside drivers/ is shared, but for Bluetooth on a board without it
    shared = [f for f in tree() if not f.startswith("basalt/drivers/")]
    assert [f for f in files if not f.startswith("basalt/drivers/")] == [
        f for f in shared if dp.TARGETS[boardfiles.load(board).mcu]["ble"]
        or not mf.uses_ble(f)]
    assert "main.py" in files and "basalt/core/delivery.py" in files


def test_deps_follow_the_board():
    deps = {b: [name for name, _ in load(FIRMWARE / ("%s.package.json" % b))["deps"]]
            for b in DEPLOYABLE}
    aioble = ["aioble-core", "aioble-central", "aioble-client", "aioble-security"]
    assert deps["pico_w"] == deps["esp32_devkitc"] == aioble + ["ssd1306"]
    assert deps["vboard"] == ["ssd1306"]  # a display, no Bluetooth radio
    assert "basalt/ble/cgm_client.py" in tree()
    cgm = [f for f in tree() if mf.uses_ble(f)]
    assert cgm and not set(cgm) & set(files_of("vboard"))  # no aioble, no BLE client
    for board in DEPLOYABLE:
        assert dp.dependencies(board) == deps[board]  # deploy installs exactly these
        assert load(FIRMWARE / ("%s.package.json" % board))["version"] == mf.package_version()


def copy_of_the_firmware(tmp_path, monkeypatch):
    """A scratch firmware tree the generator reads instead of the real one."""
    scratch = tmp_path / "firmware"
    shutil.copytree(FIRMWARE, scratch, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(mf, "FIRMWARE", scratch)
    monkeypatch.setattr(mf, "ALL_BOARDS", scratch / "package.json")
    return scratch


def test_the_list_follows_the_tree_and_a_stale_manifest_fails(tmp_path, monkeypatch, capsys):
    """Files moved into a new folder are picked up; the committed manifest is then stale,
    and deploy refuses it naming the fix."""
    scratch = copy_of_the_firmware(tmp_path, monkeypatch)
    (scratch / "basalt" / "flash").mkdir()
    (scratch / "basalt" / "flash" / "__init__.py").write_text("")
    (scratch / "basalt" / "storage" / "files.py").rename(scratch / "basalt" / "flash" / "files.py")
    (scratch / "basalt" / "radio").mkdir()
    (scratch / "basalt" / "radio" / "__init__.py").write_text('"""BLE."""\n')
    basalt = scratch / "basalt"
    (basalt / "ble" / "cgm_client.py").rename(basalt / "radio" / "client.py")
    expected = mf.expected()
    pico = [t for t, _ in json.loads(expected[scratch / "pico_w.package.json"])["urls"]]
    vb = [t for t, _ in json.loads(expected[scratch / "vboard.package.json"])["urls"]]
    assert "basalt/flash/files.py" in pico and "basalt/storage/files.py" not in pico
    assert "basalt/radio/client.py" in pico and "basalt/radio/client.py" not in vb
    assert "basalt/radio/__init__.py" in pico and "basalt/radio/__init__.py" in vb
    assert (scratch / "pico_w.package.json").read_text() != expected[
        scratch / "pico_w.package.json"]
    with pytest.raises(dp.DeployError, match="out of date .* `python -m tools.deploy manifests`"):
        dp.board_manifest("pico_w")
    mf.write()
    assert dp.board_manifest("pico_w")["urls"][0][0] == "basalt/__init__.py"


def test_a_driver_nobody_claims_stops_the_generation(tmp_path, monkeypatch):
    scratch = copy_of_the_firmware(tmp_path, monkeypatch)
    (scratch / "basalt" / "drivers" / "tmc_uart.py").write_text("")
    with pytest.raises(mf.ManifestError, match="drivers/tmc_uart.py: .* add it to DRIVERS"):
        mf.expected()


def test_the_cli_writes_them(tmp_path, monkeypatch, capsys):
    from tools.deploy.__main__ import main

    scratch = copy_of_the_firmware(tmp_path, monkeypatch)
    (scratch / "pico_w.package.json").unlink()
    (scratch / "gone.package.json").write_text("{}")
    monkeypatch.setattr("tools.deploy.__main__.REPO_ROOT", tmp_path)
    assert main(["manifests"]) == 0
    assert "wrote firmware/pico_w.package.json" in capsys.readouterr().out
    assert (scratch / "pico_w.package.json").read_text() == (
        FIRMWARE / "pico_w.package.json").read_text()
    assert not (scratch / "gone.package.json").exists()


class RecordingTransport:
    """The slice of mpremote's transport that mip uses, on a dict file system."""

    def __init__(self):
        self.files = {}
        self.dirs = set()

    def fs_exists(self, path):
        return path in self.dirs or path in self.files

    def fs_mkdir(self, path):
        self.dirs.add(path)

    def fs_writefile(self, path, data, progress_callback=None):
        self.files[path] = data


@pytest.mark.parametrize("name", ["package.json", "pico_w.package.json",
                                  "vboard.package.json"])
def test_pinned_mpremote_installs_it_from_a_checkout(monkeypatch, capsys, name):
    """mpremote's own mip code, given the local manifest, writes every file it lists.

    `--target ""` (as the README says) puts the tree at the root, main.py included.
    """
    deps = []
    monkeypatch.setattr(mip, "_install_package",
                        lambda transport, dep, index, target, version, mpy: deps.append(dep))
    transport = RecordingTransport()
    mip._install_json(transport, str(FIRMWARE / name), "index", "", None, True)
    data = load(FIRMWARE / name)
    assert sorted(transport.files) == ["/" + f for f, _ in data["urls"]]
    assert transport.files["/main.py"] == (FIRMWARE / "main.py").read_bytes()
    assert "/basalt/core" in transport.dirs
    assert deps == [dep for dep, _ in data["deps"]]
