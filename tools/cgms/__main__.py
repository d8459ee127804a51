"""python -m tools.cgms decode [--crc] HEX

Decodes one CGM Measurement notification (as hex, e.g. copied from nRF Connect) and
prints a JSON array with one object per record:

  glucose_mg_dl     number, or null for a special value
  glucose_special   "nan", "nres", "+inf" or "-inf" (only when special)
  time_offset_min   minutes since the sensor session started
  trend_mg_dl_min   when the record has a trend (null if special)
  quality_pct       when the record has a quality (null if special)
  annunciation      when the record has annunciation octets: status | cal/temp << 8 |
                    warning << 16

--crc: the sensor's CGM Feature says E2E-CRC is supported (each record ends in one).
Malformed input: exit status 1, "error: <reason>" on stderr and nothing on stdout.
"""

import argparse
import json
import sys

import tools  # noqa: F401  (puts firmware/ on sys.path)
from basalt.core import cgms, cgms_sensor

_SEPARATORS = " :-_\t\n"


def parse_hex(text):
    """Hex digits with optional spaces, colons or dashes between bytes; 0x prefix allowed."""
    text = text.strip()
    if text[:2].lower() == "0x":
        text = text[2:]
    for sep in _SEPARATORS:
        text = text.replace(sep, "")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError("not hexadecimal bytes: %r" % text) from None


def sfloat_number(raw):
    """An SFLOAT as an exact JSON number (int when whole), or None when special."""
    if raw in cgms.SPECIALS:
        return None
    mantissa, exponent = cgms_sensor.sfloat_parts(raw)
    if exponent >= 0:
        return mantissa * 10 ** exponent
    return float("%de%d" % (mantissa, exponent))


def record_json(record):
    out = {"glucose_mg_dl": sfloat_number(record.glucose_raw),
           "time_offset_min": record.time_offset}
    if record.glucose_special is not None:
        out["glucose_special"] = record.glucose_special
    for key, raw in (("trend_mg_dl_min", record.trend_raw), ("quality_pct", record.quality_raw)):
        if raw is not None:
            out[key] = sfloat_number(raw)
    if record.annunciation is not None:
        out["annunciation"] = record.annunciation
    return out


def decode(hex_text, crc):
    records = cgms.decode_measurements(parse_hex(hex_text), crc=crc)
    return [record_json(r) for r in records]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.cgms",
                                     description="Bluetooth CGMS (0x181F) debugging tools")
    sub = parser.add_subparsers(dest="command", required=True)
    dec = sub.add_parser("decode", help="decode a CGM Measurement notification (hex)")
    dec.add_argument("--crc", action="store_true",
                     help="records end in an E2E-CRC (CGM Feature bit 12)")
    dec.add_argument("hex", nargs="+", help="notification bytes in hex (spaces allowed)")
    args = parser.parse_args(argv)
    try:
        result = decode(" ".join(args.hex), args.crc)
    except (ValueError, cgms.CgmFormatError) as error:
        print("error: %s" % error, file=sys.stderr)
        return 1
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
