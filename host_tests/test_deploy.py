"""make deploy / python -m tools.deploy: the exact mpremote calls, and every error path.

A fake `mpremote` on PATH (host_tests/fake_mpremote.py) records its arguments and answers
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
                   % (sys.executable, REPO / "host_tests" / "fake_mpremote.py"))
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
        "+", "fs", "cp", str(settings), ":settings.json",
        "+", "exec", dp.VERIFY]
    assert reset == connect + ["reset"]
    out = capsys.readouterr().out
    assert "installed v-test for board" in out and "deploy: done" in out


def test_stage_is_compiled_for_the_board(fake, tmp_path):
    assert run("--board", "pico_w", "--port", PORT, "--no-deps") == 0
    stage = stage_of(tmp_path, "pico_w")
    assert (stage / "board.py").read_text() == (REPO / "boards" / "pico_w.py").read_text()
    assert (stage / "main.py").read_text() == (REPO / "firmware" / "main.py").read_text()
    sources = {p.relative_to(REPO / "firmware").with_suffix(".mpy").as_posix()
               for p in (REPO / "firmware" / "basalt").rglob("*.py")}
    staged = {p.relative_to(stage).as_posix() for p in (stage / "basalt").rglob("*")
              if p.is_file()}
    assert staged == sources | {"basalt/version.mpy"}
    assert not any(p.suffix == ".py" for p in (stage / "basalt").rglob("*"))
    assert (stage / "basalt" / "app" / "__init__.mpy").read_bytes()[:2] == b"M\x06"
    assert b"v-test" in (stage / "basalt" / "version.mpy").read_bytes()


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
    proc = subprocess.run(["make", "--no-print-directory", "deploy"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "BOARD is not set" in proc.stderr and "pico_w" in proc.stderr
