"""Tick orchestration: one delivery tick, in order, and the recent-events list.

Collect what the motor did, plan what is due, watch the force sensor, the CGM and the
battery, let the loop decide, evaluate the alarms, sound them, keep the records, and
start the next move.
"""

from basalt.core.errors import InvalidValue
from basalt.core.units import shifted

try:
    from micropython import const
except ImportError:  # CPython (host tests)
    def const(value):
        return value

_BATTERY_PERIOD_MS = const(10_000)  # how often the battery is read
_RECENT_EVENTS = const(20)  # kept for the history screen


class Ticker:
    def __init__(self, app, sounder, battery):
        self.app = app
        self.sounder = sounder
        self.battery = battery
        self._battery_at = app.clock.now_ms() - _BATTERY_PERIOD_MS

    def rebase(self, shift_ms):
        self._battery_at = shifted(self._battery_at, shift_ms)

    def step(self, now_ms):
        app = self.app
        motion = app.motion
        self._reap(now_ms)
        app.occlusion.watch(now_ms)
        motion.plan(app.engine.tick(now_ms))
        app.iob_feed.update(now_ms)
        app.activity.tick(now_ms)
        store = app.cgm_watch.store
        if store is not None:
            app.cgm_watch.watch(now_ms)
            app.loop_runner.step(now_ms, store)
        self._read_battery(now_ms)
        app.monitor.evaluate(now_ms)
        engine = app.engine
        app.alerts.basal(now_ms, engine.stop_reason is None and engine.basal_rate_mu_h() == 0)
        app.alerts.evaluate(now_ms)
        app.collect()
        self.sounder.update(now_ms)
        keeper = app.keeper
        if keeper is not None:
            keeper.on_tick(now_ms)
            app.collect()
        self._reap(now_ms)  # a move that ended during this tick is counted before the next
        motion.start_next(now_ms, keeper)

    def _reap(self, now_ms):
        fault = self.app.motion.reap(now_ms)
        if fault is not None:
            self.app.router.fault("delivery_fault", fault)

    def _read_battery(self, now_ms):
        if self.battery is None or now_ms - self._battery_at < _BATTERY_PERIOD_MS:
            return
        self._battery_at = now_ms
        try:
            self.app.monitor.battery_mv(now_ms, self.battery.read_mv())
        except (OSError, InvalidValue):
            pass  # a failed or nonsense read is skipped; the level stays as it was


class RecentEvents:
    """The "recent" reader of the event stream: the last _RECENT_EVENTS events, oldest
    first, for the history screen, and how many it has seen (the screen redraws when
    that changes)."""

    def __init__(self):
        self.events = []
        self.seen = 0

    def rebase(self, shift_ms, stream):
        """Its events' times, but those the stream still holds (it shifts those)."""
        stream.rebase_events(self.events, shift_ms)

    def on_event(self, kind, detail):
        events = self.events
        events.append((kind, detail))
        if len(events) > _RECENT_EVENTS:
            del events[0]
        self.seen += 1
