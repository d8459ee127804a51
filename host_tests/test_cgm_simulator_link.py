"""The CGM simulator board's firmware (tools/cgm_peripheral/main.py, as the board runs
it) and the pump's BLE client joined by the fake BLE link, in one host process with two
radios (one asyncio loop, one clock): they pair and bond where the port can, the pump
takes the simulator's readings and its RACP back-fill after a dropout, and the
simulator's serial commands and buttons change the trace the pump sees.

The device VM version of this story needs two VMs joined by one link; this is the same
firmware on both sides, with the VM left out."""

import asyncio
import sys

import pytest

from basalt.ble.cgm_client import CgmClient, PeerFile
from basalt.core.readings import ReadingStore
from tools.cgm_peripheral.cgm_sensor import SensorModel, load_config
from tools.fake_ble import UUID, FakeAioble, FakePeripheralAioble, StepClock, load_simulator
from tools.fake_storage import FakeStorage

SIM_ADDR = bytes.fromhex("5e50c0de0001")


class Pin:
    """A simulator button: pulled up, 0 while pressed."""

    def __init__(self):
        self.level = 1

    def value(self):
        return self.level


def rig(can_pair, monkeypatch):
    clock = StepClock(0)
    central = FakeAioble(clock, can_pair=can_pair)
    peripheral = FakePeripheralAioble(central, SIM_ADDR, clock, can_pair=can_pair)
    main = load_simulator(peripheral, clock)
    monkeypatch.setitem(sys.modules, "aioble", peripheral)  # its `from aioble import security`
    bonding = main.enable_bonding()
    sim = main.CgmPeripheral(SensorModel(load_config({"interval_s": 60, "trace": [120]})))
    store = Recorded(clock.now_ms())
    client = CgmClient(store, clock, central, UUID, peers=PeerFile(FakeStorage()))
    return clock, central, peripheral, main, sim, client, store, bonding


async def run_for(clock, seconds, step_ms=1_000):
    for _ in range(seconds * 1_000 // step_ms):
        clock.advance(step_ms)
        for _ in range(30):
            await asyncio.sleep(0)


class Recorded(ReadingStore):
    """The pump's reading store, remembering every record it was given (offset, mg/dL)."""

    def __init__(self, now_ms):
        super().__init__(now_ms)
        self.given = {}

    def add(self, now_ms, record):
        self.given[record.time_offset] = record.glucose_milli // 1000
        return super().add(now_ms, record)


def values(store):
    return sorted(store.given.items())


@pytest.mark.parametrize("board", ["esp32", "pico_w"])
def test_the_pump_pairs_with_the_simulator_and_follows_its_trace(board, monkeypatch):
    can_pair = board == "esp32"
    clock, central, peripheral, main, sim, client, store, bonding = rig(can_pair, monkeypatch)
    asked = []
    pins = [(Pin(), "up"), (Pin(), "down")]

    async def user():  # the pump's user compares the number with the simulator's console
        while True:
            if client.prompt is not None:
                asked.append(client.prompt)
                client.answer(clock.now_ms(), "yes")
            await asyncio.sleep(0)

    async def scenario():
        tasks = [asyncio.create_task(c) for c in (
            sim.advertise(), sim.measure(), sim.answer_racp(), sim.buttons(pins),
            client.run(), user())]
        await run_for(clock, 200)  # a few records at 120
        sim.command("bg 250")  # serial: the trace jumps
        await run_for(clock, 120)
        sim.command("model")
        pins[1][0].level = 0  # the "down" button, pressed and released
        await run_for(clock, 1)
        pins[1][0].level = 1
        sim.command("down")
        await run_for(clock, 120)
        sim.command("off 3")  # a dropout of three records, kept by the simulator
        await run_for(clock, 400)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(asyncio.wait_for(scenario(), 60))
    got = values(store)
    assert bonding is can_pair
    if can_pair:
        assert asked == [482_913]  # the number both sides compared
        assert central.core.ble.keys == {SIM_ADDR: peripheral.link.bond_key}
        assert peripheral.core.ble.passkey_answers == [(1, 4, 1)]  # the simulator agreed
        assert client.security == "bonded" and peripheral.secrets_path == "/cgm_sim_bond.json"
    else:
        assert asked == [] and client.security == "unauthenticated"
    assert client.peer == SIM_ADDR
    mg = [v for _, v in got]
    assert mg[:3] == [120, 120, 120] and 250 in mg and 80 in mg  # 120 - 2 x 20 (two downs)
    offsets = [o for o, _ in got]
    assert offsets == list(range(offsets[0], offsets[-1] + 1))  # no gap: back-filled
    assert client.counts["racp"] >= 2 and client.counts["drops"] >= 1
    assert len(offsets) >= 14  # every record made, the three made while off too


def test_serial_commands_are_checked_and_answer():
    model = SensorModel(load_config({}))
    assert model.command("bg 700").startswith("error: 'bg 700'")
    assert model.command("bg 60") == "bg 60 mg/dL" and model.glucose(5) == 60
    assert model.command("model") == "trace as configured"
    assert model.command("up") == "shift +20 mg/dL"
    assert model.command("off 2").startswith("radio off for 2")
    assert "radio off for 2" in model.command("status")
    assert model.command("fly").startswith("error: 'fly'; commands: bg N")
