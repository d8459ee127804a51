"""The seams between the parts, composed as board_main.start() composes them on a board:
settings saved while running, the force sensor's calibration, and the BLE CGM client
filling app.cgm: its readings and link events reach the alarms, the journal and the
calculator (through tools/fake_ble)."""

import asyncio
import json

import pytest

from basalt.app import PumpApp
from basalt.ble.cgm_client import CgmClient
from basalt.core import cgms, cgms_sensor
from basalt.core.errors import InvalidValue, LimitExceeded, NotAllowedNow
from basalt.core.forcecal import nominal
from basalt.core.readings import ReadingStore
from basalt.core.settings import load_settings, parse_settings_text
from basalt.ports import ForceSensor
from basalt.storage.files import ValidatedFile
from basalt.storage.journal import Journal
from basalt.storage.keeper import Keeper
from host_tests.test_cgm_client import turns, until
from tools import history, sim
from tools.fake_ble import UUID, FakeAioble, FakeSensor, StepClock
from tools.fake_storage import FakeStorage
from tools.fakes import FakeMotor, VirtualClock
from tools.settings.example import EXAMPLE

BOARD = sim.load_sim_board()
MIN = 60_000


def example(**changes):
    obj = parse_settings_text(EXAMPLE)
    obj.update(changes)
    return obj


class Device:
    """board_main.start() on the host: settings, history and calibration on a fake flash."""

    def __init__(self, settings=None, clock=None, force=None, radio=None):
        self.storage = FakeStorage()
        if settings is not None:
            self.storage.files["settings.json"] = bytearray(json.dumps(settings).encode())
        self.boot(clock, force, radio)

    def boot(self, clock=None, force=None, radio=None):
        self.clock = clock or VirtualClock()
        self.motor = FakeMotor(self.clock, BOARD.motor.max_step_hz)
        settings_file = ValidatedFile(self.storage, "settings.json",
                                      lambda obj: load_settings(obj, BOARD), parse_settings_text)
        keeper = Keeper(self.storage, settings_file=settings_file)
        app = PumpApp(BOARD, self.clock, self.motor, settings=keeper.load_settings(),
                      force=force)
        app.keeper = keeper
        if radio is not None:  # board_main.make_cgm with a fake aioble
            app.cgm = ReadingStore(self.clock.now_ms())
            app.cgm_client = CgmClient(app.cgm, self.clock, radio, UUID)
        keeper.start(self.clock.now_ms())
        self.app = app
        return self

    def ready(self, fill=100):
        for cmd in ({"cmd": "boot_ack"}, {"cmd": "new_reservoir", "units": fill},
                    {"cmd": "resume"}):
            self.app.command(cmd)
        return self

    def run(self, ms, tick=250):
        end = self.clock.now_ms() + ms
        while self.clock.now_ms() < end:
            self.clock.advance(min(tick, end - self.clock.now_ms()))
            self.app.step()

    def records(self, kind):
        return [r for r in Journal(self.storage).read().records if r.kind == kind]


# ----- settings saved while running ------------------------------------------------------

def test_settings_saved_while_running_are_applied_whole():
    dev = Device(example()).ready(fill=40)
    app = dev.app
    obj = example()
    obj["limits"].update(max_bolus_u=4, max_bolus_60min_u=6)
    obj["bolus"]["speed_u_per_min"] = 3
    obj["insulin"] = {"type": "rapid_adult", "duration_h": 5}
    obj["alarms"]["reservoir_low_u"] = 50  # above the 40 U fitted
    obj["basal"]["profiles"]["Weekday"] = [["00:00", 0.5]]
    obj["carb_ratio_g_per_u"] = [["00:00", 5]]
    app.command({"cmd": "save_settings", "settings": obj})
    assert app.engine.basal_rate_mu_h() == 500  # the new profile, at once
    with pytest.raises(LimitExceeded, match="max bolus is 4 U"):
        app.command({"cmd": "bolus", "units": 5})
    app.command({"cmd": "bolus", "units": 3})
    dev.run(58_000)
    assert app.engine.running_boluses()  # 3 U at 3 U/min: a minute
    dev.run(3_000)
    assert not app.engine.running_boluses()
    assert app.iob.model.duration_min == 300
    assert app.suggest_bolus(50)["meal_mu"] == 10_000  # 50 g at 5 g/U
    assert "reservoir_low" in app.alarms.active()
    dev.boot()  # and the file holds them for the next boot
    assert dev.app.settings.limits.max_bolus_mu == 4_000


