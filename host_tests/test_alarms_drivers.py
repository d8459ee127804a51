"""The PWM buzzer and ADC battery drivers against fake machine.PWM / machine.ADC that
enforce the MicroPython API ranges (freq, duty_u16 0-65535, read_u16 0-65535)."""

import pytest

from basalt.core.alarms import HIGH, LOW, MEDIUM, PATTERNS
from basalt.core.board_file import Pin, Section
from basalt.core.errors import InvalidValue
from basalt.drivers.battery import AdcBattery
from basalt.drivers.buzzer import PwmBuzzer
from tools.fakes import VirtualClock


class FakePwm:
    def __init__(self, pin):
        self.pin = pin
        self.frequency = None
        self.duty = None
        self.log = []  # (what, value)

    def freq(self, hz):
        if not isinstance(hz, int) or not 8 <= hz <= 62_500_000:
            raise ValueError("freq out of range: %r" % (hz,))
        self.frequency = hz
        self.log.append(("freq", hz))

    def duty_u16(self, duty):
        if not isinstance(duty, int) or not 0 <= duty <= 65535:
            raise ValueError("duty_u16 out of range: %r" % (duty,))
        self.duty = duty
        self.log.append(("duty", duty))


class FakeAdc:
    def __init__(self, pin, raw=30_000, uv=None):
        self.pin = pin
        self.raw = raw
        self.uv = uv
        self.attenuation = None

    def read_u16(self):
        value = self.raw() if callable(self.raw) else self.raw
        if not 0 <= value <= 65535:
            raise AssertionError("a real ADC never returns %r" % value)
        return value

    def atten(self, value):
        self.attenuation = value


class FakeMachine:
    """machine with Pin, PWM and ADC; `esp32=True` adds ATTN_11DB and read_uv()."""

    def __init__(self, esp32=False):
        self.pwms = []
        self.adcs = []
        machine = self

        class Pin:
            OUT = 1

            def __init__(self, number, mode=None):
                self.number = number

        class PWM(FakePwm):
            def __init__(self, pin):
                super().__init__(pin)
                machine.pwms.append(self)

        class ADC(FakeAdc):
            def __init__(self, pin):
                super().__init__(pin)
                machine.adcs.append(self)

        if esp32:
            ADC.ATTN_11DB = 3

            def read_uv(self):
                return self.uv

            ADC.read_uv = read_uv
        self.Pin, self.PWM, self.ADC = Pin, PWM, ADC


# ----- buzzer ---------------------------------------------------------------------------

def tones(buzzer, pwm, start, end, step=1):
    """The (frequency, duty) the PWM outputs at each ms from start to end."""
    out = []
    for t in range(start, end, step):
        buzzer.step(t)
        out.append((pwm.frequency, pwm.duty))
    return out


def test_silent_from_construction():
    machine = FakeMachine()
    PwmBuzzer(Pin(16), machine)
    assert machine.pwms[0].duty == 0 and machine.pwms[0].pin.number == 16


