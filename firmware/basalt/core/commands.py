"""Commands as plain data, in the user's units, checked strictly and applied to the engine.

The menus, the simulator's program files and host tools all speak this one format:
    {"cmd": "bolus", "units": 2.5}
    {"cmd": "dual_bolus", "units": 6, "now_percent": 60, "minutes": 90}
    {"cmd": "temp_basal", "minutes": 60, "percent": 150}
Unknown keys, missing keys and bad values are refused before anything is changed.
"""

from basalt.core import schedule
from basalt.core.alarms import check_code
from basalt.core.basal import MAX_RATE_MU_H, rate_from_user
from basalt.core.check import exact_keys, int_in, text
from basalt.core.delivery import (
    BOLUS_MAX_MU,
    BOLUS_STEP_MU,
    EXTENDED_MAX_MIN,
    EXTENDED_MIN_MIN,
    FILL_MIN_MU,
    FILL_STEP_MU,
    PRIME_MAX_MU,
    PRIME_STEP_MU,
    TEMP_MAX_MIN,
    TEMP_MAX_PERCENT,
    TEMP_MIN_MIN,
)
from basalt.core.errors import InvalidValue
from basalt.core.schedule import parse_clock
from basalt.core.units import MS_PER_MIN, milli_in

_U = "U"
_UH = "U/h"


def segments_from_user(name, segments):
    """[['00:00', 0.8], ['06:00', 1.2], ...] (U/h) -> [(0, 800), (360, 1200), ...]."""
    return schedule.segments_from_user("profile %s" % name, segments, 1, rate_from_user,
                                       "[HH:MM, U/h]")


def _units(cmd, key, lo, hi, step):
    return milli_in(cmd["cmd"] + " " + key, cmd[key], lo, hi, step, _U)


def _bolus_units(cmd, key, lo):
    return _units(cmd, key, lo, BOLUS_MAX_MU, BOLUS_STEP_MU)


def _minutes(cmd, lo, hi):
    return int_in(cmd["cmd"] + " minutes", cmd["minutes"], lo, hi, "min")


def _keys(cmd, required, optional=()):
    exact_keys(cmd["cmd"], cmd, required, optional, InvalidValue)


def _bolus(engine, now_ms, cmd):
    _keys(cmd, ("cmd", "units"))
    return engine.bolus(now_ms, _bolus_units(cmd, "units", BOLUS_STEP_MU))


def _extended(engine, now_ms, cmd):
    _keys(cmd, ("cmd", "units", "minutes"))
    amount = _bolus_units(cmd, "units", BOLUS_STEP_MU)
    return engine.extended_bolus(now_ms, amount,
                                 _minutes(cmd, EXTENDED_MIN_MIN, EXTENDED_MAX_MIN))


def _dual(engine, now_ms, cmd):
    _keys(cmd, ("cmd", "units", "minutes"), ("now_units", "now_percent"))
    amount = _bolus_units(cmd, "units", 2 * BOLUS_STEP_MU)  # room for two parts
    if ("now_units" in cmd) == ("now_percent" in cmd):
        raise InvalidValue("dual_bolus now", "both" if "now_units" in cmd else "neither",
                           "exactly one of now_units or now_percent")
    if "now_units" in cmd:
        now_mu = _units(cmd, "now_units", BOLUS_STEP_MU, amount - BOLUS_STEP_MU,
                        BOLUS_STEP_MU)
    else:
        percent = int_in("dual_bolus now_percent", cmd["now_percent"], 1, 99, "%")
        now_mu = amount * percent // 100 // BOLUS_STEP_MU * BOLUS_STEP_MU  # rounded down
        if now_mu < BOLUS_STEP_MU:
            raise InvalidValue("dual_bolus now_percent", percent, "a share of at least 0.01 U")
    minutes = _minutes(cmd, EXTENDED_MIN_MIN, EXTENDED_MAX_MIN)
    return engine.dual_bolus(now_ms, amount, now_mu, minutes)


