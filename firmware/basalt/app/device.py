"""Run on a device: the clock, the tasks and what the running pump calls back (the RTC,
the settings file). The boot wiring (board file, drivers, app) is basalt.app.wiring,
imported by start() and forgotten before the tasks run. Kept out of main.py so
main.py stays a few lines.
"""

import asyncio
import time

from basalt import forget
from basalt.core.units import REBASE_AT_MS
from basalt.ports import Clock

try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(value):
        return value

# Imported to boot and not used after it: start() drops them from sys.modules so gc
# frees their bytecode. Nothing that runs after boot keeps one of their functions or
# classes. A settings save imports the checks again; they go once it is recorded.
SETTINGS_CHECKS = ("basalt.core.settings", "basalt.core.strict_json")
BOOT_ONLY = SETTINGS_CHECKS + ("basalt.storage.recovery", "basalt.core.board_file",
                               "basalt.core.restore", "basalt.core.journal_read",
                               "basalt.core.journal_records", "basalt.app.selftest",
                               "basalt.app.wiring", "basalt.app.buttons",
                               "basalt.core.occlusion_config")


_SUPERVISOR_PERIOD_MS = const(500)


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
    asyncio.create_task(supervisor.run(app.clock, _SUPERVISOR_PERIOD_MS,
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


app = None  # the running PumpApp, for inspection from the REPL (basalt.app.device.app)


def key_for_pin(pin, invert):
    """A key as the UI polls it (basalt.app.buttons.board_keys): a callable that is True
    while the key is pressed (invert: active low)."""
    value = pin.value
    if invert:
        return lambda: not value()
    return lambda: bool(value())


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


def start():
    """Boot (basalt.app.wiring), drop the boot-only modules, run the tasks forever."""
    global app
    from basalt.app import wiring

    parts = wiring.boot()
    app = parts[0]
    del wiring  # no reference left: forget() lets gc free the boot wiring
    forget(BOOT_ONLY)
    app.stream.subscribe("unload", _unload_after_save, from_start=False)
    asyncio.run(run_tasks(*parts))
