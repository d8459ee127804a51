"""Therapy settings: one versioned JSON file, checked strictly, every rule in one place.

load_settings(obj) -> (Settings, warnings) or SettingsError (a ConfigError) listing
every problem, each naming the key path, the value and what is allowed. Hard limits
refuse a value; recommended ranges (Loop and AndroidAPS guardrails, docs/references.md) only
warn. Keys are in user units ("max_bolus_u": 10); attributes are integers (mU, mU/h,
minutes, mg/dL). The file may hold whole-line // comments (parse_settings_text); it is
strict JSON (basalt.core.strict_json): a key twice in one table, or nesting deeper than
the schema's MAX_DEPTH, is refused before any value is read.
"""

import json

from basalt.core import insulin, strict_json
from basalt.core import loop_state as loop
from basalt.core.basal import BasalProfile, BasalProfiles, rate_from_user
from basalt.core.check import flag, int_in, is_int, one_of, text
from basalt.core.errors import ConfigError, InvalidValue
from basalt.core.glucose_alerts import AlertSettings
from basalt.core.limits import (
    BOLUS_MAX_MU,
    BOLUS_SPEED_MAX_MU_MIN,
    BOLUS_SPEED_MIN_MU_MIN,
    BOLUS_STEP_MU,
    FILL_MAX_MU,
    FILL_MIN_MU,
    FILL_STEP_MU,
    MAX_PROFILES,
    MAX_RATE_MU_H,
    PRIME_MAX_MU,
    PRIME_STEP_MU,
)
from basalt.core.safety import Limits  # the safety gate's own class: one definition
from basalt.core.schedule import Schedule, check_segments, segments_from_user
from basalt.core.therapy import Alarms, CgmSettings, Settings  # the running pump keeps these
from basalt.core.units import MIN_PER_DAY, MIN_PER_HOUR, fmt_milli, milli_in

VERSION = 1

BOLUS_INCREMENTS_MU = (10, 50, 100, 500, 1_000)
DEFAULT_MIN_GLUCOSE = 70
# The deepest the schema nests: the file's table > basal > profiles > a profile's list of
# segments > one segment. A deeper file cannot be valid; it is refused unread.
MAX_DEPTH = 5


class SettingsError(ConfigError):
    """A refused settings file. `problems` holds every problem (InvalidValue each);
    field, value and allowed are the first one's."""

    def __init__(self, problems):
        first = problems[0]
        self.problems = problems
        self.field = first.field
        self.value = first.value
        self.allowed = first.allowed
        # Skip InvalidValue's message: this one lists every problem, one per line.
        super(InvalidValue, self).__init__("\n".join(str(p) for p in problems))


# ----- the file ---------------------------------------------------------------------

def parse_settings_text(source, name="settings"):
    """JSON text (str or bytes), where whole lines starting with // are comments -> a
    plain object.

    Strict (basalt.core.strict_json.check): a key twice in one table is refused naming
    the key path and both lines; so is nesting deeper than MAX_DEPTH, or anything that is
    not strict JSON, each as one ConfigError line, the same on CPython and MicroPython."""
    data = _blank_comments(source.encode() if isinstance(source, str) else bytes(source))
    strict_json.check(data, MAX_DEPTH, name)
    try:
        return json.loads(data)
    except ValueError as error:  # not expected after the check: kept as a backstop
        raise ConfigError(name, "(the file)", "JSON with whole-line // comments",
                          "not valid JSON (%s)" % error)


_BLANKS = (0x20, 0x09, 0x0D)  # space, tab, CR: what may come before a comment's //


def _blank_comments(data):
    """data with each whole-line // comment turned into spaces, so line numbers stay
    those of the file: one copy of the bytes, made only when there is a comment (no
    string per line: a boot reads this file)."""
    out = None
    start = 0
    size = len(data)
    while start < size:
        end = data.find(b"\n", start)
        end = size if end < 0 else end
        pos = start
        while pos < end and data[pos] in _BLANKS:
            pos += 1
        if pos + 1 < end and data[pos] == 0x2F and data[pos + 1] == 0x2F:
            if out is None:
                out = bytearray(data)
            for i in range(start, end):
                out[i] = 0x20
        start = end + 1
    return data if out is None else bytes(out)


