"""Boot on a device: load its board file (/board.py), build the drivers and the app,
run the tasks. Kept out of main.py so main.py stays a few lines; wiring only.
"""

import asyncio
import time

from basalt import firmware_version, forget
from basalt.app import BOOT_WARNING, PumpApp
from basalt.core.errors import ConfigError
from basalt.core.units import REBASE_AT_MS
from basalt.ports import Clock

# Imported to boot and not used after it: start() drops them from sys.modules so gc
# frees their bytecode. Nothing that runs after boot keeps one of their functions or
# classes. A settings save imports the checks again; they go once it is recorded.
SETTINGS_CHECKS = ("basalt.core.settings", "basalt.core.strict_json")
BOOT_ONLY = SETTINGS_CHECKS + ("basalt.storage.recovery", "basalt.core.board_file",
                               "basalt.core.restore", "basalt.core.journal_read",
                               "basalt.app.selftest")


class TicksClock(Clock):
    """The one clock on a board: a monotonic ms count built from ticks_diff.

    ticks_ms() wraps (2**30 ms on most ports); summing ticks_diff over calls never
    sees the wrap as long as now_ms() is called at least once per wrap period. The app
    moves the count back every few days (Clock.rebase): it stays a small int.
    """

    rebase_at_ms = REBASE_AT_MS

    def __init__(self):
        self._last = time.ticks_ms()
        self._now = 0

    def now_ms(self):
        ticks = time.ticks_ms()
        self._now += time.ticks_diff(ticks, self._last)
        self._last = ticks
        return self._now

    async def sleep_ms(self, ms):
        await asyncio.sleep_ms(ms)

    async def wait_ms(self, flag, ms):
        """Until flag (an asyncio.ThreadSafeFlag) is set, or ms have passed."""
        try:
            await asyncio.wait_for_ms(flag.wait(), ms)
        except asyncio.TimeoutError:
            pass


def make_motor(board):
    """The stepper adapter for the board's MCU; the driver starts disabled."""
    if board.mcu == "rp2040":
        from basalt.drivers.stepper_rp2 import PioStepper

        return PioStepper(board.motor)
    if board.mcu == "esp32":
        from basalt.drivers.stepper_esp32 import RmtStepper

        return RmtStepper(board.motor)
    if board.mcu == "vboard":
        from basalt.drivers.stepper_virtual import VirtualStepper

        return VirtualStepper(board.motor)
    raise ValueError("no motor adapter for mcu %r" % board.mcu)


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


def keep_rtc(kind, detail):
    """The stream's "rtc" reader: the time set from the menu, into the RTC (where the
    port has one), so a soft or watchdog reset keeps it."""
    if kind != "clock_set" or detail.get("how") != "user":
        return
    from basalt.core.clock import civil_from_days

    year, month, day = civil_from_days(detail["days"])
    minute = detail["minute"]
    try:
        import machine

        machine.RTC().datetime((year, month, day, (detail["days"] + 3) % 7, minute // 60,
                                minute % 60, 0, 0))
    except (ImportError, AttributeError, OSError) as error:
        print("rtc: %s; the time lasts until the next reset" % error)


async def deliver(app, supervisor):
    """The delivery task: one tick, then check in with the supervisor."""
    clock = app.clock
    supervisor.register("delivery", clock.now_ms())
    while True:
        app.step()
        supervisor.check_in("delivery", clock.now_ms())
        await clock.sleep_ms(app.tick_ms)


async def run_tasks(app, supervisor, ui=None, cgm_client=None, usb=None):
    keeper = app.keeper
    if usb is not None:  # host tools over USB while therapy runs (basalt.app.usb_service)
        asyncio.create_task(usb.run())
    asyncio.create_task(supervisor.run(app.clock, SUPERVISOR_PERIOD_MS,
                                       armed=lambda: not keeper.awaiting_ack))
    if app.buzzer is not None:
        asyncio.create_task(app.buzzer.run(app.clock, new_flag()))
    force = app.occlusion.force
    if hasattr(force, "run"):  # the HX711's reading task: the tick never waits for it
        asyncio.create_task(force.run(app.clock))
    if ui is not None:
        asyncio.create_task(ui.run(supervisor))
    if cgm_client is not None:
        # Not a supervised task: radio waits (scans, back-off up to 60 s) are long by
        # design, and a stuck client cannot move the motor; the delivery tick sees its
        # silence as the CGM-lost alarm after 15 minutes.
        asyncio.create_task(cgm_client.run())
    await deliver(app, supervisor)


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


SUPERVISOR_PERIOD_MS = 500


SETTINGS_PATH = "/settings.json"


def settings_file(board, path=SETTINGS_PATH):
    """The therapy settings file: replaced only by a complete file that passed
    load_settings (written beside it, synced, renamed over it)."""
    from basalt.storage.files import FileStorage, ValidatedFile

    folder, name = path.rsplit("/", 1)
    return ValidatedFile(FileStorage(folder or "/"), name,
                         lambda obj: _settings().load_settings(obj, board),
                         lambda text: _settings().parse_settings_text(text))


