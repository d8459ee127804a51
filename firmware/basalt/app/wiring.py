"""Boot on a device: load its board file (/board.py), build the drivers and the app.
Boot only: basalt.app.device.start() calls boot() and then forgets this module
(device.BOOT_ONLY), so nothing that runs after boot may keep one of its functions;
what the running pump calls back lives in basalt.app.device.
"""

import time

from basalt import firmware_version, forget
from basalt.app import BOOT_WARNING, PumpApp, device
from basalt.core.errors import ConfigError

# Each MCU's stepper adapter, as "module.Class" under basalt.drivers: text, not import
# statements, so a board adds only its own drivers' names to the interpreter's name
# pools (a name, once made, is never freed).
_STEPPERS = {"rp2040": "stepper_rp2.PioStepper", "esp32": "stepper_esp32.RmtStepper",
             "vboard": "stepper_virtual.VirtualStepper"}


def _driver(path):
    """The class at basalt.drivers.<path> ("module.Class"), its module imported now."""
    module, name = path.split(".")
    return getattr(__import__("basalt.drivers." + module, None, None, (name,)), name)


def make_motor(board):
    """The stepper adapter for the board's MCU; the driver starts disabled."""
    path = _STEPPERS.get(board.mcu)
    if path is None:
        raise ValueError("no motor adapter for mcu %r" % board.mcu)
    return _driver(path)(board.motor)


def make_buzzer(board):
    """The PWM piezo, or None on a board without one (it starts silent)."""
    if board.buzzer is None:
        return None
    from basalt.drivers.buzzer import PwmBuzzer

    return PwmBuzzer(board.buzzer.pin)


def make_battery(board):
    """The battery ADC behind its divider, or None on a board without one."""
    if board.battery is None:
        return None
    from basalt.drivers.battery import AdcBattery

    return AdcBattery(board.battery)


def reset_cause():
    """Why the board started: power_on, watchdog, soft, ... (machine.reset_cause())."""
    import machine

    cause = machine.reset_cause()
    for name, text in (("PWRON_RESET", "power_on"), ("WDT_RESET", "watchdog"),
                       ("HARD_RESET", "hard"), ("SOFT_RESET", "soft"),
                       ("DEEPSLEEP_RESET", "deep_sleep")):
        if getattr(machine, name, None) == cause:
            return text
    return "reset_%d" % cause


def wall_epoch_s():
    """Seconds since 1970 from the RTC if someone set it (mpremote rtc --set), else None."""
    now = int(time.time())  # a float on some ports (the WebAssembly one)
    if time.gmtime(now)[0] < 2024:
        return None
    return now if time.gmtime(0)[0] == 1970 else now + 946_684_800  # 2000-epoch ports


def make_cgm(app):
    """The BLE CGM client the settings ask for (None when off), its readings in app.cgm;
    app.cgm_client too, so the delivery tick journals its link events."""
    cgm = app.settings.cgm if app.settings is not None else None
    if cgm is None or not cgm.enabled:
        return None
    from basalt.ble.cgm_client import make_cgm_client
    from basalt.core.readings import ReadingStore

    app.cgm = ReadingStore(app.clock.now_ms())
    try:
        # The pairing number is shown by the UI task (client.prompt) and answered with
        # the cgm_pair command; the sensor in use and the bond keys are kept in /data.
        storage = app.keeper.storage if app.keeper is not None else None
        app.cgm_client = make_cgm_client(app.cgm, app.clock, address=cgm.address,
                                         storage=storage)
        return app.cgm_client
    except ImportError as error:  # aioble not installed
        print("cgm: %s; glucose is typed (install: mpremote mip install aioble)" % error)
        app.cgm = None
        return None


def make_keeper(board, path=device.SETTINGS_PATH, data="/data"):
    """The persistence: history and checkpoints in `data`, the settings file at `path`
    (built before the app: the app is configured from keeper.load_settings())."""
    from basalt.storage.files import FileStorage
    from basalt.storage.keeper import Keeper

    return Keeper(FileStorage(data), settings_file=device.settings_file(board, path),
                  needs_clock=True)


def read_settings(keeper, path=device.SETTINGS_PATH):
    """The therapy settings in the keeper's file, or None (missing or refused: no therapy
    runs until a valid file is loaded; every problem is printed for the user). Read once:
    the keeper's start() journals what this read found."""
    settings = keeper.load_settings()
    if keeper.settings_error is not None:
        print("%s refused:\n%s" % (path, keeper.settings_error))
    elif settings is None:
        print("no %s: no basal profile until settings are loaded" % path)
    for warning in keeper.settings_warnings:
        print("settings warning: " + warning)
    return settings


