"""One-command deploy of the firmware to a MicroPython board with mpremote.

    python -m tools.deploy --board pico_w --port /dev/ttyACM0 [--settings settings.json]
                           [--no-deps] [--index DIR] [--dry-run]
    python -m tools.deploy --board pico_w --dry-run     the plan; no port, no mpremote run
    python -m tools.deploy manifests                    regenerate the mip manifests

(`make deploy BOARD=pico_w PORT=/dev/ttyACM0 [SETTINGS=...] [MIP=0]` runs this.)

Steps, each one `mpremote` call so a failure says where it stopped:
1. check the board file (load_board) and the settings file, compile the firmware with
   mpy-cross for the board's architecture into build/deploy/<board>/ (only the files
   of firmware/<board>.package.json, refused if stale), stamp basalt/version.py with the
   one version string, "<package version>+<commit>" (basalt.VERSION reads it);
2. probe the port: MicroPython answers, its platform matches the board file's MCU and its
   .mpy version matches our mpy-cross;
3. install the micropython-lib dependencies (`deps` of firmware/<board>.package.json:
   aioble with Bluetooth, ssd1306 with a display) with `mpremote mip install` (skipped
   with --no-deps; --index serves them from a local mirror). A failed download is told
   apart from a port problem (the probe just answered) and says what to do;
4. remove stale firmware files on the board, copy the compiled firmware, main.py, the
   board file as /board.py and the settings as /settings.json, and read the version back;
5. reset the board so main.py starts the app.

The plan is plain data (lists of argv), built by plan() and run by run_plan(); tests run
it against a fake mpremote that records its arguments.
"""
