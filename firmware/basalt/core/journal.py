"""The history journal's bytes: records, segment headers, CRC. Pure. Reading them
back is basalt.core.journal_read (boot recovery and host tools).

A journal is a numbered series of segment files. Each starts with a 16-byte header
    magic "BSJL", format version (B), 0 (B), segment number (I), boot (H), CRC-32 (I)
then holds records back to back, little-endian:
    0   B  sync byte 0xB5
    1   B  kind code (KINDS; 255 = the kind is spelled out at the start of the payload)
    2   H  payload length
    4   I  sequence number (one series across boots and segments)
    8   H  boot number
    10  I  at_ms: the app's monotonic ms since that boot, modulo 2**32
    14  .. payload: the event's detail as tagged values (see _put_value)
    ..  I  CRC-32 of everything before it
A record is committed once its last byte is written. Reading never raises on damage: a
record whose CRC fails is skipped, the reader looks for the next sync byte whose record
checks out, and the skipped bytes are reported as damaged spans.

KINDS and KEYS are append-only tables: a code, once given, keeps its meaning forever.
"""

import struct

try:
    from binascii import crc32
except ImportError:  # a port built without binascii.crc32
    crc32 = None

FORMAT_VERSION = 1
MAGIC = b"BSJL"
SYNC = 0xB5
_SYNC_BYTE = b"\xb5"
_HEADER = "<4sBBIHI"
_RECORD = "<BBHIHI"
HEADER_SIZE = 16
RECORD_OVERHEAD = 18  # 14-byte record header + 4-byte CRC
MAX_PAYLOAD = 1024
LITERAL = 255

# Code n is the n-th space-separated word (from 1; 0 is unused). One string per table
# instead of a tuple of names: a tuple held a str object for each long name.
KINDS = (
    " boot basal_rate basal_summary bolus_started bolus_part_done bolus_done "
    "bolus_cancelled bolus_interrupted bolus_reconciled temp_basal_started "
    "temp_basal_done temp_basal_cancelled temp_basal_resumed temp_basal_ended stopped "
    "resumed prime_started prime_done prime_stopped reservoir_fitted profile_activated "
    "alarm alarm_raised alarm_acknowledged alarm_cleared glucose settings_changed "
    "settings_rejected boot_acknowledged journal_damaged journal_foreign "
    "checkpoint_lost storage_fault refused alarm_stop cgm_link cgm_session "
    "cgm_restored cgm_malformed cgm_backfill unrecordable bolus_assumed "
    "checkpoint_stale occlusion_learned "
)
KEYS = (
    " id kind programmed_mu now_mu extended_mu duration_min delivered_steps "
    "delivered_mu ended rate_mu_h percent replaced ran_min reason name fill_mu "
    "rewind_steps code detail mg_dl trend minutes steps delivered_lo_mu "
    "delivered_hi_mu left_min boot cause fw epoch_s keys crc bytes file message "
    "version damaged_bytes records day_ms bolus_boot state from_ms source count "
    "force_mn baseline_mn rise_mn slope_umn_per_step compressed_steps fluid_steps "
    "takeup_steps backoff_steps not_delivered_mu since result event "
    # issue 19: every dose with its reason
    "carbs_g meal_mu correction_mu iob_mu glucose_source carb_ratio_mg_per_u "
    "sensitivity_mg_dl_per_u target_low_mg_dl target_high_mg_dl suggested_mu after "
    "alarm limit prediction grams "
    # issue 22: what the occlusion detector learned
    "threshold_mn noise_mn band_mn drift_mn_h flow_umn_per_step flow_ms flow_learned "
)


def _code(table, name):
    """name's code in KINDS or KEYS, else LITERAL (a search: no dicts built at import,
    and a record is written a few times a minute at most; no string is built for it)."""
    if name is None or " " in name:
        return LITERAL
    at = table.find(name)
    while at > 0:
        if table.startswith(" ", at - 1) and table.startswith(" ", at + len(name)):
            return table.count(" ", 0, at)
        at = table.find(name, at + 1)
    return LITERAL


T_NONE, T_FALSE, T_TRUE, T_INT, T_STR, T_LIST, T_DICT = 0, 1, 2, 3, 4, 5, 6


