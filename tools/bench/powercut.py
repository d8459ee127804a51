"""Power-cut benchmark: cut the power at every write of a scripted day, reboot, go on.

A reference run of the day counts its write points (FakeStorage cut points). Then, for
every write operation of the day, a run cuts the power inside that write (at a byte
that varies from write to write; every other cut leaves the rest of the write as noise),
reboots the firmware on what the flash holds (the plunger stays where the motor left
it), acknowledges the boot screen at the true time of day, and plays the rest of the day.
A command the cut interrupted was never confirmed to the user, who gives it again.

Over all cuts it counts:
  over_deliveries      runs whose plunger travelled further than in the uncut day
                       (a reset may lose insulin, never add it)
  double_boluses       boluses running again after a reboot, or started by nobody
  lost_records         records whose append had returned, missing afterwards
  unreadable_journals  runs whose journal could not be read back
  lease_violations     cuts where the plunger was past the committed checkpoint's lease
  limit_resets         reboots whose safety gate holds less in its 60-minute bolus or
                       24-hour window than the dying pump had delivered in them (its
                       totals less the steps planned but not moved): a reset that
                       reopens room under max bolus per 60 min or max daily insulin
  iob_losses           reboots whose bolus insulin on board (plus the interrupted bolus
                       awaiting reconciliation, at its high bound) is below what the
                       dying pump counted (by more than 1 mU per bolus of rounding)
  reboots              reboots after cuts (equal to cuts: every cut really happened)

Then the fault kinds of tools.bench.powercut_kinds (torn writes at any byte, bit flips
in every file, partial ENOSPC, full and dead flash, cuts during settings saves on a real
settings file), `--kind-runs` runs each, reported per kind under "kinds": runs,
over_deliveries, double_boluses, lost_records (lost silently), forgotten_iob_mu,
crashes.
"""

import json
import os
import time

from basalt.app import PumpApp
from basalt.core import journal as jnl
from basalt.core.errors import BasaltError, ConfigError
from basalt.core.settings import load_settings, parse_settings_text
from basalt.core.units import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN
from basalt.storage import journal as journal_files
from basalt.storage.files import ValidatedFile
from basalt.storage.journal import Journal
from basalt.storage.keeper import Keeper
from tools import sim
from tools.bench import progress
from tools.fake_storage import FakeStorage, PowerCut
from tools.fakes import FakeMotor, VirtualClock, open_limits

TICK_MS = 10_000
SEGMENT_BYTES = 4_096
SEGMENTS = 64  # no rotation within the day: every committed record must still be there


def _at(hhmm):
    return (int(hhmm[:2]) * 60 + int(hhmm[3:])) * MS_PER_MIN


PROFILE = {"cmd": "set_profile", "name": "Bench", "segments": [
    ["00:00", 0.8], ["06:00", 1.2], ["09:00", 1.0], ["18:00", 1.1], ["22:00", 0.85]]}

# (time of day, action): commands, alarms and settings as a user and the app make them.
DAY = [
    ("00:00", PROFILE),
    ("00:00", {"cmd": "new_reservoir", "units": 200}),
    ("00:00", {"cmd": "prime", "units": 1}),
    ("00:02", {"cmd": "resume"}),
    ("02:10", ("alarm", "reservoir_low")),
    ("07:30", {"cmd": "bolus", "units": 4.5}),
    ("09:00", {"cmd": "save_settings", "settings": {"max_bolus_u": 10, "max_basal_u_h": 3}}),
    ("10:00", {"cmd": "extended_bolus", "units": 2, "minutes": 60}),
    ("10:20", {"cmd": "bolus", "units": 1}),
    ("12:30", {"cmd": "bolus", "units": 3.25}),
    ("12:31", {"cmd": "cancel_bolus"}),
    ("15:00", {"cmd": "temp_basal", "percent": 50, "minutes": 90}),
    ("17:00", {"cmd": "temp_basal", "percent": 150, "minutes": 60}),
    ("18:30", {"cmd": "dual_bolus", "units": 5, "now_percent": 50, "minutes": 90}),
    ("20:00", ("alarm", "occlusion")),
    ("21:00", {"cmd": "suspend"}),
    ("21:30", {"cmd": "resume"}),
    ("22:15", {"cmd": "temp_basal", "rate": 0.4, "minutes": 30}),
]
GLUCOSE_EVERY_MS = 5 * MS_PER_MIN
IOB_ROUNDING_MU = 6  # each bolus record rounds its delivered mU down: 1 mU per bolus



