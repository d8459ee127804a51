"""Story: Menu > Basal > New reservoir, Prime (the plunger moves the primed amount), then
Resume and the basal rate's microsteps over 7.5 simulated minutes
(host_tests/stories/new_reservoir_prime.json)."""

from tools.devicevm.testing import story_test

test_story_new_reservoir_prime = story_test("new_reservoir_prime")
