"""The bolus calculator (wizard): a suggestion and its breakdown, never a delivery.

    meal        = carbs / carb ratio
    correction  = (glucose - high target) / sensitivity   above the high target
                  (glucose - low target) / sensitivity    below the low target, only with
                                                          reverse correction on (else 0)
    bolus IOB is taken from the correction first, then from the meal (never below 0);
    the rest is rounded down to the bolus increment and capped at max bolus and at what
    max IOB leaves room for, with the reason shown. Below the minimum glucose nothing is
    suggested. Integers only: mU, mg/dL, mg of carbohydrate per U.

While the closed loop is in control (looping=True) the suggestion covers the meal and
leaves highs to the loop: no correction above the high target (the loop corrects with
temp basals it stops as soon as glucose falls faster than it expects; a correction
bolus cannot be taken back), and all insulin on board counts, the loop's extra basal
included (net IOB when it is above bolus IOB). A low still reduces the meal bolus when
reverse correction is on. On the 30 virtual patients this halves the children's time
below 70 mg/dL (README, "Closing the loop").

suggest() returns plain data for the screen. The user may edit the amount and must
confirm it: confirm() turns the confirmed amount into an ordinary bolus command, which
goes through the same checks as any other. The calculator itself delivers nothing.
"""

from basalt.core.check import int_in, is_int
from basalt.core.errors import InvalidValue, NotAllowedNow
from basalt.core.limits import BOLUS_STEP_MU, CARBS_MAX_G, GLUCOSE_MAX, GLUCOSE_MIN
from basalt.core.units import MS_PER_DAY, MS_PER_MIN, fmt_milli, milli_in

CGM_FRESH_MS = 15 * MS_PER_MIN  # Loop refuses older glucose ("glucoseTooOld")


