"""Bluetooth Continuous Glucose Monitoring Service (0x181F) wire format: what the pump
decodes from every notification (measurements). What it decodes only while linking
(Feature, Status, Session Start Time, RACP) is basalt.core.cgms_link; the sensor side
(encoders, RACP requests answered) is basalt.core.cgms_sensor.

Pure and shared: the pump's BLE client decodes with it, the CGM simulator board
(tools/cgm_peripheral) encodes with cgms_sensor, and the tests hold one against the other.
Facts (Bluetooth SIG CGMS 1.0.1 / GATT characteristic definitions; docs/references.md):

- CGM Measurement 0x2AA7: records back to back; each is Size (u8, whole record incl.
  CRC, 6..15), Flags (u8), Glucose (SFLOAT mg/dL), Time Offset (u16, minutes since the
  session start), then annunciation octets in the order Status, Cal/Temp, Warning (each
  only if flagged), Trend (SFLOAT mg/dL/min), Quality (SFLOAT %), E2E-CRC (u16, only if
  CGM Feature bit 12 says so). Flag bits 2-4 are reserved.
- CGM Feature 0x2AA8: 24-bit features, type (low nibble) / sample location (high nibble),
  E2E-CRC (0xFFFF when E2E-CRC is not supported).
- CGM Status 0x2AA9: Time Offset (u16), Status (24 bits), E2E-CRC if supported.
- Session Start Time 0x2AAA: Date Time (year u16, month, day, hours, minutes, seconds),
  Time Zone (s8, 15-minute steps, -48..56, -128 unknown), DST Offset (u8: 0, 2, 4, 8,
  255 unknown), E2E-CRC if supported. Session Run Time 0x2AAB: u16 hours, E2E-CRC if
  supported.
- Record Access Control Point 0x2A52: op codes 1 report stored records, 2 delete, 3 abort,
  4 report number, 5 number response, 6 response code; operators 0 null, 1 all, 2 <=,
  3 >=, 4 range, 5 first, 6 last; CGMS filter type 1 = time offset (u16); response codes
  1 success .. 9 operand not supported. The RACP carries no E2E-CRC.
- SFLOAT (IEEE 11073-20601): 4-bit signed exponent, 12-bit signed mantissa; at exponent 0
  the mantissas 0x7FF NaN, 0x800 NRes, 0x7FE +INF, 0x802 -INF are special and 0x801 is
  reserved.
- E2E-CRC is CRC-16/MCRF4XX (reflected poly 0x8408, init 0xFFFF, no final xor).

Numbers are integers: every SFLOAT quantity is kept in thousandths (glucose_milli is
mg/dL x 1000), exact for exponents >= -3 and rounded half away from zero below that.
Malformed input raises CgmFormatError and never yields a record.
"""

from basalt import call_and_forget
from basalt.core.errors import InvalidValue

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):
        return value


SERVICE_UUID = const(0x181F)
MEASUREMENT_UUID = const(0x2AA7)
FEATURE_UUID = const(0x2AA8)
STATUS_UUID = const(0x2AA9)
SESSION_START_UUID = const(0x2AAA)
SESSION_RUN_UUID = const(0x2AAB)
RACP_UUID = const(0x2A52)
_SOCP_UUID = const(0x2AAC)

_FLAG_TREND = const(0x01)
_FLAG_QUALITY = const(0x02)
_FLAG_WARNING = const(0x20)
FLAG_CAL_TEMP = const(0x40)
_FLAG_STATUS = const(0x80)
_FLAGS_RESERVED = const(0x1C)

FEATURE_E2E_CRC = const(1 << 12)
FEATURE_TREND = const(1 << 15)
_FEATURE_QUALITY = const(1 << 16)

