"""Recovery at boot through the real app: interrupted boluses, the boot-screen lock,
temp basal and suspend after a reset, damaged or foreign storage, invalid settings and
a failing flash. The pump never moves insulin it cannot account for."""

import json

import pytest

from basalt.app import PumpApp
from basalt.core import checkpoint as ckp
from basalt.core import journal as jnl
from basalt.core.errors import ConfigError, InvalidValue, LimitExceeded, NotAllowedNow
from basalt.storage.journal import Journal
from basalt.storage.keeper import Keeper
from tools import sim
from tools.fake_storage import FakeStorage, PowerCut
from tools.fakes import FakeMotor, VirtualClock, bench_limits, open_limits

BOARD = sim.load_sim_board()
PROFILE = {"cmd": "set_profile", "name": "Day", "segments": [["00:00", 1.0], ["12:00", 2.0]]}


class Pump:
    """A board: flash that survives, and a fresh app at every boot."""

    def __init__(self, storage=None, validator=None, limits=None, epoch=False):
        self.storage = storage or FakeStorage()
        self.validator = validator
        self.limits = limits or open_limits()
        self.boot(epoch_s=1_800_000_000 if epoch else None)

    def boot(self, ack=False, cause="power_on", epoch_s=None):
        self.clock = VirtualClock()
        self.motor = FakeMotor(self.clock, BOARD.motor.max_step_hz)
        self.app = PumpApp(BOARD, self.clock, self.motor, tick_ms=250, limits=self.limits)
        kwargs = {"settings_validator": self.validator} if self.validator else {}
        self.keeper = Keeper(self.storage, **kwargs)
        self.app.keeper = self.keeper
        self.plan = self.keeper.start(0, cause, epoch_s)
        if ack:
            self.app.command({"cmd": "boot_ack"})
        return self

    def run(self, ms):
        end = self.clock.now_ms() + ms
        while self.clock.now_ms() < end:
            self.clock.advance(min(250, end - self.clock.now_ms()))
            self.app.step()

    def setup(self):
        self.app.command({"cmd": "boot_ack"})
        for cmd in (PROFILE, {"cmd": "new_reservoir", "units": 100}, {"cmd": "resume"}):
            self.app.command(cmd)
        self.run(1000)
        return self

    def records(self):
        return Journal(self.storage).read().records

    def kinds(self):
        return [r.kind for r in self.records()]


def test_a_bolus_running_at_a_reset_is_recorded_interrupted_never_resumed():
    pump = Pump().setup()
    pump.app.command({"cmd": "bolus", "units": 3})
    pump.run(40_000)  # 1 U of 3 delivered at 1.5 U/min
    moved = pump.motor.position()
    pump.motor.stop()
    pump.boot()
    assert not pump.app.engine.running_boluses()
    interrupted = [r.detail for r in pump.records() if r.kind == "bolus_interrupted"]
    assert len(interrupted) == 1
    bolus = interrupted[0]
    basal_steps = moved - BOARD.usteps_for_mu(1000)  # about 41 s of 1 U/h basal
    true_bolus = BOARD.mu_for_usteps(moved - basal_steps)
    assert bolus["delivered_lo_mu"] <= true_bolus <= bolus["delivered_hi_mu"]
    assert bolus["delivered_hi_mu"] - bolus["delivered_lo_mu"] <= 60  # lease + one tick
    assert bolus["programmed_mu"] == 3000
    assert pump.keeper.uncertain is not None
    assert any("Bolus interrupted" in line for line in pump.keeper.boot_notes)


def test_a_reset_does_not_reopen_the_60_minute_and_daily_windows():
    pump = Pump(limits=bench_limits()).setup()  # max bolus 10 U, 15 U in 60 min, 80 U a day
    pump.app.command({"cmd": "bolus", "units": 10})
    pump.run(410_000)  # delivered in full at 1.5 U/min
    before = pump.app.engine.gate.carry_over()
    pump.motor.stop()
    pump.boot(ack=True)
    hour, day = pump.app.engine.gate.carry_over()
    assert hour >= before[0] >= BOARD.usteps_for_mu(10_000) and day >= before[1]
    with pytest.raises(LimitExceeded, match="max bolus in 60 min is 15 U"):
        pump.app.command({"cmd": "bolus", "units": 6})
    pump.run(66 * 60_000)  # restored totals leave the window (13 buckets of 5 min) after
    pump.app.command({"cmd": "bolus", "units": 6})


