"""Every command shown in README.md and docs/*.md runs as written.

The fenced shell blocks (```sh, ```bash, ```shell, ```console) of those pages are
extracted; each command is either run here (RUN: its exit status and something it
prints are checked) or listed in SKIP with the reason it cannot run in a test (a real
board, a server that runs until stopped, minutes of work). A command in the docs that
is in neither table fails the test, and so does a table entry the docs no longer show,
so a new or edited command cannot go unchecked. Every fenced block must name its
language, so a shell command cannot hide in an untagged block.

The commands run in a scratch directory that links to the repository's folders, so
their outputs (out/, build/, files they write) land there, not in the checkout.
`make TARGET` runs as `make -o setup -o .venv/.stamp-deploy TARGET`: the set-up steps
(pip, npm) are already done for the test run and must not reinstall the environment
the tests run in.

The lesson pages (hardware/lessons/) have their own runner in test_hardware_docs.py.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md"] + sorted((REPO / "docs").glob("*.md"))
SHELL = {"sh", "bash", "shell", "console"}
FENCE = re.compile(r"^( *)```([^\n`]*)\n(.*?)^\1```[ \t]*$", re.S | re.M)

PY = "PYTHONPATH=firmware .venv/bin/python"

# command as written -> (expected exit status, texts its stdout + stderr must contain)
RUN = {
    "make sim": (0, ["Basalt simulator: 24 h", "Basalt closed loop: 24 h", "wrote out/loop.png"]),
    'make sim SIM_ARGS="--hours 72 --no-loop --no-screens"': (
        0, ["72 h of 72 h simulated", "Basalt simulator: 72 h", "wrote out/sim.png"]),
    PY + " -m tools.wiring --check": (0, []),
    PY + " -m tools.devicevm story host_tests/stories/first_boot.json --board pico_w": (
        0, ["|> Basalt v0.1.0|", "host_tests/stories/first_boot.json: ok"]),
    PY + " -m tools.deploy": (2, ["BOARD is not set", "pico_w", "esp32_devkitc"]),
    PY + " -m tools.deploy --board pico_w --dry-run": (
        0, ["deploy: done (dry run)", "First flash: check all of this", "Motor driver EN GP6"]),
    "BLINKA_OS_AGNOSTIC=1 " + PY + " -m tools.pi --settings settings/example.json --seconds 2"
    """ --command '{"cmd": "boot_ack"}' --command '{"cmd": "new_reservoir", "units": 100}'"""
    """ --command '{"cmd": "resume"}' --command '{"cmd": "bolus", "units": 0.5}'""": (
        0, ["NOT FOR HUMAN USE", "pi: 00:00:0", "stopped: suspended  alarms: none",
            '"bolus_steps": ']),
    PY + " -m tools.settings example --out my_settings.json": (0, []),
    PY + " -m tools.settings check my_settings.json --board sim": (
        0, ["my_settings.json: ok, version 1: 2 basal profile(s), active Weekday (23.35 U/day)"]),
    PY + ' -m tools.cgms decode --crc "08 00 78 00 05 00 0d e8"': (
        0, ['[{"glucose_mg_dl": 120, "time_offset_min": 5}]']),
    """echo '{"interval_s": 5, "offset_step_min": 5}' > cgm_config.json""": (0, []),
    PY + " -m tools.sim --no-loop --no-screens --no-plot --journal out/history/journal.bin": (
        0, ["wrote out/history/journal.bin"]),
    PY + " -m tools.history export out/history/journal.bin --csv > history.csv": (0, []),
    PY + " -m tools.history export out/history/journal.bin --nightscout --out out/nightscout": (
        0, ["wrote out/nightscout/treatments.json", "the pump's clock was never set",
            "within 0."]),
    PY + " -m tools.history plot out/history/journal.bin --out out/history.png": (
        0, ["wrote out/history.png"]),
    PY + " -m tools.history upload out/history/journal.bin --url https://my-site.example"
    " --secret MY_API_SECRET --start 2026-12-06T00:00:00Z --dry-run": (
        0, ["POST https://my-site.example/api/v1/treatments:", "Combo Bolus",
            "dry run: nothing sent"]),
    PY + " -m tools.sim --program host_tests/scenarios/nightscout_day.json --tick-ms 5000"
    " --no-screens --no-plot --out out/ns --journal out/ns/journal.bin": (
        0, ["wrote out/ns/journal.bin"]),
    PY + " -m tools.history plot out/ns/journal.bin --out out/ns/day.png": (
        0, ["wrote out/ns/day.png"]),
    PY + " -m tools.sim loop-day --hours 3 --no-plot --out out/loop --journal"
    " out/loop/journal.bin": (0, ["Basalt closed loop: 3 h", "wrote out/loop/journal.bin"]),
    PY + " -m tools.history export out/loop/journal.bin --nightscout --out out/loop/nightscout"
    " --start 2026-12-06T00:00:00Z": (
        0, ["(60 devicestatus)", "in each of its 3 full hours within 0."]),
    PY + " -m tools.trumpet simulate --out out/class/balance.csv": (
        0, ["no --rate given: simulating 1 U/h", "1 U/h for 3 h"]),
    PY + " -m tools.trumpet out/class/balance.csv --rate 1": (0, ["overall error A"]),
    PY + " -m tools.trumpet simulate --rate 1 --hours 3 --error-pct 2 --evaporation-mg-h 0.5"
    " --noise-mg 0.1 --jitter-s 2 --out out/bench/run.csv": (0, ["true delivery error +2 %"]),
    # the benchmark report's figures, to the digit
    PY + " -m tools.trumpet out/bench/run.csv --rate 1 --evaporation-mg-h 0.5 --no-plot": (
        0, ["overall error A   +2.37 %", "   2 min   +109.77 %    -88.51 %",
            "  60 min     +5.13 %     -1.30 %"]),
    PY + " -m tools.bench --help": (0, ["delivery", "powercut", "loop"]),
    PY + " -m tools.bench modules --json": (0, ['"boot_cgm": true', '"boot_ui": true']),
    PY + " -m tools.bench modules --json --romfs": (0, ['"romfs": true', '"boot_ui": true']),
    PY + " -m tools.sim loop-day --patient adolescent#003 --out out/bench --no-plot": (
        0, ["time in range 70-180   94.4 %", "480: 116 zero temps (suspend), 323 other temps"]),
    PY + " -m tools.sim --help": (0, ["--hours", "--program"]),
    PY + " -m tools.sim --program tools/sim/occlusion_program.json --hours 14 --no-screens"
    " --out out/occlusion": (0, ["minute 604: occlusion at", "wrote out/occlusion/sim.png"]),
    PY + " -m tools.sim cohort --controller loop --days 1 --patients child#001 --jobs 1": (
        0, ["child", "TIR"]),
    PY + " -m tools.sim faults": (0, ["dropout_20       ok", "falling"]),
    PY + " -m tools.sim cohort --controller loop --days 1 --patients child#001 --jobs 1"
    " --scenario exercise": (0, ["child", "TIR"]),
    PY + " -m tools.sim decide host_tests/scenarios/decide_rising_with_carbs.json": (
        0, ['"decision"', '"state"']),
    PY + " -m tools.rig accuracy --help": (0, ["--simulate-error-pct", "--balance", "--protocol"]),
    ".venv/bin/python -m ruff check firmware boards host_tests tools": (0, ["All checks passed"]),
    ".venv/bin/python tools/mpy_compile.py --out build/mpy firmware boards tools/cgm_peripheral"
    " tools/vpatient": (
        0, ["compiled"]),
}

BOARD = "needs a board on a serial port"
SKIP = {
    "make test": "the whole suite, this test included (minutes)",
    "make deploy BOARD=pico_w PORT=/dev/ttyACM0 SETTINGS=settings/example.json": BOARD,
    "make deploy BOARD=pico_w PORT=/dev/ttyACM0 SETTINGS=my_settings.json": BOARD,
    "make deploy BOARD=esp32_devkitc PORT=/dev/ttyUSB0": BOARD,
    "make deploy BOARD=pico_w PORT=/dev/ttyACM0 MIP=0": BOARD,
    "make deploy BOARD=pico_w PORT=/dev/ttyACM0 ROMFS=1": BOARD,
    "mpremote fs cp firmware/main.py :main.py + fs cp boards/pico_w.py :board.py":
        BOARD + " flashed with a frozen firmware",
    "mpremote fs cp settings/example.json :settings.json + reset":
        BOARD + " flashed with a frozen firmware",
    "make deploy BOARD=pico_w PORT=/dev/ttyACM0 STOP_THERAPY=1":
        BOARD + "; test_usb_therapy.py runs --stop-therapy on a virtual board",
    'mpremote mip install --target "" github:<owner>/<repo>/firmware/pico_w.package.json':
        BOARD + " and a published fork (<owner>/<repo> is the reader's)",
    "mpremote fs cp boards/pico_w.py :board.py + reset": BOARD,
    "make vboard": "serves a virtual board until stopped; test_vboard.py drives it",
    "make web": "serves the page until stopped; test_browser_page.py builds, serves and "
                "drives it in headless Chromium",
    "make deploy BOARD=vboard PORT=/dev/pts/3 MIP=0":
        "needs a running `make vboard` and its pty; test_vboard.py deploys into one",
    ".venv/bin/mpremote connect /dev/pts/3 repl": "an interactive REPL on a running vboard",
    PY + " -m tools.pi --settings my_settings.json": "runs on a Raspberry Pi until stopped",
    ".venv/bin/mpremote connect /dev/ttyACM0 mip install ssd1306": BOARD + " and the network",
    "mpremote mip install aioble": BOARD + " and the network",
    "mpremote fs cp -r firmware/basalt :": BOARD,
    "mpremote fs cp tools/cgm_peripheral/cgm_sensor.py :cgm_sensor.py": BOARD,
    "mpremote fs cp tools/cgm_peripheral/main.py :main.py": BOARD,
    "mpremote fs cp cgm_config.json :cgm_config.json": BOARD,
    PY + " -m tools.history upload out/history/journal.bin --url https://my-site.example"
    " --secret MY_API_SECRET --start 2026-12-06T00:00:00Z":
        "needs a Nightscout site; test_nightscout.py uploads to a loopback stand-in",
    PY + " -m tools.history pull --port /dev/ttyACM0":
        BOARD + "; test_usb_therapy.py pulls from a virtual board mid-basal",
    PY + " -m tools.deploy --selftest /dev/ttyACM0": BOARD + "; test_selftest_vboard.py runs "
                                                      "it on a virtual board",
    ".venv/bin/python -m pytest -q host_tests/test_sim.py":
        "a module of the suite this test runs in",
    ".venv/bin/python -m pytest -q host_tests/test_loop_trust.py":
        "a module of the suite this test runs in",
    "make bench": "30 simulated days at five rates (about 20 s); test_bench_cli.py runs it short",
    PY + " -m tools.bench delivery --json": "as make bench",
    PY + " -m tools.bench calculator --json": "MicroPython VM runs (several seconds)",
    PY + " -m tools.bench alarms --json": "MicroPython VM runs; test_bench_cli.py covers it",
    PY + " -m tools.bench occlusion --json": "270 trials and 60 days of physics (minutes)",
    PY + " -m tools.bench occlusion --json --ranges tools/sim/wide_envelope.json":
        "both envelopes and 64 corners (about 10 minutes); test_occlusion_learning.py runs "
        "the --ranges checks",
    PY + " -m tools.bench force_read --json": "the device VM on two boards (about half a minute); "
                                             "test_occlusion_learning.py bounds the reads",
    PY + " -m tools.bench cgm --json": "100,000 fuzz inputs (minutes)",
    PY + " -m tools.bench powercut --json": "a power cut in every write of a day, then "
                                              "1,200 fault-kind runs (minutes)",
    PY + " -m tools.bench ui --json": "MicroPython redraws and random walks (minutes)",
    PY + " -m tools.bench ui --json --events 1000000": "a million key events per board (long)",
    PY + " -m tools.bench loop --json": "30 virtual patients x 2 days x 5 runs (minutes)",
    PY + " -m tools.bench loop --json --seed 2": "as the seed 1 run (minutes)",
    ".venv/bin/python -m tools.bench memory --json --board pico_w --detail":
        "the scripted day on the Pico W board from .mpy and from ROMFS (minutes)",
    ".venv/bin/python -m tools.bench memory --json":
        "a scripted day per board from .mpy and from ROMFS (minutes); "
        "test_bench_memory.py runs a tiny form",
    PY + " -m tools.rig accuracy --simulate --simulate-error-pct 3 --rate 1.0 --minutes 150 --json":
        "three virtual hours of the firmware (a minute or two); test_rig.py runs the "
        "procedure short for P = 3 and 0",
    PY + " -m tools.bench pi_jitter --json": "times real step threads for seconds; "
                                               "meaningful on a Pi",
    PY + " -m tools.sim cohort --controller oref1 --days 2 --json":
        "30 virtual patients x 2 days with oref1 in node (minutes)",
    PY + " -m tools.sim trial --matrix tools/sim/matrices/example.json --out out/trial":
        "32 cells on a LocalCluster (minutes); test_trial.py runs the same code in CI size",
    ".venv/bin/dask scheduler": "a Dask scheduler serves until stopped",
    PY + " -m tools.sim trial --matrix tools/sim/matrices/bench.json --out out/trial":
        "the benchmark's 360 cells (37 min on 2 shared cores)",
    "PYTHONPATH=firmware .venv/bin/dask worker tcp://10.0.0.5:8786 --nthreads 1":
        "a Dask worker serves its scheduler until stopped",
    PY + " -m tools.sim trial --matrix tools/sim/matrices/bench.json --out out/trial"
    " --scheduler tcp://10.0.0.5:8786": "needs a running Dask cluster at that address",
    PY + " -m tools.bench trial --json": "720 patient-days, oref0 in node (37 min on 2 shared "
                                          "cores); test_trial.py runs it in CI size",
    PY + " -m tools.sim patient-compare --patients adult#001,child#007 --hours 6 --json":
        "simglucose and the VM (several seconds); test_vpatient.py runs the command on 3 "
        "patients for 6 h",
    PY + " -m tools.sim patient-compare --patients all --json":
        "30 patient-days in simglucose and in the VM (about 25 s); test_vpatient.py runs 3",
    PY + ' -m tools.sim patient-compare --patients all --meals "8:00=100,13:00=120,19:00=150"'
    " --boluses none --json": "as the default pattern (about 25 s)",
    PY + ' -m tools.sim patient-compare --patients all --meals "6:30=30,9:30=15,12:00=60,'
    '15:30=20,19:00=90,23:00=25" --basal 1.2 --boluses "6:30=4,12:00=8,19:00=12,2:00=3" --json':
        "as the default pattern (about 25 s)",
    PY + ' -m tools.sim patient-compare --patients all --meals "7:00=20" --basal 2'
    ' --boluses "8:00=12,16:00=12" --json': "as the default pattern (about 25 s)",
    PY + " -m tools.sim patient-compare --patients all --hours 72 --json":
        "90 patient-days (about a minute)",
    PY + " -m tools.bench vpatient --json": "30 patient-days in the VM (about 15 s); "
                                              "test_vpatient.py times 3 short ones",
}


def fenced_blocks(path):
    """[(language, body, line number)] of a Markdown page's fenced code blocks."""
    text = path.read_text(encoding="utf-8")
    return [(m.group(2).strip(), m.group(3), text.count("\n", 0, m.start()) + 1)
            for m in FENCE.finditer(text)]


