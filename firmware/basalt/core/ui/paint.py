"""Painter: the screens' drawing surface over a Canvas (the framebuf drawing API).

Graphics go straight to the canvas (painter.c.fill_rect(...)). Text goes through the
painter: the 8x8 font one glyph at a time (framebuf.text() takes str or bytes, not a
bytearray, so each character is drawn as chr(code): on MicroPython an ASCII character
is an interned name, so no allocation, and no table of all 96 held), and large
seven-segment figures drawn with fill_rect. The painter that also records the text
(for tests and the random walk) is basalt.core.ui.textdump's TextDump, which no board
loads.
"""


try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(value):
        return value

GLYPH_W = const(8)  # the 8x8 font (basalt.core.ui.textdump places text by it)
_GLYPH_H = const(8)

_BIG_W = const(10)  # large figures: 10x16 seven segments, 2 px thick, 12 px apart
_BIG_H = const(16)
_BIG_ADVANCE = const(12)
_DOT_ADVANCE = const(5)
_SEG = const(2)
_HALF = const(7)  # _BIG_H // 2 - 1
# Segments a..g as bits 0..6 (a top, clockwise, g middle) for the digits 0..9.
_DIGIT_SEGMENTS = (0x3F, 0x06, 0x5B, 0x4F, 0x66, 0x6D, 0x7D, 0x07, 0x7F, 0x6F)


class Painter:
    def __init__(self, canvas):
        self.c = canvas
        self.width = canvas.width if hasattr(canvas, "width") else 128
        self.height = canvas.height if hasattr(canvas, "height") else 64

    def begin(self):
        """Start a frame: clear the canvas."""
        self.c.fill(0)

    def text(self, data, x, y, color=1, n=-1):
        """Bytes, or the first n bytes of a bytearray, in the 8x8 font; returns the end x."""
        if n < 0:
            n = len(data)
        canvas = self.c
        for i in range(n):
            code = data[i]
            if code != 32:
                if code < 32 or code > 127:
                    code = 127  # framebuf's "unknown" glyph
                canvas.text(chr(code), x, y, color)
            x += GLYPH_W
        return x

    def line_text(self, line, x, y, color=1):
        return self.text(line.buf, x, y, color, line.n)

    def big(self, data, x, y, color=1, n=-1):
        """Digits, '-', '.' and ' ' as large figures; returns the end x."""
        if n < 0:
            n = len(data)
        for i in range(n):
            code = data[i]
            if code == 46:  # '.'
                self.c.fill_rect(x + 1, y + _BIG_H - _SEG, _SEG, _SEG, color)
                x += _DOT_ADVANCE
                continue
            if 48 <= code <= 57:
                mask = _DIGIT_SEGMENTS[code - 48]
            else:
                mask = 0x40 if code == 45 else 0  # '-' is the middle segment
            index = 0
            while mask:
                if mask & 1:
                    self._segment(index, x, y, color)
                mask >>= 1
                index += 1
            x += _BIG_ADVANCE
        return x

    def big_line(self, line, x, y, color=1):
        return self.big(line.buf, x, y, color, line.n)

    def _segment(self, index, x, y, color):
        canvas = self.c  # (a bound method kept in a local would be allocated each call)
        right = x + _BIG_W - _SEG
        if index == 0:
            canvas.fill_rect(x, y, _BIG_W, _SEG, color)
        elif index == 1:
            canvas.fill_rect(right, y, _SEG, _HALF + _SEG, color)
        elif index == 2:
            canvas.fill_rect(right, y + _HALF, _SEG, _BIG_H - _HALF, color)
        elif index == 3:
            canvas.fill_rect(x, y + _BIG_H - _SEG, _BIG_W, _SEG, color)
        elif index == 4:
            canvas.fill_rect(x, y + _HALF, _SEG, _BIG_H - _HALF, color)
        elif index == 5:
            canvas.fill_rect(x, y, _SEG, _HALF + _SEG, color)
        else:
            canvas.fill_rect(x, y + _HALF, _BIG_W, _SEG, color)
