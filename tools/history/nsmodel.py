"""Nightscout's own reading of treatments, restated: the basal it draws and the insulin
it counts. Used by the plot (so it draws what Nightscout would) and by the export's
self-check (the pump's delivered insulin per hour, recomputed from what was sent).

The rules (cgm-remote-monitor lib/profilefunctions.js getTempBasal, tempBasalTreatment,
comboBolusTreatment; lib/data/ddata.js processDurations; docs/references.md):
- temp basals: one per ms (uniqBy mills); each runs [mills, mills + duration min];
  one with no duration ends the one running; a later one cuts an earlier one;
- the rate is `absolute` when given (and duration > 0), else the profile's rate
  changed by `percent`, else the profile's rate (0 here: no profile is sent);
- a Combo Bolus adds its `relative` (U/h) over (mills, mills + duration);
- a bolus (any treatment's `insulin`) counts at its created_at.
"""

import datetime

H_MS = 3_600_000


def mills(treatment):
    if isinstance(treatment.get("date"), (int, float)):
        return int(treatment["date"])
    text = treatment["created_at"].replace("Z", "+00:00")
    return int(datetime.datetime.fromisoformat(text).timestamp() * 1000)


def temp_basals(treatments):
    """[(start, end, absolute U/h or None, percent or None)] after Nightscout's cuts."""
    seen, temps = set(), []
    for t in sorted((t for t in treatments if t.get("eventType") == "Temp Basal"), key=mills):
        at = mills(t)
        if at in seen:
            continue
        seen.add(at)
        temps.append([at, at + float(t.get("duration") or 0) * 60_000, t])
    for temp in temps:
        for other in temps:  # an end event, or a later temp, cuts it
            if temp[0] < other[0] < temp[1]:
                temp[1] = other[0]
    out = []
    for start, end, t in temps:
        if end > start:
            absolute = t.get("absolute")
            out.append((start, end, None if absolute is None else float(absolute),
                        t.get("percent")))
    return out


def combos(treatments):
    """[(start, end, relative U/h)] of the Combo Boluses' extended parts."""
    out = []
    for t in treatments:
        if t.get("eventType") == "Combo Bolus" and t.get("relative"):
            start = mills(t)
            out.append((start, start + float(t.get("duration") or 0) * 60_000,
                        float(t["relative"])))
    return out


def basal_steps(treatments, profile_u_h=0.0, with_combos=True):
    """[(time, U/h)]: the rate Nightscout draws from each time on: temp + combo (its
    basal line), or the temps alone (with_combos False: the area under its combo area)."""
    temps, extra = temp_basals(treatments), combos(treatments) if with_combos else []
    times = sorted({p for s, e, *_ in temps for p in (s, e)} |
                   {p for s, e, _ in extra for p in (s, e)})
    out = []
    for time in times:
        rate = profile_u_h
        for start, end, absolute, percent in temps:
            if start <= time < end:
                rate = absolute if absolute is not None else profile_u_h * (
                    100 + (percent or 0)) / 100
        rate += sum(r for s, e, r in extra if s <= time < e)
        if not out or out[-1][1] != rate:
            out.append((time, rate))
    return out


def insulin_between(treatments, start, end, profile_u_h=0.0):
    """Units Nightscout counts delivered in [start, end): basal drawn + boluses."""
    total = 0.0
    steps = basal_steps(treatments, profile_u_h)
    for i, (at, rate) in enumerate(steps):
        until = steps[i + 1][0] if i + 1 < len(steps) else at
        lo, hi = max(at, start), min(until, end)
        if hi > lo:
            total += rate * (hi - lo) / H_MS
    for t in treatments:
        if t.get("insulin") and start <= mills(t) < end:
            total += float(t["insulin"])
    return total
