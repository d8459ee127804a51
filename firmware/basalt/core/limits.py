"""The pump's hard maxima and the ranges commands accept: one module, one value each.

Amounts in mU (0.001 U of U-100 insulin), rates in mU/h, durations in minutes. The
settings file's limits (max bolus, max basal, ...) are the user's and may only be
tighter; the safety gate enforces those. These are what the pump itself never exceeds.
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):
        return value


BOLUS_STEP_MU = const(10)  # 0.01 U: the finest bolus a user can program
BOLUS_MAX_MU = const(25_000)  # one bolus, whatever the settings say
BOLUS_SPEED_MIN_MU_MIN = const(500)
BOLUS_SPEED_MAX_MU_MIN = const(5_000)
EXTENDED_MIN_MIN = const(15)
EXTENDED_MAX_MIN = const(480)

MAX_RATE_MU_H = const(30_000)  # 30 U/h: any basal rate, scheduled or temp
TEMP_MIN_MIN = const(15)
TEMP_MAX_MIN = const(4_320)  # 72 h, as the t:slim X2 (docs/references.md)
TEMP_MAX_PERCENT = const(250)
MAX_PROFILES = const(6)

PRIME_STEP_MU = const(100)
PRIME_MAX_MU = const(30_000)
PRIME_SPEED_MU_MIN = const(10_000)  # 10 U/min: tubing is filled while disconnected
FILL_MIN_MU = const(10_000)
FILL_STEP_MU = const(100)
FILL_MAX_MU = const(6_000_000)  # a 60 mL syringe; the board's syringe may hold less

# One carbs maximum for the calculator, the loop's carb record and the carbs screen:
# 300 g, what the carbs screen always offered; a bigger meal is entered in two parts.
CARBS_MAX_G = const(300)
GLUCOSE_MIN = const(20)  # mg/dL a meter or CGM reports at all
GLUCOSE_MAX = const(600)
