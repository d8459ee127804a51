"""The delivery engine's seldom-used commands: the clock set or lost, a profile saved or
switched, new limits, prime and a new reservoir, an alarm stop, the restart's restore.
DeliveryEngine's methods of the same names import this module for the call and forget
it (basalt.call_and_forget), so a running pump holds none of their code between uses.
Each takes the engine first; the rules are as the methods' docstrings say."""

from basalt.core.basal import make_profile
from basalt.core.check import int_in, one_of
from basalt.core.delivery import ALARM_STOPS, STOP_USER, _percent_peak, _refused
from basalt.core.errors import NotAllowedNow
from basalt.core.limits import MAX_RATE_MU_H, PRIME_SPEED_MU_MIN
from basalt.core.units import MS_PER_HOUR, MS_PER_MIN, fmt_milli

try:
    from micropython import const
except ImportError:  # CPython (host tests)

    def const(value):
        return value


# Refusal numbers (basalt.core.delivery_refusals' names, repeated as consts so the
# texts are loaded only to raise one; a test holds them equal).
_TEMP_WOULD_REACH = const(0)
_ALREADY_STOPPED = const(7)
_PRIMING = const(10)
_NO_DAILY_ROOM = const(11)
_SUSPEND_FIRST = const(12)
_PRIMING_ALREADY = const(13)
_NO_RESTORE_REASON = const(14)
_TEMP_WHILE_STOPPED = const(15)


def set_clock(engine, now_ms, days, day_ms, how="user"):
    """The date (days since 1970) and the time of day; the schedule follows."""
    was = engine.time_known
    engine.set_time_of_day(now_ms, day_ms)
    engine.date_days = days
    if how is not None:
        engine._event("clock_set", {"days": days, "minute": day_ms // MS_PER_MIN,
                                  "was_known": was, "how": how})


def clock_lost(engine, now_ms):
    """The time is not known (a reset without a valid RTC): no segment is guessed,
    the active profile's lowest rate runs until the clock is set."""
    engine._advance(now_ms)
    engine.time_known = False
    engine.date_days = None
    engine._retarget()
    engine._event("clock_unknown", {"rate_mu_h": engine._scheduled()})


def set_profile(engine, now_ms, name, segments):
    """Save (create or replace) a named profile; an edit applies from now on."""
    profile = make_profile(name, segments)
    engine._advance(now_ms)
    if name == engine.profiles.active:
        check_temp_fits(engine, "save profile", profile)
    engine.gate.check_profile("save profile", profile)
    engine.profiles.put(name, segments)
    engine._retarget()


def activate_profile(engine, now_ms, name):
    profile = engine.profiles.get(name)
    engine._advance(now_ms)
    check_temp_fits(engine, "activate profile", profile)
    engine.gate.check_profile("activate profile", profile)
    engine.profiles.active = name
    engine._retarget()
    engine._event("profile_activated", {"name": name})


def check_temp_fits(engine, command, profile):
    """A running percent temp basal must stay within the pump's and the set maximum."""
    temp = engine._temp
    if temp is None or temp[1] is None:
        return
    peak = _percent_peak(profile, engine._day_ms, temp[2], temp[1])
    if peak > MAX_RATE_MU_H:
        raise _refused(_TEMP_WOULD_REACH, command, temp[1], fmt_milli(peak), profile.name,
                       fmt_milli(MAX_RATE_MU_H))
    engine.gate.check_rate(command, peak, " (the running %d %% temp basal on profile %s)"
                         % (temp[1], profile.name))


def alarm_stop(engine, now_ms, reason, backoff_steps=0, takeup_steps=0, unmoved_steps=0):
    """Stop for an occlusion or a force-sensor fault; return the steps to back off.

    unmoved_steps were planned but never reached the plunger (they go back to the
    reservoir). backoff_steps pull the plunger back to relieve a blocked line; of
    them, takeup_steps are drive-train slack (reversing the plunger's friction),
    re-advanced as travel, not therapy, when delivery resumes. Boluses and a temp
    basal are cancelled, as for any stop.
    """
    one_of("stop reason", reason, ALARM_STOPS)
    engine._advance(now_ms)
    if engine.stop_reason is not None:
        raise _refused(_ALREADY_STOPPED, "alarm stop", engine.stop_reason)
    int_in("unmoved steps", unmoved_steps, 0, engine.plunger_steps, "microsteps")
    engine.plunger_steps -= unmoved_steps
    engine.reservoir_steps += unmoved_steps
    backoff = min(int_in("back-off", backoff_steps, 0, 1_000_000, "microsteps"),
                  engine.plunger_steps)
    takeup = min(int_in("take-up", takeup_steps, 0, 1_000_000, "microsteps"), backoff)
    owed = engine._bolus_owed()
    engine._stop(reason)
    engine.plunger_steps -= backoff
    engine.reservoir_steps += backoff - takeup
    engine._takeup = takeup
    engine._event("alarm_stop", {"reason": reason, "backoff_steps": backoff,
                               "takeup_steps": takeup, "unmoved_steps": unmoved_steps,
                               "bolus_not_delivered_mu": engine.board.mu_for_usteps(owed)})
    return backoff


