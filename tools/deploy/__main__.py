"""CLI: python -m tools.deploy --board NAME --port PORT [options] (see tools/deploy).

    python -m tools.deploy manifests     regenerate the mip manifests (tools/deploy/manifest.py)
    python -m tools.deploy --selftest PORT   the power-on self-test over USB (firstflash.py)
"""

import argparse
import sys

from tools.deploy import firstflash, manifest
from tools.deploy.deploy import REPO_ROOT, DeployError, check_board, deploy, find_mpremote


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tools.deploy",
        description="Compile the firmware and install it on a MicroPython board "
                    "with mpremote (make deploy BOARD=... PORT=...).")
    parser.add_argument("action", nargs="?", choices=["manifests"],
                        help="manifests: write firmware/package.json and one "
                             "firmware/<board>.package.json per deployable board, then exit")
    parser.add_argument("--board", default="", help="a board file name: boards/NAME.py")
    parser.add_argument("--port", default="", help="serial port, e.g. /dev/ttyACM0")
    parser.add_argument("--settings", default="", help="a settings.json to install")
    parser.add_argument("--no-deps", action="store_true",
                        help="skip `mpremote mip install` of the micropython-lib packages")
    parser.add_argument("--index", default=None,
                        help="mip index to install the packages from (URL or local mirror)")
    parser.add_argument("--version", default=None, help="version to stamp (git describe)")
    parser.add_argument("--stop-therapy", action="store_true",
                        help="deploy to a pump that is delivering: suspend it first, "
                             "resume it after (without this, deploy refuses)")
    parser.add_argument("--romfs", action="store_true",
                        help="put basalt/ in the board's ROMFS partition if its firmware "
                             "has one (make deploy ROMFS=1); else say so and deploy as usual")
    parser.add_argument("--lines", action="store_true",
                        help="keep line numbers in the bytecode for tracebacks "
                             "(make deploy LINES=1; about 8 KB more heap)")
    parser.add_argument("--dry-run", action="store_true",
                        help="build and print the mpremote calls without running them")
    parser.add_argument("--write-manifest", action="store_true",
                        help="the same as the `manifests` action")
    parser.add_argument("--selftest", metavar="PORT", default=None,
                        help="run the board's power-on self-test over USB, print its report "
                             "and reset the board (exit 1 when a check failed)")
    args = parser.parse_args(argv)
    if args.selftest:
        try:
            return firstflash.main(args.selftest, find_mpremote(), args.stop_therapy)
        except DeployError as exc:
            print("deploy: error: %s" % exc, file=sys.stderr)
            return 2
    if args.action == "manifests" or args.write_manifest:
        try:
            paths = manifest.write()
        except manifest.ManifestError as exc:
            print("deploy: error: %s" % exc, file=sys.stderr)
            return 2
        for path in paths:
            print("wrote %s" % path.relative_to(REPO_ROOT))
        return 0
    try:
        stage = deploy(args.board, args.port, args.settings or None,
                       with_deps=not args.no_deps, index=args.index, dry_run=args.dry_run,
                       version=args.version, stop_therapy=args.stop_therapy,
                       romfs=args.romfs, lines=args.lines)
    except DeployError as exc:
        print("deploy: error: %s" % exc, file=sys.stderr)
        return 2
    print("deploy: done%s (firmware staged in %s)"
          % (" (dry run)" if args.dry_run else "", stage))
    print(firstflash.checklist(args.board, check_board(args.board)[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
