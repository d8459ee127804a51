"""One UVA/Padova virtual patient, stepped minute by minute (MicroPython and CPython).

The model is the one simglucose 0.2.11's T1DPatient integrates (Dalla Man et al. 2007,
with the 2014 simulator's patients; see docs/references.md): 13 states, stomach (solid,
liquid) and gut, plasma and tissue glucose, plasma and liver insulin, insulin action on
utilisation and production (with its two-stage delay), two subcutaneous insulin
compartments and subcutaneous glucose. Inputs are held for each minute, as simglucose
does; simglucose's adaptive dopri5 solves each minute almost exactly, and a fixed-step
classical Runge-Kutta of SUBSTEPS per minute matches it (tools.sim patient-compare).

Meals follow simglucose: grams announced go on a plate eaten at EAT_RATE g/min, and
the gastric emptying rate depends on the size of the meal being eaten.
"""

from math import tanh

from . import params

EAT_RATE = 5.0  # g/min, simglucose's T1DPatient.EAT_RATE
SUBSTEPS = 1  # Runge-Kutta steps per simulated minute
MAX_STEP_MIN = 10080  # a week per call
MIN_CARBS_G, MAX_CARBS_G = 0.001, 1000.0
MAX_INSULIN_U_MIN = 100.0  # beyond any pump (simglucose's deliver at most 30 U/min)


def names():
    """The 30 virtual patients' names."""
    return params.names()


class Patient:
    """Patient(name): .step(minutes, carbs_g, insulin_u_per_min); .glucose_mg_dl, .t_min."""

    def __init__(self, name):
        row = params.row(name)
        n = params.N_FIELDS
        self.name = name
        self._p = row[:n]
        self.x = list(row[n:n + params.N_STATES])
        self.carb_ratio_g_u = row[-2]
        self.isf_mg_dl_u = row[-1]
        bw, u2ss = row[0], row[n - 1]
        self.weight_kg = bw
        self.basal_u_h = u2ss * bw / 100  # steady-state basal: u2ss * BW / 6000 U/min
        self.t_min = 0
        self._plate_g = 0.0  # announced, not yet eaten
        self._last_eaten_g = 0.0  # eaten in the previous minute
        self._meal_start_mg = 0.0  # stomach content when this meal began
        self._meal_g = 0.0  # eaten of this meal so far

    @property
    def glucose_mg_dl(self):
        """Plasma glucose (Gp / Vg)."""
        return self.x[3] / self._p[1]

    @property
    def sc_glucose_mg_dl(self):
        """Subcutaneous glucose (what the CGM senses; simglucose's observation Gsub)."""
        return self.x[12] / self._p[1]

    def step(self, minutes=1, carbs_g=0.0, insulin_u_per_min=0.0):
        """Advance `minutes` minutes: carbs_g announced now, insulin at a constant rate."""
        if not 0 <= minutes <= MAX_STEP_MIN:
            raise ValueError("step: minutes %r is not 0-%d" % (minutes, MAX_STEP_MIN))
        # Below a milligram the gastric emptying terms overflow (5 / meal size).
        if not (carbs_g == 0 or MIN_CARBS_G <= carbs_g <= MAX_CARBS_G):
            raise ValueError("step: carbs_g %r is not 0 or %g-%g g" % (
                carbs_g, MIN_CARBS_G, MAX_CARBS_G))
        if not 0 <= insulin_u_per_min <= MAX_INSULIN_U_MIN:
            raise ValueError("step: insulin_u_per_min %r is not 0-%g U/min" % (
                insulin_u_per_min, MAX_INSULIN_U_MIN))
        self._plate_g += carbs_g
        # U/min -> pmol/kg/min
        insulin = insulin_u_per_min * 6000 / self._p[0]
        for _ in range(minutes):
            self._minute(self._eat(), insulin)

    def _eat(self):
        """Grams eaten this minute; tracks the meal as simglucose's T1DPatient.step."""
        eaten = min(EAT_RATE, self._plate_g) if self._plate_g > 0 else 0.0
        self._plate_g = max(0.0, self._plate_g - eaten)
        if eaten > 0 and self._last_eaten_g <= 0:
            self._meal_start_mg = self.x[0] + self.x[1]
            self._meal_g = 0.0
        if eaten > 0:
            self._meal_g += eaten
        self._last_eaten_g = eaten
        return eaten

    def _minute(self, eaten_g, insulin):
        p = self._p
        meal_mg = self._meal_start_mg + self._meal_g * 1000  # simglucose's Dbar
        if meal_mg > 0:
            b, d = p[6], p[7]
            gut = (5 / (2 * meal_mg * (1 - b)), b * meal_mg, 5 / (2 * meal_mg * d), d * meal_mg)
        else:
            gut = None
        u = (eaten_g * 1000, insulin, gut)
        h = 1.0 / SUBSTEPS
        x = self.x
        for _ in range(SUBSTEPS):
            x = _rk4(p, x, u, h)
        self.x = x
        self.t_min += 1


