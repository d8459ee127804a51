"""Whole-app heap of the firmware in the VM per board: boot, peak, free block, a capped day.

    python -m tools.bench memory [--json] [--board pico_w] [--chunk-ms 500] [--detail]

For every board file with a MicroPython port (its mcu: rp2040, esp32) the firmware is
compiled by mpy-cross and run by the device VM (tools/devicevm: firmware/main.py with
the board file, fakes behind machine/bluetooth, virtual time, key events) through the
scripted day in tools/bench/memory_day.json (with tools/bench/memory_settings.json: a
bonded BLE CGM and the closed loop with automatic boluses; an hour of CGM notifications
and loop decisions, basal, boluses from the buttons, menus, the history read back,
journal writes, a power cut and recovery). The story runs in chunks of at most
--chunk-ms of firmware time, each in its own call from JavaScript: this WebAssembly VM
collects garbage only when such a call returns (tools/devicevm/py/heap_trace.py), so
the live heap read between chunks is exact. Figures, each less the VM's own baseline
(the same VM with its fakes, read before anything boots):

  boot_heap_bytes     live heap 2 s after power-on
  peak_heap_bytes     the largest live heap read between chunks during the day
                      (both read in a first run of the day in a 4 MiB heap that never
                      grows: in a heap that grew, the VM's simulated power cut leaves
                      the old firmware reachable, so the capped run's later live heap
                      holds two firmwares, which no board's RAM does)
  largest_free_bytes  the largest free block at the end of the day in the capped heap
                      (the first heap area's block table, micropython.mem_info(1))
  bytecode_bytes      summed sizes of the .mpy files of every firmware module loaded
                      during the day (file sizes, not their heap cost)
  capped_heap_bytes   the free heap the day started with: the VM's heap sized so that
                      its free heap after the baseline is budget_bytes (never more)
  capped_day_ok       the day held (no crash, no reset, its checks passed) and that
                      heap never grew: this VM adds a heap area instead of raising
                      MemoryError, and it cannot collect inside a chunk, so "never grew"
                      means the live heap plus each chunk's garbage always fitted (a
                      board collecting on demand needs less; fragmentation at the
                      boundary aside). Each boot imports the firmware's modules one
                      chunk each before main.py runs (the modules the probe's boot
                      loaded), so one module's import garbage counts at a time
  budget_bytes        the published free GC heap after boot of the board's stock
                      firmware (budget_source cites it)
  psram               true only for a board file that requires a PSRAM module

"frozen" holds the same figures with the bytecode in flash: the compiled package as a
ROMFS image (mpremote's builder) mounted with vfs.VfsRom, so imports read bytecode and
strings in place; the image buffer itself is part of the baseline.
"""

import contextlib
import io
import json
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tools.boardfiles import board_names, board_spec
from tools.devicevm import check_story, compile_firmware, run_story, story_settings

DAY = Path(__file__).resolve().parent / "memory_day.json"
PORTS = {"rp2040": "rp2", "esp32": "esp32"}  # board mcu -> MicroPython port
BLOCK = 16  # bytes per GC block on a 32-bit port
STORY_TIMEOUT_S = 1800
VM_HEAP = 4 * 1024 * 1024  # the probe run's heap

# The published free GC heap after boot of each port's stock firmware, without PSRAM
# (docs/references.md says where each figure is from).
BUDGETS = {
    "rp2040": (
        126_112,
        "Pico W: 126,112 bytes free at start, the one published free-heap figure on Pico W "
        "hardware (CircuitPython 9.0.0, adafruit/circuitpython issue 9085); no "
        "gc.mem_free() after boot of MicroPython's RPI_PICO_W was found. MicroPython's rp2 "
        "heap is the RAM the linker leaves: __GcHeapStart = __bss_end__ + the C heap, "
        "__GcHeapEnd = the end of RAM (ports/rp2/memmap_rp2040/"
        "section_extra_post_platform_end.incl; PR 10968), so the CYW43, lwIP and BTstack "
        "static buffers of the W come out of it: the Pico without radio has 209,936 "
        "(micropython issue 12557), an upper bound. BTstack's GC-heap share is allocated "
        "by the fake bluetooth module once BLE is active, so it counts in the figures"),
    "esp32": (
        111_936,
        "ESP32-WROOM (no PSRAM) stock MicroPython 1.2x: 111,936 bytes after the heap's "
        "first growth (micropython PR 13219; issues 7043 and 14421)"),
}
# A board file with "psram": True: the free GC heap after boot of the port's SPIRAM
# firmware on such a module.
PSRAM_BUDGETS = {
    "esp32": (
        4_096_864,
        "ESP32-WROVER (4 MB of its PSRAM mapped as the GC heap): gc.mem_free() 4,096,864 "
        "after boot of MicroPython's esp32spiram firmware (v1.14) on an ESP32-WROVER-B "
        "(enesbcs/mpyeasy issue 8); a WROOM module without PSRAM leaves 111,936 "
        "(micropython issues 7043, 14421)"),
}
FROZEN_METHOD = ("bytecode in flash: the compiled package as a ROMFS image (mpremote "
                 "romfs builder) mounted with vfs.VfsRom in the VM, imports reading "
                 "bytecode and strings in place; the image buffer is in the baseline; "
                 "bytecode_bytes is then what is read from flash, not heap")


