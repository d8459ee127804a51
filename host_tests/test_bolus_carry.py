"""Small boluses are exact: each bolus part takes the sub-microstep remainder the parts
before it left, so completed boluses total the exact amount asked rounded down to one
microstep, never more; a bolus never moves more than one microstep beyond the amount
confirmed; a cancel or a reset mid-bolus drops the remainder (less, never more); the
remainder survives a power cut in the checkpoint."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basalt.core import checkpoint as ckp
from basalt.core import restore
from basalt.core.delivery import DeliveryEngine
from basalt.core.errors import LimitExceeded, NotAllowedNow
from basalt.core.safety import Limits
from basalt.core.units import MS_PER_HOUR, PL_PER_MU
from host_tests.test_journal_recovery import Pump
from host_tests.vectors.vectorkit import engine_snapshot
from tools import sim
from tools.fakes import FakeIob, open_limits

BOARD = sim.load_sim_board()
V = BOARD.ustep_volume_pl


def engine(limits=None):
    e = DeliveryEngine(BOARD, 0, limits or open_limits(), FakeIob(), 0)
    e.set_profile(0, "P", [(0, 0)])  # no basal: every step is a bolus step
    e.new_reservoir(0, 300_000)
    e.resume(0)
    return e


def give(e, now, kind, amount, split=None, minutes=15):
    """Start one bolus and run it to its end; returns the time after it."""
    if kind == "normal":
        e.bolus(now, amount)
    elif kind == "extended":
        e.extended_bolus(now, amount, minutes)
    else:
        e.dual_bolus(now, amount, split, minutes)
    while e.bolus_running():
        now += 7 * 60_000
        e.tick(now)
    return now


boluses = st.lists(st.tuples(st.sampled_from(["normal", "extended", "dual"]),
                             st.integers(2, 200).map(lambda n: n * 10), st.integers(1, 99)),
                   min_size=1, max_size=25)


@settings(max_examples=60, deadline=None)
@given(boluses)
def test_completed_boluses_are_exact_to_one_microstep_and_never_above(series):
    e = engine()
    now = asked_pl = 0
    for kind, amount, percent in series:
        before = e.bolus_steps
        split = max(10, amount * percent // 100 // 10 * 10)
        if split >= amount:
            kind = "normal"
        now = give(e, now, kind, amount, split)
        asked_pl += amount * PL_PER_MU
        given_pl = e.bolus_steps * V
        assert 0 <= asked_pl - given_pl < V  # within one microstep, never above
        assert asked_pl - given_pl == e.bolus_carry_pl  # the remainder is what is owed
        # this bolus alone: never a microstep beyond what was confirmed
        assert (e.bolus_steps - before) * V < amount * PL_PER_MU + V


def test_ten_hundredths_deliver_a_tenth_of_a_unit_to_one_microstep():
    e = engine()
    now = 0
    for _ in range(10):
        now = give(e, now, "normal", 10)
    assert e.bolus_steps == 100 * PL_PER_MU // V  # 69 steps = 0.0999 U; rounding each: 60
    assert e.bolus_steps * V > 100 * PL_PER_MU - V


@pytest.mark.parametrize("how", ["cancel", "suspend"])
def test_a_cancelled_bolus_drops_the_remainder(how):
    e = engine()
    now = give(e, 0, "normal", 10)
    assert e.bolus_carry_pl == 10 * PL_PER_MU % V > 0
    e.bolus(now, 5_000)
    e.tick(now + 1_000)
    if how == "cancel":
        e.cancel_bolus(now + 1_000)
    else:
        e.suspend(now + 1_000)
    assert e.bolus_carry_pl == 0


def test_the_gate_counts_the_carried_step_before_it_starts_never_mid_bolus():
    """A bolus that fits the 60-min limit only without its carried step is refused up
    front (nothing changes), not stopped by the limit halfway."""
    steps_cap = BOARD.usteps_for_mu(1_000)
    e = engine(Limits(max_bolus_mu=1_000, max_basal_mu_h=1_000, max_iob_mu=10_000,
                      max_bolus_60min_mu=1_000, max_daily_mu=10_000))
    e.bolus_carry_pl = V - 1  # as after boluses that left nearly a step
    amount = 1_000  # whole steps: steps_cap, plus the carried one
    assert (amount * PL_PER_MU + V - 1) // V == steps_cap + 1 > BOARD.usteps_for_mu(amount)
    before = engine_snapshot(e)
    with pytest.raises(LimitExceeded) as refused:
        e.bolus(0, amount)
    assert refused.value.limit == "max_bolus_60min"
    after = engine_snapshot(e)
    assert after.pop("events") == before.pop("events") + 1  # the refusal, recorded
    assert after == before
    e.bolus(0, amount - 10)  # one that fits with its carried step runs to its end
    e.tick(MS_PER_HOUR)
    assert e.stop_reason is None and not e.bolus_running()


@pytest.mark.parametrize("steps, ok", [(None, True), (6, True), (7, True), (8, False),
                                       (5, False)])
def test_the_gate_refuses_a_bolus_moving_more_than_one_step_beyond_its_amount(steps, ok):
    e = engine()
    amount = 10  # 6.9 microsteps on the sim board: 6 whole, 7 with a remainder
    assert BOARD.usteps_for_mu(amount) == 6
    if ok:
        e.gate.check_bolus(0, "bolus", amount, 0, steps)
    else:
        with pytest.raises(NotAllowedNow):
            e.gate.check_bolus(0, "bolus", amount, 0, steps)


# ----- power cuts ----------------------------------------------------------------------

def _ck(**fields):
    ck = ckp.empty(5)
    ck.update(state=ckp.STATE_DELIVERING, reservoir_steps=50_000, plunger_lo=1000,
              plunger_hi=1034, day_ms=0)
    ck.update(fields)
    return ckp.decode(ckp.encode(dict(ck, counter=1)))[0]


@pytest.mark.parametrize("fields, carry", [
    ({"bolus_carry_pl": 1234}, 1234),  # no bolus running: the remainder comes back
    ({"bolus_carry_pl": 1234, "b0_id": 2, "b0_kind": 1, "b0_programmed_mu": 500,
      "b0_lo": 3, "b0_hi": 20}, 0),  # interrupted: dropped, as by a cancel
    ({"bolus_carry_pl": V}, 0),  # not below one step of this board: nonsense, dropped
])
def test_the_restart_plan_restores_the_remainder_only_on_the_safe_side(fields, carry):
    assert restore.plan_restore(_ck(**fields), "ok", BOARD)["bolus_carry_pl"] == carry


def test_a_bolus_the_restart_ends_or_leaves_uncertain_drops_the_remainder():
    ck = _ck(bolus_carry_pl=1234, journal_seq=50)
    started_after = {(5, 9): ("normal", 500, 60)}  # never moved: closed at 0 U
    assert restore.plan_restore(ck, "ok", BOARD, unfinished=started_after)[
        "bolus_carry_pl"] == 0
    unsettled = _ck(bolus_carry_pl=1234, u_count=1, u_boot=4, u_programmed_mu=500,
                    u_lo_mu=0, u_hi_mu=500)
    assert restore.plan_restore(unsettled, "ok", BOARD)["bolus_carry_pl"] == 0
    assert restore.plan_restore(None, "CRC mismatch", BOARD)["bolus_carry_pl"] == 0


def test_a_version_2_checkpoint_restores_no_remainder():
    fields, fmt, size = ckp.layout(2)
    assert size == ckp.SIZE - 4 and "bolus_carry_pl" not in fields
    import struct

    from basalt.core import journal as jnl
    ck = _ck(bolus_carry_pl=999)
    body = struct.pack(fmt, *[2 if name == "version" else ck[name] for name in fields])
    old, why = ckp.decode(body + struct.pack("<I", jnl.crc(body)))
    assert why is None and restore.plan_restore(old, "ok", BOARD)["bolus_carry_pl"] == 0


def test_the_remainder_survives_a_power_cut_through_the_real_app():
    pump = Pump().setup()
    for _ in range(3):
        pump.app.command({"cmd": "bolus", "units": 0.01})
        pump.run(2_000)
    carry = pump.app.engine.bolus_carry_pl
    assert carry == 3 * 10 * PL_PER_MU % V > 0
    pump.run(1_000)  # the next checkpoint
    pump.motor.stop()
    pump.boot(ack=True)
    assert pump.app.engine.bolus_carry_pl == carry
