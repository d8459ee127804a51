"""The app wires the engine to the motor: every planned step is moved, the driver is
disabled whenever idle, rewinds run backwards, and bad commands move nothing."""


import pytest

from basalt.app import PumpApp
from basalt.core.board_file import load_board
from basalt.core.errors import InvalidValue, NotAllowedNow
from boards import sim as sim_board
from host_tests.vectors.vectorkit import engine_snapshot
from tools.fakes import FakeMotor, VirtualClock, open_limits

BOARD = load_board(sim_board.BOARD)
PROFILE = {"cmd": "set_profile", "name": "Day", "segments": [["00:00", 1.0], ["12:00", 2.0]]}



def make_app(tick_ms=250):
    clock = VirtualClock()
    motor = FakeMotor(clock, BOARD.motor.max_step_hz)
    app = PumpApp(BOARD, clock, motor, tick_ms=tick_ms, limits=open_limits())
    return app, clock, motor


def run(app, clock, ms):
    end = clock.now_ms() + ms
    while clock.now_ms() < end:
        clock.advance(min(app.tick_ms, end - clock.now_ms()))
        app.step()


def start(app, clock):
    for cmd in (PROFILE, {"cmd": "new_reservoir", "units": 100}, {"cmd": "resume"}):
        app.command(cmd)
    app.step()


@pytest.mark.parametrize("tick_ms", [10, 250, 1_000, 60_000])
def test_motor_moves_exactly_what_the_engine_planned(tick_ms):
    app, clock, motor = make_app(tick_ms)
    start(app, clock)
    app.command({"cmd": "dual_bolus", "units": 4, "now_units": 1.5, "minutes": 60})
    run(app, clock, 2 * 3_600_000 + 7)
    app.command({"cmd": "suspend"})
    run(app, clock, 3 * tick_ms)  # in-flight and pending moves drain; nothing new is planned
    engine = app.engine
    planned = engine.basal_steps + engine.bolus_steps
    assert planned > 0
    assert motor.position() == app.motion.moved_steps == planned
    assert not motor.is_enabled()


def test_driver_is_disabled_whenever_idle():
    app, clock, motor = make_app()
    start(app, clock)
    assert not motor.is_enabled()
    idle_enabled = 0
    for _ in range(2_000):
        clock.advance(app.tick_ms)
        app.step()
        if motor.is_enabled() and not motor.busy():
            idle_enabled += 1
    # The app reaps a finished move on the next tick: enabled-and-idle never outlasts it.
    assert idle_enabled == 0


def test_moves_respect_the_step_rate():
    app, clock, motor = make_app(tick_ms=10)
    start(app, clock)
    app.command({"cmd": "bolus", "units": 25})
    run(app, clock, 60_000)
    assert motor.moves
    assert all(steps * 1000 <= BOARD.motor.max_step_hz * ms for _, steps, ms, _ in motor.moves)


def test_new_reservoir_rewinds_the_plunger():
    app, clock, motor = make_app()
    start(app, clock)
    run(app, clock, 3_600_000)
    app.command({"cmd": "suspend"})
    run(app, clock, 1_000)
    pushed = motor.position()
    assert pushed > 0
    app.command({"cmd": "new_reservoir", "units": 150})
    run(app, clock, 10_000)
    assert motor.position() == 0
    assert app.motion.rewound_steps == pushed
    assert motor.forward is True or not motor.busy()


@pytest.mark.parametrize("cmd, error", [
    ({"cmd": "bolus", "units": 0.005}, InvalidValue),
    ({"cmd": "bolus", "units": -1}, InvalidValue),
    ({"cmd": "bolus", "units": 2, "extra": 1}, InvalidValue),
    ({"cmd": "launch"}, InvalidValue),
    ({"cmd": "resume"}, NotAllowedNow),
])
def test_refused_commands_move_nothing(cmd, error):
    app, clock, motor = make_app()
    start(app, clock)
    run(app, clock, 60_000)
    twin, twin_clock, twin_motor = make_app()
    start(twin, twin_clock)
    run(twin, twin_clock, 60_000)
    with pytest.raises(error):
        app.command(cmd)
    run(app, clock, 600_000)
    run(twin, twin_clock, 600_000)
    assert engine_snapshot(app.engine) == engine_snapshot(twin.engine)
    assert motor.moves == twin_motor.moves
