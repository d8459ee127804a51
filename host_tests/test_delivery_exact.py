"""Delivery is the exact integral of the commanded program, rounded down to microsteps,
however time is cut into ticks. An independent oracle integrates the program here."""


from hypothesis import given, settings
from hypothesis import strategies as st

from basalt.core.board_file import load_board
from basalt.core.delivery import DeliveryEngine
from basalt.core.errors import NotAllowedNow
from basalt.core.units import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN, PL_PER_MU
from boards import sim as sim_board
from host_tests.vectors.vectorkit import engine_snapshot
from tools.fakes import FakeIob, open_limits

BOARD = load_board(sim_board.BOARD)
V = BOARD.ustep_volume_pl


def running_engine(segments, fill_mu=300_000, day_ms=0, speed=1_500):
    engine = DeliveryEngine(BOARD, 0, open_limits(), FakeIob(), day_ms, speed)
    engine.set_profile(0, "P", segments)
    engine.new_reservoir(0, fill_mu)
    engine.resume(0)
    return engine


# ----- strategies -------------------------------------------------------------------

@st.composite
def profiles(draw):
    starts = sorted(draw(st.sets(st.integers(1, 47), max_size=10)))
    rates = draw(st.lists(st.integers(0, 30_000), min_size=len(starts) + 1,
                          max_size=len(starts) + 1))
    return [(0, rates[0])] + [(s * 30, r) for s, r in zip(starts, rates[1:])]


def tick_gaps(max_gap=20 * MS_PER_MIN):
    """Tick intervals: bursts of tiny ticks, ordinary ones, and very late ones."""
    return st.lists(st.one_of(st.integers(1, 20), st.integers(1, 2_000),
                              st.integers(1, max_gap)), min_size=1, max_size=120)


def run_ticks(engine, start, gaps):
    now = start
    for gap in gaps:
        now += gap
        engine.tick(now)
    return now


# ----- the oracle -------------------------------------------------------------------

def scheduled_rate(segments, day_ms):
    rate = segments[0][1]
    for start, r in segments:
        if start * MS_PER_MIN <= day_ms:
            rate = r
    return rate


def basal_integral(segments, windows, start_day_ms, end_ms):
    """Exact sum of rate*dt (mU*ms/h) from 0 to end_ms.

    windows: (start_ms, end_ms, kind, value) temp basals ('rate' or 'percent') and
    suspensions ('off'), non-overlapping, applied over the scheduled profile.
    """
    marks = {0, end_ms}
    t = 0
    while t < end_ms:  # every segment start in range
        day = (start_day_ms + t) % MS_PER_DAY
        later = [s * MS_PER_MIN for s, _ in segments if s * MS_PER_MIN > day]
        t += (later[0] if later else MS_PER_DAY) - day
        marks.add(min(t, end_ms))
    for w in windows:
        marks.update((min(w[0], end_ms), min(w[1], end_ms)))
    marks = sorted(marks)
    total = 0
    for a, b in zip(marks, marks[1:]):
        rate = scheduled_rate(segments, (start_day_ms + a) % MS_PER_DAY)
        for w_start, w_end, kind, value in windows:
            if w_start <= a < w_end:
                rate = 0 if kind == "off" else value if kind == "rate" else rate * value // 100
        total += rate * (b - a)
    return total


def steps_of(integral):
    """Microsteps in an integral of mU*ms/h: r*dt/360 pL over V pL per step."""
    return integral // (360 * V)


# ----- properties -------------------------------------------------------------------

@given(profiles(), st.integers(0, MS_PER_DAY - 1), tick_gaps())
def test_basal_is_the_exact_integral_rounded_down(segments, day_ms, gaps):
    engine = running_engine(segments, day_ms=day_ms)
    end = run_ticks(engine, 0, gaps)
    assert engine.basal_steps == steps_of(basal_integral(segments, [], day_ms, end))


@given(profiles(), tick_gaps(), tick_gaps())
def test_tick_chunking_never_changes_delivery(segments, gaps_a, gaps_b):
    """10 ms ticks, 10 min ticks or any mix: the same microsteps at the same time."""
    end = max(sum(gaps_a), sum(gaps_b))
    a, b = running_engine(segments), running_engine(segments)
    steps_a = sum(a.tick(t) for t in _times(gaps_a, end))
    steps_b = sum(b.tick(t) for t in _times(gaps_b, end))
    assert steps_a == steps_b
    assert engine_snapshot(a) == engine_snapshot(b)


