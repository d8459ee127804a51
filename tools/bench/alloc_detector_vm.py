"""Runs inside the MicroPython VM: bytes allocated per occlusion-detector update.

Prints one JSON line: {"scenario": bytes per update, ...}, measured like
alloc_tick_vm.py (gc disabled, gc.mem_alloc() delta / updates). A control that builds
one tuple per update proves the method sees allocations.
"""

import gc
import json

from basalt.core.occlusion import OcclusionDetector

UPDATES = 2000
TICK_MS = 250


class Noise:
    """The ZX81 generator: its products stay small ints (a 32-bit LCG would allocate)."""

    def __init__(self):
        self.state = 12345

    def next(self, spread):
        self.state = (self.state * 75 + 74) % 65537
        return self.state % (2 * spread + 1) - spread


def measure(update, steps_every, settle=0):
    detector = OcclusionDetector()
    detector.reset(0, settle)
    noise = Noise()
    now = 0
    for i in range(300):  # warm up: baseline learned, filters settled
        now += TICK_MS
        detector.update(now, 1 if i % steps_every == 0 else 0, 1500 + noise.next(20))
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for i in range(UPDATES):
        now += TICK_MS
        update(detector, now, 1 if i % steps_every == 0 else 0, 1500 + noise.next(20))
    used = gc.mem_alloc() - before
    gc.enable()
    return used / UPDATES


def plain(detector, now, steps, force):
    detector.update(now, steps, force)


def control(detector, now, steps, force):
    detector.update(now, steps, force)
    return (now, force)


results = {"control_tuple": measure(control, 4),
           "basal_1uh": measure(plain, 20), "bolus": measure(plain, 1)}
print(json.dumps(results))
