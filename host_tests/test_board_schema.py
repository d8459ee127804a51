"""Board files are checked strictly at load and give the exact volume of one microstep.

Volume of one microstep (pL) = bore area (mm2) x lead (mm) / (full steps x microsteps)
x 1e6, rounded half up. U-100: 1 U = 10 uL = 1e7 pL, 1 mU = 1e4 pL.
"""

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basalt.core.board_file import load_board
from basalt.core.errors import ConfigError, InvalidValue
from tools import boardfiles


def _sim_spec():
    return boardfiles.board_spec("sim")  # a fresh dict each time


SIM = _sim_spec()


def board(**changes):
    """A copy of the sim board with changes at dotted key paths (None deletes the key)."""
    spec = copy.deepcopy(SIM)
    for path, value in changes.items():
        keys = path.split("__")
        node = spec
        for key in keys[:-1]:
            node = node[key]
        if value is None:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return spec




# ----- the sim board ------------------------------------------------------------------


def test_sim_board_bd_3ml_on_m5_lead_at_1_16():
    spec_before = copy.deepcopy(SIM)
    b = load_board(SIM)
    assert SIM == spec_before  # load_board does not touch the spec
    # 57.89 mm2 x 0.8 mm / 3200 = 14.4725 um3 = 14,472.5 pL, rounded half up.
    assert b.ustep_volume_pl == 14_473
    assert b.syringe_capacity_mu == 300_000  # 3 mL of U-100 = 300 U
    # docs/references.md: about 691 microsteps per unit (1e7 / 14473 = 690.94).
    assert b.usteps_for_mu(1000) == 690
    assert b.usteps_for_mu(100_000) == 69_094
    assert b.mu_for_usteps(691) == 1000
    assert b.name == "sim" and b.mcu == "host"
    motor = b.motor
    assert (motor.driver, motor.microsteps, motor.max_step_hz) == ("fake", 16, 4000)
    assert (motor.step.number, motor.direction.number, motor.enable.number) == (2, 3, 4)
    assert motor.enable.invert and not motor.step.invert
    assert (motor.enable.level(True), motor.enable.level(False)) == (0, 1)
    assert (motor.step.level(True), motor.step.level(False)) == (1, 0)
    assert motor.microstep_pins == [] and motor.microstep_levels == ()


# ----- microstep volumes --------------------------------------------------------------

# Poseidon bore areas (docs/references.md), 0.8 mm lead, 200 full steps x 16 = 0.25 um/microstep.
POSEIDON = [
    # (id, capacity mL, area mm2, expected pL, capacity mU, whole microsteps per unit)
    ("1mL-17.34mm2", 1, 17.34, 4_335, 100_000, 2_306),  # 17,340 x 0.25
    ("3mL-57.89mm2", 3, 57.89, 14_473, 300_000, 690),  # 14,472.5 rounds up
    ("10mL-163.5mm2", 10, 163.5, 40_875, 1_000_000, 244),  # 163,500 x 0.25
    ("60mL-554.0mm2", 60, 554.0, 138_500, 6_000_000, 72),  # 554,000 x 0.25
]


@pytest.mark.parametrize("capacity, area, volume, capacity_mu, per_unit",
                         [p[1:] for p in POSEIDON], ids=[p[0] for p in POSEIDON])
def test_poseidon_syringes(capacity, area, volume, capacity_mu, per_unit):
    b = load_board(board(syringe={"capacity_ml": capacity, "bore_area_mm2": area}))
    assert b.ustep_volume_pl == volume and type(b.ustep_volume_pl) is int
    assert b.syringe_capacity_mu == capacity_mu and type(b.syringe_capacity_mu) is int
    assert b.usteps_for_mu(1000) == per_unit


