"""Raspberry Pi step timing: ThreadStepper's edge lateness on this machine (tools/pi).

Runs moves of `steps` microsteps at `hz` on pins that cost nothing (the timing of the
thread alone; on a Pi, GPIO writes through blinka add their own few microseconds) and
reports the lateness of every rising edge against its schedule, the move's length
against the ideal, and whether any two edges came closer than 1 / max_step_hz.
Run it on the Pi itself for the Pi's figures; on a shared CI machine it shows load.
"""

import time

from basalt.core.board_file import load_board
from boards.raspberry_pi import BOARD
from tools.bench import progress
from tools.pi.stepper import ThreadStepper


class _Pin:
    def __init__(self, edges=None):
        self.edges = edges

    def value(self, x=None):
        if x and self.edges is not None:
            self.edges.append(time.perf_counter_ns())


class _Machine:
    def __init__(self):
        self.edges = []
        machine = self

        class Pin:
            OUT = 1
            PULL_UP = 1
            PULL_DOWN = 2

            def __new__(cls, number, mode=0, pull=None, value=None):
                return _Pin(machine.edges if number == BOARD["motor"]["step"] else None)

        self.Pin = Pin


def run(steps=2000, hz=1000, moves=3):
    board = load_board(BOARD)
    machine = _Machine()
    motor = ThreadStepper(board.motor, machine)
    motor.set_direction(True)
    duration_ms = steps * 1000 // hz
    overrun_ms = []
    progress.phase("", moves, "moves of %d steps at %d Hz" % (steps, hz))
    for _ in range(moves):
        motor.enable()
        t0 = time.perf_counter_ns()
        motor.move(steps, duration_ms)
        while motor.busy():
            time.sleep(0.01)
        overrun_ms.append((time.perf_counter_ns() - t0) / 1e6 - duration_ms)
        motor.disable()
        progress.advance()
    gaps = [b - a for a, b in zip(machine.edges, machine.edges[1:])]
    min_gap_us = min(gaps) // 1000 if gaps else 0
    result = {"steps": steps * moves, "hz": hz,
              "edges_counted": len(machine.edges),
              "min_gap_us": min_gap_us,
              "min_period_us": 1_000_000 // board.motor.max_step_hz,
              "move_overrun_ms_max": round(max(overrun_ms), 1)}
    result.update(motor.jitter.summary())
    return result


def add_arguments(parser):
    parser.add_argument("--steps", type=int, default=2000, help="microsteps per move")
    parser.add_argument("--hz", type=int, default=1000, help="step rate")


def bench(args, parser):
    if not 1 <= args.steps <= 1_000_000:
        parser.error("--steps must be 1 to 1000000")
    if not 1 <= args.hz <= load_board(BOARD).motor.max_step_hz:
        parser.error("--hz must be 1 to the board's max_step_hz")
    return run(args.steps, args.hz)
