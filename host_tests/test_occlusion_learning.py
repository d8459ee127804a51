"""Issue 22: the occlusion detector calibrates itself per rig (the flow, at prime) and per
run (noise, stick-slip band, drift), within floors and ceilings; a new syringe or line
starts afresh; what it learned is on the calibration screen and in the journal. And the
HX711 read the delivery tick makes never waits: a slice of pulses at most."""

import math

import pytest

from basalt.core.board_file import Pin
from basalt.core.errors import SensorFault
from basalt.core.occlusion import OcclusionDetector
from basalt.core.occlusion_config import PARAMS
from basalt.core.occlusion_prime import PrimeLearner
from basalt.core.ui.keys import DOWN, SELECT
from basalt.drivers.hx711 import HX711, SLICE_PULSES
from basalt.ports import ForceSensor
from tools import ROOT, sim
from tools.bench.occlusion import Rig
from tools.fake_mcu import make_world
from tools.sim.occlusion_physics import corners, load_ranges

WIDE = load_ranges(ROOT + "/tools/sim/wide_envelope.json")
BOARD = sim.load_sim_board()
MIN = 60_000
FLOOR, CEILING = PARAMS["threshold_min_mn"][0], PARAMS["threshold_max_mn"][0]


def corner_id(corner):
    return "C%g-R%g-K%g-F%g-S%g-N%g" % tuple(corner[key][0] for key in (
        "compliance_ul_per_kpa", "resistance_kpa_s_per_ul", "drive_n_per_mm",
        "friction_kinetic_n", "stiction_n", "noise_mn"))


@pytest.mark.parametrize("corner", corners(WIDE), ids=corner_id)
def test_calibration_from_each_corner_of_the_wide_envelope(corner):
    """Primed, then 6 minutes at 1 U/h: the flow allowance bounds the rig's real flow
    force (time constant R x C, steady force per step of rate 0.84 mN.s x R), the
    threshold sits above what the run showed, within floor and ceiling, and the noise
    is measured near the sensor's."""
    rig = Rig(BOARD, 7, corner)
    rig.start(1_000)
    assert rig.run(6 * MIN, 2_000) is None
    got = rig.app.occlusion.learned
    p = rig.physics.params
    sigma, stiction = p["noise_mn"], p["stiction_n"] * 1000
    assert got["flow_learned"]
    assert rig.physics.tau_ms <= got["flow_ms"] <= 45_000
    steady = got["flow_umn_per_step"] * got["flow_ms"] // 1000  # mN.ms per step/s
    assert steady >= 838 * p["resistance_kpa_s_per_ul"]
    assert 0.5 * sigma <= got["noise_mn"] <= 1.2 * sigma + stiction / 8
    assert got["band_mn"] <= stiction + 4 * sigma
    assert FLOOR <= got["threshold_mn"] <= CEILING
    assert got["threshold_mn"] >= got["band_mn"] + 2 * got["noise_mn"]


# ----- the detector alone: floors, ceilings, nothing learned ----------------------------


def learn(noise, band, prime_steps_per_s=115, prime_s=12, seed=1):
    """A prime (flow rising 8 mN a step, draining with 4 s), then a run at 1 U/h with
    uniform noise of +-noise mN and a sawtooth of `band` mN: the learned dict, and
    whether the run raised an alarm."""
    import random

    rng = random.Random(seed)
    detector = OcclusionDetector()
    learner = PrimeLearner()
    flow = now = 0
    for i in range(4 * (prime_s + 160)):
        now += 250
        priming = i < 4 * prime_s
        steps = prime_steps_per_s // 4 if priming else 0
        flow += steps * 8 - flow * 250 // 4_000
        if learner.read(now, steps, 1500 + flow + rng.randint(-noise, noise), priming):
            break
    detector.learn_flow(*learner.result())
    detector.reset(now)
    saw = 0
    for i in range(600):
        now += 2_000
        steps = 1 if i % 3 == 0 else 0
        saw = (saw + 12 * steps) % (band + 1) if band else 0
        if detector.update(now, steps, 1500 + saw + rng.randint(-noise, noise)):
            return detector.learned(), True
    return detector.learned(), False


