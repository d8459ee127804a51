"""The reading store: plausibility, staleness and the CGM-lost alarm, gaps, trend, memory."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basalt.core import cgms, cgms_sensor, readings
from basalt.core.readings import ReadingStore

MIN = 60_000
LATENCY = 3_000


def rec(offset, mg_dl=None, milli=None, ann=None, special=None):
    raw = (cgms_sensor.sfloat_special(special) if special
           else cgms_sensor.sfloat_from_milli(milli if milli is not None else mg_dl * 1000))
    return cgms.decode_measurements(bytes(cgms_sensor.encode_record(raw, offset, ann)))[0]


def feed(store, values, start=0, step=5, t0=0):
    """Live records every `step` minutes; returns the time of the last one."""
    now = t0
    for i, value in enumerate(values):
        offset = start + i * step
        now = t0 + offset * MIN + LATENCY
        store.add(now, rec(offset, value))
    return now


def test_a_steady_reading_is_usable_with_trend_and_arrow():
    store = ReadingStore(0)
    now = feed(store, [100, 103, 106, 109, 112])
    reading, why = store.latest_for_dosing(now)
    assert why is None
    assert (reading.glucose_milli, reading.offset, reading.trend_milli) == (112_000, 20, 600)
    assert reading.arrow == "Flat" and reading.age_ms == 0 and reading.mg_dl == 112


def test_whole_mg_dl_for_the_calculator_rounds_half_up():
    store = ReadingStore(0)
    store.add(0, rec(0, milli=120_500))
    assert store.latest_reading(0).mg_dl == 121


@pytest.mark.parametrize("values, arrow", [
    ([100, 108, 116, 124], "FortyFiveUp"), ([100, 115, 130, 145], "DoubleUp"),
    ([200, 190, 180, 170], "SingleDown"), ([200, 184, 168, 152], "DoubleDown"),
])
def test_trend_arrows(values, arrow):
    store = ReadingStore(0)
    now = feed(store, values)
    assert store.latest_for_dosing(now)[0].arrow == arrow


def test_trend_needs_three_readings_over_ten_minutes():
    store = ReadingStore(0)
    now = feed(store, [100, 105])
    reading, _ = store.latest_for_dosing(now)
    assert reading.trend_milli is None and reading.arrow == "NONE"


@pytest.mark.parametrize("record, flag", [
    (rec(25, 39), "out_of_range"), (rec(25, 401), "out_of_range"),
    (rec(25, special="nan"), "no_value"), (rec(25, special="nres"), "no_value"),
    (rec(25, special="+inf"), "no_value"),
    (rec(25, 112, ann=cgms.ANN_SENSOR_MALFUNCTION), "sensor"),
    (rec(25, 112, ann=cgms.ANN_SESSION_STOPPED), "sensor"),
    (rec(25, 112, ann=cgms.ANN_CAL_REQUIRED), "sensor"),
    (rec(25, 112, ann=cgms.ANN_ABOVE_DEVICE_RANGE), "sensor"),
    (rec(25, 150), "rate"),  # 38 mg/dL in 5 min from 112
])
def test_implausible_readings_are_flagged_and_refused(record, flag):
    store = ReadingStore(0)
    feed(store, [100, 103, 106, 109, 112])
    now = 25 * MIN + LATENCY
    assert readings.flag_names(store.add(now, record)) == [flag]
    reading, why = store.latest_for_dosing(now)
    assert reading is None and why == "CGM reading not usable: " + flag
    assert store.latest_reading(now).flags  # still shown, flagged


def test_harmless_annunciations_do_not_block_dosing():
    store = ReadingStore(0)
    feed(store, [100, 103, 106])
    ann = cgms.ANN_BATTERY_LOW | cgms.ANN_CAL_RECOMMENDED | (1 << 18)  # hypo warning
    assert store.add(15 * MIN, rec(15, 108, ann=ann)) == 0


def test_a_fast_but_possible_change_is_accepted():
    store = ReadingStore(0)
    feed(store, [100, 125, 150])  # 5 mg/dL/min
    assert store.latest_for_dosing(10 * MIN + LATENCY)[1] is None


def test_after_a_spike_the_store_compares_with_the_last_good_reading():
    store = ReadingStore(0)
    feed(store, [100, 100, 102])
    assert store.add(15 * MIN, rec(15, 180)) == readings.RATE
    assert store.add(20 * MIN, rec(20, 104)) == 0


def test_a_flat_lined_sensor_is_flagged_after_45_minutes():
    store = ReadingStore(0)
    feed(store, [120] * 9)  # 0..40 minutes
    assert store.latest_for_dosing(40 * MIN + LATENCY)[1] is None
    assert store.add(45 * MIN, rec(45, 120)) == readings.FLAT
    assert store.add(50 * MIN, rec(50, 121)) == 0


def test_duplicate_offsets_resent_copy_is_harmless_conflict_is_flagged():
    store = ReadingStore(0)
    now = feed(store, [100, 103, 106])
    assert store.add(now, rec(10, 106)) == 0
    assert store.counts["repeated"] == 1
    assert store.add(now, rec(10, 140)) & readings.DUPLICATE
    assert store.latest_for_dosing(now) == (None, "CGM reading not usable: duplicate")
    assert store.counts["conflicts"] == 1


def test_stale_after_15_minutes_and_cgm_lost_raised_once_then_cleared():
    store = ReadingStore(0)
    last = feed(store, [100, 103, 106])  # anchor = first arrival: readings are on time
    assert store.check(last + 15 * MIN) is False
    assert store.latest_for_dosing(last + 15 * MIN)[0] is not None
    late = last + 15 * MIN + 1
    assert store.latest_for_dosing(late) == (None, "CGM reading is 15 min old (limit 15 min)")
    assert store.glucose_known(late) is False
    assert store.check(late) is True
    store.check(late + MIN)
    events = store.pop_events()
    assert events == [("alarm", {"code": "cgm_lost", "at_ms": late,
                                 "last_reading_ms": last})]
    store.add(40 * MIN, rec(30, 108))
    assert store.pop_events() == [("cgm_restored", {"code": "cgm_lost", "at_ms": 40 * MIN})]


def test_no_reading_at_all_is_lost_15_minutes_after_start():
    store = ReadingStore(1_000)
    assert store.latest_for_dosing(2_000) == (None, "no CGM reading yet")
    assert store.check(1_000 + 15 * MIN) is False
    assert store.check(1_001 + 15 * MIN) is True


def test_only_no_value_readings_count_as_lost():
    store = ReadingStore(0)
    feed(store, [100])
    for minute in range(5, 30, 5):
        store.add(minute * MIN, rec(minute, special="nan"))
    assert store.check(29 * MIN) is True


def test_time_follows_the_session_anchor_not_arrival_of_backfill():
    store = ReadingStore(0)
    store.sync(100 * MIN, 100)  # Status: session at minute 100 now
    store.add(100 * MIN + 500, rec(70, 100))  # back-filled, 30 min old
    reading = store.latest_reading(100 * MIN + 500)
    assert reading.at_ms == 70 * MIN and reading.age_ms == 30 * MIN + 500


def test_gaps_are_found_then_asked_for_once():
    store = ReadingStore(0)
    feed(store, [100, 101, 102])  # 0, 5, 10
    store.add(25 * MIN, rec(25, 104))  # 15 and 20 missing
    assert store.backfill_from() == 11
    store.add(25 * MIN + 1, rec(15, 103))
    store.add(25 * MIN + 2, rec(20, 103))
    assert store.backfill_from() is None
    store.add(40 * MIN, rec(40, 104))  # 30, 35 missing; sensor has none
    assert store.backfill_from() == 26
    store.backfill_done()
    assert store.backfill_from() is None
    assert store.backfill_from(current_offset=60) == 41  # link was down since 40


def test_first_connect_asks_for_history():
    store = ReadingStore(0)
    assert store.backfill_from() is None
    assert store.backfill_from(current_offset=300) == 270
    assert store.backfill_from(current_offset=10) == 0


def test_memory_is_bounded_and_old_records_are_dropped():
    store = ReadingStore(0)
    values = [100 + (i % 7) for i in range(200)]  # 1000 minutes at 5-min cadence
    now = feed(store, values)
    assert len(store._offset) == readings.WINDOW_MIN
    assert store.add(now, rec(995 - readings.WINDOW_MIN, 100)) is None
    assert store.counts["too_old"] == 1
    assert store.latest_for_dosing(now)[1] is None


def test_new_session_forgets_everything():
    store = ReadingStore(0)
    now = feed(store, [100, 101, 102])
    store.new_session(now)
    assert store.latest_for_dosing(now) == (None, "no CGM reading yet")
    store.add(now + MIN, rec(0, 100))
    assert store.latest_reading(now + MIN).at_ms == now + MIN


@given(st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 0xFFFF),
                          st.integers(0, 40 * MIN)), max_size=80))
def test_any_sequence_keeps_invariants(events):
    """Whatever arrives, a dosing reading is in range, unflagged, fresh, and from the
    newest offset stored."""
    store = ReadingStore(0)
    now = 0
    for offset, raw, wait in events:
        now += wait
        try:
            record = cgms.decode_measurements(bytes(cgms_sensor.encode_record(raw, offset)))[0]
        except cgms.CgmFormatError:
            continue
        store.add(now, record)
        reading, why = store.latest_for_dosing(now)
        if reading is None:
            assert why
            continue
        assert readings.LOW_MILLI <= reading.glucose_milli <= readings.HIGH_MILLI
        assert reading.flags == 0 and 0 <= reading.age_ms <= readings.STALE_MS
        assert reading.offset == store.latest
