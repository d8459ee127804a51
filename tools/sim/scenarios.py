"""The scenario library: tools/sim/scenarios/NAME.json, for cohort --scenario and trial.

A scenario says what the user does and what happens to the patient and the sensor,
every simulated day (times are HH:MM of the day):

    description       one line
    meals             daily meals "HH:MM=GRAMS,..." (default cohort.MEALS)
    announce          "all", "none" or the fraction of meals the user announces
    carb_error_pct    the user's carb count is off by up to +/- this (uniform)
    bolus_delay_min   the user announces and boluses this long after eating
    missed_meals      ["HH:MM"]: meals eaten with no announcement and no bolus
    sensitivity       [{"at", "hours", "factor", "activity"}]: insulin works `factor`
                      times as strongly for the hours. Imposed on the UVA/Padova model
                      by scaling both of its insulin actions, on glucose uptake (Vmx)
                      and on the liver's glucose production (kp3). With "activity"
                      (exercise, sick) the user sets the pump's activity mode for those
                      hours at the start, as a real user would (oref0: a temp target).
    cgm_dropouts      [{"at", "minutes"}]: no reading reaches the pump
    cgm_noise         [{"at", "minutes", "sd_mg_dl"}]: extra Gaussian sensor noise
    site_failure      {"at", "hours", "to_percent", "changed_after_h"}: on the first day
                      the site absorbs less and less, falling linearly to to_percent
                      of the insulin over the hours; the user changes the site
                      changed_after_h hours after it began to fail
Unknown keys and bad values are refused with the key, the value and the range.
"""

import json
import os
import random

from tools.sim import cohort

FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios")
KEYS = ("description", "meals", "announce", "carb_error_pct", "bolus_delay_min",
        "missed_meals", "sensitivity", "cgm_dropouts", "cgm_noise", "site_failure")
ACTIVITIES = ("exercise", "sick")


def names():
    return sorted(f[:-5] for f in os.listdir(FOLDER) if f.endswith(".json"))


def load(name):
    """The checked scenario NAME (a file of the library, or a path to a .json file)."""
    path = name if name.endswith(".json") else os.path.join(FOLDER, name + ".json")
    if not os.path.isfile(path):
        raise ValueError("--scenario: unknown %r; known: %s" % (name, ", ".join(names())))
    with open(path) as handle:
        try:
            raw = json.load(handle)
        except ValueError as error:
            raise ValueError("%s: not JSON: %s" % (path, error))
    return check(os.path.basename(path)[:-5], raw)


def _fail(where, value, allowed):
    raise ValueError("scenario %s: %r is not allowed; allowed: %s" % (where, value, allowed))


def _number(where, value, low, high):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not low <= value <= high:
        _fail(where, value, "a number %g to %g" % (low, high))
    return value


def _clock(where, value):
    try:
        return cohort.parse_meals("%s=1" % value)[0][0]
    except (ValueError, TypeError, IndexError):
        _fail(where, value, "a time HH:MM")


def _items(name, where, value, fields):
    """A list of tables with exactly `fields` (name: (low, high) or "clock"/"activity")."""
    if not isinstance(value, list):
        _fail(where, value, "a list")
    out = []
    for i, item in enumerate(value):
        at = "%s.%s[%d]" % (name, where, i)
        required = {k for k, kind in fields.items() if kind != "activity"}
        if not isinstance(item, dict) or not required <= set(item) <= set(fields):
            _fail(at, item, "a table with keys " + ", ".join(fields))
        row = {}
        for key, kind in fields.items():
            if key not in item:
                row[key] = None
            elif kind == "clock":
                row[key] = _clock(at + "." + key, item[key])
            elif kind == "activity":
                if item[key] not in ACTIVITIES:
                    _fail(at + "." + key, item[key], " or ".join(ACTIVITIES))
                row[key] = item[key]
            else:
                row[key] = _number(at + "." + key, item[key], *kind)
        out.append(row)
    return out


