"""The SSD1306 OLED on CPython: what basalt.drivers.ssd1306_display asks of
micropython-lib's `ssd1306` module (SSD1306_I2C: a framebuf canvas with show() and
contrast()), on tools/screens/hostfb.py's framebuf-compatible canvas.

tools.pi installs it as sys.modules["ssd1306"], so the firmware's display driver and its
screens run on the Pi unchanged: the same bytes reach the panel as from a board, because
HostFrameBuffer draws exactly what MicroPython's framebuf draws (host_tests check that
against the real framebuf in the MicroPython VM). Adafruit's CircuitPython SSD1306 driver
is not used: its text() draws a 5x8 font from a file, not framebuf's 8x8 one the screens
are laid out for.

Commands from the Solomon Systech SSD1306 datasheet (rev 1.1, section 9, command table;
section 8.5 for the I2C control byte: 0x80 = one command byte follows, 0x40 = data).
"""

from tools.screens.hostfb import HostFrameBuffer

_CONTRAST = 0x81
_DISPLAY_ON, _DISPLAY_OFF = 0xAF, 0xAE
_COLUMNS, _PAGES = 0x21, 0x22


class SSD1306_I2C(HostFrameBuffer):  # noqa: N801 (micropython-lib's name)
    def __init__(self, width, height, i2c, addr=0x3C, external_vcc=False):
        super().__init__(width, height)
        self.i2c = i2c
        self.addr = addr
        self.pages = height // 8
        self.external_vcc = external_vcc
        self.init_display()

    def init_display(self):
        charge_pump = 0x10 if self.external_vcc else 0x14
        for cmd in (
                _DISPLAY_OFF,
                0x20, 0x00,  # horizontal addressing mode
                0x40,  # display start line 0
                0xA1,  # column 127 mapped to SEG0
                0xA8, self.height - 1,  # multiplex ratio
                0xC8,  # COM output scan from COM[N-1] to COM0
                0xD3, 0x00,  # display offset 0
                0xDA, 0x12 if self.height == 64 else 0x02,  # COM pins configuration
                0xD5, 0x80,  # clock divide ratio / oscillator frequency
                0xD9, 0x22 if self.external_vcc else 0xF1,  # pre-charge period
                0xDB, 0x30,  # VCOMH deselect level
                _CONTRAST, 0xCF,
                0xA4,  # output follows RAM
                0xA6,  # not inverted
                0x8D, charge_pump,
                _DISPLAY_ON):
            self.write_cmd(cmd)
        self.fill(0)
        self.show()

    def write_cmd(self, cmd):
        self.i2c.writeto(self.addr, bytes((0x80, cmd)))

    def show(self):
        for cmd in (_COLUMNS, 0, self.width - 1, _PAGES, 0, self.pages - 1):
            self.write_cmd(cmd)
        self.i2c.writeto(self.addr, b"\x40" + bytes(self.buf))

    def contrast(self, value):
        self.write_cmd(_CONTRAST)
        self.write_cmd(value)

    def poweroff(self):
        self.write_cmd(_DISPLAY_OFF)

    def poweron(self):
        self.write_cmd(_DISPLAY_ON)

    def invert(self, invert):
        self.write_cmd(0xA6 | (1 if invert else 0))
