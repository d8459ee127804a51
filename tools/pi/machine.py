"""MicroPython's `machine` (the part drivers use) and `time` on adafruit-blinka.

GPIO numbers are BCM numbers, as in boards/raspberry_pi.py. blinka is imported when a
peripheral is made, never at import time.
"""

import time as _time


def board_pin(number, output):
    """blinka's pin object for BCM GPIO `number` (board.D<number> on a Pi).

    On blinka's OS-agnostic mock board (BLINKA_OS_AGNOSTIC=1) every GPIO becomes a fresh
    mock pin: an output (writes accepted) or a pulled-up input (reads 1, "not pressed").
    """
    import board

    name = "D%d" % number
    if hasattr(board, name):
        return getattr(board, name)
    from adafruit_blinka.agnostic import detector

    if detector.board.OS_AGNOSTIC_BOARD:
        from adafruit_blinka.microcontroller.generic_agnostic_board import pin

        return pin.Pin(4 if output else 2)  # Dx_OUTPUT / Dx_INPUT_TRUE_PULL_UP
    raise ValueError("GPIO%d: blinka's board %r has no pin %s"
                     % (number, detector.board.id, name))


class BlinkaLine:
    """One GPIO line on a blinka DigitalInOut; pull is None, "up" or "down" (a bench's
    lines, tools/pi/bench.py, offer the same three members)."""

    def __init__(self, number, output, resolve=board_pin):
        import digitalio

        self._digitalio = digitalio
        self._io = digitalio.DigitalInOut(resolve(number, output))

    def switch_to_output(self, value=False):
        self._io.switch_to_output(value=value)

    def switch_to_input(self, pull=None):
        pulls = {"up": self._digitalio.Pull.UP, "down": self._digitalio.Pull.DOWN}
        self._io.switch_to_input(pull=pulls.get(pull))

    @property
    def value(self):
        return self._io.value

    @value.setter
    def value(self, level):
        self._io.value = level


def blinka_io(number, output, resolve=board_pin):
    return BlinkaLine(number, output, resolve)


class Pin:
    """machine.Pin on a blinka DigitalInOut: Pin(n, Pin.OUT, pull, value=v) drives v
    from the moment the line becomes an output (set before switching, as on a board).
    Pin(n) without a mode leaves the line alone, as MicroPython does: the I2C pins a
    display's bus is given stay the kernel's I2C pins. `io(number, output)` makes the
    line's DigitalInOut-like object (a blinka one, or a bench's: tools/pi/bench.py)."""

    IN = 0
    OUT = 1
    PULL_UP = 1
    PULL_DOWN = 2

    def __init__(self, id, mode=None, pull=None, *, value=None, resolve=board_pin, io=None):
        self.id = id
        self._io = None
        self._make = io or (lambda number, output: blinka_io(number, output, resolve))
        if mode is not None:
            self.init(mode, pull, value=value)

    def init(self, mode=IN, pull=None, *, value=None):
        self._io = self._make(self.id, mode == self.OUT)
        if mode == self.OUT:
            self._io.switch_to_output(value=bool(value))
        else:
            self._io.switch_to_input({self.PULL_UP: "up", self.PULL_DOWN: "down"}.get(pull))

    def value(self, x=None):
        if self._io is None:
            self.init(self.IN)
        if x is None:
            return int(self._io.value)
        self._io.value = bool(x)

    __call__ = value

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)


class PWM:
    """machine.PWM (freq, duty_u16) on pwmio.PWMOut. The Pi's hardware PWM is on GPIO12,
    13, 18 and 19; blinka falls back to nothing else, so use one of those."""

    def __init__(self, dest, *, freq=1000, duty_u16=0, resolve=board_pin, out=None):
        number = dest.id if isinstance(dest, Pin) else dest
        if out is None:
            import pwmio

            out = pwmio.PWMOut(resolve(number, True), frequency=freq, duty_cycle=duty_u16,
                               variable_frequency=True)
        self._out = out  # pwmio.PWMOut, or a bench's stand-in with the same attributes

    def freq(self, value=None):
        if value is None:
            return self._out.frequency
        self._out.frequency = value

    def duty_u16(self, value=None):
        if value is None:
            return self._out.duty_cycle
        self._out.duty_cycle = value

    def deinit(self):
        self._out.deinit()


