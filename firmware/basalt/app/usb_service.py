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
        """The answer line (JSON) to a request's JSON text (basalt.app.usb_requests:
        loaded when a host tool first talks, not at boot)."""
        from basalt.app.usb_requests import answer

        return answer(self, text)


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
