"""Story: the CGM reads 50 mg/dL; URGENT LOW wakes the screen, heads the menu, says what
to do, cannot be snoozed; acknowledged, it alerts again 15 min later while still low,
and ends once read and recovered (host_tests/stories/urgent_low_acknowledged.json)."""

from tools.devicevm.testing import story_test

test_story_urgent_low_acknowledged = story_test("urgent_low_acknowledged")
