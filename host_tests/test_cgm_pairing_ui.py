"""Pairing from the buttons and the screen: the pump's UI task shows the number the BLE
client asks about, select answers yes, the readings then arrive; a long press answers no;
the CGM screen says what the link is (bonded, or unauthenticated where the board cannot
pair) and forgets the sensor. The real PumpApp, UiTask and CgmClient on the fake link."""

import asyncio

from basalt.app import BOOT_WARNING, PumpApp
from basalt.app.ui_task import UiTask
from basalt.ble.cgm_client import CgmClient, PeerFile
from basalt.core.readings import ReadingStore
from basalt.core.ui.keys import DOWN, SELECT
from basalt.core.ui.textdump import TextDump
from tools.fake_ble import UUID, FakeAioble, FakeSensor, StepClock
from tools.fake_storage import FakeStorage
from tools.fakes import FakeDisplay, FakeMotor, bench_limits, fake_keys
from tools.screens.shots import SETUP, Session
from tools.sim import load_sim_board

SENSOR = bytes.fromhex("c0ffee000001")
OTHER = bytes.fromhex("c0ffee000002")


def session(can_pair):
    board = load_sim_board()
    s = Session.__new__(Session)
    s.clock = StepClock(0)
    s.app = PumpApp(board, s.clock, FakeMotor(s.clock, board.motor.max_step_hz),
                    limits=bench_limits())
    for cmd in SETUP:
        s.app.command(cmd)
    s.radio = FakeAioble(s.clock, can_pair=can_pair)
    s.sensor = FakeSensor(s.radio, SENSOR, s.clock, has_display=True)
    s.app.cgm = ReadingStore(s.clock.now_ms())
    s.app.cgm_client = CgmClient(s.app.cgm, s.clock, s.radio, UUID,
                                 peers=PeerFile(FakeStorage()))
    s.display, s.keys = FakeDisplay(), fake_keys(4)
    s.ui = UiTask(s.app, s.display, s.keys, BOOT_WARNING)
    return s


def text(s):
    dump = TextDump()
    s.ui.menu.draw(dump, s.ui.view)
    s.ui.menu.changed = True
    return dump.dump()


async def run(s, ms):
    """The board's tasks on one loop: UI and delivery stepped, the client in between."""
    for _ in range(ms // 10):
        s.run(10)
        for _ in range(5):
            await asyncio.sleep(0)


async def click(s, key, hold_ms=80):
    s.keys[key].down = True
    await run(s, hold_ms)
    s.keys[key].down = False
    await run(s, 120)


def story(s, steps):
    async def main():
        task = asyncio.create_task(s.app.cgm_client.run())
        try:
            await steps()
        finally:
            task.cancel()

    asyncio.run(asyncio.wait_for(main(), 60))


def test_esp32_the_number_is_shown_and_select_pairs_then_readings_arrive():
    s = session(can_pair=True)
    seen = {}

    async def steps():
        await run(s, 3_300)
        seen["prompt"] = text(s)
        await click(s, SELECT)
        await run(s, 500)
        s.sensor.measure(0, 140)
        await run(s, 1_000)
        seen["home"] = text(s)
        await click(s, SELECT)  # menu
        await click(s, DOWN, 800)  # held: down the list to the end
        seen["menu"] = text(s)

    story(s, steps)
    assert seen["prompt"].split("\n")[:4] == ["Pair CGM?", "123456", "same number on",
                                              "the sensor?"]
    assert s.radio.core.ble.passkey_answers == [(1, 4, 1)]
    assert s.app.cgm_client.security == "bonded"
    assert seen["home"].split("\n")[1].startswith("140")
    assert "CGM" in seen["menu"]
    events = [d.get("state") for k, d in s.app.pop_events() if k == "cgm_pair"]
    assert events == ["confirmed", "bonded"]


def test_esp32_a_long_press_on_the_number_refuses_at_once():
    s = session(can_pair=True)

    async def steps():
        await run(s, 3_300)
        assert text(s).startswith("Pair CGM?")
        await click(s, SELECT, 1_500)  # held: away from the screen
        await run(s, 300)

    story(s, steps)
    assert s.radio.core.ble.passkey_answers[0] == (1, 4, 0)
    assert s.app.cgm.latest == -1 and not s.app.cgm_client.bonded


def test_pico_w_the_cgm_screen_says_the_link_is_unauthenticated():
    s = session(can_pair=False)
    other = FakeSensor(s.radio, OTHER, s.clock)
    s.radio.sensors.remove(other)  # out of range until the pump has chosen its sensor
    shown = {}

    async def steps():
        await run(s, 3_300)
        s.sensor.measure(0, 150)
        s.radio.sensors.insert(0, other)
        other.measure(0, 300)
        await run(s, 500)
        await click(s, SELECT)  # menu
        for _ in range(3):  # Bolus, Basal, Alarms, CGM
            await click(s, DOWN)
        await click(s, SELECT)  # the CGM screen
        shown["cgm"] = text(s)
        await click(s, DOWN)
        await click(s, SELECT)  # what "Unauthenticated" means
        shown["about"] = text(s)

    story(s, steps)
    assert "Unauthenticated" in shown["cgm"] and "Forget sensor" in shown["cgm"]
    assert "CGM unauth link" in s.ui.view.settings
    assert "cannot pair" in shown["about"].replace("\n", " ")
    assert s.app.cgm.latest_reading(s.clock.now_ms()).glucose_milli == 150_000
    assert other.connection is None
