"""Occlusion watch: the force sensor read while delivering, the detector fed with the
steps moved since the last read, and an alarm stop when it raises."""

from basalt.core.delivery import STOP_OCCLUSION, STOP_SENSOR_FAULT
from basalt.core.errors import SensorFault
from basalt.core.occlusion import OCCLUSION, OcclusionDetector


class OcclusionWatch:
    def __init__(self, force, params, engine, motion, stream):
        self.force = force  # a ForceSensor port, or None (no occlusion detection)
        self.detector = OcclusionDetector(params)
        self.engine = engine
        self.motion = motion
        self.stream = stream
        self._watching = False  # the detector has a baseline for this delivery run
        self._settle_steps = 0  # drive-train take-up the engine re-advances on resume
        self._seen_moved = 0  # motion.moved_steps the detector has been told of

    def rebase(self, shift_ms):
        self.detector.rebase(shift_ms)

    def on_event(self, kind, detail):
        if kind == "resumed":
            self._settle_steps = detail["takeup_steps"]

    def watch(self, now_ms):
        """One reading while delivering; stop on the detector's alarm."""
        moved = self.motion.moved_steps
        steps = moved - self._seen_moved  # moved since the last reading
        self._seen_moved = moved
        if self.force is None or self.engine.stop_reason is not None:
            self._watching = False
            return
        if not self._watching:
            self._watching = True
            self.detector.reset(now_ms, self._settle_steps)
            self._settle_steps = 0
        try:
            alarm = self.detector.update(now_ms, steps, self.force.read_mn())
        except SensorFault as fault:
            alarm = self.detector.sensor_failed(now_ms, fault.reason, str(fault))
        if alarm is not None:
            self._alarm_stop(now_ms, alarm)

    def _alarm_stop(self, now_ms, alarm):
        """Stop delivery (steps not yet moved are dropped) and back the plunger off."""
        unmoved = self.motion.stop_forward()
        occluded = alarm["code"] == OCCLUSION
        backoff = alarm["backoff_steps"] if occluded else 0
        takeup = alarm["takeup_steps"] if occluded else 0
        engine = self.engine
        self.motion.rewind_steps += engine.alarm_stop(
            now_ms, STOP_OCCLUSION if occluded else STOP_SENSOR_FAULT, backoff, takeup,
            unmoved)
        self.stream.extend(engine.pop_events())
        detail = dict(alarm)
        if occluded:
            detail["not_delivered_mu"] = engine.board.mu_for_usteps(alarm["fluid_steps"])
        self.stream.emit("alarm", detail)  # routed to the alarm manager