def strip_comment(line):
    """The line without a trailing shell comment (a # after a blank, outside quotes)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def shell_commands(path):
    """[(command, line)] of a page's shell blocks: continuations joined, comments and
    blank lines dropped; in a console block only `$ ` lines are commands."""
    commands = []
    for language, body, line in fenced_blocks(path):
        if language not in SHELL:
            continue
        for offset, raw in enumerate(re.sub(r"\\\n[ \t]*", " ", body).split("\n")):
            if language == "console":
                if not raw.startswith("$ "):
                    continue
                raw = raw[2:]
            command = " ".join(strip_comment(raw).split())
            if command:
                commands.append((command, "%s:%d" % (path.name, line + 1 + offset)))
    return commands


def documented():
    """{command: first place it is shown}, in page order."""
    found = {}
    for page in PAGES:
        for command, where in shell_commands(page):
            found.setdefault(command, where)
    return found


def _normal(command):
    return " ".join(command.split())


def test_every_shown_command_is_run_or_skipped_with_a_reason():
    shown = documented()
    assert shown, "no shell command found in README.md or docs/"
    known = {_normal(c) for c in RUN} | {_normal(c) for c in SKIP}
    unlisted = ["%s: %s" % (where, c) for c, where in shown.items() if c not in known]
    assert not unlisted, ("commands shown in the docs that this test neither runs nor "
                          "skips (add them to RUN or SKIP):\n" + "\n".join(unlisted))
    stale = sorted(known - set(shown))
    assert not stale, "RUN/SKIP entries no page shows any more:\n" + "\n".join(stale)
    assert not {_normal(c) for c in RUN} & {_normal(c) for c in SKIP}
    assert all(reason.strip() for reason in SKIP.values())


def test_every_fenced_block_names_its_language():
    untagged = ["%s:%d" % (page.relative_to(REPO), line)
                for page in PAGES for language, _, line in fenced_blocks(page) if not language]
    assert not untagged, "fenced blocks without a language (sh, text, json, python...): %s" % (
        ", ".join(untagged))


def _scratch(tmp_path):
    """A directory that looks like the checkout but keeps what the commands write."""
    work = tmp_path / "repo"
    work.mkdir()
    for entry in REPO.iterdir():
        if entry.name not in ("out", "build", ".git", ".pytest_cache", ".ruff_cache"):
            (work / entry.name).symlink_to(entry)
    return work


NO_SETUP = "-o setup -o .venv/.stamp-deploy"  # the full set's and the deploy set's set-up


def _as_run(command):
    """`make X` runs without its set-up step; everything else exactly as written."""
    if command.startswith("make "):
        return "make --no-print-directory %s %s" % (NO_SETUP, command[len("make "):])
    return command


def test_shown_commands_run_as_written(tmp_path):
    if shutil.which("make") is None or shutil.which("node") is None:
        pytest.skip("make or node missing")
    work = _scratch(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MAKEFLAGS",
                                                             "MAKELEVEL", "MFLAGS")}
    runs = {_normal(c): check for c, check in RUN.items()}
    failures, timings = [], []
    for command, where in documented().items():
        if command not in runs:
            continue
        rc, texts = runs[command]
        started = _children_cpu_s()
        proc = subprocess.run(["bash", "-c", "set -o pipefail; " + _as_run(command)],
                              cwd=work, env=env, capture_output=True, text=True, timeout=300)
        timings.append((_children_cpu_s() - started, command))
        output = proc.stdout + proc.stderr
        missing = [t for t in texts if t not in output]
        if proc.returncode != rc or missing:
            failures.append("%s: %s\n  exit %d (expected %d); missing %r\n  %s" % (
                where, command, proc.returncode, rc, missing, output[-800:]))
    assert not failures, "\n\n".join(failures)
    # what the commands wrote, where the docs say they write it
    assert (work / "my_settings.json").read_text().startswith("// Basalt therapy settings")
    assert (work / "history.csv").read_text().startswith("seq,boot,at_ms,time,time_source,kind,")
    assert (work / "out" / "history.png").read_bytes()[:4] == b"\x89PNG"
    assert len((work / "out" / "occlusion" / "sim.csv").read_text().splitlines()) == 14 * 60 + 2
    assert (work / "out" / "loop.png").read_bytes()[:4] == b"\x89PNG"
    # CPU seconds, not wall time: the budget is what the commands cost make test, the
    # same on a loaded machine (where wall time stretches) as on an idle one
    total = sum(t for t, _ in timings)
    print("\n".join("%5.1f s  %s" % item for item in sorted(timings, reverse=True)))
    assert total < 90, "the documented commands took %.0f s of CPU: %s" % (
        total, sorted(timings, reverse=True)[:3])


def _children_cpu_s():
    """User + system CPU seconds of this process's finished children (and theirs)."""
    times = os.times()
    return times.children_user + times.children_system


