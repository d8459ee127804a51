"""Builds that put code in flash: the frozen manifests (frozen/<board>/manifest.py) and
`make deploy ROMFS=1` (tools/deploy/deploy.py romfs_step), on the fake mpremote and in
the MicroPython VM, which mounts the image deploy builds with vfs.VfsRom."""

import json
from pathlib import Path

import pytest

from host_tests.test_deploy import PORT, fake, run  # noqa: F401 (fake is a fixture)
from tools.deploy import deploy as dp
from tools.deploy import manifest as mf

REPO = Path(__file__).resolve().parent.parent
VM_SCRIPT = Path(__file__).with_name("romfs_import_vm.py")
FROZEN_BOARDS = {"pico_w": "$(BOARD_DIR)/manifest.py",
                 "esp32_devkitc": "$(PORT_DIR)/boards/manifest.py"}
KINDS = ("include", "require", "package", "module", "freeze", "metadata")


def manifest_calls(path):
    """Run a manifest.py as MicroPython's build does, with stubs that record each call."""
    calls = {kind: [] for kind in KINDS}

    def recorder(made):
        return lambda *args, **kwargs: made.append((args, kwargs))

    stubs = {kind: recorder(calls[kind]) for kind in KINDS}
    exec(compile(Path(path).read_text(encoding="utf-8"), str(path), "exec"), stubs)
    return calls


def mismatches(path, package_json, stock):
    """What a frozen manifest freezes differently from the board's mip manifest."""
    listed = json.loads(Path(package_json).read_text(encoding="utf-8"))
    calls = manifest_calls(path)
    wrong = []
    if calls["include"] != [((stock,), {})]:
        wrong.append("include: %r, not the stock %s" % (calls["include"], stock))
    requires = [a[0] for a, _ in calls["require"]]
    if requires != [name for name, _ in listed["deps"]]:
        wrong.append("require: %r" % requires)
    if calls["module"] or calls["freeze"]:
        wrong.append("freezes more than basalt/: %r" % (calls["module"] + calls["freeze"]))
    if len(calls["package"]) != 1 or calls["package"][0][0] != ("basalt",):
        return wrong + ["package: %r, not one basalt package" % calls["package"]]
    options = calls["package"][0][1]
    base = (Path(path).parent / options.get("base_path", ".")).resolve()
    if base != REPO / "firmware":
        wrong.append("base_path: %s, not firmware/" % base)
    frozen = ["basalt/" + f for f in options.get("files") or ()]
    expected = [f for f, _ in listed["urls"] if f.startswith("basalt/")]
    if frozen != expected:
        wrong.append("files: missing %s, extra %s" % (sorted(set(expected) - set(frozen)),
                                                     sorted(set(frozen) - set(expected))))
    wrong += ["%s: no such file" % f for f in frozen if not (base / f).is_file()]
    return wrong


@pytest.mark.parametrize("board", sorted(FROZEN_BOARDS))
def test_a_frozen_manifest_freezes_what_the_board_manifest_installs(board):
    path = mf.frozen_path(board)
    assert mismatches(path, REPO / "firmware" / ("%s.package.json" % board),
                      FROZEN_BOARDS[board]) == []
    assert path.read_text() == mf.frozen_expected()[path], (
        "%s is stale: run `python -m tools.deploy manifests`" % path.relative_to(REPO))


def test_only_boards_with_a_micropython_firmware_build_have_one():
    assert sorted(p.parent.name for p in (REPO / "frozen").glob("*/manifest.py")) == sorted(
        FROZEN_BOARDS)


def test_the_check_sees_a_file_left_out_and_a_wrong_base(tmp_path):
    board = "pico_w"
    text = mf.frozen_path(board).read_text()
    (tmp_path / "a" / "b").mkdir(parents=True)
    doctored = tmp_path / "a" / "b" / "manifest.py"
    doctored.write_text(text.replace('        "core/safety.py",\n', ""))
    found = mismatches(doctored, REPO / "firmware" / "pico_w.package.json",
                       FROZEN_BOARDS[board])
    assert any("missing ['basalt/core/safety.py']" in w for w in found), found
    assert any("base_path" in w for w in found), found
    doctored.write_text(text + 'freeze("../../firmware", "main.py")\n')
    assert any("freezes more" in w for w in mismatches(
        doctored, REPO / "firmware" / "pico_w.package.json", FROZEN_BOARDS[board]))


