"""The validated therapy settings as the running pump keeps them (built by
basalt.core.settings.load_settings, which is imported only to read a file: its checks
are not kept in RAM while the pump runs)."""

from basalt.core import insulin
from basalt.core.units import MIN_PER_HOUR, fmt_milli


class Alarms:
    """Alarm and reminder settings; 0 means off where a time is given."""

    def __init__(self, reservoir_low_mu, auto_off_min, site_change_min, suspend_reminder_min,
                 glucose_check_min):
        self.reservoir_low_mu = reservoir_low_mu
        self.auto_off_min = auto_off_min
        self.site_change_min = site_change_min
        self.suspend_reminder_min = suspend_reminder_min
        self.glucose_check_min = glucose_check_min


class Settings:
    """Validated therapy settings. Schedules are basalt.core.schedule.Schedule objects:
    carb_ratio in mg of carbohydrate per U, sensitivity in mg/dL per U, targets as
    (low, high) mg/dL pairs."""

    def __init__(self, parts):
        for key in sorted(parts):
            setattr(self, key, parts[key])

    def insulin_model(self):
        return insulin.InsulinModel(self.insulin_peak_min, self.insulin_duration_min)

    def summary(self):
        """One line for humans: what this file sets."""
        profile = self.basal_profiles.current()
        return ("version %d: %d basal profile(s), active %s (%s U/day); carb ratio %d, "
                "sensitivity %d, target %d segment(s); %s insulin, peak %d min, %s h; max "
                "bolus %s U" % (
                    self.version, len(self.basal_profiles.profiles), profile.name,
                    fmt_milli(profile.daily_total_mu()), len(self.carb_ratio.values),
                    len(self.sensitivity.values), len(self.targets.values),
                    self.insulin_type, self.insulin_peak_min,
                    fmt_milli(self.insulin_duration_min * 1000 // MIN_PER_HOUR),
                    fmt_milli(self.limits.max_bolus_mu)))


class CgmSettings:
    """Whether the pump runs its BLE CGM client, and which sensor it accepts.

    address None: the first sensor found advertising the CGM service (and, where the
    port can pair, the one bonded with); else only this Bluetooth address.
    """

    def __init__(self, enabled=False, address=None):
        self.enabled = enabled
        self.address = address
