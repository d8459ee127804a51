"""make deploy / python -m tools.deploy: the exact mpremote calls, and every error path.

A fake `mpremote` on PATH (tools/fake_mpremote.py) records its arguments and answers
the probe like a Pico W; PORT=/dev/null stands in for a serial device (a character
device that exists).
"""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tools.deploy import __main__ as cli
from tools.deploy import deploy as dp

REPO = Path(__file__).resolve().parent.parent
PORT = "/dev/null"
DEPS = ["aioble-core", "aioble-central", "aioble-client", "aioble-security", "ssd1306"]


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Puts a recording mpremote first on PATH; returns a function giving its calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "mpremote"
    exe.write_text("#!/bin/sh\nexec %s %s \"$@\"\n"
                   % (sys.executable, REPO / "tools" / "fake_mpremote.py"))
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    log = tmp_path / "calls.jsonl"
    log.touch()
    monkeypatch.setenv("PATH", "%s:%s" % (bin_dir, os.environ["PATH"]))
    monkeypatch.setenv("FAKE_MPREMOTE_LOG", str(log))
    monkeypatch.setattr(dp, "BUILD", tmp_path / "build")
    monkeypatch.setattr(dp, "git_version", lambda: "v-test")

    def calls():
        return [json.loads(line) for line in log.read_text().splitlines()]

    return calls


def run(*args):
    return cli.main(list(args))


def stage_of(tmp_path, board):
    return tmp_path / "build" / board / "stage"


def test_a_deployed_settings_file_is_read_as_new_even_at_the_same_length(tmp_path):
    """The pump keeps settings.json.sum for the files it wrote; deploy drops it before
    copying a settings file, so a new file of the same length is validated, not taken
    for bit rot."""
    from basalt.core.settings import load_settings, parse_settings_text
    from basalt.storage.files import FileStorage, ValidatedFile

    storage = FileStorage(str(tmp_path))
    board = dp.boardfiles.load("pico_w")
    settings = ValidatedFile(storage, "settings.json", lambda o: load_settings(o, board),
                             parse_settings_text)
    example = parse_settings_text((REPO / "settings" / "example.json").read_text())
    settings.save(example)
    assert storage.read("settings.json.sum") is not None
    text = storage.read("settings.json").decode()
    edited = text.replace('"max_bolus_u": 10', '"max_bolus_u": 8 ')  # same length
    assert len(edited) == len(text) and edited != text
    removed = []

    class Os:
        @staticmethod
        def remove(path):
            removed.append(path)
            storage.remove(path.lstrip("/"))

    exec(dp.DROP_SETTINGS_SUM.replace("import os\n", ""), {"os": Os})
    assert removed == ["/settings.json.sum"]
    storage.write("settings.json", edited.encode())  # what mpremote fs cp does
    _, (loaded, _) = settings.load()
    assert loaded.limits.max_bolus_mu == 8_000


def test_a_board_file_built_from_another_is_written_out_whole():
    text = dp.board_file_text("vboard")
    assert "import" not in text.split('"""')[-1]
    namespace = {}
    exec(text, namespace)
    expected = dict(dp.read_board_file("pico_w"), name="vboard", mcu="vboard")
    assert namespace["BOARD"] == expected


def test_pico_w_command_sequence(fake, tmp_path, capsys):
    settings = REPO / "settings" / "example.json"
    assert run("--board", "pico_w", "--port", PORT, "--settings", str(settings)) == 0
    stage = stage_of(tmp_path, "pico_w")
    calls = fake()
    connect = ["connect", PORT]
    assert [c[:3] for c in calls] == [connect + ["exec"]] * 1 + [connect + ["mip"]] + [
        connect + ["exec"], connect + ["reset"]]
    probe, mip, copy, reset = calls
    assert dp.PROBE_TAG in probe[3]
    assert mip == connect + ["mip", "install"] + DEPS
    sweep = copy[3]
    assert "/basalt/app/__init__.mpy" in sweep and "/basalt/version.mpy" in sweep
    assert copy[4:] == [
        "+", "fs", "cp", "-r", str(stage / "basalt"), ":",
        "+", "fs", "cp", str(stage / "main.py"), ":main.py",
        "+", "fs", "cp", str(stage / "board.py"), ":board.py",
        "+", "exec", dp.DROP_SETTINGS_SUM, "+", "fs", "cp", str(settings), ":settings.json",
        "+", "exec", dp.VERIFY]
    assert reset == connect + ["reset"]
    out = capsys.readouterr().out
    assert "installed v-test for board" in out and "deploy: done" in out


