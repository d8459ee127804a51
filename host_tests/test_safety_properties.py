"""Property: random sequences of commands, ticks and faults never make delivery exceed
any limit, and every microstep the engine releases was counted by the gate.

An independent oracle keeps the engine's cumulative basal and bolus counters after every
call, stamped with that call's time, and checks every sliding window exactly:
  - bolus insulin in any 60 minutes <= max_bolus_60min
  - all therapy insulin in any 24 hours <= max_daily
  - the basal rate in force never exceeds max_basal
  - each bolus started was <= max_bolus, and IOB + what was owed + it <= max_iob
"""

import random
from bisect import bisect_right

from hypothesis import given
from hypothesis import strategies as st

from basalt.core.board_file import load_board
from basalt.core.delivery import DeliveryEngine
from basalt.core.errors import BasaltError, LimitExceeded
from basalt.core.safety import Limits
from basalt.core.units import MS_PER_DAY, MS_PER_HOUR, MS_PER_MIN, PL_PER_MU
from host_tests.test_safety import BOARD

V = BOARD.ustep_volume_pl
assert load_board  # the sim board comes from test_safety


class ScriptedIob:
    """An IOB provider that may also fail: a value, garbage, or an exception."""

    def __init__(self):
        self.value = 0

    def iob_mu(self, now_ms):
        if self.value == "raise":
            raise RuntimeError("tracker fault")
        return self.value


