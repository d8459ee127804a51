"""Force-sensor calibration as plain data: a tare (offset) and a scale, checked strictly.

    {"tare_counts": -52311, "counts_per_n": 27850}
    force_mN = (raw - tare_counts) * 1000 / counts_per_n   (rounded toward -infinity)

The dict is what settings and the journal persist; load_force_calibration() checks one
read back (unknown keys, wrong types and out-of-range values are ConfigErrors naming
the key). counts_per_n may be negative: a load cell mounted the other way round.
The arithmetic never leaves small ints (|raw - tare| < 2**25, |counts_per_n| <= 10**6).

Procedures (the app or a bench tool collects the raw readings):
  tare(cal, readings)              plunger free, nothing pushing: the median becomes the
                                   zero; refused when the readings are unsteady.
  scale(cal, readings, known_mn)   a known force on the sensor (a weight: 100 g is about
                                   981 mN): counts per newton from the median.
"""

from basalt.core.check import exact_keys, int_in
from basalt.core.errors import ConfigError, InvalidValue

RAW_MIN = -(1 << 23)  # an HX711 conversion is 24-bit two's complement
RAW_MAX = (1 << 23) - 1
SCALE_MAX = 1_000_000  # counts per newton, either sign
SCALE_MIN = 1
SAMPLES_MIN = 5
SAMPLES_MAX = 200
KNOWN_MIN_MN = 100  # scale with at least ~10 g so the count is meaningful
KNOWN_MAX_MN = 100_000

# Nominal calibrations for an uncalibrated sensor (the detector works on force changes,
# so a nominal scale only shifts its thresholds by the scale error):
#   hx711  5 kg bar load cell, 1 mV/V at 3.3 V excitation, gain 128 (+-20 mV full scale
#          at 5 V AVDD per the HX711 datasheet): ~3.3 mV / 49 N over 2**23 counts / 20 mV.
#   fsr    the FSR driver's linearised conductance counts (see drivers/fsr.py).
# Keywords, not a dict display: the keys are then names (interned once, and every
# "tare_counts" below is that name) where each key string was a heap object.
NOMINAL = {
    "hx711": dict(tare_counts=0, counts_per_n=28_000),
    "fsr": dict(tare_counts=0, counts_per_n=400),
}


def load_force_calibration(obj, path="force_calibration"):
    """A checked copy of a calibration dict; ConfigError names the key and the range."""
    exact_keys(path, obj, ("tare_counts", "counts_per_n"))
    tare = int_in(path + ".tare_counts", obj["tare_counts"], RAW_MIN, RAW_MAX, "counts",
                  error=ConfigError)
    scale = obj["counts_per_n"]
    int_in(path + ".counts_per_n", scale, -SCALE_MAX, SCALE_MAX, "counts/N", error=ConfigError)
    if -SCALE_MIN < scale < SCALE_MIN:
        raise ConfigError(path + ".counts_per_n", scale, "%d to %d counts/N, not 0"
                          % (-SCALE_MAX, SCALE_MAX))
    return {"tare_counts": tare, "counts_per_n": scale}


def nominal(kind):
    return dict(NOMINAL[kind])


def counts_to_mn(cal, raw):
    """Millinewtons for a raw reading, in small ints (divmod keeps products < 2**30)."""
    scale = cal["counts_per_n"]
    diff = raw - cal["tare_counts"]
    if scale < 0:
        diff, scale = -diff, -scale
    whole, rest = divmod(diff, scale)
    return whole * 1000 + rest * 1000 // scale


def tare(cal, readings, max_spread=None):
    """A new calibration whose zero is the median of `readings` (plunger free).

    Refused (InvalidValue) when the readings spread over more than max_spread counts
    (default: 50 mN at the present scale): something is still moving or touching.
    """
    mid = _median("tare readings", readings)
    if max_spread is None:
        max_spread = max(1, abs(cal["counts_per_n"]) * 50 // 1000)
    spread = max(readings) - min(readings)
    if spread > max_spread:
        raise InvalidValue("tare readings", spread, "a spread of at most %d counts"
                           % max_spread, "unsteady: they spread over %d counts" % spread)
    return load_force_calibration({"tare_counts": mid, "counts_per_n": cal["counts_per_n"]})


def scale(cal, readings, known_mn):
    """A new calibration whose scale makes the median of `readings` read known_mn."""
    int_in("known force", known_mn, KNOWN_MIN_MN, KNOWN_MAX_MN, "mN")
    mid = _median("scale readings", readings)
    per_n = (mid - cal["tare_counts"]) * 1000 // known_mn
    if not SCALE_MIN <= abs(per_n) <= SCALE_MAX:
        raise InvalidValue("scale readings", mid, "readings that differ from the tare (%d) "
                           "by 1 to %d counts per newton" % (cal["tare_counts"], SCALE_MAX),
                           "%d counts/N: is the load on the sensor?" % per_n)
    return load_force_calibration({"tare_counts": cal["tare_counts"], "counts_per_n": per_n})


def _median(field, readings):
    if not isinstance(readings, (list, tuple)) or not SAMPLES_MIN <= len(readings) <= SAMPLES_MAX:
        raise InvalidValue(field, readings, "a list of %d to %d readings"
                           % (SAMPLES_MIN, SAMPLES_MAX))
    for value in readings:
        int_in(field, value, RAW_MIN, RAW_MAX, "counts")
    ordered = sorted(readings)
    return ordered[len(ordered) // 2]
