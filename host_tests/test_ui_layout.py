"""Where things land on the 128 x 64 panel, read back from the framebuffer: rows that
belong together share a row, list labels stay inside their highlight bar, and the IOB a
fresh pump shows is the insulin it has really put on board (none)."""

import pytest

from basalt.core.ui.forms import ListScreen
from basalt.core.ui.keys import DOWN, SELECT
from basalt.core.ui.paint import Painter
from basalt.core.ui.screens import BAR_W, ROW_Y
from basalt.core.ui.text import Line
from basalt.core.ui.textdump import TextDump
from basalt.core.ui.view import PumpView
from host_tests.test_iob import make_app, run
from tools.screens.hostfb import HostFrameBuffer
from tools.screens.shots import Session

H = 3_600_000


def lit_rows(fb, x0, x1, y0=10, y1=29):
    """The y of every row (y0 to y1: under the status line, above IOB) with a lit pixel
    between x0 and x1 (inclusive)."""
    return sorted({y for y in range(y0, y1 + 1) for x in range(x0, x1 + 1) if fb.get(x, y)})


def draw_home(view):
    from basalt.core.ui.home import HomeScreen

    fb = HostFrameBuffer(128, 64)
    HomeScreen().draw(Painter(fb), view, None)
    dump = TextDump()
    HomeScreen().draw(dump, view, None)
    return fb, dump


def home_view(**fields):
    view = PumpView()
    view.clock_min = 7 * 60 + 30
    view.reservoir_mu = 24_000
    view.iob_mu = 0
    view.basal_mu_h = 1_100
    for key, value in fields.items():
        setattr(view, key, value)
    return view


def test_without_a_cgm_the_reservoir_shares_the_row_of_no_cgm():
    fb, dump = draw_home(home_view())
    assert dump.rows[16] == {0: "n", 1: "o", 3: "C", 4: "G", 5: "M",
                             8: "R", 9: "e", 10: "s", 12: "2", 13: "4", 14: "U"}
    # the pixels: "no CGM" (x 0-47) and "Res 24U" (x 64-119) span the same rows
    assert lit_rows(fb, 0, 47) == lit_rows(fb, 64, 127) != []
    assert lit_rows(fb, 0, 127)[0] >= 16 and lit_rows(fb, 0, 127)[-1] < 16 + 8


def test_with_a_cgm_the_reservoir_sits_under_the_reading_age():
    _, dump = draw_home(home_view(glucose_mgdl=120, glucose_age_ms=120_000, trend=0))
    assert "".join(dump.rows[12][c] for c in sorted(dump.rows[12]) if c >= 8) == "2mago"
    assert "".join(dump.rows[21][c] for c in sorted(dump.rows[21])) == "Res24U"


class _Menu:
    has_back = True


def draw_list(labels, index):
    screen = ListScreen(b"Basal", lambda menu, view: [(label, None) for label in labels])
    screen.index = index
    fb = HostFrameBuffer(128, 64)
    screen.draw(Painter(fb), PumpView(), _Menu())
    dump = TextDump()
    screen.draw(dump, PumpView(), _Menu())
    return fb, dump


def ink(fb, y, highlighted):
    """(x, y) of the label's ink in the row at y: lit on black, dark on the bar."""
    return {(x, r) for r in range(y, y + 8) for x in range(128)
            if fb.get(x, r) == (0 if highlighted else 1) and (not highlighted or x < BAR_W)}


@pytest.mark.parametrize("label", ["Profile Weekday", "New reservoir", "MMMMMMMMMMMMMMM"])
def test_a_list_label_keeps_every_pixel_inside_its_bar(label):
    y = ROW_Y[0]
    plain, _ = draw_list([label, "x"], 1)
    selected, _ = draw_list([label, "x"], 0)
    shown = ink(plain, y, False)
    assert shown and max(x for x, _ in shown) < BAR_W  # within the bar's columns
    assert ink(selected, y, True) == shown  # highlighted: not one pixel lost at the edge
    for r in (y - 1, y + 8):  # the bar's rows above and below the glyphs: right to its end
        assert selected.get(BAR_W - 1, r) == 1 and selected.get(BAR_W, r) == 0


