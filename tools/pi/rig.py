"""The whole pump on a Raspberry Pi, composed as the boards compose it.

basalt.app.device builds a board's pump: the motor, the force sensor, the buzzer, the
journal and checkpoints (Keeper on FileStorage), the buttons-and-OLED task, the task
supervisor and its watchdog, then runs the tasks (run_tasks). The Pi uses those same
builders and tasks; only the hardware underneath differs:

- `machine` and `ssd1306` are tools/pi's (installed in sys.modules before the builders
  run), on adafruit-blinka: the firmware's HX711, buzzer, button and display drivers run
  unchanged;
- the motor is ThreadStepper (tools/pi/stepper.py), the clock CPython's monotonic one;
- the journal, checkpoints and settings are files in a directory (--data);
- the watchdog is SoftWatchdog (tools/pi/watchdog.py): a stalled delivery loop stops the
  motor and ends the process, as a board's watchdog resets it;
- a status line every few seconds says what the pump is doing.

With a Keeper attached, a late tick is bounded as on the boards: before any forward move
the Keeper commits a checkpoint whose lease (basalt.storage.lease) covers it, so however
late a tick comes, a crash loses at most the lease.

CGM over Bluetooth is not wired on the Pi yet (the boards' client is aioble, MicroPython
only); glucose is entered by hand.
"""

import asyncio
import os
import shutil
import sys
import time
from pathlib import Path

from basalt import firmware_version
from basalt.app import PumpApp, device, wiring
from basalt.core.errors import NotAllowedNow
from basalt.core.supervisor import Supervisor
from basalt.ports import Clock
from basalt.storage.files import FileStorage
from basalt.storage.keeper import Keeper
from tools.pi.machine import Machine, Time
from tools.pi.stepper import ThreadStepper
from tools.pi.watchdog import WATCHDOG_EXIT, SoftWatchdog

SETTINGS_NAME = "settings.json"
WATCHDOG_MS = 4_000  # as on the boards (basalt.app.device.start), with the supervisor
# declaring a task silent after half of it
NO_CGM = ("pi: CGM over Bluetooth is not available on the Pi rig yet (the boards' client "
          "is aioble, MicroPython only): glucose is entered by hand")


class MonotonicClock(Clock):
    """The one clock on the Pi: ms since start, from CPython's monotonic clock (a CPython
    int never becomes a heap object, so it never rebases: Clock.rebase_at_ms is None)."""

    rebase_at_ms = None  # CPython's ints never allocate: never moved back (ports.Clock)

    def __init__(self):
        self._t0 = time.monotonic_ns()

    def now_ms(self):
        return (time.monotonic_ns() - self._t0) // 1_000_000

    async def sleep_ms(self, ms):
        await asyncio.sleep(ms / 1000)


def install(machine):
    """The Pi's `machine` and `ssd1306` modules, for the firmware's drivers."""
    from tools.pi import ssd1306

    sys.modules["machine"] = machine
    sys.modules["ssd1306"] = ssd1306


def os_agnostic():
    """True on blinka's OS-agnostic mock board (BLINKA_OS_AGNOSTIC=1), not a Pi."""
    from adafruit_blinka.agnostic import detector

    return bool(detector.board.OS_AGNOSTIC_BOARD)


def install_settings(source, data_dir):
    """Put a settings file in the data directory as the pump's own, as deploy puts one on
    a board: without the checksum of the file it replaces, so it is checked as new."""
    target = Path(data_dir) / SETTINGS_NAME
    shutil.copyfile(source, target)
    try:
        os.remove(str(target) + ".sum")
    except FileNotFoundError:
        pass


class Rig:
    """The running parts: app, supervisor, ui (None without display or buttons), the
    watchdog, the motor, and the bench (None on a Pi)."""

    def __init__(self, app, supervisor, ui, watchdog, bench):
        self.app = app
        self.supervisor = supervisor
        self.ui = ui
        self.watchdog = watchdog
        self.bench = bench


def stop_and_exit(motor, exit=os._exit):
    """The watchdog's action: the motor stops (EN off first), the process ends."""
    def expired(silent_ms):
        motor.stop()
        print("pi: watchdog: the pump's tasks were silent for %d ms: motor stopped, "
              "exiting (status %d)" % (silent_ms, WATCHDOG_EXIT), file=sys.stderr, flush=True)
        exit(WATCHDOG_EXIT)
    return expired


