"""A framebuf-compatible 1-bit canvas for CPython (MONO_VLSB, as the SSD1306 uses).

It implements the primitives the screens draw with -- fill, pixel, hline, vline, rect,
fill_rect, line, text -- so that the bytes in ``buf`` are exactly what MicroPython's
``framebuf.FrameBuffer(buf, w, h, framebuf.MONO_VLSB)`` holds after the same calls.
host_tests/test_ui_render.py checks that against the real framebuf in the MicroPython
VM. Text uses the 8x8 glyphs in tools/screens/font8x8.py, derived from that framebuf.

MONO_VLSB: byte (y // 8) * width + x holds a column of 8 pixels, bit y % 8 (LSB on top).
"""

from tools.screens.font8x8 import FIRST, GLYPHS, LAST


class HostFrameBuffer:
    def __init__(self, width=128, height=64, buf=None):
        self.width = width
        self.height = height
        self.buf = buf if buf is not None else bytearray(width * ((height + 7) // 8))

    # ----- pixels ------------------------------------------------------------------

    def _set(self, x, y, color):
        index = (y >> 3) * self.width + x
        bit = 1 << (y & 7)
        if color:
            self.buf[index] |= bit
        else:
            self.buf[index] &= ~bit & 0xFF

    def pixel(self, x, y, color=None):
        inside = 0 <= x < self.width and 0 <= y < self.height
        if color is None:
            if not inside:
                return None
            return (self.buf[(y >> 3) * self.width + x] >> (y & 7)) & 1
        if inside:
            self._set(x, y, color)
        return None

    def get(self, x, y):
        return (self.buf[(y >> 3) * self.width + x] >> (y & 7)) & 1

    # ----- areas -------------------------------------------------------------------

    def fill(self, color):
        self.buf[:] = (b"\xff" if color else b"\x00") * len(self.buf)

    def fill_rect(self, x, y, w, h, color):
        if w < 1 or h < 1 or x + w <= 0 or y + h <= 0 or x >= self.width or y >= self.height:
            return
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, self.width), min(y + h, self.height)
        # Whole byte rows at a time: the bits of rows y0..y1-1 that fall in each page.
        for page in range(y0 >> 3, ((y1 - 1) >> 3) + 1):
            top = max(y0, page * 8) - page * 8
            bottom = min(y1, page * 8 + 8) - page * 8
            mask = ((1 << bottom) - 1) & ~((1 << top) - 1)
            start = page * self.width
            for index in range(start + x0, start + x1):
                if color:
                    self.buf[index] |= mask
                else:
                    self.buf[index] &= ~mask & 0xFF

    def hline(self, x, y, w, color):
        self.fill_rect(x, y, w, 1, color)

    def vline(self, x, y, h, color):
        self.fill_rect(x, y, 1, h, color)

    def rect(self, x, y, w, h, color, fill=False):
        if fill:
            self.fill_rect(x, y, w, h, color)
            return
        self.fill_rect(x, y, w, 1, color)
        self.fill_rect(x, y + h - 1, w, 1, color)
        self.fill_rect(x, y, 1, h, color)
        self.fill_rect(x + w - 1, y, 1, h, color)

    # ----- lines and text ----------------------------------------------------------

    def line(self, x1, y1, x2, y2, color):
        """Bresenham from (x1, y1) to (x2, y2), both ends drawn, clipped per pixel."""
        dx, dy = abs(x2 - x1), abs(y2 - y1)
        sx = 1 if x2 > x1 else -1
        sy = 1 if y2 > y1 else -1
        steep = dy > dx
        if steep:  # walk along y
            x1, y1, dx, dy, sx, sy = y1, x1, dy, dx, sy, sx
        err = 2 * dy - dx
        for _ in range(dx):
            if steep:
                self.pixel(y1, x1, color)
            else:
                self.pixel(x1, y1, color)
            while err >= 0:
                y1 += sy
                err -= 2 * dx
            x1 += sx
            err += 2 * dy
        if steep:
            self.pixel(y1, x1, color)
        else:
            self.pixel(x1, y1, color)

    def text(self, s, x, y, color=1):
        codes = s if isinstance(s, (bytes, bytearray)) else s.encode()
        for code in codes:  # byte by byte, as framebuf walks the UTF-8 text
            if code < FIRST or code > LAST:
                code = LAST
            glyph = GLYPHS[(code - FIRST) * 8:(code - FIRST + 1) * 8]
            for col in range(8):
                column = glyph[col]
                xx = x + col
                if 0 <= xx < self.width:
                    for row in range(8):
                        if column >> row & 1 and 0 <= y + row < self.height:
                            self._set(xx, y + row, color)
            x += 8
