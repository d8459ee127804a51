"""ESP32: STEP pulses timed by the RMT peripheral. MicroPython only.

API used (MicroPython 1.29, docs/library/esp32.rst and ports/esp32/esp32_rmt.c; 1.27 was
the first release on ESP-IDF's new RMT driver): esp32.RMT(channel, *, pin,
resolution_hz, idle_level) -- `channel` is only kept for compatibility;
write_pulses(durations, levels) ("mode 3": two equal-length lists, durations 1..32767
ticks), which blocks while an earlier sequence is still being sent; wait_done(*,
timeout=0 ms) (True when idle). We do not use loop_count(n): a finite loop count is not
supported by the original ESP32's RMT. We do not use active(False) either: on the
original ESP32, ESP-IDF stops a transmission by spinning with interrupts off until it
ends (the ESP32 RMT cannot stop asynchronously: ESP-IDF issue 13548, and the FIXME in
esp32_rmt.c about sequences over 300 ms tripping the interrupt watchdog).

How a move is sent. Each step is a slot: STEP high for pulse_us, then low until the next
step's rising edge. The schedule is kept as the tick time of the next rising edge. The
driver sends the schedule in chunks of whole slots covering about one poll interval
(learnt from how often busy()/poll() is called) plus _JOIN_US/2; when a poll finds the
chunk in flight ending within _JOIN_US, it writes the next chunk at once and
write_pulses() waits for the running one to end, so consecutive chunks join with no gap
(the next chunk starts exactly where the schedule says). If the app polls late and the
channel has gone idle, the schedule slips by the lateness: steps are never sent faster
than the move's own rate to catch up. A slot longer than a chunk is split: its low time
is finished by the next chunk's leading low (or, after the last step, by time alone).

steps_done() for an aborted move (conservative, never fewer than the motor made):
stop() first drives EN inactive, then reads ticks_us() as t_cut. Completed chunks count
in full. Of the chunk in flight we count every step whose rising edge was scheduled at
or before t_cut, measured from the tick time read just before write_pulses(). The
hardware starts that chunk a little later than the time we read (the call itself takes
time), so every real edge is at or after its scheduled time: an edge that reached the
enabled driver is always counted, and an edge counted may at worst have come after EN
went inactive (a pulse to a disabled driver, which does not move the motor). The rest of
the chunk is then let run out into the disabled driver (at most one chunk, below
_POLL_MAX_US + _JOIN_US); stop() waits for it so that the next move starts clean.
"""

from basalt.drivers.stepdir import StepDirMotor, hw_module

try:
    from micropython import const
except ImportError:  # CPython (host tests)

    def const(value):
        return value


_TICK_HZ = const(1_000_000)  # RMT resolution: 1 tick = 1 us
_PULSE_MAX = const(32767)  # RMT.PULSE_MAX: the longest duration of one entry, in ticks
# Chunk buffers: two entries per slot for _BUFFER_MS at max_step_hz, plus room for long
# lows; at most _ENTRIES_MAX (2 lists x 4 bytes x 2560 = 20 kB). 2 kHz: 1264 entries.
_BUFFER_MS = const(300)
_ENTRIES_SPARE = const(64)
_ENTRIES_MAX = const(2560)
_JOIN_US = const(20_000)  # a poll this close to a chunk's end writes the next chunk
_POLL_MIN_US = const(2_000)  # calls closer together than this are one poll
_POLL_MAX_US = const(500_000)
_POLL_GUESS_US = const(250_000)  # the app's tick, until a poll interval has been seen
_DRAIN_MARGIN_MS = const(50)


class _Slicer:
    def __getitem__(self, key):
        return key


# `del buf[_ALL]` empties a list in place and keeps its capacity. Built once: `del buf[:]`
# makes a new slice object each time (16 bytes measured in the MicroPython 1.29 VM).
_ALL = _Slicer()[:]


