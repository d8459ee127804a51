"""`python -m tools.rig accuracy`: the IEC 60601-2-24 accuracy run, done for you.

1. Prime: the pump suspended, prime shots until the balance sees the weight rise (the
   line is full and drips into the beaker).
2. Evaporation blank: the pump stays stopped for --blank-min; the balance's slope is
   what the beaker loses anyway (mg/h), added back in the analysis.
3. The run: a temp basal at --rate for --minutes, the balance read every 30 s (IEC),
   the pump's own microstep count beside each reading.
4. The analysis: tools.trumpet (overall error, trumpet windows) with the evaporation
   correction; a report (JSON, PNG) with what the pump claimed and what the balance saw.

Ctrl-C at any point: the pump is stopped (temp basal cancelled, suspended) and what
was logged stays in the CSV (analysed if the run got far enough).
"""

from tools import trumpet
from tools.rig.pump import RigError

INTERVAL_S = trumpet.INTERVAL_S
PRIME_SETTLE_S = 10  # the drop reaches the beaker and the balance settles
SETTLE_LOOK_S = 60  # after priming, the weight is read this often until it is steady
SETTLE_SHOT_FRACTION = 50  # steady: less change between two looks than a 50th of a shot
SETTLE_MAX_S = 900  # the line takes minutes to relax after a prime (stick-slip)


def default_start_min(minutes):
    """IEC skips the start-up hour; a short run skips its first third instead."""
    if minutes >= 120:
        return trumpet.START_MIN
    return int(minutes / 3 * 60 / INTERVAL_S) * INTERVAL_S / 60


def prime(bench, step_u=0.5, max_u=20.0):
    """Prime shots until the beaker gains half a shot's mass; the units primed."""
    pump = bench.pump
    pump.suspend()
    start = bench.weigh("prime")
    if start is None:
        raise RigError("no stable reading from the balance before priming")
    shot_g = step_u * trumpet.ML_PER_UNIT * bench.density
    primed = 0.0
    while primed < max_u - 1e-9:
        pump.prime(step_u)
        primed += step_u
        bench.wait_idle()
        bench.clock.sleep(PRIME_SETTLE_S)
        grams = bench.weigh("prime")
        bench.log("prime", grams, pump.moved(), "primed %.2f U" % primed)
        if grams is not None and grams - start >= shot_g / 2:
            bench.say("rig: prime: flow seen after %.2f U (+%.2f mg)"
                      % (primed, (grams - start) * 1000))
            settle(bench, grams, shot_g / SETTLE_SHOT_FRACTION)
            return primed
    raise RigError("prime: no flow seen on the balance after %.1f U: check the line "
                   "(air, a closed stopcock, the tip above the beaker) and --prime-max-u"
                   % primed)


def settle(bench, grams, steady_g):
    """Until the beaker's weight stops moving (the line relaxes for minutes after the
    shots), so the blank measures evaporation, not the last drops."""
    end = bench.now() + SETTLE_MAX_S
    steady = 0
    while steady < 2:
        if bench.now() > end:
            bench.say("rig: the weight still changes %d s after priming (a leak, a draft, "
                      "the tip touching the beaker?): the blank starts anyway"
                      % SETTLE_MAX_S)
            return
        bench.clock.sleep(SETTLE_LOOK_S)
        now = bench.weigh("settle")
        bench.log("settle", now, None)
        if now is not None and grams is not None and abs(now - grams) < steady_g:
            steady += 1
        else:
            steady = 0
        grams = now


def blank(bench, minutes):
    """The evaporation blank, pump stopped: mg/h the beaker loses (None if too few)."""
    t0 = bench.now()
    points = []
    for k in range(int(minutes * 60 / INTERVAL_S) + 1):
        _sleep_until(bench, t0 + k * INTERVAL_S)
        grams = bench.weigh("blank")
        bench.log("blank", grams, None)
        if grams is not None:
            points.append((bench.now() / 3600, grams))
            bench.status.update(bench.now(), "rig: blank %5.1f / %g min  %.5f g"
                                % ((bench.now() - t0) / 60, minutes, grams))
    bench.status.end()
    slope = _slope(points)
    return None if slope is None else -slope * 1000


def _slope(points):
    """Least-squares slope of (x, y) points; None for fewer than 3."""
    if len(points) < 3:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else None


def _sleep_until(bench, t_s):
    bench.clock.sleep(t_s - bench.now())


def run(bench, rate_u_h, minutes, evaporation_mg_h, rows):
    """The logged run: appends (time_s since its start, grams, pump microsteps) to rows
    (so a Ctrl-C keeps what came)."""
    pump = bench.pump
    pump.run_at(rate_u_h, minutes + 10)
    t0 = bench.now()
    for k in range(int(minutes * 60 / INTERVAL_S) + 1):
        _sleep_until(bench, t0 + k * INTERVAL_S)
        grams = bench.weigh("run")
        t = bench.now() - t0
        usteps = pump.check_running()["moved"]
        bench.log("run", grams, usteps)
        if grams is None:
            continue
        rows.append((t, grams, usteps))
        bench.status.update(t, _live(rows, rate_u_h, minutes, evaporation_mg_h, bench.density))
    bench.status.end()


