"""CGM watch: the reading store checked every tick (lost / restored), each reading
stored since the last tick (live or back-filled) put on the event stream for the
history, the newest usable one given to the monitors, the newest one (usable or not)
to the glucose alerts, and the BLE client's link, session and back-fill events passed
on."""



class CgmWatch:
    def __init__(self, monitor, stream, alerts=None):
        self.monitor = monitor
        self.stream = stream
        self.alerts = alerts
        self.lost_ms = None  # the CGM-lost alarm's delay (None: the store's staleness)
        self.store = None  # a basalt.core.readings.ReadingStore, attached by whoever runs it
        self.client = None  # the BLE client filling the store (its events are journaled)

    def rebase(self, shift_ms):
        if self.store is not None:
            self.store.rebase(shift_ms)
        if self.client is not None:
            self.client.rebase(shift_ms)

    def watch(self, now_ms):
        store = self.store
        if store is None:
            return
        if self.lost_ms is not None:
            store.lost_ms = self.lost_ms
        store.check(now_ms)
        stream = self.stream
        newest = -1
        for reading in store.pop_added(now_ms):  # oldest first
            newest = reading.offset
            if reading.mg_dl is None or reading.at_ms < 0:
                # No value; or taken before this boot: a time this boot's journal cannot
                # hold (the boot before journaled it if it was running).
                continue
            detail = {"at_ms": reading.at_ms, "mg_dl": reading.mg_dl,
                      "trend": reading.trend_milli}
            if reading.flags:  # kept in the history, never used to dose
                from basalt.core.readings import flag_names  # loaded with the CGM

                detail["flags"] = ",".join(flag_names(reading.flags))
            stream.emit("glucose", detail)
        if newest == store.latest:
            reading, _ = store.latest_for_dosing(now_ms)
            if reading is not None:
                self.monitor.glucose(now_ms, reading.mg_dl, True)
            shown = store.latest_reading(now_ms) if self.alerts is not None else None
            if shown is not None and shown.mg_dl is not None:
                self.alerts.cgm(now_ms, shown.mg_dl, shown.trend_milli, shown.at_ms,
                                reading is not None)
        stream.extend(store.pop_events())
        if self.client is not None:
            stream.extend(self.client.pop_events())
