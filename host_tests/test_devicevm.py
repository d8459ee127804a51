"""Contracts of the device VM's fakes (tools/devicevm/py), checked inside MicroPython:
virtual time and its scheduler, the stepper driver model (no microstep while EN is
inactive) and the functional PIO / RMT step generators under the real drivers."""

import json

import pytest

from tools.devicevm import run_with_fakes
from tools.devicevm.screen import screen_rows
from tools.mpvm import missing_requirements
from tools.screens.hostfb import HostFrameBuffer

needs_vm = pytest.mark.skipif(missing_requirements() is not None,
                              reason=str(missing_requirements()))


def vm_json(code, board="pico_w"):
    out = run_with_fakes("import json\n" + code, board=board)
    return json.loads(out.strip().splitlines()[-1])


@needs_vm
def test_virtual_time_wakes_tasks_in_time_order_and_wraps_ticks():
    got = vm_json("""
import asyncio, time, vasyncio, vtime
order = []
async def sleeper(ms):
    await asyncio.sleep_ms(ms)
    order.append((ms, time.ticks_ms()))
async def waiter(event):
    await event.wait()
    order.append(("event", time.ticks_ms()))
async def timed_out():
    try:
        await asyncio.wait_for_ms(asyncio.sleep_ms(1000), 50)
    except asyncio.TimeoutError:
        order.append(("timeout", time.ticks_ms()))
event = asyncio.Event()
for ms in (30, 10, 20):
    asyncio.create_task(sleeper(ms))
asyncio.create_task(waiter(event))
asyncio.create_task(timed_out())
vasyncio.run_until(25_000)
event.set()
vasyncio.run_until(100_000)
wrap = time.ticks_diff(time.ticks_add((1 << 30) - 5, 10), (1 << 30) - 5)
print(json.dumps({"order": order, "now": time.ticks_ms(), "wrap": wrap}))
""")
    assert got["order"] == [[10, 10], [20, 20], ["event", 25], [30, 30], ["timeout", 50]]
    assert got["now"] == 100
    assert got["wrap"] == 10


@needs_vm
def test_a_disabled_driver_moves_nothing():
    got = vm_json("""
import vboard, vtime, rp2, machine
sm = rp2.StateMachine(0, None, freq=1_000_000, sideset_base=machine.Pin(2))
sm.active(1)
machine.Pin(6, machine.Pin.OUT, value=1)  # EN inactive (active low on pico_w)
sm.put(100)
sm.put(495)  # a 1 ms period
vtime.sleep_ms(200)
print(json.dumps({"position": vboard.position(), "ignored": vboard.driver["ignored"]}))
""")
    assert got == {"position": 0, "ignored": 100}


MOVE = """
import vboard, vtime, time
from basalt.core.board_file import load_board
from board import BOARD
board = load_board(BOARD)
from basalt.app.wiring import make_motor
motor = make_motor(board)
motor.enable()
motor.move(400, 1000)
for _ in range(%d):
    time.sleep_ms(250)
    motor.poll()
done = motor.stop()
print(json.dumps({"done": done, "position": vboard.position(), "busy": motor.busy()}))
"""


@needs_vm
@pytest.mark.parametrize("board", ["pico_w", "esp32_devkitc"])
def test_the_step_generator_issues_the_pulses_the_driver_asks_for(board):
    got = vm_json(MOVE % 6, board)
    assert got == {"done": 400, "position": 400, "busy": False}


@needs_vm
@pytest.mark.parametrize("board", ["pico_w", "esp32_devkitc"])
def test_a_stopped_move_counts_at_least_the_microsteps_made(board):
    got = vm_json(MOVE % 2, board)  # stopped about half way
    assert 150 <= got["position"] <= 250
    if board == "pico_w":
        assert got["done"] == got["position"]  # PIO reads its counter: exact
    else:
        assert got["done"] >= got["position"]  # RMT: conservative, never fewer


def test_screen_rows_read_text_at_any_height_and_highlighted_rows():
    fb = HostFrameBuffer(128, 64)
    fb.fill_rect(0, 0, 128, 10, 1)
    fb.text("Menu", 2, 1, 0)
    fb.text("Bolus", 2, 13, 1)
    fb.text("IOB 0.00 U", 0, 40, 1)
    assert screen_rows(bytes(fb.buf)) == ["> Menu", "Bolus", "IOB 0.00 U"]
    assert screen_rows(b"") == []


@needs_vm
def test_a_power_cut_keeps_the_plunger_and_story_time_runs_on():
    from tools.devicevm import check_story, run_story

    steps = [{"boot": "power", "ms": 500}, {"wait_s": 2}, {"usteps": True},
             {"power_cut": True}, {"wait_s": 5}, {"usteps": True},
             {"boot": "power", "ms": 3500}, {"expect_screen": ["Restarted", "(power_on)"]}]
    transcript = run_story(steps)
    assert check_story(steps, transcript) == []
    times = [seen["t_ms"] for seen in transcript["steps"]]
    assert times == [500, 2500, 2500, 2500, 7500, 7500, 11000, 11000]
    assert transcript["steps"][2]["usteps"] == transcript["steps"][5]["usteps"] == 0
    assert transcript["console"].count("Restarted (power_on)") == 2


@needs_vm
@pytest.mark.parametrize("board, can_pair, reserved", [("pico_w", False, 1024),
                                                       ("esp32_devkitc", True, 0)])
def test_the_fake_ble_pairs_only_on_esp32_and_btstack_keeps_gc_heap(board, can_pair,
                                                                     reserved):
    got = vm_json("""
import gc, bluetooth, aioble, vble
ble = bluetooth.BLE()
gc.collect()
before = gc.mem_alloc()
ble.active(True)
gc.collect()
held = gc.mem_alloc() - before
ble.active(True)
gc.collect()
again = gc.mem_alloc() - before
print(json.dumps({"pair": hasattr(ble, "gap_pair"), "same": aioble.core.ble is ble,
                  "held": held, "again": again, "off": ble.active(False)}))
""", board=board)
    assert got["pair"] is can_pair and got["same"]
    assert reserved <= got["held"] <= reserved + 64  # the bytearray's header and list slot
    assert abs(got["again"] - got["held"]) <= 32  # active twice reserves once
    assert got["off"] is False  # (freeing cannot be measured: the VM's GC keeps garbage)


def test_the_stories_cgm_settings_pass_the_schema_with_cgm_on():
    from basalt.core.settings import load_settings, parse_settings_text
    from tools.devicevm import REPO

    settings, _ = load_settings(parse_settings_text(
        (REPO / "host_tests" / "stories" / "settings_cgm.json").read_text()))
    assert settings.cgm.enabled and settings.cgm.address == "c0:ff:ee:00:00:01"
