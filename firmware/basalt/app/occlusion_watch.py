"""Occlusion watch: the force sensor read while delivering, the detector fed with the
steps moved since the last read, and an alarm stop when it raises.

It also reads while priming and while the prime's pressure drains (the detector learns
the rig's flow from it), drops what was learned when a syringe or a line is fitted
(reservoir_fitted, site_changed), and puts what the detector learned on the event
stream (occlusion_learned: the journal keeps it, the calibration screen shows it)."""

from basalt import forget
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
        self._priming = None  # None, True while priming, False while its pressure drains
        self._learner = None  # basalt.core.occlusion_prime.PrimeLearner, while it learns
        self.learned = self.detector.learned()  # as the calibration screen shows it

    def rebase(self, shift_ms):
        self.detector.rebase(shift_ms)

    def on_event(self, kind, detail):
        if kind == "resumed":
            self._settle_steps = detail["takeup_steps"]
            self._priming = self._learner = None  # delivery began: the drain is not the
            # prime's alone
        elif kind in ("reservoir_fitted", "site_changed"):
            known = self.detector.flow_learned
            self.detector.forget()
            self._priming = self._learner = None
            if known:  # the journal shows where the old calibration ended
                self._publish(detail.get("at_ms", 0))
        elif kind == "prime_started" and self.force is not None:
            from basalt.core.occlusion_prime import PrimeLearner  # only while it learns

            self._learner = PrimeLearner()
            self._priming = True
        elif kind in ("prime_done", "prime_stopped") and self._priming:
            self._priming = False

    def _publish(self, now_ms):
        self.detector.news = False
        self.learned = detail = self.detector.learned()
        detail["at_ms"] = now_ms
        self.stream.emit("occlusion_learned", detail)

    def watch(self, now_ms):
        """One reading while delivering; stop on the detector's alarm."""
        moved = self.motion.moved_steps
        steps = moved - self._seen_moved  # moved since the last reading
        self._seen_moved = moved
        if self.force is None:
            return
        if self._priming is not None:
            self._prime_read(now_ms, steps)
        if self.engine.stop_reason is not None:
            self._watching = False
            return
        if not self._watching:
            self._watching = True
            self.detector.reset(now_ms, self._settle_steps)
            self._settle_steps = 0
            self.learned = self.detector.learned()  # this run learns afresh
        try:
            alarm = self.detector.update(now_ms, steps, self.force.read_mn_now())
        except SensorFault as fault:
            alarm = self.detector.sensor_failed(now_ms, fault.reason, str(fault))
        if alarm is not None:
            self._alarm_stop(now_ms, alarm)
        elif self.detector.news:
            self._publish(now_ms)
        elif self.learned["drift_mn_h"] != self.detector.drift_mn_h:
            self.learned = self.detector.learned()  # the hour's drift, for the screen

    def _prime_read(self, now_ms, steps):
        try:
            force = self.force.read_mn_now()
        except SensorFault:
            return  # a prime without its readings teaches nothing; delivery checks faults
        if self._learner.read(now_ms, steps, force, self._priming):
            gain, flow_ms = self._learner.result()
            self._priming = self._learner = None
            forget(("basalt.core.occlusion_prime",))  # until the next prime
            self.detector.learn_flow(gain, flow_ms)
            if self.detector.news:
                self._publish(now_ms)

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

