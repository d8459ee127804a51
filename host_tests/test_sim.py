"""The simulator end to end: scenario fixtures with expected outputs, and the CLI."""

import csv
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from tools import sim

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "host_tests" / "scenarios"


@pytest.mark.parametrize("name", ["two_hours"])
@pytest.mark.parametrize("tick_ms", [10, 1_000, 60_000])
def test_scenario_matches_expected(name, tick_ms):
    expected = json.loads((SCENARIOS / (name + ".expected.json")).read_text())
    recorder = sim.run(sim.load_program(SCENARIOS / (name + ".json")), hours=2, tick_ms=tick_ms)
    engine = recorder.app.engine
    assert engine.basal_steps == expected["basal_steps"]
    assert engine.bolus_steps == expected["bolus_steps"]
    assert engine.prime_steps == expected["prime_steps"]
    assert engine.reservoir_mu() == expected["reservoir_mu"]
    assert [str(h[0]) for h in recorder.hours] == expected["hours_programmed_mu"]
    assert len(recorder.rows) == expected["csv_rows"]
    assert [kind for kind, _ in recorder.app.pop_events()] == expected["events"]


def test_default_day_delivers_its_program_hour_by_hour():
    recorder = sim.run(sim.load_program(sim.DEFAULT_PROGRAM), hours=24)
    volume = recorder.app.board.ustep_volume_pl
    assert len(recorder.hours) == 24
    for programmed_mu, steps in recorder.hours:
        # Per hour, each channel is behind its exact integral by less than one step and
        # catches up on the next: |delivered - programmed| < 3 steps (basal, two bolus parts).
        assert abs(steps * volume - programmed_mu * 10_000) < 3 * volume
    total = sum(Fraction(p) for p, _ in recorder.hours)
    engine = recorder.app.engine
    delivered_pl = (engine.basal_steps + engine.bolus_steps) * volume
    assert 0 <= total * 10_000 - delivered_pl < 3 * volume


def test_cli_writes_summary_csv_and_plot(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tools.sim", "--hours", "2", "--out", str(tmp_path),
         "--program", str(SCENARIOS / "two_hours.json")],
        cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "delivered therapy       2.414 U  (1668 microsteps)" in result.stdout
    assert "prime (not therapy)     0.999 U" in result.stdout
    assert "2 h of 2 h simulated" in result.stderr  # progress
    rows = list(csv.DictReader(open(tmp_path / "sim.csv")))
    assert len(rows) == 121 and rows[-1]["time"] == "02:00"
    assert (tmp_path / "sim.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("change, message", [
    ({"surprise": 1}, "program.surprise: unknown key"),
    ({"events": [{"cmd": "bolus", "units": 1}]}, "program.events[0].at"),
    ({"events": [{"at": "25:00", "cmd": "bolus", "units": 1}]}, "'HH:MM'"),
    ({"setup": [{"cmd": "bolus", "units": 0.005}]}, "bolus units: 0.005"),
])
def test_cli_refuses_bad_programs(tmp_path, change, message):
    program = json.loads((SCENARIOS / "two_hours.json").read_text())
    program.update(change)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(program))
    result = subprocess.run(
        [sys.executable, "-m", "tools.sim", "--hours", "1", "--out", str(tmp_path / "out"),
         "--program", str(path)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_help_lists_every_command_and_each_answers_its_own_help(capsys):
    """`python -m tools.sim --help` names every command the CLI dispatches on."""
    import re

    from tools.sim.__main__ import main

    source = (ROOT / "tools" / "sim" / "__main__.py").read_text()
    dispatched = re.findall(r'argv\[:1\] == \["([a-z-]+)"\]', source)
    assert {"cohort", "loop-day", "faults"} <= set(dispatched)
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for name in dispatched:
        assert re.search(r"^  %s  " % re.escape(name), text, re.M), name
        with pytest.raises(SystemExit) as info:
            main([name, "--help"])
        assert info.value.code == 0
        assert capsys.readouterr().out.startswith("usage: python -m tools.sim " + name)
