"""Occlusion vectors for the MicroPython lane: detector runs, alarm stops and force
calibration print the same lines on CPython and MicroPython. Integers only."""

from basalt.core import forcecal
from basalt.core.board_file import load_board
from basalt.core.delivery import STOP_OCCLUSION, DeliveryEngine
from basalt.core.errors import BasaltError
from basalt.core.occlusion import OcclusionDetector, load_occlusion_config
from basalt.core.occlusion_prime import PrimeLearner
from basalt.core.safety import Limits
from vectors.vectorkit import FixedIob, Lcg, board_spec, emit, error_of

WIDE = Limits(25_000, 30_000, 100_000, 75_000, 1_000_000)  # about occlusion, not limits

HOUR = 3_600_000


def line_force(rng, state, steps, blocked, stiff, band, noise):
    """An integer line: stick-slip friction, or a blocked line that stiffens per step."""
    for _ in range(steps):
        if blocked:
            state[1] += stiff
        else:
            state[0] += 12
            if state[0] > band:
                state[0] = 0
    return 1500 + state[0] + state[1] + rng.below(2 * noise + 1) - noise


def detector_runs():
    cost = 14_473 * 360  # one microstep of the sim board, in mU*ms/h
    rng = Lcg(11)
    for case in range(24):
        rate = (100, 1_000, 3_000, 30_000)[case % 4]
        tick = (10_000, 2_000, 1_000, 250)[case % 4]
        stiff = 3 + rng.below(8)
        band = rng.below(200)
        noise = 1 + rng.below(30)
        onset = (20 + rng.below(40)) * 60_000 if case % 3 else None
        detector = OcclusionDetector()
        detector.reset(0, rng.below(2) * 100)
        state = [rng.below(band + 1), 0]
        acc = now = 0
        alarm = None
        checkpoints = []
        while alarm is None and now < 4 * HOUR:
            now += tick
            acc += rate * tick
            steps = acc // cost
            acc -= steps * cost
            blocked = onset is not None and now >= onset
            alarm = detector.update(now, steps, line_force(rng, state, steps, blocked, stiff,
                                                           band, noise))
            if now % HOUR == 0:
                checkpoints.append(detector.state())
        emit("detector", [case, rate, stiff, band, noise, onset, alarm, checkpoints])


def faults():
    for reads in ([1500, 1500, 99_000, 99_000, 99_000], [1500, 7000, 7100, 7200],
                  [1500, 1501, None, "x", 2.5, 1503]):
        detector = OcclusionDetector()
        emit("implausible", [[detector.update(i * 1000, 1, r) for i, r in enumerate(reads)]])
    detector = OcclusionDetector({"bad_reads": 2, "stuck_reads": 10})
    emit("failed", [detector.sensor_failed(5, "timeout", "t"),
                     detector.sensor_failed(6, "timeout", "t")])
    detector = OcclusionDetector({"stuck_reads": 10})
    emit("stuck", [[detector.update(i, 0, 777) for i in range(14)]])
    for config in ({"threshold_mn": 1}, {"stuck_reads": 3}, {"x": 1}, {"flow_ms": "8"}):
        emit("config", [error_of(load_occlusion_config, config)])


def calibration():
    cal = forcecal.nominal("hx711")
    emit("tare", [error_of(forcecal.tare, cal, [5, 9, 7, 6, 8])])
    emit("tare unsteady", [error_of(forcecal.tare, cal, [5, 9, 7, 6, 80_000])])
    cal = forcecal.tare(cal, [-1000, -1003, -998, -1001, -1000])
    emit("scale", [error_of(forcecal.scale, cal, [-1000 + 27_468] * 5, 981)])
    rng = Lcg(3)
    rows = []
    for _ in range(40):
        per_n = (1 + rng.below(1_000_000)) * (1 if rng.below(2) else -1)
        c = {"tare_counts": rng.below(1 << 24) - (1 << 23), "counts_per_n": per_n}
        raw = rng.below(1 << 24) - (1 << 23)
        rows.append([c["tare_counts"], per_n, raw, forcecal.counts_to_mn(c, raw)])
    emit("counts_to_mn", rows)


def alarm_stop():
    board = load_board(board_spec(3.0, 57.89))
    engine = DeliveryEngine(board, 0, WIDE, FixedIob(0))
    engine.set_profile(0, "F", [(0, 1_000)])
    engine.new_reservoir(0, 100_000)
    engine.resume(0)
    engine.tick(HOUR)
    engine.bolus(HOUR, 3_000)
    engine.tick(HOUR + 30_000)
    emit("alarm_stop", [engine.alarm_stop(HOUR + 30_000, STOP_OCCLUSION, 500, 300, 4),
                        engine.reservoir_steps, engine.plunger_steps])
    try:
        engine.alarm_stop(HOUR + 30_000, STOP_OCCLUSION)
    except BasaltError as error:
        emit("again", [str(error)])
    engine.resume(2 * HOUR)
    emit("resume", [engine.tick(2 * HOUR), engine.pop_events()])


def learning():
    """A prime (a flow force rising and draining) and a run's first steps: what the
    detector learns, integer for integer, with the floor, the ceiling and too small a
    prime."""
    for case in range(6):
        rng = Lcg(40 + case)
        noise = (5, 20, 60, 2, 300, 30)[case]
        gain, tau = (8, 12, 4, 8, 8, 8)[case], (2_000, 9_000, 24_000, 4_000, 4_000, 4_000)[case]
        prime_steps = 0 if case == 3 else 115  # per second: 10 U/min; none: no flow
        detector = OcclusionDetector()
        learner = PrimeLearner()
        flow = 0
        now = 0
        state = [0, 0]
        for i in range(12 * 4 + 160 * 4):  # 12 s of prime, 160 s of its drain
            now += 250
            priming = i < 48
            steps = prime_steps // 4 if priming else 0
            flow += steps * gain - flow * 250 // tau
            force = 1500 + flow + rng.below(2 * noise + 1) - noise
            if learner.read(now, steps, force, priming):
                break
        detector.learn_flow(*learner.result())
        detector.reset(now)
        line = []
        for i in range(400):  # a run at 1 U/h, 2 s ticks: learning, then judging
            now += 2_000
            steps = 1 if i % 3 == 0 else 0
            force = line_force(rng, state, steps, False, 0, 150 * (case % 2), noise)
            detector.update(now, steps, force)
            if i % 100 == 99:
                line.append(detector.learned())
        emit("learning", [case, line, detector.alarm])


detector_runs()
learning()
faults()
calibration()
alarm_stop()
