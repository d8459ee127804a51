"""Story: a new reservoir, "New site too?" answered yes, prime (the primed microsteps),
then Menu > Site changed; the history shows both site changes
(host_tests/stories/new_reservoir_site.json)."""

from tools.devicevm.testing import story_test

test_story_new_reservoir_site = story_test("new_reservoir_site")
