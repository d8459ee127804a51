"""python -m tools.bench NAME [--json] [options]   (python -m tools.bench -h lists them)

Every module in tools/bench/ that defines these two functions is a benchmark, named after
the module; nothing here needs editing to add one:

    def add_arguments(parser):   # argparse sub-parser; add options (--json is added here)
    def bench(args, parser):     # returns a dict of figures; parser.error() for bad options

The module docstring's first line is the help text. Modules without add_arguments (such
as the scripts that run inside the MicroPython VM) are not imported.
"""

import argparse
import importlib
import json
import os
import pkgutil
import sys

import tools.bench as package


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
        modules[name].add_arguments(parsers[name])
    args = parser.parse_args(argv)
    result = modules[args.bench].bench(args, parsers[args.bench])
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        for key in sorted(result):
            print("%-34s %s" % (key, result[key]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
