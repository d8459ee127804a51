"""The virtual board end to end: the real mpremote deploys the firmware into it, it boots,
and its boot text and delivery counters are read back over its REPL.

One virtual board serves the module (starting it and deploying take a few seconds).
"""

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from basalt.core.board_file import load_board
from boards.vboard import BOARD
from tools.deploy import deploy as dp
from tools.mpvm import missing_requirements
from tools.vboard import VirtualBoard

REPO = Path(__file__).resolve().parent.parent
MPREMOTE = str(Path(sys.executable).with_name("mpremote"))
BOOT_WARNING = "BENCHTOP PROTOTYPE - NOT FOR HUMAN USE"

if missing_requirements():  # make test sets node up; say so rather than skip quietly
    pytest.fail(missing_requirements(), pytrace=False)


@pytest.fixture(scope="module")
def vboard():
    with VirtualBoard() as board:
        yield board


class Console:
    """The board's friendly REPL over the pty, as a person at a terminal uses it."""

    def __init__(self, port):
        self.serial = serial.Serial(port, timeout=0.05)

    def read_until(self, marker, timeout=10):
        data = b""
        end = time.monotonic() + timeout
        while not data.endswith(marker.encode()) and time.monotonic() < end:
            data += self.serial.read(4096)
        text = data.decode(errors="replace")
        assert text.endswith(marker), "no %r in %r" % (marker, text[-300:])
        return text

    def run(self, line):
        self.serial.write(line.encode() + b"\r")
        out = self.read_until(">>> ")
        return out[len(line):-len(">>> ")].strip()

    def close(self):
        self.serial.close()


