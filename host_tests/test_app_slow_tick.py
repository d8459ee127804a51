"""A move that ends during a tick is counted before the next one starts.

Found by the virtual board (test_vboard): an HX711 read takes up to a conversion period,
the move of the previous tick ends meanwhile, and the keeper's busy() check saw it end; the
app then started the next move and that move's steps were never added to moved_steps.
"""

from basalt.app import PumpApp
from basalt.core.board_file import load_board
from basalt.ports import ForceSensor
from boards.sim import BOARD as SIM
from tools.fakes import FakeMotor, VirtualClock, open_limits


class SlowForce(ForceSensor):
    """A load cell whose read blocks like an HX711 waiting for its conversion."""

    def __init__(self, clock, read_ms):
        self.clock = clock
        self.read_ms = read_ms

    def read_mn(self):
        self.clock.advance(self.read_ms)
        return 200


def test_every_step_the_motor_made_is_counted_when_reads_are_slow():
    board = load_board(SIM)
    clock = VirtualClock()
    motor = FakeMotor(clock, board.motor.max_step_hz)
    app = PumpApp(board, clock, motor, force=SlowForce(clock, 300), limits=open_limits())
    for cmd in ({"cmd": "new_reservoir", "units": 100}, {"cmd": "resume"},
                {"cmd": "bolus", "units": 0.5}):
        app.command(cmd)
    for _ in range(200):  # 0.5 U at 1.5 U/min takes 20 s
        # The sleep ends a hair early (as timers do), so the last move is still running
        # when the tick starts and ends during the force reading.
        clock.advance(app.tick_ms - 1)
        app.step()
    assert app.engine.bolus_steps == board.usteps_for_mu(500)
    assert not motor.busy() and app.motion.pending_steps == 0
    assert app.motion.moved_steps == motor.forward_steps == app.engine.bolus_steps
