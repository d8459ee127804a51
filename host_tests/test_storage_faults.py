"""Flash faults beyond a power cut (issue 18, items 2 and 3): a full, nearly full or
dead flash, and bit rot in what was written.

Every storage error is a typed StorageFault naming the file, with a delivery_fault
alarm; settings are written, read back and compared before they apply; recovery
cross-checks the checkpoint against the journal, counts a bolus whose end record is
unreadable as delivered, rebuilds the gate windows from the journal when a checkpoint
is lost, and the boot screen says what it could not read.
"""

import json

import pytest

from basalt.app import PumpApp
from basalt.core import checkpoint as ckp
from basalt.core import restore
from basalt.core.errors import BasaltError, StorageFault
from basalt.core.settings import load_settings, parse_settings_text
from basalt.core.units import MS_PER_HOUR, MS_PER_MIN
from basalt.storage.files import ValidatedFile
from basalt.storage.journal import Journal
from basalt.storage.keeper import Keeper
from host_tests.test_journal_recovery import Pump
from tools import sim
from tools.bench import powercut, powercut_kinds
from tools.fake_storage import FakeStorage
from tools.fakes import FakeMotor, VirtualClock

BOARD = sim.load_sim_board()


class RealPump(Pump):
    """A pump on settings/example.json through the firmware's own validator."""

    def __init__(self, storage=None):
        self.storage = storage or FakeStorage()
        if "settings.json" not in self.storage.files:
            self.storage.files["settings.json"] = bytearray(powercut.real_settings_text())
        self.boot()

    def boot(self, ack=True):
        self.clock = VirtualClock()
        self.motor = FakeMotor(self.clock, BOARD.motor.max_step_hz)
        self.file = ValidatedFile(self.storage, "settings.json",
                                  lambda obj: load_settings(obj, BOARD), parse_settings_text)
        try:
            _, validated = self.file.load()
        except BasaltError:
            validated = None
        self.app = PumpApp(BOARD, self.clock, self.motor, tick_ms=250,
                           settings=validated[0] if validated else None)
        self.keeper = Keeper(self.storage, settings_file=self.file)
        self.app.keeper = self.keeper
        self.keeper.start(0, "power_on")
        if ack:
            self.app.command({"cmd": "boot_ack"})
        return self

    def setup(self):  # run() is Pump's: 250 ms ticks
        for cmd in ({"cmd": "new_reservoir", "units": 150}, {"cmd": "resume"}):
            self.app.command(cmd)
        self.run(1000)
        return self

    def settings_obj(self, **limits):
        obj, _ = self.file.load()
        obj["limits"].update(limits)
        return obj

    def records(self):
        return Journal(self.storage).read().records


# ----- the fault injector ------------------------------------------------------------

def test_fake_storage_models_partial_enospc_full_and_dead_flash_and_bit_flips():
    storage = FakeStorage()
    storage.write("ck0.bin", b"x" * 96)
    storage.enospc_above = 64  # nearly full: small writes still succeed
    storage.append("j000001.jnl", b"y" * 40)
    with pytest.raises(OSError) as error:
        storage.replace("settings.json", b"z" * 1500)
    assert error.value.args[0] == 28
    assert "settings.json" not in storage.files and "settings.json.new" not in storage.files
    with pytest.raises(OSError):
        storage.write("ck0.bin", b"w" * 96)
    assert storage.read("ck0.bin") == b""  # open(..., "wb") truncated it first
    storage.enospc_above = 0  # full: nothing goes in
    with pytest.raises(OSError):
        storage.append("j000001.jnl", b"y")
    storage.enospc_above = None
    storage.fail_writes = OSError(5, "EIO")  # dead
    with pytest.raises(OSError, match="EIO"):
        storage.append("j000001.jnl", b"y")
    storage.fail_writes = None
    storage.flip("j000001.jnl", 9)
    assert storage.read("j000001.jnl")[1:2] == bytes([ord("y") ^ 2])


def test_a_storage_fault_names_the_file_and_the_error():
    fault = StorageFault("settings.json", "replace", OSError(28, "No space left on device"))
    assert str(fault) == ("storage: replace of settings.json failed: ENOSPC (No space left "
                          "on device)")
    assert fault.screen == "settings.json not saved: ENOSPC (No space left on device)"
    assert isinstance(fault, BasaltError) and fault.errno == 28