def test_stage_is_compiled_for_the_board(fake, tmp_path):
    assert run("--board", "pico_w", "--port", PORT, "--no-deps") == 0
    stage = stage_of(tmp_path, "pico_w")
    board_py = (stage / "board.py").read_text()
    assert board_py == dp.board_file_text("pico_w")
    namespace = {}
    exec(board_py, namespace)  # standalone: the board needs no boards/ folder
    assert namespace["BOARD"] == dp.read_board_file("pico_w")
    assert (stage / "main.py").read_text() == (REPO / "firmware" / "main.py").read_text()
    listed = json.loads((REPO / "firmware" / "pico_w.package.json").read_text())["urls"]
    sources = {f[:-3] + ".mpy" for f, _ in listed if f.startswith("basalt/")}
    assert "basalt/drivers/stepper_rp2.mpy" in sources  # its own stepper driver only
    assert "basalt/drivers/stepper_esp32.mpy" not in sources
    staged = {p.relative_to(stage).as_posix() for p in (stage / "basalt").rglob("*")
              if p.is_file()}
    assert staged == sources | {"basalt/version.mpy"}
    assert not any(p.suffix == ".py" for p in (stage / "basalt").rglob("*"))
    assert (stage / "basalt" / "app" / "__init__.mpy").read_bytes()[:2] == b"M\x06"
    assert b"v-test" in (stage / "basalt" / "version.mpy").read_bytes()


def test_lines_keeps_the_line_numbers_the_board_build_leaves_out(fake, tmp_path):
    sizes = []
    for flags in ((), ("--lines",)):
        assert run("--board", "pico_w", "--port", PORT, "--no-deps", *flags) == 0
        compiled = tmp_path / "build" / "pico_w" / "mpy" / "firmware" / "basalt"
        sizes.append(sum(p.stat().st_size for p in compiled.rglob("*.mpy")))
    board, with_lines = sizes
    assert with_lines > board * 1.04  # line tables are several percent of the bytecode