def load_settings(obj, board=None):
    """Check a settings object (parsed JSON); return (Settings, warnings).

    Raises SettingsError (a ConfigError) listing every problem; nothing is returned
    then, so a refused file never replaces the working settings. With a board, the
    reservoir fill is also checked against its syringe.
    """
    check = _Check()
    parts = _top(check, obj, board)
    if check.problems:
        raise SettingsError(check.problems)
    return Settings(parts), check.warnings


class _Missing:
    """Stands for a key that is not there (and was reported as missing)."""


_MISSING = _Missing()


def _at(obj, key):
    return obj.get(key, _MISSING)


class _Check:
    """Collects every problem (and warning) instead of stopping at the first."""

    def __init__(self):
        self.problems = []
        self.warnings = []

    def take(self, check, *args):
        """check(*args), or None with the problem noted (a missing key is noted already)."""
        for arg in args:
            if arg is _MISSING:
                return None
        try:
            return check(*args)
        except InvalidValue as error:
            self.problems.append(error)
            return None

    def keys(self, path, obj, required, optional=()):
        """Note unknown and missing keys; True if obj is a table (the values present can
        still be checked: missing ones read as _MISSING)."""
        if not isinstance(obj, dict):
            self.problems.append(ConfigError(path or "(top)", _short(obj), "a table of keys"))
            return False
        for key in sorted(obj):
            if key not in required and key not in optional:
                self.problems.append(ConfigError(_join(path, key), key, "keys " + ", ".join(
                    sorted(list(required) + list(optional))), "unknown key"))
        for key in required:
            if key not in obj:
                self.problems.append(ConfigError(_join(path, key), None, "a value is required",
                                                 "missing"))
        return True

    def warn_outside(self, path, value, lo, hi, unit, shown, source, segment=0, part=""):
        """A warning when value is outside lo..hi; with `segment` (1 up) the path names
        that segment of the schedule at path (the name built only for a warning)."""
        if value is not None and not lo <= value <= hi:
            if segment:
                path = "%s segment %d%s" % (path, segment, part)
            self.warnings.append("%s: %s %s is outside the recommended %s to %s %s (%s); "
                                 "accepted" % (path, shown(value), unit, shown(lo), shown(hi),
                                               unit, source))


_TOP_KEYS = ("version", "basal", "carb_ratio_g_per_u", "sensitivity_mg_dl_per_u",
             "target_mg_dl", "insulin", "limits", "alarms", "bolus", "reservoir")
_OPTIONAL_KEYS = ("loop", "cgm", "cgm_alerts", "glucose_units")
GLUCOSE_UNITS = ("mg/dL", "mmol/L")  # how screens show glucose; files and commands: mg/dL


def _top(check, obj, board):
    if not isinstance(obj, dict) or "version" not in obj:
        check.keys("", obj, _TOP_KEYS, _OPTIONAL_KEYS)
        return None
    if not is_int(obj["version"]) or obj["version"] != VERSION:
        check.problems.append(ConfigError("version", obj["version"], "%d (the version this "
                                          "firmware reads)" % VERSION))
        return None
    check.keys("", obj, _TOP_KEYS, _OPTIONAL_KEYS)
    parts = {"version": VERSION, "loop": loop.LoopSettings(), "cgm": CgmSettings(),
             "cgm_alerts": AlertSettings(), "glucose_units": GLUCOSE_UNITS[0]}
    if "basal" in obj:
        parts["basal_profiles"] = _basal(check, obj["basal"])
    if "carb_ratio_g_per_u" in obj:
        parts["carb_ratio"] = _carb_ratio(check, obj["carb_ratio_g_per_u"])
    if "sensitivity_mg_dl_per_u" in obj:
        parts["sensitivity"] = _sensitivity(check, obj["sensitivity_mg_dl_per_u"])
    if "target_mg_dl" in obj:
        parts["targets"] = _targets(check, obj["target_mg_dl"])
    if "insulin" in obj:
        parts.update(_insulin(check, obj["insulin"]))
    if "bolus" in obj:
        parts.update(_bolus(check, obj["bolus"]))
    if "limits" in obj:
        parts["limits"] = _limits(check, obj["limits"], parts.get("basal_profiles"))
    if "reservoir" in obj:
        parts.update(_reservoir(check, obj["reservoir"], board))
    if "alarms" in obj:
        parts["alarms"] = _alarms(check, obj["alarms"], parts.get("reservoir_fill_mu"))
    if "loop" in obj:
        parts["loop"] = _loop(check, obj["loop"])
    if "cgm" in obj:
        parts["cgm"] = _cgm(check, obj["cgm"])
    if "cgm_alerts" in obj:
        parts["cgm_alerts"] = _cgm_alerts(check, obj["cgm_alerts"])
    if "glucose_units" in obj:
        parts["glucose_units"] = check.take(one_of, "glucose_units", obj["glucose_units"],
                                            GLUCOSE_UNITS, ConfigError)
    return parts


