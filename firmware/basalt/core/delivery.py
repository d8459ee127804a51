"""The delivery engine: exact basal and bolus delivery in whole microsteps.

Time arrives as now_ms. Each channel integrates its program exactly with integer
remainders (no floats), so the steps it owes at any moment are the exact integral of
its program rounded down, however time is cut into ticks and however late they come.

  basal  rate r mU/h for dt ms is r*dt/360 pL; the remainder is kept in 1/360 pL.
  ramps  (bolus parts, prime) spread N steps evenly over T ms: floor(N*t/T) by time t.
  bolus  each part's N takes the remainder (pL) the parts before it left: completed
         boluses total floor(exact / step), never above, within one microstep below.

Every product stays below 2**30 (spans are cut to a per-channel maximum), so a tick
allocates nothing on 32-bit MicroPython.
"""

from basalt import call_and_forget
from basalt.core.basal import BasalProfiles
from basalt.core.check import int_in, text
from basalt.core.errors import InvalidValue
from basalt.core.limits import (
    BOLUS_SPEED_MAX_MU_MIN,
    BOLUS_SPEED_MIN_MU_MIN,
    MAX_RATE_MU_H,
)
from basalt.core.safety import BASAL, BOLUS, NAMES, SafetyGate
from basalt.core.units import (
    MS_PER_DAY,
    MS_PER_MIN,
    PL_PER_MU,
    SMALL_INT_MAX,
    fmt_milli,
    shifted,
)

try:
    from micropython import const
except ImportError:  # CPython (host tests)

    def const(value):
        return value


_SMALL = SMALL_INT_MAX
_FOREVER = SMALL_INT_MAX  # "no change ahead": a span longer than any tick


# Why the pump is stopped (None while delivering).
STOP_NO_RESERVOIR = "no reservoir"
STOP_USER = "suspended"
STOP_EMPTY = "reservoir empty"
STOP_OCCLUSION = "occlusion"
STOP_SENSOR_FAULT = "force sensor fault"
ALARM_STOPS = (STOP_OCCLUSION, STOP_SENSOR_FAULT)  # the user may resume after these
STOP_LIMIT = "limit reached: "  # + the limit's name, e.g. "limit reached: max daily insulin"
STOP_BASAL_LIMIT = STOP_LIMIT + NAMES["max_basal"]  # a basal step refused at release
# Why delivery stopped, as the journal's "cause" (a halt by any other alarm: "alarm").
_CAUSES = {STOP_USER: "user", STOP_EMPTY: "empty_reservoir", STOP_OCCLUSION: "occlusion",
           STOP_SENSOR_FAULT: "alarm"}
# A calculator bolus's record keys, in the order of the bolus command's advice fields.
ADVICE_KEYS = ("carbs_g", "meal_mu", "correction_mu", "iob_mu", "mg_dl", "glucose_source",
               "carb_ratio_mg_per_u", "sensitivity_mg_dl_per_u", "target_low_mg_dl",
               "target_high_mg_dl", "suggested_mu")
# Stops that resume cannot undo: they need a new reservoir.
NEEDS_RESERVOIR = (STOP_NO_RESERVOIR, STOP_EMPTY)

# The engine's refusals by number (basalt.core.delivery_refusals' names): their texts are
# built only when one is raised (as strings in this module they stayed in the heap).
_PERCENT_TOO_HIGH = const(1)
_NO_TEMP = const(2)
_NO_BOLUS = const(3)
_BOLUS_RUNNING = const(4)
_EXTENDED_RUNNING = const(5)
_NOT_ENOUGH_INSULIN = const(6)
_ALREADY_STOPPED = const(7)
_NOT_SUSPENDED = const(8)
_NEEDS_RESERVOIR = const(9)
_PRIMING = const(10)


def _rare(name, *args):
    """A seldom-used command's code (basalt.core.delivery_rare), loaded for the call."""
    return call_and_forget("basalt.core.delivery_rare", name, *args)


def _refused(code, *args):
    """The error for refusal `code` with its values (see basalt.core.delivery_refusals)."""
    return call_and_forget("basalt.core.delivery_refusals", "refusal", code, args)


