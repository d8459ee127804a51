"""The simulator: the firmware's own PumpApp on fake hardware and a virtual clock.

run() is shared by `make sim` (tools.sim.__main__) and the benchmark (tools.bench).
"""

import os
from fractions import Fraction

from basalt.app import PumpApp
from basalt.core import strict_json
from basalt.core.board_file import load_board
from basalt.core.check import exact_keys
from basalt.core.errors import BasaltError, ConfigError
from basalt.core.schedule import parse_clock
from basalt.core.units import MS_PER_HOUR, MS_PER_MIN, PL_PER_MU
from tools.fakes import FakeMotor, VirtualClock, bench_limits
from tools.settings import read_settings

DEFAULT_PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "default_program.json")


def load_program(path):
    """A program file: start time, setup commands, and a daily list of timed commands.

    Events repeat every simulated day; one marked "once": true runs on the first day
    only (the resume after fitting a reservoir: on day 2 the pump is not suspended).
    An optional "settings" key names a therapy settings file (relative to the program);
    it is checked now and kept, loaded, under "_settings".
    """
    with open(path) as handle:
        # Strict: a program's setup may hold a whole settings table (save_settings), and
        # a key given twice there would otherwise keep only its last value.
        program = strict_json.loads(handle.read(), strict_json.DEFAULT_MAX_DEPTH, "program")
    exact_keys("program", program, ("start", "setup", "events"),
               ("comment", "board", "settings", "physics"))
    if "settings" in program:
        folder = os.path.dirname(os.path.abspath(path))
        program["_settings"] = read_settings(os.path.join(folder, program["settings"]))[0]
    parse_clock("program.start", program["start"])
    for i, event in enumerate(program["events"]):
        if not isinstance(event, dict) or "at" not in event:
            raise ConfigError("program.events[%d].at" % i, "(missing)", "a time 'HH:MM'")
        parse_clock("program.events[%d].at" % i, event["at"])
        if event.get("once", False) not in (True, False):
            raise ConfigError("program.events[%d].once" % i, event["once"], "true or false")
        _check_sim_event(program, i, event)
    return program


SIM_EVENTS = ("occlude", "clear")  # {"at": "HH:MM", "sim": ...}: the world, not the pump


def _check_sim_event(program, i, event):
    """A "sim" event blocks or clears the line; it needs "physics": true."""
    if "sim" not in event:
        return
    exact_keys("program.events[%d]" % i, event, ("at", "sim"), ("once",))
    if event["sim"] not in SIM_EVENTS:
        raise ConfigError("program.events[%d].sim" % i, event["sim"], "occlude or clear")
    if program.get("physics") is not True:
        raise ConfigError("program.physics", program.get("physics"),
                          "true (events[%d] blocks or clears the line)" % i)


def load_sim_board(name="sim"):
    module = __import__(name)
    return load_board(module.BOARD)


class Recorder:
    """Per-minute samples and per-hour programmed vs delivered amounts.

    The programmed amount is the exact integral of the commanded program, accumulated
    in integers (basal in mU*ms/h, bolus parts in ms of overlap) and turned into a
    Fraction once an hour.
    """

    def __init__(self, app):
        self.app = app
        self.rows = []
        self.hours = []  # (programmed mU as Fraction, delivered steps) per simulated hour
        self.programmed = Fraction(0)
        self._basal = 0
        self._parts = {}  # (bolus id, part) -> [programmed_mu, duration_ms, overlap_ms]
        self._hour_steps = 0
        self.force_n = []  # per-minute force on the plunger (N), with physics only
        self.alarms = []  # (minute, alarm dict) raised by the app

    def account(self, dt_ms):
        """Add the program's amount over the next dt_ms, from the engine's state."""
        engine = self.app.engine
        self._basal += engine.basal_rate_mu_h() * dt_ms
        if engine.stop_reason is None and engine.bolus_running():
            for part in engine.bolus_parts():
                key = (part["id"], part["part"])
                entry = self._parts.setdefault(key, [part["programmed_mu"],
                                                     part["duration_ms"], 0])
                entry[2] += min(dt_ms, part["duration_ms"] - part["elapsed_ms"])

    def sample(self, elapsed_ms):
        if elapsed_ms % MS_PER_MIN:
            return
        engine = self.app.engine
        therapy = engine.basal_steps + engine.bolus_steps
        if elapsed_ms % MS_PER_HOUR == 0 and elapsed_ms:
            hour = Fraction(self._basal, MS_PER_HOUR)
            for programmed, duration, overlap in self._parts.values():
                hour += Fraction(programmed * overlap, duration)
            self.programmed += hour
            self.hours.append((hour, therapy - self._hour_steps))
            self._basal, self._parts, self._hour_steps = 0, {}, therapy
        force = self.app.occlusion.force
        if force is not None:
            self.force_n.append(force.physics.drive_force_n())
        self.rows.append({
            "minute": elapsed_ms // MS_PER_MIN,
            "time": _clock_text(engine.day_ms()),
            "basal_u_h": engine.basal_rate_mu_h() / 1000,
            "delivered_u": _units(engine, therapy),
            "motor_u": _units(engine, max(0, self.app.motion.moved_steps - engine.prime_steps
                                         - engine.reseat_steps)),
            "reservoir_u": engine.reservoir_mu() / 1000,
            "iob_u": self.app.iob.iob_mu(self.app.clock.now_ms()) / 1000,
        })


