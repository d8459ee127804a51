"""The alarm manager: one table of alarm codes, priorities, latching, snooze, escalation.

Pure: time is an argument, nothing is read from hardware. The app feeds it conditions
(raise_alarm while a cause is present, clear when it is gone) and user actions
(acknowledge, snooze); it says what to show (banner) and what to sound (pattern).

Rules
- Priorities high, medium, low (IEC 60601-1-8 style), each with its own buzzer pattern.
- A latching alarm (every high one, and one-shot warnings such as infusion_set) stays
  until it is acknowledged, even after its cause is gone. A non-latching alarm ends when
  its cause clears. An acknowledged alarm is silent and ends when its cause clears.
- Medium and low alarms can be snoozed: silent for SNOOZE_MS, then they alert again.
  High alarms cannot be snoozed.
- repeat(): an acknowledged alarm whose cause is still there alerts again a set time
  after it was acknowledged (the glucose alerts' repeat intervals).
- An alarm left unacknowledged escalates: after ESCALATE_MS[priority] its pattern turns
  louder and faster; after as long again its priority goes up one step (not for the
  REMINDERS: a reminder never becomes an alarm that cannot be snoozed).
- Every raise, acknowledge, snooze, re-alert, escalation and clear is an event
  (kind, detail) with at_ms, like the engine's.

Memory is fixed: one slot per code, made at construction; evaluate() allocates nothing
unless something changes.
"""

from basalt.core.errors import InvalidValue, refused
from basalt.core.units import MS_PER_MIN, shifted

try:
    from micropython import const
except ImportError:  # CPython (host tests)

    def const(value):
        return value


# Refusals (basalt.core.refusals' numbers): their texts are built only when raised.
_BAD_PATTERN = const(0)
_ALREADY_ACKED = const(1)
_HIGH_NO_SNOOZE = const(2)
_NOT_ACTIVE = const(3)
_BAD_DETAIL = const(4)

HIGH = 0
MEDIUM = 1
LOW = 2
PRIORITY_NAMES = ("high", "medium", "low")

# code: (priority, stops delivery, latches), one of the few distinct tuples in _K shared
# by every code with the same triple (a tuple per code cost 32 bytes each). The banner
# texts are in basalt.core.alarm_texts, loaded when an alarm is first shown. Built with
# keywords: the codes are then names, stored once, where each was a string object.
_K = (
    (HIGH, True, True),  # 0: stops delivery
    (HIGH, False, True),  # 1
    (MEDIUM, False, True),  # 2: latches
    (MEDIUM, False, False),  # 3
    (LOW, False, False),  # 4
    (LOW, False, True),  # 5: latches
)
ALARMS = dict(
    occlusion=_K[0],
    reservoir_empty=_K[0],
    delivery_fault=_K[0],
    sensor_fault=_K[0],
    auto_off=_K[0],
    daily_max=_K[0],
    battery_critical=_K[1],
    infusion_set=_K[2],
    reservoir_low=_K[3],
    battery_low=_K[3],
    cgm_lost=_K[3],
    # The closed loop wanted more insulin over scheduled basal than its 3 h or 24 h bound
    # leaves (a spoofed or failing CGM, or a real high that needs a person): latches
    # until read, so a bound met at night is still on the screen in the morning.
    loop_limit=_K[2],
    suspended_too_long=_K[3],
    # CGM glucose alerts (basalt.core.glucose_alerts). Urgent low is fixed at 55 mg/dL
    # and cannot be turned off; it latches, as every high one does.
    urgent_low=_K[1],
    low=_K[3],
    urgent_low_soon=_K[3],
    falling=_K[4],
    rising=_K[4],
    high=_K[4],
    # No insulin for a long time with no low reading to explain it (a stuck-low CGM).
    zero_basal=_K[3],
    recheck_bg=_K[4],
    site_change=_K[4],
    glucose_check=_K[4],
    # Sick day (an activity mode): every 2 h, latched until read.
    sick_check=_K[5],
    # A CGM record whose time offset the pump's clock cannot have reached was ignored,
    # or the store re-anchored to the sensor's new clock: latches until read.
    cgm_time=_K[5],
)
del _K
CODES = tuple(sorted(ALARMS))
REMINDERS = ("site_change", "glucose_check", "recheck_bg")  # louder when ignored, never higher

