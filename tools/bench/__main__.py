"""python -m tools.bench delivery [--json] [--days 30] [--seed 1]
   python -m tools.bench powercut [--json] [--limit N] [--jobs 2]"""

import argparse
import json
import sys

from tools.bench import delivery, powercut


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.bench")
    sub = parser.add_subparsers(dest="bench", required=True)
    deliver = sub.add_parser("delivery", help="delivery accuracy, sim speed, allocations")
    deliver.add_argument("--json", action="store_true", help="one JSON object on stdout")
    deliver.add_argument("--days", type=int, default=30, help="simulated days per rate")
    deliver.add_argument("--seed", type=int, default=1)
    cut = sub.add_parser("powercut", help="cut the power at every write of a day")
    cut.add_argument("--json", action="store_true", help="one JSON object on stdout")
    cut.add_argument("--limit", type=int, default=None, help="at most this many cuts")
    cut.add_argument("--jobs", type=int, default=powercut.default_jobs())
    args = parser.parse_args(argv)
    if args.bench == "powercut":
        result = powercut.run(args.limit, args.jobs)
    elif args.days < 1:
        parser.error("--days must be at least 1")
    else:
        result = delivery.run(args.days, args.seed)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        for key in sorted(result):
            print("%-34s %s" % (key, result[key]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
