"""Delivery benchmark: accuracy of the engine, speed of the app, allocation per tick.

max_step_error        30 simulated days at each rate with jittered ticks: the largest
                      |delivered - exact integral| in microsteps, checked after every tick.
window_error_pct_0_1  at 0.1 U/h, every 1-hour window (one starting each minute): the
                      worst |delivered - programmed| / programmed, in percent.
bolus_series_error    1,000 random boluses of 0.01-2 U (normal, extended, dual) run to
                      their end with jittered ticks: the largest gap between the
                      cumulative delivered and the exact cumulative amount asked, checked
                      after every bolus, in microsteps (delivered is never above).
bolus_hundredths_error  ten 0.01 U boluses: microsteps between delivered and exact.
sim_speedup           simulated seconds per wall second of the 24 h `make sim` run.
allocs_per_tick       bytes allocated per steady-state engine tick inside MicroPython.
"""

import json
import os
import random
import time

from basalt.core.delivery import DeliveryEngine
from basalt.core.units import MS_PER_DAY, MS_PER_MIN, PL_PER_MU
from tools import ROOT, sim
from tools.bench import progress
from tools.fakes import FakeIob, open_limits

RATES_MU_H = (25, 100, 1_000, 5_000, 30_000)



def _engine(board, rate_mu_h):
    engine = DeliveryEngine(board, 0, open_limits(), FakeIob(), 0)
    engine.set_profile(0, "flat", [(0, rate_mu_h)])
    engine.new_reservoir(0, board.syringe_capacity_mu)
    engine.reservoir_steps = 10 ** 9  # an endless reservoir: this measures the integral
    engine.resume(0)
    return engine


def jittered_gaps(rng):
    """Device-like ticks (250 ms, up to 250 ms late), bursts of 1-20 ms, late ones to 60 s."""
    while True:
        pick = rng.random()
        if pick < 0.90:
            yield 250 + rng.randint(0, 250)
        elif pick < 0.97:
            yield rng.randint(1, 20)
        else:
            yield rng.randint(1_000, 60_000)


