"""The power-on self-test (basalt.app.selftest) with the host fakes: each wiring fault a
maker can make is named with its part and pin, shown on the boot screen, and the ones
that matter for safety (motor driver, force sensor, storage) stop delivery through the
command table's guard: resume is refused with the self-test's own line."""

import pytest

from basalt.app import BOOT_WARNING, PumpApp, selftest
from basalt.app.ui_task import UiTask
from basalt.core.board_file import load_board
from basalt.core.errors import NotAllowedNow, SensorFault
from basalt.core.ui.textdump import TextDump
from basalt.drivers.stepper_rp2 import PioStepper
from basalt.ports import ForceSensor
from basalt.storage.keeper import Keeper
from boards.pico_w import BOARD as PICO_W
from tools.fake_mcu import make_world
from tools.fake_storage import FakeStorage
from tools.fakes import FakeDisplay, FakeMotor, VirtualClock, fake_keys, open_limits

BOARD = load_board(PICO_W)
FREE = (lambda: False,) * 4
DISPLAY = lambda: [0x3C]  # noqa: E731


class Force(ForceSensor):
    """Reads `mn`, or raises `fault` (a SensorFault) like the HX711 driver does."""

    def __init__(self, mn=150, fault=None):
        self.mn = mn
        self.fault = fault

    def read_mn(self):
        if self.fault is not None:
            raise self.fault
        return self.mn


class ReadOnly(FakeStorage):
    root = "/data"

    def write(self, name, data):
        raise OSError(30)  # EROFS: a flash mounted read-only


def run(motor=None, force=None, storage=None, keys=FREE, scan=DISPLAY, clock_set=True):
    motor = motor or FakeMotor(VirtualClock())
    return selftest.problems(selftest.check(BOARD, motor, force or Force(),
                                            storage or FakeStorage(), keys, scan, clock_set))


def test_a_board_wired_right_passes_every_check():
    results = selftest.check(BOARD, FakeMotor(VirtualClock()), Force(), FakeStorage(), FREE,
                             DISPLAY)
    assert [part for part, _, _ in results] == [
        "motor driver EN GP6", "force sensor HX711 DOUT GP14", "storage",
        "button UP GP10", "button DOWN GP11", "button SELECT GP12", "button BACK GP13",
        "display 0x3C I2C0 SDA GP4 SCL GP5", "clock"]
    assert selftest.problems(results) == []


def test_the_boot_keeps_only_the_checks_that_failed_with_the_same_lines():
    """at_boot asks check() for the failures only (passed=False): the same problems,
    in the same order, and no part name built for a check that passed."""
    args = (BOARD, FakeMotor(VirtualClock()), Force(mn=90_000), ReadOnly(),
            (lambda: False, lambda: True, lambda: False, lambda: False), lambda: [])
    every = selftest.check(*args, clock_set=False)
    failed = selftest.check(*args, clock_set=False, passed=False)
    assert failed == [result for result in every if result[1] is not None]
    assert [part for part, _, _ in failed] == [
        "force sensor HX711 DOUT GP14", "storage /data", "button DOWN GP11",
        "display 0x3C I2C0 SDA GP4 SCL GP5", "clock"]
    assert selftest.check(BOARD, FakeMotor(VirtualClock()), Force(), FakeStorage(), FREE,
                          DISPLAY, passed=False) == []


