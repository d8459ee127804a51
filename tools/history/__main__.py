"""python -m tools.history: get a pump's history off the board and look at it.

    python -m tools.history pull --port /dev/ttyACM0 [--out out/history] [--stop-therapy]
    python -m tools.history export FILE --csv [--out F] [--start ISO]
    python -m tools.history export FILE --nightscout [--out DIR] [--start ISO]
    python -m tools.history upload FILE --url URL --secret SECRET [--dry-run] [--start ISO]
    python -m tools.history plot FILE [--out out/history.png] [--start ISO]

FILE is a journal bundle (pull and `tools.sim --journal` write one) or a folder of
segment files. Times: a boot that recorded the wall clock, or whose clock was set on
the pump, is placed there; otherwise records follow on from --start (default %s), a
guess that is warned about and flagged (timeGuessed) in what is exported.
--nightscout writes DIR/entries.json, treatments.json and devicestatus.json, each the
body of its Nightscout API v1 POST; upload sends them (only what the site lacks).
"""

import argparse
import csv
import json
import os
import sys

from tools import history
from tools.history import nsexport
from tools.history import pull as pull_mod
from tools.history import upload as upload_mod

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
    export.add_argument("--out", default=None, help="CSV: output file (default: stdout); "
                        "Nightscout: folder for the three files (default out/nightscout)")
    _common(export)
    send = sub.add_parser("upload", help="send the Nightscout export to a site (API v1)")
    send.add_argument("file")
    send.add_argument("--url", required=True, help="the site, e.g. https://my.nightscout")
    send.add_argument("--secret", help="the site's API_SECRET (sent as its SHA-1; not "
                                       "needed for --dry-run)")
    send.add_argument("--dry-run", action="store_true", help="print what would be sent")
    send.add_argument("--batch", type=int, default=upload_mod.BATCH,
                      help="objects per POST (default %d)" % upload_mod.BATCH)
    _common(send)
    draw = sub.add_parser("plot", help="glucose, basal as delivered, boluses and carbs, as "
                                       "Nightscout draws them, to PNG")
    draw.add_argument("file")
    draw.add_argument("--out", default=os.path.join("out", "history.png"))
    _common(draw)
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
        start = history.Start(history.parse_start(args.start or history.DEFAULT_START),
                              history.parse_offset(args.utc_offset))
        _warn(view, start)
        if args.action == "plot":
            os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
            from tools.history.plot import plot

            plot(view, args.out, start, device=args.device)
            print("wrote %s (%d records)" % (args.out, len(view.records)))
        elif args.action == "upload":
            return _upload(args, view, start)
        elif args.csv:
            _output(args.out, lambda handle: _write_csv(handle, view, start))
        else:
            _write_nightscout(args.out or os.path.join("out", "nightscout"), view, start,
                              args.device)
    except (history.HistoryError, pull_mod.PullError, upload_mod.UploadError) as error:
        print("error: %s" % error, file=sys.stderr)
        return 1
    return 0


def _common(parser):
    parser.add_argument("--start", default=None, help="when the first record was written, "
                        "for a pump whose clock was never set (default %s)"
                        % history.DEFAULT_START)
    parser.add_argument("--utc-offset", default="0", help="the pump clock's offset from "
                        "UTC, e.g. +01:00 (the pump keeps local time; default 0: UTC)")
    parser.add_argument("--device", default="basalt", help="the device name on the site "
                        "(default basalt; name each pump if you have several)")


def _warn(view, start=None):
    lines = history.warnings(view)
    if start is not None:
        lines += [history.clock_warning(view, start)] if history.clock_warning(
            view, start) else []
    for line in lines:
        print("warning: " + line, file=sys.stderr)


def _write_nightscout(folder, view, start, device):
    shaped = history.nightscout(view, start, device)
    os.makedirs(folder, exist_ok=True)
    for name in ("entries", "treatments", "devicestatus"):
        path = os.path.join(folder, name + ".json")
        with open(path, "w") as handle:
            json.dump(shaped[name], handle, indent=1, sort_keys=True)
        print("wrote %s (%d %s)" % (path, len(shaped[name]), name))
    _check(view, start, shaped)


def _check(view, start, shaped):
    """The export's self-check: the pump's hours as Nightscout will count them."""
    hours = nsexport.hourly_agreement(view, start, shaped["treatments"])
    if hours:
        worst = max(abs(h[3]) for h in hours)
        print("check: Nightscout's reading of these treatments gives the pump's delivered "
              "insulin in each of its %d full hours within %.3f microsteps (the motor "
              "moves in whole microsteps, Nightscout counts a smooth rate: under one "
              "apart)" % (len(hours), worst))


def _upload(args, view, start):
    if args.start is None and history.guessed(view, start):
        print("error: the pump's clock was never set, so the times would be guesses; "
              "give --start (when the journal's first record was written) to upload "
              "anyway", file=sys.stderr)
        return 1
    if not args.dry_run and not args.secret:
        print("error: --secret is required (the site's API_SECRET)", file=sys.stderr)
        return 2
    if args.batch < 1:
        print("error: --batch %d: at least 1 object per POST" % args.batch, file=sys.stderr)
        return 2
    shaped = history.nightscout(view, start, args.device)
    if args.dry_run:
        upload_mod.dry_run(shaped, args.url, batch=args.batch)
        _check(view, start, shaped)
        return 0
    site = upload_mod.Site(args.url, args.secret)
    summary = upload_mod.upload(shaped, site, batch=args.batch)
    print(upload_mod.describe_summary(summary, args.url))
    return 0


def _write_csv(handle, view, start):
    writer = csv.DictWriter(handle, fieldnames=history.csv_fields(view))
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
