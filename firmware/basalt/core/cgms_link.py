"""The CGMS decoders the pump needs only while linking a sensor (basalt.ble.cgm_connect)
and back-filling a gap (basalt.ble.cgm_client's RACP exchange): CGM Feature, Status,
Session Start Time and the Record Access Control Point. Imported for that and forgotten,
so a running pump holds only basalt.core.cgms (measurements). Facts and layouts: there.
"""

from basalt.core.cgms import FEATURE_E2E_CRC, _check_crc, _fail, _u16
from basalt.core.errors import InvalidValue

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):
        return value


RACP_REPORT = const(1)
RACP_DELETE = const(2)
RACP_ABORT = const(3)
RACP_REPORT_COUNT = const(4)
OP_ALL = const(1)
_OP_LESS_EQUAL = const(2)
OP_GREATER_EQUAL = const(3)
_OP_RANGE = const(4)
OP_FIRST = const(5)
OP_LAST = const(6)
RACP_SUCCESS = const(1)
RACP_NO_RECORDS = const(6)

# This module's errors by number (basalt.core.cgms_texts.TEXTS' indexes).
_FEATURE_NO_CRC = const(7)
_BAD_YEAR = const(8)
_OUT_OF_RANGE = const(9)
_BAD_ZONE = const(10)
_BAD_DST = const(11)
_BAD_LENGTH = const(12)
_NOT_A_RESPONSE = const(13)
_BAD_OPERATOR = const(14)
_BAD_REQUEST_OP = const(15)
_BAD_RESPONSE_CODE = const(16)

_OP_NULL = const(0)
_FILTER_TIME_OFFSET = const(1)
_RACP_COUNT_RESPONSE = const(5)
_RACP_RESPONSE = const(6)

# Response code n's text is the n-th of these (1 = success): one string, not ten.
RACP_CODES = ("|success|op code not supported|invalid operator|operator not supported"
              "|invalid operand|no records found|abort unsuccessful|procedure not completed"
              "|operand not supported")
_RACP_CODE_MAX = const(9)

# --- Feature, Status, Session Start Time -----------------------------------------------


class Feature:
    """CGM Feature: flags (24 bits), e2e_crc, trend/quality support, type, location."""

    def __init__(self, flags, kind, location):
        self.flags = flags
        self.kind = kind  # 9 = interstitial fluid
        self.location = location  # 5 = subcutaneous tissue
        self.e2e_crc = bool(flags & FEATURE_E2E_CRC)


def decode_feature(data):
    _length("feature", data, (6,))
    flags = data[0] | (data[1] << 8) | (data[2] << 16)
    if flags & FEATURE_E2E_CRC:
        _check_crc("feature.crc", data, 0, 6)
    elif _u16(data, 4) != 0xFFFF:
        _fail(_FEATURE_NO_CRC, "0x%04X" % _u16(data, 4))
    return Feature(flags, data[3] & 0x0F, data[3] >> 4)


def decode_status(data, crc=False):
    """CGM Status: (time_offset minutes, 24-bit status)."""
    _length("status", data, (7,) if crc else (5,))
    if crc:
        _check_crc("status.crc", data, 0, 7)
    return _u16(data, 0), data[2] | (data[3] << 8) | (data[4] << 16)


class SessionStart:
    """Session Start Time: date and time (year 0 = unknown), zone (15 min), DST code."""

    def __init__(self, year, month, day, hour, minute, second, zone, dst):
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.zone = zone
        self.dst = dst

    def key(self):
        """A tuple that changes when the sensor starts a new session."""
        return (self.year, self.month, self.day, self.hour, self.minute, self.second,
                self.zone, self.dst)


_SST_RANGES = (("month", 0, 12), ("day", 0, 31), ("hour", 0, 23), ("minute", 0, 59),
               ("second", 0, 59))


def decode_session_start(data, crc=False):
    _length("session_start", data, (11,) if crc else (9,))
    if crc:
        _check_crc("session_start.crc", data, 0, 11)
    year = _u16(data, 0)
    if year and not 1582 <= year <= 9999:
        _fail(_BAD_YEAR, year)
    values = [year]
    for i, (name, lo, hi) in enumerate(_SST_RANGES):
        value = data[2 + i]
        if not lo <= value <= hi:
            _fail(_OUT_OF_RANGE, value, name, lo, hi)
        values.append(value)
    zone = data[7] - 256 if data[7] >= 128 else data[7]
    if zone != -128 and not -48 <= zone <= 56:
        _fail(_BAD_ZONE, zone)
    dst = data[8]
    if dst not in (0, 2, 4, 8, 255):
        _fail(_BAD_DST, dst)
    return SessionStart(values[0], values[1], values[2], values[3], values[4], values[5],
                        zone, dst)


def _length(field, data, allowed):
    if len(data) not in allowed:
        _fail(_BAD_LENGTH, "%d octets" % len(data), field,
              " or ".join("%d octets" % n for n in allowed))


# --- Record Access Control Point --------------------------------------------------------


def racp_report_since(time_offset):
    """Report stored records with time offset >= time_offset: 01 03 01 lo hi."""
    _u16_in("time_offset", time_offset)
    return bytes((RACP_REPORT, OP_GREATER_EQUAL, _FILTER_TIME_OFFSET, time_offset & 0xFF,
                  time_offset >> 8))


def racp_abort():
    return bytes((RACP_ABORT, _OP_NULL))


class RacpResponse:
    """A decoded RACP indication: a response code to request_op, or a record count."""

    def __init__(self, request_op, code, count):
        self.request_op = request_op  # None for a count response
        self.code = code  # None for a count response
        self.count = count  # None for a response code

    def describe(self):
        if self.code is None:
            return "%d records" % self.count
        return RACP_CODES.split("|")[self.code]


def decode_racp_response(data):
    if len(data) < 2 or data[0] not in (_RACP_RESPONSE, _RACP_COUNT_RESPONSE):
        _fail(_NOT_A_RESPONSE, _hex(data))
    if data[1] != _OP_NULL:
        _fail(_BAD_OPERATOR, data[1])
    _length("racp", data, (4,))
    if data[0] == _RACP_COUNT_RESPONSE:
        return RacpResponse(None, None, _u16(data, 2))
    request_op, code = data[2], data[3]
    if not RACP_REPORT <= request_op <= RACP_REPORT_COUNT:
        _fail(_BAD_REQUEST_OP, request_op)
    if not 1 <= code <= _RACP_CODE_MAX:
        _fail(_BAD_RESPONSE_CODE, code, _RACP_CODE_MAX)
    return RacpResponse(request_op, code, None)


def _hex(data):
    return " ".join("%02x" % b for b in data) or "(empty)"


def _u16_in(field, value):
    if not isinstance(value, int) or not 0 <= value <= 0xFFFF:
        raise InvalidValue(field, value, "0 to 65535")
