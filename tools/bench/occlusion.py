"""Occlusion: time to alarm, insulin missed and released, false alarms (syringe physics).

The real app, engine and detector run against tools/sim/occlusion_physics.py.

Every trial builds a PumpApp on a FakeMotor with a SimForceSensor over
tools/sim/occlusion_physics.py (parameters drawn from the modeled envelope, own noise
and drift), fits and primes the syringe (2 U, then 3 minutes before resuming: the
detector learns the rig's flow from the prime), delivers normally, blocks the line at a
random moment and runs until the app raises the occlusion alarm. It then waits with the
line blocked (the app has stopped and backed the plunger off), clears the blockage and
measures what flows out. An alarm before the onset spoils the trial: it is counted as
a false alarm before onset (the trial's bolus is never asked of a stopped pump).

--ranges FILE.json draws the rigs from another envelope ({key: [lo, hi]} over RANGES,
e.g. tools/sim/wide_envelope.json): its figures under the same keys, the default
envelope's headline figures beside them (default_envelope) and its worst corner
(worst_corner: every corner once per case, the slowest against the targets).

  median/max_min_1uh, _0_1uh   time from onset to alarm at a 1 U/h / 0.1 U/h basal
  median/max_s_bolus           the same during a 5 U bolus at 1.5 U/min (onset random
                               in its first 150 s, basal 1 U/h around it)
  units_missed_*               insulin pushed into the blocked line before the alarm
  unintended_bolus_u_*         released in the 2 min after the blockage is cleared
                               (5 min after the alarm); compressed_u_* is what a pump
                               that did not back off would have released;
                               aspirated_u_max_* the most drawn back (over-relief)
  false_alarms_30d             alarms in 30 simulated days of normal delivery (meals,
                               a day profile; then 0.1 U/h) with noise and drift
  false_alarms_trials          alarms before onset in all the trials above
  peak_residual_mn_30d         the most force those 30 days left unexplained, and
  peak_residual_pct_of_threshold_30d  as a share of the (learned) threshold in use then:
                               the margin before a false alarm
  threshold_mn, _min_, _max_   the threshold until a run has learned its own, and the
                               floor and ceiling of the learned one
  detector_allocs_per_update   bytes a detector update allocates inside MicroPython

Quiet stretches are ticked coarsely (10 s at 0.1 U/h, 2 s at 1 U/h), boluses at 1 s
(and 250 ms in the bolus trials): the app's tick length follows.
"""

import json
import os
import random
import statistics

from basalt.app import PumpApp
from basalt.core.occlusion import load_occlusion_config
from basalt.core.units import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN
from tools import ROOT, sim
from tools.bench import progress
from tools.fakes import FakeMotor, VirtualClock, open_limits
from tools.sim.occlusion_physics import (
    SimForceSensor,
    SyringePhysics,
    corners,
    load_ranges,
    vary,
)

CLEAR_AFTER_MS = 5 * MS_PER_MIN
PRIME_U = 2  # the prime after each new syringe, and the time before delivery resumes
PRIME_MS = 3 * MS_PER_MIN
FLOW_WINDOW_MS = 2 * MS_PER_MIN


