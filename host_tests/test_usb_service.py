"""The pump's USB console service (firmware basalt/app/usb_service.py) and its host side
(tools/pump_link.py, tools.history pull, tools/deploy/therapy.py), in CPython: the
link's bytes go straight into the service's answer(), and the pump ticks between
requests as it does between the service's turns on the board.
"""

import json
import os

import pytest

from basalt.app import usb_service
from basalt.storage.files import FileStorage
from basalt.storage.journal import Journal
from host_tests.test_journal_recovery import boot_on_settings_file
from tools import history, pump_link
from tools.deploy import therapy
from tools.history import pull

EXAMPLE = (os.path.join(os.path.dirname(__file__), "..", "settings", "example.json"))
TICK_MS = 250


class Loopback:
    """A serial port whose other end is the service: each request line is answered at
    once, after `ticks_per_request` delivery ticks of the pump."""

    def __init__(self, service, ticks_per_request=0):
        self.service = service
        self.ticks = ticks_per_request
        self.out = b""
        self.requests = []

    def __call__(self, port, baud, timeout):
        return self

    def reset_input_buffer(self):
        self.out = b""

    def write(self, data):
        assert data.startswith(usb_service.REQUEST) and data.endswith(b"\r")
        self.requests.append(json.loads(data[len(usb_service.REQUEST):-1]))
        app = self.service.app
        for _ in range(self.ticks):
            app.clock.advance(TICK_MS)
            app.step()
        line = self.service.answer(data[len(usb_service.REQUEST):-1])
        self.out += (usb_service.REPLY + line + "\n").encode()

    def read(self, n):
        data, self.out = self.out[:n], self.out[n:]
        return data

    def close(self):
        pass


@pytest.fixture
def pump(tmp_path):
    """A pump keeping its journal in real files (tmp_path/data), delivering basal."""
    data = tmp_path / "data"
    storage = FileStorage(str(data))
    with open(EXAMPLE) as handle:
        storage.write("settings.json", handle.read().encode())
    app = boot_on_settings_file(storage)
    service = usb_service.UsbService(app, None, folder=str(data),
                                     reset=lambda: resets.append(1),
                                     flag=str(tmp_path / "maintenance"))
    resets = []
    service.resets = resets
    return service


def link(service, ticks=0, timeout_s=1.0):
    return pump_link.PumpLink("/dev/ttyACM0", timeout_s,
                              serial_factory=Loopback(service, ticks))


def start_basal(service):
    with link(service) as pump:
        pump.command(cmd="boot_ack")
        pump.command(cmd="new_reservoir", units=100)
        pump.command(cmd="resume")
    for _ in range(40):
        service.app.clock.advance(TICK_MS)
        service.app.step()


def test_status_says_what_the_pump_does(pump):
    with link(pump) as usb:
        first = usb.status()
        assert first["ack"] and not first["delivering"] and "Restarted (power_on)" in first["notes"]
        assert pump_link.describe(first).startswith("restarted, its boot screen waits")
    start_basal(pump)
    with link(pump) as usb:
        status = usb.status()
    assert status["delivering"] and status["rate_mu_h"] == 800 and status["basal"] > 0
    assert status["boot"] == first["boot"] and not status["notes"]
    assert pump_link.describe(status) == "delivering (basal 0.800 U/h)"


def test_pull_reads_the_journal_while_the_pump_delivers(pump, tmp_path):
    start_basal(pump)
    app = pump.app
    basal_before = app.engine.basal_steps
    said = []
    path = pull.pull("/dev/ttyACM0", str(tmp_path / "out"), runner=None,
                     link_factory=lambda port: link(pump, ticks=8), say=said.append)
    # The pump ticked 8 times per request: it delivered all through the pull.
    assert app.engine.basal_steps > basal_before and app.engine.stop_reason is None
    assert said[0].startswith("the pump kept running: delivering (basal 0.800 U/h); ")
    view = history.load(path)
    assert not history.warnings(view)  # each file read as long as it was when listed
    kinds = [r.kind for r in view.records]
    assert kinds[0] == "boot" and "resumed" in kinds
    # What was pulled is what the journal held when pull listed it, byte for byte.
    pulled = sorted(os.listdir(tmp_path / "out" / "segments"))
    assert pulled == sorted(n for n in os.listdir(pump.folder) if n.endswith(".jnl") or
                            n.startswith("ck"))


