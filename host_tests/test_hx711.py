"""HX711 and FSR force-sensor adapters against fakes that model the hardware's contract.

Hx711Chip models the HX711's serial interface on tools/fake_mcu.py's virtual clock, from the
Avia datasheet: a conversion every period, DOUT low when one is ready, one bit per
PD_SCK rising edge (MSB first), the 25th pulse pulls DOUT high, 25/26/27 pulses select
the gain of the next conversion, PD_SCK high over 60 us powers it down and resets it to
channel A gain 128. It refuses what would corrupt a real read: a pulse high for more
than 50 us (T3) or with interrupts enabled, a pulse shorter than 0.2 us (T3/T4), a
clock pulse while no conversion is ready, more than 27 pulses, a read left half done.
"""


import pytest
from hypothesis import given
from hypothesis import strategies as st

from basalt.core.board_file import Pin, load_board
from basalt.core.errors import ConfigError, SensorFault
from basalt.core.forcecal import counts_to_mn
from basalt.drivers.fsr import FsrSensor
from basalt.drivers.hx711 import HX711
from tools.fake_mcu import FakeHardwareError, make_world

US = 1_000  # ns
DOUT, SCK = 14, 15
PULSES_GAIN = {25: "A128", 26: "B32", 27: "A64"}


class Hx711Chip:
    """The HX711's side of the wire. values(gain_pulses, n) gives conversion n's 24 bits."""

    def __init__(self, world, machine, values, period_us=100_000, mode="ok"):
        self.world = world
        self.values = values
        self.period_ns = period_us * US
        self.mode = mode  # "ok", "dead" (DOUT stuck high), "stuck_low" (DOUT stuck low)
        self.gain = 25  # power-on default: channel A, gain 128
        self.conversions = []  # gain pulses each conversion was made with
        self.reads = []  # pulses clocked in each read
        self.word = None
        self.pulses = 0
        self.rose_ns = None
        self.fell_ns = None
        self.ready_ns = None
        self.next_ns = world.now_ns + self.period_ns
        self.powered_down = 0
        self.irq_off = 0
        world.devices.append(self)
        machine.disable_irq = self._disable_irq
        machine.enable_irq = self._enable_irq
        original = world.set_level

        def set_level(gpio, level, t_ns=None):
            before = world.pins[gpio].level
            original(gpio, level, t_ns)
            if gpio == SCK and before is not None and int(level) != before:
                self._edge(int(level))

        self._set = original
        world.set_level = set_level
        self._dout(1)

    def _disable_irq(self):
        self.irq_off += 1
        return 0xA5

    def _enable_irq(self, state):
        if state != 0xA5 or not self.irq_off:
            raise FakeHardwareError("enable_irq without a matching disable_irq")
        self.irq_off -= 1

    def _dout(self, level):
        if self.mode == "dead":
            level = 1
        elif self.mode == "stuck_low":
            level = 0
        if DOUT in self.world.pins:
            self._set(DOUT, level)

    # ----- time -----------------------------------------------------------------------

    def run_until(self, t_ns):
        if self.world.pins[SCK].level and t_ns - self.rose_ns > 60 * US:
            return  # powered down while PD_SCK stays high
        while self.next_ns <= t_ns:
            if 0 < self.pulses < 25:
                raise FakeHardwareError("a conversion arrived during a half-done read")
            if self.pulses:
                self.reads.append(self.pulses)
                self.gain = self.pulses
            self.pulses = 0
            self.conversions.append(self.gain)
            self.word = self.values(self.gain, len(self.conversions) - 1) & 0xFFFFFF
            self.ready_ns = self.next_ns
            self.next_ns += self.period_ns
            self._dout(0)

    # ----- the clock line ----------------------------------------------------------------

    def _edge(self, level):
        now = self.world.now_ns
        if level:  # judged at the falling edge: a long high is a power-down, not a pulse
            self.rose_ns = now
            self.low_ns = None if self.fell_ns is None else now - self.fell_ns
            self.irq_at_rise = self.irq_off
            self.before = self.pulses
            late = self.low_ns is not None and self.low_ns > 50 * US
            if self.word is not None and self.pulses < 27 and not (
                    self.pulses >= 25 and late):
                self.pulses += 1
                self._dout((self.word >> (24 - self.pulses)) & 1 if self.pulses <= 24 else 1)
            return
        high = now - self.rose_ns
        self.fell_ns = now
        if high > 60 * US and self.before in (0, 25, 26, 27):
            # It powered down 60 us after the rise; back low, it resets.
            self.powered_down += 1
            self.gain = 25
            self.pulses = 0
            self.word = None
            self.next_ns = now + 4 * self.period_ns  # settling after reset
            return
        if self.pulses == self.before:
            raise FakeHardwareError("PD_SCK pulse %d with no conversion to read"
                                    % (self.before + 1))
        if high > 50 * US:
            raise FakeHardwareError("PD_SCK high for %d ns during a read (T3 max 50 us)"
                                    % high)
        if high < 200 or (self.low_ns is not None and self.low_ns < 200):
            raise FakeHardwareError("PD_SCK high %d ns / low %r ns (T3, T4 min 200 ns)"
                                    % (high, self.low_ns))
        if not (self.irq_at_rise and self.irq_off):
            raise FakeHardwareError("PD_SCK pulse with interrupts enabled")
        if self.before == 0 and self.rose_ns - self.ready_ns < 100:
            raise FakeHardwareError("PD_SCK rose %d ns after DOUT fell (T1 min 100 ns)"
                                    % (self.rose_ns - self.ready_ns))


