"""Screenshots of the pump's screens.

    python -m tools.screens.shots [--out docs] [--reference] [--cgm]

save_sim_screens(out) runs the firmware's PumpApp and UiTask on fake hardware, presses
fake keys through a short session and saves the key moments (boot, home, bolus
confirm, bolus running, an alarm) as PNGs; `make sim` calls it. --reference also saves
every reference screen of tools/screens/reference.py; --cgm only the pairing, CGM link
and history ones (docs/ui_cgm_*.png, docs/ui_history_*.png).
"""

import argparse
import os
import sys

from basalt.app import BOOT_WARNING, PumpApp
from basalt.app.ui_task import UiTask
from basalt.core.ui.keys import DOWN, SELECT, UP
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


def save_reference(out, only=None):
    from basalt.core.ui.paint import Painter
    from tools.screens.reference import screens

    os.makedirs(out, exist_ok=True)
    paths = []
    for name, menu, view in screens():
        if only is not None and name not in only:
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
        paths = save_sim_screens(args.out)
    if args.reference:
        paths += save_reference(args.out)
    for path in paths:
        print("wrote %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