def test_reads_are_chunked_and_read_only(pump):
    name = next(n for n in os.listdir(pump.folder) if n.endswith(".jnl"))
    with open(os.path.join(pump.folder, name), "rb") as handle:
        whole = handle.read()
    answer = json.loads(pump.answer(json.dumps({"q": "read", "file": name, "at": 0})))
    assert answer["ok"] and answer["n"] == min(len(whole), 768)
    with link(pump) as usb:
        assert usb.read_file(name) == whole
        assert dict(usb.files())[name] == len(whole)
    assert whole == open(os.path.join(pump.folder, name), "rb").read()


@pytest.mark.parametrize("request_text, error", [
    ("not json", "Error"),  # JSONDecodeError on CPython, ValueError on MicroPython
    ('{"q": "format"}', "q: 'format' is not one of cmd, files, maintenance, read, status"),
    ('{"q": "read", "file": "../settings.json"}', "file: '../settings.json' is not a file"),
    ('{"q": "read", "file": ".hidden"}', "is not a file name in"),
    ('{"q": "read", "file": "ck0.bin", "at": -1}', "at: -1 is not a byte offset"),
    ('{"q": "read", "file": "nope.jnl"}', "Errno 2"),
    ('{"q": "cmd", "cmd": {"cmd": "loop_bolus", "units": 1}}', "cmd: 'loop_bolus'"),
    ('{"q": "cmd", "cmd": {"cmd": "bolus", "units": 1}}', "acknowledge the boot screen"),
    ('{"q": "cmd", "cmd": {"cmd": "acknowledge", "code": "no_such_alarm"}}', "code"),
])
def test_a_bad_request_is_answered_and_changes_nothing(pump, request_text, error):
    engine = pump.app.engine
    before = (engine.stop_reason, engine.bolus_steps, engine.basal_steps,
              pump.app.keeper.awaiting_ack, sorted(os.listdir(pump.folder)))
    answer = json.loads(pump.answer(request_text))
    assert answer["ok"] is False and error in answer["error"]
    assert (engine.stop_reason, engine.bolus_steps, engine.basal_steps,
            pump.app.keeper.awaiting_ack, sorted(os.listdir(pump.folder))) == before
    assert json.loads(pump.answer('{"q": "status", "id": 7}'))["id"] == 7  # still answers


def test_commands_go_through_the_command_table(pump):
    start_basal(pump)
    with link(pump) as usb:
        with pytest.raises(pump_link.Refused, match="max bolus is 10 U"):
            usb.command(cmd="bolus", units=10.5)
        usb.command(cmd="bolus", units=0.5)
        usb.command(cmd="suspend")
        with pytest.raises(pump_link.Refused, match="already stopped"):
            usb.command(cmd="suspend")
    kinds = [r.kind for r in Journal(FileStorage(pump.folder)).read().records]
    # journaled as from the buttons: the refusal, the bolus, the suspend that stopped it
    assert kinds[-4:] == ["limit_refused", "bolus_started", "bolus_cancelled", "stopped"]


def test_maintenance_only_for_a_stopped_pump_and_only_once(pump):
    start_basal(pump)
    refused = json.loads(pump.answer('{"q": "maintenance"}'))
    assert "delivering: suspend it first" in refused["error"] and not pump.resets
    pump.app.command({"cmd": "suspend"})
    assert json.loads(pump.answer('{"q": "maintenance"}'))["ok"]
    assert os.path.exists(pump.flag)
    assert usb_service.maintenance_boot(pump.flag) is True  # this boot runs no app
    assert usb_service.maintenance_boot(pump.flag) is False  # the next one does


class Repl:
    """A board whose app is not running: its REPL echoes a request and prompts."""

    def __init__(self, answer=True):
        self.answer = answer
        self.out = b"stale output\r\n>>> "  # printed before the link was opened

    def __call__(self, port, baud, timeout):
        return self

    def reset_input_buffer(self):
        self.out = b""

    def write(self, data):
        if self.answer:
            self.out += data.rstrip(b"\r") + b"\r\n>>> "

    def read(self, n):
        data, self.out = self.out[:n], self.out[n:]
        return data

    def close(self):
        pass


