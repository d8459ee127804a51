"""The safety gate: the one place that decides whether insulin may be given.

Every dose path of the delivery engine asks it before anything changes: normal,
extended and dual-wave boluses, temp basals, profile saves and activations, limit
changes, and the closed loop's automatic temp basals and boluses. A refusal raises
LimitExceeded naming the limit, the value and by how much it is over, and is recorded
as a "limit_refused" event. The engine also hands every therapy microstep to take()
before it leaves the reservoir, so the delivered totals are the gate's own count.

Limits (integers):
  max_bolus_mu         one bolus (normal, extended or dual-wave), at most 25 U
  max_basal_mu_h       any basal rate: profile segments, temp basals (absolute or the
                       peak of a percent temp), the loop's temp basals
  max_iob_mu           net insulin on board (boluses, and basal above or below the
                       schedule: negative after a suspend, as oref0 counts it)
                       + what running boluses still owe + the new bolus
  max_bolus_60min_mu   bolus insulin in any 60 minutes (delivered + still owed + new)
  max_daily_mu         all therapy insulin (basal + bolus) in any 24 hours

The windows are fixed rings of 5-minute buckets of delivered microsteps. Any 60-minute
window lies inside 13 consecutive buckets and any 24-hour window inside 289, so keeping
every such bucket sum under the limit keeps every real window under it (conservative by
up to one bucket). Steps count in the bucket of the tick that hands them to the motor.

The basal rate is also enforced where steps are released, not only when a command
starts. A running program can change under a temp basal without any dose command: the
time of day is set, a segment boundary is reached, a profile is switched or edited,
settings are applied. The rule lives here, once: the basal rate delivered is at most
rate_cap_mu_h() = min(max_basal, MAX_RATE_MU_H). The engine asks rate_cap_mu_h() each
time it recomputes its rate and delivers at most that (journaling "basal_capped" when
it has to cut the rate: a percent temp is capped, as real pumps cap percent temps, and
the clock can always be set); and take() counts basal steps against a budget that
accrues at the cap with the engine's own exact arithmetic (1/360 pL remainders), so a
step above the cap never passes even if the engine computed its rate wrongly. At most
one microstep of unused budget is carried from one call to the next, so in any interval
T basal delivery is at most cap * T + one microstep. A basal step refused by the budget
stops delivery with the limit "max_basal" (an engine fault: it never happens while the
engine caps its rate).

During delivery: a bolus is admitted only if delivered-in-window + owed + new fits, and
the window sum plus what is owed never grows after that, so boluses cannot cross the
60-minute or daily limit. Basal is not planned ahead; when the 24-hour total reaches
max_daily_mu, take() lets no more steps through and the engine stops delivery (an alarm,
as real pumps do). Prime is not therapy (tubing is filled while disconnected) and is
not counted.
"""

from basalt import call_and_forget
from basalt.core.check import int_in, is_int
from basalt.core.errors import BasaltError, ConfigError, LimitExceeded
from basalt.core.limits import BOLUS_MAX_MU, BOLUS_STEP_MU, MAX_RATE_MU_H
from basalt.core.units import MS_PER_MIN, PL_PER_MU, SMALL_INT_MAX, fmt_milli, shifted

try:
    from micropython import const
except ImportError:  # CPython (host tests)

    def const(value):
        return value

BUCKET_MS = 5 * MS_PER_MIN
HOUR_BUCKETS = 13  # 60 min + the bucket a window may start inside
DAY_BUCKETS = 289  # 24 h + the same

# The widest value the gate accepts for each limit. The settings file has the hard
# limits and recommended ranges a user sees; these only catch nonsense.
CEILINGS = {
    "max_bolus_mu": (BOLUS_STEP_MU, BOLUS_MAX_MU),
    "max_basal_mu_h": (0, MAX_RATE_MU_H),
    "max_iob_mu": (0, 100_000),
    "max_bolus_60min_mu": (10, 75_000),
    "max_daily_mu": (10, 1_000_000),
}
LIMIT_KEYS = ("max_bolus_mu", "max_basal_mu_h", "max_iob_mu", "max_bolus_60min_mu",
              "max_daily_mu")
