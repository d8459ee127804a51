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
    # Bore area of a BD 3 mL syringe as used by the Poseidon pump (docs/references.md).
    "syringe": {"capacity_ml": 3.0, "bore_area_mm2": 57.89},
    "drive": {"lead_mm": 0.8, "full_steps_per_rev": 200, "microsteps": 16},
    # Simulated peripherals, numbered like the Pico W's.
    "display": {"i2c": 0, "sda": 20, "scl": 21, "address": 0x3C},
    "buttons": {
        "up": {"pin": 10, "invert": True, "pull": "up"},
        "down": {"pin": 11, "invert": True, "pull": "up"},
        "select": {"pin": 12, "invert": True, "pull": "up"},
        "back": {"pin": 13, "invert": True, "pull": "up"},
    },
    "force": {"kind": "hx711", "dout": 14, "sck": 15},
    "buzzer": {"pin": 16},
    "battery": {"adc": 28, "divider": 2.0, "full_mv": 4200, "low_mv": 3500,
                "critical_mv": 3300},
}
