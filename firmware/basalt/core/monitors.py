"""Conditions that raise and clear alarms: the rules behind each alarm code. Pure.

PumpMonitor.evaluate(now_ms) runs every tick: it reads the engine's state and its own
timers and raises or clears alarms in the AlarmManager (level-based: raise while the
cause is present, clear when it is gone; latching alarms stay until acknowledged).
Alarms whose ALARMS entry says "stops delivery" halt the engine when raised.

Inputs are plain values: button presses, battery millivolts, glucose readings,
correction boluses and site changes arrive as method calls with now_ms.

  reservoir_low       reservoir at or below Settings.alarms.reservoir_low_mu
  reservoir_empty     the engine stopped because the reservoir ran dry
  daily_max           the engine stopped at a limit (max daily insulin, max bolus in 60 min)
  auto_off            no button press for auto_off_min (0 = off): halt + alarm
  suspended_too_long  suspended by the user for suspend_reminder_min (0 = off)
  site_change         site_change_min since the last site change (0 = off)
  glucose_check       no CGM and no glucose reading for glucose_check_min (0 = off)
  battery_low/critical  BatteryMonitor: filtered, confirmed and hysteretic levels
  infusion_set        InfusionSetWatch: glucose still > 250 mg/dL 2 h after a correction
                      given while it was that high (settings: cgm_alerts.set_high_*)
  delivery_fault      reported by the app (motor steps != commanded, or late): fault();
                      and while the engine is stopped because the gate refused a basal
                      step above the rate cap at release (STOP_BASAL_LIMIT)
"""

from basalt.core.alarms import ALARMS
from basalt.core.check import int_in, is_int
from basalt.core.delivery import (
    STOP_BASAL_LIMIT,
    STOP_EMPTY,
    STOP_LIMIT,
    STOP_NO_RESERVOIR,
    STOP_USER,
)
from basalt.core.errors import ConfigError, refused
from basalt.core.units import MS_PER_HOUR, MS_PER_MIN, shifted

try:
    from micropython import const
except ImportError:  # CPython (host tests)

    def const(value):
        return value


# Refusals (basalt.core.refusals' numbers): their texts are built only when raised.
_ACK_FIRST = const(10)
_BATTERY_LEVELS = const(11)


class _DefaultAlarms:
    """Alarm settings when no settings file is loaded: reservoir low at 20 U; the
    timed reminders and auto-off off (they are the user's choice)."""

    reservoir_low_mu = 20_000
    auto_off_min = 0
    site_change_min = 0
    suspend_reminder_min = 0
    glucose_check_min = 0


DEFAULT_ALARMS = _DefaultAlarms()
ALARM_SETTING_KEYS = ("reservoir_low_mu", "auto_off_min", "site_change_min",
                      "suspend_reminder_min", "glucose_check_min")
CGM_STALE_MS = 20 * MS_PER_MIN  # no CGM reading for this long: "no CGM in use"


def raise_stopping(engine, alarms, now_ms, code, detail=None):
    """Raise an alarm; if it is one that stops delivery, halt the engine. One rule."""
    new = alarms.raise_alarm(now_ms, code, detail)
    if ALARMS[code][1]:
        engine.halt(now_ms, code.replace("_", " "))
    return new


def checked_alarm_settings(settings):
    """The five alarm settings as ints (ranges are the settings file's job)."""
    values = {}
    for key in ALARM_SETTING_KEYS:
        values[key] = int_in("alarms." + key, getattr(settings, key, None), 0, 100_000_000,
                             "mU" if key.endswith("_mu") else "min", error=ConfigError)
    return values


