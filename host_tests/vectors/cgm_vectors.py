"""CGM vectors for the MicroPython lane: the CGMS wire format and the reading store must
give the same lines on CPython and MicroPython. Integers and text only; own LCG."""

import json

from basalt.core import cgms, cgms_link, cgms_sensor, readings
from basalt.core.errors import InvalidValue
from vectors.vectorkit import Lcg


def plain(obj):
    """Dicts as sorted [key, value] pairs (MicroPython dicts are unordered)."""
    if isinstance(obj, dict):
        return [[k, plain(obj[k])] for k in sorted(obj)]
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj


def emit(case, result):
    print(json.dumps([case, plain(result)], separators=(",", ":")))


def record_list(record):
    return [record.flags, record.glucose_raw, record.glucose_milli, record.glucose_special,
            record.time_offset, record.annunciation, record.trend_milli, record.quality_milli]


def outcome(function, *args):
    try:
        result = function(*args)
    except InvalidValue as error:
        return "error: " + str(error)
    return result


def decoded(data, crc=False):
    return [record_list(r) for r in cgms.decode_measurements(data, crc)]


emit("crc_check_value", cgms.crc16(b"123456789"))
emit("crc_example_record", cgms.crc16(bytes([8, 0, 0x78, 0, 5, 0])))

SFLOATS = [0x0078, 0xF4B0, 0xFFFF, 0x07FF, 0x0800, 0x07FE, 0x0802, 0x0801, 0x8001, 0x7001,
           0x77FD, 0x87FD, 0xE4D2, 0x0000, 0x1800, 0xF800, 0x2005]
emit("sfloat", [[raw, outcome(cgms.sfloat_milli, "v", raw)] for raw in SFLOATS])
MILLIS = [120000, 120500, -100, 0, 1, 999, 2045, 2046, 12345678, -2046000, 400000, 39999]
emit("sfloat_encode", [[m, cgms_sensor.sfloat_from_milli(m)] for m in MILLIS])

HEX_CASES = [
    ("example", "0800780005000de8", True),
    ("example_no_crc", "060078000500", False),
    ("two_records", "0600780005000600790006 00".replace(" ", ""), False),
    ("all_fields", "0fe378000500030201f1ff5f009996", True),
    ("empty", "", False),
    ("size_too_small", "050078000500", False),
    ("size_too_large", "070078000500", False),
    ("size_beyond_data", "080178000500", False),
    ("flags_claim_missing", "07e0780005000102", False),
    ("reserved_flag", "060478000500", False),
    ("crc_mismatch", "0800780005000de9", True),
    ("crc_missing", "060078000500", True),
    ("reserved_sfloat", "060001080500", False),
    ("special_nan", "0600ff070500", False),
    ("one_byte", "06", False),
    ("trailing_garbage", "06007800050001", False),
]
for name, text, crc in HEX_CASES:
    emit("decode_" + name, outcome(decoded, bytes.fromhex(text), crc))

# Round trip: every encoded record decodes to what was encoded.
rng = Lcg(5)
trips = []
for _ in range(200):
    glucose = rng.below(500_000)
    offset = rng.below(65536)
    ann = rng.below(1 << 24) if rng.below(2) else None
    trend = rng.below(20_000) - 10_000 if rng.below(2) else None
    quality = rng.below(100_001) if rng.below(2) else None
    crc = bool(rng.below(2))
    to_raw = cgms_sensor.sfloat_from_milli
    data = cgms_sensor.encode_record(to_raw(glucose), offset, ann,
                                     None if trend is None else to_raw(trend),
                                     None if quality is None else to_raw(quality), crc)
    record = cgms.decode_measurements(bytes(data), crc)[0]
    trips.append([len(data), record.glucose_milli, record.time_offset, record.annunciation,
                  record.trend_milli, record.quality_milli])
emit("round_trips", trips)

# Random garbage: only records or the typed error, never anything else.
rng = Lcg(9)
kinds = {"records": 0, "error": 0}
for _ in range(400):
    data = bytes(rng.below(256) for _ in range(rng.below(24)))
    try:
        cgms.decode_measurements(data, bool(rng.below(2)))
        kinds["records"] += 1
    except cgms.CgmFormatError:
        kinds["error"] += 1
emit("garbage", kinds)

feature = cgms_sensor.encode_feature(cgms.FEATURE_E2E_CRC | cgms.FEATURE_TREND, 9, 5)


def feature_fields(data):
    f = cgms_link.decode_feature(data)
    return [f.flags, f.kind, f.location, f.e2e_crc]


def racp_fields(data):
    r = cgms_link.decode_racp_response(data)
    return [r.request_op, r.code, r.count, r.describe()]


emit("feature", [list(feature), outcome(feature_fields, feature)])
emit("feature_bad", [outcome(feature_fields, bytes.fromhex(h))
                     for h in ("000000590000", "00100059ffff", "0000")])
emit("status", [outcome(cgms_link.decode_status, bytes.fromhex("2c01080001")),
                outcome(cgms_link.decode_status,
                        cgms_sensor.encode_status(300, 0x0A0001, True), True),
                outcome(cgms_link.decode_status, bytes.fromhex("2c0108000100"))])
