"""Syringe, line and force-sensor physics for the simulator and the occlusion benchmark.

The one place where the model and its parameters live. Host-only (floats, random).

Mechanics, one dimension, positions in microsteps of plunger travel (one microstep of
the sim board is 0.25 um of travel and 14,473 pL of insulin):

    pusher  xd   where the motor has put the lead-screw nut (FakeMotor.position())
    plunger xp   the syringe stopper; the pusher clamps its flange (it can pull back)
    fluid   v    volume pressed into the syringe and line beyond what has flowed out,
                 in microsteps of volume

    drive force   F_d = k_drive * (xd - xp)       the load cell sits in this path
    fluid force   F_f = k_fluid * v               pressure x bore area
    friction      the stopper sticks while |F_d - F_f| <= F_static and slides with
                  F_kinetic (quasi-static: no mass), so the drive force saw-tooths
                  between F_kinetic and F_static at low rates (stick-slip)
    flow out      open line: dv/dt = -v / tau, tau = R x C (cannula and tubing
                  resistance times compliance); occluded: no flow at all

The sensor reads F_d plus a slow drift (a daily temperature swing of the load cell's
zero and a mean-reverting random walk) plus white noise, rounded to whole mN.

Parameters (PARAMS; `vary()` draws a trial's values from RANGES). They are assumptions
for a printed benchtop rig, chosen to be plausible, not measured; change them here:
- compliance 0.1 uL/kPa of syringe stopper + 60 cm line. A cross-check: with it, a
  pump alarming at an assumed ~125 kPa (~18 psi) holds 12.5 uL = 1.25 U at alarm, the
  volume the Paradigm's published 75 min at 1 U/h implies (docs/references.md). Bore
  57.89 mm2 (BD 3 mL): 1 uL pressed in = 10 kPa = 0.579 N, 8.4 mN per microstep.
- resistance 40 kPa.s/uL: 10 kPa (0.58 N) to push a 1.5 U/min bolus through the
  cannula and line; tau = R x C = 4 s.
- drive stiffness 50 N/mm (printed parts + a 5 kg bar load cell): 12.5 mN per microstep.
- friction: 1.5 N kinetic, static 0.15 N above it; +-0.1 N along the barrel.
- sensor: 20 mN noise (1 sigma), drift: 40 mN daily swing + 30 mN random walk (6 h).
"""

import json
import math
import random

from basalt.core.errors import SensorFault
from basalt.ports import ForceSensor

PARAMS = {
    "bore_area_mm2": 57.89,
    "compliance_ul_per_kpa": 0.1,
    "resistance_kpa_s_per_ul": 40.0,
    "drive_n_per_mm": 50.0,
    "friction_kinetic_n": 1.5,
    "stiction_n": 0.15,  # static minus kinetic friction
    "friction_wave_n": 0.1,  # friction variation along the barrel
    "friction_wave_mm": 30.0,
    "noise_mn": 20.0,
    "drift_daily_mn": 40.0,  # amplitude of the daily temperature swing
    "drift_walk_mn": 30.0,  # stationary sigma of the random walk
    "drift_walk_h": 6.0,  # its correlation time
    "vacuum_kpa": -80.0,  # the fluid cannot pull harder than this (it cavitates)
}

# A trial's parameters are drawn uniformly from these ranges (the modeled envelope).
RANGES = {
    "compliance_ul_per_kpa": (0.07, 0.14),
    "resistance_kpa_s_per_ul": (25.0, 55.0),
    "drive_n_per_mm": (40.0, 60.0),
    "friction_kinetic_n": (1.0, 2.0),
    "stiction_n": (0.05, 0.2),
    "noise_mn": (10.0, 30.0),
}

_SUB_STEPS = 8  # at most this many microsteps per integration sub-step
_SUB_MS = 250


def load_ranges(path):
    """RANGES overlaid with a JSON file of {key: [lo, hi]} (keys as in RANGES); a
    ValueError naming the key for anything else."""
    with open(path) as handle:
        obj = json.load(handle)
    return check_ranges(obj, path)


def check_ranges(obj, where="ranges"):
    if not isinstance(obj, dict):
        raise ValueError("%s: a JSON object of {key: [lo, hi]}, not %r" % (where, obj))
    ranges = dict(RANGES)
    for key, span in obj.items():
        if key not in RANGES:
            raise ValueError("%s: %r is not a range; allowed: %s" % (
                where, key, ", ".join(sorted(RANGES))))
        if (not isinstance(span, list) or len(span) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                           and v > 0 for v in span) or span[0] > span[1]):
            raise ValueError("%s: %s is %r; allowed: [lo, hi] with 0 < lo <= hi" % (
                where, key, span))
        ranges[key] = (float(span[0]), float(span[1]))
    return ranges


def corners(ranges):
    """Every corner of the envelope, each as ranges of one value (lo == hi) per key."""
    keys = sorted(ranges)
    return [{key: (ranges[key][bits >> i & 1],) * 2 for i, key in enumerate(keys)}
            for bits in range(1 << len(keys))]


def vary(rng, ranges=None, **fixed):
    """A trial's parameters: the defaults, ranged values drawn from rng, then `fixed`."""
    ranges = RANGES if ranges is None else ranges
    params = dict(PARAMS)
    for key in sorted(ranges):
        lo, hi = ranges[key]
        params[key] = rng.uniform(lo, hi)
    params.update(fixed)
    return params


