"""The Basalt page (web/) in a real browser: headless Chromium, driven by
tools/web/browser.mjs through playwright-core (Debian's chromium; no browser download).

One browser run (module fixture, about 30 s) makes the observations; each test checks
one of them: the page loads, the boot shows the safety warning, a meal raises the
patient's glucose, a bolus entered by key presses is delivered (microsteps read back
from the VM), a screenshot of the page's OLED matches the VM's frame pixel for pixel,
and the page reloads and runs with the network off.
"""

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from basalt.app import BOOT_WARNING
from basalt.core.board_file import load_board
from boards.pico_w import BOARD as PICO_W
from tools.devicevm.screen import screen_rows
from tools.vpatient.patient import Patient
from tools.web import REPO, address, build, missing, patient_settings, server

CHROMIUM = Path(os.environ.get("BASALT_CHROMIUM", "/usr/bin/chromium"))
DRIVER = REPO / "tools" / "web" / "browser.mjs"
PLAYWRIGHT = REPO / "node_modules" / "playwright-core" / "package.json"
PATIENT = "child#001"  # browser.mjs's patient: a meal shows within 15 minutes


def _missing():
    if not CHROMIUM.exists() or shutil.which("chromedriver") is None:
        return ("browser tests skipped: install Debian's chromium and chromium-driver "
                "(apt-get install chromium chromium-driver)")
    if shutil.which("node") is None or not PLAYWRIGHT.is_file():
        return "browser tests skipped: node and npm package playwright-core needed (make setup)"
    return missing()


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("web")
    build(tmp / "web")
    httpd = server(tmp / "web", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        run = subprocess.run(["node", str(DRIVER), "check", address(httpd), str(tmp)],
                             capture_output=True, text=True, timeout=240, cwd=REPO)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


def rows(frame_hex):
    return screen_rows(bytes.fromhex(frame_hex)) if frame_hex else []


def test_browser_page_loads_with_the_simulation_banner(seen):
    assert seen["errors"] == []
    assert "never for use on a person" in seen["banner"]
    assert "SIMULATION" in seen["banner"] and "simulation" in seen["title"]


def test_browser_boot_shows_the_safety_warning(seen):
    """The firmware prints its warning first on the pump's console (shown on the page);
    the OLED shows it at power-on, then the version and the boot notes to acknowledge."""
    assert seen["console"].splitlines()[0] == BOOT_WARNING
    drawn = [r for r in map(rows, seen["boot_frames"]) if r]  # the first is still blank
    assert drawn, "the OLED showed nothing after power-on"
    assert drawn[0][0] == "BASALT" and " ".join(drawn[0][2:]) == BOOT_WARNING
    notes = rows(seen["notes_frame"])
    assert notes[0] == "> Basalt v0.1.0"
    assert "Restarted" in notes and notes[-1] == "OK: continue"


def _glucose_every_5_min(carbs_g):
    """child#001 on the host (the same tools/vpatient code), no insulin, 3 x 5 minutes."""
    patient = Patient(PATIENT)
    patient.step(1, carbs_g, 0.0)
    patient.step(4)
    seen = [round(patient.glucose_mg_dl, 1)]
    for _ in range(2):
        patient.step(5)
        seen.append(round(patient.glucose_mg_dl, 1))
    return seen


def test_browser_meal_raises_the_patients_glucose(seen):
    """The page's patient, fed 60 g while the pump delivers nothing yet, follows the same
    model on the host, and ends well above the same patient without the meal."""
    after = seen["glucose_after_meal"]
    assert after == pytest.approx(_glucose_every_5_min(60), abs=0.11)
    assert after[-1] > _glucose_every_5_min(0)[-1] + 20, after


def test_browser_bolus_entered_by_key_presses_is_delivered(seen):
    (rate,) = patient_settings(PATIENT)["basal"]["profiles"]["Patient"]  # programmed
    shown = "Basal %d.%02d U/h" % divmod(round(rate[1] * 1000) // 10, 100)  # cut, not rounded
    assert shown in rows(seen["resumed_frame"])
    assert rows(seen["confirm_frame"])[0] == "> Confirm bolus"
    board = load_board(PICO_W)
    moved = seen["usteps_after"] - seen["usteps_before"]
    # 1.00 U of bolus plus the minute's basal (0.39 U/h: 7 mU), to the microstep's volume
    assert board.usteps_for_mu(1_000) <= moved <= board.usteps_for_mu(1_010), moved
    assert "IOB 0.9" in rows(seen["shot_frame"])[3]  # the bolus, a minute on


def test_browser_screenshot_matches_the_oled_pixels(seen):
    from PIL import Image

    shot = Image.open(seen["oled_png"]).convert("L")
    assert shot.size == (512, 256)
    frame = bytearray(1024)
    for y in range(64):
        for x in range(128):
            if shot.getpixel((4 * x + 1, 4 * y + 1)) > 60:  # a lit pixel's centre
                frame[(y // 8) * 128 + x] |= 1 << (y % 8)
    assert frame.hex() == seen["shot_frame"]
    assert rows(frame.hex())[0].startswith("OPEN")  # the home screen, delivering


def test_browser_page_runs_offline_after_one_load(seen):
    assert rows(seen["offline_frame"])[0] == "BASALT"  # powered on again: the warning
