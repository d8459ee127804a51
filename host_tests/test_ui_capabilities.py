"""The screens pick up capabilities that landed on other branches: the bolus calculator
(therapy settings), the CGM reading store, and the boot acknowledgement after a restart
(the journal's keeper). Driven through the real PumpApp and UiTask with fake keys."""

import os

from basalt.app import BOOT_WARNING, PumpApp
from basalt.app.ui_task import UiTask
from basalt.core import cgms, cgms_sensor
from basalt.core.readings import ReadingStore
from basalt.core.ui.keys import DOWN, SELECT, UP
from basalt.core.ui.textdump import TextDump
from basalt.storage.keeper import Keeper
from tools import ROOT
from tools.fake_storage import FakeStorage
from tools.fakes import FakeDisplay, FakeMotor, VirtualClock, fake_keys
from tools.screens.shots import Session
from tools.settings import read_settings
from tools.sim import load_sim_board

MIN = 60_000


def screen_text(s):
    dump = TextDump()
    s.ui.menu.draw(dump, s.ui.view)
    return dump.dump()


def with_settings():
    board = load_sim_board()
    settings = read_settings(os.path.join(ROOT, "settings", "example.json"), board)[0]
    s = Session.__new__(Session)
    s.clock = VirtualClock()
    s.app = PumpApp(board, s.clock, FakeMotor(s.clock, board.motor.max_step_hz),
                    settings=settings)
    for cmd in ({"cmd": "new_reservoir", "units": 200}, {"cmd": "resume"}):
        s.app.command(cmd)
    s.display, s.keys = FakeDisplay(), fake_keys(4)
    s.ui = UiTask(s.app, s.display, s.keys, BOOT_WARNING)
    s.run(3_200)
    return s, settings


def record(offset, mg_dl):
    raw = cgms_sensor.sfloat_from_milli(mg_dl * 1000)
    return cgms.decode_measurements(bytes(cgms_sensor.encode_record(raw, offset)))[0]


def interrupt_a_bolus(s, delivered_lo_mu, delivered_hi_mu, programmed_mu):
    """A keeper that restarted (acknowledged) holding a bolus a reset interrupted."""
    s.app.keeper = Keeper(FakeStorage())
    s.app.keeper.start(s.clock.now_ms(), "watchdog")
    s.app.command({"cmd": "boot_ack"})
    s.app.keeper.uncertain = {"count": 1, "bolus_boot": 1, "delivered_lo_mu": delivered_lo_mu,
                              "delivered_hi_mu": delivered_hi_mu, "programmed_mu": programmed_mu}


def test_without_settings_there_is_no_calculator():
    s = Session()
    s.run(3_200)
    s.click(SELECT, 2)
    assert "Calculator" not in screen_text(s)