class SyringePhysics:
    """The model's state; advance(t_ms, pusher_steps) moves it to time t."""

    def __init__(self, ustep_volume_pl, params=None, seed=0, start_ms=0):
        p = dict(PARAMS if params is None else params)
        self.params = p
        self.rng = random.Random(seed)
        self.ustep_ul = ustep_volume_pl / 1e6
        travel_mm = self.ustep_ul / p["bore_area_mm2"]  # uL / mm2 = mm
        self.travel_mm = travel_mm
        n_per_ul = p["bore_area_mm2"] * 1e-3 / p["compliance_ul_per_kpa"]  # kPa x m2 ...
        self.k_fluid = n_per_ul * self.ustep_ul  # N per microstep of volume
        self.k_drive = p["drive_n_per_mm"] * travel_mm  # N per microstep of travel
        self.tau_ms = p["resistance_kpa_s_per_ul"] * p["compliance_ul_per_kpa"] * 1000
        self.v_floor = p["vacuum_kpa"] * p["compliance_ul_per_kpa"] / self.ustep_ul
        self.t_ms = start_ms
        self.xd = 0.0
        self.xp = 0.0
        self.v = 0.0
        self.seat(0)
        self.outflow = 0.0  # microsteps of volume that left the cannula
        self.occluded = False
        self.drift_phase = self.rng.uniform(0, 2 * math.pi)
        self.walk = self.rng.gauss(0, p["drift_walk_mn"])

    # ----- the world -----------------------------------------------------------------

    def seat(self, pusher_steps):
        """A primed syringe: the stopper has just slid, the drive train carries F_kinetic."""
        self.xd = float(pusher_steps)
        self.xp = self.xd - self.friction()[0] / self.k_drive
        self.v = 0.0

    def occlude(self, t_ms, pusher_steps):
        self.advance(t_ms, pusher_steps)
        self.occluded = True

    def clear(self, t_ms, pusher_steps):
        self.advance(t_ms, pusher_steps)
        self.occluded = False

    def friction(self):
        p = self.params
        wave = math.sin(2 * math.pi * self.xp * self.travel_mm / p["friction_wave_mm"])
        kinetic = p["friction_kinetic_n"] + p["friction_wave_n"] * wave
        return kinetic, kinetic + p["stiction_n"]

    def drive_force_n(self):
        return self.k_drive * (self.xd - self.xp)

    def fluid_force_n(self):
        return self.k_fluid * self.v

    def advance(self, t_ms, pusher_steps):
        """Move the pusher linearly to pusher_steps over (t_last, t_ms] and integrate."""
        dt = t_ms - self.t_ms
        if dt < 0:
            raise ValueError("physics time went backwards: %r -> %r" % (self.t_ms, t_ms))
        moved = pusher_steps - self.xd
        subs = max(1, min(int(abs(moved)) // _SUB_STEPS + 1, -(-int(dt) // _SUB_MS)))
        step_ms = dt / subs
        for _ in range(subs):
            self.xd += moved / subs
            self._slip()
            self._flow(step_ms)
            self._slip()
        self.xd = float(pusher_steps)
        self._drift(dt)
        self.t_ms = t_ms

    def _slip(self):
        """Quasi-static friction: the stopper slides until the net force is F_kinetic."""
        kinetic, static = self.friction()
        net = self.drive_force_n() - self.fluid_force_n()
        if net > static:
            delta = (net - kinetic) / (self.k_drive + self.k_fluid)
        elif net < -static:
            delta = (net + kinetic) / (self.k_drive + self.k_fluid)
        else:
            return
        self.xp += delta
        self.v += delta
        if self.v < self.v_floor:  # cavitation: the fluid does not follow any further
            self.v = self.v_floor

    def _flow(self, dt_ms):
        if self.occluded or dt_ms <= 0:
            return
        out = self.v * (1 - math.exp(-dt_ms / self.tau_ms))
        self.v -= out
        self.outflow += out

    def _drift(self, dt_ms):
        p = self.params
        if dt_ms <= 0:
            return
        a = math.exp(-dt_ms / (p["drift_walk_h"] * 3.6e6))
        self.walk = self.walk * a + self.rng.gauss(0, p["drift_walk_mn"] * math.sqrt(1 - a * a))

    def drift_mn(self):
        day = 2 * math.pi * self.t_ms / 86_400_000
        return self.params["drift_daily_mn"] * math.sin(day + self.drift_phase) + self.walk

    def reading_mn(self):
        """What the load cell reports now: drive force + drift + noise, whole mN."""
        noise = self.rng.gauss(0, self.params["noise_mn"])
        return int(round(self.drive_force_n() * 1000 + self.drift_mn() + noise))

    def units(self, steps_of_volume):
        return steps_of_volume * self.ustep_ul / 10  # U-100: 10 uL per U


class SimForceSensor(ForceSensor):
    """The ForceSensor port on the physics: one reading of the load cell per read.

    Raw counts are mN (calibration: zero tare, 1000 counts per N). `fault` makes it
    misbehave like broken hardware: "timeout" (no answer), "saturated" (end of range),
    "garbage" (random 24-bit values), "stuck" (the same value every time).
    """

    calibration = {"tare_counts": 0, "counts_per_n": 1000}

    def __init__(self, physics, motor, clock):
        self.physics = physics
        self.motor = motor
        self.clock = clock
        self.fault = None
        self.reads = 0

    def read_raw(self):
        self.reads += 1
        self.physics.advance(self.clock.now_ms(), self.motor.position())
        fault = self.fault
        if fault == "timeout":
            raise SensorFault("timeout", "simulated: no conversion ready")
        if fault == "saturated":
            raise SensorFault("saturated", "simulated: 0x7FFFFF")
        if fault == "garbage":
            return self.physics.rng.randrange(-(1 << 23), 1 << 23)
        if fault == "stuck":
            return 1234
        return self.physics.reading_mn()
