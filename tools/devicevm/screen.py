"""Text rows read back from an SSD1306 frame (MONO_VLSB, page-major, as GDDRAM holds it).

Text drawn with framebuf's 8x8 font is found at any y (rows need not sit on the 8-pixel
page grid) and in either colour (a highlighted row is white with black letters). Large
seven-segment figures are not text and do not appear. Spaces are inferred from the
x positions (one glyph = 8 px); leading and trailing spaces are cut. A row drawn black
on white (a title bar, the selected item) reads "> " + its text.
"""

from tools.screens.font8x8 import FIRST, GLYPHS, LAST

_GLYPH = 8


def _tables():
    normal, inverted = {}, {}
    for code in range(FIRST + 1, LAST):  # no space (blank) and no 127 (a full block)
        cols = tuple(GLYPHS[(code - FIRST) * 8:(code - FIRST + 1) * 8])
        normal.setdefault(cols, chr(code))
        inverted.setdefault(tuple(c ^ 0xFF for c in cols), chr(code))
    return normal, inverted


_NORMAL, _INVERTED = _tables()


def _framed(columns, y, background, height):
    """Background on the pixel row above the box, and below it too for the black letters
    of a highlight bar or a glyph inked to its last row ('_', descenders): text stands
    on its own rows, a slice through other letters or a bar's edge does not."""
    low = background or any((c >> (y + _GLYPH - 1)) & 1 for c in columns)
    edges = [y - 1, y + _GLYPH] if low else [y - 1]
    for edge in edges:
        if 0 <= edge < height and any((c >> edge) & 1 != background for c in columns):
            return False
    return True


def screen_rows(frame, width=128, height=64):
    """The text rows of a frame (bytes), top to bottom; [] for a dark panel (b"")."""
    if not frame:
        return []
    columns = [0] * width
    for page in range(height // 8):
        for x in range(width):
            columns[x] |= frame[page * width + x] << (8 * page)
    rows = {}
    inverted = {}  # y -> characters drawn black on white
    for y in range(height - _GLYPH + 1):
        slices = [(c >> y) & 0xFF for c in columns]
        x = 0
        while x <= width - _GLYPH:
            cols = tuple(slices[x:x + _GLYPH])
            char = _NORMAL.get(cols)
            background = 0
            if char is None:
                char = _INVERTED.get(cols)
                background = 1
            if char is not None and not _framed(columns[x:x + _GLYPH], y, background,
                                                height):
                char = None  # a slice through other letters
            if char is None:
                x += 1
                continue
            rows.setdefault(y, {})[(x + _GLYPH // 2) // _GLYPH] = char
            inverted[y] = inverted.get(y, 0) + background
            x += _GLYPH
    # A glyph with blank rows also matches a slice of a letter a few pixels off; of rows
    # closer than a glyph's height, the one with the most characters is the text.
    kept = []
    for y in sorted(rows, key=lambda y: (-len(rows[y]), y)):
        if all(abs(y - other) >= _GLYPH for other in kept):
            kept.append(y)
    lines = []
    for y in sorted(kept):
        row = rows[y]
        text = "".join(row.get(i, " ") for i in range(max(row) + 1)).strip()
        lines.append("> " + text if 2 * inverted[y] > len(row) else text)
    return lines