def test_calculator_flow_with_the_real_calculator_and_a_cgm_reading():
    s, settings = with_settings()
    store = ReadingStore(s.clock.now_ms())
    now = s.clock.now_ms()
    for i, value in enumerate((180, 182, 184, 186, 188)):
        store.add(now, record(i * 5, value))
    s.app.cgm = store
    s.run(1_000)
    home = screen_text(s)
    assert home.split("\n")[1].startswith("188") and "0m ago" in home
    s.click(SELECT, 2)
    assert "Calculator" in screen_text(s)
    s.click(SELECT)
    s.click(UP, 30)
    s.click(SELECT)  # 30 g
    text = screen_text(s)
    want = s.app.suggest_bolus(30, cgm=(188, store.latest_reading(s.clock.now_ms()).at_ms))
    total = want["suggested_mu"]
    assert "meal" in text and "bg 188 mg/dL" in text
    assert "total %9s" % ("%d.%02d" % (total // 1000, total % 1000 // 10)) in text
    s.click(SELECT)  # edit
    s.click(SELECT)  # keep the suggestion
    s.click(SELECT)  # confirm
    started = [d for k, d in s.app.recent.events if k == "bolus_started"]
    assert [b["programmed_mu"] for b in started] == [total]


def test_home_shows_the_cgm_reading_and_its_age():
    s = Session()
    store = ReadingStore(0)
    for i, value in enumerate((100, 108, 116, 124)):
        store.add(i * 5 * MIN, record(i * 5, value))
    s.app.cgm = store
    s.clock.advance(15 * MIN + 2 * MIN)
    s.run(3_300)
    lines = screen_text(s).split("\n")
    assert lines[1].startswith("124") and "2m ago" in lines[1]
    assert s.ui.view.trend == 1  # FortyFiveUp
    s.click(SELECT)  # wakes the screen (17 idle minutes)
    s.click(SELECT)
    s.click(DOWN, 3)
    s.click(SELECT)  # history
    s.click(DOWN, 10)
    assert "-- CGM --" in screen_text(s) and "07:45 bg 124 /" in screen_text(s)


def test_after_a_restart_the_boot_notes_must_be_acknowledged():
    storage = FakeStorage()
    board = load_sim_board()
    clock = VirtualClock()
    app = PumpApp(board, clock, FakeMotor(clock, board.motor.max_step_hz))
    app.keeper = Keeper(storage)
    app.keeper.start(0, "watchdog")
    ui = UiTask(app, FakeDisplay(), fake_keys(4), BOOT_WARNING)
    s = Session.__new__(Session)
    s.clock, s.app, s.ui, s.keys, s.display = clock, app, ui, ui.keys, ui.display
    s.run(10_000)  # no timeout: the notes stay
    text = screen_text(s)
    assert "Restarted" in text and "(watchdog)" in text and "OK: continue" in text
    assert app.keeper.awaiting_ack
    s.click(SELECT)
    assert not app.keeper.awaiting_ack
    assert screen_text(s).startswith(("NO RES", "SUSP", "OPEN"))


def test_an_interrupted_bolus_is_reconciled_from_the_bolus_menu():
    s = Session()
    interrupt_a_bolus(s, 1_204, 1_288, 3_000)
    s.run(3_200)
    s.click(SELECT, 2)
    assert "Interrupted bol" in screen_text(s)
    s.click(SELECT)
    assert "1.288" in screen_text(s)  # starts at the high bound: the most IOB
    s.click(UP)  # cannot go above it
    s.click(SELECT)
    text = screen_text(s)
    assert "1.288" in text and "of 3.00 U planned" in text
    s.click(SELECT)
    s.run(300)  # the next tick collects the keeper's event
    reconciled = [d for k, d in s.app.recent.events if k == "bolus_reconciled"]
    assert [d["delivered_mu"] for d in reconciled] == [1_288]
    assert s.app.keeper.uncertain is None


def test_alarms_show_and_are_acknowledged_and_presses_reach_the_monitor():
    s = Session()
    presses = []
    pressed = s.app.monitor.button_pressed
    s.app.monitor.button_pressed = lambda now: (presses.append(now), pressed(now))
    s.run(3_200)
    s.app.alarms.raise_alarm(s.clock.now_ms(), "occlusion")
    s.run(300)
    assert screen_text(s).split("\n")[-1] == "!OCCLUSION"
    assert s.ui.view.alarms == (("occlusion", False, False),)
    s.click(SELECT)
    assert screen_text(s).split("\n")[1] == "!OCCLUSION"  # it heads the menu
    s.click(SELECT)  # occlusion: acknowledge
    s.click(SELECT)
    s.run(300)
    assert s.app.alarms.state("occlusion")["acknowledged"]
    assert len(presses) >= 4  # every press (the app also notes alarm commands)


def test_a_locked_calculator_says_why_and_suggests_nothing():
    s, _ = with_settings()
    interrupt_a_bolus(s, 500, 900, 2_000)
    s.run(300)
    s.click(SELECT, 2)
    s.click(DOWN)  # past "Interrupted bol" to "Calculator"
    s.click(SELECT)
    s.click(DOWN)
    s.click(SELECT)  # no glucose: "No correction"
    s.click(UP, 20)
    s.click(SELECT)
    text = screen_text(s)
    assert text.startswith("Not done") and "calculator" in text
    s.click(DOWN, 3)  # the rest of the reason
    assert "delivered" in screen_text(s)
    assert not [k for k, _ in s.app.recent.events if k == "bolus_started"]


def test_loop_mode_and_meal_carbs_reach_the_real_loop_from_the_buttons():
    s, settings = with_settings()
    assert s.app.loop.mode == settings.loop.mode == "off"
    s.click(SELECT)  # menu
    s.click(DOWN, 2)
    assert "Loop: off" in screen_text(s)
    s.click(SELECT)
    s.click(DOWN, 2)  # Closed loop
    s.click(SELECT)
    s.click(SELECT)  # confirm
    assert s.app.loop.mode == "closed"
    assert [d for k, d in s.app.recent.events if k == "loop_mode"][-1]["mode"] == "closed"
    s.click(SELECT)
    s.click(SELECT)
    s.click(SELECT)  # Bolus > Calculator
    s.click(DOWN)
    s.click(SELECT)  # no glucose: "No correction"
    s.click(UP, 20)
    s.click(SELECT)  # 20 g
    s.click(SELECT)  # edit
    s.click(SELECT)  # keep the suggestion
    s.click(SELECT)  # confirm
    assert s.app.loop.cob_g(s.clock.now_ms()) == 20