# ----- settings saves on a failing flash ---------------------------------------------

def test_settings_on_a_nearly_full_flash_are_refused_whole_with_an_alarm():
    """The review's finding: the new limits were applied in RAM, the write raised a bare
    OSError out of app.command, and the next boot silently restored the old ones."""
    pump = RealPump().setup()
    before = pump.storage.read("settings.json")
    old_limits = pump.app.engine.gate.limits
    pump.storage.enospc_above = 600  # journal records and checkpoints still fit
    with pytest.raises(StorageFault, match="settings.json") as error:
        pump.app.command({"cmd": "save_settings",
                          "settings": pump.settings_obj(max_bolus_u=5)})
    assert error.value.file == "settings.json" and error.value.errno == 28
    assert pump.app.engine.gate.limits is old_limits  # nothing applied
    assert pump.app.settings.limits.max_bolus_mu == 10_000
    assert pump.storage.read("settings.json") == before
    assert pump.keeper.storage_message.startswith("settings.json not saved: ENOSPC")
    assert pump.app.alarms.is_active("delivery_fault")
    assert pump.app.engine.stop_reason is not None  # the alarm stops delivery
    pump.run(MS_PER_MIN)  # no task died: the pump ticks on
    kinds = [r.kind for r in pump.records()]
    assert "storage_fault" in kinds
    pump.storage.enospc_above = None
    pump.boot()  # the boot loads what the pump ran on
    assert pump.app.settings.limits.max_bolus_mu == 10_000


def test_settings_that_read_back_otherwise_are_not_applied_and_the_old_file_stays():
    pump = RealPump().setup()
    before = pump.storage.read("settings.json")
    read = pump.storage.read

    def rotten(name):
        data = read(name)
        if name == "settings.json" and data is not None and data != before:
            data = data[:-3] + b"  }"  # the flash kept other bytes than were written
        return data

    pump.storage.read = rotten
    with pytest.raises(StorageFault, match="read back"):
        pump.app.command({"cmd": "save_settings",
                          "settings": pump.settings_obj(max_bolus_u=5)})
    pump.storage.read = read
    assert pump.storage.read("settings.json") == before
    assert pump.app.settings.limits.max_bolus_mu == 10_000


def test_settings_saved_on_a_healthy_flash_are_verified_then_applied():
    pump = RealPump().setup()
    pump.app.command({"cmd": "save_settings", "settings": pump.settings_obj(max_bolus_u=5)})
    assert pump.app.settings.limits.max_bolus_mu == 5_000
    pump.boot()
    assert pump.app.settings.limits.max_bolus_mu == 5_000


@pytest.mark.parametrize("cmd", [
    {"cmd": "set_profile", "name": "Weekday", "segments": [["00:00", 0.7]]},
    {"cmd": "save_settings", "settings": None},
])
def test_a_dead_flash_never_lets_a_bare_oserror_out_of_a_command(cmd):
    pump = RealPump().setup()
    if cmd["cmd"] == "save_settings":
        cmd = dict(cmd, settings=pump.settings_obj(max_bolus_u=5))
    profiles = pump.app.engine.profiles.profiles["Weekday"].segments()
    pump.storage.fail_writes = OSError(5, "EIO")
    with pytest.raises(StorageFault):
        pump.app.command(cmd)
    assert pump.app.engine.profiles.profiles["Weekday"].segments() == profiles
    assert pump.app.settings.limits.max_bolus_mu == 10_000
    pump.run(MS_PER_MIN)


def test_basal_profiles_without_a_settings_file_are_stored_before_they_run():
    from host_tests.test_journal_recovery import Pump

    pump = Pump().setup()
    pump.storage.enospc_above = 50  # basal.json (about 100 bytes) no longer fits
    with pytest.raises(StorageFault, match="basal.json"):
        pump.app.command({"cmd": "set_profile", "name": "Day",
                          "segments": [["00:00", 3.0]]})
    assert pump.app.engine.profiles.profiles["Day"].segments()[0] == (0, 1000)


# ----- bit rot ---------------------------------------------------------------------

