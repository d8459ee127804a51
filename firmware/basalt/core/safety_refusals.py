"""The safety gate's refusal texts (basalt.core.safety), built only when a dose is
refused: imported for one message and forgotten, so a running pump holds none of them."""

from basalt.core.errors import NotAllowedNow
from basalt.core.safety import NAMES
from basalt.core.units import fmt_milli

# NotAllowedNow reasons, by the numbers basalt.core.safety raises them with.
REASONS = (
    "no therapy settings are loaded, so there are no limits: every dose is refused",
    "%s U would move %r microsteps; at most %d",
    "insulin on board is unknown (%s)",
    "insulin on board is unknown (the IOB provider returned %r)",
)


def refusal(code, command, values):
    return NotAllowedNow(command, REASONS[code] % values)


def limit_message(text, values):
    """A LimitExceeded message: values are (command, limit, value, maximum, over) and
    what the text needs besides (used mU; where; IOB and its max)."""
    command, limit, value, maximum, over = values[:5]
    if text == 0:  # safety._OVER_LIMIT
        return _over_limit(command, limit, value, values[5], maximum, over)
    if text == 1:  # safety._OVER_MAX_BASAL (else _AT_MAX_IOB)
        return "%s %s U/h%s: max basal is %s U/h (%s U/h over)" % (
            command, fmt_milli(value), values[5], fmt_milli(maximum), fmt_milli(over))
    iob, max_iob = values[5:]
    return ("%s %s U/h: insulin on board %s U is at the max of %s U, so at most the "
            "scheduled %s U/h (%s U/h over)" % (command, fmt_milli(value), fmt_milli(iob),
                                                fmt_milli(max_iob), fmt_milli(maximum),
                                                fmt_milli(over)))


def _over_limit(command, limit, amount_mu, used_mu, maximum, over):
    """'bolus 12 U: max bolus is 10 U (2 U over)', with what is already used if any."""
    used = ""
    if limit == "max_iob":
        used = ", %s U on board or due" % fmt_milli(used_mu)
    elif limit == "max_bolus_60min":
        used = ", %s U given in the last 60 min or due" % fmt_milli(used_mu)
    elif limit == "max_daily":
        used = ", %s U given in the last 24 h or due" % fmt_milli(used_mu)
    return "%s %s U: %s is %s U%s (%s U over)" % (command, fmt_milli(amount_mu), NAMES[limit],
                                                fmt_milli(maximum), used, fmt_milli(over))
