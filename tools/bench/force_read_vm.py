"""Runs inside the device VM (run_with_fakes): the delivery tick with the board's force
sensor against the same tick without one, and the HX711 reading task's slices.

Prints one JSON line. Two clocks per tick: the VM's (microseconds that move only while
the code waits or sleeps: sleep_us between PD_SCK edges, polls of DOUT; on the chip,
time the tick holds the CPU beyond interpreting its Python) and the host's
(js.performance.now(): the interpreter's own time under node, the fakes' Python
included, so only the difference between runs means anything). The tick is the real
PumpApp at 1 U/h, 250 ms apart, with vasyncio running the sensor's reading task in
between, as on the board; "blocking" is the bit-banged HX711 read inside the tick, with
no reading task: the tick as it was before.
"""

import json

import js
import vasyncio
import vboard
import vtime
from board import BOARD

from basalt.app import PumpApp
from basalt.app.device import TicksClock
from basalt.app.wiring import make_force, make_motor
from basalt.core.board_file import load_board
from basalt.core.safety import Limits
from basalt.drivers.hx711 import HX711

TICKS = 240
REPEATS = 3
LIMITS = Limits(max_bolus_mu=25_000, max_basal_mu_h=30_000, max_iob_mu=100_000,
                max_daily_mu=1_000_000, max_bolus_60min_mu=75_000)


def ticks(mode):
    """mode: "none", "task" (the board's sensor and reading task) or "blocking". The
    longest VM wait inside TICKS delivery ticks, the host's median and longest tick (us;
    each tick the least of REPEATS identical runs, so a busy host's pauses drop out),
    and any alarm the detector raised."""
    host = None
    for _ in range(REPEATS):
        worst, times, alarm = run_ticks(mode)
        host = times if host is None else [min(a, b) for a, b in zip(host, times)]
    host.sort()
    return worst, host[len(host) // 2], host[-1], alarm


def run_ticks(mode):
    board = load_board(BOARD)
    clock = TicksClock()
    force = None
    if mode == "blocking":
        force = HX711(board.force.dout, board.force.sck)
    elif mode == "task":
        force = make_force(board)
    app = PumpApp(board, clock, make_motor(board), force=force, limits=LIMITS,
                  collect_events=False)
    for cmd in ({"cmd": "set_profile", "name": "F", "segments": [["00:00", 1.0]]},
                {"cmd": "new_reservoir", "units": 100}, {"cmd": "resume"}):
        app.command(cmd)
    if mode == "task" and hasattr(force, "run"):
        vasyncio.create_task(force.run(clock))
    worst = 0
    host = []
    for _ in range(TICKS):
        vasyncio.run_until(vtime.now_us() + 250_000)
        start, began = vtime.now_us(), js.performance.now()
        app.step()
        host.append(int((js.performance.now() - began) * 1000))
        worst = max(worst, vtime.now_us() - start)
    vasyncio.reset()
    return worst, host, app.occlusion.detector.alarm


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
runs = {mode: ticks(mode) for mode in ("none", "task", "blocking")}
read = reads()
figures = {"sensor_alarm": runs["task"][3], "poll_slice_wait_us_max": read[0],
           "tick_read_wait_us_max": read[1], "conversions_in_4s": read[2],
           "waiting_read_wait_us": read[3]}
for mode, name in (("none", "without_sensor"), ("task", "with_sensor"),
                   ("blocking", "blocking_read")):
    figures["tick_wait_us_max_" + name] = runs[mode][0]
    figures["tick_host_us_median_" + name] = runs[mode][1]
    figures["tick_host_us_max_" + name] = runs[mode][2]
print(json.dumps(figures))
