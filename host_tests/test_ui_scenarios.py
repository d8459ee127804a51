"""Scenarios: scripted key presses on fake buttons drive the real PumpApp through its UI
task; the expected screens are text dumps and pixel hashes of what the fake SSD1306
shows, and the expected deliveries are the engine's own events and the motor's steps."""

import hashlib

import pytest

from basalt.core.ui.keys import BACK, DOWN, SELECT, UP
from basalt.core.ui.textdump import TextDump
from tools.screens.shots import Session

# sha256 of the frame on the fake panel (FakeDisplay.shown) at key moments.
FRAME_SHA256 = {
    "home": "52469fc42bf1915959f5e701c911dc3273755fd4ebaecbbed92aea9936db155d",
    # The same frames as the reference screens of the MicroPython lane (ui_vectors.py),
    # where MicroPython's framebuf draws them: identical hashes.
    "bolus_confirm": "d7425a2ef21084dcf6c869dd590d593cf1a77d46d118584a9daf53e405c13c86",
    "refused": "46493e07989c7ae972eebc0067d53bb8a39b909b1054f6914dc47f321d36e0f0",
}


def shown_hash(s):
    return hashlib.sha256(s.display.shown).hexdigest()


def screen_text(s):
    dump = TextDump()
    s.ui.menu.draw(dump, s.ui.view)
    s.ui.menu.changed = True  # drawing for the test must not hide a pending redraw
    return dump.dump()


def started(s, kind):
    return [d for k, d in s.app.recent.events if k == kind]


@pytest.fixture
def s():
    session = Session()
    session.run(3_200)  # past the boot screen
    return session


def test_boot_screen_shows_version_and_warning():
    session = Session()
    session.run(100)
    text = screen_text(session)
    assert "BASALT" in text and "v0.1.0" in text
    assert "BENCHTOP" in text and "PROTOTYPE - NOT" in text and "FOR HUMAN USE" in text


def test_home_screen(s):
    assert screen_text(s) == "\n".join([
        "OPEN  07:30",
        "no CGM  Res 24U",  # one row: the reservoir is not half a row below "no CGM"
        "IOB 0.00 U",
        "Basal 1.10 U/h",
        "OK: menu"])
    assert shown_hash(s) == FRAME_SHA256["home"]


def test_normal_bolus_is_confirmed_then_delivered_exactly(s):
    s.click(SELECT, 3)
    s.click(UP, 25)
    s.click(SELECT)
    assert screen_text(s) == "\n".join([
        "Confirm bolus", "2.50", "      U", "normal, now", "OK:yes  BACK:no"])
    assert shown_hash(s) == FRAME_SHA256["bolus_confirm"]
    assert started(s, "bolus_started") == []
    s.click(SELECT)
    bolus = started(s, "bolus_started")
    assert [b["programmed_mu"] for b in bolus] == [2_500]
    s.run(3 * 60_000)
    done = started(s, "bolus_done")
    assert done[0]["delivered_steps"] == s.app.board.usteps_for_mu(2_500)
    engine = s.app.engine
    assert s.app.motion.moved_steps == engine.basal_steps + engine.bolus_steps


def test_holding_or_bouncing_select_on_confirm_never_doses_twice(s):
    s.click(SELECT, 3)
    s.click(UP, 10)
    s.click(SELECT)
    s.hold(SELECT, 4_000)  # a held key: LONG goes home, nothing is sent
    assert started(s, "bolus_started") == []
    s.click(SELECT, 3)
    s.click(UP, 10)
    s.click(SELECT)
    key = s.keys[SELECT]
    for level in (True, False, True, False, True):  # a bouncing contact, then held
        key.down = level
        s.run(3)
    s.run(150)
    for level in (False, True, False, True, False):  # bouncing on release
        key.down = level
        s.run(3)
    s.run(400)
    s.click(SELECT)  # lands on home -> opens the menu, never a second dose
    assert [b["programmed_mu"] for b in started(s, "bolus_started")] == [1_000]


def test_a_refused_command_is_explained_and_delivers_nothing(s):
    s.click(SELECT)
    s.click(DOWN)
    s.click(SELECT)  # basal
    s.click(DOWN, 2)
    s.click(SELECT)  # suspend?
    s.click(SELECT)
    assert s.app.engine.stop_reason == "suspended"
    s.click(SELECT, 3)
    s.click(UP, 5)
    s.click(SELECT)
    s.click(SELECT)
    text = screen_text(s)
    assert text.startswith("Not done") and "(suspended)" in text
    assert shown_hash(s) == FRAME_SHA256["refused"]
    assert started(s, "bolus_started") == []
    s.click(SELECT)
    assert screen_text(s).startswith("SUSP")


