"""Runs inside the MicroPython VM: bytes allocated per steady-state tick of the safety
and alarm path (engine tick with the gate, PumpMonitor.evaluate, AlarmManager.sounding).

Prints one JSON line: {"scenario": bytes per tick, ...}. gc is disabled around the
measured loop and gc.mem_alloc() deltas are divided by the tick count.
"""

import gc
import json
import sys

sys.path.append("/lib/boards")

from sim import BOARD  # noqa: E402

from basalt.core.alarms import AlarmManager  # noqa: E402
from basalt.core.board_file import load_board  # noqa: E402
from basalt.core.delivery import DeliveryEngine  # noqa: E402
from basalt.core.monitors import PumpMonitor  # noqa: E402
from basalt.core.safety import Limits  # noqa: E402

TICK_MS = 250
TICKS = 2000


class NoIob:
    def iob_mu(self, now_ms):
        return 0


class AlarmSettings:
    reservoir_low_mu = 59_000
    auto_off_min = 720
    site_change_min = 4_320
    suspend_reminder_min = 30
    glucose_check_min = 0


def rig(setup):
    engine = DeliveryEngine(load_board(BOARD), 0, Limits(10_000, 3_000, 30_000, 15_000, 80_000),
                            NoIob(), 0)
    engine.set_profile(0, "P", [(0, 800), (360, 1200), (720, 1000), (1320, 700)])
    engine.new_reservoir(0, 60_000)
    engine.resume(0)
    alarms = AlarmManager()
    monitor = PumpMonitor(engine, alarms, AlarmSettings(), 0, (4_200, 3_500, 3_300))
    now = setup(engine, alarms, monitor)
    for _ in range(100):  # warm up: first raises allocate their events
        now += TICK_MS
        engine.tick(now)
        monitor.evaluate(now)
        alarms.sounding(now)
    engine.pop_events()
    alarms.pop_events()
    return engine, alarms, monitor, now


def measure(parts):
    engine, alarms, monitor, now = parts
    tick, evaluate, sounding = engine.tick, monitor.evaluate, alarms.sounding
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(TICKS):
        now += TICK_MS
        tick(now)
        evaluate(now)
        sounding(now)
    used = gc.mem_alloc() - before
    gc.enable()
    return used / TICKS


def quiet(engine, alarms, monitor):
    return 0


def alarms_active(engine, alarms, monitor):
    """Reservoir low (snoozed), an acknowledged high alarm, a sounding escalating one."""
    engine.bolus(0, 10_000)  # 1.5 U a minute out of 60 U: under the 59 U threshold
    engine.tick(60_000)
    monitor.evaluate(60_000)
    alarms.snooze(60_000, "reservoir_low")
    alarms.raise_alarm(60_000, "sensor_fault")
    alarms.acknowledge(60_000, "sensor_fault")
    alarms.raise_alarm(60_000, "cgm_lost")
    return 60_000


def control(engine, alarms, monitor):
    return 0


class Control:
    """Allocates one small tuple per tick: proves the method sees allocations."""

    def sounding(self, now):
        return (now, now)


results = {}
for name, setup in (("quiet", quiet), ("alarms_active", alarms_active)):
    results[name] = measure(rig(setup))
engine, alarms, monitor, now = rig(control)
results["control_tuple"] = measure((engine, Control(), monitor, now))
print(json.dumps(results))
