"""The closed loop: predict glucose, choose a temp basal (and a small automatic bolus).

Every 5 minutes, and when a new CGM reading arrives, decide() looks at the newest usable
reading, its trend, net insulin on board, carbs on board from announced meals and the
scheduled basal, and predicts glucose every 15 minutes for the next 4 hours:

    pred(h) = glucose
              - sensitivity x (IOB now - IOB left at h)          insulin (the pump's curve)
              + sensitivity / carb ratio x carbs absorbed by h   carbs (linear absorption)
              + momentum(h)                                      what the model misses

Momentum is the deviation: the CGM trend minus the slope insulin activity and carb
absorption explain, carried forward and fading to nothing over 60 minutes (so it adds
at most 30 minutes' worth). Glucose rising faster than that with no carbs left on board
is a meal nobody announced (oref1's UAM): its deviation fades over 180 minutes instead,
and the dose aims from the eventual glucose. The eventual glucose counts all insulin
and carbs on board.

Then, in order (docs/references.md: oref0, Loop):
  no usable CGM (stale >= 15 min, flat, implausible)  cancel a high temp; a low temp
      runs out (<= 30 min); nothing new until a fresh reading -> scheduled basal
  glucose or any prediction below the suspend threshold  zero temp (suspend, predictive)
  suspend-only mode   otherwise scheduled basal (cancel the zero temp)
  closed loop         need = (min(eventual, lowest prediction from 30 min) - target) /
      sensitivity (target: the middle of the target range plus the loop's aim offset;
      sensitivity: the settings' / the autosens ratio, below), limited by max IOB;
      temp = scheduled + 2 x need per hour (so a 30-minute temp gives the need),
      between 0 and the max temp basal
      min(max basal, 3 x highest scheduled, 4 x current scheduled); with automatic
      boluses on, a fraction of a positive need as a bolus (never with a predicted low,
      at most auto_bolus_max_min minutes of scheduled basal), the rest as temp; only
      for an unannounced rise (UAM, no meal on record) from 150 mg/dL, and never more
      than would take glucose below 100 mg/dL were the rise to stop now.
      What the CGM shows overrules the model's direction (oref0's "Delta < Exp. Delta"
      checks): no more insulin while glucose falls faster than insulin and carbs
      explain plus the slope that would take the eventual glucose to the target in
      2 hours (oref0's expectedDelta), or, not clearly falling (from 0.2 mg/dL/min),
      runs below what insulin and carbs explain (the patient is more sensitive than the
      settings say, or insulin is catching up); no less while it rises faster than
      they explain.

Autosens (oref0's idea): the state keeps what the CGM has shown of how strongly glucose
answers insulin, outside meals; a patient more sensitive than the settings say gets
the sensitivity divided by a ratio down to 0.35 (oref0 stops at 0.7) in every
prediction and dose. It never goes above the settings (no more insulin from it).

The whole algorithm is one pure call, decide(inputs) -> (decision, state), from a plain
record (readings, IOB figures, the carb record, the schedule at now, loop settings, pump
state, now_ms; described below at "the pure entry point", docs/loop-decide.md). Loop is the
thin stateful wrapper the app holds; pump_inputs() builds the record from the live parts.

Temps last 30 minutes, so a loop that stops deciding falls back to scheduled basal.
Every decision carries a reason a person can read. Integers only: mg/dL, mU, mU/h, ms,
mg/dL/min x 1000 for slopes; one decision allocates only its record and small result
(about 2 KB in the MicroPython VM, tools/bench/loop_vm.py).
"""

from basalt.core.cgms import div_round
from basalt.core.loop_state import (  # noqa: F401  (the loop's names, re-exported)
    ABSORPTION_RANGE,
    AUTO_BOLUS_MAX_MIN_RANGE,
    AUTO_BOLUS_PERCENT_RANGE,
    DEFAULT_SUSPEND_MG_DL,
    EXTRA_3H_RANGE_MU,
    EXTRA_24H_RANGE_MU,
    MAX_CARB_ENTRIES,
    MODES,
    PERIOD_MS,
    SUSPEND_RANGE,
    TEMP_MIN,
    Loop,
    LoopSettings,
    _left_mg,
    add_carbs,
    carbs_on_board,
)
from basalt.core.readings import (
    LOW_MILLI,
    NO_READING,
    STALE_MS,
    TREND_MIN_SPAN,
    dosing_refusal,
)
from basalt.core.units import MS_PER_MIN, fmt_milli

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):
        return value


STEP_MIN = const(15)  # prediction points every 15 minutes
POINTS = const(17)  # 0..240 minutes
DOSE_FROM_MIN = const(30)  # the dose looks at predictions from here on (not the present)
FADE_MIN = const(60)  # momentum fades to nothing over this
UAM_FADE_MIN = const(180)  # an unexplained rise (no carbs on board) fades over this
UAM_MIN_TREND = const(200)  # a rise from 0.2 mg/dL/min (1 mg/dL per 5 min): not noise
BOLUS_MIN_MG = const(150)  # automatic boluses only from this glucose up
BOLUS_GUARD_MG = const(100)  # nor below this, were the rise to stop now
FIT_MIN = const(30)  # glucose and trend: a least-squares line through 30 min of readings
NOISY_MILLI = 20_000  # readings further than this from their line: not used to dose
TEMP_FACTOR = const(2)  # rate = scheduled + 2 x need per hour: the need in 30 minutes
EXPECT_MIN = const(120)  # the CGM is expected to bring eventual to target in 2 h (oref0)