def check(name, raw):
    if not isinstance(raw, dict) or "description" not in raw:
        _fail(name, raw, "a table with a description")
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        _fail(name + "." + unknown[0], raw[unknown[0]], "keys " + ", ".join(KEYS))
    scenario = {"name": name, "description": str(raw["description"])}
    scenario["meals"] = cohort.parse_meals(raw.get("meals", cohort.MEALS))
    scenario["announce"] = cohort.parse_announce(str(raw.get("announce", "all")))
    scenario["carb_error_pct"] = _number(name + ".carb_error_pct",
                                         raw.get("carb_error_pct", 0), 0, 100)
    scenario["bolus_delay_min"] = int(_number(name + ".bolus_delay_min",
                                              raw.get("bolus_delay_min", 0), 0, 120))
    missed = raw.get("missed_meals", [])
    if not isinstance(missed, list):
        _fail(name + ".missed_meals", missed, "a list of HH:MM")
    scenario["missed_meals"] = [_clock(name + ".missed_meals", m) for m in missed]
    meal_minutes = [m for m, _ in scenario["meals"]]
    for minute in scenario["missed_meals"]:
        if minute not in meal_minutes:
            _fail(name + ".missed_meals", "%d:%02d" % divmod(minute, 60), "a meal's time")
    scenario["sensitivity"] = _items(name, "sensitivity", raw.get("sensitivity", []), {
        "at": "clock", "hours": (0.5, 24), "factor": (0.2, 5), "activity": "activity"})
    scenario["cgm_dropouts"] = _items(name, "cgm_dropouts", raw.get("cgm_dropouts", []),
                                      {"at": "clock", "minutes": (1, 720)})
    scenario["cgm_noise"] = _items(name, "cgm_noise", raw.get("cgm_noise", []), {
        "at": "clock", "minutes": (1, 720), "sd_mg_dl": (0, 100)})
    site = raw.get("site_failure")
    scenario["site_failure"] = None if site is None else _items(
        name, "site_failure", [site], {"at": "clock", "hours": (0.5, 24),
                                       "to_percent": (0, 100),
                                       "changed_after_h": (0.5, 48)})[0]
    return scenario


def plain(meals=cohort.MEALS, announce=1.0, carb_error_pct=0.0):
    """A scenario of meals only (cohort's --meals/--announce/--carb-error)."""
    return {"name": "custom", "description": "meals only", "meals": meals,
            "announce": announce, "carb_error_pct": carb_error_pct, "bolus_delay_min": 0,
            "missed_meals": [], "sensitivity": [], "cgm_dropouts": [], "cgm_noise": [],
            "site_failure": None}


# ----- the scenario over a run ------------------------------------------------------------


def _windows(rows, days, length):
    """[(start, end, row)] in run minutes, each row every day."""
    return [(day * 1440 + row["at"], day * 1440 + row["at"] + length(row), row)
            for day in range(days) for row in rows]


class World:
    """A scenario laid over `days` for one patient and seed: meals, the user's actions,
    and what happens to the patient's insulin and the sensor, minute by minute."""

    def __init__(self, scenario, days, rng, noise_rng):
        self.scenario = scenario
        self.plan = self._plan(scenario, days, rng)
        self.sensitivity = _windows(scenario["sensitivity"], days,
                                    lambda r: int(r["hours"] * 60))
        self.dropouts = _windows(scenario["cgm_dropouts"], days, lambda r: int(r["minutes"]))
        self.noise = _windows(scenario["cgm_noise"], days, lambda r: int(r["minutes"]))
        self.actions = {}
        for start, end, row in self.sensitivity:
            if row["activity"]:
                self.actions.setdefault(start, []).append((row["activity"], end - start))
        self._noise_rng = noise_rng

    @staticmethod
    def _plan(scenario, days, rng):
        """{minute: (grams eaten, grams announced or None)}; a late announcement is an
        entry of its own (0 g eaten). Draws in the same order as cohort.meal_plan."""
        delay = scenario["bolus_delay_min"]
        plan = {}
        drawn = cohort.meal_plan(scenario["meals"], days, scenario["announce"],
                                 scenario["carb_error_pct"], rng)
        for minute, (grams, announced) in sorted(drawn.items()):
            if minute % 1440 in scenario["missed_meals"]:
                announced = None
            eaten_before = plan.get(minute, (0.0, None))
            plan[minute] = (grams + eaten_before[0], eaten_before[1] if delay else announced)
            if delay and announced is not None:
                at = minute + delay
                eaten, _ = plan.get(at, (0.0, None))
                plan[at] = (eaten, announced)
        return plan

    def insulin_factor(self, minute):
        factor = 1.0
        for start, end, row in self.sensitivity:
            if start <= minute < end:
                factor *= row["factor"]
        return factor

    def absorbed(self, minute):
        """The fraction of the insulin delivered this minute that the site absorbs."""
        site = self.scenario["site_failure"]
        if site is None:
            return 1.0
        start, hours = site["at"], site["hours"]
        changed = start + site["changed_after_h"] * 60
        if minute < start or minute >= changed:
            return 1.0
        done = min(1.0, (minute - start) / (hours * 60))
        return 1.0 - done * (1.0 - site["to_percent"] / 100.0)

    def cgm(self, minute, value):
        """What reaches the pump: None in a dropout, extra noise in a burst."""
        for start, end, _ in self.dropouts:
            if start <= minute < end:
                return None
        for start, end, row in self.noise:
            if start <= minute < end:
                value = min(400.0, max(39.0, value + self._noise_rng.gauss(0, row["sd_mg_dl"])))
        return value


def world(scenario, days, seed, name):
    return World(scenario, days, random.Random("%d:%s" % (seed, name)),
                 random.Random("noise:%d:%s" % (seed, name)))
