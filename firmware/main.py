"""Basalt firmware entry point (benchtop prototype, not for human use)."""

from basalt.app.device import start

start()
