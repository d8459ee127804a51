"""Runs inside the MicroPython VM: the vpatient port on a plan, traces printed.

argv[1]: JSON {"minutes": N, "seed": S, "patients": [{"name", "basal_u_min",
"events": [[minute, carbs_g, bolus_u], ...]}, ...]}, one event a minute; a
bolus is given over its minute.
For each patient prints "name ms" (the VM's time for the simulation alone), then three
lines of N + 1 values each: plasma glucose, subcutaneous glucose and CGM, read before
the first minute and after each one.
"""

import json
import sys
import time

from vpatient.cgm import CGM
from vpatient.patient import Patient


def run(spec, minutes, seed):
    patient = Patient(spec["name"])
    sensor = CGM(seed)
    events = {minute: (carbs, bolus) for minute, carbs, bolus in spec["events"]}
    basal = spec["basal_u_min"]
    plasma, sc, cgm = [patient.glucose_mg_dl], [patient.sc_glucose_mg_dl], []
    cgm.append(sensor.measure(patient))
    started = time.ticks_ms()
    for minute in range(minutes):
        carbs, bolus = events.get(minute, (0.0, 0.0))
        patient.step(1, carbs, basal + bolus)
        plasma.append(patient.glucose_mg_dl)
        sc.append(patient.sc_glucose_mg_dl)
        cgm.append(sensor.measure(patient))
    return time.ticks_diff(time.ticks_ms(), started), (plasma, sc, cgm)


def main():
    plan = json.loads(sys.argv[1])
    for spec in plan["patients"]:
        ms, traces = run(spec, plan["minutes"], plan["seed"])
        print(spec["name"], ms)
        for trace in traces:
            print(" ".join("%.4f" % v for v in trace))


main()
