"""The menu state machine on its own: arming rules for select, dimming and waking, the
two-press bolus stop, three-key boards, number entry, every menu reachable; and the
allocation-free text formatting."""

import pytest

from basalt.core.ui.forms import ConfirmScreen, ListScreen, NumberScreen
from basalt.core.ui.keys import BACK, DOWN, LONG, PRESS, RELEASE, REPEAT, SELECT, SHORT, UP
from basalt.core.ui.menu import Menu
from basalt.core.ui.screens import wrap
from basalt.core.ui.text import Line
from basalt.core.ui.textdump import TextDump
from basalt.core.ui.view import PumpView


def view_delivering():
    view = PumpView()
    view.stop_reason = None
    view.basal_mu_h = 800
    view.profiles = ("Day", "Night")
    view.active_profile = "Day"
    view.reservoir_mu = 150_000
    return view


class Driver:
    def __init__(self, keys=4, view=None, dim_ms=30_000):
        self.view = view or view_delivering()
        self.menu = Menu(0, has_back=keys == 4, boot_ms=0, dim_ms=dim_ms)
        self.now = 1_000
        self.painter = TextDump()

    def event(self, key, kind, dt=30):
        self.now += dt
        self.menu.handle(self.now, key, kind, self.view)
        self.menu.tick(self.now, self.view)

    def click(self, key, times=1):
        for _ in range(times):
            for kind in (PRESS, SHORT, RELEASE):
                self.event(key, kind)
        return self

    def long(self, key):
        for kind in (PRESS, LONG, RELEASE):
            self.event(key, kind, 500)
        return self

    def screen(self):
        self.menu.draw(self.painter, self.view)
        return self.painter.dump()

    def commands(self):
        return self.menu.pop_commands()


def to_confirm(d, presses=25):
    d.click(SELECT).click(SELECT).click(SELECT).click(UP, presses).click(SELECT)
    assert isinstance(d.menu.top(), ConfirmScreen)


def test_a_bolus_needs_its_confirm_screen_and_a_fresh_press():
    d = Driver()
    to_confirm(d)
    assert "2.50" in d.screen() and d.commands() == []
    d.click(SELECT)
    assert d.commands() == [("bolus", {"units": 2500})]
    assert d.screen().startswith("OPEN")  # back home


def test_the_press_that_opened_the_confirm_screen_cannot_confirm_it():
    d = Driver()
    d.click(SELECT).click(SELECT).click(SELECT).click(UP, 10)
    d.event(SELECT, PRESS)
    d.event(SELECT, SHORT)  # opens the confirm screen
    d.event(SELECT, SHORT)  # a second release without a press (bounce, glitch)
    d.event(SELECT, SHORT)
    d.event(SELECT, RELEASE)
    assert isinstance(d.menu.top(), ConfirmScreen) and d.commands() == []


def test_a_long_press_on_the_confirm_screen_goes_home_without_dosing():
    d = Driver()
    to_confirm(d)
    d.long(SELECT)
    assert d.commands() == [] and len(d.menu.stack) == 1


def test_back_leaves_the_confirm_screen_without_dosing():
    d = Driver()
    to_confirm(d)
    d.click(BACK)
    assert isinstance(d.menu.top(), NumberScreen) and d.commands() == []


def test_idle_dims_and_drops_to_home_and_a_press_only_wakes():
    d = Driver()
    to_confirm(d)
    d.now += 30_000
    d.menu.tick(d.now, d.view)
    assert d.menu.dimmed and len(d.menu.stack) == 1
    d.click(SELECT)  # wakes; does not open the menu
    assert not d.menu.dimmed and len(d.menu.stack) == 1
    d.click(SELECT)
    assert isinstance(d.menu.top(), ListScreen)
    assert d.commands() == []


def test_a_key_held_through_waking_is_ignored_until_released():
    d = Driver()
    d.now += 40_000
    d.menu.tick(d.now, d.view)
    d.event(UP, PRESS)
    d.event(UP, REPEAT)
    d.event(UP, LONG)
    d.click(SELECT)
    d.event(UP, RELEASE)
    assert isinstance(d.menu.top(), ListScreen) and d.menu.top().index == 0


def test_an_unacknowledged_alarm_wakes_the_screen_and_keeps_it_lit():
    d = Driver()
    d.now += 40_000
    d.menu.tick(d.now, d.view)
    assert d.menu.dimmed
    d.view.alarms = (("occlusion", False, False),)
    d.menu.tick(d.now + 10, d.view)
    assert not d.menu.dimmed
    d.menu.tick(d.now + 120_000, d.view)
    assert not d.menu.dimmed
    assert "OCCLUSION" in d.screen()
    d.view.alarms = (("occlusion", True, False),)
    d.menu.tick(d.now + 200_000, d.view)
    assert d.menu.dimmed


