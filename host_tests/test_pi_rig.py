"""The Raspberry Pi rig is a whole pump (tools/pi/rig.py): the boards' composition
(basalt.app.device's builders and tasks) on the Pi shim, driven here through a simulated
bench (tools/pi/bench.py) that claims every line, so no blinka board is needed in this
process; host_tests/test_pi.py runs the entry end to end on blinka's OS-agnostic board."""

import asyncio
import time

import pytest

from basalt.app.ui_task import UiTask
from basalt.core.board_file import load_board
from basalt.core.ui.textdump import TextDump
from basalt.drivers.buzzer import PwmBuzzer
from basalt.drivers.hx711 import HX711
from boards.raspberry_pi import BOARD
from tools.pi import rig as pi_rig
from tools.pi.bench import Bench, Ssd1306Panel
from tools.pi.machine import Machine
from tools.pi.ssd1306 import SSD1306_I2C
from tools.pi.watchdog import WATCHDOG_EXIT, SoftWatchdog
from tools.screens.hostfb import HostFrameBuffer

PI = load_board(BOARD)
SETTINGS = "settings/example.json"


@pytest.fixture
def make_rig(tmp_path, monkeypatch):
    """build() on a bench; the rig's `machine` and `ssd1306` go away after the test."""
    import sys

    monkeypatch.setitem(sys.modules, "machine", None)
    monkeypatch.setitem(sys.modules, "ssd1306", None)
    data = tmp_path / "pi"
    data.mkdir()
    pi_rig.install_settings(SETTINGS, data)

    def make(**options):
        bench = Bench(PI, all_lines=True)
        return pi_rig.build(PI, data, Machine(bench=bench), bench, **options)

    return make


def screen_text(ui):
    dump = TextDump()
    ui.menu.draw(dump, ui.view)
    ui.menu.changed = True
    return dump.dump()


async def click(bench, key, times=1):
    for _ in range(times):
        bench.press(key)
        await asyncio.sleep(0.08)
        bench.release(key)
        await asyncio.sleep(0.08)


def test_the_rig_is_the_boards_composition(make_rig, tmp_path):
    rig = make_rig()
    app = rig.app
    assert isinstance(app.occlusion.force, HX711) and isinstance(app.buzzer, PwmBuzzer)
    assert isinstance(rig.ui, UiTask) and isinstance(rig.supervisor.watchdog, SoftWatchdog)
    assert app.keeper.awaiting_ack and app.settings is not None  # the settings installed
    assert app.keeper.storage.root == str(tmp_path / "pi")  # journal, checkpoints there
    assert sorted(p.name for p in (tmp_path / "pi").iterdir()) != ["settings.json"]
    assert pi_rig.status_line(app, 3_723_000) == (
        "pi: 01:02:03  basal 0.000 U  bolus 0.000 U  boot screen (acknowledge to start)"
        "  alarms: none")


def test_buttons_reach_the_menus_and_give_a_bolus(make_rig, capsys):
    """The boards' menus on the Pi: boot screen acknowledged with OK, a bolus chosen,
    confirmed and delivered by the motor; the panel shows what the screens drew."""
    rig = make_rig()
    app, bench = rig.app, rig.bench
    seen = {}

    async def user():
        run = asyncio.ensure_future(pi_rig.run(rig, 5.5, 1_000))
        await asyncio.sleep(3.3)  # the boot screen's 3 s
        seen["boot"] = screen_text(rig.ui)
        await click(bench, "select")  # OK: continue
        seen["acknowledged"] = not app.keeper.awaiting_ack
        app.command({"cmd": "new_reservoir", "units": 100})  # set up as a maker would
        app.command({"cmd": "resume"})
        await asyncio.sleep(0.3)
        seen["home"] = screen_text(rig.ui)
        await click(bench, "select", 2)  # Menu, Bolus
        await click(bench, "down")  # Normal (below Calculator)
        await click(bench, "select")
        await click(bench, "up", 2)  # 0.10 U
        await click(bench, "select")
        seen["confirm"] = screen_text(rig.ui)
        await click(bench, "select")
        await asyncio.sleep(0.6)
        seen["panel_is_the_canvas"] = bytes(bench.panel.ram) == bytes(rig.ui.display.fb.buf)
        await run

    asyncio.run(user())
    assert seen["boot"].endswith("OK: continue") and seen["acknowledged"], seen["boot"]
    assert "OK: menu" in seen["home"], seen["home"]
    assert seen["confirm"].startswith("Confirm bolus\n0.10"), seen["confirm"]
    assert seen["panel_is_the_canvas"] and bench.panel.on
    assert [d["programmed_mu"] for k, d in app.recent.events if k == "bolus_started"] == [100]
    assert app.engine.bolus_steps > 0 and app.motion.moved_steps >= app.engine.bolus_steps
    out = capsys.readouterr().out
    assert "pi: 00:00:00  basal" in out and "stopped: suspended" in out.splitlines()[-1]


