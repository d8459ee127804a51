"""Long benchmarks show progress on stderr; stdout carries the same figures as before.

The short forms of the benchmarks run here with a tiny --progress interval (a line at
every step), and again with --progress 0 (none): the JSON on stdout is one object, the
same both times but for the wall-clock keys, and every stderr line is a progress line.
"""

import io
import json
import re

import pytest

from tools.bench import __main__ as bench_main
from tools.bench import progress
from tools.mpvm import missing_requirements

needs_vm = pytest.mark.skipif(missing_requirements() is not None,
                              reason=str(missing_requirements()))
WALL_CLOCK = re.compile(r"(^|_)(wall_s|seconds|ms|us|per_s|speedup)($|_)")


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_a_line_every_interval_naming_the_count_and_the_time():
    clock, out = Clock(), io.StringIO()
    with progress.reporting("powercut", every_s=5, stream=out, clock=clock) as report:
        progress.phase("", 1081, "cuts")
        for _ in range(399):
            progress.advance()
        assert out.getvalue() == ""  # nothing before the interval has passed
        clock.t += 35
        progress.advance()
        clock.t += 1
        progress.advance()  # 1 s later: not yet again
        progress.phase("MicroPython VM")
        clock.t += 5
        progress.tick()
    assert out.getvalue() == "powercut: 400/1081 cuts, 35 s\npowercut: MicroPython VM, 41 s\n"
    assert report.lines == 2


def test_outside_a_report_every_call_is_a_no_op(capsys):
    progress.phase("x", 3, "things")
    progress.advance()
    progress.at(2)
    progress.tick()
    with progress.reporting("quiet", every_s=0):  # --progress 0: no report at all
        progress.phase("x", 3)
        progress.tick()
    assert capsys.readouterr() == ("", "")


def run_cli(capsys, argv):
    assert bench_main.main(argv + ["--json"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 1, "stdout must be exactly one JSON object"
    return json.loads(lines[0]), captured.err.splitlines()


def steady(figures):
    """The figures without the ones that measure this machine's speed."""
    return {k: v for k, v in figures.items() if not WALL_CLOCK.search(k)}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_powercut_counts_its_cuts_on_stderr_only(capsys, jobs):
    argv = ["powercut", "--limit", "5", "--jobs", jobs]
    quiet, quiet_err = run_cli(capsys, argv + ["--progress", "0"])
    loud, loud_err = run_cli(capsys, argv + ["--progress", "0.000001"])
    assert quiet_err == []
    assert steady(loud) == steady(quiet) and set(loud) == set(quiet)
    counted = [int(m.group(1)) for m in
               (re.fullmatch(r"powercut: (\d)/5 cuts, \d+ s", line) for line in loud_err) if m]
    assert counted[-1] == 5 and counted == sorted(counted)
    for line in loud_err:
        assert re.fullmatch(r"powercut: .+, \d+ s", line), line


@needs_vm
def test_ui_shows_the_vm_run_and_the_walks(capsys):
    argv = ["ui", "--events", "300"]
    quiet, quiet_err = run_cli(capsys, argv + ["--progress", "0"])
    loud, loud_err = run_cli(capsys, argv + ["--progress", "0.000001"])
    assert quiet_err == []
    assert steady(loud) == steady(quiet)
    assert any(line.startswith("ui: MicroPython VM") for line in loud_err)
    for keys in (4, 3):
        assert any(re.fullmatch(r"ui: random walk, %d keys: 3\d\d/300 key events, \d+ s" % keys,
                                line) for line in loud_err), loud_err


@needs_vm
def test_cgm_fuzz_counts_its_inputs(capsys):
    figures, err = run_cli(capsys, ["cgm", "--fuzz", "20", "--progress", "0.000001"])
    assert figures["fuzz_inputs"] == 40
    assert "cgm: hypothesis fuzz: 40/40 inputs" in "\n".join(err)
    assert all(line.startswith("cgm: ") for line in err)


def test_the_walk_reports_as_it_goes():
    from tools.screens import walk

    seen = []
    counts = walk.walk(200, seed=3, keys=4, progress=seen.append)
    assert seen and seen == sorted(seen) and seen[-1] == counts["events"] >= 200
    assert walk.walk(200, seed=3, keys=4) == counts  # reporting changes nothing


def test_a_negative_interval_is_refused(capsys):
    with pytest.raises(SystemExit) as info:
        bench_main.main(["powercut", "--progress", "-1"])
    assert info.value.code == 2
    assert "--progress must be 0 (none) or more seconds" in capsys.readouterr().err
