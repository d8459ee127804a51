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

from basalt.core.errors import InvalidValue, NotAllowedNow
from basalt.core.units import MS_PER_MIN, shifted

HIGH = 0
MEDIUM = 1
LOW = 2
PRIORITY_NAMES = ("high", "medium", "low")

# code: (priority, stops delivery, latches, banner title, banner hint). Titles and hints
# fit the 16-character lines of a 128-pixel OLED in the 8x8 font.
ALARMS = {
    "occlusion": (HIGH, True, True, "OCCLUSION", "Check tubing"),
    "reservoir_empty": (HIGH, True, True, "RESERVOIR EMPTY", "New reservoir"),
    "delivery_fault": (HIGH, True, True, "DELIVERY FAULT", "Motor stopped"),
    "sensor_fault": (HIGH, True, True, "SENSOR FAULT", "Force sensor"),
    "auto_off": (HIGH, True, True, "AUTO-OFF", "Pump stopped"),
    "daily_max": (HIGH, True, True, "DAILY MAX", "Delivery stopped"),
    "battery_critical": (HIGH, False, True, "BATTERY CRITICAL", "Charge now"),
    "infusion_set": (MEDIUM, False, True, "CHECK SITE", "and ketones"),
    "reservoir_low": (MEDIUM, False, False, "RESERVOIR LOW", "Refill soon"),
    "battery_low": (MEDIUM, False, False, "BATTERY LOW", "Charge soon"),
    "cgm_lost": (MEDIUM, False, False, "CGM LOST", "No glucose data"),
    # The closed loop wanted more insulin over scheduled basal than its 3 h or 24 h bound
    # leaves (a spoofed or failing CGM, or a real high that needs a person): latches
    # until read, so a bound met at night is still on the screen in the morning.
    "loop_limit": (MEDIUM, False, True, "LOOP LIMIT", "Check BG and CGM"),
    "suspended_too_long": (MEDIUM, False, False, "STILL SUSPENDED", "Resume delivery?"),
    # CGM glucose alerts (basalt.core.glucose_alerts). Urgent low is fixed at 55 mg/dL
    # and cannot be turned off; it latches, as every high one does.
    "urgent_low": (HIGH, False, True, "URGENT LOW", "Eat 15 g carbs"),
    "low": (MEDIUM, False, False, "LOW GLUCOSE", "Eat 15 g carbs"),
    "urgent_low_soon": (MEDIUM, False, False, "URGENT LOW SOON", "Eat carbs now"),
    "falling": (LOW, False, False, "FALLING FAST", "Check glucose"),
    "rising": (LOW, False, False, "RISING FAST", "Check glucose"),
    "high": (LOW, False, False, "HIGH GLUCOSE", "Check ketones"),
    # No insulin for a long time with no low reading to explain it (a stuck-low CGM).
    "zero_basal": (MEDIUM, False, False, "NO BASAL", "Check BG and CGM"),
    "recheck_bg": (LOW, False, False, "RECHECK GLUCOSE", "Enter a reading"),
    "site_change": (LOW, False, False, "SITE CHANGE", "Change the site"),
    "glucose_check": (LOW, False, False, "CHECK GLUCOSE", "Enter a reading"),
    # Sick day (an activity mode): every 2 h, latched until read.
    "sick_check": (LOW, False, True, "SICK DAY CHECK", "Ketones + site"),
    # A CGM record whose time offset the pump's clock cannot have reached was ignored,
    # or the store re-anchored to the sensor's new clock: latches until read.
    "cgm_time": (LOW, False, True, "CGM TIME ERROR", "Reading ignored"),
}
CODES = tuple(sorted(ALARMS))
REMINDERS = ("site_change", "glucose_check", "recheck_bg")  # louder when ignored, never higher

SNOOZE_MS = (0, 15 * MS_PER_MIN, 30 * MS_PER_MIN)  # by priority; high cannot be snoozed
ESCALATE_MS = (2 * MS_PER_MIN, 5 * MS_PER_MIN, 15 * MS_PER_MIN)  # by priority

# Buzzer patterns: (volume permille, repeat every ms, ((frequency Hz, on ms, off ms), ...)).
# After IEC 60601-1-8: high = a burst of 10 pulses (3 + 2, 3 + 2), medium = 3 pulses,
# low = 2 pulses; a piezo is loudest near its resonance (2-4 kHz). Escalated: full
# volume, repeated twice as often.
_HIGH_NOTES = ((3100, 120, 80), (3100, 120, 80), (3100, 120, 300), (3100, 120, 80),
               (3100, 120, 600), (3100, 120, 80), (3100, 120, 80), (3100, 120, 300),
               (3100, 120, 80), (3100, 120, 0))
_MEDIUM_NOTES = ((2600, 200, 150), (2600, 200, 150), (2600, 200, 0))
_LOW_NOTES = ((2200, 250, 200), (2200, 250, 0))
PATTERNS = (
    ((600, 10_000, _HIGH_NOTES), (1000, 5_000, _HIGH_NOTES)),
    ((500, 20_000, _MEDIUM_NOTES), (1000, 10_000, _MEDIUM_NOTES)),
    ((400, 60_000, _LOW_NOTES), (1000, 30_000, _LOW_NOTES)),
)

