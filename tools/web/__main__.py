"""CLI: python -m tools.web [--out DIR] [--port N] [--no-serve] (make web).
See tools/web/__init__.py."""

import argparse
import sys

from tools.web import DEFAULT_OUT, DEFAULT_PORT, address, build, server


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.web",
                                     description="Build the Basalt page and serve it on "
                                                 "localhost.")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="folder (default build/web)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help="port on 127.0.0.1 (default %d; 0: any free one)" % DEFAULT_PORT)
    parser.add_argument("--no-serve", action="store_true", help="only build the folder")
    args = parser.parse_args(argv)
    try:
        count = build(args.out)
    except RuntimeError as exc:
        print("web: %s" % exc, file=sys.stderr)
        return 1
    print("web: built %s (%d files for the VM)" % (args.out, count))
    if args.no_serve:
        return 0
    try:
        httpd = server(args.out, args.port)
    except OSError as exc:
        print("web: cannot listen on port %d: %s (try --port 0)" % (args.port, exc),
              file=sys.stderr)
        return 1
    print("web: Basalt in a browser at %s  (a simulation: never for use on a person)"
          % address(httpd))
    print("web: Ctrl-C stops it", flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