# What the loop may add over scheduled basal (temps above it and automatic boluses) in
# any 3 h and any 24 h. Defaults, when the file sets none: 6 and 24 hours of the active
# profile's highest rate (the cohort's busiest day adds 4.4 and 20 of them: the bound
# does not bind on a real day; a spoofed CGM reading 350 all day meets it).
EXTRA_3H_MS = const(3 * 3_600_000)
EXTRA_24H_MS = const(24 * 3_600_000)
EXTRA_BUCKET_MS = const(3_600_000)  # the state keeps what was added per hour
DEFAULT_EXTRA_3H_HOURS = const(6)
DEFAULT_EXTRA_24H_HOURS = const(24)

# Autosens (oref0's idea, docs/references.md): how strongly glucose answers insulin here,
# learnt from the CGM. The state keeps "sens": [sum of trend x insulin's slope, sum of
# insulin's slope squared] over decisions with a trend, no carbs on board and no
# unexplained rise, each decision weighing the past by (SENS_MIN - minutes) / SENS_MIN.
# Their ratio (a line through 0: observed over expected) gives oref0's autosens ratio,
# bounded by its autosens_min below and by the settings above: what the loop learns
# only ever gives less insulin than the settings would (a meal's tail looks like a
# resistance, and a spoofed CGM must not teach the loop to dose more).
SENS_MIN = const(240)
SENS_PRIOR = const(3_000)  # a neutral start worth about an hour of modest insulin action
# The ratio's floor, x 1000: the sensitivity / 0.35 at most. oref0 stops at its
# autosens_min 0.7; the cohort's children answer insulin 1.4-2.6 times as strongly as
# their table says, and this bound only ever gives less insulin (docs/benchmarks.md).
SENS_LOW = const(350)
SENS_CLAMP = const(4_000)  # samples within +/-4 mg/dL/min (mg/dL/min x 1000)
SENS_SUM_LIMIT = const(4_000_000)  # x SENS_MIN stays a small int (below 2**30)


class PumpState:
    """What the pump is doing, as the loop needs it (filled by the app each decision)."""

    def __init__(self):
        self.delivering = True  # False: suspended, no reservoir, empty
        self.stop_reason = None
        self.scheduled_mu_h = 0
        self.highest_mu_h = 0  # highest rate of the active profile
        self.max_basal_mu_h = 0  # the settings' limit
        self.max_iob_mu = 0
        self.temp_mu_h = None  # the running temp basal's rate, or None
        self.temp_left_min = 0
        self.bolus_running = False
        self.bolus_step_mu = 10


class Decision:
    """One loop decision. action: 'temp' (rate_mu_h for TEMP_MIN), 'cancel' (back to
    scheduled), 'keep' (leave the pump as it is) or 'none' (loop off or pump stopped).
    bolus_mu > 0: an automatic bolus as well."""

    def __init__(self, at_ms, mode):
        self.at_ms = at_ms
        self.mode = mode
        self.action = "none"
        self.rate_mu_h = None
        self.minutes = 0
        self.bolus_mu = 0
        self.reason = ""
        self.glucose = None
        self.trend_milli = None
        self.iob_mu = 0
        self.cob_g = 0
        self.eventual = None
        self.lowest = None  # lowest prediction (mg/dL) and when (minutes ahead)
        self.lowest_min = 0
        self.basis = None  # what the dose aims from: min(eventual, lowest from 30 min)
        self.settled = None  # eventual glucose without momentum
        self.meals = 0  # announced meals on the record (absorbing)
        self.uam = False  # an unexplained rise: the meal nobody announced (UAM)
        self.deviation_milli = 0  # CGM slope minus what insulin and carbs explain
        self.need_mu = 0
        self.sens = 1000  # autosens ratio x 1000: the sensitivity used is the settings' / it
        self.max_temp_mu_h = 0
        self.prediction = None  # mg/dL at 0, 15, ..., 240 min
        # What the loop added over scheduled basal in the last 3 h and 24 h before this
        # decision (mU, hourly buckets: a window may count up to an hour more), and which
        # bound cut this decision's dose ("3 h", "24 h") or None.
        self.extra_3h_mu = 0
        self.extra_24h_mu = 0
        self.extra_limit = None
        # What bound this decision's dose: None, "max_temp", "max_iob", "loop_3h",
        # "loop_24h" or "low_glucose_suspend" (a zero temp below the suspend threshold).
        self.limit = None

    def as_dict(self):
        """Plain data for events, the journal and scenario files (ints, strings, None)."""
        return {"at_ms": self.at_ms, "mode": self.mode, "action": self.action,
                "rate_mu_h": self.rate_mu_h, "minutes": self.minutes, "bolus_mu": self.bolus_mu,
                "reason": self.reason, "glucose": self.glucose, "trend_milli": self.trend_milli,
                "iob_mu": self.iob_mu, "cob_g": self.cob_g, "eventual": self.eventual,
                "lowest": self.lowest, "lowest_min": self.lowest_min, "need_mu": self.need_mu,
                "deviation_milli": self.deviation_milli, "max_temp_mu_h": self.max_temp_mu_h,
                "extra_3h_mu": self.extra_3h_mu, "extra_24h_mu": self.extra_24h_mu,
                "extra_limit": self.extra_limit, "limit": self.limit, "sens": self.sens}


def max_temp_mu_h(state):
    """oref0's max safe basal: min(max basal, 3 x highest scheduled, 4 x current)."""
    return _max_temp(state.max_basal_mu_h, state.highest_mu_h, state.scheduled_mu_h)


