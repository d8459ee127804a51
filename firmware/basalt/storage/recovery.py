"""Boot recovery: read what survived a reset (journal and checkpoint), plan the
restore (basalt.core.checkpoint.plan_restore), put insulin on board back, and say on
the boot screen what happened."""

from basalt.core import checkpoint as ckp
from basalt.core import journal as jnl
from basalt.core.units import MS_PER_MIN


def read_back(journal, checkpoints):
    """Everything the boot needs from flash: {"view", "ck", "status", "settled",
    "unfinished", "boluses", "boot", "seq"}; the journal is opened to append after it."""
    settled = set()
    unfinished = {}
    boluses = jnl.BolusReplay()

    def visit(record):
        _settle(settled, unfinished, record)
        boluses.visit(record)

    view = journal.read(visit)
    ck, status = checkpoints.load()
    if ck is not None and "at_ms" in ck:
        boluses.alive(ck["boot"], ck["at_ms"])  # the pump ran at least this long
    boot = (max(view.last_boot(), ck["boot"] if ck else 0) + 1) & 0xFFFF or 1
    seq = max(view.next_seq(), ck["journal_seq"] if ck else 0)
    journal.open(view, boot, seq)
    return {"view": view, "ck": ck, "status": status, "settled": settled,
            "unfinished": unfinished, "boluses": boluses, "boot": boot}


def boot_events(found, cause, fw, epoch_s):
    """The boot record and what the journal's damage says."""
    view = found["view"]
    ck = found["ck"]
    boot = {"cause": cause, "fw": fw, "epoch_s": epoch_s, "records": view.count}
    if ck is not None and "at_ms" in ck:  # the last boot ran at least this long
        boot["alive_boot"] = ck["boot"]
        boot["alive_ms"] = ck["at_ms"]
    events = [("boot", boot)]
    if view.damaged:
        events.append(("journal_damaged", {"damaged_bytes": view.damaged_bytes(),
                                           "file": view.damaged[0][0]}))
    for name, message in view.foreign:
        events.append(("journal_foreign", {"file": name, "message": message}))
    return events


def plan(found, board, engine):
    profiles = engine.profiles
    profile = profiles.profiles.get(profiles.active) if profiles.active else None
    return ckp.plan_restore(found["ck"], found["status"], board, profile, found["settled"],
                            found["unfinished"])


def restore_iob(iob, boluses, now_ms, epoch_s):
    """Boluses of the last duration of action back into insulin on board (an
    unreconciled one joins when the user settles it). Returns (events, note, known)."""
    window = iob.model.duration_min * MS_PER_MIN
    placed, known = boluses.placed(now_ms, epoch_s, window)
    total = 0
    for at_ms, mu in placed:
        iob.add_bolus(at_ms, mu)
        total += mu
    if not placed:
        return [], None, known
    note = "IOB: %s U from %d bolus(es)%s" % (
        units(total), len(placed), "" if known else "; time off unknown, counted as 0")
    return [("iob_restored", {"boluses": len(placed), "delivered_mu": total,
                              "time_off": "from the wall clock" if known else
                              "unknown: counted as none"})], note, known


def boot_notes(plan, cause, uncertain, extra_notes, fault, settings_error, restart_stop):
    """The boot screen's lines, most important first."""
    notes = ["Restarted (%s)" % cause]
    if uncertain:
        u = uncertain
        notes.append("Bolus interrupted: %s-%s of %s U; confirm it" % (
            units(u["delivered_lo_mu"]), units(u["delivered_hi_mu"]),
            units(u["programmed_mu"])))
    for kind, detail in plan["events"]:
        if kind == "gate_windows_unknown":
            notes.append("60-min and daily totals unknown (%s): counted from 0"
                         % detail["reason"])
        elif kind == "temp_basal_ended":
            notes.append("Temp basal ended by the restart")
        elif kind == "temp_basal_resumed":
            notes.append("Low temp basal continues (%d min)" % detail["left_min"])
    for note in extra_notes:
        if note:
            notes.append(note)
    if fault:
        notes.append("State lost: fit a new reservoir")
    if settings_error:
        notes.append("Settings invalid: " + settings_error)
    if restart_stop == ckp.STATE_SUSPENDED:
        notes.append("Still suspended")
    elif restart_stop == ckp.STATE_ALARM:
        notes.append("Stopped by an alarm: check the line, then resume")
    return notes


def _settle(settled, unfinished, record):
    """Collect (boot, id) of boluses the journal shows ended, and of those it shows
    started and not (yet) ended."""
    kind = record.kind
    detail = record.detail
    if kind == "bolus_started":
        unfinished[(record.boot, detail.get("id"))] = (detail.get("kind"),
                                                       detail.get("programmed_mu", 0))
        return
    if kind == "bolus_done" or kind == "bolus_cancelled":
        key = (record.boot, detail.get("id"))
    elif kind == "bolus_interrupted":
        key = (detail.get("bolus_boot"), detail.get("id"))
    else:
        return
    settled.add(key)
    unfinished.pop(key, None)


def units(mu):
    return "%d.%02d" % (mu // 1000, mu % 1000 // 10)