def test_the_host_tells_a_stopped_app_from_a_silent_port():
    with pytest.raises(pump_link.NotRunning, match="not running on a0"):
        pump_link.PumpLink("a0", 1.0, serial_factory=Repl()).status()
    with pytest.raises(pump_link.NoAnswer, match="nothing on a0 answered"):
        pump_link.PumpLink("a0", 0.3, serial_factory=Repl(answer=False)).status()
    assert pump_link.device_path("a0") == "/dev/ttyACM0"
    assert pump_link.device_path("u1") == "/dev/ttyUSB1"
    assert pump_link.device_path("port:/dev/pts/3") == "/dev/pts/3"


def test_pull_from_a_stopped_app_uses_mpremote_and_says_so_loudly(tmp_path):
    from host_tests.test_history import FakeBoard, cgm_journal

    _, storage = cgm_journal(tmp_path, boots=1)
    said = []
    path = pull.pull("/dev/ttyACM0", str(tmp_path / "out"), runner=FakeBoard(storage),
                     link_factory=lambda port: pump_link.PumpLink(
                         port, 1.0, serial_factory=Repl()), say=said.append)
    assert len(history.load(path).records) == 5
    assert said[0].startswith("!!!") and "THE PUMP APP IS NOT RUNNING" in said[0]


def test_interrupt_stops_the_motor_mid_move_and_says_so(pump, capsys):
    start_basal(pump)
    app = pump.app
    app.command({"cmd": "bolus", "units": 1})
    app.clock.advance(TICK_MS)
    app.step()
    assert app.motor.busy() and app.motor.is_enabled()
    usb_service.interrupted(app)
    assert not app.motor.is_enabled() and not app.motor.busy()
    out = capsys.readouterr().out
    assert out == ("BASALT: THERAPY STOPPED (interrupted from USB), motor off. "
                   "Ctrl-D restarts the pump.\n")


# ----- deploy's guard ------------------------------------------------------------------

class ScriptedPump:
    """pump_link as deploy's guard sees it: statuses in turn, commands recorded."""

    def __init__(self, statuses, refuse=None):
        self.statuses = list(statuses)
        self.sent = []
        self.refuse = refuse or {}

    def __call__(self, port):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def status(self):
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if isinstance(status, Exception):
            raise status
        return status

    def command(self, **cmd):
        self.sent.append(cmd["cmd"])
        if cmd["cmd"] in self.refuse:
            raise pump_link.Refused(self.refuse[cmd["cmd"]])

    def ask(self, q, **fields):
        self.sent.append(q)
        return {"ok": True}


def state(delivering=True, ack=False, bolus=False, stop=None):
    return {"delivering": delivering, "ack": ack, "bolus_running": bolus, "rate_mu_h": 800,
            "stop": stop, "notes": ["Restarted (hard)"] if ack else []}


def guard(pump, stop_therapy=False):
    said = []
    return therapy.TherapyGuard("/dev/ttyACM0", stop_therapy, pump, said.append, 1.0), said


def test_deploy_refuses_a_delivering_pump_without_stop_therapy():
    pump = ScriptedPump([state()])
    g, _ = guard(pump)
    with pytest.raises(therapy.TherapyError, match="is delivering .* --stop-therapy"):
        g.before()
    assert pump.sent == []  # nothing suspended, no maintenance boot


def test_stop_therapy_never_cuts_a_bolus_short():
    pump = ScriptedPump([state(bolus=True)])
    g, _ = guard(pump, stop_therapy=True)
    with pytest.raises(therapy.TherapyError, match="a bolus is running"):
        g.before()
    assert pump.sent == []


def test_stop_therapy_suspends_then_resumes_after_the_install(monkeypatch):
    monkeypatch.setattr(therapy.time, "sleep", lambda s: None)
    pump = ScriptedPump([state(), pump_link.NotRunning("repl")])
    g, said = guard(pump, stop_therapy=True)
    g.before()
    assert pump.sent == ["suspend", "maintenance"]
    pump.statuses = [state(delivering=False, ack=True, stop="user"), state()]
    g.after()
    assert pump.sent[2:] == ["boot_ack", "resume"]
    assert "deploy: boot screen: Restarted (hard)" in said
    assert said[-1].startswith("deploy: delivery resumed after")