DRIVES = [
    # (id, driver, area mm2, lead mm, full steps, microsteps, expected pL)
    # 57,890 x 2,000 / 1,600 = 72,362.5 -> 72,363 (half up)
    ("3mL-Tr8x2-200x8-a4988", "a4988", 57.89, 2, 200, 8, 72_363),
    # 554,000 x 8,000 / 6,400 = 692,500
    ("60mL-T8-200x32-drv8825", "drv8825", 554.0, 8, 200, 32, 692_500),
    # 17,340 x 500 / 25,600 = 338.67 -> 339
    ("1mL-0.5mm-400x64-tmc2209", "tmc2209", 17.34, 0.5, 400, 64, 339),
    # 163,500 x 800 / 200 = 654,000
    ("10mL-0.8mm-200x1-drv8825", "drv8825", 163.5, 0.8, 200, 1, 654_000),
]


@pytest.mark.parametrize("driver, area, lead, full, micro, volume", [d[1:] for d in DRIVES],
                         ids=[d[0] for d in DRIVES])
def test_drive_mechanics(driver, area, lead, full, micro, volume):
    spec = board(syringe={"capacity_ml": 3, "bore_area_mm2": area},
                 drive={"lead_mm": lead, "full_steps_per_rev": full, "microsteps": micro})
    spec["motor"]["driver"] = driver
    assert load_board(spec).ustep_volume_pl == volume


DIAMETERS = [
    # area = pi d^2 / 4, kept to 0.001 mm2, then x 0.25 um per microstep
    ("10mm", 10, 19_635),  # 78.540 mm2 -> 78,540 x 0.25 = 19,635
    ("4.7mm", 4.7, 4_337),  # 17.349 mm2 -> 4,337.25
    ("8.585mm-BD-3mL", 8.585, 14_472),  # 57.886 mm2 -> 14,471.5 rounds up
]


@pytest.mark.parametrize("diameter, volume", [d[1:] for d in DIAMETERS],
                         ids=[d[0] for d in DIAMETERS])
def test_bore_diameter_instead_of_area(diameter, volume):
    b = load_board(board(syringe={"capacity_ml": 3, "bore_diameter_mm": diameter}))
    assert b.ustep_volume_pl == volume and type(b.ustep_volume_pl) is int


@pytest.mark.parametrize("volume", [10, 14_500, 1_000_000])
def test_calibration_overrides_the_computed_volume(volume):
    b = load_board(board(calibration={"ustep_volume_pl": volume}))
    assert b.ustep_volume_pl == volume
    assert b.usteps_for_mu(1000) == 10_000_000 // volume


@pytest.mark.parametrize("driver, micro, pins, levels", [
    ("a4988", 16, [17, 18, 19], (1, 1, 1)),
    ("a4988", 2, [17, 18, 19], (1, 0, 0)),
    ("drv8825", 32, [17, 18, 19], (1, 0, 1)),
    ("tmc2209", 32, [17, 18], (1, 0)),
    ("tmc2209", 64, [], (0, 1)),
], ids=["a4988-16", "a4988-2", "drv8825-32", "tmc2209-32", "tmc2209-64-hard-wired"])
def test_microstep_pin_levels(driver, micro, pins, levels):
    spec = board(mcu="rp2040", drive__microsteps=micro)
    spec["motor"].update(driver=driver, microstep_pins=pins)
    motor = load_board(spec).motor
    assert motor.microstep_levels == levels
    assert [p.number for p in motor.microstep_pins] == pins


@pytest.mark.parametrize("name", ["sim", "pico_w", "esp32_devkitc"])
def test_boards_declare_every_peripheral(name):
    loaded = boardfiles.load(name)
    assert loaded.display.address == 0x3C and loaded.display.width == 128
    assert sorted(loaded.buttons.__dict__) == ["back", "down", "select", "up"]
    assert all(pin.invert and pin.pull == "up" for pin in loaded.buttons.pins())
    assert loaded.force.kind == "hx711"
    assert loaded.battery.divider_milli == 2000
    assert (loaded.battery.critical_mv, loaded.battery.low_mv) == (3300, 3500)


def test_board_without_peripherals_has_none():
    spec = {k: v for k, v in SIM.items()
            if k not in ("display", "buttons", "force", "buzzer", "battery")}
    loaded = load_board(spec)
    assert (loaded.display, loaded.buttons, loaded.force, loaded.buzzer,
            loaded.battery) == (None,) * 5