def test_a_running_bolus_stops_in_two_presses_from_a_deep_screen(s):
    s.click(SELECT, 3)
    s.click(UP, 50)
    s.click(SELECT)
    s.click(SELECT)  # 5 U at 1.5 U/min
    s.run(30_000)
    s.click(SELECT)
    s.click(DOWN)
    s.click(SELECT)
    s.click(SELECT)  # profiles list
    s.hold(SELECT, 1_200)  # press 1: "Stop bolus?"
    assert screen_text(s).startswith("Stop bolus?")
    s.click(SELECT)  # press 2
    cancelled = started(s, "bolus_cancelled")
    assert len(cancelled) == 1 and 0 < cancelled[0]["delivered_mu"] < 5_000
    assert not s.app.engine.bolus_running()


def test_temp_basal_set_and_cancel(s):
    s.click(SELECT)
    s.click(DOWN)
    s.click(SELECT)
    s.click(DOWN)
    s.click(SELECT)  # temp basal
    s.click(SELECT)  # percent
    s.click(DOWN, 5)  # 50 %
    s.click(SELECT)
    s.click(SELECT)  # 1 h
    assert "50" in screen_text(s) and "for 1h" in screen_text(s)
    s.click(SELECT)
    assert s.app.engine.temp_basal() == (None, 50, 60)
    assert "T50% 0.55 1h" in screen_text(s)
    s.click(SELECT)
    s.click(DOWN)
    s.click(SELECT)
    s.click(DOWN)
    s.click(SELECT)  # cancel temp?
    s.click(SELECT)
    assert s.app.engine.temp_basal() is None


def test_switch_profile_prime_and_new_reservoir(s):
    s.app.command({"cmd": "set_profile", "name": "Night", "segments": [["00:00", 0.5]]})
    s.click(SELECT)
    s.click(DOWN)
    s.click(SELECT)
    s.click(SELECT)  # profiles: Night, *Weekday
    s.click(SELECT)  # Night: activate
    s.click(SELECT)
    s.click(SELECT)
    assert s.app.engine.profiles.active == "Night"
    s.click(SELECT)
    s.click(DOWN)
    s.click(SELECT)
    s.click(DOWN, 2)
    s.click(SELECT, 2)  # suspend
    s.click(SELECT)
    s.click(DOWN)
    s.click(SELECT)
    s.click(DOWN, 3)  # profile, resume, prime, new reservoir
    s.click(SELECT)
    s.click(UP, 50)  # 150 + 50 = 200 U
    s.click(SELECT)
    assert "200.00" in screen_text(s)
    s.click(SELECT)
    assert started(s, "reservoir_fitted")[-1]["fill_mu"] == 200_000
    assert screen_text(s).startswith("New site too?")
    s.click(BACK)  # not this time
    assert started(s, "site_changed") == []
    s.click(SELECT)
    s.click(DOWN)
    s.click(SELECT)
    s.click(DOWN, 2)  # profile, resume, prime
    s.click(SELECT)
    s.click(SELECT)  # 2.0 U
    assert "2.00" in screen_text(s) and "disconnected!" in screen_text(s)
    s.click(SELECT)
    assert started(s, "prime_started")[-1]["programmed_mu"] == 2_000


def test_idle_dims_and_the_waking_press_does_nothing(s):
    s.click(SELECT)
    s.run(31_000)
    assert s.display.dimmed and screen_text(s).startswith("OPEN")
    s.click(SELECT)
    assert not s.display.dimmed and screen_text(s).startswith("OPEN")
    s.click(SELECT)
    assert screen_text(s).startswith("Menu")


def test_history_lists_what_happened(s):
    s.click(SELECT, 3)
    s.click(UP, 5)
    s.click(SELECT, 2)
    s.run(60_000)
    s.click(SELECT)  # wakes the dimmed screen
    s.click(SELECT)
    s.click(DOWN, 3)
    s.click(SELECT)
    text = screen_text(s)
    assert "07:30 done 0.50" in text and "07:30 bol 0.50" in text


def test_back_key_walks_back_one_screen(s):
    s.click(SELECT, 3)
    s.click(BACK)
    assert screen_text(s).startswith("Bolus")
    s.click(BACK, 2)
    assert screen_text(s).startswith("OPEN")


def test_make_sim_screenshots_and_the_readme_pictures_are_current(tmp_path):
    from tools import ROOT
    from tools.screens.shots import save_sim_screens

    paths = save_sim_screens(str(tmp_path))
    names = sorted(p.rsplit("/", 1)[-1] for p in paths)
    assert names == ["screen_alarm.png", "screen_bolus_confirm.png", "screen_bolus_running.png",
                     "screen_boot.png", "screen_home.png"]
    for name in ("screen_alarm.png", "screen_bolus_confirm.png", "screen_boot.png",
                 "screen_home.png"):
        committed = open("%s/docs/%s" % (ROOT, name), "rb").read()
        assert (tmp_path / name).read_bytes() == committed, (
            "docs/%s is stale: python -m tools.screens.shots --out docs" % name)
