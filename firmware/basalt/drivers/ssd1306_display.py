"""The Display port on an SSD1306 OLED over I2C (MicroPython only).

Uses micropython-lib's `ssd1306` driver, installed on the board with
`mpremote mip install ssd1306` (not vendored here). The driver is a framebuf
FrameBuffer (MONO_VLSB), so the screens draw straight into it: the Canvas calls are
framebuf's own, which is what the host renderer is checked against.
"""

try:
    from micropython import const
except ImportError:  # CPython (the compile lane imports nothing; this is for editors)

    def const(value):
        return value


_BRIGHT = const(0xCF)  # the driver's power-on contrast
_DIM = const(0x01)


def make_display(board_display):
    """An Ssd1306Display for a board's display section (builds the I2C bus)."""
    from machine import I2C, Pin

    section = board_display
    i2c = I2C(section.i2c, sda=Pin(section.sda.number), scl=Pin(section.scl.number),
              freq=section.freq_hz)
    return Ssd1306Display(i2c, section.width, section.height, section.address)


class Ssd1306Display:
    def __init__(self, i2c, width=128, height=64, address=0x3C):
        import ssd1306  # micropython-lib, installed with mip

        self.fb = ssd1306.SSD1306_I2C(width, height, i2c, addr=address)
        self.width = width
        self.height = height
        fb = self.fb
        # The Canvas calls are the driver's own framebuf methods (no wrapper per call).
        self.fill = fb.fill
        self.pixel = fb.pixel
        self.hline = fb.hline
        self.vline = fb.vline
        self.line = fb.line
        self.rect = fb.rect
        self.fill_rect = fb.fill_rect
        self.text = fb.text

    def show(self):
        self.fb.show()

    def dim(self, dimmed):
        self.fb.contrast(_DIM if dimmed else _BRIGHT)