def test_a_stopped_pump_is_left_stopped_and_said_so(monkeypatch):
    monkeypatch.setattr(therapy.time, "sleep", lambda s: None)
    pump = ScriptedPump([state(delivering=False, stop="user"), pump_link.NotRunning("r")])
    g, said = guard(pump)
    g.before()
    assert pump.sent == ["maintenance"]
    pump.statuses = [state(delivering=False, ack=True, stop="user")]
    g.after()
    assert pump.sent == ["maintenance"]  # no command: the user stopped it, not deploy
    assert "boot screen waits to be acknowledged" in said[-1]


def test_a_pump_that_does_not_resume_or_start_is_said_loudly(monkeypatch):
    monkeypatch.setattr(therapy.time, "sleep", lambda s: None)
    monkeypatch.setattr(pump_link.time, "sleep", lambda s: None)
    pump = ScriptedPump([state(), pump_link.NotRunning("repl")],
                        refuse={"resume": "resume: clear the alarm first"})
    g, said = guard(pump, stop_therapy=True)
    g.before()
    pump.statuses = [state(delivering=False, ack=True, stop="user")]
    with pytest.raises(therapy.TherapyError, match="not resumed"):
        g.after()
    assert "THERAPY IS STOPPED" in said[-1] and "clear the alarm first" in said[-1]
    pump.statuses = [pump_link.NoAnswer("silent")]
    with pytest.raises(therapy.TherapyError, match="did not start"):
        g.after()
    assert "THE PUMP APP DID NOT START" in said[-1]


def test_pull_from_firmware_without_the_service_needs_stop_therapy(tmp_path):
    from host_tests.test_history import FakeBoard, cgm_journal

    _, storage = cgm_journal(tmp_path, boots=1)
    silent = lambda port: pump_link.PumpLink(port, 0.2, serial_factory=Repl(answer=False))  # noqa: E731
    board = FakeBoard(storage)
    with pytest.raises(pull.PullError, match="pull --stop-therapy does that and restarts"):
        pull.pull("/dev/ttyACM0", str(tmp_path / "a"), runner=board, link_factory=silent)
    assert board.calls == []  # nothing touched the board

    def board_and_reset(args):
        return "" if args[2:] == ["reset"] else board(args)

    said = []
    path = pull.pull("/dev/ttyACM0", str(tmp_path / "b"), runner=board_and_reset,
                     link_factory=silent, say=said.append, stop_therapy=True)
    assert len(history.load(path).records) == 5
    assert "THERAPY WAS STOPPED by this pull" in said[0] and "UNTIL IT IS ACKNOWLEDGED" in said[0]


def test_a_failed_install_after_the_app_was_stopped_is_said_loudly(monkeypatch):
    monkeypatch.setattr(therapy.time, "sleep", lambda s: None)
    pump = ScriptedPump([state(), pump_link.NotRunning("repl")])
    g, said = guard(pump, stop_therapy=True)
    g.before()
    g.failed()
    assert "THE PUMP APP IS NOT RUNNING" in said[-1] and "deploy suspended delivery" in said[-1]
    untouched, said = guard(ScriptedPump([pump_link.NotRunning("repl")]))
    untouched.before()
    untouched.failed()  # the app was not running before deploy: nothing to add
    assert not any("!!" in line for line in said)


class PipeConsole(usb_service.StdioConsole):
    """The board's console on a pipe; CPython's poll has no ipoll (MicroPython's)."""

    def _ready(self):
        return bool(self._poll.poll(0))


class Stdin:
    def __init__(self, fd):
        self.fd = fd
        self.buffer = os.fdopen(fd, "rb", buffering=0)

    def fileno(self):
        return self.fd


def test_the_console_gives_whole_lines_and_never_waits():
    import io

    read_end, write_end = os.pipe()
    console = PipeConsole(Stdin(read_end), io.StringIO())
    assert console.readline() is None  # nothing there: no wait
    os.write(write_end, b'#B< {"q": "st')
    assert console.readline() is None  # half a line is kept
    os.write(write_end, b'atus"}\r\n\r\n' + b"x" * 5000 + b"\nok\r")
    assert console.readline() == b'#B< {"q": "status"}'
    lines = [console.readline() for _ in range(12)]  # 512 bytes per look at most
    assert [line for line in lines if line] == [b"ok"]  # the overlong line is dropped
    console.write("#B> {}\n")
    assert console._out.getvalue() == "#B> {}\n"
