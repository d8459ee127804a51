"""Two small rules from the review (issue 18, item 6), through the real app:

- loop_mode and carbs wait for the boot screen like every dose command (the command
  table's ACK guard): refused before boot_ack, changing nothing, accepted after;
- max IOB counts net insulin on board (boluses plus basal above or below the schedule),
  as oref0 does: after a long suspend a bolus may take bolus-only IOB above max
  IOB, by at most the scheduled basal the suspend left out (the highest scheduled rate
  times the area under the insulin curve). See docs/developer-guide.md, "Max IOB counts
  net insulin".
"""

import json
from pathlib import Path

import pytest

from basalt.core.commands import ACK, COMMANDS
from basalt.core.errors import LimitExceeded, NotAllowedNow
from basalt.core.insulin import iob_fraction, preset_peak
from basalt.core.settings import parse_settings_text
from basalt.core.units import MS_PER_HOUR, MS_PER_MIN
from basalt.storage.journal import Journal
from host_tests.test_journal_recovery import boot_on_settings_file
from host_tests.vectors.vectorkit import bolus_room_mu
from tools.fake_storage import FakeStorage

EXAMPLE = (Path(__file__).resolve().parents[1] / "settings" / "example.json").read_text()


def booted(obj=None):
    """A Keeper-backed pump with a settings file, booted and waiting for boot_ack."""
    storage = FakeStorage()
    text = EXAMPLE if obj is None else json.dumps(obj)
    storage.files["settings.json"] = bytearray(text.encode())
    return boot_on_settings_file(storage), storage


def journal_kinds(storage):
    return [r.kind for r in Journal(storage).read().records]


@pytest.mark.parametrize("cmd", [{"cmd": "loop_mode", "mode": "closed"},
                                 {"cmd": "carbs", "grams": 40}])
def test_loop_mode_and_carbs_wait_for_the_boot_screen(cmd):
    assert ACK in COMMANDS[cmd["cmd"]].guards
    app, storage = booted()
    assert app.keeper.awaiting_ack and app.loop.mode == "off"
    before = (app.loop.mode, json.dumps(app.loop.state))
    with pytest.raises(NotAllowedNow, match="acknowledge the boot screen first") as refused:
        app.command(cmd)
    assert cmd["cmd"] in str(refused.value)  # the message names the command
    app.step()
    assert (app.loop.mode, json.dumps(app.loop.state)) == before  # nothing changed
    assert cmd["cmd"] not in journal_kinds(storage)

    app.command({"cmd": "boot_ack"})
    app.command(cmd)
    app.step()
    if cmd["cmd"] == "loop_mode":
        assert app.loop.mode == "closed"
    else:
        assert [entry[1] for entry in app.loop.state["carbs"]] == [40]
    assert cmd["cmd"] in journal_kinds(storage)


# ----- max IOB counts net insulin --------------------------------------------------------

RATE_MU_H = 1_200
MAX_IOB_MU = 5_000


def net_iob_settings():
    obj = parse_settings_text(EXAMPLE)
    obj["basal"] = {"active": "Flat", "profiles": {"Flat": [["00:00", 1.2]]}}
    obj["limits"] = {"max_bolus_u": 10, "max_basal_u_h": 3, "max_iob_u": 5,
                     "max_bolus_60min_u": 15, "max_daily_u": 80}
    obj["alarms"] = dict(obj["alarms"], auto_off_h=0, suspend_reminder_min=0)
    return obj


def run(app, ms):
    end = app.clock.now_ms() + ms
    while app.clock.now_ms() < end:
        app.clock.advance(1_000)
        app.step()


def basal_left_out_bound_mu(rate_mu_h, insulin_type, duration_h):
    """The most net IOB a suspend can take below zero: every minute of scheduled basal
    in the last duration of action, each with what of it would still be on board (the
    tracker counts a minute's insulin from its start, so the fraction at t)."""
    peak = preset_peak(insulin_type)
    minutes = duration_h * 60
    area_min = sum(iob_fraction(t, peak, minutes) for t in range(minutes))
    return int(rate_mu_h * area_min / 60) + 1


def test_after_a_long_suspend_bolus_iob_can_pass_max_iob_by_the_basal_left_out_only():
    obj = net_iob_settings()
    app, _ = booted(obj)
    app.command({"cmd": "boot_ack"})
    app.command({"cmd": "new_reservoir", "units": 200})
    app.command({"cmd": "resume"})
    run(app, 7 * MS_PER_HOUR)  # basal as scheduled: net IOB 0
    assert abs(app.iob.iob_mu(app.clock.now_ms())) <= 5
    app.command({"cmd": "suspend"})
    run(app, 7 * MS_PER_HOUR)  # longer than the 6 h of insulin action: the deepest deficit
    now = app.clock.now_ms()
    net = app.iob.iob_mu(now)
    bound = basal_left_out_bound_mu(RATE_MU_H, "rapid_adult", 6)
    assert -bound <= net < -2_300  # about 2.4 U of the scheduled basal is not on board

    app.command({"cmd": "resume"})
    room = bolus_room_mu(app.engine, app.clock.now_ms())
    # The rule: net IOB + the bolus <= max IOB; net IOB is negative, so the room is more.
    assert room == MAX_IOB_MU - app.iob.iob_mu(app.clock.now_ms()) > MAX_IOB_MU
    app.command({"cmd": "bolus", "units": room // 10 * 10 / 1000})
    run(app, 10 * MS_PER_MIN)
    now = app.clock.now_ms()
    bolus_iob = app.iob.bolus_iob_mu(now)
    ratio = bolus_iob / MAX_IOB_MU
    # What the review saw: bolus-only IOB well above max IOB (here about 1.48 x; 1.64 x
    # with more basal per unit of max IOB) ...
    assert 1.4 < ratio < 1.5, ratio
    # ... while net IOB, the rule, is at max IOB (a little above it for a while: the
    # missing basal's deficit fades faster than a fresh bolus at first), so the next
    # bolus is refused ...
    assert MAX_IOB_MU - 100 <= app.iob.iob_mu(now) <= MAX_IOB_MU * 105 // 100
    with pytest.raises(LimitExceeded, match="max insulin on board"):
        app.command({"cmd": "bolus", "units": 0.5})
    # ... and the excess is bounded by the basal the suspend left out: 1 + 1.2 U/h x the
    # area under the 6 h curve (about 2 h) / 5 U, whatever the suspend's length.
    assert bolus_iob <= MAX_IOB_MU + bound
    assert ratio <= 1 + bound / MAX_IOB_MU < 1.5


def test_without_a_suspend_bolus_iob_stays_within_max_iob():
    app, _ = booted(net_iob_settings())
    app.command({"cmd": "boot_ack"})
    app.command({"cmd": "new_reservoir", "units": 200})
    app.command({"cmd": "resume"})
    run(app, 7 * MS_PER_HOUR)
    for _ in range(4):  # bolus all the room, four times in an hour
        room = bolus_room_mu(app.engine, app.clock.now_ms())
        if room >= 10:
            app.command({"cmd": "bolus", "units": room // 10 * 10 / 1000})
        run(app, 15 * MS_PER_MIN)
        assert app.iob.bolus_iob_mu(app.clock.now_ms()) <= MAX_IOB_MU + 5
