"""The Keeper: the pump's persistence, attached to the app (app.keeper = Keeper(...)).

It is the event stream's "journal" reader (every event is journaled before a host
tool sees it), writes the checkpoint (after each command, when something changed, and
every CHECKPOINT_EVERY_MS), grants the motor its lease, holds the boot lock until the
boot screen is acknowledged, and owns the commands that change files: boot_ack,
reconcile_bolus, save_settings, force_tare / force_scale and (through ProfileStore) the
profile edits. It is given the parts it keeps by bind(); it never reads the app.
"""

import json

from basalt.core import checkpoint as ckp
from basalt.core import forcecal
from basalt.core import journal as jnl
from basalt.core.commands import in_units
from basalt.core.delivery import STOP_USER
from basalt.core.errors import BasaltError, InvalidValue, NotAllowedNow, StorageFault
from basalt.core.events import EVENT_TIMES
from basalt.core.units import MS_PER_HOUR, MS_PER_MIN, fmt_milli, shifted
from basalt.storage.checkpoints import (
    CHECKPOINT_EVERY_MS,
    STOP_OF_STATE,
    CheckpointStore,
    snapshot,
)
from basalt.storage.files import ValidatedFile
from basalt.storage.journal import Journal
from basalt.storage.lease import Lease
from basalt.storage.profiles import BASAL_FILE, ProfileStore, check_basal_file

SETTINGS_FILE = "settings.json"
# The force sensor's calibration: this pump's own sensor, so beside its journal, not in
# the settings file (a file written on a laptop and copied over it would drop it).
FORCE_FILE = "forcecal.json"
FORCE_SAMPLES = 10  # readings per step (1 s on an HX711 at 10 SPS)


def force_file(storage):
    """The force sensor's saved calibration, checked as the driver takes it."""
    return ValidatedFile(storage, FORCE_FILE, lambda obj: (
        forcecal.load_force_calibration(obj, FORCE_FILE)))


