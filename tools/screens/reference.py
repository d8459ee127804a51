"""Reference screens: views and key sequences that put the menu on each screen.

Shared by host_tests/vectors/ui_vectors.py (MicroPython lane: the same pixels in
CPython and in MicroPython's framebuf), the PNG screenshots (tools/screens/shots.py) and the
redraw benchmark (tools/bench/ui.py, ui_alloc_vm.py). On CPython it is
tools.screens.reference; inside the MicroPython VM, tools/screens is copied to
/lib/screens, so it is screens.reference there.
new_canvas() is MicroPython's framebuf where it exists, else the host renderer.
"""

from basalt.core.ui.keys import DOWN, PRESS, RELEASE, SELECT, SHORT, UP
from basalt.core.ui.menu import Menu
from basalt.core.ui.view import LOOP_CLOSED, PumpView

WARNING = "BENCHTOP PROTOTYPE - NOT FOR HUMAN USE"


def new_canvas():
    try:
        import framebuf
    except ImportError:  # CPython: the host renderer from tools/screens
        from tools.screens.hostfb import HostFrameBuffer

        return HostFrameBuffer(128, 64)

    class Canvas(framebuf.FrameBuffer):  # as micropython-lib's ssd1306 driver does
        def __init__(self):
            self.width, self.height = 128, 64
            self.buf = bytearray(1024)
            super().__init__(self.buf, 128, 64, framebuf.MONO_VLSB)

    return Canvas()


def base_view():
    view = PumpView()
    view.version = "v0.1.0"
    view.clock_min = 7 * 60 + 42
    view.stop_reason = None
    view.basal_mu_h = 850
    view.active_profile = "Weekday"
    view.profiles = ("Weekday", "Weekend")
    view.reservoir_mu = 182_400
    view.history = ("07:30 bol 4.50", "07:33 done 4.50", "06:00 temp 150%",
                    "05:12 fill 200", "05:10 suspended", "04:00 prof Day")
    view.settings = ("board sim", "max bolus 10 U")
    return view


def full_view():
    view = base_view()
    view.glucose_mgdl = 123
    view.trend = 1
    view.glucose_age_ms = 3 * 60_000 + 5_000
    view.iob_mu = 2_346
    view.temp_percent = 150
    view.temp_left_min = 45
    view.basal_mu_h = 1_275
    view.bolus_kind = "dual"
    view.bolus_programmed_mu = 2_500
    view.bolus_delivered_mu = 1_204
    view.battery_pct = 76
    view.loop = LOOP_CLOSED
    view.alarms = (("reservoir_low", False, False), ("site_change", True, False))
    return view


class Keys:
    """Drives a menu with whole key presses at a steady pace."""

    def __init__(self, menu, view, now=10_000):
        self.menu = menu
        self.view = view
        self.now = now

    def click(self, key, times=1):
        for _ in range(times):
            for kind in (PRESS, SHORT, RELEASE):
                self.menu.handle(self.now, key, kind, self.view)
                self.now += 50
        return self


def menu_for(view):
    return Menu(0, has_back=True, version=view.version, warning=WARNING, boot_ms=0)


def screens():
    """(name, menu, view) for every reference screen."""
    out = []
    view = base_view()
    out.append(("boot", Menu(0, version=view.version, warning=WARNING), view))
    out.append(("home_no_cgm", menu_for(view), view))
    full = full_view()
    out.append(("home_full", menu_for(full), full))
    for trend in (-3, -2, 0, 3):
        v = full_view()
        v.trend = trend
        v.glucose_mgdl = 54 if trend < 0 else 287
        v.alarms = ()
        v.bolus_kind = None
        v.temp_left_min = None
        out.append(("home_trend_%d" % trend, menu_for(v), v))
    stopped = base_view()
    stopped.stop_reason = "suspended"
    stopped.basal_mu_h = 0
    stopped.alarms = (("cgm_lost", True, False),)
    out.append(("home_suspended", menu_for(stopped), stopped))
    m = menu_for(full)
    Keys(m, full).click(SELECT)
    out.append(("main_menu", m, full))
    v = base_view()
    m = menu_for(v)
    Keys(m, v).click(SELECT).click(SELECT).click(SELECT).click(UP, 25)
    out.append(("bolus_amount", m, v))
    m = menu_for(v)
    Keys(m, v).click(SELECT).click(SELECT).click(SELECT).click(UP, 25).click(SELECT)
    out.append(("bolus_confirm", m, v))
    m = menu_for(v)
    keys = Keys(m, v).click(SELECT).click(SELECT).click(DOWN, 2).click(SELECT)
    keys.click(UP, 40).click(SELECT).click(DOWN, 3).click(SELECT).click(UP, 2).click(SELECT)
    out.append(("dual_confirm", m, v))
    m = menu_for(full)
    Keys(m, full).click(SELECT).click(SELECT)
    out.append(("stop_bolus", m, full))
    m = menu_for(v)
    m.show_message(b"Not done", "bolus refused: pump is stopped (suspended)")
    out.append(("message", m, v))
    m = menu_for(v)
    Keys(m, v).click(SELECT).click(DOWN, 3).click(SELECT).click(DOWN)
    out.append(("history", m, v))
    m = menu_for(v)
    Keys(m, v).click(SELECT).click(DOWN).click(SELECT).click(DOWN).click(SELECT).click(SELECT)
    Keys(m, v).click(UP, 5).click(SELECT).click(UP, 2)
    out.append(("temp_minutes", m, v))
    m = menu_for(full)
    Keys(m, full).click(SELECT).click(DOWN, 4).click(SELECT)  # past "!RESERVOIR LOW"
    out.append(("alarm_list", m, full))
    v = base_view()
    v.advise = advise
    v.bg_for_dosing = True
    m = menu_for(v)
    Keys(m, v).click(SELECT).click(SELECT).click(SELECT).click(UP, 45).click(SELECT)
    out.append(("calculator_advice", m, v))
    v = base_view()
    v.boot_notes = ("Restarted (watchdog)", "Bolus interrupted: 0.5-0.9 of 2 U; confirm it")
    m = Menu(0, version=v.version, warning=WARNING)
    m.tick(10, v)
    out.append(("boot_notes", m, v))
    out += cgm_screens()
    out += care_screens()
    return out


