"""RP2040: the HX711 clocked by a PIO state machine. MicroPython only.

The state machine waits for DOUT to signal a conversion, clocks its 24 bits in (one
PD_SCK pulse per bit, 3 us high and 3 us low at 1 MHz: inside the datasheet's 0.2-50 us),
adds the gain pulses and pushes the word into its RX FIFO; nothing of it runs in
Python. read_raw_now() drains the FIFO (the newest word wins) without ever waiting;
read_raw() waits at most as long as the bit-banged driver does. API as in
basalt.drivers.stepper_rp2: rp2.asm_pio(set_init=, in_shiftdir=), rp2.StateMachine(id,
program, freq=, set_base=, in_base=), rx_fifo/get/active.
"""

from basalt.core.errors import SensorFault
from basalt.drivers.hx711 import HX711
from basalt.drivers.stepdir import hw_module

_SM_HZ = 1_000_000  # one state-machine cycle per microsecond
_MASK = 0xFFFFFF


def _program(hi, lo, ready, extra):
    """Gain pulses after the 24 data bits: extra + 1 (25, 26 or 27 pulses in all)."""

    def hx711_reader(hi=hi, lo=lo, ready=ready, extra=extra):
        wait(ready, pin, 0)  # noqa: F821
        set(x, 23)  # noqa: F821
        label("bit")  # noqa: F821
        set(pins, hi)[1]  # noqa: F821
        in_(pins, 1)  # noqa: F821
        set(pins, lo)[1]  # noqa: F821
        jmp(x_dec, "bit")  # noqa: F821
        set(x, extra)  # noqa: F821
        label("gain")  # noqa: F821
        set(pins, hi)[1]  # noqa: F821
        set(pins, lo)[1]  # noqa: F821
        jmp(x_dec, "gain")  # noqa: F821
        push(noblock)  # noqa: F821

    return hx711_reader


class HX711Pio(HX711):
    """The HX711 port with the wire handled by PIO state machine sm_id."""

    def __init__(self, dout, sck, calibration=None, gain=128, rate_sps=10, sm_id=4,
                 machine=None, time=None, rp2=None):
        HX711.__init__(self, dout, sck, calibration, gain, rate_sps, machine, time)
        rp2 = hw_module(rp2, "rp2")
        pio = rp2.PIO
        program = rp2.asm_pio(set_init=pio.OUT_HIGH if self._sck_lo else pio.OUT_LOW,
                              in_shiftdir=pio.SHIFT_LEFT)(
            _program(self._sck_hi, self._sck_lo, self._ready_level, self._pulses - 25))
        self._invert = _MASK if self._ready_level else 0  # DOUT wired inverted
        self._sm = rp2.StateMachine(sm_id, program, freq=_SM_HZ, set_base=self._sck,
                                    in_base=self._dout)
        self._sm.active(1)

    def poll(self):
        """Drains the RX FIFO into _fresh (the newest conversion); never waits."""
        sm = self._sm
        got = False
        while sm.rx_fifo():
            word = (sm.get() & _MASK) ^ self._invert
            if self._stale:  # made at the power-on gain
                self._stale = False
                continue
            self._fresh = word
            got = True
        return got

    def read_raw_now(self):
        self.poll()
        if self._fresh is None:
            raise SensorFault("timeout", "HX711: no conversion since the last reading")
        return self._take()

    def read_raw(self):
        waited = 0
        limit = max(self.timeout_us, self._wait_us)
        self._wait_us = 0
        while not self.poll() and self._fresh is None:
            if waited >= limit:
                raise SensorFault("timeout", "HX711 sent no conversion for %d ms"
                                  % (waited // 1000))
            self._time.sleep_us(500)
            waited += 500
        return self._take()

    async def run(self, clock):
        return  # the state machine reads; the tick drains its FIFO

    def power_down(self):
        self._sm.active(0)
        HX711.power_down(self)

    def power_up(self):
        HX711.power_up(self)
        self._sm.restart()
        self._sm.active(1)
