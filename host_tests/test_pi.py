"""Raspberry Pi bench rig: the board file, ThreadStepper's contract and timing rules, the
machine shim on adafruit-blinka, and the Pi entry end to end on blinka's OS-agnostic mock
board (BLINKA_OS_AGNOSTIC=1, set in the subprocess's environment)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from basalt.core.board_file import load_board
from basalt.core.errors import ConfigError, MotorFault
from boards.raspberry_pi import BOARD
from tools.pi.stepper import ThreadStepper

REPO = Path(__file__).resolve().parent.parent
PI = load_board(BOARD)
STEP, EN = BOARD["motor"]["step"], BOARD["motor"]["enable"]["pin"]


class Recorder:
    """A `machine` whose pins record every write as (gpio, level, perf_counter_ns)."""

    def __init__(self):
        self.writes = []
        recorder = self

        class Pin:
            OUT = 1
            PULL_UP = 1
            PULL_DOWN = 2

            def __init__(self, number, mode=0, pull=None, value=None):
                self.number = number
                self.value(value)

            def value(self, x=None):
                recorder.writes.append((self.number, x, time.perf_counter_ns()))

        self.Pin = Pin

    def rising(self):
        return [t for gpio, level, t in self.writes if gpio == STEP and level == 1]


def motor():
    machine = Recorder()
    return ThreadStepper(PI.motor, machine), machine


def test_board_file_loads_and_the_pi_has_no_adc():
    assert (PI.mcu, PI.ustep_volume_pl, PI.battery) == ("raspberry_pi", 14_473, None)
    spec = dict(BOARD, battery={"adc": 26, "divider": 2.0, "full_mv": 4200, "low_mv": 3500,
                                "critical_mv": 3300})
    with pytest.raises(ConfigError, match="none, it has no ADC"):
        load_board(spec)
    with pytest.raises(ConfigError, match="motor.step"):
        load_board(dict(BOARD, motor=dict(BOARD["motor"], step=1)))  # HAT EEPROM bus


def test_enable_is_the_first_pin_and_starts_inactive():
    _, machine = motor()
    assert machine.writes[0][:2] == (EN, 1)  # active low: 1 = driver disabled


def test_exact_count_and_never_faster_than_max_step_hz():
    m, machine = motor()
    m.enable()
    m.move(40, 40)  # 40 steps at 1 kHz, the board's max_step_hz
    while m.busy():
        time.sleep(0.005)
    edges = machine.rising()
    assert m.steps_done() == len(edges) == 40
    min_gap = 1_000_000_000 // PI.motor.max_step_hz
    assert all(b - a >= min_gap for a, b in zip(edges, edges[1:]))
    assert m.jitter.count == 40
    assert machine.writes[-1][:2] == (STEP, 0)  # STEP left idle


def test_busy_until_the_last_period_has_passed():
    m, machine = motor()
    m.enable()
    start = time.perf_counter_ns()
    m.move(4, 200)  # one step every 50 ms, the last at 150 ms
    while m.busy():
        time.sleep(0.002)
    assert time.perf_counter_ns() - start >= 200_000_000
    assert len(machine.rising()) == 4


def test_stop_mid_move_counts_what_was_issued_and_disables_first():
    m, machine = motor()
    m.enable()
    m.move(100, 10_000)  # 100 ms apart
    time.sleep(0.25)
    done = m.stop()
    edges = machine.rising()
    assert 2 <= done == len(edges) <= 4
    en_off = max(i for i, w in enumerate(machine.writes) if w[:2] == (EN, 1))
    assert all(t < machine.writes[en_off][2] for t in edges)  # no pulse after EN went off
    time.sleep(0.15)
    assert len(machine.rising()) == done and not m.busy()
    with pytest.raises(MotorFault):
        m.move(1, 10)  # stop() disabled the driver


def test_direction_is_refused_while_moving():
    m, _ = motor()
    m.enable()
    m.move(10, 1000)
    with pytest.raises(MotorFault):
        m.set_direction(False)
    m.stop()


AGNOSTIC = dict(os.environ, BLINKA_OS_AGNOSTIC="1",
                PYTHONPATH="%s:%s" % (REPO / "firmware", REPO))


def test_machine_shim_on_blinka_mock_board():
    script = (
        "from tools.pi.machine import Machine\n"
        "from tools.pi.stepper import ThreadStepper\n"
        "from basalt.core.board_file import load_board\n"
        "from boards.raspberry_pi import BOARD\n"
        "m = ThreadStepper(load_board(BOARD).motor, Machine())\n"
        "print(m._en._io._io._pin.current_value, m._step._io._io._pin.current_value)\n"
        "m.enable()\n"
        "print(m._en._io._io._pin.current_value)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=AGNOSTIC,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "0", "0"]  # EN off (active low), STEP idle; EN on


def test_pi_entry_delivers_a_bolus_on_blinka(tmp_path):
    commands = [{"cmd": "boot_ack"}, {"cmd": "new_reservoir", "units": 100},
                {"cmd": "resume"}, {"cmd": "bolus", "units": 0.02}]
    args = [sys.executable, "-m", "tools.pi", "--seconds", "1.2", "--status-s", "0.5",
            "--data", str(tmp_path), "--settings", str(REPO / "settings" / "example.json")]
    for cmd in commands:
        args += ["--command", json.dumps(cmd)]
    proc = subprocess.run(args, cwd=REPO, env=AGNOSTIC, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "BENCHTOP PROTOTYPE - NOT FOR HUMAN USE"
    result = json.loads(lines[-1])
    expected = PI.usteps_for_mu(20)
    assert result["bolus_steps"] == expected
    moved = result["moved_steps"]  # the bolus and a second of the example's basal
    assert moved == result["bolus_steps"] + result["basal_steps"]
    assert result["step_timing"]["edges"] == moved
    # the whole pump: the bench stands in for the HX711 and the OLED, a status line
    # comes every --status-s, the journal is in --data
    assert "a simulated bench stands in" in proc.stdout
    status = [line for line in lines if line.startswith("pi: 00:00:")]
    assert len(status) >= 3 and "delivering  alarms: none" in status[1], status
    assert status[-1].endswith("stopped: suspended  alarms: none")
    assert (tmp_path / "settings.json").exists() and len(list(tmp_path.iterdir())) > 1
    # the second run starts from what the first left: the boot screen, then the state
    again = subprocess.run(args[:9] + ["--command", json.dumps(commands[0])], cwd=REPO,
                           env=AGNOSTIC, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "Restarted" in again.stdout, again.stderr
    assert "no reservoir" not in again.stdout.splitlines()[-2], again.stdout


def test_pi_entry_refuses_other_boards_and_bad_commands(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tools.pi", "--board", "boards/pico_w.py"],
                          cwd=REPO, env=AGNOSTIC, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "is for the rp2040" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "tools.pi", "--settings", "README.md"],
                          cwd=REPO, env=AGNOSTIC, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "not valid JSON" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "tools.pi", "--seconds", "0",
                           "--data", str(tmp_path), "--command", '{"cmd": "boot_ack"}',
                           "--command", '{"cmd": "bolus", "units": 99}'],
                          cwd=REPO, env=AGNOSTIC, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "bolus units: 99" in proc.stderr
