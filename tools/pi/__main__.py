"""The Pi's board_main: python3 -m tools.pi [--board FILE] [--settings FILE] [--seconds N]
[--command JSON]...

Loads the board file (default boards/raspberry_pi.py) and the settings file (checked as
on a board: load_settings with the board; without one, no basal profile runs), prints the
boot warning, builds the firmware's PumpApp on a ThreadStepper and a monotonic clock,
applies the --command
objects in order (plain data in user units, as on every other port), and runs the app's
loop: forever, or for --seconds, then suspends the pump, lets the motor finish the steps
already planned and prints what was delivered and the step timing.
"""

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from basalt.app import BOOT_WARNING, PumpApp
from basalt.core import strict_json
from basalt.core.board_file import load_board
from basalt.core.errors import ConfigError, NotAllowedNow
from basalt.core.settings import MAX_DEPTH as SETTINGS_MAX_DEPTH
from basalt.core.settings import load_settings, parse_settings_text
from basalt.ports import Clock
from tools.pi.stepper import ThreadStepper

DEFAULT_BOARD = Path(__file__).resolve().parents[2] / "boards" / "raspberry_pi.py"
# As on a board: without a settings file there are no limits, so no basal runs and the
# safety gate refuses every dose. Said at start, so a refused bolus is no surprise.
NO_SETTINGS = ("pi: no --settings file: no basal profile runs and every dose is refused "
               "(e.g. --settings settings/example.json)")


class MonotonicClock(Clock):
    """The one clock on the Pi: ms since start, from CPython's monotonic clock."""

    def __init__(self):
        self._t0 = time.monotonic_ns()

    def now_ms(self):
        return (time.monotonic_ns() - self._t0) // 1_000_000

    async def sleep_ms(self, ms):
        await asyncio.sleep(ms / 1000)


def read_board(path):
    namespace = {"__name__": "board"}
    source = Path(path).read_text(encoding="utf-8")
    exec(compile(source, str(path), "exec"), namespace)
    return load_board(namespace["BOARD"])


def read_settings(path, board):
    """(Settings, warnings) of a settings file, or (None, []) without one."""
    if path is None:
        return None, []
    return load_settings(parse_settings_text(Path(path).read_text(encoding="utf-8")), board)


def build(board, settings=None, machine=None):
    """The app on the Pi's hardware (machine: a tools.pi.machine.Machine, for tests)."""
    return PumpApp(board, MonotonicClock(), ThreadStepper(board.motor, machine),
                   settings=settings)


async def run_for(app, seconds):
    task = asyncio.ensure_future(app.run())
    try:
        if seconds is None:
            await task
        else:
            await asyncio.sleep(seconds)
            task.cancel()
            try:  # the run ends like a user ending it: suspend, then finish the moves
                app.command({"cmd": "suspend"})
            except NotAllowedNow:
                pass  # already stopped
            await drain(app)
    finally:
        task.cancel()
        app.motor.disable()


async def drain(app, max_ticks=400):
    """Tick until the motor has made every step planned so far (the pump is suspended,
    so nothing new is planned), so the counts agree."""
    for _ in range(max_ticks):
        app.step()
        if not (app.motor.busy() or app.motion.pending_steps or app.motion.rewind_steps):
            return
        await asyncio.sleep(app.tick_ms / 1000)


def summary(app):
    engine = app.engine
    return {
        "moved_steps": app.motion.moved_steps,
        "rewound_steps": app.motion.rewound_steps,
        "basal_steps": engine.basal_steps,
        "bolus_steps": engine.bolus_steps,
        "prime_steps": engine.prime_steps,
        "delivered_mu": app.board.mu_for_usteps(engine.basal_steps + engine.bolus_steps),
        "step_timing": app.motor.jitter.summary(),
    }


def main(argv=None, machine=None):
    parser = argparse.ArgumentParser(prog="python3 -m tools.pi", description=__doc__)
    parser.add_argument("--board", default=str(DEFAULT_BOARD), help="board file")
    parser.add_argument("--settings", default=None, help="therapy settings file")
    parser.add_argument("--seconds", type=float, default=None,
                        help="run this long, then print a summary (default: forever)")
    parser.add_argument("--command", action="append", default=[],
                        help='a command as JSON, e.g. \'{"cmd": "bolus", "units": 0.1}\'')
    args = parser.parse_args(argv)
    print(BOOT_WARNING, flush=True)
    try:
        board = read_board(args.board)
        settings, warnings = read_settings(args.settings, board)
        # Strict JSON: a save_settings command with a key twice is refused, not read as
        # its last value; a command nests one level above the settings file.
        commands = [strict_json.loads(text, 1 + SETTINGS_MAX_DEPTH, "--command")
                    for text in args.command]
    except (ConfigError, ValueError, OSError) as exc:
        print("pi: error: %s" % exc, file=sys.stderr)
        return 2
    if board.mcu != "raspberry_pi":
        print("pi: error: %s is for the %s, not a Raspberry Pi" % (args.board, board.mcu),
              file=sys.stderr)
        return 2
    if settings is None:
        print(NO_SETTINGS, file=sys.stderr)
    for warning in warnings:
        print("settings warning: " + warning)
    app = build(board, settings, machine)
    try:
        for cmd in commands:
            app.command(cmd)
        asyncio.run(run_for(app, args.seconds))
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # a refused command: named field, value, allowed range
        app.motor.disable()
        print("pi: error: %s" % exc, file=sys.stderr)
        return 1
    print(json.dumps(summary(app), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
