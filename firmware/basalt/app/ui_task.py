"""The UI task: buttons -> menu -> commands to the app; the app's state -> PumpView ->
screens on the display. Wiring only: the menu is pure (basalt.core.ui), the app applies
the commands, the display and the key pins are ports.
"""

import sys

from basalt import VERSION, call_and_forget, forget
from basalt.core.delivery import STOP_NO_RESERVOIR
from basalt.core.errors import BasaltError
from basalt.core.glucose_alerts import UNEXPLAINED_LOW_MG_DL
from basalt.core.ui.keys import PRESS, ButtonDecoder
from basalt.core.ui.menu import Menu
from basalt.core.ui.paint import Painter
from basalt.core.ui.view import LOOP_CLOSED, LOOP_OPEN, TREND_NAMES, PumpView
from basalt.core.units import MS_PER_MIN, shifted

POLL_MS = 10
REDRAW_MS = 250
REDRAW_DIMMED_MS = 1_000  # the dimmed screen shows minutes; an alarm lights it within this


class UiTask:
    """keys: a tuple of 3 or 4 callables (up, down, select[, back]) true while pressed.
    wake: a flag a key's edge interrupt sets (None: poll every POLL_MS all the time)."""

    def __init__(self, app, display, keys, warning, dim_ms=30_000, boot_ms=3_000,
                 wake=None):
        self.app = app
        self.wake = wake
        self.display = display
        self.keys = keys
        now = app.clock.now_ms()
        self.view = PumpView()
        self.view.version = "v" + VERSION
        self.menu = Menu(now, has_back=len(keys) > 3, version=self.view.version,
                         warning=warning, dim_ms=dim_ms, boot_ms=boot_ms)
        if sys.implementation.name == "micropython":  # a host's tests hold the modules
            self.menu.unload = forget  # the menus' bytecode goes when the screen is home
        self.decoder = ButtonDecoder(self.on_key, keys=len(keys))
        self.painter = Painter(display)
        self._dimmed = False
        self._next_draw = now
        fill_view(app, self.view, now)
        app.timed.append(self)  # its times move with the app's clock (PumpApp.rebase)

    def rebase(self, shift_ms):
        self.menu.rebase(shift_ms)
        self.decoder.rebase(shift_ms)
        self._next_draw = shifted(self._next_draw, shift_ms)
        self.view.now_ms = shifted(self.view.now_ms, shift_ms)

    def on_key(self, now_ms, key, kind):
        if kind == PRESS:
            self.app.monitor.button_pressed(now_ms)  # the auto-off alarm counts activity
        self.menu.handle(now_ms, key, kind, self.view)
        self.apply_commands(now_ms)

    def apply_commands(self, now_ms):
        """Apply what the menu sent; a refusal is shown with the pump's own reason."""
        commands = self.menu.pop_commands()
        for cmd in commands:
            try:
                self.app.command(cmd)
            except BasaltError as error:
                from basalt.core.ui.flows import refused  # the menus' own note

                refused(self.menu, error)
        if commands:
            fill_view(self.app, self.view, now_ms)

    def poll(self, now_ms):
        """Sample every key once."""
        keys = self.keys
        for key in range(len(keys)):
            self.decoder.update(now_ms, key, keys[key]())

    def refresh(self, now_ms):
        """Every REDRAW_MS (REDRAW_DIMMED_MS while dimmed), or at once after a key
        changed something: update the view, run the menu's timers and redraw."""
        if not self.menu.changed and now_ms - self._next_draw < 0:
            return
        self._next_draw = now_ms + (REDRAW_DIMMED_MS if self._dimmed else REDRAW_MS)
        fill_view(self.app, self.view, now_ms)
        self.menu.tick(now_ms, self.view)
        if self.menu.dimmed != self._dimmed:
            self._dimmed = self.menu.dimmed
            self.display.dim(self._dimmed)
        self.menu.draw(self.painter, self.view)
        self.display.show()

    def step(self, now_ms):
        self.poll(now_ms)
        self.refresh(now_ms)

    async def run(self, supervisor=None):
        """Poll every POLL_MS while a key is down or settling; with every key up, wait
        for a key's edge (self.wake) or the next redraw. Checks in with the task
        supervisor when there is one."""
        clock = self.app.clock
        if supervisor is not None:
            supervisor.register("ui", clock.now_ms())
        while True:
            now = clock.now_ms()
            self.step(now)
            if supervisor is not None:
                supervisor.check_in("ui", now)
            if self.wake is not None and self.decoder.idle():
                # An edge set before this wait (after the poll above) ends it at once.
                await clock.wait_ms(self.wake, max(POLL_MS, self._next_draw - now))
            else:
                await clock.sleep_ms(POLL_MS)



def fill_view(app, view, now_ms):
    """Copy what the screens show from the app (None where a capability is absent)."""
    engine = app.engine
    view.now_ms = now_ms
    view.clock_min = engine.day_ms() // MS_PER_MIN if engine.time_known else None
    view.date_days = engine.date_days
    view.stop_reason = engine.stop_reason
    view.basal_mu_h = engine.basal_rate_mu_h()
    temp = engine.temp_basal()
    if temp is None:
        view.temp_rate_mu_h = view.temp_percent = view.temp_left_min = None
    else:
        view.temp_rate_mu_h, view.temp_percent, view.temp_left_min = temp
    _fill_bolus(engine, view)
    fitted = engine.stop_reason != STOP_NO_RESERVOIR or engine.reservoir_steps
    view.reservoir_mu = engine.reservoir_mu() if fitted else None
    view.reservoir_capacity_mu = engine.board.syringe_capacity_mu
    profiles = engine.profiles
    view.active_profile = profiles.active
    if _names_changed(view.profiles, profiles.profiles):
        view.profiles = tuple(sorted(profiles.profiles))
    if view.profile_segments is None:
        view.profile_segments = lambda name: _segments(app.engine.profiles, name)
    view.activity = app.activity.kind
    view.activity_left_min = app.activity.left_min(now_ms)
    _fill_capabilities(app, view, now_ms)
    if app.keeper is None:  # else History reads the journal (basalt.core.ui.history_pages)
        from basalt.app.ui_rare import fill_history  # a host only: kept

        fill_history(app, view, now_ms, engine.day_ms())


