"""Basalt: firmware for a benchtop insulin-pump prototype. NOT FOR HUMAN USE."""

PACKAGE_VERSION = "0.1.0"  # the release; tools/deploy puts it in the mip manifests

try:  # basalt/version.py: the stamp tools/deploy writes on the board ("0.1.0+<commit>")
    from basalt.version import VERSION
except ImportError:  # not installed by tools/deploy (mip, the host, the simulator)
    VERSION = PACKAGE_VERSION


def firmware_version():
    """The one version string: deploy's stamp when present, else the package version.
    The boot screen shows it; the journal's boot record carries it (fw)."""
    return VERSION


def forget(names):
    """Drop modules from sys.modules and from their packages, so gc can free them."""
    import sys

    for name in names:
        sys.modules.pop(name, None)
        package, _, short = name.rpartition(".")
        parent = sys.modules.get(package)
        if parent is not None and short in parent.__dict__:
            delattr(parent, short)


def call_and_forget(module, name, *args):
    """module.name(*args) with the module imported for the call and forgotten after:
    code a running pump seldom needs costs no heap between its uses."""
    loaded = __import__(module, None, None, (name,))
    try:
        return getattr(loaded, name)(*args)
    finally:
        forget((module,))
