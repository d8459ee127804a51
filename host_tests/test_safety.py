"""The safety gate: every dose path is checked against the limits; a refusal names the
limit and by how much, is recorded, and delivers nothing; delivery itself never
exceeds the daily or 60-minute limits; the gate's inputs are type- and range-checked."""

import ast
from pathlib import Path

import pytest

from basalt.core import command_engine
from basalt.core.delivery import DeliveryEngine
from basalt.core.errors import ConfigError, InvalidValue, LimitExceeded, NotAllowedNow
from basalt.core.safety import (
    BUCKET_MS,
    DAY_BUCKETS,
    HOUR_BUCKETS,
    Limits,
    SafetyGate,
    Window,
    checked_limits,
)
from basalt.core.units import MS_PER_HOUR, MS_PER_MIN, PL_PER_MU
from host_tests.vectors.vectorkit import bolus_room_mu, engine_snapshot
from tools.fakes import FakeIob, open_limits

ROOT = Path(__file__).resolve().parents[1]


def _board():
    from tools import boardfiles

    return boardfiles.load("sim")


BOARD = _board()
V = BOARD.ustep_volume_pl


def limits(bolus=10_000, basal=2_000, iob=20_000, hour=15_000, daily=60_000):
    return Limits(max_bolus_mu=bolus, max_basal_mu_h=basal, max_iob_mu=iob,
                  max_bolus_60min_mu=hour, max_daily_mu=daily)


def engine(lim=None, iob=0, rate=1_000, fill=300_000):
    iob_source = FakeIob(iob)
    e = DeliveryEngine(BOARD, 0, lim or limits(), iob_source)
    e.set_profile(0, "Day", [(0, rate)])
    e.new_reservoir(0, fill)
    e.resume(0)
    e.pop_events()
    return e


def without_events(snapshot):
    snapshot = dict(snapshot)
    snapshot.pop("events")
    return snapshot


# ----- refusals: which limit, by how much, recorded, nothing changed ------------------

def _bolus_after(amount_before, at_ms):
    def setup(e):
        e.bolus(0, amount_before)
        e.tick(at_ms)
        return at_ms
    return setup


def _nothing(e):
    e.tick(MS_PER_MIN)
    return MS_PER_MIN


