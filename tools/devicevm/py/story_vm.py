# The device VM's story runner (MicroPython; the script tools.devicevm runs in the VM).
#
# fakes_vm installs the fakes and the files; then the story's steps run: boots run the
# real firmware/main.py; keys are pin levels; time is virtual. Each step's observations
# are printed as it ends ("DEVICEVM-STEP {json}", nothing kept); the rest of the
# transcript is one line "DEVICEVM {json}" at the end; the host checks them.
#
#   story_vm.py                 the steps run in one call from JavaScript
#   story_vm.py trace CHUNK_MS  the heap traced: the story runs in chunks (a boot, at most
#                               CHUNK_MS of firmware time, a key), each in its own call
#                               from JavaScript (js.setImmediate). This VM collects
#                               garbage only when such a call returns (gc.collect() inside
#                               Python only asks for it), so between chunks the live heap
#                               is exact; see heap_trace.
# Optional: files/romfs.img is mounted as /rom (vfs.VfsRom) and put first on sys.path
# (the firmware's bytecode read in place, as from a board's ROMFS partition).
# In trace mode each boot prints the firmware modules it imported ("DEVICEVM-IMPORTS");
# given those lists back as files/preimport.json, each boot first imports them one per
# chunk, so that each module's import garbage is collected before the next, as a board
# collecting on demand would (the live heap between chunks is the same either way).

import gc
import json
import sys

sys.path.insert(0, "/lib/devicevm")


def _mount_romfs():
    """Before the fakes: they import basalt's codecs."""
    import os

    import vfs

    try:
        image = open("/lib/devicevm/files/romfs.img", "rb").read()
    except OSError:
        return
    vfs.mount(vfs.VfsRom(image), "/rom")
    sys.path.insert(0, "/rom")
    os.remove("/lib/devicevm/files/romfs.img")


_mount_romfs()

import fakes_vm  # noqa: E402  (first: time, asyncio and machine are fakes from here)

# isort: split
import vasyncio  # noqa: E402
import vble  # noqa: E402
import vboard  # noqa: E402
import vhw  # noqa: E402
import vtime  # noqa: E402

FILES = fakes_vm.FILES
TRACE = len(sys.argv) > 2 and sys.argv[1] == "trace"
CHUNK_MS = int(sys.argv[2]) if TRACE else 1 << 60


if TRACE:
    import heap_trace  # noqa: E402
_keep = set(sys.modules)
STORY = []  # the steps (read from story.json when run as the script)
BOARD = None
FIGS = None  # the heap trace's figures (trace mode)
HELD = [None]  # a {"hold_bytes": n} step's buffer: a known allocation for heap tests
out = {"resets": [], "crashes": []}
BOOTS = [0]  # boots so far: the pre-import lists are per boot
clock = {"base": 0}  # story time (us) = base + VM time since the last boot


def story_ms():
    return (clock["base"] + vtime.now_us()) // 1000


def _board():
    global BOARD
    if BOARD is None:
        from board import BOARD as spec

        from basalt.core.board_file import load_board

        BOARD = load_board(spec)
    return BOARD


def _buttons():
    from board import BOARD as spec

    return spec["buttons"]


def power_cut():
    vhw.power_off()
    vble.power_off()
    vasyncio.reset()
    for name in list(sys.modules):
        if name not in _keep:
            del sys.modules[name]
    # The packages the fakes keep (basalt, basalt.core) still name the firmware's
    # submodules: a board's RAM forgets them, so does the VM (else the old firmware
    # stays reachable through them and counts in the next boot's heap).
    for name in _keep:
        package = sys.modules.get(name)
        if package is None or not name.startswith("basalt"):
            continue
        for attr, value in list(package.__dict__.items()):
            if type(value) is type(sys) and getattr(value, "__name__", attr) not in _keep:
                delattr(package, attr)
    gc.collect()