@pytest.mark.parametrize("fault, line, stops", [
    ({"force": Force(fault=SensorFault("timeout", "HX711 DOUT stayed high for 150 ms"))},
     "force sensor HX711 DOUT GP14: no answer", True),
    ({"force": Force(fault=SensorFault("saturated", "HX711 reads 0x7FFFFF"))},
     "force sensor HX711 DOUT GP14: saturated: HX711 reads 0x7FFFFF", True),
    ({"force": Force(mn=90_000)},
     "force sensor HX711 DOUT GP14: reads 90000 mN, outside -5000 to 60000 (calibration?)",
     True),
    ({"storage": ReadOnly()}, "storage /data: not writable (%s)" % OSError(30), True),
    ({"keys": (lambda: False, lambda: False, lambda: True, lambda: False)},
     "button SELECT GP12: pressed at power-up (stuck?)", False),
    ({"scan": lambda: []}, "display 0x3C I2C0 SDA GP4 SCL GP5: not found", False),
    ({"scan": lambda: [0x27]}, "display 0x3C I2C0 SDA GP4 SCL GP5: not found (bus has 0x27)",
     False),
    ({"clock_set": False}, "clock: time not set (mpremote rtc --set)", False),
])
def test_each_fault_is_named_with_its_part_and_pin(fault, line, stops):
    assert run(**fault) == [(line, stops)]


def test_a_driver_enabled_at_power_up_is_a_motor_fault():
    motor = FakeMotor(VirtualClock())
    motor.enable()
    assert run(motor=motor) == [("motor driver EN GP6: on at power-up (must start off)", True)]


def test_the_enable_line_is_read_back_at_its_pin():
    """A PIO stepper drives EN inactive (high: active low) first; a line held low (a
    short, the wrong pin) reads active although the driver never enabled it."""
    world, machine, time, rp2, _ = make_world()
    motor = PioStepper(BOARD.motor, 0, machine, rp2, time)
    assert not motor.en_reads_active()
    world.set_level(6, 0)
    assert motor.en_reads_active() and not motor.is_enabled()


def pump(force):
    clock = VirtualClock()
    app = PumpApp(BOARD, clock, FakeMotor(clock, BOARD.motor.max_step_hz), limits=open_limits(),
                  force=force)
    app.keeper = Keeper(FakeStorage())
    app.keeper.start(0, "power_on")
    return app


def test_a_safety_fault_is_on_the_boot_screen_and_refuses_resume_with_its_line():
    app = pump(Force(fault=SensorFault("timeout", "HX711 DOUT stayed high")))
    found = selftest.at_boot(app, BOARD, True, keys=FREE, scan=lambda: [])
    assert found == [("force sensor HX711 DOUT GP14: no answer", True),
                     ("display 0x3C I2C0 SDA GP4 SCL GP5: not found", False)]
    notes = app.keeper.boot_notes
    assert notes[:2] == ["force sensor HX711 DOUT GP14: no answer",
                          "display 0x3C I2C0 SDA GP4 SCL GP5: not found"]
    app.command({"cmd": "boot_ack"})
    app.command({"cmd": "new_reservoir", "units": 100})
    with pytest.raises(NotAllowedNow) as refused:
        app.command({"cmd": "resume"})
    assert "self-test: force sensor HX711 DOUT GP14: no answer" in str(refused.value)
    assert app.engine.stop_reason is not None
    for _ in range(40):
        app.clock.advance(250)
        app.step()
    assert app.motor.forward_travel() == 0


def test_the_boot_screen_shows_the_self_test_lines():
    app = pump(Force(fault=SensorFault("timeout", "HX711 DOUT stayed high")))
    selftest.at_boot(app, BOARD, True, keys=FREE, scan=DISPLAY)
    ui = UiTask(app, FakeDisplay(), fake_keys(4), BOOT_WARNING)
    ui.refresh(0)
    ui.refresh(3_000)  # past the warning
    dump = TextDump()
    ui.menu.draw(dump, ui.view)
    text = " ".join(dump.dump().split())
    assert "force sensor HX711 DOUT GP14: no answer" in text, dump.dump()


def test_faults_that_do_not_touch_delivery_leave_resume_allowed():
    app = pump(Force())
    selftest.at_boot(app, BOARD, False, keys=(lambda: True,) + FREE[1:], scan=lambda: [])
    assert app.keeper.hardware_fault is None
    for cmd in ({"cmd": "boot_ack"}, {"cmd": "new_reservoir", "units": 100}, {"cmd": "resume"}):
        app.command(cmd)
    assert app.engine.stop_reason is None