REFUSALS = [
    # (id, limits, iob, setup(engine) -> now, call(engine, now), limit, message)
    ("bolus-over-max", limits(), 0, _nothing, lambda e, t: e.bolus(t, 12_000), "max_bolus",
     "bolus 12 U: max bolus is 10 U (2 U over)"),
    ("extended-over-max", limits(), 0, _nothing,
     lambda e, t: e.extended_bolus(t, 10_010, 60), "max_bolus",
     "extended bolus 10.01 U: max bolus is 10 U (0.01 U over)"),
    ("dual-over-max", limits(), 0, _nothing, lambda e, t: e.dual_bolus(t, 11_000, 5_000, 60),
     "max_bolus", "dual-wave bolus 11 U: max bolus is 10 U (1 U over)"),
    ("loop-bolus-over-max", limits(), 0, _nothing, lambda e, t: e.auto_bolus(t, 10_500),
     "max_bolus", "loop bolus 10.5 U: max bolus is 10 U (0.5 U over)"),
    ("bolus-over-iob", limits(), 15_000, _nothing, lambda e, t: e.bolus(t, 6_000), "max_iob",
     "bolus 6 U: max insulin on board is 20 U, 15 U on board or due (1 U over)"),
    ("bolus-over-iob-with-running-bolus", limits(iob=12_000), 0,
     lambda e: e.extended_bolus(0, 8_000, 480) or _nothing(e),
     lambda e, t: e.bolus(t, 5_000), "max_iob", None),
    ("bolus-over-60min", limits(), 0, _bolus_after(10_000, 10 * MS_PER_MIN),
     lambda e, t: e.bolus(t, 6_000), "max_bolus_60min", None),
    ("bolus-over-daily", limits(daily=15_000), 0, _bolus_after(10_000, 2 * MS_PER_HOUR),
     lambda e, t: e.bolus(t, 4_000), "max_daily", None),
    ("temp-rate-over-max-basal", limits(), 0, _nothing,
     lambda e, t: e.start_temp_basal(t, 60, rate_mu_h=2_500), "max_basal",
     "temp basal 2.5 U/h: max basal is 2 U/h (0.5 U/h over)"),
    ("temp-percent-over-max-basal", limits(), 0, _nothing,
     lambda e, t: e.start_temp_basal(t, 60, percent=250), "max_basal",
     "temp basal 2.5 U/h (250 % of the scheduled rate): max basal is 2 U/h (0.5 U/h over)"),
    ("loop-temp-over-max-basal", limits(), 0, _nothing,
     lambda e, t: e.auto_temp_basal(t, 2_001, 30), "max_basal",
     "loop temp basal 2.001 U/h: max basal is 2 U/h (0.001 U/h over)"),
    ("loop-temp-high-at-max-iob", limits(), 20_000, _nothing,
     lambda e, t: e.auto_temp_basal(t, 1_500, 30), "max_iob",
     "loop temp basal 1.5 U/h: insulin on board 20 U is at the max of 20 U, so at most the "
     "scheduled 1 U/h (0.5 U/h over)"),
    ("profile-save-over-max-basal", limits(), 0, _nothing,
     lambda e, t: e.set_profile(t, "Night", [(0, 800), (360, 2_200)]), "max_basal",
     "save profile Night 2.2 U/h at 06:00: max basal is 2 U/h (0.2 U/h over)"),
    ("profile-edit-active-over-max-basal", limits(), 0, _nothing,
     lambda e, t: e.set_profile(t, "Day", [(0, 3_000)]), "max_basal", None),
    ("cmd-bolus-over-max", limits(), 0, _nothing,
     lambda e, t: command_engine.apply(e, t, {"cmd": "bolus", "units": 10.5}), "max_bolus",
     "bolus 10.5 U: max bolus is 10 U (0.5 U over)"),
    ("cmd-temp-over-max-basal", limits(), 0, _nothing,
     lambda e, t: command_engine.apply(e, t, {"cmd": "temp_basal", "rate": 4, "minutes": 30}),
     "max_basal", "temp basal 4 U/h: max basal is 2 U/h (2 U/h over)"),
]


@pytest.mark.parametrize("lim, iob, setup, call, limit, message",
                         [pytest.param(*case[1:], id=case[0]) for case in REFUSALS])
def test_refusal_names_the_limit_is_recorded_and_changes_nothing(lim, iob, setup, call, limit,
                                                                 message):
    e, twin = engine(lim, iob), engine(lim, iob)
    now = setup(e)
    setup(twin)
    e.pop_events()
    twin.pop_events()
    before = without_events(engine_snapshot(e))
    with pytest.raises(LimitExceeded) as caught:
        call(e, now)
    error = caught.value
    assert isinstance(error, NotAllowedNow)
    assert error.limit == limit and error.over > 0
    if message is not None:
        assert str(error) == message
    assert without_events(engine_snapshot(e)) == before
    events = e.pop_events()
    assert [kind for kind, _ in events] == ["limit_refused"]
    assert events[0][1]["limit"] == limit and events[0][1]["over"] == error.over
    assert events[0][1]["reason"] == str(error) and events[0][1]["at_ms"] == now
    # A day later both engines delivered exactly the same: the refusal gave nothing.
    for t in range(now, now + 24 * MS_PER_HOUR, 10 * MS_PER_MIN):
        assert e.tick(t) == twin.tick(t)
    assert without_events(engine_snapshot(e)) == without_events(engine_snapshot(twin))


