"""The CGMS wire format's other half: what a sensor sends (the encoders), the requests
it answers (RACP), and the few fields the pump never reads (Session Run Time, SFLOAT
parts). Used by the CGM simulator board (tools/cgm_peripheral), the fake radio and the
tests; the pump decodes with basalt.core.cgms and basalt.core.cgms_link alone, so none of
this is in its heap. Facts and layouts: basalt.core.cgms.
"""

from basalt.core.cgms import (
    FEATURE_E2E_CRC,
    FLAG_CAL_TEMP,
    SPECIALS,
    CgmFormatError,
    _check_crc,
    _u16,
    crc16,
    div_round,
    record_size,
)
from basalt.core.cgms_link import (
    OP_ALL,
    OP_FIRST,
    OP_GREATER_EQUAL,
    OP_LAST,
    RACP_ABORT,
    RACP_DELETE,
    RACP_REPORT,
    RACP_REPORT_COUNT,
    _hex,
    _length,
    _u16_in,
)
from basalt.core.errors import InvalidValue

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):
        return value


# Private in basalt.core.cgms (a const there is no module attribute): the same wire
# values, which a test holds equal.
_FLAG_TREND = const(0x01)
_FLAG_QUALITY = const(0x02)
_FLAG_WARNING = const(0x20)
_FLAG_STATUS = const(0x80)
_OP_NULL = const(0)
_FILTER_TIME_OFFSET = const(1)
_RACP_COUNT_RESPONSE = const(5)
_RACP_RESPONSE = const(6)
_MANTISSA_MAX = const(2045)  # 2046/2047 and -2046..-2048 are special at exponent 0
_SPECIAL_RAW = {name: raw for raw, name in SPECIALS.items()}


def sfloat_from_milli(milli):
    """The shortest exact (or nearest) SFLOAT for a number given in thousandths."""
    if milli is None:
        return _SPECIAL_RAW["nan"]
    mantissa, exponent = milli, -3
    while mantissa and mantissa % 10 == 0 and exponent < 0:
        mantissa //= 10
        exponent += 1
    while mantissa > _MANTISSA_MAX or mantissa < -_MANTISSA_MAX:
        mantissa = div_round(mantissa, 10)
        exponent += 1
    if exponent > 7:
        raise InvalidValue("sfloat", milli, "magnitude below 2.045e10")
    return ((exponent & 0x0F) << 12) | (mantissa & 0x0FFF)


def sfloat_special(name):
    """The raw SFLOAT for "nan", "nres", "+inf" or "-inf"."""
    raw = _SPECIAL_RAW.get(name)
    if raw is None:
        raise InvalidValue("sfloat special", name, "nan, nres, +inf or -inf")
    return raw


def sfloat_parts(raw):
    """(mantissa, exponent) of a finite SFLOAT, for exact decimal display."""
    exponent = raw >> 12
    mantissa = raw & 0x0FFF
    return (mantissa - 0x1000 if mantissa >= 0x0800 else mantissa,
            exponent - 16 if exponent >= 8 else exponent)


def _with_crc(out):
    crc = crc16(out)
    out.append(crc & 0xFF)
    out.append(crc >> 8)
    return out


