"""The schema of basalt.core.loop.decide()'s input record (described there and in
docs/loop-decide.md): check_inputs(inputs) returns the record or raises InvalidValue
naming the field, the value and the allowed range. A module of its own, loaded on first
use: the pump's Loop builds records from checked parts and never loads it."""

from basalt.core.check import exact_keys, flag, int_in, is_int, one_of, text
from basalt.core.errors import InvalidValue
from basalt.core.limits import CARBS_MAX_G, MAX_RATE_MU_H
from basalt.core.loop import (
    ABSORPTION_RANGE,
    AUTO_BOLUS_MAX_MIN_RANGE,
    AUTO_BOLUS_PERCENT_RANGE,
    EXTRA_3H_RANGE_MU,
    EXTRA_24H_RANGE_MU,
    MAX_CARB_ENTRIES,
    MODES,
    POINTS,
    SENS_SUM_LIMIT,
    SUSPEND_RANGE,
)
from basalt.core.readings import NO_VALUE
from basalt.core.safety import CEILINGS, IOB_BOUND_MU
from basalt.core.units import MS_PER_MIN

# What an input record may hold (decide() checks it; only nonsense is refused here, the
# settings file and the safety gate keep the real limits).
TIME_LIMIT_MS = 1 << 40  # times are -2**40 .. 2**40 ms (about 35 years either way)
MAX_READINGS = 64
GLUCOSE_LIMIT_MILLI = 1_000_000  # a stored reading's value, flagged or not
FLAGS_LIMIT = 63  # every basalt.core.readings flag bit
ISF_RANGE = (1, 1_000)  # mg/dL per U
CARB_RATIO_RANGE = (1_000, 150_000)  # mg of carbohydrate per U
TARGET_RANGE = (70, 250)  # mg/dL
ACTIVITY_LIMIT_MU_H = 1_000_000
TEMP_LEFT_MAX_MIN = 1_440
BOLUS_STEP_RANGE = (1, 1_000)
MAX_EXTRA_BUCKETS = 25  # one an hour reaching into the last 24 h

_TOP = ("now_ms", "readings", "iob", "schedule", "settings", "pump", "state")
_SCHEDULE = ("scheduled_mu_h", "highest_mu_h", "max_basal_mu_h", "max_iob_mu",
             "isf_mg_dl_u", "carb_ratio_mg_u", "target_mg_dl")
_SETTINGS = ("mode", "suspend_mg_dl", "auto_bolus", "auto_bolus_percent",
             "auto_bolus_max_min", "absorption_min")
# None or absent: the defaults; need_percent: an activity mode's share of a positive need.
_SETTINGS_OPTIONAL = ("max_extra_3h_mu", "max_extra_24h_mu", "need_percent")
_PUMP = ("stop_reason", "temp_mu_h", "temp_left_min", "bolus_running", "bolus_step_mu")