def test_window_refusals_say_what_was_given_and_by_how_much():
    e = engine(limits(), 0)
    e.bolus(0, 10_000)
    e.tick(10 * MS_PER_MIN)
    with pytest.raises(LimitExceeded) as caught:
        e.bolus(10 * MS_PER_MIN, 6_000)
    # 10 U delivered (6909 steps, 9.999 U, shown rounded up) + 6 U > 15 U.
    assert str(caught.value) == ("bolus 6 U: max bolus in 60 min is 15 U, 10 U given in "
                                 "the last 60 min or due (1 U over)")
    e.bolus(10 * MS_PER_MIN, 5_000)  # what fits is accepted


def test_sixty_minute_window_counts_what_running_boluses_still_owe():
    e = engine(limits(), 0)
    e.extended_bolus(0, 10_000, 480)  # 8 h: almost all of it still owed
    e.tick(MS_PER_MIN)
    with pytest.raises(LimitExceeded) as caught:
        e.bolus(MS_PER_MIN, 5_010)
    assert caught.value.limit == "max_bolus_60min"


def test_sixty_minute_window_slides():
    e = engine(limits(), 0)
    e.bolus(0, 10_000)
    for t in range(0, 62 * MS_PER_MIN, MS_PER_MIN):
        e.tick(t)
    with pytest.raises(LimitExceeded):
        e.bolus(61 * MS_PER_MIN, 10_000)  # the first bolus is still within 13 buckets
    e.tick(70 * MS_PER_MIN)
    e.bolus(70 * MS_PER_MIN, 10_000)  # 70 min later the first has left the window


@pytest.mark.parametrize("iob", [0, 4_000, 9_000, 12_000])
def test_room_is_the_largest_bolus_accepted(iob):
    e = engine(limits(), iob)
    e.extended_bolus(0, 7_000, 60)
    e.tick(MS_PER_MIN)
    room = bolus_room_mu(e, MS_PER_MIN)
    assert 0 < room <= min(8_000, 20_000 - iob - 6_800)
    room -= room % 10
    twin = engine(limits(), iob)
    twin.extended_bolus(0, 7_000, 60)
    twin.tick(MS_PER_MIN)
    with pytest.raises(LimitExceeded):
        e.bolus(MS_PER_MIN, room + 10)
    twin.bolus(MS_PER_MIN, room)


def test_max_iob_counts_net_iob_from_the_provider_each_time():
    iob = FakeIob(0)
    e = DeliveryEngine(BOARD, 0, limits(), iob)
    e.set_profile(0, "Day", [(0, 1_000)])
    e.new_reservoir(0, 100_000)
    e.resume(0)
    iob.value = 19_990
    with pytest.raises(LimitExceeded):
        e.bolus(0, 20)
    iob.value = -5_000  # net IOB below zero (basal was suspended) leaves more room
    e.bolus(0, 10_000)


@pytest.mark.parametrize("answer", [None, 1.5, "3", True, 10 ** 7, -10 ** 7])
def test_a_nonsense_iob_answer_refuses_the_dose(answer):
    iob = FakeIob(answer)
    e = DeliveryEngine(BOARD, 0, limits(), iob)
    e.set_profile(0, "Day", [(0, 1_000)])
    e.new_reservoir(0, 100_000)
    e.resume(0)
    before = without_events(engine_snapshot(e))
    with pytest.raises(NotAllowedNow, match="insulin on board is unknown"):
        e.bolus(0, 1_000)
    assert without_events(engine_snapshot(e)) == before


def test_a_failing_iob_provider_refuses_the_dose():
    class Broken:
        def iob_mu(self, now_ms):
            raise ZeroDivisionError("no model")

    e = DeliveryEngine(BOARD, 0, limits(), Broken())
    e.set_profile(0, "Day", [(0, 1_000)])
    e.new_reservoir(0, 100_000)
    e.resume(0)
    with pytest.raises(NotAllowedNow, match="unknown .no model"):
        e.bolus(0, 1_000)
    assert not e.bolus_running()


