"""Check or write a Basalt therapy settings file.

    python -m tools.settings check FILE [--board NAME]   exit 0 + one-line summary,
                                                         or exit 1 + every problem
                                                         (exit 2: unknown or invalid
                                                         board, one line)
    python -m tools.settings example [--out FILE]        a valid, commented example
"""

import argparse
import sys

from basalt.core.errors import ConfigError
from tools import boardfiles
from tools.settings import read_settings
from tools.settings.example import EXAMPLE


def check(path, board_name=None):
    """Print a summary (0) or every problem (1); warnings go to stderr. A board name
    with no boards/<name>.py (or an invalid board file) is one line on stderr, exit 2."""
    out, err = sys.stdout, sys.stderr
    board = None
    if board_name:
        try:
            board = boardfiles.load(board_name)
        except boardfiles.UnknownBoard as error:
            print("--board: %s" % error, file=err)
            return 2
        except ConfigError as error:
            print("--board %s: boards/%s.py is not a valid board file: %s"
                  % (board_name, board_name, error), file=err)
            return 2
    try:
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
