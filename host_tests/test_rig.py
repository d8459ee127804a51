"""tools.rig: the balance protocols reply by reply, the auto-detect, the procedures on
fakes (Ctrl-C keeps the data and stops the pump), and the whole simulated rig: the real
firmware on the virtual board on virtual time, a virtual MT-SICS balance on a pty, the
accuracy procedure end to end recovering the simulated error, and the occlusion test.
"""

import csv
import json

import pytest

from tools.mpvm import missing_requirements
from tools.rig import balances, report
from tools.rig.accuracy import accuracy
from tools.rig.balances import (
    AandD,
    BalanceReader,
    Busy,
    Malformed,
    MtSics,
    NoReply,
    Ohaus,
    Overload,
    Refused,
    SartoriusSbi,
    UnitError,
    Unstable,
)
from tools.rig.bench import Bench
from tools.rig.pump import RigPump

# ----- every protocol, every kind of reply --------------------------------------------

REPLIES = [
    # MT-SICS (Mettler Toledo): SI -> S S|D <value> <unit>
    (MtSics, "S S     12.34567 g\r\n", 12.34567),
    (MtSics, "S S    -0.00012 g\r\n", -0.00012),
    (MtSics, "S S  1234.5 mg\r\n", 1.2345),
    (MtSics, "S S  0.0123 kg\r\n", 12.3),
    (MtSics, "S D     12.34 g\r\n", Unstable),
    (MtSics, "S I\r\n", Busy),
    (MtSics, "S +\r\n", Overload),
    (MtSics, "S -\r\n", Overload),
    (MtSics, "ES\r\n", Refused),
    (MtSics, "EL\r\n", Refused),
    (MtSics, "S S 12.3 ct\r\n", UnitError),
    (MtSics, "S S 12.3O g\r\n", Malformed),
    (MtSics, "S S 12.3\r\n", Malformed),
    (MtSics, "S X 12.3 g\r\n", Malformed),
    (MtSics, "\r\n", Malformed),
    (MtSics, "ST,+00012.34  g\r\n", Malformed),  # another balance's format
    # Sartorius SBI: ESC P -> 16 characters (or 22 with an ID); no unit while unstable
    (SartoriusSbi, "+    12.345 g  \r\n", 12.345),
    (SartoriusSbi, "-     0.012 g  \r\n", -0.012),
    (SartoriusSbi, "N     +   123.56 g  \r\n", 123.56),  # 22 characters with an ID code
    (SartoriusSbi, "+   123.5[6] g  \r\n", 123.56),  # a non-verified digit in brackets
    (SartoriusSbi, "+    12.345     \r\n", Unstable),
    (SartoriusSbi, "      H         \r\n", Overload),
    (SartoriusSbi, "      LL        \r\n", Overload),
    (SartoriusSbi, "      C         \r\n", Busy),
    (SartoriusSbi, "   Err  54      \r\n", Refused),
    (SartoriusSbi, "+    12.345 pcs \r\n", UnitError),
    (SartoriusSbi, "+    12.3.4 g   \r\n", Malformed),
    (SartoriusSbi, "S S 12.3 g\r\n", Malformed),
    # Ohaus: IP -> value, unit, '?' when unstable
    (Ohaus, "     192.21 g\r\n", 192.21),
    (Ohaus, "      -0.01 g   N\r\n", -0.01),
    (Ohaus, "   -   0.01 g\r\n", -0.01),
    (Ohaus, "       0.01 g ?\r\n", Unstable),
    (Ohaus, "ES\r\n", Refused),
    (Ohaus, "      12.00 oz\r\n", UnitError),
    (Ohaus, "      12.00 g TOTAL\r\n", Malformed),
    (Ohaus, "  12.x0 g\r\n", Malformed),
    (Ohaus, "hello\r\n", Malformed),
    # A&D: Q -> HH,<data><unit>
    (AandD, "ST,+00012.345  g\r\n", 12.345),
    (AandD, "ST,-00000.012  g\r\n", -0.012),
    (AandD, "ST,GS,+0012.345  g\r\n", 12.345),
    (AandD, "US,+00012.345  g\r\n", Unstable),
    (AandD, "OL,+9999999E+19\r\n", Overload),
    (AandD, "QT,+00000123 PC\r\n", UnitError),
    (AandD, "EC,E11\r\n", Refused),
    (AandD, "ST,+00012.345 dwt\r\n", UnitError),
    (AandD, "XX,+00012.345  g\r\n", Malformed),
    (AandD, "ST,+000l2.345  g\r\n", Malformed),
    (AandD, "S S 12.3 g\r\n", Malformed),
]


