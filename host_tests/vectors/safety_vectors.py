"""Safety gate vectors for the MicroPython lane: limit checks, refusal messages, window
rings, delivery stopping at the daily maximum, loop entry points, bad gate input."""

from basalt.core.board_file import load_board
from basalt.core.delivery import DeliveryEngine
from basalt.core.errors import BasaltError
from basalt.core.safety import Limits, SafetyGate, Window, checked_limits
from vectors.vectorkit import SIM_BOARD, FixedIob, Lcg, emit, engine_snapshot, error_of

BOARD = load_board(SIM_BOARD)


def limits(bolus=10_000, basal=2_000, iob=20_000, hour=15_000, daily=60_000):
    return Limits(bolus, basal, iob, hour, daily)


def engine(lim, iob, rate=1_000):
    e = DeliveryEngine(BOARD, 0, lim, iob)
    e.set_profile(0, "Day", [(0, rate)])
    e.new_reservoir(0, 300_000)
    e.resume(0)
    e.pop_events()
    return e


def limit_tables():
    cases = [limits(), limits(bolus=25_010), limits(bolus=5), limits(basal=-1),
             limits(basal=30_001), limits(iob=100_001), limits(hour=9_990),
             limits(daily=14_990), Limits(10_000.0, 2_000, 20_000, 15_000, 60_000),
             Limits(True, 2_000, 20_000, 15_000, 60_000), Limits("10", 2_000, 1, 15_000, 60_000)]
    for i, lim in enumerate(cases):
        outcome = error_of(checked_limits, lim)
        if outcome[0] == "ok":
            outcome = ["ok", 0]
        emit("limits", [i, outcome])


def windows():
    rng = Lcg(3)
    for n in (13, 289):
        w = Window(n)
        bucket = 0
        sums = []
        for _ in range(400):
            bucket += (0, 0, 1, 1, 2, 20, 400)[rng.below(7)]
            w.advance(bucket)
            w.add(rng.below(1000))
            sums.append(w.total)
        emit("window", [n, sums[-40:], len(w.sums)])


def refusals():
    rng = Lcg(11)
    calls = [
        lambda e, t, a: e.bolus(t, a),
        lambda e, t, a: e.extended_bolus(t, a, 30 + rng.below(200)),
        lambda e, t, a: e.dual_bolus(t, a, 10, 15 + rng.below(100)),
        lambda e, t, a: e.auto_bolus(t, a),
        lambda e, t, a: e.start_temp_basal(t, 15 + rng.below(100), rate_mu_h=a // 4),
        lambda e, t, a: e.auto_temp_basal(t, a // 5, 30),
        lambda e, t, a: e.set_profile(t, "P", [(0, a // 6)]),
    ]
    for case in range(40):
        lim = limits(bolus=1_000 * (1 + rng.below(10)), basal=1_000 + 500 * rng.below(6),
                     iob=2_000 * (1 + rng.below(15)))
        lim.max_bolus_60min_mu = lim.max_bolus_mu * 3 // 2
        iob = FixedIob(rng.below(4) * 3_000)
        e = engine(lim, iob)
        now = 0
        out = []
        for _ in range(12):
            now += 1 + rng.below(1_200_000)
            e.tick(now)
            amount = 10 * (1 + rng.below(1_200))
            out.append(error_of(calls[rng.below(len(calls))], e, now, amount))
        emit("refusals", [case, out, e.pop_events(), engine_snapshot(e)])


def daily_stop():
    for rate in (500, 2_000, 3_000):
        e = engine(limits(basal=3_000, daily=20_000), FixedIob(0), rate)
        t = 0
        while e.stop_reason is None and t < 3 * 86_400_000:
            t += 60_000
            e.tick(t)
        first = [t, e.stop_reason, e.gate.day_steps(), e.gate.day_room_mu()]
        attempts = []
        for hours in (1, 6, 12, 20, 24):
            attempts.append(error_of(e.resume, t + hours * 3_600_000))
        emit("daily_stop", [rate, first, attempts, e.pop_events()])
        carried = e.gate.carry_over()
        rebooted = engine(limits(basal=3_000, daily=20_000), FixedIob(0), rate)
        rebooted.gate.restore(0, carried[0], carried[1])
        emit("restored", [rate, list(carried), rebooted.gate.day_room_mu(),
                          error_of(rebooted.bolus, 0, 1_000)])


def gate_inputs():
    gate = SafetyGate(limits(), FixedIob(0), BOARD, lambda kind, detail: None)
    bad = [(1.5, 0), ("1000", 0), (0, 0), (26_000, 0), (1_000, -1), (1_000, None),
           (None, 0), (True, 0)]
    for amount, owed in bad:
        emit("gate_bolus", [str(amount), str(owed),
                            error_of(gate.check_bolus, 0, "bolus", amount, owed)])
    for rate in (1.0, -1, 40_000, None, 2_001, 2_000):
        emit("gate_rate", [str(rate), error_of(gate.check_rate, "temp basal", rate)])
    for value in (None, "raise", 10 ** 7, -10 ** 7, 5_000):
        gate.iob.value = value
        emit("gate_iob", [str(value), error_of(gate.check_bolus, 0, "bolus", 1_000, 0)])
    try:
        SafetyGate(limits(), 5, BOARD, None)
    except BasaltError as error:
        emit("gate_no_iob", str(error))


def rate_cap():
    """Max basal at release: a percent temp over a segment the clock moves into is
    capped (the event says so), the gate's basal budget lets an exact max-basal rate
    through at any tick length, and holds back an engine that asks for more."""
    for cap, low, high in ((3_000, 800, 1_500), (30_000, 10_000, 15_000)):
        e = DeliveryEngine(BOARD, 0, limits(basal=cap, daily=1_000_000 if cap > 3_000
                                            else 60_000), FixedIob(0), 3_600_000)
        e.set_profile(0, "Day", [(0, low), (360, high), (720, low)])
        e.new_reservoir(0, 300_000)
        e.resume(0)
        e.start_temp_basal(0, 240, percent=250)
        e.set_time_of_day(0, 6 * 3_600_000)
        rng = Lcg(cap)
        t = 0
        steps = 0
        for _ in range(300):
            t += 1 + rng.below(20_000)
            steps += e.tick(t)
        emit("rate_cap", [cap, e.basal_rate_mu_h(), e.stop_reason, t, steps,
                          cap * t // (BOARD.ustep_volume_pl * 360),
                          [(k, d) for k, d in e.pop_events() if k == "basal_capped"]])
    e = engine(limits(basal=2_000), FixedIob(0), 2_000)
    e._basal_rate = 4_000  # a wrong rate the gate must hold back
    t = 0
    steps = 0
    while e.stop_reason is None and t < 3_600_000:
        t += 1_000
        steps += e.tick(t)
    emit("rate_budget", [t, steps, e.stop_reason, e.gate.limit_hit])


limit_tables()
windows()
rate_cap()
refusals()
daily_stop()
gate_inputs()