class PumpMonitor:
    def __init__(self, engine, alarms, settings, now_ms, battery_levels=None):
        self.engine = engine
        self.alarms = alarms
        self.set_settings(settings)
        self.battery = None if battery_levels is None else BatteryMonitor(*battery_levels)
        self.infusion_set = InfusionSetWatch()
        self._last_press = now_ms
        self._site_since = now_ms
        self._last_glucose = now_ms
        self._last_cgm = None
        self._suspended_since = None

    def check_settings(self, settings):
        checked_alarm_settings(settings)

    def rebase(self, shift_ms):
        self._last_press = shifted(self._last_press, shift_ms)
        self._site_since = shifted(self._site_since, shift_ms)
        self._last_glucose = shifted(self._last_glucose, shift_ms)
        self._last_cgm = shifted(self._last_cgm, shift_ms)
        self._suspended_since = shifted(self._suspended_since, shift_ms)
        self.infusion_set.rebase(shift_ms)

    def set_settings(self, settings):
        values = checked_alarm_settings(settings)
        self._low_steps = self.engine.board.usteps_for_mu(values["reservoir_low_mu"])
        self._auto_off_ms = values["auto_off_min"] * MS_PER_MIN
        self._site_ms = values["site_change_min"] * MS_PER_MIN
        self._suspend_ms = values["suspend_reminder_min"] * MS_PER_MIN
        self._glucose_ms = values["glucose_check_min"] * MS_PER_MIN

    # ----- inputs ---------------------------------------------------------------------

    def button_pressed(self, now_ms):
        self._last_press = now_ms
        self.alarms.clear(now_ms, "auto_off")  # latched until acknowledged

    def site_changed(self, now_ms, at_ms=None):
        """A new site now, or at at_ms (the boot restores the journaled one)."""
        self._site_since = now_ms if at_ms is None else at_ms
        self.alarms.clear(now_ms, "site_change")

    def battery_mv(self, now_ms, millivolts):
        """A battery reading (mV at the battery, after the divider)."""
        if self.battery is None:
            return
        level = self.battery.update(millivolts)
        self._level(now_ms, "battery_critical", level == CRITICAL)
        self._level(now_ms, "battery_low", level == LOW)
        return level

    def glucose(self, now_ms, mg_dl, from_cgm=True):
        """A glucose reading (CGM or a fingerstick entered by the user)."""
        fired = self.infusion_set.reading(now_ms, mg_dl)
        self._last_glucose = now_ms
        if from_cgm:
            self._last_cgm = now_ms
        self.alarms.clear(now_ms, "glucose_check")
        if fired:
            self.alarms.raise_alarm(now_ms, "infusion_set", {"mg_dl": mg_dl})
            self.alarms.clear(now_ms, "infusion_set")  # one-shot: latched until acknowledged

    def correction_bolus(self, now_ms):
        self.infusion_set.correction(now_ms)

    def dose_started(self, now_ms, kind, detail):
        """Every bolus, and a loop temp above the scheduled rate, is a correction for
        the infusion-set watch (which counts it only while glucose is high)."""
        if kind == "temp_basal_started":
            rate = detail.get("rate_mu_h")
            profiles = self.engine.profiles
            if (detail.get("source") != "loop" or rate is None or profiles.active is None
                    or rate <= profiles.current().rate_at(self.engine.day_ms())):
                return
        self.infusion_set.correction(now_ms)

    def require_resumable(self):
        """Resume waits until every alarm that stopped delivery is acknowledged."""
        code = self.alarms.blocking()
        if code is not None:
            raise refused(_ACK_FIRST, code)

    def fault(self, now_ms, code, detail=None):
        """A one-shot fault (delivery_fault, sensor_fault, occlusion ...): raise, halt, latch."""
        raise_stopping(self.engine, self.alarms, now_ms, code, detail)
        self.alarms.clear(now_ms, code)

    # ----- every tick -----------------------------------------------------------------

    def evaluate(self, now_ms):
        engine = self.engine
        reason = engine.stop_reason
        self._level(now_ms, "reservoir_low", reason != STOP_NO_RESERVOIR
                    and reason != STOP_EMPTY and engine.reservoir_steps <= self._low_steps)
        self._level(now_ms, "reservoir_empty", reason == STOP_EMPTY)
        # A basal step refused at release (STOP_BASAL_LIMIT) means the engine asked for
        # more than the rate cap it had been given: a delivery fault, not a daily maximum.
        basal_stop = reason == STOP_BASAL_LIMIT
        self._level(now_ms, "daily_max", reason is not None and reason.startswith(STOP_LIMIT)
                    and not basal_stop)
        self._level(now_ms, "delivery_fault", basal_stop)
        if reason == STOP_USER:
            if self._suspended_since is None:
                self._suspended_since = now_ms
        else:
            self._suspended_since = None
        since = self._suspended_since
        self._level(now_ms, "suspended_too_long", self._suspend_ms and since is not None
                    and now_ms - since >= self._suspend_ms)
        self._level(now_ms, "site_change", self._site_ms
                    and now_ms - self._site_since >= self._site_ms)
        cgm = self._last_cgm is not None and now_ms - self._last_cgm < CGM_STALE_MS
        self._level(now_ms, "glucose_check", self._glucose_ms and not cgm
                    and now_ms - self._last_glucose >= self._glucose_ms)
        if (self._auto_off_ms and now_ms - self._last_press >= self._auto_off_ms
                and not self.alarms.is_active("auto_off")):
            raise_stopping(engine, self.alarms, now_ms, "auto_off",
                           {"idle_min": (now_ms - self._last_press) // MS_PER_MIN})
        self.alarms.evaluate(now_ms)

    def _level(self, now_ms, code, present):
        if present:
            if not self.alarms.is_active(code):
                raise_stopping(self.engine, self.alarms, now_ms, code)
        elif self.alarms.is_active(code):
            self.alarms.clear(now_ms, code)


# ----- battery --------------------------------------------------------------------------

OK = 0
LOW = 1
CRITICAL = 2
BATTERY_HYSTERESIS_MV = 100  # a level is left only this far past its threshold
BATTERY_CONFIRM = 5  # consecutive readings that must agree before the level changes


class BatteryMonitor:
    """Battery level from noisy ADC millivolts: an integer moving average (1/32 weight:
    at one reading per 10 s a time constant of about 5 min, short against a battery's
    hours), then hysteresis around each threshold, then N agreeing readings to change."""

    def __init__(self, full_mv, low_mv, critical_mv):
        if not (is_int(critical_mv) and is_int(low_mv) and is_int(full_mv)
                and 0 < critical_mv < low_mv < full_mv):
            raise refused(_BATTERY_LEVELS, (critical_mv, low_mv, full_mv))
        self.full_mv = full_mv
        self.low_mv = low_mv
        self.critical_mv = critical_mv
        self.filtered_mv = None
        self.level = OK
        self._pending = OK
        self._count = 0

    def update(self, millivolts):
        int_in("battery millivolts", millivolts, 0, 100_000, "mV")
        if self.filtered_mv is None:
            self.filtered_mv = millivolts
        else:
            self.filtered_mv += (millivolts - self.filtered_mv) // 32
        wanted = self._wanted(self.filtered_mv)
        if wanted == self.level:
            self._count = 0
        elif wanted == self._pending:
            self._count += 1
            if self._count >= BATTERY_CONFIRM:
                self.level = wanted
                self._count = 0
        else:
            self._pending = wanted
            self._count = 1
        return self.level

    def _wanted(self, mv):
        """The level this voltage asks for, given the level we are in (hysteresis)."""
        level = self.level
        critical = self.critical_mv + (BATTERY_HYSTERESIS_MV if level == CRITICAL else 0)
        low = self.low_mv + (BATTERY_HYSTERESIS_MV if level >= LOW else 0)
        if mv < critical:
            return CRITICAL
        if mv < low:
            return LOW
        return OK

    def percent(self):
        if self.filtered_mv is None:
            return None
        span = self.full_mv - self.critical_mv
        value = (self.filtered_mv - self.critical_mv) * 100 // span
        return 0 if value < 0 else 100 if value > 100 else value


# ----- possible infusion-set failure ------------------------------------------------------

HIGH_MG_DL = 250
CHECK_AFTER_MS = 2 * MS_PER_HOUR
READING_FRESH_MS = 15 * MS_PER_MIN  # a correction counts if the newest reading is this new


class InfusionSetWatch:
    """Insulin should bring a high down. If glucose stays above high_mg_dl for after_ms
    after a correction given while it was above (any bolus; a loop temp above the
    scheduled rate), the cannula may be out or the tubing leaking: an occlusion sensor
    cannot see that. A reading at or below high_mg_dl ends the watch; it fires once per
    correction. Two ints of state: no history is kept."""

    def __init__(self, high_mg_dl=HIGH_MG_DL, after_ms=CHECK_AFTER_MS):
        self.high_mg_dl = high_mg_dl
        self.after_ms = after_ms
        self._last_at = None
        self._last_mg_dl = 0
        self._armed_at = None

    def rebase(self, shift_ms):
        self._last_at = shifted(self._last_at, shift_ms)
        self._armed_at = shifted(self._armed_at, shift_ms)

    def correction(self, now_ms):
        if (self._armed_at is None and self._last_at is not None
                and now_ms - self._last_at <= READING_FRESH_MS
                and self._last_mg_dl > self.high_mg_dl):
            self._armed_at = now_ms

    def reading(self, now_ms, mg_dl):
        """Note a reading; True if it shows a possible infusion-set failure."""
        int_in("glucose", mg_dl, 20, 600, "mg/dL")
        self._last_at = now_ms
        self._last_mg_dl = mg_dl
        armed = self._armed_at
        if mg_dl <= self.high_mg_dl:
            self._armed_at = None
            return False
        if armed is None or now_ms - armed < self.after_ms:
            return False
        self._armed_at = None
        return True
