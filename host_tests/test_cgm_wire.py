"""CGMS wire format: decoder tables, encoder round trips, fuzzing, and the host CLI."""

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basalt.core import cgms, cgms_link, cgms_sensor
from basalt.core.cgms import CgmFormatError
from tools.cgms.__main__ import main as cli_main

EXAMPLE = bytes.fromhex("080078000500 0de8".replace(" ", ""))  # docs/references.md


def test_crc_check_value_and_example_record():
    assert cgms.crc16(b"123456789") == 0x6F91
    (record,) = cgms.decode_measurements(EXAMPLE, crc=True)
    assert (record.glucose_milli, record.time_offset, record.glucose_special) == (120_000, 5, None)


def test_the_sensor_side_uses_the_decoders_wire_values():
    # cgms_sensor repeats the consts that are private to cgms and cgms_link (a const is
    # no attribute).
    for name in ("_FLAG_TREND", "_FLAG_QUALITY", "_FLAG_WARNING", "_FLAG_STATUS"):
        assert getattr(cgms_sensor, name) == getattr(cgms, name), name
    for name in ("_OP_NULL", "_FILTER_TIME_OFFSET", "_RACP_COUNT_RESPONSE", "_RACP_RESPONSE"):
        assert getattr(cgms_sensor, name) == getattr(cgms_link, name), name


@pytest.mark.parametrize("raw, milli, special", [
    (0x0078, 120_000, None), (0xF4B0, 120_000, None), (0xFFFF, -100, None),
    (0x07FF, None, "nan"), (0x0800, None, "nres"), (0x07FE, None, "+inf"),
    (0x0802, None, "-inf"), (0xE4D2, 12_340, None), (0xC001, 0, None),  # 1e-4 rounds to 0
    (0xC005, 1, None),  # 5e-4 rounds half away from zero
    (0x17FD, 20_450_000, None),  # exponent 1, mantissa 2045
])
def test_sfloat_values(raw, milli, special):
    assert cgms.sfloat_milli("g", raw) == (milli, special)


def test_sfloat_reserved_is_an_error():
    with pytest.raises(CgmFormatError, match="reserved SFLOAT value 0x0801"):
        cgms.sfloat_milli("measurement[0].glucose", 0x0801)


@pytest.mark.parametrize("hex_text, crc, match", [
    ("", False, "measurement: empty"),
    ("06", False, r"measurement\[0\].flags: truncated"),
    ("050078000500", False, r"measurement\[0\].size: 5 is not allowed; allowed: 6 octets"),
    ("070078000500ff", False, r"size: 7 is not allowed; allowed: 6 octets"),
    ("080178000500", False, "truncated record"),  # trend claimed, not there
    ("07e0780005000102", False, "allowed: 9 octets for flags 0xE0"),
    ("060878000500", False, "reserved"),
    ("0800780005000de9", True, "E2E-CRC mismatch: 0xE90D received"),
    ("060078000500", True, "8 octets for flags 0x00 with E2E-CRC"),
    ("060001080500", False, "reserved SFLOAT"),
    ("06017800050001", False, r"measurement\[0\].size: 6 is not allowed"),
    ("06007800050006", False, r"measurement\[1\].flags: truncated"),
    ("0600780005000600", False, r"measurement\[1\]"),
])
def test_malformed_notifications_are_refused(hex_text, crc, match):
    with pytest.raises(CgmFormatError, match=match):
        cgms.decode_measurements(bytes.fromhex(hex_text), crc=crc)


def test_several_records_and_every_optional_field():
    data = (cgms_sensor.encode_record(0x0078, 5, annunciation=0x080402, trend_raw=0xF00F,
                               quality_raw=0x005F, crc=True)
            + cgms_sensor.encode_record(0x07FF, 6, crc=True)
            + cgms_sensor.encode_record(0x0079, 7, annunciation=0x000100, crc=True))
    first, second, third = cgms.decode_measurements(bytes(data), crc=True)
    assert first.flags == 0xE3
    assert (first.annunciation, first.trend_milli, first.quality_milli) == (0x080402, 1_500,
                                                                            95_000)
    assert (second.glucose_milli, second.glucose_special, second.annunciation) == (None, "nan",
                                                                                   None)
    assert third.flags == cgms.FLAG_CAL_TEMP and third.annunciation == 0x000100