def _rk4(p, x, u, h):
    k1 = _deriv(p, x, u)
    k2 = _deriv(p, [a + 0.5 * h * b for a, b in zip(x, k1)], u)
    k3 = _deriv(p, [a + 0.5 * h * b for a, b in zip(x, k2)], u)
    k4 = _deriv(p, [a + h * b for a, b in zip(x, k3)], u)
    s = h / 6
    return [a + s * (b + 2 * (c + e) + g) for a, b, c, e, g in zip(x, k1, k2, k3, k4)]


def _deriv(p, x, u):
    """dx/dt of the 13 states, as simglucose's T1DPatient.model."""
    (_, _, Vi, kabs, kmax, kmin, _, _, f, kp1, kp2, kp3, Fsnc, ke1, ke2, k1, k2, Vm0, Vmx,
     Km0, m1, m2, m4, m30, p2u, Ib, ki, ka1, ka2, kd, ksc, _) = p
    bw = p[0]
    qsto1, qsto2, qgut, gp, gt, ip, xx, i1, idd, il, isc1, isc2, gs = x
    meal_mg, insulin, gut = u
    if gut is None:
        kgut = kmax
    else:
        aa, b_dbar, cc, d_dbar = gut
        qsto = qsto1 + qsto2
        kgut = kmin + (kmax - kmin) / 2 * (tanh(aa * (qsto - b_dbar))
                                           - tanh(cc * (qsto - d_dbar)) + 2)
    egp = kp1 - kp2 * gp - kp3 * idd
    if egp < 0:
        egp = 0.0
    renal = ke1 * (gp - ke2) if gp > ke2 else 0.0
    dgp = egp + f * kabs * qgut / bw - Fsnc - renal - k1 * gp + k2 * gt
    it = ip / Vi
    dgt = -(Vm0 + Vmx * xx) * gt / (Km0 + gt) + k1 * gp - k2 * gt
    dip = -(m2 + m4) * ip + m1 * il + ka1 * isc1 + ka2 * isc2
    dil = -(m1 + m30) * il + m2 * ip
    disc1 = insulin - (ka1 + kd) * isc1
    return [
        meal_mg - kmax * qsto1,
        kmax * qsto1 - kgut * qsto2,
        kgut * qsto2 - kabs * qgut,
        dgp if gp >= 0 else 0.0,
        dgt if gt >= 0 else 0.0,
        dip if ip >= 0 else 0.0,
        p2u * (it - Ib) - p2u * xx,
        -ki * (i1 - it),
        -ki * (idd - i1),
        dil if il >= 0 else 0.0,
        disc1 if isc1 >= 0 else 0.0,
        (kd * isc1 - ka2 * isc2) if isc2 >= 0 else 0.0,
        (ksc * gp - ksc * gs) if gs >= 0 else 0.0,
    ]