def max_step_error(board, days, seed):
    """Per rate: the largest |delivered - exact| seen after any tick, in microsteps."""
    per_rate = {}
    cost = 360 * board.ustep_volume_pl  # one microstep in mU*ms/h
    for rate in RATES_MU_H:
        rng = random.Random(seed + rate)
        engine = _engine(board, rate)
        gaps = jittered_gaps(rng)
        now = worst = 0
        end = days * MS_PER_DAY
        ticks = 0
        progress.phase("accuracy at %d mU/h:" % rate, days, "days")
        while now < end:
            now += next(gaps)
            engine.tick(now)
            ticks += 1
            if not ticks & 0x3FFF:
                progress.at(now // MS_PER_DAY)
            # exact = rate*now/cost microsteps; compare without rounding.
            error = abs(rate * now - engine.basal_steps * cost)
            if error > worst:
                worst = error
        per_rate[rate] = {"max_error_steps": worst / cost, "ticks": ticks,
                          "delivered_steps": engine.basal_steps,
                          "exact_steps": rate * now / cost}
    return max(r["max_error_steps"] for r in per_rate.values()), per_rate


def window_error_pct(board, rate_mu_h, hours, seed):
    """Worst 1-hour-window error at a rate, windows starting on every minute."""
    rng = random.Random(seed)
    engine = _engine(board, rate_mu_h)
    gaps = jittered_gaps(rng)
    now = 0
    steps_at_minute = [0]
    progress.phase("1-hour windows at %d mU/h:" % rate_mu_h, hours, "hours")
    for minute in range(1, hours * 60 + 1):
        if not minute % 60:
            progress.at(minute // 60)
        edge = minute * MS_PER_MIN
        while True:
            gap = next(gaps)
            if now + gap >= edge:
                break
            now += gap
            engine.tick(now)
        now = edge
        engine.tick(now)
        steps_at_minute.append(engine.basal_steps)
    programmed_pl = rate_mu_h * PL_PER_MU  # one hour of insulin in pL
    worst = 0.0
    for start in range(len(steps_at_minute) - 60):
        steps = steps_at_minute[start + 60] - steps_at_minute[start]
        delivered_pl = steps * board.ustep_volume_pl
        error = 100.0 * (delivered_pl - programmed_pl) / programmed_pl
        if abs(error) > abs(worst):
            worst = error
    return worst


def _bolus_engine(board):
    engine = _engine(board, 0)
    engine.set_profile(0, "flat", [(0, 0)])  # no basal: every step is a bolus step
    return engine


def _give(engine, now, amount, kind, rng):
    """One bolus run to its end with device-like ticks; returns the time after it."""
    if kind == 0 or amount < 20:
        engine.bolus(now, amount)
    elif kind == 1:
        engine.extended_bolus(now, amount, rng.randint(15, 120))
    else:
        engine.dual_bolus(now, amount, rng.randint(1, amount // 10 - 1) * 10, 15)
    gaps = jittered_gaps(rng)
    while engine.bolus_running():
        now += next(gaps) * 20  # coarser than the device: the count does not depend on it
        engine.tick(now)
    return now


def bolus_series_error(board, count, seed):
    """(largest |exact - delivered| in microsteps after any bolus, largest delivered
    above exact (pL, <= 0 means never above), delivered steps, exact steps)."""
    rng = random.Random(seed)
    engine = _bolus_engine(board)
    step_pl = board.ustep_volume_pl
    now = asked_pl = worst = 0
    above = None
    progress.phase("bolus series:", count, "boluses")
    for i in range(count):
        amount = rng.randint(1, 200) * 10  # 0.01 to 2 U in the pump's 0.01 U steps
        now = _give(engine, now, amount, rng.randrange(3), rng)
        asked_pl += amount * PL_PER_MU
        gap = asked_pl - engine.bolus_steps * step_pl
        worst = max(worst, abs(gap))
        above = -gap if above is None or -gap > above else above
        if not (i + 1) % 100:
            progress.at(i + 1)
    return worst / step_pl, above, engine.bolus_steps, asked_pl / step_pl


def bolus_hundredths_error(board):
    """Ten 0.01 U boluses: (|exact - delivered| in microsteps, delivered steps)."""
    engine = _bolus_engine(board)
    now = 0
    for _ in range(10):
        now = _give(engine, now, 10, 0, random.Random(now))
    exact_pl = 10 * 10 * PL_PER_MU
    return abs(exact_pl - engine.bolus_steps * board.ustep_volume_pl) / board.ustep_volume_pl, \
        engine.bolus_steps


def sim_speedup(repeats=3):
    program = sim.load_program(sim.DEFAULT_PROGRAM)
    best = None
    progress.phase("24 h make-sim day, best of", repeats, "runs")
    for _ in range(repeats):
        started = time.perf_counter()
        sim.run(program, 24, 1000)
        progress.advance()
        wall = time.perf_counter() - started
        best = wall if best is None or wall < best else best
    return 24 * 3600 / best, best


def allocs_per_tick(script="alloc_tick_vm.py"):
    """Run an allocation probe script in the VM: (worst bytes per tick, by scenario)."""
    from tools.mpvm import run_micropython

    progress.phase("MicroPython VM (allocations per tick, %s)" % script)
    out = run_micropython(os.path.join(ROOT, "tools", "bench", script),
                          lib_dirs=(os.path.join(ROOT, "firmware", "basalt"),
                                    os.path.join(ROOT, "boards")), waiting=progress.tick)
    result = json.loads(out.strip().splitlines()[-1])
    if not result.pop("control_tuple") > 0:
        raise RuntimeError("the allocation probe saw no allocation: the method is broken")
    return max(result.values()), result


def run(days=30, seed=1):
    board = sim.load_sim_board()
    step_error, per_rate = max_step_error(board, days, seed)
    series, above, series_steps, series_exact = bolus_series_error(board, 1_000, seed)
    hundredths, hundredths_steps = bolus_hundredths_error(board)
    speedup, wall = sim_speedup()
    allocs, alloc_detail = allocs_per_tick()
    return {
        "board": board.name,
        "ustep_volume_pl": board.ustep_volume_pl,
        "days": days,
        "max_step_error": round(step_error, 6),
        "max_step_error_by_rate_mu_h": {str(k): round(v["max_error_steps"], 6)
                                        for k, v in per_rate.items()},
        "ticks_per_rate": {str(k): v["ticks"] for k, v in per_rate.items()},
        "window_error_pct_0_1": round(window_error_pct(board, 100, 48, seed), 4),
        "bolus_series_error": round(series, 6),
        "bolus_series_most_above_exact_pl": above,
        "bolus_series_steps": {"delivered": series_steps, "exact": round(series_exact, 3)},
        "bolus_hundredths_error": round(hundredths, 6),
        "bolus_hundredths_steps": {"delivered": hundredths_steps,
                                   "exact": round(100 * PL_PER_MU / board.ustep_volume_pl, 3)},
        "sim_speedup": round(speedup),
        "sim_tick_ms": 1000,
        "sim_wall_s": round(wall, 4),
        "allocs_per_tick": allocs,
        "allocs_per_tick_by_scenario": alloc_detail,
        "targets": {"max_step_error": "<= 1", "window_error_pct_0_1": "<= 2 (abs)",
                    "bolus_series_error": "<= 1", "bolus_series_most_above_exact_pl": "< 0",
                    "bolus_hundredths_error": "<= 1",
                    "sim_speedup": ">= 20000", "allocs_per_tick": "0"},
    }





def add_arguments(parser):
    parser.add_argument("--days", type=int, default=30, help="simulated days per rate")
    parser.add_argument("--seed", type=int, default=1)


def bench(args, parser):
    if args.days < 1:
        parser.error("--days must be at least 1")
    return run(args.days, args.seed)
