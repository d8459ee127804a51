"""The delivery checkpoint: what the pump was doing, written in two alternating slots
(basalt.core.checkpoint holds the layout and the restart rules)."""

from basalt.core import checkpoint as ckp
from basalt.core.delivery import (
    STOP_EMPTY,
    STOP_NO_RESERVOIR,
    STOP_OCCLUSION,
    STOP_SENSOR_FAULT,
    STOP_USER,
)
from basalt.core.units import MS_PER_MIN
from basalt.storage.files import guarded

CHECKPOINT_EVERY_MS = 5 * MS_PER_MIN

_STATE_OF_STOP = {None: ckp.STATE_DELIVERING, STOP_USER: ckp.STATE_SUSPENDED,
                  STOP_NO_RESERVOIR: ckp.STATE_NO_RESERVOIR, STOP_EMPTY: ckp.STATE_EMPTY,
                  STOP_OCCLUSION: ckp.STATE_ALARM, STOP_SENSOR_FAULT: ckp.STATE_ALARM}
# After a reset an alarm stop comes back as a suspend: the alarm is in the journal and on
# the boot screen, and the user resumes once the line is checked.
STOP_OF_STATE = (STOP_USER, STOP_USER, STOP_NO_RESERVOIR, STOP_EMPTY, STOP_USER)
_BOLUS_KIND = {"normal": 1, "extended": 2, "dual": 3}


class CheckpointStore:
    def __init__(self, storage):
        self.storage = storage
        self.counter = 0
        self.damaged = []  # (slot file, why) of slots present but not valid at load()

    def load(self):
        slots = []
        self.damaged = []
        for name in ckp.SLOTS:
            try:
                slots.append(self.storage.read(name))
            except OSError:
                slots.append(b"")  # unreadable: not a valid slot, and not "missing"
        for i in range(len(slots)):
            if slots[i] is not None:
                why = ckp.decode(slots[i])[1]
                if why is not None:
                    self.damaged.append((ckp.SLOTS[i], why))
        ck, status = ckp.newest(slots)
        if ck is not None:
            self.counter = ck["counter"]
        return ck, status

    def write(self, ck):
        self.counter += 1
        ck["counter"] = self.counter
        name = ckp.slot_for(self.counter)
        guarded("write", name, self.storage.write, name, ckp.encode(ck))


def snapshot(boot, engine, unmoved, lease_steps, held, uncertain, journal_seq):
    """The checkpoint of the pump as it is now. unmoved: steps planned but perhaps not
    moved yet (the low bounds); held: (state, temp) kept while the boot screen waits,
    else None; uncertain: the interrupted bolus nobody reconciled, or None."""
    ck = ckp.empty(boot)
    planned = engine.plunger_steps
    stop = engine.stop_reason
    temp = engine.temp_program() if stop is None else None
    if held is not None:
        state, temp = held  # the temp basal waiting for the boot screen
        ck["state"] = state if state is not None else _STATE_OF_STOP.get(
            stop, ckp.STATE_SUSPENDED)
    else:
        ck["state"] = _STATE_OF_STOP.get(stop, ckp.STATE_SUSPENDED)
    ck["reservoir_steps"] = engine.reservoir_steps
    ck["plunger_lo"] = max(0, planned - unmoved)
    ck["plunger_hi"] = planned + lease_steps
    ck["day_ms"] = engine.day_ms()
    if temp is not None:
        ck["temp_type"] = ckp.TEMP_RATE if temp[0] is not None else ckp.TEMP_PERCENT
        ck["temp_value"] = temp[0] if temp[0] is not None else temp[1]
        ck["temp_left_ms"] = temp[2]
        ck["temp_duration_ms"] = temp[3]
    boluses = engine.running_boluses()
    for i in range(min(2, len(boluses))):
        prefix = ckp.BOLUS_SLOTS[i]
        report = boluses[i]
        total = report["total_steps"]
        done = report["delivered_steps"]
        ck[prefix + "id"] = report["id"] & 0xFFFF
        ck[prefix + "kind"] = _BOLUS_KIND.get(report["kind"], 1)
        ck[prefix + "programmed_mu"] = report["programmed_mu"]
        ck[prefix + "lo"] = max(0, done - unmoved)
        ck[prefix + "hi"] = min(total, done + lease_steps)
    u = uncertain
    if u is not None:
        ck["u_count"] = min(255, u["count"])
        ck["u_boot"] = u["bolus_boot"]
        for key in ("programmed_mu", "lo_mu", "hi_mu"):
            src = key if key == "programmed_mu" else "delivered_" + key
            ck["u_" + key] = u[src]
    ck["journal_seq"] = journal_seq
    ck["gate_hour_steps"], ck["gate_day_steps"] = engine.gate.carry_over()
    ck["bolus_carry_pl"] = engine.bolus_carry_pl
    return ck
