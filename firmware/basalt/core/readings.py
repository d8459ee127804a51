"""CGM readings you can trust: a bounded store, plausibility, trend, staleness, gaps.

Every consumer that doses or alarms on glucose (bolus calculator, alerts, closed loop)
asks one question: latest_for_dosing(now_ms) -> (Reading, None) or (None, reason).
A reading is refused for dosing when it is stale (no glucose value for 15 minutes, the
limit Loop uses: "glucoseTooOld", docs/references.md) or flagged:

  no_value      the sensor sent NaN, NRes or +/-INF
  out_of_range  outside 40..400 mg/dL (what CGMs report; beyond it they say LO/HI)
  rate          more than 6 mg/dL/min from the previous usable reading (blood glucose
                rarely changes faster than 3-4 mg/dL/min; twice that is a sensor fault).
                A fall is measured against a reading of the last 15 minutes; a rise
                against one of the last 60: a step up (100 -> 400) stays flagged until
                the time since the last believable reading could explain it (50 min
                for 300 mg/dL), so it is not dosed 15 minutes later
  flat          the same value for 45 minutes or more (oref0 refuses an unchanged CGM)
  duplicate     two different records claimed the same time offset
  sensor        the sensor's annunciation says session stopped, malfunction, wrong
                type, device fault, calibration required, temperature out of range,
                or a result outside what the device can process

Memory is fixed: one slot per minute of time offset for WINDOW_MIN minutes (6 h), so
slot = offset % WINDOW_MIN. That holds 6 h of history at a 1-minute or a 5-minute
cadence, accepts back-filled (older) records in O(1) and finds duplicates directly.

Time: records carry minutes since the sensor's session start. The session start in the
pump's clock (anchor_ms) is estimated from live records as now_ms - offset*60000; each
estimate is late by the notification latency, so the store keeps the smallest and lets
it rise by at most _ANCHOR_CREEP_MS per record to follow a sensor clock that runs slow.
A reading's time is anchor_ms + offset * 60000.

A record whose offset the pump's clock cannot have reached (more than _FUTURE_TOLERANCE_MS
ahead of the anchor) is ignored, not allowed to drag the anchor back (which made every
later reading "too old" for the rest of the session): a cgm_time event says so and the
cgm_time alarm latches until read. Three records in a row that agree on another anchor
over 10 minutes (ahead of it, or behind the stored readings by more than the window) are
the sensor's clock: the store starts over from them (a new session, with the event and
the alarm), so a bad offset never leaves the CGM dead without a message.
"""

from array import array

from basalt.core import cgms
from basalt.core.events import shift_events
from basalt.core.limits import STALE_MS
from basalt.core.units import MS_PER_MIN, shifted

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):
        return value


WINDOW_MIN = const(360)
LOW_MILLI = const(40_000)
HIGH_MILLI = const(400_000)
_MAX_RATE_MILLI = const(6_000)  # mg/dL per minute x 1000
_RATE_LOOKBACK_MIN = const(15)
_RISE_LOOKBACK_MIN = const(60)  # a rise is measured against a usable reading this far back
_FLAT_MIN = const(45)
_TREND_MIN = const(15)  # trend: least squares over this many minutes of readings
TREND_MIN_SPAN = const(10)
_HISTORY_MIN = const(30)  # fetched with RACP when the store has no reading yet
_MAX_CADENCE_MIN = const(5)  # CGMs send every 1 or 5 minutes
_ANCHOR_CREEP_MS = const(1_000)
_FUTURE_TOLERANCE_MS = const(10 * 60_000)  # ahead of the anchor by more: not this clock
_REANCHOR_RECORDS = const(3)  # records that agree on another clock ...
_REANCHOR_SPAN_MS = const(10 * 60_000)  # ... over at least this long: follow it
_REANCHOR_AGREE_MS = const(2 * 60_000)

NO_VALUE = const(1)
_OUT_OF_RANGE = const(2)
RATE = const(4)
FLAT = const(8)
DUPLICATE = const(16)
SENSOR = const(32)
FLAG_NAMES = ((NO_VALUE, "no_value"), (_OUT_OF_RANGE, "out_of_range"), (RATE, "rate"),
              (FLAT, "flat"), (DUPLICATE, "duplicate"), (SENSOR, "sensor"))
_NOT_A_REFERENCE = NO_VALUE | _OUT_OF_RANGE | RATE | DUPLICATE | SENSOR