def check_inputs(inputs):
    """The record, or InvalidValue (field, value, allowed range) at its first fault."""
    exact_keys("", inputs, _TOP, ("why",), InvalidValue)
    _time("now_ms", inputs["now_ms"])
    readings = _list("readings", inputs["readings"], 0, MAX_READINGS)
    before = None
    for i in range(len(readings)):
        where = "readings[%d]" % i
        at, glucose, flags = _entry(where, readings[i], "[at_ms, glucose_milli, flags]")
        _time(where + " at_ms", at)
        int_in(where + " flags", flags, 0, FLAGS_LIMIT, "(readings flag bits)")
        if glucose is not None:
            int_in(where + " glucose_milli", glucose, 0, GLUCOSE_LIMIT_MILLI, "mg/dL x 1000")
        elif not flags & NO_VALUE:
            raise InvalidValue(where + " glucose_milli", glucose, "0 to %d mg/dL x 1000 ("
                               "None only with the no_value flag, 1)" % GLUCOSE_LIMIT_MILLI)
        if before is not None and (at <= before or (at - before) % MS_PER_MIN):
            raise InvalidValue(where + " at_ms", at, "whole minutes after %d (the reading "
                               "before), oldest first" % before)
        before = at
    iob = inputs["iob"]
    exact_keys("iob", iob, ("mu", "activity_mu_h"), (), InvalidValue)
    mu = _list("iob.mu", iob["mu"], POINTS, POINTS)
    for k in range(POINTS):
        int_in("iob.mu[%d]" % k, mu[k], -IOB_BOUND_MU, IOB_BOUND_MU, "mU")
    int_in("iob.activity_mu_h", iob["activity_mu_h"], -ACTIVITY_LIMIT_MU_H,
           ACTIVITY_LIMIT_MU_H, "mU/h")
    schedule = inputs["schedule"]
    exact_keys("schedule", schedule, _SCHEDULE, (), InvalidValue)
    for key in ("scheduled_mu_h", "highest_mu_h", "max_basal_mu_h"):
        int_in("schedule." + key, schedule[key], 0, MAX_RATE_MU_H, "mU/h")
    if schedule["highest_mu_h"] < schedule["scheduled_mu_h"]:
        raise InvalidValue("schedule.highest_mu_h", schedule["highest_mu_h"],
                           "at least scheduled_mu_h (%d)" % schedule["scheduled_mu_h"])
    int_in("schedule.max_iob_mu", schedule["max_iob_mu"], CEILINGS["max_iob_mu"][0],
           CEILINGS["max_iob_mu"][1], "mU")
    int_in("schedule.isf_mg_dl_u", schedule["isf_mg_dl_u"], ISF_RANGE[0], ISF_RANGE[1],
           "mg/dL per U")
    int_in("schedule.carb_ratio_mg_u", schedule["carb_ratio_mg_u"], CARB_RATIO_RANGE[0],
           CARB_RATIO_RANGE[1], "mg per U")
    int_in("schedule.target_mg_dl", schedule["target_mg_dl"], TARGET_RANGE[0],
           TARGET_RANGE[1], "mg/dL")
    settings = inputs["settings"]
    exact_keys("settings", settings, _SETTINGS, _SETTINGS_OPTIONAL, InvalidValue)
    one_of("settings.mode", settings["mode"], MODES)
    int_in("settings.suspend_mg_dl", settings["suspend_mg_dl"], SUSPEND_RANGE[0],
           SUSPEND_RANGE[1], "mg/dL")
    flag("settings.auto_bolus", settings["auto_bolus"])
    int_in("settings.auto_bolus_percent", settings["auto_bolus_percent"],
           AUTO_BOLUS_PERCENT_RANGE[0], AUTO_BOLUS_PERCENT_RANGE[1], "%")
    int_in("settings.auto_bolus_max_min", settings["auto_bolus_max_min"],
           AUTO_BOLUS_MAX_MIN_RANGE[0], AUTO_BOLUS_MAX_MIN_RANGE[1], "min")
    int_in("settings.absorption_min", settings["absorption_min"], ABSORPTION_RANGE[0],
           ABSORPTION_RANGE[1], "min")
    for key, (lo, hi) in (("max_extra_3h_mu", EXTRA_3H_RANGE_MU),
                          ("max_extra_24h_mu", EXTRA_24H_RANGE_MU)):
        if settings.get(key) is not None:
            int_in("settings." + key, settings[key], lo, hi, "mU over scheduled basal")
    if "need_percent" in settings:
        int_in("settings.need_percent", settings["need_percent"], 10, 100, "% of the need")
    pump = inputs["pump"]
    exact_keys("pump", pump, _PUMP, (), InvalidValue)
    if pump["stop_reason"] is not None:
        text("pump.stop_reason", pump["stop_reason"], 1, 60)
    if pump["temp_mu_h"] is not None:
        int_in("pump.temp_mu_h", pump["temp_mu_h"], 0, MAX_RATE_MU_H, "mU/h")
    int_in("pump.temp_left_min", pump["temp_left_min"], 0, TEMP_LEFT_MAX_MIN, "min")
    flag("pump.bolus_running", pump["bolus_running"])
    int_in("pump.bolus_step_mu", pump["bolus_step_mu"], BOLUS_STEP_RANGE[0],
           BOLUS_STEP_RANGE[1], "mU")
    state = inputs["state"]
    exact_keys("state", state, ("carbs", "last_ms"), ("extra", "loop_temp", "sens"),
               InvalidValue)
    carbs = _list("state.carbs", state["carbs"], 0, MAX_CARB_ENTRIES)
    for i in range(len(carbs)):
        where = "state.carbs[%d]" % i
        at, grams, early = _entry(where, carbs[i], "[at_ms, grams, early_mg]")
        _time(where + " at_ms", at)
        int_in(where + " grams", grams, 1, CARBS_MAX_G, "g")
        int_in(where + " early_mg", early, 0, grams * 1000, "mg (at most the meal)")
    if state["last_ms"] is not None:
        _time("state.last_ms", state["last_ms"])
    extra = _list("state.extra", state.get("extra", []), 0, MAX_EXTRA_BUCKETS)
    before = None
    for i in range(len(extra)):
        where = "state.extra[%d]" % i
        entry = extra[i]
        if not isinstance(entry, list) or len(entry) != 2:
            raise InvalidValue(where, entry, "a list [bucket start ms, mU]")
        _time(where + " start_ms", entry[0])
        int_in(where + " mu", entry[1], 0, EXTRA_24H_RANGE_MU[1] * 2, "mU")
        if before is not None and entry[0] <= before:
            raise InvalidValue(where + " start_ms", entry[0], "after %d (oldest first)"
                               % before)
        before = entry[0]
    temp = state.get("loop_temp")
    if temp is not None:
        if not isinstance(temp, list) or len(temp) != 3:
            raise InvalidValue("state.loop_temp", temp, "None or [start ms, mU/h above "
                               "scheduled, end ms]")
        _time("state.loop_temp start_ms", temp[0])
        int_in("state.loop_temp mu_h", temp[1], 1, MAX_RATE_MU_H, "mU/h")
        _time("state.loop_temp end_ms", temp[2])
        if temp[2] <= temp[0]:
            raise InvalidValue("state.loop_temp end_ms", temp[2], "after its start %d"
                               % temp[0])
    sens = state.get("sens")
    if sens is not None:
        if not isinstance(sens, list) or len(sens) != 2:
            raise InvalidValue("state.sens", sens, "None or [sum trend x effect, sum "
                               "effect squared]")
        int_in("state.sens trend_x_effect", sens[0], -SENS_SUM_LIMIT, SENS_SUM_LIMIT, "")
        int_in("state.sens effect_squared", sens[1], 0, SENS_SUM_LIMIT, "")
    return inputs


def _time(field, value):
    return int_in(field, value, -TIME_LIMIT_MS, TIME_LIMIT_MS, "ms")


def _list(field, value, least, most):
    if not isinstance(value, list) or not least <= len(value) <= most:
        count = "%d" % most if least == most else "%d to %d" % (least, most)
        raise InvalidValue(field, value if not isinstance(value, list) else
                           "%d entries" % len(value), "a list of %s entries" % count)
    return value


def _entry(field, value, shape):
    if not isinstance(value, list) or len(value) != 3:
        raise InvalidValue(field, value, "a list " + shape)
    if not is_int(value[0]):
        raise InvalidValue(field + " at_ms", value[0], "an int (ms)")
    return value
