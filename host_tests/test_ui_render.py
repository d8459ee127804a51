"""Pixels: the host renderer (tools/screens/hostfb.py) draws exactly what MicroPython's own
framebuf draws, primitive by primitive; the font table is what the VM renders; PNGs
hold exactly the frame's pixels. (The reference screens are compared bit for bit in
the MicroPython lane: host_tests/vectors/ui_vectors.py.)"""

import hashlib
import io
import json
import random

import pytest
from PIL import Image

from tools.mpvm import missing_requirements, run_micropython_code
from tools.screens import fontgen
from tools.screens.hostfb import HostFrameBuffer
from tools.screens.png import ON, png_bytes

needs_vm = pytest.mark.skipif(missing_requirements() is not None,
                              reason="MicroPython VM not set up")


def random_ops(seed, count):
    """[background, primitive, *arguments]: drawn in the opposite colour of the fill."""
    rng = random.Random(seed)
    ops = []
    for _ in range(count):
        kind = rng.choice(["line", "line", "rect", "rect_fill", "fill_rect", "hline", "vline",
                           "text", "pixel"])
        color = rng.choice([0, 1])
        x, y = rng.randint(-20, 140), rng.randint(-20, 80)
        if kind == "line":
            ops.append([kind, x, y, rng.randint(-20, 140), rng.randint(-20, 80), color])
        elif kind == "rect_fill":
            ops.append(["rect", x, y, rng.randint(-3, 60), rng.randint(-3, 40), color, True])
        elif kind in ("rect", "fill_rect"):
            ops.append([kind, x, y, rng.randint(-3, 60), rng.randint(-3, 40), color])
        elif kind in ("hline", "vline"):
            ops.append([kind, x, y, rng.randint(-3, 130), color])
        elif kind == "text":
            text = "".join(chr(rng.randint(20, 130)) for _ in range(rng.randint(0, 5)))
            ops.append([kind, text, x, y, color])
        else:
            ops.append([kind, x, y, color])
        ops[-1].insert(0, 1 - color)
    return ops


VM_OPS = """
import framebuf, hashlib, binascii, json
buf = bytearray(1024)
fb = framebuf.FrameBuffer(buf, 128, 64, framebuf.MONO_VLSB)
for op in json.loads(%r):
    fb.fill(op[0])
    getattr(fb, op[1])(*op[2:])
    print(binascii.hexlify(hashlib.sha256(buf).digest()).decode())
"""


@needs_vm
def test_host_primitives_match_micropython_framebuf():
    ops = random_ops(7, 1_500)
    vm = run_micropython_code(VM_OPS % json.dumps(ops)).split()
    assert len(vm) == len(ops)
    for op, want in zip(ops, vm):
        fb = HostFrameBuffer()
        fb.fill(op[0])
        getattr(fb, op[1])(*op[2:])
        assert hashlib.sha256(fb.buf).hexdigest() == want, op


@needs_vm
def test_font_table_is_what_the_vm_renders():
    assert fontgen.FONT_FILE.read_text() == fontgen.module_text(fontgen.glyphs_from_vm()), (
        "regenerate with: python -m tools.screens.fontgen")


def test_host_text_draws_only_set_pixels_and_clips():
    fb = HostFrameBuffer()
    fb.fill(1)
    fb.text("A", 124, 60, 0)
    assert fb.pixel(0, 0) == 1 and fb.pixel(130, 0) is None
    cleared = [(x, y) for x in range(124, 128) for y in range(60, 64) if not fb.get(x, y)]
    assert cleared  # part of the glyph landed, the rest was clipped


def test_png_holds_exactly_the_frame():
    fb = HostFrameBuffer()
    fb.line(0, 0, 127, 63, 1)
    fb.text("Hi", 10, 20, 1)
    image = Image.open(io.BytesIO(png_bytes(fb.buf, scale=2, border=0))).convert("RGB")
    assert image.size == (256, 128)
    for y in range(64):
        for x in range(128):
            want = ON if fb.get(x, y) else (0, 0, 0)
            assert image.getpixel((2 * x + 1, 2 * y + 1)) == want, (x, y)
