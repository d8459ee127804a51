"""HX711 load-cell ADC, bit-banged on two GPIOs (DOUT in, PD_SCK out): a ForceSensor.

Timing and format from the Avia Semiconductor HX711 datasheet (pages 4-5):
- DOUT high = no conversion ready; DOUT low = ready. 24 PD_SCK pulses shift the
  conversion out MSB first (each rising edge presents the next bit within T2 = 0.1 us);
  the 25th pulse pulls DOUT high again. 25, 26 or 27 pulses in all select channel A
  gain 128, channel B gain 32 or channel A gain 64 for the NEXT conversion; fewer than
  25 or more than 27 in one conversion period is a communication error.
- PD_SCK high time T3: 0.2 us min, 1 us typical, 50 us max; low time T4: 0.2 us min.
  PD_SCK held high for more than 60 us powers the chip down; back low, it resets to
  channel A, gain 128.
- Output: 24-bit two's complement; outside the input range it saturates at 0x800000
  (minimum) or 0x7FFFFF (maximum). Output data rate 10 SPS (RATE low) or 80 SPS.

A pulse's high phase runs with interrupts disabled, so no IRQ or scheduler can stretch
it past 60 us and power the chip down mid-read. MicroPython only: the machine and time
modules are passed in by tests and imported in the constructor otherwise.

The delivery tick never waits for the chip: read_raw_now() takes the conversion poll()
captured (poll() runs from run(), a task: it clocks a ready conversion out in slices of
SLICE_PULSES pulses, a small fraction of a millisecond each, and does nothing while
DOUT is high), or clocks the rest of one the task began, or says there is none.
read_raw() waits for one (calibration, the self-test: not the tick). On the RP2040, HX711Pio
(basalt.drivers.hx711_rp2) lets a PIO state machine clock conversions into its FIFO.
"""

from basalt.core.errors import SensorFault
from basalt.core.forcecal import counts_to_mn, load_force_calibration, nominal
from basalt.drivers.stepdir import hw_module
from basalt.ports import ForceSensor

try:
    from micropython import const
except ImportError:  # CPython (host tests)

    def const(value):
        return value


_PULSE_US = const(1)  # T3/T4: typical 1 us, well inside 0.2 us min and 50 us max
_POWER_DOWN_US = const(80)  # more than the 60 us that powers the chip down
_POLL_US = const(500)  # DOUT poll interval while waiting for a conversion
SLICE_PULSES = const(9)  # pulses per poll(): three slices clock out a conversion
_POLL_MS = const(10)  # run(): DOUT looked at this often, so a read starts early
_ALL = const(27)
_SIGN = const(0x800000)
_MASK = const(0xFFFFFF)
_SAT_HIGH = const(0x7FFFFF)
_SAT_LOW = const(0x800000)

# Pulses per read for each gain (datasheet Table 3), channel A unless noted.
GAIN_PULSES = {128: 25, 64: 27, 32: 26}  # 32 is channel B
RATES_SPS = (10, 80)


