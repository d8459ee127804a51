"""The command table's declarations: every command the pump takes, its fields and
guards (basalt.core.commands explains them), and the texts of its refusals. Imported by
commands.table() for one build (or to build one refusal) and forgotten after, so none
of it stays in a running pump's heap."""

from basalt.core.clock import check_date
from basalt.core.commands import (
    ACK,
    ALARM,
    ALARMS_ACKED,
    CHOICE,
    CLOCK,
    DELIVERING,
    MILLI,
    NAME,
    SEGMENTS,
    STATE_KNOWN,
    SYRINGE,
    TABLE,
    WHOLE,
    Command,
    Field,
    in_units,
)
from basalt.core.errors import InvalidValue, NotAllowedNow
from basalt.core.limits import BOLUS_STEP_MU
from basalt.core.units import MS_PER_DAY, MS_PER_MIN, fmt_milli


def _dual_rule(values):
    """The now part: exactly one of now_units or now_percent, leaving at least 0.01 U for
    the extended part; a percent is rounded down to 0.01 U."""
    amount = values["units"]
    if values.get("now_units") is None:
        now_mu = amount * values["now_percent"] // 100 // BOLUS_STEP_MU * BOLUS_STEP_MU
        if now_mu < BOLUS_STEP_MU:
            raise InvalidValue("dual_bolus now_percent", values["now_percent"],
                               "a share of at least 0.01 U")
        values["now_units"] = now_mu
    elif values["now_units"] > amount - BOLUS_STEP_MU:
        raise InvalidValue("dual_bolus now_units", in_units(values["now_units"]),
                           "%s to %s U in steps of 0.01 U" % (
                               fmt_milli(BOLUS_STEP_MU), fmt_milli(amount - BOLUS_STEP_MU)))


def _clock_rule(values):
    """The day must exist in its month; the date becomes days since 1970."""
    values["days"] = check_date("set_clock", values["year"], values["month"], values["day"])


