"""Fault injection: cut the power inside writes of a scripted day and reboot.

make test runs an evenly spread subset of the day's write points (the benchmark
`python -m tools.bench powercut --json` runs all of them). The sabotage tests prove the
checks can fail: a firmware that resumes a bolus or a raised temp basal is caught.
"""

import pytest

from basalt.core import checkpoint as ckp
from basalt.core import restore
from basalt.core.safety import SafetyGate
from basalt.core.units import MS_PER_HOUR
from basalt.storage import recovery
from basalt.storage.keeper import Keeper
from tools import sim
from tools.bench import powercut
from tools.fake_storage import FakeStorage, PowerCut

BOARD = sim.load_sim_board()


@pytest.fixture(scope="module")
def reference():
    return powercut.write_points(BOARD)


def test_the_reference_day_writes_everything_it_should(reference):
    run, sizes = reference
    view, error = powercut.read_back(run.storage)
    assert error is None
    kinds = {r.kind for r in view.records}
    for kind in ("boot", "bolus_started", "bolus_done", "bolus_cancelled", "bolus_part_done",
                 "temp_basal_started", "alarm_raised", "glucose", "settings_changed",
                 "basal_rate", "basal_summary", "stopped", "resumed"):
        assert kind in kinds
    assert len(sizes) > 500
    assert powercut.check(run, run.forward_total) == {
        "over": 0, "double": 0, "lost": 0, "unreadable": 0, "lease": 0, "limit_resets": 0,
        "iob_losses": 0, "reboots": 0}


def test_power_cuts_at_spread_write_points_lose_and_add_nothing(reference):
    run, sizes = reference
    plan = powercut.cut_plan(sizes, limit=24)
    totals = {"over": 0, "double": 0, "lost": 0, "unreadable": 0, "lease": 0,
              "limit_resets": 0, "iob_losses": 0, "reboots": 0}
    for cut_at, garbage in plan:
        for key, value in powercut.check(powercut.one(BOARD, cut_at, garbage),
                                         run.forward_total).items():
            totals[key] += value
    # every cut really happened, and none added insulin, repeated a bolus, lost a record,
    # reopened room under the 60-minute or daily limit or forgot insulin on board
    assert totals == {"over": 0, "double": 0, "lost": 0, "unreadable": 0, "lease": 0,
                      "limit_resets": 0, "iob_losses": 0, "reboots": len(plan)}


