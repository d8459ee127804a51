# The virtual bench around the virtual board (MicroPython, inside tools/vboard).
#
# Two kinds of state:
# - the MCU's (pin levels and modes, step timers, PWM, timers, watchdog): cleared by every
#   reset, like the chip's peripherals; `machine` is the API to it;
# - the bench's (the stepper driver and the plunger it moves, button levels, ADC inputs,
#   the OLED): kept across resets, like hardware outside the chip. Read and drive it from
#   the REPL: vboard.position(), vboard.press(12), vboard.set_adc(28, 40000), ...
#   Faults for the power-on self-test, seen from the next reset on: a stuck button
#   (vboard.press(12)), no OLED (del vboard.i2c_devices[0x3C]), no HX711
#   (vboard.hx711.present = False), a read-only flash (vboard.flash["read_only"] = True).
#
# The stepper driver (A4988/DRV8825/TMC2209 in step/dir mode) is wired as /board.py says:
# it counts a STEP pulse as one microstep only while EN is at its active level, in the
# direction DIR gives. StepTimer is the MCU's step generator (what PIO is on an RP2040):
# pulses follow the VM's clock and are credited to the driver whenever anything reads
# them or any pin changes, so EN/DIR changes split a move exactly where they happen.

import time

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
SOFT_RESET = 5
_CAUSES = {"power": PWRON_RESET, "hard": HARD_RESET, "wdt": WDT_RESET, "soft": SOFT_RESET}
ADC_DEFAULT = 39718  # 2.0 V of 3.3 V: a 4.0 V cell behind a 2:1 divider

# ----- MCU state (cleared at every reset) ----------------------------------------------

pins = {}  # GPIO -> [mode, level driven or None]
edge_handlers = {}  # GPIO -> (handler, trigger, pin) from Pin.irq
step_timers = []
pwm = {}  # GPIO -> [freq_hz, duty_u16]
js_timers = []  # handles of running machine.Timer / WDT timeouts (cleared at reset)
reset_cause = PWRON_RESET

# ----- bench state (kept) ---------------------------------------------------------------

inputs = {}  # GPIO -> level set from the bench (buttons)
adc = {}  # GPIO -> u16
i2c_devices = {}  # address -> device model
driver = {"position": 0, "pulses": 0, "ignored": 0, "wiring": None, "motor_pins": None}
flash = {"read_only": False}  # True: /data is mounted read-only from the next reset on


def power_on(kind):
    global reset_cause
    reset_cause = _CAUSES.get(kind, HARD_RESET)
    driver["wiring"] = driver["motor_pins"] = None  # /board.py may have been replaced
    hx711.wiring = None
    _mount_data()


def _mount_data():
    """/data as the flash leaves it: writable, or read-only (a worn or locked flash)."""
    import os

    import vfs

    try:
        vfs.umount("/data")
    except OSError:
        pass
    if flash["read_only"]:
        try:
            os.mkdir("/data")
        except OSError:
            pass
        vfs.mount(vfs.VfsPosix("/data"), "/data", readonly=True)


def power_off():
    """A reset: step timers stop, timers stop, pins float (as the chip's reset does)."""
    sync()
    del step_timers[:]
    edge_handlers.clear()
    import js

    for handle in js_timers:
        js.clearTimeout(handle)
    del js_timers[:]
    pins.clear()
    pwm.clear()


def request_reset(kind):
    import js

    js.vboard_request_reset(kind)


# ----- pins -----------------------------------------------------------------------------


def level(gpio):
    """What the pin reads: its driven level, else the bench's input, else its pull."""
    if gpio == (hx711.wiring or _hx711_wiring())[0]:
        return hx711.dout()
    state = pins.get(gpio)
    if state and state[1] is not None:
        return state[1]
    if gpio in inputs:
        return inputs[gpio]
    return 1 if state and state[0] == "up" else 0


def drive(gpio, value):
    if gpio in (driver["motor_pins"] or _motor_pins()):
        sync()  # pulses so far happened at the old levels
    state = pins.get(gpio)
    if state is None:
        state = pins[gpio] = [None, None]
    if gpio == (hx711.wiring or _hx711_wiring())[1] and value and not state[1]:
        hx711.clock()  # a PD_SCK rising edge
    state[1] = 1 if value else 0


def set_input(gpio, value):
    """The bench sets an input's level; a change is an edge for the pin's irq handler
    (trigger bits as machine.Pin: 4 rising, 8 falling)."""
    before = level(gpio)
    inputs[gpio] = 1 if value else 0
    after = level(gpio)
    entry = edge_handlers.get(gpio)
    if entry is not None and after != before and entry[1] & (4 if after else 8):
        entry[0](entry[2])


def press(gpio, pressed=True):
    """A button to GND with a pull-up: pressed reads 0."""
    set_input(gpio, 0 if pressed else 1)