def _temp(engine, now_ms, cmd):
    _keys(cmd, ("cmd", "minutes"), ("rate", "percent"))
    rate = percent = None
    if "rate" in cmd and "percent" not in cmd:
        rate = milli_in("temp_basal rate", cmd["rate"], 0, MAX_RATE_MU_H, 1, _UH)
    elif "percent" in cmd and "rate" not in cmd:
        percent = int_in("temp_basal percent", cmd["percent"], 0, TEMP_MAX_PERCENT, "%")
    else:
        raise InvalidValue("temp_basal", "both" if "rate" in cmd else "neither",
                           "exactly one of rate (U/h) or percent")
    minutes = _minutes(cmd, TEMP_MIN_MIN, TEMP_MAX_MIN)
    return engine.start_temp_basal(now_ms, minutes, rate_mu_h=rate, percent=percent)


def _bare(name):
    def apply(engine, now_ms, cmd):
        _keys(cmd, ("cmd",))
        return getattr(engine, name)(now_ms)

    return apply


def _prime(engine, now_ms, cmd):
    _keys(cmd, ("cmd", "units"))
    return engine.prime(now_ms, _units(cmd, "units", PRIME_STEP_MU, PRIME_MAX_MU,
                                       PRIME_STEP_MU))


def _new_reservoir(engine, now_ms, cmd):
    _keys(cmd, ("cmd", "units"))
    capacity = engine.board.syringe_capacity_mu
    return engine.new_reservoir(now_ms, _units(cmd, "units", FILL_MIN_MU, capacity,
                                               FILL_STEP_MU))


def _set_profile(engine, now_ms, cmd):
    _keys(cmd, ("cmd", "name", "segments"))
    text("set_profile name", cmd["name"], 1, 16)
    segments = segments_from_user(cmd["name"], cmd["segments"])
    return engine.set_profile(now_ms, cmd["name"], segments)


def _activate_profile(engine, now_ms, cmd):
    _keys(cmd, ("cmd", "name"))
    return engine.activate_profile(now_ms, cmd["name"])


def _delete_profile(engine, now_ms, cmd):
    _keys(cmd, ("cmd", "name"))
    return engine.delete_profile(cmd["name"])


def _set_time(engine, now_ms, cmd):
    _keys(cmd, ("cmd", "time"))
    return engine.set_time_of_day(now_ms, parse_clock("set_time time", cmd["time"]) * MS_PER_MIN)


COMMANDS = {
    "bolus": _bolus,
    "extended_bolus": _extended,
    "dual_bolus": _dual,
    "cancel_bolus": _bare("cancel_bolus"),
    "temp_basal": _temp,
    "cancel_temp_basal": _bare("cancel_temp_basal"),
    "suspend": _bare("suspend"),
    "resume": _bare("resume"),
    "prime": _prime,
    "new_reservoir": _new_reservoir,
    "set_profile": _set_profile,
    "activate_profile": _activate_profile,
    "delete_profile": _delete_profile,
    "set_time": _set_time,
}


def _alarm_action(name):
    def apply_to(alarms, now_ms, cmd):
        _keys(cmd, ("cmd", "alarm"))
        return getattr(alarms, name)(now_ms, check_code(cmd["alarm"]))

    return apply_to


# Commands for the alarm manager: {"cmd": "acknowledge", "alarm": "occlusion"}.
ALARM_COMMANDS = {
    "acknowledge": _alarm_action("acknowledge"),
    "snooze": _alarm_action("snooze"),
}


def apply_alarm(alarms, now_ms, cmd):
    """Check and apply an acknowledge or snooze command to an AlarmManager."""
    name = cmd.get("cmd") if isinstance(cmd, dict) else None
    if not isinstance(name, str) or name not in ALARM_COMMANDS:
        raise InvalidValue("command", cmd, "{'cmd': 'acknowledge' or 'snooze', "
                           "'alarm': code}")
    return ALARM_COMMANDS[cmd["cmd"]](alarms, now_ms, cmd)


def apply(engine, now_ms, cmd):
    """Check and apply one command; returns what the engine returned."""
    if not isinstance(cmd, dict):
        raise InvalidValue("command", cmd, "a table such as {'cmd': 'bolus', 'units': 1.5}")
    name = cmd.get("cmd")
    if not isinstance(name, str) or name not in COMMANDS:
        raise InvalidValue("cmd", name, "one of " + ", ".join(sorted(COMMANDS)))
    return COMMANDS[cmd["cmd"]](engine, now_ms, cmd)
