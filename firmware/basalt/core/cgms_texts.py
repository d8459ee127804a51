"""The CGMS decoder's error texts (basalt.core.cgms raises them by number): loaded to
build one CgmFormatError and forgotten, so a running pump holds none of them."""

from basalt.core.cgms import CgmFormatError

# (field, allowed, problem or None), by the numbers in basalt.core.cgms. Each text is
# %-formatted with the next of the values the raise gave; a field of None is the first.
TEXTS = (
    (None, "0x%04X (CRC-16/MCRF4XX of the record)", "E2E-CRC mismatch: 0x%04X received"),
    (None, "a number, NaN, NRes, +INF or -INF", "reserved SFLOAT value 0x0801"),
    ("measurement", "1 or more records of 6 to 15 octets", "empty"),
    ("measurement[%d].flags", "Size and Flags", "truncated record"),
    ("measurement[%d].flags", "bits 0, 1, 5, 6, 7 (2-4 are reserved)", None),
    ("measurement[%d].size", "%d octets for flags 0x%02X%s", None),
    ("measurement[%d].size", "at most the %d octets left", "truncated record"),
    ("feature.crc", "0xFFFF when E2E-CRC is not supported", None),
    ("session_start.year", "1582 to 9999, or 0 (unknown)", None),
    ("session_start.%s", "%d to %d", None),
    ("session_start.time_zone", "-48 to 56 (15-minute steps) or -128 (unknown)", None),
    ("session_start.dst_offset", "0, 2, 4, 8 or 255 (unknown)", None),
    (None, "%s", None),
    ("racp", "a response code (06 00 ..) or a record count (05 00 ..)", None),
    ("racp.operator", "0 (null) in a response", None),
    ("racp.request_op", "1 to 4 (a request op code)", None),
    ("racp.response_code", "1 to %d", None),
)


def error(code, value, values):
    field, allowed, problem = TEXTS[code]
    at = 0
    if field is None:
        field, at = values[0], 1
    texts = [field, allowed, problem]
    for i in range(3):
        if texts[i] is not None:
            n = texts[i].count("%") - 2 * texts[i].count("%%")
            texts[i] = texts[i] % values[at:at + n]
            at += n
    return CgmFormatError(texts[0], value, texts[1], texts[2])
