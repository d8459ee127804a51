"""Journal and checkpoint bytes: round trips, damage skipped (never a crash), rotation,
two-slot checkpoints, the restart plan, the task supervisor and the file driver."""

import binascii
import random
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basalt.core import checkpoint as ckp
from basalt.core import journal as jnl
from basalt.core import journal_read as jread
from basalt.core import restore
from basalt.core.basal import make_profile
from basalt.core.errors import InvalidValue
from basalt.core.supervisor import Supervisor
from basalt.storage.files import FileStorage
from basalt.storage.journal import Journal, bundle
from tools import sim
from tools.fake_storage import FakeStorage, PowerCut

BOARD = sim.load_sim_board()

values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["id", "code", "x", "zz"]), inner, max_size=3),
    max_leaves=8)
details = st.dictionaries(st.sampled_from(jnl.KEYS.split() + ["other", "odd key"]),
                          values, max_size=6)
kinds = st.sampled_from(jnl.KINDS.split() + ["future_kind"])


def segment(records, number=1, boot=1):
    data = bytearray(jnl.encode_header(number, boot))
    for i, (kind, detail) in enumerate(records):
        data += jnl.encode_record(i + 1, boot, 1000 * i, kind, detail)
    return bytes(data)


@given(kinds, details, st.integers(0, 2**32 - 1), st.integers(0, 0xFFFF))
def test_records_round_trip(kind, detail, seq, boot):
    data = jnl.encode_header(3, boot) + jnl.encode_record(seq, boot, 123_456, kind, detail)
    header, records, damaged = jread.read_segment(data)
    assert header == (jnl.FORMAT_VERSION, 3, boot)
    assert damaged == []
    (record,) = records
    assert (record.seq, record.boot, record.at_ms, record.kind) == (seq, boot, 123_456, kind)
    assert record.detail == _listify(detail)