SENSOR_FAULTS = (cgms.ANN_SESSION_STOPPED | cgms.ANN_SENSOR_TYPE_INCORRECT
                 | cgms.ANN_SENSOR_MALFUNCTION | cgms.ANN_GENERAL_FAULT
                 | cgms.ANN_CAL_REQUIRED | cgms.ANN_TEMP_TOO_HIGH | cgms.ANN_TEMP_TOO_LOW
                 | cgms.ANN_BELOW_DEVICE_RANGE | cgms.ANN_ABOVE_DEVICE_RANGE)

# Trend arrows (Nightscout direction names) from mg/dL/min x 1000, steepest first.
ARROWS = ((3_000, "DoubleUp"), (2_000, "SingleUp"), (1_000, "FortyFiveUp"),
          (-999, "Flat"), (-1_999, "FortyFiveDown"), (-2_999, "SingleDown"))
ARROW_TEXT = {"DoubleUp": "^^", "SingleUp": "^", "FortyFiveUp": "/", "Flat": "->",
              "FortyFiveDown": "\\", "SingleDown": "v", "DoubleDown": "vv", "NONE": "?"}


def flag_names(flags):
    return [name for bit, name in FLAG_NAMES if flags & bit]


NO_READING = "no CGM reading yet"


def dosing_refusal(age_ms, flags, stale_ms):
    """Why a reading of this age and these flags may not dose, or None (the one rule
    latest_for_dosing and the closed loop's plain readings both follow)."""
    if age_ms > stale_ms:
        return "CGM reading is %d min old (limit %d min)" % (
            age_ms // MS_PER_MIN, stale_ms // MS_PER_MIN)
    if flags:
        return "CGM reading not usable: " + ", ".join(flag_names(flags))
    return None


def arrow_for(trend_milli):
    if trend_milli is None:
        return "NONE"
    for limit, name in ARROWS:
        if trend_milli >= limit:
            return name
    return "DoubleDown"


class Reading:
    """One stored reading as consumers see it (glucose in mg/dL x 1000)."""

    def __init__(self, offset, glucose_milli, flags, at_ms, age_ms, trend_milli):
        self.offset = offset
        self.glucose_milli = glucose_milli  # None when the sensor sent no value
        # whole mg/dL (half up), what the bolus calculator takes: cgm=(mg_dl, at_ms)
        self.mg_dl = None if glucose_milli is None else cgms.div_round(glucose_milli, 1000)
        self.flags = flags
        self.at_ms = at_ms
        self.age_ms = age_ms
        self.trend_milli = trend_milli
        self.arrow = arrow_for(trend_milli)


class ReadingStore:
    def __init__(self, now_ms, window_min=WINDOW_MIN, stale_ms=STALE_MS):
        self.window = window_min
        self.stale_ms = stale_ms
        self.lost_ms = stale_ms  # no value for this long: the CGM-lost alarm
        # Each slot's time offset, a u16 as the sensor sends it (2 bytes, not a 4-byte
        # list slot). An empty slot holds its index + 1: an offset that never maps to it
        # (window_min > 1), so no lookup matches it, as -1 would not.
        self._offset = array("H", bytes(2 * window_min))
        self._glucose = [0] * window_min
        self._flags = bytearray(window_min)  # each a byte of the flags above (< 64)
        self.counts = {"stored": 0, "repeated": 0, "conflicts": 0, "too_old": 0, "future": 0,
                       "reanchored": 0}
        self._events = []
        self._lost = False
        self._odd = None  # [anchor estimate, records, first ms] of records off the clock
        self.new_session(now_ms)

    # --- session and input ---------------------------------------------------------

    def new_session(self, now_ms):
        """Forget every reading: the sensor started a new session (or was replaced)."""
        offsets = self._offset
        for i in range(self.window):
            offsets[i] = i + 1  # empty (see __init__)
        self._added = []  # offsets stored since pop_added(), for the history
        self.latest = -1  # newest time offset stored
        self.latest_value = -1  # newest offset that carries a glucose value
        self.anchor_ms = None
        self.cadence = None  # minutes between records, learned
        self.backfilled_to = -1  # gaps up to here have been asked for once
        self.session_ms = now_ms

    def rebase(self, shift_ms):
        """The clock moved back by shift_ms. Readings are sensor offsets from the anchor,
        which moves exactly (a session start is days old: never floored)."""
        if self.anchor_ms is not None:
            self.anchor_ms -= shift_ms
        self.session_ms = shifted(self.session_ms, shift_ms)
        odd = self._odd
        if odd is not None:
            odd[0] -= shift_ms
            odd[2] = shifted(odd[2], shift_ms)
        shift_events(self._events, shift_ms)

    def sync(self, now_ms, current_offset):
        """The sensor's CGM Status says its session is now at current_offset minutes (an
        offset the clock cannot have reached is not followed: the records decide)."""
        if self._ahead(now_ms, current_offset):
            self.counts["future"] += 1
            return
        self._anchor(now_ms, current_offset)

    def add(self, now_ms, record):
        """Store one decoded cgms.Record; returns its flags (0 = usable for dosing), or
        None when it was not stored (too old, or a time the clock cannot have reached)."""
        offset = record.time_offset
        if self._off_the_clock(now_ms, offset):
            return None
        if offset > self.latest:
            self._anchor(now_ms, offset)
        slot = offset % self.window
        flags = self._classify(record)
        if self._offset[slot] == offset:
            return self._repeat(now_ms, slot, record, flags)
        self._learn_cadence(offset)
        self._offset[slot] = offset
        self._glucose[slot] = record.glucose_milli or 0
        self._flags[slot] = flags
        flags = self._check_history(slot, offset)
        if offset > self.latest:
            self.latest = offset
        if not flags & NO_VALUE and offset > self.latest_value:
            self.latest_value = offset
        if len(self._added) < self.window:
            self._added.append(offset)
        self.counts["stored"] += 1
        self.check(now_ms)
        return flags

    def _ahead(self, now_ms, offset):
        """True when the pump's clock cannot have reached this offset yet."""
        anchor = self.anchor_ms
        return (anchor is not None
                and now_ms - offset * MS_PER_MIN < anchor - _FUTURE_TOLERANCE_MS)

    def _off_the_clock(self, now_ms, offset):
        """True when the record is not stored: ahead of the clock, or older than the
        window behind the newest reading. Records that agree with each other on another
        clock, _REANCHOR_RECORDS of them over _REANCHOR_SPAN_MS, start the store over."""
        ahead = offset > self.latest and self._ahead(now_ms, offset)
        behind = self.latest >= 0 and offset <= self.latest - self.window
        if not ahead and not behind:
            self._odd = None
            return False
        estimate = now_ms - offset * MS_PER_MIN
        odd = self._odd
        if odd is not None and abs(estimate - odd[0]) <= _REANCHOR_AGREE_MS:
            odd[1] += 1
        else:
            odd = self._odd = [estimate, 1, now_ms]
        if odd[1] >= _REANCHOR_RECORDS and now_ms - odd[2] >= _REANCHOR_SPAN_MS:
            self._odd = None
            self.counts["reanchored"] += 1
            message = ("CGM clock moved: readings start over from offset %d min"
                       % offset)
            self.new_session(now_ms)
            self._time_alarm(now_ms, offset, "reanchored", message)
            return False
        if ahead:
            self.counts["future"] += 1
            if odd[1] == 1:
                expected = (now_ms - self.anchor_ms) // MS_PER_MIN
                self._time_alarm(now_ms, offset, "ignored", "CGM record at %d min is %d min "
                                 "ahead of the pump's clock: ignored" % (offset,
                                                                          offset - expected))
        else:
            self.counts["too_old"] += 1
        return True

    def _time_alarm(self, now_ms, offset, action, message):
        """The event, and the cgm_time alarm: raised, its cause already gone (it latches
        until the user reads it)."""
        self._events.append(("cgm_time", {"at_ms": now_ms, "offset": offset,
                                          "result": action, "message": message}))
        self._events.append(("alarm", {"code": "cgm_time", "at_ms": now_ms,
                                       "detail": message}))
        self._events.append(("cgm_time_ok", {"code": "cgm_time", "at_ms": now_ms}))

    def _classify(self, record):
        if record.glucose_milli is None:
            flags = NO_VALUE
        elif not LOW_MILLI <= record.glucose_milli <= HIGH_MILLI:
            flags = _OUT_OF_RANGE
        else:
            flags = 0
        if record.annunciation and record.annunciation & SENSOR_FAULTS:
            flags |= SENSOR
        return flags

    def _repeat(self, now_ms, slot, record, flags):
        """The same offset again: a resent copy is harmless, a different value is not."""
        same = (self._glucose[slot] == (record.glucose_milli or 0)
                and self._flags[slot] & (NO_VALUE | _OUT_OF_RANGE | SENSOR) == flags)
        if same:
            self.counts["repeated"] += 1
        else:
            self.counts["conflicts"] += 1
            self._flags[slot] |= DUPLICATE
        return self._flags[slot]

    def _anchor(self, now_ms, offset):
        estimate = now_ms - offset * MS_PER_MIN
        if self.anchor_ms is None or estimate < self.anchor_ms:
            self.anchor_ms = estimate
        elif estimate - self.anchor_ms <= MS_PER_MIN:
            # Latency or a slow sensor clock; back-filled records are minutes late
            # and must not move it.
            self.anchor_ms += min(estimate - self.anchor_ms, _ANCHOR_CREEP_MS)

    def _learn_cadence(self, offset):
        before = self._previous(offset, self.window, 0)
        if before >= 0:
            step = min(offset - before, _MAX_CADENCE_MIN)  # a gap must not teach a cadence
            if self.cadence is None or step < self.cadence:
                self.cadence = step

    def _previous(self, offset, lookback, exclude):
        """The newest stored offset before `offset` (within lookback) whose flags avoid
        `exclude`, or -1."""
        for candidate in range(offset - 1, max(offset - lookback, self.latest - self.window,
                                               -1), -1):
            slot = candidate % self.window
            if self._offset[slot] == candidate and not self._flags[slot] & exclude:
                return candidate
        return -1

    def _check_history(self, slot, offset):
        """Rate of change against the previous usable reading, and flat-line detection."""
        flags = self._flags[slot]
        if flags & (NO_VALUE | _OUT_OF_RANGE):
            return flags
        glucose = self._glucose[slot]
        before = self._previous(offset, _RISE_LOOKBACK_MIN + 1, _NOT_A_REFERENCE)
        if before >= 0:
            change = glucose - self._glucose[before % self.window]
            most = _MAX_RATE_MILLI * (offset - before)
            if change > most or (-change > most and offset - before <= _RATE_LOOKBACK_MIN):
                flags |= RATE
        if self._flat_since(offset, glucose) <= offset - _FLAT_MIN:
            flags |= FLAT
        self._flags[slot] = flags
        return flags

    def _flat_since(self, offset, glucose):
        """Oldest offset of the run of identical values that ends at `offset`."""
        oldest = offset
        candidate = offset
        while True:
            candidate = self._previous(candidate, self.window, NO_VALUE)
            if candidate < 0 or self._glucose[candidate % self.window] != glucose:
                return oldest
            oldest = candidate

    # --- gaps ------------------------------------------------------------------------

    def backfill_from(self, current_offset=None):
        """The time offset to ask the sensor for (RACP ">=") to fill gaps, or None.

        current_offset (from CGM Status after a reconnect) counts as a reading that is
        due, so the time the link was down is a gap too. With no reading stored yet,
        asks for the last _HISTORY_MIN minutes so the trend is known at once.
        """
        if self.latest < 0:
            if current_offset is None:
                return None
            return max(0, current_offset - _HISTORY_MIN)
        step = self.cadence or _MAX_CADENCE_MIN
        limit = step + step // 2
        start = max(self.backfilled_to, self.latest - self.window + 1, 0)
        previous = start if self._offset[start % self.window] == start else -1
        for offset in range(start + 1, self.latest + 1):
            if self._offset[offset % self.window] == offset:
                if offset - previous > limit and previous >= 0:
                    return previous + 1
                previous = offset
        if current_offset is not None and current_offset - self.latest >= limit:
            return self.latest + 1
        return None

    def backfill_done(self):
        """A RACP fetch finished (records, or none found): do not ask for these again."""
        self.backfilled_to = self.latest

    # --- consumers -------------------------------------------------------------------

    def at_ms(self, offset):
        return self.anchor_ms + offset * MS_PER_MIN

    def latest_reading(self, now_ms):
        """The newest stored reading, flagged or not (for display), or None."""
        if self.latest < 0:
            return None
        return self._reading(now_ms, self.latest)

    def latest_for_dosing(self, now_ms):
        """(Reading, None) when the newest reading may be used to dose, else (None, why).

        Never falls back to an older reading: if the newest is flagged, glucose is
        unknown until a good one arrives.
        """
        if self.latest < 0:
            return None, NO_READING
        reading = self._reading(now_ms, self.latest)
        why = dosing_refusal(reading.age_ms, reading.flags, self.stale_ms)
        return (None, why) if why else (reading, None)

    def recent(self, minutes):
        """The newest stored reading and those of the `minutes` before it as plain data,
        oldest first: [[at_ms, glucose x 1000 or None (no value), flags], ...]."""
        out = []
        latest = self.latest
        if latest < 0:
            return out
        for offset in range(max(latest - minutes, 0), latest + 1):
            slot = offset % self.window
            if self._offset[slot] == offset:
                flags = self._flags[slot]
                out.append([self.at_ms(offset), None if flags & NO_VALUE else
                            self._glucose[slot], flags])
        return out

    def pop_added(self, now_ms):
        """The readings stored since the last call (live or back-filled), oldest first,
        as they stand now (flags from later records included)."""
        added = self._added
        if not added:
            return ()  # the usual tick: nothing new, nothing allocated
        self._added = []
        added.sort()
        return [self._reading(now_ms, offset) for offset in added]

    def glucose_known(self, now_ms):
        return self.latest_for_dosing(now_ms)[0] is not None

    def trend_milli(self, offset=None):
        """Least-squares slope (mg/dL/min x 1000) of the usable readings in the
        _TREND_MIN minutes up to `offset` (default newest), or None when fewer than 3
        readings span at least TREND_MIN_SPAN minutes."""
        fit = self.fit(offset, _TREND_MIN)
        return None if fit is None else fit[1]

    def fit(self, offset=None, minutes=_TREND_MIN):
        """Least-squares line through the usable readings in the `minutes` up to
        `offset` (default newest): (glucose x 1000 on the line at `offset`, slope
        mg/dL/min x 1000, mean distance of the readings from the line x 1000, how many
        flagged readings the span holds), or None when fewer than 3 usable readings span
        TREND_MIN_SPAN minutes.
        The closed loop fits 30 minutes: sensor noise moves it less than one reading."""
        if offset is None:
            offset = self.latest
        n = sx = sy = sxy = sxx = 0
        base = None
        oldest = offset
        for candidate in range(offset, max(offset - minutes - 1, -1), -1):
            slot = candidate % self.window
            if self._offset[slot] != candidate or self._flags[slot]:
                continue
            if base is None:
                base = self._glucose[slot]
            x = candidate - offset  # small numbers keep every sum below 2**30
            y = self._glucose[slot] - base
            n += 1
            sx += x
            sy += y
            sxy += x * y
            sxx += x * x
            oldest = candidate
        if n < 3 or offset - oldest < TREND_MIN_SPAN:
            return None
        slope = cgms.div_round(n * sxy - sx * sy, n * sxx - sx * sx)
        at = cgms.div_round(sy - slope * sx, n)  # on the line at `offset`, from base
        scatter = 0
        faulty = 0
        for candidate in range(max(offset - minutes, 0), offset + 1):
            slot = candidate % self.window
            if self._offset[slot] != candidate:
                continue
            if self._flags[slot]:
                faulty += 1
            elif candidate >= oldest:
                scatter += abs(self._glucose[slot] - base - at - slope * (candidate - offset))
        return base + at, slope, scatter // n, faulty

    def check(self, now_ms):
        """Raise or clear the CGM-lost alarm: no glucose value for lost_ms."""
        if self.latest_value >= 0:
            last_ms = self.at_ms(self.latest_value)
        else:
            last_ms = self.session_ms
        lost = now_ms - last_ms > self.lost_ms
        if lost and not self._lost:
            self._events.append(("alarm", {"code": "cgm_lost", "at_ms": now_ms,
                                           "last_reading_ms": last_ms}))
        elif self._lost and not lost:
            self._events.append(("cgm_restored", {"code": "cgm_lost", "at_ms": now_ms}))
        self._lost = lost
        return lost

    def pop_events(self):
        events = self._events
        self._events = []
        return events

    def _reading(self, now_ms, offset):
        slot = offset % self.window
        flags = self._flags[slot]
        at = self.at_ms(offset)
        glucose = None if flags & NO_VALUE else self._glucose[slot]
        return Reading(offset, glucose, flags, at, max(0, now_ms - at), self.trend_milli(offset))
