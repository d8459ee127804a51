"""Core vectors for the MicroPython lane: the same lines must come out of CPython and
MicroPython. Deterministic (own LCG), integers and text only, dicts as sorted pairs."""

from basalt.core import command_engine
from basalt.core.basal import make_profile
from basalt.core.board_file import load_board
from basalt.core.delivery import DeliveryEngine
from basalt.core.safety import Limits
from basalt.core.units import fmt_milli, to_milli
from vectors.vectorkit import FixedIob, Lcg, board_spec, emit, engine_snapshot, error_of

SYRINGES = [  # (capacity mL, bore area mm2) as used by the Poseidon pump
    (1.0, 17.34), (3.0, 57.89), (10.0, 163.5), (60.0, 554.0),
]


# Tight enough that the vectors also exercise refusals and the daily-limit stop.
VECTOR_LIMITS = Limits(max_bolus_mu=6_000, max_basal_mu_h=3_000, max_iob_mu=15_000,
                       max_bolus_60min_mu=9_000, max_daily_mu=40_000)


def mechanics():
    for i, (capacity, area) in enumerate(SYRINGES):
        for j, (lead, micro) in enumerate(((0.8, 16), (0.5, 32), (2.0, 8), (1.25, 4))):
            board = load_board(board_spec(capacity, area, lead, micro))
            emit("mechanics", [i, j, board.ustep_volume_pl,
                               board.syringe_capacity_mu, board.usteps_for_mu(1000),
                               board.mu_for_usteps(1000)])
    for i, diameter in enumerate((4.78, 8.66, 14.5, 26.7)):
        board = load_board(board_spec(10.0, None, diameter=diameter))
        emit("diameter", [i, board.ustep_volume_pl])


def units():
    for milli in (0, 1, 10, 999, 1000, 1500, -250, 25000, 123456):
        emit("fmt_milli", [milli, fmt_milli(milli)])
    for text in ("1.5", "+2", "-0.25", " 3 ", "0.005", "1.2345", "", ".", "abc", "10.000"):
        emit("to_milli text", [text, error_of(to_milli, "x", text, "U")])
    for number in (0.005, 2.345, 0.1, 25, 30.001, 1e-05):
        emit("to_milli float", [fmt_milli(int(number * 1000)),
                                error_of(to_milli, "x", number, "U")[0]])


def profiles():
    rng = Lcg(7)
    for case in range(20):
        starts = sorted(set(rng.below(47) + 1 for _ in range(rng.below(12))))
        segments = [(0, rng.below(30001))] + [(s * 30, rng.below(30001)) for s in starts]
        profile = make_profile("P%d" % case, segments)
        probes = []
        for _ in range(8):
            day_ms = rng.below(86_400_000)
            probes.append([day_ms, profile.rate_at(day_ms), profile.ms_to_next_change(day_ms),
                           profile.max_rate_over(day_ms, rng.below(3 * 86_400_000))])
        emit("profile", [segments, profile.daily_total_mu(), probes])


def engine_for(rng, capacity, area):
    board = load_board(board_spec(capacity, area))
    engine = DeliveryEngine(board, 0, VECTOR_LIMITS, FixedIob(rng.below(3) * 2_000),
                            rng.below(86_400_000), 500 + rng.below(4501))
    starts = sorted(set(rng.below(47) + 1 for _ in range(rng.below(8))))
    engine.set_profile(0, "P", [(0, rng.below(3001))] + [(s * 30, rng.below(3001)) for s in starts])
    fill = board.syringe_capacity_mu // 100 * 100
    engine.new_reservoir(0, max(10_000, fill - rng.below(fill // 2) // 100 * 100))
    engine.prime(0, 100 * (1 + rng.below(50)))
    return engine


def random_command(rng):
    pick = rng.below(12)
    if pick == 0:
        return {"cmd": "bolus", "units": "%d.%02d" % (rng.below(8), rng.below(100))}
    if pick == 1:
        return {"cmd": "extended_bolus", "units": 1 + rng.below(6),
                "minutes": 10 + rng.below(480)}
    if pick == 2:
        return {"cmd": "dual_bolus", "units": 2 + rng.below(6), "now_percent": rng.below(101),
                "minutes": 15 + rng.below(300)}
    if pick == 3:
        return {"cmd": "temp_basal", "percent": rng.below(260), "minutes": 10 + rng.below(300)}
    if pick == 4:
        return {"cmd": "temp_basal", "rate": "%d.%03d" % (rng.below(4), rng.below(1000)),
                "minutes": 15 + rng.below(120)}
    names = ["cancel_bolus", "cancel_temp_basal", "suspend", "resume", "resume", "resume",
             "suspend"]
    return {"cmd": names[pick - 5]}


def scenarios():
    for seed in range(24):
        rng = Lcg(1000 + seed)
        capacity, area = SYRINGES[seed % len(SYRINGES)]
        engine = engine_for(rng, capacity, area)
        now = 0
        moved = 0
        for _ in range(60):
            for _ in range(rng.below(40)):
                gap = (1 + rng.below(50), 1 + rng.below(5_000), 1 + rng.below(1_800_000))
                now += gap[rng.below(3)]
                moved += engine.tick(now)
            cmd = random_command(rng)
            outcome = error_of(command_engine.apply, engine, now, cmd)
            emit("command", [seed, now, cmd, outcome])
        moved += engine.tick(now)
        emit("state", [seed, now, moved, engine_snapshot(engine), engine.pop_events()])


def bolus_series():
    """Boluses of 0.01-2 U (normal, extended, dual) run to their end on several
    syringes: the carried remainder and the totals after each, then a cancel."""
    for seed in range(4):
        rng = Lcg(50 + seed)
        capacity, area = SYRINGES[seed]
        board = load_board(board_spec(capacity, area))
        engine = DeliveryEngine(board, 0, VECTOR_LIMITS, FixedIob(0), 0)
        engine.set_profile(0, "P", [(0, 0)])
        engine.new_reservoir(0, max(10_000, board.syringe_capacity_mu // 100 * 100))
        engine.resume(0)
        now = asked = 0
        for i in range(12):
            amount = 10 * (1 + rng.below(200))
            pick = rng.below(3)
            if pick == 0 or amount < 20:
                engine.bolus(now, amount)
            elif pick == 1:
                engine.extended_bolus(now, amount, 15 + rng.below(60))
            else:
                engine.dual_bolus(now, amount, amount // 20 * 10 or 10, 15)
            while engine.bolus_running():
                now += 1 + rng.below(600_000)
                engine.tick(now)
            asked += amount
            emit("bolus series", [seed, i, amount, engine.bolus_steps, engine.bolus_carry_pl,
                                  asked * 10_000 - engine.bolus_steps * board.ustep_volume_pl])
        engine.bolus(now, 500)
        engine.tick(now + 5_000)
        engine.cancel_bolus(now + 5_000)
        emit("bolus cancelled", [seed, engine.bolus_steps, engine.bolus_carry_pl])


mechanics()
units()
profiles()
scenarios()
bolus_series()
