"""What a prime teaches the occlusion detector about the rig's flow (pure; integers).

Loaded when a prime starts (basalt.app.occlusion_watch) and dropped when it has taught
what it could. The prime pushes insulin fast through the line; the force rises with the
pressure the flow needs and drains once the prime stops. Over the excess force above the
settled friction (the mean of the drain's last SETTLED_MS): its area over the steps
pushed is the steady flow force per step of rate (the allowance's gain x its time
constant), and the drain's area until the excess is under 5 % of the prime's, over the
excess at the prime's end, is the time constant. The allowance is set 5/4 above both.
"""

from basalt.core.occlusion import _clamp_in, _weight

TAIL_MS = 150_000  # after a prime, its pressure is watched draining this long
SETTLED_MS = 40_000  # the settled force: the mean of the drain's last readings
_BIN_MS = 10_000  # the drain's area is kept in bins this long
_MIN_STEPS = 200  # a smaller prime teaches nothing about the flow
_MIN_MN = 150  # nor one whose pressure is this close to the noise
_FLOW_MS_MAX = 45_000  # the longest flow time constant learned


class PrimeLearner:
    def __init__(self):
        self.start = None  # the first reading's time, force; None before it
        self.ref = self.area = self.steps = 0
        self.end = None  # when the prime ended
        self.excess = self.total = self.count = 0
        self.fast = self.last = 0
        self.bins = [0] * (TAIL_MS // _BIN_MS)

    def read(self, now_ms, steps, force_mn, priming):
        """One reading while priming (priming True), then while its pressure drains
        (TAIL_MS). True once done: result() says what it learned."""
        if self.start is None:
            self.start, self.ref, self.fast, self.last = now_ms, force_mn, force_mn, now_ms
            return not priming
        dt = now_ms - self.last
        self.last = now_ms
        area = (force_mn - self.ref) * (dt // 10)  # mN x 10 ms
        self.steps += steps
        self.fast += (force_mn - self.fast) * _weight(dt, 1_000) // 256
        if priming or self.end is None:
            self.area += area
            if not priming:  # the prime's last steps may come with this reading
                self.end, self.excess = now_ms, self.fast
            return False
        if steps:  # delivery began: the drain is not the prime's alone
            self.steps = 0
            return True
        since = now_ms - self.end
        self.bins[min(since // _BIN_MS, len(self.bins) - 1)] += area
        if since > TAIL_MS - SETTLED_MS:
            self.total += force_mn
            self.count += 1
        return since >= TAIL_MS

    def result(self):
        """(gain uN/step, time constant ms) for the flow allowance, or (None, None)."""
        if not self.count:
            return None, None
        settled = self.total // self.count - self.ref  # where the force came to rest,
        end = self.excess - self.ref - settled  # above where it started; the prime's
        span = _BIN_MS // 10
        tail = 0
        for area in self.bins:
            excess = area - settled * span
            tail += excess
            if excess < end * span // 20:
                break
        area = self.area - settled * ((self.end - self.start) // 10) + tail
        if self.steps < _MIN_STEPS or end < _MIN_MN or area <= 0 or tail <= 0:
            return None, None  # too little pushed or seen: the reference allowance stays
        tau = tail * 10 // end
        gain = area * 12_500 // (self.steps * (tau if tau > 250 else 250))
        return _clamp_in(gain, 1_000, 40_000), _clamp_in(tau * 5 // 4, 1_000, _FLOW_MS_MAX)