# Slot fields (a list per code, made once).
_ACTIVE = 0  # raised and not yet ended
_PRIORITY = 1  # current priority (escalation may raise it)
_CAUSE = 2  # the condition is present
_ACKED = 3
_SNOOZED_UNTIL = 4  # 0 = not snoozed
_ALERT_SINCE = 5  # when it started (or restarted) alerting unacknowledged
_LEVEL = 6  # 0 normal, 1 escalated
_RAISED_AT = 7
_ORDER = 8  # raise sequence number: older first among equals


def check_code(code):
    if not isinstance(code, str) or code not in ALARMS:
        raise InvalidValue("alarm code", code, "one of " + ", ".join(CODES))
    return code


def banner(code):
    """(title, hint) for a code: two short lines the screen shows."""
    entry = ALARMS[check_code(code)]
    return entry[3], entry[4]


def stops_delivery(code):
    return ALARMS[check_code(code)][1]


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
        raise InvalidValue("buzzer pattern", pattern, "(volume 0-1000, repeat 100-600000 ms, "
                           "1-32 notes of (100-10000 Hz, 1-5000 ms on, 0-5000 ms off) "
                           "that fit in the repeat)")
    return pattern


def _int_between(value, lo, hi):
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


class AlarmManager:
    def __init__(self):
        self._slots = {}
        for code in CODES:
            self._slots[code] = [False, ALARMS[code][0], False, False, 0, 0, 0, 0, 0]
        self._order = 0
        self.events = []

    # ----- conditions ---------------------------------------------------------------

    def raise_alarm(self, now_ms, code, detail=None):
        """The cause is present. Returns True if this started a new alarm.

        detail: optional dict of plain values (ints, strings, None) for the history.
        """
        slot = self._slots[check_code(code)]
        extra = _checked_detail(detail)
        if slot[_ACTIVE]:
            slot[_CAUSE] = True
            return False
        self._order += 1
        slot[_ACTIVE] = True
        slot[_PRIORITY] = ALARMS[code][0]
        slot[_CAUSE] = True
        slot[_ACKED] = False
        slot[_SNOOZED_UNTIL] = 0
        slot[_ALERT_SINCE] = now_ms
        slot[_LEVEL] = 0
        slot[_RAISED_AT] = now_ms
        slot[_ORDER] = self._order
        event = {"code": code, "priority": PRIORITY_NAMES[slot[_PRIORITY]]}
        for key in extra:
            if key not in event:
                event[key] = extra[key]
        self._event(now_ms, "alarm_raised", event)
        return True

    def clear(self, now_ms, code):
        """The cause is gone. A latching alarm stays until acknowledged."""
        slot = self._slots[check_code(code)]
        if not slot[_ACTIVE]:
            return False
        slot[_CAUSE] = False
        if slot[_ACKED] or not ALARMS[code][2]:
            self._end(now_ms, code, "cause cleared")
            return True
        return False

    # ----- user actions -------------------------------------------------------------

    def acknowledge(self, now_ms, code):
        slot = self._require_active("acknowledge", code)
        if slot[_ACKED]:
            raise NotAllowedNow("acknowledge", "%s is already acknowledged" % code)
        slot[_ACKED] = True
        slot[_SNOOZED_UNTIL] = 0
        slot[_ALERT_SINCE] = now_ms  # repeat() counts from here
        self._event(now_ms, "alarm_acknowledged", {"code": code,
                                                   "after_ms": now_ms - slot[_RAISED_AT]})
        if not slot[_CAUSE]:
            self._end(now_ms, code, "acknowledged")

    def snooze(self, now_ms, code):
        slot = self._require_active("snooze", code)
        if ALARMS[code][0] == HIGH or slot[_PRIORITY] == HIGH:
            raise NotAllowedNow("snooze", "%s is high priority: acknowledge it" % code)
        if slot[_ACKED]:
            raise NotAllowedNow("snooze", "%s is already acknowledged" % code)
        until = now_ms + SNOOZE_MS[slot[_PRIORITY]]
        slot[_SNOOZED_UNTIL] = until
        slot[_LEVEL] = 0
        self._event(now_ms, "alarm_snoozed", {"code": code, "until_ms": until})

    def repeat(self, now_ms, code, after_ms):
        """Alert again if acknowledged at least after_ms ago (0: never) and the cause is
        still present. True if it did. Allocates nothing unless it fires."""
        slot = self._slots[code]
        if not (after_ms and slot[_ACTIVE] and slot[_ACKED] and slot[_CAUSE]
                and now_ms - slot[_ALERT_SINCE] >= after_ms):
            return False
        slot[_ACKED] = False
        slot[_ALERT_SINCE] = now_ms
        slot[_LEVEL] = 0
        self._event(now_ms, "alarm_realerted", {"code": code})
        return True

    # ----- time ---------------------------------------------------------------------

    def evaluate(self, now_ms):
        """Re-alert snoozed alarms whose time is up; escalate unacknowledged ones."""
        for code in CODES:
            slot = self._slots[code]
            if not slot[_ACTIVE] or slot[_ACKED]:
                continue
            until = slot[_SNOOZED_UNTIL]
            if until:
                if now_ms < until:
                    continue
                slot[_SNOOZED_UNTIL] = 0
                slot[_ALERT_SINCE] = now_ms
                self._event(now_ms, "alarm_realerted", {"code": code})
            if now_ms - slot[_ALERT_SINCE] >= ESCALATE_MS[slot[_PRIORITY]]:
                self._escalate(now_ms, code, slot)

    def _escalate(self, now_ms, code, slot):
        slot[_ALERT_SINCE] = now_ms
        if slot[_LEVEL] == 0:
            slot[_LEVEL] = 1
        elif slot[_PRIORITY] > HIGH and code not in REMINDERS:
            slot[_PRIORITY] -= 1
            slot[_LEVEL] = 0
        else:
            return  # already at the top: keep sounding
        self._event(now_ms, "alarm_escalated", {"code": code,
                                                "priority": PRIORITY_NAMES[slot[_PRIORITY]],
                                                "level": slot[_LEVEL]})

    def rebase(self, shift_ms):
        """The clock moved back by shift_ms: every alarm keeps its times (a snooze's 0
        means none, so a snooze that ended stays a nonzero time in the past)."""
        for code in CODES:
            slot = self._slots[code]
            slot[_ALERT_SINCE] = shifted(slot[_ALERT_SINCE], shift_ms)
            slot[_RAISED_AT] = shifted(slot[_RAISED_AT], shift_ms)
            if slot[_SNOOZED_UNTIL]:
                slot[_SNOOZED_UNTIL] = shifted(slot[_SNOOZED_UNTIL], shift_ms) or -1

    # ----- what to show and sound -----------------------------------------------------

    def most_urgent(self):
        """The code to show first: highest priority, unacknowledged first, oldest first."""
        best = None
        best_key = 0
        for code in CODES:
            slot = self._slots[code]
            if slot[_ACTIVE]:
                key = _rank(slot)
                if best is None or key < best_key:
                    best, best_key = code, key
        return best

    def active(self):
        """Active codes, most urgent first."""
        codes = [code for code in CODES if self._slots[code][_ACTIVE]]
        codes.sort(key=lambda code: _rank(self._slots[code]))
        return codes

    def sounding(self, now_ms):
        """The pattern the buzzer should play now (from PATTERNS), or None for silence."""
        best = None
        best_key = 0
        for code in CODES:
            slot = self._slots[code]
            if slot[_ACTIVE] and not slot[_ACKED] and not (
                    slot[_SNOOZED_UNTIL] and now_ms < slot[_SNOOZED_UNTIL]):
                key = slot[_PRIORITY] * 2 + 1 - slot[_LEVEL]
                if best is None or key < best_key:
                    best, best_key = slot, key
        if best is None:
            return None
        return PATTERNS[best[_PRIORITY]][best[_LEVEL]]

    def banner(self):
        """(title, hint) of the most urgent alarm, or None."""
        code = self.most_urgent()
        return None if code is None else banner(code)

    def blocking(self):
        """An unacknowledged alarm that stops delivery (resume waits for it), or None."""
        for code in CODES:
            slot = self._slots[code]
            if slot[_ACTIVE] and not slot[_ACKED] and ALARMS[code][1]:
                return code
        return None

    def state(self, code):
        """Plain data about one alarm (for screens, tools and tests), or None."""
        slot = self._slots[check_code(code)]
        if not slot[_ACTIVE]:
            return None
        return {"code": code, "priority": PRIORITY_NAMES[slot[_PRIORITY]],
                "acknowledged": slot[_ACKED], "cause": slot[_CAUSE],
                "snoozed_until_ms": slot[_SNOOZED_UNTIL], "level": slot[_LEVEL],
                "raised_at_ms": slot[_RAISED_AT]}

    def is_active(self, code):
        return self._slots[check_code(code)][_ACTIVE]

    # ----- internals ------------------------------------------------------------------

    def _require_active(self, command, code):
        slot = self._slots[check_code(code)]
        if not slot[_ACTIVE]:
            raise NotAllowedNow(command, "no %s alarm is active" % code)
        return slot

    def _end(self, now_ms, code, why):
        slot = self._slots[code]
        slot[_ACTIVE] = False
        slot[_CAUSE] = slot[_ACKED] = False
        slot[_SNOOZED_UNTIL] = slot[_LEVEL] = 0
        self._event(now_ms, "alarm_cleared", {"code": code, "why": why,
                                              "lasted_ms": now_ms - slot[_RAISED_AT]})

    def _event(self, now_ms, kind, detail):
        detail["at_ms"] = now_ms
        self.events.append((kind, detail))

    def pop_events(self):
        events = self.events
        self.events = []
        return events


def _rank(slot):
    """Smaller is more urgent: priority, then unacknowledged, then older."""
    return (slot[_PRIORITY] * 2 + (1 if slot[_ACKED] else 0)) * 0x1000000 + slot[_ORDER]


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
        raise InvalidValue("alarm detail", detail, "a table of names to ints, text or None")
    return detail
