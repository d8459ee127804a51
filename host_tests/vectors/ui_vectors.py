"""UI vectors: every reference screen drawn into a 128x64 MONO_VLSB buffer.

Under MicroPython the canvas is MicroPython's own framebuf; under CPython it is the
host renderer (tools/screens/hostfb.py). The lane compares the printed lines, so the pixels
(and the text dumps, and the commands the menus emit) must be identical bit for bit.
"""

import hashlib

from basalt.core.ui.history import history_line
from basalt.core.ui.keys import SELECT, UP, ButtonDecoder
from basalt.core.ui.textdump import TextDump
from vectors.vectorkit import update_all

try:  # CPython: the repo root is on the path
    from tools.screens.reference import Keys, base_view, menu_for, new_canvas, screens
except ImportError:  # MicroPython: the lane copies tools/screens to /lib/screens
    from screens.reference import Keys, base_view, menu_for, new_canvas, screens


def hexlify(data):
    return "".join("%02x" % b for b in data)


for name, menu, view in screens():
    painter = TextDump(new_canvas())
    menu.draw(painter, view)
    buf = painter.c.buf
    print("screen %s sha256 %s" % (name, hexlify(hashlib.sha256(bytes(buf)).digest())))
    for line in painter.dump().split("\n"):
        print("  | " + line)
    for row in range(8):
        print("  %d %s" % (row, hexlify(buf[row * 128:(row + 1) * 128])))

# A whole normal bolus: the commands the menu emits, exactly.
view = base_view()
menu = menu_for(view)
Keys(menu, view).click(SELECT).click(SELECT).click(SELECT).click(UP, 13).click(SELECT)
print("before confirm", menu.pop_commands())
Keys(menu, view).click(SELECT)
commands = menu.pop_commands()
print("after confirm", [(name, sorted(values.items())) for name, values in commands])

# The button decoder: a bouncing press, a long hold with repeats, a glitch.
events = []
decoder = ButtonDecoder(lambda now, key, kind: events.append((now, key, kind)), keys=4)
raw = {0: 0b0001, 3: 0, 5: 0b0001, 200: 0, 203: 0b0001, 206: 0, 400: 0b0100,
       1_900: 0, 2_000: 0b1000, 2_010: 0}
mask = 0
for now in range(0, 2_300, 5):
    mask = raw.get(now, mask)
    update_all(decoder, now, mask)
print("decoder", events)

# History lines for every kind of event the screens know.
samples = [
    ("bolus_started", {"programmed_mu": 2_500, "at_ms": 60_000}),
    ("bolus_done", {"delivered_mu": 2_499, "at_ms": 160_000}),
    ("bolus_cancelled", {"delivered_mu": 1_204, "at_ms": 170_000}),
    ("temp_basal_started", {"percent": 150, "rate_mu_h": None, "at_ms": 0}),
    ("temp_basal_started", {"percent": None, "rate_mu_h": 1_250, "at_ms": 0}),
    ("stopped", {"reason": "suspended", "at_ms": 0}),
    ("reservoir_fitted", {"fill_mu": 200_000, "at_ms": 0}),
    ("alarm_raised", {"code": "occlusion", "at_ms": 0}),
    ("bolus_part_done", {"at_ms": 0}),
    ("something_new", {"at_ms": 0}),
]
for kind, detail in samples:
    print("history", kind, history_line(kind, detail, 200_000, 7 * 3_600_000 + 5 * 60_000))