def test_a_bit_flipped_in_a_settings_file_is_refused_with_a_message():
    pump = RealPump().setup()
    pump.app.command({"cmd": "save_settings", "settings": pump.settings_obj(max_bolus_u=5)})
    data = pump.storage.files["settings.json"]
    at = bytes(data).index(b'"max_bolus_u": 5') + len('"max_bolus_u": ')
    pump.storage.flip("settings.json", at * 8 + 3)  # "5" -> "=": not even JSON
    pump.storage.files["settings.json"][at] = ord("9")  # a digit: valid, and wrong
    pump.boot()
    assert "damaged on flash" in pump.keeper.settings_error
    assert any("Settings invalid" in note for note in pump.keeper.boot_notes)


def test_a_settings_file_copied_over_by_a_person_is_checked_as_any_file():
    pump = RealPump().setup()
    pump.app.command({"cmd": "save_settings", "settings": pump.settings_obj(max_bolus_u=5)})
    obj = pump.settings_obj(max_bolus_u=7.5)  # another length than the pump wrote
    pump.storage.files["settings.json"] = bytearray(json.dumps(obj).encode())
    pump.boot()
    assert pump.keeper.settings_error is None
    assert pump.app.settings.limits.max_bolus_mu == 7_500


def _bolus_done(storage):
    return [entry for entry in powercut_kinds.records_at(storage)
            if entry[3].kind == "bolus_done"]


def test_a_bolus_whose_end_record_rotted_is_counted_as_delivered():
    """The review's finding: one flipped bit in bolus_done forgot 8 U on board."""
    from host_tests.test_journal_recovery import Pump

    pump = Pump().setup()
    pump.app.command({"cmd": "bolus", "units": 8})
    pump.run(6 * MS_PER_MIN)
    before = pump.app.iob.bolus_iob_mu(pump.clock.now_ms())
    name, start, end, _ = _bolus_done(pump.storage)[-1]
    pump.storage.flip(name, (start + 20) * 8)
    pump.motor.stop()
    pump.boot()
    assert pump.app.iob.bolus_iob_mu(0) >= before
    assert any("end record unreadable; counted as delivered" in note
               for note in pump.keeper.boot_notes)
    assert any(note.startswith("Journal:") for note in pump.keeper.boot_notes)
    hour, day = pump.app.engine.gate.carry_over()
    assert hour >= BOARD.usteps_for_mu(8000)
    pump.boot()  # the next boot still counts it (bolus_assumed is journaled)
    assert pump.app.iob.bolus_iob_mu(0) >= before - 50


def _flip_newest_checkpoint(storage):
    flipped = []
    with pytest.raises(powercut.PowerCut):
        powercut_kinds.flip_newest_checkpoint(0.4, flipped)(type("R", (), {
            "storage": storage})())
    return flipped[0]


@pytest.mark.parametrize("cmd", [{"cmd": "suspend"},
                                 {"cmd": "temp_basal", "percent": 0, "minutes": 120}])
def test_a_rotted_newest_checkpoint_never_forgets_a_suspend_or_a_zero_temp(cmd):
    from host_tests.test_journal_recovery import Pump

    pump = Pump().setup()
    pump.run(6 * MS_PER_MIN)
    pump.app.command(cmd)
    name = _flip_newest_checkpoint(pump.storage)
    pump.motor.stop()
    pump.boot(ack=True)
    assert pump.app.engine.stop_reason is not None  # kept suspended
    notes = pump.keeper.boot_notes
    assert any(note.startswith("Checkpoint %s unreadable" % name) for note in notes)
    assert any("Checkpoint older than the journal" in note for note in notes)


def test_a_lost_checkpoint_rebuilds_the_gate_windows_from_the_journal():
    from host_tests.test_journal_recovery import Pump

    pump = Pump().setup()
    pump.app.command({"cmd": "bolus", "units": 5})
    pump.run(5 * MS_PER_MIN)
    for name in ckp.SLOTS:
        pump.storage.flip(name, 100)
    pump.motor.stop()
    pump.boot()
    hour, day = pump.app.engine.gate.carry_over()
    assert hour >= BOARD.usteps_for_mu(4999) and day >= hour  # records round down
    assert "60-min and daily totals rebuilt from the journal" in pump.keeper.boot_notes


def test_a_journal_with_a_rotted_record_says_so_on_the_boot_screen():
    from host_tests.test_journal_recovery import Pump

    pump = Pump().setup()
    pump.run(MS_PER_HOUR + MS_PER_MIN)
    name, start, _, _ = powercut_kinds.records_at(pump.storage)[3]
    pump.storage.flip(name, start * 8 + 40)
    pump.boot()
    notes = [note for note in pump.keeper.boot_notes if note.startswith("Journal:")]
    assert notes and "unreadable in " + name in notes[0]