def test_fsr_force_sensor_and_three_buttons():
    loaded = load_board(board(mcu="rp2040", force={"kind": "fsr", "adc": 26},
                              buttons__back=None))
    assert loaded.force.kind == "fsr" and loaded.force.adc.number == 26
    assert [p.path for p in loaded.buttons.pins()] == ["buttons.down", "buttons.select",
                                                      "buttons.up"]


# ----- refusals: each names the key path ----------------------------------------------


class Problem(str):
    """A structural problem, shown as '<path>: <problem>; allowed: ...' instead of a value."""


UNKNOWN = Problem("unknown key")
MISSING = Problem("missing")

ESP = {"mcu": "esp32"}
REFUSED = [
    # (id, spec, key path, value text, allowed)
    ("unknown-top-level-key", board(colour="red"), "colour", UNKNOWN,
     "keys battery, buttons, buzzer, calibration, display, drive, force, mcu, motor, name, "
     "psram, syringe"),
    ("psram-not-a-flag", board(psram="yes"), "psram", "'yes'", "true or false"),
    ("unknown-motor-key", board(motor__speed=1), "motor.speed", UNKNOWN,
     "keys dir, driver, enable, max_step_hz, microstep_pins, step"),
    ("unknown-syringe-key", board(syringe__brand="BD"), "syringe.brand", UNKNOWN,
     "keys bore_area_mm2, bore_diameter_mm, capacity_ml"),
    ("unknown-drive-key", board(drive__pitch_mm=0.8), "drive.pitch_mm", UNKNOWN,
     "keys full_steps_per_rev, lead_mm, microsteps"),
    ("unknown-pin-key", board(motor__enable__active_low=True), "motor.enable.active_low",
     UNKNOWN, "keys invert, pin, pull"),
    ("unknown-calibration-key", board(calibration={"gain": 1}), "calibration.gain",
     UNKNOWN, "keys ustep_volume_pl"),
    ("missing-name", board(name=None), "name", MISSING, "a value is required"),
    ("missing-drive", board(drive=None), "drive", MISSING, "a value is required"),
    ("missing-lead", board(drive__lead_mm=None), "drive.lead_mm", MISSING,
     "a value is required"),
    ("missing-step-pin", board(motor__step=None), "motor.step", MISSING,
     "a value is required"),
    ("missing-pin-number", board(motor__enable={"invert": True}), "motor.enable.pin",
     MISSING, "a value is required"),
    ("missing-capacity", board(syringe__capacity_ml=None), "syringe.capacity_ml",
     MISSING, "a value is required"),
    ("missing-calibration-volume", board(calibration={}), "calibration.ustep_volume_pl",
     MISSING, "a value is required"),
    ("not-a-table", [], "(top)", Problem("a list where a table of keys belongs"),
     "a table of keys"),
    ("motor-not-a-table", board(motor=[2, 3, 4]), "motor",
     Problem("a list where a table of keys belongs"), "a table of keys"),
    ("area-and-diameter",
     board(syringe={"capacity_ml": 3, "bore_area_mm2": 57.89, "bore_diameter_mm": 8.585}),
     "syringe", Problem("both given"), "exactly one of bore_area_mm2 or bore_diameter_mm"),
    ("neither-area-nor-diameter", board(syringe={"capacity_ml": 3}), "syringe",
     Problem("neither given"), "exactly one of bore_area_mm2 or bore_diameter_mm"),
    ("a4988-64-microsteps", board(drive__microsteps=64, motor__driver="a4988"),
     "drive.microsteps", "64", "for a4988: 1, 2, 4, 8, 16"),
    ("a4988-32-microsteps", board(drive__microsteps=32, motor__driver="a4988"),
     "drive.microsteps", "32", "for a4988: 1, 2, 4, 8, 16"),
    ("tmc2209-4-microsteps", board(drive__microsteps=4, motor__driver="tmc2209"),
     "drive.microsteps", "4", "for tmc2209: 8, 16, 32, 64"),
    ("microsteps-3", board(drive__microsteps=3), "drive.microsteps", "3",
     "one of 1, 2, 4, 8, 16, 32, 64"),
    ("microsteps-float-16.0", board(drive__microsteps=16.0), "drive.microsteps", "16.0",
     "one of 1, 2, 4, 8, 16, 32, 64"),
    ("full-steps-float-200.0", board(drive__full_steps_per_rev=200.0),
     "drive.full_steps_per_rev", "200.0", "one of 200, 400"),
    ("mcu-bytes", board(mcu=b"host"), "mcu", "b'host'",
     "one of esp32, host, raspberry_pi, rp2040, vboard"),
    ("full-steps-300", board(drive__full_steps_per_rev=300), "drive.full_steps_per_rev",
     "300", "one of 200, 400"),
    ("unknown-driver", board(motor__driver="tmc2208"), "motor.driver", "'tmc2208'",
     "one of a4988, drv8825, fake, tmc2209"),
    ("unknown-mcu", board(mcu="esp8266"), "mcu", "'esp8266'",
     "one of esp32, host, raspberry_pi, rp2040, vboard"),
    ("duplicate-gpio-dir-is-step", board(motor__dir=2), "motor.dir",
     Problem("GPIO 2 is already used by motor.step"), "a GPIO no other key uses"),
    ("duplicate-gpio-microstep-is-enable", board(motor__microstep_pins=[5, 4, 6],
                                                 motor__driver="a4988"),
     "motor.microstep_pins[1]", Problem("GPIO 4 is already used by motor.enable"),
     "a GPIO no other key uses"),
    ("duplicate-gpio-within-microstep-pins", board(motor__microstep_pins=[5, 6, 5],
                                                   motor__driver="a4988"),
     "motor.microstep_pins[2]", Problem("GPIO 5 is already used by motor.microstep_pins[0]"),
     "a GPIO no other key uses"),
    ("esp32-flash-pin-6-as-step", board(motor__step=6, **ESP), "motor.step", "6",
     "a usable output GPIO of the esp32"),
    ("esp32-input-only-34-as-dir", board(motor__dir=34, **ESP), "motor.dir", "34",
     "a usable output GPIO of the esp32"),
    ("esp32-input-only-35-as-enable", board(motor__dir=5, motor__enable={"pin": 35}, **ESP),
     "motor.enable.pin", "35", "a usable output GPIO of the esp32"),
    ("esp32-flash-pin-in-microstep-pins",
     board(motor__dir=5, motor__microstep_pins=[12, 13, 11], motor__driver="a4988",
           **ESP),
     "motor.microstep_pins[2]", "11", "a usable output GPIO of the esp32"),
    ("rp2040-gpio-29", board(motor__step=29, mcu="rp2040"), "motor.step", "29",
     "a usable output GPIO of the rp2040"),
    ("pin-bool", board(motor__step=True), "motor.step", "True", "a usable output GPIO"),
    ("pin-float", board(motor__step=2.0), "motor.step", "2.0", "a usable output GPIO"),
    ("pin-text", board(motor__step="GP2"), "motor.step", "'GP2'", "a usable output GPIO"),
    ("lead-bool", board(drive__lead_mm=True), "drive.lead_mm", "True", "0.1 to 20 mm"),
    ("capacity-bool", board(syringe__capacity_ml=True), "syringe.capacity_ml", "True",
     "0.5 to 60 mL"),
    ("max-step-hz-bool", board(motor__max_step_hz=True), "motor.max_step_hz", "True",
     "100 to 50000 Hz"),
    ("max-step-hz-float", board(motor__max_step_hz=4000.0), "motor.max_step_hz", "4000.0",
     "100 to 50000 Hz"),
    ("microsteps-bool", board(drive__microsteps=True), "drive.microsteps", "True",
     "one of 1, 2, 4, 8, 16, 32, 64"),
    ("invert-not-bool", board(motor__enable={"pin": 4, "invert": 1}), "motor.enable.invert",
     "1", "true or false"),
    ("lead-nan", board(drive__lead_mm=float("nan")), "drive.lead_mm", "nan", "0.1 to 20 mm"),
    ("lead-inf", board(drive__lead_mm=float("inf")), "drive.lead_mm", "inf", "0.1 to 20 mm"),
    ("area-nan", board(syringe__bore_area_mm2=float("nan")), "syringe.bore_area_mm2", "nan",
     "1 to 1000 mm2"),
    ("diameter-nan", board(syringe={"capacity_ml": 3, "bore_diameter_mm": float("nan")}),
     "syringe.bore_diameter_mm", "nan", "1 to 35 mm"),
    ("capacity-nan", board(syringe__capacity_ml=float("nan")), "syringe.capacity_ml", "nan",
     "0.5 to 60 mL"),
    ("lead-1e-3-mm", board(drive__lead_mm=1e-3), "drive.lead_mm", "0.001", "0.1 to 20 mm"),
    ("lead-text", board(drive__lead_mm="0.8"), "drive.lead_mm", "'0.8'", "0.1 to 20 mm"),
    ("area-too-small", board(syringe__bore_area_mm2=0.5), "syringe.bore_area_mm2", "0.5",
     "1 to 1000 mm2"),
    ("capacity-too-small", board(syringe__capacity_ml=0.4), "syringe.capacity_ml", "0.4",
     "0.5 to 60 mL"),
    ("microstep-pins-2-for-a4988", board(motor__driver="a4988", motor__microstep_pins=[5, 6]),
     "motor.microstep_pins", "[5, 6]", "a list of 0 (hard-wired) or 3 pins"),
    ("microstep-pins-3-for-tmc2209", board(motor__driver="tmc2209", drive__microsteps=16,
                                           motor__microstep_pins=[5, 6, 7]),
     "motor.microstep_pins", "[5, 6, 7]", "a list of 0 (hard-wired) or 2 pins"),
    ("microstep-pins-tuple", board(motor__driver="a4988", motor__microstep_pins=(5, 6, 7)),
     "motor.microstep_pins", "(5, 6, 7)", "a list of 0 (hard-wired) or 3 pins"),
    ("pull-upp", board(motor__enable={"pin": 4, "pull": "upp"}), "motor.enable.pull",
     "'upp'", "none, 'up' or 'down'"),
    ("pull-uppercase", board(motor__enable={"pin": 4, "pull": "UP"}), "motor.enable.pull",
     "'UP'", "none, 'up' or 'down'"),
    ("pull-bool", board(motor__enable={"pin": 4, "pull": True}), "motor.enable.pull", "True",
     "none, 'up' or 'down'"),
    ("name-empty", board(name=""), "name", "''", "1 to 24 printable characters"),
    ("name-too-long", board(name="x" * 25), "name", "'" + "x" * 25 + "'",
     "1 to 24 printable characters"),
    ("calibration-9pL", board(calibration={"ustep_volume_pl": 9}),
     "calibration.ustep_volume_pl", "9", "10 to 1000000 pL"),
    ("calibration-float", board(calibration={"ustep_volume_pl": 14473.0}),
     "calibration.ustep_volume_pl", "14473.0", "10 to 1000000 pL"),
    ("volume-too-small", board(syringe__bore_area_mm2=1, drive={"lead_mm": 0.1,
                                                               "full_steps_per_rev": 400,
                                                               "microsteps": 32}),
     "drive", "8", "a microstep volume of 10 to 1000000 pL"),
    # peripherals
    ("button-on-the-enable-pin", board(buttons__up=4), "buttons.up", Problem(
        "GPIO 4 is already used by motor.enable"), "a GPIO no other key uses"),
    ("buzzer-on-a-button", board(buzzer__pin=10), "buzzer.pin", Problem(
        "GPIO 10 is already used by buttons.up"), "a GPIO no other key uses"),
    ("missing-select-button", board(buttons__select=None), "buttons.select", MISSING,
     "a value is required"),
    ("unknown-button", board(buttons__menu=17), "buttons.menu", UNKNOWN,
     "keys back, down, select, up"),
    ("force-kind-unknown", board(force={"kind": "strain", "dout": 14, "sck": 15}),
     "force.kind", "'strain'", "one of hx711, fsr"),
    ("force-hx711-with-adc", board(force={"kind": "hx711", "dout": 14, "sck": 15, "adc": 26}),
     "force.adc", UNKNOWN, "keys dout, kind, sck"),
    ("force-fsr-not-adc-rp2040", board(mcu="rp2040", force={"kind": "fsr", "adc": 22}),
     "force.adc", "22", "an ADC GPIO of the rp2040: 26, 27, 28, 29"),
    ("battery-adc2-esp32", {**board(**ESP), "buttons": {"up": 13, "down": 14, "select": 32},
                            "display": {"i2c": 0, "sda": 21, "scl": 22},
                            "force": {"kind": "hx711", "dout": 35, "sck": 17},
                            "motor": {**SIM["motor"], "step": 25, "dir": 26, "enable": 27},
                            "battery": {**SIM["battery"], "adc": 4}},
     "battery.adc", "4", "an ADC GPIO of the esp32: 32, 33, 34, 35, 36, 39"),
    ("battery-levels-out-of-order", board(battery__low_mv=3200), "battery.low_mv", "3200",
     "between critical_mv (3300) and full_mv (4200)"),
    ("battery-divider-below-1", board(battery__divider=0.5), "battery.divider", "0.5",
     "1 to 20"),
    ("display-sda-not-i2c0-rp2040", board(mcu="rp2040", display__sda=2, display__scl=3),
     "display.sda", "2", "an I2C0 SDA GPIO of the rp2040: 0, 4, 8, 12, 16, 20, 24, 28"),
    ("display-scl-not-paired-rp2040", board(mcu="rp2040", display__scl=22), "display.scl",
     "22", "GPIO 21, the I2C0 SCL paired with SDA GPIO 20"),
    ("display-address", board(display__address=0x27), "display.address", "39",
     "one of 60, 61"),
    ("display-i2c-bus-2", board(display__i2c=2), "display.i2c", "2", "one of 0, 1"),
    ("volume-too-large", board(syringe__bore_area_mm2=1000, drive={"lead_mm": 20,
                                                                  "full_steps_per_rev": 200,
                                                                  "microsteps": 1}),
     "drive", "100000000", "a microstep volume of 10 to 1000000 pL"),
]