def rig(values, gain=128, rate_sps=10, mode="ok", calibration=None):
    world, machine, time, _, _ = make_world()
    sensor = HX711(Pin(DOUT, pull="up"), Pin(SCK), calibration, gain, rate_sps, machine, time)
    chip = Hx711Chip(world, machine, values, 1_000_000 // rate_sps, mode)
    return world, sensor, chip


def constant(raw):
    return lambda gain, n: raw


# ----- reading ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw, expected", [
    (0x000000, 0), (0x000001, 1), (0xFFFFFF, -1), (0x7FFFFE, 8_388_606),
    (0x800001, -8_388_607), (0x123456, 0x123456), (0xEDCBAA, -0x123456),
])
def test_reads_24_bit_twos_complement(raw, expected):
    _, sensor, _ = rig(constant(raw))
    assert sensor.read_raw() == expected


@given(st.integers(-(1 << 23) + 1, (1 << 23) - 2))
def test_every_unsaturated_value_reads_back_exactly(value):
    _, sensor, _ = rig(constant(value & 0xFFFFFF))
    assert sensor.read_raw() == value


@pytest.mark.parametrize("raw", [0x7FFFFF, 0x800000])
def test_saturation_is_a_sensor_fault_never_a_force(raw):
    _, sensor, _ = rig(constant(raw))
    with pytest.raises(SensorFault) as caught:
        sensor.read_raw()
    assert caught.value.reason == "saturated"
    assert "0x%06X" % raw in str(caught.value)


@pytest.mark.parametrize("gain, pulses", [(128, 25), (64, 27), (32, 26)])
def test_gain_pulses_and_the_first_conversion_is_discarded(gain, pulses):
    # Conversions made at the power-on gain read 1000, at the chosen gain 2000 + pulses.
    world, sensor, chip = rig(lambda g, n: 1000 if g == 25 and pulses != 25 else 2000 + g,
                              gain=gain)
    assert [sensor.read_raw() for _ in range(3)] == [2000 + pulses] * 3
    world.advance_us(100_000)  # let the chip book the last read
    assert chip.reads == [pulses] * (4 if pulses != 25 else 3)


def test_pulse_timing_is_inside_the_datasheet_limits():
    world, sensor, chip = rig(constant(0x0ABCDE))
    for _ in range(5):
        sensor.read_raw()
    highs = []
    rise = None
    for t, level in world.history(SCK):
        if level:
            rise = t
        elif rise is not None:
            highs.append(t - rise)
    assert len(highs) == 5 * 25
    assert all(200 <= h <= 50 * US for h in highs)
    assert chip.irq_off == 0  # every disable_irq was matched


def test_waits_for_data_ready_within_one_period():
    world, sensor, _ = rig(constant(42))
    sensor.read_raw()
    started = world.now_ns
    sensor.read_raw()  # the next conversion comes one period (100 ms) after the last
    waited = world.now_ns - started
    assert 90_000 * US <= waited <= 101_000 * US


def test_no_answer_is_a_timeout_fault_after_a_bounded_wait():
    world, sensor, _ = rig(constant(42), mode="dead")
    started = world.now_ns
    with pytest.raises(SensorFault) as caught:
        sensor.read_raw()
    assert caught.value.reason == "timeout"
    waited_ms = (world.now_ns - started) / 1e6
    assert 400 <= waited_ms <= 420  # first read: four periods of settling, then it gives up
    started = world.now_ns
    with pytest.raises(SensorFault):
        sensor.read_raw()
    assert 150 <= (world.now_ns - started) / 1e6 <= 152  # later: 1.5 periods


def test_dout_stuck_low_is_caught_after_the_25th_pulse():
    world, machine, time, _, _ = make_world()
    sensor = HX711(Pin(DOUT), Pin(SCK), machine=machine, time=time)
    chip = Hx711Chip(world, machine, constant(5), mode="stuck_low")
    chip.word = 5  # the chip believes a conversion is waiting
    chip.ready_ns = -1000
    with pytest.raises(SensorFault) as caught:
        sensor.read_raw()
    assert caught.value.reason == "no answer"


