"""PNG files of 1-bit MONO_VLSB frames, written with zlib only (no new dependency).

Pixels are scaled up (default 4x) and drawn in OLED colours: lit pixels light blue on
black, as a typical white/blue SSD1306 looks. The frame bytes are read exactly as the
panel reads them; nothing is smoothed.
"""

import struct
import zlib

OFF = (0, 0, 0)
ON = (120, 200, 255)
DIM_ON = (40, 70, 90)


def _chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def frame_rows(buf, width, height):
    """The frame as rows of 0/1 values (MONO_VLSB: bit y % 8 of byte (y // 8) * width + x)."""
    return [[(buf[(y >> 3) * width + x] >> (y & 7)) & 1 for x in range(width)]
            for y in range(height)]


def png_bytes(buf, width=128, height=64, scale=4, dimmed=False, border=2):
    """An 8-bit palette PNG of the frame, `scale` pixels per panel pixel."""
    rows = frame_rows(buf, width, height)
    out_w = width * scale + 2 * border
    raw = bytearray()
    blank = b"\x00" + b"\x02" * out_w  # palette 2: the bezel
    for _ in range(border):
        raw += blank
    for row in rows:
        line = bytearray(b"\x02" * border)
        for value in row:
            line += bytes((value,)) * scale
        line += b"\x02" * border
        for _ in range(scale):
            raw += b"\x00" + line
    for _ in range(border):
        raw += blank
    out_h = height * scale + 2 * border
    palette = bytes(OFF + (DIM_ON if dimmed else ON) + (60, 60, 60))
    return (b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", out_w, out_h, 8, 3, 0, 0, 0))
            + _chunk(b"PLTE", palette)
            + _chunk(b"IDAT", zlib.compress(bytes(raw), 9))
            + _chunk(b"IEND", b""))


def write_png(path, buf, width=128, height=64, scale=4, dimmed=False):
    with open(path, "wb") as handle:
        handle.write(png_bytes(buf, width, height, scale, dimmed))
    return path
