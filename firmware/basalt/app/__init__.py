"""Composition root: builds the pump's parts and connects them. No insulin arithmetic.

The board and the simulator build the same PumpApp; only the ports differ. Every
command enters through the command table (basalt.core.commands.Dispatcher); every
event goes on the one event stream (basalt.core.events.EventStream), read by the
journal, the alarm routing, the loop's carb record, the recent list and host tools.
One tick is basalt.app.tick.Ticker.step(); only the MotorSupervisor moves the motor.
"""

from basalt import call_and_forget
from basalt.app.alarm_routing import AlarmActions, AlarmRouter, Sounder
from basalt.app.care import Care
from basalt.app.cgm_watch import CgmWatch
from basalt.app.loop_runner import LoopRunner
from basalt.app.motion import MotorSupervisor
from basalt.app.occlusion_watch import OcclusionWatch
from basalt.app.tick import RecentEvents, Ticker
from basalt.core.activity import Activity
from basalt.core.alarms import AlarmManager
from basalt.core.commands import Dispatcher, lookup
from basalt.core.delivery import DeliveryEngine
from basalt.core.errors import ConfigError
from basalt.core.events import EventStream
from basalt.core.glucose_alerts import GlucoseAlerts
from basalt.core.insulin import InsulinModel
from basalt.core.iob import DeliveryFeed, IobTracker
from basalt.core.monitors import DEFAULT_ALARMS, PumpMonitor
from basalt.core.units import MS_PER_MIN, REBASE_SHIFT_MS

BOOT_WARNING = "BENCHTOP PROTOTYPE - NOT FOR HUMAN USE"
DEFAULT_INSULIN = (75, 360)  # rapid-acting, 6 h: the IOB curve when no settings are loaded
# Commands whose effect must be in the checkpoint before they return (they change what
# the engine delivers); the others keep their own records.
_DURABLE_PARTS = ("engine", "profiles")
_RARE = "basalt.app.app_rare"  # PumpApp's seldom-used code, loaded for each call