REAL_DAY = [entry for entry in DAY if not (isinstance(entry[1], dict)
                                           and entry[1]["cmd"] == "save_settings")] + [
    ("09:00", ("settings", {"max_bolus_u": 8, "max_basal_u_h": 2.5})),
    ("14:00", ("settings", {"max_bolus_u": 6, "max_bolus_60min_u": 9})),
    ("23:00", ("settings", {"max_bolus_u": 4, "max_iob_u": 15})),
]
REAL_SETTINGS = os.path.join(os.path.dirname(__file__), "..", "..", "settings",
                             "example.json")


def real_settings_text():
    """settings/example.json as a person copies it to the pump (with its comments), the
    auto-off turned off (nobody presses a button on the bench)."""
    with open(REAL_SETTINGS) as handle:
        text = handle.read()
    obj = parse_settings_text(text)
    obj["alarms"]["auto_off_h"] = 0
    return json.dumps(obj).encode()


def opaque_settings(obj):
    """The bench's settings saves are data to write atomically, not therapy: the pump
    here runs on open limits, so they are stored and journaled but never applied."""
    if not isinstance(obj, dict):
        raise ConfigError("settings.json", obj, "a table of settings")
    return obj, []

class BootClock(VirtualClock):
    """A board's ms count: starts at 0 at each boot, follows the world's time."""

    def __init__(self, world, start):
        super().__init__()
        self.world = world
        self.start = start

    def now_ms(self):
        return self.world.now_ms() - self.start

    def advance(self, ms):
        self.world.advance(ms)