def set_limits(engine, now_ms, limits, profiles=None):
    """New limits (settings changed), with the basal profiles (BasalProfiles) that come
    with them, if any; refused, changing nothing, if what runs now would break them."""
    engine._advance(now_ms)
    old, old_profiles = engine.gate.limits, engine.profiles
    engine.gate.set_limits(limits)
    if profiles is not None:
        engine.profiles = profiles
    try:
        if engine.profiles.active is not None:
            profile = engine.profiles.current()
            engine.gate.check_profile("set limits: active profile", profile)
            check_temp_fits(engine, "set limits", profile)
        temp = engine._temp
        if temp is not None and temp[0] is not None:
            engine.gate.check_rate("set limits: running temp basal", temp[0])
    except NotAllowedNow:
        engine.gate.set_limits(old)
        engine.profiles = old_profiles
        raise
    engine._retarget()
    engine._event("limits_set", {"max_bolus_mu": engine.gate.limits.max_bolus_mu,
                               "max_basal_mu_h": engine.gate.limits.max_basal_mu_h,
                               "max_iob_mu": engine.gate.limits.max_iob_mu,
                               "max_bolus_60min_mu": engine.gate.limits.max_bolus_60min_mu,
                               "max_daily_mu": engine.gate.limits.max_daily_mu})


def require_daily_room(engine):
    need = 0
    if engine.profiles.active is not None:
        need = engine.profiles.current().max_rate_over(engine._day_ms, MS_PER_HOUR)
    room = engine.gate.day_room_mu()
    if need > room:
        raise _refused(_NO_DAILY_ROOM, fmt_milli(room),
                       fmt_milli(engine.gate.limits.max_daily_mu), fmt_milli(need))


def prime(engine, now_ms, amount_mu):
    """Fill tubing and cannula while suspended; not counted as therapy."""
    engine._advance(now_ms)
    if engine.stop_reason != STOP_USER:
        if engine.stop_reason is None:
            raise _refused(_SUSPEND_FIRST, "prime")
        raise NotAllowedNow("prime", engine.stop_reason)
    if engine._prime is not None:
        raise _refused(_PRIMING_ALREADY)
    engine._require_insulin("prime", amount_mu)
    duration = -(-amount_mu * MS_PER_MIN // PRIME_SPEED_MU_MIN)
    engine._prime = engine._ramp((0, "prime"), amount_mu, duration)
    engine._event("prime_started", {"programmed_mu": amount_mu})


def new_reservoir(engine, now_ms, fill_mu):
    """Rewind and fit a filled reservoir; returns the microsteps to rewind."""
    engine._advance(now_ms)
    if engine.stop_reason is None:
        raise _refused(_SUSPEND_FIRST, "new reservoir")
    if engine._prime is not None:
        raise _refused(_PRIMING, "new reservoir")
    rewind = engine.plunger_steps
    engine.plunger_steps = 0
    engine._takeup = 0
    engine.reservoir_steps = engine.board.usteps_for_mu(fill_mu)
    engine.stop_reason = STOP_USER
    engine._event("reservoir_fitted", {"fill_mu": fill_mu, "rewind_steps": rewind})
    return rewind


def restore(engine, now_ms, reservoir_steps, plunger_steps, stop_reason):
    """After a reset: the reservoir and plunger as checkpointed; delivery stopped."""
    engine._advance(now_ms)
    if stop_reason is None:
        raise _refused(_NO_RESTORE_REASON, None)
    engine.reservoir_steps = reservoir_steps
    engine.plunger_steps = plunger_steps
    engine.stop_reason = stop_reason
    engine._retarget()


def restore_temp(engine, now_ms, rate_mu_h, percent, left_ms, duration_ms):
    """Resume a checkpointed temp basal for the time it had left (no limits re-run:
    restore.plan_restore resumes only temps that lower delivery)."""
    engine._advance(now_ms)
    if engine.stop_reason is not None:
        raise _refused(_TEMP_WHILE_STOPPED, engine.stop_reason)
    engine._temp = [rate_mu_h, percent, left_ms, duration_ms]
    engine._retarget()
