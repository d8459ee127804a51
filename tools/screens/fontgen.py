"""Derive the 8x8 glyph table from MicroPython's own framebuf (run inside the VM).

    python -m tools.screens.fontgen          # rewrite tools/screens/font8x8.py
    python -m tools.screens.fontgen --check  # exit 1 if the committed table differs

Each printable character (and 127, the glyph framebuf draws for anything outside
32..127) is rendered once into an 8x8 MONO_VLSB FrameBuffer; its 8 column bytes are the
glyph. The table is data produced by running MicroPython, not code taken from it.
"""

import sys
from pathlib import Path

from tools.mpvm import run_micropython_code

FONT_FILE = Path(__file__).resolve().parent / "font8x8.py"
FIRST, LAST = 32, 127

_VM_SCRIPT = """
import framebuf
buf = bytearray(8)
fb = framebuf.FrameBuffer(buf, 8, 8, framebuf.MONO_VLSB)
out = []
for code in range(%d, %d):
    fb.fill(0)
    fb.text(chr(code), 0, 0, 1)
    out.append(''.join('%%02x' %% b for b in buf))
print(''.join(out))
""" % (FIRST, LAST + 1)


def glyphs_from_vm():
    """The glyph bytes for codes FIRST..LAST, as rendered by the VM's framebuf."""
    return bytes.fromhex(run_micropython_code(_VM_SCRIPT).strip())


def module_text(glyphs):
    lines = [
        '"""8x8 glyphs of MicroPython\'s framebuf.text(), codes 32..127 (generated).',
        "",
        "Written by `python -m tools.screens.fontgen` from renders inside the MicroPython VM;",
        "host_tests/test_ui_render.py regenerates it and compares. 8 bytes per glyph, one",
        'per column, bit 0 at the top (MONO_VLSB). Do not edit by hand."""',
        "",
        "FIRST = %d" % FIRST,
        "LAST = %d" % LAST,
        "GLYPHS = bytes.fromhex(",
    ]
    text = glyphs.hex()
    for i in range(0, len(text), 64):
        lines.append('    "%s"' % text[i:i + 64])
    lines.append(")")
    return "\n".join(lines) + "\n"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    wanted = module_text(glyphs_from_vm())
    if "--check" in argv:
        same = FONT_FILE.read_text() == wanted
        print("font8x8.py matches the VM" if same else "font8x8.py differs from the VM")
        return 0 if same else 1
    FONT_FILE.write_text(wanted)
    print("wrote %s" % FONT_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