class JournalError(Exception):
    """A journal that cannot be read at all (say, from a newer firmware)."""


class Record:
    """One committed history record."""

    def __init__(self, seq, boot, at_ms, kind, detail):
        self.seq = seq
        self.boot = boot
        self.at_ms = at_ms
        self.kind = kind
        self.detail = detail

    def as_event(self):
        detail = dict(self.detail)
        detail["at_ms"] = self.at_ms
        return self.kind, detail


# ----- CRC ----------------------------------------------------------------------

_TABLE = None


def crc32_soft(data, crc=0):
    """CRC-32 (IEEE, as binascii.crc32) for ports without binascii.crc32."""
    global _TABLE
    if _TABLE is None:
        _TABLE = []
        for n in range(256):
            c = n
            for _ in range(8):
                c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
            _TABLE.append(c)
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def crc(data):
    if crc32 is None:
        return crc32_soft(data)
    return crc32(data) & 0xFFFFFFFF


# ----- encoding -------------------------------------------------------------------

def encode_record(seq, boot, at_ms, kind, detail):
    """The bytes of one record. detail: a dict of ints, strings, bools, None, lists, dicts
    (its at_ms, if any, goes in the header)."""
    out = bytearray(14)  # the header, packed in place once the payload's length is known
    code = _code(KINDS, kind)
    if code == LITERAL:
        _put_text(out, kind)
    _put_items(out, detail, "at_ms")
    size = len(out) - 14
    if size > MAX_PAYLOAD:
        raise ValueError("journal record %s: %d payload bytes; the most is %d" % (
            kind, size, MAX_PAYLOAD))
    struct.pack_into(_RECORD, out, 0, SYNC, code, size, seq & 0xFFFFFFFF, boot & 0xFFFF,
                     at_ms & 0xFFFFFFFF)
    out.extend(b"\0\0\0\0")
    struct.pack_into("<I", out, len(out) - 4, crc(memoryview(out)[:-4]))
    return bytes(out)


def encode_header(segment, boot, version=FORMAT_VERSION):
    head = struct.pack("<4sBBIH", MAGIC, version, 0, segment, boot & 0xFFFF)
    return head + struct.pack("<I", crc(head))


def _put_varint(out, n):
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _put_text(out, text):
    data = text.encode()
    _put_varint(out, len(data))
    out.extend(data)


def _put_items(out, detail, skip=None):
    keys = list(detail)  # one list, sized once, sorted in place
    if skip in detail:
        keys.remove(skip)
    keys.sort()
    _put_varint(out, len(keys))
    for key in keys:
        code = _code(KEYS, key)
        out.append(code)
        if code == LITERAL:
            _put_text(out, key)
        _put_value(out, detail[key])


def _put_value(out, value):
    if value is None:
        out.append(T_NONE)
    elif value is True or value is False:
        out.append(T_TRUE if value else T_FALSE)
    elif isinstance(value, int):
        out.append(T_INT)
        _put_varint(out, value * 2 if value >= 0 else -value * 2 - 1)  # zigzag
    elif isinstance(value, str):
        out.append(T_STR)
        _put_text(out, value)
    elif isinstance(value, (list, tuple)):
        out.append(T_LIST)
        _put_varint(out, len(value))
        for item in value:
            _put_value(out, item)
    elif isinstance(value, dict):
        out.append(T_DICT)
        _put_items(out, value)
    else:
        raise ValueError("journal value %r: only ints, text, bools, None, lists and "
                         "tables are recorded" % (value,))


SEGMENT_PREFIX = "j"
SEGMENT_SUFFIX = ".jnl"


def segment_name(number):
    return "%s%06d%s" % (SEGMENT_PREFIX, number, SEGMENT_SUFFIX)


def segment_number(name):
    """The number in a segment file name, or None for any other file."""
    if not (name.startswith(SEGMENT_PREFIX) and name.endswith(SEGMENT_SUFFIX)):
        return None
    digits = name[len(SEGMENT_PREFIX):-len(SEGMENT_SUFFIX)]
    if len(digits) != 6:
        return None
    for ch in digits:
        if not "0" <= ch <= "9":
            return None
    return int(digits)
