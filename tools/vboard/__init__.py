"""The virtual board: MicroPython (WebAssembly, under node) behind a pseudo-terminal.

    python -m tools.vboard [--link PATH]        (make vboard)

prints the port (e.g. /dev/pts/5) and serves until Ctrl-C. Then, from another shell:

    .venv/bin/mpremote connect /dev/pts/5 repl
    make deploy BOARD=vboard PORT=/dev/pts/5 MIP=0

The VM (tools/vboard/vboard.mjs) speaks MicroPython's friendly REPL, raw REPL and
raw-paste mode on its stdin/stdout; this module owns the pseudo-terminal and copies bytes
between it and the VM. The simulated machine and bench are tools/vboard/py/machine.py
and vboard.py (see there for what is simulated).
"""

import os
import selectors
import subprocess
import threading
import tty
from pathlib import Path

from tools.mpvm import missing_requirements

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "vboard.mjs"
_CHUNK = 4096


class VirtualBoard:
    """A running virtual board. `port` is the pseudo-terminal's path; close() stops it.

    The pty stays open on our side too, so a client may come and go (like unplugging a
    serial adapter); what the board prints while nobody listens is dropped once the
    terminal's buffer is full, as a UART would drop it.
    """

    def __init__(self, link=None, heap=None):
        missing = missing_requirements()
        if missing:
            raise RuntimeError(missing)
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self.link = link
        if link:
            if os.path.islink(link):
                os.unlink(link)
            os.symlink(self.port, link)
        cmd = ["node", str(RUNNER)] + (["--heap", str(heap)] if heap else [])
        self._node = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      cwd=HERE.parents[1],
                                      env=dict(os.environ, NODE_NO_WARNINGS="1"))
        os.set_blocking(self._node.stdout.fileno(), False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="vboard-pty", daemon=True)
        self._thread.start()

    def _pump(self):
        sel = selectors.DefaultSelector()
        board_out = self._node.stdout.fileno()
        sel.register(self._master, selectors.EVENT_READ, "host")
        sel.register(board_out, selectors.EVENT_READ, "board")
        while not self._stop.is_set():
            for key, _ in sel.select(timeout=0.1):
                try:
                    data = os.read(key.fd, _CHUNK)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if key.data == "board":
                    if not data:
                        return  # the VM ended
                    self._to_host(data)
                elif data:
                    self._node.stdin.write(data)
                    self._node.stdin.flush()

    def _to_host(self, data):
        try:
            os.write(self._master, data)
        except BlockingIOError:
            pass  # nobody reads and the terminal buffer is full: dropped, like a UART

    def alive(self):
        return self._node.poll() is None

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        if self._node.poll() is None:
            self._node.stdin.close()
            try:
                self._node.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._node.kill()
                self._node.wait()
        self._node.stdout.close()
        for fd in (self._master, self._slave):
            os.close(fd)
        if self.link and os.path.islink(self.link):
            os.unlink(self.link)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
