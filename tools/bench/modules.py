"""Modules: the MicroPython heap each compiled firmware module costs, and a booted pump's.

    python -m tools.bench modules [--json] [--only basalt.core.units ...] [--no-boot]
                                  [--romfs] [--census]

The firmware is compiled with mpy-cross (tools/mpy_compile.py) and the .mpy files are
loaded in the MicroPython VM from /lib, as a deployed board loads them (bytecode in RAM);
with --romfs from a ROMFS image of them mounted with vfs.VfsRom (bytecode and strings
read in place, as from a board's flash: the frozen/ROMFS build).

modules.<name>.heap_bytes   gc.mem_alloc() growth (after gc.collect()) of importing the
                            module, its module-level dependencies imported first, so the
                            figure is the module's own (bytecode, qstrs, globals, tables)
modules.<name>.mpy_bytes    size of its .mpy file
modules.<name>.boot         imported by a booted pump (below)
boot_modules                what device.start() has imported on the Pico W's wiring
                            (the virtual board's board file: stepper_virtual stands for
                            stepper_rp2, whose own cost is listed), UI on, CGM enabled,
                            after a few ticks of the app and the UI
boot_modules_heap_bytes     the sum of their heap_bytes
lazy_modules                measured modules a booted pump has not imported
started_heap_bytes          the live heap right after device.start(), before the ticks
after_settings_save_heap_bytes  the same after saving the settings file again (the
                            settings checks, dropped after boot, are imported for the
                            save and dropped again once it is recorded)
boot_heap_bytes             the booted pump's live heap (modules and objects) after
                            gc.collect(), less the VM's own baseline; without the BLE
                            stack's share and the real ssd1306 driver's bytecode
all_modules_heap_bytes      the sum over every module measured
census                      (--census, a boot of its own: its boot_heap_bytes, and)
                            what the boot added to the heap, by the kind
                            of object micropython.mem_info(1) names (functions,
                            strings, tuples, lists, dicts, modules, floats, arrays,
                            other: {"bytes", "objects"}), the largest "other" objects
                            (the name pools, buffers), and the name pools' growth
                            (names, pools, pool_bytes without the names' characters)
objects                     the booted pump's big live objects: {"root.name": bytes} for
                            each member of the app, the UI task, the CGM client and each
                            firmware module's globals (code left out) reaching at least
                            256 bytes of objects, each object counted once, under the
                            first root that reaches it (the app's parts first). Estimated
                            from lengths (16 bytes an object, 4 a list slot, 8 a dict or
                            instance member, 1 a byte; strings not counted, most are
                            interned names): a lower bound, not a gc figure
"""

import ast
import json
import os
import re
import tempfile
from pathlib import Path

from tools import ROOT, mpy_compile
from tools.bench import progress
from tools.mpvm import run_micropython

FIRMWARE = Path(ROOT) / "firmware"
VM_SCRIPT = os.path.join(ROOT, "tools", "bench", "modules_vm.py")
BOOT_BOARD = "vboard"  # the Pico W's board file on the virtual board's MCU
BOOT_SETTINGS = Path(ROOT) / "settings" / "example.json"
TARGET = ("<= 102400 on a Pico W with the BLE stack's share (issue 16): tools.bench memory "
          "checks the budget; this figure is without that share")


def add_arguments(parser):
    parser.add_argument("--only", nargs="+", metavar="MODULE",
                        help="measure these modules (and what they import) only")
    parser.add_argument("--no-boot", action="store_true",
                        help="skip booting the pump (per-module figures only)")
    parser.add_argument("--census", action="store_true",
                        help="what the boot added to the heap by kind of object "
                             "(functions, strings, tuples, ...) and the name pools")
    parser.add_argument("--romfs", action="store_true",
                        help="import from a ROMFS image of the compiled package "
                             "(bytecode in flash) instead of .mpy files in /lib")


