"""The random walk: random key presses with random timing (bounces, holds, long idle
gaps) through the button decoder, the menu and the real PumpApp, checking after every
dose that it was confirmed on a screen showing exactly the amount sent.

    walk(events=1_000_000, seed=1) -> dict of counts   (python -m tools.bench ui runs it)

Checks (a failure raises WalkViolation with the event number and the screen):
- every dose command (bolus, extended, dual, prime, new reservoir, temp basal) comes
  out of a select press on a "Confirm" screen whose text shows its amounts;
- every dose the engine starts (bolus, prime, fill, temp basal) is the last confirmed
  command exactly: never without one, never more than shown;
- nothing raises except the pump's own refusals, which the UI shows.
"""

import os
import random

from basalt.app import BOOT_WARNING, PumpApp
from basalt.app.ui_task import UiTask
from basalt.core import command_parse
from basalt.core.limits import BOLUS_MAX_MU
from basalt.core.ui.textdump import NullCanvas, TextDump
from tools import ROOT
from tools.fakes import FakeMotor, VirtualClock, fake_keys
from tools.settings import read_settings
from tools.sim import load_sim_board

DOSE_COMMANDS = ("bolus", "extended_bolus", "dual_bolus", "prime", "new_reservoir",
                 "temp_basal")
SETUP = (
    {"cmd": "set_profile", "name": "Day", "segments": [["00:00", 0.8], ["08:00", 1.2]]},
    {"cmd": "set_profile", "name": "Sport", "segments": [["00:00", 0.5]]},
    {"cmd": "activate_profile", "name": "Day"},
    {"cmd": "new_reservoir", "units": 300},
    {"cmd": "resume"},
)


CHURN_CODES = ("occlusion", "reservoir_low", "cgm_lost", "site_change")
KEY_WEIGHTS = (0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 3)


# What the engine reports when a dose starts: (commands, command key, event field).
STARTED = {
    "bolus_started": (("bolus", "extended_bolus", "dual_bolus"), "units", "programmed_mu"),
    "prime_started": (("prime",), "units", "programmed_mu"),
    "reservoir_fitted": (("new_reservoir",), "units", "fill_mu"),
    "temp_basal_started": (("temp_basal",), "percent", "percent"),
}


class WalkViolation(AssertionError):
    pass


class NullDisplay(NullCanvas):
    def show(self):
        pass

    def dim(self, dimmed):
        pass


def churn_alarms(alarms, now_ms, rng):
    """Now and then an alarm is raised or cleared (real manager, real codes)."""
    pick = rng.random()
    code = rng.choice(CHURN_CODES)
    if pick < 0.02:
        alarms.raise_alarm(now_ms, code)
    elif pick < 0.04 and alarms.is_active(code):
        alarms.clear(now_ms, code)


