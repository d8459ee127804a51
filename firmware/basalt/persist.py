"""What survives a power cut: the history journal, the delivery checkpoint, validated
files (settings, basal profiles), and the Keeper that wires them into the app.

Byte layouts and the restart rules are pure (basalt.core.journal, .checkpoint); this
module only moves bytes through the Storage port and calls the engine.
"""

import json

from basalt.core import checkpoint as ckp
from basalt.core import forcecal
from basalt.core import journal as jnl
from basalt.core.basal import BasalProfiles
from basalt.core.check import exact_keys
from basalt.core.commands import parse_clock, segments_from_user
from basalt.core.delivery import (
    STOP_EMPTY,
    STOP_NO_RESERVOIR,
    STOP_OCCLUSION,
    STOP_SENSOR_FAULT,
    STOP_USER,
)
from basalt.core.errors import BasaltError, ConfigError, InvalidValue, NotAllowedNow
from basalt.core.schedule import hhmm
from basalt.core.units import MS_PER_HOUR, MS_PER_MIN, milli_in

SEGMENT_BYTES = 16_384
SEGMENTS = 16  # 256 KiB of flash for history; see the README for the days it keeps
LEASE_MU = 50  # the motor may run this far past a checkpoint: 0.05 U
CHECKPOINT_EVERY_MS = 5 * MS_PER_MIN
BASAL_FILE = "basal.json"
PROFILE_COMMANDS = ("set_profile", "activate_profile", "delete_profile")
SETTINGS_FILE = "settings.json"
# The force sensor's calibration: this pump's own sensor, so beside its journal, not in
# the settings file (a file written on a laptop and copied over it would drop it).
FORCE_FILE = "forcecal.json"
FORCE_COMMANDS = ("force_tare", "force_scale")
FORCE_SAMPLES = 10  # readings per step (1 s on an HX711 at 10 SPS)

_STATE_OF_STOP = {None: ckp.STATE_DELIVERING, STOP_USER: ckp.STATE_SUSPENDED,
                  STOP_NO_RESERVOIR: ckp.STATE_NO_RESERVOIR, STOP_EMPTY: ckp.STATE_EMPTY,
                  STOP_OCCLUSION: ckp.STATE_ALARM, STOP_SENSOR_FAULT: ckp.STATE_ALARM}
# After a reset an alarm stop comes back as a suspend: the alarm is in the journal and on
# the boot screen, and the user resumes once the line is checked.
_STOP_OF_STATE = (STOP_USER, STOP_USER, STOP_NO_RESERVOIR, STOP_EMPTY, STOP_USER)
_BOLUS_KIND = {"normal": 1, "extended": 2, "dual": 3}


class Journal:
    """Append-only history in numbered segment files; the oldest go first."""

    def __init__(self, storage, segment_bytes=SEGMENT_BYTES, segments=SEGMENTS):
        self.storage = storage
        self.segment_bytes = segment_bytes
        self.segments = segments
        self.boot = 0
        self.seq = 1
        self._current = None  # [number, size]
        self._own = []  # numbers of readable segments, oldest first
        self._highest = 0

    def read(self, visit=None):
        """A JournalView of everything readable; never raises on damage. With visit,
        records go to visit(record) one by one and are not kept, and only one segment
        file is in memory at a time."""
        files = []
        for name in self.storage.names():
            number = jnl.segment_number(name)
            if number is not None:
                files.append((number, name))
        files.sort()
        self._highest = files[-1][0] if files else 0
        view = jnl.read_journal(((name, read_or_empty(self.storage, name))
                                 for _, name in files), visit)
        foreign = [name for name, _ in view.foreign]
        self._own = [number for number, name in files if name not in foreign]
        return view

    def open(self, view, boot, seq):
        """Continue after what was read: a torn tail is left as it is (kept for the
        record) and writing goes on in a fresh segment."""
        self.boot = boot
        self.seq = seq
        last = view.last_segment
        self._current = None
        if last is not None and not last[2] and last[0] == self._highest:
            self._current = [last[0], last[1]]

    def append(self, kind, detail, at_ms):
        """Write one record; returns its sequence number once it is durable."""
        data = jnl.encode_record(self.seq, self.boot, at_ms, kind, detail)
        current = self._current
        fresh = current is None or current[1] + len(data) > self.segment_bytes
        if fresh:
            # The header and the first record go in one write: a segment never exists
            # without a record in it.
            self._highest += 1
            current = self._current = [self._highest, 0]
            data = jnl.encode_header(self._highest, self.boot) + data
        self.storage.append(jnl.segment_name(current[0]), data)
        current[1] += len(data)
        if fresh:
            self._own.append(current[0])
            self._rotate()
        seq = self.seq
        self.seq += 1
        return seq

    def _rotate(self):
        while len(self._own) > self.segments:
            self.storage.remove(jnl.segment_name(self._own.pop(0)))


