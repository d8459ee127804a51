"""USB never stops therapy silently, on the virtual board with the real host tools:

- `tools.history pull` mid-basal reads the journal through the pump's USB console
  service: no reset, no interrupt, and the plunger's microsteps (the vboard's driver
  model) match the basal schedule over the elapsed time exactly;
- `tools.deploy` refuses a delivering pump, and with --stop-therapy suspends it through
  the command table, installs, restarts it and resumes delivery;
- Ctrl-C at the REPL (what plain mpremote sends) stops the program with the motor off
  and a line that says therapy stopped; Ctrl-D brings the pump back.
"""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from basalt.core.board_file import load_board
from basalt.core.settings import parse_settings_text
from boards.vboard import BOARD
from host_tests.test_vboard import MPREMOTE, Console
from tools import pump_link
from tools.mpvm import missing_requirements
from tools.vboard import VirtualBoard

REPO = Path(__file__).resolve().parent.parent
RATE_MU_H = 12_000  # 12 U/h flat: about 2.3 microsteps a second on this syringe
TEMP_MU_H = 30_000  # the pull runs under a 30 U/h temp basal: 5.7 microsteps a second
ENV = {"PATH": "%s:/usr/bin:/bin" % Path(MPREMOTE).parent,
       "PYTHONPATH": "%s:%s" % (REPO / "firmware", REPO)}

if missing_requirements():
    pytest.fail(missing_requirements(), pytrace=False)


