"""Insulin on board from what was actually delivered, in bounded memory.

Deliveries are summed into one bucket per minute (by the minute they were delivered
in) for the last 8 hours, the longest duration of action allowed; older insulin has no
effect left, so its buckets are reused. Two sets of buckets:

  bolus   boluses (normal, extended, dual) -> bolus_iob_mu(), what the calculator uses;
  net     boluses plus basal delivered minus basal scheduled (negative while suspended
          or on a low temp) -> iob_mu(), the net IOB a closed loop uses.

A bucket's insulin is taken as delivered at the start of its minute, so IOB reaches 0
exactly one duration of action after every delivery and is at most one minute of decay
(< 1 % of a dose) below the exact curve. Evaluations are integer-only: no allocation.
"""

from basalt.core.check import int_in
from basalt.core.errors import InvalidValue
from basalt.core.insulin import DURATION_MAX_MIN, MS_PER_MIN, ONE, SHIFT
from basalt.core.units import shifted

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):
        return value


BUCKETS = const(480)  # one per minute of the longest duration of action (8 h)
_MASK = const(0x3FFF)  # ONE - 1
_AMOUNT_LIMIT_MU = const(1_000_000)  # 1000 U: far beyond any dose, keeps ints small
_SPAN_MS = const(30_000)  # rate (<= 30 U/h) * span stays a small int
_PL_PER_MU = const(10_000)
_MU_MS_PER_H = const(3_600_000)


class IobTracker:
    """Net and bolus-only insulin on board. Time is the app's monotonic now_ms."""

    def __init__(self, model):
        self.model = _fits(model)
        self._bolus = [0] * BUCKETS
        self._net = [0] * BUCKETS
        self._head = -BUCKETS  # the newest bucket's minute number

    def set_model(self, model):
        """A new insulin curve (settings changed); the delivery history is kept."""
        self.model = _fits(model)

    # ----- recording ---------------------------------------------------------------

    def rebase(self, shift_ms):
        """The clock moved back by shift_ms (whole minutes): the buckets keep their ages."""
        self._head = shifted(self._head * MS_PER_MIN, shift_ms) // MS_PER_MIN

    def add_bolus(self, at_ms, amount_mu):
        """Bolus insulin delivered at at_ms (a reconciled bolus may be added late)."""
        i = self._bucket(at_ms, amount_mu)
        if i >= 0:
            self._bolus[i] += amount_mu
            self._net[i] += amount_mu

    def add_basal(self, at_ms, delivered_mu, scheduled_mu):
        """Basal delivered over a tick ending at at_ms, and what the schedule asked for."""
        net = delivered_mu - scheduled_mu
        i = self._bucket(at_ms, net)
        if i >= 0:
            self._net[i] += net

    def _bucket(self, at_ms, amount_mu):
        """The bucket index for a delivery at at_ms, or -1 if there is nothing to add."""
        if not -_AMOUNT_LIMIT_MU <= amount_mu <= _AMOUNT_LIMIT_MU:
            raise InvalidValue("insulin amount", amount_mu, "-%d to %d mU" % (
                _AMOUNT_LIMIT_MU, _AMOUNT_LIMIT_MU))
        if not amount_mu:
            return -1
        minute = at_ms // MS_PER_MIN
        if minute > self._head:
            self._advance(minute)
        elif minute <= self._head - BUCKETS:
            return -1  # older than any duration of action: nothing of it is left
        return minute % BUCKETS

    def _advance(self, minute):
        """Make `minute` the newest bucket, emptying the ones it reuses."""
        gap = minute - self._head
        if gap > BUCKETS:
            gap = BUCKETS
        bolus = self._bolus
        net = self._net
        for k in range(gap):
            i = (minute - k) % BUCKETS
            bolus[i] = 0
            net[i] = 0
        self._head = minute

    # ----- evaluation --------------------------------------------------------------

    def bolus_iob_mu(self, now_ms):
        """Insulin on board from boluses only, in mU (never negative)."""
        return self._sum(self._bolus, now_ms, False)

    def iob_mu(self, now_ms):
        """Net insulin on board: boluses plus basal above (or below) the schedule, mU."""
        return self._sum(self._net, now_ms, False)

    def activity_mu_h(self, now_ms):
        """Net insulin acting now, in mU/h (from the curve's slope over this minute)."""
        return self._sum(self._net, now_ms, True)

    def _sum(self, buckets, now_ms, activity):
        """floor(sum of amount * fraction / ONE) over the buckets, in integers only.

        amount * fraction is split as (amount >> 14) * fraction + (amount & 0x3FFF) *
        fraction / ONE, so every product stays a small int whatever the amount.
        """
        table = self.model.table
        duration = self.model.duration_min
        now_min = now_ms // MS_PER_MIN
        within = now_ms - now_min * MS_PER_MIN
        head = self._head
        first_age = now_min - head  # whole minutes since the newest bucket began
        if first_age >= duration:
            return 0
        whole = 0
        rest = 0  # always 0 .. ONE - 1 between buckets
        for k in range(BUCKETS):
            age = first_age + k
            if age >= duration:
                break
            amount = buckets[(head - k) % BUCKETS]
            if not amount:
                continue
            if age < 0:
                fraction = 0 if activity else ONE
            else:
                here = table[age]
                step = here - table[age + 1]
                if activity:
                    fraction = step * 60  # per hour, from the per-minute decay
                else:
                    fraction = here - step * within // MS_PER_MIN
            whole += (amount >> SHIFT) * fraction
            rest += (amount & _MASK) * fraction
            carry = rest >> SHIFT
            whole += carry
            rest -= carry << SHIFT
        return whole


