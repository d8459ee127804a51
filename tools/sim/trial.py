"""An in-silico trial: controllers x scenarios x settings x patients x seeds, on Dask.

    python -m tools.sim trial --matrix FILE.json --out DIR [--workers N]
        [--scheduler tcp://HOST:PORT] [--fresh]

FILE.json names the matrix (every key but controllers and scenarios optional):

    {"controllers": ["pump", "loop", "oref0", "oref1"],
     "scenarios": ["announced", "unannounced"],     tools/sim/scenarios/NAME.json
     "patients": "all",          or ["adult#001", ...] or ["child", ...] (whole groups)
     "days": 2, "seeds": [1],
     "settings": {"default": {}, "low_target": {"target_mg_dl": [["00:00", 100, 120]]}}}

Each cell (one patient under one controller, scenario, settings variant and seed) is
one task on the cluster: a LocalCluster with one single-threaded worker process per
core by default, or an existing scheduler with --scheduler (its workers need this
repository importable, firmware/ on PYTHONPATH, and node for oref0/oref1). Results
are streamed as cells finish, one JSON line each, to DIR/cells.jsonl; a rerun with the
same DIR skips the cells already there (--fresh starts over). Then DIR gets
trial.json (per scenario, controller and group), trial.csv (one row per cell),
table.txt, agp_SCENARIO.png (the ambulatory glucose profile of each controller) and
tir.png (stacked time-in-ranges bars).
"""

import argparse
import json
import os
import sys
import time

from tools.sim import cohort, patients, scenarios

GROUPS = ("adolescent", "adult", "child", "all")
SUMMARY = ("tir", "tbr70", "tbr54", "tar180", "mean", "cv", "insulin_u")
KEYS = ("controllers", "scenarios", "patients", "days", "seeds", "settings", "comment")


# ----- the matrix ---------------------------------------------------------------------------


def _fail(key, value, allowed):
    raise ValueError("matrix %s: %r is not allowed; allowed: %s" % (key, value, allowed))


def load_matrix(path):
    with open(path) as handle:
        try:
            raw = json.load(handle)
        except ValueError as error:
            raise ValueError("%s: not JSON: %s" % (path, error))
    return check_matrix(raw)


def check_matrix(raw):
    """The matrix with every key checked and defaults filled in."""
    if not isinstance(raw, dict):
        _fail("", raw, "a table")
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        _fail(unknown[0], raw[unknown[0]], "keys " + ", ".join(KEYS))
    controllers = raw.get("controllers")
    if not isinstance(controllers, list) or not controllers or \
            any(c not in cohort.CONTROLLERS for c in controllers):
        _fail("controllers", controllers, "a list of " + ", ".join(sorted(cohort.CONTROLLERS)))
    names = raw.get("scenarios")
    if not isinstance(names, list) or not names:
        _fail("scenarios", names, "a list of " + ", ".join(scenarios.names()))
    matrix = {"controllers": controllers,
              "scenarios": {name: scenarios.load(name) for name in names},
              "patients": _patients(raw.get("patients", "all")),
              "days": raw.get("days", 2), "seeds": raw.get("seeds", [1]),
              "settings": raw.get("settings", {"default": {}})}
    if not isinstance(matrix["days"], int) or not 1 <= matrix["days"] <= 30:
        _fail("days", matrix["days"], "1 to 30")
    seeds = matrix["seeds"]
    if not isinstance(seeds, list) or not seeds or \
            any(not isinstance(s, int) or isinstance(s, bool) for s in seeds):
        _fail("seeds", seeds, "a list of whole numbers")
    settings = matrix["settings"]
    if not isinstance(settings, dict) or not settings or \
            any(not isinstance(v, dict) for v in settings.values()):
        _fail("settings", settings, "a table of name: settings overrides")
    for name, overrides in settings.items():
        for patient in matrix["patients"][:1]:
            try:  # the overrides must give valid settings (checked once, up front)
                from tools.sim.controllers import basalt_settings

                basalt_settings(patients.settings_for(patient), "closed", overrides)
            except Exception as error:
                raise ValueError("matrix settings.%s: %s" % (name, error))
    return matrix


def _patients(value):
    if value == "all":
        return list(patients.PATIENTS)
    if not isinstance(value, list) or not value:
        _fail("patients", value, '"all" or a list of names or groups')
    names = []
    for item in value:
        if item in patients.GROUPS:
            names += [p for p in patients.PATIENTS if patients.group_of(p) == item]
        elif item in patients.PATIENTS:
            names.append(item)
        else:
            _fail("patients", item, "adolescent, adult, child or a name such as adult#001")
    return sorted(set(names), key=patients.PATIENTS.index)


