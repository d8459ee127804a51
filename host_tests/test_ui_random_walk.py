"""The random walk (tools/screens/walk.py): random presses with random timing, bounces, long
holds and idle gaps through the decoder, the menu and the real PumpApp. No dose without
a confirmation that showed it, never more than shown, no crash.

`make test` walks 6,000 key events (a few seconds); the benchmark
(`python -m tools.bench ui`) walks 1,000,000, and so does
HYPOTHESIS_PROFILE=thorough.
"""

import os

import pytest

from tools.screens import walk

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"


@pytest.mark.parametrize("keys,events", [(4, 4_000), (3, 2_000)])
def test_random_walk_never_doses_unconfirmed(keys, events):
    events = 1_000_000 if THOROUGH else events
    result = walk.walk(events, seed=keys, keys=keys)
    assert result["events"] >= events
    assert result["doses_confirmed"] > 0 and result["doses_started"] > 0


def test_the_walk_catches_a_dose_sent_from_the_wrong_screen():
    """The checker itself can fail: a menu that sends a bolus from a list is caught."""
    walker = walk.Walker(seed=1)
    walker.ui.menu.emit({"cmd": "bolus", "units": "1"})
    with pytest.raises(walk.WalkViolation, match="not a confirmation"):
        walker.ui.apply_commands(walker.clock.now_ms())


def test_the_walk_catches_a_dose_larger_than_shown():
    walker = walk.Walker(seed=1)
    walker.ui.checked.append({"cmd": "bolus", "units": "1"})
    walker.app.command({"cmd": "bolus", "units": "1.5"})
    with pytest.raises(walk.WalkViolation, match="confirmation showed"):
        walker.poll(10)


def test_amounts_of_commands():
    assert walk.amounts_of({"cmd": "dual_bolus", "units": "4", "now_units": "1.7",
                            "minutes": 90}) == ["4.00", "1.70"]
    assert walk.amounts_of({"cmd": "temp_basal", "percent": 50, "minutes": 60}) == ["50"]