def micropython_boards():
    """The board files with a MicroPython port, by name."""
    return [name for name in board_names() if board_spec(name).get("mcu") in PORTS]


def board_budget(spec):
    """(bytes, source) of the board file's published free heap after boot."""
    return (PSRAM_BUDGETS if spec.get("psram") else BUDGETS)[spec["mcu"]]


def largest_free_block(meminfo):
    """Bytes of the longest run of free blocks in the first heap area (the one the VM
    started with, i.e. the capped heap), from micropython.mem_info(1)'s block table:
    one character a block ('.' free), "(N lines all free)" for N lines of 64."""
    text = "\n".join(meminfo)
    if "GC memory layout" not in text:
        raise RuntimeError("no block table in micropython.mem_info(1): %r" % meminfo[:5])
    first = text.split("GC memory layout")[1]
    blocks = []
    for line in first.splitlines()[1:]:
        free = re.match(r"\s*\((\d+) lines all free\)", line)
        if free:
            blocks.append("." * (int(free.group(1)) * 64))
        elif re.match(r"[0-9a-f]{8}: ", line):
            blocks.append(line[10:])
    runs = re.findall(r"\.+", "".join(blocks))
    return max((len(run) for run in runs), default=0) * BLOCK


def _module_bytes(modules, package):
    """Summed .mpy sizes of the loaded modules (names) of the compiled package folder."""
    total = 0
    for name in modules:
        base = package.joinpath(*name.split(".")[1:])
        for path in (base / "__init__.mpy", base.with_name(base.name + ".mpy")):
            if path.is_file():
                total += path.stat().st_size
                break
    return total


def romfs_image(package, name="basalt"):
    """A ROMFS image holding name/ (the compiled package folder)."""
    from mpremote.romfs import make_romfs

    with tempfile.TemporaryDirectory(prefix="romfs-") as tmp:
        root = Path(tmp) / "root"
        (root / name).mkdir(parents=True)
        for src in package.rglob("*.mpy"):
            dst = root / name / src.relative_to(package)
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(src.read_bytes())
        with contextlib.redirect_stdout(io.StringIO()):  # it prints each file
            return make_romfs(str(root), mpy_cross=False)


