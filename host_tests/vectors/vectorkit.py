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


# The example settings file's shape, as text (the settings vectors parse it).
SETTINGS_TEXT = """
// a comment line
{
  "version": 1,
  "basal": {"active": "Day", "profiles": {
      "Day": [["00:00", 0.8], ["06:00", 1.2], ["22:00", 0.85]],
      "Sick": [["00:00", 1.5]]}},
  "carb_ratio_g_per_u": [["00:00", 10], ["11:00", 12], ["17:00", 9.5]],
  "sensitivity_mg_dl_per_u": [["00:00", 50], ["06:00", 45]],
  "target_mg_dl": [["00:00", 100, 120], ["22:00", 110, 140]],
  "insulin": {"type": "rapid_adult", "duration_h": 6},
  "limits": {"max_bolus_u": 10, "max_basal_u_h": 3, "max_iob_u": 20, "max_daily_u": 80},
  "alarms": {"reservoir_low_u": 20, "auto_off_h": 12, "site_change_days": 2.5,
             "suspend_reminder_min": 30, "glucose_check_min": 0},
  "bolus": {"speed_u_per_min": 1.5, "increment_u": 0.05, "reverse_correction": true},
  "reservoir": {"syringe": "BD 3 mL", "fill_u": 200, "prime_u": 12}
}
"""


def bolus_room_mu(engine, now_ms):
    """The largest bolus the engine's safety gate (SafetyGate.check_bolus) would accept
    at now_ms, 0 if none (tests ask; the pump itself only checks a bolus it was given)."""
    engine._advance(now_ms)
    owed = engine._bolus_owed()
    gate = engine.gate
    gate.advance(now_ms)
    limits = gate.limits
    if limits is None:
        return 0
    board = gate._board
    room = limits.max_bolus_mu
    for used, cap in ((gate._hour.total, gate._hour_cap), (gate._day.total, gate._day_cap)):
        room = min(room, board.mu_for_usteps(max(0, cap - used - owed)))
    iob_room = limits.max_iob_mu - gate.iob_now(now_ms, "bolus") - gate._mu_up(owed)
    return max(0, min(room, iob_room))


def update_all(decoder, now_ms, mask):
    """One sample of every key of a ButtonDecoder: bit k of mask set = key k pressed
    (the vectors and tests feed masks; the board's UI task samples key by key)."""
    for key in range(decoder.keys):
        decoder.update(now_ms, key, bool(mask >> key & 1))


def engine_snapshot(engine):
    """Every piece of a DeliveryEngine's state, as plain data: tests compare it before and
    after (kept here, not on the engine, so a running pump holds none of it)."""
    def ramp(r):
        return None if r is None else (r.owner, r.programmed_mu, r.steps, r.duration_ms,
                                       r.elapsed_ms, r.done, r._acc)

    return {
        "stop_reason": engine.stop_reason,
        "reservoir_steps": engine.reservoir_steps,
        "plunger_steps": engine.plunger_steps,
        "basal_steps": engine.basal_steps,
        "bolus_steps": engine.bolus_steps,
        "prime_steps": engine.prime_steps,
        "last_ms": engine._last_ms,
        "day_ms": engine._day_ms,
        "owed": engine._owed,
        "basal": (engine._basal_acc, engine._basal_rate, engine._seg_left),
        "temp": None if engine._temp is None else tuple(engine._temp),
        "ramps": (ramp(engine._now_part), ramp(engine._ext_part), ramp(engine._ext_pending),
                  ramp(engine._prime)),
        "profiles": (engine.profiles.active, sorted(
            (p.name, p.segments()) for p in engine.profiles.profiles.values())),
        "bolus_speed": engine.bolus_speed_mu_min,
        "bolus_carry_pl": engine.bolus_carry_pl,
        "takeup": (engine._takeup, engine.reseat_steps),
        "gate": (engine.gate.delivered_steps, engine.gate.day_steps(),
                 engine.gate.hour_bolus_steps(), engine.gate.limit_hit),
        "events": len(engine.events),
    }