def test_the_settings_screen_shows_settings_saved_while_running():
    from basalt.app.ui_task import fill_view
    from basalt.core.ui.view import PumpView

    dev = Device(example()).ready()
    view = PumpView()
    fill_view(dev.app, view, dev.clock.now_ms())
    assert "max bolus 10 U" in view.settings
    obj = example()
    obj["limits"].update(max_bolus_u=4, max_bolus_60min_u=6)
    dev.app.command({"cmd": "save_settings", "settings": obj})
    fill_view(dev.app, view, dev.clock.now_ms())
    assert "max bolus 4 U" in view.settings and "max 1h 6 U" in view.settings


def test_settings_the_running_pump_would_break_change_nothing():
    dev = Device(example()).ready()
    app = dev.app
    app.command({"cmd": "temp_basal", "rate": 2.5, "minutes": 60})
    before = dev.storage.read("settings.json")
    obj = example()
    obj["limits"]["max_basal_u_h"] = 2
    obj["basal"]["profiles"]["Weekday"] = [["00:00", 0.5]]
    with pytest.raises(LimitExceeded, match="max basal is 2 U/h"):
        app.command({"cmd": "save_settings", "settings": obj})
    assert dev.storage.read("settings.json") == before
    assert app.engine.gate.limits.max_basal_mu_h == 3_000
    assert app.engine.profiles.current().rate_at(0) == 800
    assert app.engine.basal_rate_mu_h() == 2_500
    assert not dev.records("settings_changed")


def test_a_changed_cgm_section_says_it_applies_after_a_restart():
    dev = Device(example()).ready()
    dev.app.command({"cmd": "save_settings", "settings": example(
        cgm={"enabled": True, "address": "C0:FF:EE:00:00:01"})})
    pending = dev.records("settings_pending")
    assert pending and pending[0].detail["keys"] == ["cgm"]
    assert dev.app.cgm is None  # read at boot only


def test_the_loop_keeps_running_unless_its_section_changed():
    dev = Device(example()).ready()
    app = dev.app
    app.command({"cmd": "loop_mode", "mode": "closed"})  # the user's choice, not the file's
    running = app.loop
    app.command({"cmd": "save_settings", "settings": example(carb_ratio_g_per_u=[["00:00", 8]])})
    assert app.loop is running and app.loop.mode == "closed"
    obj = example()
    obj["loop"]["mode"] = "suspend_only"
    obj["loop"]["suspend_threshold_mg_dl"] = 90
    app.command({"cmd": "save_settings", "settings": obj})
    assert app.loop is not running and app.loop.mode == "suspend_only"
    assert app.settings.loop.suspend_mg_dl == 90


def test_settings_saved_on_a_pump_that_booted_without_them_start_its_loop():
    dev = Device()  # no settings file: stopped, every dose refused
    app = dev.app
    app.command({"cmd": "boot_ack"})
    assert app.loop is None
    obj = example()
    obj["loop"]["mode"] = "closed"
    app.command({"cmd": "save_settings", "settings": obj})
    assert app.loop.mode == "closed" and app.settings.limits.max_bolus_mu == 10_000


# ----- the force sensor's calibration ------------------------------------------------

class LoadCell(ForceSensor):
    """A load cell with an offset and a scale the firmware does not know yet."""

    def __init__(self, zero=52_311, per_n=27_850):
        self.calibration = nominal("hx711")
        self.zero, self.per_n = zero, per_n
        self.force_mn = 0
        self.reads = 0

    def read_raw(self):
        self.reads += 1
        return self.zero + self.force_mn * self.per_n // 1000 + self.reads % 3 - 1