def test_skipped_commands_name_real_benchmarks_and_boards():
    """A skipped command still has to make sense: its benchmark and board exist."""
    help_text = subprocess.run(
        [str(REPO / ".venv" / "bin" / "python"), "-m", "tools.bench", "--help"], cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO / "firmware")), capture_output=True,
        text=True, timeout=60).stdout
    for command in SKIP:
        bench = re.search(r"-m tools\.bench (\w+)", command)
        if bench:
            assert bench.group(1) in help_text, command
        for board in re.findall(r"BOARD=(\w+)", command):
            assert (REPO / "boards" / (board + ".py")).exists(), command
        for path in re.findall(r"(?:^| )((?:boards|tools|firmware|settings)/[\w/.]+)", command):
            assert (REPO / path).exists(), (command, path)


def _slug(heading):
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page):
    text = re.sub(FENCE, "", page.read_text(encoding="utf-8"))
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ +(.+)$", text, re.M)}


LINKED = PAGES + sorted((REPO / "hardware").rglob("*.md"))


@pytest.mark.parametrize("page", LINKED, ids=lambda p: str(p.relative_to(REPO)))
def test_links_resolve_to_files_and_headings(page):
    text = re.sub(FENCE, "", page.read_text(encoding="utf-8"))
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if "://" in target or target.startswith("mailto:"):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), "%s links to missing %s" % (page.name, target)
        if anchor and dest.suffix == ".md":
            assert anchor in _anchors(dest), "%s links to missing heading %s" % (
                page.name, target)