def _rare(name, *args):
    """What the UI fills in seldom (basalt.app.ui_rare), loaded for it, dropped after."""
    return call_and_forget("basalt.app.ui_rare", name, *args)


def _names_changed(names, profiles):
    """A profile added, deleted or renamed (no allocation when nothing changed)."""
    if len(names) != len(profiles):
        return True
    for name in names:
        if name not in profiles:
            return True
    return False


def _segments(profiles, name):
    profile = profiles.profiles.get(name)
    return [] if profile is None else profile.segments()


def _fill_bolus(engine, view):
    """All running bolus parts together: programmed and delivered (rounded down)."""
    programmed = done = 0
    kind = None
    for part in engine.bolus_parts():
        kind = part["kind"]
        programmed += part["programmed_mu"]
        done += part["done_steps"]
    view.bolus_kind = kind
    view.bolus_programmed_mu = programmed
    view.bolus_delivered_mu = engine.board.mu_for_usteps(done)


def _fill_capabilities(app, view, now_ms):
    """IOB, CGM, alarms, settings, calculator, boot notes (None or empty where the pump
    has none: no settings file, no keeper)."""
    view.iob_mu = app.iob.iob_mu(now_ms)
    _fill_glucose(app.cgm, view, now_ms)
    _fill_cgm_link(app.cgm_client, view)
    _fill_care(app, view, now_ms)
    # The loop acts only with a CGM: "LOOP" on home means it is closed and has readings.
    closed = app.loop is not None and app.loop.mode == "closed" and app.cgm is not None
    view.loop = LOOP_CLOSED if closed else LOOP_OPEN
    view.loop_mode = None if app.loop is None else app.loop.mode
    alarms = app.alarms
    view.alarms = tuple(_alarm_entry(alarms, code, now_ms) for code in alarms.active())
    settings = app.settings
    view.max_bolus_mu = settings.limits.max_bolus_mu if settings else None
    view.max_basal_mu_h = settings.limits.max_basal_mu_h if settings else None
    force = app.occlusion.force
    cal = force.calibration if force is not None else None
    view.force_cal = None if cal is None else (cal["tare_counts"], cal["counts_per_n"])
    view.occlusion = None if force is None else app.occlusion.learned
    if settings is not None:
        view.bolus_increment_mu = settings.bolus_increment_mu
    if settings is not None:
        if view.advise is None:
            view.advise = lambda carbs_g: _rare("advise", app, carbs_g)
    else:
        view.advise = None
    if not view.settings or view.settings_of is not settings:  # a file saved while running
        view.settings = _rare("settings_lines", app, settings)
        view.settings_of = settings
    keeper = app.keeper
    if view.open_journal is None and keeper is not None:
        view.open_journal = _journal_pages(app)
    awaiting = keeper is not None and keeper.awaiting_ack
    view.boot_notes = tuple(keeper.boot_notes) if awaiting else None
    u = keeper.uncertain if keeper is not None else None
    view.uncertain = None if u is None else (u["delivered_lo_mu"], u["delivered_hi_mu"],
                                             u["programmed_mu"])


def _fill_glucose(readings, view, now_ms):
    """The newest CGM reading from a basalt.core.readings.ReadingStore, if there is one."""
    reading = readings.latest_reading(now_ms) if readings is not None else None
    if reading is None or reading.glucose_milli is None:
        view.glucose_mgdl = view.trend = view.glucose_age_ms = None
        return
    view.glucose_mgdl = reading.glucose_milli // 1000
    view.glucose_age_ms = reading.age_ms
    arrow = reading.arrow
    view.trend = TREND_NAMES.index(arrow) - 3 if arrow in TREND_NAMES else None


def _journal_pages(app):
    def open_journal():
        from basalt.storage.history_pages import JournalPages  # when History opens

        return JournalPages(app.keeper.journal, app.clock.now_ms(), app.engine.day_ms())

    return open_journal


def _fill_cgm_link(client, view):
    if client is None:
        view.cgm_link = view.cgm_passkey = None
        return
    view.cgm_link = client.status()
    view.cgm_security = client.security
    view.cgm_peer = client.peer_text()
    view.cgm_passkey = client.prompt


def _fill_care(app, view, now_ms):
    settings = app.settings
    view.glucose_units = settings.glucose_units if settings is not None else "mg/dL"
    view.low_mg_dl = app.alerts.settings.low_mg_dl or UNEXPLAINED_LOW_MG_DL
    view.bg_for_dosing = (app.care.typed_for_dosing(now_ms) is not None
                          or (app.cgm is not None and app.cgm.glucose_known(now_ms)))


def _alarm_entry(alarms, code, now_ms):
    """(code, acknowledged, snoozed) of an active alarm, from the manager's state()."""
    state = alarms.state(code)
    return (code, bool(state["acknowledged"]), state["snoozed_until_ms"] > now_ms)
