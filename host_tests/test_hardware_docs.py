"""hardware/: the pin tables, pictures and figures agree with the board files.

The pin tables in hardware/README.md are parsed here on their own (not re-made with
the generator) and compared with what load_board() says each board file uses.
"""

import importlib
import re
import runpy
import shlex
import sys
from pathlib import Path

import pytest

from basalt.core.board_file import load_board
from tools import wiring
from tools.wiring.__main__ import main as wiring_main
from tools.wiring.__main__ import stale

ROOT = Path(__file__).resolve().parent.parent
HARDWARE = ROOT / "hardware"
README = HARDWARE / "README.md"
GPIO_PREFIX = {"rp2040": "GP", "esp32": "GPIO"}
# Microcontroller boards: the simulator's, the virtual board and the Raspberry Pi rig
# (pins in boards/raspberry_pi.py; no Wokwi for a Pi) have no wiring pictures here.
HW_BOARDS = sorted(p.stem for p in (ROOT / "boards").glob("*.py")
                   if wiring.board_spec(p.stem)["mcu"] in GPIO_PREFIX)
DRIVER_NAMES = {"tmc2209": ("TMC2209", "EN", ("MS1", "MS2")),
                "drv8825": ("DRV8825", "nENBL", ("MODE0", "MODE1", "MODE2")),
                "a4988": ("A4988", "ENABLE", ("MS1", "MS2", "MS3"))}


def board_pins(board):
    """{board key: GPIO} for every pin the board file configures."""
    m = board.motor
    pins = [m.step, m.direction, m.enable] + list(m.microstep_pins)
    for section in (board.display, board.buttons, board.force, board.buzzer, board.battery):
        if section is not None:
            pins += section.pins()
    return {pin.path: pin.number for pin in pins}


def parse_pin_table(text, name):
    """[(gpio text, board key, part, part pin)] of one board's table in the README."""
    match = re.search(r"<!-- pins:%s .*?-->\n(.*?)<!-- /pins:%s -->" % (name, name), text,
                      re.S)
    assert match, "hardware/README.md has no pin table for boards/%s.py" % name
    lines = match.group(1).strip().splitlines()
    assert lines[0].startswith("| GPIO | board key |") and set(lines[1]) <= set("|-")
    rows = []
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 5, line
        rows.append((cells[0], cells[1].strip("`"), cells[2], cells[3]))
    return rows


@pytest.mark.parametrize("name", HW_BOARDS)
def test_pin_table_lists_exactly_the_board_files_pins(name):
    board = load_board(wiring.board_spec(name))
    rows = parse_pin_table(README.read_text(), name)
    prefix = GPIO_PREFIX[board.mcu]
    table = {}
    for gpio, key, _, _ in rows:
        assert gpio.startswith(prefix) and gpio[len(prefix):].isdigit(), gpio
        assert key not in table, "%s listed twice" % key
        table[key] = int(gpio[len(prefix):])
    assert table == board_pins(board)


@pytest.mark.parametrize("name", HW_BOARDS)
def test_pin_table_names_the_drivers_own_pins(name):
    board = load_board(wiring.board_spec(name))
    driver, enable, ms_names = DRIVER_NAMES[board.motor.driver]
    rows = {key: (part, pin) for _, key, part, pin in parse_pin_table(README.read_text(), name)}
    assert rows["motor.step"] == (driver, "STEP") and rows["motor.dir"] == (driver, "DIR")
    assert rows["motor.enable"] == (driver, enable)
    for i, ms_name in enumerate(ms_names[:len(board.motor.microstep_pins)]):
        assert rows["motor.microstep_pins[%d]" % i] == (driver, ms_name)
    if board.display:
        assert rows["display.sda"] == ("SSD1306 OLED", "SDA")


def test_generated_files_are_up_to_date(capsys):
    """Pictures, Wokwi diagrams and README tables were made from the current boards/."""
    assert wiring_main(["--check"]) == 0, capsys.readouterr().out


def test_a_changed_board_file_makes_the_picture_and_diagram_stale(monkeypatch):
    original = wiring.board_spec

    def moved_buzzer(name):
        spec = original(name)
        spec["buzzer"]["pin"] = 17
        return spec

    monkeypatch.setattr(wiring, "board_spec", moved_buzzer)
    assert [p.name for p in stale("pico_w")] == ["wiring_pico_w.png", "diagram.json"]


