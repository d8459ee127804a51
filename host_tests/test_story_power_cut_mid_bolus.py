"""Story: a bolus started from the buttons, the power cut mid-bolus, the reboot: the
boot screen names the interrupted bolus and waits (nothing moves), the Bolus menu offers
to count it, the history shows the interrupted bolus in words and the bolus before the
cut; the plunger never moves past what was delivered before the cut plus basal
(host_tests/stories/power_cut_mid_bolus.json)."""

from tools.devicevm.testing import story_test

test_story_power_cut_mid_bolus = story_test("power_cut_mid_bolus")