def care_screens():
    """Glucose entry, the 15 g rule, the alert screens and the site change."""
    out = []
    for name, units, up in (("glucose_entry", "mg/dL", 22), ("glucose_mmol", "mmol/L", 12)):
        v = base_view()
        v.glucose_units = units
        m = menu_for(v)
        Keys(m, v).click(SELECT).click(DOWN, 5).click(SELECT).click(UP, up)
        out.append((name, m, v))
    v = base_view()
    m = menu_for(v)
    Keys(m, v).click(SELECT).click(DOWN, 5).click(SELECT).click(DOWN, 58).click(SELECT)
    Keys(m, v).click(SELECT).click(SELECT)
    out.append(("treat_low", m, v))
    for code, presses in (("urgent_low", 2), ("urgent_low", 3), ("infusion_set", 2)):
        v = base_view()
        v.alarms = ((code, False, False),)
        m = menu_for(v)
        Keys(m, v).click(SELECT, presses)
        out.append((code + ("_actions" if presses == 3 else ""), m, v))
    v = base_view()
    m = menu_for(v)
    Keys(m, v).click(SELECT).click(DOWN).click(SELECT).click(DOWN, 4).click(SELECT, 3)
    out.append(("site_prompt", m, v))
    return out


def cgm_screens():
    """The pairing prompt, the CGM link screen (a board that cannot pair), the journal's
    history pages and one entry."""
    from basalt.core.ui.flows_cgm import watch_prompt
    from basalt.core.ui.history_pages import HistoryPagesScreen

    out = []
    v = base_view()
    v.cgm_link, v.cgm_security, v.cgm_passkey = "CGM pairing", "not paired", 482_913
    m = menu_for(v)
    watch_prompt(m, 10, v)
    out.append(("cgm_pairing", m, v))
    v = base_view()
    v.cgm_link, v.cgm_security, v.cgm_peer = ("CGM unauthenticated", "unauthenticated",
                                              "5e:50:c0:de:00:01")
    m = menu_for(v)
    Keys(m, v).click(SELECT).click(DOWN, 3).click(SELECT).click(DOWN)
    out.append(("cgm_link", m, v))
    v = base_view()
    v.open_journal = ReferencePages
    m = menu_for(v)
    Keys(m, v).click(SELECT).click(DOWN, 3).click(SELECT)
    out.append(("history_pages", m, v))
    m = Menu(0, has_back=True, version=v.version, warning=WARNING, boot_ms=0)
    m.push(HistoryPagesScreen(ReferencePages()))
    Keys(m, v).click(DOWN, 2).click(SELECT)
    out.append(("history_entry", m, v))
    return out


class _Record:
    def __init__(self, at_min, kind, detail):
        self.boot = 3
        self.at_ms = at_min * 60_000
        self.kind = kind
        self.detail = detail


class ReferencePages:
    """A journal of six records for the history screens (JournalPages' interface)."""

    boot = 3
    boots = {3: (0, 6 * 3_600_000)}  # boot 3 started at 06:00
    RECORDS = (
        (30, "bolus_started", {"programmed_mu": 4_500, "source": "calculator", "carbs_g": 45,
                               "meal_mu": 4_500, "correction_mu": 1_200, "iob_mu": 800,
                               "mg_dl": 190}),
        (33, "bolus_done", {"programmed_mu": 4_500, "delivered_mu": 4_500}),
        (60, "loop_decision", {"mode": "closed", "action": "temp", "rate_mu_h": 2_400,
                               "minutes": 30, "eventual": 170, "glucose": 182,
                               "iob_mu": 3_900}),
        (72, "alarm_raised", {"code": "occlusion", "priority": "high"}),
        (73, "alarm_stop", {"reason": "occlusion", "bolus_not_delivered_mu": 0}),
        (80, "cgm_pair", {"state": "bonded", "detail": "5e:50:c0:de:00:01"}),
    )

    def newest(self):
        return len(self.RECORDS) - 1

    def older(self, pos):
        return pos - 1 if pos > 0 else None

    def newer(self, pos):
        return pos + 1 if pos + 1 < len(self.RECORDS) else None

    def record(self, pos):
        return _Record(*self.RECORDS[pos])


def advise(carbs_g):
    """A calculator stand-in: 10 g/U, 1 U correction, 0.4 U on board."""
    meal = carbs_g * 100
    return meal + 600, [("meal", meal), ("correct", 1_000), ("IOB", -400)], [
        "bg 190 mg/dL", "capped by max IOB: 6.2 U on board would exceed 8 U"]
