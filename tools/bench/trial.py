"""In-silico trial: pump, loop, oref0, oref1 x scenarios x 30 patients, on Dask.

    python -m tools.bench trial --json [--days 2] [--seed 1] [--patients NAMES]
        [--scenarios announced,unannounced,carb_error] [--workers N]
        [--scheduler tcp://HOST:PORT] [--results FILE] [--speedup]

The matrix of tools.sim trial (tools/sim/trial.py) for the four controllers, the
scenarios announced, unannounced and carb_error (70 % announced, +/-25 %), 30
patients, 2 days, seed 1, on a LocalCluster with a worker per core (or --scheduler).
Prints {"results": {SCENARIO: {CONTROLLER: {GROUP: {tir, tbr70, tbr54, tar180, mean,
cv, insulin_u}}}}, "wall_s"} with, beside them, each controller's bridge errors and
refused commands, the cost per patient-day and the targets (issue 20): in every
scenario Basalt's loop has TIR at least as high as oref0's and oref1's and time below
70 and below 54 no higher; OpenAPS beats pump therapy's TIR; no bridge error; the whole
matrix in under 15 minutes. --speedup also runs the first 2 patients x 1 day of the
matrix on 1 and on 2 workers and reports the speedup. --results FILE keeps the cells
(a rerun skips those done); by default a fresh temporary file.
"""

import os
import tempfile
import time

from tools.bench import progress

CONTROLLERS = ("pump", "loop", "oref0", "oref1")
SCENARIOS = "announced,unannounced,carb_error"
WALL_TARGET_S = 15 * 60


def add_arguments(parser):
    parser.add_argument("--days", type=int, default=2, help="simulated days (1-30)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--patients", default="", help="comma-separated (default all 30)")
    parser.add_argument("--scenarios", default=SCENARIOS, help="comma-separated scenarios")
    parser.add_argument("--workers", type=int, default=0, help="LocalCluster workers "
                        "(default one per core)")
    parser.add_argument("--scheduler", default="", help="tcp://HOST:PORT of a Dask scheduler")
    parser.add_argument("--results", default="", help="cells file to keep and resume from")
    parser.add_argument("--speedup", action="store_true",
                        help="also time a small matrix on 1 and 2 workers")


def matrix_for(args, parser):
    from tools.sim import trial

    raw = {"controllers": list(CONTROLLERS), "days": args.days, "seeds": [args.seed],
           "scenarios": [s.strip() for s in args.scenarios.split(",") if s.strip()],
           "patients": [p.strip() for p in args.patients.split(",") if p.strip()] or "all"}
    try:
        return trial.check_matrix(raw)
    except ValueError as error:
        parser.error(str(error))


def bench(args, parser):
    from tools.sim import trial

    if args.workers < 0:
        parser.error("--workers must be 1 or more (0: one per core)")
    matrix = matrix_for(args, parser)
    workers = args.workers or os.cpu_count() or 1
    path = args.results or os.path.join(tempfile.mkdtemp(prefix="basalt-trial-"),
                                        "cells.jsonl")
    total = len(trial.cells(matrix))
    progress.phase("trial: %d cells on %d workers:" % (total, workers), total, "cells")
    done, wall, ran = trial.run(matrix, path, workers, args.scheduler or None, progress=False,
                                on_result=lambda n, _: progress.at(n))
    summary = trial.summarize(done)
    days = sum(r["days"] for r in done.values())
    out = {"results": summary["results"], "wall_s": round(wall, 1),
           "errors": summary["errors"], "refused": summary["refused"],
           "decisions": summary["decisions"], "patient_days": days, "cells_run": ran,
           "workers": workers, "cells_file": path,
           "cost_s_per_patient_day": round(wall * workers / days, 2) if ran == len(done)
           else None,
           "cell_s_per_patient_day": summary["cell_s_per_patient_day"]}
    out["targets"] = check_targets(summary, wall if ran == len(done) else None)
    if args.speedup:
        out["speedup"] = speedup(matrix)
    return out


def check_targets(summary, wall_s):
    """Each target with its measured figures and whether it is met."""
    results = summary["results"]
    out = {}
    for scenario, by_controller in results.items():
        loop = by_controller.get("loop", {}).get("all")
        pump = by_controller.get("pump", {}).get("all")
        for peer in ("oref0", "oref1"):
            other = by_controller.get(peer, {}).get("all")
            if loop and other:
                out["%s/loop_vs_%s" % (scenario, peer)] = {
                    "target": "loop TIR >=, <70 <=, <54 <= " + peer,
                    "measured": {"loop": [loop["tir"], loop["tbr70"], loop["tbr54"]],
                                 peer: [other["tir"], other["tbr70"], other["tbr54"]]},
                    "met": loop["tir"] >= other["tir"] and loop["tbr70"] <= other["tbr70"]
                    and loop["tbr54"] <= other["tbr54"]}
            if pump and other:
                out["%s/%s_beats_pump" % (scenario, peer)] = {
                    "target": "%s TIR > pump TIR" % peer,
                    "measured": {peer: other["tir"], "pump": pump["tir"]},
                    "met": other["tir"] > pump["tir"]}
    errors = sum(summary["errors"].values())
    out["bridge_errors"] = {"target": "0", "measured": errors, "met": errors == 0}
    out["wall_s"] = {"target": "< %d" % WALL_TARGET_S,
                     "measured": None if wall_s is None else round(wall_s, 1),
                     "met": wall_s is not None and wall_s < WALL_TARGET_S}
    return out


def speedup(matrix):
    """Wall time of the same small matrix on 1 and on 2 workers (fresh files)."""
    from tools.sim import trial

    first = next(iter(matrix["scenarios"]))
    small = dict(matrix, patients=matrix["patients"][:2], days=1,
                 scenarios={first: matrix["scenarios"][first]})
    walls = {}
    for workers in (1, 2):
        progress.phase("speedup: %d worker(s)" % workers)
        path = os.path.join(tempfile.mkdtemp(prefix="basalt-speedup-"), "cells.jsonl")
        started = time.perf_counter()
        trial.run(small, path, workers, None, progress=False,
                  on_result=lambda n, _: progress.at(n))
        walls[workers] = time.perf_counter() - started
    return {"cells": len(trial.cells(small)), "wall_s_1_worker": round(walls[1], 1),
            "wall_s_2_workers": round(walls[2], 1),
            "speedup": round(walls[1] / walls[2], 2)}
