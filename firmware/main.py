"""Basalt firmware entry point (benchtop prototype, not for human use)."""

from basalt.board_main import start

start()
