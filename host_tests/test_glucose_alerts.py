"""CGM glucose alerts, the zero-basal alert, the 15 g rule, glucose entry and the site
change: the core's rules as tables and properties, then through the app (a CGM store,
the command table, the journal across a reboot) and the menus, key by key."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basalt.app import PumpApp
from basalt.core.alarms import LOW, MEDIUM, AlarmManager
from basalt.core.glucose_alerts import (
    RECHECK_MS,
    URGENT_LOW_REPEAT_MS,
    AlertSettings,
    GlucoseAlerts,
    wanted,
)
from basalt.core.readings import ReadingStore
from basalt.core.settings import SettingsError, load_settings, parse_settings_text
from basalt.core.ui import flows_care
from basalt.core.ui.keys import BACK, DOWN, SELECT, UP
from basalt.core.units import MS_PER_MIN
from host_tests.test_cgm_app import send
from host_tests.test_journal_recovery import Pump
from host_tests.test_ui_menu import Driver
from tools.fakes import FakeMotor, VirtualClock
from tools.settings.example import EXAMPLE
from tools.sim import load_sim_board

M = MS_PER_MIN
DEFAULT = AlertSettings()
ALL_ON = AlertSettings(fall_mg_dl_min=2, rise_mg_dl_min=3)


# ----- which alerts a reading asks for -----------------------------------------------------

@pytest.mark.parametrize("s, mg_dl, trend, codes", [
    (DEFAULT, 120, 0, []),
    (DEFAULT, 55, None, ["urgent_low"]),  # at or below 55: urgent, and not also "low"
    (DEFAULT, 56, None, ["low"]),
    (DEFAULT, 70, None, ["low"]),
    (DEFAULT, 71, None, []),
    (DEFAULT, 250, None, ["high"]),  # at or above the high threshold
    (DEFAULT, 249, None, []),
    (DEFAULT, 95, -2_000, ["urgent_low_soon"]),  # 95 - 2 x 20 = 55 within 20 min
    (DEFAULT, 96, -2_000, []),
    (DEFAULT, 60, -200, ["low"]),  # 60 - 0.2 x 20 = 56: not soon
    (DEFAULT, 60, -1_000, ["low", "urgent_low_soon"]),
    (DEFAULT, 50, -3_000, ["urgent_low"]),  # soon only above 55
    (DEFAULT, 150, -3_000, []),  # rate alerts are off by default
    (ALL_ON, 150, -2_000, ["falling"]),
    (ALL_ON, 150, -1_999, []),
    (ALL_ON, 150, 3_000, ["rising"]),
    (ALL_ON, 150, 2_999, []),
    (ALL_ON, 60, -3_000, ["low", "urgent_low_soon", "falling"]),
    (AlertSettings(low_mg_dl=0, high_mg_dl=0), 56, None, []),  # low and high turned off
    (AlertSettings(low_mg_dl=0, high_mg_dl=0), 40, None, ["urgent_low"]),  # never off
    (AlertSettings(urgent_low_soon=False), 95, -2_000, []),
])
def test_a_reading_asks_for_these_alerts(s, mg_dl, trend, codes):
    assert wanted(s, mg_dl, trend) == codes


SETTINGS = st.builds(AlertSettings, low_mg_dl=st.sampled_from([0, 60, 70, 100]),
                     high_mg_dl=st.sampled_from([0, 120, 250, 400]),
                     fall_mg_dl_min=st.sampled_from([0, 2, 3]),
                     rise_mg_dl_min=st.sampled_from([0, 2, 3]), urgent_low_soon=st.booleans())


@given(SETTINGS, st.integers(20, 600), st.one_of(st.none(), st.integers(-10_000, 10_000)))
def test_urgent_low_is_fixed_at_55_whatever_the_settings(s, mg_dl, trend):
    codes = wanted(s, mg_dl, trend)
    assert ("urgent_low" in codes) == (mg_dl <= 55)
    assert not ("urgent_low" in codes and ("low" in codes or "urgent_low_soon" in codes))
    assert not ("falling" in codes and "rising" in codes)


# ----- the alerts over time, on an alarm manager -----------------------------------------

class Alerts:
    def __init__(self, s=DEFAULT):
        self.alarms = AlarmManager()
        self.alerts = GlucoseAlerts(self.alarms, s)
        self.now = 0

    def reading(self, mg_dl, trend=None, usable=True):
        self.alerts.cgm(self.now, mg_dl, trend, self.now, usable)
        self.alerts.evaluate(self.now)

    def wait(self, ms, every=M, reading=None):
        end = self.now + ms
        while self.now < end:
            self.now = min(end, self.now + every)
            if reading is not None and self.now % (5 * M) == 0:
                self.alerts.cgm(self.now, reading, None, self.now, True)
            self.alerts.evaluate(self.now)
            self.alarms.evaluate(self.now)

    def active(self):
        return self.alarms.active()

    def kinds(self, code):
        return [kind for kind, d in self.alarms.pop_events() if d.get("code") == code]


def test_urgent_low_latches_repeats_every_15_min_while_low_and_ends_when_read_and_recovered():
    a = Alerts()
    a.reading(50)
    assert a.active() == ["urgent_low"] and a.alarms.state("urgent_low")["priority"] == "high"
    a.alarms.acknowledge(a.now, "urgent_low")
    a.wait(URGENT_LOW_REPEAT_MS - M, reading=50)
    assert a.alarms.state("urgent_low")["acknowledged"]
    a.wait(M, reading=50)
    assert not a.alarms.state("urgent_low")["acknowledged"]  # alerting again
    a.reading(90)  # recovered, but nobody has read it: it stays
    a.wait(M)
    assert a.active() == ["urgent_low"]
    a.alarms.acknowledge(a.now, "urgent_low")
    assert a.active() == []
    assert a.kinds("urgent_low") == ["alarm_raised", "alarm_acknowledged", "alarm_realerted",
                                     "alarm_acknowledged", "alarm_cleared"]


def test_a_latched_urgent_low_whose_glucose_falls_again_stays_until_it_recovers():
    a = Alerts()
    a.reading(50)
    a.reading(90)
    a.reading(52)  # low again before anyone read it
    a.alarms.acknowledge(a.now, "urgent_low")
    assert a.active() == ["urgent_low"]  # acknowledged, but the cause is there


@pytest.mark.parametrize("mg_dl, code, repeat_min, priority", [
    (65, "low", 15, MEDIUM), (300, "high", 60, LOW)])
def test_low_and_high_repeat_after_their_interval_and_can_be_snoozed(mg_dl, code, repeat_min,
                                                                     priority):
    a = Alerts()
    a.reading(mg_dl)
    assert a.active() == [code] and a.alarms.state(code)["priority"] == ("high", "medium",
                                                                          "low")[priority]
    a.alarms.snooze(a.now, code)
    assert a.alarms.sounding(a.now) is None
    a.wait((15 if priority == MEDIUM else 30) * M, reading=mg_dl)
    assert a.alarms.sounding(a.now) is not None  # the snooze ran out
    a.alarms.acknowledge(a.now, code)
    a.wait(repeat_min * M - M, reading=mg_dl)
    assert a.alarms.sounding(a.now) is None
    a.wait(M, reading=mg_dl)
    assert a.alarms.sounding(a.now) is not None


def test_a_repeat_of_0_never_alerts_again_and_a_stale_reading_ends_the_alert():
    a = Alerts(AlertSettings(high_repeat_min=0))
    a.reading(300)
    a.alarms.acknowledge(a.now, "high")
    a.wait(5 * 60 * M, reading=300)
    assert a.alarms.state("high")["acknowledged"]
    a.wait(16 * M)  # no reading: the CGM-lost alarm speaks, not a stale "high"
    assert a.active() == []


def test_zero_basal_alerts_after_its_time_unless_a_low_reading_explains_it():
    a = Alerts(AlertSettings(zero_basal_min=120))
    a.reading(110)
    for _ in range(119):
        a.alerts.basal(a.now, True)
        a.wait(M, reading=110)
    assert "zero_basal" not in a.active()
    a.alerts.basal(a.now, True)
    a.wait(M, reading=110)
    assert a.active() == ["zero_basal"]
    a.reading(68)  # a low, fit for dosing: the zero basal is explained
    assert a.active() == ["low"]
    a.alerts.cgm(a.now, 68, None, a.now, False)  # the same low, flagged: explains nothing
    a.alerts.evaluate(a.now)
    assert "zero_basal" in a.active()
    a.alerts.basal(a.now, False)  # basal again
    a.wait(M)
    assert "zero_basal" not in a.active()


def test_carbs_for_a_low_read_the_alert_and_bring_a_recheck_15_min_later():
    a = Alerts()
    a.reading(62)
    a.alerts.treated(a.now)
    assert a.alarms.state("low")["acknowledged"]
    a.wait(RECHECK_MS - M)
    assert "recheck_bg" not in a.active()
    a.wait(M)
    assert "recheck_bg" in a.active()
    a.alerts.fingerstick(a.now, 95)
    assert a.active() == ["low"]  # read; the CGM's next reading decides whether it lasts


def test_a_reminder_gets_louder_but_never_becomes_an_alarm_that_cannot_be_snoozed():
    m = AlarmManager()
    m.raise_alarm(0, "site_change")
    for minute in range(1, 6 * 60):
        m.evaluate(minute * M)
    state = m.state("site_change")
    assert state["priority"] == "low" and state["level"] == 1
    m.snooze(6 * 60 * M, "site_change")


# ----- the settings section ---------------------------------------------------------------

def _settings(**sections):
    obj = parse_settings_text(EXAMPLE)
    obj.update(sections)
    return load_settings(obj)[0]


@pytest.mark.parametrize("key, value, allowed", [
    ("low_mg_dl", 55, "0 (off) or 60 to 100 mg/dL"),
    ("high_mg_dl", 401, "0 (off) or 120 to 400 mg/dL"),
    ("fall_mg_dl_min", 1, "0 (off) or 2 to 3 mg/dL/min"),
    ("zero_basal_min", 0, "30 to 240 min"),
    ("urgent_low_mg_dl", 50, "unknown key"),  # the urgent low cannot be changed
    ("urgent_low_soon", 1, "true or false"),
])
def test_alert_settings_are_checked_with_a_message_naming_key_value_and_range(key, value,
                                                                               allowed):
    with pytest.raises(SettingsError) as error:
        _settings(cgm_alerts={key: value})
    assert "cgm_alerts." + key in str(error.value) and allowed in str(error.value)


def test_alert_settings_default_when_absent_and_units_are_checked():
    s = _settings()
    assert (s.cgm_alerts.low_mg_dl, s.cgm_alerts.signal_loss_min, s.glucose_units) == (
        70, 15, "mg/dL")
    assert _settings(glucose_units="mmol/L").glucose_units == "mmol/L"
    with pytest.raises(SettingsError, match="glucose_units"):
        _settings(glucose_units="mmol")


# ----- through the app ------------------------------------------------------------------

def pump(**sections):
    board = load_sim_board()
    clock = VirtualClock()
    app = PumpApp(board, clock, FakeMotor(clock, board.motor.max_step_hz), tick_ms=1_000,
                  settings=_settings(**sections))
    app.command({"cmd": "new_reservoir", "units": 200})
    app.command({"cmd": "resume"})
    app.cgm = ReadingStore(clock.now_ms())
    return app, clock


def run(app, clock, minutes, readings=None, start=0):
    for second in range(minutes * 60):
        if readings is not None and second % 300 == 0:
            send(app, clock, readings, start + second // 60)
        app.step()
        clock.advance(1_000)


def test_a_cgm_reading_of_50_raises_the_urgent_low_through_the_app():
    app, clock = pump()
    run(app, clock, 10, readings=50)
    assert "urgent_low" in app.alarms.active()
    app.acknowledge("urgent_low")
    run(app, clock, 16, readings=50, start=10)
    assert not app.alarms.state("urgent_low")["acknowledged"]  # still low: it repeats
    run(app, clock, 10, readings=120, start=26)
    app.acknowledge("urgent_low")
    assert "urgent_low" not in app.alarms.active()


def test_a_zero_temp_for_two_hours_without_a_low_reading_is_not_silent():
    app, clock = pump()
    app.command({"cmd": "temp_basal", "percent": 0, "minutes": 180})
    run(app, clock, 119, readings=140)
    assert "zero_basal" not in app.alarms.active()
    run(app, clock, 2, readings=140, start=119)
    assert "zero_basal" in app.alarms.active()
    app.command({"cmd": "cancel_temp_basal"})
    run(app, clock, 1)
    assert "zero_basal" not in app.alarms.active()


def test_typed_glucose_is_journaled_feeds_the_calculator_and_clears_the_glucose_check():
    app, clock = pump(alarms={"reservoir_low_u": 20, "auto_off_h": 0, "site_change_days": 0,
                              "suspend_reminder_min": 0, "glucose_check_min": 30})
    app.cgm = None
    for _ in range(31 * 60):
        app.step()
        clock.advance(1_000)
    assert "glucose_check" in app.alarms.active()
    app.command({"cmd": "glucose", "mg_dl": 220})
    assert "glucose_check" not in app.alarms.active()
    events = [d for kind, d in app.pop_events() if kind == "glucose"]
    assert [(d["mg_dl"], d["source"]) for d in events] == [(220, "finger")]
    typed = app.care.typed_for_dosing(clock.now_ms())
    out = app.suggest_bolus(0, typed)
    assert out["glucose_source"] == "typed" and out["correction_mu"] > 0
    clock.advance(16 * M)
    assert app.care.typed_for_dosing(clock.now_ms()) is None  # as old as a CGM may be


@pytest.mark.parametrize("cmd, message", [
    ({"cmd": "glucose", "mg_dl": 19}, "glucose mg_dl: 19 is not allowed; allowed: 20 to 600 mg/dL"),
    ({"cmd": "glucose", "mg_dl": 120.0}, "glucose mg_dl: 120.0"),
    ({"cmd": "treat_low", "grams": 100}, "treat_low grams: 100 is not allowed; allowed: 5 to 60 g"),
])
def test_bad_care_commands_are_refused_naming_field_value_and_range(cmd, message):
    app, _ = pump()
    with pytest.raises(Exception) as error:
        app.command(cmd)
    assert message in str(error.value)
    assert [k for k, _ in app.pop_events() if k in ("glucose", "low_treated")] == []


def test_a_loop_high_temp_while_high_feeds_the_infusion_set_watch():
    app, clock = pump()
    app.cgm = None
    app.glucose(300)
    rate = app.engine.basal_rate_mu_h()
    app.commands.run(clock.now_ms(), ("loop_temp", {"rate": rate // 2, "minutes": 30}))
    assert app.monitor.infusion_set._armed_at is None  # a low temp corrects nothing
    app.commands.run(clock.now_ms(), ("loop_temp", {"rate": rate * 2, "minutes": 30}))
    app.collect()
    for _ in range(25):
        clock.advance(5 * M)
        app.step()
        app.glucose(300)
    assert "infusion_set" in app.alarms.active()


def test_the_site_change_clock_survives_a_reboot():
    pump = Pump(epoch=True).setup()
    pump.app.command({"cmd": "site_changed"})
    pump.run(30 * M)
    pump.boot(ack=True, epoch_s=1_800_000_000 + 3_600)  # off for about 30 min
    s = _settings().alarms
    s.site_change_min = 90
    pump.app.monitor.set_settings(s)
    pump.run(29 * M)
    assert "site_change" not in pump.app.alarms.active()
    pump.run(2 * M)
    assert "site_change" in pump.app.alarms.active()
    pump.app.snooze("site_change")
    assert pump.app.alarms.sounding(pump.clock.now_ms()) is None
    pump.app.command({"cmd": "site_changed"})
    assert "site_change" not in pump.app.alarms.active()
    assert pump.kinds().count("site_changed") == 2


# ----- the menus ----------------------------------------------------------------------------

def open_item(d, label):
    """From home: the main menu, then the item labelled so."""
    d.click(SELECT)
    items = [item[0] for item in d.menu.top().items(d.menu, d.view)]
    d.click(DOWN, items.index(label)).click(SELECT)
    return d


def test_glucose_entry_in_mg_dl_is_confirmed_and_sent_in_mg_dl():
    d = open_item(Driver(), "Glucose")
    assert "120" in d.screen() and "mg/dL" in d.screen() and "(20-600)" in d.screen()
    d.click(UP, 30).click(SELECT)
    assert d.screen().startswith("Save glucose?") and d.commands() == []
    d.click(SELECT)
    assert d.commands() == [("glucose", {"mg_dl": 150})]


def test_glucose_entry_in_mmol_l_sends_mg_dl_within_the_tables_bounds():
    d = Driver()
    d.view.glucose_units = "mmol/L"
    open_item(d, "Glucose")
    assert "6.6" in d.screen() and "(1.1-33.3)" in d.screen()
    d.click(UP, 4).click(SELECT).click(SELECT)
    assert d.commands() == [("glucose", {"mg_dl": flows_care.to_mg_dl(7_000)})] == [
        ("glucose", {"mg_dl": 126})]


@given(st.integers(20, 600), st.integers(20, 600))
def test_mmol_bounds_stay_inside_the_mg_dl_bounds(lo, hi):
    if lo > hi:
        lo, hi = hi, lo
    low, high = flows_care.mmol_bounds(lo, hi)
    if low <= high:
        assert lo <= flows_care.to_mg_dl(low) and flows_care.to_mg_dl(high) <= hi


def test_a_typed_low_offers_the_15_g_rule_logged_without_insulin():
    d = open_item(Driver(), "Glucose")
    d.click(DOWN, 60).click(SELECT).click(SELECT)  # 60 mg/dL
    assert d.screen().startswith("Carbs for low") and " 15" in d.screen()
    d.click(SELECT)
    assert "fast, no insulin" in d.screen() and "recheck in 15min" in d.screen()
    d.click(SELECT)
    assert d.commands() == [("glucose", {"mg_dl": 60}), ("treat_low", {"grams": 15})]


def test_an_urgent_low_alert_heads_the_menu_says_what_to_do_and_select_acknowledges():
    d = Driver()
    d.view.alarms = (("urgent_low", False, False),)
    d.click(SELECT)
    assert d.screen().split("\n")[1] == "!URGENT LOW"
    d.click(SELECT)
    assert "Eat 15 g fast" in d.screen()
    d.click(SELECT)
    text = d.screen()
    assert "Acknowledge" in text and "Carbs taken" in text and "Snooze" not in text
    d.click(SELECT)
    assert d.commands() == [("acknowledge", {"alarm": "urgent_low"})]


def test_the_infusion_set_alert_says_site_tubing_ketones_and_backup_insulin():
    d = Driver()
    d.view.alarms = (("infusion_set", False, False),)
    d.click(SELECT).click(SELECT)
    text = d.screen() + d.click(DOWN, 5).screen()
    for words in ("site and", "tubing", "ketones", "pen or syringe"):
        assert words in text.replace("\n", " ")


def test_a_new_reservoir_asks_about_the_site_and_the_menu_has_site_changed():
    d = Driver()
    d.click(SELECT).click(DOWN).click(SELECT)
    items = [item[0] for item in d.menu.top().items(d.menu, d.view)]
    d.click(DOWN, items.index("New reservoir")).click(SELECT).click(SELECT)
    d.click(SELECT)
    assert d.screen().startswith("New site too?")
    d.click(SELECT)
    assert d.commands() == [("new_reservoir", {"units": 150_000}), ("site_changed", {})]
    open_item(d, "Site changed").click(BACK).click(BACK)
    assert d.commands() == []
    open_item(d, "Site changed").click(SELECT)
    assert d.commands() == [("site_changed", {})]


def test_the_calculator_without_a_glucose_asks_for_one_first():
    d = Driver()
    d.view.advise = lambda carbs: (0, [], [])
    d.click(SELECT).click(SELECT).click(SELECT)  # bolus, calculator
    assert "Enter glucose" in d.screen() and "No correction" in d.screen()
    d.click(SELECT).click(UP, 80).click(SELECT).click(SELECT)  # 200 mg/dL, saved
    assert d.commands() == [("glucose", {"mg_dl": 200})]
    assert d.screen().startswith("Carbs")


def test_the_guides_pictures_of_these_screens_are_current(tmp_path):
    from tools import ROOT
    from tools.screens.shots import DOC_REFERENCE, save_reference

    save_reference(str(tmp_path), DOC_REFERENCE)
    for name in DOC_REFERENCE:
        committed = open("%s/docs/ui_%s.png" % (ROOT, name), "rb").read()
        assert (tmp_path / ("ui_%s.png" % name)).read_bytes() == committed, (
            "docs/ui_%s.png is stale: python -m tools.screens.shots --out docs" % name)


def test_typed_glucose_carbs_for_a_low_and_site_changes_reach_the_export(tmp_path):
    from basalt.storage.journal import bundle
    from tools import history

    pump = Pump(epoch=True).setup()
    for cmd in ({"cmd": "glucose", "mg_dl": 62}, {"cmd": "treat_low", "grams": 15},
                {"cmd": "site_changed"}):
        pump.app.command(cmd)
    path = tmp_path / "journal.bin"
    path.write_bytes(bundle(pump.storage))
    view = history.load(str(path))
    shaped = history.nightscout(view, history.parse_start("2030-01-01T00:00:00Z"))
    care = [t for t in shaped["treatments"] if t["eventType"] != "Note"][-3:]
    assert [(t["eventType"], t.get("glucose"), t.get("carbs")) for t in care] == [
        ("BG Check", 62, None), ("Carb Correction", None, 15), ("Site Change", None, None)]
    assert care[0]["glucoseType"] == "Finger" and shaped["entries"] == []  # not a sensor
    lines = [row["kind"] for row in history.csv_rows(view, 0)]
    assert lines[-3:] == ["glucose", "low_treated", "site_changed"]