def test_a_stalled_loop_stops_the_motor(make_rig):
    """The supervisor stops feeding the software watchdog when the delivery task is
    silent; the watchdog thread stops the motor mid-move while the loop is stuck."""
    fired = []
    rig = make_rig(watchdog_ms=1_000, expired=lambda ms: fired.append(ms))
    app = rig.app
    motor = app.motor
    rig.watchdog._expired = pi_rig.stop_and_exit(motor, exit=fired.append)
    for cmd in ({"cmd": "boot_ack"}, {"cmd": "new_reservoir", "units": 100},
                {"cmd": "resume"}, {"cmd": "bolus", "units": 1}):
        app.command(cmd)

    async def stall():
        run = asyncio.ensure_future(pi_rig.run(rig, 3.3, 10_000))
        await asyncio.sleep(1.2)  # armed after boot_ack, fed while the tasks run
        assert not fired and rig.watchdog._thread is not None
        while not motor.busy():
            await asyncio.sleep(0.01)
        time.sleep(1.8)  # the event loop is stuck: nobody ticks, nobody feeds
        fired.append(("enabled after", motor.is_enabled(), motor.busy()))
        await run

    asyncio.run(stall())
    assert fired[0] == WATCHDOG_EXIT and fired[1] == ("enabled after", False, False)


def test_a_late_tick_moves_no_further_than_the_committed_lease(make_rig):
    """Ten minutes without a tick: the catch-up is planned at once, but the keeper
    commits a checkpoint covering it before the motor may move it (the boards' rule)."""

    class Clock(pi_rig.MonotonicClock):
        now = 0

        def now_ms(self):
            return self.now

    clock = Clock()
    rig = make_rig(clock=clock)
    app, keeper = rig.app, rig.app.keeper
    for cmd in ({"cmd": "boot_ack"}, {"cmd": "new_reservoir", "units": 100},
                {"cmd": "resume"}):
        app.command(cmd)

    def tick(ms):
        clock.now += ms
        app.step()
        while app.motor.busy():
            time.sleep(0.01)

    for _ in range(8):
        tick(250)
    before = app.motion.moved_steps
    tick(600_000)  # a late tick
    late_move, late_ck, late_ms = app.motion.move_steps, keeper._ck, clock.now
    tick(0)  # counts the finished move
    assert app.motion.moved_steps - before == late_move > keeper.lease_steps
    assert late_ck["at_ms"] == late_ms  # more than a lease: committed in that tick ...
    assert keeper.lease.covers(late_ck, app.engine.plunger_steps)  # ... covering it all


def test_the_display_driver_sends_the_canvas_to_the_panel():
    panel = Ssd1306Panel()
    bench = Bench(PI, all_lines=True)
    bench.i2c.devices[0x3C] = panel
    display = SSD1306_I2C(128, 64, Machine(bench=bench).I2C(1), 0x3C)
    reference = HostFrameBuffer(128, 64)
    for fb in (display, reference):
        fb.text("Basal 1.10", 0, 8)
        fb.rect(3, 30, 60, 20, 1)
    display.show()
    assert panel.on and bytes(panel.ram) == bytes(reference.buf)
    assert panel.text()[1] == "Basal 1.10"


def test_the_hx711_model_answers_the_firmware_driver():
    bench = Bench(PI, force_mn=1_500, all_lines=True)
    from tools.pi.machine import Time

    sensor = HX711(PI.force.dout, PI.force.sck, machine=Machine(bench=bench), time=Time())
    assert sensor.read_mn() == 1_500


def test_a_force_sensor_fault_stops_delivery_and_sounds_the_buzzer(make_rig):
    """HX711 -> occlusion watch -> alarm -> buzzer, as on a board: the load cell reads
    the end of its range mid-bolus; delivery stops and the piezo's PWM starts."""
    rig = make_rig()
    app, bench = rig.app, rig.bench
    for cmd in ({"cmd": "boot_ack"}, {"cmd": "new_reservoir", "units": 100},
                {"cmd": "resume"}, {"cmd": "bolus", "units": 1}):
        app.command(cmd)
    buzzer = bench.pwm(PI.buzzer.pin.number)
    heard = []

    async def fault():
        run = asyncio.ensure_future(pi_rig.run(rig, 2.5, 10_000))
        await asyncio.sleep(0.8)
        assert app.engine.stop_reason is None and buzzer.duty_cycle == 0
        bench.hx711.counts = 0x7FFFFF  # saturated
        for _ in range(100):  # the pattern beeps and pauses: listen for a while
            await asyncio.sleep(0.01)
            if app.alarms.active():
                heard.append((buzzer.frequency, buzzer.duty_cycle))
        await run

    asyncio.run(fault())
    assert app.alarms.active() == ["sensor_fault"]
    assert app.engine.stop_reason is not None and "sensor" in app.engine.stop_reason
    assert any(freq > 0 and duty > 0 for freq, duty in heard), heard