def _settings():
    """The settings checks, imported when a file is read (boot, a settings save)."""
    from basalt.core import settings

    return settings


def _unload_after_save(kind, detail):
    if kind == "settings_changed":  # the last thing a settings save does
        forget(SETTINGS_CHECKS)


def read_settings(board, path=SETTINGS_PATH):
    """The therapy settings on the device, or None (missing or refused: no therapy runs
    until a valid file is loaded; every problem is printed for the user)."""
    try:
        _, validated = settings_file(board, path).load()
    except ConfigError as error:
        print("%s refused:\n%s" % (path, error))
        return None
    if validated is None:
        print("no %s: no basal profile until settings are loaded" % path)
        return None
    settings, warnings = validated
    for warning in warnings:
        print("settings warning: " + warning)
    return settings


def make_force(board, calibration=None, time=None):
    """The occlusion sensor the board declares (None when it has none). time: the HX711's
    sleep_us module where the port's own time has none (the Pi rig, CPython)."""
    force = board.force
    if force is None:
        return None
    if force.kind == "hx711" and board.mcu == "rp2040":
        from basalt.drivers.hx711_rp2 import HX711Pio  # PIO clocks it: no Python read

        return HX711Pio(force.dout, force.sck, calibration, time=time)
    if force.kind == "hx711":
        from basalt.drivers.hx711 import HX711

        return HX711(force.dout, force.sck, calibration, time=time)
    from basalt.drivers.fsr import FsrSensor

    return FsrSensor(force.adc, calibration)


app = None  # the running PumpApp, for inspection from the REPL (basalt.app.device.app)


def make_ui(app, board):
    """The buttons-and-OLED task, when the board has both (else None)."""
    if board.display is None or board.buttons is None:
        return None
    if board.display.height != 64:
        raise ConfigError("display.height", board.display.height,
                          "64 for the menus (128x32 panels are not supported yet)")
    from basalt.app.buttons import board_keys, key_pins
    from basalt.app.ui_task import UiTask
    from basalt.drivers.ssd1306_display import make_display

    try:
        display = make_display(board.display)
    except (ImportError, OSError) as error:  # no driver installed, or no panel answers
        print("display: %s; running without the screen and buttons "
              "(driver: mpremote mip install ssd1306)" % error)
        return None
    pins = key_pins(board.buttons)
    return UiTask(app, display, board_keys(board.buttons, pins), BOOT_WARNING,
                  wake=key_wake(pins))


def key_wake(pins):
    """A flag every key's edge sets (it ends the UI's idle wait), or None where the
    pins have no irq or asyncio no ThreadSafeFlag (the Pi's CPython): polled."""
    from basalt.app.buttons import wire_edges

    flag = new_flag()
    if flag is None or not wire_edges(pins, lambda pin: flag.set()):
        return None
    return flag


def new_flag():
    """An asyncio.ThreadSafeFlag for TicksClock.wait_ms (None on the Pi's CPython, whose
    asyncio has none: the task polls instead)."""
    flag = getattr(asyncio, "ThreadSafeFlag", None)
    return None if flag is None else flag()


def self_test(app, board):
    """The power-on self-test (basalt.app.selftest): boot only, forgotten after it."""
    from basalt.app import selftest

    return selftest.at_boot(app, board, wall_epoch_s() is not None)


def start():
    global app
    from board import BOARD  # the board file deploy copied to the device as /board.py

    from basalt.core.board_file import load_board
    from basalt.core.supervisor import Supervisor
    from basalt.drivers.watchdog import MachineWatchdog
    from basalt.storage.files import FileStorage
    from basalt.storage.keeper import Keeper

    print(BOOT_WARNING)
    board = load_board(BOARD)
    clock = TicksClock()
    app = PumpApp(board, clock, make_motor(board),  # the motor driver starts disabled
                  settings=read_settings(board),  # None: no limits, every dose refused
                  force=make_force(board), buzzer=make_buzzer(board),
                  battery=make_battery(board), collect_events=False)
    # History and checkpoints in /data; a refused /settings.json keeps the pump stopped.
    app.keeper = Keeper(FileStorage("/data"), settings_file=settings_file(board),
                        needs_clock=True)
    app.stream.subscribe("rtc", keep_rtc)  # a clock set from the menu goes to the RTC
    app.keeper.start(clock.now_ms(), reset_cause(), wall_epoch_s(), fw=firmware_version())
    self_test(app, board)  # its problems join the boot notes
    for line in app.keeper.boot_notes:  # the boot screen; the UI acknowledges it
        print(line)
    forget(BOOT_ONLY)
    app.stream.subscribe("unload", _unload_after_save, from_start=False)
    watchdog = MachineWatchdog(4_000)
    supervisor = Supervisor(watchdog, 2_000)
    app.timed.append(supervisor)  # its check-in times move with the clock's epoch
    from basalt.app.usb_service import on_board

    cgm = make_cgm(app)  # before the UI: its settings screen names the CGM link
    asyncio.run(run_tasks(app, supervisor, make_ui(app, board), cgm,
                          on_board(app, board.mcu)))