class Keeper:
    """Until acknowledge_boot() the motor may not move and commands are refused."""

    def __init__(self, storage, settings_validator=None, settings_file=None, needs_clock=False,
                 **journal_args):
        """settings.json beside the journal is checked by the settings schema for the
        bound board (basalt.core.settings.load_settings), or by settings_validator(obj)
        -> (settings, warnings) raising ConfigError; or settings_file: a ValidatedFile
        kept elsewhere. needs_clock (a board): a boot without a valid RTC reading does
        not know the time (else, on a host rig, the checkpoint's time of day goes on)."""
        self.needs_clock = needs_clock
        self.storage = storage
        self.journal = Journal(storage, **journal_args)
        self.checkpoints = CheckpointStore(storage)
        self.settings = settings_file or ValidatedFile(storage, SETTINGS_FILE,
                                                       settings_validator or self._schema,
                                                       None if settings_validator else
                                                       self._parse)
        self.basal = ValidatedFile(storage, BASAL_FILE, check_basal_file)
        self.force_file = force_file(storage)
        self.settings_warnings = []
        self._settings_events = None  # None until load_settings() ran
        self._settings_basal = False  # the settings file holds the basal profiles
        self.awaiting_ack = True
        self.uncertain = None  # interrupted bolus insulin the user has not reconciled
        self.settings_error = None
        self.fault = None
        # The power-on self-test's first problem that stops delivery (basalt.app.selftest):
        # the line naming the part and pin; resume is refused with it until a restart.
        self.hardware_fault = None
        self.storage_message = None  # the screen's line for the last storage fault
        self.boot_notes = []
        self.iob_gap_known = True  # the time the pump was off was known (wall clock)
        self.boot = 0
        self.lease = None
        self.profiles = None
        self._ck = None
        self._dirty = True
        self._temp = None
        self._restart_stop = None
        self._next_ck_ms = 0
        self._rate = -1
        self._summary = (0, 0)  # (ms, basal steps) at the last hourly summary
        # What the app's clock was moved back by (Clock.rebase): the journal and the
        # checkpoint hold ms since boot (now_ms + epoch_ms), never the epoch's time.
        self.epoch_ms = 0

    def bind(self, board, engine, iob, motion, stream, occlusion, apply_settings):
        """The parts kept: the app calls this when the keeper is attached."""
        self.board = board  # the settings schema checks the fill against its syringe
        self.engine = engine
        self.iob = iob
        self.motion = motion
        self.stream = stream
        self.force = occlusion.force
        self.apply_settings = apply_settings
        self.lease = Lease(board)
        self.profiles = ProfileStore(engine, self.settings, self.basal, self.save_settings,
                                     self.file_fault)
        stream.subscribe("journal", self.record)

    def _schema(self, obj):
        from basalt.core.settings import load_settings  # loaded only when a file is read

        return load_settings(obj, self.board)

    def _parse(self, text):
        """The settings schema's own reader: strict JSON (no key twice, no deeper
        nesting than the schema), whole-line // comments."""
        from basalt.core.settings import parse_settings_text

        return parse_settings_text(text, SETTINGS_FILE)

    @property
    def lease_steps(self):
        return self.lease.steps

    # ----- boot ------------------------------------------------------------------

    def start(self, now_ms, cause="power_on", epoch_s=None, fw=""):
        """Read what survived, restore the engine (stopped), record the boot."""
        from basalt.storage import recovery  # boot only (basalt.app.device.BOOT_ONLY)

        found = recovery.read_back(self.journal, self.checkpoints)
        self.boot = found["boot"]
        events = recovery.boot_events(found, cause, fw, epoch_s)
        if self._settings_events is None:
            self.load_settings()
        events += self._settings_events
        basal_note = self._load_basal(events)
        force_note = self._load_force_calibration(events)
        plan = recovery.plan(found, self.board, self.engine, now_ms, epoch_s)
        self._apply(now_ms, plan)
        events[0][1]["day_ms"] = self.engine.day_ms()  # the history's clock for this boot
        clock_note = self._set_clock(now_ms, epoch_s)
        events += plan["events"]
        iob_events, iob_note, self.iob_gap_known = recovery.restore_iob(
            self.iob, found["boluses"], now_ms, epoch_s)
        if plan["assumed_mu"]:
            # Counted as delivered now: the most of it on board (the safe side).
            self.iob.add_bolus(now_ms, plan["assumed_mu"])
        events += iob_events
        site = recovery.site_age(found, now_ms, epoch_s)
        if site is not None:
            events.append(site)  # the site-change reminder's clock goes on (AlarmRouter)
        for code in plan["alarms"]:
            events.append(("alarm", {"code": code, "detail": "restart: state unreadable"}))
        if self.settings_error:
            events.append(("alarm", {"code": "delivery_fault", "detail": "settings invalid"}))
        for kind, detail in events:
            detail.setdefault("at_ms", now_ms)
            self.stream.emit(kind, detail)
        self.boot_notes = recovery.boot_notes(
            plan, cause, self.uncertain,
            recovery.read_notes(found) + [clock_note, iob_note, basal_note, force_note],
            self.fault,
            self.settings_error, self._restart_stop)
        self.stream.publish()
        self._write_checkpoint(now_ms)
        return plan

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

    def _load_basal(self, events):
        """Profiles edited on a pump that has no settings file holding them."""
        try:
            obj, profiles = self.basal.load()
        except BasaltError as error:
            events.append(("settings_rejected", {"file": BASAL_FILE,
                                                 "message": str(error)[:200]}))
            if self._settings_basal:
                return None  # the settings file holds the profiles: nothing lost
            return "Basal profiles refused (%s): %s" % (BASAL_FILE, str(error)[:60])
        if profiles is None or self._settings_basal:
            return None  # the settings file holds the profiles (PumpApp loaded them)
        self.engine.profiles = profiles
        return None

    def _load_force_calibration(self, events):
        """The force sensor's saved calibration (else the driver's nominal one stays:
        the occlusion detector works on changes of force, so it still works, with
        thresholds off by the scale's error). Returns the boot screen's note."""
        if self.force is None:
            return None
        try:
            _, calibration = self.force_file.load()
        except BasaltError as error:
            events.append(("settings_rejected", {"file": FORCE_FILE,
                                                 "message": str(error)[:200]}))
            return "Force calibration refused: nominal in use"
        if calibration is None:
            return "Force sensor not calibrated: nominal in use"
        self.force.calibration = calibration
        return None

    def _set_clock(self, now_ms, epoch_s):
        """The RTC's time (it survives soft and watchdog resets while powered; every
        clock setting is journaled). Without one, a board does not guess: the boot
        screen asks for the time. Returns the boot screen's note."""
        engine = self.engine
        if epoch_s is not None:
            engine.set_clock(now_ms, epoch_s // 86_400, epoch_s % 86_400 * 1000, None)
            return None
        if not self.needs_clock:
            return None
        engine.clock_lost(now_ms)
        return "Time not set: basal %s U/h (lowest) until set" % fmt_milli(
            engine.scheduled_mu_h())

    def _apply(self, now_ms, plan):
        engine = self.engine
        engine.set_time_of_day(now_ms, plan["day_ms"])
        state = plan["state"]
        if plan["reservoir_steps"] or state != ckp.STATE_NO_RESERVOIR:
            engine.restore(now_ms, plan["reservoir_steps"], plan["plunger_steps"],
                           STOP_OF_STATE[state] if state < len(STOP_OF_STATE) else STOP_USER)
        # A reset never empties the 60-min and 24-h windows of the safety gate.
        engine.gate.restore(now_ms, plan["gate"][0], plan["gate"][1])
        engine.bolus_carry_pl = plan["bolus_carry_pl"]
        self._restart_stop = state
        self._temp = plan["temp"]
        self.uncertain = plan["uncertain"]
        if not plan["trusted"]:
            self.fault = "the delivery checkpoint could not be read"

    # ----- the command table's "keeper" part ------------------------------------------

    def acknowledge_boot(self, now_ms, day_ms=None):
        """The user has seen the boot screen: the motor may move; delivery that was
        running before the reset carries on (scheduled basal, a low temp basal)."""
        if not self.awaiting_ack:
            raise NotAllowedNow("boot_ack", "the boot screen was already acknowledged")
        engine = self.engine
        if day_ms is not None:
            engine.set_time_of_day(now_ms, day_ms)
        self.awaiting_ack = False
        if self._restart_stop == ckp.STATE_DELIVERING and not self.fault \
                and not self.settings_error and not self.hardware_fault \
                and engine.stop_reason == STOP_USER:
            engine.resume(now_ms, "restart")
            temp = self._temp
            if temp is not None:
                engine.restore_temp(now_ms, temp[0], temp[1], temp[2], temp[3])
        self._temp = None
        self.stream.extend(engine.pop_events())
        self._emit("boot_acknowledged", {}, now_ms)

    def require_known_state(self, name):
        """Resume only from a state the restart could read, with valid settings and
        hardware that passed the power-on self-test."""
        if self.hardware_fault:
            raise NotAllowedNow(name, "self-test: " + self.hardware_fault)
        if self.fault or self.settings_error:
            raise NotAllowedNow(name, self.fault or "settings invalid: " +
                                self.settings_error)

    def reconcile(self, now_ms, delivered_mu=None):
        """The user settles the interrupted bolus: what they accept as delivered
        (default: the high bound, which counts the most insulin on board). Its real
        time is in the previous boot's clock: counting it as delivered now keeps the
        most of it on board (the safe side)."""
        u = self.uncertain
        if u is None:
            raise NotAllowedNow("reconcile_bolus", "no interrupted bolus to reconcile")
        lo, hi = u["delivered_lo_mu"], u["delivered_hi_mu"]
        if delivered_mu is None:
            delivered_mu = hi
        elif not lo <= delivered_mu <= hi:  # between what surely went in and what may have
            raise InvalidValue("reconcile_bolus units", in_units(delivered_mu),
                               "%s to %s U in steps of 0.001 U" % (fmt_milli(lo),
                                                                   fmt_milli(hi)))
        detail = dict(u)
        detail["delivered_mu"] = delivered_mu
        self.uncertain = None
        self._emit("bolus_reconciled", detail, now_ms)
        self.iob.add_bolus(now_ms, delivered_mu)
        return delivered_mu

    def calculator_locked(self):
        return self.uncertain is not None

    def save_settings(self, now_ms, obj):
        """Validate, write, read back and compare, THEN apply: the pump never runs on
        settings a boot would not load. A refusal or a flash fault leaves file and pump
        as they were (a flash fault raises StorageFault, with a delivery_fault alarm);
        the keys that changed are journaled."""
        old = None
        try:
            old, _ = self.settings.load()
        except BasaltError:
            pass
        old_bytes = self.settings.raw()
        validated = self.settings.validator(obj)
        try:
            self.settings.save(obj, validated)  # written and read back as written
        except StorageFault as fault:
            self.file_fault(fault, now_ms)
            raise
        if not isinstance(validated[0], dict):  # Settings (an opaque validator gives a table)
            # Applied whole or not at all; refused (what runs now breaks the new
            # limits), the old file goes back. The cgm section is read at boot only.
            try:
                self.apply_settings(validated[0])
            except BasaltError:
                if not self.settings.restore(old_bytes):
                    fault = StorageFault(self.settings.name, "restore", OSError(
                        5, "the refused settings stay in the file"))
                    self.file_fault(fault, now_ms)
                    self.settings_error = "not restored after a refusal: " + str(fault)
                raise
        self.settings_error = None
        if isinstance(obj, dict) and "basal" in obj:
            self._settings_basal = True
            try:
                self.basal.remove()  # the file's basal profiles are the ones
            except StorageFault as fault:  # harmless (a boot ignores it), but said
                self.file_fault(fault, now_ms)
        changed = sorted(k for k in obj if not isinstance(old, dict) or old.get(k) != obj[k])
        self._emit("settings_changed", {"keys": changed[:16],
                                        "crc": jnl.crc(json.dumps(obj).encode())}, now_ms)
        if "cgm" in changed:
            # The BLE client and the reading store belong to one sensor: switching sensors
            # mid-run would mix two sensors' readings in one trend. A restart starts clean.
            self._emit("settings_pending", {"keys": ["cgm"], "message":
                                            "the CGM settings apply after a restart"},
                       now_ms)
        return validated

    def reload_settings(self, now_ms):
        """A settings file copied on while the pump runs (mpremote cp): read, checked
        by the schema and applied whole now, not at the next boot; journaled. A refused
        file changes nothing that runs (the boot screen would refuse it too: say so)."""
        try:
            obj, validated = self.settings.load()
        except BasaltError as error:
            self._emit("settings_rejected", {"file": SETTINGS_FILE,
                                             "message": str(error)[:200]}, now_ms)
            raise
        if validated is None or isinstance(validated[0], dict):
            raise NotAllowedNow("reload settings", "no settings file to read")
        self.apply_settings(validated[0])
        self.settings_error = None
        self._settings_basal = "basal" in obj
        self._emit("settings_changed", {"keys": sorted(obj)[:16], "how": "reload",
                                        "crc": jnl.crc(json.dumps(obj).encode())}, now_ms)
        return validated

    def file_fault(self, fault, now_ms):
        """A settings, basal or calibration file could not be written: the pump keeps
        what it ran on (the file still holds it), stops with a delivery_fault alarm
        (the flash is failing) and the screen says which file and why."""
        self.storage_message = fault.screen
        self.stream.emit("storage_fault", {"file": fault.file, "message": str(fault)[:120],
                                           "at_ms": now_ms})
        self.stream.emit("alarm", {"code": "delivery_fault", "at_ms": now_ms,
                                   "detail": fault.screen[:60]})
        self.stream.publish()
        self._write_checkpoint(now_ms)

    def force_tare(self, now_ms):
        """With the plunger free: FORCE_SAMPLES readings become the zero."""
        return self._calibrate(now_ms, "force_tare", None)

    def force_scale(self, now_ms, known_mn):
        """With a known force on the sensor (200 g: 1.962 N): the counts per newton."""
        return self._calibrate(now_ms, "force_scale", known_mn)

    def _calibrate(self, now_ms, name, known_mn):
        force = self.force
        if force is None:
            raise NotAllowedNow(name, "this board has no force sensor")
        if self.engine.stop_reason is None or self.motion.busy():
            raise NotAllowedNow(name, "suspend delivery first: the plunger must stand still")
        readings = [force.read_raw() for _ in range(FORCE_SAMPLES)]
        if known_mn is None:
            calibration = forcecal.tare(force.calibration, readings)
        else:
            calibration = forcecal.scale(force.calibration, readings, known_mn)
        try:
            self.force_file.save(calibration)
        except StorageFault as fault:
            self.file_fault(fault, now_ms)
            raise
        force.calibration = calibration
        detail = dict(calibration)
        detail["how"] = name
        self._emit("force_calibrated", detail, now_ms)
        return calibration

    # ----- events, ticks and moves ---------------------------------------------------

    def record(self, kind, detail):
        """The stream's "journal" reader: every event, whoever raised it."""
        self._dirty = True
        if self.fault == "storage":
            return  # the alarm is raised; the journal cannot take more
        at_ms = detail.get("at_ms", 0)
        since_boot = at_ms + self.epoch_ms
        if self.epoch_ms:
            detail = _since_boot(detail, self.epoch_ms)
        try:
            try:
                self.journal.append(kind, detail, since_boot)
            except ValueError as error:  # a float or an oversized detail: say so
                self.journal.append("unrecordable", {"event": str(kind)[:40],
                                                     "message": str(error)[:120]}, since_boot)
        except (StorageFault, OSError) as error:
            self._storage_fault(error, at_ms)
        if kind == "reservoir_fitted":
            self.fault = None  # a freshly fitted reservoir is a known state again

    def rebase(self, shift_ms):
        """The app's clock moved back by shift_ms (between two ticks)."""
        self.epoch_ms += shift_ms
        self._next_ck_ms = shifted(self._next_ck_ms, shift_ms)
        self._summary = (shifted(self._summary[0], shift_ms), self._summary[1])

    def command_done(self, now_ms):
        """A command is durable before it returns: what the user was told took effect
        (a suspend, a temp basal, a bolus) is in the checkpoint, even if the power
        goes the next moment."""
        self.stream.publish()
        self._write_checkpoint(now_ms)

    def on_tick(self, now_ms):
        engine = self.engine
        rate = engine.basal_rate_mu_h()
        if rate != self._rate:
            self._rate = rate
            self._emit("basal_rate", {"rate_mu_h": rate}, now_ms)
        since, steps = self._summary
        if now_ms - since >= MS_PER_HOUR:
            delivered = engine.basal_steps - steps
            self._summary = (now_ms, engine.basal_steps)
            self._emit("basal_summary", {
                "from_ms": since, "minutes": (now_ms - since) // MS_PER_MIN,
                "delivered_steps": delivered,
                "delivered_mu": engine.board.mu_for_usteps(delivered)}, now_ms)
        if self.awaiting_ack:
            return
        if self._dirty or now_ms >= self._next_ck_ms:
            self._write_checkpoint(now_ms)

    def may_move(self, now_ms):
        """Before a forward move (motor idle): allowed only within a committed lease."""
        if self.awaiting_ack or self.fault == "storage":
            return False
        if self._dirty or not self.lease.covers(self._ck, self.engine.plunger_steps):
            if not self._write_checkpoint(now_ms):
                return False
        return True

    def _emit(self, kind, detail, now_ms):
        detail["at_ms"] = now_ms
        self.stream.emit(kind, detail)
        self.stream.publish()

    def _write_checkpoint(self, now_ms):
        if self.fault == "storage":
            # The flash failed: the last slot it took is kept as it is (a write that
            # fails may have truncated the one it was writing).
            return False
        ck = self.snapshot()
        ck["at_ms"] = (now_ms + self.epoch_ms) & 0xFFFFFFFF
        try:
            self.checkpoints.write(ck)
        except (StorageFault, OSError) as error:
            self._storage_fault(error, now_ms)
            return False
        self._ck = ck
        self._dirty = False
        self._next_ck_ms = now_ms + CHECKPOINT_EVERY_MS
        return True

    def snapshot(self):
        """The checkpoint of the pump as it is now."""
        held = (self._restart_stop, self._temp) if self.awaiting_ack else None
        return snapshot(self.boot, self.engine, self.motion.unmoved_steps(),
                        self.lease.steps, held, self.uncertain, self.journal.seq)

    def _storage_fault(self, error, now_ms):
        """Flash failed: nothing may move without a committed checkpoint. Stop, and
        drop what was planned but not moved (missed insulin is never made up)."""
        if self.fault == "storage":
            return
        self.fault = "storage"
        engine = self.engine
        if engine.stop_reason is None:
            engine.suspend(max(now_ms, engine.last_ms()), "delivery_fault")
            self.stream.extend(engine.pop_events())
        self.motion.drop_pending()
        screen = error.screen if isinstance(error, StorageFault) else "storage: %s" % error
        self.storage_message = screen
        self.stream.emit("alarm", {"code": "delivery_fault", "at_ms": now_ms,
                                   "detail": screen[:60]})


def _since_boot(detail, epoch_ms):
    """The detail's other absolute times (a snooze's end, ...) as ms since boot, as the
    record's own time is: a copy, only when it has one."""
    out = detail
    for key in EVENT_TIMES:
        if key != "at_ms" and key in detail:
            if out is detail:
                out = dict(detail)
            out[key] += epoch_ms
    return out