class Run:
    """One scripted day on one flash, with at most one armed power cut.

    real: the pump runs on a real settings file (settings/example.json through the
    firmware's own validator, basalt.core.settings.load_settings) instead of open
    limits; hooks: [(world ms, hook(run))] called once each as the day passes that time
    (a flash fault starting, a bit flipped, a clean power-off: a hook may raise
    PowerCut). Besides the power-cut findings it counts crashes (an exception other than
    the project's typed errors escaping the firmware), insulin on board forgotten at a
    reboot (mU), settings lies (the file a boot loads is not what the user was last told
    was saved, or the pump runs on settings its file does not hold) and whether a boot
    screen reported journal damage."""

    def __init__(self, board, storage, real=False, hooks=(), day=None):
        self.board = board
        self.storage = storage
        self.real = real
        self.hooks = sorted(hooks, key=lambda hook: hook[0])
        self.day = day if day is not None else (REAL_DAY if real else DAY)
        self.crash = None  # "Type: message" of the exception that escaped
        self.forgotten_iob_mu = 0
        self.settings_lies = 0
        self.reported_damage = False  # a boot screen said the journal was damaged
        self.reported_files = set()  # segment files a boot screen named as damaged
        self.confirmed = None  # the settings object the user was last told was saved
        self.pending = None  # one whose save a power cut interrupted (never confirmed)
        self.in_settings = False  # inside save_settings (the write points are marked)
        self.notes = []
        self.world = VirtualClock()
        self.forward = 0  # plunger travel of finished boots (the plunger is physical)
        self.reverse = 0
        self.committed = []  # (boot, seq, kind) of appends that returned
        self.committed_file = {}  # (boot, seq) -> the segment file it went to
        self.boots = 0
        self.double_boluses = 0
        self.lease_violations = 0
        self.limit_resets = 0
        self.carried = None  # (60-min bolus, 24-h) steps the dying pump had delivered
        self.iob_losses = 0
        self.carried_iob = None  # the dying pump's bolus IOB, mU
        self.started_by_user = set()
        self.retry = None  # a command the power cut interrupted
        self.app = None

    def boot(self):
        self.boots += 1
        clock = BootClock(self.world, self.world.now_ms())
        motor = FakeMotor(clock, self.board.motor.max_step_hz)
        if self.real:
            if self.boots == 1:
                self.storage.files["settings.json"] = bytearray(real_settings_text())
                self.confirmed = json.loads(real_settings_text())
            sfile = ValidatedFile(self.storage, "settings.json",
                                  lambda obj: load_settings(obj, self.board),
                                  parse_settings_text)
            keeper = Keeper(self.storage, settings_file=sfile,
                            segment_bytes=SEGMENT_BYTES, segments=SEGMENTS)
            try:
                _, validated = sfile.load()
            except BasaltError:
                validated = None  # refused: the keeper says so on the boot screen
            app = PumpApp(self.board, clock, motor, tick_ms=TICK_MS,
                          settings=validated[0] if validated else None)
        else:
            app = PumpApp(self.board, clock, motor, tick_ms=TICK_MS, limits=open_limits())
            keeper = Keeper(self.storage, settings_validator=opaque_settings,
                            segment_bytes=SEGMENT_BYTES, segments=SEGMENTS)
        app.keeper = keeper
        self._watch(keeper.journal)
        self._watch_settings(keeper)
        self._watch_drops(app.motion)
        self.app = app
        keeper.start(0, "power_on" if self.boots == 1 else "brownout")
        self.notes.append(list(keeper.boot_notes))
        for note in keeper.boot_notes:
            if note.startswith("Journal"):
                self.reported_damage = True
                for name in self.storage.names():
                    if name in note:
                        self.reported_files.add(name)
        self._check_settings_file(keeper)
        carried, self.carried = self.carried, None
        if carried is not None:
            hour, day = app.engine.gate.carry_over()
            if hour < carried[0] or day < carried[1]:
                self.limit_resets += 1  # the reset reopened room under a limit
        carried_iob, self.carried_iob = self.carried_iob, None
        if carried_iob is not None:
            uncertain = keeper.uncertain["delivered_hi_mu"] if keeper.uncertain else 0
            have = app.iob.bolus_iob_mu(0) + uncertain
            if have < carried_iob - IOB_ROUNDING_MU:
                self.iob_losses += 1
                self.forgotten_iob_mu += carried_iob - have
        if app.engine.running_boluses():
            self.double_boluses += 1  # a bolus came back after the reset
        keeper.acknowledge_boot(0, day_ms=self.world.now_ms() % MS_PER_DAY)
        retry, self.retry = self.retry, None
        if retry is not None:
            self._do(retry)  # the pump died before confirming it: the user tries again

    def _watch_drops(self, motion):
        """Steps a storage fault dropped (planned, counted by the gate and the IOB
        tracker, never moved): the dying pump's totals less them are what went in."""
        self.dropped = 0
        drop = motion.drop_pending

        def dropping():
            self.dropped += motion.pending_steps
            drop()

        motion.drop_pending = dropping

    def _watch_settings(self, keeper):
        save = keeper.save_settings

        def saving(now_ms, obj):
            before = self.app.settings
            self.in_settings = True
            try:
                validated = save(now_ms, obj)
            except PowerCut:
                self.pending = obj
                raise
            except BasaltError:
                if self.app.settings is not before:
                    self.settings_lies += 1  # refused, yet the pump runs on it
                raise
            finally:
                self.in_settings = False
            self.confirmed, self.pending = obj, None
            if self.real and self.app.settings is not validated[0]:
                self.settings_lies += 1  # saved, yet the pump runs on something else
            return validated

        keeper.save_settings = saving
        keeper.profiles.save_settings = saving

    def _check_settings_file(self, keeper):
        """The settings a boot loads are the ones last confirmed (or the interrupted
        save's), unless the boot screen says the file was refused."""
        if self.confirmed is None or keeper.settings_error:
            return
        try:
            obj, _ = keeper.settings.load()
        except BasaltError:
            return  # refused: the keeper reported it (settings_error)
        if obj != self.confirmed and (self.pending is None or obj != self.pending):
            self.settings_lies += 1

    def _watch(self, journal):
        append = journal.append

        def recording(kind, detail, at_ms):
            seq = append(kind, detail, at_ms)
            self.committed.append((journal.boot, seq, kind))
            self.committed_file[(journal.boot, seq)] = jnl.segment_name(
                journal._current[0])
            return seq

        journal.append = recording

    def power_off(self):
        app = self.app
        motor = app.motor
        running = motor.busy() and motor.forward
        done = motor.stop()
        # Steps the gate counted that never moved: planned, or left of the running move.
        unmoved = app.motion.pending_steps + (app.motion.move_steps - done if running else 0) \
            + self.dropped
        hour, day = app.engine.gate.carry_over()
        self.carried = (max(0, hour - unmoved), max(0, day - unmoved))
        # The IOB tracker counts steps once planned, as the gate does: less the unmoved.
        self.carried_iob = (app.iob.bolus_iob_mu(app.clock.now_ms())
                            - app.board.mu_for_usteps(unmoved) - 1)
        self.forward += motor.forward_steps
        self.reverse += motor.reverse_steps
        ck = self.app.keeper._ck
        if ck is not None and self.app.engine.plunger_steps - self.app.motion.pending_steps \
                > ck["plunger_hi"]:
            self.lease_violations += 1

    def play(self):
        """The whole day; a power cut reboots and the day goes on."""
        schedule = sorted(((_at(at), i, action) for i, (at, action) in enumerate(self.day)),
                          reverse=True)
        while True:
            try:
                if self.app is None:
                    self.boot()
                self._until(MS_PER_DAY, schedule)
                break
            except PowerCut:
                self.power_off()
                self.app = None
            except Exception as error:  # noqa: BLE001 - any escape is a finding here
                self.crash = "%s: %s" % (type(error).__name__, error)
                break
        if self.app is None:
            return self.forward
        motor = self.app.motor
        motor.stop()
        return self.forward + motor.forward_steps

    def _until(self, end, schedule):
        app = self.app
        while self.world.now_ms() < end:
            while self.hooks and self.hooks[0][0] <= self.world.now_ms():
                self.hooks.pop(0)[1](self)
            while schedule and schedule[-1][0] <= self.world.now_ms():
                self._do(schedule.pop()[2])
            now = self.world.now_ms()
            if now % GLUCOSE_EVERY_MS == 0:
                app.stream.emit("glucose", {"mg_dl": 100 + now // MS_PER_HOUR * 3,
                                            "at_ms": app.clock.now_ms()})
            step = min(TICK_MS - now % TICK_MS, end - now)
            if schedule:
                step = min(step, max(1, schedule[-1][0] - now))
            if self.hooks:
                step = min(step, max(1, self.hooks[0][0] - now))
            self.world.advance(step)
            app.step()
            app.pop_events()

    def _do(self, action):
        app = self.app
        if isinstance(action, tuple) and action[0] == "hook":
            action[1](self)  # a fault planted right after the command before it
            return
        if isinstance(action, tuple) and action[0] == "settings":
            action = self._settings_change(action[1])
        if isinstance(action, tuple):
            app.stream.emit("alarm_raised", {"code": action[1], "at_ms": app.clock.now_ms()})
            return
        app.pop_events()  # what came before the command was seen by the tick
        try:
            app.command(action)
        except BasaltError:
            return  # the pump's state after a reset can refuse it: that is fine
        except PowerCut:
            self.retry = action
            raise
        finally:
            for kind, detail in app.pop_events():
                if kind == "bolus_started":
                    self.started_by_user.add((app.keeper.boot, detail["id"]))


    def _settings_change(self, limits):
        """save_settings of the settings last saved, some limits changed."""
        obj = json.loads(json.dumps(self.confirmed))
        obj["limits"].update(limits)
        return {"cmd": "save_settings", "settings": obj}


