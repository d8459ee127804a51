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
at most 30 minutes' worth). The eventual glucose counts all insulin and carbs on board.

Then, in order (REFERENCE.md: oref0, Loop):
  no usable CGM (stale >= 15 min, flat, implausible)  cancel a high temp; a low temp
      runs out (<= 30 min); nothing new until a fresh reading -> scheduled basal
  glucose or any prediction below the suspend threshold  zero temp (suspend, predictive)
  suspend-only mode   otherwise scheduled basal (cancel the zero temp)
  closed loop         need = (min(eventual, lowest prediction from 30 min) - target) /
      sensitivity, limited by max IOB; temp = scheduled + 2 x need per hour (so a
      30-minute temp gives the need), between 0 and the max temp basal
      min(max basal, 3 x highest scheduled, 4 x current scheduled); with automatic
      boluses on, a fraction of a positive need as a bolus (never with a predicted low,
      at most auto_bolus_max_min minutes of scheduled basal), the rest as temp.
      What the CGM shows overrules the model's direction (oref0's "Delta < Exp. Delta"
      checks): no more insulin while glucose rises slower than insulin and carbs
      explain (the patient is more sensitive than the settings say, or insulin is
      catching up), and no less while it rises faster than they explain.

Temps last 30 minutes, so a loop that stops deciding falls back to scheduled basal.
Every decision carries a reason a person can read. Integers only: mg/dL, mU, mU/h, ms,
mg/dL/min x 1000 for slopes; one decision allocates only its small result.
"""

from basalt.core.check import exact_keys, int_in, one_of
from basalt.core.errors import InvalidValue
from basalt.core.readings import LOW_MILLI
from basalt.core.units import MS_PER_MIN, fmt_milli

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):
        return value


MODES = ("off", "suspend_only", "closed")
COMMANDS = ("loop_mode", "carbs")
PERIOD_MS = const(5 * 60_000)
TEMP_MIN = const(30)  # every loop temp basal; a lost loop reverts within this
STEP_MIN = const(15)  # prediction points every 15 minutes
POINTS = const(17)  # 0..240 minutes
DOSE_FROM_MIN = const(30)  # the dose looks at predictions from here on (not the present)
FADE_MIN = const(60)  # momentum fades to nothing over this
FIT_MIN = const(30)  # glucose and trend: a least-squares line through 30 min of readings
NOISY_MILLI = 20_000  # readings further than this from their line: not used to dose
MAX_CARB_ENTRIES = const(8)
TEMP_FACTOR = const(2)  # rate = scheduled + 2 x need per hour: the need in 30 minutes

DEFAULT_SUSPEND_MG_DL = 80
# Ranges the settings file allows (basalt.core.settings checks them).
SUSPEND_RANGE = (67, 110)  # Loop's suspend threshold guardrail (REFERENCE.md)
ABSORPTION_RANGE = (60, 360)
AUTO_BOLUS_PERCENT_RANGE = (10, 80)
AUTO_BOLUS_MAX_MIN_RANGE = (0, 120)


class LoopSettings:
    """The settings file's loop section in integers (checked by basalt.core.settings)."""

    def __init__(self, mode="off", suspend_mg_dl=DEFAULT_SUSPEND_MG_DL, auto_bolus=False,
                 auto_bolus_percent=40, auto_bolus_max_min=30, absorption_min=180):
        self.mode = mode
        self.suspend_mg_dl = suspend_mg_dl
        self.auto_bolus = auto_bolus
        self.auto_bolus_percent = auto_bolus_percent
        self.auto_bolus_max_min = auto_bolus_max_min
        self.absorption_min = absorption_min


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
        self.deviation_milli = 0  # CGM slope minus what insulin and carbs explain
        self.need_mu = 0
        self.max_temp_mu_h = 0
        self.prediction = None  # mg/dL at 0, 15, ..., 240 min

    def as_dict(self):
        """Plain data for events, the journal and scenario files (ints, strings, None)."""
        return {"at_ms": self.at_ms, "mode": self.mode, "action": self.action,
                "rate_mu_h": self.rate_mu_h, "minutes": self.minutes, "bolus_mu": self.bolus_mu,
                "reason": self.reason, "glucose": self.glucose, "trend_milli": self.trend_milli,
                "iob_mu": self.iob_mu, "cob_g": self.cob_g, "eventual": self.eventual,
                "lowest": self.lowest, "lowest_min": self.lowest_min, "need_mu": self.need_mu,
                "deviation_milli": self.deviation_milli, "max_temp_mu_h": self.max_temp_mu_h}


