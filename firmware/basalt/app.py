"""Composition root: wires the engine to the motor and the clock. No insulin arithmetic.

The board and the simulator build the same PumpApp; only the ports differ.
step() is one delivery tick and the only code that moves the motor.
"""

from basalt.core import calculator, commands
from basalt.core.delivery import STOP_OCCLUSION, STOP_SENSOR_FAULT, DeliveryEngine
from basalt.core.errors import NotAllowedNow, SensorFault
from basalt.core.insulin import InsulinModel
from basalt.core.iob import DeliveryFeed, IobTracker
from basalt.core.occlusion import OCCLUSION, OcclusionDetector

BOOT_WARNING = "BENCHTOP PROTOTYPE - NOT FOR HUMAN USE"


DEFAULT_INSULIN = (75, 360)  # rapid-acting, 6 h: the IOB curve when no settings are loaded


class PumpApp:
    """settings: a basalt.core.settings.Settings (its basal profiles, bolus speed and
    insulin curve configure the pump) or None (no profiles, default speed and curve).
    force: a ForceSensor port (occlusion detection) or None; occlusion: detector
    settings (basalt.core.occlusion.PARAMS keys) or None for the defaults."""

    def __init__(self, board, clock, motor, tick_ms=250, day_ms=0, bolus_speed_mu_min=1_500,
                 settings=None, force=None, occlusion=None):
        self.board = board
        self.clock = clock
        self.motor = motor
        self.force = force  # a ForceSensor port, or None (no occlusion detection)
        self.detector = OcclusionDetector(occlusion)
        self._watching = False  # the detector has a baseline for this delivery run
        self._settle_steps = 0  # drive-train take-up the engine re-advances on resume
        self._move_steps = 0
        self.tick_ms = tick_ms
        self.settings = settings
        now = clock.now_ms()
        if settings is not None:
            bolus_speed_mu_min = settings.bolus_speed_mu_min
        self.engine = DeliveryEngine(board, now, day_ms, bolus_speed_mu_min)
        if settings is not None:
            _load_profiles(self.engine, now, settings.basal_profiles)
            model = settings.insulin_model()
        else:
            model = InsulinModel(DEFAULT_INSULIN[0], DEFAULT_INSULIN[1])
        self.iob = IobTracker(model)  # what the safety gate and the calculator read
        self._iob_feed = DeliveryFeed(self.iob, self.engine, now)
        self.pending_steps = 0  # planned by the engine, not yet handed to the motor
        self.rewind_steps = 0
        self.moved_steps = 0  # forward microsteps the motor reported done
        self._watched_moved = 0  # moved_steps the occlusion detector has been told of
        self.rewound_steps = 0
        self.events = []
        self.keeper = None  # basalt.persist.Keeper: journal, checkpoint, boot lock
        self._moving_forward = True
        motor.disable()
        motor.set_direction(True)

    def command(self, cmd):
        """Apply a command (plain data, user units) at the current time."""
        now = self.clock.now_ms()
        keeper = self.keeper
        if keeper is not None:
            handled, result = keeper.before_command(self, now, cmd)
            if handled:
                if cmd.get("cmd") == "reconcile_bolus":
                    # Its real time is in the previous boot's clock: counting it as
                    # delivered now keeps the most of it on board (the safe side).
                    self.iob.add_bolus(now, result)
                return result
        result = commands.apply(self.engine, now, cmd)
        if cmd.get("cmd") == "new_reservoir":
            self.rewind_steps += result
        self._collect()
        if keeper is not None:
            keeper.after_command(self, now, cmd)
        return result

    def step(self):
        """One tick: collect what the motor did, plan what is due, start the next move."""
        now = self.clock.now_ms()
        self._reap()
        self._watch_force(now)
        self.pending_steps += self.engine.tick(now)
        self._iob_feed.update(now)
        self._collect()
        keeper = self.keeper
        if keeper is not None:
            keeper.on_tick(self, now)
        self._reap()  # a move that ended during this tick is counted before the next
        if self.motor.busy():
            return
        if self.rewind_steps:
            self._start(False, self.rewind_steps)
            self.rewind_steps = 0
        elif self.pending_steps and (keeper is None or keeper.may_move(self, now)):
            self._start(True, self.pending_steps)
            self.pending_steps = 0

    def suggest_bolus(self, carbs_g, glucose_mg_dl=None, cgm=None, uncertain_bolus=None):
        """The bolus calculator at the current time (see basalt.core.calculator); locked
        while the keeper holds an interrupted bolus nobody has reconciled."""
        if self.settings is None:
            raise NotAllowedNow("bolus calculator", "no therapy settings are loaded")
        if uncertain_bolus is None and self.keeper is not None:
            uncertain_bolus = self.keeper.uncertain
        now = self.clock.now_ms()
        self._iob_feed.update(now)  # count what a command since the last tick delivered
        return calculator.suggest(self.settings, self.iob, now,
                                  self.engine.day_ms(), carbs_g, glucose_mg_dl, cgm,
                                  uncertain_bolus)

    async def run(self):
        while True:
            self.step()
            await self.clock.sleep_ms(self.tick_ms)

    def _start(self, forward, steps):
        motor = self.motor
        if self._moving_forward != forward:
            motor.set_direction(forward)
            self._moving_forward = forward
        # Spread the steps over one tick, or longer if the driver could not keep up.
        duration = max(self.tick_ms, -(-steps * 1000 // motor.max_step_hz))
        motor.enable()
        motor.move(steps, duration)
        self._move_steps = steps

    def _reap(self):
        """A finished move: count its steps and disable the driver (idle = disabled)."""
        motor = self.motor
        if motor.is_enabled() and not motor.busy():
            done = motor.steps_done()
            if self._moving_forward:
                self.moved_steps += done
            else:
                self.rewound_steps += done
            motor.disable()

    def _watch_force(self, now):
        """Feed the occlusion detector one reading while delivering; stop on its alarm."""
        steps = self.moved_steps - self._watched_moved  # moved since the last reading
        self._watched_moved = self.moved_steps
        if self.force is None or self.engine.stop_reason is not None:
            self._watching = False
            return
        if not self._watching:
            self._watching = True
            self.detector.reset(now, self._settle_steps)
            self._settle_steps = 0
        try:
            alarm = self.detector.update(now, steps, self.force.read_mn())
        except SensorFault as fault:
            alarm = self.detector.sensor_failed(now, fault.reason, str(fault))
        if alarm is not None:
            self._alarm_stop(now, alarm)

    def _alarm_stop(self, now, alarm):
        """Stop delivery (steps not yet moved are dropped) and back the plunger off."""
        unmoved = self.pending_steps
        self.pending_steps = 0
        if self._moving_forward and self.motor.busy():
            done = self.motor.stop()
            self.moved_steps += done
            unmoved += self._move_steps - done
        occluded = alarm["code"] == OCCLUSION
        backoff = alarm["backoff_steps"] if occluded else 0
        takeup = alarm["takeup_steps"] if occluded else 0
        backoff = self.engine.alarm_stop(now, STOP_OCCLUSION if occluded else STOP_SENSOR_FAULT,
                                         backoff, takeup, unmoved)
        self.rewind_steps += backoff
        self._collect()
        detail = dict(alarm)
        if occluded:
            detail["not_delivered_mu"] = self.board.mu_for_usteps(alarm["fluid_steps"])
        self.events.append(("alarm", detail))

    def _collect(self):
        events = self.engine.pop_events()
        if events:
            for kind, detail in events:
                if kind == "resumed":
                    self._settle_steps = detail["takeup_steps"]
            self.events.extend(events)
        if self.keeper is not None:
            self.keeper.record(self)

    def pop_events(self):
        keeper = self.keeper
        if keeper is not None:
            keeper.record(self)  # journaled before anyone else sees them
        events = self.events
        self.events = []
        if keeper is not None:
            keeper.popped()
        return events


def _load_profiles(engine, now_ms, profiles):
    for name in sorted(profiles.profiles):
        engine.set_profile(now_ms, name, profiles.profiles[name].segments())
    engine.activate_profile(now_ms, profiles.active)
