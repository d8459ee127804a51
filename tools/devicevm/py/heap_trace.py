# The live heap of the device VM, exact between calls from JavaScript (MicroPython only).
#
# This WebAssembly build collects garbage only when the outermost call from JavaScript
# returns (ports/webassembly/main.c: its gc_collect() sets a flag, gc_collect_top_level()
# collects with no Python frame live), so a story traced here runs in chunks, each in
# its own js.setImmediate callback that ends by asking for a collection. At the start of
# the next callback gc.mem_alloc() is the live heap; at the end of a chunk, before the
# collection, it is the live heap plus every byte the chunk allocated (nothing is freed
# inside a call): an upper bound of the chunk's high-water mark.
#
# The heap grows instead of failing (MICROPY_GC_SPLIT_HEAP_AUTO: an allocation that finds
# no room asks for a collection, which cannot run inside Python, and adds a heap area),
# so the total (gc.mem_alloc() + gc.mem_free() less the port's 128 MiB "max new split")
# is sampled before each collection: a VM started with a board's heap that never grew
# never needed more room than that board has (at most the chunk's garbage more).

import gc
import json
import sys

import js

MAX_NEW_SPLIT = 128 * 1024 * 1024  # gc_get_max_new_split() in ports/webassembly/main.c

# Figures, kept in a list made before the first sample (tracing allocates nothing kept).
BASELINE, LIVE_MAX, BEFORE_MAX, TOTAL_START, TOTAL_MAX, LIVE, CHUNKS, MODULES = range(8)
_NAMES = ("baseline", "live_max", "before_collect_max", "total_start", "total_max",
          "live_end", "chunks")


def total():
    return gc.mem_alloc() + gc.mem_free() - MAX_NEW_SPLIT


def _print_modules():
    """The firmware modules now loaded, one line (the host sums their bytecode)."""
    names = [name for name in sys.modules if name == "basalt" or name.startswith("basalt.")]
    print("DEVICEVM-MODULES " + " ".join(names))


def run(chunks, done):
    """Run the generator `chunks` one step per callback; figs[LIVE] is the live heap at
    the start of each; then done() in a last callback. Returns the figures (a list)."""
    figs = [0] * 8
    figs[BASELINE] = -1

    def step(*_):
        live = gc.mem_alloc()  # collected as the previous callback returned
        figs[LIVE] = live
        if figs[BASELINE] < 0:
            figs[BASELINE] = live
            figs[TOTAL_START] = figs[TOTAL_MAX] = total()
        if live > figs[LIVE_MAX]:
            figs[LIVE_MAX] = live
        try:
            next(chunks)
            ended = False
        except StopIteration:
            ended = True
        before = gc.mem_alloc()
        if before > figs[BEFORE_MAX]:
            figs[BEFORE_MAX] = before
        grown = total()
        if grown > figs[TOTAL_MAX]:
            figs[TOTAL_MAX] = grown
        figs[CHUNKS] += 1
        if len(sys.modules) != figs[MODULES]:
            figs[MODULES] = len(sys.modules)
            _print_modules()
        gc.collect()  # runs when this callback returns to JavaScript
        js.setImmediate(finish if ended else step)

    def finish(*_):
        figs[LIVE] = gc.mem_alloc()
        import micropython

        print("DEVICEVM-MEMINFO")
        micropython.mem_info(1)  # the figures and each heap area's block table
        print()  # the table's last row has no line end
        print("DEVICEVM-HEAP " + json.dumps(dict(zip(_NAMES, figs))))
        done()

    gc.collect()
    js.setImmediate(step)
    return figs


def live_now(figs):
    """A {"heap": true} step's observation: the live heap when this chunk started."""
    return {"alloc": figs[LIVE], "free": total() - figs[LIVE]}