# ----- the bench's fault kinds, short form ----------------------------------------------

ZERO = {"over_deliveries": 0, "double_boluses": 0, "lost_records": 0,
        "forgotten_iob_mu": 0, "crashes": 0}


def test_every_fault_kind_in_short_form_loses_and_adds_nothing():
    result = powercut_kinds.run(per_kind=2)
    assert sorted(result["kinds"]) == sorted(powercut_kinds.KINDS)
    for kind, figures in result["kinds"].items():
        assert figures == dict(ZERO, runs=2), kind


# ----- planted bugs: the bench sees each finding -----------------------------------------

@pytest.fixture(scope="module")
def forward():
    return {real: powercut_kinds.write_points(real)[0].forward_total for real in (False, True)}


def _day_with(hook, at, real=False):
    day = list(powercut.REAL_DAY if real else powercut.DAY)
    day.append((at, ("hook", hook)))
    return day


def _judge(forward, real=False, day=None, hooks=(), storage=None):
    run = powercut.Run(BOARD, storage or FakeStorage(), real=real, hooks=hooks, day=day)
    run.forward_total = run.play()
    return powercut_kinds.judge(run, forward[real])


def test_a_firmware_that_trusts_the_older_checkpoint_is_caught(forward, monkeypatch):
    """Without the journal cross-check a rotted newest slot forgets a suspend or a
    temp basal and basal resumes."""
    monkeypatch.setattr(restore, "cross_check", lambda plan, ck, after: None)
    over = 0
    for at in ("21:00", "15:00"):  # the suspend; the 50 % temp basal
        flip = powercut_kinds.flip_newest_checkpoint(0.3, [])
        over += _judge(forward, day=_day_with(flip, at))["over_deliveries"]
    assert over == 2


def test_a_firmware_that_closes_an_unended_bolus_at_zero_is_caught(forward, monkeypatch):
    """The review's finding: a rotted bolus_done forgot the bolus on board."""
    original = restore._plan_unstarted

    def at_zero(plan, unfinished, running, ck=None, slot_damaged=False):
        original(plan, {key: entry[:2] for key, entry in (unfinished or {}).items()},
                 running)

    monkeypatch.setattr(restore, "_plan_unstarted", at_zero)
    hook = powercut_kinds.flip_record(("bolus_done",), 0.0, [])
    found = _judge(forward, hooks=[(8 * MS_PER_HOUR, hook)])  # the 07:30 bolus of 4.5 U
    assert found["forgotten_iob_mu"] >= 4_000


def test_a_firmware_that_applies_settings_before_writing_them_is_caught(forward,
                                                                         monkeypatch):
    """The review's finding: applied in RAM, the write failed, the boot restored the
    old limits."""
    def apply_then_write(self, now_ms, obj):
        validated = self.settings.validator(obj)
        self.apply_settings(validated[0])
        self.settings.save(obj, validated)
        return validated

    monkeypatch.setattr(Keeper, "save_settings", apply_then_write)
    storage = FakeStorage()

    def nearly_full(run):
        storage.enospc_above = 600

    found = _judge(forward, real=True, storage=storage, hooks=[
        (8 * MS_PER_HOUR, nearly_full), (10 * MS_PER_HOUR, powercut_kinds._power_off)])
    assert found["lost_records"] >= 1


def test_a_firmware_that_lets_a_bare_oserror_out_is_caught(forward, monkeypatch):
    from basalt.storage import files

    monkeypatch.setattr(files, "guarded", lambda operation, name, call, *args: call(*args))
    storage = FakeStorage()

    def full(run):
        storage.enospc_above = 0

    found = _judge(forward, real=True, storage=storage, hooks=[(8 * MS_PER_HOUR, full)])
    assert found["crashes"] == 1


def test_a_firmware_that_trusts_unchecked_settings_bytes_is_caught(forward, monkeypatch):
    monkeypatch.setattr(ValidatedFile, "_check_sum", lambda self, data: None)

    def rot(run):
        data = run.storage.files["settings.json"]
        run.storage.flip("settings.json", bytes(data).index(b"10") * 8 + 1)  # 10 -> 30 U
        raise powercut.PowerCut("a clean power-off after a bit flip in settings.json")

    found = _judge(forward, hooks=[(10 * MS_PER_HOUR, rot)])
    assert found["lost_records"] >= 1


