"""Basalt firmware entry point (benchtop prototype, not for human use)."""

from basalt.app import device
from basalt.app.usb_service import interrupted, maintenance_boot


def on_interrupt():
    """Ctrl-C on the USB console (mpremote, a terminal) ended the program: motor off,
    and the REPL says therapy stopped and how to restart it."""
    interrupted(device.app)


if not maintenance_boot():  # deploy asked for one boot that leaves the board to it
    try:
        device.start()
    except KeyboardInterrupt:  # raised out of asyncio.run: the app's tasks are gone
        on_interrupt()
