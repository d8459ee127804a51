"""The Pi's board_main: python3 -m tools.pi [--board FILE] [--settings FILE] [--data DIR]
[--seconds N] [--status-s N] [--command JSON]...

Loads the board file (default boards/raspberry_pi.py) and checks the settings file as a
board does (load_settings with the board), puts it in the data directory as the pump's
settings (without --settings the pump keeps the one it has there; with none, no basal
runs), prints the boot warning and builds the whole pump as the boards build it
(tools/pi/rig.py: motor, HX711, buzzer, buttons and OLED, journal and checkpoints in
the data directory, the task supervisor on a software watchdog). The --command objects
(plain data in user units, as on every other port; the first is usually
{"cmd": "boot_ack"}, the boot screen's acknowledgement) are applied in order, then the
tasks run: forever, or for --seconds, then the pump suspends, the motor finishes the
steps already planned and a summary is printed. A status line comes every --status-s.

On a machine that is not a Pi (BLINKA_OS_AGNOSTIC=1), a simulated bench
(tools/pi/bench.py) stands in for the buttons, the HX711 and the OLED.
"""

import argparse
import asyncio
import json
import sys
from pathlib import Path

from basalt.app import BOOT_WARNING
from basalt.core import strict_json
from basalt.core.board_file import load_board
from basalt.core.errors import ConfigError
from basalt.core.settings import MAX_DEPTH as SETTINGS_MAX_DEPTH
from basalt.core.settings import load_settings, parse_settings_text
from tools.pi import rig as pi_rig

DEFAULT_BOARD = Path(__file__).resolve().parents[2] / "boards" / "raspberry_pi.py"
DEFAULT_DATA = "out/pi"
# As on a board: without a settings file there are no limits, so no basal runs and the
# safety gate refuses every dose. Said at start, so a refused bolus is no surprise.
NO_SETTINGS = ("pi: no settings file in %s: no basal profile runs and every dose is "
               "refused (e.g. --settings settings/example.json)")
BENCH = ("pi: blinka's OS-agnostic board: a simulated bench stands in for the buttons, "
         "the HX711 and the OLED (tools/pi/bench.py)")


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


def main(argv=None, machine=None, bench=None):
    parser = argparse.ArgumentParser(prog="python3 -m tools.pi", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--board", default=str(DEFAULT_BOARD), help="board file")
    parser.add_argument("--settings", default=None,
                        help="therapy settings file to install (default: keep the pump's)")
    parser.add_argument("--data", default=DEFAULT_DATA,
                        help="directory of the journal, checkpoints and settings "
                             "(default %(default)s)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="run this long, then print a summary (default: forever)")
    parser.add_argument("--status-s", type=float, default=10,
                        help="seconds between status lines (default %(default)s)")
    parser.add_argument("--command", action="append", default=[],
                        help='a command as JSON, e.g. \'{"cmd": "bolus", "units": 0.1}\'')
    args = parser.parse_args(argv)
    print(BOOT_WARNING, flush=True)
    try:
        board = read_board(args.board)
        _, warnings = read_settings(args.settings, board)
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
    for warning in warnings:
        print("settings warning: " + warning)
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    if args.settings:
        pi_rig.install_settings(args.settings, data)
    elif not (data / pi_rig.SETTINGS_NAME).exists():
        print(NO_SETTINGS % data, file=sys.stderr)
    if machine is None and bench is None and pi_rig.os_agnostic():
        from tools.pi.bench import Bench

        print(BENCH)
        bench = Bench(board)
    rig = pi_rig.build(board, data, machine, bench)
    app = rig.app
    try:
        for cmd in commands:
            app.command(cmd)
        asyncio.run(pi_rig.run(rig, args.seconds, int(args.status_s * 1000)))
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # a refused command: named field, value, allowed range
        print("pi: error: %s" % exc, file=sys.stderr)
        return 1
    finally:
        rig.watchdog.stop()
        app.motor.disable()
    print(json.dumps(summary(app), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
