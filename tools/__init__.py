"""Host-side tools for Basalt (simulator, bench, MicroPython VM runner, build helpers)."""