def release(gpio):
    press(gpio, False)


def set_adc(gpio, u16):
    adc[gpio] = max(0, min(65535, int(u16)))


# ----- the stepper driver and the step generator ---------------------------------------


def _wiring():
    """(step, dir, dir forward level, enable, enable active level) from /board.py."""
    if driver["wiring"] is None:
        from board import BOARD

        motor = BOARD["motor"]

        pin = _pin_spec
        step, _ = pin(motor["step"])
        direction, forward = pin(motor["dir"])
        enable, active = pin(motor["enable"])
        driver["wiring"] = (step, direction, forward, enable, active)
    return driver["wiring"]


def _motor_pins():
    """STEP, DIR and EN: a change on them splits a move (every pin without a board)."""
    try:
        step, direction, _, enable, _ = _wiring()
    except ImportError:
        return _ALL_PINS
    driver["motor_pins"] = (step, direction, enable)
    return driver["motor_pins"]


class _AllPins:
    def __contains__(self, gpio):
        return True


_ALL_PINS = _AllPins()


def _pin_spec(spec):
    """(GPIO, active level) of a board-file pin: a number or {"pin": n, "invert": ...}."""
    if isinstance(spec, dict):
        return spec["pin"], 0 if spec.get("invert") else 1
    return spec, 1


def _pulses(gpio, count):
    step, direction, forward, enable, active = _wiring()
    if gpio != step:
        return
    driver["pulses"] += count
    if level(enable) != active:
        driver["ignored"] += count  # a disabled driver does not move the motor
        return
    driver["position"] += count if level(direction) == forward else -count


def sync():
    now = time.ticks_us()
    for timer in step_timers:
        timer.credit(now)


def position():
    """Microsteps the plunger has moved forward (net) since the bench was powered."""
    sync()
    return driver["position"]