class HX711(ForceSensor):
    """ForceSensor on an HX711. dout and sck are the board's Pin specs (board.force)."""

    def __init__(self, dout, sck, calibration=None, gain=128, rate_sps=10, machine=None,
                 time=None):
        if gain not in GAIN_PULSES:
            raise ValueError("gain: %r is not allowed; allowed: 128, 64 (channel A) or 32 "
                             "(channel B)" % (gain,))
        if rate_sps not in RATES_SPS:
            raise ValueError("rate_sps: %r is not allowed; allowed: 10 or 80" % (rate_sps,))
        machine = hw_module(machine, "machine")
        self._machine = machine
        self._time = hw_module(time, "time")
        self.calibration = load_force_calibration(calibration or nominal("hx711"))
        self._pulses = GAIN_PULSES[gain]
        # A conversion period plus margin; after power-up the first conversion takes
        # four periods to settle (datasheet: 400 ms at 10 SPS, 50 ms at 80 SPS).
        self._period_us = 1_000_000 // rate_sps
        self.timeout_us = self._period_us + self._period_us // 2
        self._sck_hi = sck.level(True)
        self._sck_lo = sck.level(False)
        pin = machine.Pin
        # PD_SCK low first: high for over 60 us would power the chip down.
        self._sck = pin(sck.number, pin.OUT, value=self._sck_lo)
        pull = {"up": pin.PULL_UP, "down": pin.PULL_DOWN}.get(dout.pull)
        self._dout = pin(dout.number, pin.IN, pull)
        self._ready_level = dout.level(False)  # DOUT low (electrically) = data ready
        self._stale = gain != 128  # the first conversion after reset is channel A, 128
        self._wait_us = 4 * self._period_us  # settling after power-up
        self._pulse = 0  # pulses of the read under way (0: none)
        self._word = 0
        self._fresh = None  # a conversion clocked out and not yet taken (or its fault)
        self._polled = False  # a reading task polls: the tick need never wait

    def ready(self):
        """True when a conversion is waiting (DOUT low); never blocks."""
        return self._dout.value() == self._ready_level

    def read_raw(self):
        """One conversion as a signed int, waiting for it; SensorFault on timeout or
        saturation."""
        while self._fresh is None:  # twice after a reset: that conversion is discarded
            if not self._pulse:
                self._await_ready()
            self._slice(_ALL)
        return self._take()

    def read_raw_now(self):
        """The conversion poll() captured (or the rest of one it began: a read must end
        before the chip's next conversion); never waits for DOUT and never starts a
        read. SensorFault "timeout" when there is none since the last reading. Where
        nothing polls (a host stepping the app without the reading task), read_raw()."""
        if not self._polled:
            return self.read_raw()
        if self._fresh is None and self._pulse:
            self._slice(_ALL)
        if self._fresh is None:
            raise SensorFault("timeout", "HX711: no conversion since the last reading")
        return self._take()

    def read_mn_now(self):
        return counts_to_mn(self.calibration, self.read_raw_now())

    def poll(self):
        """Never waits: clocks out the next slice of a ready conversion. True once one
        is captured for read_raw_now()."""
        self._polled = True
        if self._fresh is not None or not (self._pulse or self.ready()):
            return False
        return self._slice(SLICE_PULSES)

    async def run(self, clock):
        """The reading task: DOUT every _POLL_MS; a read under way, slice after slice."""
        while True:
            self.poll()
            await clock.sleep_ms(0 if self._pulse else _POLL_MS)

    def power_down(self):
        self._sck.value(self._sck_hi)
        self._time.sleep_us(_POWER_DOWN_US)

    def power_up(self):
        self._sck.value(self._sck_lo)  # the chip resets to channel A, gain 128
        self._stale = self._pulses != 25
        self._wait_us = 4 * self._period_us
        self._pulse = 0
        self._fresh = None

    def _take(self):
        value = self._fresh
        self._fresh = None
        if isinstance(value, SensorFault):
            raise value
        return _check(value)

    # ----- the wire -------------------------------------------------------------------

    def _await_ready(self):
        waited = 0
        limit = max(self.timeout_us, self._wait_us)
        self._wait_us = 0  # settling is waited for once, answer or not
        while not self.ready():
            if waited >= limit:
                raise SensorFault("timeout", "HX711 DOUT stayed high for %d ms (no "
                                  "conversion ready)" % (waited // 1000))
            self._time.sleep_us(_POLL_US)
            waited += _POLL_US

    def _slice(self, count):
        """Up to `count` more pulses of the read (the gain pulses always with the last
        data bit); True when the conversion is in _fresh."""
        sck, dout, sleep_us = self._sck, self._dout, self._time.sleep_us
        hi, lo, one = self._sck_hi, self._sck_lo, 1 - self._ready_level
        machine = self._machine
        i = self._pulse
        if i == 0:
            self._word = 0
            sleep_us(_PULSE_US)  # T1: DOUT falling edge to the first PD_SCK rise
        end = i + count
        if end >= 24:
            end = self._pulses
        value = self._word
        while i < end:
            state = machine.disable_irq()
            sck.value(hi)
            sleep_us(_PULSE_US)
            sck.value(lo)
            machine.enable_irq(state)
            if i < 24:
                value = (value << 1) | (1 if dout.value() == one else 0)
            sleep_us(_PULSE_US)
            i += 1
        self._word = value
        self._pulse = i if i < self._pulses else 0
        if self._pulse:
            return False
        if dout.value() != one:  # the 25th pulse must have pulled DOUT high again
            self._fresh = SensorFault("no answer", "HX711 DOUT stayed low after the read "
                                      "(wiring or chip fault)")
        elif self._stale:  # the gain pulses of this read apply to the next conversion
            self._stale = False
            return False
        else:
            self._fresh = value
        return True


def _check(value):
    """Saturation is a fault (the force is off the scale); else sign-extend 24 bits."""
    if value == _SAT_HIGH or value == _SAT_LOW:
        raise SensorFault("saturated", "HX711 reads 0x%06X, the end of its range" % value)
    value &= _MASK
    return value - (1 << 24) if value & _SIGN else value
