"""Host tools for the therapy settings file: `python -m tools.settings check|example`."""

from basalt.core.settings import load_settings, parse_settings_text


def read_settings(path, board=None):
    """Read and check a settings file: (Settings, warnings), or ConfigError / OSError."""
    with open(path, encoding="utf-8") as handle:
        return load_settings(parse_settings_text(handle.read()), board)
