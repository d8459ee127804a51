"""Typed errors. Every refusal names the field, the value and what is allowed.

Safety checks raise one of these; they never use `assert` (mpy-cross -O strips it).
"""


class BasaltError(Exception):
    """Base of every error Basalt raises on purpose."""


class InvalidValue(BasaltError):
    """A value is malformed or out of range. Nothing was changed."""

    def __init__(self, field, value, allowed, problem=None):
        self.field = field
        self.value = value
        self.allowed = allowed
        if problem is None:
            problem = _show(value) + " is not allowed"
        super().__init__("%s: %s; allowed: %s" % (field, problem, allowed))


class ConfigError(InvalidValue):
    """A board or settings file is invalid. `field` is the key path."""


class NotAllowedNow(BasaltError):
    """A well-formed command the pump refuses in its present state. Nothing was changed."""

    def __init__(self, command, reason):
        self.command = command
        self.reason = reason
        super().__init__("%s refused: %s" % (command, reason))


class MotorFault(BasaltError):
    """The motor or its driver broke its contract (moved while disabled, busy, ...)."""


def _show(value):
    if isinstance(value, str):
        return repr(value)
    return str(value)


class SensorFault(BasaltError):
    """The force sensor gave no answer, a saturated or an implausible reading.

    A faulty sensor can no longer see an occlusion: it is never read as "no occlusion".
    `reason` is a short lowercase code ("timeout", "saturated", "implausible", "stuck").
    """

    def __init__(self, reason, detail):
        self.reason = reason
        super().__init__("force sensor %s: %s" % (reason, detail))


class LimitExceeded(NotAllowedNow):
    """A dose the safety gate refused: it would go over a limit. Nothing was delivered.

    limit is the limit's key ("max_bolus", "max_basal", "max_iob", "max_bolus_60min",
    "max_daily"); value, maximum and over are integers in mU (or mU/h for max_basal).
    The message says which limit and by how much, e.g.
    "bolus 12 U: max bolus is 10 U (2 U over)".
    """

    def __init__(self, command, limit, value, maximum, over, message):
        super(NotAllowedNow, self).__init__(message)  # not "refused: ": the message says it
        self.command = command
        self.reason = message
        self.limit = limit
        self.value = value
        self.maximum = maximum
        self.over = over
