"""Story: CGM pairing from the buttons (host_tests/stories/cgm_pairing.json), the real
firmware with the fake BLE link (tools/devicevm/py/vble.py). ESP32: the number is shown
and select pairs; the CGM screen says bonded and shows the reading; a second, unbonded
sensor with the same data and a device copying the bonded sensor's address are never
used (no question asked, the copy's request refused and journaled); the bonded sensor
is taken again, also after a power cut (the bond is in /data). Pico W: no question, the
CGM screen says unauthenticated and only the first sensor's readings are used."""

from tools.devicevm.testing import story_test

test_story_cgm_pairing = story_test("cgm_pairing")