def make_force(board, calibration=None, time=None):
    """The occlusion sensor the board declares (None when it has none). time: the HX711's
    sleep_us module where the port's own time has none (the Pi rig, CPython)."""
    force = board.force
    if force is None:
        return None
    if force.kind == "hx711":  # on an RP2040 its PIO clocks it: no Python read
        path = "hx711_rp2.HX711Pio" if board.mcu == "rp2040" else "hx711.HX711"
        return _driver(path)(force.dout, force.sck, calibration, time=time)
    return _driver("fsr.FsrSensor")(force.adc, calibration)


def board_buttons(board):
    """(pins, key callables) of the board's buttons, made once for the self-test and
    the UI; (None, ()) on a board without buttons."""
    if board.buttons is None:
        return None, ()
    from basalt.app.buttons import board_keys, key_pins

    pins = key_pins(board.buttons)
    return pins, board_keys(board.buttons, pins)


def make_ui(app, board, buttons=None):
    """The buttons-and-OLED task, when the board has both (else None); buttons: what
    board_buttons() made (made here if not given)."""
    if board.display is None or board.buttons is None:
        return None
    if board.display.height != 64:
        raise ConfigError("display.height", board.display.height,
                          "64 for the menus (128x32 panels are not supported yet)")
    from basalt.app.ui_task import UiTask
    from basalt.drivers.ssd1306_display import make_display

    try:
        display = make_display(board.display)
    except (ImportError, OSError) as error:  # no driver installed, or no panel answers
        print("display: %s; running without the screen and buttons "
              "(driver: mpremote mip install ssd1306)" % error)
        return None
    pins, keys = buttons or board_buttons(board)
    return UiTask(app, display, keys, BOOT_WARNING, wake=device.key_wake(pins))


def usb_service(app, mcu):
    """The USB console service (basalt.app.usb_service) on the board's serial port (the
    virtual board brings its own); it may reset the board (maintenance)."""
    import machine

    from basalt.app.usb_service import StdioConsole, UsbService

    if mcu == "vboard":
        from vboard import console

        console.open()
    else:
        console = StdioConsole()
    return UsbService(app, console, reset=machine.reset)


def self_test(app, board, keys=None):
    """The power-on self-test (basalt.app.selftest): boot only, forgotten after it.
    keys: the button callables (default: made for it)."""
    from basalt.app import selftest

    return selftest.at_boot(app, board, wall_epoch_s() is not None, keys)


def boot():
    """Build the pump from the board file and /settings.json; returns run_tasks's
    arguments (app, supervisor, ui, cgm client, USB service)."""
    from board import BOARD  # the board file deploy copied to the device as /board.py

    from basalt.core.board_file import load_board
    from basalt.core.supervisor import Supervisor
    from basalt.drivers.watchdog import MachineWatchdog

    print(BOOT_WARNING)
    board = load_board(BOARD)
    clock = device.TicksClock()
    keeper = make_keeper(board)  # a refused /settings.json keeps the pump stopped
    app = PumpApp(board, clock, make_motor(board),  # the motor driver starts disabled
                  settings=read_settings(keeper),  # None: no limits, every dose refused
                  force=make_force(board), buzzer=make_buzzer(board),
                  battery=make_battery(board), collect_events=False)
    device.app = app  # for the REPL and Ctrl-C from here on
    app.loop_runner.unload = forget  # the loop's algorithm is loaded for each decision
    app.keeper = keeper
    app.stream.subscribe("rtc", device.keep_rtc)  # a clock set from the menu goes to the RTC
    app.stream.unsubscribe("recent")  # History reads the journal: no recent-events list
    app.keeper.start(clock.now_ms(), reset_cause(), wall_epoch_s(), fw=firmware_version())
    buttons = board_buttons(board)  # the self-test reads the keys the UI polls
    self_test(app, board, buttons[1])  # its problems join the boot notes
    for line in app.keeper.boot_notes:  # the boot screen; the UI acknowledges it
        print(line)
    watchdog = MachineWatchdog(4_000)
    supervisor = Supervisor(watchdog, 2_000)
    app.timed.append(supervisor)  # its check-in times move with the clock's epoch
    cgm = make_cgm(app)  # before the UI: its settings screen names the CGM link
    return app, supervisor, make_ui(app, board, buttons), cgm, usb_service(app, board.mcu)