SNOOZE_MS = (0, 15 * MS_PER_MIN, 30 * MS_PER_MIN)  # by priority; high cannot be snoozed
ESCALATE_MS = (2 * MS_PER_MIN, 5 * MS_PER_MIN, 15 * MS_PER_MIN)  # by priority

# Buzzer patterns: (volume permille, repeat every ms, ((frequency Hz, on ms, off ms), ...)).
# After IEC 60601-1-8: high = a burst of 10 pulses (3 + 2, 3 + 2), medium = 3 pulses,
# low = 2 pulses; a piezo is loudest near its resonance (2-4 kHz). Escalated: full
# volume, repeated twice as often.
_PULSE = (3100, 120, 80)  # one tuple for the note that repeats: each costs heap
_HIGH_NOTES = (_PULSE, _PULSE, (3100, 120, 300), _PULSE, (3100, 120, 600), _PULSE, _PULSE,
               (3100, 120, 300), _PULSE, (3100, 120, 0))
_MEDIUM_NOTES = ((2600, 200, 150), (2600, 200, 150), (2600, 200, 0))
_LOW_NOTES = ((2200, 250, 200), (2200, 250, 0))
PATTERNS = (
    ((600, 10_000, _HIGH_NOTES), (1000, 5_000, _HIGH_NOTES)),
    ((500, 20_000, _MEDIUM_NOTES), (1000, 10_000, _MEDIUM_NOTES)),
    ((400, 60_000, _LOW_NOTES), (1000, 30_000, _LOW_NOTES)),
)

# Slot fields: _N per code, in CODES order, in one list made once (a list per code in a
# dict held twice the heap).
_ACTIVE = 0  # raised and not yet ended
_PRIORITY = 1  # current priority (escalation may raise it)
_CAUSE = 2  # the condition is present
_ACKED = 3
_SNOOZED_UNTIL = 4  # 0 = not snoozed
_ALERT_SINCE = 5  # when it started (or restarted) alerting unacknowledged
_LEVEL = 6  # 0 normal, 1 escalated
_RAISED_AT = 7
_ORDER = 8  # raise sequence number: older first among equals
_N = 9


def check_code(code):
    if not isinstance(code, str) or code not in ALARMS:
        raise InvalidValue("alarm code", code, "one of " + ", ".join(CODES))
    return code


def banner(code):
    """(title, hint) for a code: two short lines the screen shows."""
    from basalt.core.alarm_texts import TEXTS

    return TEXTS[check_code(code)]


def check_pattern(pattern):
    """A buzzer pattern as PATTERNS holds them, or InvalidValue (drivers and fakes use it)."""
    ok = isinstance(pattern, tuple) and len(pattern) == 3
    if ok:
        volume, repeat_ms, notes = pattern
        ok = (_int_between(volume, 0, 1000) and _int_between(repeat_ms, 100, 600_000)
              and isinstance(notes, tuple) and 1 <= len(notes) <= 32)
    if ok:
        total = 0
        for note in notes:
            if not (isinstance(note, tuple) and len(note) == 3
                    and _int_between(note[0], 100, 10_000) and _int_between(note[1], 1, 5_000)
                    and _int_between(note[2], 0, 5_000)):
                ok = False
                break
            total += note[1] + note[2]
        ok = ok and total <= repeat_ms
    if not ok:
        raise refused(_BAD_PATTERN, pattern)
    return pattern


def _int_between(value, lo, hi):
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


