"""Helpers shared by the MicroPython-lane vectors: a deterministic LCG, board specs, and
one-line JSON output with dicts as sorted pairs (MicroPython's dicts are unordered)."""

import json

from basalt.core.errors import BasaltError


def board_spec(capacity, area, lead=0.8, micro=16, diameter=None):
    syringe = {"capacity_ml": capacity}
    if diameter is None:
        syringe["bore_area_mm2"] = area
    else:
        syringe["bore_diameter_mm"] = diameter
    return {
        "name": "vec", "mcu": "host",
        "motor": {"driver": "fake", "step": 2, "dir": 3, "enable": 4, "max_step_hz": 4000},
        "syringe": syringe,
        "drive": {"lead_mm": lead, "full_steps_per_rev": 200, "microsteps": micro},
    }


class Lcg:
    """Numerical Recipes LCG: identical on both interpreters (masked to 32 bits)."""

    def __init__(self, seed):
        self.state = seed

    def below(self, n):
        self.state = (self.state * 1664525 + 1013904223) & 0xFFFFFFFF
        return (self.state >> 8) % n


def plain(value):
    if isinstance(value, dict):
        return [[key, plain(value[key])] for key in sorted(value)]
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def emit(name, value):
    print(json.dumps([name, plain(value)], separators=(",", ":")))


def error_of(call, *args):
    try:
        return ["ok", call(*args)]
    except BasaltError as error:
        return [type(error).__name__, str(error)]


SIM_BOARD = board_spec(3.0, 57.89)  # the sim board's mechanics: BD 3 mL, M5 lead, 1/16


class FixedIob:
    """Stand-in IOB provider: a net IOB in mU that a script sets (or breaks)."""

    def __init__(self, iob_mu):
        self.value = iob_mu

    def iob_mu(self, now_ms):
        if self.value == "raise":
            raise ValueError("tracker fault")
        return self.value
