"""patient-compare: the MicroPython virtual patient (tools/vpatient) against simglucose.

    python -m tools.sim patient-compare [--patients all|NAME,...] [--meals H:MM=G,...]
        [--basal U_H|auto] [--boluses H:MM=U,...|auto|none] [--hours N] [--seed N] --json

Runs the port inside the MicroPython VM (WebAssembly, node: the code the browser page
runs; vm_s_per_day is the VM's own time per simulated patient-day) and simglucose's
T1DPatient and CGMSensor under CPython, on the same meals and insulin, and compares
them minute by minute: plasma glucose (the port's glucose_mg_dl), subcutaneous
glucose and the Dexcom CGM readings with the same seed.

auto: each patient's own basal (u2ss * BW, as the cohort's simglucose-bb controller)
and a carb-ratio bolus carbs / CR at each meal. Meals repeat daily. A bolus is infused
within its minute. Targets, for every patient: mean |difference| <= 1 mg/dL and max
<= 5 mg/dL (plasma and subcutaneous); the exit status is 1 when one is missed.
"""

import argparse
import json
import os
import random
import sys

from tools.sim import cohort, patients

MEAN_TARGET = 1.0
MAX_TARGET = 5.0
VM_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "patient_compare_vm.py")
VPATIENT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "vpatient")
CHANNELS = ("plasma", "sc", "cgm")


