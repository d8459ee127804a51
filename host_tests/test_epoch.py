"""The clock's epoch (PumpApp.rebase): once now_ms passes REBASE_AT_MS the clock and
every stored time move back REBASE_SHIFT_MS between two ticks, so time stays a small
int for years of uptime. A pump whose clock moved back must do exactly what the same
pump does when it never moves: the same microsteps at the same times, the same alarms,
IOB and loop decisions, the same journal and checkpoint bytes."""

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from basalt.app import PumpApp
from basalt.core import cgms, cgms_sensor
from basalt.core.events import EVENT_TIMES
from basalt.core.readings import ReadingStore
from basalt.core.settings import load_settings, parse_settings_text
from basalt.core.units import REBASE_AT_MS, REBASE_SHIFT_MS, SMALL_INT_MAX, TIME_FLOOR_MS
from basalt.storage.keeper import Keeper
from host_tests.vectors.vectorkit import engine_snapshot
from tools.fake_storage import FakeStorage
from tools.fakes import FakeMotor, VirtualClock
from tools.settings.example import EXAMPLE
from tools.sim import load_sim_board

ROOT = Path(__file__).resolve().parent.parent
M = 60_000
TICK_MS = 5_000
MINUTES = 150
# Minute -> command: a day's worth of therapy packed into two and a half hours.
SCRIPT = {
    1: [{"cmd": "new_reservoir", "units": 200}, {"cmd": "resume"}],
    5: [{"cmd": "bolus", "units": 2}],
    12: [{"cmd": "temp_basal", "minutes": 45, "percent": 150}],
    30: [{"cmd": "carbs", "grams": 30}],
    40: [{"cmd": "loop_mode", "mode": "closed"}],
    82: [{"cmd": "snooze", "alarm": "cgm_lost"}],
    120: [{"cmd": "extended_bolus", "units": 1, "minutes": 30}],
}
CGM_GAP = range(70, 100)  # no readings: cgm_lost is raised, snoozed, cleared


def settings_obj():
    obj = parse_settings_text(EXAMPLE)
    obj["loop"]["mode"] = "suspend_only"
    return load_settings(obj)[0]


def reading(mg_dl, offset_min):
    return cgms.decode_measurements(bytes(cgms_sensor.encode_record(
        cgms_sensor.sfloat_from_milli(mg_dl * 1000), offset_min, crc=True)), True)[0]


def boot(start_ms, rebase_at_ms):
    board = load_sim_board()
    clock = VirtualClock(start_ms, rebase_at_ms=rebase_at_ms)
    motor = FakeMotor(clock, board.motor.max_step_hz)
    app = PumpApp(board, clock, motor, tick_ms=TICK_MS, settings=settings_obj())
    storage = FakeStorage()
    app.keeper = Keeper(storage)
    app.keeper.start(clock.now_ms(), "power_on", None)
    app.command({"cmd": "boot_ack"})
    app.cgm = ReadingStore(clock.now_ms())
    return app, clock, motor, storage


def uptime(detail, epoch_ms):
    """An event's detail with its absolute times as ms since boot (epoch-free)."""
    out = dict(detail)
    for key in EVENT_TIMES:
        if key in out:
            out[key] += epoch_ms
    return out


