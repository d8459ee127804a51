# `machine` for the virtual board: the MicroPython API over the simulated MCU in vboard.
# Pin, Signal-free basics, I2C/SoftI2C, ADC, PWM, Timer, WDT, reset and friends, with the
# signatures of MicroPython 1.29's rp2 port (docs/library/machine.*.rst).

import js
import vboard
from vboard import HARD_RESET, PWRON_RESET, SOFT_RESET, WDT_RESET  # noqa: F401


def _gpio(pin):
    return pin.gpio if isinstance(pin, Pin) else int(pin)


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_RISING = 4
    IRQ_FALLING = 8

    def __init__(self, id, mode=-1, pull=-1, *, value=None):
        self.gpio = int(id)
        self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, *, value=None):
        state = vboard.pins.setdefault(self.gpio, [None, None])
        if pull != -1:
            state[0] = {self.PULL_UP: "up", self.PULL_DOWN: "down"}.get(pull)
        if value is not None:
            vboard.drive(self.gpio, value)
        if mode == self.IN:
            state[1] = None
        elif mode in (self.OUT, self.OPEN_DRAIN) and state[1] is None:
            vboard.drive(self.gpio, 0)

    def value(self, x=None):
        if x is None:
            return vboard.level(self.gpio)
        vboard.drive(self.gpio, x)

    __call__ = value

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    high = on
    low = off

    def toggle(self):
        self.value(1 - self.value())

    def irq(self, handler=None, trigger=IRQ_FALLING | IRQ_RISING, hard=False):
        """handler(pin) on the input's edges the bench makes (vboard.set_input), called
        at once as a soft IRQ would be, between two bytecodes of the firmware."""
        if handler is None:
            vboard.edge_handlers.pop(self.gpio, None)
        else:
            vboard.edge_handlers[self.gpio] = (handler, trigger, self)

    def __repr__(self):
        return "Pin(GPIO%d)" % self.gpio


class I2C:
    def __init__(self, id=0, *, scl=None, sda=None, freq=400_000, timeout=50_000):
        self.id = id
        self.freq = freq

    def scan(self):
        return sorted(vboard.i2c_devices)

    def _device(self, addr):
        device = vboard.i2c_devices.get(addr)
        if device is None:
            raise OSError(5)  # EIO: no ACK, as the rp2 port reports it
        return device

    def writeto(self, addr, buf, stop=True):
        self._device(addr).write(buf)
        return 1

    def writevto(self, addr, vector, stop=True):
        data = bytearray()
        for part in vector:
            data.extend(part)
        self._device(addr).write(data)
        return 1

    def readfrom(self, addr, nbytes, stop=True):
        self._device(addr)
        return bytes(nbytes)

    def readfrom_into(self, addr, buf, stop=True):
        self._device(addr)
        for i in range(len(buf)):
            buf[i] = 0


SoftI2C = I2C


class ADC:
    def __init__(self, pin):
        self.gpio = _gpio(pin)

    def read_u16(self):
        return vboard.adc.get(self.gpio, vboard.ADC_DEFAULT)


class PWM:
    def __init__(self, dest, *, freq=None, duty_u16=None, duty_ns=None, invert=False):
        self.gpio = _gpio(dest)
        vboard.pwm[self.gpio] = [freq or 1000, duty_u16 or 0]

    def freq(self, value=None):
        if value is None:
            return vboard.pwm[self.gpio][0]
        vboard.pwm[self.gpio][0] = value

    def duty_u16(self, value=None):
        if value is None:
            return vboard.pwm[self.gpio][1]
        vboard.pwm[self.gpio][1] = value

    def deinit(self):
        vboard.pwm.pop(self.gpio, None)


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, *, mode=PERIODIC, freq=-1, period=-1, callback=None):
        self._handle = None
        if callback is not None:
            self.init(mode=mode, freq=freq, period=period, callback=callback)

    def init(self, *, mode=PERIODIC, freq=-1, period=-1, callback=None):
        self.deinit()
        self._ms = int(1000 // freq) if freq > 0 else max(int(period), 1)
        self._mode = mode
        self._callback = callback
        self._arm()

    def _arm(self):
        self._handle = js.setTimeout(self._fire, self._ms)
        vboard.js_timers.append(self._handle)

    def _fire(self, *args):
        if self._handle in vboard.js_timers:
            vboard.js_timers.remove(self._handle)
        self._handle = None
        if self._mode == self.PERIODIC:
            self._arm()
        try:
            self._callback(self)
        except Exception as exc:
            import sys

            sys.print_exception(exc)

    def deinit(self):
        if self._handle is not None:
            js.clearTimeout(self._handle)
            if self._handle in vboard.js_timers:
                vboard.js_timers.remove(self._handle)
            self._handle = None


class WDT:
    """Resets the board (reset_cause() == WDT_RESET) unless fed within `timeout` ms."""

    def __init__(self, id=0, timeout=5000):
        self._timer = Timer(mode=Timer.ONE_SHOT, period=timeout, callback=self._expire)
        self._timeout = timeout

    def feed(self):
        self._timer.init(mode=Timer.ONE_SHOT, period=self._timeout, callback=self._expire)

    def _expire(self, _timer):
        vboard.request_reset("wdt")


def reset():
    vboard.request_reset("hard")
    raise SystemExit  # nothing after machine.reset() runs


def soft_reset():
    vboard.request_reset("soft")
    raise SystemExit


def reset_cause():
    return vboard.reset_cause


def unique_id():
    return b"vboard01"


def freq(hz=None):
    return 125_000_000 if hz is None else None


def idle():
    pass


def disable_irq():
    return 0


def enable_irq(state=0):
    pass