def module_files(root=FIRMWARE, package="basalt"):
    """{dotted name: .py path} of every module of the package (packages by __init__)."""
    found = {}
    for path in mpy_compile.source_files(Path(root) / package):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _module_level(tree):
    """Import statements that run at import: everything outside function bodies."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def dependencies(path, known):
    """The firmware modules a module's own import statements import. Its packages are
    left out unless it imports names from them: the VM imports a module under a
    stand-in for a package not imported yet (a package's __init__ often imports the
    package's own modules)."""
    deps = set()
    for node in _module_level(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            targets = []
            for alias in node.names:  # a submodule, or a name defined by the package
                sub = "%s.%s" % (base, alias.name)
                targets.append(sub if sub in known else base)
        deps.update(t for t in targets if t in known)
    return deps


def import_order(names, files):
    """names and everything they import, dependencies first."""
    graph = {}
    order = []

    def visit(name, path=()):
        if name in order:
            return
        if name in path:
            raise ValueError("import cycle: %s" % " -> ".join(path + (name,)))
        if name not in graph:
            graph[name] = dependencies(files[name], files)
        for dep in sorted(graph[name]):
            visit(dep, path + (name,))
        order.append(name)

    for name in sorted(names):
        visit(name)
    return order


def _vm(args, lib_dirs, text=False):
    out = run_micropython(VM_SCRIPT, lib_dirs=lib_dirs, args=args, waiting=progress.tick)
    figures = json.loads(out.strip().splitlines()[-1])
    return (figures, out) if text else figures


# The letters of micropython.mem_info(1)'s block table (py/gc.c, gc_dump_alloc_table):
# the first block of an object of these types, "h" the first block of anything else
# (instances, dict and instance-member tables, list storage, the name pools, buffers,
# raw code), "=" a block continuing the one before, "." a free block.
BLOCK_KINDS = {"B": "functions", "S": "strings", "T": "tuples", "L": "lists", "D": "dicts",
               "M": "modules", "F": "floats", "A": "arrays", "h": "other"}
_BLOCK = 16  # bytes a GC block holds on 32-bit ports (MICROPY_BYTES_PER_GC_BLOCK)
_ROW = re.compile(r"^[0-9a-f]{8}: (.*)$")
_FREE_ROWS = re.compile(r"^\s*\((\d+) lines all free\)")
_NAMES = re.compile(r"qstr pool: n_pool=(\d+), n_qstr=(\d+), n_str_data_bytes=(\d+), "
                    r"n_total_bytes=(\d+)")


def heap_objects(table_text):
    """{letter: [object sizes in bytes]} from a mem_info(1) block table."""
    rows = []
    for line in table_text.splitlines():
        row, free = _ROW.match(line), _FREE_ROWS.match(line)
        if row:
            rows.append(row.group(1))
        elif free:
            rows.append("." * 64 * int(free.group(1)))
    sizes = {}
    kind, blocks = None, 0
    for letter in "".join(rows) + ".":
        if letter == "=":
            blocks += 1
            continue
        if kind:
            sizes.setdefault(kind, []).append(blocks * _BLOCK)
        kind, blocks = (None, 0) if letter == "." else (letter, 1)
    return sizes


def census(text, before_mark="CENSUS-BEFORE", after_mark="CENSUS-AFTER"):
    """What the boot added to the heap, by kind of object, from modules_vm.py's two
    block tables: {kind: {"bytes", "objects"}}, the ten largest "other" objects, and the
    name pools (micropython.qstr_info(): names, pools, the pools' bytes without the
    names' characters, which a ROMFS image leaves in flash)."""
    before, after = text.split(before_mark, 1)[1].split(after_mark, 1)
    seen = [heap_objects(part) for part in (before, after)]
    kinds = {}
    for letter, kind in BLOCK_KINDS.items():
        was, now = seen[0].get(letter, []), seen[1].get(letter, [])
        kinds[kind] = {"bytes": sum(now) - sum(was), "objects": len(now) - len(was)}
    grown = list(seen[1].get("h", []))
    for size in seen[0].get("h", []):
        if size in grown:
            grown.remove(size)
    names = [[int(n) for n in _NAMES.search(part).groups()] for part in (before, after)]
    pools, count, chars, total = (b - a for a, b in zip(*names))
    return {"kinds": kinds, "largest_other_bytes": sorted(grown, reverse=True)[:10],
            "names": {"names": count, "pools": pools, "pool_bytes": total - chars,
                      "name_chars": chars}}


def romfs_dir(tree, folder):
    """folder/romfs.img: a ROMFS image of the compiled package (the VM mounts it)."""
    from tools.bench.memory import romfs_image

    folder.mkdir()
    (folder / "romfs.img").write_bytes(romfs_image(tree, tree.name))
    return folder


def import_costs(tmp, names=None, root=FIRMWARE, package="basalt", romfs=False):
    """Compile root's package into tmp and measure importing `names` (default: every
    module) and what they import (romfs: from a ROMFS image of it). Returns (the
    compiled package's folder, {name: figures} dependencies first, the non-package
    modules the imports loaded, the lib folders that hold the package in the VM)."""
    files = module_files(root, package)
    order = import_order(names or files, files)
    progress.phase("mpy-cross")
    _, failures = mpy_compile.compile_tree([root], tmp, extra_args=mpy_compile.board_args())
    if failures:
        raise SystemExit("mpy-cross failed on %s" % ", ".join(str(f) for f, _ in failures))
    tree = Path(tmp) / Path(root).name / package
    libs = [str(romfs_dir(tree, Path(tmp) / "romfs"))] if romfs else [str(tree)]
    progress.phase("MicroPython VM: importing %d modules" % len(order))
    measured = _vm(["imports", json.dumps(order)], libs)
    modules = {}
    for name in order:
        figures = dict(measured["modules"][name])
        figures["mpy_bytes"] = tree.joinpath(
            files[name].relative_to(Path(root) / package)).with_suffix(".mpy").stat().st_size
        modules[name] = figures
    return tree, modules, measured["other_modules"], libs


def boot_files(folder):
    """/board.py and /settings.json for the boot: deploy's board file, the example
    settings with the CGM enabled."""
    from basalt.core.settings import parse_settings_text
    from tools.deploy.deploy import board_file_text

    folder.mkdir()
    (folder / "board.py").write_text(board_file_text(BOOT_BOARD))
    settings = parse_settings_text(BOOT_SETTINGS.read_text())
    settings["cgm"] = {"enabled": True}
    (folder / "settings.json").write_text(json.dumps(settings))
    return folder


def bench(args, parser):
    unknown = sorted(set(args.only or ()) - set(module_files()))
    if unknown:
        parser.error("not a firmware module: %s" % ", ".join(unknown))
    with tempfile.TemporaryDirectory(prefix="bench-modules-") as tmp:
        tree, modules, others, libs = import_costs(Path(tmp) / "mpy", args.only,
                                                   romfs=args.romfs)
        result = {"modules": modules, "other_modules": others, "romfs": args.romfs,
                  "all_modules_heap_bytes": sum(m.get("heap_bytes", 0)
                                                for m in modules.values()),
                  "all_loaded_from_mpy": all(m.get("mpy") for m in modules.values())}
        result["targets"] = {"boot_heap_bytes": TARGET}
        if not args.no_boot:
            progress.phase("MicroPython VM: booting the pump")
            libs += [os.path.join(ROOT, "tools", "vboard", "py"),
                     str(boot_files(Path(tmp) / "bootfiles"))]
            result.update(boot_summary(_vm(["boot"], libs), modules))
            if args.census:
                progress.phase("MicroPython VM: booting the pump for a census")
                counted, text = _vm(["boot", "census"], libs, text=True)
                result["census"] = dict(census(text),
                                        boot_heap_bytes=counted["boot_heap_bytes"])
    return result


def boot_summary(boot, modules):
    """The boot's figures, and each measured module marked with whether it was loaded."""
    booted = [name for name in boot["boot_modules"] if name.split(".")[0] == "basalt"]
    for name, figures in modules.items():
        figures["boot"] = name in booted
    return {"boot_modules": booted, "boot_heap_bytes": boot["boot_heap_bytes"],
            "started_heap_bytes": boot["started_heap_bytes"],
            "after_settings_save_heap_bytes": boot["after_settings_save_heap_bytes"],
            "vm_baseline_bytes": boot["vm_baseline_bytes"],
            "boot_ui": boot["ui"], "boot_cgm": boot["cgm"], "objects": boot["objects"],
            "boot_modules_heap_bytes": sum(modules[n].get("heap_bytes", 0)
                                           for n in booted if n in modules),
            "lazy_modules": sorted(n for n in modules if n not in booted)}
