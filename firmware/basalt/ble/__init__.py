"""The Bluetooth side: the CGM client over aioble."""
