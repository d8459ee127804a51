"""The delivery engine's refusal texts, by the numbers basalt.core.delivery raises them
with: imported to build one error and forgotten, so a running pump holds none of them.
Each entry is (error class, command or field (None: the first value given), text); an
InvalidValue takes the value refused next, the text is %-formatted with the rest."""

from basalt.core.errors import InvalidValue, NotAllowedNow, refusal_from

# The refusals' numbers, TEXTS' indexes (basalt.core.delivery repeats them as private
# consts, which cost no heap; a test holds them equal).
TEMP_WOULD_REACH = 0
PERCENT_TOO_HIGH = 1
NO_TEMP = 2
NO_BOLUS = 3
BOLUS_RUNNING = 4
EXTENDED_RUNNING = 5
NOT_ENOUGH_INSULIN = 6
ALREADY_STOPPED = 7
NOT_SUSPENDED = 8
NEEDS_RESERVOIR = 9
PRIMING = 10
NO_DAILY_ROOM = 11
SUSPEND_FIRST = 12
PRIMING_ALREADY = 13
NO_RESTORE_REASON = 14
TEMP_WHILE_STOPPED = 15

TEXTS = (
    (NotAllowedNow, None, "the running %d %% temp basal would reach %s U/h on profile %s "
                          "(the most is %s U/h); cancel it first"),
    (InvalidValue, "temp basal percent", "at most %d %% here: the scheduled rate reaches "
                                         "%s U/h and the pump's maximum is %s U/h"),
    (NotAllowedNow, "cancel temp basal", "no temp basal is running"),
    (NotAllowedNow, "cancel bolus", "no bolus is running"),
    (NotAllowedNow, None, "a bolus is being delivered; wait or cancel it"),
    (NotAllowedNow, None, "an extended bolus is running; cancel it first"),
    (NotAllowedNow, None, "%s U is more than the %s U left in the reservoir for new doses"),
    (NotAllowedNow, None, "delivery is already stopped (%s)"),
    (NotAllowedNow, "resume", "not suspended"),
    (NotAllowedNow, "resume", "%s; fit a new reservoir first"),
    (NotAllowedNow, None, "priming is in progress"),
    (NotAllowedNow, "resume", "%s U is left under the max daily insulin of %s U; the "
                              "scheduled basal needs %s U in the next hour"),
    (NotAllowedNow, None, "suspend delivery first"),
    (NotAllowedNow, "prime", "priming is already in progress"),
    (InvalidValue, "restore stop reason", "a reason: the pump restarts stopped until the "
                                          "user has seen the boot screen"),
    (NotAllowedNow, "resume temp basal", "pump is stopped (%s)"),
)


def refusal(code, values):
    return refusal_from(TEXTS[code], values)
