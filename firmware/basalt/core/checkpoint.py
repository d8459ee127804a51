"""The delivery checkpoint: its record, its two slots, the newest valid one. Pure.

The checkpoint is one small record (100 bytes, SIZE) written to two alternating slots, each
with a write counter and a CRC: a torn write spoils only the slot being written, so the
other one, one write older, is still valid. The newest valid slot wins.

It is a lease as well as a snapshot: plunger_hi is the furthest the motor may push
before the next checkpoint is committed, and the app writes a new one before any move
that would pass it. So whatever happened after the last committed checkpoint, the plunger
is between plunger_lo and plunger_hi, and a running bolus delivered between bolus_lo and
bolus_hi microsteps. A command (bolus, temp basal, suspend, reservoir) is checkpointed
before it returns, so what the user saw accepted survives; a bolus the journal shows
started but no checkpoint held never moved the motor, and is closed at 0 U.

What a reboot makes of it is basalt.core.restore (boot only).
"""

import struct

from basalt.core.journal import crc

VERSION = 3
SLOTS = ("ck0.bin", "ck1.bin")

STATE_DELIVERING = 0
STATE_SUSPENDED = 1
STATE_NO_RESERVOIR = 2
STATE_EMPTY = 3
STATE_ALARM = 4  # stopped by an alarm (occlusion, force sensor fault)
STATES = ("delivering", "suspended", "no reservoir", "reservoir empty", "stopped by an alarm")

TEMP_NONE, TEMP_RATE, TEMP_PERCENT = 0, 1, 2
BOLUS_KINDS = (None, "normal", "extended", "dual")
GATE_STEPS_MAX = 0x3FFFFFFF  # what SafetyGate.restore() accepts (a full window, and more)

# The record's fields in order: their names, and their struct codes in one string (a
# tuple per field held about 1 KB of heap on MicroPython).
NAMES = (
    "version", "counter", "boot", "state", "reservoir_steps", "plunger_lo", "plunger_hi",
    "day_ms", "temp_type", "temp_value", "temp_left_ms", "temp_duration_ms",
    # Up to two running boluses (a normal or dual-wave one beside an extended one).
    "b0_id", "b0_kind", "b0_programmed_mu", "b0_lo", "b0_hi",
    "b1_id", "b1_kind", "b1_programmed_mu", "b1_lo", "b1_hi",
    # Insulin of interrupted boluses the user has not reconciled yet (u_count of them).
    "u_count", "u_boot", "u_programmed_mu", "u_lo_mu", "u_hi_mu", "journal_seq",
    # Version 2: the safety gate's window totals (SafetyGate.carry_over()), microsteps,
    # and when it was written (ms on its boot's clock, modulo 2**32, as journal records).
    "gate_hour_steps", "gate_day_steps", "at_ms",
    # Version 3: the boluses' carried remainder (pL, below one microstep).
    "bolus_carry_pl",
)
_CODES = ("BIHBIII" "IBHII"  # the same lines as NAMES
          "HBHII" "HBHII"
          "BHIIII"
          "III"
          "I")
BOLUS_SLOTS = ("b0_", "b1_")

# Every version this firmware reads: how many of the fields its record has.
_COUNTS = {1: 28, 2: 31, 3: 32}
_FORMAT = "<" + _CODES
SIZE = struct.calcsize(_FORMAT) + 4


def layout(version):
    """(field names, struct format, record size) of a version this firmware reads; an
    unknown version is judged by this version's layout."""
    count = _COUNTS.get(version, len(NAMES))
    fmt = "<" + _CODES[:count]
    return NAMES[:count], fmt, struct.calcsize(fmt) + 4


def empty(boot=0):
    """A checkpoint of a pump with nothing fitted and nothing running."""
    ck = {}
    for name in NAMES:
        ck[name] = 0
    ck["version"] = VERSION
    ck["boot"] = boot
    ck["state"] = STATE_NO_RESERVOIR
    return ck


def encode(ck):
    """SIZE bytes: the fields in NAMES order, then their CRC-32."""
    values = []
    for name in NAMES:
        values.append(ck[name])
    body = struct.pack(_FORMAT, *values)
    return body + struct.pack("<I", crc(body))


def decode(data):
    """(checkpoint dict, None) or (None, why it is not valid)."""
    if data is None:
        return None, "missing"
    version = data[0] if len(data) else None
    # The first byte is the version; an unknown one is judged by this version's layout.
    names, fmt, size = layout(version)
    if len(data) < size:
        return None, "torn (%d of %d bytes)" % (len(data), size)
    body = bytes(data[:size - 4])
    (check,) = struct.unpack_from("<I", data, size - 4)
    if check != crc(body):
        return None, "CRC mismatch"
    if version not in _COUNTS:
        if version > VERSION:
            return None, "written by a newer firmware (checkpoint version %d; this " \
                         "firmware reads %d)" % (version, VERSION)
        return None, "unknown checkpoint version %d" % version
    values = struct.unpack(fmt, body)
    ck = {}
    for i in range(len(names)):
        ck[names[i]] = values[i]
    return ck, None


def newest(slots):
    """From the two slots' bytes (None if the file is missing):
    (checkpoint or None, status) with status "ok", "none" (no file at all) or a
    reason why no slot could be trusted."""
    best = None
    reasons = []
    present = False
    for i in range(len(slots)):
        data = slots[i]
        present = present or data is not None
        ck, why = decode(data)
        if ck is None:
            reasons.append("%s %s" % (SLOTS[i], why))
        elif best is None or ck["counter"] > best["counter"]:
            best = ck
    if best is not None:
        return best, "ok"
    if not present:
        return None, "none"
    return None, "; ".join(reasons)


def slot_for(counter):
    return SLOTS[counter % 2]
