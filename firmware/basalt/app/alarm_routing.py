"""Alarm routing: alarms other parts report on the event stream reach the alarm
manager; the buzzer follows what the manager says should sound; acknowledging or
snoozing is a button press for the auto-off alarm."""

from basalt.core.alarms import ALARMS, check_code
from basalt.core.units import MS_PER_MIN

# Events that say an alarm's cause is gone: (kind -> code).
CAUSE_GONE = {"loop_limit_ended": "loop_limit", "cgm_time_ok": "cgm_time",
              "sick_check_done": "sick_check"}


class AlarmRouter:
    """The "alarms" reader of the event stream. ("alarm", {"code": ...}) events (the
    occlusion watch, the persistence, the CGM store) raise the alarm; ("cgm_restored",
    ...) clears cgm_lost. `collect` moves what the engine and the manager then say onto
    the stream."""

    def __init__(self, clock, alarms, monitor, motion, collect):
        self.clock = clock
        self.alarms = alarms
        self.monitor = monitor
        self.motion = motion
        self.collect = collect

    def on_event(self, kind, detail):
        code = detail.get("code") if kind == "alarm" else None
        if isinstance(code, str) and code in ALARMS:
            # Only plain values go on (the journal keeps the event as it came).
            extra = {key: value for key, value in detail.items()
                     if key not in ("code", "at_ms") and isinstance(key, str)
                     and (value is None or isinstance(value, (int, str)))}
            self.raise_alarm(code, extra)
        elif kind == "cgm_restored":
            self.clear(self.clock.now_ms(), "cgm_lost")
        elif kind == "bolus_started" or kind == "temp_basal_started":
            self.monitor.dose_started(self.clock.now_ms(), kind, detail)
        elif kind == "site_age":  # the boot found the last site change in the journal
            now = self.clock.now_ms()
            self.monitor.site_changed(now, now - detail["minutes"] * MS_PER_MIN)
        elif kind in CAUSE_GONE:
            # The cause of a latching alarm is over; it stays until acknowledged.
            self.clear(self.clock.now_ms(), CAUSE_GONE[kind])

    def raise_alarm(self, code, detail=None):
        """One that stops delivery halts the engine and latches until acknowledged;
        others hold until clear()."""
        now = self.clock.now_ms()
        if ALARMS[check_code(code)][1]:
            self.monitor.fault(now, code, detail)
        else:
            self.alarms.raise_alarm(now, code, detail)
        self.collect()

    def fault(self, code, detail=None):
        """A fault that stops delivery at once: the motor stops, steps not yet moved are
        dropped, and a latched alarm is raised."""
        now = self.clock.now_ms()
        self.motion.halt(now)
        self.monitor.fault(now, code, detail)
        self.collect()

    def clear(self, now_ms, code):
        self.alarms.clear(now_ms, code)
        self.collect()


class AlarmActions:
    """The command table's "alarms" part."""

    def __init__(self, alarms, monitor):
        self.alarms = alarms
        self.monitor = monitor

    def acknowledge(self, now_ms, code):
        self.monitor.button_pressed(now_ms)  # acknowledging is a button press
        return self.alarms.acknowledge(now_ms, code)

    def snooze(self, now_ms, code):
        self.monitor.button_pressed(now_ms)
        return self.alarms.snooze(now_ms, code)


class Sounder:
    """The buzzer plays what the alarm manager says should sound now (None: silent)."""

    def __init__(self, buzzer, alarms):
        self.buzzer = buzzer
        self.alarms = alarms
        self._pattern = None  # what the buzzer was last told to play
        if buzzer is not None:
            buzzer.stop()

    def update(self, now_ms):
        if self.buzzer is None:
            return
        pattern = self.alarms.sounding(now_ms)
        if pattern is not self._pattern:
            self._pattern = pattern
            if pattern is None:
                self.buzzer.stop()
            else:
                self.buzzer.play(pattern)
