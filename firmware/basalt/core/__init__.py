"""Pure pump logic: identical results on CPython and MicroPython.

Nothing here may import machine, bluetooth, asyncio, time, rp2, esp32 or os:
time arrives as an argument (now_ms) and hardware is reached through ports.
"""
