"""The example settings file: written by `python -m tools.settings example`.

JSON has no comments; Basalt's settings loader accepts whole lines that start with //
(as VS Code's JSONC does), so the example explains itself line by line.
"""

EXAMPLE = """\
// Basalt therapy settings (benchtop prototype - never for a person).
// Check a file with: python -m tools.settings check FILE
// Lines starting with // are comments. Every key is required unless marked optional.
{
  // The format version this firmware reads.
  "version": 1,

  // Basal profiles: up to 6, each up to 48 segments ["HH:MM", U/h] on the half hour,
  // the first at 00:00; a segment runs until the next starts, the last until midnight.
  "basal": {
    "active": "Weekday",
    "profiles": {
      "Weekday": [["00:00", 0.8], ["03:00", 0.95], ["06:00", 1.2], ["09:00", 1.0],
                  ["12:00", 0.9], ["18:00", 1.1], ["22:00", 0.85]],
      "Weekend": [["00:00", 0.8], ["08:00", 1.0], ["22:00", 0.85]]
    }
  },

  // Grams of carbohydrate one unit covers, by time of day (1-150; 2-100 recommended).
  "carb_ratio_g_per_u": [["00:00", 10], ["11:00", 12], ["17:00", 9.5]],

  // How far one unit lowers glucose, mg/dL per U (1-1000; 10-500 recommended).
  "sensitivity_mg_dl_per_u": [["00:00", 50], ["06:00", 45]],

  // Target range ["HH:MM", low, high] in mg/dL (70-250; 87-180 recommended).
  // The calculator corrects down to high when above it, up to low when below it.
  "target_mg_dl": [["00:00", 100, 120], ["22:00", 110, 140]],

  // Insulin type: rapid_adult (peak 75 min), rapid_child (65), ultra_rapid (55),
  // or custom with "peak_min" (35-120). Duration of action 5-8 h in half hours.
  "insulin": {"type": "rapid_adult", "duration_h": 6},

  // Hard limits: a dose beyond any of them is refused.
  // max_bolus_u 0.1-25 U; max_basal_u_h 0.05-30 U/h (at least every scheduled rate);
  // max_iob_u 0.1-100 U; max_daily_u 1-300 U (at least each profile's 24 h total);
  // max_bolus_60min_u (optional) 1-3 x max_bolus_u, default 1.5 x max_bolus_u.
  "limits": {"max_bolus_u": 10, "max_basal_u_h": 3, "max_iob_u": 20,
             "max_bolus_60min_u": 15, "max_daily_u": 80},

  // Alarms and reminders; 0 turns a reminder off.
  // reservoir_low_u 10-50 U; auto_off_h 0 or 5-24 h without a button press;
  // site_change_days 0 or 2-3 (half days allowed); suspend_reminder_min 0 or 15-240;
  // glucose_check_min 0 or 30-480 (remind to check glucose when no CGM reading).
  "alarms": {"reservoir_low_u": 20, "auto_off_h": 12, "site_change_days": 3,
             "suspend_reminder_min": 30, "glucose_check_min": 120},

  // Bolus: speed 0.5-5 U/min in 0.1 steps; the calculator rounds down to increment_u
  // (0.01, 0.05, 0.1, 0.5 or 1 U); below min_glucose_mg_dl (optional, 60-110,
  // default 70) it suggests nothing; reverse_correction lets a glucose below the low
  // target reduce a meal bolus.
  "bolus": {"speed_u_per_min": 1.5, "increment_u": 0.05, "min_glucose_mg_dl": 70,
            "reverse_correction": false},

  // The syringe in use (a label), the usual fill (10 U up to the board's syringe)
  // and the tubing prime (0.1-30 U).
  "reservoir": {"syringe": "BD 3 mL", "fill_u": 200, "prime_u": 12},

  // Closed loop (optional section; every key optional). mode: off (pump therapy),
  // suspend_only (zero temp below, or predicted below, the threshold) or closed (temp
  // basals, and automatic boluses if on, to bring predicted glucose to the middle of
  // the target range). suspend_threshold_mg_dl 67-110 (default 80);
  // auto_bolus true/false (default false); auto_bolus_percent 10-80 % of the need
  // (default 40); auto_bolus_max_min 0-120: one automatic bolus is at most this many
  // minutes of scheduled basal (default 30); carb_absorption_min 60-360 (default 180);
  // max_extra_3h_u 0-50 and max_extra_24h_u 0-200: what the loop may add over scheduled
  // basal (temps above it, automatic boluses) in any 3 h / 24 h (default 6 h / 24 h of
  // the active profile's highest rate; the LOOP LIMIT alarm says when it binds);
  // aim_offset_mg_dl -15..15: the loop aims this far from the middle of the target
  // range, never outside it (default 0).
  "loop": {"mode": "off", "suspend_threshold_mg_dl": 80, "auto_bolus": false,
           "auto_bolus_percent": 40, "auto_bolus_max_min": 30, "carb_absorption_min": 180},

  // How screens show glucose (optional): "mg/dL" (default) or "mmol/L".
  "glucose_units": "mg/dL",

  // CGM alerts (optional section; every key optional). The urgent low at 55 mg/dL is
  // fixed and always on. low_mg_dl 0 (off) or 60-100 (default 70); high_mg_dl 0 or
  // 120-400 (250); each alerts again after its repeat while it lasts: low_repeat_min
  // (15) and high_repeat_min (60), 0 (never) or 5-240; fall_mg_dl_min and
  // rise_mg_dl_min 0 (off, the default), 2 or 3; urgent_low_soon true/false (true);
  // signal_loss_min 15-120 (15): CGM LOST after this long without a value;
  // zero_basal_min 30-240 (120): NO BASAL when basal has been zero this long with no
  // low reading; set_high_mg_dl 200-400 (250) and set_high_min 60-240 (120): CHECK
  // SITE when glucose stays above it this long after a correction.
  "cgm_alerts": {"low_mg_dl": 70, "low_repeat_min": 15, "high_mg_dl": 250,
                 "high_repeat_min": 60, "fall_mg_dl_min": 0, "rise_mg_dl_min": 0,
                 "urgent_low_soon": true, "signal_loss_min": 15, "zero_basal_min": 120,
                 "set_high_mg_dl": 250, "set_high_min": 120}
}
"""
