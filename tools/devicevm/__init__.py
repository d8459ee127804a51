"""The device VM: the real firmware (firmware/main.py -> basalt.app.device.start()) in
MicroPython (tools/mpvm), with a real board file as /board.py and a settings file as
/settings.json, fakes behind the hardware modules, and a virtual clock.

A story is a list of steps (a JSON file in host_tests/stories/), run in one VM process;
the VM returns a transcript and `check_story` compares it with the story's expectations.
Only keys, the clock and the force/ADC inputs go in; only the OLED's text rows and the
plunger's microsteps (counted by the stepper driver model only while EN is active) come
out.

Step vocabulary (one key names the step; times are virtual):
  {"boot": "power"|"wdt"|"soft"|"hard", "ms": 0}  run main.py with that reset cause,
                                   then run `ms` of firmware time (default 0)
  {"power_cut": true}              everything stops (the plunger and /data stay)
  {"wait_s": 90} / {"wait_ms": 250}  run the firmware for that long
  {"press": "select"} / {"release": "select"}   key levels (names from the board file)
  {"click": "up"}                  press 100 ms, release, settle 150 ms
  {"hold": "select", "ms": 1500}   press for ms, release, settle 150 ms ("settle_ms")
  {"force_mn": 3000}               the force on the HX711 load cell
  {"adc": 28, "u16": 40000}        an ADC input (the battery divider)
  {"rtc": 1767225600}              set the RTC (epoch s) or null to unset it
  {"expect_screen": ["Basal", "Prime"]}  each string is a substring of a screen row,
                                   the rows found in top-to-bottom order
  {"expect_rows": ["> Menu", "> Bolus"]}  the first rows exactly (see screen.py: text
                                   rows top to bottom, a highlighted row reads "> text")
  {"screen": true}                 record the screen (no check: for writing stories)
  {"expect_usteps": 8291} or {"expect_usteps": {"mu": 12000}}  net plunger microsteps
                                   since the VM started; {"mu": m} is board.usteps_for_mu
  {"expect_usteps_between": [a, b]}  a <= microsteps <= b (ints or {"mu": m})
  {"usteps": true}                 record the microsteps
  {"heap": true}                   record gc.mem_alloc()/mem_free() after gc.collect():
                                   exact only with trace_ms (run_story), where the story
                                   runs in chunks and the VM collects between them
                                   (py/heap_trace.py says why); otherwise this WebAssembly
                                   build defers the collection and garbage stays counted
  {"hold_bytes": 10000}            keep a bytearray of that size alive (0 drops it): a
                                   known allocation, to check the heap figures
A step with "only": "esp32_devkitc" (a board name) runs on that board only.
The first step may name the settings file: {"settings": "host_tests/stories/x.json"}
(else settings/example.json); the firmware's CGM client runs only with a settings file
whose `cgm` section is enabled: host_tests/stories/settings_cgm.json (the sensor
c0:ff:ee:00:00:01) or settings_cgm_first_found.json (no address: the first one found).
CGM (tools/devicevm/py/vble.py: a fake `bluetooth` and aioble over tools/fake_ble.py,
the real CGMS wire format, in story time):
  {"cgm_sensor": {"address": "c0:ff:ee:00:00:01", "bonded": true, "passkey": 123456,
                  "every_min": 5, "mg_dl": 120}}
                                   a sensor in range (stays over power cuts); it measures
                                   every `every_min` (default 5; 0: only on a "cgm" step)
                                   minutes from now; bonded: an authenticated bond is
                                   stored (ESP32 re-encrypts with it); passkey: it has a
                                   display (numeric comparison); "clone": true, another
                                   device with that address but not its keys; the step
                                   again without clone brings that sensor back in range
  {"cgm": {"mg_dl": [120, 115], "now": true, "sensor": "..."}}  the next readings (an
                                   int or a list; the last repeats) of every sensor or
                                   the one named; now: one is measured at once
  {"cgm_out_of_range": true}       every sensor out of range (the link drops; records
                                   are still made and stored for the RACP back-fill);
                                   false: back in range; an address: that sensor leaves
  {"cgm_second_sensor": {"address": "..."}}  another sensor, never bonded, with the
                                   first one's current glucose
  {"cgm_sim": {"interval_s": 60}}  the CGM simulator board: tools/cgm_peripheral/main.py
                                   (its own firmware) on a fake aioble GATT server on
                                   the same air, one VM, two radios; the dict is its
                                   cgm_config.json
  {"cgm_sim_serial": "bg 250"}     a line typed on the simulator's console
  {"cgm_sim_button": "down"}       press and release one of its buttons
The Pico W's BLE() has no gap_pair (BTstack), the ESP32's has (NimBLE); active(True)
on the Pico W keeps BTSTACK_GC_BYTES of the GC heap (docs/references.md). The pump's
radio restarts empty at each boot and reloads its bond keys from /data.
Every step may carry "note": "..." (ignored). A dimmed screen takes one key to wake.
A story also fails on a firmware crash (an exception out of a task or main.py) and on
an unexpected reset unless the story says {"allow_resets": true} as its first step.

    python -m tools.devicevm story host_tests/stories/first_boot.json --board pico_w
    python -m tools.devicevm story host_tests/stories/cgm_readings.json --board esp32_devkitc
"""

