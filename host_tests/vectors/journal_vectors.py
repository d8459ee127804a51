"""Journal, checkpoint and supervisor vectors for the MicroPython lane: record bytes,
CRC, recovery from damage, the two-slot checkpoint and the restart plan must come out
the same on CPython and MicroPython. Deterministic (own LCG), integers and text only."""

import binascii
import struct

from basalt.core import checkpoint as ckp
from basalt.core import journal as jnl
from basalt.core import journal_read as jread
from basalt.core import restore
from basalt.core.basal import make_profile
from basalt.core.board_file import load_board
from basalt.core.supervisor import Supervisor
from vectors.vectorkit import Lcg, emit, plain

BOARD = load_board({
    "name": "vec", "mcu": "host",
    "motor": {"driver": "fake", "step": 2, "dir": 3, "enable": 4, "max_step_hz": 4000},
    "syringe": {"capacity_ml": 3.0, "bore_area_mm2": 57.89},
    "drive": {"lead_mm": 0.8, "full_steps_per_rev": 200, "microsteps": 16},
})


def hexed(data):
    return binascii.hexlify(data).decode()


def records_of(data, start=0):
    records, damaged = jread.scan(data, start)
    return [[r.seq, r.boot, r.at_ms, r.kind, plain(r.detail)] for r in records], damaged


EVENTS = [
    ("boot", {"cause": "watchdog", "fw": "0.1", "epoch_s": None}),
    ("bolus_done", {"id": 3, "kind": "dual", "programmed_mu": 7000,
                    "delivered_steps": 4836, "delivered_mu": 6999}),
    ("alarm", {"code": "occlusion", "detail": "force 2.5 N", "at_ms": 99}),
    ("glucose", {"mg_dl": 112, "trend": -2}),
    ("future_kind", {"odd key": [1, -1, True, False, None, "x"], "nested": {"a": 2 ** 40}}),
    ("settings_changed", {"keys": ["max_bolus_u"], "crc": 0xFFFFFFFF}),
]


def vectors_records():
    data = bytearray(jnl.encode_header(7, 3))
    emit("header", hexed(data))
    emit("header parsed", jread.parse_header(bytes(data)))
    for i in range(len(EVENTS)):
        kind, detail = EVENTS[i]
        record = jnl.encode_record(100 + i, 3, 1000 * i + 2 ** 32 - 3000, kind, detail)
        emit("record " + kind, hexed(record))
        data.extend(record)
    emit("segment", records_of(bytes(data), 16))
    emit("crc", [jnl.crc(b"123456789"), jnl.crc32_soft(b"123456789"), jnl.crc(b"")])
    times = jread.unwrap_times(jread.scan(bytes(data), 16)[0])
    emit("unwrapped", [r.at_ms for r in times])
    return bytes(data)


def vectors_damage(data):
    rng = Lcg(11)
    for trial in range(12):
        bad = bytearray(data)
        for _ in range(1 + rng.below(3)):
            bad[16 + rng.below(len(bad) - 16)] = rng.below(256)
        cut = len(bad) - rng.below(40)
        records, damaged = records_of(bytes(bad[:cut]), 16)
        emit("damaged %d" % trial, [[r[0] for r in records], damaged])
    noise = bytes(rng.below(256) for _ in range(300))
    emit("noise", records_of(noise))
    newer = jnl.encode_header(8, 3, version=jnl.FORMAT_VERSION + 1) + data[16:]
    try:
        jread.read_segment(newer, "j000008.jnl")
        emit("newer", "read")
    except jnl.JournalError as error:
        emit("newer", str(error))
    view = jread.read_journal([("j000007.jnl", data), ("j000008.jnl", newer),
                             ("j000009.jnl", data[:60])])
    emit("view", [len(view.records), view.damaged, [n for n, _ in view.foreign],
                  view.last_segment, view.next_seq()])
    kinds = []
    lean = jread.read_journal([("j000007.jnl", data)], lambda record: kinds.append(record.kind))
    emit("visited", [kinds, lean.records, lean.count, lean.next_seq(), lean.last_boot()])


