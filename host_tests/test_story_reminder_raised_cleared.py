"""Story: a typed 60 mg/dL offers the 15 g rule; 15 g confirmed (no insulin), the recheck
reminder comes 15 min later, heads the menu, and a typed reading clears it
(host_tests/stories/reminder_raised_cleared.json)."""

from tools.devicevm.testing import story_test

test_story_reminder_raised_cleared = story_test("reminder_raised_cleared")
