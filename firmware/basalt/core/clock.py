"""The pump's calendar: whole days since 1970-01-01 and back, in local time.

The pump keeps the local time the user set (no time zone, no daylight saving: a pump
that jumped an hour by itself would move every basal segment). Days stay small ints
(2099 is day 47,481); seconds since 1970 only appear where an RTC needs them.
"""

from basalt.core.errors import InvalidValue

YEAR_MIN = 2024  # an RTC reading before this was never set (boards start at 2000/2021)
YEAR_MAX = 2099
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def month_days(year, month):
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 29 if month == 2 and leap else _DAYS[month - 1]


def days_from_civil(year, month, day):
    """Days since 1970-01-01 of a date (proleptic Gregorian; H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def civil_from_days(days):
    """(year, month, day) of a day number (the inverse of days_from_civil)."""
    days += 719_468
    era = days // 146_097
    doe = days - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def check_date(where, year, month, day):
    """Days since 1970 of a date the user gave, or InvalidValue naming the day's range."""
    most = month_days(year, month)
    if not 1 <= day <= most:
        raise InvalidValue(where + " day", day, "1 to %d (%04d-%02d has %d days)"
                           % (most, year, month, most))
    return days_from_civil(year, month, day)


def date_text(days):
    return "%04d-%02d-%02d" % civil_from_days(days)