@st.composite
def limit_sets(draw):
    bolus = draw(st.integers(1, 1_000)) * 10
    hour = draw(st.integers(bolus, 2 * bolus))
    daily = draw(st.integers(hour, hour + 15_000))
    return Limits(max_bolus_mu=bolus, max_basal_mu_h=draw(st.integers(0, 3_000)),
                  max_iob_mu=draw(st.integers(bolus // 2, 3 * bolus)), max_bolus_60min_mu=hour,
                  max_daily_mu=daily)


# Amounts and rates are drawn as permille of the limits, so limits are met often.
amounts = st.integers(1, 1_300)
minutes = st.one_of(st.integers(15, 60), st.integers(15, 480))
rates = st.integers(0, 1_300)

ticks = st.tuples(st.just("tick"), st.one_of(st.integers(1, 2_000),
                                             st.integers(1, 30 * MS_PER_MIN),
                                             st.integers(1, 3 * MS_PER_HOUR)))
boluses = st.one_of(
    st.tuples(st.just("bolus"), amounts),
    st.tuples(st.just("extended"), amounts, minutes),
    st.tuples(st.just("dual"), amounts, st.integers(1, 99), minutes),
)
actions = st.one_of(
    ticks, ticks, boluses, boluses,
    st.tuples(st.just("tick"), st.integers(MS_PER_MIN, 20 * MS_PER_MIN)),
    st.tuples(st.just("run"), st.integers(1, 16 * MS_PER_HOUR),
              st.integers(MS_PER_MIN, 15 * MS_PER_MIN)),
    st.tuples(st.just("bolus"), amounts),
    st.tuples(st.just("loop_bolus"), amounts),
    st.tuples(st.just("extended"), amounts, minutes),
    st.tuples(st.just("dual"), amounts, st.integers(1, 99), minutes),
    st.tuples(st.just("temp_rate"), rates, minutes),
    st.tuples(st.just("temp_percent"), st.integers(0, 250), minutes),
    st.tuples(st.just("loop_temp"), rates, minutes),
    st.tuples(st.just("profile"), st.lists(rates, min_size=1, max_size=4)),
    st.tuples(st.just("iob"), st.integers(-200, 1_100)),  # permille of max IOB
    st.tuples(st.just("iob"), st.integers(-200, 1_100)),
    st.tuples(st.just("iob"), st.sampled_from([None, 1.5, "raise", 10 ** 9])),  # faults
    st.tuples(st.sampled_from(["suspend", "resume", "cancel_bolus", "cancel_temp", "halt",
                               "refill"])),
)


def bolus_mu(limits, permille, least=10):
    return max(least, limits.max_bolus_mu * permille // 1_000 // 10 * 10)


def rate_mu_h(limits, permille):
    return limits.max_basal_mu_h * permille // 1_000


def apply(e, limits, iob, now, action):
    """Run one command; returns the bolus amount it asked for (or None)."""
    kind = action[0]
    if kind in ("bolus", "loop_bolus", "extended"):
        amount = bolus_mu(limits, action[1])
        if kind == "bolus":
            e.bolus(now, amount)
        elif kind == "loop_bolus":
            e.auto_bolus(now, amount)
        else:
            e.extended_bolus(now, amount, action[2])
        return amount
    if kind == "dual":
        amount = bolus_mu(limits, action[1], 20)
        now_mu = max(10, amount * action[2] // 100 // 10 * 10)
        e.dual_bolus(now, amount, min(now_mu, amount - 10), action[3])
        return amount
    if kind == "temp_rate":
        return e.start_temp_basal(now, action[2], rate_mu_h=rate_mu_h(limits, action[1]))
    if kind == "temp_percent":
        return e.start_temp_basal(now, action[2], percent=action[1])
    if kind == "loop_temp":
        return e.auto_temp_basal(now, rate_mu_h(limits, action[1]), action[2])
    if kind == "profile":
        segments = [(i * 360, rate_mu_h(limits, p)) for i, p in enumerate(action[1])]
        e.set_profile(now, "P", segments)
        return e.activate_profile(now, "P")
    if kind == "iob":
        value = action[1]
        iob.value = limits.max_iob_mu * value // 1_000 if isinstance(value, int) else value
        return None
    if kind == "suspend":
        return e.suspend(now)
    if kind == "resume":
        return e.resume(now)
    if kind == "cancel_bolus":
        return e.cancel_bolus(now)
    if kind == "cancel_temp":
        return e.cancel_temp_basal(now)
    if kind == "halt":
        return e.halt(now, "occlusion")
    if kind == "refill":
        if e.stop_reason is None:
            e.suspend(now)
        e.new_reservoir(now, 300_000)
        return e.resume(now)
    raise AssertionError(kind)


def owed_mu(e):
    return -(-e._bolus_owed() * V // PL_PER_MU)


def worst_window(times, totals, width):
    """The largest increase of a cumulative counter over any window (t - width, t]."""
    worst = 0
    for i, t in enumerate(times):
        j = bisect_right(times, t - width)  # first sample inside the window
        base = totals[j - 1] if j else 0
        worst = max(worst, totals[i] - base)
    return worst


@given(limit_sets(), st.integers(0, MS_PER_DAY - 1), st.lists(rates, min_size=1, max_size=4),
       st.lists(actions, min_size=5, max_size=60))
def test_no_sequence_of_commands_ticks_and_faults_exceeds_a_limit(limits, day_ms, profile,
                                                                  script):
    run_script(limits, day_ms, profile, script)


def random_limits(rng):
    bolus = rng.randint(1, 1_000) * 10
    hour = rng.randint(bolus, 2 * bolus)
    return Limits(max_bolus_mu=bolus, max_basal_mu_h=rng.randint(0, 3_000),
                  max_iob_mu=rng.randint(bolus // 2, 3 * bolus), max_bolus_60min_mu=hour,
                  max_daily_mu=rng.randint(hour, hour + 15_000))


def random_action(rng):
    """Mostly boluses and short ticks, so the window and daily limits are met often."""
    pick = rng.random()
    if pick < 0.35:
        return ("tick", rng.choice((rng.randint(1, 2_000), rng.randint(1, 20 * MS_PER_MIN),
                                    rng.randint(1, 3 * MS_PER_HOUR))))
    if pick < 0.40:
        return ("run", rng.randint(1, 16 * MS_PER_HOUR), rng.randint(MS_PER_MIN, 15 * MS_PER_MIN))
    if pick < 0.70:
        kind = rng.choice(("bolus", "bolus", "loop_bolus", "extended", "dual"))
        amount = rng.randint(1, 1_300)
        if kind in ("bolus", "loop_bolus"):
            return (kind, amount)
        duration = rng.choice((rng.randint(15, 60), rng.randint(15, 480)))
        if kind == "extended":
            return (kind, amount, duration)
        return (kind, amount, rng.randint(1, 99), duration)
    if pick < 0.80:
        kind = rng.choice(("temp_rate", "temp_percent", "loop_temp"))
        value = rng.randint(0, 250) if kind == "temp_percent" else rng.randint(0, 1_300)
        return (kind, value, rng.randint(15, 240))
    if pick < 0.85:
        return ("profile", [rng.randint(0, 1_300) for _ in range(rng.randint(1, 4))])
    if pick < 0.92:
        if rng.random() < 0.2:
            return ("iob", rng.choice((None, 1.5, "raise", 10 ** 9)))
        return ("iob", rng.randint(-200, 700))
    return (rng.choice(("suspend", "resume", "resume", "cancel_bolus", "cancel_temp", "halt",
                        "refill")),)


def test_long_random_sequences_meet_every_limit_and_never_exceed_one():
    """Seeded sequences of 200 actions; they must actually reach every limit."""
    seen = {}
    for seed in range(80):
        rng = random.Random(seed)
        script = [random_action(rng) for _ in range(200)]
        profile = [rng.randint(0, 1_000) for _ in range(rng.randint(1, 4))]
        for limit, count in run_script(random_limits(rng), rng.randrange(MS_PER_DAY), profile,
                                       script).items():
            seen[limit] = seen.get(limit, 0) + count
    for limit in ("max_bolus", "max_basal", "max_iob", "max_bolus_60min", "max_daily",
                  "stopped at max_daily"):
        assert seen.get(limit, 0) >= 3, (limit, seen)


def run_script(limits, day_ms, profile, script):
    """Run a script, check every limit; returns how often each limit refused or stopped."""
    iob = ScriptedIob()
    met = {}
    e = DeliveryEngine(BOARD, 0, limits, iob, day_ms)
    segments = [(i * 360, rate_mu_h(limits, min(p, 1_000))) for i, p in enumerate(profile)]
    e.set_profile(0, "Day", segments)
    e.new_reservoir(0, 300_000)
    e.resume(0)
    now = 0
    released = 0
    times, bolus, therapy = [0], [0], [0]
    for action in script:
        if action[0] == "tick":
            now += action[1]
            released += e.tick(now)
        elif action[0] == "run":
            end = now + action[1]
            while now < end:
                now = min(end, now + action[2])
                released += e.tick(now)
                times.append(now)
                bolus.append(e.bolus_steps)
                therapy.append(e.bolus_steps + e.basal_steps)
        else:
            before_owed = owed_mu(e)
            before_iob = iob.value
            try:
                amount = apply(e, limits, iob, now, action)
                if action[0] not in ("bolus", "loop_bolus", "extended", "dual"):
                    amount = None
            except LimitExceeded as refusal:
                assert refusal.over > 0
                met[refusal.limit] = met.get(refusal.limit, 0) + 1
            except BasaltError:
                pass
            else:
                if amount is not None:
                    assert amount <= limits.max_bolus_mu
                    assert before_iob + before_owed + amount <= limits.max_iob_mu
        assert e.basal_rate_mu_h() <= limits.max_basal_mu_h
        times.append(now)
        bolus.append(e.bolus_steps)
        therapy.append(e.bolus_steps + e.basal_steps)
    released += e.tick(now)
    hour_cap = BOARD.usteps_for_mu(limits.max_bolus_60min_mu)
    day_cap = BOARD.usteps_for_mu(limits.max_daily_mu)
    assert worst_window(times, bolus, 60 * MS_PER_MIN) <= hour_cap
    assert worst_window(times, therapy, 24 * MS_PER_HOUR) <= day_cap
    # Nothing bypassed the gate: it counted every therapy step the engine released.
    assert released == e.basal_steps + e.bolus_steps + e.prime_steps
    assert e.gate.delivered_steps == e.basal_steps + e.bolus_steps
    stops = [d["limit"] for kind, d in e.pop_events() if kind == "limit_reached"]
    # Boluses are admitted only if they fit, so in delivery only basal meets a limit.
    assert set(stops) <= {"max_daily"}
    met["stopped at max_daily"] = len(stops)
    return met