def read_or_empty(storage, name):
    """A file's bytes; a file the flash cannot read counts as damaged (empty), so a
    read error never stops the boot."""
    try:
        return storage.read(name) or b""
    except OSError:
        return b""


def bundle(storage):
    """All segment files of a storage, oldest first, as one byte string."""
    out = bytearray()
    for name in sorted(storage.names()):
        if jnl.segment_number(name) is not None:
            out.extend(storage.read(name) or b"")
    return bytes(out)


class CheckpointStore:
    def __init__(self, storage):
        self.storage = storage
        self.counter = 0

    def load(self):
        slots = []
        for name in ckp.SLOTS:
            try:
                slots.append(self.storage.read(name))
            except OSError:
                slots.append(b"")  # unreadable: not a valid slot, and not "missing"
        ck, status = ckp.newest(slots)
        if ck is not None:
            self.counter = ck["counter"]
        return ck, status

    def write(self, ck):
        self.counter += 1
        ck["counter"] = self.counter
        self.storage.write(ckp.slot_for(self.counter), ckp.encode(ck))


class ValidatedFile:
    """A JSON file replaced only by a complete, validated one (atomically)."""

    def __init__(self, storage, name, validator, parse=None):
        self.storage = storage
        self.name = name
        self.validator = validator  # obj -> anything; raises ConfigError naming the key
        self.parse = parse  # text -> obj (default: plain JSON); raises ConfigError

    def load(self):
        """(obj, validated) or (None, None) if there is no file; raises ConfigError."""
        try:
            data = self.storage.read(self.name)
            if data is None:
                data = self.storage.read(self.name + ".new")  # renamed away, not over (FAT)
        except OSError as error:
            raise ConfigError(self.name, "(unreadable)", "a readable file", "flash read "
                              "failed: %s" % error)
        if data is None:
            return None, None
        try:
            text = bytes(data).decode()
            obj = self.parse(text) if self.parse is not None else json.loads(text)
        except (ValueError, UnicodeError):
            raise ConfigError(self.name, "(%d bytes)" % len(data), "a JSON table",
                              "not valid JSON")
        return obj, self.validator(obj)

    def save(self, obj, validated=None):
        """Validate (unless given what the validator returned for obj), then replace
        the file; a refused obj changes nothing."""
        if validated is None:
            validated = self.validator(obj)
        self.storage.replace(self.name, json.dumps(obj).encode())
        return validated


def check_basal_file(obj):
    """Basal profiles edited on a pump without a settings file:
    {"active": name, "profiles": {name: [[start minute, mU/h], ...]}}."""
    exact_keys(BASAL_FILE, obj, ("active", "profiles"))
    profiles = BasalProfiles()
    if not isinstance(obj["profiles"], dict):
        raise ConfigError(BASAL_FILE + ".profiles", obj["profiles"], "a table of profiles")
    for name in sorted(obj["profiles"]):
        try:
            profiles.put(name, obj["profiles"][name])
        except BasaltError as error:
            raise ConfigError(BASAL_FILE + ".profiles." + str(name), name, str(error))
    if obj["active"] is not None:
        profiles.get(obj["active"])
        profiles.active = obj["active"]
    return profiles