# ----- schedules --------------------------------------------------------------------

def _pairs(check, path, segments, width, convert, shape):
    """User segments -> (starts, values) tuples, every problem (values and starts)
    noted; None if there was any."""
    pairs = segments_from_user(path, segments, width, convert, shape, check.problems)
    if pairs is None:
        return None
    # The values were checked as they were converted (None: refused); now the starts.
    checked = check_segments(path, pairs, _same, shape, check.problems)
    return None if checked is None or None in checked[1] else checked


def _schedule(check, path, segments, width, convert, shape):
    checked = _pairs(check, path, segments, width, convert, shape)
    return None if checked is None else Schedule(checked[0], checked[1])


def _same(where, value):
    return value


def _basal(check, obj):
    if not check.keys("basal", obj, ("active", "profiles")):
        return None
    profiles = _at(obj, "profiles")
    if profiles is _MISSING:
        return None
    if not isinstance(profiles, dict) or not 1 <= len(profiles) <= MAX_PROFILES:
        check.problems.append(ConfigError("basal.profiles", _short(profiles),
                                          "a table of 1 to %d named profiles" % MAX_PROFILES))
        return None
    saved = BasalProfiles()
    for name in sorted(profiles):
        path = "basal.profiles.%s" % name
        if check.take(text, path, name, 1, 16, ConfigError) is None:
            continue
        checked = _pairs(check, path, profiles[name], 1, rate_from_user, "[HH:MM, U/h]")
        if checked is not None:  # name, starts and rates checked, as put() would again
            saved.profiles[name] = BasalProfile(name, checked[0], checked[1])
    active = _at(obj, "active")
    if active is _MISSING:
        return None
    if not isinstance(active, str) or active not in profiles:
        check.problems.append(ConfigError("basal.active", _short(active), "the name of a "
                                          "profile in basal.profiles: " + ", ".join(
                                              sorted(str(n) for n in profiles))))
        return None
    if len(saved.profiles) != len(profiles):
        return None
    saved.active = active
    return saved


def _carb_ratio(check, segments):
    path = "carb_ratio_g_per_u"
    schedule = _schedule(check, path, segments, 1, _ratio, "[HH:MM, g/U]")
    if schedule is not None:
        for i, mg in enumerate(schedule.values):
            check.warn_outside(path, mg, 2_000, 100_000, "g/U", fmt_milli,
                               "Loop 2-150, AndroidAPS 2-100", i + 1)
    return schedule


def _ratio(where, values):
    return milli_in(where + " ratio", values[0], 1_000, 150_000, 100, "g/U")


def _sensitivity(check, segments):
    path = "sensitivity_mg_dl_per_u"
    schedule = _schedule(check, path, segments, 1, _isf, "[HH:MM, mg/dL per U]")
    if schedule is not None:
        for i, isf in enumerate(schedule.values):
            check.warn_outside(path, isf, 10, 500, "mg/dL/U", str,
                               "Loop 10-500, AndroidAPS 2-1000", i + 1)
    return schedule


def _isf(where, values):
    return int_in(where + " sensitivity", values[0], 1, 1_000, "mg/dL per U")


def _targets(check, segments):
    path = "target_mg_dl"
    schedule = _schedule(check, path, segments, 2, _target, "[HH:MM, low, high] in mg/dL")
    if schedule is not None:
        for i, (low, high) in enumerate(schedule.values):
            check.warn_outside(path, low, 87, 180, "mg/dL", str,
                               "Loop correction range 87-180", i + 1, " low")
            check.warn_outside(path, high, 87, 180, "mg/dL", str,
                               "Loop correction range 87-180", i + 1, " high")
    return schedule


def _target(where, values):
    low = int_in(where + " low", values[0], 70, 250, "mg/dL")
    high = int_in(where + " high", values[1], low, 250, "mg/dL (not below the low target)")
    return low, high


# ----- insulin, bolus, limits, reservoir, alarms -----------------------------------

_PRESET_NAMES = tuple(p[0] for p in insulin.PRESETS)