def test_a_firmware_that_keeps_journal_damage_off_the_boot_screen_is_caught(forward,
                                                                             monkeypatch):
    from basalt.storage import recovery

    monkeypatch.setattr(recovery, "read_notes", lambda found: [])
    hook = powercut_kinds.flip_record(("glucose",), 0.5, [])
    found = _judge(forward, hooks=[(12 * MS_PER_HOUR, hook)])
    assert found["lost_records"] == 1


def test_the_planted_bugs_scenarios_are_clean_on_this_firmware(forward):
    """The same scenarios as the planted-bug tests above, on the firmware as it is."""
    found = []
    for at in ("21:00", "15:00"):
        flip = powercut_kinds.flip_newest_checkpoint(0.3, [])
        found.append(_judge(forward, day=_day_with(flip, at)))
    hook = powercut_kinds.flip_record(("bolus_done",), 0.0, [])
    found.append(_judge(forward, hooks=[(8 * MS_PER_HOUR, hook)]))
    for limit in (600, 0):
        storage = FakeStorage()
        found.append(_judge(forward, real=True, storage=storage, hooks=[
            (8 * MS_PER_HOUR, lambda run, limit=limit: setattr(run.storage, "enospc_above",
                                                              limit)),
            (10 * MS_PER_HOUR, powercut_kinds._power_off)]))
    for figures in found:
        assert figures == dict(ZERO, runs=1)


def test_a_segment_the_flash_will_not_read_is_named_on_the_boot_screen():
    from host_tests.test_journal_recovery import Pump

    pump = Pump().setup()
    pump.run(MS_PER_MIN)
    read = pump.storage.read

    def failing(name):
        if name == "j000001.jnl":
            raise OSError(5, "EIO")
        return read(name)

    pump.storage.read = failing
    pump.boot()
    assert any(note.startswith("Journal: j000001.jnl unreadable") for note in
               pump.keeper.boot_notes)


def test_a_failed_save_never_blesses_a_file_that_rotted():
    pump = RealPump().setup()
    pump.app.command({"cmd": "save_settings", "settings": pump.settings_obj(max_bolus_u=5)})
    next_obj = pump.settings_obj(max_bolus_u=6)
    at = bytes(pump.storage.files["settings.json"]).index(b'"max_bolus_u": 5')
    pump.storage.files["settings.json"][at + len('"max_bolus_u": ')] = ord("9")
    replace = pump.storage.replace

    def sum_only(name, data):
        if name == "settings.json":
            raise OSError(28, "No space left on device")
        replace(name, data)

    pump.storage.replace = sum_only  # the .sum is rewritten, the file is not
    with pytest.raises(StorageFault):
        pump.app.command({"cmd": "save_settings", "settings": next_obj})
    pump.storage.replace = replace
    pump.boot()
    assert "damaged on flash" in pump.keeper.settings_error


def test_settings_the_pump_refuses_to_apply_are_taken_back_out_of_the_file():
    """Written and read back, then refused by what runs now (a 2.5 U/h temp basal over
    a new 2 U/h max basal): the old file goes back; if the flash will not take it back,
    the pump says so and will not resume on settings its file does not hold."""
    pump = RealPump().setup()
    before = pump.storage.read("settings.json")
    pump.app.command({"cmd": "temp_basal", "rate": 2.5, "minutes": 60})
    obj = pump.settings_obj(max_basal_u_h=2)
    with pytest.raises(BasaltError, match="max basal"):
        pump.app.command({"cmd": "save_settings", "settings": obj})
    assert pump.storage.read("settings.json") == before
    assert pump.app.settings.limits.max_basal_mu_h == 3_000
    replace = pump.storage.replace

    def no_way_back(name, data):
        if name == "settings.json" and bytes(data) == before:
            raise OSError(28, "No space left on device")
        replace(name, data)

    pump.storage.replace = no_way_back
    with pytest.raises(BasaltError, match="max basal"):
        pump.app.command({"cmd": "save_settings", "settings": obj})
    assert "not restored" in pump.keeper.settings_error
    assert pump.app.alarms.is_active("delivery_fault")
    with pytest.raises(BasaltError, match="settings invalid: not restored"):
        pump.keeper.require_known_state("resume")