# ----- delivery over time: the daily maximum stops delivery ---------------------------

def test_daily_maximum_stops_basal_with_an_event_and_resume_waits_for_room():
    # 2 U/h basal against a 10 U daily maximum: stopped after 5 h.
    e = engine(limits(basal=2_000, daily=10_000, hour=10_000), rate=2_000)
    cap = BOARD.usteps_for_mu(10_000)
    t = 0
    while e.stop_reason is None:
        t += MS_PER_MIN
        e.tick(t)
    assert e.stop_reason == "limit reached: max daily insulin"
    assert 5 * MS_PER_HOUR - MS_PER_MIN <= t <= 5 * MS_PER_HOUR + MS_PER_MIN
    assert e.basal_steps == cap == e.gate.delivered_steps
    kinds = [kind for kind, _ in e.pop_events()]
    assert kinds == ["limit_reached", "stopped"]
    with pytest.raises(NotAllowedNow, match="left under the max daily insulin of 10 U"):
        e.resume(t + MS_PER_HOUR)
    with pytest.raises(NotAllowedNow):
        e.bolus(t + MS_PER_HOUR, 100)  # stopped: no bolus either
    e.tick(t + 22 * MS_PER_HOUR)
    assert e.basal_steps == cap  # nothing while stopped
    e.resume(t + 22 * MS_PER_HOUR)  # the first hours left the 24 h window
    e.tick(t + 23 * MS_PER_HOUR)
    assert e.basal_steps > cap


def test_daily_maximum_also_stops_a_running_bolus():
    e = engine(limits(bolus=10_000, hour=10_000, daily=12_000, basal=2_000), rate=2_000)
    e.tick(MS_PER_HOUR)  # 2 U of basal
    e.extended_bolus(MS_PER_HOUR, 10_000, 480)  # fits at request: 2 + 10 = 12
    for t in range(MS_PER_HOUR, 10 * MS_PER_HOUR, 5 * MS_PER_MIN):
        e.tick(t)
    assert e.stop_reason == "limit reached: max daily insulin"
    assert not e.bolus_running()
    assert e.basal_steps + e.bolus_steps == BOARD.usteps_for_mu(12_000)
    reports = [d for k, d in e.pop_events() if k == "bolus_cancelled"]
    assert reports and reports[0]["delivered_steps"] < BOARD.usteps_for_mu(10_000)


def test_the_gate_caps_delivery_even_if_the_engine_miscounted_what_is_owed():
    """Defence in depth: corrupt a running bolus so it owes more than was checked."""
    e = engine(limits(), rate=0)
    e.bolus(0, 10_000)
    e._now_part.steps *= 3  # a bug that would deliver 30 U
    e._now_part.max_span = 1
    t = 0
    while e.bolus_running():
        t += 10_000
        e.tick(t)
    assert e.bolus_steps == BOARD.usteps_for_mu(15_000)  # stopped at the 60-min max
    assert e.stop_reason == "limit reached: max bolus in 60 min"


# ----- limits changes, profile activation, loop entry points --------------------------

def test_lowering_max_basal_below_the_active_profile_is_refused():
    e = engine(limits(basal=2_000), rate=1_500)
    before = without_events(engine_snapshot(e))
    with pytest.raises(LimitExceeded, match="active profile Day 1.5 U/h"):
        e.set_limits(0, limits(basal=1_000))
    assert e.gate.limits.max_basal_mu_h == 2_000
    assert without_events(engine_snapshot(e)) == before
    e.set_limits(0, limits(basal=1_500))
    assert e.gate.limits.max_basal_mu_h == 1_500
    assert e.pop_events()[-1][0] == "limits_set"


