"""The power-on self-test on the virtual board, faults injected into its bench: a stuck
button, no HX711 on its wires, a read-only flash, no OLED on the bus. The real firmware
boots (deployed by the real mpremote), names each fault with its pin in the boot notes
(the boot screen's lines, also printed on the REPL; deployed without mip this board has
no ssd1306 driver, so test_selftest.py reads the screen on the host), refuses to resume
on the safety ones, and `python -m tools.deploy --selftest PORT` prints the same report
and fails."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from host_tests.test_vboard import _read_until
from tools.mpvm import missing_requirements
from tools.vboard import VirtualBoard

REPO = Path(__file__).resolve().parent.parent
MPREMOTE = str(Path(sys.executable).with_name("mpremote"))
ENV = {"PATH": "%s:/usr/bin:/bin" % Path(MPREMOTE).parent,
       "PYTHONPATH": "%s:%s" % (REPO / "firmware", REPO)}

if missing_requirements():
    pytest.fail(missing_requirements(), pytrace=False)


@pytest.fixture(scope="module")
def port():
    with VirtualBoard() as board:
        deploy = tool("--board", "vboard", "--port", board.port, "--no-deps",
                      "--settings", str(REPO / "settings" / "example.json"))
        assert deploy.returncode == 0, deploy.stdout + deploy.stderr
        assert "First flash: check all of this" in deploy.stdout  # deploy ends with it
        assert "Motor driver EN GP6 off" in deploy.stdout
        yield board.port


def tool(*args):
    return subprocess.run([sys.executable, "-m", "tools.deploy", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env=ENV)


def bench(port, code):
    """Set the bench (kept across resets) and hard-reset: main.py boots the firmware."""
    for args in (["exec", "import vboard\n" + code], ["reset"]):
        proc = subprocess.run([MPREMOTE, "connect", port, *args], capture_output=True,
                              text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr


def repl(port, lines, settle_s=1.5):
    """Lines typed at the friendly REPL (the app runs beside it); what each printed."""
    with serial.Serial(port, timeout=0.05) as console:
        time.sleep(settle_s)  # the boot and its self-test (the HX711 waits for an answer)
        console.write(b"\r")
        _read_until(console, b">>> ", 15)
        out = []
        for line in lines:
            console.write(line.encode() + b"\r")
            text = _read_until(console, b">>> ", 15).decode(errors="replace")
            out.append(text[len(line):-4].strip())
        return out


CLEAR = ("vboard.release(10); vboard.hx711.present = True; vboard.flash['read_only'] = False\n"
         "vboard.i2c_devices[0x3C] = vboard.Ssd1306()")


def test_faults_are_named_on_the_boot_screen_and_resume_is_refused(port):
    bench(port, "vboard.press(10); vboard.hx711.present = False; vboard.flash['read_only'] = True")
    notes, fault, _, refused = repl(port, [
        "import basalt.app.device as m, vboard",
        "print(m.app.keeper.boot_notes)",
        "print(m.app.keeper.hardware_fault)",
        "m.app.command({'cmd': 'boot_ack'})",
        "m.app.command({'cmd': 'resume'})"])[1:]
    assert "force sensor HX711 DOUT GP14: no answer" in notes
    assert "storage /data: not writable" in notes
    assert "button UP GP10: pressed at power-up (stuck?)" in notes
    assert fault == "force sensor HX711 DOUT GP14: no answer"  # the first safety one
    assert "resume refused: self-test: force sensor HX711 DOUT GP14: no answer" in refused
    report = tool("--selftest", port)
    assert report.returncode == 1, report.stdout + report.stderr
    assert "FAIL force sensor HX711 DOUT GP14: no answer (delivery refused)" in report.stdout
    assert "FAIL storage /data: not writable" in report.stdout
    assert "FAIL button UP GP10: pressed at power-up (stuck?)" in report.stdout
    assert "ok   motor driver EN GP6" in report.stdout
    assert "SELFTEST FAIL 3" in report.stdout
    assert "the pump starts again" in report.stdout


def test_no_display_on_the_bus_is_named_and_a_clean_bench_passes(port):
    bench(port, CLEAR + "\ndel vboard.i2c_devices[0x3C]")
    notes = repl(port, ["import basalt.app.device as m", "print(m.app.keeper.boot_notes)"])[1]
    assert "display 0x3C I2C0 SDA GP4 SCL GP5: not found" in notes
    report = tool("--selftest", port)
    assert report.returncode == 1
    assert "FAIL display 0x3C I2C0 SDA GP4 SCL GP5: not found" in report.stdout
    bench(port, CLEAR)
    report = tool("--selftest", port)
    assert report.returncode == 0, report.stdout + report.stderr
    assert "SELFTEST PASS" in report.stdout and "FAIL" not in report.stdout
    assert repl(port, ["import basalt.app.device as m",
                       "print(m.app.keeper.hardware_fault)"])[1] == "None"
