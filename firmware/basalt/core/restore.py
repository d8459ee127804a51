"""What a rebooting pump makes of its checkpoint (basalt.core.checkpoint). Pure; used
only at boot (basalt.storage.recovery), so it is not kept in RAM while the pump runs.

After a reset (plan_restore):
- a running bolus is never resumed: it is recorded as interrupted with its delivered
  amount between the bounds, and the calculator stays locked until the user reconciles it;
- a suspended or stopped pump stays stopped;
- wall time since the checkpoint is unknown, so a temp basal that only ever lowers
  delivery (percent <= 100, or a rate at or below every scheduled rate left in it)
  resumes with the time it had left at the checkpoint: running it longer than asked can
  only mean less insulin. A temp basal that raises delivery is ended: resuming it could
  run it past its intended end, which would be insulin nobody asked for;
- nothing delivers until the user has seen the boot screen (the app's job);
- an unreadable checkpoint means the pump cannot trust its state: it stays stopped with
  no reservoir (a new one must be fitted) and raises a delivery_fault alarm;
- the safety gate's 60-minute bolus and 24-hour totals come back counted as delivered
  at boot (plan["gate"]), plus the lease the motor may have used after the checkpoint:
  a reset can never empty the windows. A version 1 checkpoint (older firmware, no
  totals) is still read; its windows restart empty and the plan says so
  (gate_windows_unknown), since guessing them full would stop delivery for a day;
- the boluses' carried remainder (below one microstep) comes back only if no bolus was
  running: an interrupted one drops it, as a cancelled one does (less, never more).
"""

from basalt.core.checkpoint import (
    BOLUS_KINDS,
    BOLUS_SLOTS,
    GATE_STEPS_MAX,
    STATE_DELIVERING,
    STATE_NO_RESERVOIR,
    STATE_SUSPENDED,
    TEMP_NONE,
    TEMP_PERCENT,
    TEMP_RATE,
)
from basalt.core.units import MS_PER_DAY, MS_PER_MIN, PL_PER_MU

# ----- the plan after a reset ------------------------------------------------------

def plan_restore(ck, status, board, profile=None, settled=(), unfinished=None, after=None,
                 slot_damaged=False):
    """What a rebooting pump restores, ends and records.

    ck/status: from newest(); board: for microsteps to mU; profile: the active basal
    profile (to judge an absolute temp basal) or None; settled: (boot, id) of boluses
    the journal already shows finished, cancelled or interrupted; unfinished: {(boot,
    id): (kind, programmed_mu[, seq])} of boluses the journal shows started and never
    ended; after: kinds of the journal records written after the checkpoint (seq from
    its journal_seq on), cross-checked against it (cross_check); slot_damaged: the
    other slot was present but unreadable (it may have been the newer one).
    Returns a dict: trusted, state, reservoir_steps, plunger_steps, day_ms, temp (None or
    (rate_mu_h, percent, left_ms, duration_ms) to resume), uncertain (None or the
    interrupted bolus the user must reconcile), gate, bolus_carry_pl, events [(kind,
    detail)], alarms [codes].
    """
    plan = {"trusted": True, "state": STATE_NO_RESERVOIR, "reservoir_steps": 0,
            "plunger_steps": 0, "day_ms": 0, "temp": None, "uncertain": None,
            "gate": (0, 0), "bolus_carry_pl": 0, "events": [], "alarms": []}
    if ck is None:
        if status != "none":
            plan["trusted"] = False
            plan["alarms"].append("delivery_fault")
            plan["events"].append(("checkpoint_lost", {"reason": status}))
            plan["events"].append(("gate_windows_unknown", {"reason": "checkpoint lost"}))
            _plan_unknown(plan, unfinished)
        return plan
    plan["state"] = ck["state"]
    plan["plunger_steps"] = ck["plunger_lo"]
    # The motor may have pushed up to plunger_hi: count the reservoir on the low side.
    plan["reservoir_steps"] = max(0, ck["reservoir_steps"] - (ck["plunger_hi"] -
                                                              ck["plunger_lo"]))
    plan["day_ms"] = ck["day_ms"] % MS_PER_DAY
    _plan_temp(plan, ck, profile)
    running = _plan_bolus(plan, ck, board, settled)
    _plan_unstarted(plan, unfinished, running, ck, slot_damaged)
    _plan_carry(plan, ck, board)
    _plan_gate(plan, ck, running)
    if after:
        cross_check(plan, ck, after)
    return plan


