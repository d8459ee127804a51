"""What the UI task fills in seldom, loaded for it and dropped after (ui_task._rare):
the settings screen's lines (at boot and after a settings save), the bolus
calculator's advice (when the user asks for it), and the recent history where no
journal keeps it (a host)."""

from basalt.core.limits import BOLUS_MAX_MU
from basalt.core.units import MIN_PER_DAY, MS_PER_MIN, fmt_milli

try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(value):
        return value

_HISTORY_LINES = const(20)


def advise(app, carbs_g):
    """The calculator screens' advice: the app's bolus calculator with the newest CGM
    reading fit for dosing (else no correction), as (total, parts, notes, the advice as
    the bolus command's fields)."""
    now = app.clock.now_ms()
    cgm = None
    readings = app.cgm
    if readings is not None:
        reading = readings.latest_for_dosing(now)[0]
        if reading is not None:
            cgm = (reading.glucose_milli // 1000, reading.at_ms)
    typed = None if cgm is not None else app.care.typed_for_dosing(now)
    out = app.suggest_bolus(carbs_g, typed, cgm)  # locked by the app after a reset
    iob = out.get("iob_from_correction_mu", 0) + out.get("iob_from_meal_mu", 0)
    parts = [("meal", out.get("meal_mu", 0)), ("correct", out.get("correction_mu", 0)),
             ("IOB", -iob)]
    notes = list(out["reasons"])
    if out["glucose_mg_dl"] is None:
        notes.insert(0, "no glucose: no correction")
    else:
        notes.insert(0, "bg %d mg/dL %s" % (out["glucose_mg_dl"], out["glucose_source"]))
    # The advice goes with the bolus command, for the history's reason.
    record = {"carbs": carbs_g, "meal": out.get("meal_mu", 0),
              "correction": out.get("correction_mu", 0), "iob": iob,
              "glucose": out["glucose_mg_dl"], "glucose_source": out["glucose_source"],
              "carb_ratio": out["carb_ratio_mg_per_u"],
              "sensitivity": out["sensitivity_mg_dl_per_u"],
              "target_low": out["target_low_mg_dl"],
              "target_high": out["target_high_mg_dl"], "suggested": out["suggested_mu"]}
    return out["suggested_mu"], parts, notes, record


def settings_lines(app, settings):
    engine = app.engine
    board = engine.board
    lines = ["board " + board.name,
             "syringe %s U" % fmt_milli(board.syringe_capacity_mu // 1000 * 1000),
             "bolus %s U/min" % fmt_milli(engine.bolus_speed_mu_min)]
    client = app.cgm_client
    if client is not None:  # a board that cannot pair says so where settings are read
        lines.append("CGM unauth link" if not client.can_pair else "CGM pairs, bonds")
    if settings is None:
        lines += ["max bolus %s U" % fmt_milli(BOLUS_MAX_MU), "(no settings file)"]
        return tuple(lines)
    limits = settings.limits
    lines += ["max bolus %s U" % fmt_milli(limits.max_bolus_mu),
              "max basal %s U/h" % fmt_milli(limits.max_basal_mu_h),
              "max IOB %s U" % fmt_milli(limits.max_iob_mu),
              "max 1h %s U" % fmt_milli(limits.max_bolus_60min_mu),
              "max day %s U" % fmt_milli(limits.max_daily_mu),
              "step %s U" % fmt_milli(settings.bolus_increment_mu),
              "low res %s U" % fmt_milli(settings.alarms.reservoir_low_mu)]
    return tuple(lines)


def fill_history(app, view, now_ms, day_ms):
    """The recent events as history lines: where no journal holds the history."""
    from basalt.core.ui.history import history_line  # no journal only: a host

    _add_reading_line(app.cgm, view, now_ms)
    recent = app.recent
    seen = recent.seen
    if seen == view.history_seen:
        return
    lines = []
    for kind, detail in reversed(recent.events):
        line = history_line(kind, detail, now_ms, day_ms)
        if line is not None:
            lines.append(line)
    lines = lines[:_HISTORY_LINES]
    if view.readings:
        lines.append("-- CGM --")
        lines += view.readings
    view.history = tuple(lines)
    view.history_seen = seen


def _add_reading_line(readings, view, now_ms):
    """A new CGM reading into the recent history's list of readings."""
    reading = readings.latest_reading(now_ms) if readings is not None else None
    if reading is None or reading.glucose_milli is None or \
            reading.offset == view.reading_offset:
        return
    from basalt.core.readings import ARROW_TEXT  # loaded with the CGM

    view.reading_offset = reading.offset
    minute = ((view.clock_min or 0) - reading.age_ms // MS_PER_MIN) % MIN_PER_DAY
    line = "%02d:%02d bg %d %s" % (minute // 60, minute % 60, reading.glucose_milli // 1000,
                                   ARROW_TEXT.get(reading.arrow, ""))
    view.readings = ((line,) + view.readings)[:_HISTORY_LINES]
    view.history_seen = -1  # rebuild the history lines