# Annunciation bits (status | cal/temp << 8 | warning << 16), CGMS 3.1.2.
ANN_SESSION_STOPPED = const(1 << 0)
ANN_BATTERY_LOW = const(1 << 1)
ANN_SENSOR_TYPE_INCORRECT = const(1 << 2)
ANN_SENSOR_MALFUNCTION = const(1 << 3)
_ANN_DEVICE_SPECIFIC = const(1 << 4)
ANN_GENERAL_FAULT = const(1 << 5)
_ANN_TIME_SYNC_REQUIRED = const(1 << 8)
_ANN_CAL_NOT_ALLOWED = const(1 << 9)
ANN_CAL_RECOMMENDED = const(1 << 10)
ANN_CAL_REQUIRED = const(1 << 11)
ANN_TEMP_TOO_HIGH = const(1 << 12)
ANN_TEMP_TOO_LOW = const(1 << 13)
_ANN_CAL_PENDING = const(1 << 14)
ANN_BELOW_DEVICE_RANGE = const(1 << 22)
ANN_ABOVE_DEVICE_RANGE = const(1 << 23)

SPECIALS = {0x07FF: "nan", 0x0800: "nres", 0x07FE: "+inf", 0x0802: "-inf"}
_SFLOAT_RESERVED = const(0x0801)

_MIN_RECORD = const(6)
_MAX_RECORD = const(15)


class CgmFormatError(InvalidValue):
    """Bytes from (or for) a CGM that do not follow the CGMS format. Nothing was used."""


def _fail(code, value, *values):
    """Raise the CgmFormatError number `code` for value: its field, allowed and problem
    texts are basalt.core.cgms_texts, loaded only to build one (values fill them in)."""
    raise call_and_forget("basalt.core.cgms_texts", "error", code, value, values)


# The decoder's errors by number (basalt.core.cgms_texts.TEXTS' indexes).
_CRC_MISMATCH = const(0)
_RESERVED_SFLOAT = const(1)
_EMPTY = const(2)
_NO_FLAGS = const(3)
_RESERVED_FLAGS = const(4)
_WRONG_SIZE = const(5)
_TRUNCATED = const(6)


# --- CRC-16/MCRF4XX ------------------------------------------------------------------


# CRC-16/MCRF4XX (reflected 0x8408) four bits at a time: 16 entries, not a 256-entry
# table built at import (a record is checked once a minute at most).
_CRC_NIBBLE = (0x0000, 0x1081, 0x2102, 0x3183, 0x4204, 0x5285, 0x6306, 0x7387,
               0x8408, 0x9489, 0xA50A, 0xB58B, 0xC60C, 0xD68D, 0xE70E, 0xF78F)


def crc16(data, start=0, end=None):
    """CRC-16/MCRF4XX of data[start:end]; crc16(b"123456789") == 0x6F91."""
    if end is None:
        end = len(data)
    crc = 0xFFFF
    table = _CRC_NIBBLE
    for i in range(start, end):
        byte = data[i]
        crc = (crc >> 4) ^ table[(crc ^ byte) & 0xF]
        crc = (crc >> 4) ^ table[(crc ^ (byte >> 4)) & 0xF]
    return crc


def _u16(data, i):
    return data[i] | (data[i + 1] << 8)


def _check_crc(field, data, start, end):
    """The u16 at data[end-2:end] must be the CRC of data[start:end-2]."""
    sent = _u16(data, end - 2)
    want = crc16(data, start, end - 2)
    if sent != want:
        _fail(_CRC_MISMATCH, "0x%04X" % sent, field, want, sent)


# --- SFLOAT ----------------------------------------------------------------------------


def sfloat_milli(field, raw):
    """Decode a 16-bit SFLOAT: (thousandths as int, None) or (None, special name)."""
    special = SPECIALS.get(raw)
    if special is not None:
        return None, special
    if raw == _SFLOAT_RESERVED:
        _fail(_RESERVED_SFLOAT, "0x%04X" % raw, field)
    return _sfloat_number(raw), None


def _sfloat_number(raw):
    exponent = raw >> 12
    if exponent >= 8:
        exponent -= 16
    mantissa = raw & 0x0FFF
    if mantissa >= 0x0800:
        mantissa -= 0x1000
    exponent += 3  # thousandths
    if exponent >= 0:
        return mantissa * 10 ** exponent
    return div_round(mantissa, 10 ** -exponent)


