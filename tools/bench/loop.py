"""Closed loop on 30 virtual patients: pump, loop and simglucose-bb side by side, and cost.

    python -m tools.bench loop --json [--days 2] [--seed 1] [--patients NAMES] [--jobs N]

Runs the cohort (python -m tools.sim cohort) for `pump`, `loop` and `simglucose-bb`
with every meal announced, then `pump` and `loop` with no meal announced (the user
forgets every bolus), and measures one loop decision inside the MicroPython VM (bytes
allocated and microseconds; WebAssembly under node on this host, a board is slower).
Targets (issue 8) for `loop` over all 30: TIR >= 85 %, below 70 <= 2 %, below 54 <=
0.5 %, children below 70 <= 4 %; unannounced: below 70 <= 2 % and TIR above pump's.
"""

import json
import os
import time

from tools import ROOT
from tools.bench import progress

TARGETS = {
    "loop_all_tir": (">=", 85.0),
    "loop_all_tbr70": ("<=", 2.0),
    "loop_all_tbr54": ("<=", 0.5),
    "loop_child_tbr70": ("<=", 4.0),
    "loop_unannounced_all_tbr70": ("<=", 2.0),
}


def add_arguments(parser):
    parser.add_argument("--days", type=int, default=2, help="simulated days (1-30)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--patients", default="", help="comma-separated (default all 30)")
    parser.add_argument("--jobs", type=int, default=0, help="worker processes (default cores)")
    parser.add_argument("--no-vm", action="store_true", help="skip the MicroPython cost")


def bench(args, parser):
    from tools.sim import cohort, patients

    if not 1 <= args.days <= 30:
        parser.error("--days must be 1 to 30")
    names = tuple(n.strip() for n in args.patients.split(",") if n.strip()) or patients.PATIENTS
    for name in names:
        if name not in patients.PATIENTS:
            parser.error("--patients: unknown %r" % name)
    meals = cohort.parse_meals(cohort.MEALS)
    runs = (("announced", 1.0, ("pump", "loop", "simglucose-bb")),
            ("unannounced", 0.0, ("pump", "loop")))
    out = {"days": args.days, "seed": args.seed, "meals": cohort.MEALS, "patients": len(names),
           "groups": {}, "wall_s": {}}
    for label, announce, controllers in runs:
        for controller in controllers:
            started = time.perf_counter()
            key = "%s/%s" % (label, controller)
            progress.phase(key + ":", len(names), "patients")
            result = cohort.run_cohort(controller, args.days, meals, announce, 0.0, args.seed,
                                       names, args.jobs or None, _patient_done)
            out["wall_s"][key] = round(time.perf_counter() - started, 1)
            out["groups"][key] = cohort._rounded(result)["groups"]
    out["side_by_side"] = side_by_side(out["groups"])
    out["targets"] = check_targets(out["groups"])
    if not args.no_vm:
        out["vm_decision"] = vm_figures()
    return out


def _patient_done(controller, done, total):
    progress.at(done)


def side_by_side(groups):
    """One line per run and group: TIR / <70 / <54 / >180 / insulin U."""
    lines = ["%-28s %-10s %6s %6s %6s %6s %8s" % ("run", "group", "TIR", "<70", "<54", ">180",
                                                 "insulin")]
    for key in groups:
        for group in ("adolescent", "adult", "child", "all"):
            m = groups[key].get(group)
            if m:
                lines.append("%-28s %-10s %6.1f %6.2f %6.2f %6.1f %8.1f" % (
                    key, group, m["tir"], m["tbr70"], m["tbr54"], m["tar180"], m["insulin_u"]))
    return lines


def check_targets(groups):
    loop = groups.get("announced/loop", {})
    un_loop = groups.get("unannounced/loop", {})
    un_pump = groups.get("unannounced/pump", {})
    measured = {
        "loop_all_tir": loop.get("all", {}).get("tir"),
        "loop_all_tbr70": loop.get("all", {}).get("tbr70"),
        "loop_all_tbr54": loop.get("all", {}).get("tbr54"),
        "loop_child_tbr70": loop.get("child", {}).get("tbr70"),
        "loop_unannounced_all_tbr70": un_loop.get("all", {}).get("tbr70"),
    }
    out = {}
    for key, (op, limit) in TARGETS.items():
        value = measured[key]
        met = value is not None and (value >= limit if op == ">=" else value <= limit)
        out[key] = {"target": "%s %s" % (op, limit), "measured": value, "met": met}
    if un_loop.get("all") and un_pump.get("all"):
        value, pump = un_loop["all"]["tir"], un_pump["all"]["tir"]
        out["loop_unannounced_tir_beats_pump"] = {"target": "> pump %.2f" % pump,
                                                  "measured": value, "met": value > pump}
    return out


def vm_figures():
    from tools.mpvm import run_micropython

    progress.phase("MicroPython VM (one loop decision)")
    text = run_micropython(os.path.join(ROOT, "tools", "bench", "loop_vm.py"),
                           waiting=progress.tick,
                           lib_dirs=(os.path.join(ROOT, "firmware", "basalt"),
                                     os.path.join(ROOT, "tools", "bench")))
    result = json.loads(text.strip().splitlines()[-1])
    if not result.pop("control_bytes") > 0:
        raise RuntimeError("the allocation probe saw no allocation: the method is broken")
    return result