STOPPING = ("stopped", "alarm_stop")
CHANGING = ("temp_basal_started",)  # the files hold profile and settings changes
REFITTED = ("reservoir_fitted", "prime_started", "prime_done")


def cross_check(plan, ck, after):
    """The journal holds stops, temp starts and reservoir changes: records written after
    the checkpoint mean it is older than the pump's last state (the newer slot torn or
    rotted). A stop, or any change of what basal runs, restarts suspended (never
    resumed on the journal's word: a 0 % temp or a suspend is not forgotten); a new
    reservoir makes the plunger counts unknown (state lost)."""
    stopped = changed = refitted = False
    for kind in after:
        stopped = stopped or kind in STOPPING
        changed = changed or kind in CHANGING
        refitted = refitted or kind in REFITTED
    if refitted and ck["state"] != STATE_NO_RESERVOIR:
        plan["trusted"] = False
        plan["alarms"].append("delivery_fault")
        plan["events"].append(("checkpoint_stale", {"reason": "reservoir changed after it"}))
    if (stopped or changed) and plan["state"] == STATE_DELIVERING:
        plan["state"] = STATE_SUSPENDED
        if plan["temp"] is not None:
            plan["temp"] = None
        plan["events"].append(("checkpoint_stale", {
            "reason": "stopped after it" if stopped else "basal changed after it"}))


def _plan_carry(plan, ck, board):
    """The boluses' remainder comes back only when the restart ended no bolus (none
    running, none unaccounted for): else the last bolus may have used it."""
    carry = ck.get("bolus_carry_pl", 0)
    for kind, _ in plan["events"]:
        if kind == "bolus_interrupted" or kind == "bolus_assumed":
            return
    if plan["uncertain"] is None and carry < board.ustep_volume_pl:
        plan["bolus_carry_pl"] = carry


def _plan_gate(plan, ck, running):
    """The safety gate's totals to restore: (60-min bolus steps, 24-h steps). The motor
    may have moved up to plunger_hi after the checkpoint, all of it therapy (and bolus,
    if a bolus was running), uncounted in the checkpointed totals: add it."""
    if "gate_day_steps" not in ck:
        plan["events"].append(("gate_windows_unknown", {
            "reason": "checkpoint version %d has no safety-gate totals" % ck["version"]}))
        return
    lease = ck["plunger_hi"] - ck["plunger_lo"]
    hour = min(ck["gate_hour_steps"] + (lease if running else 0), GATE_STEPS_MAX)
    day = min(max(ck["gate_day_steps"] + lease, hour), GATE_STEPS_MAX)
    plan["gate"] = (hour, day)