def _live(rows, rate_u_h, minutes, evaporation_mg_h, density):
    t, grams, _ = rows[-1]
    text = "rig: run %6.1f / %g min  %.5f g" % (t / 60, minutes, grams)
    if len(rows) < 2 or t <= rows[0][0]:
        return text
    hours = (t - rows[0][0]) / 3600
    ml_h = ((grams - rows[0][1]) + evaporation_mg_h / 1000 * hours) / density / hours
    rate_ml_h = rate_u_h * trumpet.ML_PER_UNIT
    return text + "  flow %.5f mL/h  error %+.2f %%" % (
        ml_h, trumpet.percent_error(ml_h, rate_ml_h))


def analyse(bench, rows, rate_u_h, evaporation_mg_h, start_min):
    """The trumpet analysis of the run's rows, plus both sides' volumes."""
    rate_ml_h = rate_u_h * trumpet.ML_PER_UNIT
    numbered = [(i + 1, t, g) for i, (t, g, _) in enumerate(rows)]
    result = trumpet.analyse(numbered, rate_ml_h, bench.density, INTERVAL_S, start_min,
                             None, evaporation_mg_h / 1000)
    start_s = result["analysis"]["start_min"] * 60
    period = [row for row in rows if row[0] - rows[0][0] >= start_s - 1.0]  # reads come late
    sides = {"readings": len(rows), "run_min": round((rows[-1][0] - rows[0][0]) / 60, 3)}
    sides.update(_both_sides(bench, period, rate_ml_h, evaporation_mg_h))
    sides["run"] = _both_sides(bench, rows, rate_ml_h, evaporation_mg_h)
    return result, sides


def _both_sides(bench, rows, rate_ml_h, evaporation_mg_h):
    """What the pump counted and what the balance saw (evaporation added back) from
    the first to the last of the rows."""
    (t_first, g_first, u_first), (t_last, g_last, u_last) = rows[0], rows[-1]
    hours = (t_last - t_first) / 3600
    balance_ml = (g_last - g_first + evaporation_mg_h / 1000 * hours) / bench.density
    pump_ml = bench.pump.ml(u_last - u_first)
    return {
        "pump_delivered_usteps": u_last - u_first,
        "pump_delivered_mu": bench.pump.mu(u_last - u_first),
        "pump_ml": round(pump_ml, 7),
        "balance_ml": round(balance_ml, 7),
        "set_ml": round(rate_ml_h * hours, 7),
        "balance_vs_pump_pct": round(100 * (balance_ml - pump_ml) / pump_ml, 3)
        if pump_ml else None,
    }


def accuracy(bench, rate_u_h, minutes, blank_min, start_min=None, prime_step_u=0.5,
             prime_max_u=20.0):
    """The whole procedure; (trumpet result or None, facts dict, the run's rows). The
    pump is stopped at the end, on an error and on Ctrl-C."""
    facts = {"rate_u_h": rate_u_h, "rate_ml_h": rate_u_h * trumpet.ML_PER_UNIT,
             "minutes": minutes, "blank_min": blank_min, "interrupted": False,
             "density_g_ml": bench.density}
    start_min = default_start_min(minutes) if start_min is None else start_min
    rows = []
    try:
        facts["prime_u"] = prime(bench, prime_step_u, prime_max_u)
        bench.say("rig: evaporation blank, %g min with the pump stopped" % blank_min)
        evaporation = blank(bench, blank_min)
        if evaporation is None:
            raise RigError("the blank has fewer than 3 readings: no evaporation figure")
        facts["evaporation_mg_h"] = round(evaporation, 4)
        bench.say("rig: evaporation %.3f mg/h; the run: %g U/h for %g min, a reading every "
                  "%d s" % (evaporation, rate_u_h, minutes, INTERVAL_S))
        run(bench, rate_u_h, minutes, evaporation, rows)
    except KeyboardInterrupt:
        facts["interrupted"] = True
        bench.status.end()
        bench.say("rig: interrupted (Ctrl-C)")
    finally:
        stopped = bench.pump.stop()
        bench.say("rig: the pump is %s" % ("stopped (temp basal cancelled, suspended)"
                                          if stopped else "NOT confirmed stopped: check it"))
    facts["rejected_replies"] = dict(bench.rejected)
    if len(rows) < 3 or "evaporation_mg_h" not in facts:
        return None, facts, rows
    try:
        result, sides = analyse(bench, rows, rate_u_h, facts["evaporation_mg_h"], start_min)
    except trumpet.TrumpetError as error:
        facts["analysis_error"] = str(error)
        return None, facts, rows
    facts.update(sides)
    return result, facts, rows