def test_annunciation_octets_come_in_status_caltemp_warning_order():
    # flags 0xE0: status 0x01, cal/temp 0x02, warning 0x04 on the wire in that order
    (record,) = cgms.decode_measurements(bytes.fromhex("09e0780005000102 04".replace(" ", "")))
    assert record.annunciation == 0x01 | 0x02 << 8 | 0x04 << 16
    (record,) = cgms.decode_measurements(bytes.fromhex("072078000500 09".replace(" ", "")))
    assert record.annunciation == 0x09 << 16  # warning only


@given(st.binary(max_size=64), st.booleans())
def test_fuzz_decoder_returns_records_or_the_typed_error(data, crc):
    try:
        records = cgms.decode_measurements(data, crc)
    except CgmFormatError:
        return
    assert records and sum(cgms.record_size(r.flags, crc) for r in records) == len(data)
    for r in records:
        assert (r.glucose_milli is None) == (r.glucose_special is not None)


@given(st.lists(st.builds(
    lambda g, off, ann, trend, quality: (g, off, ann, trend, quality),
    st.integers(-2_045_000, 2_045_000), st.integers(0, 0xFFFF),
    st.none() | st.integers(0, 0xFFFFFF), st.none() | st.integers(-20_000, 20_000),
    st.none() | st.integers(0, 100_000)), min_size=1, max_size=4), st.booleans())
def test_encoder_and_decoder_agree(values, crc):
    data = bytearray()
    for g, off, ann, trend, quality in values:
        data += cgms_sensor.encode_record(
            cgms_sensor.sfloat_from_milli(g), off, ann,
            None if trend is None else cgms_sensor.sfloat_from_milli(trend),
            None if quality is None else cgms_sensor.sfloat_from_milli(quality), crc)
    records = cgms.decode_measurements(bytes(data), crc)
    assert len(records) == len(values)
    for record, (g, off, ann, trend, quality) in zip(records, values):
        assert record.time_offset == off
        assert record.annunciation == (ann or None)
        for got, want in ((record.glucose_milli, g), (record.trend_milli, trend),
                          (record.quality_milli, quality)):
            if want is None:
                assert got is None
            else:  # a 12-bit mantissa keeps at least 3 significant digits
                assert abs(got - want) <= abs(want) // 200