class Rig:
    """One pump on one syringe: app + fake motor + physics, advanced by run()."""

    def __init__(self, board, seed, ranges=None, day_ms=0):
        """ranges: the envelope the rig is drawn from (None: the model's RANGES)."""
        self.rng = random.Random(seed)
        self.clock = VirtualClock()
        self.motor = FakeMotor(self.clock, board.motor.max_step_hz)
        self.physics = SyringePhysics(board.ustep_volume_pl, vary(self.rng, ranges),
                                      seed=seed)
        self.sensor = SimForceSensor(self.physics, self.motor, self.clock)
        self.app = PumpApp(board, self.clock, self.motor, day_ms=day_ms, force=self.sensor,
                           limits=open_limits())
        self.alarms = []
        self.peak_residual = 0  # the most force normal delivery left unexplained (mN)
        self.peak_pct = 0  # and the closest it came to the threshold in force then (%)

    def start(self, rate_mu_h, fill_u=300):
        self.app.command({"cmd": "set_profile", "name": "Flat",
                          "segments": [["00:00", rate_mu_h / 1000]]})
        self.app.command({"cmd": "new_reservoir", "units": fill_u})
        self.prime()
        self.app.step()

    def prime(self):
        """After a new syringe: primed (the detector learns the rig's flow while the
        prime's pressure drains: PRIME_MS) and delivery resumed, as the user guide says."""
        self.app.command({"cmd": "prime", "units": PRIME_U})
        self.run(PRIME_MS, 250, stop_on_alarm=False)
        self.app.command({"cmd": "resume"})

    def run(self, ms, tick_ms, stop_on_alarm=True):
        """Advance up to `ms`; returns the first alarm seen (and stops there) or None."""
        end = self.clock.now_ms() + ms
        app = self.app
        while self.clock.now_ms() < end:
            dt = min(tick_ms, end - self.clock.now_ms())
            app.tick_ms = dt
            self.clock.advance(dt)
            app.step()
            detector = app.occlusion.detector
            if detector.filtered is not None and detector.alarm is None:
                residual = detector.residual()
                self.peak_residual = max(self.peak_residual, residual)
                self.peak_pct = max(self.peak_pct, residual * 100 // detector.threshold)
            for kind, detail in app.pop_events():
                if kind == "alarm":
                    self.alarms.append(detail)
                    if stop_on_alarm:
                        return detail
        return None

    def pusher(self):
        return self.motor.position()

    def settle(self, ms=1_000):
        """Let the back-off move finish and the physics catch up."""
        self.run(ms, 250, stop_on_alarm=False)
        self.physics.advance(self.clock.now_ms(), self.pusher())


def occlusion_trial(board, seed, rate_mu_h, tick_ms, onset_range_ms, limit_ms, bolus_mu=0,
                    ranges=None):
    """One trial; a dict of figures (time to alarm None when it never came). An alarm
    before the onset spoils the trial: it counts as a false alarm (the bolus is never
    asked of a pump the alarm has stopped)."""
    rig = Rig(board, seed, ranges)
    rig.start(rate_mu_h)
    onset_after = rig.rng.randint(*onset_range_ms)
    warmup = rig.rng.randint(30 * MS_PER_MIN, 90 * MS_PER_MIN)
    if rig.run(warmup, tick_ms) is not None:
        return {"false_alarm": True}
    if bolus_mu:
        rig.app.command({"cmd": "bolus", "units": bolus_mu / 1000})
    if rig.run(onset_after, tick_ms) is not None:
        return {"false_alarm": True}
    onset_ms, onset_pos = rig.clock.now_ms(), rig.pusher()
    rig.physics.occlude(onset_ms, onset_pos)
    alarm = rig.run(limit_ms, tick_ms)
    if alarm is None:
        return {"false_alarm": False, "alarm_ms": None}
    pushed = rig.pusher() - onset_pos
    rig.physics.advance(rig.clock.now_ms(), rig.pusher())
    compressed = rig.physics.v
    rig.settle()
    rig.run(CLEAR_AFTER_MS, 10_000, stop_on_alarm=False)
    rig.physics.advance(rig.clock.now_ms(), rig.pusher())
    before = rig.physics.outflow
    rig.physics.clear(rig.clock.now_ms(), rig.pusher())
    rig.run(FLOW_WINDOW_MS, 1_000, stop_on_alarm=False)
    rig.physics.advance(rig.clock.now_ms(), rig.pusher())
    return {
        "false_alarm": False,
        "alarm_ms": alarm["at_ms"] - onset_ms,
        "missed_u": rig.physics.units(pushed),
        "unintended_u": rig.physics.units(rig.physics.outflow - before),
        "compressed_u": rig.physics.units(max(compressed, 0)),
        "force_mn": alarm["force_mn"],
        "stopped": rig.app.engine.stop_reason,
    }


CASES = {
    # name: (basal mU/h, tick ms, onset range after warm-up, give up after, bolus mU)
    "1uh": (1_000, 2_000, (0, 2 * MS_PER_HOUR), 12 * MS_PER_HOUR, 0),
    "0_1uh": (100, 10_000, (0, 6 * MS_PER_HOUR), 48 * MS_PER_HOUR, 0),
    "bolus": (1_000, 250, (0, 150_000), MS_PER_HOUR, 5_000),
}


def run_case(board, name, trials, seed, ranges=None):
    rate, tick, onset, limit, bolus = CASES[name]
    base = seed * 100_000 + sorted(CASES).index(name) * 10_000
    progress.phase("occlusion trials %s:" % name, trials, "trials")
    results = []
    for i in range(trials):
        results.append(occlusion_trial(board, base + i, rate, tick, onset, limit, bolus,
                                       ranges))
        progress.advance()
    return results


def summarize(name, results, scale_ms):
    done = [r for r in results if not r["false_alarm"] and r.get("alarm_ms") is not None]
    times = [r["alarm_ms"] / scale_ms for r in done]
    out = {
        "trials_" + name: len(results),
        "missed_alarms_" + name: sum(1 for r in results
                                     if not r["false_alarm"] and r.get("alarm_ms") is None),
        "false_alarms_before_onset_" + name: sum(1 for r in results if r["false_alarm"]),
    }
    if done:
        out.update({
            "units_missed_median_" + name: round(statistics.median(r["missed_u"] for r in done), 3),
            "units_missed_max_" + name: round(max(r["missed_u"] for r in done), 3),
            "unintended_bolus_u_median_" + name: round(
                statistics.median(r["unintended_u"] for r in done), 4),
            "unintended_bolus_u_max_" + name: round(max(r["unintended_u"] for r in done), 4),
            "aspirated_u_max_" + name: round(max(0, -min(r["unintended_u"] for r in done)), 4),
            "compressed_u_median_" + name: round(
                statistics.median(r["compressed_u"] for r in done), 4),
            "force_at_alarm_mn_median_" + name: round(
                statistics.median(r["force_mn"] for r in done)),
        })
    return out, times


def false_alarm_days(board, days, seed, ranges=None):
    """Alarms in `days` of a day profile with three meal boluses (then in as many at 0.1
    U/h): noise, drift, stick-slip, boluses; never an occlusion."""
    alarms = 0
    peak = pct = 0
    progress.phase("false alarms, normal delivery:", 2 * days, "days")
    for regimen in ("meals", "low"):
        rig = Rig(board, seed + (0 if regimen == "meals" else 1), ranges)
        if regimen == "meals":
            _start_meals(rig)
        else:
            rig.start(100)
        for _ in range(days):
            if regimen == "meals":
                alarms += _meal_day(rig)
            else:
                alarms += _collect(rig, MS_PER_DAY, 10_000)
            if rig.app.engine.reservoir_mu() < 80_000:
                _refill(rig)
            progress.advance()
        peak = max(peak, rig.peak_residual)
        pct = max(pct, rig.peak_pct)
    return alarms, peak, pct


def _start_meals(rig):
    app = rig.app
    app.command({"cmd": "set_profile", "name": "Day", "segments": [
        ["00:00", 0.7], ["04:00", 1.0], ["08:00", 0.9], ["16:00", 1.1], ["22:00", 0.8]]})
    app.command({"cmd": "new_reservoir", "units": 300})
    rig.prime()
    app.step()


def _meal_day(rig):
    """One day from midnight: boluses at 07:30, 12:30 and 19:00 of random size."""
    alarms = 0
    last = 0
    for at_min in (450, 750, 1140):
        alarms += _collect(rig, at_min * MS_PER_MIN - last, 10_000)
        rig.app.command({"cmd": "bolus", "units": rig.rng.choice((2, 4, 6, 8, 10))})
        alarms += _collect(rig, 10 * MS_PER_MIN, 1_000)
        last = at_min * MS_PER_MIN + 10 * MS_PER_MIN
    alarms += _collect(rig, MS_PER_DAY - last, 10_000)
    return alarms


def _collect(rig, ms, tick_ms):
    """Run `ms`; count every alarm, resuming delivery after each as a user would."""
    end = rig.clock.now_ms() + ms
    count = 0
    while rig.clock.now_ms() < end:
        alarm = rig.run(end - rig.clock.now_ms(), tick_ms)
        if alarm is None:
            break
        count += 1
        rig.app.acknowledge(alarm["code"])  # the alarm latches until acknowledged
        rig.app.command({"cmd": "resume"})
    return count


def _refill(rig):
    app = rig.app
    app.command({"cmd": "suspend"})
    app.command({"cmd": "new_reservoir", "units": 300})
    rig.run(120_000, 1_000, stop_on_alarm=False)
    rig.physics = SyringePhysics(app.board.ustep_volume_pl, rig.physics.params,
                                 seed=rig.rng.randrange(1 << 30), start_ms=rig.clock.now_ms())
    rig.physics.seat(rig.pusher())
    rig.sensor.physics = rig.physics
    rig.prime()


SCALES = (("1uh", MS_PER_MIN), ("0_1uh", MS_PER_MIN), ("bolus", 1_000))
TARGETS = {"median_min_1uh": "<= 15", "max_min_1uh": "<= 30", "median_min_0_1uh": "<= 120",
           "median_s_bolus": "<= 30", "false_alarms_30d": "0", "false_alarms_trials": "0",
           "missed_alarms": "0"}
# What the side-by-side and the corners report of an envelope.
HEADLINE = ("median_min_1uh", "max_min_1uh", "median_min_0_1uh", "max_min_0_1uh",
            "median_s_bolus", "max_s_bolus", "false_alarms_trials", "false_alarms_30d",
            "missed_alarms", "peak_residual_mn_30d", "peak_residual_pct_of_threshold_30d")


def envelope(board, trials, days, seed, ranges=None):
    """The figures of one envelope (ranges None: the model's RANGES)."""
    result = {}
    for name, scale in SCALES:
        figures, times = summarize(name, run_case(board, name, trials, seed, ranges), scale)
        result.update(figures)
        unit = "s" if name == "bolus" else "min"
        if times:
            result["median_%s_%s" % (unit, name)] = round(statistics.median(times), 2)
            result["max_%s_%s" % (unit, name)] = round(max(times), 2)
    if days:
        (result["false_alarms_30d"], result["peak_residual_mn_30d"],
         result["peak_residual_pct_of_threshold_30d"]) = false_alarm_days(board, days, seed,
                                                                           ranges)
    result["false_alarms_trials"] = sum(result["false_alarms_before_onset_" + n]
                                        for n in CASES)
    result["missed_alarms"] = sum(result["missed_alarms_" + n] for n in CASES)
    return result


def worst_corner(board, ranges, seed):
    """Every corner of the envelope, one trial per case: the corner slowest against the
    targets (an early or missed alarm is worse than any time)."""
    worst = None
    for corner in corners(ranges):
        figures = {}
        for name, scale in SCALES:
            result = run_case(board, name, 1, seed, corner)[0]
            unit = "s" if name == "bolus" else "min"
            key = "%s_%s" % (unit, name)
            if result["false_alarm"]:
                figures["early_" + name] = True
            elif result.get("alarm_ms") is None:
                figures["missed_" + name] = True
            else:
                figures[key] = round(result["alarm_ms"] / scale, 2)
        score = _corner_score(figures)
        if worst is None or score > worst[0]:
            figures["params"] = {key: corner[key][0] for key in sorted(corner)}
            worst = (score, figures)
    return worst[1]


def _corner_score(figures):
    """How far a corner is from the targets: the largest time / target (early, missed: 9)."""
    goals = {"min_1uh": 15, "min_0_1uh": 120, "s_bolus": 30}
    score = 0
    for key, value in figures.items():
        score = max(score, 9 if value is True else value / goals[key])
    return score


def run(trials=30, days=30, seed=1, ranges=None):
    """The default envelope's figures; with ranges, that envelope's under the same keys,
    the default's headline figures beside them and the envelope's worst corner."""
    board = sim.load_sim_board()
    result = {"board": board.name, "trials": trials, "days": days, "seed": seed}
    result.update(envelope(board, trials, days, seed, ranges))
    if ranges is not None:
        result["ranges"] = {key: list(ranges[key]) for key in sorted(ranges)}
        default = envelope(board, trials, days, seed)
        result["default_envelope"] = {key: default[key] for key in HEADLINE if key in default}
        result["worst_corner"] = worst_corner(board, ranges, seed)
    config = load_occlusion_config()
    for key in ("threshold_mn", "threshold_min_mn", "threshold_max_mn"):  # until learned;
        result[key] = config[key]  # the learned one's floor and ceiling
    result["detector_allocs_per_update"], result["detector_allocs_by_scenario"] = allocs()
    result["targets"] = dict(TARGETS)
    return result


def allocs():
    """Bytes one detector update allocates inside MicroPython (the app calls it per tick)."""
    from tools.mpvm import run_micropython

    progress.phase("MicroPython VM (detector allocations)")
    out = run_micropython(os.path.join(ROOT, "tools", "bench", "alloc_detector_vm.py"),
                          waiting=progress.tick,
                          lib_dirs=(os.path.join(ROOT, "firmware", "basalt"),))
    result = json.loads(out.strip().splitlines()[-1])
    if not result.pop("control_tuple") > 0:
        raise RuntimeError("the allocation probe saw no allocation: the method is broken")
    return max(result.values()), result


def add_arguments(parser):
    parser.add_argument("--trials", type=int, default=30, help="trials per case (>= 1)")
    parser.add_argument("--days", type=int, default=30,
                        help="days of normal delivery for false alarms (0 skips)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ranges", metavar="FILE.json",
                        help="the envelope to draw rigs from: {key: [lo, hi]} over the "
                             "model's RANGES (e.g. tools/sim/wide_envelope.json)")


def bench(args, parser):
    if args.trials < 1:
        parser.error("--trials must be at least 1")
    if args.days < 0:
        parser.error("--days must be at least 0")
    ranges = None
    if args.ranges is not None:
        try:
            ranges = load_ranges(args.ranges)
        except (OSError, ValueError) as error:
            parser.error("--ranges: %s" % error)
    return run(args.trials, args.days, args.seed, ranges)