def vectors_checkpoint():
    ck = ckp.empty(4)
    ck.update(counter=9, state=ckp.STATE_DELIVERING, reservoir_steps=120000,
              plunger_lo=5000, plunger_hi=5034, day_ms=55_800_000,
              temp_type=ckp.TEMP_PERCENT, temp_value=50, temp_left_ms=1_800_000,
              temp_duration_ms=5_400_000, b0_id=2, b0_kind=3, b0_programmed_mu=7000,
              b0_lo=1200, b0_hi=1234, u_count=1, u_boot=3, u_programmed_mu=2000,
              u_lo_mu=950, u_hi_mu=1000, journal_seq=77, gate_hour_steps=4000,
              gate_day_steps=30000)
    data = ckp.encode(ck)
    emit("checkpoint", [len(data), hexed(data)])
    older = dict(ck, counter=8, reservoir_steps=121000)
    emit("newest", ckp.newest([ckp.encode(older), data]))
    emit("torn", ckp.newest([ckp.encode(older), data[:40]]))
    emit("both bad", ckp.newest([data[:3], b"\x01" * ckp.SIZE]))
    profile = make_profile("P", [(0, 800), (600, 1200), (960, 400)])
    emit("plan", restore.plan_restore(ck, "ok", BOARD, profile, ()))
    for kind, value in ((ckp.TEMP_PERCENT, 150), (ckp.TEMP_RATE, 400), (ckp.TEMP_RATE, 401)):
        probe = dict(ck, temp_type=kind, temp_value=value, temp_left_ms=9_000_000)
        plan = restore.plan_restore(probe, "ok", BOARD, profile, {(4, 2)})
        emit("temp %d %d" % (kind, value), [plan["temp"], plan["events"]])
    emit("untrusted", restore.plan_restore(None, "ck0.bin CRC mismatch", BOARD))
    unfinished = {(4, 2): ("dual", 7000), (4, 9): ("normal", 500)}
    emit("unfinished", restore.plan_restore(ck, "ok", BOARD, profile, (), unfinished)["events"])
    emit("lost", restore.plan_restore(None, "torn", BOARD, None, (), unfinished))
    # A version 1 checkpoint (older firmware): read, its gate windows unknown.
    v1 = ckp.layout(1)
    body = struct.pack(v1[1], *[1 if name == "version" else ck[name] for name in v1[0]])
    old, why = ckp.decode(body + struct.pack("<I", jnl.crc(body)))
    emit("v1", [why, len(old), restore.plan_restore(old, "ok", BOARD, profile, ())["gate"]])


def vectors_bolus_replay():
    records = [
        (1, 0, "boot", {"epoch_s": 1_800_000_000}), (1, 60_000, "bolus_done",
                                                     {"delivered_mu": 2000}),
        (1, 90_000, "bolus_cancelled", {"delivered_mu": 0}),
        (2, 0, "boot", {"alive_boot": 1, "alive_ms": 600_000}),
        (2, 4_294_000_000, "bolus_done", {"delivered_mu": 500}),
        (2, 5_000, "bolus_reconciled", {"delivered_mu": 750}),  # after the 32-bit wrap
        (3, 0, "boot", {"epoch_s": 1_800_010_000}), (3, 30_000, "glucose", {"mg_dl": 99}),
    ]
    for epoch in (None, 1_800_020_000, 1_700_000_000):
        replay = jread.BolusReplay()
        for seq, (boot, at, kind, detail) in enumerate(records):
            replay.visit(jnl.Record(seq + 1, boot, at, kind, detail))
        replay.alive(3, 120_000)
        emit("replay %s" % epoch, replay.placed(1_000, epoch))
        emit("replay window %s" % epoch, replay.placed(1_000, epoch, 6 * 3_600_000))


class Dog:
    timeout_ms = 3000

    def __init__(self):
        self.fed = 0

    def feed(self):
        self.fed += 1


def vectors_supervisor():
    dog = Dog()
    sup = Supervisor(dog, 1000)
    sup.register("delivery", 0)
    sup.register("ui", 0)
    fed = []
    for now in range(0, 4000, 250):
        sup.check_in("delivery", now)
        if now < 1500:
            sup.check_in("ui", now)
        fed.append(1 if sup.poll(now) else 0)
    emit("supervisor", [fed, dog.fed, sup.starved_by])


vectors_damage(vectors_records())
vectors_checkpoint()
vectors_bolus_replay()
vectors_supervisor()
