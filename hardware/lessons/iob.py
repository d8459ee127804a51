"""Insulin on board from a simulator run: python hardware/lessons/iob.py out/lesson1/sim.csv

The exponential insulin-action model used by Loop and oref0
(docs/references.md#insulin-action), applied by hand to the insulin the simulated
pump delivered above its basal rate (the boluses).
Lesson 3 in hardware/lessons/ explains it. Benchtop teaching only.
"""

import csv
import math
import sys

TP, TD = 75.0, 360.0  # rapid-acting insulin, adult: peak 75 min, duration 6 h
tau = TP * (1 - TP / TD) / (1 - 2 * TP / TD)
a = 2 * tau / TD
S = 1 / (1 - a + (1 + a) * math.exp(-TD / tau))


def iob_fraction(t):
    """Fraction of a dose still on board t minutes after it (docs/references.md)."""
    if t <= 0:
        return 1.0
    if t >= TD:
        return 0.0
    return 1 - S * (1 - a) * ((t * t / (tau * TD * (1 - a)) - t / tau - 1)
                              * math.exp(-t / tau) + 1)


def bolus_per_minute(rows):
    """Insulin delivered above the basal rate in each minute of a sim.csv."""
    out = []
    for prev, row in zip(rows, rows[1:]):
        extra = (float(row["delivered_u"]) - float(prev["delivered_u"])
                 - float(prev["basal_u_h"]) / 60)
        out.append(max(0.0, extra))
    return out


def main(path):
    with open(path) as handle:
        rows = list(csv.DictReader(handle))
    bolus = bolus_per_minute(rows)
    print("check: %.4f at 60 min (published check value: 0.7793)" % iob_fraction(60))
    for now in range(0, len(bolus) + 1, 60):
        iob = sum(units * iob_fraction(now - minute) for minute, units in enumerate(bolus[:now]))
        print("%s  %5.2f U on board" % (rows[now]["time"], iob))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "out/lesson1/sim.csv")
