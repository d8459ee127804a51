"""Calculator benchmark: the insulin model against docs/references.md, and IOB cost in the VM.

model_max_deviation   largest |iob(t) - check value| of the exponential formula (floats)
                      over docs/references.md's check values (peak 75 min, duration 6 h)
table_max_deviation   the same for the integer table the tracker evaluates
iob_bytes_per_call    bytes allocated per IOB call over 48 h of history, in MicroPython
iob_us_per_call       time per net-IOB call over 48 h of history in the MicroPython VM
                      (WebAssembly under node on this host; a board is slower)
"""

import json
import os
import time

from basalt.core.insulin import ONE, InsulinModel, iob_fraction
from tools import ROOT
from tools.bench import progress

# docs/references.md: iob for peak 75 min, duration 360 min, at these minutes.
CHECK_VALUES = ((30, 0.9295), (60, 0.7793), (120, 0.4498), (180, 0.2082), (240, 0.0727),
                (300, 0.0139))


def deviations():
    model = InsulinModel(75, 360)
    formula = {t: abs(iob_fraction(t, 75, 360) - v) for t, v in CHECK_VALUES}
    table = {t: abs(model.left(t * 60_000) / ONE - v) for t, v in CHECK_VALUES}
    return formula, table


def vm_figures():
    from tools.mpvm import run_micropython

    progress.phase("MicroPython VM (IOB cost over 48 h of history)")
    out = run_micropython(os.path.join(ROOT, "tools", "bench", "iob_vm.py"),
                          waiting=progress.tick,
                          lib_dirs=(os.path.join(ROOT, "firmware", "basalt"),
                                    os.path.join(ROOT, "boards"),
                                    os.path.join(ROOT, "tools", "bench")))
    result = json.loads(out.strip().splitlines()[-1])
    if not result.pop("control_bytes") > 0:
        raise RuntimeError("the allocation probe saw no allocation: the method is broken")
    return result


def cpython_us_per_call(calls=2_000):
    from tools.bench.iob_history import history_48h

    progress.phase("CPython IOB cost")
    iob = history_48h(360)
    now = 48 * 3_600_000
    started = time.perf_counter()
    for i in range(calls):
        iob.iob_mu(now + i * 1_000)
    return (time.perf_counter() - started) / calls * 1e6


def run():
    formula, table = deviations()
    vm = vm_figures()
    iob_calls = {k: v for k, v in vm.items() if k.startswith(("iob_mu", "bolus_iob_mu"))}
    return {
        "model_max_deviation": round(max(formula.values()), 7),
        "model_deviation_by_minute": {str(t): round(d, 7) for t, d in sorted(formula.items())},
        "table_max_deviation": round(max(table.values()), 7),
        "iob_bytes_per_call": max(v["bytes"] for v in iob_calls.values()),
        "iob_us_per_call": vm["iob_mu_360"]["us"],
        "iob_us_per_call_8h_duration": vm["iob_mu_480"]["us"],
        "tick_with_iob_feed_bytes": vm["engine_tick_plus_iob_feed"]["bytes"],
        "vm_detail": vm,
        "cpython_iob_us_per_call": round(cpython_us_per_call(), 1),
        "history": "48 h: basal off schedule every minute, a 4 U bolus every 3 h",
        "targets": {"model_max_deviation": "<= 0.001", "iob_bytes_per_call": "0"},
    }


def add_arguments(parser):
    """No options: the check values and the 48 h history are fixed."""


def bench(args, parser):
    return run()