@pytest.mark.parametrize("noise, band, prime, threshold, flow", [
    (1, 0, 115, FLOOR, True),  # a quiet rig: the floor, not lower
    (3, 0, 115, FLOOR, True),
    (30, 150, 115, "between", True),
    (600, 2_000, 115, CEILING, True),  # beyond any rig: the ceiling bounds the alarm
    (20, 100, 0, "between", False),  # no prime: the reference allowance stays
    (20, 100, 10, "between", False),  # a prime too small to teach anything
])
def test_thresholds_are_learned_within_floor_and_ceiling(noise, band, prime, threshold, flow):
    got, alarmed = learn(noise, band, prime)
    assert alarmed is (threshold == CEILING)  # 2 N of stick-slip looks like a blockage
    if threshold == "between":
        assert FLOOR < got["threshold_mn"] < CEILING
    else:
        assert got["threshold_mn"] == threshold
    assert got["flow_learned"] is flow
    if not flow:
        assert (got["flow_umn_per_step"], got["flow_ms"]) == (
            PARAMS["flow_umn_per_step"][0], PARAMS["flow_ms"][0])
    else:
        assert 4_000 <= got["flow_ms"] <= 45_000  # the drain's 4 s, and a margin


def test_while_learning_the_threshold_is_never_below_the_configured_one():
    detector = OcclusionDetector()
    detector.reset(0)
    seen = []
    for i in range(200):
        detector.update(i * 2_000, 1 if i % 3 == 0 else 0, 1500 + i % 2)
        seen.append(detector.threshold)
    learned_at = next(i for i, _ in enumerate(seen) if detector.noise_mn is not None
                      and seen[i] == detector.threshold and seen[i] < 400)
    assert min(seen[:learned_at]) >= PARAMS["threshold_mn"][0]
    assert detector.threshold == FLOOR


# ----- the app: a new syringe or line starts afresh; the journal keeps it ------------------


class Cell(ForceSensor):
    """A load cell on a line with a flow force that drains (4 s) and a little noise."""

    def __init__(self, motor, clock):
        self.motor, self.clock = motor, clock
        self.calibration = {"tare_counts": 0, "counts_per_n": 1000}
        self.flow = 0
        self.pos = motor.position()
        self.at = clock.now_ms()
        self.n = 0

    def read_raw(self):
        now, pos = self.clock.now_ms(), self.motor.position()
        self.flow += (pos - self.pos) * 8 - self.flow * (now - self.at) // 4_000
        self.pos, self.at = pos, now
        self.n += 1
        return 1500 + max(self.flow, 0) + (self.n * 7919) % 41 - 20


def test_a_new_syringe_or_line_starts_a_new_calibration_and_the_journal_keeps_it():
    from tools.screens.shots import KeptSession

    pump = KeptSession(epoch_s=20_793 * 86_400).ready()
    app = pump.app
    cell = Cell(app.motor, app.clock)
    app.occlusion.force = cell
    app.command({"cmd": "suspend"})
    app.command({"cmd": "prime", "units": 2})
    pump.idle(3 * MIN)
    assert app.occlusion.learned["flow_learned"]
    app.command({"cmd": "resume"})
    pump.idle(10 * MIN)
    assert app.occlusion.learned["noise_mn"] is not None
    records = [r.detail for r in app.keeper.journal.read().records
               if r.kind == "occlusion_learned"]
    assert [r["flow_learned"] for r in records] == [True, True]
    assert records[-1]["threshold_mn"] == app.occlusion.detector.threshold
    app.command({"cmd": "suspend"})
    app.command({"cmd": "new_reservoir", "units": 100})
    pump.idle(1_000)
    assert not app.occlusion.detector.flow_learned
    assert app.occlusion.detector.flow_ms == PARAMS["flow_ms"][0]
    kinds = [r.kind for r in app.keeper.journal.read().records]
    assert kinds.index("reservoir_fitted") < len(kinds) - 1 - kinds[::-1].index(
        "occlusion_learned")  # where the old calibration ended
    app.command({"cmd": "prime", "units": 2})
    pump.idle(3 * MIN)
    assert app.occlusion.detector.flow_learned
    app.command({"cmd": "site_changed"})  # a new line too
    pump.idle(1_000)
    assert not app.occlusion.detector.flow_learned


def test_what_was_learned_is_on_the_calibration_screen_from_the_buttons():
    from host_tests.test_setup_flows import DAY_2026_12_06, Pump

    pump = Pump(epoch_s=DAY_2026_12_06 * 86_400).ready()
    app = pump.app
    app.occlusion.force = Cell(app.motor, app.clock)
    app.command({"cmd": "suspend"})
    app.command({"cmd": "prime", "units": 2})
    pump.idle(3 * MIN)
    app.command({"cmd": "resume"})
    pump.idle(10 * MIN)
    got = app.occlusion.learned
    pump.click(SELECT)
    pump.click(SELECT)  # the first key wakes the dimmed screen
    pump.click(DOWN, 9)
    pump.click(SELECT)  # Setup
    pump.click(DOWN)
    pump.click(SELECT)  # Calibration
    pump.click(DOWN, 4)
    pump.click(SELECT)  # Occl. learned
    text = pump.text()
    assert "Occl. learned" in text
    assert "thr %d mN" % got["threshold_mn"] in text
    assert "noise %d mN" % got["noise_mn"] in text
    assert "band %d mN" % got["band_mn"] in text
    assert "drift -- mN/h" in text  # an hour's rise: not yet
    assert "ref" not in text  # the flow was learned at prime