start = cgms_link.SessionStart(2026, 11, 20, 23, 7, 36, 4, 0)
for crc in (False, True):
    data = cgms_sensor.encode_session_start(start, crc)
    emit("session_start", [list(data), cgms_link.decode_session_start(data, crc).key()])
emit("session_start_bad", [outcome(cgms_link.decode_session_start, bytes.fromhex(h)) for h in (
    "ea070d141707240400", "ea070b141807240400", "ea070b141707243900", "ea070b14170724000300")])
emit("session_run", [outcome(cgms_sensor.decode_session_run,
                             cgms_sensor.encode_session_run(336, True), True),
                     outcome(cgms_sensor.decode_session_run, b"\x50\x01")])
emit("racp_requests", [list(cgms_sensor.racp_report_last()), list(cgms_link.racp_report_since(300)),
                       list(cgms_link.racp_abort())])
emit("racp_responses", [outcome(racp_fields, bytes.fromhex(h)) for h in (
    "06000101", "06000106", "05002a00", "0600010a", "060001", "0601", "0100")])
emit("racp_parse", [outcome(cgms_sensor.decode_racp_request, bytes.fromhex(h)) for h in (
    "0106", "0103012c01", "0300", "0104", "0103022c01", "0103", "09", "010601")])


def store_run(seed, steps):
    """A reading store fed by an LCG: values, drops, repeats, conflicts, specials."""
    rng = Lcg(seed)
    store = readings.ReadingStore(0)
    glucose = 120_000
    lines = []
    for step in range(steps):
        offset = step * 5
        now = 7_000 + offset * 60_000 + rng.below(20_000)  # notification latency
        glucose += (rng.below(11) - 5) * 1000
        pick = rng.below(20)
        if pick == 0:
            continue  # dropped notification
        raw = cgms_sensor.sfloat_from_milli(glucose)
        if pick == 1:
            raw = cgms_sensor.sfloat_special("nan")
        elif pick == 2:
            raw = cgms_sensor.sfloat_from_milli(glucose + 40_000)
        ann = cgms.ANN_SENSOR_MALFUNCTION if pick == 3 else None
        record = cgms.decode_measurements(bytes(cgms_sensor.encode_record(raw, offset, ann)))[0]
        flags = store.add(now, record)
        if pick == 4:
            store.add(now, record)  # resent copy
        if pick == 5:
            store.backfill_done()
        reading, why = store.latest_for_dosing(now + rng.below(1_200_000))
        lines.append([offset, flags, store.backfill_from(),
                      None if reading is None else [reading.glucose_milli, reading.trend_milli,
                                                    reading.arrow],
                      why])
    lines.append(sorted(store.counts.items()))
    lines.append(store.pop_events())
    lines.append([[r.offset, r.mg_dl, r.flags, r.at_ms, r.trend_milli]
                  for r in store.pop_added(now)[-8:]])  # what the app journals
    return lines


for line in store_run(3, 120):
    emit("store", line)

flat = readings.ReadingStore(0)
for i in range(12):
    record = cgms.decode_measurements(bytes(cgms_sensor.encode_record(0x0064, i * 5)))[0]
    emit("flat", [i * 5, flat.add(i * 300_000, record)])
emit("arrows", [[t, readings.arrow_for(t)] for t in (
    None, 3000, 2999, 2000, 1999, 1000, 999, 0, -999, -1000, -1999, -2000, -2999, -3000)])


# ----- time offsets the pump's clock cannot have reached -----------------------------------


def pairs(events):
    return [[kind, [[key, detail[key]] for key in sorted(detail)]] for kind, detail in events]


def clock_record(offset, mg_dl):
    return cgms.decode_measurements(bytes(cgms_sensor.encode_record(
        cgms_sensor.sfloat_from_milli(mg_dl * 1000), offset)))[0]


for name, script in (
        ("one_future", [(t, t, 118 + t % 7) for t in range(0, 30, 5)] + [(30, 60_000, 120)]
         + [(t, t, 118 + t % 7) for t in range(35, 60, 5)]),
        ("clock_moved", [(t, t, 118 + t % 7) for t in range(0, 30, 5)]
         + [(t, t + 2_880, 130 + t % 5) for t in range(30, 60, 5)]),
        ("bad_first", [(0, 60_000, 120)] + [(t, t, 118 + t % 7) for t in range(5, 40, 5)]),
        ("sync_future", [(t, t, 118 + t % 7) for t in range(0, 20, 5)] + [(20, -1, 0)]
         + [(t, t, 118 + t % 7) for t in range(25, 40, 5)])):
    store = readings.ReadingStore(0)
    for minute, offset, mg_dl in script:
        now = minute * 60_000 + 2_000
        if offset < 0:
            store.sync(now, 50_000)
            emit("clock", [name, minute, "sync", store.anchor_ms])
            continue
        emit("clock", [name, minute, offset, store.add(now, clock_record(offset, mg_dl)),
                       store.latest, store.anchor_ms, pairs(store.pop_events())])
    emit("clock_counts", [name, sorted(store.counts.items())])