def _max_temp(max_basal, highest, scheduled):
    return min(max_basal, 3 * highest, 4 * scheduled)


# ----- the pure entry point -------------------------------------------------------------
#
# decide(inputs) -> (Decision, state). `inputs` is one plain record (dicts, lists, ints,
# strings, bools, None: what a JSON file holds); nothing in it is changed, nothing is
# read from anywhere else, no clock. Every time in it is an ms count on one monotonic
# clock; only differences of times matter, so shifting them all by a constant shifts
# the decision's at_ms and the state's times by the same constant and changes nothing
# else (host_tests/test_loop_decide.py proves it).
#
#   now_ms     the time of the decision
#   readings   [[at_ms, glucose_milli or None, flags], ...] oldest first: the newest
#              stored CGM reading and the ones of the FIT_MIN minutes before it, with the
#              reading store's flags (basalt.core.readings; 0 = usable), glucose in
#              mg/dL x 1000 (None: the sensor sent no value). Times whole minutes apart.
#   iob        {"mu": net IOB in mU now and every STEP_MIN minutes ahead (POINTS values,
#              what IobTracker.iob_mu gives at now + k x 15 min), "activity_mu_h": net
#              insulin acting now}. Figures, not the dose history: the tracker keeps 8 h
#              of minute buckets (960 ints); the loop needs 18 numbers, and the record stays
#              small enough for a fixture, a journal line or the device's heap.
#   schedule   {"scheduled_mu_h", "highest_mu_h" (highest rate of the active profile),
#              "max_basal_mu_h", "max_iob_mu", "isf_mg_dl_u", "carb_ratio_mg_u",
#              "target_mg_dl"}: the settings at this time of day.
#   settings   the loop settings: {"mode", "suspend_mg_dl", "auto_bolus",
#              "auto_bolus_percent", "auto_bolus_max_min", "absorption_min"}
#   pump       {"stop_reason": None while delivering, else why not; "temp_mu_h": the
#              running temp basal's rate or None; "temp_left_min"; "bolus_running";
#              "bolus_step_mu"}
#   state      the loop's memory, what the previous decision returned:
#              {"carbs": [[at_ms, grams, early_mg], ...] (announced meals, at most
#              MAX_CARB_ENTRIES, in the order announced; early_mg: carbs counted as
#              absorbed ahead of the linear model), "last_ms": the previous decision's
#              time, or None (first decision, or the mode was just changed)}
#   why        (optional) a note for people; ignored
#
# The returned state drops meals whose absorption time is over and records this
# decision's time; feed it to the next decision. A record that breaks the schema
# raises InvalidValue naming the field, the value and the allowed range. Unusable
# glucose is not an error: it gives a fallback decision with its reason, as before.

def decide(inputs, check=True):
    """(Decision, new state) from one input record (see above); pure. check=False skips
    the schema check, for records built from checked parts (pump_inputs())."""
    if check:
        check_inputs(inputs)
    now_ms = inputs["now_ms"]
    cgm, why = glucose_input(inputs["readings"], now_ms, STALE_MS)
    return _decide(inputs, cgm, why)


def check_inputs(inputs):
    """Raise InvalidValue (field, value, allowed range) unless `inputs` fits the schema.
    The schema lives in basalt.core.loop_check, loaded on first use: the app's Loop
    builds its records from checked parts and never needs it."""
    from basalt.core.loop_check import check_inputs as check

    return check(inputs)


def result(decision, state):
    """A decision and its state as plain data: what the fixtures' expected files hold and
    `python -m tools.sim decide` prints."""
    out = decision.as_dict()
    out["prediction"] = decision.prediction
    return {"decision": out, "state": state}