# Files of the project's design notes, kept outside the repository: the facts the project
# relies on are restated in docs/references.md with their original citations instead.
OUTSIDE = re.compile(r"\.\./shared\b|\b(?:REFERENCE|CONTRACTS)\.md\b")


def test_docs_stay_inside_the_repository():
    """Nothing the docs show points outside the repository or at this machine."""
    for page in LINKED:
        text = page.read_text(encoding="utf-8")
        found = OUTSIDE.search(text)
        assert found is None, "%s mentions %s" % (page.relative_to(REPO), found.group())
        assert "/work/" not in text, "%s names a path of this machine" % page.relative_to(REPO)


def test_no_tracked_file_points_outside_the_repository():
    """Code, comments and configuration cite docs/references.md, never the notes the
    project grew from."""
    names = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split()
    offenders = []
    for name in names:
        path = REPO / name
        if path.suffix in (".png", ".bin", ".mpy") or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append("%s:%d: %s" % (name, number, line.strip()))
    assert offenders == [], "\n".join(offenders)


def test_readme_is_short_with_deploy_on_the_first_screen():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(text) < 6000, "README.md is %d bytes; details belong in docs/" % len(text)
    first_screen = "\n".join(lines[:45])
    assert "make deploy BOARD=" in first_screen
    assert "not a medical device" in first_screen.lower()
    assert "make test" in first_screen and "make sim" in first_screen
    for guide in ("user-guide", "maker-guide", "educator-guide", "developer-guide",
                  "benchmarks", "references"):
        assert "(docs/%s.md)" % guide in text, guide
    assert re.search(r"!\[[^\]]*\]\(docs/[\w.]+\.png\)", text), "README has no picture"