def mpremote(port, *args):
    proc = subprocess.run([MPREMOTE, "connect", port, *args], capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_deploy_boot_and_deliver(vboard, tmp_path):
    deploy = subprocess.run(
        [sys.executable, "-m", "tools.deploy", "--board", "vboard", "--port", vboard.port,
         "--no-deps", "--version", "v-e2e", "--settings", str(REPO / "settings" / "example.json")],
        cwd=REPO, capture_output=True, text=True, timeout=60,
        env={"PATH": "%s:/usr/bin:/bin" % Path(MPREMOTE).parent,
             "PYTHONPATH": "%s:%s" % (REPO / "firmware", REPO)})
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert "BASALT-PROBE webassembly 774" in deploy.stdout
    assert "installed v-e2e for vboard" in deploy.stdout

    console = Console(vboard.port)
    try:
        console.serial.write(b"\r")
        console.read_until(">>> ")
        # deploy's last step hard-reset the board, and main.py started the app.
        assert console.run("import machine, vboard, basalt.app.device as m") == ""
        assert console.run("print(machine.reset_cause(), type(m.app).__name__)") == "2 PumpApp"
        assert console.run("print(m.app.keeper.boot_notes)") == (
            "['Restarted (hard)', 'Force sensor not calibrated: nominal in use']")
        # Ctrl-D: a soft reboot boots the firmware again; its boot screen comes first.
        console.serial.write(b"\x04")
        boot = console.read_until(">>> ")
        assert "MPY: soft reboot" in boot
        assert boot.index(BOOT_WARNING) < boot.index("Restarted (soft)") < boot.index(
            "MicroPython v1.29")
        assert "no /settings.json" not in boot and "refused" not in boot  # deploy's copy
        # Deliver a 0.05 U bolus through the running app (its tasks keep running while
        # the REPL is live) and read the counters back: the firmware's and the driver's.
        console.run("import vboard, basalt.app.device as m")
        for cmd in ("{'cmd': 'boot_ack'}", "{'cmd': 'new_reservoir', 'units': 100}",
                    "{'cmd': 'force_tare'}",  # the maker's calibration, kept in /data
                    "{'cmd': 'resume'}", "{'cmd': 'bolus', 'units': 0.05}"):
            assert "Error" not in console.run("m.app.command(%s)" % cmd)
        assert console.run("import os; print('forcecal.json' in os.listdir('/data'))") == "True"
        bolus = load_board(BOARD).usteps_for_mu(50)  # 0.05 U: 34 microsteps
        end = time.monotonic() + 10
        while time.monotonic() < end:
            fields = console.run(
                "e = m.app.engine; print(e.bolus_steps, e.basal_steps + e.bolus_steps, "
                "m.app.motion.moved_steps, m.app.motor.busy(), vboard.position(), "
                "vboard.driver['ignored'])").split()
            counters = [int(f) if f.isdigit() else f for f in fields]
            if counters[0] == bolus and counters[3] == "False" and counters[1] == counters[2]:
                break
            time.sleep(0.2)
        planned, moved, position, ignored = counters[1], counters[2], counters[4], counters[5]
        assert counters[0] == bolus and moved == planned >= bolus
        assert position == moved and ignored == 0  # the driver saw every step, enabled
        # The driver was disabled again once the move ended (idle = disabled).
        assert console.run("print(m.app.motor.is_enabled(), vboard.level(6))") == "False 1"
    finally:
        console.close()
    # mpremote's own file commands see what deploy wrote.
    listing = mpremote(vboard.port, "fs", "ls", ":basalt")
    assert re.search(r"\bapp/", listing) and "version.mpy" in listing
    assert mpremote(vboard.port, "fs", "cat", ":board.py") == dp.board_file_text("vboard")


def test_raw_paste_protocol(vboard):
    """Raw-paste mode as the MicroPython docs describe it (mpremote uses it by default)."""
    port = serial.Serial(vboard.port, timeout=0.05)
    try:
        port.write(b"\r\x03\x03\r\x01")
        _read_until(port, b"raw REPL; CTRL-B to exit\r\n>")
        port.write(b"\x05A\x01")
        header = _read_exact(port, 4)
        assert header[:2] == b"R\x01"
        window = int.from_bytes(header[2:], "little")
        assert window >= 32
        code = b"x = 0\n" + b"x += 1\n" * (window // 7 * 2) + b"print('sum', x)\n"
        sent = grants = 0
        while sent < len(code):
            chunk = code[sent:sent + window]
            port.write(chunk)
            sent += len(chunk)
            if sent < len(code):
                assert _read_exact(port, 1) == b"\x01"  # flow control: next window
                grants += 1
        port.write(b"\x04")
        reply = _read_until(port, b"\x04>")
        assert grants >= 1
        assert reply == b"\x04sum %d\r\n\x04\x04>" % (window // 7 * 2)
        port.write(b"\x02")
    finally:
        port.close()


def _read_exact(port, n, timeout=5):
    data = b""
    end = time.monotonic() + timeout
    while len(data) < n and time.monotonic() < end:
        data += port.read(n - len(data))
    return data


def _read_until(port, marker, timeout=5):
    data = b""
    end = time.monotonic() + timeout
    while not data.endswith(marker) and time.monotonic() < end:
        data += port.read(1)
    assert data.endswith(marker), data[-200:]
    return data


MACHINE_SCRIPT = """
import machine, vboard, framebuf, time
button = machine.Pin(12, machine.Pin.IN, machine.Pin.PULL_UP)
before = button.value()
vboard.press(12)
pressed = button.value()
vboard.release(12)
out = machine.Pin(20, machine.Pin.OUT, value=1)
adc = machine.ADC(machine.Pin(28))
default = adc.read_u16()
vboard.set_adc(28, 1234)
pwm = machine.PWM(machine.Pin(16), freq=2000, duty_u16=32768)
ticks = []
timer = machine.Timer(period=10, callback=lambda t: ticks.append(1))
i2c = machine.I2C(0, sda=machine.Pin(4), scl=machine.Pin(5))
buf = bytearray(128 * 64 // 8)
fb = framebuf.FrameBuffer(buf, 128, 64, framebuf.MONO_VLSB)
fb.text("BASALT", 0, 0, 1)
fb.text("NOT FOR HUMANS", 0, 16, 1)
for cmd in (0xAF, 0x21, 0, 127, 0x22, 0, 7):
    i2c.writeto(0x3C, bytes((0x80, cmd)))
i2c.writevto(0x3C, (b"\\x40", buf))
try:
    i2c.writeto(0x50, b"\\x00")
    missing = "acked"
except OSError as exc:
    missing = exc.args[0]
print("PINS", before, pressed, button.value(), vboard.level(20))
print("ADC", default, adc.read_u16())
print("PWM", vboard.pwm[16])
print("I2C", i2c.scan(), missing)
print("OLED", vboard.screen_text()[:3])
"""


def test_simulated_machine(vboard):
    out = mpremote(vboard.port, "exec", MACHINE_SCRIPT)
    assert "PINS 1 0 1 1" in out
    assert "ADC 39718 1234" in out
    assert "PWM [2000, 32768]" in out
    assert "I2C [60] 5" in out
    assert "OLED ['BASALT', '', 'NOT FOR HUMANS']" in out
    # The periodic timer ran on the VM's event loop between the two calls.
    time.sleep(0.2)
    ticks = mpremote(vboard.port, "resume", "exec", "print(len(ticks) > 5)")
    assert ticks.strip() == "True"


def test_watchdog_resets_the_board(vboard):
    mpremote(vboard.port, "exec", "import machine; wdt = machine.WDT(timeout=100)")
    time.sleep(0.5)
    cause = mpremote(vboard.port, "resume", "exec",
                     "import machine; print(machine.reset_cause(), machine.WDT_RESET)")
    assert cause.split() == ["3", "3"]
    cause = mpremote(vboard.port, "exec", "import machine; print(machine.reset_cause())")
    assert cause.strip() == "5"  # mpremote's own soft reset


def test_mip_installs_from_a_local_index(vboard, tmp_path):
    """mip's own file operations (hash, mkdir, write) work on the virtual board; the
    index is a local directory laid out like micropython-lib's (no network)."""
    import hashlib

    source = b"X = 42\n"
    short = hashlib.sha256(source).hexdigest()[:8]  # the index names files by it
    (tmp_path / "file" / short[:2]).mkdir(parents=True)
    (tmp_path / "file" / short[:2] / short).write_bytes(source)
    package = tmp_path / "package" / "6" / "basalt-demo"
    package.mkdir(parents=True)
    (package / "latest.json").write_text(
        '{"hashes": [["basalt_demo/__init__.py", "%s"]], "deps": [], "version": "1.0"}'
        % short)
    first = mpremote(vboard.port, "mip", "install", "--index", str(tmp_path), "basalt-demo")
    assert "Installing: /lib/basalt_demo/__init__.py" in first
    again = mpremote(vboard.port, "mip", "install", "--index", str(tmp_path), "basalt-demo")
    assert "Exists: /lib/basalt_demo/__init__.py" in again  # the board's sha256 matched
    assert mpremote(vboard.port, "exec", "import basalt_demo; print(basalt_demo.X)") == "42\n"


def test_romfs_deploy_finds_no_partition_on_the_virtual_board(vboard, tmp_path, capsys):
    """The VM has vfs.rom_ioctl but an empty ROM segment: ROMFS=1 says so in one line
    and leaves the filesystem deploy to go on (docs/flash-builds.md)."""
    _, board = dp.check_board("vboard")
    stage = dp.build("vboard", board, tmp_path, "v-rom")
    assert dp.romfs_step(MPREMOTE, vboard.port, stage, "vboard") is None
    assert dp.ROMFS_NONE % vboard.port in capsys.readouterr().out
