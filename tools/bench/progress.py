"""Progress of a long benchmark on stderr: a line every few seconds, never on stdout.

    powercut: 400/1081 cuts, 35 s
    cgm: MicroPython VM (decode rate, allocations, fuzz), 70 s

`python -m tools.bench` reports for the benchmark it runs (`--progress SECONDS`, default
5, 0 for none); a benchmark says where it is with phase() and advance(), and calls
tick() inside loops that advance nothing. Outside a report (a test calling run()
directly) every call is a no-op. A run shorter than the interval prints nothing.

There is no thread: a line is written from the calls themselves, so a benchmark that
forks workers (multiprocessing) forks no lock held by a printing thread. Waiting on the
MicroPython VM ticks too: run_micropython(..., waiting=progress.tick).
"""

import sys
import time

EVERY_S = 5.0

_current = None


class Report:
    """Where one benchmark is: a phase label, a count out of a total, the time taken."""

    def __init__(self, name, every_s=EVERY_S, stream=None, clock=time.monotonic):
        self.name = name
        self.every_s = every_s
        self.stream = stream if stream is not None else sys.stderr
        self.clock = clock
        self.started = self.last = clock()
        self.label = ""
        self.unit = ""
        self.done = 0
        self.total = None
        self.lines = 0

    def phase(self, label, total=None, unit=""):
        self.label, self.total, self.unit, self.done = label, total, unit, 0
        self.tick()

    def advance(self, n=1):
        self.done += n
        self.tick()

    def tick(self):
        now = self.clock()
        if now - self.last >= self.every_s:
            self.last = now
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()
            self.lines += 1

    def line(self, now=None):
        """"name: label done/total unit, N s" (the parts that are set)."""
        now = self.clock() if now is None else now
        parts = [self.label] if self.label else []
        if self.total is not None:
            parts.append(("%d/%d %s" % (self.done, self.total, self.unit)).rstrip())
        where = " ".join(parts)
        return "%s: %s%d s" % (self.name, where + ", " if where else "",
                               round(now - self.started))


class reporting:  # noqa: N801 - used as `with progress.reporting(name):`
    """Make a Report the current one for the `with` block (every_s <= 0: no report)."""

    def __init__(self, name, every_s=EVERY_S, stream=None, clock=time.monotonic):
        self.report = Report(name, every_s, stream, clock) if every_s > 0 else None

    def __enter__(self):
        global _current
        self.previous, _current = _current, self.report
        return self.report

    def __exit__(self, *exc):
        global _current
        _current = self.previous
        return False


def phase(label, total=None, unit=""):
    """A new stage of the benchmark: its label and, when known, how many `unit` it has."""
    if _current is not None:
        _current.phase(label, total, unit)


def advance(n=1):
    """`n` more of the current phase's units are done."""
    if _current is not None:
        _current.advance(n)


def at(done):
    """The current phase has `done` of its units done."""
    if _current is not None:
        _current.done = done
        _current.tick()


def tick():
    """Still working: write the line if the interval has passed."""
    if _current is not None:
        _current.tick()
