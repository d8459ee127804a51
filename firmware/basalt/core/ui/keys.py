"""Button decoding: raw pressed/released samples in, timestamped key events out.

Pure and synchronous (the polling task in basalt/app/buttons.py feeds it), so tests drive
it with any timing. Per key:
  PRESS   the press is accepted: the key was seen down for debounce_ms without a gap
  LONG    still held long_ms after PRESS (once per press)
  REPEAT  held past repeat_delay_ms: one every repeat_ms (fast number entry)
  SHORT   released before LONG: the ordinary "click" (select and back act on it)
  RELEASE the release is accepted (up for debounce_ms), after SHORT if there was one
A sample that differs from the accepted state only counts once it has lasted
debounce_ms, so contact bounce never makes a second PRESS or SHORT.
"""

from basalt.core.units import shift_list

UP = 0
DOWN = 1
SELECT = 2
BACK = 3
KEY_NAMES = ("up", "down", "select", "back")

PRESS = 0
LONG = 1
REPEAT = 2
SHORT = 3
RELEASE = 4

DEBOUNCE_MS = 20
LONG_MS = 1_000
REPEAT_DELAY_MS = 500
REPEAT_MS = 100


class ButtonDecoder:
    """Debounces up to four keys and emits events to sink(now_ms, key, kind)."""

    def __init__(self, sink, keys=4, debounce_ms=DEBOUNCE_MS, long_ms=LONG_MS,
                 repeat_delay_ms=REPEAT_DELAY_MS, repeat_ms=REPEAT_MS):
        self.sink = sink
        self.keys = keys
        self.debounce_ms = debounce_ms
        self.long_ms = long_ms
        self.repeat_delay_ms = repeat_delay_ms
        self.repeat_ms = repeat_ms
        self._down = [False] * keys  # accepted state
        self._change_at = [-1] * keys  # when the raw sample first differed, or -1
        self._pressed_at = [0] * keys
        self._long_sent = [False] * keys
        self._next_repeat = [0] * keys

    def rebase(self, shift_ms):
        """The clock moved back by shift_ms (a waiting change's -1 means none)."""
        change = self._change_at
        for key in range(self.keys):
            if change[key] >= 0:
                change[key] = max(0, change[key] - shift_ms)
        shift_list(self._pressed_at, shift_ms)
        shift_list(self._next_repeat, shift_ms)

    def update(self, now_ms, key, raw_down):
        """One raw sample of one key at now_ms (True = pressed)."""
        if raw_down == self._down[key]:
            self._change_at[key] = -1
        elif self._change_at[key] < 0:
            self._change_at[key] = now_ms
        if self._change_at[key] >= 0 and now_ms - self._change_at[key] >= self.debounce_ms:
            self._change_at[key] = -1
            self._down[key] = raw_down
            if raw_down:
                self._accept_press(now_ms, key)
            else:
                self._accept_release(now_ms, key)
        elif self._down[key]:
            self._held(now_ms, key)

    def idle(self):
        """No key held and no change waiting out its debounce time."""
        for key in range(self.keys):
            if self._down[key] or self._change_at[key] >= 0:
                return False
        return True

    def _accept_press(self, now_ms, key):
        self._pressed_at[key] = now_ms
        self._long_sent[key] = False
        self._next_repeat[key] = now_ms + self.repeat_delay_ms
        self.sink(now_ms, key, PRESS)

    def _accept_release(self, now_ms, key):
        if not self._long_sent[key]:
            self.sink(now_ms, key, SHORT)
        self.sink(now_ms, key, RELEASE)

    def _held(self, now_ms, key):
        if not self._long_sent[key] and now_ms - self._pressed_at[key] >= self.long_ms:
            self._long_sent[key] = True
            self.sink(now_ms, key, LONG)
        if now_ms - self._next_repeat[key] >= 0:
            # One repeat per sample at most; late samples do not burst.
            self._next_repeat[key] = now_ms + self.repeat_ms
            self.sink(now_ms, key, REPEAT)
