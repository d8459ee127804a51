"""Story: without a CGM the calculator asks for a glucose; 200 mg/dL typed and 30 g give
meal 3.00 + correction 1.60 = 4.60 U, confirmed; the motor moves exactly that (plus the
basal since the resume) and the history shows the meter reading
(host_tests/stories/meal_bolus_typed_glucose.json)."""

from tools.devicevm.testing import story_test

test_story_meal_bolus_typed_glucose = story_test("meal_bolus_typed_glucose")