@pytest.mark.parametrize("spec, path, value, allowed", [
    pytest.param(*c[1:5], id=c[0], marks=c[5] if len(c) > 5 else ()) for c in REFUSED])
def test_load_board_refuses_naming_the_key_path(spec, path, value, allowed):
    before = copy.deepcopy(spec)
    with pytest.raises(ConfigError) as info:
        load_board(spec)
    err = info.value
    assert isinstance(err, InvalidValue)
    assert err.field == path
    message = str(err)
    shown = value if isinstance(value, Problem) else f"{value} is not allowed"
    assert message.startswith(f"{path}: {shown}; allowed: "), message
    assert allowed in message, message
    assert spec == before


# ----- integer conversions --------------------------------------------------------------

volumes = st.integers(10, 1_000_000)


@given(volumes, st.integers(0, 6_000_000))
def test_usteps_for_mu_rounds_down_and_never_exceeds(volume, mu):
    b = load_board(board(calibration={"ustep_volume_pl": volume}))
    steps = b.usteps_for_mu(mu)
    assert type(steps) is int
    assert steps * volume <= mu * 10_000 < (steps + 1) * volume
    assert b.mu_for_usteps(steps) <= mu


@given(volumes, st.integers(0, 10**9))
def test_mu_for_usteps_rounds_down_and_never_exceeds(volume, steps):
    b = load_board(board(calibration={"ustep_volume_pl": volume}))
    mu = b.mu_for_usteps(steps)
    assert type(mu) is int
    assert mu * 10_000 <= steps * volume < (mu + 1) * 10_000
    assert b.usteps_for_mu(mu) <= steps
