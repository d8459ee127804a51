"""Keys on a board: GPIO pins as callables for the UI's button polling.

Polled, not interrupt-driven (as peterhinch/micropython-async does): the UI task samples
every key every few ms and the pure decoder (basalt.core.ui.keys) debounces and times
the presses, so bounce and timing are tested on the host without hardware. An edge
interrupt, where the port has one, only wakes the polling from its idle wait: the
handler sets a flag and nothing else (basalt.app.ui_task).

Boot only (basalt.app.device.BOOT_ONLY): the key callables themselves are
basalt.app.device.key_for_pin's, so nothing that runs after boot keeps this module.
"""

from basalt.app.device import key_for_pin
from basalt.core.ui.keys import KEY_NAMES


def key_pins(buttons):
    """[(spec, Pin)] for the keys of a board's buttons section, in KEY_NAMES order."""
    from machine import Pin  # device path only

    pulls = {None: None, "up": Pin.PULL_UP, "down": Pin.PULL_DOWN}
    pins = []
    for name in KEY_NAMES:
        spec = getattr(buttons, name, None)
        if spec is None:
            break
        pins.append((spec, Pin(spec.number, Pin.IN, pulls[spec.pull])))
    return pins


def board_keys(buttons, pins=None):
    """(up, down, select[, back]) callables for a board's buttons section."""
    return tuple(key_for_pin(pin, spec.invert) for spec, pin in pins or key_pins(buttons))


def wire_edges(pins, handler):
    """handler(pin) on both edges of every key; False where the port's pins have no irq
    (the UI then polls all the time)."""
    for _, pin in pins:
        if not hasattr(pin, "irq"):
            return False
        pin.irq(handler, pin.IRQ_FALLING | pin.IRQ_RISING)
    return True