import json
import shutil
import tempfile
from pathlib import Path

from tools.devicevm.screen import screen_rows
from tools.mpvm import run_micropython

REPO = Path(__file__).resolve().parents[2]
VM_PY = Path(__file__).resolve().parent / "py"
VBOARD_PY = REPO / "tools" / "vboard" / "py"
BOARDS = ("pico_w", "esp32_devkitc")
DEFAULT_SETTINGS = REPO / "settings" / "example.json"
MARK = "DEVICEVM "
STEP_MARK = "DEVICEVM-STEP "
HEAP_MARK = "DEVICEVM-HEAP "
MODULES_MARK = "DEVICEVM-MODULES "
MEMINFO_MARK = "DEVICEVM-MEMINFO"
IMPORTS_MARK = "DEVICEVM-IMPORTS "


def load_story(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _stage(tmp, steps, board, settings, romfs=None, preimport=None):
    lib = Path(tmp) / "devicevm"
    files = lib / "files"
    files.mkdir(parents=True)
    for src in VM_PY.glob("*.py"):
        shutil.copy(src, lib / src.name)
    for name in ("vboard.py", "vm_errno.py"):
        shutil.copy(VBOARD_PY / name, lib / name)
    shutil.copy(REPO / "tools" / "cgm_peripheral" / "main.py", lib / "cgm_sim_main.py")
    shutil.copy(REPO / "tools" / "cgm_peripheral" / "cgm_sensor.py", lib / "cgm_sensor.py")
    shutil.copy(VBOARD_PY / "machine.py", lib / "vb_machine.py")
    shutil.copy(REPO / "tools" / "fake_ble.py", lib / "fake_ble.py")
    shutil.copy(REPO / "boards" / f"{board}.py", files / "board.py")
    shutil.copy(REPO / "firmware" / "main.py", files / "main.py")
    if settings is not None:
        shutil.copy(settings, files / "settings.json")
    (files / "story.json").write_text(json.dumps(steps), encoding="utf-8")
    if romfs is not None:
        (files / "romfs.img").write_bytes(romfs)
    if preimport is not None:
        (files / "preimport.json").write_text(json.dumps(preimport), encoding="utf-8")
    return lib


def compile_firmware(out):
    """mpy-cross the basalt package into out/; the compiled package's folder (what a
    board runs after `tools.deploy`; only .mpy files, so nothing falls back to .py)."""
    from tools.mpy_compile import board_args, compile_tree

    count, failures = compile_tree([REPO / "firmware" / "basalt"], Path(out),
                                   extra_args=board_args())
    if failures:
        raise RuntimeError("mpy-cross failed: %s" % failures)
    return Path(out) / "firmware" / "basalt"


def _firmware(tmp, mpy):
    """The basalt package to load: the sources, or bytecode (mpy: True, or the folder of
    an already compiled package)."""
    if not mpy:
        return REPO / "firmware" / "basalt"
    if mpy is True:
        return compile_firmware(Path(tmp) / "mpy")
    return Path(mpy)


def run_story(steps, board="pico_w", settings=DEFAULT_SETTINGS, heap=None, timeout=900,
              mpy=False, trace_ms=None, romfs=None, preimport=None):
    """Run the steps in one VM; return the transcript (dict) with the console lines.
    heap: the VM's initial GC heap in bytes; mpy: load the firmware as .mpy (True, or
    the folder of a compiled basalt package); trace_ms: run in chunks of at most that
    much firmware time with the live heap traced between them (transcript["heap"],
    ["modules"], ["meminfo"]); romfs: a ROMFS image (bytes) holding basalt/, mounted as
    /rom instead of the package in /lib (bytecode read in place, as from flash);
    preimport: per boot, the modules a traced run's boot loaded (its
    transcript["boot_imports"]), imported one chunk each before that boot's main.py.
    timeout (wall seconds) only guards against a hung VM."""
    with tempfile.TemporaryDirectory(prefix="devicevm-") as tmp:
        lib = _stage(tmp, steps, board, settings, romfs, preimport)
        script = lib / "story_vm.py"
        libs = [lib] if romfs is not None else [_firmware(tmp, mpy), lib]
        args = () if trace_ms is None else ("trace", int(trace_ms))
        stdout = run_micropython(script, lib_dirs=libs, args=args, heap=heap,
                                 timeout=timeout)
    return _transcript(stdout)


def _transcript(stdout):
    console, steps, transcript = [], [], None
    extra = {"modules": set(), "meminfo": [], "boot_imports": []}
    meminfo = False
    for line in stdout.splitlines():
        if line.startswith(MARK):
            transcript = json.loads(line[len(MARK):])
        elif line.startswith(STEP_MARK):
            steps.append(json.loads(line[len(STEP_MARK):]))
        elif line.startswith(HEAP_MARK):
            extra["heap"] = json.loads(line[len(HEAP_MARK):])
            meminfo = False
        elif line.startswith(MODULES_MARK):
            extra["modules"].update(line[len(MODULES_MARK):].split())
        elif line.startswith(IMPORTS_MARK):
            extra["boot_imports"].append(json.loads(line[len(IMPORTS_MARK):]))
        elif line.startswith(MEMINFO_MARK):
            meminfo = True
        elif meminfo:
            extra["meminfo"].append(line)
        else:
            console.append(line)
    if transcript is None:
        raise RuntimeError("the VM printed no transcript:\n" + stdout[-3000:])
    transcript.update(extra, steps=steps, console=console)
    for seen in transcript["steps"]:
        if "frame" in seen:
            seen["screen"] = screen_rows(bytes.fromhex(seen.pop("frame")))
    return transcript


def _rows_match(want, rows):
    """Each wanted string is a substring of a row, rows in order; the failing one or None."""
    at = 0
    for text in want:
        while at < len(rows) and text not in rows[at]:
            at += 1
        if at == len(rows):
            return text
        at += 1
    return None


def _screen(rows):
    return "\n".join("    |%s|" % row for row in rows)


def check_story(steps, transcript):
    """Failure messages (empty when the story holds), each naming the step."""
    failures = []
    allow_resets = bool(steps and steps[0].get("allow_resets"))
    for i, (step, seen) in enumerate(zip(steps, transcript["steps"])):
        where = "step %d %s at %d ms" % (i, json.dumps(step), seen["t_ms"])
        if "expect_screen" in step:
            missing = _rows_match(step["expect_screen"], seen["screen"])
            if missing is not None:
                failures.append("%s: no row shows %r; the screen:\n%s"
                                % (where, missing, _screen(seen["screen"])))
        if "expect_rows" in step:
            want = step["expect_rows"]
            if seen["screen"][:len(want)] != want:
                failures.append("%s: rows differ; the screen:\n%s"
                                % (where, _screen(seen["screen"])))
        if "expect_usteps" in step and seen["usteps"] != seen["want"]:
            failures.append("%s: %d microsteps, expected %d"
                            % (where, seen["usteps"], seen["want"]))
        if "expect_usteps_between" in step:
            lo, hi = seen["want"]
            if not lo <= seen["usteps"] <= hi:
                failures.append("%s: %d microsteps, expected %d to %d"
                                % (where, seen["usteps"], lo, hi))
    for crash in transcript["crashes"]:
        failures.append("firmware crash at %d ms:\n%s" % (crash["t_ms"], crash["error"]))
    if transcript["resets"] and not allow_resets:
        failures.append("unexpected resets: %s" % transcript["resets"])
    return failures


def run_with_fakes(code, board="pico_w", settings=DEFAULT_SETTINGS, heap=None, timeout=120):
    """Run MicroPython source with the device VM's fakes installed (for contract tests);
    return its stdout."""
    with tempfile.TemporaryDirectory(prefix="devicevm-") as tmp:
        lib = _stage(tmp, [], board, settings)
        (lib / "files" / "snippet.py").write_text(code, encoding="utf-8")
        return run_micropython(lib / "snippet_vm.py",
                               lib_dirs=[REPO / "firmware" / "basalt", lib],
                               heap=heap, timeout=timeout)


def story_failures(path, board):
    """Run the story file on the board; the failures as one message ('' when it holds)."""
    steps = load_story(REPO / path)
    failures, _ = DeviceVM(board, story_settings(steps)).check(steps)
    return "\n".join(failures)


def story_settings(steps):
    """The settings file the story's first step names (repo-relative), else the example."""
    name = steps[0].get("settings") if steps else None
    return REPO / name if name else DEFAULT_SETTINGS


class DeviceVM:
    """One board file and settings file; run(steps) runs a story in a fresh VM."""

    def __init__(self, board="pico_w", settings=DEFAULT_SETTINGS, heap=None, mpy=False):
        if board not in BOARDS:
            raise ValueError("board: %r is not allowed; allowed: %s" % (board, BOARDS))
        self.board = board
        self.settings = settings
        self.heap = heap
        self.mpy = mpy

    def run(self, steps):
        return run_story(self.steps(steps), self.board, self.settings, self.heap, mpy=self.mpy)

    def steps(self, steps):
        """The story's steps for this board (a step with "only": board runs only there)."""
        return [step for step in steps if step.get("only", self.board) == self.board]

    def check(self, steps):
        """Run the story; return (failures, transcript)."""
        transcript = self.run(steps)
        return check_story(self.steps(steps), transcript), transcript
