# Virtual-time `asyncio` for the device VM (installed as sys.modules["asyncio"]).
#
# A deterministic scheduler over vtime: a task that sleeps is due at now + delay; run_for()
# runs every due task in time order (ties in creation order), advancing the clock to each
# wake-up, so hours of firmware time take seconds. Coroutines yield an int (ms to sleep)
# or _PARK (wait for an Event or a Task). asyncio.run() only starts its coroutine: the
# story runner drives the loop. The subset the firmware and aioble-like code use.

import sys

import vtime

_PARK = -1


class CancelledError(BaseException):
    pass


class TimeoutError(Exception):
    pass


class Task:
    def __init__(self, coro, seq):
        self.coro = coro
        self.seq = seq
        self.wake = vtime.now_us()  # due now; None while parked
        self.blocker = None  # the Event or Task it waits for
        self.waiters = []
        self.finished = False
        self.result = None
        self.error = None
        self.throw = None

    def done(self):
        return self.finished

    def cancel(self):
        if self.finished:
            return False
        self.throw = CancelledError()
        self.blocker = None
        self.wake = vtime.now_us()
        return True

    def __iter__(self):
        if not self.finished:
            me = _state["current"]
            me.blocker = self
            self.waiters.append(me)
            yield _PARK
        if self.error is not None:
            raise self.error
        return self.result

    __await__ = __iter__


_state = {"tasks": [], "seq": 0, "current": None, "crashes": []}


def reset():
    """Power off: every task is forgotten (not cancelled: the chip just stops)."""
    _state["tasks"] = []
    _state["current"] = None
    _state["crashes"] = []


def create_task(coro):
    _state["seq"] += 1
    task = Task(coro, _state["seq"])
    _state["tasks"].append(task)
    return task


def run(coro):
    return create_task(coro)


def current_task():
    return _state["current"]


def sleep_ms(ms):
    yield max(0, int(ms))


def sleep(s):
    yield max(0, int(s * 1000))


class Event:
    def __init__(self):
        self.state = False
        self.waiting = []

    def is_set(self):
        return self.state

    def set(self):
        self.state = True
        _wake(self.waiting, self)
        self.waiting = []

    def clear(self):
        self.state = False

    def wait(self):
        if not self.state:
            me = _state["current"]
            me.blocker = self
            self.waiting.append(me)
            try:
                yield _PARK
            finally:  # a cancelled wait (wait_for_ms's timeout) waits no more
                if me in self.waiting:
                    self.waiting.remove(me)
        return True


class ThreadSafeFlag(Event):
    """As MicroPython's: wait() clears the flag when it returns."""

    def wait(self):
        yield from Event.wait(self)
        self.state = False
        return True


def wait_for_ms(aw, timeout_ms):
    task = aw if isinstance(aw, Task) else create_task(aw)
    if timeout_ms is not None and not task.finished:
        me = _state["current"]
        me.blocker = task
        task.waiters.append(me)
        yield max(0, int(timeout_ms))  # woken early when the task ends
        if not task.finished:
            task.cancel()
            raise TimeoutError()
    return (yield from task)


def wait_for(aw, timeout):
    return (yield from wait_for_ms(aw, None if timeout is None else int(timeout * 1000)))


def gather(*aws, return_exceptions=False):
    tasks = [aw if isinstance(aw, Task) else create_task(aw) for aw in aws]
    results = []
    for task in tasks:
        try:
            results.append((yield from task))
        except Exception as exc:
            if not return_exceptions:
                raise
            results.append(exc)
    return results


def _wake(tasks, blocker):
    """Make due now every task still waiting for `blocker` (an Event or a Task)."""
    now = vtime.now_us()
    for task in tasks:
        if task.blocker is blocker:
            task.blocker = None
            task.wake = now


def _finish(task, result, error):
    task.finished = True
    task.result = result
    task.error = error
    task.wake = None
    _wake(task.waiters, task)
    if error is not None and not task.waiters and not isinstance(error, CancelledError):
        _state["crashes"].append(error)
        sys.print_exception(error)


def _step(task):
    _state["current"] = task
    task.blocker = None
    try:
        if task.throw is not None:
            exc, task.throw = task.throw, None
            value = task.coro.throw(exc)
        else:
            value = task.coro.send(None)
    except StopIteration as stop:
        _finish(task, stop.value if stop.args else None, None)
        return
    except BaseException as exc:  # noqa: B036 - CancelledError and SystemExit end a task
        _finish(task, None, exc)
        return
    finally:
        _state["current"] = None
    if value == _PARK:
        if task.blocker is None and task.throw is None:  # woken while it yielded
            task.wake = vtime.now_us()
        elif task.throw is None:
            task.wake = None
    elif task.throw is None:
        task.wake = vtime.now_us() + value * 1000


def next_due():
    """The live task due first (None when every task waits)."""
    best = None
    tasks = _state["tasks"]
    for task in tasks:
        if task.wake is not None and (best is None or task.wake < best.wake):
            best = task
    return best


def run_until(end_us, stop=None):
    """Run every task due up to end_us (virtual); the clock ends at end_us. stop(at_us)
    returning True (e.g. a watchdog deadline reached) ends the run early."""
    tasks = _state["tasks"]
    while True:
        task = next_due()
        if task is None or task.wake > end_us:
            if stop is not None and stop(end_us):
                return
            vtime.advance_to(end_us)
            return
        if stop is not None and stop(task.wake):
            return
        vtime.advance_to(task.wake)
        _step(task)
        if task.finished:
            tasks.remove(task)
