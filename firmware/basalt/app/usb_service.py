"""The USB console service: host tools read the pump and send it commands while therapy
runs, without the REPL (whose Ctrl-C would end the program) and without a reset.

A request is one line `#B< {json}`, its answer one line `#B> {json}` with the request's
"id". The "#" makes a request a comment to the REPL: when the app is not running, the
REPL answers it with nothing but a prompt, and the host knows. Other lines are dropped.

    {"q": "status"}                        the pump's state (read only), with the force
                                           reading and a latched occlusion alarm
    {"q": "files"}                         [[name, bytes], ...] in /data (read only)
    {"q": "read", "file": N, "at": BYTE}   up to 768 bytes of /data/N, base64 (read only)
    {"q": "cmd", "cmd": {"cmd": ...}}      one command through the command table
    {"q": "maintenance"}                   reset into one boot without the app (stopped
                                           pump only): mpremote then has the board alone
"""

import json
from binascii import b2a_base64

try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(value):
        return value

REQUEST = b"#B< "
REPLY = "#B> "
MAINTENANCE_FLAG = "/maintenance"
_IDLE_MS = const(50)  # between looks at the console while a host tool talks
_QUIET_MS = const(250)  # ... once no line came for _QUIET_AFTER_MS: a first request waits
_QUIET_AFTER_MS = const(5_000)  # at most this long, and the idle pump wakes 4, not 20, a s
_CHUNK = const(768)  # file bytes per read answer: 1 KB of base64
_MAX_LINE = const(4096)  # a settings file in a save_settings command fits
_BURST = const(512)  # bytes taken per look, so a long line cannot hold up a tick


class StdioConsole:
    """sys.stdin/stdout of the board (USB CDC or UART), polled so the loop never waits.
    Ctrl-C never arrives here: the port turns it into KeyboardInterrupt (kbd_intr)."""

    def __init__(self, stdin=None, stdout=None):
        import select
        import sys

        stdin = stdin or sys.stdin
        self._poll = select.poll()
        self._poll.register(stdin, select.POLLIN)
        self._in = stdin.buffer
        self._out = stdout or sys.stdout
        self._line = bytearray()
        self._skip = False  # the rest of an overlong line is dropped

    def _ready(self):
        for _ in self._poll.ipoll(0):  # ipoll: no list allocated per look
            return True
        return False

    def readline(self):
        """A complete line (bytes, without its end), or None; never waits."""
        taken = 0
        while taken < _BURST and self._ready():
            taken += 1
            byte = self._in.read(1)
            if byte in (b"\r", b"\n"):
                line, skipped = self._line, self._skip
                self._line, self._skip = bytearray(), False
                if line and not skipped:
                    return bytes(line)
            elif len(self._line) < _MAX_LINE:
                self._line.extend(byte)
            else:
                self._skip = True
        return None

    def write(self, text):
        self._out.write(text)


def open_console(mcu):
    """The console the board's USB serial port is: the virtual board brings its own."""
    if mcu == "vboard":
        from vboard import console

        console.open()
        return console
    return StdioConsole()


def on_board(app, mcu):
    """The service on the board's USB console; it may reset the board (maintenance)."""
    import machine

    return UsbService(app, open_console(mcu), reset=machine.reset)


