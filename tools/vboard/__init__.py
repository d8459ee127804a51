"""The virtual board: MicroPython (WebAssembly, under node) behind a pseudo-terminal.

    python -m tools.vboard [--link PATH]        (make vboard)

prints the port (e.g. /dev/pts/5) and serves until Ctrl-C. Then, from another shell:

    .venv/bin/mpremote connect /dev/pts/5 repl
    make deploy BOARD=vboard PORT=/dev/pts/5 MIP=0

The VM (tools/vboard/vboard.mjs) speaks MicroPython's friendly REPL, raw REPL and
raw-paste mode on its stdin/stdout; this module owns the pseudo-terminal and copies bytes
between it and the VM. The simulated machine and bench are tools/vboard/py/machine.py
and vboard.py (see there for what is simulated).

VirtualBoard(virtual_time=True) runs the firmware on virtual time instead (the device
VM's clock and scheduler, py/_vboard_vtime.py): it moves only when the host calls
advance_ms() (or while the program answers a USB request), so a tool such as the
simulated bench rig (tools.rig --simulate) runs hours of firmware in seconds.
"""

import json
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

    def __init__(self, link=None, heap=None, virtual_time=False):
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
        self._control = None
        pass_fds = ()
        if virtual_time:
            to_vm, self._to_vm = os.pipe()
            self._from_vm, from_vm = os.pipe()
            cmd += ["--virtual-time", "--control", "%d,%d" % (to_vm, from_vm)]
            pass_fds = (to_vm, from_vm)
            self._control = threading.Lock()
        self._node = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      cwd=HERE.parents[1], pass_fds=pass_fds,
                                      env=dict(os.environ, NODE_NO_WARNINGS="1"))
        if virtual_time:
            os.close(to_vm)
            os.close(from_vm)
            self._replies = os.fdopen(self._from_vm, "rb")
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

    # ----- virtual time (virtual_time=True) -----------------------------------------

    def _ask(self, **request):
        if self._control is None:
            raise RuntimeError("this virtual board runs on real time (virtual_time=False)")
        with self._control:
            os.write(self._to_vm, (json.dumps(request) + "\n").encode())
            line = self._replies.readline()
        if not line:
            raise RuntimeError("the virtual board's VM ended")
        return json.loads(line)

    def state(self):
        """{"now_us": virtual time, "position": plunger microsteps, "force_mn": ...}"""
        return self._ask(op="state")

    def advance_ms(self, ms):
        """Run the firmware for ms of virtual time (across any reset); the new state."""
        state = self.state()
        end = state["now_us"] + int(ms) * 1000
        while state["now_us"] < end:
            state = self._ask(op="advance", ms=-(-(end - state["now_us"]) // 1000))
        return state

    def set_force_mn(self, mn):
        """The force on the plunger's load cell (an occlusion pushes it up)."""
        return self._ask(op="force", mn=int(mn))

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        if self._control is not None:
            os.close(self._to_vm)  # first: node waits for its read of the control pipe
        if self._node.poll() is None:
            self._node.stdin.close()
            try:
                self._node.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._node.kill()
                self._node.wait()
        self._node.stdout.close()
        if self._control is not None:
            self._replies.close()
        for fd in (self._master, self._slave):
            os.close(fd)
        if self.link and os.path.islink(self.link):
            os.unlink(self.link)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