def cells(matrix):
    """Every cell of the matrix, as plain data (what a worker needs to run it)."""
    out = []
    for scenario_name, scenario in matrix["scenarios"].items():
        for controller in matrix["controllers"]:
            for settings_name, overrides in matrix["settings"].items():
                for seed in matrix["seeds"]:
                    for name in matrix["patients"]:
                        out.append({"scenario": scenario_name, "controller": controller,
                                    "settings": settings_name, "seed": seed,
                                    "patient": name, "days": matrix["days"],
                                    "_scenario": scenario, "_overrides": overrides})
    return out


def cell_key(cell):
    return "%(scenario)s/%(controller)s/%(settings)s/%(seed)s/%(patient)s/%(days)s" % cell


def run_cell(cell):
    """One cell on a worker: its metrics, errors, refusals, glucose, cost."""
    started = time.perf_counter()
    result = cohort.run_cell(cell["patient"], cell["controller"], cell["days"],
                             cell["_scenario"], cell["seed"], cell["_overrides"] or None)
    out = {k: v for k, v in cell.items() if not k.startswith("_")}
    out.update(result)
    out["key"] = cell_key(cell)
    out["wall_s"] = round(time.perf_counter() - started, 2)
    return out


# ----- running on the cluster ----------------------------------------------------------------


def read_done(path):
    """{key: result} of a results file (a line cut short by a crash is ignored)."""
    done = {}
    if os.path.exists(path):
        with open(path) as handle:
            for line in handle:
                try:
                    result = json.loads(line)
                except ValueError:
                    continue
                done[result["key"]] = result
    return done


def _cluster(workers, scheduler):
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=40)
    return Client(cluster), cluster


# The controllers ranked by the CPU time of a 2-day cell (measured, idle, one job: oref1
# 17.5 s, oref0 13.2 s, loop 4.0 s, pump 3.5 s): the slowest go first, so the workers
# finish together instead of one waiting on a last oref1 cell.
CELL_COST = {"oref1": 4, "oref0": 3, "loop": 2, "pump": 1}


def _balanced(cell):
    """Submission order: the costliest controllers first (CELL_COST); within each,
    patient by patient, the groups interleaved (adolescent#001, adult#001, child#001,
    adolescent#002, ...), every scenario for each; so a run stopped early has the same
    patients in every scenario of the controllers it has finished."""
    name = cell["patient"]
    return (-CELL_COST.get(cell["controller"], 0), int(name.split("#")[1]),
            patients.GROUPS.index(patients.group_of(name)), cell["seed"], name,
            cell["scenario"], cell["controller"], cell["settings"])


def run(matrix, results_path, workers=None, scheduler=None, progress=True, fresh=False,
        on_result=None):
    """Run the cells not yet in results_path; returns ({key: result} of every cell, the
    wall seconds of this run, how many cells it ran). on_result(cells done, cells in
    all) after each cell (the bench's progress lines)."""
    from distributed import as_completed
    from tqdm import tqdm

    todo = cells(matrix)
    if fresh and os.path.exists(results_path):
        os.remove(results_path)
    done = read_done(results_path)
    wanted = {cell_key(c) for c in todo}
    done = {k: v for k, v in done.items() if k in wanted}
    pending = sorted((c for c in todo if cell_key(c) not in done), key=_balanced)
    started = time.perf_counter()
    if pending:
        workers = workers or os.cpu_count() or 1
        client, cluster = _cluster(workers, scheduler)
        bar = tqdm(total=len(todo) * matrix["days"], initial=len(done) * matrix["days"],
                   unit="patient-day", disable=not progress, file=sys.stderr,
                   dynamic_ncols=True, smoothing=0.1)
        try:
            futures = client.map(run_cell, pending, pure=False)
            with open(results_path, "a") as handle:
                for future in as_completed(futures):
                    result = future.result()
                    handle.write(json.dumps(result, sort_keys=True) + "\n")
                    handle.flush()  # streamed: a crash keeps every finished cell
                    done[result["key"]] = result
                    bar.update(result["days"])
                    bar.set_postfix_str("%s %s" % (result["controller"], result["patient"]))
                    if on_result is not None:
                        on_result(len(done), len(todo))
        finally:
            bar.close()
            client.close()
            if cluster is not None:
                cluster.close()
    return done, time.perf_counter() - started, len(pending)


# ----- summaries --------------------------------------------------------------------------------


def label(result):
    """The controller column: the controller, and the settings variant when not default."""
    if result["settings"] == "default":
        return result["controller"]
    return "%s+%s" % (result["controller"], result["settings"])