class CheckedUi(UiTask):
    """The UI task, checking each command against the frame on screen when it was sent."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.painter = TextDump(self.display)
        self.checked = []  # (cmd, at event number)
        self.event_no = 0

    def on_key(self, now_ms, key, kind):
        self.event_no += 1
        super().on_key(now_ms, key, kind)

    def apply_commands(self, now_ms):
        for cmd in self.menu.commands:
            if as_call(cmd)[0] in DOSE_COMMANDS:
                self._check_shown(cmd)
                self.checked.append(cmd)
        super().apply_commands(now_ms)

    def _check_shown(self, cmd):
        screen = self.painter.dump()
        lines = screen.split("\n")
        if not lines or not lines[0].startswith(("Confirm", "New reservoir")):
            raise WalkViolation("event %d: %r sent from a screen that is not a confirmation:"
                                "\n%s" % (self.event_no, cmd, screen))
        for shown in amounts_of(cmd):
            if shown not in screen:
                raise WalkViolation("event %d: %r sent, but %r was not on the screen:\n%s"
                                    % (self.event_no, cmd, shown, screen))


def as_call(cmd):
    """(name, values in the pump's units) of a command in either form the table takes."""
    if isinstance(cmd, tuple):
        return cmd
    name, values, _ = command_parse.parse(cmd)
    return name, values


def amounts_of(cmd):
    """The texts a confirmation must show for a command."""
    out = []
    _, values = as_call(cmd)
    for key in ("units", "now_units"):
        if values.get(key) is not None:
            milli = values[key]
            out.append("%d.%02d" % (milli // 1000, milli % 1000 // 10))
    if values.get("percent") is not None:
        out.append("%d" % values["percent"])
    return out


class Walker:
    def __init__(self, seed, keys=4):
        self.rng = random.Random(seed)
        board = load_sim_board()
        self.clock = VirtualClock()
        # The example settings file: its profiles, limits and the real bolus calculator.
        settings = read_settings(os.path.join(ROOT, "settings", "example.json"), board)[0]
        self.app = PumpApp(board, self.clock, FakeMotor(self.clock, board.motor.max_step_hz),
                           settings=settings)
        for cmd in SETUP:
            self.app.command(cmd)
        self.app.pop_events()
        self.keys = fake_keys(keys)
        self.ui = CheckedUi(self.app, NullDisplay(), self.keys, BOOT_WARNING)
        self.doses = 0

    def poll(self, ms):
        """Time passes: the app ticks every tick_ms (as on the board), the UI polls."""
        before = self.clock.now_ms()
        self.clock.advance(ms)
        now = self.clock.now_ms()
        if now // self.app.tick_ms != before // self.app.tick_ms:
            self.app.step()
        self.ui.step(now)
        self._check_deliveries()

    def _check_deliveries(self):
        """Each dose the engine starts is the last confirmed command, exactly."""
        for kind, detail in self.app.pop_events():
            expect = STARTED.get(kind)
            if expect is None:
                continue
            name, key, field = expect
            cmd = self.ui.checked[-1] if self.ui.checked else (None, {})
            sent_name, values = as_call(cmd)
            if sent_name not in name:
                raise WalkViolation("%s without a confirmed command: %r (last: %r)"
                                    % (kind, detail, cmd))
            sent = values[key]
            if detail[field] != sent or (kind == "bolus_started" and sent > BOLUS_MAX_MU):
                raise WalkViolation("%s with %r; the confirmation showed %r" % (
                    kind, detail[field], cmd))
            self.doses += 1

    def press(self):
        """One press of a random key: bouncing contacts, a random hold, a random gap."""
        rng = self.rng
        churn_alarms(self.app.alarms, self.clock.now_ms(), rng)
        # Weighted so that walks reach the confirm screens often: up 3, down 2, select 5,
        # back 1 (a three-key board has no back).
        key = self.keys[rng.choice(KEY_WEIGHTS[:len(self.keys) + 7])]
        for level in (True, False):
            for _ in range(rng.choice((0, 0, 0, 1, 3))):  # contact bounce
                key.down = not level
                self.poll(rng.randint(1, 8))
                key.down = level
                self.poll(rng.randint(1, 8))
            key.down = level
            held = int(rng.uniform(400, 2_500) if rng.random() < 0.1
                       else rng.expovariate(1 / 120))
            if not level:
                held = int(rng.choice((rng.expovariate(1 / 200), rng.expovariate(1 / 8_000),
                                       rng.uniform(25_000, 45_000) if rng.random() < 0.02
                                       else 50)))
            elapsed = 0
            while elapsed < held:
                # Fine polls while a key is down or just released; idle time in big steps
                # (the decoder has nothing to do then, and the app catches up exactly).
                fine = level or elapsed < 80
                step = min(held - elapsed, rng.randint(5, 60) if fine
                           else rng.randint(100, 2_000))
                self.poll(max(1, step))
                elapsed += step

    def run(self, events, progress=None):
        """Press keys until `events` key events; progress(events so far) after each press."""
        while self.ui.event_no < events:
            self.press()
            if progress is not None:
                progress(self.ui.event_no)
        return {
            "events": self.ui.event_no,
            "doses_confirmed": len(self.ui.checked),
            "doses_started": self.doses,
            "sim_minutes": self.clock.now_ms() // 60_000,
        }


def walk(events, seed=1, keys=4, progress=None):
    return Walker(seed, keys).run(events, progress)
