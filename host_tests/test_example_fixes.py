"""The three examples that failed as the README showed them (issue 15), each fixed:

* `make sim SIM_ARGS="--hours 72"` stopped at hour 24 ("resume refused: not suspended"):
  a program's events repeat daily, and the resume after fitting a reservoir is a
  first-day event ("once": true). A refused event now names itself, its day and time.
* `python -m tools.pi` without `--settings` refuses every dose: the tool says so at start.
* `python -m tools.trumpet simulate` without `--rate` was an argparse error: it now
  simulates 1 U/h (the IEC 60601-2-24 rate) and says so.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools import sim
from tools.trumpet.__main__ import main as trumpet_main

REPO = Path(__file__).resolve().parent.parent
HOUR_MS = 3_600_000


def _program(tmp_path, events, name="p.json"):
    program = json.loads((REPO / "tools" / "sim" / "default_program.json").read_text())
    program["events"] = events
    path = tmp_path / name
    path.write_text(json.dumps(program))
    return path


@pytest.mark.parametrize("program, tick_ms", [
    ("tools/sim/default_program.json", 60_000),
    ("tools/sim/occlusion_program.json", 1_000),  # the force physics needs 1 s ticks
    ("hardware/lessons/programs/basal_bolus.json", 60_000)])
def test_shipped_programs_run_three_days(program, tick_ms):
    recorder = sim.run(sim.load_program(REPO / program), hours=72, tick_ms=tick_ms)
    assert len(recorder.hours) == 72
    # each day repeats its boluses: bolus insulin is delivered on day 2 and day 3 too
    per_day = [sum(steps for _, steps in recorder.hours[d * 24:(d + 1) * 24]) for d in range(3)]
    assert all(steps > 0 for steps in per_day)
    assert recorder.app.engine.bolus_steps > 0


def test_default_program_days_two_and_three_deliver_like_day_one():
    recorder = sim.run(sim.load_program(sim.DEFAULT_PROGRAM), hours=72, tick_ms=60_000)
    day = [sum(p for p, _ in recorder.hours[d * 24:(d + 1) * 24]) for d in range(3)]
    # day 1 has five suspended minutes before the resume; days 2 and 3 have none
    assert day[1] == day[2] > day[0]


def test_once_events_run_on_the_first_day_only(tmp_path):
    path = _program(tmp_path, [{"at": "00:05", "cmd": "resume", "once": True},
                               {"at": "01:00", "cmd": "bolus", "units": 1, "once": True},
                               {"at": "02:00", "cmd": "bolus", "units": 0.5}])
    recorder = sim.run(sim.load_program(path), hours=48, tick_ms=60_000)
    board = recorder.app.board
    # 1 U once, 0.5 U on each day (had the 1 U repeated: 3 U); each bolus is whole steps
    expected = board.usteps_for_mu(1000) + 2 * board.usteps_for_mu(500)
    assert abs(recorder.app.engine.bolus_steps - expected) <= 2


def test_a_refused_event_names_itself_its_day_and_time(tmp_path):
    path = _program(tmp_path, [{"at": "00:05", "cmd": "resume"}])  # no "once"
    with pytest.raises(sim.ProgramError) as caught:
        sim.run(sim.load_program(path), hours=48, tick_ms=60_000)
    assert str(caught.value) == (
        "program.events[0] (day 2, 00:05): resume refused: not suspended")


def test_once_must_be_true_or_false(tmp_path):
    path = _program(tmp_path, [{"at": "00:05", "cmd": "resume", "once": "yes"}])
    with pytest.raises(sim.ConfigError, match=r"program.events\[0\].once: 'yes'"):
        sim.load_program(path)


def test_sim_cli_runs_72_hours(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tools.sim", "--hours", "72", "--tick-ms", "60000",
         "--no-loop", "--no-plot", "--no-screens", "--out", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHONPATH=str(REPO / "firmware")))
    assert result.returncode == 0, result.stderr
    assert "72 h of 72 h simulated" in result.stderr
    assert "Basalt simulator: 72 h" in result.stdout
    rows = (tmp_path / "sim.csv").read_text().splitlines()
    assert len(rows) == 1 + 72 * 60 + 1  # header, one row a minute, both ends


def _pi(data, *args):
    """The Pi entry on blinka's mock board, its boot screen acknowledged first."""
    env = dict(os.environ, BLINKA_OS_AGNOSTIC="1", PYTHONPATH=str(REPO / "firmware"))
    return subprocess.run([sys.executable, "-m", "tools.pi", "--data", str(data),
                           "--command", '{"cmd": "boot_ack"}', *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


def test_pi_without_settings_says_why_doses_are_refused(tmp_path):
    proc = _pi(tmp_path, "--seconds", "0",
               "--command", '{"cmd": "new_reservoir", "units": 100}',
               "--command", '{"cmd": "resume"}', "--command", '{"cmd": "bolus", "units": 0.5}')
    assert proc.returncode == 1
    assert ("no settings file in %s: no basal profile runs and every dose is refused"
            % tmp_path) in proc.stderr
    assert "--settings settings/example.json" in proc.stderr
    assert "bolus refused" in proc.stderr


def test_pi_with_settings_has_no_such_note_and_delivers(tmp_path):
    proc = _pi(tmp_path, "--settings", "settings/example.json", "--seconds", "1",
               "--command", '{"cmd": "new_reservoir", "units": 100}',
               "--command", '{"cmd": "resume"}', "--command", '{"cmd": "bolus", "units": 0.5}')
    assert proc.returncode == 0, proc.stderr
    assert "no settings file" not in proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["bolus_steps"] > 0


def test_trumpet_simulate_defaults_to_one_unit_an_hour(tmp_path, capsys):
    out = tmp_path / "balance.csv"
    assert trumpet_main(["simulate", "--hours", "1.5", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "no --rate given: simulating 1 U/h" in captured.err
    assert "1 U/h for 1.5 h" in captured.out
    lines = out.read_text().splitlines()
    assert lines[0].startswith("time_s,grams")
    assert len(lines) == 1 + 181  # a reading every 30 s, both ends
    # an explicit rate is used as given, without the note
    assert trumpet_main(["simulate", "--rate", "2", "--hours", "1.5", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "no --rate" not in captured.err and "2 U/h for 1.5 h" in captured.out
