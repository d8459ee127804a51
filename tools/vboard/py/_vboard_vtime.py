# Virtual time for the virtual board (tools/vboard --virtual-time). MicroPython only.
#
# The device VM's clock and scheduler (tools/devicevm/py: vtime as `time`, vasyncio as
# `asyncio`, vhw's WDT and Timer in `machine`) under the virtual board's REPL and USB
# console: the firmware's time moves only when the host asks (advance), or while the
# running program answers a USB request (serve), so a host tool sets the pace and hours
# of firmware time take seconds. Imported before _vboard_boot, so the modules it puts in
# place outlive resets as the bench does.

import sys

import vtime

sys.modules["time"] = vtime
import vasyncio  # noqa: E402

sys.modules["asyncio"] = vasyncio
import js  # noqa: E402
import machine  # noqa: E402  (tools/vboard/py/machine.py)
import vboard  # noqa: E402
import vhw  # noqa: E402

machine.WDT = vhw.WDT  # deadlines on the virtual clock, checked by _run
machine.Timer = vhw.Timer  # tasks of the program on the virtual scheduler
_SERVE_STEP_US = 10_000
_SERVE_MAX_US = 2_000_000


def _stop(at_us):
    """The run ends early at a watchdog deadline or once a reset is requested."""
    deadline = vhw.wdt_deadline()
    if deadline is not None and deadline <= at_us:
        vtime.advance_to(deadline)
        js.vboard_request_reset("wdt")
        vhw._wdt["deadline"] = None
        return True
    return bool(js.vboard_reset_pending())


def _run(until_us):
    vasyncio.run_until(until_us, _stop)
    for error in vasyncio._state["crashes"]:
        sys.print_exception(error)
    vasyncio._state["crashes"] = []


def advance(ms):
    """Run the firmware for ms of virtual time (less if a reset comes first)."""
    _run(vtime.now_us() + int(ms) * 1000)
    report()


def report():
    """The bench as the host sees it: virtual time, plunger microsteps, force."""
    js.vboard_control_reply('{"now_us": %d, "position": %d, "force_mn": %d}'
                            % (vtime.now_us(), vboard.position(), vboard.hx711.force_mn))


def force(mn):
    vboard.set_force_mn(mn)
    report()


def serve():
    """A request reached the USB console: the program runs until it has read it."""
    end = vtime.now_us() + _SERVE_MAX_US
    while vboard.console.lines and vtime.now_us() < end and not js.vboard_reset_pending():
        _run(vtime.now_us() + _SERVE_STEP_US)


def power_off():
    """A reset: the chip stops; its tasks and its watchdog are gone."""
    vasyncio.reset()
    vhw._wdt["deadline"] = None
