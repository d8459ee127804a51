"""Story: the boot screen warns and lists the boot notes until select acknowledges
them; then the home screen and the menu (host_tests/stories/first_boot.json)."""

from tools.devicevm.testing import story_test

test_story_first_boot = story_test("first_boot")