def glucose_input(readings, now_ms, stale_ms):
    """(cgm, why) from plain readings (the record's "readings"): cgm = (glucose x 1000 on
    the least-squares line over FIT_MIN at the newest reading, slope in mg/dL/min x 1000
    or None, a caution (text) that forbids raising insulin, or None) when the newest
    reading may dose, else None with the reason. A fresh LO reading (below what the
    sensor measures, 40 mg/dL) is not "no data": it is a low, and comes through as that
    glucose so that the loop suspends."""
    if not readings:
        return None, NO_READING
    newest = readings[-1]
    at, glucose, flags = newest
    age = now_ms - at
    if age < 0:
        age = 0
    why = dosing_refusal(age, flags, stale_ms)
    if why is None and age >= stale_ms:
        why = "CGM reading is %d min old (the loop needs one under %d min)" % (
            age // MS_PER_MIN, stale_ms // MS_PER_MIN)
    if why is None:
        fit = _fit(readings)
        if fit is None:
            # Too few usable readings for a line: flagged ones in the span still forbid
            # raising insulin (a step up is not dosed once its first value is believed).
            faulty = _flagged_within(readings, FIT_MIN)
            caution = None
            if faulty:
                caution = "%d faulty CGM reading(s) in the last %d min" % (faulty, FIT_MIN)
            return (glucose, None, caution), None
        if fit[2] > NOISY_MILLI:
            return None, "CGM readings too noisy (%d mg/dL from their trend on average, limit " \
                "%d)" % (fit[2] // 1000, NOISY_MILLI // 1000)
        caution = None
        if fit[3]:
            caution = "%d faulty CGM reading(s) in the last %d min" % (fit[3], FIT_MIN)
        return (fit[0], fit[1], caution), None
    if glucose is not None and glucose < LOW_MILLI and age <= stale_ms:
        return (glucose, None, "LO reading"), None
    return None, why


def _flagged_within(readings, minutes):
    """Flagged readings in the `minutes` up to the newest."""
    newest_at = readings[-1][0]
    count = 0
    for i in range(len(readings) - 1, -1, -1):
        at, _, flags = readings[i]
        if (at - newest_at) // MS_PER_MIN < -minutes:
            break
        if flags:
            count += 1
    return count


def _fit(readings):
    """The least-squares line through the usable readings of the FIT_MIN minutes up to the
    newest (the same line as ReadingStore.fit(newest, FIT_MIN)): (glucose x 1000 on it at
    the newest, slope, mean distance of those readings from it, flagged readings in the
    span), or None with fewer than 3 usable readings over TREND_MIN_SPAN minutes."""
    newest_at = readings[-1][0]
    n = sx = sy = sxy = sxx = 0
    base = None
    oldest = 0
    for i in range(len(readings) - 1, -1, -1):
        at, glucose, flags = readings[i]
        x = (at - newest_at) // MS_PER_MIN  # minutes, <= 0: every sum stays small
        if x < -FIT_MIN:
            break
        if flags:
            continue
        if base is None:
            base = glucose
        y = glucose - base
        n += 1
        sx += x
        sy += y
        sxy += x * y
        sxx += x * x
        oldest = x
    if n < 3 or -oldest < TREND_MIN_SPAN:
        return None
    slope = div_round(n * sxy - sx * sy, n * sxx - sx * sx)
    at = div_round(sy - slope * sx, n)
    scatter = 0
    faulty = 0
    for i in range(len(readings) - 1, -1, -1):
        entry = readings[i]
        x = (entry[0] - newest_at) // MS_PER_MIN
        if x < -FIT_MIN:
            break
        if entry[2]:
            faulty += 1
        elif x >= oldest:
            scatter += abs(entry[1] - base - at - slope * x)
    return base + at, slope, scatter // n, faulty


def _decide(inputs, cgm, why):
    """decide() once the glucose is known (cgm, why as glucose_input gives them); the
    record is taken as checked. Loop.decide enters here with the CGM input it is given."""
    now_ms = inputs["now_ms"]
    settings = inputs["settings"]
    mu = inputs["iob"]["mu"]
    last_ms = inputs["state"]["last_ms"]
    absorb_min = settings["absorption_min"]
    since = MS_PER_MIN * FADE_MIN if last_ms is None else now_ms - last_ms
    # The carb record, copied (the input is never changed); meals whose time is over go.
    carbs = []
    old = inputs["state"]
    for at, grams, early in old["carbs"]:
        if now_ms - at < absorb_min * MS_PER_MIN:
            carbs.append([at, grams, early])
    # What the loop added over scheduled basal: its last temp counted up to now.
    extra, loop_temp = _settle(old.get("extra", ()), old.get("loop_temp"), now_ms)
    sens = old.get("sens")
    state = {"carbs": carbs, "last_ms": now_ms, "extra": extra, "loop_temp": loop_temp}
    d = Decision(now_ms, settings["mode"])
    d.sens = sens_ratio(sens)
    d.iob_mu = mu[0]
    d.cob_g = carbs_on_board(carbs, now_ms, absorb_min)
    d.extra_3h_mu = added_within(extra, now_ms, EXTRA_3H_MS)
    d.extra_24h_mu = added_within(extra, now_ms, EXTRA_24H_MS)
    scheduled = inputs["schedule"]["scheduled_mu_h"]
    d = _choose(d, inputs, cgm, why, carbs, since)
    state["sens"] = _learn(sens, d, inputs, since)
    return _commit(d, state, scheduled)


def sens_ratio(sens):
    """oref0's autosens ratio x 1000 from the state's sums (None: nothing learnt):
    expected over observed insulin effect, from SENS_LOW (glucose answers insulin
    1 / 0.35 times as strongly as the settings say, or more) to 1000 (the settings)."""
    if sens is None:
        return 1000
    num = sens[0] + SENS_PRIOR
    den = sens[1] + SENS_PRIOR
    if num <= den:
        return 1000
    if num >= 3 * den:  # a ratio below 1 / 3: under the floor
        return SENS_LOW
    if den >= 1 << 18:  # num * 1000 stays a small int (num < 3 x 2**18)
        num >>= 10
        den >>= 10
    ratio = 1_000_000 // (num * 1000 // den)
    return SENS_LOW if ratio < SENS_LOW else ratio


def _learn(sens, d, inputs, since):
    """The autosens sums with this decision's CGM trend against insulin's expected slope
    (the settings' sensitivity), the past weighed down by the minutes since the last."""
    minutes = since // MS_PER_MIN
    keep = SENS_MIN - minutes if minutes < SENS_MIN else 0
    xy, xx = (0, 0) if sens is None else (sens[0] * keep // SENS_MIN,
                                          sens[1] * keep // SENS_MIN)
    if d.trend_milli is not None and not d.uam and not d.cob_g:
        effect = _clamp(-inputs["iob"]["activity_mu_h"] * inputs["schedule"]["isf_mg_dl_u"]
                        // 60, SENS_CLAMP)
        xy = _clamp(xy + _clamp(d.trend_milli, SENS_CLAMP) * effect // 1000, SENS_SUM_LIMIT)
        xx = _clamp(xx + effect * effect // 1000, SENS_SUM_LIMIT)
    return [xy, xx]


def _clamp(value, most):
    return most if value > most else -most if value < -most else value


def _choose(d, inputs, cgm, why, carbs, since):
    """The decision, before what it adds is put on the loop's record."""
    now_ms = inputs["now_ms"]
    settings = inputs["settings"]
    schedule = inputs["schedule"]
    pump = inputs["pump"]
    absorb_min = settings["absorption_min"]
    if d.mode == "off":
        d.reason = "loop off: pump therapy"
        return d
    if pump["stop_reason"] is not None:
        d.reason = "pump stopped (%s): the loop waits" % pump["stop_reason"]
        return d
    scheduled = schedule["scheduled_mu_h"]
    d.max_temp_mu_h = _max_temp(schedule["max_basal_mu_h"], schedule["highest_mu_h"], scheduled)
    if cgm is None:
        return _fallback(d, pump, scheduled, why)
    isf = schedule["isf_mg_dl_u"] * 1000 // d.sens
    d.glucose = cgm[0] // 1000
    d.trend_milli = cgm[1]
    _predict(d, now_ms, inputs["iob"], carbs, absorb_min, isf, schedule["carb_ratio_mg_u"],
             since)
    threshold = settings["suspend_mg_dl"]
    if d.glucose < threshold:
        return _zero(d, "glucose %d mg/dL is below the suspend threshold %d: basal "
                     "suspended" % (d.glucose, threshold))
    if d.lowest < threshold:
        return _zero(d, "predicted %d mg/dL in %d min, below the suspend threshold "
                     "%d: basal suspended" % (d.lowest, d.lowest_min, threshold))
    if d.mode == "suspend_only":
        return _scheduled(d, pump, "glucose %d, lowest predicted %d mg/dL: scheduled basal"
                          % (d.glucose, d.lowest))
    return _dose(d, schedule, settings, pump, cgm[2], isf)


# ----- what the loop adds over scheduled basal -------------------------------------------
# The state keeps "extra": [[bucket start ms, mU], ...] oldest first, one bucket per hour
# of what the loop's temps above scheduled basal and its automatic boluses added, and
# "loop_temp": [start ms, mU/h above scheduled, end ms] for the loop's temp still
# running (or None). A temp is counted as running to its end unless a later decision
# replaces or cancels it (the safe direction: a temp the user cancelled still counts).
# Amounts go into the bucket of the decision that counts them; a window sums every
# bucket that reaches into it, so it can count up to an hour more than it spans, never
# less. Before dosing, the planned dose (the bolus and the temp's whole 30 minutes) must
# fit what is left in both windows: no 3 h (or 24 h) stretch ever holds more than the
# bound, even if the loop stops deciding.


def extra_limits(settings, schedule):
    """(3 h bound, 24 h bound) in mU from the record's settings and schedule: the
    settings' values, or the defaults (hours of the highest scheduled rate)."""
    most_3h = settings.get("max_extra_3h_mu")
    most_24h = settings.get("max_extra_24h_mu")
    highest = schedule["highest_mu_h"]
    if most_3h is None:
        most_3h = DEFAULT_EXTRA_3H_HOURS * highest
    if most_24h is None:
        most_24h = DEFAULT_EXTRA_24H_HOURS * highest
    return most_3h, most_24h


def added_within(extra, now_ms, window_ms):
    """mU the loop added in the buckets that reach into the window ending now."""
    total = 0
    for start, mu in extra:
        if start + EXTRA_BUCKET_MS > now_ms - window_ms:
            total += mu
    return total


def _add_extra(extra, now_ms, mu):
    """A new bucket list with mu added at now_ms (the input is not changed); buckets
    older than 24 h go."""
    kept = []
    for start, amount in extra:
        if start + EXTRA_BUCKET_MS > now_ms - EXTRA_24H_MS:
            kept.append([start, amount])
    if mu <= 0:
        return kept
    if kept and now_ms >= kept[-1][0]:
        last = kept[-1][0]
        steps = (now_ms - last) // EXTRA_BUCKET_MS
        if steps == 0:
            kept[-1][1] += mu
            return kept
        kept.append([last + steps * EXTRA_BUCKET_MS, mu])
    else:
        kept.append([now_ms, mu])
    return kept


def _over(extra_mu_h, ms):
    """mU a rate extra_mu_h above scheduled adds in ms, rounded up."""
    return -(-extra_mu_h * ms // 3_600_000) if extra_mu_h > 0 and ms > 0 else 0


def _settle(extra, loop_temp, now_ms):
    """(buckets, loop_temp) with the loop's running temp counted up to now."""
    if loop_temp is None:
        return _add_extra(extra, now_ms, 0), None
    start, extra_mu_h, end = loop_temp
    ran_to = end if end < now_ms else now_ms
    buckets = _add_extra(extra, now_ms, _over(extra_mu_h, ran_to - start))
    if end <= now_ms:
        return buckets, None
    return buckets, [now_ms, extra_mu_h, end]


def _commit(d, state, scheduled):
    """Put what the decision adds on the record: its bolus now, its temp as running. A
    new temp or a cancel ends the loop's temp; keep and none leave it running."""
    now_ms = d.at_ms
    if d.action == "temp":
        over = d.rate_mu_h - scheduled
        state["loop_temp"] = None if over <= 0 else [now_ms, over,
                                                     now_ms + d.minutes * MS_PER_MIN]
    elif d.action == "cancel":
        state["loop_temp"] = None
    if d.bolus_mu:
        state["extra"] = _add_extra(state["extra"], now_ms, d.bolus_mu)
    return d, state


def _sensitive_3h(most_3h, sens, highest):
    """The 3 h bound for a patient the CGM shows more sensitive than the settings say
    (autosens ratio sens x 1000): a setting above the default (6 h of the highest rate)
    shrinks by the ratio, never below the default. Room for resistance is not room
    for a child who already answers insulin twice as strongly."""
    default = DEFAULT_EXTRA_3H_HOURS * highest
    if most_3h <= default:
        return most_3h
    scaled = most_3h * sens // 1000
    return scaled if scaled > default else default


def _bound(d, schedule, settings, pump, rate, what):
    """(rate, what) with the dose cut to what the 3 h and 24 h bounds leave."""
    scheduled = schedule["scheduled_mu_h"]
    most_3h, most_24h = extra_limits(settings, schedule)
    most_3h = _sensitive_3h(most_3h, d.sens, schedule["highest_mu_h"])
    left_3h = most_3h - d.extra_3h_mu
    left_24h = most_24h - d.extra_24h_mu
    left = left_3h if left_3h < left_24h else left_24h
    if left < 0:
        left = 0
    if d.bolus_mu + _over(rate - scheduled, TEMP_MIN * MS_PER_MIN) <= left:
        return rate, what
    d.extra_limit = "3 h" if left_3h <= left_24h else "24 h"
    d.limit = "loop_3h" if left_3h <= left_24h else "loop_24h"
    step = pump["bolus_step_mu"]
    if d.bolus_mu > left:
        d.bolus_mu = left // step * step
    room_mu_h = (left - d.bolus_mu) * 60 // TEMP_MIN
    if rate > scheduled + room_mu_h:
        rate = scheduled + room_mu_h
    most, used = (most_3h, d.extra_3h_mu) if d.extra_limit == "3 h" else (most_24h,
                                                                           d.extra_24h_mu)
    what += "; loop extra over scheduled basal capped: %s of %s U in %s used" % (
        fmt_milli(used), fmt_milli(most), d.extra_limit)
    return rate, what


# ----- carbs --------------------------------------------------------------------------
# Each meal absorbs linearly over absorption_min, or faster: glucose rising more than the
# model explains while carbs are on board is those carbs arriving early (dynamic
# absorption, as Loop does), so it uses them up (early_mg) instead of being counted twice
# as momentum. The record is [[at_ms, grams, early_mg], ...] in the order announced.


def _carb_rise(carbs, now_ms, ahead_min, absorb_min, isf, carb_ratio_mg):
    """(mg/dL the carbs on board add in the next ahead_min, their slope now in
    mg/dL/min x 1000)."""
    rise = 0
    slope = 0
    for entry in carbs:
        left = _left_mg(entry, now_ms, absorb_min)
        if left:
            total = entry[1] * 1000
            coming = total * ahead_min // absorb_min
            rise += (left if coming > left else coming) * isf // carb_ratio_mg
            slope += total * isf // absorb_min * 1000 // carb_ratio_mg
    return rise, slope


def _absorb_early(carbs, now_ms, absorb_min, mg):
    """Count mg of carbs as absorbed already, oldest meal first."""
    for _ in range(MAX_CARB_ENTRIES):
        oldest = -1
        for i in range(len(carbs)):
            if _left_mg(carbs[i], now_ms, absorb_min) and (
                    oldest < 0 or carbs[i][0] < carbs[oldest][0]):
                oldest = i
        if oldest < 0 or mg <= 0:
            return
        take = min(mg, _left_mg(carbs[oldest], now_ms, absorb_min))
        carbs[oldest][2] += take
        mg -= take


# ----- prediction and dose ---------------------------------------------------------------


def _predict(d, now_ms, iob, carbs, absorb_min, isf, carb_ratio, since_ms):
    mu = iob["mu"]
    iob_now = d.iob_mu
    _, carb_slope = _carb_rise(carbs, now_ms, 0, absorb_min, isf, carb_ratio)
    # Slope explained by insulin acting and carbs absorbing, mg/dL/min x 1000.
    expected = carb_slope - iob["activity_mu_h"] * isf // 60
    trend = d.trend_milli
    deviation = 0 if trend is None else trend - expected
    if deviation > 0 and carbs_on_board(carbs, now_ms, absorb_min):
        # Carbs arriving faster than modelled: they use up carbs on board, and the
        # rise of a meal that was bolused for is not a trend to chase.
        minutes = min(since_ms, FADE_MIN * MS_PER_MIN) // MS_PER_MIN
        _absorb_early(carbs, now_ms, absorb_min,
                      deviation * minutes // isf * carb_ratio // 1000)
        deviation = 0
    d.deviation_milli = deviation
    d.cob_g = carbs_on_board(carbs, now_ms, absorb_min)
    d.meals = len(carbs)
    # Glucose rising faster than insulin and carbs on board explain is a meal nobody
    # announced (oref1's UAM): it lasts, so it is carried over UAM_FADE_MIN, not FADE_MIN.
    d.uam = deviation > 0 and trend is not None and trend >= UAM_MIN_TREND
    fade = UAM_FADE_MIN if d.uam else FADE_MIN
    glucose = d.glucose
    points = [0] * POINTS
    lowest, lowest_min, dose_low = glucose, 0, None
    for k in range(POINTS):
        ahead = k * STEP_MIN
        insulin = (iob_now - mu[k]) * isf // 1000
        value = (glucose - insulin + _carb_rise(carbs, now_ms, ahead, absorb_min, isf,
                                                carb_ratio)[0]
                 + _momentum(deviation, ahead, fade))
        points[k] = value
        if value < lowest:
            lowest, lowest_min = value, ahead
        if ahead >= DOSE_FROM_MIN and (dose_low is None or value < dose_low):
            dose_low = value
    d.prediction = points
    d.lowest, d.lowest_min = lowest, lowest_min
    carbs_left = _carb_rise(carbs, now_ms, absorb_min, absorb_min, isf, carb_ratio)[0]
    d.settled = glucose - iob_now * isf // 1000 + carbs_left  # if the rise stopped now
    d.eventual = d.settled + _momentum(deviation, fade, fade)
    d.basis = d.eventual if d.uam else min(d.eventual, dose_low)


def _dose(d, schedule, settings, pump, caution, isf):
    target = schedule["target_mg_dl"]
    basis = d.basis
    need = (basis - target) * 1000 // isf
    scheduled = schedule["scheduled_mu_h"]
    what = "eventual %d, lowest from %d min %d, target %d mg/dL" % (
        d.eventual, DOSE_FROM_MIN, basis, target)
    if d.sens < 1000:
        what += "; sensitivity %d mg/dL/U (autosens %d %%)" % (isf, d.sens // 10)
    if need > 0 and caution:
        d.need_mu = need
        return _scheduled(d, pump, "%s; %s: no more than scheduled basal" % (what, caution))
    if need > 0:
        max_iob = schedule["max_iob_mu"]
        room = max_iob - d.iob_mu
        if room <= 0:
            d.need_mu = 0
            d.limit = "max_iob"
            return _scheduled(d, pump, "%s; insulin on board %s U is at the max of %s U: "
                              "scheduled basal" % (what, fmt_milli(d.iob_mu),
                                                   fmt_milli(max_iob)))
        if need > room:
            need = room
            d.limit = "max_iob"
            what += "; need limited to %s U by max IOB" % fmt_milli(room)
    d.need_mu = need
    against = _cgm_disagrees(d, need, target)
    if against:
        return _scheduled(d, pump, "%s; %s: scheduled basal" % (what, against))
    share = settings.get("need_percent", 100)
    if need > 0 and share < 100:  # an activity mode doses only part of a rise
        need = need * share // 100
        what += "; %d %% of the need (activity)" % share
    if need > 0 and settings["auto_bolus"]:
        need -= _auto_bolus(d, scheduled, settings, pump, need, isf)
    rate = scheduled + TEMP_FACTOR * need
    if rate < 0:
        rate = 0
    if rate > d.max_temp_mu_h:
        rate = d.max_temp_mu_h
        d.limit = "max_temp"
        what += "; temp capped at the max temp basal %s U/h" % fmt_milli(rate)
    rate, what = _bound(d, schedule, settings, pump, rate, what)
    if d.bolus_mu:
        what += "; automatic bolus %s U (%d %% of the need)" % (
            fmt_milli(d.bolus_mu), settings["auto_bolus_percent"])
    if rate == scheduled:
        return _scheduled(d, pump, what + ": scheduled basal")
    d.action, d.rate_mu_h, d.minutes = "temp", rate, TEMP_MIN
    d.reason = "%s: temp %s U/h for %d min" % (what, fmt_milli(rate), TEMP_MIN)
    return d


def _auto_bolus(d, scheduled, settings, pump, need, isf):
    """A fraction of the need as a bolus, rounded down to the pump's bolus step."""
    if pump["bolus_running"] or d.lowest < settings["suspend_mg_dl"]:
        return 0
    if not d.uam or d.meals or d.glucose < BOLUS_MIN_MG:
        return 0  # only for an unannounced rise, and not near the target
    amount = need * settings["auto_bolus_percent"] // 100
    most = scheduled * settings["auto_bolus_max_min"] // 60
    if amount > most:
        amount = most
    room = (d.settled - BOLUS_GUARD_MG) * 1000 // isf  # all on board, if the rise stopped
    if amount > room:
        amount = room if room > 0 else 0
    step = pump["bolus_step_mu"]
    amount = amount // step * step
    d.bolus_mu = amount
    return amount


# ----- building the record from the live pump ------------------------------------------


def iob_figures(iob, now_ms):
    """The record's "iob" from an IobTracker (or anything with iob_mu(ms) and
    activity_mu_h(ms)): POINTS + 1 evaluations, as the prediction used to make."""
    mu = [0] * POINTS
    for k in range(POINTS):
        mu[k] = iob.iob_mu(now_ms + k * STEP_MIN * MS_PER_MIN)
    return {"mu": mu, "activity_mu_h": iob.activity_mu_h(now_ms)}


def pump_section(state):
    """The record's "pump" from a PumpState."""
    return {"stop_reason": None if state.delivering else "%s" % state.stop_reason,
            "temp_mu_h": state.temp_mu_h, "temp_left_min": state.temp_left_min,
            "bolus_running": state.bolus_running, "bolus_step_mu": state.bolus_step_mu}


def schedule_section(state, therapy):
    """The record's "schedule" from a PumpState and therapy = (sensitivity mg/dL/U, carb
    ratio mg/U, target mg/dL)."""
    return {"scheduled_mu_h": state.scheduled_mu_h, "highest_mu_h": state.highest_mu_h,
            "max_basal_mu_h": state.max_basal_mu_h, "max_iob_mu": state.max_iob_mu,
            "isf_mg_dl_u": therapy[0], "carb_ratio_mg_u": therapy[1],
            "target_mg_dl": therapy[2]}


def store_readings(store):
    """The record's "readings" from a readings.ReadingStore: the newest stored reading
    and those of the FIT_MIN minutes before it, oldest first, times as the store has
    them now."""
    return store.recent(FIT_MIN)


def pump_inputs(now_ms, store, iob, settings, engine, mode, state, bolus_step_mu,
                activity=None):
    """The input record for decide() from the live pump's parts, for the app:

        store    the readings.ReadingStore the CGM fills
        iob      the IobTracker
        settings the therapy Settings (sensitivity, carb_ratio, targets by time of day,
                 limits, loop)
        engine   the DeliveryEngine (profiles, time of day, temp basal, boluses, stop)
        mode     the loop's running mode (Loop.mode: it may differ from the file's)
        state    the loop's state (Loop.state: what the previous decision returned)
        activity the running activity mode's rules (basalt.core.activity.RULES), or None

    Reads only; everything it returns is plain data."""
    day = engine.day_ms()
    low, high = settings.targets.value_at(day)
    pump = PumpState()
    pump.stop_reason = engine.stop_reason
    pump.delivering = engine.stop_reason is None
    profiles = engine.profiles
    if profiles.active is None or not engine.time_known:
        pump.delivering = False
        pump.stop_reason = "no basal profile" if profiles.active is None else "time not set"
    else:
        profile = profiles.current()
        pump.scheduled_mu_h = engine.scheduled_mu_h()
        pump.highest_mu_h = max(profile.rates_mu_h)
        temp = engine.temp_basal()
        if temp is not None:
            rate, percent, left = temp
            pump.temp_mu_h = rate if rate is not None else pump.scheduled_mu_h * percent // 100
            pump.temp_left_min = left
        pump.bolus_running = engine.bolus_running()
    pump.max_basal_mu_h = settings.limits.max_basal_mu_h
    pump.max_iob_mu = settings.limits.max_iob_mu
    pump.bolus_step_mu = bolus_step_mu
    target = _aim(low, high, settings.loop.aim_offset_mg_dl)
    loop_settings = settings.loop.as_dict(mode)
    if activity is not None:  # an activity mode: its target, its share of the need
        target = activity[0] or target
        loop_settings["need_percent"] = activity[1]
        loop_settings["auto_bolus"] = loop_settings["auto_bolus"] and activity[2]
    therapy = (settings.sensitivity.value_at(day), settings.carb_ratio.value_at(day), target)
    return {"now_ms": now_ms, "readings": store_readings(store),
            "iob": iob_figures(iob, now_ms), "schedule": schedule_section(pump, therapy),
            "settings": loop_settings, "pump": pump_section(pump), "state": state}


def _aim(low, high, offset):
    """The loop's target: the middle of the target range plus the settings' offset,
    never outside the range."""
    target = (low + high) // 2 + offset
    return low if target < low else high if target > high else target


def cgm_input(store, now_ms):
    """(cgm, why) for Loop.decide() from a readings.ReadingStore: glucose_input() over
    its readings (the one rule the pure decide() follows)."""
    return glucose_input(store_readings(store), now_ms, store.stale_ms)


def _cgm_disagrees(d, need, target):
    """Why the CGM overrules a dose in this direction, or None (oref0's delta checks:
    the slope expected is what insulin and carbs explain plus the slope that takes the
    eventual glucose to the target in EXPECT_MIN, its expectedDelta), for glucose
    falling at least UAM_MIN_TREND. Glucose flatter than that gets no more insulin while
    it is below what insulin and carbs explain alone, and no less while above it."""
    deviation = d.deviation_milli
    off = deviation - (target - d.eventual) * 1000 // EXPECT_MIN
    trend = d.trend_milli
    if need > 0 and deviation < 0 and trend is not None and trend > -UAM_MIN_TREND:
        # Not clearly falling, and short of what insulin and carbs explain (carbs not
        # arriving yet, a flat line after a suspend or a step): no chasing it.
        return "glucose runs %s mg/dL/5 min below what insulin and carbs explain: no more " \
            "insulin" % fmt_milli(-5 * deviation)
    if need > 0 and off < 0:
        return "glucose runs %s mg/dL/5 min below the slope expected (insulin, carbs and " \
            "the way to the target in 2 h): no more insulin" % fmt_milli(-5 * off)
    if need < 0 and deviation > 0 and trend is not None and trend > 0:
        return "glucose rises %s mg/dL/5 min above what insulin and carbs explain: no less " \
            "insulin" % fmt_milli(5 * deviation)
    return None


def _momentum(deviation, ahead, fade):
    """mg/dL the unexplained slope adds by `ahead` minutes, fading linearly over fade."""
    t = ahead if ahead < fade else fade
    return deviation * (2 * fade * t - t * t) // (2 * fade) // 1000


def _zero(d, reason):
    d.action, d.rate_mu_h, d.minutes = "temp", 0, TEMP_MIN
    d.limit = "low_glucose_suspend"
    d.reason = reason + " (zero temp %d min)" % TEMP_MIN
    return d


def _scheduled(d, pump, reason):
    d.action = "cancel" if pump["temp_mu_h"] is not None else "keep"
    d.reason = reason
    return d


def _fallback(d, pump, scheduled, why):
    """No usable glucose: never raise insulin; a high temp is cancelled, a low one ends."""
    temp = pump["temp_mu_h"]
    if temp is not None and temp > scheduled:
        d.action = "cancel"
        d.reason = "%s: high temp cancelled, scheduled basal" % why
    elif temp is not None:
        d.action = "keep"
        d.reason = "%s: the low temp ends in %d min, then scheduled basal" % (
            why, pump["temp_left_min"])
    else:
        d.action = "keep"
        d.reason = "%s: scheduled basal" % why
    return d
