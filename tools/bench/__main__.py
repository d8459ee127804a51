"""python -m tools.bench NAME [--json] [options]   (python -m tools.bench -h lists them)

Every module in tools/bench/ that defines these two functions is a benchmark, named after
the module; nothing here needs editing to add one:

    def add_arguments(parser):   # argparse sub-parser; add options (--json is added here)
    def bench(args, parser):     # returns a dict of figures; parser.error() for bad options

The module docstring's first line is the help text. Modules without add_arguments (such
as the scripts that run inside the MicroPython VM) are not imported.

While a benchmark runs, a progress line goes to stderr every few seconds (--progress
SECONDS, 0 for none; tools/bench/progress.py); stdout carries only the figures.
"""

import argparse
import importlib
import json
import os
import pkgutil
import sys

import tools.bench as package
from tools.bench import progress


def benchmarks():
    """{name: module} for every module of the package with add_arguments and bench."""
    found = {}
    for info in pkgutil.iter_modules(package.__path__):
        path = os.path.join(package.__path__[0], info.name + ".py")
        if info.name.startswith("_") or not os.path.isfile(path):
            continue
        with open(path) as handle:
            if "\ndef add_arguments(" not in handle.read():
                continue
        module = importlib.import_module("tools.bench." + info.name)
        if hasattr(module, "add_arguments") and hasattr(module, "bench"):
            found[info.name] = module
    return found


def main(argv=None):
    modules = benchmarks()
    parser = argparse.ArgumentParser(prog="python -m tools.bench")
    sub = parser.add_subparsers(dest="bench", required=True)
    parsers = {}
    for name in sorted(modules):
        doc = (modules[name].__doc__ or name).strip().split("\n")[0]
        parsers[name] = sub.add_parser(name, help=doc, description=doc)
        parsers[name].add_argument("--json", action="store_true",
                                   help="one JSON object on stdout")
        parsers[name].add_argument("--progress", type=float, default=progress.EVERY_S,
                                   metavar="SECONDS",
                                   help="a progress line on stderr this often "
                                        "(default %(default)s; 0: none)")
        modules[name].add_arguments(parsers[name])
    args = parser.parse_args(argv)
    if not args.progress >= 0:
        parsers[args.bench].error("--progress must be 0 (none) or more seconds")
    with progress.reporting(args.bench, args.progress):
        result = modules[args.bench].bench(args, parsers[args.bench])
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        for key in sorted(result):
            print("%-34s %s" % (key, result[key]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