def test_licence_and_disclaimer():
    licence = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License") and "The Basalt authors" in licence
    assert "not a medical device" in (REPO / "NOTICE").read_text(encoding="utf-8").lower()
    assert '"license": "MIT"' in (REPO / "package.json").read_text(encoding="utf-8")
    assert 'license = "MIT"' in (REPO / "pyproject.toml").read_text(encoding="utf-8")


def test_extraction_sees_what_a_reader_sees(tmp_path):
    """The extractor itself: continuations, comments, quotes, console prompts, tags."""
    page = tmp_path / "p.md"
    page.write_text(
        "```sh\nmake sim    # a day\n"
        "python -m x --a '#not a comment' \\\n    --b 2\n\n```\n"
        "```console\n$ echo hi\nhi\n```\n"
        "```json\n{\"cmd\": \"suspend\"}\n```\n"
        "```\nuntagged\n```\n")
    assert [c for c, _ in shell_commands(page)] == [
        "make sim", "python -m x --a '#not a comment' --b 2", "echo hi"]
    assert [lang for lang, _, _ in fenced_blocks(page)] == ["sh", "console", "json", ""]
    assert _slug("Bluetooth CGM Service (0x181F)") == "bluetooth-cgm-service-0x181f"
    assert _as_run('make sim SIM_ARGS="--hours 72"') == (
        'make --no-print-directory -o setup -o .venv/.stamp-deploy sim SIM_ARGS="--hours 72"')
