"""The virtual board (`make vboard`): MicroPython in WebAssembly with a simulated machine.

Wired like the Pico W (same GPIO numbers, same syringe and drive), so what runs here runs
on a Pico. The STEP pulses come from the virtual board's step generator
(basalt.drivers.stepper_virtual), timed by the VM's clock instead of PIO.
"""

BOARD = {
    "name": "vboard",
    "mcu": "vboard",
    "motor": {
        "driver": "tmc2209",
        "step": 2,
        "dir": 3,
        "enable": {"pin": 6, "invert": True},
        "microstep_pins": [7, 8],  # MS1, MS2
        "max_step_hz": 4000,
    },
    # Bore area of a BD 3 mL syringe as used by the Poseidon pump (docs/references.md).
    "syringe": {"capacity_ml": 3.0, "bore_area_mm2": 57.89},
    "drive": {"lead_mm": 0.8, "full_steps_per_rev": 200, "microsteps": 16},
    "display": {"i2c": 0, "sda": 4, "scl": 5, "address": 0x3C},
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
