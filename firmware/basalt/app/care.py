"""The command table's "care" part: what the user tells the pump about their body and
their set (a fingerstick, carbs for a low, a new site), put on the event stream (the
journal, the history) and handed to the reminders and alerts."""

from basalt.core.limits import STALE_MS  # the age beyond which glucose may not dose
from basalt.core.units import shifted


class Care:
    def __init__(self, alerts, monitor, stream):
        self.alerts = alerts
        self.monitor = monitor
        self.stream = stream
        self.typed = None  # (mg/dL, at_ms) of the newest fingerstick

    def rebase(self, shift_ms):
        if self.typed is not None:
            self.typed = (self.typed[0], shifted(self.typed[1], shift_ms))

    def glucose(self, now_ms, mg_dl):
        self.typed = (mg_dl, now_ms)
        self.stream.emit("glucose", {"at_ms": now_ms, "mg_dl": mg_dl, "source": "finger"})
        self.monitor.glucose(now_ms, mg_dl, from_cgm=False)
        self.alerts.fingerstick(now_ms, mg_dl)
        return mg_dl

    def typed_for_dosing(self, now_ms):
        """The fingerstick the calculator may use (as fresh as a CGM reading must be)."""
        typed = self.typed
        if typed is None or now_ms - typed[1] > STALE_MS:
            return None
        return typed[0]

    def treat_low(self, now_ms, grams):
        """Fast carbs for a low: logged, never dosed for, and never told to the loop
        (carbs it knew of would make it dose insulin for them)."""
        self.stream.emit("low_treated", {"at_ms": now_ms, "grams": grams})
        self.alerts.treated(now_ms)
        return grams

    def site_changed(self, now_ms):
        self.stream.emit("site_changed", {"at_ms": now_ms})
        self.monitor.site_changed(now_ms)