def test_the_force_sensor_is_calibrated_by_command_and_kept_across_resets():
    cell = LoadCell()
    dev = Device(example(), force=cell).ready()
    assert "Force sensor not calibrated: nominal in use" in dev.app.keeper.boot_notes
    with pytest.raises(NotAllowedNow, match="force_tare refused: suspend delivery first"):
        dev.app.command({"cmd": "force_tare"})
    dev.app.command({"cmd": "suspend"})
    tared = dev.app.command({"cmd": "force_tare"})
    assert abs(tared["tare_counts"] - 52_311) <= 1
    with pytest.raises(InvalidValue, match="is the load on the sensor"):
        dev.app.command({"cmd": "force_scale", "newtons": 1.962})  # the weight forgotten
    cell.force_mn = 1_962  # 200 g on the sensor
    scaled = dev.app.command({"cmd": "force_scale", "newtons": 1.962})
    assert abs(scaled["counts_per_n"] - 27_850) <= 2
    assert abs(cell.read_mn() - 1_962) <= 2
    cell.force_mn = 0
    assert [r.detail["how"] for r in dev.records("force_calibrated")] == [
        "force_tare", "force_scale"]
    fresh = LoadCell()
    dev.boot(force=fresh)
    assert fresh.calibration == scaled and abs(fresh.read_mn()) <= 1
    assert not any("Force" in note for note in dev.app.keeper.boot_notes)


@pytest.mark.parametrize("cmd, error, message", [
    ({"cmd": "force_scale", "newtons": 0.05}, InvalidValue, "force_scale newtons: 0.05 is "
     "not allowed; allowed: 0.1 to 100 N"),
    ({"cmd": "force_scale"}, InvalidValue, "force_scale.newtons"),
    ({"cmd": "force_tare", "newtons": 1}, InvalidValue, "force_tare.newtons: unknown key; "
     "allowed: keys cmd"),
])
def test_bad_calibration_commands_change_nothing(cmd, error, message):
    cell = LoadCell()
    dev = Device(example(), force=cell)
    dev.app.command({"cmd": "boot_ack"})  # no reservoir: stopped
    with pytest.raises(error) as info:
        dev.app.command(cmd)
    assert message in str(info.value)
    assert cell.calibration == nominal("hx711") and "forcecal.json" not in dev.storage.names()


def test_a_board_without_a_force_sensor_refuses_calibration_and_a_bad_file_is_named():
    dev = Device(example())
    dev.app.command({"cmd": "boot_ack"})
    with pytest.raises(NotAllowedNow, match="this board has no force sensor"):
        dev.app.command({"cmd": "force_tare"})
    dev.storage.files["forcecal.json"] = bytearray(b'{"tare_counts": 1, "counts_per_n": 0}')
    cell = LoadCell()
    dev.boot(force=cell)
    assert cell.calibration == nominal("hx711")
    assert "Force calibration refused: nominal in use" in dev.app.keeper.boot_notes
    assert "forcecal.json.counts_per_n" in dev.records("settings_rejected")[-1].detail["message"]


# ----- the CGM, end to end ---------------------------------------------------------------

SENSOR = bytes.fromhex("c0ffee000001")


def cgm_for_dosing(app):
    """What the UI hands the calculator: the newest reading only if it may dose."""
    reading, why = app.cgm.latest_for_dosing(app.clock.now_ms())
    return why if reading is None else (reading.mg_dl, reading.at_ms)