def read_back(storage):
    """The journal as the next boot reads it: (view, error or None)."""
    try:
        view = Journal(storage).read()
    except Exception as error:  # noqa: BLE001 - any exception is a finding here
        return None, "%s: %s" % (type(error).__name__, error)
    return view, None


def check(run, reference_forward):
    """Findings of one run: dict of counts."""
    found = {"over": 0, "double": run.double_boluses, "lost": 0, "unreadable": 0,
             "lease": run.lease_violations, "limit_resets": run.limit_resets,
             "iob_losses": run.iob_losses, "reboots": run.boots - 1}
    if run.forward_total > reference_forward:
        found["over"] = 1
    view, error = read_back(run.storage)
    if error or view.foreign or not view.records:
        found["unreadable"] = 1
        return found
    present = {(r.boot, r.seq): r.kind for r in view.records}
    for boot, seq, kind in run.committed:
        if present.get((boot, seq)) != kind:
            found["lost"] += 1
    for record in view.records:
        if record.kind == "bolus_started" and \
                (record.boot, record.detail.get("id")) not in run.started_by_user:
            found["double"] += 1
    return found


def one(board, cut_at=None, garbage=False):
    storage = FakeStorage(cut_at, garbage, seed=cut_at or 0)
    run = Run(board, storage)
    run.forward_total = run.play()
    return run