def _bolus_then_reset(pump, units=5, then_ms=30 * 60_000, **boot):
    """A bolus delivered in full, some time on, a reset: (IOB before, the old tracker)."""
    pump.app.command({"cmd": "bolus", "units": units})
    pump.run(then_ms)
    old, now = pump.app.iob, pump.clock.now_ms()
    pump.motor.stop()
    pump.boot(ack=True, **boot)
    return old, now


def test_insulin_on_board_survives_a_reset_as_if_no_time_had_passed():
    pump = Pump().setup()
    old, then = _bolus_then_reset(pump)
    iob = pump.app.iob.bolus_iob_mu(0)
    # Counted from the end of the bolus (3 min 20 s after it started) and the pump's last
    # checkpoint (at most 5 min before the reset): a little more than the truth, never
    # less; the time the pump was off counts as none.
    assert old.bolus_iob_mu(then) <= iob <= old.bolus_iob_mu(then - 500_000)
    assert iob > 3_000 and pump.app.iob.iob_mu(0) >= iob
    assert "iob_restored" in pump.kinds()
    assert any(n.startswith("IOB: ") and "time off unknown" in n
               for n in pump.keeper.boot_notes)
    pump.app.command({"cmd": "suspend"})  # and the restored IOB is checkpointed onward
    pump.boot(ack=True)
    assert pump.app.iob.bolus_iob_mu(0) == iob


def test_the_wall_clock_gives_the_time_the_pump_was_off():
    pump = Pump(epoch=True).setup()
    old, then = _bolus_then_reset(pump, epoch_s=1_800_000_000 + 30 * 60 + 2 * 3600)
    # booted at epoch 1.8e9; reset 30 min on; off for 2 hours
    assert old.bolus_iob_mu(then + 2 * 3_600_000) <= pump.app.iob.bolus_iob_mu(0) \
        <= old.bolus_iob_mu(then + 2 * 3_600_000 - 500_000)
    assert pump.keeper.iob_gap_known


def test_a_wall_clock_set_back_never_adds_time_and_old_boluses_are_gone():
    pump = Pump(epoch=True).setup()
    old, then = _bolus_then_reset(pump, epoch_s=1_700_000_000)  # earlier than the last boot
    assert pump.app.iob.bolus_iob_mu(0) >= old.bolus_iob_mu(then)
    later = Pump(epoch=True).setup()
    _bolus_then_reset(later, epoch_s=1_800_000_000 + 30 * 60 + 6 * 3600)  # off 6 hours
    assert later.app.iob.bolus_iob_mu(0) == 0 and "IOB: " not in "".join(
        later.keeper.boot_notes)


def test_boluses_of_earlier_boots_follow_on_across_several_resets():
    pump = Pump().setup()
    old, then = _bolus_then_reset(pump, units=2, then_ms=10 * 60_000)
    pump.run(60 * 60_000)  # an hour in the second boot, then another reset
    pump.motor.stop()
    pump.boot(ack=True)
    iob = pump.app.iob.bolus_iob_mu(0)
    assert old.bolus_iob_mu(then + 60 * 60_000) <= iob < old.bolus_iob_mu(then)
    pump.app.command({"cmd": "bolus", "units": 1})  # a bolus of this boot adds on top
    pump.run(60_000)
    assert pump.app.iob.bolus_iob_mu(60_000) > iob + 900


def test_nothing_moves_and_no_command_runs_until_the_boot_screen_is_acknowledged():
    pump = Pump().setup()
    pump.boot()
    with pytest.raises(NotAllowedNow, match="acknowledge the boot screen first"):
        pump.app.command({"cmd": "bolus", "units": 1})
    pump.run(60_000)
    assert pump.motor.moves == [] and not pump.motor.is_enabled()
    pump.app.command({"cmd": "boot_ack", "time": "08:00"})
    assert pump.app.engine.day_ms() == 8 * 3_600_000
    pump.run(120_000)
    assert pump.motor.position() > 0  # scheduled basal carries on
    with pytest.raises(NotAllowedNow, match="already acknowledged"):
        pump.app.command({"cmd": "boot_ack"})


