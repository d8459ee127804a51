"""Runs inside the MicroPython VM: CGM decoder speed, allocations, and a garbage fuzz.

Prints one JSON line: records_per_s, bytes_per_record (gc disabled around the measured
loop, gc.mem_alloc() deltas), control bytes (one tuple per record, proves the probe
sees allocations), fuzz inputs and crashes (anything but CgmFormatError).
"""

import gc
import json
import sys
import time

from basalt.core import cgms, cgms_sensor

REPEAT = int(sys.argv[1]) if len(sys.argv) > 1 else 200
FUZZ = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000


def notifications():
    """The bench set: 1-record and 3-record notifications, with and without CRC."""
    out = []
    for crc in (False, True):
        one = bytes(cgms_sensor.encode_record(0x0078, 5, None, None, None, crc))
        full = bytes(cgms_sensor.encode_record(0xF4B5, 6, 0x010002, 0xF00F, 0x005F, crc))
        out.append((one, crc, 1))
        out.append((full + one + full, crc, 3))
    return out


def measure_speed(items):
    records = 0
    start = time.ticks_ms()
    for _ in range(REPEAT):
        for data, crc, _n in items:
            records += len(cgms.decode_measurements(data, crc))
    return records, time.ticks_diff(time.ticks_ms(), start)


def measure_allocs(items, decode):
    decode(items[0][0], items[0][1])  # warm up
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    records = 0
    for data, crc, n in items:
        decode(data, crc)
        records += n
    used = gc.mem_alloc() - before
    gc.enable()
    return used / records


def control(data, crc):
    return (data, crc)


def fuzz(count):
    state = 12345
    crashes = 0
    for _ in range(count):
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        n = (state >> 8) % 24
        buf = bytearray(n)
        for i in range(n):
            state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
            buf[i] = (state >> 8) & 0xFF
        if n and state & 1:
            buf[0] = 6 + (state >> 9) % 10  # a plausible Size more often
        try:
            cgms.decode_measurements(bytes(buf), bool(state & 2))
        except cgms.CgmFormatError:
            pass
        except Exception:
            crashes += 1
    return crashes


items = notifications()
records, ms = measure_speed(items)
result = {
    "records": records,
    "ms": ms,
    "records_per_s": records * 1000 // max(ms, 1),
    "bytes_per_record": measure_allocs(items, cgms.decode_measurements),
    "control_bytes_per_record": measure_allocs(items, control),
    "fuzz_inputs": FUZZ,
    "fuzz_crashes": fuzz(FUZZ),
}
print(json.dumps(result))
