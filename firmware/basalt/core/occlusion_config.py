"""The occlusion detector's parameters (basalt.core.occlusion): defaults, ranges and
meanings, and the check of a settings file's "occlusion" table. Imported when a detector
is made (at boot) and not kept after: a running pump holds only the checked dict."""

from basalt.core.check import exact_keys, int_in
from basalt.core.errors import ConfigError

# key: (default, lo, hi, unit, meaning). Defaults suit the reference mechanics (BD 3 mL,
# M5 lead screw, 1/16 steps, 5 kg load cell); tools/sim/occlusion_physics.py models them.
PARAMS = {
    "threshold_mn": (400, 50, 5_000, "mN", "residual that arms the alarm until learned"),
    "threshold_min_mn": (150, 50, 5_000, "mN", "lowest learned threshold (floor)"),
    "threshold_max_mn": (900, 50, 10_000, "mN", "highest learned threshold (ceiling)"),
    "learn_steps": (64, 0, 5_000, "microsteps", "steps a run learns over (0 = off)"),
    "learn_reads": (30, 1, 1_000, "readings", "readings a run learns over, at least"),
    "filter_steps": (2, 0, 100, "microsteps", "the filter spans this many steps' time"),
    "confirm_steps": (3, 1, 200, "microsteps", "steps that must confirm the rise"),
    "confirm_rise_mn": (30, 0, 2_000, "mN", "further rise over those steps"),
    "min_slope_umn_per_step": (1_000, 0, 100_000, "uN/microstep", "slope while confirming"),
    "filter_ms": (1_000, 0, 60_000, "ms", "low-pass time constant of the reading"),
    "baseline_down_ms": (60_000, 0, 3_600_000, "ms", "baseline follows a fall"),
    "drift_mn_h": (40, 0, 1_000, "mN/h", "fastest rise the baseline follows"),
    "flow_umn_per_step": (12_500, 0, 100_000, "uN/microstep", "flow allowance gain"),
    "flow_ms": (8_000, 0, 30_000, "ms", "flow allowance time constant"),
    "drive_umn_per_step": (11_000, 1_000, 1_000_000, "uN/microstep", "drive stiffness"),
    "max_backoff_steps": (3_000, 0, 20_000, "microsteps", "largest back-off"),
    "min_force_mn": (-5_000, -50_000, 0, "mN", "lowest plausible reading"),
    "max_force_mn": (60_000, 1_000, 200_000, "mN", "highest plausible reading"),
    "max_jump_mn": (5_000, 100, 20_000, "mN", "largest plausible change per reading"),
    "bad_reads": (3, 1, 20, "readings", "failed readings in a row that make a fault"),
    "stuck_reads": (120, 0, 10_000, "readings", "identical readings that make a fault "
                    "(0 = off, else at least 10)"),
}


def load_occlusion_config(obj=None, path="occlusion"):
    """Defaults overlaid with `obj` (a dict of PARAMS keys), checked; a
    basalt.core.occlusion.Config with each as an attribute."""
    obj = {} if obj is None else obj
    exact_keys(path, obj, (), tuple(sorted(PARAMS)))
    out = {}
    for key in PARAMS:
        default, lo, hi, unit, _ = PARAMS[key]
        out[key] = int_in(path + "." + key, obj.get(key, default), lo, hi, unit,
                          error=ConfigError)
    if 0 < out["stuck_reads"] < 10:
        raise ConfigError(path + ".stuck_reads", out["stuck_reads"], "0 (off) or 10 to 10000 "
                          "readings")
    if out["threshold_min_mn"] > out["threshold_max_mn"]:
        raise ConfigError(path + ".threshold_min_mn", out["threshold_min_mn"],
                          "at most threshold_max_mn (%d)" % out["threshold_max_mn"])
    if out["min_force_mn"] >= out["max_force_mn"]:
        raise ConfigError(path + ".min_force_mn", out["min_force_mn"],
                          "below max_force_mn (%d)" % out["max_force_mn"])
    from basalt.core.occlusion import Config

    config = Config()
    for key in out:
        setattr(config, key, out[key])
    return config
