"""The one event stream: an append-only log of (kind, detail) events and its readers.

Every part that has something to say (the engine, the alarm manager, the CGM store, the
persistence) puts it here with emit(); nobody appends anywhere else. Each reader is
named when it subscribes and its cursor is kept here, not by the reader: the journal,
the alarm routing, the loop's carb record, the UI's recent list, a host tool popping
events. Events every cursor has passed are dropped, so the log stays as short as its
slowest reader needs.

publish() hands each reader with a handler the events it has not seen, in order, the
readers in the order they subscribed; a handler may emit (an alarm raised by the
routing), and those events reach every reader in the same publish().
"""

from basalt.core.units import shifted

EVENT_TIMES = ("at_ms", "from_ms", "until_ms", "last_reading_ms")  # times in a detail


class EventStream:
    def __init__(self):
        self._log = []
        self._base = 0  # stream position of _log[0]
        self._names = []  # readers in subscription order
        self._cursors = {}  # name -> stream position of its next event
        self._handlers = {}  # name -> handler(kind, detail), or None (read with take())
        self._publishing = False

    def emit(self, kind, detail):
        self._log.append((kind, detail))

    def extend(self, events):
        """Several events at once, oldest first (a part's own pop_events())."""
        if events:
            self._log.extend(events)

    def end(self):
        """The stream position after the newest event: how many were ever emitted."""
        return self._base + len(self._log)

    def subscribe(self, name, handler=None, from_start=True):
        """A reader from the oldest event kept (or from now); handler(kind, detail) is
        called by publish(), or, with none, the reader calls take()."""
        if name in self._cursors:
            raise ValueError("event reader %r is already subscribed" % name)
        self._names.append(name)
        self._cursors[name] = self._base if from_start else self.end()
        self._handlers[name] = handler

    def unsubscribe(self, name):
        self._names.remove(name)
        del self._cursors[name]
        del self._handlers[name]
        self._trim()

    def publish(self):
        """Deliver what each handler has not seen yet; repeats until none is behind."""
        if self._publishing:  # a handler's emit: the running loop delivers it
            return
        self._publishing = True
        try:
            busy = True
            while busy:
                busy = False
                for name in self._names:
                    handler = self._handlers[name]
                    if handler is not None and self._cursors[name] < self.end():
                        busy = True
                        self._deliver(name, handler)
        finally:
            self._publishing = False
        self._trim()

    def _deliver(self, name, handler):
        while self._cursors[name] < self.end():
            kind, detail = self._log[self._cursors[name] - self._base]
            self._cursors[name] += 1
            handler(kind, detail)

    def take(self, name):
        """The events reader `name` (one without a handler) has not seen, oldest first."""
        start = self._cursors[name] - self._base
        events = self._log[start:]
        self._cursors[name] = self.end()
        self._trim()
        return events

    def rebase(self, shift_ms):
        """The clock moved back by shift_ms: the events still held move with it."""
        shift_events(self._log, shift_ms)

    def rebase_events(self, events, shift_ms):
        """A reader's own copy of (kind, detail) events: shifted, but the details the
        stream still holds (rebase() shifts those; a detail moves once)."""
        held = set()
        for _, detail in self._log:
            held.add(id(detail))
        for _, detail in events:
            if id(detail) not in held:
                _shift_detail(detail, shift_ms)

    def _trim(self):
        if not self._names:  # nobody reads: nothing to keep
            self._base = self.end()
            del self._log[:]
            return
        cursors = self._cursors
        low = self.end()
        for name in self._names:  # a loop, not min() over a generator: no allocation
            if cursors[name] < low:
                low = cursors[name]
        drop = low - self._base
        if drop > 0:
            del self._log[:drop]
            self._base = low


def shift_events(events, shift_ms):
    """(kind, detail) events whose times move back by shift_ms (a part's pending ones)."""
    for _, detail in events:
        _shift_detail(detail, shift_ms)


def _shift_detail(detail, shift_ms):
    for key in EVENT_TIMES:
        if key in detail:
            detail[key] = shifted(detail[key], shift_ms)