def table():
    """Every command, in order, built anew (basalt.core.commands.table() calls it)."""
    # Imported here, as locals: names only the table reads take no slot in the module.
    from basalt.core.activity import KINDS, MAX_MIN, MIN_MIN
    from basalt.core.clock import YEAR_MAX, YEAR_MIN
    from basalt.core.forcecal import KNOWN_MAX_MN, KNOWN_MIN_MN
    from basalt.core.limits import (
        BOLUS_MAX_MU,
        CARBS_MAX_G,
        EXTENDED_MAX_MIN,
        EXTENDED_MIN_MIN,
        FILL_MIN_MU,
        FILL_STEP_MU,
        GLUCOSE_MAX,
        GLUCOSE_MIN,
        MAX_RATE_MU_H,
        PRIME_MAX_MU,
        PRIME_STEP_MU,
        TEMP_MAX_MIN,
        TEMP_MAX_PERCENT,
        TEMP_MIN_MIN,
    )
    from basalt.core.loop_state import MODES, TEMP_MIN

    bolus_units = Field("units", MILLI, BOLUS_STEP_MU, BOLUS_MAX_MU, BOLUS_STEP_MU, "U")
    extended_minutes = Field("minutes", WHOLE, EXTENDED_MIN_MIN, EXTENDED_MAX_MIN, 1, "min")
    temp_minutes = Field("minutes", WHOLE, TEMP_MIN_MIN, TEMP_MAX_MIN, 1, "min")
    temp_rate = Field("rate", MILLI, 0, MAX_RATE_MU_H, 1, "U/h", optional=True)
    temp_percent = Field("percent", WHOLE, 0, TEMP_MAX_PERCENT, 1, "%", optional=True)
    profile_name = Field("name", NAME)
    carbs = Field("grams", WHOLE, 1, CARBS_MAX_G, 1, "g")
    alarm_code = Field("alarm", ALARM)
    time_of_day = Field("time", CLOCK, 0, MS_PER_DAY - MS_PER_MIN, MS_PER_MIN)
    # A calculator bolus carries the advice the user confirmed, for the history (a record
    # only: the safety gate checks the units as for any bolus).
    advice = (Field("carbs", WHOLE, 0, CARBS_MAX_G, 1, "g", optional=True),
              Field("meal", MILLI, 0, BOLUS_MAX_MU, 1, "U", optional=True),
              Field("correction", MILLI, -BOLUS_MAX_MU, BOLUS_MAX_MU, 1, "U", optional=True),
              Field("iob", MILLI, -4 * BOLUS_MAX_MU, 4 * BOLUS_MAX_MU, 1, "U", optional=True),
              Field("glucose", WHOLE, GLUCOSE_MIN, GLUCOSE_MAX, 1, "mg/dL", optional=True),
              Field("glucose_source", CHOICE, optional=True, choices=("cgm", "typed")),
              Field("carb_ratio", MILLI, 1, CARBS_MAX_G * 1000, 1, "g/U", optional=True),
              Field("sensitivity", WHOLE, 1, 1_000, 1, "mg/dL/U", optional=True),
              Field("target_low", WHOLE, GLUCOSE_MIN, GLUCOSE_MAX, 1, "mg/dL", optional=True),
              Field("target_high", WHOLE, GLUCOSE_MIN, GLUCOSE_MAX, 1, "mg/dL", optional=True),
              Field("suggested", MILLI, 0, BOLUS_MAX_MU, 1, "U", optional=True))

    dose = (ACK, DELIVERING)

    return (
        Command("bolus", (bolus_units,) + advice, "engine.bolus", dose),
        Command("extended_bolus", (bolus_units, extended_minutes), "engine.extended_bolus", dose),
        Command("dual_bolus", (
            Field("units", MILLI, 2 * BOLUS_STEP_MU, BOLUS_MAX_MU, BOLUS_STEP_MU, "U"),
            Field("now_units", MILLI, BOLUS_STEP_MU, BOLUS_MAX_MU, BOLUS_STEP_MU, "U",
                  optional=True),
            Field("now_percent", WHOLE, 1, 99, 1, "%", optional=True),
            extended_minutes), "engine.dual_bolus", dose,
            ("now_units", "now_percent", "dual_bolus now",
             "exactly one of now_units or now_percent"), rule=_dual_rule,
            args=("units", "now_units", "minutes"), label="dual-wave bolus"),
        Command("cancel_bolus", (), "engine.cancel_bolus"),
        Command("temp_basal", (temp_minutes, temp_rate, temp_percent), "engine.start_temp_basal",
                dose, ("rate", "percent", "temp_basal", "exactly one of rate (U/h) or percent")),
        Command("cancel_temp_basal", (), "engine.cancel_temp_basal"),
        Command("suspend", (), "engine.suspend"),
        Command("resume", (), "engine.resume", (ACK, STATE_KNOWN, ALARMS_ACKED)),
        Command("prime", (Field("units", MILLI, PRIME_STEP_MU, PRIME_MAX_MU, PRIME_STEP_MU,
                                "U"),), "engine.prime"),
        Command("new_reservoir", (Field("units", MILLI, FILL_MIN_MU, SYRINGE, FILL_STEP_MU,
                                        "U"),), "engine.new_reservoir"),
        Command("set_profile", (profile_name,
                                Field("segments", SEGMENTS, 0, MAX_RATE_MU_H, 1, "U/h")),
                "profiles.set_profile"),
        Command("activate_profile", (profile_name,), "profiles.activate_profile"),
        Command("delete_profile", (profile_name,), "profiles.delete_profile"),
        Command("rename_profile", (profile_name, Field("new_name", NAME)),
                "profiles.rename_profile"),
        Command("set_time", (time_of_day,), "engine.set_time_of_day"),
        # Allowed on the boot screen: it asks for the clock when the RTC lost it.
        Command("set_clock", (Field("year", WHOLE, YEAR_MIN, YEAR_MAX),
                              Field("month", WHOLE, 1, 12), Field("day", WHOLE, 1, 31),
                              time_of_day), "engine.set_clock", (),
                rule=_clock_rule, args=("days", "time")),
        Command("activity", (Field("mode", CHOICE, choices=KINDS),
                             Field("minutes", WHOLE, MIN_MIN, MAX_MIN, 1, "min")),
                "activity.start"),
        Command("end_activity", (), "activity.stop"),
        Command("acknowledge", (alarm_code,), "alarms.acknowledge", ()),
        Command("snooze", (alarm_code,), "alarms.snooze", ()),
        Command("loop_mode", (Field("mode", CHOICE, choices=MODES),), "loop.set_mode"),
        Command("carbs", (carbs, Field("source", CHOICE, optional=True,
                                       choices=("user", "calculator"))),
                "loop.carbs"),
        Command("glucose", (Field("mg_dl", WHOLE, GLUCOSE_MIN, GLUCOSE_MAX, 1, "mg/dL"),),
                "care.glucose"),
        Command("treat_low", (Field("grams", WHOLE, 5, 60, 1, "g"),), "care.treat_low"),
        Command("site_changed", (), "care.site_changed"),
        Command("boot_ack", (Field("time", CLOCK, optional=True),), "keeper.acknowledge_boot", ()),
        Command("reconcile_bolus", (Field("units", MILLI, 0, BOLUS_MAX_MU, 1, "U",
                                          optional=True),),
                "keeper.reconcile"),
        Command("save_settings", (Field("settings", TABLE),), "keeper.save_settings"),
        Command("reload_settings", (), "keeper.reload_settings"),
        Command("force_tare", (), "keeper.force_tare"),
        Command("force_scale", (Field("newtons", MILLI, KNOWN_MIN_MN, KNOWN_MAX_MN, 1, "N"),),
                "keeper.force_scale"),
        Command("cgm_pair", (Field("answer", CHOICE, choices=("yes", "no")),), "cgm.answer", ()),
        Command("cgm_forget", (), "cgm.forget"),
        # The loop's own actions: the same safety gate, never from outside the pump.
        Command("loop_temp", (Field("rate", MILLI, 0, MAX_RATE_MU_H, 1, "U/h"),
                              Field("minutes", WHOLE, TEMP_MIN, TEMP_MIN, 1, "min"),
                              Field("cause", CHOICE, optional=True,
                                    choices=("low_glucose_suspend",))),
                "engine.auto_temp_basal", (DELIVERING,), internal=True, label="temp basal"),
        Command("loop_bolus", (bolus_units,), "engine.auto_bolus", (DELIVERING,), internal=True),
        Command("loop_cancel_temp", (), "engine.auto_cancel_temp", (), internal=True),
    )


# (error, text) by the refusal numbers in basalt.core.commands; an InvalidValue's values
# are (field, value), a NotAllowedNow's (command, then what the text is formatted with).
_REFUSALS = (
    (InvalidValue, "a time of day 00:00 to 23:59 (ms on the minute)"),
    (InvalidValue, "a table of settings"),
    (InvalidValue, "a table such as {'cmd': 'bolus', 'units': 1.5}"),
    (NotAllowedNow, None),  # the command's part is missing: _MISSING says why
    (NotAllowedNow, "acknowledge the boot screen first"),
    (NotAllowedNow, "pump is stopped (%s)"),
)
_MISSING = {"loop": "no therapy settings are loaded", "keeper": "this pump keeps no journal",
            "cgm": "no CGM is configured"}


def refusal(code, values):
    error, text = _REFUSALS[code]
    if error is InvalidValue:
        return InvalidValue(values[0], values[1], text)
    if text is None:
        return NotAllowedNow(values[0], _MISSING.get(values[1], "this pump has no " + values[1]))
    return NotAllowedNow(values[0], text % values[1:])