def max_temp_mu_h(state):
    """oref0's max safe basal: min(max basal, 3 x highest scheduled, 4 x current)."""
    return min(state.max_basal_mu_h, 3 * state.highest_mu_h, 4 * state.scheduled_mu_h)


class Loop:
    """The loop's memory (mode, announced carbs, when it last decided) and decide()."""

    def __init__(self, loop_settings):
        self.settings = loop_settings
        self.mode = loop_settings.mode
        self._carb_at = [0] * MAX_CARB_ENTRIES
        self._carb_mg = [0] * MAX_CARB_ENTRIES  # as announced; 0 = a free entry
        self._carb_early = [0] * MAX_CARB_ENTRIES  # absorbed ahead of the linear model
        self._last_ms = None
        self._last_offset = -1
        self.last = None  # the last Decision

    def in_control(self, now_ms):
        """True when the closed loop dosed from a usable glucose in the last two periods:
        it is correcting highs itself (the bolus calculator leaves them to it)."""
        d = self.last
        return (self.mode == "closed" and d is not None and d.mode == "closed"
                and d.glucose is not None and 0 <= now_ms - d.at_ms <= 2 * PERIOD_MS)

    def set_mode(self, mode):
        self.mode = one_of("loop mode", mode, MODES)
        self._last_ms = None  # decide at once in the new mode

    # ----- carbs --------------------------------------------------------------------
    # Each meal (mg of carbohydrate) absorbs linearly over absorption_min, or faster:
    # glucose rising more than the model explains while carbs are on board is those
    # carbs arriving early (dynamic absorption, as Loop does), so it uses them up
    # instead of being counted twice as momentum.

    def add_carbs(self, now_ms, grams):
        """Announced carbs (whole grams, eaten now). The oldest entry makes room."""
        int_in("carbs", grams, 1, 400, "g")
        slot = 0
        for i in range(MAX_CARB_ENTRIES):
            if self._carb_mg[i] == 0:
                slot = i
                break
            if self._carb_at[i] < self._carb_at[slot]:
                slot = i
        self._carb_at[slot] = now_ms
        self._carb_mg[slot] = grams * 1000
        self._carb_early[slot] = 0

    def _left_mg(self, i, now_ms):
        """Carbs of entry i not absorbed yet (mg); frees the entry when none are left."""
        total = self._carb_mg[i]
        if not total:
            return 0
        absorb = self.settings.absorption_min * MS_PER_MIN
        age = now_ms - self._carb_at[i]
        if age < 0:
            age = 0
        if age >= absorb:
            self._carb_mg[i] = 0  # the meal's time is over: the entry is free
            return 0
        left = total * ((absorb - age) // MS_PER_MIN) // (absorb // MS_PER_MIN)
        left -= self._carb_early[i]
        return left if left > 0 else 0

    def cob_g(self, now_ms):
        """Carbs on board, whole grams (rounded up)."""
        left = 0
        for i in range(MAX_CARB_ENTRIES):
            left += self._left_mg(i, now_ms)
        return -(-left // 1000)

    def _carb_rise(self, now_ms, ahead_min, isf, carb_ratio_mg):
        """(mg/dL the carbs on board add in the next ahead_min, their slope now in
        mg/dL/min x 1000)."""
        absorb = self.settings.absorption_min
        rise = 0
        slope = 0
        for i in range(MAX_CARB_ENTRIES):
            left = self._left_mg(i, now_ms)
            if left:
                total = self._carb_mg[i]
                coming = total * ahead_min // absorb
                rise += (left if coming > left else coming) * isf // carb_ratio_mg
                slope += total * isf // absorb * 1000 // carb_ratio_mg
        return rise, slope

    def _meal_since(self, now_ms):
        """True while an announced meal is within its absorption time."""
        absorb = self.settings.absorption_min * MS_PER_MIN
        for i in range(MAX_CARB_ENTRIES):
            if self._carb_mg[i] and now_ms - self._carb_at[i] < absorb:
                return True
        return False

    def _absorb_early(self, now_ms, mg):
        """Count mg of carbs as absorbed already, oldest meal first."""
        for _ in range(MAX_CARB_ENTRIES):
            oldest = -1
            for i in range(MAX_CARB_ENTRIES):
                if self._left_mg(i, now_ms) and (oldest < 0
                                                  or self._carb_at[i] < self._carb_at[oldest]):
                    oldest = i
            if oldest < 0 or mg <= 0:
                return
            take = min(mg, self._left_mg(oldest, now_ms))
            self._carb_early[oldest] += take
            mg -= take

    # ----- when -----------------------------------------------------------------------

    def due(self, now_ms, latest_offset):
        """True every PERIOD_MS and when a reading with a new offset arrived."""
        if self._last_ms is None or now_ms - self._last_ms >= PERIOD_MS:
            return True
        return latest_offset != self._last_offset

    # ----- the decision -----------------------------------------------------------------

    def decide(self, now_ms, therapy, cgm, why, iob, state, latest_offset=-1):
        """A Decision from the CGM (glucose x 1000, trend in mg/dL/min x 1000 or None, and
        a caution (text) that forbids raising insulin, or None: what cgm_input() gives;
        or None with `why` when there is nothing usable), the IOB tracker, the pump's
        state and the therapy at this time of day: therapy = (sensitivity mg/dL/U, carb
        ratio mg/U, target mg/dL)."""
        since = MS_PER_MIN * FADE_MIN if self._last_ms is None else now_ms - self._last_ms
        self._last_ms = now_ms
        self._last_offset = latest_offset
        d = Decision(now_ms, self.mode)
        self.last = d
        d.iob_mu = iob.iob_mu(now_ms)
        d.cob_g = self.cob_g(now_ms)
        if self.mode == "off":
            d.reason = "loop off: pump therapy"
            return d
        if not state.delivering:
            d.reason = "pump stopped (%s): the loop waits" % state.stop_reason
            return d
        d.max_temp_mu_h = max_temp_mu_h(state)
        if cgm is None:
            return _fallback(d, state, why)
        isf, carb_ratio, target = therapy
        d.glucose = cgm[0] // 1000
        d.trend_milli = cgm[1]
        self._predict(d, now_ms, iob, isf, carb_ratio, since)
        threshold = self.settings.suspend_mg_dl
        if d.glucose < threshold:
            return _zero(d, state, "glucose %d mg/dL is below the suspend threshold %d: basal "
                         "suspended" % (d.glucose, threshold))
        if d.lowest < threshold:
            return _zero(d, state, "predicted %d mg/dL in %d min, below the suspend threshold "
                         "%d: basal suspended" % (d.lowest, d.lowest_min, threshold))
        if self.mode == "suspend_only":
            return _scheduled(d, state, "glucose %d, lowest predicted %d mg/dL: scheduled basal"
                              % (d.glucose, d.lowest))
        return self._dose(d, state, isf, target, cgm[2])

    def _predict(self, d, now_ms, iob, isf, carb_ratio, since_ms):
        iob_now = d.iob_mu
        activity = iob.activity_mu_h(now_ms)
        _, carb_slope = self._carb_rise(now_ms, 0, isf, carb_ratio)
        # Slope explained by insulin acting and carbs absorbing, mg/dL/min x 1000.
        expected = carb_slope - activity * isf // 60
        trend = d.trend_milli
        deviation = 0 if trend is None else trend - expected
        if deviation > 0 and self._meal_since(now_ms):
            # Carbs arriving faster than modelled: they use up carbs on board, and the
            # rise of a meal that was bolused for is not a trend to chase.
            minutes = min(since_ms, FADE_MIN * MS_PER_MIN) // MS_PER_MIN
            self._absorb_early(now_ms, deviation * minutes // isf * carb_ratio // 1000)
            deviation = 0
        d.deviation_milli = deviation
        d.cob_g = self.cob_g(now_ms)
        glucose = d.glucose
        points = [0] * POINTS
        lowest, lowest_min, dose_low = glucose, 0, None
        for k in range(POINTS):
            ahead = k * STEP_MIN
            insulin = (iob_now - iob.iob_mu(now_ms + ahead * MS_PER_MIN)) * isf // 1000
            carbs = self._carb_rise(now_ms, ahead, isf, carb_ratio)[0]
            value = glucose - insulin + carbs + _momentum(deviation, ahead)
            points[k] = value
            if value < lowest:
                lowest, lowest_min = value, ahead
            if ahead >= DOSE_FROM_MIN and (dose_low is None or value < dose_low):
                dose_low = value
        d.prediction = points
        d.lowest, d.lowest_min = lowest, lowest_min
        carbs_left = self._carb_rise(now_ms, self.settings.absorption_min, isf, carb_ratio)[0]
        d.eventual = (glucose - iob_now * isf // 1000 + carbs_left
                      + _momentum(deviation, FADE_MIN))
        d.basis = min(d.eventual, dose_low)

    def _dose(self, d, state, isf, target, caution):
        basis = d.basis
        need = (basis - target) * 1000 // isf
        scheduled = state.scheduled_mu_h
        what = "eventual %d, lowest from %d min %d, target %d mg/dL" % (
            d.eventual, DOSE_FROM_MIN, basis, target)
        if need > 0 and caution:
            d.need_mu = need
            return _scheduled(d, state, "%s; %s: no more than scheduled basal" % (what, caution))
        if need > 0:
            room = state.max_iob_mu - d.iob_mu
            if room <= 0:
                d.need_mu = 0
                return _scheduled(d, state, "%s; insulin on board %s U is at the max of %s U: "
                                  "scheduled basal" % (what, fmt_milli(d.iob_mu),
                                                       fmt_milli(state.max_iob_mu)))
            if need > room:
                need = room
                what += "; need limited to %s U by max IOB" % fmt_milli(room)
        d.need_mu = need
        against = _cgm_disagrees(d, need)
        if against:
            return _scheduled(d, state, "%s; %s: scheduled basal" % (what, against))
        if need > 0 and self.settings.auto_bolus:
            need -= self._auto_bolus(d, state, need)
        rate = scheduled + TEMP_FACTOR * need
        if rate < 0:
            rate = 0
        if rate > d.max_temp_mu_h:
            rate = d.max_temp_mu_h
            what += "; temp capped at the max temp basal %s U/h" % fmt_milli(rate)
        if d.bolus_mu:
            what += "; automatic bolus %s U (%d %% of the need)" % (
                fmt_milli(d.bolus_mu), self.settings.auto_bolus_percent)
        if rate == scheduled:
            return _scheduled(d, state, what + ": scheduled basal")
        d.action, d.rate_mu_h, d.minutes = "temp", rate, TEMP_MIN
        d.reason = "%s: temp %s U/h for %d min" % (what, fmt_milli(rate), TEMP_MIN)
        return d

    def _auto_bolus(self, d, state, need):
        """A fraction of the need as a bolus, rounded down to the pump's bolus step."""
        if state.bolus_running or d.lowest < self.settings.suspend_mg_dl:
            return 0
        amount = need * self.settings.auto_bolus_percent // 100
        most = state.scheduled_mu_h * self.settings.auto_bolus_max_min // 60
        if amount > most:
            amount = most
        step = state.bolus_step_mu
        amount = amount // step * step
        d.bolus_mu = amount
        return amount


def cgm_input(store, now_ms):
    """(cgm, why) for decide() from a readings.ReadingStore: the least-squares fit over
    FIT_MIN when the newest reading may dose, else None with the store's reason. A fresh
    LO reading (below what the sensor measures, 40 mg/dL) is not "no data": it is a low,
    and comes through as that glucose so that the loop suspends."""
    reading, why = store.latest_for_dosing(now_ms)
    if reading is not None and reading.age_ms >= store.stale_ms:
        reading, why = None, "CGM reading is %d min old (the loop needs one under %d min)" % (
            reading.age_ms // MS_PER_MIN, store.stale_ms // MS_PER_MIN)
    if reading is not None:
        fit = store.fit(reading.offset, FIT_MIN)
        if fit is None:
            return (reading.glucose_milli, None, None), None
        if fit[2] > NOISY_MILLI:
            return None, "CGM readings too noisy (%d mg/dL from their trend on average, limit " \
                "%d)" % (fit[2] // 1000, NOISY_MILLI // 1000)
        caution = None
        if fit[3]:
            caution = "%d faulty CGM reading(s) in the last %d min" % (fit[3], FIT_MIN)
        return (fit[0], fit[1], caution), None
    newest = store.latest_reading(now_ms)
    if (newest is not None and newest.glucose_milli is not None
            and newest.glucose_milli < LOW_MILLI and newest.age_ms <= store.stale_ms):
        return (newest.glucose_milli, None, "LO reading"), None
    return None, why


def _cgm_disagrees(d, need):
    """Why the CGM overrules a dose in this direction, or None (oref0's delta checks)."""
    deviation = d.deviation_milli
    trend = d.trend_milli
    if need > 0 and deviation < 0:
        return "glucose runs %s mg/dL/5 min below what insulin and carbs explain: no more " \
            "insulin" % fmt_milli(-5 * deviation)
    if need < 0 and deviation > 0 and trend is not None and trend > 0:
        return "glucose rises %s mg/dL/5 min above what insulin and carbs explain: no less " \
            "insulin" % fmt_milli(5 * deviation)
    return None


def _momentum(deviation, ahead):
    """mg/dL the unexplained slope adds by `ahead` minutes, fading linearly over FADE_MIN."""
    t = ahead if ahead < FADE_MIN else FADE_MIN
    return deviation * (2 * FADE_MIN * t - t * t) // (2 * FADE_MIN) // 1000


def _zero(d, state, reason):
    d.action, d.rate_mu_h, d.minutes = "temp", 0, TEMP_MIN
    d.reason = reason + " (zero temp %d min)" % TEMP_MIN
    return d


def _scheduled(d, state, reason):
    d.action = "cancel" if state.temp_mu_h is not None else "keep"
    d.reason = reason
    return d


def _fallback(d, state, why):
    """No usable glucose: never raise insulin; a high temp is cancelled, a low one ends."""
    temp = state.temp_mu_h
    if temp is not None and temp > state.scheduled_mu_h:
        d.action = "cancel"
        d.reason = "%s: high temp cancelled, scheduled basal" % why
    elif temp is not None:
        d.action = "keep"
        d.reason = "%s: the low temp ends in %d min, then scheduled basal" % (
            why, state.temp_left_min)
    else:
        d.action = "keep"
        d.reason = "%s: scheduled basal" % why
    return d


def parse_command(cmd):
    """A loop command (plain data) -> (name, value); InvalidValue names what is wrong.

    {"cmd": "loop_mode", "mode": "off" | "suspend_only" | "closed"}
    {"cmd": "carbs", "grams": 1-400}     carbs eaten now (the calculator's, announced)
    """
    name = cmd.get("cmd")
    if name == "loop_mode":
        exact_keys("loop_mode", cmd, ("cmd", "mode"), (), InvalidValue)
        return name, one_of("loop_mode mode", cmd["mode"], MODES)
    if name == "carbs":
        exact_keys("carbs", cmd, ("cmd", "grams"), (), InvalidValue)
        return name, int_in("carbs grams", cmd["grams"], 1, 400, "g")
    raise InvalidValue("cmd", name, "one of " + ", ".join(COMMANDS))