NAMES = {
    "max_bolus": "max bolus",
    "max_basal": "max basal",
    "max_iob": "max insulin on board",
    "max_bolus_60min": "max bolus in 60 min",
    "max_daily": "max daily insulin",
    "no_limits": "no limits loaded",
}
# The gate's refusals by number: the texts are basalt.core.safety_refusals, imported only
# to build one (as strings here they stayed in a running pump's heap).
_NO_LIMITS = const(0)
_TOO_MANY_STEPS = const(1)
_IOB_FAILED = const(2)
_IOB_NONSENSE = const(3)
_OVER_LIMIT = const(0)  # LimitExceeded messages (limit_message)
_OVER_MAX_BASAL = const(1)
_AT_MAX_IOB = const(2)

IOB_BOUND_MU = 1_000_000  # an IOB provider's answer outside +-1000 U is a fault
_SMALL = SMALL_INT_MAX
_FOREVER = SMALL_INT_MAX  # "no change ahead": a span longer than any tick

BASAL = 0
BOLUS = 1


class Limits:
    """Plain limits (integers), in the order and names of Settings.limits.

    The gate keeps its own checked copy, so later changes to a settings object never
    reach it except through DeliveryEngine.set_limits().
    """

    def __init__(self, max_bolus_mu, max_basal_mu_h, max_iob_mu, max_bolus_60min_mu,
                 max_daily_mu):
        self.max_bolus_mu = max_bolus_mu
        self.max_basal_mu_h = max_basal_mu_h
        self.max_iob_mu = max_iob_mu
        self.max_bolus_60min_mu = max_bolus_60min_mu
        self.max_daily_mu = max_daily_mu


def checked_limits(limits):
    """A private Limits copy of any object with the five attributes, or ConfigError."""
    values = {}
    for key in LIMIT_KEYS:
        lo, hi = CEILINGS[key]
        value = getattr(limits, key, None)
        values[key] = int_in("limits." + key, value, lo, hi, "mU/h" if key ==
                             "max_basal_mu_h" else "mU", error=ConfigError)
    # How the limits relate (60-min >= one bolus, ...) is the settings file's rule; here
    # each limit is simply enforced, the tightest one refusing first.
    return Limits(values["max_bolus_mu"], values["max_basal_mu_h"], values["max_iob_mu"],
                  values["max_bolus_60min_mu"], values["max_daily_mu"])


class Window:
    """Sums of the last n buckets of BUCKET_MS in a fixed ring (no growing lists)."""

    def __init__(self, n):
        self.sums = [0] * n
        self.total = 0
        self._head = 0
        self._bucket = 0

    def advance(self, bucket):
        gap = bucket - self._bucket
        if gap <= 0:
            return
        self._bucket = bucket
        sums = self.sums
        n = len(sums)
        if gap >= n:
            for i in range(n):
                sums[i] = 0
            self.total = 0
            return
        head = self._head
        while gap:
            head += 1
            if head == n:
                head = 0
            self.total -= sums[head]
            sums[head] = 0
            gap -= 1
        self._head = head

    def add(self, n):
        self.sums[self._head] += n
        self.total += n

    def rebase(self, shift_ms):
        self._bucket -= shift_ms // BUCKET_MS  # whole buckets (a whole-day shift)