def encode_record(glucose_raw, time_offset, annunciation=None, trend_raw=None,
                  quality_raw=None, crc=False):
    """One CGM Measurement record (bytearray). Values are raw SFLOATs (see sfloat_*).

    annunciation None sends no octet; otherwise the octets whose bits are set (status,
    cal/temp, warning), so 0 sends none either.
    """
    _u16_in("glucose", glucose_raw)
    _u16_in("time_offset", time_offset)
    flags = 0
    octets = []
    if annunciation:
        if not 0 <= annunciation <= 0xFFFFFF:
            raise InvalidValue("annunciation", annunciation, "0 to 0xFFFFFF")
        for bit, shift in ((_FLAG_STATUS, 0), (FLAG_CAL_TEMP, 8), (_FLAG_WARNING, 16)):
            octet = (annunciation >> shift) & 0xFF
            if octet:
                flags |= bit
                octets.append(octet)
    if trend_raw is not None:
        flags |= _FLAG_TREND
    if quality_raw is not None:
        flags |= _FLAG_QUALITY
    out = bytearray((record_size(flags, crc), flags, glucose_raw & 0xFF, glucose_raw >> 8,
                     time_offset & 0xFF, time_offset >> 8))
    out.extend(bytes(octets))
    for raw in (trend_raw, quality_raw):
        if raw is not None:
            _u16_in("sfloat", raw)
            out.append(raw & 0xFF)
            out.append(raw >> 8)
    return _with_crc(out) if crc else out


def encode_feature(flags, kind=9, location=5):
    out = bytearray((flags & 0xFF, (flags >> 8) & 0xFF, (flags >> 16) & 0xFF,
                     (location << 4) | kind))
    if flags & FEATURE_E2E_CRC:
        return _with_crc(out)
    out.extend(b"\xff\xff")
    return out


def encode_status(time_offset, status, crc=False):
    out = bytearray((time_offset & 0xFF, time_offset >> 8, status & 0xFF,
                     (status >> 8) & 0xFF, (status >> 16) & 0xFF))
    return _with_crc(out) if crc else out


def encode_session_start(start, crc=False):
    out = bytearray((start.year & 0xFF, start.year >> 8, start.month, start.day, start.hour,
                     start.minute, start.second, start.zone & 0xFF, start.dst))
    return _with_crc(out) if crc else out


def decode_session_run(data, crc=False):
    """Session Run Time: expected run time of the session in hours."""
    _length("session_run", data, (4,) if crc else (2,))
    if crc:
        _check_crc("session_run.crc", data, 0, 4)
    return _u16(data, 0)


def encode_session_run(hours, crc=False):
    out = bytearray((hours & 0xFF, hours >> 8))
    return _with_crc(out) if crc else out


def racp_report_last():
    """Report stored records, operator last record: 01 06."""
    return bytes((RACP_REPORT, OP_LAST))


def decode_racp_request(data):
    """A collector's request, for the sensor side: (op, operator, min_offset or None).

    min_offset is the operand of ">= time offset"; other requests carry none. Raises
    CgmFormatError with the response code to send in `.racp_code`.
    """
    if len(data) < 2:
        _racp_refuse("racp", _hex(data), "op code and operator", 3)
    op, operator = data[0], data[1]
    if op not in (RACP_REPORT, RACP_DELETE, RACP_ABORT, RACP_REPORT_COUNT):
        _racp_refuse("racp.op", op, "1 to 4", 2)
    if op == RACP_ABORT:
        if operator != _OP_NULL or len(data) != 2:
            _racp_refuse("racp.operator", operator, "0 (null) for abort", 3)
        return op, operator, None
    if operator in (OP_ALL, OP_FIRST, OP_LAST):
        if len(data) != 2:
            _racp_refuse("racp.operand", _hex(data[2:]), "none for this operator", 5)
        return op, operator, None
    if operator != OP_GREATER_EQUAL:
        _racp_refuse("racp.operator", operator, "1, 3, 5 or 6", 4)
    if len(data) != 5 or data[2] != _FILTER_TIME_OFFSET:
        _racp_refuse("racp.operand", _hex(data[2:]), "filter type 01 and a u16 time offset",
                     9 if len(data) == 5 else 5)
    return op, operator, _u16(data, 3)


def _racp_refuse(field, value, allowed, code):
    error = CgmFormatError(field, value, allowed)
    error.racp_code = code
    raise error


def racp_response(request_op, code):
    return bytes((_RACP_RESPONSE, _OP_NULL, request_op, code))


def racp_count(count):
    return bytes((_RACP_COUNT_RESPONSE, _OP_NULL, count & 0xFF, count >> 8))
