# The MCU side of the device VM: `machine` (tools/vboard's, with virtual-time WDT and
# Timer), functional `rp2` (StateMachine) and `esp32` (RMT) step generators, and an
# `ssd1306` driver, all over the bench in tools/vboard/py/vboard.py (pins, the stepper
# driver that counts microsteps only while EN is active, the HX711, the OLED panel).
# MicroPython only; installed into sys.modules by story_vm.

import vasyncio
import vboard
import vtime

_wdt = {"deadline": None, "timeout": 0}
reset_request = [None]


def install_machine(machine):
    """Patch tools/vboard's machine module for virtual time."""
    machine.WDT = WDT
    machine.Timer = Timer
    machine.reset = _reset("hard")
    machine.soft_reset = _reset("soft")


def wdt_deadline():
    return _wdt["deadline"]


def power_off():
    vboard.sync()
    del vboard.step_timers[:]
    vboard.pins.clear()
    vboard.pwm.clear()
    vboard.edge_handlers.clear()  # the old firmware's handlers go with its RAM
    _wdt["deadline"] = None


class WDT:
    """Resets the board unless fed within `timeout` ms of virtual time."""

    def __init__(self, id=0, timeout=5000):
        _wdt["timeout"] = timeout
        self.feed()

    def feed(self):
        _wdt["deadline"] = vtime.now_us() + _wdt["timeout"] * 1000


