"""The board's tasks wait instead of polling when nothing is happening: the UI task for
a key's edge or its next redraw, the buzzer for a new pattern or its next note, the USB
service less often once no host tool has spoken for a while. Each loop is run on a
clock that records what it was asked to wait for."""

import asyncio
import types

import pytest

from basalt.app import BOOT_WARNING, PumpApp, usb_service
from basalt.app.ui_task import POLL_MS, REDRAW_DIMMED_MS, REDRAW_MS, UiTask
from basalt.core.alarms import HIGH, PATTERNS
from basalt.drivers.buzzer import PwmBuzzer
from host_tests.test_alarms_drivers import FakeMachine, Pin
from tools.fakes import FakeMotor, VirtualClock
from tools.screens.hostfb import HostFrameBuffer
from tools.sim import load_sim_board


class Flag:
    """asyncio.ThreadSafeFlag's contract: set() until a wait() takes it."""

    def __init__(self):
        self.state = False

    def set(self):
        self.state = True


class WaitLog(Exception):
    pass


class RecordingClock(VirtualClock):
    """sleep_ms and wait_ms advance the clock and log ("sleep", ms) / ("wait", ms); a set
    flag ends a wait at once. after(n_calls, action) runs action before call n."""

    def __init__(self, limit):
        super().__init__()
        self.log = []
        self.limit = limit
        self.actions = {}

    def _before(self):
        """What happens at this call (a key pressed, a pattern played) happens first."""
        action = self.actions.pop(len(self.log), None)
        if action is not None:
            action()

    def _call(self, entry, ms):
        self.log.append(entry)
        if len(self.log) >= self.limit:
            raise WaitLog()
        self.advance(ms)

    async def sleep_ms(self, ms):
        self._before()
        self._call(("sleep", ms), ms)
        await asyncio.sleep(0)

    async def wait_ms(self, flag, ms):
        self._before()
        if flag.state:
            flag.state = False
            self._call(("wait", ms, "set"), 0)
        else:
            self._call(("wait", ms), ms)
        await asyncio.sleep(0)


def run_until_logged(coro):
    async def main():
        with pytest.raises(WaitLog):
            await coro

    asyncio.run(main())


class Display(HostFrameBuffer):
    def show(self):
        pass

    def dim(self, dimmed):
        pass


def ui_on(clock, wake, down):
    app = PumpApp(load_sim_board(), clock, FakeMotor(clock))
    keys = tuple((lambda k=k: down[k]) for k in range(4))
    return UiTask(app, Display(), keys, BOOT_WARNING, dim_ms=2_000, boot_ms=0, wake=wake)


def test_the_ui_waits_for_an_edge_or_the_next_redraw_while_every_key_is_up():
    clock = RecordingClock(limit=40)
    down = [False] * 4
    ui = ui_on(clock, Flag(), down)
    run_until_logged(ui.run())
    kinds = {entry[0] for entry in clock.log}
    assert kinds == {"wait"}
    longest = max(entry[1] for entry in clock.log)
    assert longest == REDRAW_DIMMED_MS  # dimmed after 2 s: a redraw a second
    assert max(entry[1] for entry in clock.log[:3]) <= REDRAW_MS  # awake: 4 a second


def test_an_edge_ends_the_wait_and_a_key_down_is_polled_every_poll_ms():
    clock = RecordingClock(limit=30)
    down = [False] * 4
    flag = Flag()
    ui = ui_on(clock, flag, down)

    def press():
        down[2] = True
        flag.set()  # what the pin's irq handler does

    clock.actions[3] = press
    clock.actions[20] = lambda: down.__setitem__(2, False)
    run_until_logged(ui.run())
    assert clock.log[3][2:] == ("set",)  # the edge: no wait at all
    held = clock.log[4:20]
    assert held == [("sleep", POLL_MS)] * len(held)  # debounce, then held
    assert clock.log[-1][0] == "wait"  # released and debounced: waiting again


def test_without_a_wake_flag_the_ui_polls_all_the_time():
    clock = RecordingClock(limit=20)
    ui = ui_on(clock, None, [False] * 4)
    run_until_logged(ui.run())
    assert clock.log == [("sleep", POLL_MS)] * 20


def test_the_buzzer_waits_silent_until_play_sets_its_flag_then_note_by_note():
    machine = FakeMachine()
    buzzer = PwmBuzzer(Pin(16), machine)
    clock = RecordingClock(limit=8)
    flag = Flag()
    pattern = PATTERNS[HIGH][0]
    clock.actions[2] = lambda: buzzer.play(pattern)
    run_until_logged(buzzer.run(clock, flag))
    assert clock.log[:2] == [("wait", 60_000)] * 2
    assert clock.log[2] == ("wait", 60_000, "set")  # play() ended the silent wait
    first_note = pattern[2][0]
    assert clock.log[3] == ("wait", first_note[1])  # on for the note's length
    assert ("freq", first_note[0]) in machine.pwms[0].log


class Console:
    def __init__(self):
        self.lines = []
        self.written = []

    def readline(self):
        return self.lines.pop(0) if self.lines else None

    def write(self, text):
        self.written.append(text)


def test_the_usb_service_looks_less_often_once_no_host_tool_spoke_for_5_s():
    clock = RecordingClock(limit=160)
    console = Console()
    app = types.SimpleNamespace(clock=clock)
    service = usb_service.UsbService(app, console)
    service.answer = lambda text: '{"ok": true}'
    clock.actions[140] = lambda: console.lines.append(b'#B< {"q": "status"}')
    run_until_logged(service.run())
    sleeps = [entry[1] for entry in clock.log]
    assert sleeps[:100] == [50] * 100  # 5 s after the start: a tool may be talking
    assert set(sleeps[100:141]) == {250}
    assert console.written == ['#B> {"ok": true}\n']
    assert sleeps[141:] == [0] + [50] * 18  # a line came: looking often again
