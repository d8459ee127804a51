"""Vector scripts for the MicroPython lane (see host_tests/test_micropython_lane.py).

Each ``*_vectors.py`` here prints one JSON object per line; CPython and MicroPython must
print exactly the same lines. In MicroPython this folder is ``/lib/vectors``.
"""