def _reset(kind):
    def reset():
        reset_request[0] = kind
        raise SystemExit

    return reset


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id=-1, *, mode=PERIODIC, freq=-1, period=-1, callback=None):
        self._task = None
        if callback is not None:
            self.init(mode=mode, freq=freq, period=period, callback=callback)

    def init(self, *, mode=PERIODIC, freq=-1, period=-1, callback=None):
        self.deinit()
        ms = int(1000 // freq) if freq > 0 else max(int(period), 1)
        self._task = vasyncio.create_task(self._run(ms, mode, callback))

    async def _run(self, ms, mode, callback):
        while True:
            await vasyncio.sleep_ms(ms)
            callback(self)
            if mode == self.ONE_SHOT:
                return

    def deinit(self):
        if self._task is not None:
            self._task.cancel()
            self._task = None


# ----- rp2: the stepper_rp2 program's FIFO protocol, not its cycles -------------------

class PIO:
    OUT_LOW = 0
    OUT_HIGH = 1
    IN_LOW = 0
    IN_HIGH = 1
    SHIFT_LEFT = 0
    SHIFT_RIGHT = 1
    JOIN_NONE = 0
    JOIN_TX = 1
    JOIN_RX = 2


def asm_pio(**_options):
    return lambda program: program


def asm_pio_encode(instr, sideset_count, sideset_opt=False):
    return instr  # exec() below reads the text


_DONE = 0x3FFFFFFF


def StateMachine(id, program=None, **kw):
    """The program's model: basalt.drivers.hx711_rp2's reader, else the step train."""
    if getattr(program, "__name__", "") == "hx711_reader":
        return Hx711Reader()
    return StepTrain(id, program, **kw)


class _RxFifo:
    """The RX FIFO as the drivers read it; credit() brings the model up to now."""

    def rx_fifo(self):
        self.credit()
        return len(self.rx)

    def get(self):
        self.credit()
        return self.rx.pop(0)


class Hx711Reader(_RxFifo):
    """The HX711 program's effect: while active, a conversion vboard's HX711 has ready
    when the FIFO is looked at is clocked in (24 bits MSB first, then the 25th pulse)
    and pushed; a full FIFO (4 words) drops it, as push(noblock) does."""

    def __init__(self):
        self.on = False
        self.rx = []

    def active(self, value=None):
        if value is None:
            return int(self.on)
        self.on = bool(value)

    def restart(self):
        self.rx = []

    def credit(self):
        chip = vboard.hx711
        if not self.on or chip.dout():
            return
        value = 0
        for _ in range(24):
            chip.clock()
            value = value << 1 | chip.dout()
        chip.clock()
        if len(self.rx) < 4:
            self.rx.append(value)


class StepTrain(_RxFifo):
    """Takes (N, D) from its TX FIFO and issues N STEP pulses, one every (2 D + 10)
    cycles at `freq`, the first at once; pushes X (steps left) after edges and _DONE a
    period after the last. active(0) freezes it; exec("mov(isr, x)...") + exec("push..")
    read X; restart() empties it. Pulses reach vboard's driver model."""

    def __init__(self, id, program=None, freq=125_000_000, sideset_base=None, **_kw):
        self.gpio = sideset_base.gpio
        self.freq = freq
        self.on = False
        self.restart()
        vboard.step_timers.append(self)

    def restart(self):
        self.words = []
        self.rx = []
        self.steps = 0
        self.moving = False
        self.credited = 0
        self.reported = 0
        self.isr = 0

    def active(self, value=None):
        if value is None:
            return int(self.on)
        self.credit()
        self.on = bool(value)
        if self.on:
            self._take()
            self.t0 = vtime.now_us() - self.credited * self.period if self.moving else 0

    def _take(self):
        if not self.moving and len(self.words) >= 2:
            self.steps, delay = self.words[0], self.words[1]
            del self.words[:2]
            self.period = (2 * delay + 10) * 1_000_000 // self.freq
            self.t0 = vtime.now_us()
            self.moving = True
            self.credited = self.reported = 0

    def put(self, word):
        self.words.append(word)
        if self.on:
            self._take()

    def tx_fifo(self):
        return len(self.words)

    def credit(self, _ticks=None):
        if not (self.moving and self.on):
            return
        elapsed = vtime.now_us() - self.t0
        issued = min(self.steps, elapsed // self.period + 1)
        if issued > self.credited:
            vboard._pulses(self.gpio, issued - self.credited)
            self.credited = issued
        if issued > self.reported and len(self.rx) < 4:
            self.rx.append(self.steps - issued)
            self.reported = issued
        if elapsed >= self.steps * self.period and len(self.rx) < 4:
            self.rx.append(_DONE)
            self.moving = False

    def exec(self, instr):
        if instr.startswith("mov(isr, x)"):
            self.isr = self.steps - self.credited
        elif instr.startswith("push"):
            self.rx.append(self.isr)


# ----- esp32: RMT write_pulses / wait_done, functional ---------------------------------

class RMT:
    PULSE_MAX = 32767

    def __init__(self, channel, *, pin, resolution_hz=1_000_000, idle_level=False, **_kw):
        self.gpio = pin.gpio
        self.us_per_tick = 1_000_000 // resolution_hz
        self.idle = int(bool(idle_level))
        self.edges = []
        self.t0 = self.end = 0
        self.credited = 0
        vboard.step_timers.append(self)

    def write_pulses(self, durations, data=True):
        if vtime.now_us() < self.end:  # blocks while a sequence is being sent
            vboard.sync()
            vtime.advance_to(self.end)
        self.credit()
        edges = []
        at = 0
        before = self.idle
        for duration, level in zip(durations, data):
            level = int(bool(level))
            if level != self.idle and before == self.idle:
                edges.append(at)
            before = level
            at += duration * self.us_per_tick
        self.edges = edges
        self.credited = 0
        self.t0 = vtime.now_us()
        self.end = self.t0 + at

    def wait_done(self, *, timeout=0):
        now = vtime.now_us()
        if now < self.end and timeout:
            vboard.sync()
            vtime.advance_to(min(self.end, now + timeout * 1000))
        self.credit()
        return vtime.now_us() >= self.end

    def active(self, value=None):
        return vtime.now_us() < self.end

    def deinit(self):
        self.credit()
        self.end = vtime.now_us()

    def credit(self, _ticks=None):
        elapsed = vtime.now_us() - self.t0
        edges = self.edges
        n = self.credited
        while n < len(edges) and edges[n] <= elapsed:
            n += 1
        if n > self.credited:
            vboard._pulses(self.gpio, n - self.credited)
            self.credited = n


# ----- ssd1306: micropython-lib's API; show() puts the buffer on vboard's panel -------

def ssd1306_module():
    import framebuf

    class SSD1306_I2C(framebuf.FrameBuffer):
        def __init__(self, width, height, i2c, addr=0x3C, external_vcc=False):
            self.i2c = i2c
            self.addr = addr
            self.width = width
            self.height = height
            self.buffer = bytearray(height // 8 * width)
            super().__init__(self.buffer, width, height, framebuf.MONO_VLSB)
            self.init_display()

        def _panel(self):
            panel = vboard.i2c_devices.get(self.addr)
            if panel is None:
                raise OSError(5)  # EIO: no ACK
            return panel

        def init_display(self):
            self._panel().on = True
            self.fill(0)
            self.show()

        def poweroff(self):
            self._panel().on = False

        def poweron(self):
            self._panel().on = True

        def contrast(self, contrast):
            self._panel().contrast = contrast

        def invert(self, invert):
            self._panel().inverted = bool(invert)

        def rotate(self, rotate):
            pass

        def show(self):
            self._panel().ram[:] = self.buffer

    return SSD1306_I2C
