"""Check or write a Basalt therapy settings file.

    python -m tools.settings check FILE [--board NAME]   exit 0 + one-line summary,
                                                         or exit 1 + every problem
    python -m tools.settings example [--out FILE]        a valid, commented example
"""

import argparse
import sys

from basalt.core.board_file import load_board
from basalt.core.errors import ConfigError
from tools.settings import read_settings
from tools.settings.example import EXAMPLE


def check(path, board_name=None):
    """Print a summary (0) or every problem (1); warnings go to stderr."""
    out, err = sys.stdout, sys.stderr
    try:
        board = None
        if board_name:
            board = load_board(__import__(board_name).BOARD)
        settings, warnings = read_settings(path, board)
    except (OSError, UnicodeDecodeError) as error:
        print("%s: cannot read: %s" % (path, error), file=err)
        return 1
    except ConfigError as error:
        problems = getattr(error, "problems", [error])
        print("%s: refused, %d problem(s):" % (path, len(problems)), file=out)
        for problem in problems:
            print("  " + str(problem), file=out)
        return 1
    for warning in warnings:
        print("warning: " + warning, file=err)
    print("%s: ok, %s" % (path, settings.summary()), file=out)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.settings",
                                     description="Check or write a Basalt settings file.")
    sub = parser.add_subparsers(dest="action", required=True)
    checking = sub.add_parser("check", help="check FILE; exit 1 listing every problem")
    checking.add_argument("file")
    checking.add_argument("--board", help="also check against a board file in boards/ "
                          "(e.g. sim, pico_w)")
    example = sub.add_parser("example", help="write a valid, commented example")
    example.add_argument("--out", help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    if args.action == "check":
        return check(args.file, args.board)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(EXAMPLE)
    else:
        sys.stdout.write(EXAMPLE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