class GlucoseTooOld(NotAllowedNow):
    """The CGM reading is too old to use as the current glucose."""

    def __init__(self, age_ms):
        self.age_ms = age_ms
        NotAllowedNow.__init__(self, "bolus calculator", "the CGM reading is %d min old (fresh "
                               "is at most %d min); type a glucose value instead" % (
                                   age_ms // MS_PER_MIN, CGM_FRESH_MS // MS_PER_MIN))


class DeliveryUncertain(NotAllowedNow):
    """A bolus's delivered amount is unknown (e.g. a reset mid-bolus): no suggestion until
    it is reconciled, or insulin could be given twice."""

    def __init__(self, detail):
        self.detail = detail
        NotAllowedNow.__init__(self, "bolus calculator", "%s has no confirmed delivered "
                               "amount; enter what was delivered first" % _describe(detail))


def suggest(settings, iob, now_ms, day_ms, carbs_g, glucose_mg_dl=None, cgm=None,
            uncertain_bolus=None, looping=False):
    """A bolus suggestion with its breakdown (a dict of ints, strings, None and a list).

    carbs_g: grams (whole numbers, 0-400). Glucose: typed glucose_mg_dl, or cgm as
    (mg/dL, reading time in now_ms's clock), or neither (no correction). uncertain_bolus:
    None, or what is known of a bolus whose delivered amount is unconfirmed (refused).
    iob: an object with bolus_iob_mu(now_ms) and iob_mu(now_ms). looping: the closed loop
    is in control (see above).
    """
    if uncertain_bolus is not None:
        raise DeliveryUncertain(uncertain_bolus)
    int_in("time of day", day_ms, 0, MS_PER_DAY - 1, "ms")
    carbs = milli_in("carbs", carbs_g, 0, CARBS_MAX_G * 1000, 1000, "g") // 1000
    glucose, source = _glucose(now_ms, glucose_mg_dl, cgm)
    low, high = settings.targets.value_at(day_ms)
    out = {
        "carbs_g": carbs, "glucose_mg_dl": glucose, "glucose_source": source,
        "carb_ratio_mg_per_u": settings.carb_ratio.value_at(day_ms),
        "sensitivity_mg_dl_per_u": settings.sensitivity.value_at(day_ms),
        "target_low_mg_dl": low, "target_high_mg_dl": high,
        "bolus_iob_mu": iob.bolus_iob_mu(now_ms), "net_iob_mu": iob.iob_mu(now_ms),
        "increment_mu": settings.bolus_increment_mu,
        "max_bolus_mu": settings.limits.max_bolus_mu, "capped_by": None, "reasons": [],
        "looping": bool(looping),
    }
    if glucose is not None and glucose < settings.min_glucose_mg_dl:
        return _too_low(out, settings.min_glucose_mg_dl)
    _parts(out, settings.reverse_correction)
    _round_and_cap(out, settings.limits)
    return out


def confirm(breakdown, units):
    """The user's confirmed amount (edited or not) as a bolus command for the pump."""
    amount = milli_in("confirmed bolus", units, BOLUS_STEP_MU, breakdown["max_bolus_mu"],
                      BOLUS_STEP_MU, "U")
    return {"cmd": "bolus", "units": fmt_milli(amount)}


def _glucose(now_ms, typed, cgm):
    if typed is not None and cgm is not None:
        raise InvalidValue("glucose", "typed and CGM", "one of a typed value or a CGM reading")
    if typed is not None:
        return _in_range("glucose", typed), "typed"
    if cgm is None:
        return None, None
    if not isinstance(cgm, (list, tuple)) or len(cgm) != 2:
        raise InvalidValue("cgm", cgm, "a pair (mg/dL, reading time in ms)")
    value = _in_range("cgm glucose", cgm[0])
    # A reading from before this boot has a negative time on this boot's clock: still a
    # time, and its age decides. Only a reading from the future is nonsense.
    at_ms = cgm[1]
    if not is_int(at_ms) or at_ms > now_ms:
        raise InvalidValue("cgm reading time", at_ms, "at most %d ms (not in the future)"
                           % now_ms)
    age = now_ms - at_ms
    if age > CGM_FRESH_MS:
        raise GlucoseTooOld(age)
    return value, "cgm"


def _in_range(field, value):
    return milli_in(field, value, GLUCOSE_MIN * 1000, GLUCOSE_MAX * 1000, 1000,
                    "mg/dL") // 1000


def _too_low(out, minimum):
    out.update({"meal_mu": 0, "correction_mu": 0, "iob_from_correction_mu": 0,
                "iob_from_meal_mu": 0, "calculated_mu": 0, "suggested_mu": 0})
    out["reasons"].append("glucose %d mg/dL is below %d mg/dL: no insulin suggested; treat "
                          "the low first" % (out["glucose_mg_dl"], minimum))
    return out


def _parts(out, reverse):
    """Meal and correction parts, then bolus IOB taken from the correction, then the meal."""
    meal = out["carbs_g"] * 1_000_000 // out["carb_ratio_mg_per_u"]
    correction = _correction(out, reverse)
    iob, source = max(0, out["bolus_iob_mu"]), "from boluses"
    if out["looping"] and out["net_iob_mu"] > iob:
        iob, source = out["net_iob_mu"], "in all (closed loop: its extra basal counts)"
    from_correction = min(iob, max(0, correction))
    from_meal = min(iob - from_correction, meal)
    out.update({"meal_mu": meal, "correction_mu": correction,
                "iob_from_correction_mu": from_correction, "iob_from_meal_mu": from_meal,
                "calculated_mu": max(0, meal - from_meal + correction - from_correction)})
    if iob:
        out["reasons"].append("%s U on board %s: %s U taken from the correction, %s U from "
                              "the meal" % (fmt_milli(iob), source, fmt_milli(from_correction),
                                            fmt_milli(from_meal)))


def _correction(out, reverse):
    glucose = out["glucose_mg_dl"]
    isf = out["sensitivity_mg_dl_per_u"]
    if glucose is None:
        out["reasons"].append("no glucose value: no correction")
        return 0
    if glucose > out["target_high_mg_dl"]:
        if out["looping"]:
            out["reasons"].append("closed loop: the loop corrects %d mg/dL with temp basals; "
                                  "no correction bolus" % glucose)
            return 0
        return (glucose - out["target_high_mg_dl"]) * 1000 // isf
    if glucose < out["target_low_mg_dl"]:
        if not reverse:
            out["reasons"].append("glucose below the target range: reverse correction is off")
            return 0
        return -((out["target_low_mg_dl"] - glucose) * 1000 // isf)
    return 0


def _round_and_cap(out, limits):
    increment = out["increment_mu"]
    amount = out["calculated_mu"] // increment * increment
    if amount > limits.max_bolus_mu:
        out["capped_by"] = "max_bolus"
        out["reasons"].append("capped at the max bolus of %s U (calculated %s U)" % (
            fmt_milli(limits.max_bolus_mu), fmt_milli(amount)))
        amount = limits.max_bolus_mu // increment * increment
    room = limits.max_iob_mu - out["net_iob_mu"]
    if amount > room:
        out["capped_by"] = "max_iob"
        room = max(0, room) // increment * increment
        out["reasons"].append("capped at %s U: %s U on board and the max IOB is %s U" % (
            fmt_milli(room), fmt_milli(out["net_iob_mu"]), fmt_milli(limits.max_iob_mu)))
        amount = room
    out["suggested_mu"] = amount


def _describe(detail):
    if isinstance(detail, dict) and "programmed_mu" in detail:
        return "the last bolus (%s U programmed)" % fmt_milli(detail["programmed_mu"])
    return "the last bolus"
