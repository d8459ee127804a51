"""Runs inside the device VM (run_with_fakes): the delivery tick with the board's force
sensor against the same tick without one, and the HX711 reading task's slices.

Prints one JSON line of microseconds on the VM's clock, which moves only while the code
waits or sleeps (sleep_us between PD_SCK edges, polls of DOUT): on the chip that is
time the tick holds the CPU beyond interpreting its Python, which the VM does not model.
The tick is the real PumpApp at 1 U/h, 250 ms apart, with vasyncio running the
sensor's reading task in between, as on the board.
"""

import json

import vasyncio
import vboard
import vtime
from board import BOARD

from basalt.app import PumpApp
from basalt.app.device import TicksClock, make_force, make_motor
from basalt.core.board_file import load_board
from basalt.core.safety import Limits

TICKS = 240
LIMITS = Limits(max_bolus_mu=25_000, max_basal_mu_h=30_000, max_iob_mu=100_000,
                max_daily_mu=1_000_000, max_bolus_60min_mu=75_000)


def ticks(with_force):
    """The longest wait inside TICKS delivery ticks, and any alarm the detector raised."""
    board = load_board(BOARD)
    clock = TicksClock()
    force = make_force(board) if with_force else None
    app = PumpApp(board, clock, make_motor(board), force=force, limits=LIMITS,
                  collect_events=False)
    for cmd in ({"cmd": "set_profile", "name": "F", "segments": [["00:00", 1.0]]},
                {"cmd": "new_reservoir", "units": 100}, {"cmd": "resume"}):
        app.command(cmd)
    if force is not None and hasattr(force, "run"):
        vasyncio.create_task(force.run(clock))
    worst = 0
    for _ in range(TICKS):
        vasyncio.run_until(vtime.now_us() + 250_000)
        start = vtime.now_us()
        app.step()
        worst = max(worst, vtime.now_us() - start)
    vasyncio.reset()
    return worst, app.occlusion.detector.alarm


def reads():
    """Over 4 s, 1 ms apart: the longest poll() slice; on every other conversion the
    task stops after its first slice and the tick's read_raw_now() clocks the rest (the
    most a tick ever clocks); the conversions taken; then the waiting read calibration
    uses, for contrast."""
    force = make_force(load_board(BOARD))
    worst_slice = worst_rest = got = 0
    end = vtime.now_us() + 4_000_000
    while vtime.now_us() < end:
        start = vtime.now_us()
        done = force.poll()
        worst_slice = max(worst_slice, vtime.now_us() - start)
        if done or (got % 2 and force._pulse):
            start = vtime.now_us()
            force.read_raw_now()
            worst_rest = max(worst_rest, vtime.now_us() - start)
            got += 1
        vtime.advance_to(vtime.now_us() + 1_000)
    start = vtime.now_us()
    force.read_raw()  # waits for the next conversion
    return worst_slice, worst_rest, got, vtime.now_us() - start


vboard.set_force_mn(1_500)
bare = ticks(False)
sensed = ticks(True)
read = reads()
print(json.dumps({
    "tick_wait_us_max_without_sensor": bare[0], "tick_wait_us_max_with_sensor": sensed[0],
    "sensor_alarm": sensed[1], "poll_slice_wait_us_max": read[0],
    "tick_read_wait_us_max": read[1], "conversions_in_4s": read[2],
    "waiting_read_wait_us": read[3]}))
