# The device VM's fakes, installed on import (MicroPython): vtime as `time`, vasyncio as
# `asyncio`, tools/vboard's machine (staged as vb_machine) patched by vhw for virtual
# time, vhw's rp2/esp32/ssd1306; /board.py, /settings.json and /main.py copied from the
# host's staging folder /lib/devicevm/files; the VM's errnos translated to a board's;
# select.poll with no host input; vble's `bluetooth` and `aioble` (pairing only on an
# ESP32 board file, as NimBLE).
# Import it before anything that imports time, asyncio or machine.

import sys

sys.path.insert(0, "/lib/devicevm")
import vtime  # noqa: E402

sys.modules["time"] = vtime
import vasyncio  # noqa: E402

sys.modules["asyncio"] = vasyncio
import vb_machine  # noqa: E402  (tools/vboard/py/machine.py, staged under this name)
import vhw  # noqa: E402

vhw.install_machine(vb_machine)
sys.modules["machine"] = vb_machine


class _Module:
    pass


def _module(name, **attrs):
    mod = _Module()
    for key, value in attrs.items():
        setattr(mod, key, value)
    sys.modules[name] = mod


_module("rp2", PIO=vhw.PIO, StateMachine=vhw.StateMachine, asm_pio=vhw.asm_pio,
        asm_pio_encode=vhw.asm_pio_encode)
_module("esp32", RMT=vhw.RMT)
_module("ssd1306", SSD1306_I2C=vhw.ssd1306_module())


class _NoInput:
    """select.poll() on the USB console: no host is plugged in during a story (polling
    the VM's real stdin costs milliseconds of wall time per look)."""

    def register(self, stream, mask=0):
        pass

    def ipoll(self, timeout=-1):
        return ()


_module("select", POLLIN=1, poll=_NoInput)

FILES = "/lib/devicevm/files/"


def _setup_files():
    import vm_errno  # tools/vboard/py/vm_errno.py

    vm_errno.translate_errnos()
    for name in ("board.py", "settings.json", "main.py"):
        try:
            with open(FILES + name) as src, open("/" + name, "w") as dst:
                dst.write(src.read())
        except OSError:
            pass  # no settings file is a story too


_setup_files()


def _install_ble():
    import vble

    with open("/board.py") as board:
        vble.install(can_pair='"mcu": "esp32"' in board.read())


_install_ble()
