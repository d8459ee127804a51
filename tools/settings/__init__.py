"""Host tools for the therapy settings file: `python -m tools.settings check|example`."""