@pytest.mark.parametrize("priority", [HIGH, MEDIUM, LOW])
@pytest.mark.parametrize("level", [0, 1])
def test_each_pattern_is_played_note_for_note_and_repeats(priority, level):
    machine = FakeMachine()
    buzzer = PwmBuzzer(Pin(16), machine)
    pwm = machine.pwms[0]
    pattern = PATTERNS[priority][level]
    volume, repeat_ms, notes = pattern
    buzzer.play(pattern)
    heard = tones(buzzer, pwm, 1_000, 1_000 + 2 * repeat_ms, 5)
    expected = []
    for t in range(0, 2 * repeat_ms, 5):
        t %= repeat_ms
        sound = (None, 0)
        for freq, on_ms, off_ms in notes:
            if t < on_ms:
                sound = (freq, volume * 32768 // 1000)
                break
            t -= on_ms + off_ms
            if t < 0:
                break
        expected.append(sound)
    assert [duty for _, duty in heard] == [duty for _, duty in expected]
    assert {f for f, d in heard if d} == {notes[0][0]}


def test_step_says_when_the_output_changes_next_and_writes_only_changes():
    machine = FakeMachine()
    buzzer = PwmBuzzer(Pin(16), machine)
    pwm = machine.pwms[0]
    buzzer.play(PATTERNS[MEDIUM][0])
    assert buzzer.step(0) == 200  # first note: 200 ms on
    assert buzzer.step(150) == 50
    writes = len(pwm.log)
    buzzer.step(160)
    assert len(pwm.log) == writes  # nothing changed, nothing written
    assert buzzer.step(200) == 150  # the gap
    buzzer.stop()
    assert pwm.duty == 0


def test_inverted_pin_is_silent_high():
    machine = FakeMachine()
    buzzer = PwmBuzzer(Pin(16, invert=True), machine)
    pwm = machine.pwms[0]
    assert pwm.duty == 65535
    buzzer.play(PATTERNS[HIGH][1])
    buzzer.step(0)
    assert pwm.duty == 65535 - 32768
    buzzer.stop()
    assert pwm.duty == 65535


def test_bad_patterns_are_refused_and_change_nothing():
    machine = FakeMachine()
    buzzer = PwmBuzzer(Pin(16), machine)
    buzzer.play(PATTERNS[LOW][0])
    with pytest.raises(InvalidValue):
        buzzer.play((500, 1000, ((50, 100, 100),)))
    buzzer.step(0)
    assert machine.pwms[0].frequency == PATTERNS[LOW][0][2][0][0]


def test_run_plays_on_the_app_clock():
    import asyncio

    machine = FakeMachine()
    buzzer = PwmBuzzer(Pin(16), machine)
    buzzer.play(PATTERNS[HIGH][0])
    class YieldingClock(VirtualClock):
        async def sleep_ms(self, ms):
            self.advance(ms)
            await asyncio.sleep(0)

    clock = YieldingClock()

    async def for_a_while():
        task = asyncio.ensure_future(buzzer.run(clock))
        for _ in range(200):
            await asyncio.sleep(0)
        task.cancel()

    asyncio.run(for_a_while())
    assert clock.now_ms() > 1_000
    assert ("freq", 3100) in machine.pwms[0].log


# ----- battery --------------------------------------------------------------------------

def battery_section(divider_milli=2_000):
    return Section({"adc": Pin(28), "divider_milli": divider_milli, "full_mv": 4_200,
                    "low_mv": 3_500, "critical_mv": 3_300})


@pytest.mark.parametrize("raw, divider, mv", [
    (32768, 2_000, 3_300),  # half scale of 3.3 V, times two
    (65534, 2_000, 6_598),
    (1, 2_000, 0),
    (49647, 1_500, 3_748),
])
def test_rp2040_battery_reads_u16_through_the_divider(raw, divider, mv):
    machine = FakeMachine()
    battery = AdcBattery(battery_section(divider), machine)
    machine.adcs[0].raw = raw
    assert battery.read_mv() == mv
    assert machine.adcs[0].pin.number == 28


def test_samples_are_averaged():
    machine = FakeMachine()
    battery = AdcBattery(battery_section(), machine)
    values = iter([30_000, 34_000] * 4)
    machine.adcs[0].raw = lambda: next(values)
    assert battery.read_mv() == 32_000 * 3300 // 65535 * 2


@pytest.mark.parametrize("raw", [0, 65535])
def test_a_rail_reading_is_a_failed_read(raw):
    machine = FakeMachine()
    battery = AdcBattery(battery_section(), machine)
    machine.adcs[0].raw = raw
    with pytest.raises(OSError, match="divider or pin broken"):
        battery.read_mv()


def test_esp32_uses_11db_attenuation_and_calibrated_microvolts():
    machine = FakeMachine(esp32=True)
    battery = AdcBattery(battery_section(), machine)
    adc = machine.adcs[0]
    assert adc.attenuation == 3
    adc.uv = 1_850_000
    assert battery.read_mv() == 3_700
    adc.uv = 0
    with pytest.raises(OSError):
        battery.read_mv()


def test_every_board_file_builds_both_drivers():
    from tools import boardfiles

    for name in boardfiles.board_names():
        board = boardfiles.load(name)
        if board.buzzer is None or board.battery is None:
            continue  # boards without them get None ports (board_main.make_*)
        machine = FakeMachine(esp32=board.mcu == "esp32")
        PwmBuzzer(board.buzzer.pin, machine)
        AdcBattery(board.battery, machine)
        assert machine.pwms[0].pin.number == board.buzzer.pin.number
        assert machine.adcs[0].pin.number == board.battery.adc.number
