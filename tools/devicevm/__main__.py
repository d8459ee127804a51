"""python -m tools.devicevm story STORY.json [--board B] [--settings FILE] [--heap N] [--mpy]

Runs one story in the device VM, prints the transcript (each step's time and what it
observed, the firmware's console) and the failed expectations; exit 1 if any failed.
"""

import argparse
import json
import sys

from tools.devicevm import BOARDS, DeviceVM, load_story, story_settings


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.devicevm")
    sub = parser.add_subparsers(dest="command", required=True)
    story = sub.add_parser("story", help="run a story and print its transcript")
    story.add_argument("path")
    story.add_argument("--board", choices=BOARDS, default="pico_w")
    story.add_argument("--settings", default=None,
                       help="a settings file (default: the one the story names, else the example)")
    story.add_argument("--heap", type=int, default=None, help="VM heap in bytes")
    story.add_argument("--mpy", action="store_true",
                       help="load the firmware as .mpy bytecode (mpy-cross), as deployed")
    args = parser.parse_args(argv)
    steps = load_story(args.path)
    vm = DeviceVM(args.board, args.settings or story_settings(steps), args.heap, args.mpy)
    failures, transcript = vm.check(steps)
    for step, seen in zip(vm.steps(steps), transcript["steps"]):
        print("%8d ms  %s" % (seen["t_ms"], json.dumps(step)))
        for row in seen.get("screen", ()):
            print("            |%s|" % row)
        if "usteps" in seen:
            print("            usteps %d" % seen["usteps"])
        if "alloc" in seen:
            print("            heap alloc %d free %d" % (seen["alloc"], seen["free"]))
    print("console:")
    for line in transcript["console"]:
        print("  " + line)
    print("microsteps %d (pulses to a disabled driver: %d)"
          % (transcript["usteps"], transcript["ignored_pulses"]))
    for failure in failures:
        print("FAIL " + failure)
    print("%s: %s" % (args.path, "FAILED" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
