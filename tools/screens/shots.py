"""Screenshots of the pump's screens.

    python -m tools.screens.shots [--out docs] [--reference] [--cgm]

save_sim_screens(out) runs the firmware's PumpApp and UiTask on fake hardware, presses
fake keys through a short session and saves the key moments (boot, home, bolus
confirm, bolus running, an alarm) as PNGs; `make sim` calls it. save_setup_screens(out)
does the same on a pump that keeps files (KeptSession): the clock asked for at boot, a
profile edit and its daily total, a temp basal in U/h, the calibration screen and an
activity mode. --reference also saves every reference screen of
tools/screens/reference.py; --cgm only
the pairing, CGM link and history ones (docs/ui_cgm_*.png, docs/ui_history_*.png).
"""

import argparse
import os
import sys

from basalt.app import BOOT_WARNING, PumpApp
from basalt.app.ui_task import UiTask
from basalt.core.ui.keys import BACK, DOWN, SELECT, UP
from tools.fakes import FakeDisplay, FakeMotor, VirtualClock, bench_limits, fake_keys
from tools.screens.png import write_png
from tools.sim import load_sim_board

SETUP = (
    {"cmd": "set_profile", "name": "Weekday", "segments": [["00:00", 0.8], ["06:00", 1.1]]},
    {"cmd": "set_time", "time": "07:30"},
    {"cmd": "new_reservoir", "units": 25},
    {"cmd": "resume"},
)


class Session:
    """A PumpApp (250 ms ticks) with its UI task (10 ms polls) on fake hardware."""

    def __init__(self, board=None):
        board = board or load_sim_board()
        self.clock = VirtualClock()
        self.app = PumpApp(board, self.clock, FakeMotor(self.clock, board.motor.max_step_hz),
                           limits=bench_limits())
        for cmd in SETUP:
            self.app.command(cmd)
        self.display = FakeDisplay()
        self.keys = fake_keys(4)
        self.ui = UiTask(self.app, self.display, self.keys, BOOT_WARNING)

    def run(self, ms):
        """Advance time as the board's two tasks do: the UI every 10 ms, the app every
        tick_ms. While no key is down or debouncing, UI polls would see nothing: time
        then jumps to the next app tick."""
        end = self.clock.now_ms() + ms
        tick = self.app.tick_ms
        while self.clock.now_ms() < end:
            now = self.clock.now_ms()
            step = 10
            if self.ui.decoder.idle() and not any(key() for key in self.keys):
                step = max(10, min(end - now, tick - now % tick))  # nothing to sample
            self.clock.advance(step)
            now = self.clock.now_ms()
            if now % self.app.tick_ms == 0:
                self.app.step()
            self.ui.step(now)

    def click(self, key, times=1, hold_ms=80):
        for _ in range(times):
            self.keys[key].down = True
            self.run(hold_ms)
            self.keys[key].down = False
            self.run(120)

    def hold(self, key, ms):
        self.keys[key].down = True
        self.run(ms)
        self.keys[key].down = False
        self.run(120)

    def save(self, path):
        return write_png(path, self.display.shown, dimmed=self.display.dimmed)


class FakeForce:
    """A force sensor whose raw counts a test sets (read through its calibration)."""

    def __init__(self, raw=1_000):
        self.raw = raw
        self.calibration = {"tare_counts": 0, "counts_per_n": 28_000}

    def read_raw(self):
        return self.raw

    def read_mn(self):
        cal = self.calibration
        return (self.raw - cal["tare_counts"]) * 1000 // cal["counts_per_n"]

    read_mn_now = read_mn


class KeptSession(Session):
    """board_main's composition on the host: the example settings and the journal on a
    fake flash, a keeper that needs a wall clock as on a board (epoch_s: the RTC, None
    when it lost the time), the UI task with four fake keys."""

    def __init__(self, epoch_s=None, storage=None, force=None):
        from basalt.core.settings import load_settings, parse_settings_text
        from basalt.storage.files import ValidatedFile
        from basalt.storage.keeper import Keeper
        from tools.fake_storage import FakeStorage
        from tools.settings.example import EXAMPLE

        board = load_sim_board()
        self.storage = storage or FakeStorage()
        if "settings.json" not in self.storage.files:
            self.storage.files["settings.json"] = bytearray(EXAMPLE.encode())
        self.clock = VirtualClock()
        settings_file = ValidatedFile(self.storage, "settings.json",
                                      lambda obj: load_settings(obj, board), parse_settings_text)
        keeper = Keeper(self.storage, settings_file=settings_file, needs_clock=True)
        self.app = PumpApp(board, self.clock, FakeMotor(self.clock, board.motor.max_step_hz),
                           settings=keeper.load_settings(), force=force)
        self.app.keeper = keeper
        keeper.start(0, "power_on", epoch_s)
        self.display, self.keys = FakeDisplay(), fake_keys(4)
        self.ui = UiTask(self.app, self.display, self.keys, BOOT_WARNING)
        self.run(3_500)  # past the warning: the boot notes

    def ready(self):
        """Past the boot screen, a reservoir fitted, delivering."""
        if self.app.keeper.awaiting_ack:
            self.app.command({"cmd": "boot_ack"})
        for cmd in ({"cmd": "new_reservoir", "units": 200}, {"cmd": "resume"}):
            self.app.command(cmd)
        self.run(3_000)  # past the boot screen's version page
        return self

    def idle(self, ms):
        """Time passes with nobody at the keys: 1 s delivery ticks, then one redraw."""
        end = self.clock.now_ms() + ms
        while self.clock.now_ms() < end:
            self.clock.advance(min(1_000, end - self.clock.now_ms()))
            self.app.step()
        self.run(250)