def plan_for(name, meals, basal, boluses, hours):
    """One patient's inputs: {"name", "basal_u_min", "events": [[minute, g, U], ...]}.

    One event per minute (a meal and a bolus in the same minute are merged)."""
    settings = patients.settings_for(name)
    days = -(-hours // 24)
    eaten = cohort.meal_plan(meals, days, 1.0, 0.0, random.Random(0))
    events = [[minute, grams, 0.0] for minute, (grams, _) in sorted(eaten.items())]
    if boluses == "auto":
        events += [[minute, 0.0, grams / settings.carb_ratio_g_u]
                   for minute, (grams, _) in sorted(eaten.items())]
    else:
        events += [[day * 1440 + minute, 0.0, units]
                   for day in range(days) for minute, units in boluses]
    merged = {}
    for minute, grams, units in events:
        if minute < hours * 60:
            before = merged.get(minute, (0.0, 0.0))
            merged[minute] = (before[0] + grams, before[1] + units)
    u_h = settings.basal_u_h if basal == "auto" else basal
    return {"name": name, "basal_u_min": u_h / 60,
            "events": [[m, g, u] for m, (g, u) in sorted(merged.items())]}


def simglucose_traces(job):
    """simglucose's plasma, subcutaneous and CGM traces for one plan (N + 1 values)."""
    spec, minutes, seed = job
    patient = patients.VirtualPatient(spec["name"], sensor_seed=seed)
    events = {minute: (carbs, bolus) for minute, carbs, bolus in spec["events"]}
    traces = ([], [], [])
    for minute in range(minutes + 1):
        for trace, value in zip(traces, (patient.plasma_glucose(), patient.glucose(),
                                         patient.cgm())):
            trace.append(value)
        if minute < minutes:
            carbs, bolus = events.get(minute, (0.0, 0.0))
            patient.step(spec["basal_u_min"] + bolus, carbs)
    return spec["name"], traces


def vm_traces(specs, minutes, seed, timeout=1800, waiting=None):
    """({name: (plasma, sc, cgm)}, VM milliseconds of simulation) from the port in the VM.

    waiting: called about once a second while the VM runs."""
    from tools.mpvm import run_micropython

    plan = json.dumps({"minutes": minutes, "seed": seed, "patients": specs})
    lines = run_micropython(VM_SCRIPT, lib_dirs=[VPATIENT], args=[plan], timeout=timeout,
                            waiting=waiting).splitlines()
    out, total_ms = {}, 0
    for i in range(0, len(lines), 4):
        name, ms = lines[i].split()
        total_ms += int(ms)
        out[name] = tuple([float(v) for v in line.split()] for line in lines[i + 1:i + 4])
    return out, total_ms


def compare(specs, minutes, seed, jobs=None):
    """simglucose in worker processes, then the port in the VM alone (so its time is its
    own), then the differences."""
    work = [(spec, minutes, seed) for spec in specs]
    jobs = jobs or os.cpu_count() or 1
    if jobs > 1 and len(work) > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(min(jobs, len(work))) as pool:
            reference = dict(pool.map(simglucose_traces, work))
    else:
        reference = dict(map(simglucose_traces, work))
    ported, vm_ms = vm_traces(specs, minutes, seed)
    return summary(reference, ported, minutes, vm_ms)


def differences(reference, ported):
    """{channel: (max, mean)} of |port - simglucose| for one patient."""
    out = {}
    for channel, ref, mine in zip(CHANNELS, reference, ported):
        errors = [abs(a - b) for a, b in zip(ref, mine)]
        out[channel] = (max(errors), sum(errors) / len(errors))
    return out


def summary(reference, ported, minutes, vm_ms):
    per_patient = {name: differences(reference[name], ported[name]) for name in reference}
    names = list(reference)

    def worst(channel, which):
        return max(per_patient[n][channel][which] for n in names)

    worst_name = max(names, key=lambda n: per_patient[n]["plasma"][0])
    days = len(names) * minutes / 1440
    vm_s_per_day = vm_ms / 1000 / days
    ok = all(worst(c, 0) <= MAX_TARGET and worst(c, 1) <= MEAN_TARGET for c in ("plasma", "sc"))
    return {
        "patients": len(names),
        "hours": minutes / 60,
        "max_abs_mg_dl": round(worst("plasma", 0), 4),
        "mean_abs_mg_dl": round(sum(per_patient[n]["plasma"][1] for n in names) / len(names), 5),
        "worst_patient_mean_abs_mg_dl": round(worst("plasma", 1), 5),
        "worst": worst_name,
        "sc_max_abs_mg_dl": round(worst("sc", 0), 4),
        "sc_mean_abs_mg_dl": round(sum(per_patient[n]["sc"][1] for n in names) / len(names), 5),
        "cgm_max_abs_mg_dl": round(worst("cgm", 0), 4),
        "within_targets": ok,
        "vm_s_per_day": round(vm_s_per_day, 3),
        "vm_times_real_time": int(86400 / vm_s_per_day) if vm_s_per_day else None,
        "per_patient": {n: {"max": round(per_patient[n]["plasma"][0], 4),
                            "mean": round(per_patient[n]["plasma"][1], 5),
                            "sc_max": round(per_patient[n]["sc"][0], 4),
                            "cgm_max": round(per_patient[n]["cgm"][0], 4)} for n in names},
    }


def parse_basal(text):
    return cohort.parse_word_or_number(text, "--basal", {"auto": "auto"}, 0.0, 10.0,
                                       "auto or U/h 0-10")


def parse_boluses(text):
    if text in ("auto", "none"):
        return "auto" if text == "auto" else []
    return cohort.parse_timed(text, "--boluses", "UNITS", "units", 30)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.sim patient-compare",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--patients", default="all", help="all or comma-separated names")
    parser.add_argument("--meals", default=cohort.MEALS, help="daily meals HH:MM=GRAMS,...")
    parser.add_argument("--basal", default="auto", help="U/h for everyone, or auto")
    parser.add_argument("--boluses", default="auto",
                        help="daily boluses HH:MM=UNITS,..., auto (carbs / CR at each "
                             "meal) or none")
    parser.add_argument("--hours", type=int, default=24, help="simulated hours (1-168)")
    parser.add_argument("--seed", type=int, default=1, help="CGM noise seed")
    parser.add_argument("--jobs", type=int, default=0, help="simglucose worker processes "
                        "(default: cores)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    try:
        if not 1 <= args.hours <= 168:
            raise ValueError("--hours must be 1 to 168, got %d" % args.hours)
        names = cohort.parse_patients(args.patients)
        meals = cohort.parse_meals(args.meals)
        basal = parse_basal(args.basal)
        boluses = parse_boluses(args.boluses)
    except ValueError as error:
        print("error: %s" % error, file=sys.stderr)
        return 2
    specs = [plan_for(name, meals, basal, boluses, args.hours) for name in names]
    result = compare(specs, args.hours * 60, args.seed, args.jobs or None)
    if args.json:
        print(json.dumps(result, indent=1, sort_keys=True))
    else:
        print(table(result))
    return 0 if result["within_targets"] else 1


def table(result):
    lines = ["%-16s %10s %10s %10s %10s" % ("patient", "max", "mean", "sc max", "cgm max")]
    for name, row in result["per_patient"].items():
        lines.append("%-16s %10.4f %10.5f %10.4f %10.4f" % (
            name, row["max"], row["mean"], row["sc_max"], row["cgm_max"]))
    lines.append("")
    for key in ("patients", "max_abs_mg_dl", "mean_abs_mg_dl", "worst", "within_targets",
                "vm_s_per_day", "vm_times_real_time"):
        lines.append("%-28s %s" % (key, result[key]))
    return "\n".join(lines)