def accept_any_settings(obj):
    """Stand-in until basalt.core.settings.load_settings is wired in: a JSON table."""
    if not isinstance(obj, dict):
        raise ConfigError(SETTINGS_FILE, obj, "a table of settings")
    return obj, []


class Keeper:
    """Journal, checkpoint and the restart rules, hooked into PumpApp.

    The app calls record(events), before_command/after_command, on_tick and may_move.
    Until acknowledge_boot() the motor may not move and commands are refused.
    """

    def __init__(self, storage, settings_validator=accept_any_settings, settings_file=None,
                 **journal_args):
        """settings_validator(obj) -> (settings, warnings), raising ConfigError (as
        basalt.core.settings.load_settings does), checks settings.json beside the
        journal; or settings_file: a ValidatedFile kept elsewhere."""
        self.storage = storage
        self.journal = Journal(storage, **journal_args)
        self.checkpoints = CheckpointStore(storage)
        self.settings = settings_file or ValidatedFile(storage, SETTINGS_FILE,
                                                       settings_validator)
        self.basal = ValidatedFile(storage, BASAL_FILE, check_basal_file)
        self.force_file = ValidatedFile(storage, FORCE_FILE, lambda obj: (
            forcecal.load_force_calibration(obj, FORCE_FILE)))
        self.settings_warnings = []
        self._settings_events = None  # None until load_settings() ran
        self._settings_basal = False  # the settings file holds the basal profiles
        self._pending_settings = None
        self.awaiting_ack = True
        self.uncertain = None  # interrupted bolus insulin the user has not reconciled
        self.settings_error = None
        self.fault = None
        self.boot_notes = []
        self.iob_gap_known = True  # the time the pump was off was known (wall clock)
        self._iob_note = None
        self._force_note = None
        self.boot = 0
        self.lease_steps = 0
        self._ck = None
        self._dirty = True
        self._mark = 0
        self._temp = None
        self._move = 0
        self._restart_stop = None
        self._next_ck_ms = 0
        self._rate = -1
        self._summary = (0, 0)  # (ms, basal steps) at the last hourly summary

    # ----- boot ------------------------------------------------------------------

    def start(self, app, now_ms, cause="power_on", epoch_s=None, fw=""):
        """Read what survived, restore the engine (stopped), record the boot."""
        self.lease_steps = max(1, app.board.usteps_for_mu(LEASE_MU))
        settled = set()
        unfinished = {}
        boluses = jnl.BolusReplay()

        def visit(record):
            _settle(settled, unfinished, record)
            boluses.visit(record)

        view = self.journal.read(visit)
        ck, status = self.checkpoints.load()
        if ck is not None and "at_ms" in ck:
            boluses.alive(ck["boot"], ck["at_ms"])  # the pump ran at least this long
        boot = max(view.last_boot(), ck["boot"] if ck else 0) + 1
        self.boot = boot & 0xFFFF or 1
        seq = max(view.next_seq(), ck["journal_seq"] if ck else 0)
        self.journal.open(view, self.boot, seq)
        events = [("boot", {"cause": cause, "fw": fw, "epoch_s": epoch_s,
                            "records": view.count})]
        if ck is not None and "at_ms" in ck:  # the last boot ran at least this long
            events[0][1]["alive_boot"] = ck["boot"]
            events[0][1]["alive_ms"] = ck["at_ms"]
        events += self._damage_events(view)
        if self._settings_events is None:
            self.load_settings()
        events += self._settings_events
        self._load_basal(app, events)
        self._load_force_calibration(app, events)
        profiles = app.engine.profiles
        profile = profiles.profiles.get(profiles.active) if profiles.active else None
        plan = ckp.plan_restore(ck, status, app.board, profile, settled, unfinished)
        self._apply(app, now_ms, plan)
        events += plan["events"]
        events += self._restore_iob(app, now_ms, epoch_s, boluses)
        for code in plan["alarms"]:
            events.append(("alarm", {"code": code, "detail": "restart: state unreadable"}))
        if self.settings_error:
            events.append(("alarm", {"code": "delivery_fault", "detail": "settings invalid"}))
        for kind, detail in events:
            detail.setdefault("at_ms", now_ms)
            app.events.append((kind, detail))
        self._notes(plan, cause)
        self.record(app)
        self._write_checkpoint(app, now_ms)
        return plan

    def _restore_iob(self, app, now_ms, epoch_s, boluses):
        """Boluses of the last duration of action back into insulin on board (an
        unreconciled one joins when the user settles it). Returns the events."""
        window = app.iob.model.duration_min * MS_PER_MIN
        placed, known = boluses.placed(now_ms, epoch_s, window)
        total = 0
        for at_ms, mu in placed:
            app.iob.add_bolus(at_ms, mu)
            total += mu
        self.iob_gap_known = known
        self._iob_note = None
        if not placed:
            return []
        self._iob_note = "IOB: %s U from %d bolus(es)%s" % (
            _u(total), len(placed), "" if known else "; time off unknown, counted as 0")
        return [("iob_restored", {"boluses": len(placed), "delivered_mu": total,
                                  "time_off": "from the wall clock" if known else
                                  "unknown: counted as none"})]

    def _damage_events(self, view):
        events = []
        if view.damaged:
            events.append(("journal_damaged", {"damaged_bytes": view.damaged_bytes(),
                                               "file": view.damaged[0][0]}))
        for name, message in view.foreign:
            events.append(("journal_foreign", {"file": name, "message": message}))
        return events

    def load_settings(self):
        """The validated settings, or None if there is no file or it was refused (kept
        as it is; the pump then stays stopped, settings_error says why). Call it before
        building the app to configure it; start() calls it otherwise."""
        self._settings_events = []
        self._settings_basal = False
        try:
            obj, validated = self.settings.load()
        except BasaltError as error:
            self.settings_error = str(error)
            self._settings_events.append(("settings_rejected", {
                "file": SETTINGS_FILE, "message": str(error)[:200]}))
            return None
        if validated is None:
            return None
        self._settings_basal = "basal" in obj
        settings, self.settings_warnings = validated
        return settings

    def _load_basal(self, app, events):
        """Profiles edited on a pump that has no settings file holding them."""
        try:
            obj, profiles = self.basal.load()
        except BasaltError as error:
            events.append(("settings_rejected", {"file": BASAL_FILE,
                                                 "message": str(error)[:200]}))
            return None
        if profiles is None or self._settings_basal:
            return None  # the settings file holds the profiles (PumpApp loaded them)
        app.engine.profiles = profiles
        return profiles

    def _load_force_calibration(self, app, events):
        """The force sensor's saved calibration (else the driver's nominal one stays:
        the occlusion detector works on changes of force, so it still works, with
        thresholds off by the scale's error)."""
        self._force_note = None
        if app.force is None:
            return
        try:
            _, calibration = self.force_file.load()
        except BasaltError as error:
            events.append(("settings_rejected", {"file": FORCE_FILE,
                                                 "message": str(error)[:200]}))
            self._force_note = "Force calibration refused: nominal in use"
            return
        if calibration is None:
            self._force_note = "Force sensor not calibrated: nominal in use"
            return
        app.force.calibration = calibration

    def calibrate_force(self, app, now_ms, cmd):
        """{"cmd": "force_tare"} with the plunger free, then {"cmd": "force_scale",
        "newtons": 1.962} with a known force on the sensor (200 g: 1.962 N). Each takes
        FORCE_SAMPLES readings, stores the calibration and uses it from the next read."""
        name = cmd["cmd"]
        exact_keys(name, cmd, ("cmd", "newtons") if name == "force_scale" else ("cmd",),
                   (), InvalidValue)
        force = app.force
        if force is None:
            raise NotAllowedNow(name, "this board has no force sensor")
        known = None
        if name == "force_scale":
            known = milli_in("force_scale newtons", cmd["newtons"], forcecal.KNOWN_MIN_MN,
                             forcecal.KNOWN_MAX_MN, 1, "N")
        if app.engine.stop_reason is None or app.motor.busy():
            raise NotAllowedNow(name, "suspend delivery first: the plunger must stand still")
        readings = [force.read_raw() for _ in range(FORCE_SAMPLES)]
        if known is None:
            calibration = forcecal.tare(force.calibration, readings)
        else:
            calibration = forcecal.scale(force.calibration, readings, known)
        self.force_file.save(calibration)
        force.calibration = calibration
        detail = dict(calibration)
        detail["how"] = name
        self._emit(app, "force_calibrated", detail, now_ms)
        return calibration

    def _apply(self, app, now_ms, plan):
        engine = app.engine
        engine.set_time_of_day(now_ms, plan["day_ms"])
        state = plan["state"]
        if plan["reservoir_steps"] or state != ckp.STATE_NO_RESERVOIR:
            engine.restore(now_ms, plan["reservoir_steps"], plan["plunger_steps"],
                           _STOP_OF_STATE[state] if state < len(_STOP_OF_STATE) else STOP_USER)
        # A reset never empties the 60-min and 24-h windows of the safety gate.
        engine.gate.restore(now_ms, plan["gate"][0], plan["gate"][1])
        self._restart_stop = state
        self._temp = plan["temp"]
        self.uncertain = plan["uncertain"]
        if not plan["trusted"]:
            self.fault = "the delivery checkpoint could not be read"

    def _notes(self, plan, cause):
        notes = ["Restarted (%s)" % cause]
        if self.uncertain:
            u = self.uncertain
            notes.append("Bolus interrupted: %s-%s of %s U; confirm it" % (
                _u(u["delivered_lo_mu"]), _u(u["delivered_hi_mu"]), _u(u["programmed_mu"])))
        for kind, detail in plan["events"]:
            if kind == "gate_windows_unknown":
                notes.append("60-min and daily totals unknown (%s): counted from 0"
                             % detail["reason"])
            elif kind == "temp_basal_ended":
                notes.append("Temp basal ended by the restart")
            elif kind == "temp_basal_resumed":
                notes.append("Low temp basal continues (%d min)" % detail["left_min"])
        if self._iob_note:
            notes.append(self._iob_note)
        if self._force_note:
            notes.append(self._force_note)
        if self.fault:
            notes.append("State lost: fit a new reservoir")
        if self.settings_error:
            notes.append("Settings invalid: " + self.settings_error)
        if self._restart_stop == ckp.STATE_SUSPENDED:
            notes.append("Still suspended")
        elif self._restart_stop == ckp.STATE_ALARM:
            notes.append("Stopped by an alarm: check the line, then resume")
        self.boot_notes = notes

    def acknowledge_boot(self, app, now_ms, day_ms=None):
        """The user has seen the boot screen: the motor may move; delivery that was
        running before the reset carries on (scheduled basal, a low temp basal)."""
        if not self.awaiting_ack:
            raise NotAllowedNow("boot_ack", "the boot screen was already acknowledged")
        engine = app.engine
        if day_ms is not None:
            engine.set_time_of_day(now_ms, day_ms)
        self.awaiting_ack = False
        if self._restart_stop == ckp.STATE_DELIVERING and not self.fault \
                and not self.settings_error and engine.stop_reason == STOP_USER:
            engine.resume(now_ms)
            temp = self._temp
            if temp is not None:
                engine.restore_temp(now_ms, temp[0], temp[1], temp[2], temp[3])
        self._temp = None
        app._collect()
        self._emit(app, "boot_acknowledged", {}, now_ms)

    # ----- commands -----------------------------------------------------------------

    def before_command(self, app, now_ms, cmd):
        """(True, result) for the commands the keeper owns; refusals while locked."""
        name = cmd.get("cmd") if isinstance(cmd, dict) else None
        if name == "boot_ack":
            day_ms = None
            if "time" in cmd:
                day_ms = parse_clock("boot_ack time", cmd["time"]) * MS_PER_MIN
            return True, self.acknowledge_boot(app, now_ms, day_ms)
        if self.awaiting_ack:
            raise NotAllowedNow(str(name), "acknowledge the boot screen first")
        if name == "reconcile_bolus":
            return True, self.reconcile(app, now_ms, cmd.get("units"))
        if name == "save_settings":
            return True, self.save_settings(app, now_ms, cmd.get("settings"))
        if name in FORCE_COMMANDS:
            return True, self.calibrate_force(app, now_ms, cmd)
        if name == "resume" and (self.fault or self.settings_error):
            raise NotAllowedNow("resume", self.fault or "settings invalid: " +
                                self.settings_error)
        if name in PROFILE_COMMANDS:
            self._plan_profiles(app, cmd)
        return False, None

    def _plan_profiles(self, app, cmd):
        """With a settings file, a profile edit is a settings change: the whole file,
        edited, must pass validation before anything changes (refused: nothing did)."""
        self._pending_settings = None
        try:
            obj, _ = self.settings.load()
        except BasaltError:
            return  # a refused file is not edited; the edit goes to basal.json
        if obj is None:
            return
        try:
            profiles = _edited(app.engine.profiles, cmd)
        except (KeyError, TypeError, BasaltError):
            return  # commands.apply refuses the command itself, with its own message
        obj["basal"] = user_basal(profiles)
        self.settings.validator(obj)
        self._pending_settings = obj

    def after_command(self, app, now_ms, cmd):
        """A command is durable before it returns: what the user was told took effect
        (a suspend, a temp basal, a bolus) is in the checkpoint, even if the power
        goes the next moment."""
        if cmd.get("cmd") in PROFILE_COMMANDS:
            if self._pending_settings is not None:
                self.save_settings(app, now_ms, self._pending_settings)
            else:
                self._save_basal(app)
        if cmd.get("cmd") == "new_reservoir":
            self.fault = None  # a freshly fitted reservoir is a known state again
        self._write_checkpoint(app, now_ms)

    def reconcile(self, app, now_ms, units=None):
        """The user settles the interrupted bolus: units they accept as delivered
        (default: the high bound, which counts the most insulin on board)."""
        u = self.uncertain
        if u is None:
            raise NotAllowedNow("reconcile_bolus", "no interrupted bolus to reconcile")
        if units is None:
            delivered = u["delivered_hi_mu"]
        else:
            delivered = milli_in("reconcile_bolus units", units, u["delivered_lo_mu"],
                                 u["delivered_hi_mu"], 1, "U")
        detail = dict(u)
        detail["delivered_mu"] = delivered
        self.uncertain = None
        self._emit(app, "bolus_reconciled", detail, now_ms)
        return delivered

    def calculator_locked(self):
        return self.uncertain is not None

    def save_settings(self, app, now_ms, obj):
        """Validate and store settings atomically; journal which keys changed."""
        old = None
        try:
            old, _ = self.settings.load()
        except BasaltError:
            pass
        validated = self.settings.validator(obj)
        if hasattr(validated[0], "limits"):  # real Settings (not the stand-in validator)
            # Applied first, whole or not at all (a refusal leaves file and pump as they
            # were); then stored. The cgm section is read at boot only (see board_main).
            app.apply_settings(validated[0])
        self.settings.save(obj, validated)
        self.settings_error = None
        if isinstance(obj, dict) and "basal" in obj:
            self._settings_basal = True
            self.storage.remove(BASAL_FILE)  # the file's basal profiles are the ones
        changed = sorted(k for k in obj if not isinstance(old, dict) or old.get(k) != obj[k])
        self._emit(app, "settings_changed", {"keys": changed[:16],
                                             "crc": jnl.crc(json.dumps(obj).encode())}, now_ms)
        if "cgm" in changed:
            # The BLE client and the reading store belong to one sensor: switching sensors
            # mid-run would mix two sensors' readings in one trend. A restart starts clean.
            self._emit(app, "settings_pending", {"keys": ["cgm"], "message":
                                                 "the CGM settings apply after a restart"},
                       now_ms)
        return validated

    def _save_basal(self, app):
        profiles = app.engine.profiles
        obj = {"active": profiles.active, "profiles": {}}
        for name in profiles.profiles:
            obj["profiles"][name] = [list(seg) for seg in profiles.profiles[name].segments()]
        self.basal.save(obj)

    # ----- events, ticks and moves ---------------------------------------------------

    def record(self, app):
        """Journal the app's events that are not journaled yet: every event the app
        collects, whoever raised it, is journaled before pop_events() hands it out."""
        events = app.events
        while self._mark < len(events):
            kind, detail = events[self._mark]
            self._mark += 1
            self._dirty = True
            if self.fault == "storage":
                continue  # the alarm is raised; the events stay in app.events
            at_ms = detail.get("at_ms", 0)
            try:
                try:
                    self.journal.append(kind, detail, at_ms)
                except ValueError as error:  # a float or an oversized detail: say so
                    self.journal.append("unrecordable", {"event": str(kind)[:40],
                                                         "message": str(error)[:120]}, at_ms)
            except OSError as error:
                self._storage_fault(app, error, at_ms)

    def popped(self):
        """The app handed its events out: the next one recorded is app.events[0]."""
        self._mark = 0

    def on_tick(self, app, now_ms):
        engine = app.engine
        rate = engine.basal_rate_mu_h()
        if rate != self._rate:
            self._rate = rate
            self._emit(app, "basal_rate", {"rate_mu_h": rate}, now_ms)
        since, steps = self._summary
        if now_ms - since >= MS_PER_HOUR:
            delivered = engine.basal_steps - steps
            self._summary = (now_ms, engine.basal_steps)
            self._emit(app, "basal_summary", {
                "from_ms": since, "minutes": (now_ms - since) // MS_PER_MIN,
                "delivered_steps": delivered,
                "delivered_mu": engine.board.mu_for_usteps(delivered)}, now_ms)
        if self.awaiting_ack:
            return
        if self._dirty or now_ms >= self._next_ck_ms:
            self._write_checkpoint(app, now_ms)

    def may_move(self, app, now_ms):
        """Before a forward move (motor idle): allowed only within a committed lease."""
        if self.awaiting_ack or self.fault == "storage":
            return False
        target = app.engine.plunger_steps
        if self._dirty or self._ck is None or target > self._ck["plunger_hi"]:
            if not self._write_checkpoint(app, now_ms):
                return False
        self._move = app.pending_steps  # the move the app starts now
        return True

    def _emit(self, app, kind, detail, now_ms):
        detail["at_ms"] = now_ms
        app.events.append((kind, detail))
        self.record(app)

    def _write_checkpoint(self, app, now_ms):
        ck = self.snapshot(app)
        ck["at_ms"] = now_ms & 0xFFFFFFFF
        try:
            self.checkpoints.write(ck)
        except OSError as error:
            self._storage_fault(app, error, now_ms)
            return False
        self._ck = ck
        self._dirty = False
        self._next_ck_ms = now_ms + CHECKPOINT_EVERY_MS
        return True

    def snapshot(self, app):
        """The checkpoint of the app as it is now. `unmoved`: steps planned but perhaps
        not moved yet (pending, and all of a move still running): the low bounds."""
        engine = app.engine
        ck = ckp.empty(self.boot)
        pending = app.pending_steps + (self._move if app.motor.busy() else 0)
        planned = engine.plunger_steps
        margin = self.lease_steps
        stop = engine.stop_reason
        if self.awaiting_ack and self._restart_stop is not None:
            ck["state"] = self._restart_stop
        else:
            ck["state"] = _STATE_OF_STOP.get(stop, ckp.STATE_SUSPENDED)
        ck["reservoir_steps"] = engine.reservoir_steps
        ck["plunger_lo"] = max(0, planned - pending)
        ck["plunger_hi"] = planned + margin
        ck["day_ms"] = engine.day_ms()
        temp = engine.temp_program() if stop is None else None
        if self.awaiting_ack:
            temp = self._temp  # the temp basal waiting for the boot screen
        if temp is not None:
            ck["temp_type"] = ckp.TEMP_RATE if temp[0] is not None else ckp.TEMP_PERCENT
            ck["temp_value"] = temp[0] if temp[0] is not None else temp[1]
            ck["temp_left_ms"] = temp[2]
            ck["temp_duration_ms"] = temp[3]
        boluses = engine.running_boluses()
        for i in range(min(2, len(boluses))):
            prefix = ckp.BOLUS_SLOTS[i]
            report = boluses[i]
            total = engine.board.usteps_for_mu(report["programmed_mu"])
            done = report["delivered_steps"]
            ck[prefix + "id"] = report["id"] & 0xFFFF
            ck[prefix + "kind"] = _BOLUS_KIND.get(report["kind"], 1)
            ck[prefix + "programmed_mu"] = report["programmed_mu"]
            ck[prefix + "lo"] = max(0, done - pending)
            ck[prefix + "hi"] = min(total, done + margin)
        u = self.uncertain
        if u is not None:
            ck["u_count"] = min(255, u["count"])
            ck["u_boot"] = u["bolus_boot"]
            for key in ("programmed_mu", "lo_mu", "hi_mu"):
                src = key if key == "programmed_mu" else "delivered_" + key
                ck["u_" + key] = u[src]
        ck["journal_seq"] = self.journal.seq
        ck["gate_hour_steps"], ck["gate_day_steps"] = engine.gate.carry_over()
        return ck

    def _storage_fault(self, app, error, now_ms):
        """Flash failed: nothing may move without a committed checkpoint. Stop, and
        drop what was planned but not moved (missed insulin is never made up)."""
        if self.fault == "storage":
            return
        self.fault = "storage"
        engine = app.engine
        if engine.stop_reason is None:
            engine.suspend(max(now_ms, engine.last_ms()))
            app.events.extend(engine.pop_events())
        app.pending_steps = 0
        app.events.append(("alarm", {"code": "delivery_fault", "at_ms": now_ms,
                                     "detail": "storage: %s" % error}))