def div_round(n, d):
    """n / d rounded half away from zero (d > 0): identical on every interpreter."""
    if n >= 0:
        return (2 * n + d) // (2 * d)
    return -((-2 * n + d) // (2 * d))


# --- CGM Measurement ---------------------------------------------------------------------


class Record:
    """One decoded CGM Measurement record.

    glucose_milli is mg/dL x 1000, or None with glucose_special naming why ("nan",
    "nres", "+inf", "-inf"). annunciation is status | cal/temp << 8 | warning << 16, or
    None when the record carries no annunciation octet. trend_milli (mg/dL/min x 1000)
    and quality_milli (% x 1000) are None when absent or special.
    """

    def __init__(self, flags, glucose_raw, glucose_milli, glucose_special, time_offset,
                 annunciation, trend_raw, trend_milli, quality_raw, quality_milli):
        self.flags = flags
        self.glucose_raw = glucose_raw
        self.glucose_milli = glucose_milli
        self.glucose_special = glucose_special
        self.time_offset = time_offset
        self.annunciation = annunciation
        self.trend_raw = trend_raw
        self.trend_milli = trend_milli
        self.quality_raw = quality_raw
        self.quality_milli = quality_milli


def record_size(flags, crc):
    """Size in octets a record with these flags must have."""
    size = _MIN_RECORD
    for bit in (_FLAG_STATUS, FLAG_CAL_TEMP, _FLAG_WARNING):
        if flags & bit:
            size += 1
    if flags & _FLAG_TREND:
        size += 2
    if flags & _FLAG_QUALITY:
        size += 2
    return size + 2 if crc else size


def decode_measurements(data, crc=False):
    """Every record of one CGM Measurement notification, as a list of Record.

    crc: the sensor's CGM Feature says E2E-CRC is supported (every record ends in one).
    Raises CgmFormatError for an empty value, a Size below 6, above 15, beyond the bytes
    left or not matching what the Flags claim, reserved flag bits, a reserved SFLOAT, or
    a CRC mismatch; then no record of the notification is returned.
    """
    if not data:
        _fail(_EMPTY, "0 octets")
    records = []
    at = 0
    end = len(data)
    while at < end:
        records.append(_decode_record(data, at, end, len(records), crc))
        at += data[at]
    return records


def _decode_record(data, at, end, index, crc):
    left = end - at
    size = data[at]
    if left < 2:
        _fail(_NO_FLAGS, "%d octet left" % left, index)
    flags = data[at + 1]
    if flags & _FLAGS_RESERVED:
        _fail(_RESERVED_FLAGS, "0x%02X" % flags, index)
    want = record_size(flags, crc)
    if size != want:
        _fail(_WRONG_SIZE, size, index, want, flags, " with E2E-CRC" if crc else "")
    if size > left:
        _fail(_TRUNCATED, size, index, left)
    if crc and _u16(data, at + size - 2) != crc16(data, at, at + size - 2):
        _check_crc(_field(index, "crc"), data, at, at + size)
    glucose_raw = _u16(data, at + 2)
    special = SPECIALS.get(glucose_raw)
    glucose = None if special else _finite(index, "glucose", glucose_raw)
    offset = _u16(data, at + 4)
    i = at + 6
    annunciation = None
    if flags & (_FLAG_STATUS | FLAG_CAL_TEMP | _FLAG_WARNING):
        annunciation = 0
        if flags & _FLAG_STATUS:
            annunciation = data[i]
            i += 1
        if flags & FLAG_CAL_TEMP:
            annunciation |= data[i] << 8
            i += 1
        if flags & _FLAG_WARNING:
            annunciation |= data[i] << 16
            i += 1
    trend_raw = trend = quality_raw = quality = None
    if flags & _FLAG_TREND:
        trend_raw = _u16(data, i)
        trend = _finite(index, "trend", trend_raw)
        i += 2
    if flags & _FLAG_QUALITY:
        quality_raw = _u16(data, i)
        quality = _finite(index, "quality", quality_raw)
    return Record(flags, glucose_raw, glucose, special, offset, annunciation,
                  trend_raw, trend, quality_raw, quality)


def _finite(index, name, raw):
    """The value of an SFLOAT in thousandths; None for a special value."""
    if raw in SPECIALS:
        return None
    if raw == _SFLOAT_RESERVED:
        sfloat_milli(_field(index, name), raw)  # raises, naming the field
    return _sfloat_number(raw)


def _field(index, name):
    return "measurement[%d].%s" % (index, name)
