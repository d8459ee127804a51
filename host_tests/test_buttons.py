"""Button decoding: debounce, short and long presses, auto-repeat; pins as callables."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basalt.app.buttons import key_for_pin
from basalt.core.ui.keys import (
    DEBOUNCE_MS,
    LONG,
    LONG_MS,
    PRESS,
    RELEASE,
    REPEAT,
    REPEAT_DELAY_MS,
    REPEAT_MS,
    SELECT,
    SHORT,
    UP,
    ButtonDecoder,
)
from host_tests.vectors.vectorkit import update_all


def decoder():
    events = []
    dec = ButtonDecoder(lambda now, key, kind: events.append((now, key, kind)))
    return dec, events


def drive(dec, key, timeline, poll_ms=1, end_ms=None):
    """timeline: [(at_ms, pressed)] raw levels; sampled every poll_ms until end_ms."""
    level = False
    changes = list(timeline)
    end = end_ms if end_ms is not None else changes[-1][0] + 200
    for now in range(0, end + 1, poll_ms):
        while changes and changes[0][0] <= now:
            level = changes.pop(0)[1]
        dec.update(now, key, level)


def kinds(events):
    return [kind for _, _, kind in events]


def test_a_short_press_is_press_short_release():
    dec, events = decoder()
    drive(dec, SELECT, [(10, True), (150, False)])
    assert kinds(events) == [PRESS, SHORT, RELEASE]
    assert events[0][0] == 10 + DEBOUNCE_MS  # accepted once stable for the debounce time
    assert events[1][0] == 150 + DEBOUNCE_MS


@pytest.mark.parametrize("poll_ms", [1, 5, 10])
def test_contact_bounce_gives_one_press_and_one_release(poll_ms):
    dec, events = decoder()
    bounces = [(10, True), (12, False), (14, True), (17, False), (19, True),
               (300, False), (302, True), (305, False), (308, True), (309, False)]
    drive(dec, SELECT, bounces, poll_ms)
    assert kinds(events) == [PRESS, SHORT, RELEASE]


def test_glitches_shorter_than_the_debounce_time_are_ignored():
    dec, events = decoder()
    drive(dec, UP, [(10, True), (10 + DEBOUNCE_MS - 2, False)], end_ms=500)
    assert events == []


def test_a_long_press_gives_long_then_no_short():
    dec, events = decoder()
    drive(dec, SELECT, [(0, True), (LONG_MS + 300, False)], poll_ms=10)
    got = kinds(events)
    assert got[0] == PRESS and got[-1] == RELEASE
    assert got.count(LONG) == 1 and SHORT not in got
    long_at = [at for at, _, kind in events if kind == LONG][0]
    assert long_at - events[0][0] == LONG_MS


def test_auto_repeat_timing():
    dec, events = decoder()
    hold = REPEAT_DELAY_MS + 10 * REPEAT_MS
    drive(dec, UP, [(0, True), (DEBOUNCE_MS + hold, False)], poll_ms=10)
    repeats = [at for at, _, kind in events if kind == REPEAT]
    press_at = events[0][0]
    assert repeats[0] - press_at == REPEAT_DELAY_MS
    assert [b - a for a, b in zip(repeats, repeats[1:])] == [REPEAT_MS] * (len(repeats) - 1)
    assert len(repeats) == 11


def test_late_polls_do_not_burst_repeats():
    dec, events = decoder()
    dec.update(0, UP, True)
    dec.update(DEBOUNCE_MS, UP, True)
    dec.update(5_000, UP, True)  # the task was late by seconds
    assert kinds(events) == [PRESS, LONG, REPEAT]


def test_keys_are_independent():
    dec, events = decoder()
    for now in range(0, 200):
        update_all(dec, now, 0b0101 if 10 <= now < 100 else 0)
    assert sorted((key, kind) for _, key, kind in events) == [
        (0, PRESS), (0, SHORT), (0, RELEASE), (2, PRESS), (2, SHORT), (2, RELEASE)]


@given(st.lists(st.tuples(st.integers(1, 400), st.booleans()), max_size=60),
       st.integers(1, 30))
def test_any_raw_signal_gives_well_formed_presses(changes, poll_ms):
    """Per press: PRESS, then LONG at most once, REPEATs, then SHORT only without LONG,
    then RELEASE; presses never overlap and each needs a stable debounce window."""
    dec, events = decoder()
    now, timeline = 0, []
    for gap, level in changes:
        now += gap
        timeline.append((now, level))
    timeline.append((now + 1, False))
    drive(dec, SELECT, timeline, poll_ms, end_ms=now + 3_000)
    state = "up"
    long_seen = False
    for _, _, kind in events:
        if kind == PRESS:
            assert state == "up"
            state, long_seen = "down", False
        elif kind == LONG:
            assert state == "down" and not long_seen
            long_seen = True
        elif kind == REPEAT:
            assert state == "down"
        elif kind == SHORT:
            assert state == "down" and not long_seen
            state = "short"
        else:
            assert state in ("down", "short") and (state == "short") != long_seen
            state = "up"
    assert state == "up"
    stable = sum(1 for (a, level), (b, _) in zip(timeline, timeline[1:])
                 if level and b - a >= DEBOUNCE_MS)
    assert kinds(events).count(PRESS) <= stable + 1


class FakePin:
    def __init__(self, level):
        self.level = level

    def value(self):
        return self.level


@pytest.mark.parametrize("invert,level,pressed", [
    (True, 0, True), (True, 1, False), (False, 1, True), (False, 0, False)])
def test_pins_become_pressed_callables(invert, level, pressed):
    assert key_for_pin(FakePin(level), invert)() is pressed