# ----- the HX711 read: never longer than a slice ------------------------------------------


def hx711(raw=0x012345, dead=False):
    from host_tests.test_hx711 import DOUT, SCK, Hx711Chip

    world, machine, time, _, _ = make_world()
    sensor = HX711(Pin(DOUT, pull="up"), Pin(SCK), None, 128, 10, machine, time)
    chip = Hx711Chip(world, machine, lambda gain, n: raw + n, 100_000,
                     "dead" if dead else "ok")
    return world, sensor, chip


# A slice: T1 (1 us) and up to SLICE_PULSES + 2 pulses (the gain pulses ride with the
# last data bit), 1 us high and 1 us low each.
SLICE_NS = (1 + 2 * (SLICE_PULSES + 2)) * 1_000


def test_the_reading_task_never_holds_the_cpu_longer_than_a_slice():
    world, sensor, chip = hx711()
    longest = 0
    got = []
    for _ in range(3_000):  # 3 s, polled every millisecond as run() does
        start = world.now_ns
        if sensor.poll():
            got.append(sensor.read_raw_now())
        longest = max(longest, world.now_ns - start)
        world.advance_us(1_000)
    assert 0 < longest <= SLICE_NS
    assert got == [0x012345 + n for n in range(len(got))] and 28 <= len(got) <= 30
    assert math.ceil(24 / SLICE_PULSES) == 3  # three slices a conversion


def test_the_ticks_read_never_waits_for_the_chip():
    """No conversion captured: a miss at once (the detector counts misses); a read the
    task began: the tick clocks its rest (two slices at most), never a new one."""
    world, sensor, _ = hx711(dead=True)
    assert sensor.poll() is False  # the reading task runs (else the tick's read waits)
    start = world.now_ns
    for _ in range(5):
        with pytest.raises(SensorFault) as caught:
            sensor.read_raw_now()
        assert caught.value.reason == "timeout"
    assert world.now_ns == start
    world, sensor, chip = hx711()
    assert sensor.poll() is False  # the task looks: nothing ready yet
    world.advance_us(150_000)
    assert sensor.ready()
    start = world.now_ns
    with pytest.raises(SensorFault):
        sensor.read_raw_now()  # ready, but the task has not begun it: not the tick's job
    assert world.now_ns == start
    assert sensor.poll() is False  # the task's first slice
    start = world.now_ns
    assert sensor.read_raw_now() == 0x012345 + len(chip.conversions) - 1
    assert world.now_ns - start <= 2 * SLICE_NS


# ----- the bench: any envelope from a file; a spoiled trial is an early alarm -----------------


@pytest.mark.parametrize("text, words", [
    ('{"stickiness": [1, 2]}', "'stickiness' is not a range; allowed: compliance_ul_per_kpa"),
    ('{"noise_mn": [60, 10]}', "noise_mn is [60, 10]; allowed: [lo, hi] with 0 < lo <= hi"),
    ('{"noise_mn": [0, 10]}', "noise_mn is [0, 10]"),
    ('[1, 2]', "a JSON object of {key: [lo, hi]}"),
])
def test_a_ranges_file_is_checked_by_key(tmp_path, capsys, text, words):
    from tools.bench import __main__ as bench_main

    path = tmp_path / "ranges.json"
    path.write_text(text)
    with pytest.raises(SystemExit) as info:
        bench_main.main(["occlusion", "--ranges", str(path), "--trials", "1", "--days", "0"])
    assert info.value.code == 2
    assert words in capsys.readouterr().err


def test_the_wide_envelope_file_overrides_every_range():
    from tools.sim.occlusion_physics import RANGES

    assert set(WIDE) == set(RANGES)
    assert WIDE["compliance_ul_per_kpa"] == (0.05, 0.3) and WIDE["noise_mn"] == (10.0, 60.0)


def test_a_trial_the_detector_spoils_counts_as_an_early_alarm_not_a_crash():
    from tools.bench.occlusion import CASES, occlusion_trial

    rough = dict(WIDE, stiction_n=(3.0, 3.0), noise_mn=(400.0, 400.0))  # off any chart
    rate, tick, onset, limit, bolus = CASES["bolus"]
    assert occlusion_trial(BOARD, 3, rate, tick, onset, limit, bolus, rough) == {
        "false_alarm": True}
