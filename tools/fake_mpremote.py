"""A stand-in for the `mpremote` executable: records its arguments, answers like a board.

Tests put a wrapper named `mpremote` on PATH that runs this file. Environment:
  FAKE_MPREMOTE_LOG     file to append one JSON list (argv[1:]) per call to (required)
  FAKE_MPREMOTE_PORTS   what `mpremote connect list` prints (default: nothing)
  FAKE_MPREMOTE_BOARD   "platform mpy" the probe answers (default "rp2 4870", a Pico)
  FAKE_MPREMOTE_FAIL    fail (exit 1) when a call's arguments contain this word
  FAKE_MPREMOTE_FAIL_TEXT  what that failure prints on stderr after "mpremote: "
                        (default: mpremote's message for a port it cannot open)
  FAKE_MPREMOTE_ROMFS   bytes in the board's ROMFS partition (default 0: none, as the
                        stock firmware); `romfs deploy IMAGE` checks the image against it
"""

import json
import os
import sys

PROBE_TAG = "BASALT-PROBE"
ROMFS_TAG = "BASALT-ROMFS"
ROMFS_MAGIC = b"\xd2\xcd\x31"


def romfs_deploy(image):
    """As mpremote's `romfs deploy` answers: refused without a partition or room."""
    partition = int(os.environ.get("FAKE_MPREMOTE_ROMFS", "0"))
    with open(image, "rb") as f:
        data = f.read()
    print("Image size is %d bytes" % len(data))
    if partition <= 0:
        print("mpremote: ROMFS is not enabled on this device", file=sys.stderr)
        return 1
    if not data.startswith(ROMFS_MAGIC) or len(data) > partition:
        print("Invalid ROMFS image" if len(data) <= partition else
              "ROMFS image is too big for the target partition")
        return 1
    print("ROMFS image deployed")
    return 0


def main(args):
    with open(os.environ["FAKE_MPREMOTE_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(args) + "\n")
    if args[:2] == ["connect", "list"]:
        sys.stdout.write(os.environ.get("FAKE_MPREMOTE_PORTS", ""))
        return 0
    fail = os.environ.get("FAKE_MPREMOTE_FAIL")
    if fail and fail in args:
        text = os.environ.get("FAKE_MPREMOTE_FAIL_TEXT",
                              "failed to access %s (it may be in use by another program)"
                              % args[1])
        print("mpremote: " + text, file=sys.stderr)
        return 1
    if args[2:4] == ["romfs", "deploy"]:
        return romfs_deploy(args[4])
    for i, arg in enumerate(args):
        if arg == "exec" and ROMFS_TAG in args[i + 1]:
            print(ROMFS_TAG, os.environ.get("FAKE_MPREMOTE_ROMFS", "0"))
        if arg == "exec" and PROBE_TAG in args[i + 1]:
            print(PROBE_TAG, os.environ.get("FAKE_MPREMOTE_BOARD", "rp2 4870"))
        if arg == "exec" and "basalt.version" in args[i + 1]:
            print("installed v-test for board")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
