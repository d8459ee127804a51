"""Smoke vectors: integer and text behaviour the core relies on, which must be the same
on CPython and MicroPython. Proves the MicroPython lane works without any core code.

One JSON object per line: {"case": NAME, "result": VALUE}. Deterministic: no random,
no time, no floats, no dict iteration order (MicroPython dicts are not insertion
ordered; canonical() orders keys itself), ASCII text only (CPython's json escapes
non-ASCII, MicroPython's does not).
"""

import json


def canonical(obj):
    """Compact JSON with sorted keys, identical on both interpreters."""
    if isinstance(obj, dict):
        keys = sorted(obj)
        return "{" + ",".join(json.dumps(str(k)) + ":" + canonical(obj[k]) for k in keys) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(canonical(v) for v in obj) + "]"
    if isinstance(obj, float):
        raise TypeError("floats are not allowed in vectors (repr differs): %r" % (obj,))
    return json.dumps(obj, separators=(",", ":"))


def emit(case, result):
    print(canonical({"case": case, "result": result}))


BIG = 2**30  # beyond this a 32-bit MicroPython int is a heap-allocated big int

# Floor division and modulo take the sign of the divisor (Python semantics, not C).
pairs = [(-7, 2), (7, -2), (-7, -2), (-1, 1000), (-999, 1000), (-(BIG + 5), 3), (BIG * 5 + 1, -7)]
emit("floordiv", [[a, b, a // b] for a, b in pairs])
emit("mod", [[a, b, a % b] for a, b in pairs])
emit("divmod", [[a, b, list(divmod(a, b))] for a, b in pairs])
# Rounding a rate to microsteps: half-up on integers, also for negatives.
emit("round_half_up", [(n * 2 + d) // (2 * d) for n, d in [(5, 2), (-5, 2), (7, 3), (-7, 3)]])

# int.to_bytes / from_bytes with positional byteorder (MicroPython has no default).
words = [0, 1, 255, 256, 0xFFFF, 0x12345678, 2**32 - 1]
emit("to_bytes_le", [list(w.to_bytes(4, "little")) for w in words])
emit("to_bytes_be", [list(w.to_bytes(4, "big")) for w in words])
emit("from_bytes", [int.from_bytes(bytes([1, 2, 3, 4]), "little"),
                    int.from_bytes(bytes([1, 2, 3, 4]), "big"),
                    int.from_bytes(b"\xff\xff", "little")])
# Signed 16-bit (e.g. a CGM SFLOAT mantissa) through masking, no signed= keyword.
emit("int16", [(v & 0xFFFF) - 0x10000 if v & 0x8000 else v & 0xFFFF
               for v in [0, 1, -1, 32767, -32768, 0x8000, 0xFFFF]])

# Big ints beyond small-int range: arithmetic, comparison, shifts and masks.
emit("big_arith", [BIG - 1, BIG, BIG + 1, 2**31, 2**32 + 7, BIG * BIG, -(BIG * 3) // 7,
                   (2**64 + 13) % 1000003, pow(3, 100, 2**61 - 1), 10**20 // 3])
emit("big_bits", [(-(2**40)) >> 3, (-(2**40)) & 0xFFFF, (2**40 + 5) & 0xFF, 1 << 40,
                  (2**45) >> 44, (2**35) | 1, (2**35) ^ (2**35 + 1)])
emit("big_cmp", [BIG > BIG - 1, 2**40 == 2**40, -(2**40) < -(2**39), 2**40 // 2**10 == 2**30])
# Milliunits per hour accumulated over 30 days of microsteps stays exact.
emit("accumulate", sum(12345 * i for i in range(1, 2001)))

# Text formatting used in messages and the display.
emit("format", ["%05d|%-4d|%x|%s" % (-42, 7, 255, None), "{:>6}|{:06d}|{:+d}".format("ab", -42, 5),
                "%d.%03d U" % divmod(12345, 1000), hex(-255), str(-0)])

# JSON: compact separators; keys ordered by canonical(), whatever the insertion order.
a = {}
for k in ["zeta", "alpha", "mid", "b", "aa"]:
    a[k] = len(k)
b = {}
for k in ["aa", "b", "mid", "alpha", "zeta"]:
    b[k] = len(k)
emit("json_sorted", [canonical(a), canonical(a) == canonical(b)])
emit("json_values", json.dumps([1, -2, None, True, False, "q\"b\\s\n\t"], separators=(",", ":")))
emit("json_loads", canonical(json.loads('{"b": [1, {"y": 2, "x": null}], "a": "s"}')))

# Tuple comparison is lexicographic. MicroPython's sort is NOT stable: a key must break
# every tie (sorted(["bb", "a", "dd"], key=len) gives a different order there).
emit("sorted", sorted([(2, "b"), (1, "z"), (1, "a"), (0, "m")]))
emit("sorted_key", sorted(["bb", "a", "ccc", "dd"], key=lambda s: (len(s), s)))