def _listify(value):
    if isinstance(value, dict):
        return {k: _listify(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_listify(v) for v in value]
    return value


# Records written by the firmware before the code tables became strings: the codes keep
# their meaning (KINDS 45 = occlusion_learned; KEYS 1 = id, 3 = programmed_mu, 71 =
# grams, 78 = flow_learned; 255 = spelled out).
OLD_RECORDS = (
    ("b52c1c00070000000200d2040000054e0247050203020303010302ff076f6464206b657904017803030aa9"
     "c9ab70", 7, 1234, "occlusion_learned",
     {"programmed_mu": 5, "flow_learned": True, "id": 1, "odd key": "x", "grams": [1, -2]}),
    ("b5ff1400080000000200630000000b6675747572655f6b696e6401020404626f6f7425753567", 8, 99,
     "future_kind", {"kind": "boot"}),
)


@pytest.mark.parametrize("hexed, seq, at_ms, kind, detail", OLD_RECORDS)
def test_records_written_before_read_back_and_encode_the_same(hexed, seq, at_ms, kind,
                                                               detail):
    data = bytes.fromhex(hexed)
    (record,), _ = jread.scan(data, 0)[:2]
    assert (record.seq, record.boot, record.at_ms, record.kind) == (seq, 2, at_ms, kind)
    assert record.detail == detail
    assert jnl.encode_record(seq, 2, at_ms, kind, detail) == data


def test_an_unknown_code_reads_back_as_its_number():
    body = struct.pack("<BBHIHI", jnl.SYNC, 200, 3, 1, 1, 0) + bytes((1, 250, 0))
    (record,), _ = jread.scan(body + struct.pack("<I", jnl.crc(body)), 0)[:2]
    assert record.kind == "kind#200" and record.detail == {"key#250": None}


def test_at_ms_goes_in_the_header_and_comes_back():
    data = jnl.encode_record(1, 1, 5, "alarm", {"code": "occlusion", "at_ms": 5})
    record = jread.scan(data, 0)[0][0]
    assert record.as_event() == ("alarm", {"code": "occlusion", "at_ms": 5})


def test_unrecordable_values_are_refused():
    with pytest.raises(ValueError, match="only ints"):
        jnl.encode_record(1, 1, 0, "alarm", {"code": 1.5})
    with pytest.raises(ValueError, match="payload bytes"):
        jnl.encode_record(1, 1, 0, "alarm", {"detail": "x" * 2000})


def test_soft_crc_matches_binascii():
    rng = random.Random(7)
    for size in (0, 1, 9, 100, 1000):
        data = bytes(rng.getrandbits(8) for _ in range(size))
        assert jnl.crc32_soft(data) == binascii.crc32(data)
    assert jnl.crc32_soft(b"123456789") == 0xCBF43926


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_corrupt_record_is_skipped_and_the_rest_kept(where):
    records = [("glucose", {"mg_dl": 100 + i}) for i in range(5)]
    data = bytearray(segment(records))
    sizes = [len(jnl.encode_record(i + 1, 1, 1000 * i, *records[i])) for i in range(5)]
    index = {"first": 0, "middle": 2, "last": 4}[where]
    offset = jnl.HEADER_SIZE + sum(sizes[:index]) + 16
    data[offset] ^= 0x40
    _, found, damaged = jread.read_segment(bytes(data))
    assert [r.detail["mg_dl"] for r in found] == [100 + i for i in range(5) if i != index]
    assert len(damaged) == 1 and damaged[0][1] - damaged[0][0] == sizes[index]


def test_a_torn_tail_is_reported_as_damage_at_the_end():
    data = segment([("glucose", {"mg_dl": 1}), ("glucose", {"mg_dl": 2})])
    torn = data[:-5]
    _, found, damaged = jread.read_segment(torn)
    assert [r.detail["mg_dl"] for r in found] == [1]
    assert damaged[-1][1] == len(torn)


@given(st.binary(max_size=600))
def test_random_bytes_never_raise(data):
    _, records, damaged = jread.read_segment(data)
    assert sum(end - start for start, end in damaged) <= len(data)
    assert all(r.kind for r in records)


@given(st.binary(max_size=300), st.integers(0, 5))
def test_garbage_between_records_loses_nothing_committed(noise, count):
    records = [("bolus_done", {"id": i, "delivered_mu": 10 * i}) for i in range(count)]
    good = segment(records)
    mixed = good + noise + jnl.encode_record(99, 1, 7, "boot", {"cause": "x"})
    found = jread.read_segment(mixed)[1]
    seqs = [r.seq for r in found]
    assert seqs[:count] == list(range(1, count + 1)) and seqs[-1] == 99


def test_a_newer_format_is_kept_unread_with_a_clear_message():
    newer = jnl.encode_header(4, 1, version=jnl.FORMAT_VERSION + 1) + b"\x00" * 40
    with pytest.raises(jnl.JournalError, match="newer firmware .*format 2.*kept unchanged"):
        jread.read_segment(newer, "j000004.jnl")
    view = jread.read_journal([("j000003.jnl", segment([("boot", {})], 3)),
                             ("j000004.jnl", newer)])
    assert len(view.records) == 1 and view.foreign[0][0] == "j000004.jnl"


def test_a_damaged_header_still_yields_the_records():
    data = bytearray(segment([("glucose", {"mg_dl": 5})]))
    data[0:4] = b"XXXX"
    header, found, damaged = jread.read_segment(bytes(data))
    assert header is None and [r.detail for r in found] == [{"mg_dl": 5}]
    assert damaged[0] == (0, jnl.HEADER_SIZE)


def test_times_unwrap_past_32_bits_within_a_boot():
    data = (jnl.encode_record(1, 1, 2**32 - 10, "glucose", {}) +
            jnl.encode_record(2, 1, 2**32 + 5, "glucose", {}) +
            jnl.encode_record(3, 2, 7, "boot", {}))
    records = jread.unwrap_times(jread.scan(data, 0)[0])
    assert [r.at_ms for r in records] == [2**32 - 10, 2**32 + 5, 7]


def test_a_record_about_an_earlier_moment_is_not_a_wrap():
    """A back-filled CGM reading is journaled after newer records, with its own time."""
    data = (jnl.encode_record(1, 1, 3_600_000, "basal_rate", {}) +
            jnl.encode_record(2, 1, 1_800_000, "glucose", {"mg_dl": 120}) +
            jnl.encode_record(3, 1, 3_700_000, "basal_rate", {}))
    records = jread.unwrap_times(jread.scan(data, 0)[0])
    assert [r.at_ms for r in records] == [3_600_000, 1_800_000, 3_700_000]


def test_segment_names():
    assert jnl.segment_number(jnl.segment_name(42)) == 42
    for other in ("ck0.bin", "j12.jnl", "jabcdef.jnl", "settings.json"):
        assert jnl.segment_number(other) is None


# ----- the journal over the storage port --------------------------------------------

def test_rotation_drops_the_oldest_segments_only():
    storage = FakeStorage()
    journal = Journal(storage, segment_bytes=256, segments=3)
    journal.open(journal.read(), 1, 1)
    for i in range(100):
        journal.append("glucose", {"mg_dl": i}, i)
    names = [n for n in storage.names() if n.endswith(".jnl")]
    assert len(names) == 3
    assert all(storage.size(n) <= 256 for n in names)
    view = Journal(storage).read()
    seqs = [r.seq for r in view.records]
    assert seqs == list(range(seqs[0], 101)) and seqs[0] > 1
    assert bundle(storage).count(jnl.MAGIC) == 3


def test_after_a_torn_tail_writing_goes_on_in_a_new_segment():
    storage = FakeStorage()
    journal = Journal(storage)
    journal.open(journal.read(), 1, 1)
    journal.append("glucose", {"mg_dl": 1}, 0)
    storage.arm(storage.position + 10)
    with pytest.raises(PowerCut):
        journal.append("glucose", {"mg_dl": 2}, 0)
    again = Journal(storage)
    view = again.read()
    assert [r.detail["mg_dl"] for r in view.records] == [1]
    again.open(view, 2, view.next_seq())
    again.append("boot", {}, 0)
    assert len([n for n in storage.names() if n.endswith(".jnl")]) == 2
    assert [r.kind for r in Journal(storage).read().records] == ["glucose", "boot"]


# ----- checkpoint -------------------------------------------------------------------

def test_checkpoint_round_trip_and_the_newest_valid_slot_wins():
    a = ckp.empty(3)
    a["counter"], a["reservoir_steps"] = 7, 1234
    b = dict(a, counter=8, reservoir_steps=1200)
    assert len(ckp.encode(a)) == ckp.SIZE
    assert ckp.newest([ckp.encode(a), ckp.encode(b)])[0]["reservoir_steps"] == 1200
    torn = ckp.encode(b)[:30]
    assert ckp.newest([ckp.encode(a), torn]) == (a, "ok")
    flipped = bytearray(ckp.encode(b))
    flipped[9] ^= 1
    assert ckp.newest([bytes(flipped), ckp.encode(a)])[0] == a
    assert ckp.newest([None, None]) == (None, "none")
    ck, why = ckp.newest([torn, b"\x00" * ckp.SIZE])
    assert ck is None and "ck0.bin torn (30 of 100 bytes)" in why and "CRC mismatch" in why
    newer = dict(a, version=ckp.VERSION + 1)
    assert "newer firmware" in ckp.decode(ckp.encode(newer))[1]


def _ck(**fields):
    ck = ckp.empty(5)
    ck.update(state=ckp.STATE_DELIVERING, reservoir_steps=50_000, plunger_lo=1000,
              plunger_hi=1034, day_ms=3_600_000)
    ck.update(fields)
    return ck


PROFILE = make_profile("P", [(0, 1000), (360, 500), (720, 1500)])


@pytest.mark.parametrize("fields, resumed", [
    ({"temp_type": ckp.TEMP_PERCENT, "temp_value": 50}, True),
    ({"temp_type": ckp.TEMP_PERCENT, "temp_value": 100}, True),
    ({"temp_type": ckp.TEMP_PERCENT, "temp_value": 150}, False),
    ({"temp_type": ckp.TEMP_RATE, "temp_value": 500}, True),  # the lowest segment ahead
    ({"temp_type": ckp.TEMP_RATE, "temp_value": 501}, False),
    ({"temp_type": ckp.TEMP_PERCENT, "temp_value": 0, "temp_left_ms": 0}, False),
])
def test_temp_basal_resumes_only_if_it_lowers_delivery(fields, resumed):
    fields.setdefault("temp_left_ms", 6 * 3_600_000)  # from 01:00 into the 06:00 segment
    fields["temp_duration_ms"] = 8 * 3_600_000
    plan = restore.plan_restore(_ck(**fields), "ok", BOARD, PROFILE)
    kinds = [kind for kind, _ in plan["events"]]
    assert kinds == ["temp_basal_resumed" if resumed else "temp_basal_ended"]
    assert (plan["temp"] is not None) == resumed


def test_a_suspended_pump_stays_suspended_and_its_temp_is_not_revived():
    plan = restore.plan_restore(_ck(state=ckp.STATE_SUSPENDED, temp_type=ckp.TEMP_PERCENT,
                                temp_value=50, temp_left_ms=60_000), "ok", BOARD, PROFILE)
    assert plan["state"] == ckp.STATE_SUSPENDED and plan["temp"] is None
    assert plan["events"] == []


def test_a_running_bolus_becomes_interrupted_within_its_bounds():
    ck = _ck(b0_id=4, b0_kind=1, b0_programmed_mu=3000, b0_lo=700, b0_hi=734,
             b1_id=3, b1_kind=2, b1_programmed_mu=2000, b1_lo=10, b1_hi=44)
    plan = restore.plan_restore(ck, "ok", BOARD, PROFILE)
    events = [d for k, d in plan["events"] if k == "bolus_interrupted"]
    assert [e["id"] for e in events] == [4, 3]
    first = events[0]
    assert first["delivered_lo_mu"] == BOARD.mu_for_usteps(700)
    assert first["delivered_hi_mu"] >= BOARD.mu_for_usteps(734)
    assert first["delivered_hi_mu"] - first["delivered_lo_mu"] <= 50 + 2
    assert plan["uncertain"]["count"] == 2
    assert plan["uncertain"]["programmed_mu"] == 5000
    # the reservoir is counted as if the motor had used all of its lease
    assert plan["reservoir_steps"] == 50_000 - 34 and plan["plunger_steps"] == 1000
    settled = restore.plan_restore(ck, "ok", BOARD, PROFILE, settled={(5, 4), (5, 3)})
    assert not settled["events"] and settled["uncertain"]["count"] == 2


def _v1_bytes(ck):
    """A checkpoint as firmware with checkpoint version 1 wrote it (no gate totals)."""
    names, fmt, _ = ckp.layout(1)
    body = struct.pack(fmt, *[1 if name == "version" else ck[name] for name in names])
    return body + struct.pack("<I", jnl.crc(body))


def test_the_gate_totals_come_back_with_the_lease_the_motor_may_have_used():
    plain = _ck(gate_hour_steps=0, gate_day_steps=9_000)
    assert restore.plan_restore(plain, "ok", BOARD, PROFILE)["gate"] == (0, 9_034)
    bolus = _ck(gate_hour_steps=2_000, gate_day_steps=9_000, b0_id=4, b0_kind=1,
                b0_programmed_mu=3000, b0_lo=700, b0_hi=734)
    assert restore.plan_restore(bolus, "ok", BOARD, PROFILE)["gate"] == (2_034, 9_034)
    decoded, why = ckp.decode(ckp.encode(dict(bolus, counter=3)))
    assert why is None and decoded["gate_day_steps"] == 9_000


def test_a_version_1_checkpoint_is_read_and_says_its_windows_are_unknown():
    old = _ck(counter=5, temp_type=ckp.TEMP_PERCENT, temp_value=50, temp_left_ms=60_000)
    data = _v1_bytes(old)
    assert len(data) == 84
    ck, status = ckp.newest([data, None])
    assert status == "ok" and ck["version"] == 1 and ck["reservoir_steps"] == 50_000
    plan = restore.plan_restore(ck, status, BOARD, PROFILE)
    assert plan["gate"] == (0, 0) and plan["temp"] is not None
    assert ("gate_windows_unknown", {"reason": "checkpoint version 1 has no safety-gate "
                                               "totals"}) in plan["events"]
    assert "torn (83 of 84 bytes)" in ckp.decode(data[:83])[1]
    assert ckp.decode(data[:10] + bytes([data[10] ^ 1]) + data[11:])[1] == "CRC mismatch"


def test_an_unreadable_checkpoint_means_untrusted_and_an_alarm():
    plan = restore.plan_restore(None, "ck0.bin CRC mismatch", BOARD)
    assert not plan["trusted"] and plan["alarms"] == ["delivery_fault"]
    assert plan["state"] == ckp.STATE_NO_RESERVOIR
    assert restore.plan_restore(None, "none", BOARD)["trusted"]


# ----- supervisor ---------------------------------------------------------------------

class CountingWatchdog:
    timeout_ms = 4000

    def __init__(self):
        self.fed = 0
        self.started = False

    def start(self):
        self.started = True

    def feed(self):
        self.fed += 1


def test_the_watchdog_is_fed_only_while_every_task_checks_in():
    wdt = CountingWatchdog()
    sup = Supervisor(wdt, 2000)
    assert not sup.poll(0)  # no tasks yet: nothing proves the app is alive
    sup.register("delivery", 0)
    sup.register("ui", 0)
    for now in range(0, 10_000, 500):
        sup.check_in("delivery", now)
        if now < 3000:
            sup.check_in("ui", now)
        sup.poll(now)
    assert sup.starved_by == "ui"
    fed = wdt.fed
    sup.check_in("ui", 10_000)  # it comes back: too late, the fault is latched
    assert not sup.poll(10_000) and wdt.fed == fed
    with pytest.raises(InvalidValue, match="registered task"):
        sup.check_in("radio", 0)
    with pytest.raises(InvalidValue, match="below the watchdog timeout"):
        Supervisor(wdt, 4000)


def test_the_watchdog_is_armed_only_once_the_boot_screen_is_acknowledged():
    import asyncio

    class Clock:  # virtual time that yields to the event loop like a real sleep
        now = 0

        def now_ms(self):
            return self.now

        async def sleep_ms(self, ms):
            await asyncio.sleep(0)

        def advance(self, ms):
            self.now += ms

    clock = Clock()
    wdt = CountingWatchdog()
    sup = Supervisor(wdt, 2000)
    sup.register("delivery", 0)
    acknowledged = []

    async def scenario():
        task = asyncio.ensure_future(sup.run(clock, 500, armed=lambda: bool(acknowledged)))
        for _ in range(20):  # 10 s at the boot screen: unarmed, mpremote can interrupt
            await asyncio.sleep(0)
            clock.advance(500)
        unarmed = (wdt.started, wdt.fed)
        acknowledged.append(True)
        for _ in range(4):
            sup.check_in("delivery", clock.now_ms())
            await asyncio.sleep(0)
            clock.advance(500)
        task.cancel()
        return unarmed

    assert asyncio.run(scenario()) == (False, 0)
    assert wdt.started and wdt.fed >= 1


# ----- the file driver on a host folder ---------------------------------------------

def test_file_storage_keeps_the_port_contract(tmp_path):
    storage = FileStorage(str(tmp_path / "data"))
    assert storage.read("x") is None and storage.size("x") == 0
    storage.append("x", b"ab")
    storage.append("x", b"cd")
    storage.write("y", b"123")
    storage.write("y", b"4")
    storage.replace("s.json", b"{}")
    storage.replace("s.json", b"[1]")
    assert storage.read("x") == b"abcd" and storage.read("y") == b"4"
    assert storage.read("s.json") == b"[1]" and "s.json.new" not in storage.names()
    storage.remove("x")
    storage.remove("x")
    assert storage.names() == ["s.json", "y"]


def test_a_bolus_started_but_never_checkpointed_is_closed_at_zero():
    ck = _ck(b0_id=7, b0_kind=1, b0_programmed_mu=1000, b0_lo=10, b0_hi=44)
    unfinished = {(5, 7): ("normal", 1000), (5, 8): ("extended", 2000)}
    plan = restore.plan_restore(ck, "ok", BOARD, PROFILE, (), unfinished)
    closed = [d for k, d in plan["events"] if k == "bolus_interrupted"]
    hi_mu = -(-44 * BOARD.ustep_volume_pl // 10_000)  # rounded up
    assert [(d["id"], d["delivered_hi_mu"]) for d in closed] == [(7, hi_mu), (8, 0)]
    assert plan["uncertain"]["count"] == 1  # only the checkpointed one is uncertain
    lost = restore.plan_restore(None, "ck0.bin CRC mismatch", BOARD, None, (), unfinished)
    assert lost["uncertain"]["delivered_hi_mu"] == 3000  # without a checkpoint: up to all


def _framed(body):
    """A record whose frame checks out around whatever payload body holds."""
    head = struct.pack("<BBHIHI", jnl.SYNC, jnl.KINDS.split().index("glucose") + 1,
                       len(body), 9, 1, 0) + body
    return head + struct.pack("<I", jnl.crc(head))


@given(st.lists(st.tuples(kinds, details), max_size=6), st.binary(max_size=12),
       st.integers(0, 5), st.sampled_from([(), ("boot",), ("glucose", "future_kind")]))
def test_a_reader_decoding_only_some_kinds_finds_the_same_records_and_damage(
        records, junk, at, wanted):
    """Recovery decodes only the kinds it reads: every other record comes with detail
    None, and a payload that does not decode (CRC intact) is damage all the same."""
    data = bytearray(segment(records))
    data[16:16] = _framed(junk)  # a payload of random bytes, framed and CRC'd
    data = bytes(data)
    full, damaged = jread.scan(data)
    seen = []
    none, lean_damaged = jread.scan(data, visit=lambda r: seen.append(
        (r.seq, r.boot, r.at_ms, r.kind, r.detail)), wanted=wanted)
    assert none == [] and lean_damaged == damaged
    assert seen == [(r.seq, r.boot, r.at_ms, r.kind, r.detail if r.kind in wanted else None)
                    for r in full]


def test_a_payload_that_does_not_decode_is_damage_for_every_reader():
    bad = _framed(bytes((1, 1, 9)))  # one key whose value tag 9 does not exist
    data = segment([("boot", {})]) + bad + jnl.encode_record(2, 1, 5, "glucose", {"mg_dl": 99})
    for wanted in (None, (), ("glucose",)):
        records, damaged = jread.scan(data, wanted=wanted)
        assert [r.seq for r in records] == [1, 2]
        start = len(segment([("boot", {})]))
        assert damaged == [(start, start + len(bad))]
