"""The host side of the pump's USB console service (firmware basalt/app/usb_service.py):
status, the journal's files and commands over the serial port while therapy runs.

No REPL, no Ctrl-C, no reset: a request is a line the running app answers. When the app
is not running, the REPL answers the request (a comment to it) with its prompt, and
ask() raises NotRunning; with nothing answering at all, NoAnswer.
"""

import base64
import json
import time

REQUEST = b"#B< "
REPLY = b"#B> "
PROMPT = b">>> "


class LinkError(Exception):
    pass


class NotRunning(LinkError):
    """The REPL answered: the pump app is not running on the board."""


class NoAnswer(LinkError):
    """Nothing answered (no MicroPython, the raw REPL, another program on the port)."""


class Refused(LinkError):
    """The pump answered with an error (a refused command, a bad request)."""


def device_path(port):
    """The serial device of an mpremote port name: a0 /dev/ttyACM0, u0 /dev/ttyUSB0,
    c0 COM0, port:PATH (mpremote's shortcuts); anything else as it is."""
    if port.startswith("port:"):
        return port[len("port:"):]
    prefixes = {"a": "/dev/ttyACM", "u": "/dev/ttyUSB", "c": "COM"}
    if len(port) >= 2 and port[0] in prefixes and port[1:].isdigit():
        return prefixes[port[0]] + port[1:]
    return port


class PumpLink:
    def __init__(self, port, timeout_s=3.0, serial_factory=None):
        if serial_factory is None:
            import serial

            serial_factory = serial.Serial
        self.port = port
        self.timeout_s = timeout_s
        self._serial = serial_factory(device_path(port), 115200, timeout=0.05)
        self._serial.reset_input_buffer()  # what the board printed before is not an answer
        self._next_id = 0
        self._pending = b""
        self.other_output = []  # lines the board printed that were not answers

    def close(self):
        self._serial.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def ask(self, q, **fields):
        """One request, its answer (a dict with "ok": True); Refused if the pump said no."""
        self._next_id += 1
        ident = self._next_id
        fields.update(q=q, id=ident)
        request = REQUEST + json.dumps(fields).encode()
        self._serial.write(request + b"\r")
        echoed = False  # the REPL echoes what it is given; the running app does not
        end = time.monotonic() + self.timeout_s
        while time.monotonic() < end:
            for line in self._lines():
                if line.startswith(REPLY):
                    answer = json.loads(line[len(REPLY):])
                    if answer.get("id") != ident:
                        continue  # a late answer to an earlier request
                    if not answer.get("ok"):
                        raise Refused(answer.get("error", "refused"))
                    return answer
                echoed = echoed or request in line
                self.other_output.append(line.decode(errors="replace"))
            if echoed and self._pending.endswith(PROMPT):
                self._pending = b""
                raise NotRunning("the pump app is not running on %s (its REPL answered)"
                                 % self.port)
        raise NoAnswer("nothing on %s answered in %.0f s (is it a Basalt pump? is another "
                       "program holding the port?)" % (self.port, self.timeout_s))

    def _lines(self):
        # What is waiting, else one byte: returns as soon as the answer starts (a read
        # of more waits for the port's whole timeout when fewer bytes come).
        data = self._serial.read(max(1, getattr(self._serial, "in_waiting", 0)))
        if not data:
            return []
        self._pending += data
        *lines, self._pending = self._pending.split(b"\n")
        return [line.rstrip(b"\r") for line in lines]

    def command(self, **cmd):
        """A command through the pump's command table, e.g. command(cmd="suspend")."""
        return self.ask("cmd", cmd=cmd).get("result")

    def status(self):
        return self.ask("status")

    def files(self):
        return self.ask("files")["files"]

    def read_file(self, name, size=None):
        """The file's bytes, read in chunks (up to its size when given, else to its end)."""
        data = b""
        while size is None or len(data) < size:
            answer = self.ask("read", file=name, at=len(data))
            chunk = base64.b64decode(answer["data"])
            if not chunk:
                break
            data += chunk
        return data if size is None else data[:size]


def wait_for_status(port, timeout_s=30.0, link_factory=PumpLink):
    """The status once the app answers after a restart (None if it never did)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            with link_factory(port) as link:
                return link.status()
        except (NotRunning, NoAnswer, OSError):
            time.sleep(0.5)
    return None


def describe(status):
    """One line: what the pump is doing, from a status answer."""
    if status["ack"]:
        return "restarted, its boot screen waits to be acknowledged on the pump (no delivery)"
    if status["delivering"]:
        return "delivering (basal %.3f U/h%s)" % (status["rate_mu_h"] / 1000,
                                                 ", a bolus running" if status["bolus_running"]
                                                 else "")
    return "stopped (%s)" % status["stop"]


def loudly(lines):
    """A banner no one misses in a terminal."""
    bar = "!" * 72
    return "\n".join([bar] + ["!! " + line for line in lines] + [bar])