class PumpApp:
    """settings: a basalt.core.settings.Settings (its basal profiles, bolus speed, insulin
    curve, limits and alarm settings configure the pump) or None.

    Without settings there are no limits, and the safety gate refuses every dose: a pump
    never delivers without limits. Benches and tests that run without a settings file
    pass explicit `limits` instead (tools.fakes.open_limits / bench_limits).
    buzzer (Buzzer port) and battery (Battery port) are None on boards without them.
    force: a ForceSensor port (occlusion detection) or None; occlusion: detector
    settings (basalt.core.occlusion_config.PARAMS keys) or None for the defaults.
    collect_events: keep every event for pop_events() (hosts); a board does not.
    """

    def __init__(self, board, clock, motor, tick_ms=250, day_ms=0, bolus_speed_mu_min=1_500,
                 settings=None, limits=None, buzzer=None, battery=None, force=None,
                 occlusion=None, collect_events=True):
        self.board = board
        self.clock = clock
        self.motor = motor
        self.settings = settings
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
        self.stream = stream = EventStream()
        self.iob = IobTracker(model)  # what the safety gate and the calculator read
        self.engine = engine = DeliveryEngine(board, now, limits, self.iob, day_ms,
                                              bolus_speed_mu_min)
        if settings is not None:
            _load_profiles(engine, now, settings.basal_profiles)
        self.iob_feed = DeliveryFeed(self.iob, engine, now)
        self.alarms = AlarmManager()
        self.monitor = PumpMonitor(engine, self.alarms, alarm_settings, now,
                                   _battery_levels(board, battery))
        self.alerts = GlucoseAlerts(self.alarms)
        self.care = Care(self.alerts, self.monitor, stream)
        self.motion = MotorSupervisor(motor, stream, tick_ms)
        self.occlusion = OcclusionWatch(force, occlusion, engine, self.motion, stream)
        self.cgm_watch = CgmWatch(self.monitor, stream, self.alerts)
        if settings is not None:
            self._alert_settings(settings)
        self.router = AlarmRouter(clock, self.alarms, self.monitor, self.motion, self.collect)
        self.loop_runner = LoopRunner(None if settings is None else settings.loop, engine,
                                      self.iob, self.iob_feed, stream)
        self.loop_runner.settings = settings
        self.activity = Activity(stream.emit)  # exercise, sleep, sick day
        self.loop_runner.activity = self.activity
        self.recent = RecentEvents()
        self.timed = []  # parts outside the app that keep its clock's times (rebase())
        self._keeper = None  # basalt.storage.keeper.Keeper, once attached
        self.commands = Dispatcher(
            {"engine": engine, "profiles": engine, "loop": self.loop_runner,
             "alarms": AlarmActions(self.alarms, self.monitor), "care": self.care,
             "activity": self.activity},
            _Guards(self), board.syringe_capacity_mu)
        self.loop_runner.run = self.commands.run
        self.ticker = Ticker(self, Sounder(buzzer, self.alarms), battery)
        self.buzzer = buzzer
        self.battery = battery
        for name, reader in (("motion", self.motion), ("occlusion", self.occlusion),
                             ("alarms", self.router), ("loop", self.loop_runner),
                             ("recent", self.recent)):
            stream.subscribe(name, reader.on_event)
        if collect_events:
            stream.subscribe("out")

    @property
    def keeper(self):
        return self._keeper

    @keeper.setter
    def keeper(self, keeper):
        """The persistence (journal, checkpoints, boot lock), given the parts it keeps."""
        self._keeper = keeper
        keeper.bind(self.board, self.engine, self.iob, self.motion, self.stream,
                    self.occlusion, self.apply_settings)
        self.commands.targets["keeper"] = keeper
        self.commands.targets["profiles"] = keeper.profiles

    # ----- the ways in ------------------------------------------------------------------

    def command(self, cmd):
        """Apply a command at the current time: plain data in user units
        ({"cmd": "bolus", "units": 2.5}) or (name, values) in the pump's units."""
        now = self.clock.now_ms()
        durable = lookup(cmd).part in _DURABLE_PARTS
        try:
            result = self.commands.run(now, cmd)
        finally:
            self.collect()  # a refusal may be an event too (limit_refused)
        if durable and self.keeper is not None:
            self.keeper.command_done(now)  # durable before it returns
            self.collect()
        return result

    def step(self):
        """One delivery tick (basalt.app.tick); first the clock's epoch, when it is due."""
        clock = self.clock
        now = clock.now_ms()
        at = clock.rebase_at_ms
        if at is not None and now >= at:  # one shift on a board; more if it started late
            now = self.rebase(REBASE_SHIFT_MS * ((now - at) // REBASE_SHIFT_MS + 1))
        self.ticker.step(now)

    def rebase(self, shift_ms):
        """Move the clock and every stored time back by shift_ms, between two ticks, so
        time stays a small int (basalt.core.units.REBASE_AT_MS). Every part keeps its
        times relative to now exactly; the journal and the checkpoint keep ms since boot
        (the keeper adds what was taken off). Returns the new now_ms."""
        return call_and_forget(_RARE, "rebase", self, shift_ms)

    async def run(self):
        while True:
            self.step()
            await self.clock.sleep_ms(self.tick_ms)

    def collect(self):
        """Move what the engine and the alarm manager said onto the stream, and let
        every reader see it."""
        stream = self.stream
        # pop_events() makes a new list: not called on a quiet tick (no allocation)
        if self.engine.events:
            stream.extend(self.engine.pop_events())
        if self.alarms.events:
            stream.extend(self.alarms.pop_events())
        stream.publish()

    def pop_events(self):
        """Events since the last call (hosts; journaled before they are handed out)."""
        self.collect()
        return self.stream.take("out")

    def apply_settings(self, settings):
        """A settings file saved while running, applied whole: limits, basal profiles,
        bolus speed (from the next bolus; a running one keeps its pace), insulin curve
        (IOB of the insulin already delivered is recomputed with it, as Loop does),
        alarms, the calculator's and the loop's settings. Refused, changing nothing, if
        what runs now would break the new limits."""
        call_and_forget(_RARE, "apply_settings", self, settings)

    def _alert_settings(self, settings):
        """The cgm_alerts section: the alerts, the set watch, the CGM-lost delay."""
        s = settings.cgm_alerts
        self.alerts.set_settings(s)
        watch = self.monitor.infusion_set
        watch.high_mg_dl = s.set_high_mg_dl
        watch.after_ms = s.set_high_min * MS_PER_MIN
        self.cgm_watch.lost_ms = s.signal_loss_min * MS_PER_MIN

    def suggest_bolus(self, carbs_g, glucose_mg_dl=None, cgm=None, uncertain_bolus=None):
        """The bolus calculator at the current time (see basalt.core.calculator); locked
        while the keeper holds an interrupted bolus nobody has reconciled."""
        return call_and_forget(_RARE, "suggest_bolus", self, carbs_g, glucose_mg_dl, cgm,
                               uncertain_bolus)

    # ----- what other firmware parts report ----------------------------------------------

    def raise_alarm(self, code, detail=None):
        """An alarm from another part that has handled the motor itself (see
        AlarmRouter.raise_alarm)."""
        self.router.raise_alarm(code, detail)

    def fault(self, code, detail=None):
        self.router.fault(code, detail)

    def acknowledge(self, code):
        return self.command({"cmd": "acknowledge", "alarm": code})

    def snooze(self, code):
        return self.command({"cmd": "snooze", "alarm": code})

    def button_pressed(self):
        """Any button press: keeps auto-off from firing (the UI calls this)."""
        self.monitor.button_pressed(self.clock.now_ms())
        self.collect()

    def site_changed(self):
        self.monitor.site_changed(self.clock.now_ms())
        self.collect()

    def glucose(self, mg_dl, from_cgm=True):
        """A glucose reading (CGM or fingerstick) for the reminders and the set watch."""
        self.monitor.glucose(self.clock.now_ms(), mg_dl, from_cgm)
        self.collect()

    def correction_bolus(self):
        """The bolus just given was a correction: watch that glucose falls."""
        self.monitor.correction_bolus(self.clock.now_ms())

    # ----- parts the screens and host tools read -----------------------------------------

    @property
    def tick_ms(self):
        """The delivery tick; a move is spread over one tick (the motion's own)."""
        return self.motion.tick_ms

    @tick_ms.setter
    def tick_ms(self, ms):
        self.motion.tick_ms = ms

    @property
    def loop(self):
        return self.loop_runner.loop

    @property
    def cgm(self):
        return self.cgm_watch.store

    @cgm.setter
    def cgm(self, store):
        self.cgm_watch.store = store

    @property
    def cgm_client(self):
        return self.cgm_watch.client

    @cgm_client.setter
    def cgm_client(self, client):
        """The BLE client: its link events are journaled, and it is the command table's
        "cgm" part (pairing answers, forget)."""
        self.cgm_watch.client = client
        self.commands.targets["cgm"] = client


class _Guards:
    """What the command table's guards ask of the running pump."""

    def __init__(self, app):
        self.app = app

    def awaiting_ack(self):
        keeper = self.app.keeper
        return keeper is not None and keeper.awaiting_ack

    def stop_reason(self):
        return self.app.engine.stop_reason

    def require_resumable(self, name):
        self.app.monitor.require_resumable()

    def require_known_state(self, name):
        keeper = self.app.keeper
        if keeper is not None:
            keeper.require_known_state(name)


def _load_profiles(engine, now_ms, profiles):
    """The settings file's basal profiles, as the schema checked them (each rate against
    these limits), not checked again one by one; the active one passes the safety gate
    as it is activated, as any other will when it is (engine.activate_profile)."""
    engine.profiles = profiles.copy()  # edits on the pump do not change the settings
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
