"""Host-side rendering of the pump's screens: a framebuf-compatible 1-bit canvas,
the 8x8 font derived from MicroPython's framebuf, PNG output and screenshots."""