def test_lowering_max_basal_below_a_running_temp_is_refused():
    e = engine(limits(basal=3_000), rate=1_000)
    e.start_temp_basal(0, 60, rate_mu_h=2_500)
    with pytest.raises(LimitExceeded, match="running temp basal 2.5 U/h"):
        e.set_limits(0, limits(basal=2_000))
    e.start_temp_basal(0, 60, percent=200)
    with pytest.raises(LimitExceeded, match="200 % temp basal"):
        e.set_limits(0, limits(basal=1_500))


def test_activating_a_profile_saved_under_higher_limits_is_refused():
    e = engine(limits(basal=3_000), rate=1_000)
    e.set_profile(0, "Sick", [(0, 2_500)])
    e.set_limits(0, limits(basal=2_000))
    with pytest.raises(LimitExceeded, match="activate profile Sick 2.5 U/h at 00:00"):
        e.activate_profile(0, "Sick")
    assert e.profiles.active == "Day"


def test_loop_entry_points_deliver_through_the_gate_and_say_so():
    e = engine(limits(), iob=0)
    e.auto_temp_basal(0, 1_800, 30)
    e.auto_bolus(0, 500)
    events = dict(e.pop_events())
    assert events["temp_basal_started"]["source"] == "loop"
    assert events["bolus_started"]["source"] == "loop"
    e.tick(30 * MS_PER_MIN)
    assert e.bolus_steps == BOARD.usteps_for_mu(500)


def test_loop_may_lower_basal_at_max_iob_but_not_raise_it():
    e = engine(limits(), iob=25_000, rate=1_000)
    e.auto_temp_basal(0, 0, 30)  # a zero temp is always allowed
    e.auto_temp_basal(0, 1_000, 30)  # the scheduled rate too
    with pytest.raises(LimitExceeded) as caught:
        e.auto_temp_basal(0, 1_010, 30)
    assert caught.value.limit == "max_iob"


def test_halt_stops_everything_and_resume_undoes_it():
    e = engine(limits())
    e.bolus(0, 2_000)
    assert e.halt(0, "occlusion") is True
    assert e.stop_reason == "occlusion" and not e.bolus_running()
    assert e.halt(0, "auto-off") is False  # already stopped: the first reason stays
    assert e.tick(MS_PER_HOUR) == 0
    e.resume(MS_PER_HOUR)
    assert e.stop_reason is None
    with pytest.raises(InvalidValue):
        e.halt(MS_PER_HOUR, "")


# ----- the gate's own inputs: types and ranges --------------------------------------

@pytest.mark.parametrize("key, value, allowed", [
    ("max_bolus_mu", 25_010, "10 to 25000 mU"),
    ("max_bolus_mu", 5, "10 to 25000 mU"),
    ("max_bolus_mu", 10.0, "10 to 25000 mU"),
    ("max_bolus_mu", True, "10 to 25000 mU"),
    ("max_bolus_mu", None, "10 to 25000 mU"),
    ("max_basal_mu_h", -1, "0 to 30000 mU/h"),
    ("max_basal_mu_h", 30_001, "0 to 30000 mU/h"),
    ("max_basal_mu_h", "2", "0 to 30000 mU/h"),
    ("max_iob_mu", float("nan"), "0 to 100000 mU"),
    ("max_daily_mu", 1_000_001, "10 to 1000000 mU"),
])
def test_bad_limits_are_refused_naming_the_key(key, value, allowed):
    lim = limits()
    setattr(lim, key, value)
    with pytest.raises(ConfigError) as caught:
        checked_limits(lim)
    assert caught.value.field == "limits." + key
    assert allowed in str(caught.value)
    with pytest.raises(ConfigError):
        DeliveryEngine(BOARD, 0, lim, FakeIob())


def test_limits_without_an_attribute_and_a_missing_iob_are_refused():
    class Partial:
        max_bolus_mu = 10_000

    with pytest.raises(ConfigError, match="limits.max_basal_mu_h"):
        DeliveryEngine(BOARD, 0, Partial(), FakeIob())
    with pytest.raises(ConfigError, match="iob_mu"):
        DeliveryEngine(BOARD, 0, limits(), object())
    with pytest.raises(TypeError):
        DeliveryEngine(BOARD, 0)  # no engine without limits