def _insulin(check, obj):
    if not check.keys("insulin", obj, ("type", "duration_h"), ("peak_min",)):
        return {}
    kind = _at(obj, "type")
    duration = check.take(_duration, _at(obj, "duration_h"))
    if kind is _MISSING:
        return {}
    if kind not in _PRESET_NAMES + ("custom",) or not isinstance(kind, str):
        check.problems.append(ConfigError("insulin.type", _short(kind), "one of " + ", ".join(
            _PRESET_NAMES + ("custom",))))
        return {}
    if kind == "custom":
        if "peak_min" not in obj:
            check.problems.append(ConfigError("insulin.peak_min", None, "%d to %d min for "
                                              "type custom" % (insulin.PEAK_MIN_MIN,
                                                               insulin.PEAK_MAX_MIN), "missing"))
            return {}
        peak = check.take(int_in, "insulin.peak_min", obj["peak_min"], insulin.PEAK_MIN_MIN,
                          insulin.PEAK_MAX_MIN, "min", 1, ConfigError)
    elif "peak_min" in obj:
        check.problems.append(ConfigError("insulin.peak_min", obj["peak_min"], "no peak_min: "
                                          "type %s peaks at %d min; use type custom to set it"
                                          % (kind, insulin.preset_peak(kind))))
        return {}
    else:
        peak = insulin.preset_peak(kind)
    return {"insulin_type": kind, "insulin_peak_min": peak, "insulin_duration_min": duration}


