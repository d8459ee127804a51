"""Stepper adapters (RP2040 PIO, ESP32 RMT) against fake MCU modules, and the board files.

The fakes in tools/fake_mcu.py keep one virtual clock: every GPIO level change is logged with
its time, the PIO program is executed cycle by cycle and RMT pulse trains are played
out, so these tests measure the pulses the real programs would produce.
"""

import re
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from basalt.core.board_file import DRIVERS, MotorConfig, Pin, load_board
from basalt.core.errors import ConfigError, MotorFault
from basalt.drivers.stepper_esp32 import RmtStepper
from basalt.drivers.stepper_rp2 import PioStepper
from tools import boardfiles
from tools.fake_mcu import FakeHardwareError, make_world

ROOT = Path(__file__).resolve().parents[1]
BOARD_FILES = sorted((ROOT / "boards").glob("*.py"))
KINDS = ("pio", "rmt")
US = 1000  # ns per us
MS = 1_000_000  # ns per ms


# ----- helpers ------------------------------------------------------------------------

def config(driver="tmc2209", microsteps=16, ms_pins=(7, 8), step=(2, False), dir_=(3, False),
           en=(6, True), max_hz=4000, ms_invert=False):
    table = DRIVERS[driver]
    return MotorConfig(driver, Pin(step[0], step[1]), Pin(dir_[0], dir_[1]),
                       Pin(en[0], en[1]), microsteps,
                       [Pin(n, ms_invert) for n in ms_pins], max_hz,
                       table["levels"][microsteps], table["min_pulse_us"])


class Rig:
    """A motor of one kind on a fresh fake world; helpers to run it like the app does."""

    def __init__(self, kind, cfg=None, start_us=0, ticks_offset_us=0):
        self.cfg = cfg or config()
        self.world, machine, time, rp2, esp32 = make_world(start_us, ticks_offset_us)
        self.rp2 = rp2
        self.esp32 = esp32
        if kind == "pio":
            self.motor = PioStepper(self.cfg, 0, machine, rp2, time)
        else:
            self.motor = RmtStepper(self.cfg, 0, machine, esp32, time)
        self.step = self.cfg.step.number
        self.on = self.cfg.step.level(True)

    def run(self, ms, poll_ms=None):
        """Advance `ms`, calling poll() every `poll_ms` (like the app's tick)."""
        world = self.world
        end = world.now_ns + int(ms * MS)
        if poll_ms:
            while world.now_ns + int(poll_ms * MS) <= end:
                world.advance_to_ns(world.now_ns + int(poll_ms * MS))
                self.motor.poll()
        world.advance_to_ns(end)

    def run_to_end(self, poll_ms=250, limit_ms=600_000):
        waited = 0
        while self.motor.busy():
            self.run(poll_ms)
            waited += poll_ms
            assert waited <= limit_ms, "move never finished"

    def pulses(self):
        """(rise_ns, fall_ns or None) of every STEP pulse so far."""
        out = []
        rise = None
        for t, level in self.world.history(self.step):
            if level == self.on:
                rise = t
            elif rise is not None:
                out.append((rise, t))
                rise = None
        if rise is not None:
            out.append((rise, None))
        return out

    def rises(self):
        return [r for r, _ in self.pulses()]