def test_limits_are_copied_so_a_later_edit_cannot_bypass_the_gate():
    lim = limits()
    e = engine(lim)
    lim.max_bolus_mu = 25_000
    with pytest.raises(LimitExceeded):
        e.bolus(0, 12_000)


@pytest.mark.parametrize("call, error", [
    (lambda g: g.check_bolus(0, "bolus", 1.5, 0), InvalidValue),
    (lambda g: g.check_bolus(0, "bolus", "1000", 0), InvalidValue),
    (lambda g: g.check_bolus(0, "bolus", 0, 0), InvalidValue),
    (lambda g: g.check_bolus(0, "bolus", 26_000, 0), InvalidValue),
    (lambda g: g.check_bolus(0, "bolus", 1_000, -1), InvalidValue),
    (lambda g: g.check_bolus(0, "bolus", 1_000, None), InvalidValue),
    (lambda g: g.check_rate("temp basal", 1.0), InvalidValue),
    (lambda g: g.check_rate("temp basal", -1), InvalidValue),
    (lambda g: g.check_rate("temp basal", 40_000), InvalidValue),
    (lambda g: g.check_rate("temp basal", None), InvalidValue),
])
def test_gate_inputs_of_the_wrong_type_or_range_are_typed_errors(call, error):
    events = []
    gate = SafetyGate(limits(), FakeIob(), BOARD, lambda kind, detail: events.append(kind))
    with pytest.raises(error):
        call(gate)
    assert gate.delivered_steps == 0 and events == []


# ----- bounded memory -------------------------------------------------------------

def test_windows_are_fixed_rings_that_forget_old_buckets():
    w = Window(HOUR_BUCKETS)
    for bucket in range(1_000):
        w.advance(bucket)
        w.add(bucket)
        assert len(w.sums) == HOUR_BUCKETS
        assert w.total == sum(range(max(0, bucket - HOUR_BUCKETS + 1), bucket + 1))
    w.advance(10 ** 6)  # a long gap clears everything
    assert w.total == 0 and w.sums == [0] * HOUR_BUCKETS


def test_gate_memory_does_not_grow_with_delivery():
    e = engine(open_limits(), rate=1_000)
    sizes = (len(e.gate._hour.sums), len(e.gate._day.sums))
    for t in range(0, 10 * 24 * MS_PER_HOUR, 7 * MS_PER_MIN):
        e.tick(t)
        if t % (6 * MS_PER_HOUR) == 0:
            e.bolus(t, 1_000)
    assert (len(e.gate._hour.sums), len(e.gate._day.sums)) == sizes == (HOUR_BUCKETS,
                                                                         DAY_BUCKETS)
    assert BUCKET_MS * (DAY_BUCKETS - 1) == 24 * MS_PER_HOUR


# ----- nothing bypasses the gate (structure) ------------------------------------------

def _method(tree, cls, name):
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == name:
                    return item
    raise AssertionError("%s.%s not found" % (cls, name))


def _lines(node):
    return {getattr(n, "lineno", None) for n in ast.walk(node)}


