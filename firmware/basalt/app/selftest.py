"""Power-on self-test: the wiring a maker can get wrong, checked before therapy runs.

The board imports this at boot, runs it once and drops it (basalt.app.wiring.self_test:
its code is freed). Each problem is one line naming the part and its pin, shown on the
boot screen (the keeper's boot notes) and printed on the REPL. A problem with the motor
driver, the force sensor or the storage stops delivery: resume is refused with that
line (the command table's STATE_KNOWN guard, Keeper.require_known_state) until it is
fixed and the board restarted. `python -m tools.deploy --selftest PORT` runs report().
"""

from basalt.core.errors import BasaltError, SensorFault
from basalt.core.ui.keys import KEY_NAMES

PROBE = "selftest.tmp"  # written, read back and removed in the history folder
_PROBE_DATA = b"basalt self-test"


def check(board, motor=None, force=None, storage=None, keys=(), scan=None,
          clock_set=True, force_mn=(-5_000, 60_000), passed=True):
    """Every check the parts given allow: [(part, problem or None, stops delivery)].

    keys: the button callables (True while pressed); scan(): the I2C addresses that
    answer on the display's bus; force_mn: the plausible (low, high) reading in mN.
    passed=False leaves out the checks that passed (their part names are not built:
    the boot wants the problems only).
    """
    pin = _pin_name(board)
    out = []
    if motor is not None:
        reads = getattr(motor, "en_reads_active", motor.is_enabled)
        problem = "on at power-up (must start off)" if reads() else None
        if passed or problem is not None:
            out.append(("motor driver EN " + pin(board.motor.enable), problem, True))
    if force is not None:
        problem = _force(force, force_mn)
        if passed or problem is not None:
            spec = board.force
            out.append(("force sensor HX711 DOUT " + pin(spec.dout) if spec.kind == "hx711"
                        else "force sensor FSR " + pin(spec.adc), problem, True))
    if storage is not None:
        problem = _storage(storage)
        if passed or problem is not None:
            out.append((("storage " + getattr(storage, "root", "")).rstrip(), problem, True))
    for name, key in zip(KEY_NAMES, keys):
        problem = "pressed at power-up (stuck?)" if key() else None
        if passed or problem is not None:
            out.append(("button %s %s" % (name.upper(), pin(getattr(board.buttons, name))),
                        problem, False))
    display = board.display
    if display is not None and scan is not None:
        found = _scan(scan)
        problem = None if display.address in found else "not found" + (
            " (bus has %s)" % ", ".join("0x%02X" % a for a in found) if found else "")
        if passed or problem is not None:
            out.append(("display 0x%02X I2C%d SDA %s SCL %s" % (
                display.address, display.i2c, pin(display.sda), pin(display.scl)),
                problem, False))
    problem = None if clock_set else "time not set (mpremote rtc --set)"
    if passed or problem is not None:
        out.append(("clock", problem, False))
    return out


def _pin_name(board):
    prefix = "GP" if board.mcu in ("rp2040", "vboard") else "GPIO"
    return lambda spec: "%s%d" % (prefix, spec.number)


def _force(force, limits):
    try:
        mn = force.read_mn()
    except SensorFault as fault:  # "force sensor <reason>: <detail>"
        return "no answer" if fault.reason == "timeout" else str(fault)[len("force sensor "):]
    except OSError as error:
        return "read failed (%s)" % error
    if not limits[0] <= mn <= limits[1]:
        return "reads %d mN, outside %d to %d (calibration?)" % (mn, limits[0], limits[1])
    return None


def _storage(storage):
    try:
        storage.write(PROBE, _PROBE_DATA)
        same = storage.read(PROBE) == _PROBE_DATA
        storage.remove(PROBE)
    except (BasaltError, OSError) as error:
        return "not writable (%s)" % (getattr(error, "screen", None) or error)
    return None if same else "reads back other bytes than written"


def _scan(scan):
    try:
        return scan()
    except OSError:  # no pull-ups, SDA/SCL swapped or shorted: nothing answers
        return []


def problems(results):
    """[(line, stops delivery)] of the checks that failed."""
    return [("%s: %s" % (part, problem), stops) for part, problem, stops in results
            if problem is not None]


def board_scan(board):
    """scan() for check(): the display's I2C bus, or None on a board without one."""
    display = board.display
    if display is None:
        return None

    def scan():
        from machine import I2C, Pin

        return I2C(display.i2c, sda=Pin(display.sda.number), scl=Pin(display.scl.number),
                   freq=display.freq_hz).scan()

    return scan


def board_keys(board):
    if board.buttons is None:
        return ()
    from basalt.app.buttons import board_keys as keys

    return keys(board.buttons)


def at_boot(app, board, clock_set, keys=None, scan=None):
    """The checks on the running app's own drivers, before the boot screen is read:
    each problem heads the boot notes (the screen; the board prints them on the REPL);
    the first that stops delivery is the keeper's hardware_fault (resume refused)."""
    keeper = app.keeper
    config = app.occlusion.detector.config
    found = problems(check(board, app.motor, app.occlusion.force, keeper.storage,
                           board_keys(board) if keys is None else keys,
                           board_scan(board) if scan is None else scan, clock_set,
                           (config["min_force_mn"], config["max_force_mn"]), False))
    # Wiring first (the screen shows them at once); the clock's note last (dates only).
    wiring = [line for line, _ in found if not line.startswith("clock")]
    keeper.boot_notes[:0] = wiring
    keeper.boot_notes += [line for line, _ in found if line.startswith("clock")]
    for line, stops in found:
        if stops and keeper.hardware_fault is None:
            keeper.hardware_fault = line
    print("self-test: %d problem%s" % (len(found), "" if len(found) == 1 else "s")
          if found else "self-test: passed")
    return found


def report():
    """Over USB, with the pump stopped (tools.deploy --selftest): the drivers built from
    /board.py and the saved force calibration; one line per check, then SELFTEST PASS
    or SELFTEST FAIL and the count."""
    from board import BOARD

    from basalt.app import wiring
    from basalt.core.board_file import load_board
    from basalt.core.occlusion import load_occlusion_config
    from basalt.storage.files import FileStorage
    from basalt.storage.keeper import force_file

    board = load_board(BOARD)
    storage = FileStorage("/data")
    calibration = None
    try:
        calibration = force_file(storage).load()[1]
    except BasaltError as error:
        print("force calibration refused: %s" % error)
    config = load_occlusion_config(None)
    results = check(board, wiring.make_motor(board), wiring.make_force(board, calibration),
                    storage, board_keys(board), board_scan(board),
                    wiring.wall_epoch_s() is not None,
                    (config["min_force_mn"], config["max_force_mn"]))
    failed = 0
    for part, problem, stops in results:
        failed += problem is not None
        print("%s %s%s" % ("ok  " if problem is None else "FAIL", part,
                           "" if problem is None else ": " + problem +
                           (" (delivery refused)" if stops else "")))
    print("SELFTEST FAIL %d" % failed if failed else "SELFTEST PASS")
    return failed