def pio_period_us(steps, duration_ms):
    """The period the PIO program runs: requested period rounded up, 2 D + 10 cycles."""
    p = -(-duration_ms * 1000 // steps)
    return 2 * ((p - 9) // 2) + 10


def rmt_period_us(steps, duration_ms):
    return -(-duration_ms * 1000 // steps)


PERIOD = {"pio": pio_period_us, "rmt": rmt_period_us}


# ----- construction: fail safe --------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("en_invert", [True, False])
def test_en_is_the_first_pin_and_inactive_after_construction(kind, en_invert):
    rig = Rig(kind, config(en=(6, en_invert)))
    inactive = 1 if en_invert else 0
    assert rig.world.created[0] == 6
    assert rig.world.events[0][1:] == (6, inactive)
    assert rig.world.history(6) == [(0, inactive)]  # never glitched to active
    assert rig.world.pins[6].mode == rig.world.pins[6].OUT
    assert rig.motor.is_enabled() is False
    assert rig.motor.busy() is False


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("en_invert", [True, False])
def test_enable_and_disable_drive_the_wired_levels(kind, en_invert):
    rig = Rig(kind, config(en=(6, en_invert)))
    active, inactive = (0, 1) if en_invert else (1, 0)
    rig.motor.enable()
    assert rig.world.pins[6].level == active and rig.motor.is_enabled()
    rig.motor.disable()
    assert rig.world.pins[6].level == inactive and not rig.motor.is_enabled()
    assert [lvl for _, lvl in rig.world.history(6)] == [inactive, active, inactive]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("driver,microsteps,pins", [
    ("tmc2209", 16, (7, 8)), ("tmc2209", 32, (7, 8)), ("tmc2209", 64, (7, 8)),
    ("a4988", 16, (7, 8, 9)), ("a4988", 2, (7, 8, 9)),
    ("drv8825", 16, (7, 8, 9)), ("drv8825", 32, (7, 8, 9)),
])
def test_microstep_pins_get_the_driver_table_levels(kind, driver, microsteps, pins):
    rig = Rig(kind, config(driver, microsteps, pins))
    want = DRIVERS[driver]["levels"][microsteps]
    assert tuple(rig.world.pins[n].level for n in pins) == want
    # Set while the driver is still disabled, before the STEP timer exists.
    assert rig.world.created[:3 + len(pins)] == [6, 3, *pins, 2]


@pytest.mark.parametrize("kind", KINDS)
def test_inverted_microstep_pins_are_inverted(kind):
    rig = Rig(kind, config("drv8825", 16, (7, 8, 9), ms_invert=True))
    assert tuple(rig.world.pins[n].level for n in (7, 8, 9)) == (1, 1, 0)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("step_invert", [False, True])
def test_step_pin_idles_at_its_inactive_level(kind, step_invert):
    rig = Rig(kind, config(step=(2, step_invert)))
    assert rig.world.pins[2].level == (1 if step_invert else 0)


# ----- move(): refusals ---------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_move_refused_while_disabled(kind):
    rig = Rig(kind)
    with pytest.raises(MotorFault, match="disabled"):
        rig.motor.move(10, 100)
    rig.run(200)
    assert rig.rises() == [] and not rig.motor.busy()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("steps,duration", [
    (0, 100), (-3, 100), (True, 100), (2.0, 100), ("4", 100), (1_000_001, 10**9),
    (10, 0), (10, -1), (10, 2.5), (10, None),
])
def test_move_refuses_bad_arguments(kind, steps, duration):
    rig = Rig(kind)
    rig.motor.enable()
    with pytest.raises(ValueError):
        rig.motor.move(steps, duration)
    assert not rig.motor.busy() and rig.rises() == []


@pytest.mark.parametrize("kind", KINDS)
def test_move_refuses_rates_above_max_step_hz(kind):
    rig = Rig(kind, config(max_hz=4000))
    rig.motor.enable()
    for steps, duration in ((401, 100), (4001, 1000), (5, 1)):
        with pytest.raises(ValueError, match="max_step_hz"):
            rig.motor.move(steps, duration)
    assert rig.rises() == []
    rig.motor.move(400, 100)  # exactly 4000 Hz is allowed
    rig.run_to_end(poll_ms=10)
    assert len(rig.rises()) == 400


@pytest.mark.parametrize("kind", KINDS)
def test_move_and_set_direction_refused_while_busy(kind):
    rig = Rig(kind)
    rig.motor.enable()
    rig.motor.move(10, 100)
    rig.run(50, poll_ms=10)
    with pytest.raises(MotorFault, match="still running"):
        rig.motor.move(1, 100)
    with pytest.raises(MotorFault, match="still running"):
        rig.motor.set_direction(False)
    assert rig.world.pins[3].level == 1  # DIR untouched
    rig.run(60, poll_ms=10)
    assert not rig.motor.busy()
    rig.motor.set_direction(False)
    rig.motor.move(1, 10)
    rig.run_to_end(poll_ms=10)
    assert len(rig.rises()) == 11


# ----- pulse trains -------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("steps,duration_ms,poll_ms", [
    (10, 100, 10), (7, 10, 1), (1, 250, 250), (4, 250, 250), (60, 250, 250),
    (1000, 250, 250), (2000, 1000, 250), (500, 250, 10), (3, 3000, 250),
])
def test_pulse_train_has_n_pulses_at_the_period(kind, steps, duration_ms, poll_ms):
    rig = Rig(kind)
    rig.motor.enable()
    rig.run(1)
    t0 = rig.world.now_ns
    rig.motor.move(steps, duration_ms)
    rig.run_to_end(poll_ms=poll_ms)
    pulses = rig.pulses()
    assert len(pulses) == steps
    assert rig.motor.steps_done() == steps
    period = PERIOD[kind](steps, duration_ms)
    assert period * 1000 >= duration_ms * 1000 * 1000 // steps  # never faster than asked
    assert t0 <= pulses[0][0] <= t0 + 10 * US  # the first step is due at once
    rises = [r for r, _ in pulses]
    assert {b - a for a, b in zip(rises, rises[1:])} <= {period * US}
    highs = {f - r for r, f in pulses}
    lows = {b - f for (_, f), (b, _) in zip(pulses, pulses[1:])}
    min_pulse = rig.cfg.min_pulse_us * US
    assert min(highs) >= min_pulse and (not lows or min(lows) >= min_pulse)
    if kind == "pio":  # 50 % duty: half a period high
        assert highs == {period // 2 * US}
    else:  # a fixed pulse of twice the datasheet minimum
        assert highs == {2 * rig.cfg.min_pulse_us * US}
    # Busy for the whole move (the last period included), then idle.
    end = rises[-1] + period * US
    assert rig.world.now_ns >= end
    assert rig.world.pins[2].level == 0


@pytest.mark.parametrize("kind", KINDS)
def test_busy_until_the_last_period_ends(kind):
    rig = Rig(kind)
    rig.motor.enable()
    rig.motor.move(4, 200)
    rig.run(199, poll_ms=1)
    assert rig.motor.busy() and rig.motor.steps_done() == 4
    rig.run(2, poll_ms=1)
    assert not rig.motor.busy()


@pytest.mark.parametrize("kind", KINDS)
def test_steps_done_counts_up_during_a_move(kind):
    rig = Rig(kind)
    rig.motor.enable()
    rig.motor.move(10, 100)
    rig.run(5)
    seen = []
    for _ in range(10):
        rig.run(10)
        seen.append(rig.motor.steps_done())
    assert seen == sorted(seen) and seen[-1] == 10
    assert seen[3] == 5  # 5 rising edges by 45 ms (at 0, 10, 20, 30, 40 ms)


@pytest.mark.parametrize("kind", KINDS)
def test_a_second_move_starts_cleanly(kind):
    rig = Rig(kind)
    rig.motor.enable()
    for steps in (3, 5):
        rig.motor.move(steps, 50)
        rig.run_to_end(poll_ms=10)
        assert rig.motor.steps_done() == steps
    assert len(rig.rises()) == 8


# ----- stop(), disable(), aborted moves -----------------------------------------------

def rises_while_enabled(rig):
    """STEP rising edges logged before EN last went inactive (log order settles ties)."""
    events = rig.world.events
    en_off = max(i for i, (_, gpio, lvl) in enumerate(events) if gpio == 6 and lvl == 1)
    return [t for t, gpio, lvl in events[:en_off] if gpio == rig.step and lvl == rig.on]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stop_ms,expected", [(0, None), (10.5, 2), (35.5, 4), (95, 10)])
def test_stop_aborts_and_counts_the_steps_issued(kind, stop_ms, expected):
    rig = Rig(kind)
    rig.motor.enable()
    rig.run(1)
    rig.motor.move(100, 1000)  # one step every 10 ms
    rig.run(stop_ms, poll_ms=5)
    if expected is None:  # stop() right after move(): RMT has issued the first edge,
        expected = {"rmt": 1, "pio": 0}[kind]  # the PIO issues it 3 us later
    done = rig.motor.stop()
    assert done == expected == rig.motor.steps_done()
    assert done == len(rises_while_enabled(rig))
    assert not rig.motor.is_enabled() and not rig.motor.busy()
    assert rig.world.pins[6].level == 1
    assert rig.world.pins[2].level == 0  # STEP idle
    after = len(rig.rises())
    rig.run(500, poll_ms=10)
    assert len(rig.rises()) == after and rig.motor.steps_done() == done
    # The next move starts from a clean state.
    rig.motor.enable()
    before = len(rig.rises())
    rig.motor.move(3, 30)
    rig.run_to_end(poll_ms=10)
    assert rig.motor.steps_done() == 3 and len(rig.rises()) == before + 3


@pytest.mark.parametrize("kind", KINDS)
def test_disable_during_a_move_stops_it(kind):
    rig = Rig(kind)
    rig.motor.enable()
    rig.motor.move(100, 1000)
    rig.run(42, poll_ms=5)
    rig.motor.disable()
    assert not rig.motor.busy() and rig.motor.steps_done() == 5
    assert rig.world.pins[6].level == 1


def test_pio_stop_is_exact_even_with_a_full_rx_fifo():
    rig = Rig("pio")
    rig.motor.enable()
    rig.motor.move(50, 500)
    rig.run(123.4)  # no polls: progress words overflow the 4-word RX FIFO
    sm = rig.rp2.machines[0]
    assert sm.rx_dropped > 0
    assert rig.motor.stop() == 13 == len(rig.rises())
    assert sm.execs and not sm.rx and sm.enabled


def test_pio_stop_in_the_last_period_counts_all():
    rig = Rig("pio")
    rig.motor.enable()
    rig.motor.move(5, 50)
    rig.run(45)  # all 5 edges issued, the last low phase running
    assert rig.motor.stop() == 5


def test_pio_words_and_forced_instructions():
    rig = Rig("pio")
    sm = rig.rp2.machines[0]
    assert sm.freq == 1_000_000 and sm.sideset_pin == 2
    rig.motor.enable()
    rig.motor.move(7, 10)
    assert sm.puts == [7, (1429 - 9) // 2]
    rig.run(3)
    rig.motor.stop()
    assert [(i.op, i.args, i.side_value) for i in sm.execs] == [
        ("mov", ("isr", "x"), 0), ("push", ("block",), 0)]


def test_pio_with_an_inverted_step_pin_pulses_low():
    rig = Rig("pio", config(step=(2, True)))
    rig.motor.enable()
    rig.motor.move(3, 30)
    rig.run_to_end(poll_ms=10)
    assert rig.on == 0 and len(rig.pulses()) == 3 and rig.world.pins[2].level == 1


@pytest.mark.parametrize("kind", KINDS)
@given(steps=st.integers(1, 400), duration_ms=st.integers(1, 4000),
       polls_ms=st.lists(st.integers(1, 600), min_size=1, max_size=8),
       stop_ms=st.one_of(st.none(), st.integers(0, 4000)))
def test_counts_always_match_the_pulses_and_the_rate_is_never_exceeded(
        kind, steps, duration_ms, polls_ms, stop_ms):
    assume(steps * 1000 <= 4000 * duration_ms)
    rig = Rig(kind)
    rig.motor.enable()
    rig.run(1)
    rig.motor.move(steps, duration_ms)
    elapsed = 0
    i = 0
    while rig.motor.busy():
        gap = polls_ms[i % len(polls_ms)]
        i += 1
        if stop_ms is not None and elapsed + gap > stop_ms:
            rig.run(stop_ms - elapsed)
            done = rig.motor.stop()
            break
        rig.run(gap)
        elapsed += gap
    else:
        done = rig.motor.steps_done()
        assert done == steps
    rig.run(100)
    rises = rig.rises()
    stopped = not rig.motor.is_enabled()
    issued = rises_while_enabled(rig) if stopped else rises
    assert done == rig.motor.steps_done() == len(issued)
    if kind == "pio" or not stopped:
        assert len(rises) == done  # the state machine stops at once
    assert len(rises) <= steps
    period = PERIOD[kind](steps, duration_ms) * US
    assert all(b - a >= period for a, b in zip(rises, rises[1:]))
    assert all(f - r >= rig.cfg.min_pulse_us * US for r, f in rig.pulses() if f is not None)


# ----- RMT specifics ------------------------------------------------------------------

def rmt_channel(rig):
    return rig.esp32.channels[0]


def test_rmt_chunks_fit_the_buffers_and_the_rmt():
    rig = Rig("rmt", config(max_hz=20_000))
    rig.motor.enable()
    rig.motor.move(20_000, 1000)
    rig.run_to_end(poll_ms=250)
    writes = rmt_channel(rig).writes
    assert len(writes) >= 4
    assert rig.motor.chunk_entries == 2560  # the cap (20 kHz would want 12064)
    assert max(len(entries) for _, entries in writes) <= 2560
    assert all(1 <= d <= 32767 for _, entries in writes for d, _ in entries)
    assert len(rig.rises()) == 20_000


def test_rmt_consecutive_chunks_join_without_a_gap():
    rig = Rig("rmt", config(max_hz=2000))
    rig.motor.enable()
    rig.motor.move(2000, 1000)
    rig.run_to_end(poll_ms=250)
    rises = rig.rises()
    assert len(rmt_channel(rig).writes) >= 4
    assert {b - a for a, b in zip(rises, rises[1:])} == {500 * US}


def test_rmt_late_polls_slip_but_never_step_faster():
    rig = Rig("rmt", config(max_hz=2000))
    rig.motor.enable()
    rig.motor.move(1000, 500)
    for gap_ms in (250, 700, 30, 900, 250, 250, 250):
        rig.run(gap_ms)
        rig.motor.poll()
    rig.run_to_end(poll_ms=250)
    rises = rig.rises()
    assert len(rises) == 1000 == rig.motor.steps_done()
    assert min(b - a for a, b in zip(rises, rises[1:])) == 500 * US


def test_rmt_slow_move_with_a_period_longer_than_a_chunk():
    rig = Rig("rmt")
    rig.motor.enable()
    rig.motor.move(3, 180_000)  # one step a minute
    rig.run(179_999, poll_ms=250)
    assert rig.motor.busy()
    rig.run(2, poll_ms=1)
    assert not rig.motor.busy() and rig.motor.steps_done() == 3
    assert rig.rises() == [0, 60_000 * MS, 120_000 * MS]
    assert max(len(e) for _, e in rmt_channel(rig).writes) <= rig.motor.chunk_entries


def test_rmt_crosses_the_ticks_wrap():
    start = (1 << 30) - 100_000  # ticks_us wraps 100 ms into the move
    rig = Rig("rmt", config(max_hz=2000), ticks_offset_us=start)
    rig.motor.enable()
    rig.motor.move(600, 300)
    rig.run_to_end(poll_ms=20)
    rises = rig.rises()
    assert len(rises) == 600 and {b - a for a, b in zip(rises, rises[1:])} == {500 * US}


def test_rmt_stop_never_uses_active_false_and_drains_into_the_disabled_driver():
    rig = Rig("rmt")
    rig.motor.enable()
    rig.motor.move(100, 1000)
    rig.run(35.5, poll_ms=5)
    assert rig.motor.stop() == 4
    channel = rmt_channel(rig)
    assert channel.stopped == 0 and not channel.active()
    assert len(rig.rises()) > 4  # the rest of the chunk went to a disabled driver
    assert len(rises_while_enabled(rig)) == 4


def test_rmt_refuses_moves_after_a_latched_fault():
    rig = Rig("rmt")
    rig.motor.enable()
    rig.motor.move(100, 1000)
    rig.run(20, poll_ms=5)
    channel = rmt_channel(rig)
    channel.wait_done = lambda timeout=0: False  # a channel that never finishes
    rig.motor.stop()
    with pytest.raises(MotorFault, match="RMT"):
        rig.motor.enable()
    with pytest.raises(MotorFault, match="RMT"):
        rig.motor.move(1, 10)


# ----- direction ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dir_invert", [False, True])
def test_direction_levels_and_setup_time(kind, dir_invert):
    rig = Rig(kind, config(dir_=(3, dir_invert)))
    forward = 0 if dir_invert else 1
    assert rig.world.pins[3].level == forward  # forward at power-up
    rig.motor.enable()
    rig.motor.set_direction(False)
    changed = rig.world.history(3)[-1]
    assert changed[1] == 1 - forward
    rig.motor.move(1, 10)
    rig.run_to_end(poll_ms=5)
    assert rig.rises()[0] - changed[0] >= 1 * US  # >= DRV8825's 650 ns DIR setup


def test_the_fakes_refuse_what_would_hang_real_hardware():
    world, machine, time, rp2, esp32 = make_world()
    PioStepper(config(), 0, machine, rp2, time)
    with pytest.raises(FakeHardwareError):
        rp2.machines[0].get()  # an empty RX FIFO: sm.get() would block forever
    channel = esp32.RMT(1, pin=machine.Pin(30, machine.Pin.OUT), resolution_hz=1_000_000)
    with pytest.raises(FakeHardwareError):
        channel.write_pulses([32768], [1])  # beyond RMT.PULSE_MAX


# ----- inside real MicroPython ------------------------------------------------------

VM_SCRIPT = """
import gc
from basalt.core.board_file import load_board
from basalt.drivers.stepper_esp32 import RmtStepper
from basalt.drivers.stepper_rp2 import PioStepper

NOW = [0]
LEVELS = {}


class T:
    @staticmethod
    def ticks_us():
        return NOW[0] & 0x3FFFFFFF

    @staticmethod
    def ticks_diff(a, b):
        return ((a - b + 0x20000000) & 0x3FFFFFFF) - 0x20000000

    @staticmethod
    def ticks_add(a, d):
        return (a + d) & 0x3FFFFFFF

    @staticmethod
    def sleep_us(us):
        NOW[0] += us


class Pin:
    OUT = 1
    PULL_UP = 1
    PULL_DOWN = 2

    def __init__(self, n, mode=-1, pull=-1, *, value=None):
        self.n = n
        if value is not None:
            LEVELS[n] = value

    def value(self, v):
        LEVELS[self.n] = v


class M:
    Pin = Pin


class Emit:  # records instructions; the decorator below works like rp2.asm_pio
    def __init__(self):
        self.prog = []
        self.labels = {}

    def add(self, *a):
        self.prog.append([a[0], None, 0])
        return self

    def side(self, v):
        self.prog[-1][1] = v
        return self

    def __getitem__(self, d):
        self.prog[-1][2] = d
        return self


class PIO:
    OUT_LOW = 2
    OUT_HIGH = 3
    SHIFT_RIGHT = 1


def asm_pio(**kw):
    def dec(f):
        for _ in range(2):
            e = Emit()
            gl = f.__globals__
            old = gl.copy()
            gl.clear()
            for name in ("x", "y", "isr", "osr", "null", "not_x", "x_dec", "y_dec",
                         "noblock", "block"):
                gl[name] = name
            gl["invert"] = lambda s: s
            gl["label"] = lambda n: e.labels.__setitem__(n, len(e.prog))
            gl["wrap_target"] = lambda: None
            gl["wrap"] = lambda: None
            for op in ("pull", "push", "mov", "jmp", "in_"):
                gl[op] = (lambda op: lambda *a: e.add(op, *a))(op)
            f()
            gl.clear()
            gl.update(old)
        return e
    return dec


class SM:
    def __init__(self, i, prog, freq, sideset_base):
        self.prog = prog
        self.rx = []

    def active(self, v=None):
        pass

    def put(self, v):
        pass

    def tx_fifo(self):
        return 0

    def rx_fifo(self):
        return len(self.rx)

    def get(self):
        return self.rx.pop(0)


class RP2:
    PIO = PIO
    asm_pio = staticmethod(asm_pio)
    asm_pio_encode = staticmethod(lambda s, n: 0)
    StateMachine = SM


class RMT:
    def __init__(self, ch, pin, resolution_hz, idle_level):
        self.end = 0
        self.edges = 0

    def wait_done(self, timeout=0):
        return NOW[0] >= self.end

    def write_pulses(self, d, lv):
        NOW[0] = max(NOW[0], self.end)
        t = 0
        i = 0
        while i < len(d):
            t += d[i]
            self.edges += lv[i]
            i += 1
        self.end = NOW[0] + t


class E32:
    RMT = RMT


pio = PioStepper(load_board(PICO).motor, 0, M, RP2, T)
prog = pio._sm.prog
print("pio", len(prog.prog), sorted(prog.labels), [p[2] for p in prog.prog].index(2),
      "".join(str(p[1]) for p in prog.prog))
pio.enable()
pio.move(10, 100)
pio._sm.rx.extend([9, 8, 7])  # progress words: steps still to issue
gc.collect()
gc.disable()
a = gc.mem_alloc()
pio.poll()
print("pio poll bytes", gc.mem_alloc() - a, pio.steps_done())
gc.enable()

m = RmtStepper(load_board(ESP).motor, 0, M, E32, T)
m.enable()
m.move(2000, 1000)
gc.collect()
gc.disable()
allocs = []
while m.busy():
    NOW[0] += 250000
    a = gc.mem_alloc()
    m.poll()
    allocs.append(gc.mem_alloc() - a)
gc.enable()
print("rmt", m._rmt.edges, m.steps_done(), allocs)
"""


def test_drivers_run_in_micropython_without_allocating_per_poll():
    """The same driver code in the MicroPython 1.29 VM (tiny inline fakes): the PIO
    program assembles the way rp2.asm_pio runs it, and polls allocate nothing."""
    from tools.mpvm import missing_requirements, run_micropython_code

    missing = missing_requirements()
    if missing:
        pytest.fail("MicroPython VM not available: " + missing, pytrace=False)
    boards = "PICO = %r\nESP = %r\n" % (board_spec(ROOT / "boards" / "pico_w.py"),
                                      board_spec(ROOT / "boards" / "esp32_devkitc.py"))
    out = run_micropython_code(boards + VM_SCRIPT, lib_dirs=[ROOT / "firmware" / "basalt"])
    assert out.splitlines() == [
        # 15 instructions; the 2-cycle delay on the falling edge (instruction 8); STEP is
        # side-set high (1) on the 5 instructions from the rising edge to the hold loop.
        "pio 15 ['done', 'gap', 'high', 'hold', 'idle'] 8 000111110000000",
        "pio poll bytes 0 3",  # progress words read back: 10 - 7 = 3 steps issued
        "rmt 2000 2000 [0, 0, 0, 0]",
    ]


# ----- board files --------------------------------------------------------------------

def board_spec(path):
    return boardfiles.board_spec(path.stem)  # a fresh dict each time


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.stem)
def test_every_board_file_loads(path):
    board = load_board(board_spec(path))
    assert board.name == board_spec(path)["name"]
    assert board.ustep_volume_pl > 0


def _set(spec, dotted, value):
    *parents, leaf = dotted.split(".")
    node = spec
    for key in parents:
        node = node[key]
    if isinstance(node.get(leaf), dict) and "pin" in node[leaf]:
        node[leaf]["pin"] = value
        return dotted + ".pin"
    node[leaf] = value
    return dotted


BAD_VALUES = [
    ("colour", "red"),  # unknown keys, at every level
    ("motor.colour", "red"),
    ("syringe.colour", "red"),
    ("drive.colour", "red"),
    ("motor.max_step_hz", 60_000),  # out of range
    ("motor.max_step_hz", 99),
    ("drive.lead_mm", 25),
    ("drive.microsteps", 3),
    ("syringe.capacity_ml", 100),
    ("motor.step", 99),
    ("motor.enable", -1),
    ("motor.driver", "l298"),
]


@pytest.mark.parametrize("path", BOARD_FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("dotted,value", BAD_VALUES)
def test_board_files_with_a_bad_key_or_value_are_refused(path, dotted, value):
    spec = board_spec(path)
    field = _set(spec, dotted, value)
    with pytest.raises(ConfigError) as err:
        load_board(spec)
    assert err.value.field == field
    assert field in str(err.value)


PERIPHERAL_COMMENT = re.compile(r"^# (\d+) = ", re.M)


@pytest.mark.parametrize("name", ["pico_w", "esp32_devkitc"])
def test_board_pin_comments_match_the_configured_peripherals(name):
    path = ROOT / "boards" / (name + ".py")
    commented = [int(n) for n in PERIPHERAL_COMMENT.findall(path.read_text())]
    board = load_board(board_spec(path))
    sections = (board.display, board.buttons, board.force, board.buzzer, board.battery)
    configured = [pin.number for section in sections for pin in section.pins()]
    assert len(configured) == 10  # OLED 2, buttons 4, HX711 2, buzzer, battery
    assert sorted(commented) == sorted(configured)


def test_pico_w_board():
    board = load_board(board_spec(ROOT / "boards" / "pico_w.py"))
    motor = board.motor
    assert (board.mcu, motor.driver, motor.microsteps) == ("rp2040", "tmc2209", 16)
    assert motor.microstep_levels == (1, 1) and len(motor.microstep_pins) == 2
    assert motor.enable.invert and board.ustep_volume_pl == 14_473
    # I2C0 default pins and the radio's pins stay off the motor.
    assert not {2, 3, 6, 7, 8} & {4, 5, 23, 24, 25, 29}


def test_esp32_devkitc_board():
    board = load_board(board_spec(ROOT / "boards" / "esp32_devkitc.py"))
    motor = board.motor
    assert (board.mcu, motor.driver, motor.microsteps) == ("esp32", "drv8825", 16)
    assert motor.microstep_levels == (0, 0, 1) and len(motor.microstep_pins) == 3
    assert motor.enable.invert and board.ustep_volume_pl == 14_473
    avoid = {0, 2, 5, 12, 15} | set(range(6, 12)) | {1, 3, 16, 17, 21, 22}
    pins = {motor.step.number, motor.direction.number, motor.enable.number}
    assert not (pins | {p.number for p in motor.microstep_pins}) & avoid


# ----- hardware/README.md tables ------------------------------------------------------

MS_NAMES = {"tmc2209": ("MS1", "MS2"), "a4988": ("MS1", "MS2", "MS3"),
            "drv8825": ("MODE0", "MODE1", "MODE2")}
EN_NAMES = {"tmc2209": "EN", "a4988": "ENABLE", "drv8825": "nENBL"}


GPIO_NAMES = {"rp2040": "GP%d", "esp32": "GPIO%d", "host": "%d"}


def wiring_table(path):
    """The stepper wiring of one board file, as the Markdown table in hardware/README.md."""
    board = load_board(board_spec(path))
    m = board.motor
    driver = m.driver
    gpio = GPIO_NAMES[board.mcu]
    rows = [
        (m.step, "STEP", "one pulse per microstep, active %s"
         % ("low" if m.step.invert else "high")),
        (m.direction, "DIR", "%s = forward (delivering)"
         % ("low" if m.direction.invert else "high")),
        (m.enable, EN_NAMES[driver],
         "%s = driver enabled; a 10 kΩ pull-%s holds it off until the firmware runs"
         % (("low", "up to 3V3") if m.enable.invert else ("high", "down to GND"))),
    ]
    for pin, name, level in zip(m.microstep_pins, MS_NAMES[driver], m.microstep_levels):
        rows.append((pin, name, "%s (1/%d)" % ("high" if pin.level(level) else "low",
                                               m.microsteps)))
    lines = [
        "`boards/%s`: %s, %s, 1/%d microstepping, at most %d microsteps/s"
        % (path.name, board.mcu.upper(), driver.upper(), m.microsteps, m.max_step_hz),
        "",
        "| board pin | driver pin | signal |",
        "|---|---|---|",
    ]
    lines += ["| %s | %s | %s |" % (gpio % pin.number, name, what) for pin, name, what in rows]
    return "\n".join(lines)


@pytest.mark.parametrize("name", ["pico_w", "esp32_devkitc"])
def test_hardware_readme_tables_match_the_board_files(name):
    readme = (ROOT / "hardware" / "README.md").read_text()
    assert wiring_table(ROOT / "boards" / (name + ".py")) in readme


if __name__ == "__main__":  # print the tables for hardware/README.md
    for name in ("pico_w", "esp32_devkitc"):
        print(wiring_table(ROOT / "boards" / (name + ".py")))
        print()