class SafetyGate:
    """Checks every dose against the limits and counts every therapy microstep.

    iob is any object with iob_mu(now_ms) -> int (net insulin on board, mU).
    board converts between mU and microsteps; emit(kind, detail) records an event.
    """

    def __init__(self, limits, iob, board, emit):
        if not callable(getattr(iob, "iob_mu", None)):
            raise ConfigError("iob", iob, "an object with iob_mu(now_ms)")
        self.iob = iob
        self._board = board
        self._emit = emit
        self._hour = Window(HOUR_BUCKETS)  # bolus steps
        self._day = Window(DAY_BUCKETS)  # basal + bolus steps
        self.delivered_steps = 0  # every therapy step let through
        self.limit_hit = None  # the limit that stopped delivery in take()
        # The basal budget: whole steps the rate cap allows now, and the remainder in
        # 1/360 pL (the engine's units), accrued in advance() since _rate_ms.
        self._step_cost = board.ustep_volume_pl * 360
        self._rate_room = 0
        self._rate_acc = 0
        self._rate_ms = None  # no time seen yet: the first advance() starts the budget
        self.set_limits(limits)

    def set_limits(self, limits):
        """New limits; None locks the gate (no settings loaded): every dose is refused
        and no therapy step passes."""
        if limits is None:
            self.limits = None
            self._hour_cap = self._day_cap = 0
            self._set_rate_cap(0)
            return
        limits = checked_limits(limits)
        self.limits = limits
        self._hour_cap = self._board.usteps_for_mu(limits.max_bolus_60min_mu)
        self._day_cap = self._board.usteps_for_mu(limits.max_daily_mu)
        self._set_rate_cap(min(limits.max_basal_mu_h, MAX_RATE_MU_H))

    def _set_rate_cap(self, cap):
        """The budget accrues at the new cap from the last advance() on (the time before
        was accrued at the old one: the engine delivered it already)."""
        self._rate_cap = cap
        # Longest span whose product cap * span (+ remainder) stays a small int.
        self._rate_chunk = (_SMALL - self._step_cost) // cap if cap else _FOREVER

    def rate_cap_mu_h(self):
        """The highest basal rate that may be delivered now (mU/h): max basal, never above
        the pump's MAX_RATE_MU_H; 0 without limits."""
        return self._rate_cap

    def _limits(self, command):
        limits = self.limits
        if limits is None:
            raise _refused(_NO_LIMITS, command)
        return limits

    # ----- windows ------------------------------------------------------------------

    def advance(self, now_ms):
        bucket = now_ms // BUCKET_MS
        self._hour.advance(bucket)
        self._day.advance(bucket)
        last = self._rate_ms
        if last is None or now_ms > last:
            self._rate_ms = now_ms
            if last is not None:
                self._accrue(now_ms - last)

    def rebase(self, shift_ms):
        self._hour.rebase(shift_ms)
        self._day.rebase(shift_ms)
        self._rate_ms = shifted(self._rate_ms, shift_ms)

    def _accrue(self, dt):
        """The basal budget for dt more ms at the cap. Unused budget is carried over as
        at most one microstep (the engine's own remainder is always below one), so time
        spent suspended or below the cap never buys a burst above it later."""
        room = self._rate_room
        acc = self._rate_acc
        if room:
            room = 1
            acc = 0
        cap = self._rate_cap
        if cap:
            cost = self._step_cost
            chunk = self._rate_chunk
            while dt > 0:
                span = chunk if dt > chunk else dt
                acc += cap * span
                n = acc // cost
                acc -= n * cost
                room += n
                dt -= span
        self._rate_room = room
        self._rate_acc = acc

    def take(self, kind, n):
        """Let up to n therapy steps through now; fewer means a limit was reached."""
        room = self._day_cap - self._day.total
        limit = "max_daily"
        if kind == BOLUS:
            hour_room = self._hour_cap - self._hour.total
            if hour_room < room:
                room, limit = hour_room, "max_bolus_60min"
        elif self._rate_room < room:  # basal: the rate cap, counted at release
            room, limit = self._rate_room, "max_basal"
        if n > room:
            n = room if room > 0 else 0
            self.limit_hit = limit if self.limits is not None else "no_limits"
        if n:
            self._day.add(n)
            if kind == BOLUS:
                self._hour.add(n)
            else:
                self._rate_room -= n
            self.delivered_steps += n
        return n

    def carry_over(self):
        """(bolus steps in the 60-min window, therapy steps in the 24-h window): what a
        checkpoint keeps so a reset cannot empty the windows."""
        return self._hour.total, self._day.total

    def restore(self, now_ms, hour_bolus_steps, day_steps):
        """After a reset: the carried-over totals count as delivered now (the time
        since the checkpoint is unknown, so they leave the windows as late as possible)."""
        int_in("restored 60-min bolus steps", hour_bolus_steps, 0, 0x3FFFFFFF, "microsteps")
        int_in("restored 24-h steps", day_steps, hour_bolus_steps, 0x3FFFFFFF, "microsteps")
        self.advance(now_ms)
        self._hour.add(hour_bolus_steps)
        self._day.add(day_steps)

    def day_steps(self):
        return self._day.total

    def hour_bolus_steps(self):
        return self._hour.total

    def day_room_mu(self):
        """Insulin still allowed under max_daily (rounded down)."""
        return self._board.mu_for_usteps(max(0, self._day_cap - self._day.total))

    # ----- checks (raise LimitExceeded; nothing changes) ------------------------------

    def check_bolus(self, now_ms, command, amount_mu, owed_steps, steps=None):
        """A new bolus of amount_mu while running boluses still owe owed_steps; steps:
        the microsteps it will move (the engine's carried remainder may add one)."""
        int_in(command + " amount", amount_mu, 1, CEILINGS["max_bolus_mu"][1], "mU")
        int_in(command + " owed steps", owed_steps, 0, 0x3FFFFFFF, "microsteps")
        limits = self._limits(command)
        self.advance(now_ms)
        self._check(command, "max_bolus", amount_mu, 0, limits.max_bolus_mu)
        whole = self._board.usteps_for_mu(amount_mu)
        if steps is None:
            steps = whole
        elif not is_int(steps) or not whole <= steps <= whole + 1:
            # A remainder is below one microstep: more would exceed what was confirmed.
            raise _refused(_TOO_MANY_STEPS, command, fmt_milli(amount_mu), steps, whole + 1)
        self._check_steps(command, "max_bolus_60min", amount_mu, steps,
                          self._hour.total + owed_steps, self._hour_cap,
                          limits.max_bolus_60min_mu)
        self._check_steps(command, "max_daily", amount_mu, steps, self._day.total + owed_steps,
                          self._day_cap, limits.max_daily_mu)
        used = self.iob_now(now_ms, command) + self._mu_up(owed_steps)
        self._check(command, "max_iob", amount_mu, used, limits.max_iob_mu)

    def check_rate(self, command, rate_mu_h, where=""):
        """A basal rate (mU/h) a profile, temp basal or the loop would run."""
        int_in(command + " rate", rate_mu_h, 0, MAX_RATE_MU_H, "mU/h")
        maximum = self._limits(command).max_basal_mu_h
        if rate_mu_h > maximum:
            self._refuse(command, "max_basal", rate_mu_h, maximum, rate_mu_h - maximum,
                         _OVER_MAX_BASAL, where)

    def check_profile(self, command, profile):
        highest = 0
        at = 0
        for start, rate in profile.segments():
            if rate > highest:
                highest, at = rate, start
        self.check_rate(command + " " + profile.name, highest,
                        " at %02d:%02d" % (at // 60, at % 60))

    def check_loop_rate(self, now_ms, command, rate_mu_h, scheduled_mu_h):
        """The loop's temp basal: max basal, and no rise above scheduled at max IOB."""
        self.check_rate(command, rate_mu_h)
        if rate_mu_h > scheduled_mu_h:
            iob = self.iob_now(now_ms, command)
            maximum = self.limits.max_iob_mu
            if iob >= maximum:
                over = rate_mu_h - scheduled_mu_h
                self._refuse(command, "max_iob", rate_mu_h, scheduled_mu_h, over,
                             _AT_MAX_IOB, iob, maximum)

    def iob_now(self, now_ms, command):
        """The provider's IOB; an error or a nonsense answer refuses the dose."""
        try:
            iob = self.iob.iob_mu(now_ms)
        except BasaltError:
            raise
        except Exception as error:  # fail closed: unknown IOB means no dose
            raise _refused(_IOB_FAILED, command, error)
        if not is_int(iob) or not -IOB_BOUND_MU <= iob <= IOB_BOUND_MU:
            raise _refused(_IOB_NONSENSE, command, iob)
        return iob

    def _check(self, command, limit, amount_mu, used_mu, maximum):
        over = used_mu + amount_mu - maximum
        if over > 0:
            self._refuse(command, limit, amount_mu, maximum, over, _OVER_LIMIT, used_mu)

    def _check_steps(self, command, limit, amount_mu, steps, used_steps, cap, maximum):
        """Window limits compare microsteps (exact); the message shows units."""
        if used_steps + steps > cap:
            used_mu = self._mu_up(used_steps)
            over = max(1, used_mu + amount_mu - maximum)  # in the units the message shows
            self._refuse(command, limit, amount_mu, maximum, over, _OVER_LIMIT, used_mu)

    def _mu_up(self, steps):
        """Microsteps as mU, rounded up (a limit check never undercounts)."""
        return -(-steps * self._board.ustep_volume_pl // PL_PER_MU)

    def _refuse(self, command, limit, value, maximum, over, text, *values):
        """Record and raise a LimitExceeded; its message (text, a number in
        basalt.core.safety_refusals, with values) is built only now."""
        message = call_and_forget("basalt.core.safety_refusals", "limit_message", text,
                                  (command, limit, value, maximum, over) + values)
        self._emit("limit_refused", {"command": command, "limit": limit, "value": value,
                                     "maximum": maximum, "over": over, "reason": message})
        raise LimitExceeded(command, limit, value, maximum, over, message)


def _refused(code, command, *values):
    """The NotAllowedNow for refusal `code` (see basalt.core.safety_refusals)."""
    return call_and_forget("basalt.core.safety_refusals", "refusal", code, command, values)