def boot(kind):
    """Power on and run main.py (a generator: the chunk ends after main.py)."""
    global BOARD
    clock["base"] += vtime.now_us()  # the time off (or up to the reset) stays story time
    vtime.power_on()
    vboard.power_on(kind)
    vboard.hx711._bits = None  # the load cell's ADC restarts with the board
    vboard.hx711._ready_at = 0
    vhw.reset_request[0] = None
    BOARD = None
    vble.power_on()
    names = _preimports(BOOTS[0])
    BOOTS[0] += 1
    for name in names or ():
        _import(name)
        yield
    _overwrite(None, None, None, None, None, None, None, None, None, None, None, None)
    recorder = _record_imports() if TRACE and names is None else None
    main = {"__name__": "__main__"}
    try:
        exec(open("/main.py").read(), main)
    except BaseException as exc:  # noqa: B036 - what the board prints before its REPL
        _crash(exc)
    main = None
    if recorder is not None:
        print("DEVICEVM-IMPORTS " + json.dumps(_stop_recording(recorder)))
    recorder = None
    _overwrite(None, None, None, None, None, None, None, None, None, None, None, None)
    yield


def _preimports(index):
    """The modules to import before this boot's main.py (newest first: leaves before the
    modules importing them, one chunk each), or None without files/preimport.json."""
    try:
        lists = json.loads(open(FILES + "preimport.json").read())
    except OSError:
        return None
    return list(reversed(lists[index])) if index < len(lists) else []


def _import(name):
    __import__(name)


def _record_imports():
    """Note each firmware module a boot loads (forgotten ones too), in load order."""
    import builtins

    real = builtins.__import__
    order = []
    seen = set(_keep)

    def recording(name, *args):
        module = real(name, *args)
        for loaded in sys.modules:
            if loaded not in seen and loaded.startswith("basalt"):
                seen.add(loaded)
                order.append(loaded)
        return module

    builtins.__import__ = recording
    return real, order, recording


def _stop_recording(recorder):
    import builtins

    real, order, recording = recorder
    recording("basalt")  # the submodules its last calls' `from ... import` loaded
    builtins.__import__ = real
    return order


def _crash(exc):
    import io

    text = io.StringIO()
    sys.print_exception(exc, text)
    out["crashes"].append({"t_ms": story_ms(), "error": text.getvalue()})


def _wdt_stop(at_us):
    deadline = vhw.wdt_deadline()
    if deadline is not None and deadline <= at_us:
        vtime.advance_to(deadline)
        return True
    return vhw.reset_request[0] is not None


def run_ms(ms):
    """Run the firmware for ms (a generator: a chunk ends every CHUNK_MS)."""
    end = story_ms() + ms
    while story_ms() < end:
        due = vble.next_due_ms()  # a sensor's next reading: stop there to make it
        until = min(end, story_ms() + CHUNK_MS)
        until = until if due is None else max(story_ms(), min(until, due))
        vasyncio.run_until(vtime.now_us() + (until - story_ms()) * 1000, _wdt_stop)
        vble.tick(story_ms())
        for error in vasyncio._state["crashes"]:
            _crash(error)
        vasyncio._state["crashes"] = []
        kind = vhw.reset_request[0]
        if kind is None and vhw.wdt_deadline() is not None and \
                vhw.wdt_deadline() <= vtime.now_us():
            kind = "wdt"
        if kind is not None:
            out["resets"].append({"t_ms": story_ms(), "kind": kind})
            power_cut()
            yield from boot(kind)
        yield


def key(name, pressed):
    spec = _buttons()[name]
    pin = spec["pin"] if isinstance(spec, dict) else spec
    invert = isinstance(spec, dict) and spec.get("invert")
    vboard.set_input(pin, (0 if pressed else 1) if invert else (1 if pressed else 0))


def usteps(value):
    """A story's microstep count: an int, or {"mu": m} converted by the board."""
    if isinstance(value, dict):
        return _board().usteps_for_mu(value["mu"])
    return value