def _cuts_between(sizes, start_h, end_h, count):
    inside = [(s, n) for s, n, at in sizes if start_h * MS_PER_HOUR <= at < end_h * MS_PER_HOUR]
    step = max(1, len(inside) // count)
    return [s + n // 2 for s, n in inside[::step][:count]]


def test_a_firmware_that_restarts_raised_temps_is_caught(reference, monkeypatch):
    run, sizes = reference

    def resume_everything(plan, ck, profile):
        if ck["temp_type"]:  # every temp basal, from the start: unknown time ignored
            rate = ck["temp_value"] if ck["temp_type"] == ckp.TEMP_RATE else None
            pct = ck["temp_value"] if ck["temp_type"] == ckp.TEMP_PERCENT else None
            plan["temp"] = (rate, pct, ck["temp_duration_ms"], ck["temp_duration_ms"])

    monkeypatch.setattr(restore, "_plan_temp", resume_everything)
    over = sum(powercut.check(powercut.one(BOARD, cut), run.forward_total)["over"]
               for cut in _cuts_between(sizes, 17.05, 17.9, 4))
    assert over >= 1


def test_a_firmware_that_restarts_the_interrupted_bolus_is_caught(reference, monkeypatch):
    run, sizes = reference
    original = restore.plan_restore

    def restart_bolus(ck, status, *args):
        plan = original(ck, status, *args)
        plan["restart"] = ck and ck["b0_kind"] and ck["b0_programmed_mu"]
        return plan

    def start(self, now_ms, *args, **kwargs):
        plan = keeper_start(self, now_ms, *args, **kwargs)
        if plan.get("restart"):
            self.engine.stop_reason = None
            self.engine.bolus(now_ms, plan["restart"])
        return plan

    keeper_start = Keeper.start
    monkeypatch.setattr(restore, "plan_restore", restart_bolus)
    monkeypatch.setattr(Keeper, "start", start)
    found = [powercut.check(powercut.one(BOARD, cut), run.forward_total)
             for cut in _cuts_between(sizes, 7.51, 7.55, 2)]
    assert sum(f["double"] for f in found) >= 2


def test_a_firmware_whose_reset_empties_the_limit_windows_is_caught(reference, monkeypatch):
    run, sizes = reference
    monkeypatch.setattr(SafetyGate, "restore", lambda self, now_ms, hour, day: None)
    cuts = _cuts_between(sizes, 7.51, 7.55, 1) + _cuts_between(sizes, 13, 14, 1)
    found = [powercut.check(powercut.one(BOARD, cut), run.forward_total) for cut in cuts]
    assert all(f["limit_resets"] == 1 for f in found)


def test_a_firmware_that_restores_only_the_checkpointed_totals_is_caught(reference,
                                                                          monkeypatch):
    """Basal moves within the lease without a new checkpoint: without that lease, a reset
    loses up to 0.05 U of the daily window."""
    run, sizes = reference
    original = restore._plan_gate

    def checkpointed_only(plan, ck, running):
        original(plan, ck, running)
        plan["gate"] = (ck["gate_hour_steps"], ck["gate_day_steps"])

    monkeypatch.setattr(restore, "_plan_gate", checkpointed_only)
    found = [powercut.check(powercut.one(BOARD, cut), run.forward_total)
             for cut in _cuts_between(sizes, 3, 5, 6)]
    assert sum(f["limit_resets"] for f in found) >= 3


def test_a_firmware_that_forgets_insulin_on_board_at_a_reset_is_caught(reference,
                                                                        monkeypatch):
    run, sizes = reference
    monkeypatch.setattr(recovery, "restore_iob",
                        lambda iob, boluses, now, epoch: ([], None, True))
    found = [powercut.check(powercut.one(BOARD, cut), run.forward_total)
             for cut in _cuts_between(sizes, 8, 9, 2)]  # after the 07:30 bolus of 4.5 U
    assert all(f["iob_losses"] == 1 for f in found)


def test_lost_records_are_counted(reference):
    run, _ = reference
    run.committed.append((1, 10_000, "glucose"))
    try:
        assert powercut.check(run, run.forward_total)["lost"] == 1
    finally:
        run.committed.pop()


def test_fake_storage_cuts_inside_a_write_and_leaves_a_prefix():
    storage = FakeStorage()
    storage.append("a", b"hello")
    storage.arm(storage.position + 3)
    with pytest.raises(PowerCut, match="byte 3 of a 6-byte write"):
        storage.append("a", b"world!")
    assert storage.read("a") == b"hellowor"
    storage.arm(storage.position + 2, garbage=True)
    with pytest.raises(PowerCut):
        storage.write("b", b"abcdef")
    assert storage.read("b")[:2] == b"ab" and len(storage.read("b")) == 6
    storage.replace("s", b"old")
    storage.arm(storage.position + 3)  # the rename point: the new file is complete
    with pytest.raises(PowerCut):
        storage.replace("s", b"new")
    assert storage.read("s") == b"old" and storage.read("s.new") == b"new"


def test_the_bench_reports_every_fault_kind_beside_the_cuts(monkeypatch):
    """`python -m tools.bench powercut --json`: the cut figures stay at the top level,
    each fault kind (tools.bench.powercut_kinds) has its six figures under "kinds"."""
    from tools.bench import powercut_kinds

    monkeypatch.setattr(powercut_kinds, "KINDS", ("settings_cut", "full_flash"))
    result = powercut.run(limit=2, jobs=1, kind_runs=1)
    for key in ("cuts", "write_points", "over_deliveries", "double_boluses",
                "lost_records", "unreadable_journals", "lease_violations",
                "limit_resets", "iob_losses", "reboots", "journal_bytes_per_day",
                "days_kept", "wall_s"):
        assert key in result
    assert sorted(result["kinds"]) == ["full_flash", "settings_cut"]
    for figures in result["kinds"].values():
        assert figures == {"runs": 1, "over_deliveries": 0, "double_boluses": 0,
                           "lost_records": 0, "forgotten_iob_mu": 0, "crashes": 0}
    assert result["kind_runs"] == 2
