"""The alarms' banner texts: (title, hint) per code, two lines that fit the 16-character
lines of a 128-pixel OLED in the 8x8 font. Apart from basalt.core.alarms so the boot
holds none of them: imported when an alarm is first shown."""

TEXTS = {
    "occlusion": ("OCCLUSION", "Check tubing"),
    "reservoir_empty": ("RESERVOIR EMPTY", "New reservoir"),
    "delivery_fault": ("DELIVERY FAULT", "Motor stopped"),
    "sensor_fault": ("SENSOR FAULT", "Force sensor"),
    "auto_off": ("AUTO-OFF", "Pump stopped"),
    "daily_max": ("DAILY MAX", "Delivery stopped"),
    "battery_critical": ("BATTERY CRITICAL", "Charge now"),
    "infusion_set": ("CHECK SITE", "and ketones"),
    "reservoir_low": ("RESERVOIR LOW", "Refill soon"),
    "battery_low": ("BATTERY LOW", "Charge soon"),
    "cgm_lost": ("CGM LOST", "No glucose data"),
    "loop_limit": ("LOOP LIMIT", "Check BG and CGM"),
    "suspended_too_long": ("STILL SUSPENDED", "Resume delivery?"),
    "urgent_low": ("URGENT LOW", "Eat 15 g carbs"),
    "low": ("LOW GLUCOSE", "Eat 15 g carbs"),
    "urgent_low_soon": ("URGENT LOW SOON", "Eat carbs now"),
    "falling": ("FALLING FAST", "Check glucose"),
    "rising": ("RISING FAST", "Check glucose"),
    "high": ("HIGH GLUCOSE", "Check ketones"),
    "zero_basal": ("NO BASAL", "Check BG and CGM"),
    "recheck_bg": ("RECHECK GLUCOSE", "Enter a reading"),
    "site_change": ("SITE CHANGE", "Change the site"),
    "glucose_check": ("CHECK GLUCOSE", "Enter a reading"),
    "sick_check": ("SICK DAY CHECK", "Ketones + site"),
    "cgm_time": ("CGM TIME ERROR", "Reading ignored"),
}