@pytest.mark.parametrize("protocol, reply, expected", REPLIES,
                         ids=["%s-%d" % (r[0].name, i) for i, r in enumerate(REPLIES)])
def test_each_reply_is_a_reading_or_a_clear_refusal(protocol, reply, expected):
    if isinstance(expected, float):
        assert protocol.parse(reply).grams == pytest.approx(expected)
        return
    with pytest.raises(expected) as caught:
        protocol.parse(reply)
    message = str(caught.value)
    assert message.startswith(protocol.title)  # which protocol said it
    assert len(message) > len(protocol.title) + 10  # and what was wrong


class FakePort:
    """A balance on a serial port: replies to each request from a table (or a list)."""

    def __init__(self, answer, port="/dev/fake"):
        self.answer = answer
        self.port = port
        self.sent = []
        self.pending = b""

    def reset_input_buffer(self):
        self.pending = b""

    def write(self, data):
        self.sent.append(data)
        reply = self.answer(data) if callable(self.answer) else self.answer.pop(0)
        self.pending = reply.encode() if reply else b""

    def readline(self):
        line, self.pending = self.pending, b""
        return line

    def close(self):
        pass


def test_a_unit_change_during_a_run_is_not_a_reading():
    reader = BalanceReader(FakePort(["S S 1.00000 g\r\n", "S S 1000.1 mg\r\n",
                                     "S S 1.00002 g\r\n"]), MtSics)
    assert reader.read().grams == 1.0
    with pytest.raises(UnitError, match="unit changed from g to mg"):
        reader.read()
    assert reader.read().grams == 1.00002


def test_no_reply_names_the_port():
    with pytest.raises(NoReply, match="no reply on /dev/fake"):
        BalanceReader(FakePort([""]), AandD).read()


def test_read_stable_asks_again_while_unstable():
    waits = []
    reader = BalanceReader(FakePort(["US,+00012.345  g\r\n", "US,+00012.346  g\r\n",
                                     "ST,+00012.347  g\r\n"]), AandD)
    assert reader.read_stable(5, wait=lambda: waits.append(1)).grams == 12.347
    assert len(waits) == 2
    with pytest.raises(Unstable):
        BalanceReader(FakePort(["S D 1 g\r\n"] * 3), MtSics).read_stable(3, lambda: None)


BALANCES = {  # a balance of each kind: its reply to its own request, else silence or ES
    MtSics: {b"SI\r\n": "S S     0.10000 g\r\n"},
    AandD: {b"Q\r\n": "ST,+00000.100  g\r\n"},
    Ohaus: {b"IP\r\n": "       0.100 g\r\n"},
    SartoriusSbi: {b"\x1bP\r\n": "+     0.100 g  \r\n"},
}


@pytest.mark.parametrize("kind", list(BALANCES), ids=lambda p: p.name)
def test_detect_finds_the_protocol_that_answers_and_says_which(kind):
    table = BALANCES[kind]
    port = FakePort(lambda data: table.get(data, "ES\r\n" if kind is MtSics else ""))
    found, lines = balances.detect(port)
    assert found is kind
    assert lines[-1].startswith(kind.title + ": answered")
    assert len(lines) == list(balances.PROTOCOLS.values()).index(kind) + 1
    assert all("no reply" in line or "not its reply" in line for line in lines[:-1])


def test_detect_says_when_nothing_answered():
    found, lines = balances.detect(FakePort(lambda data: ""))
    assert found is None and len(lines) == 4 and all("no reply" in x for x in lines)


# ----- the procedure on fakes: Ctrl-C stops the pump and keeps the data -----------------


