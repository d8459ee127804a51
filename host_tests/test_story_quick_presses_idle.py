"""Story: taps of 40 ms (twice the debounce time, shorter than a redraw) are caught
while the UI task waits idle for a key's edge: on the dimmed screen, on the awake one
(host_tests/stories/quick_presses_idle.json)."""

from tools.devicevm.testing import story_test

test_story_quick_presses_idle = story_test("quick_presses_idle")
