"""The CGM simulator board's logic, held against the pump's decoder and reading store."""

import pytest

from basalt.core import cgms, cgms_link, cgms_sensor
from basalt.core.readings import ReadingStore
from tools.cgm_peripheral.cgm_sensor import SensorModel, load_config

MIN = 60_000


def model(**overrides):
    return SensorModel(load_config(overrides))


@pytest.mark.parametrize("crc", [True, False])
def test_characteristics_decode_with_the_pumps_decoder(crc):
    sim = model(crc=crc)
    feature = cgms_link.decode_feature(sim.feature())
    assert feature.e2e_crc is crc and (feature.kind, feature.location) == (9, 5)
    sim.next_record()
    sim.next_record()
    assert cgms_link.decode_status(sim.status(), crc) == (1, 0)
    assert cgms_link.decode_session_start(sim.session_start(), crc).key()[:3] == (2026, 1, 1)
    assert cgms_sensor.decode_session_run(sim.session_run(), crc) == 336


def test_a_trace_plays_back_with_nan_and_trend():
    sim = model(trace=[100, 105, None, 110], offset_step_min=5)
    records = [cgms.decode_measurements(sim.next_record(), True)[0] for _ in range(5)]
    assert [r.time_offset for r in records] == [0, 5, 10, 15, 20]
    assert [r.glucose_milli for r in records] == [100_000, 105_000, None, 110_000, 100_000]
    assert records[2].glucose_special == "nan"
    assert [r.trend_milli for r in records] == [None, 1_000, None, None, -2_000]


def test_the_model_is_plausible_for_the_pump_for_a_day():
    sim = model()
    store = ReadingStore(0)
    refused = 0
    for minute in range(24 * 60):
        store.add(minute * MIN, cgms.decode_measurements(sim.next_record(), True)[0])
        refused += store.latest_for_dosing(minute * MIN)[0] is None
    assert refused <= 3  # only until the trend and history exist
    assert 70_000 <= store.latest_reading(24 * 60 * MIN).glucose_milli <= 170_000


def test_racp_answers_from_the_log():
    sim = model(offset_step_min=5, log_records=10)
    for _ in range(20):
        sim.next_record()
    answers = sim.racp(cgms_link.racp_report_since(80))
    notified = [cgms.decode_measurements(d, True)[0].time_offset
                for kind, d in answers if kind == "notify"]
    assert notified == [80, 85, 90, 95]
    kind, last = answers[-1]
    assert kind == "indicate" and cgms_link.decode_racp_response(last).describe() == "success"
    last_record = sim.racp(cgms_sensor.racp_report_last())
    assert cgms.decode_measurements(last_record[0][1], True)[0].time_offset == 95
    oldest = sim.racp(b"\x01\x05")[0][1]  # first record still kept
    assert cgms.decode_measurements(oldest, True)[0].time_offset == 50
    none = sim.racp(cgms_link.racp_report_since(500))
    assert cgms_link.decode_racp_response(none[-1][1]).describe() == "no records found"
    assert cgms_link.decode_racp_response(sim.racp(b"\x04\x01")[0][1]).count == 10


@pytest.mark.parametrize("request_, code", [
    (b"\x01\x02\x01\x00\x00", 4), (b"\x09\x01", 2), (b"\x01\x03\x02\x00\x00", 9),
    (b"\x02\x01", 2), (b"\x01", 3),
])
def test_racp_refusals_carry_the_right_response_code(request_, code):
    (kind, data), = model().racp(request_)
    assert kind == "indicate" and data == bytes((6, 0, request_[0], code))


@pytest.mark.parametrize("overrides, match", [
    ({"interval": 60}, "unknown key 'interval'"), ({"interval_s": 0}, "interval_s"),
    ({"offset_step_min": 3}, "offset_step_min: 3; allowed: 1 or 5"),
])
def test_bad_config_is_refused(overrides, match):
    with pytest.raises(ValueError, match=match):
        load_config(overrides)
