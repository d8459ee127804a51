"""Text without allocation: fixed bytearray lines and number formatting into them.

Formatting numbers with % creates new str objects; a redraw that allocates nothing
writes digits into a preallocated bytearray instead (paint.Painter draws it). Labels
are bytes literals: iterating bytes gives ints, iterating a str allocates.
"""

_POW10 = (1, 10, 100, 1000)


class Line:
    """A reusable text buffer: clear(), then put*() pieces, then draw()."""

    def __init__(self, size=16):
        self.buf = bytearray(size)
        self.n = 0

    def clear(self):
        self.n = 0
        return self

    def put(self, data):
        """Append bytes (or a str: for text that does not need to avoid allocation)."""
        if isinstance(data, str):
            data = data.encode()
        buf, n = self.buf, self.n
        for code in data:
            if n < len(buf):
                buf[n] = code
                n += 1
        self.n = n
        return self

    def put_char(self, code):
        if self.n < len(self.buf):
            self.buf[self.n] = code
            self.n += 1
        return self

    def put_int(self, value, width=0, fill=32):
        """Decimal digits of an int, right-aligned in `width` with `fill` (a byte)."""
        negative = value < 0
        if negative:
            value = -value
        digits = 1
        scale = 1
        while value // scale >= 10:
            scale *= 10
            digits += 1
        width -= digits + negative
        while width > 0:
            self.put_char(fill)
            width -= 1
        if negative:
            self.put_char(45)
        while scale:
            digit = value // scale
            self.put_char(48 + digit)
            value -= digit * scale
            scale //= 10
        return self

    def put_milli(self, milli, decimals=2):
        """An amount in thousandths with `decimals` places (truncated): 1250 -> '1.25'.
        The minus sign only with a digit to carry it: -4 -> '0.00', -13 -> '-0.01'."""
        negative = milli < 0
        if negative:
            milli = -milli
        milli //= _POW10[3 - decimals]
        if negative and milli:
            self.put_char(45)
        unit = _POW10[decimals]
        whole = milli // unit
        self.put_int(whole)
        if decimals:
            self.put_char(46)
            self.put_int(milli - whole * unit, decimals, 48)
        return self

    def put_minutes(self, minutes):
        """A duration: '45m', '1h30', '24h'."""
        if minutes < 60:
            return self.put_int(minutes).put_char(109)
        hours = minutes // 60
        self.put_int(hours).put_char(104)
        rest = minutes - hours * 60
        if rest:
            self.put_int(rest, 2, 48)
        return self

    def put_clock(self, minute_of_day):
        hours = minute_of_day // 60
        return self.put_int(hours, 2, 48).put_char(58).put_int(minute_of_day - hours * 60, 2, 48)

    def text(self):
        """The content as str (for tests and text dumps; allocates)."""
        return bytes(self.buf[:self.n]).decode()