DEC_6_2026 = 20_793 * 86_400  # the RTC's seconds at midnight, 2026-12-06


def save_setup_screens(out):
    """The screens of the clock, profiles, temp in U/h, calibration and activities."""
    os.makedirs(out, exist_ok=True)
    paths = []

    def shot(s, name):
        s.run(100)
        paths.append(s.save(os.path.join(out, "screen_%s.png" % name)))

    s = KeptSession()  # no RTC: the boot screen asks for the time
    shot(s, "time_not_set")
    s.click(SELECT, 2)  # set clock
    s.click(UP, 2)
    s.click(SELECT)
    s.click(UP, 11)
    s.click(SELECT)
    s.click(UP, 5)
    s.click(SELECT)
    s.click(DOWN, 5)
    s.click(SELECT)
    s.click(UP, 30)
    s.click(SELECT)
    shot(s, "clock_confirm")
    s = KeptSession(DEC_6_2026 + 7 * 3600, force=FakeForce()).ready()
    s.click(SELECT)
    s.click(DOWN)
    s.click(SELECT, 3)  # Basal, Profile, Weekday
    s.click(SELECT)  # Edit segments
    s.click(DOWN, 2)
    shot(s, "profile_segments")
    s.click(SELECT, 2)  # 06:00, Rate
    s.click(UP, 6)
    s.click(SELECT)
    shot(s, "profile_save")
    s.click(SELECT)  # saved: back in the editor
    s.hold(SELECT, 1_200)  # home
    s.click(SELECT)
    s.click(DOWN)
    s.click(SELECT)
    s.click(DOWN)
    s.click(SELECT)
    s.click(DOWN)
    s.click(SELECT)  # Basal, Temp basal, Rate U/h
    s.click(UP, 2)
    s.click(SELECT, 2)
    shot(s, "temp_rate_confirm")
    s.click(BACK, 3)
    s.hold(SELECT, 1_200)  # home
    s.click(SELECT)
    s.click(DOWN, 7)
    s.click(SELECT)  # Setup
    s.click(DOWN)
    s.click(SELECT)  # Calibration
    shot(s, "calibration")
    s.hold(SELECT, 1_200)
    s.click(SELECT)
    s.click(DOWN, 6)
    s.click(SELECT)  # Activity
    s.click(SELECT, 2)  # Exercise, 1 h
    shot(s, "activity_confirm")
    s.click(SELECT)
    shot(s, "home_activity")
    return paths


def save_sim_screens(out):
    os.makedirs(out, exist_ok=True)
    s = Session()
    s.run(500)
    paths = [s.save(os.path.join(out, "screen_boot.png"))]
    s.run(2_700)
    paths.append(s.save(os.path.join(out, "screen_home.png")))
    s.click(SELECT)  # menu
    s.click(SELECT)  # bolus
    s.click(SELECT)  # normal
    s.hold(UP, 2_000)  # auto-repeat: 0.1 U steps, then 1 U steps
    s.click(DOWN, 3)
    s.click(SELECT)
    paths.append(s.save(os.path.join(out, "screen_bolus_confirm.png")))
    s.click(SELECT)  # deliver
    s.run(25_000)
    paths.append(s.save(os.path.join(out, "screen_bolus_running.png")))
    s.run(4 * 60_000)  # the bolus takes the reservoir below 20 U: the alarm wakes the screen
    paths.append(s.save(os.path.join(out, "screen_alarm.png")))
    return paths


CGM_SCREENS = ("cgm_pairing", "cgm_link", "history_pages", "history_entry")


# The reference screens the guides show (docs/ui_NAME.png), saved with every run.
DOC_REFERENCE = ("home_full", "glucose_entry", "glucose_mmol", "treat_low", "urgent_low",
                 "urgent_low_actions", "infusion_set", "site_prompt") + CGM_SCREENS


def save_reference(out, names=None):
    """ui_NAME.png of the reference screens named (all if None)."""
    from basalt.core.ui.paint import Painter
    from tools.screens.reference import screens

    os.makedirs(out, exist_ok=True)
    paths = []
    for name, menu, view in screens():
        if names is not None and name not in names:
            continue
        painter = Painter(FakeDisplay())
        menu.draw(painter, view)
        paths.append(write_png(os.path.join(out, "ui_%s.png" % name), painter.c.buf))
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.screens.shots")
    parser.add_argument("--out", default="out")
    parser.add_argument("--reference", action="store_true", help="every reference screen too")
    parser.add_argument("--cgm", action="store_true",
                        help="only the CGM and history reference screens (docs/ui_*.png)")
    args = parser.parse_args(argv)
    if args.cgm:
        paths = save_reference(args.out, CGM_SCREENS)
    else:
        paths = save_sim_screens(args.out) + save_setup_screens(args.out)
        paths += save_reference(args.out, None if args.reference else DOC_REFERENCE)
    for path in paths:
        print("wrote %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