def test_reconcile_unlocks_the_calculator_and_survives_another_reset():
    pump = Pump().setup()
    pump.app.command({"cmd": "bolus", "units": 2})
    pump.run(20_000)
    pump.boot()  # reset during the bolus
    pump.boot(ack=True)  # and again before anyone reconciled it
    assert pump.keeper.uncertain is not None
    assert pump.kinds().count("bolus_interrupted") == 1  # recorded once, not per boot
    u = pump.keeper.uncertain
    with pytest.raises(InvalidValue, match="reconcile_bolus units"):
        pump.app.command({"cmd": "reconcile_bolus", "units": 2})
    settled = pump.app.command({"cmd": "reconcile_bolus"})
    assert settled == u["delivered_hi_mu"] and pump.keeper.uncertain is None
    with pytest.raises(NotAllowedNow, match="no interrupted bolus"):
        pump.app.command({"cmd": "reconcile_bolus"})
    pump.run(1000)
    pump.boot()
    assert pump.keeper.uncertain is None


@pytest.mark.parametrize("temp, resumes", [
    ({"percent": 50}, True), ({"percent": 150}, False), ({"rate": 0.5}, True),
    ({"rate": 1.5}, False)])
def test_temp_basal_after_a_reset(temp, resumes):
    pump = Pump().setup()
    pump.app.command(dict(temp, cmd="temp_basal", minutes=120))
    pump.run(10 * 60_000)
    pump.boot(ack=True)
    running = pump.app.engine.temp_program()
    assert (running is not None) == resumes
    if resumes:
        # What was left at the last checkpoint: never less than what was truly left
        # (110 min), and at most one checkpoint period (5 min) more.
        assert 110 * 60_000 <= running[2] <= 115 * 60_000 + 1000
    assert pump.app.engine.stop_reason is None


def test_a_suspended_pump_stays_suspended():
    pump = Pump().setup()
    pump.app.command({"cmd": "suspend"})
    pump.run(1000)
    pump.boot(ack=True)
    assert pump.app.engine.stop_reason == "suspended"
    pump.run(60_000)
    assert pump.motor.moves == []
    assert "Still suspended" in pump.keeper.boot_notes


def test_an_unreadable_checkpoint_leaves_the_pump_stopped_with_an_alarm():
    pump = Pump().setup()
    for name in ckp.SLOTS:
        pump.storage.files[name] = bytearray(b"\x00" * ckp.SIZE)
    pump.boot(ack=True)
    assert pump.app.engine.stop_reason == "no reservoir"
    alarms = [r.detail for r in pump.records() if r.kind == "alarm"]
    assert alarms and alarms[-1]["code"] == "delivery_fault"
    assert "checkpoint_lost" in pump.kinds()
    with pytest.raises(NotAllowedNow, match="checkpoint could not be read"):
        pump.app.command({"cmd": "resume"})
    pump.app.command({"cmd": "new_reservoir", "units": 50})
    with pytest.raises(NotAllowedNow, match="acknowledge the delivery_fault alarm first"):
        pump.app.command({"cmd": "resume"})  # the alarm latches until acknowledged
    pump.app.acknowledge("delivery_fault")
    pump.app.command({"cmd": "resume"})  # a fitted reservoir is a known state again


def test_damaged_and_foreign_journals_never_stop_the_boot_and_are_kept():
    pump = Pump().setup()
    names = [n for n in pump.storage.names() if n.endswith(".jnl")]
    pump.storage.corrupt(names[0], 40, b"\xff" * 30)
    foreign = jnl.segment_name(90)
    newer = jnl.encode_header(90, 9, version=jnl.FORMAT_VERSION + 1) + b"future" * 10
    pump.storage.files[foreign] = bytearray(newer)
    pump.storage.files["j000002.jnl"] = bytearray(b"random bytes \x00\x01" * 20)
    pump.boot(ack=True)
    kinds = pump.kinds()
    assert "journal_damaged" in kinds and "journal_foreign" in kinds
    assert bytes(pump.storage.files[foreign]) == newer  # kept as it was
    pump.app.command({"cmd": "bolus", "units": 0.5})
    pump.run(60_000)
    boot = pump.keeper.boot
    assert "bolus_done" in [r.kind for r in pump.records() if r.boot == boot]