def capped_heap_size(baseline, total, heap, budget):
    """The VM heap size whose free heap after the baseline is at most budget (the total a
    heap size gives is a fixed fraction of it: the GC's tables take the rest). Eight
    blocks of margin: the story run's own baseline may differ from the probe's by a few
    blocks, and the cap must never exceed the budget."""
    return int((baseline + budget) * heap // total) - 8 * BLOCK


class SetupTooBig(RuntimeError):
    """The VM's own setup needed more heap than the capped heap (the figures would be
    of a grown heap): a budget this small cannot be imposed on this VM."""


def day_run(steps, board, package, romfs, budget, chunk_ms, probe_steps=None):
    """The story traced in a VM whose heap leaves `budget` bytes free after the VM's
    own baseline (sized from a probe run of the same VM, of probe_steps: default a
    heap reading only); the transcript, with the probe's as transcript["probe"]. Each
    boot of the capped run first imports, one chunk each, the modules the probe's boot
    loaded (a board collects between them on demand; this VM only between chunks)."""
    kwargs = dict(board=board, settings=story_settings(steps), mpy=package, trace_ms=chunk_ms,
                  romfs=romfs, timeout=STORY_TIMEOUT_S)
    probed = run_story(probe_steps or [{"heap": True}], heap=VM_HEAP, **kwargs)
    probe = probed["heap"]
    first = [seen for seen in probed["steps"] if "alloc" in seen][0]["alloc"]
    heap = capped_heap_size(first, probe["total_start"], VM_HEAP, budget)
    transcript = run_story(steps, heap=heap, preimport=probed["boot_imports"], **kwargs)
    trace = transcript["heap"]
    if trace["total_start"] > probe["total_start"] * heap / VM_HEAP + BLOCK * 64:
        raise SetupTooBig("%s: the VM's setup grew the %d-byte heap to %d before the "
                          "story began" % (board, heap, trace["total_start"]))
    transcript["probe"] = probed
    return transcript


def figures(steps, transcript, package, budget):
    """The per-board figures from a traced transcript (steps: the story run). Boot and
    peak are read in the probe's roomy heap when it ran the whole story: in a heap that
    had to grow, the VM's simulated power cut left the old firmware reachable (the
    live heap after the reboot held both), which a board's RAM never does."""
    trace = transcript["heap"]
    live = transcript.get("probe", transcript)
    if len(live["steps"]) != len(steps):
        live = transcript
    marks = [seen for step, seen in zip(steps, live["steps"]) if "heap" in step]
    baseline = marks[0]["alloc"]
    boot = marks[1]["alloc"] if len(marks) > 1 else live["heap"]["live_end"]
    capped_base = [seen for step, seen in zip(steps, transcript["steps"])
                   if "heap" in step][0]["alloc"]
    failures = check_story(steps, transcript)
    finished = len(transcript["steps"]) == len(steps)
    return {
        "boot_heap_bytes": boot - baseline,
        "peak_heap_bytes": live["heap"]["live_max"] - baseline,
        "largest_free_bytes": largest_free_block(transcript["meminfo"]),
        "bytecode_bytes": _module_bytes(transcript["modules"], package),
        "capped_heap_bytes": trace["total_start"] - capped_base,
        "capped_day_ok": finished and not failures
        and trace["total_max"] == trace["total_start"],
        "budget_bytes": budget[0],
        "budget_source": budget[1],
    }, {
        "vm_baseline_bytes": baseline,
        "before_collect_peak_bytes": trace["before_collect_max"] - capped_base,
        "heap_total_max_bytes": trace["total_max"],
        "chunks": trace["chunks"],
        "failures": failures,
    }


def measure(boards, steps, chunk_ms, detail=False, workers=2):
    """{"boards": {...}, "frozen": {...}} for the boards over the story's steps."""
    with tempfile.TemporaryDirectory(prefix="membench-") as tmp:
        package = compile_firmware(tmp)
        image = romfs_image(package)
        jobs = []
        for name in boards:
            spec = board_spec(name)
            budget = board_budget(spec)
            for frozen in (False, True):
                jobs.append((name, frozen, budget, spec))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            runs = list(pool.map(
                lambda job: day_run(steps, job[0], package, image if job[1] else None,
                                    job[2][0], chunk_ms, probe_steps=steps), jobs))
        result = {"boards": {}, "frozen": {"method": FROZEN_METHOD}}
        for (name, frozen, budget, spec), transcript in zip(jobs, runs):
            figs, more = figures(steps, transcript, package, budget)
            figs["psram"] = bool(spec.get("psram", False))
            if detail:
                figs["detail"] = more
            result["frozen" if frozen else "boards"][name] = figs
    return result


def add_arguments(parser):
    parser.add_argument("--board", action="append", choices=micropython_boards(),
                        help="only this board (repeatable; default: every board file "
                             "with a MicroPython port)")
    parser.add_argument("--chunk-ms", type=int, default=500,
                        help="firmware time per traced chunk (default %(default)s)")
    parser.add_argument("--story", default=str(DAY), help="the scripted day (a story)")
    parser.add_argument("--detail", action="store_true",
                        help="add per board: the VM baseline, the high-water before "
                             "collection, the heap total, chunks, failed checks")


def bench(args, parser):
    if args.chunk_ms < 10:
        parser.error("--chunk-ms: %d is not allowed; allowed: 10 or more" % args.chunk_ms)
    steps = json.loads(Path(args.story).read_text(encoding="utf-8"))
    return measure(args.board or micropython_boards(), steps, args.chunk_ms, args.detail)