class FakeLink:
    """The pump's USB service: status and commands; the plunger moves with the clock."""

    def __init__(self, clock):
        self.clock = clock
        self.commands = []
        self.stop = "suspended"
        self.primed = 0

    def status(self):
        moved = self.primed + (int(self.clock.t * 0.2) if self.stop is None else 0)
        return {"ack": False, "bolus_running": False, "stop": self.stop, "busy": False,
                "moved": moved, "delivering": self.stop is None, "rate_mu_h": 0}

    def command(self, **cmd):
        self.commands.append(cmd["cmd"])
        if cmd["cmd"] == "prime":
            self.primed += 345
        elif cmd["cmd"] == "resume":
            self.stop = None
        elif cmd["cmd"] == "suspend":
            self.stop = "suspended"


class FakeClock:
    def __init__(self, interrupt_at=None):
        self.t = 0.0
        self.interrupt_at = interrupt_at

    def now(self):
        return self.t

    def sleep(self, seconds):
        self.t += max(0.0, seconds)
        if self.interrupt_at is not None and self.t >= self.interrupt_at:
            raise KeyboardInterrupt


class Beaker:
    """A balance whose weight follows the fake pump (10 uL per 690 microsteps)."""

    def __init__(self, link):
        self.link = link

    def __call__(self, data):
        grams = max(0, self.link.status()["moved"] - 690) * 10e-3 / 690 * 0.998
        return "S S %11.5f g\r\n" % grams


def _bench(tmp_path, clock, link):
    from basalt.core.board_file import load_board
    from boards.vboard import BOARD

    return Bench(RigPump(link, load_board(BOARD)), BalanceReader(FakePort(Beaker(link)),
                                                                  MtSics),
                 clock, str(tmp_path / "log.csv"), lambda text: None, 0.998)


def test_ctrl_c_during_the_run_stops_the_pump_and_keeps_the_readings(tmp_path):
    clock = FakeClock(interrupt_at=3000)  # the run starts after about 40 min
    link = FakeLink(clock)
    bench = _bench(tmp_path, clock, link)
    result, facts, rows = accuracy(bench, 1.0, 150, 30)
    bench.close()
    assert facts["interrupted"] and result is None
    assert link.commands[-2:] == ["cancel_temp_basal", "suspend"] and link.stop is not None
    logged = list(csv.DictReader(open(tmp_path / "log.csv")))
    runs = [r for r in logged if r["phase"] == "run"]
    assert len(runs) == len(rows) > 10 and {"prime", "settle", "blank"} <= {
        r["phase"] for r in logged}


def test_a_weight_that_never_settles_is_said_and_the_blank_goes_on(tmp_path):
    from tools.rig.accuracy import SETTLE_MAX_S, prime

    clock = FakeClock()
    link = FakeLink(clock)
    said = []
    bench = _bench(tmp_path, clock, link)
    bench.say = said.append

    def rising(data):  # after the first shot, 0.6 mg a minute for ever
        return "S S %11.5f g\r\n" % ((0.005 + clock.t * 1e-5) * (clock.t > 5))

    bench.balance = BalanceReader(FakePort(rising), MtSics)
    assert prime(bench) == 0.5
    bench.close()
    assert clock.t > SETTLE_MAX_S
    assert any("still changes" in text and "blank starts anyway" in text for text in said)


# ----- the simulated rig: real firmware, virtual time, a virtual MT-SICS balance -------


@pytest.fixture(scope="module")
def sim():
    if missing_requirements():
        pytest.skip(str(missing_requirements()))
    from tools.rig.sim import SimRig

    rig = SimRig(rate_u_h=10, error_pct=3.0, say=lambda text: None)
    yield rig
    rig.close()


def _sim_bench(rig, tmp_path, name):
    from tools import pump_link
    from tools.rig.sim import SimClock

    link = pump_link.PumpLink(rig.pump_port)
    port = balances.open_serial(rig.balance_port)
    protocol, _ = balances.detect(port)
    assert protocol is MtSics
    operator = {"close": rig.close_line, "open": rig.open_line}
    bench = Bench(RigPump(link, rig.board), BalanceReader(port, protocol), SimClock(rig),
                  str(tmp_path / name), lambda text: None, 0.998,
                  operator=lambda action: operator[action]())
    return bench, link, port