def _times(gaps, end):
    t = 0
    for gap in gaps:
        t = min(end, t + gap)
        yield t
    yield end


RATES_MU_H = [25, 100, 1_000, 5_000, 30_000]


@settings(max_examples=50)
@given(st.sampled_from(RATES_MU_H), st.lists(st.integers(1, 120_000), min_size=200,
                                             max_size=400))
def test_flat_rates_over_long_runs(rate, gaps):
    engine = running_engine([(0, rate)])
    end = run_ticks(engine, 0, gaps)
    assert engine.basal_steps == rate * end // (360 * V)


@given(profiles(), st.integers(0, MS_PER_DAY - 1), st.integers(0, 3 * MS_PER_HOUR),
       st.integers(15, 600), st.one_of(st.tuples(st.just("rate"), st.integers(0, 30_000)),
                                       st.tuples(st.just("percent"), st.integers(0, 250))),
       st.integers(0, 2 * MS_PER_HOUR), st.integers(1, 6 * MS_PER_HOUR), tick_gaps())
def test_temp_basal_and_suspend_follow_the_program(segments, day_ms, temp_at, minutes, temp,
                                                    off_gap, off_len, gaps):
    kind, value = temp
    if kind == "percent":
        highest = max(r for _, r in segments)
        value = min(value, 30_000 * 100 // highest) if highest else value
    engine = running_engine(segments, day_ms=day_ms)
    windows = []
    engine.tick(temp_at)
    args = {"rate_mu_h": value} if kind == "rate" else {"percent": value}
    engine.start_temp_basal(temp_at, minutes, **args)
    temp_end = temp_at + minutes * MS_PER_MIN
    off_at = temp_at + off_gap
    engine.tick(off_at)
    engine.suspend(off_at)  # cancels the temp basal if it is still running
    windows.append((temp_at, min(temp_end, off_at), kind, value))
    on_at = off_at + off_len
    engine.tick(on_at)
    engine.resume(on_at)
    windows.append((off_at, on_at, "off", 0))
    end = run_ticks(engine, on_at, gaps)
    assert engine.basal_steps == steps_of(basal_integral(segments, windows, day_ms, end))


@given(st.integers(1, 2_500).map(lambda x: x * 10), st.integers(500, 5_000), tick_gaps())
def test_normal_bolus_is_a_linear_ramp_that_ends_exactly(amount, speed, gaps):
    engine = running_engine([(0, 0)], speed=speed)
    engine.bolus(0, amount)
    steps = amount * PL_PER_MU // V
    duration = -(-amount * MS_PER_MIN // speed)
    t = 0
    for gap in gaps:
        t += gap
        engine.tick(t)
        assert engine.bolus_steps == steps * min(t, duration) // duration
    engine.tick(t + duration)
    assert engine.bolus_steps == steps
    report = [e for k, e in engine.pop_events() if k == "bolus_done"][0]
    assert report["delivered_steps"] == steps
    assert report["delivered_mu"] == steps * V // PL_PER_MU <= amount


@given(st.integers(2, 2_500).map(lambda x: x * 10), st.data(), st.integers(15, 480),
       tick_gaps(max_gap=60 * MS_PER_MIN))
def test_dual_wave_delivers_both_parts_in_order(amount, data, minutes, gaps):
    now_mu = data.draw(st.integers(1, amount // 10 - 1)) * 10
    engine = running_engine([(0, 0)])
    engine.dual_bolus(0, amount, now_mu, minutes)
    # The extended part takes the now part's remainder: the whole is exact to a step.
    now_steps = now_mu * PL_PER_MU // V
    ext_steps = amount * PL_PER_MU // V - now_steps
    now_ms = -(-now_mu * MS_PER_MIN // 1_500)
    ext_ms = minutes * MS_PER_MIN
    t = 0
    for gap in gaps:
        t += gap
        engine.tick(t)
        expected = now_steps * min(t, now_ms) // now_ms
        if t > now_ms:
            expected += ext_steps * min(t - now_ms, ext_ms) // ext_ms
        assert engine.bolus_steps == expected
    engine.tick(t + now_ms + ext_ms)
    done = [e for k, e in engine.pop_events() if k == "bolus_done"]
    assert done == [{"id": 1, "kind": "dual", "programmed_mu": amount,
                     "delivered_steps": now_steps + ext_steps,
                     "delivered_mu": (now_steps + ext_steps) * V // PL_PER_MU,
                     "at_ms": done[0]["at_ms"]}]


@given(st.sampled_from(["normal", "extended", "dual"]), st.integers(1, 3 * MS_PER_HOUR),
       tick_gaps())
def test_cancel_reports_exactly_what_was_delivered(kind, cancel_at, gaps):
    engine = running_engine([(0, 1_000)])
    if kind == "normal":
        engine.bolus(0, 20_000)
    elif kind == "extended":
        engine.extended_bolus(0, 6_000, 120)
    else:
        engine.dual_bolus(0, 8_000, 3_000, 90)
    for t in _times(gaps, cancel_at):
        engine.tick(t)
    before = engine.bolus_steps
    try:
        reports = engine.cancel_bolus(cancel_at)
    except NotAllowedNow:  # it had finished on its own
        assert engine.bolus_running() is False
        return
    assert sum(r["delivered_steps"] for r in reports) == engine.bolus_steps >= before
    assert all(r["ended"] == "cancelled" for r in reports)
    frozen = engine.bolus_steps
    run_ticks(engine, cancel_at, gaps)
    assert engine.bolus_steps == frozen  # nothing more after a cancel


@given(st.integers(100, 400).map(lambda x: x * 100), profiles(), tick_gaps(max_gap=MS_PER_HOUR))
def test_reservoir_is_never_overdrawn_and_empty_stops_everything(fill, segments, gaps):
    engine = running_engine(segments, fill_mu=max(fill, 10_000))
    fill_steps = engine.reservoir_steps
    engine.extended_bolus(0, min(25_000, engine.reservoir_mu() // 10 * 10), 15)
    total = run_ticks_sum(engine, gaps * 20)
    assert total == engine.basal_steps + engine.bolus_steps <= fill_steps
    assert engine.reservoir_steps == fill_steps - total
    if engine.reservoir_steps == 0:
        assert engine.stop_reason == "reservoir empty"
        assert engine.tick(10 ** 9) == 0
        assert not engine.bolus_running()


def run_ticks_sum(engine, gaps):
    now = total = 0
    for gap in gaps:
        now += gap
        total += engine.tick(now)
    return total


def test_resume_never_catches_up():
    engine = running_engine([(0, 1_000)])
    engine.tick(MS_PER_HOUR)
    engine.suspend(MS_PER_HOUR)
    engine.tick(3 * MS_PER_HOUR)
    engine.resume(3 * MS_PER_HOUR)
    engine.tick(4 * MS_PER_HOUR)
    # Two hours at 1 U/h are delivered, the two suspended hours are not.
    assert engine.basal_steps == 2 * 1_000 * MS_PER_HOUR // (360 * V)
    # 1381 microsteps of 14.473 nL = 1.9987 U: under the programmed 2 U by less than a step.
    assert engine.basal_steps == 1_381
    assert 2_000 * PL_PER_MU - engine.basal_steps * V < V


def test_prime_is_not_therapy_but_empties_the_reservoir():
    engine = DeliveryEngine(BOARD, 0, open_limits(), FakeIob())
    engine.set_profile(0, "P", [(0, 1_000)])
    engine.new_reservoir(0, 20_000)
    fill = engine.reservoir_steps
    engine.prime(0, 10_000)
    engine.tick(MS_PER_MIN)
    assert engine.prime_steps == 10_000 * PL_PER_MU // V
    assert engine.basal_steps == engine.bolus_steps == 0
    assert engine.reservoir_steps == fill - engine.prime_steps


def test_new_reservoir_rewinds_what_was_pushed():
    engine = running_engine([(0, 2_000)], fill_mu=20_000)
    engine.tick(2 * MS_PER_HOUR)
    pushed = engine.basal_steps
    engine.suspend(2 * MS_PER_HOUR)
    assert engine.new_reservoir(2 * MS_PER_HOUR, 30_000) == pushed
    assert engine.reservoir_steps == 30_000 * PL_PER_MU // V
    assert engine.stop_reason == "suspended"
