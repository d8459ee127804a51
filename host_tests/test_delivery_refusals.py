"""The delivery engine's refusals: the exact messages a user or host sees, the error's
command or field, and nothing changed (the texts are built only on refusal, from
basalt.core.delivery_refusals)."""

import pytest

from basalt.core.board_file import load_board
from basalt.core.delivery import STOP_EMPTY, STOP_USER, DeliveryEngine
from basalt.core.errors import InvalidValue, NotAllowedNow
from basalt.core.units import fmt_milli
from boards import sim as sim_board
from host_tests.vectors.vectorkit import engine_snapshot
from tools.fakes import FakeIob, open_limits

BOARD = load_board(sim_board.BOARD)


def running(fill_mu=300_000):
    engine = DeliveryEngine(BOARD, 0, open_limits(), FakeIob())
    engine.set_profile(0, "P", [(0, 1_000)])
    engine.new_reservoir(0, fill_mu)
    engine.resume(0)
    return engine


def suspended_priming():
    engine = running()
    engine.suspend(0)
    engine.prime(0, 2_000)
    return engine


CASES = [
    (lambda: running(), lambda e: e.cancel_bolus(10), NotAllowedNow,
     "cancel bolus refused: no bolus is running"),
    (lambda: running(), lambda e: e.cancel_temp_basal(10), NotAllowedNow,
     "cancel temp basal refused: no temp basal is running"),
    (lambda: running(), lambda e: e.resume(10), NotAllowedNow, "resume refused: not suspended"),
    (lambda: running(), lambda e: e.prime(10, 1_000), NotAllowedNow,
     "prime refused: suspend delivery first"),
    (lambda: running(), lambda e: e.new_reservoir(10, 100_000), NotAllowedNow,
     "new reservoir refused: suspend delivery first"),
    (suspended_priming, lambda e: e.resume(10), NotAllowedNow,
     "resume refused: priming is in progress"),
    (suspended_priming, lambda e: e.prime(10, 1_000), NotAllowedNow,
     "prime refused: priming is already in progress"),
    (suspended_priming, lambda e: e.new_reservoir(10, 100_000), NotAllowedNow,
     "new reservoir refused: priming is in progress"),
    (lambda: running(), lambda e: (e.bolus(0, 5_000), e.bolus(10, 1_000)), NotAllowedNow,
     "bolus refused: a bolus is being delivered; wait or cancel it"),
    (lambda: running(), lambda e: (e.extended_bolus(0, 2_000, 60),
                                   e.dual_bolus(10, 2_000, 1_000, 60)), NotAllowedNow,
     "dual-wave bolus refused: an extended bolus is running; cancel it first"),
    (lambda: running(fill_mu=1_000), lambda e: (e.suspend(0), e.resume(0), e.bolus(0, 2_000)),
     NotAllowedNow, "bolus refused: 2 U is more than the %s U left in the reservoir for new "
     "doses" % fmt_milli(BOARD.mu_for_usteps(BOARD.usteps_for_mu(1_000)))),
    (lambda: running(), lambda e: (e.suspend(0), e.suspend(10)), NotAllowedNow,
     "suspend refused: delivery is already stopped (suspended)"),
    (lambda: running(), lambda e: (e.suspend(0), e.restore_temp(10, 500, None, 60_000,
                                                                 60_000)),
     NotAllowedNow, "resume temp basal refused: pump is stopped (suspended)"),
    (lambda: running(), lambda e: e.restore(10, 1_000, 0, None), InvalidValue,
     "restore stop reason: None is not allowed; allowed: a reason: the pump restarts stopped "
     "until the user has seen the boot screen"),
]


@pytest.mark.parametrize("make, act, error, message", CASES)
def test_each_refusal_says_what_and_why(make, act, error, message):
    engine = make()
    with pytest.raises(error) as raised:
        act(engine)
    assert str(raised.value) == message


def test_a_refused_command_changes_nothing():
    engine = suspended_priming()
    before = engine_snapshot(engine)
    for act in (lambda: engine.resume(0), lambda: engine.prime(0, 1_000),
                lambda: engine.new_reservoir(0, 1_000)):
        with pytest.raises(NotAllowedNow):
            act()
    assert engine_snapshot(engine) == before


def test_a_stop_that_needs_a_new_reservoir_says_so():
    engine = running(fill_mu=100)
    engine.tick(3_600_000)  # runs dry
    assert engine.stop_reason == STOP_EMPTY
    with pytest.raises(NotAllowedNow) as raised:
        engine.resume(3_600_000)
    assert str(raised.value) == "resume refused: reservoir empty; fit a new reservoir first"
    assert raised.value.command == "resume" and engine.stop_reason != STOP_USER


def test_the_engine_raises_by_the_refusal_tables_numbers():
    # core.delivery and delivery_rare repeat delivery_refusals' names as private consts (free on
    # MicroPython, where a const is no attribute): they must be the same numbers.
    import re
    from pathlib import Path

    from basalt.core import delivery_refusals

    core = Path(__file__).parents[1] / "firmware/basalt/core"
    for module, least in (("delivery.py", 10), ("delivery_rare.py", 8)):
        pairs = re.findall(r"^_([A-Z_]+) = const\((\d+)\)", (core / module).read_text(), re.M)
        assert len(pairs) >= least
        for name, number in pairs:
            assert getattr(delivery_refusals, name) == int(number), (module, name)
