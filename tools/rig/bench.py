"""What both rig procedures share: the pump, the balance, the clock, the log, the
status line."""

import csv
import sys
import time

from tools.rig.balances import BalanceError
from tools.rig.pump import RigError


class WallClock:
    def now(self):
        return time.monotonic()

    def sleep(self, seconds):
        if seconds > 0:
            time.sleep(seconds)


class StatusLine:
    """One line rewritten in place on a terminal; elsewhere a line now and then."""

    def __init__(self, stream=None, every_s=600):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every_s = every_s
        self._last = None
        self._shown = False

    def update(self, t_s, text):
        if self.tty:
            self.stream.write("\r\x1b[K" + text)
            self._shown = True
        elif self._last is None or t_s - self._last >= self.every_s:
            self.stream.write(text + "\n")
            self._last = t_s
        self.stream.flush()

    def end(self):
        if self._shown:
            self.stream.write("\n")
            self._shown = False


class Bench:
    """A pump (RigPump), a balance (BalanceReader), a clock; every balance reply and
    pump reading goes to the CSV log as it comes, so an interrupted run keeps its data."""

    def __init__(self, pump, balance, clock, log_path, say, density_g_ml, status=None,
                 operator=None):
        self.pump = pump
        self.balance = balance
        self.clock = clock
        self.say = say
        self.density = density_g_ml
        self.status = status or StatusLine()
        self.operator = operator  # operator(action, text): someone works the stopcock
        self.t0 = clock.now()
        self.rejected = {}
        self._file = open(log_path, "w", newline="")
        self._csv = csv.writer(self._file)
        self._csv.writerow(["phase", "time_s", "grams", "pump_usteps", "note"])
        self.log_path = log_path

    def now(self):
        return self.clock.now() - self.t0

    def weigh(self, phase, tries=5):
        """A stable reading in g, logged; None (logged with why) if the balance gave
        none: an unstable, busy, overloaded, malformed or unit-changed reply never
        counts."""
        try:
            reading = self.balance.read_stable(tries, wait=lambda: self.clock.sleep(1.0))
        except BalanceError as error:
            kind = type(error).__name__.lower()
            self.rejected[kind] = self.rejected.get(kind, 0) + 1
            self.log(phase, None, None, str(error))
            self.status.end()
            self.say("rig: balance: %s" % error)
            return None
        return reading.grams

    def log(self, phase, grams, usteps, note=""):
        self._csv.writerow([phase, "%.3f" % self.now(),
                            "" if grams is None else "%.5f" % grams,
                            "" if usteps is None else usteps, note])
        self._file.flush()

    def wait_idle(self, limit_s=600, poll_s=1.0):
        """Until the motor has finished a move just commanded (a prime): the pump plans
        it at its next tick, so the first look comes a poll later."""
        end = self.now() + limit_s
        self.clock.sleep(poll_s)
        while self.pump.status()["busy"]:
            if self.now() > end:
                raise RigError("the pump's motor is still moving after %d s" % limit_s)
            self.clock.sleep(poll_s)

    def ask_operator(self, action, text):
        """The user does something at the rig ("close" or "open" the stopcock); at a
        real rig the tool waits for Enter, on a simulated one the operator does it."""
        self.status.end()
        self.say("rig: NOW: %s" % text)
        if self.operator is None:
            input("rig: press Enter when done ")
        else:
            self.operator(action)

    def close(self):
        self.status.end()
        self._file.close()
