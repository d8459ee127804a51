"""Story: Menu > Basal > Profile > Edit segments: one segment's rate changed and
confirmed with the day's total; the motor's microsteps over the next 30 simulated
minutes match the new rate (host_tests/stories/profile_edit.json)."""

from tools.devicevm.testing import story_test

test_story_profile_edit = story_test("profile_edit")
