"""The validated board as the running pump keeps it (built by
basalt.core.board_file.load_board, whose checks and tables are needed only to boot)."""

from basalt.core.units import PL_PER_MU


class Pin:
    """A GPIO number with its wiring: invert means the active level is low."""

    def __init__(self, number, invert=False, pull=None, path=""):
        self.number = number
        self.invert = invert
        self.pull = pull
        self.path = path  # the board key it came from, for messages

    def level(self, active):
        """The electrical level (0/1) for a logical state."""
        return int(bool(active) != self.invert)


class Board:
    """A validated board: what the app and drivers need, in integers.

    display, buttons, force, buzzer and battery are Section objects, or None when the
    board has no such peripheral.
    """

    def __init__(self, name, mcu, motor, syringe_capacity_mu, ustep_volume_pl,
                 peripherals=None):
        self.name = name
        self.mcu = mcu
        self.motor = motor
        self.syringe_capacity_mu = syringe_capacity_mu
        self.ustep_volume_pl = ustep_volume_pl
        peripherals = peripherals or {}
        self.display = peripherals.get("display")
        self.buttons = peripherals.get("buttons")
        self.force = peripherals.get("force")
        self.buzzer = peripherals.get("buzzer")
        self.battery = peripherals.get("battery")

    def usteps_for_mu(self, milliunits):
        """Whole microsteps in an amount of insulin (rounded down)."""
        return milliunits * PL_PER_MU // self.ustep_volume_pl

    def mu_for_usteps(self, usteps):
        """Milliunits in a number of microsteps (rounded down)."""
        return usteps * self.ustep_volume_pl // PL_PER_MU


class MotorConfig:
    """microstep_levels and min_pulse_us come from the driver's table (DRIVERS)."""

    def __init__(self, driver, step, direction, enable, microsteps, microstep_pins, max_step_hz,
                 microstep_levels, min_pulse_us):
        self.driver = driver
        self.step = step
        self.direction = direction
        self.enable = enable
        self.microsteps = microsteps
        self.microstep_pins = microstep_pins
        self.microstep_levels = microstep_levels
        self.min_pulse_us = min_pulse_us
        self.max_step_hz = max_step_hz


class Section:
    """A validated peripheral section: its values as attributes (pins are Pin objects)."""

    def __init__(self, values):
        for key in values:
            setattr(self, key, values[key])

    def pins(self):
        """Every Pin of the section, sorted by key for stable order."""
        return [getattr(self, k) for k in sorted(self.__dict__)
                if isinstance(getattr(self, k), Pin)]