def test_a_label_too_long_for_the_row_is_cut_and_says_so():
    _, dump = draw_list(["Profile Weekend-2", "x"], 1)
    row = dump.rows[ROW_Y[0]]
    assert "".join(row[c] for c in sorted(row)) == "ProfileWeeken~"  # 15 columns
    assert max(row) == 14


def basal_menu(session):
    session.click(SELECT)
    session.click(DOWN)
    session.click(SELECT)
    dump = TextDump()
    session.ui.menu.draw(dump, session.ui.view)
    session.ui.menu.changed = True
    return dump.dump().splitlines()


def test_the_basal_menu_shows_the_whole_profile_name():
    session = Session()
    session.run(3_200)
    lines = basal_menu(session)
    assert lines[:2] == ["Basal", "Profile Weekday"]


# ----- IOB -----------------------------------------------------------------------------


@pytest.mark.parametrize("milli, text", [(0, "0.00"), (-1, "0.00"), (-9, "0.00"),
                                         (-10, "-0.01"), (-13, "-0.01"), (-1_000, "-1.00"),
                                         (4, "0.00"), (1_250, "1.25"), (-25_500, "-25.50")])
def test_amounts_carry_a_minus_sign_only_with_a_digit(milli, text):
    assert Line(12).put_milli(milli, 2).text() == text


def fresh_pump():
    """A pump on the sim board with a profile and nothing else: as it powers up."""
    app, clock = make_app()
    app.command({"cmd": "set_profile", "name": "Weekday",
                 "segments": [["00:00", 0.8], ["06:00", 1.1]]})
    return app, clock


def test_a_fresh_pump_has_no_insulin_on_board_until_it_has_delivered():
    """No reservoir, then one fitted but not started: nothing was missed (the cause of
    the old "IOB -0.01 U": the schedule's basal charged as missed since power-on)."""
    app, clock = fresh_pump()
    run(app, clock, 10 * 60_000)
    assert app.engine.stop_reason == "no reservoir"
    assert app.iob.iob_mu(clock.now_ms()) == 0
    app.command({"cmd": "new_reservoir", "units": 200})
    run(app, clock, 10 * 60_000)
    assert app.engine.stop_reason == "suspended"
    assert app.iob.iob_mu(clock.now_ms()) == 0
    app.command({"cmd": "resume"})
    run(app, clock, H)
    assert abs(app.iob.iob_mu(clock.now_ms())) <= 3  # basal as scheduled nets to ~0


def test_a_suspension_after_delivery_is_missed_basal_and_shows_negative():
    app, clock = fresh_pump()
    app.command({"cmd": "new_reservoir", "units": 200})
    app.command({"cmd": "resume"})
    run(app, clock, H)
    app.command({"cmd": "suspend"})
    run(app, clock, H)
    iob = app.iob.iob_mu(clock.now_ms())
    assert -800 < iob < -600  # an hour of 0.8 U/h missed, partly decayed
    _, dump = draw_home(home_view(iob_mu=iob))
    row = dump.rows[30]
    assert "".join(row[c] for c in sorted(row)) == "IOB%sU" % Line(12).put_milli(iob, 2).text()
    assert row[4] == "-"


def test_the_fresh_pump_home_screen_reads_iob_zero():
    session = Session.__new__(Session)  # the shots session, minus its set-up commands
    from basalt.app import BOOT_WARNING
    from basalt.app.ui_task import UiTask
    from tools.fakes import FakeDisplay, fake_keys

    session.app, session.clock = fresh_pump()
    session.display = FakeDisplay()
    session.keys = fake_keys(4)
    session.ui = UiTask(session.app, session.display, session.keys, BOOT_WARNING)
    session.run(5 * 60_000)
    dump = TextDump()
    session.ui.menu.draw(dump, session.ui.view)
    assert "IOB 0.00 U" in dump.dump().splitlines()
