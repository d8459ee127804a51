"""The CGM sensor of simglucose 0.2.11 (Dexcom parameters), seeded and deterministic.

Noise model (Breton and Kovatchev 2008, as simglucose implements it; see
docs/references.md): every 15 minutes an AR(1) Gaussian e = PACF * (e + n), n standard
normal, mapped through a Johnson SU transform xi + lambda * sinh((e - gamma) / delta);
the 15-minute values are joined by a not-a-knot cubic spline (scipy's interp1d 'cubic')
ten at a time, and read every sample (3 min). The reading is subcutaneous glucose plus
noise, clipped to 39-600 mg/dL, held between samples.

The normal draws are numpy's legacy RandomState(seed).randn (MT19937 seeded with
init_genrand, polar Box-Muller), written here, so a seed gives simglucose's readings.
"""

from math import log, sinh, sqrt

# Dexcom row of simglucose's params/sensor_params.csv
PACF, GAMMA, LAMBDA, DELTA, XI = 0.7, -0.5444, 15.9574, 1.6898, -5.47
SAMPLE_MIN = 3
LOW, HIGH = 39.0, 600.0
_MODEL_MIN = 15  # the noise model's own sample time
_BATCH = 10  # 15-minute values per spline segment (simglucose's PRECOMPUTE)
_M32 = 0xFFFFFFFF


class Mt19937:
    """The Mersenne Twister as numpy's legacy RandomState seeds and reads it."""

    def __init__(self, seed):
        mt = [seed & _M32]
        for i in range(1, 624):
            prev = mt[-1]
            mt.append((1812433253 * (prev ^ (prev >> 30)) + i) & _M32)
        self._mt = mt
        self._i = 624
        self._gauss = None

    def _twist(self):
        mt = self._mt
        for i in range(624):
            y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7FFFFFFF)
            v = mt[(i + 397) % 624] ^ (y >> 1)
            mt[i] = v ^ 0x9908B0DF if y & 1 else v
        self._i = 0

    def int32(self):
        if self._i >= 624:
            self._twist()
        y = self._mt[self._i]
        self._i += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        return y ^ (y >> 18)

    def uniform(self):
        """A double in [0, 1) from 53 random bits (numpy's random_sample)."""
        a, b = self.int32() >> 5, self.int32() >> 6
        return (a * 67108864.0 + b) / 9007199254740992.0

    def normal(self):
        """A standard normal draw (numpy's legacy_gauss: polar method, pairs cached)."""
        if self._gauss is not None:
            g, self._gauss = self._gauss, None
            return g
        while True:
            x1 = 2.0 * self.uniform() - 1.0
            x2 = 2.0 * self.uniform() - 1.0
            r2 = x1 * x1 + x2 * x2
            if 0.0 < r2 < 1.0:
                break
        f = sqrt(-2.0 * log(r2) / r2)
        self._gauss = f * x1
        return f * x2


class CGM:
    """CGM(seed): .measure(patient) reads patient.sc_glucose_mg_dl at patient.t_min."""

    sample_min = SAMPLE_MIN

    def __init__(self, seed=1):
        self._rng = Mt19937(seed)
        self._e = None
        self._last = self._noise15()
        self._queue = []
        self.reading = 0.0

    def measure(self, patient):
        """A new reading at each sample time (every 3 min), else the last one held."""
        if patient.t_min % SAMPLE_MIN == 0:
            value = patient.sc_glucose_mg_dl + self._next_noise()
            self.reading = min(max(value, LOW), HIGH)
        return self.reading

    def _noise15(self):
        n = self._rng.normal()
        self._e = n if self._e is None else PACF * (self._e + n)
        return XI + LAMBDA * sinh((self._e - GAMMA) / DELTA)

    def _next_noise(self):
        if not self._queue:
            knots = [self._last] + [self._noise15() for _ in range(_BATCH)]
            self._last = knots[-1]
            per = _MODEL_MIN // SAMPLE_MIN
            values = _not_a_knot(knots, per)
            values.reverse()
            values.pop()  # the first point is the previous batch's last
            self._queue = values
        return self._queue.pop()


def _not_a_knot(y, per):
    """Cubic spline through y at unit spacing, not-a-knot ends, read `per` times a unit.

    Solves for the second derivatives m: m[i-1] + 4 m[i] + m[i+1] = 6 (y[i-1] - 2 y[i]
    + y[i+1]) inside, and m[0] - 2 m[1] + m[2] = 0 at each end (third derivative
    continuous across the first and last interior knots)."""
    n = len(y)
    rows = [[0.0] * n + [0.0] for _ in range(n)]
    rows[0][0:3] = [1.0, -2.0, 1.0]
    rows[-1][n - 3:n] = [1.0, -2.0, 1.0]
    for i in range(1, n - 1):
        rows[i][i - 1:i + 2] = [1.0, 4.0, 1.0]
        rows[i][n] = 6.0 * (y[i - 1] - 2.0 * y[i] + y[i + 1])
    m = _solve(rows)
    out = []
    for i in range(n - 1):
        for j in range(per if i < n - 2 else per + 1):
            t = j / per
            s = 1.0 - t
            out.append(s * y[i] + t * y[i + 1]
                       + ((s * s * s - s) * m[i] + (t * t * t - t) * m[i + 1]) / 6.0)
    return out


def _solve(rows):
    """Gaussian elimination with partial pivoting on an augmented matrix (small n)."""
    n = len(rows)
    for c in range(n):
        pivot = max(range(c, n), key=lambda r: abs(rows[r][c]))
        rows[c], rows[pivot] = rows[pivot], rows[c]
        for r in range(c + 1, n):
            k = rows[r][c] / rows[c][c]
            if k:
                rows[r] = [a - k * b for a, b in zip(rows[r], rows[c])]
    m = [0.0] * n
    for c in range(n - 1, -1, -1):
        m[c] = (rows[c][n] - sum(rows[c][j] * m[j] for j in range(c + 1, n))) / rows[c][c]
    return m
