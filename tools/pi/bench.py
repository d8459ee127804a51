"""A simulated bench behind the Pi's pins, for machines that are not a Pi.

blinka's OS-agnostic mock board (BLINKA_OS_AGNOSTIC=1) accepts output writes and reads
every input as "not pressed", and its I2C can only scan. That runs the motor, but not a
whole pump: the HX711 would never answer and the OLED has nothing to write to. A Bench
stands in for what is wired to the header, so the firmware's own drivers run against it:

- buttons: the board file's button lines, released (pulled up) until press(key);
- an HX711 on its DOUT/SCK lines that answers the firmware's bit-banged reads with the
  counts of `force_mn` (the board's nominal calibration), one conversion per 100 ms
  (10 SPS, as RATE low);
- an SSD1306 at the display's I2C address that keeps what is written to its RAM
  (text() reads the 8x8 text back);
- the buzzer's PWM (freq, duty_u16 kept).

tools.pi.machine.Machine(bench=...) routes the lines, PWM and I2C the bench claims to
it; everything else (the motor's STEP/DIR/EN) stays on blinka.
"""

import time

from basalt.core.forcecal import nominal
from basalt.core.ui.keys import KEY_NAMES
from tools.screens.font8x8 import FIRST, GLYPHS

HX711_PERIOD_S = 0.1  # 10 SPS


class Line:
    """One simulated GPIO line (the members tools.pi.machine.Pin uses)."""

    def __init__(self, bench, number):
        self.bench = bench
        self.number = number

    def switch_to_output(self, value=False):
        self.bench.drive(self.number, value)

    def switch_to_input(self, pull=None):
        self.bench.pulls[self.number] = pull

    @property
    def value(self):
        return self.bench.read(self.number)

    @value.setter
    def value(self, level):
        self.bench.drive(self.number, level)


class Hx711Model:
    """DOUT low = a conversion is ready; each SCK rising edge shifts out the next bit,
    MSB first; after the 24 data bits the extra pulses set the gain and DOUT goes high
    until the next conversion (HX711 datasheet, pages 4-5)."""

    def __init__(self, counts):
        self.counts = counts
        self.bit = None  # None: waiting for a conversion; else the next bit to shift
        self.level = True
        self.sck = False
        self.next_at = time.monotonic()

    def dout(self):
        if self.bit is None and time.monotonic() >= self.next_at:
            self.bit, self.level = 0, False  # ready: DOUT low
        return self.level

    def clock(self, high):
        rising = high and not self.sck
        self.sck = bool(high)
        if not rising or self.bit is None:
            return
        if self.bit < 24:
            self.level = bool((self.counts & 0xFFFFFF) >> (23 - self.bit) & 1)
            self.bit += 1
        else:  # a gain pulse: the conversion is read; the next one in a period
            self.level, self.bit = True, None
            self.next_at = time.monotonic() + HX711_PERIOD_S


