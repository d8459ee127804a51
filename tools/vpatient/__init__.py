"""A virtual patient for MicroPython: the UVA/Padova model of simglucose, and its CGM.

    from vpatient.patient import Patient   (in the VM: tools/vpatient is /lib/vpatient)
    p = Patient("adult#001"); p.step(1, 0, p.basal_u_h / 60); p.glucose_mg_dl

Pure Python with floats, no numpy: the same code runs under CPython as tools.vpatient.
"""
