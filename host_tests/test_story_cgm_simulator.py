"""Story: the CGM simulator board's own firmware (tools/cgm_peripheral/main.py) and the
pump's in one device VM with two radios on one fake air (two VMs cannot share one
virtual clock and scheduler today): they pair (ESP32) or stay unauthenticated (Pico W),
the pump shows the simulator's readings, its console (bg 250, model) and its down button
change the trace, and a dropout (off 3) is back-filled by RACP
(host_tests/stories/cgm_simulator.json)."""

from tools.devicevm.testing import story_test

test_story_cgm_simulator = story_test("cgm_simulator")