@pytest.fixture(scope="module")
def pump(tmp_path_factory):
    """A vboard with the firmware deployed on fast-basal settings, delivering."""
    obj = parse_settings_text((REPO / "settings" / "example.json").read_text())
    obj["basal"] = {"active": "Fast", "profiles": {"Fast": [["00:00", RATE_MU_H / 1000]]}}
    obj["limits"].update(max_basal_u_h=TEMP_MU_H // 1000, max_daily_u=300)
    settings = tmp_path_factory.mktemp("usb") / "fast.json"
    settings.write_text(json.dumps(obj))
    with VirtualBoard() as board:
        out = deploy(board.port, "--settings", str(settings))
        assert "the pump app is not running" in out  # nothing to stop on a fresh board
        assert "the pump app is running: restarted" in out  # and deploy saw it come back
        with pump_link.PumpLink(board.port) as link:
            with pytest.raises(pump_link.Refused, match="acknowledge the boot screen"):
                link.command(cmd="resume")  # the command table's guards hold over USB
            link.command(cmd="boot_ack")
            link.command(cmd="new_reservoir", units=100)
            link.command(cmd="resume")
            assert link.status()["delivering"]
        yield board, settings


def deploy(port, *args, expect=0):
    proc = subprocess.run([sys.executable, "-m", "tools.deploy", "--board", "vboard",
                           "--port", port, "--no-deps", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env=ENV)
    assert proc.returncode == expect, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


SNAPSHOT = ("e = m.app.engine; o = m.app.motion; d = m.app.motor; p = vboard.position(); "
            "left = o.move_steps - d.steps_done() if d.busy() and o.forward else 0; "
            "print(p, p + left + o.pending_steps, e.last_ms(), e.basal_steps, e._basal_acc, "
            "m.app.keeper.boot)")


def snapshot(port):
    """(plunger microsteps, those plus the ones released but not moved yet, engine ms,
    basal microsteps released, the engine's basal accumulator, boot), read at one
    instant through the vboard's REPL (live beside the app)."""
    console = Console(port)
    try:
        console.serial.write(b"\r")
        console.read_until(">>> ")
        console.run("import vboard, basalt.app.device as m")
        return tuple(int(f) for f in console.run(SNAPSHOT).split())
    finally:
        console.close()


def test_pull_history_mid_basal_delivers_every_microstep(pump, tmp_path):
    board, _ = pump
    with pump_link.PumpLink(board.port) as link:
        link.command(cmd="temp_basal", minutes=30, rate=TEMP_MU_H / 1000)
    time.sleep(2.0)
    pos0, owed0, ms0, basal0, acc0, boot0 = snapshot(board.port)
    proc = subprocess.run([sys.executable, "-m", "tools.history", "pull", "--port",
                           board.port, "--out", str(tmp_path / "pulled")], cwd=REPO,
                          capture_output=True, text=True, timeout=60, env=ENV)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the pump kept running: delivering (basal 30.000 U/h)" in proc.stdout
    during = re.search(r"(\d+) basal and 0 bolus microsteps in the ([\d.]+) s", proc.stdout)
    time.sleep(2.0)
    pos1, owed1, ms1, basal1, acc1, boot1 = snapshot(board.port)
    assert boot1 == boot0  # no reset: the same boot
    cost = load_board(BOARD).ustep_volume_pl * 360  # the engine's microstep, in its units
    expected = (acc0 + TEMP_MU_H * (ms1 - ms0)) // cost  # the rate over the time
    assert (acc0 + TEMP_MU_H * (ms1 - ms0)) % cost == acc1  # the accumulator agrees
    delivered = pos1 - pos0  # the plunger's real microsteps (the driver model)
    print("basal over %d ms at 30 U/h: expected %d microsteps, released %d, accounted %d "
          "(plunger moved %d; not yet moved: %d at the start, %d at the end); during the "
          "pull: %s" % (ms1 - ms0, expected, basal1 - basal0, owed1 - owed0, delivered,
                        owed0 - pos0, owed1 - pos1, during.group(0)))
    assert owed1 - owed0 == basal1 - basal0 == expected > 10  # none lost, none doubled
    assert 0 <= owed1 - pos1 <= expected // 2 and delivered > 0  # and the plunger moved
    assert int(during.group(1)) >= 1  # delivery went on while the journal was read
    pulled = subprocess.run([sys.executable, "-m", "tools.history", "export",
                             str(tmp_path / "pulled" / "journal.bin"), "--csv"], cwd=REPO,
                            capture_output=True, text=True, timeout=60, env=ENV)
    assert pulled.returncode == 0 and ",resumed," in pulled.stdout
    with pump_link.PumpLink(board.port) as link:
        link.command(cmd="cancel_temp_basal")


def test_deploy_refuses_a_delivering_pump(pump):
    board, settings = pump
    before = snapshot(board.port)
    out = deploy(board.port, "--settings", str(settings), expect=2)
    assert "is delivering (basal 12.000 U/h): deploying stops it" in out
    assert "--stop-therapy" in out and "deploy: firmware" not in out  # nothing copied
    time.sleep(1.0)  # a few microsteps at 12 U/h, even on a loaded host
    after = snapshot(board.port)
    assert after[5] == before[5] and after[0] > before[0]  # same boot, still delivering


def test_deploy_with_stop_therapy_suspends_installs_and_resumes(pump):
    board, settings = pump
    boot = snapshot(board.port)[5]
    out = deploy(board.port, "--settings", str(settings), "--stop-therapy")
    assert "delivery suspended on %s (--stop-therapy)" % board.port in out
    assert "maintenance boot" in out and "installed" in out
    assert "deploy: boot screen: Restarted (hard)" in out
    assert "delivery resumed after" in out and "delivering (basal 12.000 U/h)" in out
    first = snapshot(board.port)
    assert first[5] == boot + 1  # the new firmware's boot (maintenance ran no app)
    time.sleep(1.0)
    assert snapshot(board.port)[0] > first[0]  # the plunger moves again
    with pump_link.PumpLink(board.port) as link:
        assert link.status()["delivering"]


def test_ctrl_c_stops_therapy_loudly_and_ctrl_d_brings_the_pump_back(pump):
    board, _ = pump
    console = Console(board.port)
    try:
        console.serial.write(b"\r")
        console.read_until(">>> ")
        console.serial.write(b"\x03")  # what mpremote sends first
        out = console.read_until(">>> ")
        assert "BASALT: THERAPY STOPPED (interrupted from USB), motor off." in out
        assert "Ctrl-D restarts the pump" in out
        assert console.run("import vboard; print(vboard.level(6))") == "1"  # EN off
        console.serial.write(b"\x04")
        assert "Restarted (soft)" in console.read_until(">>> ")
    finally:
        console.close()
    with pump_link.PumpLink(board.port) as link:
        status = link.status()
    assert status["ack"] and "Restarted (soft)" in status["notes"]
