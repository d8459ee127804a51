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


def refusal_from(entry, values):
    """The error a refusal-text entry (error class, command or field or None: the first
    of values, text) describes: a NotAllowedNow's text is %-formatted with the values,
    an InvalidValue's or ConfigError's takes the refused value first."""
    error, name, text = entry
    if name is None:
        name, values = values[0], values[1:]
    if error is NotAllowedNow:
        return NotAllowedNow(name, text % values)
    return error(name, values[0], text % values[1:])


def refused(code, *values):
    """The error for refusal number `code` of basalt.core.refusals, whose texts are built
    only when one is raised (as strings in each module they stayed in the heap)."""
    from basalt import call_and_forget

    return call_and_forget("basalt.core.refusals", "refusal", code, values)


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


_ERRNO_NAMES = {2: "ENOENT", 5: "EIO", 12: "ENOMEM", 19: "ENODEV", 22: "EINVAL",
                28: "ENOSPC", 30: "EROFS"}


class StorageFault(BasaltError):
    """The flash failed a read or a write of one file (any OSError of the Storage
    port, or bytes that did not read back as written). `file` is the file's name,
    `operation` what was being done ("write", "append", "replace", "read back",
    "remove", "list"), `errno` the OSError's number (None if there was none) and
    `screen` a short line for the display, e.g. "settings.json not saved: ENOSPC"."""

    def __init__(self, file, operation, error, screen=None):
        self.file = file
        self.operation = operation
        self.errno = error.args[0] if isinstance(error, OSError) and error.args \
            and isinstance(error.args[0], int) else None
        what = _ERRNO_NAMES.get(self.errno, "errno %s" % self.errno) \
            if self.errno is not None else str(error)
        if self.errno is not None and len(error.args) > 1 and isinstance(error.args[1], str):
            what += " (%s)" % error.args[1]
        self.what = what
        self.screen = screen or "%s not saved: %s" % (file, what)
        super().__init__("storage: %s of %s failed: %s" % (operation, file, what))
