"""UVA/Padova virtual patients (the open-source simglucose package), stepped minute by minute.

simglucose keeps each patient's parameters in a pandas Series, and its ODE right-hand
side reads them by attribute on every evaluation; that costs ~6 ms per simulated minute.
VirtualPatient hands the solver a plain namespace with the same values after the
Series has set up the initial state: the trajectory is identical (a test checks) and a
minute costs ~0.4 ms, which makes a 30-patient cohort a matter of seconds.

Pump settings per patient come from the same information simglucose's own basal-bolus
controller uses: the steady-state basal u2ss * BW / 6000 U/min from the patient's
parameters, carb ratio (g/U) and correction factor (mg/dL/U) from its Quest table.
"""

import logging
import types
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # pkg_resources deprecation, gym's numpy notes
    import numpy as np
    import pandas as pd
    from simglucose.controller.basal_bolus_ctrller import CONTROL_QUEST
    from simglucose.patient.t1dpatient import PATIENT_PARA_FILE, Action, T1DPatient
    from simglucose.sensor.cgm import CGMSensor

logging.getLogger("simglucose").setLevel(logging.WARNING)

GROUPS = ("adolescent", "adult", "child")
PATIENTS = tuple("%s#%03d" % (group, n) for group in GROUPS for n in range(1, 11))
SENSOR = "Dexcom"  # 3-minute samples, noise model from simglucose's sensor_params.csv


class PatientSettings:
    """What a clinician would program into the pump for this virtual patient."""

    def __init__(self, name, basal_u_h, carb_ratio_g_u, isf_mg_dl_u, weight_kg, tdi_u):
        self.name = name
        self.basal_u_h = basal_u_h
        self.carb_ratio_g_u = carb_ratio_g_u
        self.isf_mg_dl_u = isf_mg_dl_u
        self.weight_kg = weight_kg
        self.tdi_u = tdi_u


_tables = {}


def _table(path):
    if path not in _tables:
        _tables[path] = pd.read_csv(path)
    return _tables[path]


def _row(path, name):
    table = _table(path)
    rows = table[table.Name == name]
    if len(rows) != 1:
        raise ValueError("unknown virtual patient %r; known: %s" % (name, ", ".join(PATIENTS)))
    return rows.squeeze()


def settings_for(name):
    params = _row(PATIENT_PARA_FILE, name)
    quest = _row(CONTROL_QUEST, name)
    basal_u_min = float(params.u2ss) * float(params.BW) / 6000
    return PatientSettings(name, basal_u_min * 60, float(quest.CR), float(quest.CF),
                           float(params.BW), float(quest.TDI))


def group_of(name):
    return name.split("#")[0]


def model(t, x, action, params, last_Qsto, last_foodtaken):
    """The right-hand side of simglucose's T1DPatient.model (Dalla Man et al. 2007; the
    13 states of tools/vpatient/patient.py), term by term the same operations in the
    same order, on plain floats instead of numpy scalars (each numpy scalar operation
    costs a microsecond: this is a third of a cohort cell's time); np.tanh kept. The
    derivatives are the same numbers to the bit (host_tests/test_sim.py compares)."""
    x0, x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12 = x.tolist()
    p = params
    d = action.CHO * 1000  # g -> mg
    insulin = action.insulin * 6000 / p.BW  # U/min -> pmol/kg/min
    qsto = x0 + x1
    Dbar = last_Qsto + last_foodtaken * 1000  # mg
    if Dbar > 0:
        aa = 5 / (2 * Dbar * (1 - p.b))
        cc = 5 / (2 * Dbar * p.d)
        kgut = p.kmin + (p.kmax - p.kmin) / 2 * (
            np.tanh(aa * (qsto - p.b * Dbar)) - np.tanh(cc * (qsto - p.d * Dbar)) + 2)
    else:
        kgut = p.kmax
    Rat = p.f * p.kabs * x2 / p.BW
    EGPt = p.kp1 - p.kp2 * x3 - p.kp3 * x8
    Uiit = p.Fsnc
    Et = p.ke1 * (x3 - p.ke2) if x3 > p.ke2 else 0
    dx3 = max(EGPt, 0) + Rat - Uiit - Et - p.k1 * x3 + p.k2 * x4
    Vmt = p.Vm0 + p.Vmx * x6
    Uidt = Vmt * x4 / (p.Km0 + x4)
    dx4 = -Uidt + p.k1 * x3 - p.k2 * x4
    dx5 = -(p.m2 + p.m4) * x5 + p.m1 * x9 + p.ka1 * x10 + p.ka2 * x11
    It = x5 / p.Vi
    dx9 = -(p.m1 + p.m30) * x9 + p.m2 * x5
    dx10 = insulin - (p.ka1 + p.kd) * x10
    dx11 = p.kd * x10 - p.ka2 * x11
    dx12 = -p.ksc * x12 + p.ksc * x3
    return np.array((
        -p.kmax * x0 + d,
        p.kmax * x0 - x1 * kgut,
        kgut * x1 - p.kabs * x2,
        (x3 >= 0) * dx3,
        (x4 >= 0) * dx4,
        (x5 >= 0) * dx5,
        -p.p2u * x6 + p.p2u * (It - p.Ib),
        -p.ki * (x7 - It),
        -p.ki * (x8 - x7),
        (x9 >= 0) * dx9,
        (x10 >= 0) * dx10,
        (x11 >= 0) * dx11,
        (x12 >= 0) * dx12))


class VirtualPatient:
    """One patient and its CGM sensor. step() advances one minute."""

    def __init__(self, name, sensor_seed):
        row = _row(PATIENT_PARA_FILE, name)
        self.name = name
        self._patient = T1DPatient(row)
        # Same values, plain attributes: the solver's hot path stops going through pandas.
        self._patient._params = types.SimpleNamespace(**row.to_dict())
        self._patient._odesolver.f = model  # the same equations on plain floats
        self._sensor = CGMSensor.withName(SENSOR, seed=sensor_seed)
        # measure() reads its bounds by key at every sample: a dict, not the pandas row
        # (its noise generator keeps the row it was made with).
        self._sensor._params = self._sensor._params.to_dict()
        self.sample_min = int(self._sensor.sample_time)

    @property
    def minute(self):
        return int(round(self._patient.t))

    def glucose(self):
        """True (subcutaneous) glucose, mg/dL: what the outcome metrics use."""
        return float(self._patient.observation.Gsub)

    def plasma_glucose(self):
        """Plasma glucose, mg/dL (state Gp over the distribution volume Vg)."""
        return float(self._patient.state[3] / self._patient._params.Vg)

    def cgm(self):
        """The sensor's reading now (changes every sample_min minutes, held between)."""
        return float(self._sensor.measure(self._patient))

    def insulin_action(self):
        """The model's two insulin actions: on glucose uptake (Vmx) and on the liver's
        glucose production (kp3)."""
        params = self._patient._params
        return params.Vmx, params.kp3

    def set_insulin_action(self, base, factor):
        """Insulin works `factor` times as strongly as in `base` (insulin_action())."""
        params = self._patient._params
        params.Vmx, params.kp3 = base[0] * factor, base[1] * factor

    def step(self, insulin_u, carbs_g):
        """One minute with insulin_u units infused and carbs_g grams starting to be eaten."""
        if insulin_u < 0 or carbs_g < 0:
            raise ValueError("insulin and carbs cannot be negative")
        # The model takes insulin as U/min over its one-minute step.
        self._patient.step(Action(CHO=carbs_g, insulin=insulin_u))
