"""Cohort runs: every virtual patient, minute by minute, under one controller.

    python -m tools.sim cohort --controller {pump,loop,oref0,oref1,simglucose-bb} --days N
        --meals "7:00=45,12:00=70,18:00=80,22:00=15" --announce {all,none,FRACTION}
        --carb-error PCT [--scenario NAME] --seed N [--patients NAMES] [--jobs N] --json

pump and loop are Basalt's PumpApp (tools/sim/controllers.py); oref0 and oref1 are
OpenAPS deciding for the same PumpApp (tools/sim/oref.py). --scenario takes the meals,
the user's behaviour and what happens to the patient and the sensor from a file of the
scenario library (tools/sim/scenarios.py); the JSON then counts the controller's bridge
errors and refused commands.

A controller sees what a pump would see: a CGM reading every sensor sample (3 min for
the Dexcom model), and a meal announcement (grams, with the user's counting error) at
the minute the meal starts, if the meal is announced. It answers with the insulin
infused in each minute. Outcomes come from the patient's true glucose every minute.
"""

import argparse
import json
import math
import os
import sys
import time

from tools.sim import patients

MEALS = "7:00=45,12:00=70,18:00=80,22:00=15"
METRICS = ("tir", "tbr70", "tbr54", "tar180", "tar250", "mean", "cv", "insulin_u")


# ----- meals -------------------------------------------------------------------------


def parse_meals(text):
    """'7:00=45,12:00=70' -> [(420, 45.0), (720, 70.0)] (minute of the day, grams)."""
    return parse_timed(text, "--meals", "GRAMS", "grams", 400)


def parse_timed(text, option, unit, what, most):
    """'H:MM=AMOUNT,...' -> sorted [(minute of the day, amount)], 0 < amount <= most."""
    items = []
    for item in text.split(","):
        clock, sep, amount = item.strip().partition("=")
        hours, colon, minutes = clock.partition(":")
        try:
            minute = int(hours) * 60 + int(minutes)
            amount = float(amount)
        except ValueError:
            raise ValueError("%s: %r is not HH:MM=%s" % (option, item.strip(), unit))
        if not (sep and colon and 0 <= int(hours) < 24 and 0 <= int(minutes) < 60):
            raise ValueError("%s: %r is not HH:MM=%s with a time 0:00-23:59" % (
                option, item, unit))
        if not 0 < amount <= most or math.isnan(amount):
            raise ValueError("%s: %r: %s must be above 0 and at most %g" % (
                option, item, what, most))
        items.append((minute, amount))
    return sorted(items)


def parse_announce(text):
    """'all' -> 1.0, 'none' -> 0.0, or a fraction 0-1 of meals the user announces."""
    return parse_word_or_number(text, "--announce", {"all": 1.0, "none": 0.0}, 0.0, 1.0,
                                "all, none or a fraction 0-1")


def parse_word_or_number(text, option, words, low, high, expected):
    """words[text] if text is one of them, else a number low-high (else ValueError)."""
    if text in words:
        return words[text]
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        raise ValueError("%s: %r is not %s" % (option, text, expected))
    return value


def parse_patients(text):
    """'' or 'all' -> all 30 names; else the comma-separated names, each one known."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names or names == ("all",):
        return patients.PATIENTS
    for name in names:
        if name not in patients.PATIENTS:
            raise ValueError("--patients: unknown %r; known: adolescent#001-010, "
                             "adult#001-010, child#001-010" % name)
    return names


def meal_plan(meals, days, announce, carb_error_pct, rng):
    """{minute: (grams eaten, grams announced or None)} over the whole run."""
    plan = {}
    for day in range(days):
        for minute, grams in meals:
            announced = None
            if rng.random() < announce:
                error = rng.uniform(-carb_error_pct, carb_error_pct) / 100
                announced = max(0.0, round(grams * (1 + error)))
            plan[day * 1440 + minute] = (grams, announced)
    return plan


# ----- controllers ---------------------------------------------------------------------


class SimglucoseBB:
    """simglucose's own basal-bolus controller, with the timing of its simulation engine.

    Every sensor sample it sets basal = u2ss * BW / 6000 U/min, and when a meal was
    eaten in the last sample it boluses carbs / CR + (CGM > 150) * (CGM - 140) / CF,
    spread over the next sample, through simglucose's Insulet pump rounding
    (0.05 pmol/min steps). The CGM it sees is the sample-average the engine reports.
    """

    name = "simglucose-bb"
    TARGET = 140

    def __init__(self, settings, sample_min):
        self.settings = settings
        self.sample_min = sample_min
        self.basal_u_min = settings.basal_u_h / 60
        self._cgm_minutes = []
        self._announced = 0.0
        self._rate_u_min = _insulet(self.basal_u_min)

    def minute(self, minute, cgm, announced_g):
        if minute % self.sample_min == 0 and minute > 0:
            observed = sum(self._cgm_minutes[-self.sample_min:]) / self.sample_min
            bolus = 0.0
            if self._announced > 0:
                bolus = self._announced / self.settings.carb_ratio_g_u
                if observed > 150:
                    bolus += (observed - self.TARGET) / self.settings.isf_mg_dl_u
            self._announced = 0.0
            self._rate_u_min = _insulet(self.basal_u_min) + _insulet(bolus / self.sample_min)
        if announced_g:
            self._announced += announced_g
        return self._rate_u_min

    def activity(self, minute, kind, minutes):
        """simglucose's controller has no activity mode."""

    def after_step(self, cgm):
        self._cgm_minutes.append(cgm)
        del self._cgm_minutes[:-self.sample_min]


