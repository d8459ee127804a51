"""Boot recovery (Keeper.start, boot only): read what survived a reset (journal and
checkpoint), plan the restore (basalt.core.restore.plan_restore), put insulin on board
back, load the basal and force calibration files, and say on the boot screen what
happened."""

from basalt.core import checkpoint as ckp
from basalt.core import journal_read as jread
from basalt.core import restore
from basalt.core.delivery import STOP_USER
from basalt.core.errors import BasaltError
from basalt.core.units import MS_PER_MIN, PL_PER_MU, fmt_milli
from basalt.storage.checkpoints import STOP_OF_STATE
from basalt.storage.keeper import FORCE_FILE
from basalt.storage.profiles import BASAL_FILE


def read_back(journal, checkpoints):
    """Everything the boot needs from flash: {"view", "ck", "status", "settled",
    "unfinished", "boluses", "basal", "boot", "after", "missing", "slots_damaged"}; the
    journal is opened to append after it."""
    ck, status = checkpoints.load()
    slots_damaged = list(checkpoints.damaged)
    after_seq = ck["journal_seq"] if ck is not None else None
    settled = set()
    unfinished = {}
    after = []  # kinds of the records written after the checkpoint
    boluses = jread.BolusReplay()
    basal = jread.BasalReplay()
    site = jread.SiteReplay()
    gaps = [0, None]  # records missing between readable ones (by seq), the last seq

    def visit(record):
        _settle(settled, unfinished, record)
        boluses.visit(record)
        basal.visit(record)
        site.visit(record)
        if after_seq is not None and record.seq >= after_seq:
            after.append(record.kind)
        last = gaps[1]
        if last is not None and record.seq > last + 1:
            gaps[0] += record.seq - last - 1
        gaps[1] = record.seq

    # Only the kinds these visitors read are decoded (most of a journal is not).
    view = journal.read(visit, _SETTLES + ("boot",) + boluses.DELIVERED + basal.DELIVERED
                        + site.DELIVERED)
    if ck is not None and "at_ms" in ck:
        boluses.alive(ck["boot"], ck["at_ms"])  # the pump ran at least this long
        basal.alive(ck["boot"], ck["at_ms"])
        site.alive(ck["boot"], ck["at_ms"])
    boot = (max(view.last_boot(), ck["boot"] if ck else 0) + 1) & 0xFFFF or 1
    seq = max(view.next_seq(), ck["journal_seq"] if ck else 0)
    journal.open(view, boot, seq)
    return {"view": view, "ck": ck, "status": status, "settled": settled,
            "unfinished": unfinished, "boluses": boluses, "basal": basal, "site": site,
            "boot": boot,
            "after": after, "missing": gaps[0], "slots_damaged": slots_damaged,
            "list_error": journal.list_error, "read_errors": list(journal.read_errors)}


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
                                           "file": view.damaged[0][0],
                                           "records": found["missing"]}))
    for name, message in view.foreign:
        events.append(("journal_foreign", {"file": name, "message": message}))
    if ck is not None:
        for name, why in found["slots_damaged"]:
            events.append(("checkpoint_lost", {"file": name, "reason": why}))
    return events


def plan(found, board, engine, now_ms=0, epoch_s=None):
    """The restore plan, cross-checked against the journal. With a checkpoint lost
    (both slots, or one that may have been the newer), the safety gate's windows are
    rebuilt from the journal (boluses, bolus_assumed and hourly basal summaries),
    counted the larger of the two; a bolus whose end record is unreadable is counted in
    them in full."""
    profiles = engine.profiles
    profile = profiles.profiles.get(profiles.active) if profiles.active else None
    ck = found["ck"]
    slot_damaged = bool(found["slots_damaged"]) and ck is not None
    out = restore.plan_restore(ck, found["status"], board, profile, found["settled"],
                           found["unfinished"], found["after"], slot_damaged)
    assumed = 0
    for kind, detail in out["events"]:
        if kind == "bolus_assumed":
            assumed += detail["delivered_mu"]
    lost = ck is None and found["status"] != "none"
    hour, day = out["gate"]
    if lost or slot_damaged or assumed:
        day_ms = 24 * 60 * MS_PER_MIN
        bolus_hour = _sum(found["boluses"].placed(now_ms, epoch_s, 60 * MS_PER_MIN)[0])
        bolus_day = _sum(found["boluses"].placed(now_ms, epoch_s, day_ms)[0])
        basal_day = _sum(found["basal"].placed(now_ms, epoch_s, day_ms)[0])
        j_hour = _steps_up(board, bolus_hour + assumed)
        j_day = _steps_up(board, bolus_day + basal_day + assumed)
        cap = ckp.GATE_STEPS_MAX
        hour = min(cap, max(hour, j_hour))
        day = min(cap, max(day, j_day, hour))
        out["gate"] = (hour, day)
        if lost:
            events = []
            for kind, detail in out["events"]:
                if kind == "gate_windows_unknown":
                    kind, detail = "gate_windows_rebuilt", {"reason": "checkpoint lost",
                                                            "hour_steps": hour,
                                                            "day_steps": day}
                events.append((kind, detail))
            out["events"] = events
    out["assumed_mu"] = assumed
    return out