# ----- make deploy ROMFS=1 ---------------------------------------------------------------


def test_romfs_on_stock_firmware_says_so_in_one_line_and_deploys_as_usual(fake, capsys):  # noqa: F811
    assert run("--board", "pico_w", "--port", PORT, "--romfs", "--no-deps") == 0
    out = capsys.readouterr().out
    said = [line for line in out.splitlines() if line.startswith("deploy: romfs:")]
    assert said == [dp.ROMFS_NONE % PORT]
    calls = fake()
    assert [c[2] for c in calls] == ["exec", "exec", "exec", "reset"]  # romfs?, probe, copy
    assert "BASALT-ROMFS" in calls[0][3] and "romfs" not in [c[2] for c in calls]
    assert ["fs", "cp", "-r"] == calls[2][calls[2].index("fs"):][:3]


def test_romfs_with_a_partition_deploys_the_image_and_clears_the_filesystem_copy(
        fake, tmp_path, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv("FAKE_MPREMOTE_ROMFS", str(512 * 1024))
    assert run("--board", "pico_w", "--port", PORT, "--romfs", "--no-deps") == 0
    calls = fake()
    image = tmp_path / "build" / "pico_w" / "basalt.romfs"
    assert image.read_bytes()[:3] == b"\xd2\xcd\x31"  # the ROMFS magic
    assert calls[2] == ["connect", PORT, "romfs", "deploy", str(image)]
    copy = calls[3]
    assert "-r" not in copy and "os.rmdir('/basalt')" in copy[3]
    assert copy.index("soft-reset") < len(copy) - 1 and "basalt.version" in copy[-1]
    assert "ROMFS image deployed" in capsys.readouterr().out


def test_an_image_bigger_than_the_partition_is_refused_before_writing(
        fake, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv("FAKE_MPREMOTE_ROMFS", "4096")
    assert run("--board", "pico_w", "--port", PORT, "--romfs") == 2
    err = capsys.readouterr().err
    assert "the ROMFS image is" in err and "partition on %s 4096" % PORT in err
    assert [c[2] for c in fake()] == ["exec"]  # asked the size; wrote nothing


def test_the_vm_mounts_the_image_deploy_builds_and_imports_from_it(fake, tmp_path):  # noqa: F811
    """The MicroPython VM has vfs.VfsRom: basalt imports from the image on /rom, and
    holds less heap than the same .mpy files imported from a filesystem (the bytecode
    stays in the image, as it stays in flash on a board)."""
    from tools.mpvm import missing_requirements, run_micropython

    if missing_requirements():
        pytest.skip(missing_requirements())
    assert run("--board", "vboard", "--dry-run", "--romfs", "--version", "0.1.0+rom") == 0
    stage = tmp_path / "build" / "vboard" / "stage"
    payload = tmp_path / "payload"  # the VM's /lib takes .py files: carry bytes as hex
    payload.mkdir()
    files = {p.relative_to(stage).as_posix(): p.read_bytes().hex()
             for p in (stage / "basalt").rglob("*.mpy")}
    image = (stage.parent / "basalt.romfs").read_bytes().hex()
    (payload / "__init__.py").write_text("IMAGE = %r\nFILES = %r\n" % (image, files))
    found = {}
    for where in ("rom", "fs"):  # one VM each: the qstrs one import interns are shared
        out = run_micropython(VM_SCRIPT, lib_dirs=[payload], args=[where])
        found.update(line.split(" ", 1) for line in out.strip().splitlines())
    assert found["version"] == "0.1.0+rom"
    assert found["rom_file"] == "/rom/basalt/app/__init__.mpy"
    assert found["fs_file"] == "/fsb/basalt/app/__init__.mpy"
    rom, fs = int(found["rom"]), int(found["fs"])
    assert 0 < rom < fs * 3 // 4, (rom, fs)
    print("heap of import basalt.app: ROMFS %d, filesystem %d bytes" % (rom, fs))