def _insulet(u_min):
    """simglucose's InsulinPump('Insulet') rounding: 0.05 pmol/min steps, 0-30 U/min."""
    pmol = round(u_min * 6000 / 0.05) * 0.05
    return min(max(pmol / 6000, 0.0), 30.0)


def _controllers():
    from tools.sim.controllers import BasaltLoop, BasaltPump
    from tools.sim.oref import Oref0, Oref1

    return {c.name: c for c in (SimglucoseBB, BasaltPump, BasaltLoop, Oref0, Oref1)}


CONTROLLERS = _controllers()


# ----- one patient -------------------------------------------------------------------------


def run_patient(job):
    """Run one patient; returns (name, metrics with the run's errors and refusals)."""
    name, controller_name, days, scenario, seed = job
    cell = run_cell(name, controller_name, days, scenario, seed)
    return name, dict(cell["metrics"], errors=cell["errors"], refused=cell["refused"])


def run_cell(name, controller_name, days, scenario, seed, overrides=None):
    """One patient under one controller in one scenario: metrics, the controller's bridge
    errors, refused commands and decisions, and true glucose every 5 minutes."""
    from tools.sim import scenarios

    world = scenarios.world(scenario, days, seed, name)
    trace = simulate(name, controller_name, days * 1440, None, seed, world, overrides)
    controller = trace["controller"]
    return {"metrics": outcome(trace["glucose"], sum(trace["insulin_u"])),
            "errors": len(getattr(controller, "errors", ())),
            "refused": len(getattr(controller, "refused", ())),
            "decisions": getattr(controller, "decisions", None),
            "glucose_5min": [round(g, 1) for g in trace["glucose"][::5]]}


def simulate(name, controller_name, minutes, plan, seed, world=None, overrides=None):
    """Minute-by-minute traces: true glucose (before each minute), CGM seen, insulin
    delivered. world (tools.sim.scenarios.World): the scenario's user actions, insulin
    sensitivity, site absorption and sensor faults; its meal plan replaces `plan`."""
    patient = patients.VirtualPatient(name, sensor_seed=seed)
    settings = patients.settings_for(name)
    kind = CONTROLLERS[controller_name]
    controller = kind(settings, patient.sample_min, overrides=overrides) if overrides \
        else kind(settings, patient.sample_min)
    if world is not None:
        plan = world.plan
        base = patient.insulin_action()
    trace = {"glucose": [], "cgm": [], "insulin_u": []}
    cgm = patient.cgm()
    for minute in range(minutes):
        eaten, announced = plan.get(minute, (0.0, None))
        trace["glucose"].append(patient.glucose())
        seen = cgm
        absorbed = 1.0
        if world is not None:
            seen = world.cgm(minute, cgm)
            for kind, length in world.actions.get(minute, ()):
                controller.activity(minute, kind, length)
            patient.set_insulin_action(base, world.insulin_factor(minute))
            absorbed = world.absorbed(minute)
        trace["cgm"].append(seen)
        insulin_u = controller.minute(minute, seen, announced)
        patient.step(insulin_u * absorbed, eaten)
        trace["insulin_u"].append(insulin_u)
        cgm = patient.cgm()
        controller.after_step(cgm)
    trace["controller"] = controller
    return trace


def outcome(glucose, insulin_u):
    n = len(glucose)
    mean = sum(glucose) / n
    sd = math.sqrt(sum((g - mean) ** 2 for g in glucose) / n)
    return {
        "tir": 100 * sum(1 for g in glucose if 70 <= g <= 180) / n,
        "tbr70": 100 * sum(1 for g in glucose if g < 70) / n,
        "tbr54": 100 * sum(1 for g in glucose if g < 54) / n,
        "tar180": 100 * sum(1 for g in glucose if g > 180) / n,
        "tar250": 100 * sum(1 for g in glucose if g > 250) / n,
        "mean": mean,
        "cv": 100 * sd / mean,
        "insulin_u": insulin_u,
    }