def build(board, data_dir, machine=None, bench=None, clock=None, expired=None,
          watchdog_ms=WATCHDOG_MS):
    """The pump on the Pi's hardware (machine: a tools.pi.machine.Machine; bench: a
    tools.pi.bench.Bench behind it when this is not a Pi). data_dir holds the journal,
    the checkpoints and settings.json (install_settings)."""
    machine = machine or Machine(bench=bench)
    install(machine)
    clock = clock or MonotonicClock()
    data_dir = str(Path(data_dir).resolve())
    settings_path = data_dir + "/" + SETTINGS_NAME
    motor = ThreadStepper(board.motor, machine)  # the driver starts disabled
    keeper = Keeper(FileStorage(data_dir),
                    settings_file=device.settings_file(board, settings_path))
    app = PumpApp(board, clock, motor, settings=wiring.read_settings(keeper, settings_path),
                  force=wiring.make_force(board, time=Time()),
                  buzzer=wiring.make_buzzer(board), collect_events=False)
    app.keeper = keeper
    app.keeper.start(clock.now_ms(), "power_on", wiring.wall_epoch_s(),
                     fw=firmware_version())
    for line in app.keeper.boot_notes:
        print(line)
    cgm = app.settings.cgm if app.settings is not None else None
    if cgm is not None and cgm.enabled:
        print(NO_CGM)
    watchdog = SoftWatchdog(expired or stop_and_exit(motor), watchdog_ms)
    supervisor = Supervisor(watchdog, watchdog_ms // 2)
    return Rig(app, supervisor, wiring.make_ui(app, board), watchdog, bench)


def _units(mu):
    return "%d.%03d U" % divmod(mu, 1000)


def status_line(app, now_ms):
    """One line: run time, insulin delivered (basal, bolus), state, active alarms."""
    engine, board = app.engine, app.board
    seconds = now_ms // 1000
    if app.keeper is not None and app.keeper.awaiting_ack:
        state = "boot screen (acknowledge to start)"
    elif engine.stop_reason is not None:
        state = "stopped: %s" % engine.stop_reason
    else:
        state = "delivering"
    return "pi: %02d:%02d:%02d  basal %s  bolus %s  %s  alarms: %s" % (
        seconds // 3600, seconds // 60 % 60, seconds % 60,
        _units(board.mu_for_usteps(engine.basal_steps)),
        _units(board.mu_for_usteps(engine.bolus_steps)), state,
        ", ".join(app.alarms.active()) or "none")


async def report(app, period_ms, out=print):
    """The status line every period_ms, from the start."""
    while True:
        out(status_line(app, app.clock.now_ms()), flush=True)
        await app.clock.sleep_ms(period_ms)


async def run(rig, seconds=None, status_ms=10_000):
    """The boards' tasks (basalt.app.device.run_tasks) and the status line: forever, or
    for `seconds`, then an orderly stop: every task ends, the watchdog with them, the
    pump suspends and the motor finishes the steps already planned."""
    app = rig.app
    others = asyncio.all_tasks()  # the caller's: left alone
    asyncio.ensure_future(report(app, status_ms))
    tasks = asyncio.ensure_future(device.run_tasks(app, rig.supervisor, rig.ui, None))
    if seconds is None:
        await tasks
    await asyncio.sleep(seconds)
    rig.watchdog.stop()
    for task in asyncio.all_tasks() - others:  # run_tasks' own included
        task.cancel()
    try:  # the run ends like a user ending it: suspend, then finish the moves
        app.command({"cmd": "suspend"})
    except NotAllowedNow:
        pass  # already stopped, or the boot screen is still up
    await drain(app)
    app.motor.disable()
    print(status_line(app, app.clock.now_ms()), flush=True)


async def drain(app, max_ticks=400):
    """Tick until the motor has made every step planned so far (the pump is suspended,
    so nothing new is planned), so the counts agree."""
    for _ in range(max_ticks):
        app.step()
        if not (app.motor.busy() or app.motion.pending_steps or app.motion.rewind_steps):
            return
        await asyncio.sleep(app.tick_ms / 1000)