def summarize(done):
    """{"results": {scenario: {controller: {group: metrics}}}, "errors", "refused",
    "decisions": per controller, "cost": per controller (wall s per patient-day)}."""
    rows = {}
    for result in done.values():
        scenario, controller = result["scenario"], label(result)
        group = patients.group_of(result["patient"])
        for g in (group, "all"):
            rows.setdefault(scenario, {}).setdefault(controller, {}).setdefault(g, []).append(
                result["metrics"])
    results = {s: {c: {g: {k: round(sum(m[k] for m in ms) / len(ms), 2) for k in SUMMARY}
                       for g, ms in by_group.items()}
                   for c, by_group in by_controller.items()}
               for s, by_controller in rows.items()}
    totals = {}
    for result in done.values():
        entry = totals.setdefault(label(result), {"errors": 0, "refused": 0, "decisions": 0,
                                                  "wall_s": 0.0, "patient_days": 0})
        entry["errors"] += result["errors"]
        entry["refused"] += result["refused"]
        entry["decisions"] += result["decisions"] or 0
        entry["wall_s"] += result["wall_s"]
        entry["patient_days"] += result["days"]
    return {"results": results,
            "errors": {c: t["errors"] for c, t in totals.items()},
            "refused": {c: t["refused"] for c, t in totals.items()},
            "decisions": {c: t["decisions"] for c, t in totals.items()},
            "cell_s_per_patient_day": {c: round(t["wall_s"] / t["patient_days"], 2)
                                       for c, t in totals.items()}}


def table(results):
    lines = ["%-13s %-16s %-11s %6s %6s %6s %6s %6s %5s %5s %8s" % (
        "scenario", "controller", "group", "TIR", "<70", "<54", ">180", "mean", "CV", "GMI",
        "insulin")]
    for scenario in results:
        for controller in results[scenario]:
            for group in GROUPS:
                m = results[scenario][controller].get(group)
                if m:
                    lines.append("%-13s %-16s %-11s %6.1f %6.2f %6.2f %6.1f %6.0f %5.1f %5.1f "
                                 "%8.1f" % (scenario, controller, group, m["tir"], m["tbr70"],
                                            m["tbr54"], m["tar180"], m["mean"], m["cv"],
                                            gmi(m["mean"]), m["insulin_u"]))
    return "\n".join(lines)


def gmi(mean_mg_dl):
    """Glucose management indicator, % (Bergenstal 2018): 3.31 + 0.02392 x mean mg/dL."""
    return 3.31 + 0.02392 * mean_mg_dl


CSV_FIELDS = ("scenario", "controller", "settings", "seed", "patient", "days", "tir",
              "tbr70", "tbr54", "tar180", "tar250", "mean", "cv", "gmi", "insulin_u",
              "errors", "refused", "decisions", "wall_s")


def write_csv(done, path):
    import csv

    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for key in sorted(done):
            result = done[key]
            row = {k: result.get(k) for k in CSV_FIELDS}
            row.update({k: round(v, 3) for k, v in result["metrics"].items()})
            row["gmi"] = round(gmi(result["metrics"]["mean"]), 2)
            writer.writerow(row)


def report(done, out, wall_s):
    """Every output file of a trial in `out`; returns the summary written to trial.json."""
    from tools.sim import trial_plots

    os.makedirs(out, exist_ok=True)
    summary = summarize(done)
    summary["wall_s"] = round(wall_s, 1)
    summary["cells"] = len(done)
    with open(os.path.join(out, "trial.json"), "w") as handle:
        json.dump(summary, handle, indent=1, sort_keys=True)
    write_csv(done, os.path.join(out, "trial.csv"))
    with open(os.path.join(out, "table.txt"), "w") as handle:
        handle.write(table(summary["results"]) + "\n")
    written = ["trial.json", "trial.csv", "table.txt"]
    written += trial_plots.agp_pngs(done, out, label)
    written.append(trial_plots.tir_png(done, os.path.join(out, "tir.png"), label))
    summary["written"] = [os.path.join(out, os.path.basename(w)) for w in written]
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.sim trial",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--matrix", required=True, help="the matrix JSON file")
    parser.add_argument("--out", required=True, help="folder for the results and report")
    parser.add_argument("--workers", type=int, default=0,
                        help="LocalCluster worker processes (default: one per core)")
    parser.add_argument("--scheduler", default="", help="tcp://HOST:PORT of a running Dask "
                        "scheduler to use instead of a LocalCluster")
    parser.add_argument("--fresh", action="store_true",
                        help="start over (default: skip the cells already in OUT/cells.jsonl)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        if args.workers < 0:
            raise ValueError("--workers must be 1 or more (0: one per core)")
        matrix = load_matrix(args.matrix)
    except (OSError, ValueError) as error:
        print("error: %s" % error, file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    done, wall, ran = run(matrix, os.path.join(args.out, "cells.jsonl"), args.workers or None,
                          args.scheduler or None, not args.no_progress, args.fresh)
    summary = report(done, args.out, wall)
    print(table(summary["results"]))
    print()
    print("cells: %d (%d run now, %d from the results file); %.1f s" % (
        len(done), ran, len(done) - ran, wall))
    print("bridge errors: %s; refused commands: %s" % (
        json.dumps(summary["errors"], sort_keys=True),
        json.dumps(summary["refused"], sort_keys=True)))
    for path in summary["written"]:
        print("wrote %s" % path)
    return 0
