"""The refusal texts of the core's smaller modules (alarms, basal profiles, monitors), by the
numbers they raise them with through basalt.core.errors.refused(): loaded to build one
error and forgotten, so a running pump holds none of these strings.

Each entry is (error class, command or field (None: the first value given), text).
An InvalidValue (or ConfigError) takes the refused value next; the text is %-formatted
with the rest.
"""

from basalt.core.errors import ConfigError, InvalidValue, NotAllowedNow, refusal_from

TEXTS = (
    # basalt.core.alarms
    (InvalidValue, "buzzer pattern", "(volume 0-1000, repeat 100-600000 ms, 1-32 notes of "
                                     "(100-10000 Hz, 1-5000 ms on, 0-5000 ms off) that fit "
                                     "in the repeat)"),
    (NotAllowedNow, None, "%s is already acknowledged"),
    (NotAllowedNow, "snooze", "%s is high priority: acknowledge it"),
    (NotAllowedNow, None, "no %s alarm is active"),
    (InvalidValue, "alarm detail", "a table of names to ints, text or None"),
    # basalt.core.basal (5)
    (NotAllowedNow, "save profile", "already %d profiles (the most allowed); delete one first"),
    (InvalidValue, "profile", "a saved profile: %s"),
    (NotAllowedNow, "delete profile", "%s is the active profile"),
    (NotAllowedNow, "rename profile", "%s is already a profile"),
    (NotAllowedNow, "basal", "no basal profile is set"),
    # basalt.core.monitors (10)
    (NotAllowedNow, "resume", "acknowledge the %s alarm first"),
    (ConfigError, "battery", "critical_mv < low_mv < full_mv (integers)"),
)


def refusal(code, values):
    return refusal_from(TEXTS[code], values)
