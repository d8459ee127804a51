"""CGM decoder throughput (CPython, MicroPython VM), VM allocations, hypothesis fuzz.

python -m tools.bench cgm [--json] [--fuzz 50000]   (--fuzz: inputs per strategy; two)

records_per_s_cpython   records decoded per second, best of 3 runs of about 1 s, over
                        1- and 3-record notifications with and without E2E-CRC
records_per_s_vm        the same set inside MicroPython 1.29 (WebAssembly, node)
bytes_per_record_vm     gc.mem_alloc() growth per decoded record (gc disabled); the
                        Record object and the result list are the expected cost
fuzz_inputs             hypothesis inputs: raw bytes, and valid notifications with bytes
                        flipped, cut or appended (structure-aware); every input must
                        give records or CgmFormatError
fuzz_crashes            inputs that raised anything else or broke an invariant (target 0)
"""

import os
import time

from basalt.core import cgms, cgms_sensor
from tools import ROOT
from tools.bench import progress


def bench_set():
    out = []
    for crc in (False, True):
        one = bytes(cgms_sensor.encode_record(0x0078, 5, None, None, None, crc))
        full = bytes(cgms_sensor.encode_record(0xF4B5, 6, 0x010002, 0xF00F, 0x005F, crc))
        out.append((one, crc))
        out.append((full + one + full, crc))
    return out


def records_per_s_cpython(seconds=1.0, runs=3):
    items = bench_set()
    decode = cgms.decode_measurements
    best = 0.0
    for _ in range(runs):
        records = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(100):
                for data, crc in items:
                    records += len(decode(data, crc))
            progress.tick()
        best = max(best, records / (time.perf_counter() - start))
    return best


def vm_figures(repeat=3_000, fuzz=20_000):
    import json

    from tools.mpvm import run_micropython

    progress.phase("MicroPython VM (decode rate, allocations, %d fuzz inputs)" % fuzz)
    out = run_micropython(os.path.join(ROOT, "tools", "bench", "cgm_vm.py"),
                          lib_dirs=(os.path.join(ROOT, "firmware", "basalt"),),
                          args=(repeat, fuzz), waiting=progress.tick)
    result = json.loads(out.strip().splitlines()[-1])
    if not result["control_bytes_per_record"] > 0:
        raise RuntimeError("the allocation probe saw no allocation: the method is broken")
    return result


def fuzz(examples):
    """Run the decoder on `examples` hypothesis inputs per strategy; count crashes."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    seen = {"inputs": 0, "records": 0, "errors": 0, "crashes": 0, "first_crash": None}

    def check(data, crc):
        seen["inputs"] += 1
        progress.advance()
        try:
            records = cgms.decode_measurements(data, crc)
        except cgms.CgmFormatError:
            seen["errors"] += 1
            return
        except Exception as error:  # a crash: anything but the typed error
            _crash(seen, data, crc, error)
            return
        total = sum(cgms.record_size(r.flags, crc) for r in records)
        if not records or total != len(data) or any(
                (r.glucose_milli is None) != (r.glucose_special is not None) for r in records):
            _crash(seen, data, crc, AssertionError("records break an invariant"))
            return
        seen["records"] += 1

    options = settings(max_examples=examples, deadline=None, database=None,
                       phases=[Phase.generate], suppress_health_check=list(HealthCheck))

    @options
    @given(st.binary(max_size=48), st.booleans())
    def raw(data, crc):
        check(data, crc)

    valid = st.builds(
        lambda g, off, ann, trend, quality, crc: (bytes(cgms_sensor.encode_record(
            g, off, ann, trend, quality, crc)), crc),
        st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.none() | st.integers(0, 0xFFFFFF),
        st.none() | st.integers(0, 0xFFFF), st.none() | st.integers(0, 0xFFFF), st.booleans())

    @options
    @given(st.lists(valid, min_size=1, max_size=4), st.integers(0, 400),
           st.integers(0, 255), st.sampled_from(["flip", "cut", "append", "keep"]))
    def mutated(records, where, byte, how):
        data = bytearray(b"".join(d for d, _ in records))
        crc = records[0][1]
        i = where % len(data)
        if how == "flip":
            data[i] ^= byte or 1
        elif how == "cut":
            del data[i:]
        elif how == "append":
            data.append(byte)
        check(bytes(data), crc)

    started = time.perf_counter()
    progress.phase("hypothesis fuzz:", 2 * examples, "inputs")
    raw()
    mutated()
    seen["seconds"] = round(time.perf_counter() - started, 1)
    return seen


def _crash(seen, data, crc, error):
    seen["crashes"] += 1
    if seen["first_crash"] is None:
        seen["first_crash"] = "%s crc=%s: %r" % (data.hex(), crc, error)


def run(fuzz_examples=50_000):
    vm = vm_figures()
    fuzzed = fuzz(fuzz_examples)
    progress.phase("CPython decode rate (best of 3 s)")
    return {
        "records_per_s_cpython": round(records_per_s_cpython()),
        "records_per_s_vm": vm["records_per_s"],
        "bytes_per_record_vm": vm["bytes_per_record"],
        "vm_control_bytes_per_record": vm["control_bytes_per_record"],
        "vm_fuzz_inputs": vm["fuzz_inputs"],
        "vm_fuzz_crashes": vm["fuzz_crashes"],
        "fuzz_inputs": fuzzed["inputs"],
        "fuzz_crashes": fuzzed["crashes"],
        "fuzz_first_crash": fuzzed["first_crash"],
        "fuzz_decoded": fuzzed["records"],
        "fuzz_refused": fuzzed["errors"],
        "fuzz_seconds": fuzzed["seconds"],
        "targets": {"fuzz_inputs": ">= 100000", "fuzz_crashes": "0",
                    "vm_fuzz_crashes": "0"},
    }


def add_arguments(parser):
    parser.add_argument("--fuzz", type=int, default=50_000,
                        help="hypothesis inputs per strategy (two strategies)")


def bench(args, parser):
    if args.fuzz < 1:
        parser.error("--fuzz must be at least 1")
    return run(args.fuzz)
