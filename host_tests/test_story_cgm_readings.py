"""Story: with CGM settings and a sensor in range, readings reach the home screen; a
dropout ages the reading and the RACP back-fill after it is in the history
(host_tests/stories/cgm_readings.json, with host_tests/stories/settings_cgm.json)."""

from tools.devicevm.testing import story_test

test_story_cgm_readings = story_test("cgm_readings")
