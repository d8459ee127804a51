"""Balance readings from the simulator: the firmware's PumpApp on fake hardware.

The app runs a flat basal profile on the sim board; every interval the plunger travel
the fake motor reports is turned into grams of water, with what a real bench adds:
a syringe that delivers a little more or less than its nominal bore says (error_pct),
evaporation from the beaker, balance noise and resolution, and jittered read times.
The true flow error is known, so the trumpet tool's answer can be checked against it.

An occlusion (a closed stopcock from one minute to another) is modelled at the balance:
the motor keeps pushing, nothing reaches the beaker, and when the line opens everything
the line held arrives at once, as the unintended bolus IEC 60601-2-24 asks to measure.
"""

import random

from basalt.app import PumpApp
from basalt.core.units import MS_PER_HOUR
from tools.fakes import FakeMotor, VirtualClock, open_limits
from tools.sim import load_sim_board
from tools.trumpet import INTERVAL_S, WATER_G_ML, TrumpetError

TICK_MS = 250  # the board's delivery tick
UL_PER_PL = 1e-6


def balance_readings(rate_u_h, hours, error_pct=0.0, noise_mg=0.0, evaporation_mg_h=0.0,
                     resolution_mg=0.01, jitter_s=0.0, interval_s=INTERVAL_S, seed=1,
                     density_g_ml=WATER_G_ML, occlusion_min=None):
    """[(time_s, grams)] for a basal run of `rate_u_h` lasting `hours`.

    occlusion_min: None, or (start, end) minutes during which the line is closed.
    """
    board = load_sim_board()
    _check(rate_u_h, hours, board, interval_s, jitter_s, occlusion_min)
    clock = VirtualClock()
    motor = FakeMotor(clock, board.motor.max_step_hz)
    app = PumpApp(board, clock, motor, tick_ms=TICK_MS, limits=open_limits())
    app.command({"cmd": "set_profile", "name": "bench", "segments": [["00:00", rate_u_h]]})
    app.command({"cmd": "new_reservoir", "units": board.syringe_capacity_mu // 1000})
    while app.motion.rewind_steps or motor.busy():  # the plunger goes back before the run
        clock.advance(TICK_MS)
        app.step()
    app.command({"cmd": "resume"})
    start_ms, start_position = clock.now_ms(), motor.position()
    ul_per_step = board.ustep_volume_pl * UL_PER_PL * (1 + error_pct / 100)
    rng = random.Random(seed)
    readings, held = [], None
    for k in range(int(hours * 3600 / interval_s) + 1):
        offset_s = k * interval_s + (rng.uniform(-jitter_s, jitter_s) if k else 0.0)
        _run_until(app, clock, start_ms + round(offset_s * 1000))
        position = motor.position()
        if occlusion_min and occlusion_min[0] * 60 <= offset_s < occlusion_min[1] * 60:
            held = position if held is None else held  # the beaker sees no more
            position = held
        volume_ml = (position - start_position) * ul_per_step / 1000
        grams = volume_ml * density_g_ml - evaporation_mg_h * offset_s / 3600 / 1000
        grams += rng.gauss(0, noise_mg / 1000) if noise_mg else 0.0
        step = resolution_mg / 1000
        readings.append((offset_s, round(grams / step) * step if step else grams))
    return readings


def _run_until(app, clock, at_ms):
    while clock.now_ms() < at_ms:
        clock.advance(min(TICK_MS - clock.now_ms() % TICK_MS, at_ms - clock.now_ms()))
        if clock.now_ms() % TICK_MS == 0:
            app.step()


def _check(rate_u_h, hours, board, interval_s, jitter_s, occlusion_min):
    if not 0.01 <= rate_u_h <= 30:
        raise TrumpetError("--rate %s U/h is outside 0.01 to 30 U/h" % rate_u_h)
    if not 0.5 <= hours <= 72:
        raise TrumpetError("--hours %s is outside 0.5 to 72" % hours)
    needed_mu = rate_u_h * hours * 1000
    if needed_mu > board.syringe_capacity_mu:
        raise TrumpetError("%s U/h for %s h needs %.0f U; the sim board's syringe holds %d U"
                           % (rate_u_h, hours, needed_mu / 1000,
                              board.syringe_capacity_mu // 1000))
    if not 0 <= jitter_s < interval_s / 4:
        raise TrumpetError("--jitter-s must be 0 to a quarter of the interval (%s s)"
                           % (interval_s / 4))
    if occlusion_min and not 0 <= occlusion_min[0] < occlusion_min[1] <= hours * 60:
        raise TrumpetError("--occlusion-min %s %s must lie inside the run, start before end"
                           % tuple(occlusion_min))
    if hours * MS_PER_HOUR % (interval_s * 1000):
        raise TrumpetError("--hours must be a whole number of %s s intervals" % interval_s)


def write_csv(readings, path):
    with open(path, "w") as handle:
        handle.write("time_s,grams\n")
        for time_s, grams in readings:
            handle.write("%.2f,%.5f\n" % (time_s, grams))
