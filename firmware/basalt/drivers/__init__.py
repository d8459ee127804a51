"""Adapters from the ports to real hardware (MicroPython only; buses are passed in)."""