def test_every_hardware_board_has_a_picture_and_a_wokwi_project():
    for name in HW_BOARDS:
        assert (HARDWARE / ("wiring_%s.png" % name)).exists()
        assert (HARDWARE / "wokwi" / name / "diagram.json").exists()
        assert (HARDWARE / "wokwi" / name / "wokwi.toml").exists()
    assert set(HW_BOARDS) == set(wiring.BOARDS)


def test_relative_links_in_hardware_docs_resolve():
    for page in HARDWARE.rglob("*.md"):
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (page.parent / target).exists(), "%s links to missing %s" % (
                page.relative_to(ROOT), target)


def test_mechanics_worked_example_matches_the_board_files():
    board = load_board(wiring.board_spec("pico_w"))
    text = (HARDWARE / "mechanics.md").read_text()
    assert "{:,} pL".format(board.ustep_volume_pl) in text
    per_unit = 10_000_000 / board.ustep_volume_pl  # 10 uL = 10,000,000 pL
    assert "%.1f microsteps" % per_unit in text


# ----- lessons: every command they give runs on the simulator -------------------------

LESSONS = sorted((HARDWARE / "lessons").glob("0*.md"))


def shell_commands(page):
    """The command lines of a page's ```sh blocks (continuations joined)."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", page.read_text(), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip():
                commands.append(shlex.split(line.strip()))
    return commands


def run_command(argv, monkeypatch):
    """Run a documented command in-process: env prefix, interpreter, -m module or script."""
    while "=" in argv[0]:
        argv = argv[1:]
    assert argv[0] == ".venv/bin/python", argv
    if argv[1:4] == ["-m", "tools.sim", "cohort"]:
        # Virtual-patient runs take seconds each: check the arguments, not the outcome.
        from tools.sim import cohort

        fake = {"patients": {}, "groups": {"all": dict.fromkeys(cohort.METRICS, 0.0)},
                "errors": 0, "refused": 0}
        monkeypatch.setattr(cohort, "run_cohort", lambda *args: fake)
        assert cohort.main(argv[4:]) == 0, argv
    elif argv[1] == "-m":
        module = importlib.import_module(argv[2] + ".__main__")
        # Skip the plots to keep the test fast; everything else runs as documented.
        plots = argv[2] in ("tools.sim", "tools.trumpet") and argv[3:4] != ["simulate"]
        assert module.main(argv[3:] + ["--no-plot"] * plots) == 0, argv
    else:
        monkeypatch.setattr(sys, "argv", argv[1:])
        runpy.run_path(argv[1], run_name="__main__")


@pytest.mark.parametrize("page", LESSONS, ids=lambda p: p.stem)
def test_lesson_commands_run_on_the_simulator(page, tmp_path, monkeypatch, capsys):
    for folder in ("hardware", "settings"):
        if (ROOT / folder).exists():
            (tmp_path / folder).symlink_to(ROOT / folder)
    monkeypatch.chdir(tmp_path)
    commands = shell_commands(page)
    assert commands, "%s gives no command to run" % page.name
    for argv in commands:
        run_command(argv, monkeypatch)
    capsys.readouterr()


def test_lesson_pages_are_all_listed():
    index = (HARDWARE / "lessons" / "README.md").read_text()
    assert all("(%s)" % page.name in index for page in LESSONS) and len(LESSONS) == 5


def test_documented_tools_exist():
    for page in HARDWARE.rglob("*.md"):
        for module in re.findall(r"python -m (tools\.\w+)", page.read_text()):
            assert (ROOT / module.replace(".", "/") / "__main__.py").exists(), (page, module)


def test_iob_script_reproduces_the_reference_check_values(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["iob.py", "/nonexistent.csv"])
    with pytest.raises(FileNotFoundError):
        runpy.run_path(str(HARDWARE / "lessons" / "iob.py"), run_name="__main__")
    namespace = runpy.run_path(str(HARDWARE / "lessons" / "iob.py"), run_name="iob")
    iob = namespace["iob_fraction"]
    for minutes, expected in ((30, 0.9295), (60, 0.7793), (120, 0.4498), (180, 0.2082),
                              (240, 0.0727), (300, 0.0139)):
        assert iob(minutes) == pytest.approx(expected, abs=5e-5)
    assert (iob(0), iob(360)) == (1.0, 0.0)
