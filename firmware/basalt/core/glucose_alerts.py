"""CGM glucose alerts, the zero-basal watch and the low treatment's recheck. Pure.

The app tells GlucoseAlerts each new CGM reading (cgm()), whether basal runs at zero
(basal()), and what the user did (fingerstick(), treated()); evaluate(now_ms) every
tick raises and clears alarms in the AlarmManager, whose priorities, snooze and
escalation rules apply as to every alarm. The conditions (docs/references.md#cgm-alerts,
the Dexcom defaults users know):

  urgent_low       at or below 55 mg/dL: fixed, cannot be turned off; high priority,
                   latches, and alerts again every 15 min after an acknowledgement while
                   glucose stays there
  low / high       at or below / at or above the thresholds (0 = off), each alerting
                   again after its repeat interval (0 = never) while it lasts
  urgent_low_soon  the trend line reaches 55 mg/dL within 20 min
  falling / rising the trend at least the set rate (2 or 3 mg/dL/min; 0 = off)
  zero_basal       basal delivering at 0 U/h for zero_basal_min with no reading fit for
                   dosing at or below the low threshold to explain it: a zero temp is
                   never silent (a stuck-low sensor can hold the loop at zero for hours)
  recheck_bg       RECHECK_MIN after carbs were taken for a low (the 15 g rule): ends
                   with the next reading, typed or from the CGM

A reading older than FRESH_MS drives nothing (the CGM-lost alarm covers the silence).
"""

from basalt.core.units import MS_PER_MIN, shifted

URGENT_LOW_MG_DL = 55
URGENT_LOW_REPEAT_MS = 15 * MS_PER_MIN
SOON_MIN = 20
FRESH_MS = 15 * MS_PER_MIN
RECHECK_MS = 15 * MS_PER_MIN
TREAT_G = 15  # fast carbs for a low, then recheck in 15 min
UNEXPLAINED_LOW_MG_DL = 70  # what explains a zero basal when the low alert is off
CGM_CODES = ("urgent_low", "low", "urgent_low_soon", "falling", "rising", "high")


class AlertSettings:
    """The cgm_alerts settings section (basalt.core.settings checks the file); mg/dL,
    mg/dL/min and minutes. Defaults: Dexcom's low 70 and high 250, rate alerts off."""

    def __init__(self, low_mg_dl=70, low_repeat_min=15, high_mg_dl=250, high_repeat_min=60,
                 fall_mg_dl_min=0, rise_mg_dl_min=0, urgent_low_soon=True,
                 signal_loss_min=15, zero_basal_min=120, set_high_mg_dl=250,
                 set_high_min=120):
        self.low_mg_dl = low_mg_dl
        self.low_repeat_min = low_repeat_min
        self.high_mg_dl = high_mg_dl
        self.high_repeat_min = high_repeat_min
        self.fall_mg_dl_min = fall_mg_dl_min
        self.rise_mg_dl_min = rise_mg_dl_min
        self.urgent_low_soon = urgent_low_soon
        self.signal_loss_min = signal_loss_min
        self.zero_basal_min = zero_basal_min
        self.set_high_mg_dl = set_high_mg_dl
        self.set_high_min = set_high_min


def wanted(s, mg_dl, trend_milli):
    """The CGM_CODES whose condition one reading meets (trend: mg/dL/min x 1000 or None)."""
    out = []
    if mg_dl <= URGENT_LOW_MG_DL:
        out.append("urgent_low")
    elif s.low_mg_dl and mg_dl <= s.low_mg_dl:
        out.append("low")
    if trend_milli is not None:
        if (s.urgent_low_soon and mg_dl > URGENT_LOW_MG_DL
                and mg_dl * 1000 + trend_milli * SOON_MIN <= URGENT_LOW_MG_DL * 1000):
            out.append("urgent_low_soon")
        if s.fall_mg_dl_min and trend_milli <= -1000 * s.fall_mg_dl_min:
            out.append("falling")
        if s.rise_mg_dl_min and trend_milli >= 1000 * s.rise_mg_dl_min:
            out.append("rising")
    if s.high_mg_dl and mg_dl >= s.high_mg_dl:
        out.append("high")
    return out


class GlucoseAlerts:
    def __init__(self, alarms, settings=None):
        self.alarms = alarms
        self.set_settings(settings or AlertSettings())
        self._present = ()  # codes the newest reading meets
        self._reading_at = None
        self._explains_zero = False
        self._zero_since = None
        self._recheck_at = None

    def set_settings(self, s):
        self.settings = s
        self._repeat_ms = (URGENT_LOW_REPEAT_MS, s.low_repeat_min * MS_PER_MIN, 0, 0, 0,
                           s.high_repeat_min * MS_PER_MIN)
        self._zero_ms = s.zero_basal_min * MS_PER_MIN

    # ----- inputs ---------------------------------------------------------------------

    def rebase(self, shift_ms):
        self._reading_at = shifted(self._reading_at, shift_ms)
        self._recheck_at = shifted(self._recheck_at, shift_ms)
        self._zero_since = shifted(self._zero_since, shift_ms)

    def cgm(self, now_ms, mg_dl, trend_milli, at_ms, usable):
        """A new CGM reading (usable: fit for dosing). Flagged readings alert too: a
        missed low is worse than a false one."""
        self._present = present = wanted(self.settings, mg_dl, trend_milli)
        self._reading_at = at_ms
        for code in present:  # the cause is back (a latched alarm whose cause had ended)
            if self.alarms.is_active(code):
                self.alarms.raise_alarm(now_ms, code)
        self._explains_zero = usable and mg_dl <= (self.settings.low_mg_dl
                                                   or UNEXPLAINED_LOW_MG_DL)
        self.alarms.clear(now_ms, "recheck_bg")

    def fingerstick(self, now_ms, mg_dl):
        self.alarms.clear(now_ms, "recheck_bg")

    def treated(self, now_ms):
        """Carbs were taken for a low: the low alerts are read; recheck in 15 min."""
        for code in ("urgent_low", "low", "urgent_low_soon"):
            state = self.alarms.state(code)
            if state is not None and not state["acknowledged"]:
                self.alarms.acknowledge(now_ms, code)
        self.alarms.clear(now_ms, "recheck_bg")
        self._recheck_at = now_ms + RECHECK_MS

    def basal(self, now_ms, zero):
        """Each tick: is basal being delivered at 0 U/h (a zero temp, a zero segment)?"""
        if not zero:
            self._zero_since = None
        elif self._zero_since is None:
            self._zero_since = now_ms

    # ----- every tick -----------------------------------------------------------------

    def evaluate(self, now_ms):
        fresh = self._reading_at is not None and now_ms - self._reading_at <= FRESH_MS
        present = self._present if fresh else ()
        alarms = self.alarms
        for i in range(len(CGM_CODES)):
            code = CGM_CODES[i]
            self._level(now_ms, code, code in present)
            alarms.repeat(now_ms, code, self._repeat_ms[i])
        since = self._zero_since
        self._level(now_ms, "zero_basal", since is not None and now_ms - since >= self._zero_ms
                    and not (fresh and self._explains_zero))
        if self._recheck_at is not None and now_ms >= self._recheck_at:
            self._recheck_at = None
            alarms.raise_alarm(now_ms, "recheck_bg")

    def _level(self, now_ms, code, present):
        active = self.alarms.is_active(code)
        if present and not active:
            self.alarms.raise_alarm(now_ms, code)
        elif active and not present:
            self.alarms.clear(now_ms, code)