def _units(engine, steps):
    return steps * engine.board.ustep_volume_pl / PL_PER_MU / 1000


def run(program, hours=24, tick_ms=1000, board=None, progress=None, settings=None,
        storage=None):
    """Simulate `hours` of `program`; returns the Recorder with the app inside.

    settings: a Settings object (else the program's "settings" file, else none).
    With a storage (tools.fake_storage.FakeStorage) the app keeps a journal in it."""
    board = board or load_sim_board(program.get("board", "sim"))
    clock = VirtualClock()
    motor = FakeMotor(clock, board.motor.max_step_hz)
    start_ms = parse_clock("start", program["start"]) * MS_PER_MIN
    settings = settings or program.get("_settings")
    force = _force_sensor(board, motor, clock) if program.get("physics") else None
    # Without a settings file the bench day runs under explicit ordinary limits.
    app = PumpApp(board, clock, motor, tick_ms=tick_ms, day_ms=start_ms, settings=settings,
                  limits=None if settings is not None else bench_limits(), force=force)
    if storage is not None:
        from basalt.storage.keeper import Keeper

        app.keeper = Keeper(storage)
        app.keeper.start(0, "power_on")
        app.keeper.acknowledge_boot(0, day_ms=start_ms)
    for cmd in program["setup"]:
        app.command(cmd)
    schedule = _schedule(program, start_ms, hours)
    recorder = Recorder(app)
    end_ms = hours * MS_PER_HOUR
    recorder.sample(0)
    app.step()
    while clock.now_ms() < end_ms:
        now = clock.now_ms()
        dt = min(tick_ms - now % tick_ms, end_ms - now)
        if schedule and schedule[-1][0] - now < dt:
            dt = schedule[-1][0] - now
        recorder.account(dt)
        clock.advance(dt)
        app.step()
        alarm = app.occlusion.detector.alarm
        if alarm is not None and (not recorder.alarms or recorder.alarms[-1][1] is not alarm):
            recorder.alarms.append((clock.now_ms() // MS_PER_MIN, alarm))
        while schedule and schedule[-1][0] == clock.now_ms():
            _, cmd, where = schedule.pop()
            if "sim" in cmd:
                _world(force, cmd["sim"], clock, motor)
                continue
            app.button_pressed()  # the user keys the command in (auto-off counts presses)
            try:
                app.command(cmd)
            except BasaltError as error:
                raise ProgramError("%s: %s" % (where, error))
        recorder.sample(clock.now_ms())
        if progress and clock.now_ms() % MS_PER_HOUR == 0:
            progress(clock.now_ms(), end_ms)
    return recorder


def _force_sensor(board, motor, clock):
    from tools.sim.occlusion_physics import SimForceSensor, SyringePhysics

    return SimForceSensor(SyringePhysics(board.ustep_volume_pl), motor, clock)


def _world(force, event, clock, motor):
    """Block or clear the infusion line in the physics."""
    physics = force.physics
    if event == "occlude":
        physics.occlude(clock.now_ms(), motor.position())
    else:
        physics.clear(clock.now_ms(), motor.position())


class ProgramError(BasaltError):
    """A program's command was refused; the message says which event, day and time."""


def _schedule(program, start_ms, hours):
    """Timed commands over the whole run, latest first: (at_ms, command, where).

    The events repeat daily, except those marked "once" (first day only). Day 1 runs
    from the program's start; an event before the start falls on the next day."""
    out = []
    days = -(-hours // 24) + 1
    for day in range(days):
        for i, event in enumerate(program["events"]):
            at = parse_clock("at", event["at"]) * MS_PER_MIN - start_ms + day * 24 * MS_PER_HOUR
            first_day = at < 24 * MS_PER_HOUR
            if 0 <= at < hours * MS_PER_HOUR and (first_day or not event.get("once")):
                cmd = {key: value for key, value in event.items() if key not in ("at", "once")}
                where = "program.events[%d] (day %d, %s)" % (
                    i, at // (24 * MS_PER_HOUR) + 1, event["at"])
                out.append((at, cmd, where))
    out.sort(key=lambda item: item[0], reverse=True)
    return out


def _clock_text(day_ms):
    minutes = day_ms // MS_PER_MIN
    return "%02d:%02d" % (minutes // 60, minutes % 60)