class Ramp:
    """N microsteps spread evenly over T ms: a bolus part or a prime."""

    def __init__(self, owner, programmed_mu, steps, duration_ms):
        self.owner = owner  # (bolus id, kind)
        self.programmed_mu = programmed_mu
        self.steps = steps
        self.duration_ms = duration_ms
        self.elapsed_ms = 0
        self.done = 0
        self._acc = 0
        self.carried_mu = 0  # a dual wave's now part, carried into its extended part
        self.carried_steps = 0
        # Longest span whose product steps*span stays a small int.
        self.max_span = max(1, (_SMALL - duration_ms) // max(steps, 1))

    def advance(self, span):
        self.elapsed_ms += span
        self._acc += self.steps * span
        n = self._acc // self.duration_ms
        self._acc -= n * self.duration_ms
        self.done += n
        return n


class DeliveryEngine:
    """Basal (scheduled or temp), boluses (normal, extended, dual-wave), prime, reservoir.

    Commands validate everything first and raise InvalidValue / NotAllowedNow without
    changing anything. tick(now_ms) returns the microsteps to move forward now.

    The engine never delivers without limits: it builds its own SafetyGate from `limits`
    (an object with the five limit attributes, e.g. Settings.limits; None = no settings
    loaded, every dose refused) and `iob` (an object with iob_mu(now_ms)). Every dose
    command asks the gate before any change and every therapy microstep passes
    gate.take() in _take(), the only place steps leave the reservoir; a LimitExceeded
    refusal is recorded as a "limit_refused" event.
    """

    def __init__(self, board, now_ms, limits, iob, day_ms=0, bolus_speed_mu_min=1_500):
        int_in("day_ms", day_ms, 0, MS_PER_DAY - 1, "ms")
        int_in("bolus speed", bolus_speed_mu_min, BOLUS_SPEED_MIN_MU_MIN,
               BOLUS_SPEED_MAX_MU_MIN, "mU/min")
        self.board = board
        self.gate = SafetyGate(limits, iob, board, self._event)
        self.gate.advance(now_ms)  # the basal budget starts with the engine's clock
        self.profiles = BasalProfiles()
        self.bolus_speed_mu_min = bolus_speed_mu_min
        self.events = []
        self.stop_reason = STOP_NO_RESERVOIR
        self.reservoir_steps = 0
        self.plunger_steps = 0  # travel since the last rewind
        self.basal_steps = 0
        self.bolus_steps = 0
        self.prime_steps = 0
        self._last_ms = now_ms
        self._day_ms = day_ms
        # The wall clock: False after a reset that lost it (basal then runs at the
        # profile's lowest rate, docs/user-guide.md "Clock"); the date in days since 1970.
        self.time_known = True
        self.date_days = None
        self._owed = 0  # steps integrated by a command's catch-up, not yet returned
        self._dry = False  # the reservoir ran out during the current span
        self._capped = False  # the gate let fewer steps through than were due
        self._step_cost = board.ustep_volume_pl * 360  # one microstep in 1/360 pL
        self._basal_acc = 0
        self._basal_rate = 0
        self._basal_span = _FOREVER
        self._capped_from = 0  # the rate the program asked for while the gate caps it
        self._seg_left = _FOREVER
        self._temp = None  # [rate_mu_h or None, percent or None, left_ms, duration_ms]
        self._now_part = None
        self._ext_part = None
        self._ext_pending = None  # the extended part of a dual wave, waiting its turn
        self._prime = None
        self._bolus_id = 0
        # pL asked of boluses but below one microstep (0 <= carry < one step): the next
        # bolus part takes it; a cancelled or interrupted bolus drops it (the safe side).
        self.bolus_carry_pl = 0
        self._takeup = 0  # drive-train slack left by an occlusion back-off
        self.reseat_steps = 0  # take-up re-advanced on resume: travel, not therapy
        self._retarget()

    # ----- time -----------------------------------------------------------------

    def tick(self, now_ms):
        """Advance to now_ms; return the microsteps due (forward) since the last tick."""
        self._advance(now_ms)
        steps = self._owed
        self._owed = 0
        return steps

    def day_ms(self):
        return self._day_ms

    def rebase(self, shift_ms):
        """The clock moved back by shift_ms (basalt.core.units.REBASE_SHIFT_MS); the rest
        of the engine's time is relative (ramps, temp basal, time of day)."""
        self._last_ms = shifted(self._last_ms, shift_ms)
        self.gate.rebase(shift_ms)

    def set_time_of_day(self, now_ms, day_ms):
        int_in("time of day", day_ms, 0, MS_PER_DAY - 1, "ms")
        self._advance(now_ms)
        self._day_ms = day_ms
        self.time_known = True
        self._retarget()

    def set_clock(self, now_ms, days, day_ms, how="user"):
        """The date (days since 1970) and the time of day; the schedule follows."""
        return _rare("set_clock", self, now_ms, days, day_ms, how)

    def clock_lost(self, now_ms):
        """The time is not known (a reset without a valid RTC): no segment is guessed,
        the active profile's lowest rate runs until the clock is set."""
        return _rare("clock_lost", self, now_ms)

    def _advance(self, now_ms):
        dt = now_ms - self._last_ms
        if dt < 0:
            raise InvalidValue("now_ms", now_ms, "not before the last tick at %d" % self._last_ms)
        self._last_ms = now_ms
        self.gate.advance(now_ms)
        while dt > 0:
            span = self._span_limit()
            if span > dt:
                span = dt
            self._run(span)
            dt -= span

    def _span_limit(self):
        span = self._seg_left
        if self._basal_span < span:
            span = self._basal_span
        temp = self._temp
        if temp is not None and temp[2] < span:
            span = temp[2]
        span = _ramp_limit(self._now_part, span)
        span = _ramp_limit(self._ext_part, span)
        return _ramp_limit(self._prime, span)

    def _run(self, span):
        """Integrate every channel over `span` ms, in which no program changes."""
        self._day_ms += span
        if self._day_ms >= MS_PER_DAY:
            self._day_ms -= MS_PER_DAY
            if self.date_days is not None:
                self.date_days += 1
        self._seg_left -= span
        if self.stop_reason is None:
            if self._basal_rate:
                self._basal_acc += self._basal_rate * span
                n = self._basal_acc // self._step_cost
                if n:
                    self._basal_acc -= n * self._step_cost
                    self.basal_steps += self._take(n, BASAL)
            self.bolus_steps += self._feed(self._now_part, span, BOLUS)
            self.bolus_steps += self._feed(self._ext_part, span, BOLUS)
        self.prime_steps += self._feed(self._prime, span, None)
        temp = self._temp
        if temp is not None:
            temp[2] -= span
        if self._dry:
            self._dry = self._capped = False
            self._empty()
        elif self._capped:
            self._capped = False
            self._limit_stop()
        elif self._seg_left <= 0 or (temp is not None and temp[2] <= 0):
            self._boundary()
        self._finish_ramps()

    def _feed(self, ramp, span, kind):
        """Advance a ramp; it is credited only with the steps it was given."""
        if ramp is None:
            return 0
        wanted = ramp.advance(span)
        got = self._take(wanted, kind)
        ramp.done -= wanted - got
        return got

    def _take(self, n, kind):
        """Move up to n steps out of the reservoir: the only place steps are released.

        Therapy steps (kind BASAL or BOLUS) pass the safety gate first; prime (None) is
        not therapy. Running dry or reaching a limit stops everything after this span.
        """
        dry = n and n >= self.reservoir_steps
        if dry:
            n = self.reservoir_steps
        if kind is not None:
            allowed = self.gate.take(kind, n)
            if allowed < n:
                n = allowed
                self._capped = True
                dry = False
        if dry:
            self._dry = True
        self.reservoir_steps -= n
        self.plunger_steps += n
        self._owed += n
        return n

    # ----- basal ------------------------------------------------------------------

    def _boundary(self):
        temp = self._temp
        if temp is not None and temp[2] <= 0:
            self._temp = None
            self._event("temp_basal_done", {"duration_min": temp[3] // MS_PER_MIN})
        self._retarget()

    def _retarget(self):
        """Recompute the basal rate and the time to its next change."""
        scheduled = self._scheduled()
        if self.profiles.active is None or not self.time_known:
            self._seg_left = _FOREVER
        else:
            self._seg_left = self.profiles.current().ms_to_next_change(self._day_ms)
        temp = self._temp
        if temp is None:
            rate = scheduled
        elif temp[0] is not None:
            rate = temp[0]
        else:
            rate = scheduled * temp[1] // 100
        # The gate's rate cap (max basal, never above MAX_RATE_MU_H) binds whatever the
        # program asks: a percent temp over a segment that became higher after it started
        # (the clock set, a boundary reached) is delivered at the cap, and said once.
        # Commands that choose therapy (profile save or switch, settings) are refused up
        # front instead (_check_temp_fits); the clock is never refused, since a pump on
        # the wrong time delivers the wrong schedule. gate.take() enforces the same cap
        # on every basal step released (see basalt.core.safety).
        cap = self.gate.rate_cap_mu_h()
        if rate > cap:
            if rate != self._capped_from:
                self._capped_from = rate
                self._event("basal_capped", {"asked_mu_h": rate, "rate_mu_h": cap, "limit":
                                             "max_basal" if self.gate.limits is not None
                                             else "no_limits"})
            rate = cap
        else:
            self._capped_from = 0
        self._basal_rate = rate
        self._basal_span = (_SMALL - self._step_cost) // rate if rate else _FOREVER

    def _scheduled(self):
        """The active profile's rate now (0 without a profile)."""
        if self.profiles.active is None:
            return 0
        profile = self.profiles.current()
        if not self.time_known:
            return min(profile.rates_mu_h)
        return profile.rate_at(self._day_ms)

    def scheduled_mu_h(self):
        """What the schedule gives now (the lowest rate while the time is unknown)."""
        return self._scheduled()

    def basal_rate_mu_h(self):
        """The basal rate being delivered now (0 while stopped)."""
        return 0 if self.stop_reason else self._basal_rate

    def set_profile(self, now_ms, name, segments):
        """Save (create or replace) a named profile; an edit applies from now on."""
        return _rare("set_profile", self, now_ms, name, segments)

    def activate_profile(self, now_ms, name):
        return _rare("activate_profile", self, now_ms, name)

    def delete_profile(self, now_ms, name):
        self.profiles.delete(name)

    def rename_profile(self, now_ms, name, new_name):
        self.profiles.rename(name, new_name)

    def start_temp_basal(self, now_ms, duration_min, rate_mu_h=None, percent=None):
        """Absolute (mU/h) or percent-of-scheduled temp basal for 15 min to 72 h."""
        self._temp_basal(now_ms, duration_min, rate_mu_h, percent, "user")

    def auto_temp_basal(self, now_ms, rate_mu_h, duration_min, cause=None):
        """The closed loop's entry point: an absolute temp basal through the same gate.

        Besides max basal, the gate refuses a rate above the scheduled one while
        insulin on board is at max_iob. cause: "low_glucose_suspend" for its zero temps.
        """
        self._temp_basal(now_ms, duration_min, rate_mu_h, None, "loop", cause)

    def _temp_basal(self, now_ms, duration_min, rate_mu_h, percent, source, cause=None):
        # Fields and their ranges were checked by the command table (core.commands).
        self._advance(now_ms)
        duration_ms = duration_min * MS_PER_MIN
        if percent is not None:
            profile = self.profiles.current()
            peak = _percent_peak(profile, self._day_ms, duration_ms, percent)
            if peak > MAX_RATE_MU_H:
                highest = profile.max_rate_over(self._day_ms, duration_ms)
                raise _refused(_PERCENT_TOO_HIGH, percent, MAX_RATE_MU_H * 100 // highest,
                               fmt_milli(highest), fmt_milli(MAX_RATE_MU_H))
            self.gate.check_rate("temp basal", peak, " (%d %% of the scheduled rate)" % percent)
        elif source == "loop":
            self.gate.check_loop_rate(now_ms, "loop temp basal", rate_mu_h, self._scheduled())
        else:
            self.gate.check_rate("temp basal", rate_mu_h)
        replaced = self._temp is not None
        self._temp = [rate_mu_h, percent, duration_ms, duration_ms]
        self._retarget()
        detail = {"rate_mu_h": rate_mu_h, "percent": percent, "duration_min": duration_min,
                  "replaced": replaced, "source": source}
        if cause is not None:
            detail["cause"] = cause
        self._event("temp_basal_started", detail)

    def cancel_temp_basal(self, now_ms, cause="user"):
        self._advance(now_ms)
        if self._temp is None:
            raise _refused(_NO_TEMP)
        self._cancel_temp(cause)
        self._retarget()

    def auto_cancel_temp(self, now_ms):
        """The loop ends its temp basal."""
        self.cancel_temp_basal(now_ms, "loop")

    def _cancel_temp(self, cause):
        temp = self._temp
        self._temp = None
        self._event("temp_basal_cancelled", {"ran_min": (temp[3] - temp[2]) // MS_PER_MIN,
                                             "cause": cause})

    def temp_basal(self):
        """(rate_mu_h, percent, minutes left) or None."""
        temp = self._temp
        if temp is None:
            return None
        return temp[0], temp[1], -(-temp[2] // MS_PER_MIN)

    # ----- boluses ----------------------------------------------------------------

    def bolus(self, now_ms, amount_mu, *advice):
        """A normal bolus at the bolus speed; from the calculator, its advice (the
        command's advice fields, in ADVICE_KEYS order) goes in the event as well: the
        history says why (carbs, glucose and its source, ratio, sensitivity, target, IOB
        taken off, what was suggested; programmed_mu is what the user confirmed)."""
        self._advance(now_ms)
        self._require_bolus_ok("bolus", amount_mu, need_now=True, need_ext=False)
        record = None
        for i in range(len(advice)):
            if advice[i] is not None:
                if record is None:
                    record = {"carbs_g": None, "meal_mu": None, "correction_mu": None,
                              "iob_mu": None, "mg_dl": None}
                record[ADVICE_KEYS[i]] = advice[i]
        self._start_bolus("normal", amount_mu, amount_mu, 0, 0,
                          "user" if record is None else "calculator", record)

    def auto_bolus(self, now_ms, amount_mu):
        """The closed loop's entry point: a normal bolus through the same gate."""
        self._advance(now_ms)
        self._require_bolus_ok("loop bolus", amount_mu, need_now=True, need_ext=False)
        self._start_bolus("normal", amount_mu, amount_mu, 0, 0, "loop")

    def extended_bolus(self, now_ms, amount_mu, duration_min):
        """An amount spread evenly over 15 min to 8 h."""
        self._advance(now_ms)
        self._require_bolus_ok("extended bolus", amount_mu, need_now=False, need_ext=True)
        self._start_bolus("extended", amount_mu, 0, amount_mu, duration_min)

    def dual_bolus(self, now_ms, amount_mu, now_mu, duration_min):
        """now_mu at once (bolus speed), then the rest spread over duration_min."""
        self._advance(now_ms)
        self._require_bolus_ok("dual-wave bolus", amount_mu, need_now=True, need_ext=True)
        self._start_bolus("dual", amount_mu, now_mu, amount_mu - now_mu, duration_min)

    def cancel_bolus(self, now_ms):
        """Stop every running bolus part; return the reports of what was delivered."""
        self._advance(now_ms)
        if not self.bolus_running():
            raise _refused(_NO_BOLUS)
        return self._cancel_boluses("cancelled", "user")

    def bolus_running(self):
        return (self._now_part is not None or self._ext_part is not None
                or self._ext_pending is not None)

    def bolus_parts(self):
        """Running bolus parts as dicts: kind, part, programmed_mu, steps, done, ms."""
        parts = []
        for part, ramp in (("now", self._now_part), ("extended", self._ext_part)):
            if ramp is not None:
                parts.append({"id": ramp.owner[0], "kind": ramp.owner[1], "part": part,
                              "programmed_mu": ramp.programmed_mu, "steps": ramp.steps,
                              "done_steps": ramp.done, "duration_ms": ramp.duration_ms,
                              "elapsed_ms": ramp.elapsed_ms})
        return parts

    def _require_bolus_ok(self, command, amount_mu, need_now, need_ext):
        if need_now and self._now_part is not None:
            raise _refused(_BOLUS_RUNNING, command)
        if need_ext and (self._ext_part is not None or self._ext_pending is not None):
            raise _refused(_EXTENDED_RUNNING, command)
        steps = self._carried(amount_mu)[0]  # what its parts will move, remainder taken
        self._require_insulin(command, amount_mu, steps)
        self.gate.check_bolus(self._last_ms, command, amount_mu, self._bolus_owed(), steps)

    def _carried(self, amount_mu):
        """(whole microsteps, pL left over) of amount_mu plus the carried remainder."""
        pl = amount_mu * PL_PER_MU + self.bolus_carry_pl
        step_pl = self.board.ustep_volume_pl
        steps = pl // step_pl
        return steps, pl - steps * step_pl

    def _bolus_owed(self):
        """Microsteps that running and waiting bolus parts still owe."""
        return _owed(self._now_part) + _owed(self._ext_part) + _owed(self._ext_pending)

    def _require_insulin(self, command, amount_mu, steps=None):
        """The reservoir, less what running boluses and prime still owe, must hold it."""
        free = self.reservoir_steps - self._bolus_owed() - _owed(self._prime)
        free_mu = self.board.mu_for_usteps(free) if free > 0 else 0
        if amount_mu > free_mu or (steps is not None and steps > free):
            raise _refused(_NOT_ENOUGH_INSULIN, command, fmt_milli(amount_mu), fmt_milli(free_mu))

    def _start_bolus(self, kind, amount_mu, now_mu, ext_mu, duration_min, source="user",
                     advice=None):
        self._bolus_id += 1
        ident = (self._bolus_id, kind)
        if now_mu:
            self._now_part = self._bolus_ramp(ident, now_mu, self._bolus_ms(now_mu))
        if ext_mu:
            ext = self._bolus_ramp(ident, ext_mu, duration_min * MS_PER_MIN)
            if now_mu:
                self._ext_pending = ext
            else:
                self._ext_part = ext
        detail = {"id": self._bolus_id, "kind": kind, "programmed_mu": amount_mu,
                  "now_mu": now_mu, "extended_mu": ext_mu, "duration_min": duration_min,
                  "source": source}
        if advice is not None:
            detail.update(advice)
        self._event("bolus_started", detail)

    def _bolus_ms(self, amount_mu):
        # Ceiling: the bolus never runs faster than the set speed.
        return -(-amount_mu * MS_PER_MIN // self.bolus_speed_mu_min)

    def _ramp(self, ident, amount_mu, duration_ms):
        return Ramp(ident, amount_mu, self.board.usteps_for_mu(amount_mu), duration_ms)

    def _bolus_ramp(self, ident, amount_mu, duration_ms):
        """A bolus part: it takes the carried remainder and leaves its own."""
        steps, self.bolus_carry_pl = self._carried(amount_mu)
        return Ramp(ident, amount_mu, steps, duration_ms)

    def _finish_ramps(self):
        now_part = self._now_part
        if now_part is not None and now_part.elapsed_ms >= now_part.duration_ms:
            self._now_part = None
            ext = self._ext_pending
            if ext is not None:
                self._ext_pending = None
                self._ext_part = ext
                ext.carried_mu = now_part.programmed_mu
                ext.carried_steps = now_part.done
                self._event("bolus_part_done", self._report(now_part, None))
            else:
                self._event("bolus_done", self._report(now_part, None))
        ext = self._ext_part
        if ext is not None and ext.elapsed_ms >= ext.duration_ms:
            self._ext_part = None
            self._event("bolus_done", self._report(None, ext))
        prime = self._prime
        if prime is not None and prime.elapsed_ms >= prime.duration_ms:
            self._prime = None
            self._event("prime_done", {"programmed_mu": prime.programmed_mu,
                                       "delivered_steps": prime.done})

    def _cancel_boluses(self, how, cause):
        reports = []
        now_part, ext, pending = self._now_part, self._ext_part, self._ext_pending
        self._now_part = self._ext_part = self._ext_pending = None
        if now_part is not None or ext is not None:
            self.bolus_carry_pl = 0  # what was asked is not given: nothing to carry
        if now_part is not None:
            reports.append(self._report(now_part, pending))
        if ext is not None:
            reports.append(self._report(None, ext))
        for report in reports:
            report["ended"] = how
            report["cause"] = cause
            self._event("bolus_" + how, report)
        return reports

    def _report(self, now_part, ext_part):
        """Programmed and delivered amounts of one bolus (steps exact, mU rounded down)."""
        steps = 0
        programmed = 0
        owner = None
        for ramp in (now_part, ext_part):
            if ramp is not None:
                steps += ramp.done + ramp.carried_steps
                programmed += ramp.programmed_mu + ramp.carried_mu
                owner = ramp.owner
        return {"id": owner[0], "kind": owner[1], "programmed_mu": programmed,
                "delivered_steps": steps, "delivered_mu": self.board.mu_for_usteps(steps)}

    # ----- suspend, prime, reservoir ---------------------------------------------

    def suspend(self, now_ms, alarm=None):
        """Stop all delivery; temp basal and boluses are cancelled (never resumed).
        alarm: the alarm code when the pump suspends itself (a storage fault)."""
        self._advance(now_ms)
        if self.stop_reason is not None:
            raise _refused(_ALREADY_STOPPED, "suspend", self.stop_reason)
        self._stop(STOP_USER, alarm)

    def resume(self, now_ms, cause="user"):
        """Back to scheduled basal. Insulin missed while suspended is not made up.

        Resumes after a user suspend, a halt (alarm) or a limit stop; a limit stop only
        once the next hour of scheduled basal fits under the daily maximum.
        """
        self._advance(now_ms)
        reason = self.stop_reason
        if reason is None or reason in NEEDS_RESERVOIR:
            raise _refused(_NOT_SUSPENDED) if reason is None else _refused(_NEEDS_RESERVOIR,
                                                                            reason)
        if self._prime is not None:
            raise _refused(_PRIMING, "resume")
        if reason.startswith(STOP_LIMIT):
            _rare("require_daily_room", self)
        self.stop_reason = None
        self._retarget()
        takeup, self._takeup = self._takeup, 0
        if takeup:  # re-seat the drive train on the plunger: travel, not therapy
            self._owed += takeup
            self.plunger_steps += takeup
            self.reseat_steps += takeup
        self._event("resumed", {"takeup_steps": takeup, "cause": cause, "after": reason})

    def alarm_stop(self, now_ms, reason, backoff_steps=0, takeup_steps=0, unmoved_steps=0):
        """Stop for an occlusion or a force-sensor fault; return the steps to back off
        (the steps' meaning: basalt.core.delivery_rare.alarm_stop)."""
        return _rare("alarm_stop", self, now_ms, reason, backoff_steps, takeup_steps, unmoved_steps)

    def halt(self, now_ms, reason):
        """Stop all delivery for an alarm (occlusion, delivery fault, auto-off, ...).

        Returns False (and changes nothing) when delivery is already stopped.
        """
        text("halt reason", reason, 1, 32)
        self._advance(now_ms)
        if self.stop_reason is not None:
            return False
        self._stop(reason, reason.replace(" ", "_"))
        return True

    def set_limits(self, now_ms, limits, profiles=None):
        """New limits (settings changed), with the basal profiles (BasalProfiles) that come
        with them, if any; refused, changing nothing, if what runs now would break them."""
        return _rare("set_limits", self, now_ms, limits, profiles)

    def _limit_stop(self):
        limit = self.gate.limit_hit
        self._event("limit_reached", {"limit": limit,
                                      "day_steps": self.gate.day_steps(),
                                      "hour_bolus_steps": self.gate.hour_bolus_steps()})
        self._stop(STOP_LIMIT + NAMES[limit])

    def prime(self, now_ms, amount_mu):
        """Fill tubing and cannula while suspended; not counted as therapy."""
        return _rare("prime", self, now_ms, amount_mu)

    def new_reservoir(self, now_ms, fill_mu):
        """Rewind and fit a filled reservoir; returns the microsteps to rewind."""
        return _rare("new_reservoir", self, now_ms, fill_mu)

    def reservoir_mu(self):
        return self.board.mu_for_usteps(self.reservoir_steps)

    def _stop(self, reason, alarm=None):
        """Stop for reason; alarm: the code of the alarm that stopped it, if any."""
        cause = "alarm" if alarm and reason == STOP_USER else _CAUSES.get(reason, "alarm")
        if reason.startswith(STOP_LIMIT):
            cause = "limit"
        self.stop_reason = reason
        self._cancel_boluses("cancelled", cause)
        if self._temp is not None:
            self._cancel_temp(cause)
        self._retarget()
        detail = {"reason": reason, "cause": cause}
        if alarm:
            detail["alarm"] = alarm
        self._event("stopped", detail)

    def _empty(self):
        prime = self._prime
        if prime is not None:
            self._prime = None
            self._event("prime_stopped", {"programmed_mu": prime.programmed_mu,
                                          "delivered_steps": prime.done})
        self._stop(STOP_EMPTY)

    def _event(self, kind, detail):
        detail["at_ms"] = self._last_ms
        self.events.append((kind, detail))

    def pop_events(self):
        events = self.events
        self.events = []
        return events

    # ----- restart (basalt.core.checkpoint decides what comes back) ----------------

    def restore(self, now_ms, reservoir_steps, plunger_steps, stop_reason):
        """After a reset: the reservoir and plunger as checkpointed; delivery stopped."""
        return _rare("restore", self, now_ms, reservoir_steps, plunger_steps, stop_reason)

    def restore_temp(self, now_ms, rate_mu_h, percent, left_ms, duration_ms):
        """Resume a checkpointed temp basal for the time it had left (no limits re-run:
        restore.plan_restore resumes only temps that lower delivery)."""
        return _rare("restore_temp", self, now_ms, rate_mu_h, percent, left_ms, duration_ms)

    def temp_program(self):
        """(rate_mu_h, percent, left_ms, duration_ms) of the temp basal, or None."""
        return None if self._temp is None else tuple(self._temp)

    def last_ms(self):
        return self._last_ms

    def running_boluses(self):
        """Reports (id, kind, programmed_mu, delivered_steps, delivered_mu, total_steps)
        of the running boluses: at most a normal or dual-wave one and an extended one."""
        reports = []
        for now_part, ext in ((self._now_part, self._ext_pending), (None, self._ext_part)):
            if now_part is not None or ext is not None:
                report = self._report(now_part, ext)
                report["total_steps"] = _steps(now_part) + _steps(ext)
                reports.append(report)
        return reports


def _steps(ramp):
    """All the microsteps of a bolus part (with a dual wave's now part carried in)."""
    return 0 if ramp is None else ramp.steps + ramp.carried_steps


def _owed(ramp):
    return 0 if ramp is None else ramp.steps - ramp.done


def _ramp_limit(ramp, span):
    """The span cut to where a ramp ends or its arithmetic would leave small ints."""
    if ramp is None:
        return span
    left = ramp.duration_ms - ramp.elapsed_ms
    if left < span:
        span = left
    if ramp.max_span < span:
        span = ramp.max_span
    return span


def _percent_peak(profile, day_ms, duration_ms, percent):
    """The highest rate a percent temp basal reaches on a profile over its duration."""
    return profile.max_rate_over(day_ms, duration_ms) * percent // 100