def frame():
    """The OLED's frame as hex (the host reads the text back: tools/devicevm/screen.py)."""
    import binascii

    panel = vboard.i2c_devices[0x3C]
    return binascii.hexlify(panel.ram).decode() if panel.on else ""




def heap():
    """gc.mem_alloc()/mem_free(): exact in trace mode (read after this chunk's collection);
    otherwise after a gc.collect() that this VM defers (garbage still counted)."""
    if not TRACE:
        gc.collect()
        return {"alloc": gc.mem_alloc(), "free": gc.mem_free()}
    yield
    return heap_trace.live_now(FIGS)


def do(step):
    """Run one step (a generator); return what it observed (a dict) or None."""
    if "boot" in step:
        yield from boot(step["boot"])
        _overwrite(None, None, None, None, None, None, None, None, None, None, None, None)
        yield from run_ms(step.get("ms", 0))
    elif "power_cut" in step:
        power_cut()
    elif "wait_s" in step:
        yield from run_ms(int(step["wait_s"] * 1000))
    elif "wait_ms" in step:
        yield from run_ms(step["wait_ms"])
    elif "press" in step:
        key(step["press"], True)
    elif "release" in step:
        key(step["release"], False)
    elif "hold" in step or "click" in step:
        name = step.get("hold") or step.get("click")
        key(name, True)
        yield from run_ms(step.get("ms", 100))
        key(name, False)
        yield from run_ms(step.get("settle_ms", 150))
    elif "force_mn" in step:
        vboard.set_force_mn(step["force_mn"])
    elif "adc" in step:
        vboard.set_adc(step["adc"], step["u16"])
    elif "rtc" in step:
        vtime.set_rtc(step["rtc"])
    elif "heap" in step:
        return (yield from heap())
    elif "hold_bytes" in step:
        HELD[0] = bytearray(step["hold_bytes"]) if step["hold_bytes"] else None
    else:
        yield from vble.step(step, story_ms(), run_ms)
    if any(k in step for k in ("expect_screen", "expect_rows", "screen")):
        return {"frame": frame()}
    if "expect_usteps" in step:
        return {"usteps": vboard.position(), "want": usteps(step["expect_usteps"])}
    if "expect_usteps_between" in step:
        lo, hi = step["expect_usteps_between"]
        return {"usteps": vboard.position(), "want": [usteps(lo), usteps(hi)]}
    if "usteps" in step:
        return {"usteps": vboard.position()}
    return None


def story():
    """The steps, each one's observations printed as it ends (a generator of chunks)."""
    for step in STORY:
        seen = yield from do(step)
        entry = {"t_ms": story_ms()}
        if seen:
            entry.update(seen)
        print("DEVICEVM-STEP " + json.dumps(entry))
        entry = seen = None
        _overwrite(None, None, None, None, None, None, None, None, None, None, None, None)
        yield


def _overwrite(*_):
    """Called with twelve Nones: the GC scans a live generator's whole value stack, so
    a slot a finished call left there keeps what it held reachable, counted as firmware
    heap. After a step's line is printed, the screen's hex (2 KB, in the line and its
    JSON); after a boot, main.py's globals (and with them, after a power cut, the whole
    powered-off firmware: about 86 KB of a ROMFS day's restart, depending on which slot
    the tracer's own code left it in). A call with twelve arguments writes over them."""


def transcript():
    out["usteps"] = vboard.position()
    out["ignored_pulses"] = vboard.driver["ignored"]
    print("DEVICEVM " + json.dumps(out))


if __name__ == "__main__":  # imported (the browser page, web/py/webvm.py): its parts only
    STORY = json.loads(open(FILES + "story.json").read())
    if TRACE:
        FIGS = heap_trace.run(story(), transcript)
    else:
        for _ in story():
            pass
        transcript()
