# Virtual `time` for the device VM (installed as sys.modules["time"]). MicroPython only.
#
# The clock is a count of microseconds since power-on that moves only when the story
# runner advances it (the scheduler in vasyncio) or when firmware blocks in sleep_us /
# sleep_ms (the blocking call takes virtual time, as it would on the chip). ticks_*
# wrap at 2**30 as on the rp2 and esp32 ports. The RTC is unset (the port's epoch
# start, 2021) unless a story sets it.

import time as _real

_PERIOD = 1 << 30
_MASK = _PERIOD - 1
_HALF = _PERIOD >> 1
_UNSET_EPOCH = 1609459200  # 2021-01-01, where an rp2's RTC starts after power-up

_now = [0]  # us since power-on
_rtc = [None]  # epoch seconds at _now == 0, or None (unset)


def now_us():
    return _now[0]


def advance_to(us):
    if us > _now[0]:
        _now[0] = us


def power_on():
    """A restart: uptime starts again at 0; a set RTC keeps counting (as one with a
    backup cell does; a story whose board loses it says {"rtc": null})."""
    if _rtc[0] is not None:
        _rtc[0] += _now[0] // 1_000_000
    _now[0] = 0


def set_rtc(epoch_s):
    _rtc[0] = None if epoch_s is None else epoch_s - _now[0] // 1_000_000


def ticks_ms():
    return (_now[0] // 1000) & _MASK


def ticks_us():
    return _now[0] & _MASK


def ticks_cpu():
    return ticks_us()


def ticks_diff(a, b):
    return ((a - b + _HALF) & _MASK) - _HALF


def ticks_add(ticks, delta):
    return (ticks + delta) & _MASK


def sleep_us(us):
    _now[0] += max(0, int(us))


def sleep_ms(ms):
    _now[0] += max(0, int(ms)) * 1000


def sleep(s):
    _now[0] += max(0, int(s * 1_000_000))


def time():
    base = _UNSET_EPOCH if _rtc[0] is None else _rtc[0]
    return base + _now[0] // 1_000_000


def time_ns():
    return time() * 1_000_000_000


def gmtime(secs=None):
    return _real.gmtime(time() if secs is None else secs)


localtime = gmtime


def mktime(t):
    return _real.mktime(t)
