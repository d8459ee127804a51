"""Text dumps of the screens for hosts (tests, the random walk, the screenshots): a
painter that records every piece of text, over a canvas that may draw nothing. Kept
out of basalt.core.ui.paint so a board never loads it."""

from basalt.core.ui.paint import GLYPH_W, Painter


class NullCanvas:
    """A canvas that draws nothing (text dumps without pixels, for speed)."""

    width = 128
    height = 64

    def fill(self, color):
        pass

    def pixel(self, x, y, color=None):
        pass

    def hline(self, x, y, w, color):
        pass

    def vline(self, x, y, h, color):
        pass

    def line(self, x1, y1, x2, y2, color):
        pass

    def rect(self, x, y, w, h, color, fill=False):
        pass

    def fill_rect(self, x, y, w, h, color):
        pass

    def text(self, s, x, y, color=1):
        pass


class TextDump(Painter):
    """A painter that records every piece of text: dump() gives one line per text row.

    Large figures are recorded like text. Characters are placed by x // 8, so a row
    reads as it looks; rows come out top to bottom.
    """

    def __init__(self, canvas=None):
        super().__init__(canvas if canvas is not None else NullCanvas())
        self.rows = {}

    def begin(self):
        super().begin()
        self.rows = {}

    def _record(self, data, x, y, n, spaced):
        """Text at its columns; large figures as a run of characters from their x."""
        row = self.rows.setdefault(y, {})
        col = x // GLYPH_W
        for i in range(n if n >= 0 else len(data)):
            if data[i] != 32:
                row[(x + i * GLYPH_W) // GLYPH_W if spaced else col + i] = chr(data[i])

    def text(self, data, x, y, color=1, n=-1):
        self._record(data, x, y, n, True)
        return super().text(data, x, y, color, n)

    def big(self, data, x, y, color=1, n=-1):
        self._record(data, x, y, n, False)
        return super().big(data, x, y, color, n)

    def dump(self):
        lines = []
        for y in sorted(self.rows):
            row = self.rows[y]
            width = max(row) + 1 if row else 0
            lines.append("".join(row.get(col, " ") for col in range(width)).rstrip())
        return "\n".join(line for line in lines if line)
