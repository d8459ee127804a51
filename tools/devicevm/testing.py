"""story_test(name): the pytest test of host_tests/stories/<name>.json on every board
file (ids pico_w, esp32_devkitc); skipped when node or the MicroPython package is
missing. In host_tests/test_story_<name>.py: test_story_<name> = story_test("<name>")
(the story's first step may name its settings file)."""

import pytest

from tools.devicevm import BOARDS, story_failures
from tools.mpvm import missing_requirements


def story_test(name):
    @pytest.mark.skipif(missing_requirements() is not None,
                        reason=str(missing_requirements()))
    @pytest.mark.parametrize("board", BOARDS, ids=BOARDS)
    def test(board):
        failures = story_failures("host_tests/stories/%s.json" % name, board)
        assert not failures, failures

    test.__name__ = "test_story_" + name
    return test
