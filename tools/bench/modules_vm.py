# Inside MicroPython (tools/bench/modules.py runs it): the heap that importing each
# firmware module costs, and what a booted pump has imported and holds. The firmware is
# the compiled .mpy tree in /lib/basalt, as deployed on a board.
#
#   modules_vm.py imports ORDER_JSON     per module: live-heap growth of importing it,
#                                        its dependencies imported first (ORDER is
#                                        dependencies-first), so each figure is its own
#   modules_vm.py boot [census]          device.start() on /board.py and /settings.json
#                                        with the virtual board's `machine` and stand-ins
#                                        for ssd1306, aioble and bluetooth; asyncio.run is
#                                        replaced by a few synchronous ticks of the app
#                                        and the UI; the modules then loaded and the live
#                                        heap, less the VM's own baseline; then the same
#                                        settings saved again (keeper.save_settings);
#                                        with `census`, the heap's block table and the
#                                        name pools printed before the boot and after
#                                        the ticks (modules.py sorts them by kind; the
#                                        printing perturbs the later settings save's
#                                        figure, so a census is a run of its own)
#
# The WebAssembly VM collects garbage only when control returns to JavaScript (its
# gc.collect() just asks for a collection then): so every measured piece of work is one
# step run from a JavaScript timer, and the live heap is read at the start of the next.
# Prints one JSON object on the last line.
#
# With /lib/romfs/romfs.img (modules.py --romfs) the package is imported from that ROMFS
# image mounted as /rom (vfs.VfsRom): bytecode and strings read in place, as from a
# board's flash; the image buffer is read before the first figure (in the baseline).

import gc
import json
import sys

import js

ROOT = "/lib/"
CENSUS_BEFORE = "CENSUS-BEFORE"
CENSUS_AFTER = "CENSUS-AFTER"


def _mount_romfs():
    global ROOT
    import vfs

    try:
        with open("/lib/romfs/romfs.img", "rb") as f:
            image = f.read()
    except OSError:
        return
    vfs.mount(vfs.VfsRom(image), "/rom")
    sys.path.insert(0, "/rom")
    ROOT = "/rom/"


_mount_romfs()


def _steps(work, done):
    """Run each callable of `work` from its own timer; done(live) gets the live heap
    (gc.mem_alloc() after a full collection) before the first and after each one."""
    live = []
    pending = list(work)

    def step(*_):
        live.append(gc.mem_alloc())  # collected when the last step returned
        if not pending:
            done(live)
            return
        pending.pop(0)()
        gc.collect()  # runs as this step returns to JavaScript
        js.setTimeout(step, 0)

    gc.collect()
    js.setTimeout(step, 0)


def _module_file(name):
    module = sys.modules.get(name)
    return getattr(module, "__file__", "") if module is not None else ""


_BLANK = "/lib/_bench_blank.py"


def _stand_in(package):
    """An empty module with the package's __path__: its modules import without its
    __init__ running (MicroPython cannot make a module object from Python)."""
    with open(_BLANK, "w"):
        pass
    module = __import__("_bench_blank")
    del sys.modules["_bench_blank"]
    module.__path__ = ROOT + package.replace(".", "/")
    sys.modules[package] = module
    return module


class _Importer:
    """One module's import. Every package starts as a stand-in, so a module imports
    without its packages' __init__ running; a package's own step imports it for real
    and gives it the submodules imported so far. Results go into a list made before
    the steps (nothing kept is allocated besides what the import makes)."""

    def __init__(self, name, stand_ins, result):
        self.name = name
        self.stand_ins = stand_ins
        self.result = result  # [modules added, loaded from .mpy, error]

    def __call__(self):
        name = self.name
        stand_in = self.stand_ins.get(name)
        if stand_in is not None:
            del sys.modules[name]
        count = len(sys.modules)
        try:
            __import__(name)
        except ImportError as error:
            self.result[2] = "%s" % error
            return
        if stand_in is not None:
            real = sys.modules[name]
            for key in dir(stand_in):
                if not key.startswith("__") and (name + "." + key) in sys.modules:
                    setattr(real, key, getattr(stand_in, key))
        self.result[0] = len(sys.modules) - count
        self.result[1] = _module_file(name).endswith(".mpy")


