"""The Keeper: the pump's persistence, attached to the app (app.keeper = Keeper(...)).

It is the event stream's "journal" reader (every event is journaled before a host
tool sees it), writes the checkpoint (after each command, when something changed, and
every CHECKPOINT_EVERY_MS), grants the motor its lease, holds the boot lock until the
boot screen is acknowledged, and owns the commands that change files: boot_ack,
reconcile_bolus, save_settings, force_tare / force_scale and (through ProfileStore) the
profile edits. It is given the parts it keeps by bind(); it never reads the app.
"""

from basalt import call_and_forget
from basalt.core import forcecal
from basalt.core.errors import BasaltError, NotAllowedNow, StorageFault
from basalt.core.events import EVENT_TIMES
from basalt.core.units import MS_PER_HOUR, MS_PER_MIN, shifted
from basalt.storage.checkpoints import (
    CHECKPOINT_EVERY_MS,
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
        """Read what survived, restore the engine (stopped), record the boot
        (basalt.storage.recovery: boot only, basalt.app.device.BOOT_ONLY)."""
        from basalt.storage.recovery import start

        return start(self, now_ms, cause, epoch_s, fw)

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

    # ----- the command table's "keeper" part ------------------------------------------
    # Rare: their code is in basalt.storage.keeper_commands, loaded for each call.

    def _rare(self, name, *args):
        return call_and_forget("basalt.storage.keeper_commands", name, self, *args)

    def acknowledge_boot(self, now_ms, day_ms=None):
        """The user has seen the boot screen: the motor may move."""
        return self._rare("acknowledge_boot", now_ms, day_ms)

    def reconcile(self, now_ms, delivered_mu=None):
        """The user settles the interrupted bolus (default: the high bound)."""
        return self._rare("reconcile", now_ms, delivered_mu)

    def save_settings(self, now_ms, obj):
        """Validate, write, read back and compare, THEN apply."""
        return self._rare("save_settings", now_ms, obj)

    def reload_settings(self, now_ms):
        """A settings file copied on while the pump runs, applied whole now."""
        return self._rare("reload_settings", now_ms)

    def force_tare(self, now_ms):
        return self._rare("calibrate", now_ms, "force_tare", None)

    def force_scale(self, now_ms, known_mn):
        return self._rare("calibrate", now_ms, "force_scale", known_mn)

    def require_known_state(self, name):
        """Resume only from a state the restart could read, with valid settings and
        hardware that passed the power-on self-test."""
        if self.hardware_fault:
            raise NotAllowedNow(name, "self-test: " + self.hardware_fault)
        if self.fault or self.settings_error:
            raise NotAllowedNow(name, self.fault or "settings invalid: " +
                                self.settings_error)

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