def write_points(board):
    """The reference run and the cut points of its writes: one byte inside each."""
    storage = FakeStorage()
    sizes = []
    original = storage._land
    run = Run(board, storage)

    def land(data):
        sizes.append((storage.position, len(data), run.world.now_ms()))
        return original(data)

    storage._land = land
    run.forward_total = run.play()
    return run, sizes


def cut_plan(sizes, limit=None):
    """(cut point, garbage?) for every write: a byte that walks through each write."""
    plan = []
    for i, (start, size, _) in enumerate(sizes):
        plan.append((start + (i * 7919) % size, i % 2 == 1))
    if limit is not None and limit < len(plan):
        stride = len(plan) / limit
        plan = [plan[int(k * stride)] for k in range(limit)]
    return plan


def run(limit=None, jobs=1, kind_runs=200):
    """Every write point of the day (or `limit` of them, evenly spread), then
    kind_runs runs of each fault kind (tools.bench.powercut_kinds; 0: none)."""
    board = sim.load_sim_board()
    started = time.perf_counter()
    progress.phase("the uncut day (counting its writes)")
    reference, sizes = write_points(board)
    plan = cut_plan(sizes, limit)
    progress.phase("", len(plan), "cuts")
    totals = {"over": 0, "double": 0, "lost": 0, "unreadable": 0, "lease": 0,
              "limit_resets": 0, "iob_losses": 0, "reboots": 0}
    if jobs > 1:
        from multiprocessing import Pool

        results = []
        with Pool(jobs) as pool:  # the totals are sums: the order of the results is free
            for found in pool.imap_unordered(_cut_star, [(reference.forward_total, c, g)
                                                         for c, g in plan]):
                results.append(found)
                progress.advance()
    else:
        results = []
        for cut_at, garbage in plan:
            results.append(_cut_findings(reference.forward_total, cut_at, garbage, board))
            progress.advance()
    for found in results:
        for key in totals:
            totals[key] += found[key]
    kinds = {"kinds": {}, "bit_flip_files": {}}
    if kind_runs:
        from tools.bench import powercut_kinds

        kinds = powercut_kinds.run(kind_runs, jobs)
    view, _ = read_back(reference.storage)
    day_bytes = sum(reference.storage.size(n) for n in reference.storage.names()
                    if n.endswith(".jnl"))
    budget = journal_files.SEGMENT_BYTES * journal_files.SEGMENTS
    return {
        "cuts": len(plan),
        "write_points": len(sizes),
        "over_deliveries": totals["over"],
        "double_boluses": totals["double"],
        "lost_records": totals["lost"],
        "unreadable_journals": totals["unreadable"],
        "lease_violations": totals["lease"],
        "limit_resets": totals["limit_resets"],
        "iob_losses": totals["iob_losses"],
        "reboots": totals["reboots"],
        "journal_bytes_per_day": day_bytes,
        "journal_records_per_day": len(view.records),
        "journal_budget_bytes": budget,
        # the oldest segment may be partly gone: count one segment fewer
        "days_kept": round((budget - journal_files.SEGMENT_BYTES) / day_bytes, 1),
        "kinds": kinds["kinds"],
        "kind_runs": sum(figures["runs"] for figures in kinds["kinds"].values()),
        "bit_flip_files": kinds["bit_flip_files"],
        "wall_s": round(time.perf_counter() - started, 1),
    }


def _cut_findings(reference_forward, cut_at, garbage, board=None):
    board = board or sim.load_sim_board()
    return check(one(board, cut_at, garbage), reference_forward)


def _cut_star(job):
    return _cut_findings(*job)


def default_jobs():
    return max(1, min(2, os.cpu_count() or 1))



def add_arguments(parser):
    parser.add_argument("--limit", type=int, default=None, help="at most this many cuts")
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--kind-runs", type=int, default=None,
                        help="runs of each fault kind (torn writes at any byte, bit "
                             "flips, partial ENOSPC, full and dead flash, cuts during "
                             "settings saves with the real validator; 0: none; default "
                             "200, or with --limit N a share of N, at least 1)")


def bench(args, parser):
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    kind_runs = args.kind_runs
    if kind_runs is None:
        from tools.bench.powercut_kinds import KINDS

        kind_runs = 200 if args.limit is None else max(1, args.limit // len(KINDS))
    if kind_runs < 0:
        parser.error("--kind-runs must be 0 or more")
    return run(args.limit, args.jobs, kind_runs)
