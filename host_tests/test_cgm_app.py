"""The CGM composed into the app: readings reach the monitors, the history and the
calculator; a silent sensor raises cgm_lost through the alarm manager and a new reading
clears it; the board builds the client only when the settings ask for it."""

import pytest

from basalt.app import PumpApp
from basalt.app import wiring as board_main
from basalt.core import cgms, cgms_sensor
from basalt.core.calculator import GlucoseTooOld
from basalt.core.errors import ConfigError
from basalt.core.readings import ReadingStore
from basalt.core.settings import load_settings, parse_settings_text
from tools.fakes import FakeMotor, VirtualClock
from tools.settings.example import EXAMPLE
from tools.sim import load_sim_board

M = 60_000


def settings(**cgm):
    obj = parse_settings_text(EXAMPLE)
    if cgm:
        obj["cgm"] = cgm
    return load_settings(obj)[0]


def pump():
    board = load_sim_board()
    clock = VirtualClock()
    app = PumpApp(board, clock, FakeMotor(clock, board.motor.max_step_hz), tick_ms=1_000,
                  settings=settings())
    app.command({"cmd": "new_reservoir", "units": 200})
    app.command({"cmd": "resume"})
    app.cgm = ReadingStore(clock.now_ms())
    return app, clock


def send(app, clock, mg_dl, offset_min):
    record = cgms.decode_measurements(bytes(cgms_sensor.encode_record(
        cgms_sensor.sfloat_from_milli(mg_dl * 1000), offset_min, crc=True)), True)[0]
    app.cgm.add(clock.now_ms(), record)


def run(app, clock, minutes):
    for _ in range(minutes * 60):
        app.step()
        clock.advance(1_000)


def test_a_reading_reaches_the_history_once_and_the_calculator_uses_it():
    app, clock = pump()
    send(app, clock, 180, 0)
    run(app, clock, 2)
    glucose = [d for kind, d in app.pop_events() if kind == "glucose"]
    assert [(g["mg_dl"], g["at_ms"]) for g in glucose] == [(180, 0)]
    reading, why = app.cgm.latest_for_dosing(clock.now_ms())
    suggestion = app.suggest_bolus(0, cgm=(reading.mg_dl, reading.at_ms))
    assert suggestion["glucose_mg_dl"] == 180 and suggestion["glucose_source"] == "cgm"


def test_a_stale_reading_is_refused_and_cgm_lost_goes_through_the_alarm_manager():
    app, clock = pump()
    send(app, clock, 150, 0)
    run(app, clock, 16)
    assert "cgm_lost" in app.alarms.active()
    reading = app.cgm.latest_reading(clock.now_ms())
    with pytest.raises(GlucoseTooOld):
        app.suggest_bolus(0, cgm=(reading.mg_dl, reading.at_ms))
    send(app, clock, 140, 16)
    run(app, clock, 1)
    assert "cgm_lost" not in app.alarms.active()


def test_a_reading_from_before_this_boot_counts_by_its_age():
    app, clock = pump()
    run(app, clock, 1)
    now = clock.now_ms()
    suggestion = app.suggest_bolus(0, cgm=(200, now - 5 * M - 120_000))  # before boot
    assert suggestion["glucose_mg_dl"] == 200
    with pytest.raises(GlucoseTooOld):
        app.suggest_bolus(0, cgm=(200, now - 16 * M))


def test_the_cgm_settings_section():
    assert settings().cgm.enabled is False
    chosen = settings(enabled=True, address="C0:FF:EE:12:34:56").cgm
    assert (chosen.enabled, chosen.address) == (True, "c0:ff:ee:12:34:56")
    for bad, path in (({"enabled": True, "address": "c0ffee123456"}, "cgm.address"),
                      ({"address": "c0:ff:ee:12:34:56"}, "cgm.enabled"),
                      ({"enabled": "yes"}, "cgm.enabled"),
                      ({"enabled": True, "scan": 1}, "cgm.scan")):
        with pytest.raises(ConfigError) as info:
            settings(**bad)
        assert path in str(info.value)


def test_the_board_builds_a_client_only_when_asked():
    app, _ = pump()
    app.cgm = None
    assert board_main.make_cgm(app) is None and app.cgm is None  # settings: no cgm
    app.settings = settings(enabled=True)
    # The host has no aioble: the pump says how to install it and runs without a CGM.
    assert board_main.make_cgm(app) is None and app.cgm is None


def test_home_shows_loop_only_when_closed_with_a_cgm():
    from basalt.app.ui_task import fill_view
    from basalt.core.ui.view import LOOP_CLOSED, LOOP_OPEN, PumpView

    app, clock = pump()
    view = PumpView()
    fill_view(app, view, clock.now_ms())
    assert view.loop == LOOP_OPEN  # the example settings leave the loop off
    app.command({"cmd": "loop_mode", "mode": "closed"})
    fill_view(app, view, clock.now_ms())
    assert view.loop == LOOP_CLOSED
    app.cgm = None
    fill_view(app, view, clock.now_ms())
    assert view.loop == LOOP_OPEN