@given(st.binary(min_size=1, max_size=20))
def test_any_single_bit_flip_is_caught_by_the_crc(noise):
    data = bytearray(cgms_sensor.encode_record(0x0078, 300, 0x010000, 0xF00F, 0x005F, crc=True))
    bit = noise[0] % (len(data) * 8)
    data[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(CgmFormatError):
        cgms.decode_measurements(bytes(data), crc=True)


def test_feature_status_and_session_characteristics():
    feature = cgms_link.decode_feature(
        cgms_sensor.encode_feature(cgms.FEATURE_E2E_CRC | 0x8000, 9, 5))
    assert (feature.e2e_crc, feature.kind, feature.location) == (True, 9, 5)
    plain = cgms_link.decode_feature(bytes.fromhex("008000 59 ffff".replace(" ", "")))
    assert plain.e2e_crc is False and plain.flags == 0x8000
    with pytest.raises(CgmFormatError, match="0xFFFF when E2E-CRC is not supported"):
        cgms_link.decode_feature(bytes.fromhex("008000590000"))
    status = cgms_sensor.encode_status(77, 0x20_0008, crc=True)
    assert cgms_link.decode_status(status, crc=True) == (77, 0x20_0008)
    with pytest.raises(CgmFormatError, match="status: '5 octets'.*allowed: 7 octets"):
        cgms_link.decode_status(cgms_sensor.encode_status(77, 0), crc=True)
    start = cgms_link.SessionStart(2026, 11, 20, 23, 7, 36, -20, 4)
    again = cgms_link.decode_session_start(cgms_sensor.encode_session_start(start, True), True)
    assert again.key() == start.key()
    assert cgms_sensor.decode_session_run(cgms_sensor.encode_session_run(336)) == 336


def test_session_start_valid_example_decodes():
    start = cgms_link.decode_session_start(bytes.fromhex("e9070a1f0c1e000000"))
    assert (start.year, start.month, start.day, start.zone, start.dst) == (2025, 10, 31, 0, 0)


@pytest.mark.parametrize("hex_text, match", [
    ("e9070d1f0c1e000000", "month: 13"), ("e9070a200c1e000000", "day: 32"),
    ("e9070a1f0c3c000000", "minute: 60"), ("e9070a1f0c1e3c0000", "second: 60"),
    ("e9070a1f0c1e00c400", "time_zone: -60"), ("e9070a1f0c1e000001", "dst_offset: 1"),
    ("10000a1f0c1e000000", "year: 16"), ("e9070a1f0c1e0000", "8 octets"),
])
def test_session_start_refuses_bad_fields(hex_text, match):
    with pytest.raises(CgmFormatError, match=match):
        cgms_link.decode_session_start(bytes.fromhex(hex_text))


def test_racp_requests_and_responses():
    assert cgms_sensor.racp_report_last() == b"\x01\x06"  # docs/references.md
    assert cgms_link.racp_report_since(0x012C) == b"\x01\x03\x01\x2c\x01"
    ok = cgms_link.decode_racp_response(b"\x06\x00\x01\x01")
    assert (ok.request_op, ok.code, ok.describe()) == (1, 1, "success")
    assert cgms_link.decode_racp_response(b"\x06\x00\x01\x06").describe() == "no records found"
    assert cgms_link.decode_racp_response(b"\x05\x00\x2a\x00").count == 42
    for bad in (b"", b"\x06", b"\x06\x00\x01", b"\x06\x01\x01\x01", b"\x06\x00\x07\x01",
                b"\x06\x00\x01\x00", b"\x06\x00\x01\x0a", b"\x01\x06", b"\x06\x00\x01\x01\x00"):
        with pytest.raises(CgmFormatError):
            cgms_link.decode_racp_response(bad)
    assert cgms_sensor.decode_racp_request(cgms_link.racp_report_since(300)) == (1, 3, 300)
    with pytest.raises(CgmFormatError) as refused:
        cgms_sensor.decode_racp_request(b"\x01\x02\x01\x00\x00")
    assert refused.value.racp_code == 4  # operator not supported


# --- CLI -------------------------------------------------------------------------------


def run_cli(capsys, *argv):
    code = cli_main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_decodes_the_reference_example(capsys):
    code, out, err = run_cli(capsys, "decode", "--crc", "08 00 78 00 05 00 0d e8")
    assert (code, err) == (0, "")
    assert json.loads(out) == [{"glucose_mg_dl": 120, "time_offset_min": 5}]


def test_cli_prints_every_field_exactly(capsys):
    data = (cgms_sensor.encode_record(0xF4B5, 10, 0x010002, 0xF00F, 0xF3B6)
            + cgms_sensor.encode_record(cgms_sensor.sfloat_special("-inf"), 11))
    code, out, _ = run_cli(capsys, "decode", bytes(data).hex(":"))
    assert code == 0
    assert json.loads(out) == [
        {"glucose_mg_dl": 120.5, "time_offset_min": 10, "trend_mg_dl_min": 1.5,
         "quality_pct": 95.0, "annunciation": 0x010002},
        {"glucose_mg_dl": None, "glucose_special": "-inf", "time_offset_min": 11}]


@pytest.mark.parametrize("argv, reason", [
    (["decode", "0800780005000de9", "--crc"], "E2E-CRC mismatch"),
    (["decode", "zz"], "not hexadecimal"),
    (["decode", "080078000500"], "size: 8 is not allowed"),
    (["decode", "0600010805 00"], "reserved SFLOAT"),
])
def test_cli_malformed_input_exits_1_with_nothing_on_stdout(capsys, argv, reason):
    code, out, err = run_cli(capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and reason in err


def test_cli_runs_as_a_module():
    proc = subprocess.run([sys.executable, "-m", "tools.cgms", "decode", "0600ff070500"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{"glucose_mg_dl": None, "glucose_special": "nan",
                                        "time_offset_min": 5}]