def test_invalid_settings_keep_the_pump_suspended_with_an_alarm():
    def validator(obj):
        if not isinstance(obj, dict) or obj.get("max_bolus_u", 0) > 25:
            raise ConfigError("max_bolus_u", obj.get("max_bolus_u"), "0.1 to 25 U")
        return obj, []

    pump = Pump(validator=validator).setup()
    pump.app.command({"cmd": "save_settings", "settings": {"max_bolus_u": 10}})
    with pytest.raises(ConfigError, match="max_bolus_u: 30 is not allowed"):
        pump.app.command({"cmd": "save_settings", "settings": {"max_bolus_u": 30}})
    assert json.loads(pump.storage.read("settings.json")) == {"max_bolus_u": 10}
    pump.storage.files["settings.json"] = bytearray(b'{"max_bolus_u": 99}')  # a bad copy
    del pump.storage.files["settings.json.sum"]  # copied over as the guide says
    pump.boot(ack=True)
    assert pump.app.engine.stop_reason == "suspended"
    assert "settings_rejected" in pump.kinds()
    assert pump.storage.read("settings.json") == b'{"max_bolus_u": 99}'  # nothing lost
    with pytest.raises(NotAllowedNow, match="settings invalid: max_bolus_u: 99"):
        pump.app.command({"cmd": "resume"})
    pump.app.command({"cmd": "save_settings", "settings": {"max_bolus_u": 8}})
    # The boot raised a latched delivery_fault alarm: it is acknowledged before resuming.
    with pytest.raises(NotAllowedNow, match="acknowledge the delivery_fault alarm first"):
        pump.app.command({"cmd": "resume"})
    pump.app.command({"cmd": "acknowledge", "alarm": "delivery_fault"})
    pump.app.command({"cmd": "resume"})
    changed = [r.detail for r in pump.records() if r.kind == "settings_changed"]
    assert changed[-1]["keys"] == ["max_bolus_u"]


def test_settings_that_are_not_json_are_named():
    storage = FakeStorage()
    storage.files["settings.json"] = bytearray(b"{nope")
    pump = Pump(storage)
    assert "settings.json: not valid JSON" in pump.keeper.settings_error


def test_a_failing_flash_stops_delivery_before_the_lease_runs_out():
    pump = Pump().setup()
    pump.app.command({"cmd": "bolus", "units": 5})
    pump.run(5_000)
    before = pump.motor.position()
    pump.storage.fail_writes = OSError(28, "no space left")
    pump.run(60_000)
    moved = pump.motor.position() - before
    assert moved <= pump.keeper.lease_steps + BOARD.usteps_for_mu(100)
    assert pump.app.engine.stop_reason == "suspended"
    alarms = [d for k, d in pump.app.pop_events() if k == "alarm"]
    assert alarms[0]["code"] == "delivery_fault" and "no space left" in alarms[0]["detail"]


def test_a_power_cut_during_the_boot_itself_is_survived():
    pump = Pump().setup()
    pump.app.command({"cmd": "bolus", "units": 1})
    pump.run(10_000)
    pump.storage.arm(pump.storage.position + 5)
    with pytest.raises(PowerCut):
        pump.boot()
    pump.boot(ack=True)
    assert pump.keeper.uncertain is not None
    assert pump.kinds().count("bolus_interrupted") >= 1
    assert not pump.app.engine.running_boluses()


def test_basal_profiles_survive_a_reset():
    pump = Pump().setup()
    pump.app.command({"cmd": "set_profile", "name": "Night", "segments": [["00:00", 0.3]]})
    pump.app.command({"cmd": "activate_profile", "name": "Night"})
    pump.boot(ack=True)
    profiles = pump.app.engine.profiles
    assert profiles.active == "Night" and sorted(profiles.profiles) == ["Day", "Night"]
    assert pump.app.engine.basal_rate_mu_h() == 300


class UnreadableStorage(FakeStorage):
    """A flash whose reads fail (EIO) for some files."""

    def __init__(self, bad):
        super().__init__()
        self.bad = bad

    def read(self, name):
        if name in self.bad:
            raise OSError(5, "EIO")
        return super().read(name)