@pytest.mark.parametrize("keys", [3, 4])
def test_a_running_bolus_stops_in_two_presses_from_any_screen(keys):
    d = Driver(keys)
    d.view.bolus_kind = "normal"
    d.view.bolus_programmed_mu = 3_000
    d.view.bolus_delivered_mu = 1_000
    d.click(SELECT).click(DOWN).click(SELECT).click(DOWN).click(SELECT).click(SELECT)  # temp %
    d.long(SELECT)  # press 1
    assert "Stop bolus?" in d.screen() and "1.00 of 3.00 U" in d.screen()
    d.click(SELECT)  # press 2
    assert d.commands() == [("cancel_bolus", {})]


def test_three_key_boards_get_back_items():
    d = Driver(keys=3)
    d.click(SELECT)
    assert d.menu.top().items(d.menu, d.view)[-1][0] == "Back"
    d.click(DOWN, 10)  # to the last item: Back
    d.click(SELECT)
    assert len(d.menu.stack) == 1


def test_number_entry_clamps_and_speeds_up():
    done = []
    screen = NumberScreen("t", "U", 0, 0, 25_000, 100, lambda m, v, x: done.append(x),
                          decimals=2, min_ok=100)
    screen.move(None, None, -1, False)
    assert screen.value == 0
    screen.select(None, None)
    assert done == []  # 0 U cannot be chosen
    for i in range(30):
        screen.move(None, None, 1, i > 0)
    assert screen.value == 100 + 10 * 100 + 19 * 1_000
    for _ in range(50):
        screen.move(None, None, 1, True)
    assert screen.value == 25_000


def test_dual_wave_flow_sends_exact_parts():
    d = Driver()
    d.click(SELECT).click(SELECT).click(DOWN, 2).click(SELECT)
    d.click(UP, 40).click(SELECT)  # 4.00 U total
    d.click(DOWN, 3).click(SELECT)  # now part 2.00 - 0.30 = 1.70
    d.click(UP, 2).click(SELECT)  # 2 h + 30 min
    text = d.screen()
    assert "4.00" in text and "now 1.70 U" in text and "2.30 U in 2h30" in text
    d.click(SELECT)
    assert d.commands() == [("dual_bolus", {"units": 4000, "now_units": 1700,
                                            "minutes": 150})]


def test_calculator_flow_appears_with_the_calculator():
    d = Driver()
    d.click(SELECT).click(SELECT)
    assert "Calculator" not in d.screen()
    d.view.advise = lambda carbs: (carbs * 100 + 300, [("carbs", carbs * 100), ("corr", 300)],
                                   ["bg 150 mg/dL"])
    d.view.bg_for_dosing = True  # a CGM reading (or a typed one) fit for dosing
    assert "Calculator" in d.screen()
    d.click(SELECT).click(UP, 30).click(SELECT)  # 30 g
    assert "total" in d.screen() and "3.30" in d.screen()
    d.click(SELECT)  # edit, prefilled with the advice
    d.click(DOWN).click(SELECT)
    assert "3.20" in d.screen()
    d.click(SELECT)
    assert d.commands() == [("bolus", {"units": 3200})]


def test_calculator_bolus_puts_the_carbs_on_record_for_the_loop():
    d = Driver()
    d.view.loop_mode = "closed"
    d.view.advise = lambda carbs: (carbs * 100, [("meal", carbs * 100)], [])
    d.view.bg_for_dosing = True
    d.click(SELECT).click(SELECT).click(SELECT).click(UP, 30).click(SELECT)  # 30 g
    d.click(SELECT)  # edit
    assert "30 g carbs" in d.click(SELECT).screen()
    assert d.commands() == []  # nothing until confirmed
    d.click(SELECT)
    assert d.commands() == [("bolus", {"units": 3000}),
                            ("carbs", {"grams": 30, "source": "calculator"})]


def test_loop_menu_shows_the_mode_and_changes_it_only_when_confirmed():
    d = Driver()
    d.click(SELECT)
    assert "Loop" not in d.screen()  # no loop without therapy settings
    d.view.loop_mode = "suspend_only"
    assert "Loop: suspend" in d.screen()
    d.click(DOWN, 2).click(SELECT)
    text = d.screen()
    assert " Off" in text and "*Suspend only" in text and " Closed loop" in text
    d.click(DOWN, 2).click(SELECT)
    assert "Loop mode?\nto Closed loop\nbasal follows" in d.screen()
    d.click(BACK)
    assert d.commands() == []
    d.click(SELECT).click(SELECT)
    assert d.commands() == [("loop_mode", {"mode": "closed"})]


