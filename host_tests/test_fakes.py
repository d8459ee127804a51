"""The fakes enforce the port contracts the real drivers keep."""

import pytest

from basalt.core.errors import MotorFault
from tools.fakes import FakeMotor, VirtualClock


@pytest.fixture
def rig():
    clock = VirtualClock()
    return clock, FakeMotor(clock, max_step_hz=1_000)


def test_motor_starts_disabled_and_refuses_steps(rig):
    _, motor = rig
    assert motor.is_enabled() is False
    with pytest.raises(MotorFault, match="disabled"):
        motor.move(10, 100)
    assert motor.moves == []


@pytest.mark.parametrize("steps, duration, error", [
    (0, 100, ValueError), (-3, 100, ValueError), (1.5, 100, ValueError),
    (10, 0, ValueError), (101, 100, ValueError),  # 1010 Hz > 1000 Hz
])
def test_motor_refuses_bad_moves(rig, steps, duration, error):
    _, motor = rig
    motor.enable()
    with pytest.raises(error):
        motor.move(steps, duration)
    assert motor.moves == []


def test_steps_follow_the_clock_and_a_second_move_waits(rig):
    clock, motor = rig
    motor.enable()
    motor.move(100, 1_000)
    clock.advance(250)
    assert motor.busy() and motor.steps_done() == 25
    with pytest.raises(MotorFault, match="running"):
        motor.move(1, 10)
    with pytest.raises(MotorFault, match="direction"):
        motor.set_direction(False)
    clock.advance(750)
    assert not motor.busy() and motor.steps_done() == 100
    motor.move(5, 10)  # allowed once the first has finished
    assert motor.position() == 100


def test_disable_mid_move_stops_the_pulses(rig):
    clock, motor = rig
    motor.enable()
    motor.move(100, 1_000)
    clock.advance(300)
    motor.disable()
    clock.advance(1_000)
    assert motor.position() == 30
    assert motor.steps_done() == 30


def test_reverse_moves_count_backwards(rig):
    clock, motor = rig
    motor.enable()
    motor.move(40, 100)
    clock.advance(100)
    motor.set_direction(False)
    motor.move(15, 100)
    clock.advance(100)
    motor.disable()
    assert (motor.forward_steps, motor.reverse_steps, motor.position()) == (40, 15, 25)


def test_virtual_clock_never_goes_backwards():
    clock = VirtualClock(5)
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert clock.now_ms() == 5