class I2C:
    """machine.I2C (writeto, writevto, readfrom_into, scan) on busio.I2C: what
    micropython-lib's ssd1306 driver calls. The Pi's I2C1 is GPIO2 (SDA) / GPIO3 (SCL)."""

    def __init__(self, id=1, *, scl=None, sda=None, freq=400_000, bus=None):
        if bus is None:
            import board
            import busio

            bus = busio.I2C(board.SCL, board.SDA, frequency=freq)
        self._bus = bus  # busio.I2C, or a bench's bus (try_lock, unlock, scan, writeto)

    def _locked(self, action):
        while not self._bus.try_lock():
            _time.sleep(0)
        try:
            return action()
        finally:
            self._bus.unlock()

    def scan(self):
        return self._locked(self._bus.scan)

    def writeto(self, addr, buf, stop=True):
        self._locked(lambda: self._bus.writeto(addr, bytes(buf)))
        return 1

    def writevto(self, addr, vector, stop=True):
        return self.writeto(addr, b"".join(bytes(part) for part in vector))

    def readfrom_into(self, addr, buf, stop=True):
        self._locked(lambda: self._bus.readfrom_into(addr, buf))


class Time:
    """The MicroPython `time` functions drivers use, on CPython's monotonic clock.

    ticks_* wrap at 2**30 like MicroPython's, so ticks_diff/ticks_add behave the same.
    """

    _PERIOD = 1 << 30

    @staticmethod
    def sleep_us(us):
        _time.sleep(us / 1_000_000)

    @staticmethod
    def sleep_ms(ms):
        _time.sleep(ms / 1000)

    def ticks_us(self):
        return (_time.monotonic_ns() // 1000) % self._PERIOD

    def ticks_ms(self):
        return (_time.monotonic_ns() // 1_000_000) % self._PERIOD

    def ticks_diff(self, a, b):
        half = self._PERIOD // 2
        return ((a - b + half) % self._PERIOD) - half

    def ticks_add(self, a, delta):
        return (a + delta) % self._PERIOD


class Machine:
    """A `machine`-like module for the drivers: Pin with a chosen pin resolver, and,
    with a bench (tools/pi/bench.py), the lines, PWM and I2C devices the bench models.
    tools.pi installs one as sys.modules["machine"], so the firmware's own drivers and
    builders (basalt.app.device) run on the Pi unchanged."""

    Pin = Pin
    PWM = PWM
    I2C = I2C

    def __init__(self, resolve=board_pin, bench=None):
        def io(number, output):
            if bench is not None and bench.claims(number):
                return bench.io(number)
            return blinka_io(number, output, resolve)

        class _Pin(Pin):
            def __init__(self, id, mode=None, pull=None, *, value=None):
                Pin.__init__(self, id, mode, pull, value=value, io=io)

        class _PWM(PWM):
            def __init__(self, dest, *, freq=1000, duty_u16=0):
                number = dest.id if isinstance(dest, Pin) else dest
                out = bench.pwm(number) if bench is not None else None
                PWM.__init__(self, dest, freq=freq, duty_u16=duty_u16, resolve=resolve,
                             out=out)

        class _I2C(I2C):
            def __init__(self, id=1, *, scl=None, sda=None, freq=400_000):
                I2C.__init__(self, id, freq=freq, bus=bench.i2c if bench else None)

        self.Pin, self.PWM, self.I2C = _Pin, _PWM, _I2C

    @staticmethod
    def disable_irq():
        return 0  # no interrupts to mask in a Linux process (the HX711 driver asks)

    @staticmethod
    def enable_irq(state):
        return None
