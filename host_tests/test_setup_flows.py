"""Issue 17 items 5-8 and 11 from the buttons: the clock (and what runs while the time
is not known), basal profiles edited on the device, a temp basal in U/h, the force
sensor's calibration, and the activity modes. The real PumpApp, Keeper and UiTask on
fake flash and fake keys; read through the screen, the files and the motor's steps."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basalt.core import clock
from basalt.core.commands import COMMANDS
from basalt.core.errors import InvalidValue, NotAllowedNow
from basalt.core.settings import parse_settings_text
from basalt.core.ui.keys import BACK, DOWN, SELECT, UP
from basalt.core.ui.textdump import TextDump
from basalt.storage.journal import Journal
from tools.screens.shots import FakeForce, KeptSession, save_setup_screens

MIN = 60_000
HOUR = 60 * MIN
DAY_2026_12_06 = 20_793  # days since 1970


class Pump(KeptSession):
    def text(self):
        dump = TextDump()
        self.ui.menu.draw(dump, self.ui.view)
        self.ui.menu.changed = True
        return dump.dump()

    def records(self, kind):
        return [r.detail for r in Journal(self.storage).read().records if r.kind == kind]

    def saved(self):
        return parse_settings_text(bytes(self.storage.files["settings.json"]).decode())


def steps_over(pump, ms):
    before = pump.app.motion.moved_steps
    pump.idle(ms)
    return pump.app.motion.moved_steps - before


def type_name(pump, name, start):
    """Up-presses on the name screen to each letter, select, then to "done"."""
    from basalt.core.ui.flows_basal import NAME_CHARS

    size = len(NAME_CHARS) + 2
    index = start
    for letter in name:
        target = NAME_CHARS.index(letter.encode())
        pump.click(UP, (target - index) % size)
        pump.click(SELECT)
        index = target
    pump.click(UP, (size - 1 - index) % size)
    assert "[done]" in pump.text()
    pump.click(SELECT)


# ----- the calendar ----------------------------------------------------------------------

@given(st.integers(clock.days_from_civil(clock.YEAR_MIN, 1, 1),
                   clock.days_from_civil(clock.YEAR_MAX, 12, 31)))
def test_days_and_dates_round_trip(days):
    year, month, day = clock.civil_from_days(days)
    assert 1 <= day <= clock.month_days(year, month)
    assert clock.days_from_civil(year, month, day) == days
    if day == clock.month_days(year, month):  # the next day is the next month's first
        assert clock.civil_from_days(days + 1)[2] == 1


@pytest.mark.parametrize("date, days", [((1970, 1, 1), 0), ((2000, 3, 1), 11_017),
                                        ((2024, 2, 29), 19_782), ((2026, 12, 6), 20_793)])
def test_known_dates(date, days):
    assert clock.days_from_civil(*date) == days
    assert clock.date_text(days) == "%04d-%02d-%02d" % date


def test_a_day_that_its_month_lacks_is_refused_by_the_table_naming_the_range():
    pump = Pump(epoch_s=DAY_2026_12_06 * 86_400)
    with pytest.raises(InvalidValue, match=r"set_clock day: 29 is not allowed; allowed: "
                                           r"1 to 28 \(2026-02 has 28 days\)"):
        pump.app.command({"cmd": "set_clock", "year": 2026, "month": 2, "day": 29,
                          "time": "12:00"})
    assert pump.app.engine.date_days == DAY_2026_12_06  # nothing changed
    with pytest.raises(InvalidValue, match="set_clock year: 2023"):
        pump.app.command({"cmd": "set_clock", "year": 2023, "month": 1, "day": 1,
                          "time": "12:00"})


# ----- the clock ---------------------------------------------------------------------------

def test_a_valid_rtc_gives_the_time_and_date_at_boot():
    pump = Pump(epoch_s=DAY_2026_12_06 * 86_400 + 12 * 3600 + 5 * 60)
    assert pump.app.engine.time_known and pump.app.engine.date_days == DAY_2026_12_06
    assert pump.app.engine.day_ms() // MIN == 12 * 60 + 5
    assert "time not set" not in " ".join(pump.app.keeper.boot_notes).lower()


def test_without_a_valid_rtc_the_pump_asks_for_the_time_and_runs_the_lowest_rate():
    pump = Pump()
    assert not pump.app.engine.time_known
    assert "Time not set:\nbasal 0.8 U/h" in pump.text()  # the boot screen says so
    assert "OK: set time" in pump.text()
    pump.click(SELECT)
    assert pump.text().startswith("Time not set")
    pump.click(DOWN)
    pump.click(SELECT)  # later: on without the time
    pump.ready()
    assert pump.text().startswith("NO RES") or "time?" in pump.text().split("\n")[0]
    assert pump.app.engine.basal_rate_mu_h() == 800  # Weekday's lowest, whatever the hour
    pump.idle(6 * HOUR)  # no segment boundary is crossed on a guess
    assert pump.app.engine.basal_rate_mu_h() == 800
    assert "time?" in pump.text().split("\n")[0]
    with pytest.raises(NotAllowedNow, match="set the clock first"):
        pump.app.suggest_bolus(30)


def set_clock_from_the_boot_screen(pump, year_ups, hour, minute):
    pump.click(SELECT)  # the boot screen: set time
    pump.click(SELECT)  # "Set clock"
    pump.click(UP, year_ups)
    pump.click(SELECT)  # year
    pump.click(UP, 11)
    pump.click(SELECT)  # December
    pump.click(UP, 5)
    pump.click(SELECT)  # the 6th
    pump.click(DOWN, 12 - hour) if hour < 12 else pump.click(UP, hour - 12)
    pump.click(SELECT)
    pump.click(UP, minute)
    pump.click(SELECT)


def test_the_clock_set_on_the_boot_screen_runs_the_segment_of_that_time():
    pump = Pump()
    set_clock_from_the_boot_screen(pump, 2, 7, 30)
    assert pump.text().split("\n")[:4] == ["Set clock?", "2026-12-06", "07:30",
                                           "basal follows"]
    pump.click(SELECT)
    engine = pump.app.engine
    assert engine.time_known and engine.date_days == DAY_2026_12_06
    assert engine.day_ms() // MIN == 7 * 60 + 30
    assert not pump.app.keeper.awaiting_ack  # the boot screen is done
    pump.ready()
    assert engine.basal_rate_mu_h() == 1_200  # Weekday 06:00-09:00
    assert "07:3" in pump.text().split("\n")[0]
    board = pump.app.board
    assert steps_over(pump, 30 * MIN) == pytest.approx(board.usteps_for_mu(600), abs=2)
    (rec,) = pump.records("clock_set")
    assert rec["days"] == DAY_2026_12_06 and rec["minute"] == 450
    assert rec["was_known"] is False and rec["how"] == "user"


def test_the_date_rolls_over_at_midnight():
    pump = Pump(epoch_s=DAY_2026_12_06 * 86_400 + 23 * 3600 + 59 * 60).ready()
    pump.idle(2 * MIN)
    assert pump.app.engine.date_days == DAY_2026_12_06 + 1
    assert pump.app.engine.basal_rate_mu_h() == 800


def test_the_clock_from_the_setup_menu_moves_the_schedule():
    pump = Pump(epoch_s=DAY_2026_12_06 * 86_400 + 2 * 3600).ready()
    assert pump.app.engine.basal_rate_mu_h() == 800
    pump.click(SELECT)
    pump.click(DOWN, 9)  # the last item: Setup
    pump.click(SELECT)
    assert "Clock 02:0" in pump.text()
    pump.click(SELECT)
    pump.click(SELECT, 3)  # year, month, day as they are
    pump.click(UP, 16)
    pump.click(SELECT)  # 18 h
    pump.click(SELECT)  # minute
    pump.click(SELECT)
    assert pump.app.engine.basal_rate_mu_h() == 1_100  # Weekday 18:00-22:00


# ----- profiles ------------------------------------------------------------------------------

def open_profiles(pump):
    pump.click(SELECT)
    pump.click(DOWN)
    pump.click(SELECT)  # Basal
    pump.click(SELECT)  # Profile Weekday
    return pump.text()


def test_editing_a_segment_is_confirmed_with_the_daily_total_saved_and_applied_live():
    pump = Pump(epoch_s=DAY_2026_12_06 * 86_400 + 7 * 3600).ready()
    assert open_profiles(pump).split("\n")[1:4] == [" Weekday", " Weekend", "New profile"] \
        or "*Weekday" in pump.text()
    pump.click(SELECT)  # Weekday (active: no Activate, no Delete)
    pump.click(SELECT)  # Edit segments
    assert "06:00 1.20" in pump.text()
    pump.click(DOWN, 2)
    pump.click(SELECT)  # 06:00
    pump.click(SELECT)  # Rate
    pump.click(UP, 6)  # 1.20 -> 1.50
    pump.click(SELECT)
    text = pump.text()
    before = pump.app.engine.profiles.get("Weekday").daily_total_mu()
    assert text.split("\n")[0] == "Save profile?"
    assert "%d.%02d" % divmod((before + 900) // 10, 100) in text  # +0.3 U/h for 3 h
    assert "U/day" in text and "06:00 1.50 U/h" in text
    pump.click(SELECT)
    assert pump.text().startswith("Weekday")  # back in the editor
    assert "06:00 1.50" in pump.text()
    assert pump.app.engine.basal_rate_mu_h() == 1_500  # live, not at the next boot
    saved = pump.saved()["basal"]["profiles"]["Weekday"]
    assert ["06:00", 1.5] in saved  # in the settings file, checked by its schema
    assert pump.records("settings_changed")[-1]["keys"] == ["basal"]
    again = Pump(storage=pump.storage, epoch_s=DAY_2026_12_06 * 86_400 + 7 * 3600)
    again.app.command({"cmd": "boot_ack"})  # delivering before: it goes on
    assert again.app.engine.basal_rate_mu_h() == 1_500  # and the next boot reads it


def test_a_rate_above_max_basal_cannot_be_chosen():
    pump = Pump(epoch_s=DAY_2026_12_06 * 86_400).ready()
    open_profiles(pump)
    pump.click(SELECT)
    pump.click(SELECT)  # Edit segments
    pump.click(SELECT)  # 00:00
    pump.click(SELECT)  # Rate
    pump.hold(UP, 8_000)
    assert "3.00" in pump.text() and "(0.00-3.00)" in pump.text()  # the settings' max


def test_new_copy_rename_delete_and_activate_from_the_menu():
    pump = Pump(epoch_s=DAY_2026_12_06 * 86_400 + 7 * 3600).ready()
    open_profiles(pump)
    pump.click(DOWN, 2)
    pump.click(SELECT)  # New profile
    type_name(pump, "S", 0)
    pump.click(SELECT)  # rate all day (the basal now, 1.20)
    assert "28.80" in pump.text() and "New profile?" in pump.text()
    pump.click(SELECT)
    assert pump.app.engine.profiles.get("S").daily_total_mu() == 28_800
    assert "S" in pump.saved()["basal"]["profiles"]
    open_profiles(pump)
    pump.click(SELECT)  # S (sorted first)
    pump.click(DOWN, 2)
    pump.click(SELECT)  # Copy
    type_name(pump, "T", 0)
    assert "S as" in pump.text() and "28.80" in pump.text()
    pump.click(SELECT)
    assert pump.app.engine.profiles.get("T").segments() == [(0, 1_200)]
    open_profiles(pump)
    pump.click(DOWN)
    pump.click(SELECT)  # T
    pump.click(DOWN, 3)
    pump.click(SELECT)  # Rename: the old name, "done" chosen
    pump.click(DOWN)
    pump.click(SELECT)  # del
    type_name(pump, "V", len(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"))
    assert "to V" in pump.text()
    pump.click(SELECT)
    profiles = pump.app.engine.profiles.profiles
    assert "V" in profiles and "T" not in profiles
    open_profiles(pump)
    pump.click(DOWN)
    pump.click(SELECT)  # V
    pump.click(SELECT)  # Activate, with its total
    assert "28.80" in pump.text() and "to V" in pump.text()
    pump.click(SELECT)
    assert pump.app.engine.profiles.active == "V"
    assert pump.app.engine.basal_rate_mu_h() == 1_200
    open_profiles(pump)
    pump.click(SELECT)  # S
    pump.click(DOWN, 4)
    pump.click(SELECT)  # Delete
    pump.click(SELECT)
    assert sorted(pump.saved()["basal"]["profiles"]) == ["V", "Weekday", "Weekend"]
    assert pump.saved()["basal"]["active"] == "V"


def test_a_name_in_use_is_refused_before_anything_is_sent():
    pump = Pump(epoch_s=0 + DAY_2026_12_06 * 86_400).ready()
    pump.app.command({"cmd": "set_profile", "name": "WORK", "segments": [["00:00", 1]]})
    open_profiles(pump)
    pump.click(DOWN, 3)
    pump.click(SELECT)  # New profile
    before = bytes(pump.storage.files["settings.json"])
    type_name(pump, "WORK", 0)
    assert "Not done" in pump.text() and "already a profile" in pump.text().replace("\n", " ")
    assert bytes(pump.storage.files["settings.json"]) == before


def test_rename_refuses_a_name_in_use_and_the_settings_keep_the_active_profile():
    pump = Pump(epoch_s=DAY_2026_12_06 * 86_400).ready()
    with pytest.raises(NotAllowedNow, match="Weekend is already a profile"):
        pump.app.command({"cmd": "rename_profile", "name": "Weekday", "new_name": "Weekend"})
    pump.app.command({"cmd": "rename_profile", "name": "Weekday", "new_name": "Work"})
    assert pump.app.engine.profiles.active == "Work"
    assert pump.saved()["basal"]["active"] == "Work"


# ----- temp basal in U/h ---------------------------------------------------------------------

def temp_basal_menu():
    """A ready pump at 07:00 with the Temp basal list open."""
    pump = Pump(epoch_s=DAY_2026_12_06 * 86_400 + 7 * 3600).ready()
    pump.click(SELECT)
    pump.click(DOWN)
    pump.click(SELECT)  # Basal
    pump.click(DOWN)
    pump.click(SELECT)  # Temp basal
    return pump


def test_an_absolute_temp_basal_from_the_menu():
    pump = temp_basal_menu()
    pump.click(DOWN)
    pump.click(SELECT)  # Rate U/h (starts at the basal now, 1.20)
    pump.click(UP, 6)
    pump.click(SELECT)  # 1.50
    pump.click(SELECT)  # 1 h
    assert pump.text().split("\n")[:2] == ["Confirm temp", "1.50"]
    pump.click(SELECT)
    assert pump.app.engine.temp_basal() == (1_500, None, 60)
    assert "T 1.50U/h" in pump.text()
    board = pump.app.board
    assert steps_over(pump, 30 * MIN) == pytest.approx(board.usteps_for_mu(750), abs=2)


# ----- calibration ---------------------------------------------------------------------------

def test_tare_and_scale_from_the_menu_are_saved_in_data_and_shown():
    force = FakeForce()
    pump = Pump(epoch_s=DAY_2026_12_06 * 86_400, force=force).ready()
    pump.app.command({"cmd": "suspend"})
    pump.click(SELECT)
    pump.click(DOWN, 9)
    pump.click(SELECT)  # Setup
    pump.click(DOWN)
    pump.click(SELECT)  # Calibration
    assert "zero 0" in pump.text() and "28000 counts/N" in pump.text()
    pump.click(DOWN, 2)
    pump.click(SELECT)  # Tare
    pump.click(SELECT)
    assert json.loads(bytes(pump.storage.files["forcecal.json"]))["tare_counts"] == 1_000
    force.raw = 1_000 + 2 * 27_500  # 2 N on a sensor of 27,500 counts/N
    pump.click(SELECT)
    pump.click(DOWN, 9)
    pump.click(SELECT)
    pump.click(DOWN)
    pump.click(SELECT)
    assert "zero 1000" in pump.text()
    pump.click(DOWN, 3)
    pump.click(SELECT)  # Scale: weight (1.96 N: 200 g)
    pump.click(UP, 4)  # 1.96 -> 2.00 N
    pump.click(SELECT)
    assert "2.00" in pump.text()
    pump.click(SELECT)
    assert json.loads(bytes(pump.storage.files["forcecal.json"])) == {
        "tare_counts": 1_000, "counts_per_n": 27_500}
    assert [r["how"] for r in pump.records("force_calibrated")] == ["force_tare",
                                                                     "force_scale"]


def test_tare_while_delivering_is_refused_with_the_reason():
    pump = Pump(epoch_s=DAY_2026_12_06 * 86_400, force=FakeForce()).ready()
    pump.click(SELECT)
    pump.click(DOWN, 9)
    pump.click(SELECT)
    pump.click(DOWN)
    pump.click(SELECT)
    pump.click(DOWN, 2)
    pump.click(SELECT)
    pump.click(SELECT)
    assert "Not done" in pump.text() and "suspend" in pump.text()
    assert "forcecal.json" not in pump.storage.files


# ----- activity modes ------------------------------------------------------------------------

def start_activity(pump, downs, ups_30min=0):
    pump.click(SELECT)
    pump.click(DOWN, 8)
    pump.click(SELECT)  # Activity
    pump.click(DOWN, downs)
    pump.click(SELECT)
    pump.click(UP, ups_30min)
    pump.click(SELECT)
    text = pump.text()
    pump.click(SELECT)
    return text


def test_exercise_from_the_menu_is_shown_journaled_and_ends_by_itself():
    pump = Pump(epoch_s=DAY_2026_12_06 * 86_400 + 7 * 3600).ready()
    text = start_activity(pump, 0, 2)  # 2 h
    assert text.split("\n")[:4] == ["Exercise?", "for 2h", "target 150 mg/dL",
                                    "dose 50% of need"]
    assert pump.text().split("\n")[0].endswith("EX")
    assert pump.app.activity.kind == "exercise"
    pump.idle(2 * HOUR + MIN)
    assert pump.app.activity.kind is None
    assert "EX" not in pump.text().split("\n")[0]
    assert [(r["mode"], r.get("minutes")) for r in pump.records("activity_started")] == [
        ("exercise", 120)]
    assert [(r["mode"], r["how"]) for r in pump.records("activity_ended")] == [
        ("exercise", "time")]


def test_sick_day_reminds_to_check_ketones_and_the_site_every_two_hours():
    pump = Pump(epoch_s=DAY_2026_12_06 * 86_400).ready()
    start_activity(pump, 2)  # sick day, 24 h
    pump.idle(2 * HOUR - MIN)
    assert "sick_check" not in pump.app.alarms.active()
    pump.idle(2 * MIN)
    assert "sick_check" in pump.app.alarms.active()
    assert ("sick_check", False, False) in pump.ui.view.alarms
    pump.app.acknowledge("sick_check")
    pump.idle(MIN)
    assert "sick_check" not in pump.app.alarms.active()  # read: gone until the next one
    pump.idle(2 * HOUR)
    assert "sick_check" in pump.app.alarms.active()


def test_ending_an_activity_from_the_menu():
    pump = Pump(epoch_s=DAY_2026_12_06 * 86_400).ready()
    start_activity(pump, 1)  # sleep
    assert pump.app.activity.kind == "sleep"
    pump.click(SELECT)
    pump.click(DOWN, 8)
    assert "Activity: sleep" in pump.text()
    pump.click(SELECT)
    pump.click(DOWN, 3)
    pump.click(SELECT)  # End Sleep
    pump.click(SELECT)
    assert pump.app.activity.kind is None
    assert pump.records("activity_ended")[-1]["how"] == "user"


@pytest.mark.parametrize("kind, target, share, auto", [
    (None, 110, 100, True), ("exercise", 150, 50, False), ("sleep", 115, 100, False),
    ("sick", 110, 100, True)])
def test_the_loop_uses_the_activity_target_share_and_automatic_boluses(kind, target, share,
                                                                        auto):
    from basalt.core import loop

    pump = Pump(epoch_s=DAY_2026_12_06 * 86_400 + 7 * 3600).ready()
    app = pump.app
    if kind is not None:
        app.command({"cmd": "activity", "mode": kind, "minutes": 60})
    settings = app.settings
    settings.loop.auto_bolus = True

    now = app.clock.now_ms()

    class Store:  # glucose rising 1 mg/dL/min to 200, no meal on record: an
        latest = 0  # unannounced rise, the one the loop may bolus for

        def recent(self, minutes):
            return [[now - k * 300_000, (200 - 5 * k) * 1000, 0] for k in range(6, -1, -1)]

    record = loop.pump_inputs(now, Store(), app.iob, settings, app.engine,
                              "closed", app.loop.state, 10, app.activity.rules())
    loop.check_inputs(record)  # the record stays in the decide() schema
    assert record["schedule"]["target_mg_dl"] == target
    assert record["settings"].get("need_percent", 100) == share
    assert record["settings"]["auto_bolus"] is auto
    high = loop.decide(record)[0]
    assert high.bolus_mu == 0 if not auto else high.bolus_mu > 0
    if share < 100:
        assert "50 % of the need (activity)" in high.reason


def test_activity_fields_come_from_the_table():
    lo, hi, _ = COMMANDS["activity"].field("minutes").bounds()
    pump = Pump(epoch_s=DAY_2026_12_06 * 86_400).ready()
    with pytest.raises(InvalidValue, match="activity minutes: %d" % (hi + 1)):
        pump.app.command({"cmd": "activity", "mode": "sleep", "minutes": hi + 1})
    with pytest.raises(InvalidValue, match="activity mode: 'run'"):
        pump.app.command({"cmd": "activity", "mode": "run", "minutes": lo})
    assert pump.app.activity.kind is None
    with pytest.raises(NotAllowedNow, match="no activity mode is running"):
        pump.app.command({"cmd": "end_activity"})
    assert BACK == 3  # four keys on this rig


def test_the_setup_screenshots_in_docs_are_current(tmp_path):
    from tools import ROOT

    for path in save_setup_screens(str(tmp_path)):
        name = path.rsplit("/", 1)[-1]
        committed = open("%s/docs/%s" % (ROOT, name), "rb").read()
        assert open(path, "rb").read() == committed, (
            "docs/%s is stale: python -m tools.screens.shots --out docs" % name)


def test_a_settings_file_copied_on_while_running_applies_from_the_menu_at_once():
    pump = Pump(epoch_s=DAY_2026_12_06 * 86_400 + 7 * 3600).ready()
    obj = pump.saved()
    obj["basal"]["profiles"]["Weekday"] = [["00:00", 0.5]]
    obj["limits"]["max_bolus_u"] = 4
    obj["limits"]["max_bolus_60min_u"] = 6
    pump.storage.files["settings.json"] = bytearray(json.dumps(obj).encode())  # mpremote cp
    assert pump.app.engine.basal_rate_mu_h() == 1_200
    pump.click(SELECT)
    pump.click(DOWN, 9)
    pump.click(SELECT)  # Setup
    pump.click(DOWN)
    pump.click(SELECT)  # Reload settings
    pump.click(SELECT)
    assert pump.app.engine.basal_rate_mu_h() == 500  # now, not at the next boot
    assert pump.app.settings.limits.max_bolus_mu == 4_000
    assert pump.records("settings_changed")[-1]["how"] == "reload"


def test_a_refused_settings_file_changes_nothing_that_runs_and_says_why():
    pump = Pump(epoch_s=DAY_2026_12_06 * 86_400 + 7 * 3600).ready()
    obj = pump.saved()
    obj["limits"]["max_basal_u_h"] = 0.5  # below the profile's rates
    pump.storage.files["settings.json"] = bytearray(json.dumps(obj).encode())
    with pytest.raises(InvalidValue, match="limits.max_basal_u_h"):
        pump.app.command({"cmd": "reload_settings"})
    assert pump.app.engine.basal_rate_mu_h() == 1_200
    assert pump.records("settings_rejected")


def test_a_72_hour_temp_basal_from_the_buttons_runs_to_its_end():
    """The "Temp for" screen offers what the command table allows: up to 72 h (held
    key), confirmed, run for 72 hours, then scheduled basal again."""
    assert COMMANDS["temp_basal"].field("minutes").bounds()[1] == 72 * 60
    assert COMMANDS["loop_temp"].field("minutes").bounds()[:2] == (30, 30)  # loop: 30 min
    pump = temp_basal_menu()
    pump.click(SELECT)  # Percent (100 %)
    pump.click(DOWN, 5)
    pump.click(SELECT)  # 50 %
    assert "(15m-72h)" in pump.text()
    pump.hold(UP, 12_000)  # 15-min steps, then 2.5 h steps: to the top
    assert "72h" in pump.text().split("\n")[1]
    pump.click(SELECT)
    assert pump.text().split("\n")[:2] == ["Confirm temp", "50"]
    assert "for 72h" in pump.text()
    pump.click(SELECT)
    assert pump.app.engine.temp_basal() == (None, 50, 72 * 60)
    for _ in range(7):  # a press every 10 h keeps auto-off (12 h) away
        pump.idle(10 * HOUR)
        pump.click(BACK)
    pump.idle(HOUR + 50 * MIN)
    assert pump.app.engine.temp_basal()[2] <= 10 and pump.app.engine.stop_reason is None
    pump.idle(20 * MIN)
    assert pump.app.engine.temp_basal() is None
    assert pump.records("temp_basal_done") == [{"duration_min": 4320}]
