"""The virtual patient's cost inside the MicroPython VM (what the browser page runs).

python -m tools.bench vpatient [--json] [--patients N] [--hours H]

vm_s_per_day        the VM's own time (time.ticks_ms around the stepping) per simulated
                    patient-day: the model (RK4, one step a minute) and the Dexcom CGM,
                    on the default meals with each patient's basal and meal boluses
vm_times_real_time  86400 / vm_s_per_day; the page needs at least 600
patient_days        how many patient-days were timed (the first N of the 30 patients)
"""

from tools.bench import progress
from tools.sim import cohort, patient_compare, patients


def add_arguments(parser):
    parser.add_argument("--patients", type=int, default=30, help="how many patients (1-30)")
    parser.add_argument("--hours", type=int, default=24, help="simulated hours each (1-168)")


def bench(args, parser):
    if not 1 <= args.patients <= 30:
        parser.error("--patients must be 1 to 30, got %d" % args.patients)
    if not 1 <= args.hours <= 168:
        parser.error("--hours must be 1 to 168, got %d" % args.hours)
    meals = cohort.parse_meals(cohort.MEALS)
    specs = [patient_compare.plan_for(name, meals, "auto", "auto", args.hours)
             for name in patients.PATIENTS[:args.patients]]
    progress.phase("MicroPython VM (%d patients x %d h)" % (args.patients, args.hours))
    _, vm_ms = patient_compare.vm_traces(specs, args.hours * 60, 1, waiting=progress.tick)
    days = args.patients * args.hours / 24
    per_day = vm_ms / 1000 / days
    return {
        "vm_s_per_day": round(per_day, 3),
        "vm_times_real_time": int(86400 / per_day) if per_day else None,
        "patient_days": days,
        "targets": {"vm_times_real_time": ">= 600 (a day in < 144 s)"},
    }
