"""User story host_tests/stories/new_reservoir_prime.json on every board file, in the device VM
(the real firmware in MicroPython, driven by keys, read from the framebuffer)."""

import pytest

from tools.devicevm import BOARDS, story_failures
from tools.mpvm import missing_requirements

STORY = "host_tests/stories/new_reservoir_prime.json"

pytestmark = pytest.mark.skipif(missing_requirements() is not None,
                                reason=str(missing_requirements()))


@pytest.mark.parametrize("board", BOARDS, ids=BOARDS)
def test_story_new_reservoir_prime(board):
    failures = story_failures(STORY, board)
    assert not failures, failures