def _plan_temp(plan, ck, profile):
    kind = ck["temp_type"]
    if kind == TEMP_NONE or ck["state"] != STATE_DELIVERING:
        return
    rate = ck["temp_value"] if kind == TEMP_RATE else None
    percent = ck["temp_value"] if kind == TEMP_PERCENT else None
    left = ck["temp_left_ms"]
    if percent is not None:
        lowers = percent <= 100
    else:
        lowers = profile is not None and rate <= min_rate_over(profile, ck["day_ms"], left)
    detail = {"rate_mu_h": rate, "percent": percent, "left_min": -(-left // MS_PER_MIN)}
    if lowers and left > 0:
        plan["temp"] = (rate, percent, left, ck["temp_duration_ms"])
        plan["events"].append(("temp_basal_resumed", detail))
    else:
        detail["reason"] = "restart: time since the checkpoint is unknown"
        plan["events"].append(("temp_basal_ended", detail))


def _plan_bolus(plan, ck, board, settled):
    """Running boluses become interrupted ones; their insulin joins what is unsettled.
    Returns the (boot, id) of the running ones."""
    running = []
    uncertain = None
    if ck["u_count"]:
        uncertain = {"count": ck["u_count"], "bolus_boot": ck["u_boot"],
                     "programmed_mu": ck["u_programmed_mu"],
                     "delivered_lo_mu": ck["u_lo_mu"], "delivered_hi_mu": ck["u_hi_mu"]}
    for prefix in BOLUS_SLOTS:
        kind = ck[prefix + "kind"]
        if not kind:
            continue
        programmed = ck[prefix + "programmed_mu"]
        # Steps to mU: the low bound rounded down, the high bound rounded up.
        lo_mu = min(board.mu_for_usteps(ck[prefix + "lo"]), programmed)
        hi_mu = min(-(-ck[prefix + "hi"] * board.ustep_volume_pl // PL_PER_MU), programmed)
        key = (ck["boot"], ck[prefix + "id"])
        bolus = _closed(key, BOLUS_KINDS[kind] if kind < len(BOLUS_KINDS) else "normal",
                        programmed, hi_mu)
        bolus["delivered_lo_mu"] = lo_mu
        running.append(key)
        if key not in settled:
            plan["events"].append(("bolus_interrupted", bolus))
        uncertain = _add_uncertain(uncertain, bolus)
    plan["uncertain"] = uncertain
    return running


def _plan_unstarted(plan, unfinished, running, ck=None, slot_damaged=False):
    """A bolus the journal shows started but the checkpoint does not hold running.
    - Started before the checkpoint was written (its seq below journal_seq): it ended
      and its end record is unreadable. It is counted as delivered in full
      (bolus_assumed): a lost record that could hide insulin is insulin.
    - Started after it, with the other slot unreadable: that slot may have been the
      newer one, holding it running, so it may have delivered up to all of it: the
      user reconciles it.
    - Otherwise the power went before its checkpoint was committed, and the motor moves
      only after that: it delivered nothing and is closed with 0 U."""
    for key in sorted(unfinished or {}):
        if key in running:
            continue
        entry = unfinished[key]
        kind, programmed = entry[0], entry[1]
        seq = entry[2] if len(entry) > 2 else None
        if ck is not None and seq is not None and seq < ck["journal_seq"]:
            bolus = _closed(key, kind, programmed, programmed)
            bolus["delivered_lo_mu"] = programmed
            bolus["delivered_mu"] = programmed
            bolus["reason"] = "end record unreadable"
            plan["events"].append(("bolus_assumed", bolus))
        elif slot_damaged and seq is not None:
            bolus = _closed(key, kind, programmed, programmed)
            plan["events"].append(("bolus_interrupted", bolus))
            plan["uncertain"] = _add_uncertain(plan["uncertain"], bolus)
        else:
            plan["events"].append(("bolus_interrupted", _closed(key, kind, programmed, 0)))


def _plan_unknown(plan, unfinished):
    """Without a checkpoint, an unfinished bolus may have delivered anything up to its
    programmed amount: the user must reconcile it."""
    for key in sorted(unfinished or {}):
        kind, programmed = unfinished[key][0], unfinished[key][1]
        bolus = _closed(key, kind, programmed, programmed)
        plan["events"].append(("bolus_interrupted", bolus))
        plan["uncertain"] = _add_uncertain(plan["uncertain"], bolus)


def _closed(key, kind, programmed_mu, hi_mu):
    return {"bolus_boot": key[0], "id": key[1], "kind": kind, "programmed_mu": programmed_mu,
            "delivered_lo_mu": 0, "delivered_hi_mu": hi_mu}


def _add_uncertain(uncertain, bolus):
    """The unreconciled insulin, one interrupted bolus more."""
    if uncertain is None:
        uncertain = {"count": 0, "bolus_boot": 0, "programmed_mu": 0,
                     "delivered_lo_mu": 0, "delivered_hi_mu": 0}
    uncertain["count"] += 1
    uncertain["bolus_boot"] = bolus["bolus_boot"]
    for key in ("programmed_mu", "delivered_lo_mu", "delivered_hi_mu"):
        uncertain[key] += bolus[key]
    return uncertain


def min_rate_over(profile, day_ms, duration_ms):
    """Lowest scheduled rate in [day_ms, day_ms + duration_ms)."""
    lowest = None
    day_ms %= MS_PER_DAY
    while duration_ms > 0:
        rate = profile.rate_at(day_ms)
        if lowest is None or rate < lowest:
            lowest = rate
        span = profile.ms_to_next_change(day_ms)
        duration_ms -= span
        day_ms = (day_ms + span) % MS_PER_DAY
    return 0 if lowest is None else lowest
