"""firmware/package.json, the mip manifest: complete, and installable by the pinned mpremote.

`mpremote mip install github:<owner>/<repo>/firmware/package.json` reads it; its relative
"urls" resolve against the manifest's own location (so forks and local checkouts work)
and its "deps" are the one list of micropython-lib packages that deploy installs.
"""

import json
from pathlib import Path

from mpremote import mip

from tools.deploy import deploy as dp

FIRMWARE = Path(__file__).resolve().parent.parent / "firmware"


def manifest():
    return json.loads((FIRMWARE / "package.json").read_text())


def firmware_files():
    return sorted(p.relative_to(FIRMWARE).as_posix() for p in FIRMWARE.rglob("*.py")
                  if "__pycache__" not in p.parts)


def test_every_firmware_file_is_listed_once_and_nothing_else():
    urls = manifest()["urls"]
    assert [target for target, _ in urls] == firmware_files(), (
        "firmware/package.json is stale: run `python -m tools.deploy --write-manifest`")
    for target, source in urls:
        assert source == target  # relative to the manifest: firmware/<path>
    assert (FIRMWARE / "package.json").read_text() == dp.manifest_text()


def test_deps_and_version():
    data = manifest()
    assert sorted(data) == ["deps", "urls", "version"]
    names = [name for name, _ in data["deps"]]
    assert "ssd1306" in names and "aioble-central" in names and "aioble-client" in names
    assert len(set(names)) == len(names)
    assert dp.dependencies() == names  # deploy installs exactly these
    major, minor, patch = data["version"].split(".")
    assert (major + minor + patch).isdigit()


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


def test_pinned_mpremote_installs_it_from_a_checkout(monkeypatch, capsys):
    """mpremote's own mip code, given the local manifest, writes every firmware file.

    `--target ""` (as the README says) puts the tree at the root, main.py included.
    """
    deps = []
    monkeypatch.setattr(mip, "_install_package",
                        lambda transport, dep, index, target, version, mpy: deps.append(dep))
    transport = RecordingTransport()
    mip._install_json(transport, str(FIRMWARE / "package.json"), "index", "", None, True)
    assert sorted(transport.files) == ["/" + f for f in firmware_files()]
    assert transport.files["/main.py"] == (FIRMWARE / "main.py").read_bytes()
    assert "/basalt/core" in transport.dirs
    assert deps == [name for name, _ in manifest()["deps"]]