class AlarmManager:
    def __init__(self):
        slots = self._s = [False, 0, False, False, 0, 0, 0, 0, 0] * len(CODES)
        for i in range(len(CODES)):
            slots[i * _N + _PRIORITY] = ALARMS[CODES[i]][0]
        self._order = 0
        self.events = []

    # ----- conditions ---------------------------------------------------------------

    def raise_alarm(self, now_ms, code, detail=None):
        """The cause is present. Returns True if this started a new alarm.

        detail: optional dict of plain values (ints, strings, None) for the history.
        """
        at = _at(code)
        s = self._s
        extra = _checked_detail(detail)
        if s[at + _ACTIVE]:
            s[at + _CAUSE] = True
            return False
        self._order += 1
        s[at + _ACTIVE] = True
        s[at + _PRIORITY] = ALARMS[code][0]
        s[at + _CAUSE] = True
        s[at + _ACKED] = False
        s[at + _SNOOZED_UNTIL] = 0
        s[at + _ALERT_SINCE] = now_ms
        s[at + _LEVEL] = 0
        s[at + _RAISED_AT] = now_ms
        s[at + _ORDER] = self._order
        event = {"code": code, "priority": PRIORITY_NAMES[s[at + _PRIORITY]]}
        for key in extra:
            if key not in event:
                event[key] = extra[key]
        self._event(now_ms, "alarm_raised", event)
        return True

    def clear(self, now_ms, code):
        """The cause is gone. A latching alarm stays until acknowledged."""
        at = _at(code)
        s = self._s
        if not s[at + _ACTIVE]:
            return False
        s[at + _CAUSE] = False
        if s[at + _ACKED] or not ALARMS[code][2]:
            self._end(now_ms, code, at, "cause cleared")
            return True
        return False

    # ----- user actions -------------------------------------------------------------

    def acknowledge(self, now_ms, code):
        at = self._require_active("acknowledge", code)
        s = self._s
        if s[at + _ACKED]:
            raise refused(_ALREADY_ACKED, "acknowledge", code)
        s[at + _ACKED] = True
        s[at + _SNOOZED_UNTIL] = 0
        s[at + _ALERT_SINCE] = now_ms  # repeat() counts from here
        self._event(now_ms, "alarm_acknowledged", {"code": code,
                                                   "after_ms": now_ms - s[at + _RAISED_AT]})
        if not s[at + _CAUSE]:
            self._end(now_ms, code, at, "acknowledged")

    def snooze(self, now_ms, code):
        at = self._require_active("snooze", code)
        s = self._s
        if ALARMS[code][0] == HIGH or s[at + _PRIORITY] == HIGH:
            raise refused(_HIGH_NO_SNOOZE, code)
        if s[at + _ACKED]:
            raise refused(_ALREADY_ACKED, "snooze", code)
        until = now_ms + SNOOZE_MS[s[at + _PRIORITY]]
        s[at + _SNOOZED_UNTIL] = until
        s[at + _LEVEL] = 0
        self._event(now_ms, "alarm_snoozed", {"code": code, "until_ms": until})

    def repeat(self, now_ms, code, after_ms):
        """Alert again if acknowledged at least after_ms ago (0: never) and the cause is
        still present. True if it did. Allocates nothing unless it fires."""
        at = CODES.index(code) * _N
        s = self._s
        if not (after_ms and s[at + _ACTIVE] and s[at + _ACKED] and s[at + _CAUSE]
                and now_ms - s[at + _ALERT_SINCE] >= after_ms):
            return False
        s[at + _ACKED] = False
        s[at + _ALERT_SINCE] = now_ms
        s[at + _LEVEL] = 0
        self._event(now_ms, "alarm_realerted", {"code": code})
        return True

    # ----- time ---------------------------------------------------------------------

    def evaluate(self, now_ms):
        """Re-alert snoozed alarms whose time is up; escalate unacknowledged ones."""
        s = self._s
        for i in range(len(CODES)):
            at = i * _N
            if not s[at + _ACTIVE] or s[at + _ACKED]:
                continue
            until = s[at + _SNOOZED_UNTIL]
            if until:
                if now_ms < until:
                    continue
                s[at + _SNOOZED_UNTIL] = 0
                s[at + _ALERT_SINCE] = now_ms
                self._event(now_ms, "alarm_realerted", {"code": CODES[i]})
            if now_ms - s[at + _ALERT_SINCE] >= ESCALATE_MS[s[at + _PRIORITY]]:
                self._escalate(now_ms, CODES[i], at)

    def _escalate(self, now_ms, code, at):
        s = self._s
        s[at + _ALERT_SINCE] = now_ms
        if s[at + _LEVEL] == 0:
            s[at + _LEVEL] = 1
        elif s[at + _PRIORITY] > HIGH and code not in REMINDERS:
            s[at + _PRIORITY] -= 1
            s[at + _LEVEL] = 0
        else:
            return  # already at the top: keep sounding
        self._event(now_ms, "alarm_escalated", {"code": code,
                                                "priority": PRIORITY_NAMES[s[at + _PRIORITY]],
                                                "level": s[at + _LEVEL]})

    def rebase(self, shift_ms):
        """The clock moved back by shift_ms: every alarm keeps its times (a snooze's 0
        means none, so a snooze that ended stays a nonzero time in the past)."""
        s = self._s
        for at in range(0, len(s), _N):
            s[at + _ALERT_SINCE] = shifted(s[at + _ALERT_SINCE], shift_ms)
            s[at + _RAISED_AT] = shifted(s[at + _RAISED_AT], shift_ms)
            if s[at + _SNOOZED_UNTIL]:
                s[at + _SNOOZED_UNTIL] = shifted(s[at + _SNOOZED_UNTIL], shift_ms) or -1

    # ----- what to show and sound -----------------------------------------------------

    def most_urgent(self):
        """The code to show first: highest priority, unacknowledged first, oldest first."""
        s = self._s
        best = None
        best_key = 0
        for i in range(len(CODES)):
            if s[i * _N + _ACTIVE]:
                key = _rank(s, i * _N)
                if best is None or key < best_key:
                    best, best_key = i, key
        return None if best is None else CODES[best]

    def active(self):
        """Active codes, most urgent first."""
        s = self._s
        ranked = [(_rank(s, i * _N), code) for i, code in enumerate(CODES)
                  if s[i * _N + _ACTIVE]]
        ranked.sort()
        return [code for _, code in ranked]

    def sounding(self, now_ms):
        """The pattern the buzzer should play now (from PATTERNS), or None for silence."""
        s = self._s
        best = None
        best_key = 0
        for at in range(0, len(s), _N):
            if s[at + _ACTIVE] and not s[at + _ACKED] and not (
                    s[at + _SNOOZED_UNTIL] and now_ms < s[at + _SNOOZED_UNTIL]):
                key = s[at + _PRIORITY] * 2 + 1 - s[at + _LEVEL]
                if best is None or key < best_key:
                    best, best_key = at, key
        if best is None:
            return None
        return PATTERNS[s[best + _PRIORITY]][s[best + _LEVEL]]

    def banner(self):
        """(title, hint) of the most urgent alarm, or None."""
        code = self.most_urgent()
        return None if code is None else banner(code)

    def blocking(self):
        """An unacknowledged alarm that stops delivery (resume waits for it), or None."""
        s = self._s
        for i in range(len(CODES)):
            if s[i * _N + _ACTIVE] and not s[i * _N + _ACKED] and ALARMS[CODES[i]][1]:
                return CODES[i]
        return None

    def state(self, code):
        """Plain data about one alarm (for screens, tools and tests), or None."""
        at = _at(code)
        s = self._s
        if not s[at + _ACTIVE]:
            return None
        return {"code": code, "priority": PRIORITY_NAMES[s[at + _PRIORITY]],
                "acknowledged": s[at + _ACKED], "cause": s[at + _CAUSE],
                "snoozed_until_ms": s[at + _SNOOZED_UNTIL], "level": s[at + _LEVEL],
                "raised_at_ms": s[at + _RAISED_AT]}

    def is_active(self, code):
        return self._s[_at(code) + _ACTIVE]

    # ----- internals ------------------------------------------------------------------

    def _require_active(self, command, code):
        at = _at(code)
        if not self._s[at + _ACTIVE]:
            raise refused(_NOT_ACTIVE, command, code)
        return at

    def _end(self, now_ms, code, at, why):
        s = self._s
        s[at + _ACTIVE] = False
        s[at + _CAUSE] = s[at + _ACKED] = False
        s[at + _SNOOZED_UNTIL] = s[at + _LEVEL] = 0
        self._event(now_ms, "alarm_cleared", {"code": code, "why": why,
                                              "lasted_ms": now_ms - s[at + _RAISED_AT]})

    def _event(self, now_ms, kind, detail):
        detail["at_ms"] = now_ms
        self.events.append((kind, detail))

    def pop_events(self):
        events = self.events
        self.events = []
        return events


def _at(code):
    """Where a (checked) code's slot starts in the flat list."""
    return CODES.index(check_code(code)) * _N


def _rank(s, at):
    """Smaller is more urgent: priority, then unacknowledged, then older."""
    return (s[at + _PRIORITY] * 2 + (1 if s[at + _ACKED] else 0)) * 0x1000000 + s[at + _ORDER]


def _checked_detail(detail):
    if detail is None:
        return {}
    ok = isinstance(detail, dict)
    if ok:
        for key in detail:
            value = detail[key]
            if not isinstance(key, str) or not (value is None or isinstance(value, (int, str))):
                ok = False
    if not ok:
        raise refused(_BAD_DETAIL, detail)
    return detail