def test_power_down_and_up_reset_the_chip_and_reapply_the_gain():
    world, sensor, chip = rig(lambda g, n: 7 if g == 25 else 9, gain=64)
    assert sensor.read_raw() == 9
    sensor.power_down()
    assert world.level_at(SCK, world.now_ns) == 1
    world.advance_us(100)
    sensor.power_up()  # PD_SCK low: the chip resets to channel A, gain 128
    assert chip.gain == 25 and chip.powered_down == 1
    assert sensor.read_raw() == 9  # the gain-128 conversion was discarded
    world.advance_us(100_000)
    assert chip.reads[-2:] == [27, 27]


def test_inverted_wiring_and_calibration_give_millinewtons():
    cal = {"tare_counts": 1_000, "counts_per_n": 28_000}
    _, sensor, _ = rig(constant(1_000 + 28_000 * 3 // 2), calibration=cal)
    assert sensor.read_mn() == 1_500
    assert counts_to_mn(cal, 1_000 - 14_000) == -500


def test_board_files_build_the_sensor_from_their_pins():
    from boards import pico_w

    board = load_board(pico_w.BOARD)
    assert board.force.kind == "hx711"
    world, machine, time, _, _ = make_world()
    sensor = HX711(board.force.dout, board.force.sck, machine=machine, time=time)
    assert world.pins[board.force.sck.number].mode == machine.Pin.OUT
    assert world.pins[board.force.sck.number].level == 0  # low: the chip stays powered
    assert world.pins[board.force.dout.number].mode == machine.Pin.IN
    assert sensor.timeout_us == 150_000


@pytest.mark.parametrize("kwargs, message", [
    ({"gain": 100}, "gain: 100"), ({"rate_sps": 20}, "rate_sps: 20"),
])
def test_bad_driver_arguments_are_refused(kwargs, message):
    world, machine, time, _, _ = make_world()
    with pytest.raises(ValueError, match=message):
        HX711(Pin(DOUT), Pin(SCK), machine=machine, time=time, **kwargs)
    assert not world.pins  # nothing was touched


def test_bad_calibration_is_refused_by_key():
    world, machine, time, _, _ = make_world()
    with pytest.raises(ConfigError, match="force_calibration.counts_per_n"):
        HX711(Pin(DOUT), Pin(SCK), {"tare_counts": 0, "counts_per_n": 0}, machine=machine,
              time=time)


# ----- FSR --------------------------------------------------------------------------------


class FakeAdcMachine:
    """machine.Pin and machine.ADC with read_u16() from a list (the last value repeats)."""

    def __init__(self, values):
        self.values = list(values)
        self.reads = 0
        outer = self

        class Pin:
            def __init__(self, number):
                self.number = number

        class ADC:
            def __init__(self, pin):
                if not isinstance(pin, Pin):
                    raise FakeHardwareError("ADC wants a machine.Pin")
                self.pin = pin

            def read_u16(self):
                outer.reads += 1
                return outer.values.pop(0) if len(outer.values) > 1 else outer.values[0]

        self.Pin = Pin
        self.ADC = ADC


@pytest.mark.parametrize("u16, counts", [
    (32768, 4096), (16384, 1365), (49152, 12288), (657, 41), (64511, 257_792),
])
def test_fsr_linearises_the_divider(u16, counts):
    sensor = FsrSensor(Pin(27), samples=1, machine=FakeAdcMachine([u16]))
    assert sensor.read_raw() == counts


def test_fsr_averages_its_samples():
    machine = FakeAdcMachine([30_000, 34_000, 32_000, 35_072] * 2)
    sensor = FsrSensor(Pin(27), samples=4, machine=machine)
    assert sensor.read_raw() == 32768 * 4096 // 32768
    assert machine.reads == 4


@pytest.mark.parametrize("u16, reason", [(65535, "saturated"), (64512, "saturated"),
                                         (0, "open"), (656, "open")])
def test_fsr_faults_are_never_a_force(u16, reason):
    sensor = FsrSensor(Pin(27), machine=FakeAdcMachine([u16]))
    with pytest.raises(SensorFault) as caught:
        sensor.read_mn()
    assert caught.value.reason == reason


def test_fsr_board_section_and_calibration():
    machine = FakeAdcMachine([32768])
    sensor = FsrSensor(Pin(27), {"tare_counts": 96, "counts_per_n": 400}, 1, machine)
    assert sensor.read_mn() == (4096 - 96) * 1000 // 400
    with pytest.raises(ValueError, match="samples"):
        FsrSensor(Pin(27), samples=0, machine=machine)
