"""Activity modes: exercise, sleep and sick day, each for a chosen time.

Every anchor has a form of this (docs/references.md: oref0/AndroidAPS temporary
targets, Tandem Control-IQ Exercise and Sleep activities, Omnipod 5 Activity):
  exercise  the loop aims higher (150 mg/dL), doses half of any positive need and gives
            no automatic boluses: muscle takes up glucose for hours after exercise
  sleep     the loop aims at 115 mg/dL and gives no automatic boluses (Control-IQ
            Sleep: 112.5-120 mg/dL, no automatic corrections)
  sick day  the loop is unchanged (illness usually raises the need, which the loop
            sees in glucose), and every 2 h a reminder says to check ketones and the site
Only one runs at a time; starting another replaces it. Pure: time is an argument and
events go to emit(kind, detail) (the app's event stream, so they are journaled).
"""

from basalt.core.errors import NotAllowedNow
from basalt.core.units import shifted

KINDS = ("exercise", "sleep", "sick")
# kind: (loop target mg/dL (0: the schedule's), % of a positive need dosed, automatic
# boluses allowed, reminder every N min (0: none), home-screen tag)
RULES = {
    "exercise": (150, 50, False, 0, b"EX"),
    "sleep": (115, 100, False, 0, b"SL"),
    "sick": (0, 100, True, 120, b"SK"),
}
TAG = 4  # the home screen's tag in a RULES entry
MIN_MIN = 30
MAX_MIN = 24 * 60
SICK_REMINDER = "sick_check"  # the alarm code of the ketones-and-site reminder
_MS_PER_MIN = 60_000


class Activity:
    """The command table's "activity" part; tick() ends a mode whose time is over."""

    def __init__(self, emit):
        self.emit = emit
        self.kind = None
        self.until_ms = 0
        self._remind_at = 0

    def rebase(self, shift_ms):
        if self.kind is not None:  # 0 means "none" while no mode runs
            self.until_ms = shifted(self.until_ms, shift_ms)
            if self._remind_at:
                self._remind_at = shifted(self._remind_at, shift_ms)

    def start(self, now_ms, kind, minutes):
        replaced = self.kind
        self.kind = kind
        self.until_ms = now_ms + minutes * _MS_PER_MIN
        every = RULES[kind][3]
        self._remind_at = now_ms + every * _MS_PER_MIN if every else 0
        self.emit("activity_started", {"at_ms": now_ms, "mode": kind, "minutes": minutes,
                                       "replaced": replaced})
        return kind

    def stop(self, now_ms):
        if self.kind is None:
            raise NotAllowedNow("end activity", "no activity mode is running")
        self._end(now_ms, "user")

    def tick(self, now_ms):
        if self.kind is None:
            return
        if now_ms - self.until_ms >= 0:
            self._end(now_ms, "time")
        elif self._remind_at and now_ms - self._remind_at >= 0:
            self._remind_at = now_ms + RULES[self.kind][3] * _MS_PER_MIN
            # Latched until read; its cause is over at once (a one-shot reminder).
            self.emit("alarm", {"at_ms": now_ms, "code": SICK_REMINDER})
            self.emit("sick_check_done", {"at_ms": now_ms})

    def _end(self, now_ms, how):
        kind = self.kind
        self.kind = None
        self.emit("activity_ended", {"at_ms": now_ms, "mode": kind, "how": how})

    def rules(self):
        """The running mode's RULES entry, or None."""
        return None if self.kind is None else RULES[self.kind]

    def left_min(self, now_ms):
        if self.kind is None:
            return None
        return max(0, (self.until_ms - now_ms + _MS_PER_MIN - 1) // _MS_PER_MIN)