class UsbService:
    """Answers requests between delivery ticks; one request at a time, each short."""

    def __init__(self, app, console, folder="/data", reset=None, flag=MAINTENANCE_FLAG):
        self.app = app
        self.console = console
        self.folder = folder
        self.flag = flag
        self._reset = reset  # machine.reset on a board
        self._maintenance_asked = False

    async def run(self):
        console = self.console
        clock = self.app.clock
        sleep_ms = clock.sleep_ms
        last_line = clock.now_ms()
        while True:
            line = console.readline()
            if line is None:
                quiet = clock.now_ms() - last_line >= _QUIET_AFTER_MS
                await sleep_ms(_QUIET_MS if quiet else _IDLE_MS)
                continue
            last_line = clock.now_ms()
            if line.startswith(REQUEST):
                console.write(REPLY + self.answer(line[len(REQUEST):]) + "\n")
                if self._maintenance_asked:
                    await sleep_ms(200)  # the answer leaves the USB buffer first
                    self._reset()
            await sleep_ms(0)

    def answer(self, text):
        """The answer line (JSON) to a request's JSON text; a bad request is answered
        with what was wrong and changes nothing."""
        ident = None
        try:
            req = json.loads(text)
            ident = req.get("id")
            ask = req.get("q")
            handler = _HANDLERS.get(ask)
            if handler is None:
                raise ValueError("q: %r is not one of %s" % (ask, ", ".join(sorted(_HANDLERS))))
            reply = handler(self, req)
            reply["ok"] = True
        except Exception as error:  # noqa: BLE001 - answered, never ends the service
            reply = {"ok": False, "error": "%s: %s" % (type(error).__name__, error)}
        reply["id"] = ident
        return json.dumps(reply)

    def status(self, req):
        app = self.app
        engine = app.engine
        keeper = app.keeper
        waiting = keeper is not None and keeper.awaiting_ack
        detector = app.occlusion.detector  # the bench rig times and weighs occlusions
        from basalt import firmware_version

        return {"fw": firmware_version(), "boot": keeper.boot if keeper else 0,
                "ms": engine.last_ms(), "stop": engine.stop_reason, "ack": waiting,
                "delivering": engine.stop_reason is None and not waiting,
                "bolus_running": engine.bolus_running(), "rate_mu_h": engine.basal_rate_mu_h(),
                "basal": engine.basal_steps, "bolus": engine.bolus_steps,
                "moved": app.motion.moved_steps, "busy": app.motion.busy(),
                "force_mn": detector.filtered, "occlusion": detector.alarm,
                "notes": keeper.boot_notes if waiting else []}

    def files(self, req):
        import os

        folder = self.folder
        return {"files": [[name, os.stat(folder + "/" + name)[6]]
                          for name in sorted(os.listdir(folder))]}

    def read(self, req):
        name, at = req.get("file"), req.get("at", 0)
        if not isinstance(name, str) or not name or "/" in name or name[0] == ".":
            raise ValueError("file: %r is not a file name in %s" % (name, self.folder))
        if not isinstance(at, int) or at < 0:
            raise ValueError("at: %r is not a byte offset (0 or more)" % (at,))
        with open(self.folder + "/" + name, "rb") as handle:
            handle.seek(at)
            data = handle.read(_CHUNK)
        return {"at": at, "n": len(data), "data": b2a_base64(data).decode().strip()}

    def command(self, req):
        result = self.app.command(req.get("cmd"))  # the command table and its guards
        return {"result": result if result is None or isinstance(result, int) else str(result)}

    def maintenance(self, req):
        if self._reset is None:
            raise ValueError("maintenance: this pump cannot reset itself")
        if self.app.engine.stop_reason is None:
            raise ValueError("maintenance: the pump is delivering: suspend it first")
        with open(self.flag, "w") as handle:
            handle.write("1")
        self._maintenance_asked = True  # reset once the answer is out
        return {}


_HANDLERS = {"status": UsbService.status, "files": UsbService.files, "read": UsbService.read,
             "cmd": UsbService.command, "maintenance": UsbService.maintenance}


def interrupted(app):
    """Ctrl-C on the USB console ended the program (KeyboardInterrupt out of
    asyncio.run): stop the motor, disable its driver, and say so on the REPL."""
    if app is not None:
        app.motion.halt(app.clock.now_ms())  # disables the driver
    print("BASALT: THERAPY STOPPED (interrupted from USB), motor off. "
          "Ctrl-D restarts the pump.")


def maintenance_boot(flag=MAINTENANCE_FLAG):
    """True once after a maintenance request: this boot leaves the board to mpremote
    (no app, no watchdog started)."""
    import os

    try:
        os.remove(flag)
    except OSError:
        return False
    print("BASALT: maintenance boot: the pump app is not running. "
          "`mpremote reset` (or Ctrl-D) starts it.")
    return True