def _edited(current, cmd):
    """The profiles as a profile command would leave them (the engine's stay as they are)."""
    scratch = BasalProfiles()
    for name in sorted(current.profiles):
        scratch.put(name, current.profiles[name].segments())
    scratch.active = current.active
    name = cmd["name"]
    if cmd["cmd"] == "set_profile":
        scratch.put(name, segments_from_user(name, cmd["segments"]))
    elif cmd["cmd"] == "activate_profile":
        scratch.get(name)
        scratch.active = name
    else:
        scratch.delete(name)
    return scratch


def user_basal(profiles):
    """Profiles in the settings file's user units: {"active", "profiles": {name:
    [["HH:MM", U/h], ...]}}."""
    out = {}
    for name in profiles.profiles:
        out[name] = [[hhmm(start), rate // 1000 if rate % 1000 == 0 else rate / 1000]
                     for start, rate in profiles.profiles[name].segments()]
    return {"active": profiles.active, "profiles": out}


def _settle(settled, unfinished, record):
    """Collect (boot, id) of boluses the journal shows ended, and of those it shows
    started and not (yet) ended."""
    kind = record.kind
    detail = record.detail
    if kind == "bolus_started":
        unfinished[(record.boot, detail.get("id"))] = (detail.get("kind"),
                                                       detail.get("programmed_mu", 0))
        return
    if kind == "bolus_done" or kind == "bolus_cancelled":
        key = (record.boot, detail.get("id"))
    elif kind == "bolus_interrupted":
        key = (detail.get("bolus_boot"), detail.get("id"))
    else:
        return
    settled.add(key)
    unfinished.pop(key, None)


def _u(mu):
    return "%d.%02d" % (mu // 1000, mu % 1000 // 10)