class Ssd1306Panel:
    """GDDRAM of an SSD1306 written in horizontal addressing mode (0x21 columns, 0x22
    pages, then data bytes after a 0x40 control byte), as tools/pi/ssd1306.py sends it."""

    def __init__(self, width=128, height=64):
        self.width, self.pages = width, height // 8
        self.ram = bytearray(width * self.pages)
        self.on = False
        self.frames = 0
        self._window = (0, width - 1, 0, self.pages - 1)
        self._at = (0, 0)
        self._command = []

    def write(self, data):
        data = bytes(data)
        if data[:1] == b"\x40":
            self._data(data[1:])
            self.frames += 1
            return
        for i in range(1, len(data), 2):  # (0x80, command byte) pairs
            self._byte(data[i])

    def _byte(self, byte):
        command = self._command
        command.append(byte)
        first = command[0]
        if len(command) < (3 if first in (0x21, 0x22) else 2 if first in NEEDS_ARGUMENT else 1):
            return
        if first == 0x21:
            self._window = (command[1], command[2]) + self._window[2:]
        elif first == 0x22:
            self._window = self._window[:2] + (command[1], command[2])
        elif first in (0xAE, 0xAF):
            self.on = first == 0xAF
        self._at = (self._window[0], self._window[2])
        self._command = []

    def _data(self, body):
        col_lo, col_hi, page_lo, page_hi = self._window
        col, page = self._at
        for byte in body:
            if page < self.pages and col < self.width:
                self.ram[page * self.width + col] = byte
            col += 1
            if col > col_hi:
                col, page = col_lo, page + 1 if page < page_hi else page_lo
        self._at = (col, page)

    def text(self):
        """The screen as rows of text drawn on the 8-pixel grid ("?" for other pixels)."""
        glyphs = {GLYPHS[i:i + 8]: chr(FIRST + i // 8) for i in range(0, len(GLYPHS), 8)}
        rows = []
        for page in range(self.pages):
            base = page * self.width
            rows.append("".join(glyphs.get(bytes(self.ram[base + x:base + x + 8]), "?")
                                for x in range(0, self.width, 8)).rstrip())
        return rows


# SSD1306 commands followed by one argument byte (datasheet, command table).
NEEDS_ARGUMENT = (0x20, 0x81, 0x8D, 0xA8, 0xD3, 0xD5, 0xD9, 0xDA, 0xDB)


class I2cBus:
    """The bench's I2C bus: the busio.I2C members tools.pi.machine.I2C uses."""

    def __init__(self, devices):
        self.devices = devices

    def try_lock(self):
        return True

    def unlock(self):
        pass

    def scan(self):
        return sorted(self.devices)

    def writeto(self, address, buf):
        if address not in self.devices:
            raise OSError(121, "Remote I/O error")  # Linux's no-ACK errno
        self.devices[address].write(buf)

    def readfrom_into(self, address, buf):
        raise OSError(121, "Remote I/O error")


class PwmOut:
    def __init__(self):
        self.frequency = 0
        self.duty_cycle = 0

    def deinit(self):
        self.duty_cycle = 0


class Bench:
    """The simulated rig for a board (see the module doc). all_lines: claim every GPIO
    (a test without blinka); otherwise only the ones the bench models."""

    def __init__(self, board, force_mn=0, all_lines=False):
        self.board = board
        self.all_lines = all_lines
        self.levels, self.pulls, self.pressed = {}, {}, set()
        self.keys = {}
        if board.buttons is not None:
            for name in KEY_NAMES:
                spec = getattr(board.buttons, name, None)
                if spec is not None:
                    self.keys[name] = spec
        self.hx711 = None
        if board.force is not None and board.force.kind == "hx711":
            cal = nominal("hx711")
            self.hx711 = Hx711Model(cal["tare_counts"] + force_mn * cal["counts_per_n"] // 1000)
        devices = {}
        if board.display is not None:
            self.panel = devices[board.display.address] = Ssd1306Panel(
                board.display.width, board.display.height)
        self.i2c = I2cBus(devices)
        self.pwms = {}

    def claims(self, number):
        if self.all_lines or any(spec.number == number for spec in self.keys.values()):
            return True
        force = self.board.force
        return self.hx711 is not None and number in (force.dout.number, force.sck.number)

    def io(self, number):
        return Line(self, number)

    def pwm(self, number):
        return self.pwms.setdefault(number, PwmOut())

    def drive(self, number, level):
        self.levels[number] = bool(level)
        if self.hx711 is not None and number == self.board.force.sck.number:
            self.hx711.clock(level)

    def read(self, number):
        if self.hx711 is not None and number == self.board.force.dout.number:
            return self.hx711.dout()
        for name, spec in self.keys.items():
            if spec.number == number:
                return spec.level(name in self.pressed)
        return self.levels.get(number, self.pulls.get(number) == "up")

    def press(self, key):
        self.pressed.add(key)

    def release(self, key):
        self.pressed.discard(key)