class StepTimer:
    """The MCU's step generator on one pin: `steps` pulses, one every `period_us`, the
    first now. issued() counts rising edges so far; abort() stops and returns it."""

    def __init__(self, gpio):
        self.gpio = gpio
        self.steps = 0
        self.period = 1
        self.t0 = 0
        self.credited = 0
        self.stopped = True
        step_timers.append(self)

    def start(self, steps, period_us):
        self.credit(time.ticks_us())
        self.steps = steps
        self.period = period_us
        self.t0 = time.ticks_us()
        self.credited = 0
        self.stopped = False

    def _issued_at(self, now):
        if self.stopped:
            return self.credited
        elapsed = time.ticks_diff(now, self.t0)
        return min(self.steps, elapsed // self.period + 1) if elapsed >= 0 else 0

    def credit(self, now):
        n = self._issued_at(now)
        if n > self.credited:
            new = n - self.credited
            self.credited = n
            _pulses(self.gpio, new)

    def issued(self):
        self.credit(time.ticks_us())
        return self.credited

    def running(self):
        if self.stopped:
            return False
        now = time.ticks_us()
        self.credit(now)
        if time.ticks_diff(now, self.t0) >= self.steps * self.period:
            self.stopped = True
        return not self.stopped

    def abort(self):
        self.credit(time.ticks_us())
        self.stopped = True
        return self.credited


# ----- the load cell ---------------------------------------------------------------------


class Hx711:
    """An HX711 on the load cell under the plunger (datasheet pages 4-5): DOUT low when a
    conversion is ready (10 per second), 24 bits MSB first on PD_SCK rising edges, DOUT
    high again after the 25th pulse. force_mn sets the force (28 counts per mN, the
    firmware's nominal calibration); a little noise keeps readings from being identical."""

    COUNTS_PER_MN = 28
    PERIOD_US = 100_000

    def __init__(self):
        self.present = True  # False: no chip on the wires (DOUT floats high, never ready)
        self.force_mn = 200  # the plunger's friction on a free-flowing line
        self.wiring = None  # (dout, sck) from /board.py, or (-1, -1)
        self._ready_at = 0
        self._bits = None  # the conversion being shifted out
        self._pulses = 0
        self._noise = 12345

    def _value(self):
        self._noise = (self._noise * 1103515245 + 12345) & 0x7FFFFFFF
        counts = self.force_mn * self.COUNTS_PER_MN + (self._noise >> 16) % 61 - 30
        return max(-0x7FFFFF, min(0x7FFFFE, counts)) & 0xFFFFFF

    def dout(self):
        if not self.present:
            return 1
        if self._bits is not None:  # after pulse k (1-24) DOUT shows bit 24 - k
            return (self._bits >> (24 - self._pulses)) & 1
        wait = time.ticks_diff(self._ready_at, time.ticks_us())
        # Ready once the period is over; a wait longer than a period is the tick count
        # having wrapped after a long time without reads: the conversion is long ready.
        return 1 if 0 < wait <= self.PERIOD_US else 0

    def clock(self):
        if not self.present:
            return
        if self._bits is None:
            if self.dout():
                return  # no conversion ready: the pulse does nothing useful
            self._bits = self._value()
            self._pulses = 0
        self._pulses += 1
        if self._pulses >= 25:  # the read is over; the next conversion comes a period on
            self._ready_at = time.ticks_add(time.ticks_us(), self.PERIOD_US)
            self._bits = None


hx711 = Hx711()


def _hx711_wiring():
    if hx711.wiring is None:
        try:
            from board import BOARD

            force = BOARD.get("force") or {}
        except ImportError:
            force = {}
        if force.get("kind") == "hx711":
            hx711.wiring = (_pin_spec(force["dout"])[0], _pin_spec(force["sck"])[0])
        else:
            hx711.wiring = (-1, -1)
    return hx711.wiring


def set_force_mn(mn):
    """The force on the load cell, in mN (an occlusion pushes it up)."""
    hx711.force_mn = int(mn)


# ----- the USB console, as the running program reads it ------------------------------


class Console:
    """sys.stdin/stdout for basalt.app.usb_service. On a board every byte goes to the
    program while it runs (Ctrl-C excepted); here the REPL stays live beside the app,
    so vboard.mjs hands over only lines that start with the service's request marker
    ("#B< "), and only while a program listens (from open() until it stops)."""

    def __init__(self):
        self.lines = []

    def open(self):
        import js

        del self.lines[:]
        js.vboard_listen(1)

    def close(self):
        import js

        del self.lines[:]
        js.vboard_listen(0)

    def feed(self, line):
        self.lines.append(line.encode())

    def readline(self):
        return self.lines.pop(0) if self.lines else None

    def write(self, text):
        print(text, end="")


console = Console()


# ----- the OLED -------------------------------------------------------------------------


class Ssd1306:
    """An SSD1306 on I2C: commands and GDDRAM writes in horizontal addressing mode, the
    way micropython-lib's ssd1306 driver sends them. text_rows() reads back text drawn
    with framebuf's 8x8 font on the 8-pixel grid."""

    def __init__(self, width=128, height=64):
        self.width = width
        self.pages = height // 8
        self.ram = bytearray(width * self.pages)
        self.on = False
        self._cmd = []
        self.col = self.col_lo = 0
        self.col_hi = width - 1
        self.page = self.page_lo = 0
        self.page_hi = self.pages - 1

    def write(self, data):
        data = bytes(data)
        if not data:
            return
        control, body = data[0], data[1:]
        if control & 0x40:
            for byte in body:
                self._data(byte)
        else:
            for byte in body:
                self._command(byte)

    def _command(self, byte):
        cmd = self._cmd
        cmd.append(byte)
        first = cmd[0]
        need = {0x21: 3, 0x22: 3, 0x20: 2, 0x81: 2, 0xA8: 2, 0xD3: 2, 0xD5: 2, 0xD9: 2,
                0xDA: 2, 0xDB: 2, 0x8D: 2}.get(first, 1)
        if len(cmd) < need:
            return
        if first == 0x21:
            self.col = self.col_lo = cmd[1]
            self.col_hi = cmd[2]
        elif first == 0x22:
            self.page = self.page_lo = cmd[1]
            self.page_hi = cmd[2]
        elif first in (0xAE, 0xAF):
            self.on = first == 0xAF
        self._cmd = []

    def _data(self, byte):
        if self.page < self.pages and self.col < self.width:
            self.ram[self.page * self.width + self.col] = byte
        self.col += 1
        if self.col > self.col_hi:
            self.col = self.col_lo
            self.page += 1
            if self.page > self.page_hi:
                self.page = self.page_lo

    def pixel(self, x, y):
        return (self.ram[(y // 8) * self.width + x] >> (y % 8)) & 1

    def text_rows(self):
        glyphs = _glyphs()
        rows = []
        for page in range(self.pages):
            line = ""
            for cell in range(self.width // 8):
                base = page * self.width + cell * 8
                line += glyphs.get(bytes(self.ram[base:base + 8]), "?")
            rows.append(line.rstrip())
        return rows


_glyph_table = {}


def _glyphs():
    """8 column bytes of each printable character as framebuf draws it (MONO_VLSB)."""
    if not _glyph_table:
        import framebuf

        buf = bytearray(8)
        fb = framebuf.FrameBuffer(buf, 8, 8, framebuf.MONO_VLSB)
        for code in range(32, 127):
            fb.fill(0)
            fb.text(chr(code), 0, 0, 1)
            _glyph_table.setdefault(bytes(buf), chr(code))
    return _glyph_table


def screen_text():
    """The OLED's text, one string per 8-pixel row ('' rows when nothing is attached)."""
    for device in i2c_devices.values():
        if isinstance(device, Ssd1306):
            return device.text_rows()
    return []


i2c_devices[0x3C] = Ssd1306()