def test_steps_leave_the_engine_only_through_take_which_asks_the_gate():
    """The engine hands the app only self._owed (tick() returns it). It grows in one
    place, _take(), which asks the gate; elsewhere it is only set to zero."""
    tree = ast.parse((ROOT / "firmware" / "basalt" / "core" / "delivery.py").read_text())
    take = _lines(_method(tree, "DeliveryEngine", "_take"))
    grows, zeroed = [], []
    for node in ast.walk(tree):
        target = getattr(node, "target", None)
        targets = getattr(node, "targets", [target])
        for t in targets:
            if isinstance(t, ast.Attribute) and t.attr == "_owed":
                value = getattr(node, "value", None)
                is_zero = (isinstance(node, ast.Assign) and isinstance(value, ast.Constant)
                           and value.value == 0)
                (zeroed if is_zero else grows).append(node.lineno)
    # One exception: resume() re-seats the drive train after an occlusion back-off by
    # the take-up slack alarm_stop() recorded (travel, not insulin; never more than was
    # backed off).
    reseat = _lines(_method(tree, "DeliveryEngine", "resume"))
    outside = [line for line in grows if line not in take]
    assert grows and all(line in reseat for line in outside) and len(outside) <= 1, grows
    assert len(zeroed) == 2  # the constructor, and tick() handing the steps out
    calls = [n for n in ast.walk(_method(tree, "DeliveryEngine", "_take"))
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and n.func.attr == "take"]
    assert calls, "_take must ask the gate"


def test_every_dose_command_asks_the_gate_before_it_changes_anything():
    """Refused at the gate, each dose path leaves the engine exactly as it was."""
    paths = {
        "bolus": lambda e: e.bolus(0, 10),
        "extended": lambda e: e.extended_bolus(0, 10, 15),
        "dual": lambda e: e.dual_bolus(0, 20, 10, 15),
        "loop bolus": lambda e: e.auto_bolus(0, 10),
        "temp rate": lambda e: e.start_temp_basal(0, 15, rate_mu_h=10),
        "temp percent": lambda e: e.start_temp_basal(0, 15, percent=100),
        "loop temp": lambda e: e.auto_temp_basal(0, 10, 15),
        "save profile": lambda e: e.set_profile(0, "X", [(0, 10)]),
        "activate": lambda e: e.activate_profile(0, "Day"),
    }
    for name, call in paths.items():
        e = engine(limits())
        asked = []

        class Refuse:
            def __getattr__(self, attr, gate=e.gate, asked=asked):
                real = getattr(gate, attr)
                if attr.startswith("check"):
                    def refuse(*args, attr=attr, asked=asked):
                        asked.append(attr)
                        raise LimitExceeded("x", "max_bolus", 1, 0, 1, "refused")
                    return refuse
                return real

        e.gate = Refuse()
        before = without_events(engine_snapshot(e))
        with pytest.raises(LimitExceeded):
            call(e)
        assert asked, name
        assert without_events(engine_snapshot(e)) == before, name


def test_gate_counts_exactly_what_the_engine_released():
    e = engine(open_limits(), rate=1_300)
    released = 0
    for t in range(0, 30 * MS_PER_HOUR, 13 * MS_PER_MIN + 7):
        released += e.tick(t)
        if t % (3 * MS_PER_HOUR) < 13 * MS_PER_MIN:
            e.dual_bolus(t, 3_000, 1_000, 60) if not e.bolus_running() else None
    assert released == e.basal_steps + e.bolus_steps == e.gate.delivered_steps
    assert e.gate.delivered_steps * V // PL_PER_MU > 0


def test_window_totals_survive_a_reset_counted_as_recent():
    e = engine(limits(daily=20_000, hour=15_000))
    e.bolus(0, 10_000)
    e.tick(10 * MS_PER_MIN)
    hour, day = e.gate.carry_over()
    assert hour == BOARD.usteps_for_mu(10_000) and day > hour
    rebooted = engine(limits(daily=20_000, hour=15_000))
    rebooted.gate.restore(0, hour, day)
    with pytest.raises(LimitExceeded) as caught:
        rebooted.bolus(0, 6_000)
    assert caught.value.limit == "max_bolus_60min"
    rebooted.tick(61 * MS_PER_MIN)  # an hour after the reboot the hour window is free
    rebooted.bolus(61 * MS_PER_MIN, 5_000)
    for bad in ((-1, 0), (10, 5), (1.5, 2)):
        with pytest.raises(InvalidValue):
            rebooted.gate.restore(0, *bad)