# ----- the cohort ---------------------------------------------------------------------------


def run_cohort(controller, days, meals, announce, carb_error_pct, seed, names=patients.PATIENTS,
               jobs=None, progress=None, scenario=None):
    """{"patients": {name: metrics}, "groups": {group: mean metrics}, "errors": bridge
    errors, "refused": refused commands} for one controller; scenario (a checked
    tools.sim.scenarios table) replaces meals, announce and carb_error_pct."""
    if scenario is None:
        from tools.sim import scenarios

        scenario = scenarios.plain(meals, announce, carb_error_pct)
    work = [(name, controller, days, scenario, seed) for name in names]
    results = {}
    jobs = jobs or os.cpu_count() or 1
    if jobs > 1 and len(work) > 1:
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(min(jobs, len(work))) as pool:
            for name, metrics in pool.imap_unordered(run_patient, work):
                results[name] = metrics
                if progress:
                    progress(controller, len(results), len(work))
    else:
        for job in work:
            name, metrics = run_patient(job)
            results[name] = metrics
            if progress:
                progress(controller, len(results), len(work))
    return {"patients": {n: results[n] for n in names}, "groups": group_means(results),
            "errors": sum(m["errors"] for m in results.values()),
            "refused": sum(m["refused"] for m in results.values())}


def group_means(results):
    """Mean of each metric over the patients of each group, and over all of them."""
    groups = {}
    for name in sorted(results):
        for group in (patients.group_of(name), "all"):
            groups.setdefault(group, []).append(results[name])
    return {group: {key: sum(m[key] for m in rows) / len(rows) for key in METRICS}
            for group, rows in groups.items()}


def _rounded(result):
    def fix(metrics):
        return {key: round(metrics[key], 2) for key in METRICS}

    return {"patients": {n: fix(m) for n, m in result["patients"].items()},
            "groups": {g: fix(m) for g, m in result["groups"].items()},
            "errors": result["errors"], "refused": result["refused"]}


def _progress(controller, done, total):
    sys.stderr.write("\r%s: %d/%d patients" % (controller, done, total))
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.sim cohort",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--controller", required=True, choices=sorted(CONTROLLERS))
    parser.add_argument("--days", type=int, default=2, help="simulated days (1-30)")
    parser.add_argument("--meals", default=MEALS, help="daily meals HH:MM=GRAMS,...")
    parser.add_argument("--announce", default="all", help="all, none or a fraction 0-1")
    parser.add_argument("--carb-error", type=float, default=0.0,
                        help="the user's carb counting error, +/- PCT uniform (0-100)")
    parser.add_argument("--seed", type=int, default=1, help="CGM noise and meal draws")
    parser.add_argument("--patients", default="", help="comma-separated names (default all 30)")
    parser.add_argument("--jobs", type=int, default=0, help="worker processes (default: cores)")
    parser.add_argument("--scenario", default="", help="a scenario of tools/sim/scenarios "
                        "(replaces --meals, --announce and --carb-error)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    try:
        if not 1 <= args.days <= 30:
            raise ValueError("--days must be 1 to 30, got %d" % args.days)
        if not 0 <= args.carb_error <= 100:
            raise ValueError("--carb-error must be 0 to 100, got %g" % args.carb_error)
        meals = parse_meals(args.meals)
        announce = parse_announce(args.announce)
        scenario = None
        if args.scenario:
            from tools.sim import scenarios

            scenario = scenarios.load(args.scenario)
        names = parse_patients(args.patients)
    except ValueError as error:
        print("error: %s" % error, file=sys.stderr)
        return 2
    started = time.perf_counter()
    result = run_cohort(args.controller, args.days, meals, announce, args.carb_error,
                        args.seed, names, args.jobs or None, _progress, scenario)
    result = _rounded(result)
    result["controller"] = args.controller
    result["scenario"] = args.scenario or "custom"
    result["wall_s"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(result, indent=1, sort_keys=True))
    else:
        print(table(result))
    return 0


def table(result):
    lines = ["%-12s %6s %6s %6s %7s %7s %6s %5s %9s" % (
        "group", "TIR", "<70", "<54", ">180", ">250", "mean", "CV", "insulin U")]
    for group in ("adolescent", "adult", "child", "all"):
        if group in result["groups"]:
            m = result["groups"][group]
            lines.append("%-12s %6.1f %6.1f %6.1f %7.1f %7.1f %6.0f %5.1f %9.1f" % (
                group, m["tir"], m["tbr70"], m["tbr54"], m["tar180"], m["tar250"],
                m["mean"], m["cv"], m["insulin_u"]))
    return "\n".join(lines)