@pytest.mark.parametrize("error_pct", [3.0, 0.0])
def test_the_simulated_accuracy_procedure_recovers_the_error(sim, tmp_path, error_pct):
    sim.error_pct = error_pct
    bench, link, port = _sim_bench(sim, tmp_path, "run.csv")
    try:
        result, facts, rows = accuracy(bench, 10.0, 12, 8)
    finally:
        bench.close()
        port.close()
        link.close()
    assert result is not None, facts
    assert abs(result["overall_error_pct"] - error_pct) <= 0.3, facts
    assert abs(facts["evaporation_mg_h"] - sim.evaporation_mg_h) < 0.15, facts
    # both sides over the analysis period (8 min at 10 U/h): the balance saw P % more
    # than the pump counted; over the whole run the start-up (stiction) shows too
    assert facts["pump_delivered_mu"] == pytest.approx(1333, abs=15)
    assert facts["balance_vs_pump_pct"] == pytest.approx(error_pct, abs=0.3)
    assert facts["run"]["pump_delivered_mu"] == pytest.approx(2000, abs=15)
    assert facts["readings"] == len(rows) == 25 and facts["rejected_replies"] == {}
    assert not facts["interrupted"]
    # the benchmark's JSON (python -m tools.rig accuracy ... --json): IEC's sign
    obj = json.loads(json.dumps(report.accuracy_json(result, facts, {})))
    for key in ("overall_error_pct", "evaporation_mg_h", "readings", "pump_delivered_mu",
                "balance_ml"):
        assert key in obj, key
    measured, set_ml = obj["balance_ml"], obj["set_ml"]
    assert obj["overall_error_pct"] == pytest.approx(100 * (measured - set_ml) / set_ml,
                                                     abs=0.1)
    assert "overall error A   %+.2f %%" % obj["overall_error_pct"] in report.accuracy_text(obj)


def test_the_simulated_occlusion_test_times_the_alarm_and_weighs_the_bolus(sim, tmp_path):
    from tools.rig.occlusion import occlusion, occlusion_text

    bench, link, port = _sim_bench(sim, tmp_path, "occlusion.csv")
    try:
        facts = occlusion(bench, 1.0, settle_min=2, max_min=60, release_s=60,
                          prime_first=False)
        status = link.status()
    finally:
        bench.close()
        port.close()
        link.close()
    assert status["stop"] == "occlusion"  # the firmware's own alarm stopped it
    assert 0 < facts["time_to_alarm_min"] < 30, facts
    assert facts["force_at_alarm_n"] > facts["baseline_force_n"] + 0.3, facts
    assert abs(facts["beaker_while_occluded_mg"]) < 0.1, facts  # nothing got through
    # the pump backs its plunger off at the alarm (more than the line held), so
    # reopening releases next to nothing
    assert facts["backoff_usteps"] > rig_usteps(sim, facts["held_by_the_line_u"])
    assert -0.002 <= facts["bolus_u"] < 0.01, facts
    assert "time to the alarm     %.1f min" % facts["time_to_alarm_min"] in occlusion_text(facts)


def rig_usteps(rig, units):
    return rig.board.usteps_for_mu(round(units * 1000))


def test_the_virtual_board_on_virtual_time_moves_only_when_advanced():
    """Its clock and watchdog follow advance_ms exactly; the REPL stays live."""
    if missing_requirements():
        pytest.skip(str(missing_requirements()))
    from host_tests.test_vboard import Console
    from tools.vboard import VirtualBoard

    with VirtualBoard(virtual_time=True) as board:
        console = Console(board.port)
        try:
            console.serial.write(b"\r")
            console.read_until(">>> ")
            console.run("import time, machine")
            before = int(console.run("print(time.ticks_ms())"))
            assert int(console.run("print(time.ticks_ms())")) == before  # no time passed
            board.advance_ms(5000)
            assert int(console.run("print(time.ticks_ms())")) == before + 5000
            console.run("w = machine.WDT(timeout=100)")
            board.advance_ms(99)
            assert console.run("print(machine.reset_cause())").strip() != "3"
            board.advance_ms(2)  # the watchdog's deadline passes: a reset
            console.serial.write(b"\r")
            console.read_until(">>> ")
            assert console.run("import machine; print(machine.reset_cause())").strip() == "3"
        finally:
            console.close()
