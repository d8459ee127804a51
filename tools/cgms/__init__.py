"""Host CLI for CGM (Bluetooth CGMS 0x181F) debugging: python -m tools.cgms decode [--crc] HEX."""
