"""CLI: python -m tools.vboard [--link PATH] (make vboard). See tools/vboard/__init__.py."""

import argparse
import signal
import sys
import threading

from tools.vboard import VirtualBoard


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.vboard",
                                     description="Start the virtual board behind a "
                                                 "pseudo-terminal.")
    parser.add_argument("--link", default=None,
                        help="also make this symlink to the port (e.g. /tmp/vboard)")
    args = parser.parse_args(argv)
    try:
        board = VirtualBoard(link=args.link)
    except RuntimeError as exc:
        print("vboard: %s" % exc, file=sys.stderr)
        return 1
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with board:
        print("vboard: MicroPython 1.29 (WebAssembly) with a simulated machine on %s%s"
              % (board.port, " (link %s)" % args.link if args.link else ""))
        print("vboard: connect:  .venv/bin/mpremote connect %s repl" % board.port)
        print("vboard: deploy:   make deploy BOARD=vboard PORT=%s MIP=0" % board.port)
        print("vboard: Ctrl-C stops it", flush=True)
        try:
            while board.alive() and not done.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