def run(start_ms, rebase_at_ms):
    """Everything the pump did, in epoch-free terms, tick by tick."""
    app, clock, motor, storage = boot(start_ms, rebase_at_ms)
    seen = []
    for tick in range(MINUTES * M // TICK_MS):
        t = tick * TICK_MS
        minute, within = divmod(t, M)
        if within == 0:
            for cmd in SCRIPT.get(minute, ()):
                app.command(cmd)
            if minute % 5 == 0 and minute not in CGM_GAP:
                glucose = 140 + 60 * (minute // 5 % 6) - 20 * (minute // 30)
                app.cgm.add(clock.now_ms(), reading(glucose, minute))
        app.step()
        now = clock.now_ms()
        events = [(k, uptime(d, clock.epoch_ms)) for k, d in app.pop_events()]
        decision = app.loop.last
        seen.append((motor.position(), app.iob.iob_mu(now), app.iob.bolus_iob_mu(now),
                     tuple(app.alarms.active()), app.alarms.sounding(now), events,
                     None if decision is None else (decision.action, decision.rate_mu_h,
                                                    decision.reason),
                     engine_snapshot(app.engine)["temp"], app.engine.bolus_parts()))
        clock.advance(TICK_MS)
    return app, clock, motor, storage, seen


def test_the_clock_moves_back_once_past_the_threshold_and_stays_a_small_int():
    start = REBASE_AT_MS - 30 * M
    app, clock, _, _, _ = run(start, REBASE_AT_MS)
    assert clock.epoch_ms == REBASE_SHIFT_MS and app.keeper.epoch_ms == REBASE_SHIFT_MS
    assert clock.now_ms() == start + MINUTES * M - REBASE_SHIFT_MS
    assert clock.uptime_ms() == start + MINUTES * M


def test_a_rebase_changes_nothing_the_pump_does():
    start = REBASE_AT_MS - 47 * M - 2_500  # mid-bolus, mid-temp, between two ticks' steps
    _, _, motor_a, storage_a, seen_a = run(start, None)
    app, clock, motor_b, storage_b, seen_b = run(start, REBASE_AT_MS)
    assert clock.epoch_ms == REBASE_SHIFT_MS  # it did move
    assert any(kind == "alarm_snoozed" for row in seen_a for kind, _ in row[5])
    assert any(row[6] is not None and row[6][0] == "temp" for row in seen_a)  # the loop dosed
    for tick, (a, b) in enumerate(zip(seen_a, seen_b)):
        assert a == b, "tick %d (%d min)" % (tick, tick * TICK_MS // M)
    assert motor_a.moves == motor_b.moves
    assert storage_a.files == storage_b.files  # journal and checkpoints: byte for byte


@settings(max_examples=6, deadline=None)
@given(st.integers(0, MINUTES * M // TICK_MS - 2), st.integers(0, TICK_MS - 1))
def test_wherever_the_rebase_falls_the_pump_does_the_same(tick, within):
    start = REBASE_AT_MS - tick * TICK_MS - within
    reference = run(start, None)
    moved = run(start, REBASE_AT_MS)
    assert moved[1].epoch_ms == REBASE_SHIFT_MS
    assert moved[4] == reference[4]
    assert moved[2].moves == reference[2].moves
    assert moved[3].files == reference[3].files


def stored_ints(obj, path="app", seen=None, skip=("motor", "storage", "_ck", "inputs",
                                                 "clock", "board", "settings", "journal",
                                                 "checkpoints", "config", "profiles")):
    """(path, value) of every int reachable from obj's attributes, lists and dicts."""
    seen = set() if seen is None else seen
    if isinstance(obj, bool) or obj is None or isinstance(obj, (str, bytes, float)):
        return
    if isinstance(obj, int):
        yield path, obj
        return
    if id(obj) in seen or callable(obj) and not hasattr(obj, "__dict__"):
        return
    seen.add(id(obj))
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    elif hasattr(obj, "__dict__") and type(obj).__module__.startswith(("basalt", "tools")):
        items = vars(obj).items()
    else:
        return
    for key, value in items:
        if key in skip:
            continue
        yield from stored_ints(value, "%s.%s" % (path, key), seen)


def test_no_part_keeps_a_time_of_the_old_epoch():
    """Right after a rebase every stored time is far from the old now (a part whose
    rebase() forgot a time still holds one near it) and within the small-int range."""
    start = REBASE_AT_MS - MINUTES * M
    app, clock, _, _, _ = run(start, None)
    before = clock.now_ms()
    app.rebase(REBASE_SHIFT_MS)
    assert clock.now_ms() == before - REBASE_SHIFT_MS
    old = [(path, value) for path, value in stored_ints(app)
           if before - 4 * 3_600_000 <= value <= before + 4 * 3_600_000]
    assert old == []
    assert all(TIME_FLOOR_MS <= value <= SMALL_INT_MAX for path, value in stored_ints(app)
               if not path.endswith(("epoch_ms", "crc")))


def test_in_micropython_the_tick_allocates_nothing_past_2_30_2_31_and_2_32_ms():
    """The whole app tick (PumpApp.step) in the VM, the clock started just below each
    power: the first tick moves the epoch, then no tick allocates. The same tick with the
    epoch never moved allocates on every tick (the measurement sees it)."""
    from tools.mpvm import run_micropython

    out = run_micropython(str(ROOT / "tools" / "bench" / "epoch_tick_vm.py"),
                          lib_dirs=[str(ROOT / "firmware" / "basalt"), str(ROOT / "boards")])
    result = json.loads(out.strip().splitlines()[-1])
    assert result.pop("no_epoch_2**30") >= 16
    for power in (30, 31, 32):
        assert result["uptime_ms_2**%d" % power] > 1 << power  # it ran past the power
        assert result["now_ms_2**%d" % power] < REBASE_AT_MS
        assert result["basal_2**%d" % power] == 0
        assert result["bolus_2**%d" % power] == 0
