"""Composition root: wires the engine to the motor and the clock. No insulin arithmetic.

The board and the simulator build the same PumpApp; only the ports differ.
step() is one delivery tick and the only code that moves the motor.
"""

from basalt.core import calculator, commands, loop
from basalt.core.alarms import ALARMS, AlarmManager, check_code
from basalt.core.delivery import (
    BOLUS_STEP_MU,
    STOP_OCCLUSION,
    STOP_SENSOR_FAULT,
    DeliveryEngine,
)
from basalt.core.errors import ConfigError, InvalidValue, NotAllowedNow, SensorFault
from basalt.core.insulin import InsulinModel
from basalt.core.iob import DeliveryFeed, IobTracker
from basalt.core.monitors import DEFAULT_ALARMS, PumpMonitor
from basalt.core.occlusion import OCCLUSION, OcclusionDetector
from basalt.core.readings import flag_names

BOOT_WARNING = "BENCHTOP PROTOTYPE - NOT FOR HUMAN USE"
RECENT_EVENTS = 20  # kept for the history screen, whoever pops the events


DEFAULT_INSULIN = (75, 360)  # rapid-acting, 6 h: the IOB curve when no settings are loaded
BATTERY_PERIOD_MS = 10_000  # how often the battery is read
# A move still running this long after its end (or its own length, if longer) is a
# delivery fault. Step pulses are hardware-timed, so only a jam or a dead timer gets here;
# the margin covers a late tick and slower step generators (the virtual board's).
MOVE_GRACE_MS = 2_000