def _fits(model):
    if model.duration_min > BUCKETS:
        raise InvalidValue("insulin duration", model.duration_min,
                           "at most %d min" % DURATION_MAX_MIN)
    return model


class DeliveryFeed:
    """Feeds an IobTracker from the engine's step counters, every tick.

    The engine counts therapy in microsteps (basal_steps, bolus_steps); this turns the
    steps added since the last tick into mU, keeping the sub-mU remainders, and charges
    the scheduled basal for the same time, so nothing is lost or counted twice however
    ticks are cut. Prime is not therapy and is not counted. Allocates nothing per tick.

    Missed basal (scheduled but not delivered: suspended, a low temp) is charged only
    once therapy has run: a fresh pump (no reservoir yet, fitted but not started) has
    missed nothing, so its net IOB is 0, not the schedule's insulin since power-on.
    """

    def __init__(self, tracker, engine, now_ms):
        self.tracker = tracker
        self.engine = engine
        self._ustep_pl = int_in("microstep volume", engine.board.ustep_volume_pl, 1,
                                1_000_000, "pL")
        self._last_ms = now_ms
        self._bolus_steps = engine.bolus_steps
        self._basal_steps = engine.basal_steps
        self._bolus_pl = 0
        self._basal_pl = 0
        self._scheduled_acc = 0  # scheduled basal in mU*ms/h, below one mU
        self._started = engine.stop_reason is None  # therapy has run since the feed began
        self._scheduled_rate = self._scheduled_now()

    def rebase(self, shift_ms):
        self._last_ms = shifted(self._last_ms, shift_ms)

    def update(self, now_ms):
        """Record what the engine delivered since the last update (call after tick)."""
        engine = self.engine
        steps = engine.bolus_steps - self._bolus_steps
        if steps:
            self._bolus_steps = engine.bolus_steps
            self._bolus_pl += steps * self._ustep_pl
            mu = self._bolus_pl // _PL_PER_MU
            self._bolus_pl -= mu * _PL_PER_MU
            self.tracker.add_bolus(now_ms, mu)
        steps = engine.basal_steps - self._basal_steps
        self._basal_steps = engine.basal_steps
        self._basal_pl += steps * self._ustep_pl
        delivered = self._basal_pl // _PL_PER_MU
        self._basal_pl -= delivered * _PL_PER_MU
        scheduled = self._scheduled_mu(now_ms - self._last_ms)
        if not self._started:
            # Before therapy first runs nothing is missed; the span it starts in counts
            # what it delivered as scheduled.
            scheduled = delivered
            self._scheduled_acc = 0
            self._started = engine.stop_reason is None
        self._last_ms = now_ms
        self._scheduled_rate = self._scheduled_now()
        self.tracker.add_basal(now_ms, delivered, scheduled)

    def _scheduled_mu(self, dt_ms):
        """Whole mU the schedule asked for over dt_ms at the rate in force since last time."""
        rate = self._scheduled_rate
        acc = self._scheduled_acc
        out = 0
        while dt_ms > 0:
            span = _SPAN_MS if dt_ms > _SPAN_MS else dt_ms
            acc += rate * span
            mu = acc // _MU_MS_PER_H
            acc -= mu * _MU_MS_PER_H
            out += mu
            dt_ms -= span
        self._scheduled_acc = acc
        return out

    def _scheduled_now(self):
        profiles = self.engine.profiles
        if profiles.active is None:
            return 0
        return profiles.current().rate_at(self.engine.day_ms())