def test_cgm_readings_and_link_events_reach_the_alarms_the_journal_and_the_calculator():
    """The pump boots 5 h into a sensor session: the sensor's records from before the boot
    have negative times on the pump's clock; then live readings, a silence, a return."""
    clock = StepClock(0)
    radio = FakeAioble(clock)
    sensor = FakeSensor(radio, SENSOR, clock)
    for offset in range(250, 300, 5):
        sensor.measure(offset, 100 + offset - 250, send=False)  # 100 .. 145 mg/dL
    sensor.current_offset = lambda: 298  # its session is 298 min old; last record at 295
    dev = Device(example(), clock=clock, radio=radio).ready()
    app = dev.app
    seen = []
    glucose = app.monitor.glucose
    app.monitor.glucose = lambda now, mg_dl, from_cgm: (seen.append((mg_dl, from_cgm)),
                                                         glucose(now, mg_dl, from_cgm))

    async def scenario():
        task = asyncio.create_task(app.cgm_client.run())
        await until(lambda: app.cgm.latest == 295)  # back-filled over the RACP
        app.step()
        assert seen == [(145, True)]
        suggestion = app.suggest_bolus(0, cgm=cgm_for_dosing(app))  # read at -3 min
        assert (suggestion["glucose_mg_dl"], suggestion["glucose_source"]) == (145, "cgm")
        assert dev.records("glucose") == []  # before this boot: not on its clock
        clock.advance(2 * MIN)
        sensor.measure(300, 150)  # live
        await turns()
        app.step()
        assert seen[-1] == (150, True)
        clock.advance(16 * MIN)  # the sensor falls silent
        await turns(500)
        app.step()
        assert cgm_for_dosing(app) == "CGM reading is 16 min old (limit 15 min)"
        assert "cgm_lost" in app.alarms.active()
        await until(lambda: app.cgm_client.state == "connected")
        clock.advance(MIN)
        sensor.measure(317, 160)
        await turns()
        app.step()
        assert "cgm_lost" not in app.alarms.active()
        assert app.suggest_bolus(0, cgm=cgm_for_dosing(app))["glucose_mg_dl"] == 160
        task.cancel()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    app.pop_events()
    assert not app.cgm_client.pop_events()  # the tick took them all
    view = Journal(dev.storage).read()
    readings = [r for r in view.records if r.kind == "glucose"]
    assert [(r.detail["mg_dl"], r.at_ms) for r in readings] == [(150, 2 * MIN), (160, 19 * MIN)]
    kinds = [r.kind for r in view.records]
    assert "cgm_link" in kinds and "alarm_raised" in kinds and "alarm_cleared" in kinds
    assert max(r.at_ms for r in view.records) < 20 * MIN  # no record's time wrapped
    exported = history.nightscout(view, 0)
    assert [(e["sgv"], e["direction"]) for e in exported["entries"]][0] == (150, "FortyFiveUp")


def test_back_filled_readings_reach_the_history_in_their_own_time():
    """A link outage: the readings the sensor took meanwhile arrive later, back-filled,
    and are journaled with the times they were taken; flagged ones say so."""
    clock = StepClock(0)
    dev = Device(example(), clock=clock)
    app = dev.app
    app.cgm = ReadingStore(0)
    app.command({"cmd": "boot_ack"})
    for minute, mg_dl in ((0, 120), (5, 122), (10, 124)):
        clock.advance(5 * MIN if minute else 0)
        add_reading(app, minute, mg_dl)
        app.step()
    clock.advance(20 * MIN)  # readings at 15, 20, 25 and 30 min did not come
    add_reading(app, 30, 131)
    for minute, mg_dl in ((15, 125), (20, 127), (25, 400)):  # 400: too fast a rise
        add_reading(app, minute, mg_dl)
    app.step()
    app.pop_events()
    times = [(r.at_ms // MIN, r.detail["mg_dl"], r.detail.get("flags"))
             for r in dev.records("glucose")]
    assert times == [(0, 120, None), (5, 122, None), (10, 124, None), (15, 125, None),
                     (20, 127, None), (25, 400, "rate"), (30, 131, None)]
    unwrapped = [r.at_ms for r in Journal(dev.storage).read().records]
    assert max(unwrapped) <= 30 * MIN  # a record about an earlier moment is no wrap


def add_reading(app, minute, mg_dl):
    record = cgms.decode_measurements(bytes(cgms_sensor.encode_record(
        cgms_sensor.sfloat_from_milli(mg_dl * 1000), minute, crc=True)), True)[0]
    app.cgm.add(app.clock.now_ms(), record)