def test_basal_menu_follows_the_pump_state():
    d = Driver()
    d.click(SELECT).click(DOWN).click(SELECT)
    text = d.screen()
    assert "Temp basal" in text and "Suspend" in text and "Resume" not in text
    d.view.stop_reason = "suspended"
    text = d.screen()
    assert "Resume" in text and "Temp basal" not in text
    d.click(DOWN).click(SELECT).click(SELECT)  # Resume, confirm
    assert d.commands() == [("resume", {})]


def test_temp_basal_flow():
    d = Driver()
    d.click(SELECT).click(DOWN).click(SELECT).click(DOWN).click(SELECT).click(SELECT)
    d.click(UP, 5).click(SELECT).click(UP, 2).click(SELECT)
    assert "150" in d.screen() and "for 1h30" in d.screen()
    d.click(SELECT)
    assert d.commands() == [("temp_basal", {"percent": 150, "minutes": 90})]


def test_alarm_actions_emit_alarm_commands():
    d = Driver()
    d.view.alarms = (("reservoir_low", False, False),)
    d.click(SELECT).click(DOWN, 3).click(SELECT).click(SELECT).click(DOWN).click(SELECT)
    assert d.commands() == [("snooze", {"alarm": "reservoir_low"})]


def test_an_unacknowledged_alarm_heads_the_menu_and_a_high_one_cannot_be_snoozed():
    d = Driver()
    d.view.alarms = (("occlusion", False, False),)
    assert d.click(SELECT).screen().split("\n")[1] == "!OCCLUSION"
    assert "Snooze" not in d.click(SELECT).screen()
    d.click(SELECT)
    assert d.commands() == [("acknowledge", {"alarm": "occlusion"})]
    d.view.alarms = (("occlusion", True, False),)
    assert "!OCCLUSION" not in d.screen()  # acknowledged: nothing to act on


def walk_menus(d, depth=0, seen=None):
    """Open every item of every list (not confirming anything); returns screens seen."""
    seen = seen if seen is not None else set()
    top = d.menu.top()
    seen.add(d.screen().split("\n")[0])
    if depth > 4 or not isinstance(top, ListScreen):
        return seen
    for i in range(len(top.items(d.menu, d.view))):
        top.index = i
        before = len(d.menu.stack)
        d.click(SELECT)
        if len(d.menu.stack) < before:
            return seen  # the item closed this list (an alarm action goes back)
        if d.menu.top() is not top:
            walk_menus(d, depth + 1, seen)
            while d.menu.top() is not top and len(d.menu.stack) > 1:
                d.click(BACK)
    return seen


def test_every_menu_opens_and_draws():
    d = Driver()
    d.view.alarms = (("occlusion", False, False), ("mystery", True, True))
    d.view.history = ("07:00 bol 1.00",)
    d.click(SELECT)
    seen = walk_menus(d)
    for title in ("Menu", "Bolus", "Basal", "Alarms", "History", "Settings", "Normal bolus",
                  "Temp basal", "Prime", "Reservoir fill", "Profiles", "OCCLUSION", "Glucose",
                  "Site changed?"):
        assert title in seen
    sent = {name for name, _ in d.commands()}
    assert sent <= {"acknowledge", "snooze"}  # they act at once; no dose


@pytest.mark.parametrize("milli,decimals,text", [
    (0, 2, "0.00"), (10, 2, "0.01"), (2_500, 2, "2.50"), (25_000, 2, "25.00"),
    (1_999, 2, "1.99"), (-1_250, 2, "-1.25"), (150_000, 0, "150"), (2_345, 1, "2.3"),
    (7, 3, "0.007")])
def test_put_milli(milli, decimals, text):
    assert Line(12).put_milli(milli, decimals).text() == text


@pytest.mark.parametrize("value,width,fill,text", [
    (0, 0, 32, "0"), (7, 3, 32, "  7"), (5, 2, 48, "05"), (-42, 4, 32, " -42"),
    (123456, 2, 32, "123456")])
def test_put_int(value, width, fill, text):
    assert Line(12).put_int(value, width, fill).text() == text


@pytest.mark.parametrize("minutes,text", [(15, "15m"), (60, "1h"), (90, "1h30"), (1440, "24h")])
def test_put_minutes(minutes, text):
    assert Line(8).put_minutes(minutes).text() == text


def test_lines_never_overflow():
    line = Line(4).put(b"abcdef").put_int(123)
    assert line.text() == "abcd"


def test_wrap():
    assert wrap("bolus refused: pump is stopped (suspended)") == [
        "bolus refused:", "pump is stopped", "(suspended)"]
    assert wrap("x" * 20) == ["x" * 16, "xxxx"]