def test_esp32_and_flags(fake, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_MPREMOTE_BOARD", "esp32 10758")
    assert run("--board", "esp32_devkitc", "--port", PORT, "--index", "/srv/mirror") == 0
    calls = fake()
    assert calls[1] == ["connect", PORT, "mip", "install", "--index", "/srv/mirror"] + DEPS
    assert "no SETTINGS given" in capsys.readouterr().out
    assert not any(":settings.json" in c for c in calls[2])


def test_no_deps_skips_mip_and_says_so(fake, capsys):
    assert run("--board", "pico_w", "--port", PORT, "--no-deps") == 0
    assert [c[1:3] for c in fake()] == [[PORT, "exec"], [PORT, "exec"], [PORT, "reset"]]
    assert "dependencies not installed" in capsys.readouterr().out


def test_sweep_code_removes_only_stale_files(tmp_path):
    """The device-side sweep, run here on a fake /basalt tree through os shims."""
    keep = ["/basalt/app.mpy", "/basalt/core/board.mpy"]
    tree = {"/basalt": 0x4000, "/basalt/app.mpy": 0x8000, "/basalt/app.py": 0x8000,
            "/basalt/core": 0x4000, "/basalt/core/board.mpy": 0x8000,
            "/basalt/old": 0x4000, "/basalt/old/x.mpy": 0x8000}

    class FakeOs:
        def ilistdir(self, d):
            return [(p[len(d) + 1:], kind, 0) for p, kind in sorted(tree.items())
                    if p.startswith(d + "/") and "/" not in p[len(d) + 1:]]

        def remove(self, p):
            if tree.pop(p, None) is None:
                raise OSError(2)

        def rmdir(self, p):
            del tree[p]

    code = dp.sweep_code(keep).replace("import os\n", "")
    exec(code, {"os": FakeOs()})
    assert sorted(tree) == ["/basalt", "/basalt/app.mpy", "/basalt/core",
                            "/basalt/core/board.mpy"]


# ----- errors: each says what to do -------------------------------------------------


def test_no_board_lists_boards(fake, capsys):
    assert run("--port", PORT) == 2
    err = capsys.readouterr().err
    assert "BOARD is not set" in err and "make deploy BOARD=<board> PORT=<port>" in err
    for name in ("pico_w", "esp32_devkitc", "vboard", "raspberry_pi", "sim"):
        assert "\n  " + name in err
    assert fake() == []


def test_unknown_board(fake, capsys):
    assert run("--board", "pico", "--port", PORT) == 2
    err = capsys.readouterr().err
    assert "unknown board 'pico'" in err and "boards/pico.py" in err and "pico_w" in err


@pytest.mark.parametrize("board, hint", [("sim", "make sim"),
                                         ("raspberry_pi", "python3 -m tools.pi")])
def test_boards_that_are_not_deployed(fake, capsys, board, hint):
    assert run("--board", board, "--port", PORT) == 2
    assert hint in capsys.readouterr().err


def test_no_port_lists_ports(fake, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_MPREMOTE_PORTS",
                       "/dev/ttyACM0 e6614c 2e8a:0005 MicroPython Board in FS mode\n")
    assert run("--board", "pico_w") == 2
    err = capsys.readouterr().err
    assert "PORT is not set" in err and "PORT=/dev/ttyACM0" in err
    assert "  /dev/ttyACM0 e6614c 2e8a:0005 MicroPython Board in FS mode" in err
    assert fake() == [["connect", "list"]]


def test_missing_port(fake, capsys):
    assert run("--board", "pico_w", "--port", "/dev/ttyNOPE9") == 2
    err = capsys.readouterr().err
    assert "PORT=/dev/ttyNOPE9 does not exist" in err and "No serial ports found" in err


def test_port_that_is_not_a_device(fake, tmp_path, capsys):
    plain = tmp_path / "ttyFILE"
    plain.write_text("")
    assert run("--board", "pico_w", "--port", str(plain)) == 2
    assert "is not a serial device" in capsys.readouterr().err


def test_port_that_does_not_answer(fake, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_MPREMOTE_FAIL", "exec")
    assert run("--board", "pico_w", "--port", PORT) == 2
    err = capsys.readouterr().err
    assert "probe step failed" in err and "failed to access /dev/null" in err
    assert "holding the port" in err
    assert [c[:3] for c in fake()] == [["connect", PORT, "exec"], ["connect", "list"]]


@pytest.mark.parametrize("answer, message", [
    ("esp32 10758", "is a 'esp32' MicroPython board, but boards/pico_w.py is for the rp2040"),
    ("rp2 7942", "has native arch 7, boards/pico_w.py's rp2040 is armv6m (4)"),
    ("rp2 4869", "reads .mpy version 5, ours is 6"),
])
def test_wrong_board_on_the_port_stops_before_copying(fake, monkeypatch, capsys, answer,
                                                      message):
    monkeypatch.setenv("FAKE_MPREMOTE_BOARD", answer)
    assert run("--board", "pico_w", "--port", PORT) == 2
    assert message in capsys.readouterr().err
    assert len(fake()) == 1  # the probe only: nothing was installed


def test_bad_settings_file(fake, tmp_path, capsys):
    bad = tmp_path / "s.json"
    bad.write_text("{not json")
    assert run("--board", "pico_w", "--port", PORT, "--settings", str(bad)) == 2
    err = capsys.readouterr().err
    assert "is refused" in err and "not valid JSON" in err
    bad.write_text('{"max_bolus_u": 10}')
    assert run("--board", "pico_w", "--port", PORT, "--settings", str(bad)) == 2
    err = capsys.readouterr().err
    assert "is refused" in err and "max_bolus_u: unknown key" in err
    assert run("--board", "pico_w", "--port", PORT, "--settings", "nope.json") == 2
    assert "SETTINGS=nope.json: no such file" in capsys.readouterr().err
    assert fake() == []


def test_make_deploy_without_board_says_what_to_do():
    # -o setup and the deploy stamp, as test_docs runs make: never (re)build the
    # environment from a test. A worktree's requirements are newer than a shared .venv's
    # stamps, and the set-up rules start with rm -rf .venv: that once replaced the
    # shared (symlinked) environment.
    proc = subprocess.run(["make", "--no-print-directory", "-o", "setup",
                           "-o", ".venv/.stamp-deploy", "deploy"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "BOARD is not set" in proc.stderr and "pico_w" in proc.stderr


# ----- a failed download is not a port problem -------------------------------------

OFFLINE = ("[Errno -3] Temporary failure in name resolution requesting "
           "https://micropython.org/pi/v2/package/6/aioble-core/latest.json")


def test_offline_mip_blames_the_download_not_the_port(fake, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_MPREMOTE_FAIL", "mip")
    monkeypatch.setenv("FAKE_MPREMOTE_FAIL_TEXT", OFFLINE)
    assert run("--board", "pico_w", "--port", PORT) == 2
    err = capsys.readouterr().err
    assert "dependencies step failed: mip could not download" in err
    assert "Temporary failure in name resolution" in err
    assert "not the port" in err and "holding the port" not in err
    assert "MIP=0" in err and "MIP_INDEX" in err
    assert "mpremote connect %s mip install %s" % (PORT, " ".join(DEPS)) in err
    # it stopped there: probe and mip ran, nothing was copied, `connect list` not asked
    assert [c[2] for c in fake()] == ["exec", "mip"]


def test_a_local_index_without_the_package_is_a_download_problem(fake, monkeypatch,
                                                                 capsys):
    monkeypatch.setenv("FAKE_MPREMOTE_FAIL", "mip")
    monkeypatch.setenv("FAKE_MPREMOTE_FAIL_TEXT",
                       "Error opening /srv/mirror/package/6/aioble-core/latest.json")
    assert run("--board", "pico_w", "--port", PORT, "--index", "/srv/mirror") == 2
    err = capsys.readouterr().err
    assert "could not download" in err and "/srv/mirror" in err


def test_a_port_lost_during_mip_is_a_port_problem(fake, monkeypatch, capsys):
    monkeypatch.setenv("FAKE_MPREMOTE_FAIL", "mip")  # default text: cannot open the port
    assert run("--board", "pico_w", "--port", PORT) == 2
    err = capsys.readouterr().err
    assert "dependencies step failed (mpremote exit 1)" in err
    assert "This is the port or the board" in err and "holding the port" in err
    assert "could not download" not in err


@pytest.mark.parametrize("output, kind", [
    ("mpremote: could not enter raw repl", "port"),
    ("mpremote: no device found", "port"),
    ("Install ssd1306\nmpremote: Package not found: ssd1306", "download"),
    ("mpremote: <urlopen error [Errno 101] Network is unreachable> requesting x", "download"),
])
def test_failure_kinds(output, kind):
    assert dp.failure_kind("dependencies", output) == kind
    assert dp.failure_kind("firmware", output) == kind


# ----- dry run: the plan, without a board on a port -----------------------------------


def test_dry_run_needs_no_port(fake, tmp_path, capsys):
    assert run("--board", "pico_w", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "no PORT given" in out
    assert "deploy: probe: connect PORT exec" in out
    assert "deploy: dependencies: connect PORT mip install " + " ".join(DEPS) in out
    assert "deploy: done (dry run)" in out
    assert fake() == []  # mpremote was never run, not even `connect list`
    assert (stage_of(tmp_path, "pico_w") / "basalt" / "version.mpy").is_file()


def test_dry_run_with_a_port_that_is_not_there(fake, capsys):
    assert run("--board", "esp32_devkitc", "--port", "/dev/ttyUSB7", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "deploy: probe: connect /dev/ttyUSB7 exec" in out and "dry run" in out
    assert fake() == []


def test_dry_run_without_mpremote(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(dp, "BUILD", tmp_path / "build")
    monkeypatch.setattr(dp, "find_mpremote", lambda: (_ for _ in ()).throw(
        dp.DeployError("mpremote not found")))
    assert run("--board", "vboard", "--dry-run", "--no-deps") == 0
    assert "deploy: reset: connect PORT reset" in capsys.readouterr().out


def test_dry_run_still_checks_board_and_settings(fake, capsys):
    assert run("--board", "nope", "--dry-run") == 2
    assert "unknown board 'nope'" in capsys.readouterr().err
    assert run("--board", "pico_w", "--dry-run", "--settings", "nope.json") == 2
    assert "SETTINGS=nope.json: no such file" in capsys.readouterr().err


# ----- one version string ------------------------------------------------------------


def test_the_stamp_is_the_package_version_and_the_commit(fake, tmp_path):
    from basalt import PACKAGE_VERSION

    assert dp.stamp_version() == PACKAGE_VERSION + "+v-test"
    assert dp.stamp_version("v-e2e") == "v-e2e"  # --version: as given
    assert run("--board", "pico_w", "--port", PORT, "--no-deps") == 0
    stamp = (tmp_path / "build" / "pico_w" / "version.py").read_text()
    assert "VERSION = %r" % (PACKAGE_VERSION + "+v-test") in stamp
    assert "BOARD = 'pico_w'" in stamp


def test_the_firmware_reads_the_stamp_else_the_package_version(tmp_path):
    """basalt.VERSION / firmware_version(): the stamp deploy writes, when it is there."""
    import basalt

    assert basalt.firmware_version() == basalt.VERSION == basalt.PACKAGE_VERSION  # host
    package = tmp_path / "basalt"
    package.mkdir()
    (package / "__init__.py").write_text(
        (REPO / "firmware" / "basalt" / "__init__.py").read_text())
    code = "import basalt; print(basalt.VERSION, basalt.firmware_version())"
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    bare = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, cwd=tmp_path)
    assert bare.stdout.split() == [basalt.PACKAGE_VERSION] * 2
    (package / "version.py").write_text("VERSION = '0.1.0+abc1234'\nBOARD = 'pico_w'\n")
    stamped = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, cwd=tmp_path)
    assert stamped.stdout.split() == ["0.1.0+abc1234"] * 2


def test_micropython_reads_the_stamp_deploy_writes(fake, tmp_path):
    """In the MicroPython VM: basalt/__init__.py with deploy's version.py beside it."""
    from tools.mpvm import missing_requirements, run_micropython_code

    if missing_requirements():
        pytest.skip(missing_requirements())
    assert run("--board", "vboard", "--dry-run", "--version", "0.1.0+feed123") == 0
    package = tmp_path / "vm" / "basalt"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(
        (REPO / "firmware" / "basalt" / "__init__.py").read_text())
    code = "import basalt\nprint(basalt.VERSION, basalt.firmware_version())\n"
    from basalt import PACKAGE_VERSION

    assert run_micropython_code(code, lib_dirs=[package]).split() == [PACKAGE_VERSION] * 2
    (package / "version.py").write_text(
        (tmp_path / "build" / "vboard" / "version.py").read_text())  # deploy's stamp
    assert run_micropython_code(code, lib_dirs=[package]).split() == ["0.1.0+feed123"] * 2