def test_read_errors_at_boot_count_as_damage_not_a_crash():
    storage = UnreadableStorage(set())
    pump = Pump(storage).setup()
    storage.bad = {"ck0.bin", "ck1.bin", "settings.json", jnl.segment_name(1)}
    pump.boot(ack=True)
    assert pump.keeper.fault and pump.app.engine.stop_reason == "no reservoir"
    assert "flash read failed" in pump.keeper.settings_error
    storage.bad = set()
    assert "checkpoint_lost" in pump.kinds()


@pytest.mark.parametrize("cmd, check", [
    ({"cmd": "suspend"}, lambda pump: pump.app.engine.stop_reason == "suspended"),
    ({"cmd": "temp_basal", "percent": 40, "minutes": 60},
     lambda pump: pump.app.engine.temp_program()[1] == 40),
    ({"cmd": "bolus", "units": 2},
     lambda pump: pump.keeper.uncertain["delivered_hi_mu"] <= 50 + 2),
])
def test_a_confirmed_command_survives_a_power_cut_right_after_it(cmd, check):
    pump = Pump().setup()
    pump.app.command(cmd)  # returned: the user saw it accepted
    pump.boot(ack=True)  # power gone before the next tick
    assert check(pump)


def boot_on_settings_file(storage):
    """A pump with a Keeper whose settings.json (in storage) is checked by the real
    schema, booted and waiting for boot_ack."""
    from basalt.core.settings import load_settings, parse_settings_text
    from basalt.storage.files import ValidatedFile

    settings_file = ValidatedFile(storage, "settings.json",
                                  lambda obj: load_settings(obj, BOARD), parse_settings_text)
    keeper = Keeper(storage, settings_file=settings_file)
    clock = VirtualClock()
    app = PumpApp(BOARD, clock, FakeMotor(clock, BOARD.motor.max_step_hz), 250,
                  settings=keeper.load_settings())
    app.keeper = keeper
    keeper.start(0)
    return app


def test_profile_edits_go_into_the_settings_file_only_if_it_stays_valid():
    from pathlib import Path

    example = (Path(__file__).resolve().parents[1] / "settings" / "example.json").read_text()
    storage = FakeStorage()
    storage.files["settings.json"] = bytearray(example.encode())

    def boot():
        app = boot_on_settings_file(storage)
        app.command({"cmd": "boot_ack"})
        return app

    app = boot()
    assert app.engine.profiles.active == "Weekday"
    app.command({"cmd": "set_profile", "name": "Sick", "segments": [["00:00", 1.25]]})
    app.command({"cmd": "activate_profile", "name": "Sick"})
    before = storage.read("settings.json")
    with pytest.raises(ConfigError, match="max_basal"):  # above the file's max basal rate
        app.command({"cmd": "set_profile", "name": "Sick", "segments": [["00:00", 9]]})
    assert storage.read("settings.json") == before
    assert app.engine.profiles.current().rate_at(0) == 1250  # nothing changed
    assert "basal.json" not in storage.names()
    app = boot()
    assert app.engine.profiles.active == "Sick" and app.engine.basal_rate_mu_h() == 0
    assert app.settings.basal_profiles.current().name == "Sick"
    kinds = [(r.kind, r.detail.get("keys")) for r in Journal(storage).read().records]
    assert ("settings_changed", ["basal"]) in kinds


def test_an_event_the_journal_cannot_encode_is_named_not_fatal():
    pump = Pump().setup()
    pump.app.stream.emit("alarm", {"code": "occlusion", "force_mn": 1.5, "at_ms": 5})
    pump.app.stream.emit("glucose", {"mg_dl": 120, "at_ms": 6})
    pump.run(1000)
    records = pump.records()
    odd = [r for r in records if r.kind == "unrecordable"]
    assert odd and odd[0].detail["event"] == "alarm" and "only ints" in odd[0].detail["message"]
    assert "glucose" in [r.kind for r in records]  # and the journal goes on


def test_a_pump_stopped_by_an_alarm_comes_back_suspended():
    pump = Pump().setup()
    pump.app.engine.alarm_stop(pump.clock.now_ms(), "occlusion")
    pump.run(1000)  # the stop is checkpointed at the next tick
    pump.boot(ack=True)
    assert pump.app.engine.stop_reason == "suspended"
    assert any("Stopped by an alarm" in line for line in pump.keeper.boot_notes)
    pump.run(60_000)
    assert pump.motor.moves == []