class PumpApp:
    """settings: a basalt.core.settings.Settings (its basal profiles, bolus speed, insulin
    curve, limits and alarm settings configure the pump) or None.

    Without settings there are no limits, and the safety gate refuses every dose: a pump
    never delivers without limits. Benches and tests that run without a settings file
    pass explicit `limits` instead (tools.fakes.open_limits / bench_limits).
    buzzer (Buzzer port) and battery (Battery port) are None on boards without them.
    force: a ForceSensor port (occlusion detection) or None; occlusion: detector
    settings (basalt.core.occlusion.PARAMS keys) or None for the defaults.
    """

    def __init__(self, board, clock, motor, tick_ms=250, day_ms=0, bolus_speed_mu_min=1_500,
                 settings=None, limits=None, buzzer=None, battery=None, force=None,
                 occlusion=None):
        self.board = board
        self.clock = clock
        self.motor = motor
        self.tick_ms = tick_ms
        self.settings = settings
        self.force = force  # a ForceSensor port, or None (no occlusion detection)
        self.detector = OcclusionDetector(occlusion)
        self._watching = False  # the detector has a baseline for this delivery run
        self._settle_steps = 0  # drive-train take-up the engine re-advances on resume
        now = clock.now_ms()
        alarm_settings = DEFAULT_ALARMS
        if settings is not None:
            if limits is not None:
                raise ConfigError("limits", None, "limits from the settings file only",
                                  "given beside settings")
            bolus_speed_mu_min = settings.bolus_speed_mu_min
            limits = settings.limits
            alarm_settings = settings.alarms
            model = settings.insulin_model()
        else:
            model = InsulinModel(DEFAULT_INSULIN[0], DEFAULT_INSULIN[1])
        self.iob = IobTracker(model)  # what the safety gate and the calculator read
        self.engine = DeliveryEngine(board, now, limits, self.iob, day_ms, bolus_speed_mu_min)
        if settings is not None:
            _load_profiles(self.engine, now, settings.basal_profiles)
        self._iob_feed = DeliveryFeed(self.iob, self.engine, now)
        self.alarms = AlarmManager()
        self.monitor = PumpMonitor(self.engine, self.alarms, alarm_settings, now,
                                   _battery_levels(board, battery))
        self.buzzer = buzzer
        self.battery = battery
        self._pattern = None  # what the buzzer was last told to play
        self._battery_at = now - BATTERY_PERIOD_MS
        self.pending_steps = 0  # planned by the engine, not yet handed to the motor
        self.rewind_steps = 0
        self.moved_steps = 0  # forward microsteps the motor reported done
        self._watched_moved = 0  # moved_steps the occlusion detector has been told of
        self.rewound_steps = 0
        self.events = []
        self.keeper = None  # basalt.persist.Keeper: journal, checkpoint, boot lock
        self.recent = []  # the last RECENT_EVENTS events, oldest first
        self.events_seen = 0
        self._remembered = 0  # how many of self.events are in recent
        self.cgm = None  # basalt.core.readings.ReadingStore, attached by whoever runs the CGM
        self.cgm_client = None  # the BLE client filling self.cgm (its events are journaled)
        self.loop = None if settings is None else loop.Loop(settings.loop)
        self._loop_state = loop.PumpState()
        self._moving_forward = True
        self._move_steps = 0  # the move in progress: commanded steps ...
        self._move_deadline = 0  # ... and by when it must have finished
        self._routed = 0  # self.events before this index were checked for "alarm" events
        motor.disable()
        motor.set_direction(True)
        if buzzer is not None:
            buzzer.stop()

    # ----- user actions ---------------------------------------------------------------

    def command(self, cmd):
        """Apply a command (plain data, user units) at the current time."""
        now = self.clock.now_ms()
        name = cmd.get("cmd") if isinstance(cmd, dict) else None
        if name in commands.ALARM_COMMANDS:
            self.monitor.button_pressed(now)  # acknowledging is a button press
            result = commands.apply_alarm(self.alarms, now, cmd)
            self._collect()
            return result
        if name in loop.COMMANDS:
            return self._loop_command(now, cmd)
        keeper = self.keeper
        if keeper is not None:
            handled, result = keeper.before_command(self, now, cmd)
            if handled:
                if cmd.get("cmd") == "reconcile_bolus":
                    # Its real time is in the previous boot's clock: counting it as
                    # delivered now keeps the most of it on board (the safe side).
                    self.iob.add_bolus(now, result)
                return result
        if name == "resume":
            self.monitor.require_resumable()
        result = commands.apply(self.engine, now, cmd)
        if name == "new_reservoir":
            self.rewind_steps += result
        self._collect()
        if keeper is not None:
            keeper.after_command(self, now, cmd)
        self._route_alarm_events()
        return result

    def apply_settings(self, settings):
        """A settings file saved while running, applied whole: limits, basal profiles,
        bolus speed (from the next bolus; a running one keeps its pace), insulin curve
        (IOB of the insulin already delivered is recomputed with it, as Loop does),
        alarms, the calculator's and the loop's settings. Refused, changing nothing, if
        what runs now would break the new limits. A changed loop section starts the loop
        as at boot (its mode from the file; carbs announced before are forgotten, so it
        doses no more than without them); an unchanged one keeps the running loop."""
        now = self.clock.now_ms()
        self.monitor.check_settings(settings.alarms)
        self.engine.set_limits(now, settings.limits, settings.basal_profiles.copy())
        self.engine.bolus_speed_mu_min = settings.bolus_speed_mu_min
        self.iob.set_model(settings.insulin_model())
        self.monitor.set_settings(settings.alarms)
        old = self.settings
        if old is None or self.loop is None or old.loop.__dict__ != settings.loop.__dict__:
            self.loop = loop.Loop(settings.loop)
        self.settings = settings
        self._collect()

    def acknowledge(self, code):
        return self.command({"cmd": "acknowledge", "alarm": code})

    def snooze(self, code):
        return self.command({"cmd": "snooze", "alarm": code})

    def button_pressed(self):
        """Any button press: keeps auto-off from firing (the UI calls this)."""
        self.monitor.button_pressed(self.clock.now_ms())
        self._collect()

    def site_changed(self):
        self.monitor.site_changed(self.clock.now_ms())
        self._collect()

    def glucose(self, mg_dl, from_cgm=True):
        """A glucose reading (CGM or fingerstick) for the reminders and the set watch."""
        self.monitor.glucose(self.clock.now_ms(), mg_dl, from_cgm)
        self._collect()

    def correction_bolus(self):
        """The bolus just given was a correction: watch that glucose falls."""
        self.monitor.correction_bolus(self.clock.now_ms())

    def fault(self, code, detail=None):
        """A fault that stops delivery at once (delivery_fault, occlusion, sensor_fault):
        the motor stops, steps not yet moved are dropped, and a latched alarm is raised."""
        now = self.clock.now_ms()
        self._halt_motor()
        self.monitor.fault(now, code, detail)
        self._collect()

    def raise_alarm(self, code, detail=None):
        """Another part of the firmware reports an alarm (occlusion, CGM lost, storage
        fault, ...), having handled the motor itself. One that stops delivery halts the
        engine and latches until acknowledged; others hold until clear_alarm()."""
        now = self.clock.now_ms()
        if ALARMS[check_code(code)][1]:
            self.monitor.fault(now, code, detail)
        else:
            self.alarms.raise_alarm(now, code, detail)
        self._collect()

    def clear_alarm(self, code):
        self.alarms.clear(self.clock.now_ms(), code)
        self._collect()

    def _route_alarm_events(self):
        """("alarm", {"code": ...}) events that other modules put in self.events (the
        journal keeper, the CGM reading store) reach the alarm manager here;
        ("cgm_restored", ...) clears cgm_lost."""
        events = self.events
        while self._routed < len(events):
            kind, detail = events[self._routed]
            self._routed += 1
            code = detail.get("code") if kind == "alarm" else None
            if isinstance(code, str) and code in ALARMS:
                # Only plain values go on (the journal keeps the event as it came).
                extra = {key: value for key, value in detail.items()
                         if key not in ("code", "at_ms") and isinstance(key, str)
                         and (value is None or isinstance(value, (int, str)))}
                self.raise_alarm(code, extra)
            elif kind == "cgm_restored":
                self.clear_alarm("cgm_lost")

    def alarm_banner(self):
        """(title, hint) of the most urgent alarm for the screen, or None."""
        return self.alarms.banner()

    def suggest_bolus(self, carbs_g, glucose_mg_dl=None, cgm=None, uncertain_bolus=None):
        """The bolus calculator at the current time (see basalt.core.calculator); locked
        while the keeper holds an interrupted bolus nobody has reconciled."""
        if self.settings is None:
            raise NotAllowedNow("bolus calculator", "no therapy settings are loaded")
        if uncertain_bolus is None and self.keeper is not None:
            uncertain_bolus = self.keeper.uncertain
        now = self.clock.now_ms()
        self._iob_feed.update(now)  # count what a command since the last tick delivered
        looping = self.loop is not None and self.loop.in_control(now)
        return calculator.suggest(self.settings, self.iob, now,
                                  self.engine.day_ms(), carbs_g, glucose_mg_dl, cgm,
                                  uncertain_bolus, looping)

    # ----- the tick ---------------------------------------------------------------------

    def step(self):
        """One tick: collect what the motor did, plan what is due, start the next move."""
        now = self.clock.now_ms()
        self._reap(now)
        self._watch_force(now)
        self.pending_steps += self.engine.tick(now)
        self._iob_feed.update(now)
        if self.cgm is not None:
            self._watch_cgm(now)
            if self.loop is not None:
                self._loop_step(now)
        self._read_battery(now)
        self.monitor.evaluate(now)
        self._collect()
        self._sound(now)
        keeper = self.keeper
        if keeper is not None:
            keeper.on_tick(self, now)
        self._route_alarm_events()
        self._reap(now)  # a move that ended during this tick is counted before the next
        if self.motor.busy():
            return
        if self.rewind_steps:
            self._start(now, False, self.rewind_steps)
            self.rewind_steps = 0
        elif self.pending_steps and (keeper is None or keeper.may_move(self, now)):
            self._start(now, True, self.pending_steps)
            self.pending_steps = 0

    # ----- the CGM ---------------------------------------------------------------------

    def _watch_cgm(self, now):
        """CGM lost/restored from the reading store; every reading stored since the last
        tick (live or back-filled) to the history; a new newest usable one to the
        monitors (infusion-set watch, glucose-check reminder); the BLE client's link,
        session and back-fill events to the history."""
        store = self.cgm
        store.check(now)
        events = self.events
        newest = -1
        for reading in store.pop_added(now):  # oldest first
            newest = reading.offset
            if reading.mg_dl is None or reading.at_ms < 0:
                # No value; or taken before this boot: a time this boot's journal cannot
                # hold (the boot before journaled it if it was running).
                continue
            detail = {"at_ms": reading.at_ms, "mg_dl": reading.mg_dl,
                      "trend": reading.trend_milli}
            if reading.flags:  # kept in the history, never used to dose
                detail["flags"] = ",".join(flag_names(reading.flags))
            events.append(("glucose", detail))
        if newest == store.latest:
            reading, _ = store.latest_for_dosing(now)
            if reading is not None:
                self.monitor.glucose(now, reading.mg_dl, True)
        events.extend(store.pop_events())
        if self.cgm_client is not None:
            events.extend(self.cgm_client.pop_events())

    # ----- the closed loop ---------------------------------------------------------

    def _loop_command(self, now, cmd):
        """{"cmd": "loop_mode", "mode": "closed"} or {"cmd": "carbs", "grams": 45}."""
        if self.loop is None:
            raise NotAllowedNow(cmd["cmd"], "no therapy settings are loaded")
        name, value = loop.parse_command(cmd)
        if name == "loop_mode":
            self.loop.set_mode(value)
            self.events.append(("loop_mode", {"at_ms": now, "mode": value}))
        else:
            self.loop.add_carbs(now, value)
            self.events.append(("carbs", {"at_ms": now, "grams": value}))
        return value

    def _loop_step(self, now):
        """Decide when due (every 5 min, or a new reading) and act through the engine."""
        store = self.cgm
        if not self.loop.due(now, store.latest):
            return
        cgm, why = loop.cgm_input(store, now)
        settings = self.settings
        day = self.engine.day_ms()
        low, high = settings.targets.value_at(day)
        therapy = (settings.sensitivity.value_at(day), settings.carb_ratio.value_at(day),
                   (low + high) // 2)
        decision = self.loop.decide(now, therapy, cgm, why, self.iob,
                                    self._pump_state(), store.latest)
        self._act(now, decision)

    def _pump_state(self):
        engine = self.engine
        state = self._loop_state
        state.stop_reason = engine.stop_reason
        state.delivering = engine.stop_reason is None
        profiles = engine.profiles
        if profiles.active is None:
            state.delivering = False
            state.stop_reason = "no basal profile"
            return state
        profile = profiles.current()
        state.scheduled_mu_h = profile.rate_at(engine.day_ms())
        state.highest_mu_h = max(profile.rates_mu_h)
        state.max_basal_mu_h = self.settings.limits.max_basal_mu_h
        state.max_iob_mu = self.settings.limits.max_iob_mu
        temp = engine.temp_basal()
        state.temp_mu_h = None if temp is None else _temp_rate(temp, state.scheduled_mu_h)
        state.temp_left_min = 0 if temp is None else temp[2]
        state.bolus_running = engine.bolus_running()
        state.bolus_step_mu = BOLUS_STEP_MU
        return state

    def _act(self, now, decision):
        """Carry out a decision through the safety gate's loop entry points; a refusal
        (LimitExceeded, NotAllowedNow, InvalidValue) is in the event and delivers nothing."""
        engine = self.engine
        detail = decision.as_dict()
        try:
            if decision.action == "temp":
                engine.auto_temp_basal(now, decision.rate_mu_h, decision.minutes)
            elif decision.action == "cancel" and engine.temp_basal() is not None:
                engine.cancel_temp_basal(now)
            if decision.bolus_mu:
                engine.auto_bolus(now, decision.bolus_mu)
                self._iob_feed.update(now)
        except (InvalidValue, NotAllowedNow) as error:
            detail["refused"] = str(error)
        self.events.append(("loop_decision", detail))

    async def run(self):
        while True:
            self.step()
            await self.clock.sleep_ms(self.tick_ms)

    def _start(self, now, forward, steps):
        motor = self.motor
        if self._moving_forward != forward:
            motor.set_direction(forward)
            self._moving_forward = forward
        # Spread the steps over one tick, or longer if the driver could not keep up.
        duration = max(self.tick_ms, -(-steps * 1000 // motor.max_step_hz))
        motor.enable()
        motor.move(steps, duration)
        self._move_steps = steps
        self._move_deadline = now + duration + max(MOVE_GRACE_MS, duration)

    def _reap(self, now):
        """A finished move: check and count its steps, disable the driver (idle = disabled).

        Steps reported != steps commanded, or a move still running past its deadline
        (see MOVE_GRACE_MS), is a delivery fault: the motor stops and delivery halts
        (latched alarm).
        """
        motor = self.motor
        if not motor.is_enabled():
            return
        late = motor.busy() and now > self._move_deadline
        if motor.busy() and not late:
            return
        done = motor.stop() if late else motor.steps_done()
        self._count(done)
        motor.disable()
        if late or done != self._move_steps:
            self.fault("delivery_fault", {"commanded_steps": self._move_steps,
                                          "done_steps": done,
                                          "late_ms": now - self._move_deadline if late else 0})

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
        self.events.append(("alarm", detail))  # routed to the alarm manager

    def _count(self, done):
        if self._moving_forward:
            self.moved_steps += done
        else:
            self.rewound_steps += done

    def _halt_motor(self):
        """Stop a running move and drop planned steps (reported as not delivered)."""
        motor = self.motor
        dropped = self.pending_steps
        if motor.is_enabled() and motor.busy():
            done = motor.stop()
            self._count(done)
            if self._moving_forward:
                dropped += self._move_steps - done
        motor.disable()
        self.pending_steps = 0
        if dropped:
            self.events.append(("steps_not_delivered", {"steps": dropped,
                                                        "at_ms": self.clock.now_ms()}))

    def _read_battery(self, now):
        if self.battery is None or now - self._battery_at < BATTERY_PERIOD_MS:
            return
        self._battery_at = now
        try:
            self.monitor.battery_mv(now, self.battery.read_mv())
        except (OSError, InvalidValue):
            pass  # a failed or nonsense read is skipped; the level stays as it was

    def _sound(self, now):
        if self.buzzer is None:
            return
        pattern = self.alarms.sounding(now)
        if pattern is not self._pattern:
            self._pattern = pattern
            if pattern is None:
                self.buzzer.stop()
            else:
                self.buzzer.play(pattern)

    def _collect(self):
        events = self.engine.pop_events()
        if events:
            for kind, detail in events:
                if kind == "resumed":
                    self._settle_steps = detail["takeup_steps"]
            self.events.extend(events)
        events = self.alarms.pop_events()
        if events:
            self.events.extend(events)
        self._remember()
        if self.keeper is not None:
            self.keeper.record(self)

    def _remember(self):
        """Copy events not seen yet into `recent` (the keeper appends some directly)."""
        events = self.events
        if len(events) > self._remembered:
            self.recent.extend(events[self._remembered:])
            del self.recent[:-RECENT_EVENTS]
            self.events_seen += len(events) - self._remembered
            self._remembered = len(events)

    def pop_events(self):
        keeper = self.keeper
        if keeper is not None:
            keeper.record(self)  # journaled before anyone else sees them
        self._route_alarm_events()
        self._remember()
        events = self.events
        self.events = []
        self._routed = 0
        self._remembered = 0
        if keeper is not None:
            keeper.popped()
        return events


def _temp_rate(temp, scheduled_mu_h):
    rate, percent, _ = temp
    return rate if rate is not None else scheduled_mu_h * percent // 100


def _load_profiles(engine, now_ms, profiles):
    for name in sorted(profiles.profiles):
        engine.set_profile(now_ms, name, profiles.profiles[name].segments())
    engine.activate_profile(now_ms, profiles.active)


def _battery_levels(board, battery):
    """(full, low, critical) mV from the board file when a battery port is given."""
    if battery is None:
        return None
    spec = board.battery
    if spec is None:
        raise ConfigError("battery", None, "a battery section in the board file",
                          "a battery port was given but the board has none")
    return spec.full_mv, spec.low_mv, spec.critical_mv
