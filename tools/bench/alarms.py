"""Alarm path allocations per tick in MicroPython, and battery-alarm flapping under noise.

allocs_per_tick         bytes allocated per steady-state tick (engine with the gate,
                        PumpMonitor.evaluate, AlarmManager.sounding) inside MicroPython
battery_flaps_24h       over 24 h of 10-second readings with the battery held exactly
                        at the low or the critical threshold and uniform ADC noise of
                        +-N mV: how often the level went back up (an alarm clearing
                        while the battery never rose: flapping). Target 0.
"""

import random

from basalt.core.monitors import BatteryMonitor
from tools.bench import progress
from tools.bench.delivery import allocs_per_tick

NOISE_MV = (0, 50, 150, 300)
READINGS_PER_DAY = 24 * 360


def battery_flaps(threshold_mv, noise_mv, seed):
    """Times the level eased while the true voltage sat exactly at a threshold."""
    rng = random.Random(seed)
    monitor = BatteryMonitor(4_200, 3_500, 3_300)
    monitor.update(3_900)
    flaps = 0
    level = monitor.level
    for _ in range(READINGS_PER_DAY):
        monitor.update(threshold_mv + rng.randint(-noise_mv, noise_mv))
        if monitor.level < level:
            flaps += 1
        level = monitor.level
    return flaps


def add_arguments(parser):
    parser.add_argument("--seed", type=int, default=1)


def bench(args, parser):
    return run(args.seed)


def run(seed=1):
    allocs, detail = allocs_per_tick("alarms_tick_vm.py")
    flaps = {}
    progress.phase("battery flapping, noise levels:", len(NOISE_MV), "")
    for noise in NOISE_MV:
        progress.advance()
        flaps[str(noise)] = sum(battery_flaps(threshold, noise, seed + noise)
                                for threshold in (3_500, 3_300))
    return {
        "allocs_per_tick": allocs,
        "allocs_per_tick_by_scenario": detail,
        "battery_flaps_24h_by_noise_mv": flaps,
        "battery_flaps_24h_worst": max(flaps.values()),
        "targets": {"allocs_per_tick": "0 in steady state (events allocate on changes)",
                    "battery_flaps_24h_worst": "0"},
    }