# The VM's names (qstrs) live in pools, each twice the size of the last: the import that
# fills one pays for the next (10 KB and more), whichever module it is. Interning this
# many names first leaves room for every module's, so each figure is the module's own
# (without its pool entries, some 8 bytes a name). The boot figures have no such step.
_NAMES_AHEAD = 5_200


def _grow_name_pools():
    for i in range(_NAMES_AHEAD):
        getattr(_grow_name_pools, "_q%d" % i, None)  # getattr interns the name


def imports(order):
    _grow_name_pools()
    before = list(sys.modules)
    stand_ins = {}
    for name in order:
        parts = name.split(".")
        for i in range(1, len(parts)):
            package = ".".join(parts[:i])
            if package not in stand_ins:
                stand_ins[package] = _stand_in(package)
    results = [[0, False, None] for _ in order]
    work = [_Importer(name, stand_ins, results[i]) for i, name in enumerate(order)]

    def done(live):
        figures = {}
        for i, name in enumerate(order):
            added, mpy, error = results[i]
            if error is not None:
                figures[name] = {"error": error}
            else:  # added: this module, and others its import brought in (see others)
                figures[name] = {"heap_bytes": live[i + 1] - live[i], "mpy": mpy,
                                 "also_imported": added - 1}
        others = sorted(m for m in sys.modules if m not in before and m not in stand_ins
                        and m not in order)
        print(json.dumps({"modules": figures, "other_modules": others}))

    _steps(work, done)


# ----- stand-ins for the micropython-lib packages a board installs with mip --------------

_SSD1306 = """
import framebuf


class SSD1306_I2C(framebuf.FrameBuffer):
    def __init__(self, width, height, i2c, addr=0x3C, external_vcc=False):
        self.buffer = bytearray(height // 8 * width)
        super().__init__(self.buffer, width, height, framebuf.MONO_VLSB)

    def show(self):
        pass

    def contrast(self, value):
        pass

    def poweron(self):
        pass

    def poweroff(self):
        pass
"""

_BLUETOOTH = """
class UUID:
    def __init__(self, value):
        self.value = value
"""

_AIOBLE = """
class _Ble:  # the Pico W's BTstack: no gap_pair
    pass


class core:
    ble = _Ble()
"""


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


# ----- the booted pump's big live objects -------------------------------------------------

_CODE = ("function", "closure", "bound_method", "type", "module", "generator")
_OBJECTS_MIN = 256  # roots holding less are not listed


def _estimate(obj):
    """(bytes, children) of one object: a lower bound from its length in MicroPython's
    32-bit layouts (a 16-byte block per object; 4 bytes a list or tuple slot, 8 a dict
    or instance member; 1 a byte; the capacity beyond the length is not seen; strings
    not counted)."""
    kind = type(obj)
    if kind in (bytearray, bytes, memoryview):
        return 16 + len(obj), ()
    if kind is str:  # not counted: most are interned names (in the pools, or in flash)
        return 0, ()
    if kind is float:
        return 16, ()
    if kind in (list, tuple):
        return 16 + 4 * len(obj), obj
    if kind is dict:
        return 16 + 8 * len(obj), list(obj.values())
    if kind is set:
        return 16 + 4 * len(obj), obj
    name = kind.__name__
    if name in _CODE:
        return 0, ()
    members = getattr(obj, "__dict__", None)
    if not isinstance(members, dict):
        return 0, ()
    return 16 + 8 * len(members), list(members.values())