class RmtStepper(StepDirMotor):
    """Motor port on a STEP/DIR/EN driver with STEP timed by one RMT TX channel."""

    def __init__(self, config, channel=0, machine=None, esp32=None, time=None):
        StepDirMotor.__init__(self, config, machine, time)  # EN inactive before all else
        esp32 = hw_module(esp32, "esp32")
        self._rmt = esp32.RMT(channel, pin=self._step, resolution_hz=_TICK_HZ,
                              idle_level=bool(self._off))
        # Buffers allocated once: the chunk (durations, levels) and its edge offsets.
        entries = 2 * config.max_step_hz * _BUFFER_MS // 1000 + _ENTRIES_SPARE
        self.chunk_entries = entries = min(entries, _ENTRIES_MAX)
        self._dur = [0] * entries
        self._lvl = [0] * entries
        self._edges = [0] * (entries // 2)
        self._poll_us = _POLL_GUESS_US
        self._last_poll = self._time.ticks_us()
        self._reset_move()

    def _reset_move(self):
        self._period = 0
        self._sent = 0  # steps placed in chunks
        self._confirmed = 0  # steps in chunks the RMT has finished
        self._next_edge = 0  # ticks_us of the rising edge of step number self._sent
        self._end = 0  # ticks_us when the last step's period ends
        self._fl_steps = 0  # steps in the chunk in flight (0: none in flight)
        self._fl_t0 = 0  # ticks_us read just before that chunk was written
        self._fl_len = 0  # its length in us

    # ----- hooks --------------------------------------------------------------------

    def _start(self, steps, period_us):
        self._reset_move()
        self._period = period_us
        self._next_edge = self._time.ticks_us()  # the first step is due now
        self._feed(self._next_edge)
        self._last_poll = self._time.ticks_us()  # move() follows a poll (see _service)

    def _service(self):
        t = self._time
        # The app sleeps a tick between polls; a poll may block (joining chunks), so the
        # interval is measured from the end of one call to the start of the next.
        gap = t.ticks_diff(t.ticks_us(), self._last_poll)
        if gap >= _POLL_MIN_US:  # calls closer together belong to the same poll
            self._poll_us = min(gap, _POLL_MAX_US)
        running = self._service_chunks()
        self._last_poll = t.ticks_us()
        return running

    def _service_chunks(self):
        t = self._time
        now = t.ticks_us()
        if self._fl_steps:
            if self._rmt.wait_done():
                self._confirm()
            else:
                left = self._fl_len - t.ticks_diff(now, self._fl_t0)
                if self._sent < self._steps and left <= _JOIN_US:
                    # write_pulses() returns when the running chunk has ended and this
                    # one has started: the schedule continues without a gap.
                    self._feed(t.ticks_add(self._fl_t0, self._fl_len))
                self._count_live(now)
                return True
        if self._sent < self._steps:
            self._feed(now)
            self._count_live(now)
            return True
        self._done = self._confirmed
        return t.ticks_diff(self._end, now) > 0  # the last period, after the last chunk

    def _abort(self):
        t = self._time
        t_cut = t.ticks_us()  # EN is already inactive (StepDirMotor.stop)
        self._count_live(t_cut)
        if self._fl_steps:
            left_ms = (self._fl_len - t.ticks_diff(t_cut, self._fl_t0)) // 1000
            if not self._rmt.wait_done(timeout=max(left_ms, 0) + _DRAIN_MARGIN_MS):
                # Never seen; latch rather than stop it with active(False) (see above).
                self._fault = "the RMT channel did not finish a chunk of step pulses"
        self._reset_move()

    # ----- chunks -------------------------------------------------------------------

    def _confirm(self):
        self._confirmed += self._fl_steps
        self._fl_steps = 0

    def _count_live(self, now):
        """Confirmed steps plus in-flight steps whose edge was scheduled by `now`."""
        done = self._confirmed
        if self._fl_steps:
            elapsed = self._time.ticks_diff(now, self._fl_t0)
            edges = self._edges
            for i in range(self._fl_steps):
                if edges[i] > elapsed:
                    break
                done += 1
        self._done = done

    def _feed(self, start):
        """Write the next chunk, beginning at tick time `start` (now, or the end of the
        chunk in flight), if the next rising edge is due within the chunk's reach."""
        t = self._time
        target = self._poll_us + _JOIN_US // 2  # chunk length: one poll and a margin
        lead = t.ticks_diff(self._next_edge, start)
        if lead > target:
            return  # more than a poll away: a later poll sends it, on time
        if lead < 0:  # the app polled late: slip the schedule, never catch up
            self._next_edge = start
            lead = 0
        dur = self._dur
        del dur[_ALL]  # length 0, capacity kept: the appends below do not allocate
        del self._lvl[_ALL]
        self._low(lead)
        pulse = self.pulse_us
        period = self._period
        edges = self._edges
        at = lead  # us from `start` to the next rising edge
        k = 0
        while self._sent < self._steps:
            low = period - pulse
            last = at + period > target
            if last:  # the chunk ends inside this slot; the next chunk's lead finishes it
                low = max(target - at - pulse, pulse)
            if len(dur) + 2 + low // _PULSE_MAX > self.chunk_entries:
                break
            edges[k] = at
            k += 1
            dur.append(pulse)
            self._lvl.append(self._on)
            self._low(low)
            at += pulse + low
            self._sent += 1
            self._next_edge = t.ticks_add(self._next_edge, period)
            if last:
                break
        if not k:
            return  # no room for a slot (cannot happen with the buffer sizes above)
        if self._sent == self._steps:
            self._end = self._next_edge  # the last rising edge + one period
        # Blocks until a chunk in flight has ended (then that one is complete).
        self._rmt.write_pulses(dur, self._lvl)
        self._confirm()
        self._fl_steps = k
        self._fl_t0 = start
        self._fl_len = at

    def _low(self, us):
        """Append `us` of idle level, split into entries of at most _PULSE_MAX ticks."""
        off = self._off
        while us > _PULSE_MAX:
            self._dur.append(_PULSE_MAX)
            self._lvl.append(off)
            us -= _PULSE_MAX
        if us > 0:
            self._dur.append(us)
            self._lvl.append(off)
