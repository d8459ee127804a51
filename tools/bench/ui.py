"""UI: bytes allocated per redraw in MicroPython, and the million-event random walk.

    python -m tools.bench ui [--json] [--events 1000000] [--seed 1]

home_redraw_bytes          bytes allocated per home-screen redraw inside MicroPython
                           (framebuf canvas, the view's numbers changing every redraw;
                           gc disabled, mem_alloc deltas over 500 redraws)
home_no_cgm_redraw_bytes   the same without CGM, IOB, temp basal, bolus or alarms
bolus_entry_redraw_bytes   the bolus amount screen (number entry)
control_tuple_bytes        a draw that builds one tuple: proves allocations are seen
walk_*                     the random walk (tools/screens/walk.py) on 4-key and 3-key
                           boards: key events, doses confirmed and started, violations
                           (a violation stops the walk and is reported)
host_redraw_ms             one home redraw into the host renderer (CPython)
"""

import json
import time

from tools import ROOT
from tools.bench import progress
from tools.mpvm import run_micropython
from tools.screens import walk


def add_arguments(parser):
    parser.add_argument("--events", type=int, default=1_000_000,
                        help="random-walk key events per board (4 and 3 keys)")
    parser.add_argument("--seed", type=int, default=1)


def allocations():
    progress.phase("MicroPython VM (redraw allocations)")
    out = run_micropython(f"{ROOT}/tools/bench/ui_alloc_vm.py", waiting=progress.tick,
                          lib_dirs=[f"{ROOT}/firmware/basalt", f"{ROOT}/tools/screens"])
    return json.loads(out.strip().splitlines()[-1])


def walks(events, seed):
    result = {}
    for keys in (4, 3):
        started = time.perf_counter()
        progress.phase("random walk, %d keys:" % keys, events, "key events")
        try:
            counts = walk.walk(events, seed=seed, keys=keys, progress=progress.at)
            counts["violations"] = 0
        except walk.WalkViolation as violation:
            counts = {"violations": 1, "first_violation": str(violation)}
        counts["seconds"] = round(time.perf_counter() - started, 1)
        for key, value in counts.items():
            result["walk_%dkeys_%s" % (keys, key)] = value
    return result


def host_redraw_ms():
    from basalt.core.ui.paint import Painter
    from tools.screens.reference import full_view, menu_for, new_canvas

    view = full_view()
    menu = menu_for(view)
    painter = Painter(new_canvas())
    started = time.perf_counter()
    for _ in range(50):
        menu.draw(painter, view)
    return round((time.perf_counter() - started) * 1000 / 50, 2)


def run(events, seed):
    result = allocations()
    result["host_redraw_ms"] = host_redraw_ms()
    result.update(walks(events, seed))
    return result


def bench(args, parser):
    if args.events < 1:
        parser.error("--events must be at least 1")
    return run(args.events, args.seed)
