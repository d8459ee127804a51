"""One closed-loop decision from an input record: python -m tools.sim decide FILE.json

FILE.json is the record basalt.core.loop.decide() takes (now_ms, readings, iob, schedule,
settings, pump, state; an optional "why" note). Prints the decision and the loop's new
state as JSON, in the layout of the fixtures' expected files
(host_tests/scenarios/decide_*.expected.json), so a fixture's output is its expected
file byte for byte. A file that is not such a record: one line on stderr naming the
field, the value and the allowed range, exit 2.
"""

import json
import sys

from basalt.core import loop
from basalt.core.errors import InvalidValue


def run(record):
    """The plain result (decision with its prediction, new state) of one record."""
    decision, state = loop.decide(record)
    return loop.result(decision, state)


def dumps(value, indent=""):
    """JSON with one key per line and every list on one line (short, diffable)."""
    if isinstance(value, dict) and value:
        inner = indent + "  "
        items = ["%s%s: %s" % (inner, json.dumps(key), dumps(value[key], inner))
                 for key in sorted(value)]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    return json.dumps(value)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv in (["--help"], ["-h"]):
        print("usage: python -m tools.sim decide FILE.json\n\n" + __doc__.strip())
        raise SystemExit(0)
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m tools.sim decide FILE.json", file=sys.stderr)
        return 2
    path = argv[0]
    try:
        with open(path) as handle:
            record = json.load(handle)
        out = run(record)
    except OSError as error:
        print("error: %s: %s" % (path, error.strerror or error), file=sys.stderr)
        return 2
    except InvalidValue as error:
        print("error: %s: %s" % (path, error), file=sys.stderr)
        return 2
    except ValueError as error:  # json.JSONDecodeError, UnicodeDecodeError
        print("error: %s: not JSON: %s" % (path, error), file=sys.stderr)
        return 2
    print(dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
