"""The simulator's board: a BD 3 mL syringe on an M5 lead screw, fake hardware."""

BOARD = {
    "name": "sim",
    "mcu": "host",
    "motor": {
        "driver": "fake",
        "step": 2,
        "dir": 3,
        "enable": {"pin": 4, "invert": True},
        "max_step_hz": 4000,
    },
    # Bore area of a BD 3 mL syringe as used by the Poseidon pump (REFERENCE.md).
    "syringe": {"capacity_ml": 3.0, "bore_area_mm2": 57.89},
    "drive": {"lead_mm": 0.8, "full_steps_per_rev": 200, "microsteps": 16},
}
