"""Keys on a board: GPIO pins as callables for the UI's button polling.

Polled, not interrupt-driven (as peterhinch/micropython-async does): the UI task samples
every key every few ms and the pure decoder (basalt.core.ui.keys) debounces and times
the presses, so bounce and timing are tested on the host without hardware.
"""

from basalt.core.ui.keys import KEY_NAMES


def key_for_pin(pin, invert):
    """A callable that is True while the key is pressed (invert: active low)."""
    value = pin.value
    if invert:
        return lambda: not value()
    return lambda: bool(value())


def board_keys(buttons):
    """(up, down, select[, back]) callables for a board's buttons section."""
    from machine import Pin  # device path only

    pulls = {None: None, "up": Pin.PULL_UP, "down": Pin.PULL_DOWN}
    keys = []
    for name in KEY_NAMES:
        spec = getattr(buttons, name, None)
        if spec is None:
            break
        pin = Pin(spec.number, Pin.IN, pulls[spec.pull])
        keys.append(key_for_pin(pin, spec.invert))
    return tuple(keys)
