"""Story: power on with no valid RTC: the boot screen says the time is not set and asks
for it; set from the buttons (year, month, day, hour, minute, confirmed), the basal of
that time's segment runs and the next segment follows at 09:00
(host_tests/stories/first_boot_clock.json)."""

from tools.devicevm.testing import story_test

test_story_first_boot_clock = story_test("first_boot_clock")
