"""python -m tools.history: get a pump's history off the board and look at it.

    python -m tools.history pull --port /dev/ttyACM0 [--out out/history] [--stop-therapy]
    python -m tools.history export FILE (--csv | --nightscout) [--out F] [--start ISO]
    python -m tools.history plot FILE [--out out/history.png] [--start ISO]

FILE is a journal bundle (pull and `tools.sim --journal` write one) or a folder of
segment files. Times: a boot that recorded the wall clock is placed there; otherwise
records follow on from --start (default %s).
"""

import argparse
import csv
import json
import os
import sys

from tools import history
from tools.history import pull as pull_mod

__doc__ = __doc__ % history.DEFAULT_START


def main(argv=None, runner=None, link_factory=None):
    parser = argparse.ArgumentParser(prog="python -m tools.history",
                                     description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    get = sub.add_parser("pull", help="copy the journal from a board (the pump keeps "
                                      "delivering)")
    get.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyACM0")
    get.add_argument("--out", default=os.path.join("out", "history"))
    get.add_argument("--stop-therapy", action="store_true",
                     help="if no pump app answers (firmware without the USB service), "
                          "copy with mpremote anyway (it stops the pump program) and "
                          "reset the board")
    export = sub.add_parser("export", help="write CSV or Nightscout JSON")
    export.add_argument("file")
    shape = export.add_mutually_exclusive_group(required=True)
    shape.add_argument("--csv", action="store_true")
    shape.add_argument("--nightscout", action="store_true")
    export.add_argument("--out", default=None, help="output file (default: stdout)")
    export.add_argument("--start", default=history.DEFAULT_START)
    draw = sub.add_parser("plot", help="glucose, basal, boluses and alarms to PNG")
    draw.add_argument("file")
    draw.add_argument("--out", default=os.path.join("out", "history.png"))
    draw.add_argument("--start", default=history.DEFAULT_START)
    args = parser.parse_args(argv)
    try:
        if args.action == "pull":
            path = pull_mod.pull(args.port, args.out, runner or pull_mod.subprocess_runner,
                                 link_factory or pull_mod.pump_link.PumpLink,
                                 stop_therapy=args.stop_therapy)
            view = history.load(path)
            print("pulled %d records into %s" % (len(view.records), path))
            _warn(view)
            return 0
        view = history.load(args.file)
        start = history.parse_start(args.start)
        _warn(view)
        if args.action == "plot":
            os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
            from tools.history.plot import plot

            plot(view, args.out, start)
            print("wrote %s (%d records)" % (args.out, len(view.records)))
        elif args.csv:
            _output(args.out, lambda handle: _write_csv(handle, view, start))
        else:
            shaped = history.nightscout(view, start)
            _output(args.out, lambda handle: json.dump(shaped, handle, indent=1,
                                                       sort_keys=True))
    except (history.HistoryError, pull_mod.PullError) as error:
        print("error: %s" % error, file=sys.stderr)
        return 1
    return 0


def _warn(view):
    for line in history.warnings(view):
        print("warning: " + line, file=sys.stderr)


def _write_csv(handle, view, start):
    writer = csv.DictWriter(handle, fieldnames=history.CSV_FIELDS)
    writer.writeheader()
    writer.writerows(history.csv_rows(view, start))


def _output(path, write):
    if path is None:
        write(sys.stdout)
        return
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", newline="") as handle:
        write(handle)
    print("wrote %s" % path, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