def _sum(placed):
    """mU of placed doses, each plus the 1 mU its record may have rounded down."""
    total = 0
    for _, mu in placed:
        total += mu + 1
    return total


def _steps_up(board, mu):
    return -(-mu * PL_PER_MU // board.ustep_volume_pl)


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


def site_age(found, now_ms, epoch_s):
    """("site_age", {"minutes": ...}) since the newest journaled site change, or None."""
    placed = found["site"].placed(now_ms, epoch_s)[0]
    if not placed:
        return None
    return "site_age", {"minutes": max(0, now_ms - placed[-1][0]) // MS_PER_MIN}


def read_notes(found):
    """What the boot could not read, for the boot screen: damaged journal bytes and
    records, checkpoint slots, the file list."""
    notes = []
    view = found["view"]
    if found.get("list_error"):
        notes.append("Journal unreadable (file list: %s)" % found["list_error"])
    for name, error in found.get("read_errors", ()):
        notes.append("Journal: %s unreadable (%s)" % (name, error[:30]))
    if view.damaged:
        files = []
        for name, _, _ in view.damaged:
            if name not in files:
                files.append(name)
        notes.append("Journal: %d bytes unreadable in %s%s" % (
            view.damaged_bytes(), ", ".join(files[:2]), "" if not found["missing"] else
            " (%d record(s) lost)" % found["missing"]))
    elif found["missing"]:
        notes.append("Journal: %d record(s) missing" % found["missing"])
    for name, _ in view.foreign:
        notes.append("Journal: %s from a newer firmware, kept unread" % name)
    if found["ck"] is not None:
        for name, why in found["slots_damaged"]:
            notes.append("Checkpoint %s unreadable (%s): older copy used" % (name, why))
    return notes


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
        elif kind == "gate_windows_rebuilt":
            notes.append("60-min and daily totals rebuilt from the journal")
        elif kind == "bolus_assumed":
            notes.append("Bolus %s U: end record unreadable; counted as delivered"
                         % units(detail["delivered_mu"]))
        elif kind == "checkpoint_stale":
            notes.append("Checkpoint older than the journal (%s): %s" % (
                detail["reason"], "state lost" if "reservoir" in detail["reason"]
                else "kept suspended"))
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


_SETTLES = ("bolus_started", "bolus_done", "bolus_cancelled", "bolus_interrupted",
            "bolus_assumed")  # the kinds _settle reads


def _settle(settled, unfinished, record):
    """Collect (boot, id) of boluses the journal shows ended, and of those it shows
    started and not (yet) ended."""
    kind = record.kind
    detail = record.detail
    if kind == "bolus_started":
        unfinished[(record.boot, detail.get("id"))] = (detail.get("kind"),
                                                       detail.get("programmed_mu", 0),
                                                       record.seq)
        return
    if kind == "bolus_done" or kind == "bolus_cancelled":
        key = (record.boot, detail.get("id"))
    elif kind == "bolus_interrupted" or kind == "bolus_assumed":
        key = (detail.get("bolus_boot"), detail.get("id"))
    else:
        return
    settled.add(key)
    unfinished.pop(key, None)


def units(mu):
    return "%d.%02d" % (mu // 1000, mu % 1000 // 10)


def start(keeper, now_ms, cause, epoch_s, fw):
    """Keeper.start: read what survived, restore the engine (stopped), record the
    boot."""
    found = read_back(keeper.journal, keeper.checkpoints)
    keeper.boot = found["boot"]
    events = boot_events(found, cause, fw, epoch_s)
    if keeper._settings_events is None:
        keeper.load_settings()
    events += keeper._settings_events
    basal_note = _load_basal(keeper, events)
    force_note = _load_force_calibration(keeper, events)
    planned = plan(found, keeper.board, keeper.engine, now_ms, epoch_s)
    _apply(keeper, now_ms, planned)
    events[0][1]["day_ms"] = keeper.engine.day_ms()  # the history's clock for this boot
    clock_note = _set_clock(keeper, now_ms, epoch_s)
    events += planned["events"]
    iob_events, iob_note, keeper.iob_gap_known = restore_iob(
        keeper.iob, found["boluses"], now_ms, epoch_s)
    if planned["assumed_mu"]:
        # Counted as delivered now: the most of it on board (the safe side).
        keeper.iob.add_bolus(now_ms, planned["assumed_mu"])
    events += iob_events
    site = site_age(found, now_ms, epoch_s)
    if site is not None:
        events.append(site)  # the site-change reminder's clock goes on (AlarmRouter)
    for code in planned["alarms"]:
        events.append(("alarm", {"code": code, "detail": "restart: state unreadable"}))
    if keeper.settings_error:
        events.append(("alarm", {"code": "delivery_fault", "detail": "settings invalid"}))
    for kind, detail in events:
        detail.setdefault("at_ms", now_ms)
        keeper.stream.emit(kind, detail)
    keeper.boot_notes = boot_notes(
        planned, cause, keeper.uncertain,
        read_notes(found) + [clock_note, iob_note, basal_note, force_note],
        keeper.fault,
        keeper.settings_error, keeper._restart_stop)
    keeper.stream.publish()
    keeper._write_checkpoint(now_ms)
    return planned


def _load_basal(keeper, events):
    """Profiles edited on a pump that has no settings file holding them."""
    try:
        obj, profiles = keeper.basal.load()
    except BasaltError as error:
        events.append(("settings_rejected", {"file": BASAL_FILE,
                                             "message": str(error)[:200]}))
        if keeper._settings_basal:
            return None  # the settings file holds the profiles: nothing lost
        return "Basal profiles refused (%s): %s" % (BASAL_FILE, str(error)[:60])
    if profiles is None or keeper._settings_basal:
        return None  # the settings file holds the profiles (PumpApp loaded them)
    keeper.engine.profiles = profiles
    return None


def _load_force_calibration(keeper, events):
    """The force sensor's saved calibration (else the driver's nominal one stays:
    the occlusion detector works on changes of force, so it still works, with
    thresholds off by the scale's error). Returns the boot screen's note."""
    if keeper.force is None:
        return None
    try:
        _, calibration = keeper.force_file.load()
    except BasaltError as error:
        events.append(("settings_rejected", {"file": FORCE_FILE,
                                             "message": str(error)[:200]}))
        return "Force calibration refused: nominal in use"
    if calibration is None:
        return "Force sensor not calibrated: nominal in use"
    keeper.force.calibration = calibration
    return None


def _set_clock(keeper, now_ms, epoch_s):
    """The RTC's time (it survives soft and watchdog resets while powered; every
    clock setting is journaled). Without one, a board does not guess: the boot
    screen asks for the time. Returns the boot screen's note."""
    engine = keeper.engine
    if epoch_s is not None:
        engine.set_clock(now_ms, epoch_s // 86_400, epoch_s % 86_400 * 1000, None)
        return None
    if not keeper.needs_clock:
        return None
    engine.clock_lost(now_ms)
    return "Time not set: basal %s U/h (lowest) until set" % fmt_milli(
        engine.scheduled_mu_h())


def _apply(keeper, now_ms, plan):
    engine = keeper.engine
    engine.set_time_of_day(now_ms, plan["day_ms"])
    state = plan["state"]
    if plan["reservoir_steps"] or state != ckp.STATE_NO_RESERVOIR:
        engine.restore(now_ms, plan["reservoir_steps"], plan["plunger_steps"],
                       STOP_OF_STATE[state] if state < len(STOP_OF_STATE) else STOP_USER)
    # A reset never empties the 60-min and 24-h windows of the safety gate.
    engine.gate.restore(now_ms, plan["gate"][0], plan["gate"][1])
    engine.bolus_carry_pl = plan["bolus_carry_pl"]
    keeper._restart_stop = state
    keeper._temp = plan["temp"]
    keeper.uncertain = plan["uncertain"]
    if not plan["trusted"]:
        keeper.fault = "the delivery checkpoint could not be read"
