"""The device side of the UI with fake MicroPython modules: key pins from the board file
(pull-ups, active low), and the SSD1306 adapter over a fake micropython-lib driver."""

import sys
import types

import pytest

from basalt.app import BOOT_WARNING, PumpApp
from basalt.app.buttons import board_keys
from basalt.app.ui_task import UiTask
from basalt.core.ui.paint import Painter
from basalt.drivers import ssd1306_display
from tools.fake_mcu import make_world
from tools.fakes import FakeMotor, VirtualClock
from tools.screens.hostfb import HostFrameBuffer
from tools.sim import load_sim_board


class FakeSsd1306Module:
    """micropython-lib's ssd1306 as the adapter uses it: a FrameBuffer with show/contrast."""

    def __init__(self):
        module = self

        class SSD1306_I2C(HostFrameBuffer):  # noqa: N801 - the driver's own name
            def __init__(self, width, height, i2c, addr=0x3C, external_vcc=False):
                super().__init__(width, height)
                self.i2c, self.addr = i2c, addr
                self.shows = 0
                self.contrasts = []
                module.panel = self

            def show(self):
                self.shows += 1

            def contrast(self, value):
                self.contrasts.append(value)

        self.SSD1306_I2C = SSD1306_I2C


@pytest.fixture
def device(monkeypatch):
    world, machine, *_ = make_world()
    module = types.SimpleNamespace(Pin=machine.Pin, I2C=lambda bus, sda, scl, freq: (
        "i2c", bus, sda.gpio, scl.gpio, freq))
    monkeypatch.setitem(sys.modules, "machine", module)
    ssd = FakeSsd1306Module()
    monkeypatch.setitem(sys.modules, "ssd1306", ssd)
    return world, ssd


def test_board_keys_are_pulled_up_active_low_callables(device):
    world, _ = device
    board = load_sim_board()
    keys = board_keys(board.buttons)
    assert len(keys) == 4
    pins = [board.buttons.up, board.buttons.down, board.buttons.select, board.buttons.back]
    for pin in pins:
        assert world.pins[pin.number].pull == 1  # PULL_UP
        world.set_level(pin.number, 1)
    assert [key() for key in keys] == [False] * 4
    world.set_level(board.buttons.select.number, 0)
    assert [key() for key in keys] == [False, False, True, False]


def test_ssd1306_display_draws_into_the_driver_and_dims(device):
    world, ssd = device
    board = load_sim_board()
    keys = board_keys(board.buttons)
    for pin in board.buttons.pins():
        world.set_level(pin.number, 1)  # released: pulled up
    display = ssd1306_display.make_display(board.display)
    panel = ssd.panel
    assert panel.i2c == ("i2c", 0, 20, 21, 400_000) and panel.addr == 0x3C
    clock = VirtualClock()
    app = PumpApp(board, clock, FakeMotor(clock))
    ui = UiTask(app, display, keys, BOOT_WARNING, dim_ms=1_000)
    assert ui.menu.has_back
    for _ in range(400):
        clock.advance(10)
        ui.step(clock.now_ms())
    assert panel.shows > 0 and any(panel.buf)
    assert panel.contrasts == [0x01]  # dimmed after a second idle
    reference = HostFrameBuffer()
    ui.menu.draw(Painter(reference), ui.view)
    assert bytes(panel.buf) == bytes(reference.buf)


def test_the_board_builds_the_ui_from_its_peripherals(device):
    from basalt.app import wiring as board_main
    from basalt.core.errors import ConfigError

    board = load_sim_board()
    clock = VirtualClock()
    app = PumpApp(board, clock, FakeMotor(clock))
    ui = board_main.make_ui(app, board)
    assert isinstance(ui, UiTask) and len(ui.keys) == 4
    board.display.height = 32
    with pytest.raises(ConfigError, match="display.height"):
        board_main.make_ui(app, board)
    board.display = None
    assert board_main.make_ui(app, board) is None


def test_without_the_display_driver_the_pump_runs_headless(device, monkeypatch, capsys):
    from basalt.app import wiring as board_main

    monkeypatch.setitem(sys.modules, "ssd1306", None)  # `import ssd1306` fails
    board = load_sim_board()
    clock = VirtualClock()
    app = PumpApp(board, clock, FakeMotor(clock))
    assert board_main.make_ui(app, board) is None
    assert "mip install ssd1306" in capsys.readouterr().out