def _claimed(obj, seen):
    """Estimated bytes of obj and everything reachable from it not claimed before."""
    total = 0
    stack = [obj]
    while stack:
        item = stack.pop()
        key = id(item)
        if key in seen:
            continue
        seen.add(key)
        size, children = _estimate(item)
        total += size
        stack.extend(children)
    return total


def live_objects(roots):
    """{"root.attribute": estimated bytes} of every attribute (instance members, or a
    module's globals other than its code) holding at least _OBJECTS_MIN bytes of
    objects, each object counted under the first root that reaches it (roots in order:
    the app's parts first, private members last). Estimates (_estimate), not gc
    figures."""
    seen = set()
    for _, root in roots:
        seen.add(id(root))
    found = {}
    for label, root in roots:
        if root is None:
            continue
        members = root.__dict__
        for key in sorted(members, key=lambda k: (k[0] == "_", k)):  # private ones last
            value = members[key]
            if type(value).__name__ in _CODE:
                continue
            size = _claimed(value, seen)
            if size >= _OBJECTS_MIN:
                found["%s.%s" % (label, key)] = size
    return found


def boot():
    sys.path.append("/lib/py")  # the virtual board's machine.py and vboard.py
    for name in ("board.py", "settings.json"):  # as deploy writes them
        with open("/lib/bootfiles/" + name) as f:
            _write("/" + name, f.read())
    for name, text in (("ssd1306", _SSD1306), ("bluetooth", _BLUETOOTH), ("aioble", _AIOBLE)):
        _write("/lib/%s.py" % name, text)
    # The virtual board's USB console asks vboard.mjs to pass it lines: nobody types here.
    js.eval("globalThis.vboard_listen = (on) => 0")
    import asyncio

    import machine  # noqa: F401
    import vboard

    baseline_modules = list(sys.modules)
    parts = []

    census = "census" in sys.argv

    def heap_table(mark):
        if census:
            import micropython

            print(mark)
            micropython.mem_info(1)
            print()  # the table's last row has no line end
            micropython.qstr_info()

    def start():
        heap_table(CENSUS_BEFORE)  # collected: the JavaScript timer's call returned first
        from basalt.app import device

        async def run_tasks(app, supervisor, ui=None, cgm_client=None, *others):
            parts.extend((app, supervisor, ui, cgm_client))

        def run(coro):  # the tasks are stepped below instead
            try:
                coro.send(None)
            except StopIteration:
                pass

        device.run_tasks = run_tasks
        asyncio.run = run
        device.start()

    def tick():
        app, _, ui, _ = parts
        app.step()
        if ui is not None:
            ui.step(app.clock.now_ms())

    loaded = []

    def booted():
        heap_table(CENSUS_AFTER)
        loaded.extend(sorted(m for m in sys.modules if m not in baseline_modules))

    def save_settings():  # what the boot dropped is imported again to check the file
        app = parts[0]
        with open("/settings.json") as f:
            app.keeper.save_settings(app.clock.now_ms(), json.loads(f.read()))

    def done(live):
        vboard.power_off()  # the watchdog's timer stops with the run
        roots = [("app", parts[0]), ("ui", parts[2]), ("cgm", parts[3])]
        roots += [(name, sys.modules[name]) for name in sorted(sys.modules)
                  if name.startswith("basalt")]
        print(json.dumps({
            "vm_baseline_bytes": live[0], "started_heap_bytes": live[1] - live[0],
            "boot_heap_bytes": live[5] - live[0], "boot_modules": loaded,
            "after_settings_save_heap_bytes": live[7] - live[0],
            "ui": parts[2] is not None, "cgm": parts[3] is not None,
            "objects": live_objects(roots),
            "mpy": _module_file("basalt.app.device").endswith(".mpy")}))

    _steps([start] + [tick] * 4 + [booted, save_settings], done)


if sys.argv[1] == "boot":
    boot()
else:
    imports(json.loads(sys.argv[2]))