def _duration(value):
    milli = milli_in("insulin.duration_h", value, insulin.DURATION_MIN_MIN * 1000 // 60,
                     insulin.DURATION_MAX_MIN * 1000 // 60, 500, "h")
    return milli * MIN_PER_HOUR // 1000


def _bolus(check, obj):
    if not check.keys("bolus", obj, ("speed_u_per_min", "increment_u", "reverse_correction"),
                      ("min_glucose_mg_dl",)):
        return {}
    speed = check.take(milli_in, "bolus.speed_u_per_min", _at(obj, "speed_u_per_min"),
                       BOLUS_SPEED_MIN_MU_MIN, BOLUS_SPEED_MAX_MU_MIN, 100, "U/min")
    increment = check.take(_increment, _at(obj, "increment_u"))
    minimum = check.take(int_in, "bolus.min_glucose_mg_dl",
                         obj.get("min_glucose_mg_dl", DEFAULT_MIN_GLUCOSE), 60, 110, "mg/dL", 1,
                         ConfigError)
    check.warn_outside("bolus.min_glucose_mg_dl", minimum, 67, 110, "mg/dL", str,
                       "Loop suspend threshold 67-110")
    reverse = check.take(flag, "bolus.reverse_correction", _at(obj, "reverse_correction"),
                         ConfigError)
    return {"bolus_speed_mu_min": speed, "bolus_increment_mu": increment,
            "min_glucose_mg_dl": minimum, "reverse_correction": reverse}


def _increment(value):
    allowed = "one of " + ", ".join(fmt_milli(m) for m in BOLUS_INCREMENTS_MU) + " U"
    try:
        milli = milli_in("bolus.increment_u", value, BOLUS_STEP_MU, BOLUS_MAX_MU,
                         BOLUS_STEP_MU, "U")
    except InvalidValue:
        raise ConfigError("bolus.increment_u", value, allowed)
    if milli not in BOLUS_INCREMENTS_MU:
        raise ConfigError("bolus.increment_u", value, allowed)
    return milli


def _limits(check, obj, profiles):
    keys = ("max_bolus_u", "max_basal_u_h", "max_iob_u", "max_daily_u")
    if not check.keys("limits", obj, keys, ("max_bolus_60min_u",)):
        return None
    bolus = check.take(milli_in, "limits.max_bolus_u", _at(obj, "max_bolus_u"), 100,
                       BOLUS_MAX_MU, BOLUS_STEP_MU, "U")
    basal = check.take(milli_in, "limits.max_basal_u_h", _at(obj, "max_basal_u_h"), 50,
                       MAX_RATE_MU_H, 1, "U/h")
    iob = check.take(milli_in, "limits.max_iob_u", _at(obj, "max_iob_u"), 100, 100_000,
                     BOLUS_STEP_MU, "U")
    daily = check.take(milli_in, "limits.max_daily_u", _at(obj, "max_daily_u"), 1_000, 300_000,
                       100, "U")
    hourly = None
    if bolus is not None:
        hourly = check.take(_hourly, obj, bolus)
    check.warn_outside("limits.max_bolus_u", bolus, 0, 17_000, "U", fmt_milli,
                       "AndroidAPS adult hard limit 17 U")
    check.warn_outside("limits.max_basal_u_h", basal, 0, 10_000, "U/h", fmt_milli,
                       "AndroidAPS adult hard limit 10 U/h")
    check.warn_outside("limits.max_iob_u", iob, 0, 22_000, "U", fmt_milli,
                       "AndroidAPS adult hard limit 22 U")
    if iob is not None and bolus is not None and iob < bolus:
        check.warnings.append("limits.max_iob_u: %s U is below max_bolus_u (%s U): a full "
                              "bolus would be refused" % (fmt_milli(iob), fmt_milli(bolus)))
    if profiles is not None:
        _basal_within(check, profiles, obj, basal, daily)
    if None in (bolus, basal, iob, daily, hourly):
        return None
    return Limits(bolus, basal, iob, hourly, daily)


def _hourly(obj, bolus):
    if "max_bolus_60min_u" not in obj:
        return bolus * 3 // 2 // BOLUS_STEP_MU * BOLUS_STEP_MU  # default 1.5 x max bolus
    return milli_in("limits.max_bolus_60min_u", obj["max_bolus_60min_u"], bolus, 3 * bolus,
                    BOLUS_STEP_MU, "U")


def _basal_within(check, profiles, obj, max_basal, max_daily):
    """Every scheduled rate and day fits the limits: a schedule the gate refuses is wrong."""
    rate, rate_name = _highest(profiles, lambda p: max(p.rates_mu_h))
    total, total_name = _highest(profiles, lambda p: p.daily_total_mu())
    if max_basal is not None and rate > max_basal:
        check.problems.append(ConfigError("limits.max_basal_u_h", obj["max_basal_u_h"],
                                          "at least %s U/h, the highest rate of basal profile "
                                          "%s" % (fmt_milli(rate), rate_name)))
    elif max_basal is not None and rate and max_basal > 4 * rate:
        check.warnings.append("limits.max_basal_u_h: %s U/h is more than 4 x the highest "
                              "rate of profile %s (%s U/h; oref0 caps temp basals there)"
                              % (fmt_milli(max_basal), rate_name, fmt_milli(rate)))
    if max_daily is not None and total > max_daily:
        check.problems.append(ConfigError("limits.max_daily_u", obj["max_daily_u"],
                                          "at least %s U, the 24-hour total of basal "
                                          "profile %s" % (fmt_milli(total), total_name)))


def _highest(profiles, measure):
    """(the largest measure, the first profile name by name that has it)."""
    best, best_name = -1, None
    for name in sorted(profiles.profiles):
        value = measure(profiles.profiles[name])
        if value > best:
            best, best_name = value, name
    return best, best_name


def _reservoir(check, obj, board):
    if not check.keys("reservoir", obj, ("syringe", "fill_u", "prime_u")):
        return {}
    most = FILL_MAX_MU if board is None else board.syringe_capacity_mu
    where = "" if board is None else " (board %s syringe)" % board.name
    return {
        "syringe": check.take(text, "reservoir.syringe", _at(obj, "syringe"), 1, 16, ConfigError),
        "reservoir_fill_mu": check.take(milli_in, "reservoir.fill_u", _at(obj, "fill_u"),
                                        FILL_MIN_MU, most, FILL_STEP_MU, "U" + where),
        "prime_mu": check.take(milli_in, "reservoir.prime_u", _at(obj, "prime_u"), PRIME_STEP_MU,
                               PRIME_MAX_MU, PRIME_STEP_MU, "U"),
    }


def _alarms(check, obj, fill_mu):
    keys = ("reservoir_low_u", "auto_off_h", "site_change_days", "suspend_reminder_min",
            "glucose_check_min")
    if not check.keys("alarms", obj, keys):
        return None
    low = check.take(milli_in, "alarms.reservoir_low_u", _at(obj, "reservoir_low_u"), 10_000,
                     50_000, 1_000, "U")
    check.warn_outside("alarms.reservoir_low_u", low, 10_000, 40_000, "U", fmt_milli,
                       "Tandem t:slim X2 10-40")
    if low is not None and fill_mu is not None and low >= fill_mu:
        check.warnings.append("alarms.reservoir_low_u: %s U is not below reservoir.fill_u "
                              "(%s U): it sounds at once" % (fmt_milli(low), fmt_milli(fill_mu)))
    auto_off = check.take(_off_or, "alarms.auto_off_h", _at(obj, "auto_off_h"), 5, 24, "h")
    site = check.take(_site_change, _at(obj, "site_change_days"))
    suspend = check.take(_off_or, "alarms.suspend_reminder_min",
                         _at(obj, "suspend_reminder_min"), 15, 240, "min")
    glucose = check.take(_off_or, "alarms.glucose_check_min", _at(obj, "glucose_check_min"), 30,
                         480, "min")
    if None in (low, auto_off, site, suspend, glucose):
        return None
    return Alarms(low, auto_off * MIN_PER_HOUR, site, suspend, glucose)


def _off_or(path, value, lo, hi, unit):
    """0 (off) or a whole number lo..hi."""
    if is_int(value) and (value == 0 or lo <= value <= hi):
        return value
    raise ConfigError(path, value, "0 (off) or %d to %d %s (whole numbers)" % (lo, hi, unit))


def _site_change(value):
    """0 (off) or 2 to 3 days in half days -> minutes."""
    allowed = "0 (off) or 2 to 3 days in steps of 0.5"
    try:
        milli = milli_in("alarms.site_change_days", value, 0, 3_000, 500, "days")
    except InvalidValue:
        raise ConfigError("alarms.site_change_days", value, allowed)
    if milli and milli < 2_000:
        raise ConfigError("alarms.site_change_days", value, allowed)
    return milli * MIN_PER_DAY // 1000


# ----- the closed loop -----------------------------------------------------------------

_LOOP_KEYS = ("mode", "suspend_threshold_mg_dl", "auto_bolus", "auto_bolus_percent",
              "auto_bolus_max_min", "carb_absorption_min", "max_extra_3h_u", "max_extra_24h_u",
              "aim_offset_mg_dl")


def _loop(check, obj):
    """Optional section; every key optional (defaults: loop off, suspend at 80 mg/dL, no
    automatic boluses, 40 % of the need, at most 30 min of basal, carbs absorbed in 3 h;
    what the loop may add over scheduled basal in any 3 h and any 24 h: 6 and 24 hours
    of the active profile's highest rate; it aims at the middle of the target range)."""
    if not check.keys("loop", obj, (), _LOOP_KEYS):
        return None
    default = loop.LoopSettings()
    mode = check.take(one_of, "loop.mode", obj.get("mode", default.mode), loop.MODES,
                      ConfigError)
    suspend = check.take(int_in, "loop.suspend_threshold_mg_dl",
                         obj.get("suspend_threshold_mg_dl", default.suspend_mg_dl),
                         loop.SUSPEND_RANGE[0], loop.SUSPEND_RANGE[1], "mg/dL", 1, ConfigError)
    auto = check.take(flag, "loop.auto_bolus", obj.get("auto_bolus", default.auto_bolus),
                      ConfigError)
    percent = check.take(int_in, "loop.auto_bolus_percent",
                         obj.get("auto_bolus_percent", default.auto_bolus_percent),
                         loop.AUTO_BOLUS_PERCENT_RANGE[0], loop.AUTO_BOLUS_PERCENT_RANGE[1],
                         "% of the need", 1, ConfigError)
    most = check.take(int_in, "loop.auto_bolus_max_min",
                      obj.get("auto_bolus_max_min", default.auto_bolus_max_min),
                      loop.AUTO_BOLUS_MAX_MIN_RANGE[0], loop.AUTO_BOLUS_MAX_MIN_RANGE[1],
                      "min of scheduled basal", 1, ConfigError)
    absorption = check.take(int_in, "loop.carb_absorption_min",
                            obj.get("carb_absorption_min", default.absorption_min),
                            loop.ABSORPTION_RANGE[0], loop.ABSORPTION_RANGE[1], "min", 1,
                            ConfigError)
    aim = check.take(int_in, "loop.aim_offset_mg_dl",
                     obj.get("aim_offset_mg_dl", default.aim_offset_mg_dl),
                     loop.AIM_OFFSET_RANGE[0], loop.AIM_OFFSET_RANGE[1],
                     "mg/dL from the middle of the target range", 1, ConfigError)
    extra_3h = _extra(check, obj, "max_extra_3h_u", loop.EXTRA_3H_RANGE_MU)
    extra_24h = _extra(check, obj, "max_extra_24h_u", loop.EXTRA_24H_RANGE_MU)
    if _MISSING in (extra_3h, extra_24h):  # refused (their problems are listed)
        return None
    if extra_3h is not None and extra_24h is not None and extra_3h > extra_24h:
        check.problems.append(ConfigError("loop.max_extra_3h_u", obj["max_extra_3h_u"],
                                          "at most loop.max_extra_24h_u (%s U): 3 h are "
                                          "part of 24 h" % fmt_milli(extra_24h)))
        return None
    if None in (mode, suspend, auto, percent, most, absorption, aim):
        return None
    return loop.LoopSettings(mode, suspend, auto, percent, most, absorption, extra_3h,
                             extra_24h, aim)


def _extra(check, obj, key, limits):
    """What the loop may add over scheduled basal in a window, mU; None when the file
    does not say (the loop's default), _MISSING when refused."""
    if key not in obj:
        return None
    value = check.take(milli_in, "loop." + key, obj[key], limits[0], limits[1],
                       BOLUS_STEP_MU, "U over scheduled basal")
    return _MISSING if value is None else value


# ----- the CGM ------------------------------------------------------------------------


def _cgm(check, obj):
    """Optional section: {"enabled": true, "address": "aa:bb:cc:dd:ee:ff"} (address
    optional). Without it the pump runs no CGM client (glucose is typed)."""
    if not check.keys("cgm", obj, ("enabled",), ("address",)):
        return None
    enabled = check.take(flag, "cgm.enabled", obj.get("enabled", _MISSING), ConfigError)
    address = obj.get("address")
    if address is not None and not _is_address(address):
        check.problems.append(ConfigError("cgm.address", address, "a Bluetooth address "
                                          "like 'c0:ff:ee:12:34:56' (six hex pairs)"))
        return None
    if enabled is None:
        return None
    return CgmSettings(enabled, None if address is None else address.lower())


def _is_address(text):
    if not isinstance(text, str) or len(text) != 17:
        return False
    for i, ch in enumerate(text):
        if (ch != ":") if i % 3 == 2 else (ch not in "0123456789abcdefABCDEF"):
            return False
    return True


# key: (default, 0 allowed (off / never), lo, hi, unit). The urgent low (55 mg/dL) is
# not here: it cannot be changed or turned off.
_ALERT_KEYS = {
    "low_mg_dl": (70, True, 60, 100, "mg/dL"),
    "low_repeat_min": (15, True, 5, 240, "min"),
    "high_mg_dl": (250, True, 120, 400, "mg/dL"),
    "high_repeat_min": (60, True, 5, 240, "min"),
    "fall_mg_dl_min": (0, True, 2, 3, "mg/dL/min"),
    "rise_mg_dl_min": (0, True, 2, 3, "mg/dL/min"),
    "signal_loss_min": (15, False, 15, 120, "min"),
    "zero_basal_min": (120, False, 30, 240, "min"),
    "set_high_mg_dl": (250, False, 200, 400, "mg/dL"),
    "set_high_min": (120, False, 60, 240, "min"),
}


def _cgm_alerts(check, obj):
    """Optional section, every key optional (defaults in _ALERT_KEYS; urgent_low_soon
    true)."""
    if not check.keys("cgm_alerts", obj, (), tuple(_ALERT_KEYS) + ("urgent_low_soon",)):
        return None
    values = {}
    for key in sorted(_ALERT_KEYS):
        default, off, lo, hi, unit = _ALERT_KEYS[key]
        value = obj.get(key, default)
        path = "cgm_alerts." + key
        if off:
            values[key] = check.take(_off_or, path, value, lo, hi, unit)
        else:
            values[key] = check.take(int_in, path, value, lo, hi, unit, 1, ConfigError)
    values["urgent_low_soon"] = check.take(flag, "cgm_alerts.urgent_low_soon",
                                           obj.get("urgent_low_soon", True), ConfigError)
    for key in values:
        if values[key] is None:
            return None
    return AlertSettings(**values)


def _join(path, key):
    return path + "." + str(key) if path else str(key)


def _short(value):
    """A value short enough for a message (a whole table is not)."""
    if isinstance(value, (dict, list)):
        return "a %s of %d" % (type(value).__name__, len(value))
    return value
