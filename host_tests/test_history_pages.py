"""History on the device: the journal paged from flash a record at a time (never the
whole file), each entry with its source and reason, reached from the buttons."""

import random
import struct

import pytest

from basalt.core import journal as jnl
from basalt.core import journal_read as jread
from basalt.core.ui.history_detail import describe
from basalt.core.ui.history_pages import HIDDEN, shown, summary
from basalt.core.ui.keys import DOWN, SELECT, UP
from basalt.core.ui.textdump import TextDump
from basalt.storage import history_pages
from basalt.storage.history_pages import JournalPages
from basalt.storage.journal import Journal
from tools.fake_storage import FakeStorage

KINDS = ("bolus_started", "bolus_done", "glucose", "loop_decision", "alarm_raised",
         "temp_basal_started", "basal_summary", "cgm_link")


class CountingStorage(FakeStorage):
    """FakeStorage that remembers how the pager read it."""

    def __init__(self):
        super().__init__()
        self.whole_reads = 0
        self.largest_read = 0

    def read(self, name):
        self.whole_reads += 1
        return super().read(name)

    def read_at(self, name, offset, size):
        self.largest_read = max(self.largest_read, size)
        data = self.files.get(name)
        return b"" if data is None else bytes(data[offset:offset + size])


def filled(storage, count, seed=1, segment_bytes=600):
    rng = random.Random(seed)
    journal = Journal(storage, segment_bytes=segment_bytes, segments=64)
    journal.open(jread.JournalView(), 1, 1)
    for n in range(count):
        kind = rng.choice(KINDS)
        detail = {"n": n, "text": "x" * rng.randrange(0, 200 if n % 17 else 900)}
        journal.append(kind, detail, n * 1_000)
    return journal


def walk(pages, start, step):
    out = []
    pos = start
    while pos is not None:
        out.append(pages.record(pos).detail["n"])
        pos = step(pos)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_pager_sees_every_record_both_ways_reading_a_chunk_at_a_time(seed):
    storage = CountingStorage()
    journal = filled(storage, 300, seed)
    assert len([n for n in storage.files if jnl.segment_number(n)]) > 10
    kept = [r.detail["n"] for r in Journal(storage).read().records]  # as the boot reads
    assert kept[-1] == 299 and len(kept) > 100
    storage.whole_reads = 0
    pages = JournalPages(journal)
    assert walk(pages, pages.newest(), pages.older) == kept[::-1]
    oldest = (pages.segments[0], 0)
    assert walk(pages, oldest, pages.newer) == kept
    assert storage.whole_reads == 0 and storage.largest_read <= history_pages.CHUNK


def test_damage_is_skipped_as_the_boot_reader_skips_it():
    storage = CountingStorage()
    journal = filled(storage, 120)
    names = sorted(n for n in storage.files if jnl.segment_number(n))
    middle = storage.files[names[3]]
    middle[40] ^= 0xFF  # a flipped byte inside a record
    storage.files[names[-1]] = storage.files[names[-1]][:-7]  # a torn tail
    expected = []
    for name in names:
        expected += [r.detail["n"] for r in jread.read_segment(bytes(storage.files[name]))[1]]
    pages = JournalPages(journal)
    assert walk(pages, pages.newest(), pages.older) == expected[::-1]
    assert len(expected) == 118


def test_a_record_whose_frame_checks_out_but_not_its_payload_is_skipped_when_shown():
    """Indexing checks each record's frame (sync, length, CRC) without decoding it; a
    record that then does not decode (a payload this firmware cannot read) reads back
    as None, and the pages skip it: what the boot reader skips, the history skips."""
    storage = CountingStorage()
    journal = filled(storage, 120)
    names = sorted(n for n in storage.files if jnl.segment_number(n))
    name = next(n for n in names[2:] if storage.files[n][jnl.HEADER_SIZE + 1] != jnl.LITERAL)
    data = storage.files[name]
    at = jnl.HEADER_SIZE  # the segment's first record: 14-byte head, payload, CRC
    end = at + jnl.RECORD_OVERHEAD + (data[at + 2] | data[at + 3] << 8)
    data[at + 14] = 0x7F  # its detail claims 127 items: the payload ends early
    data[end - 4:end] = struct.pack("<I", jnl.crc(bytes(data[at:end - 4])))
    expected = []
    for each in names:
        expected += [r.detail["n"] for r in jread.read_segment(bytes(storage.files[each]))[1]]
    assert len(expected) == 119  # the boot reader refuses it
    pages = JournalPages(journal)
    seen = []
    pos = pages.newest()
    while pos is not None:
        record = pages.record(pos)
        if record is not None:
            seen.append(record.detail["n"])
        pos = pages.older(pos)
    assert seen == expected[::-1]
    assert pages.record((jnl.segment_number(name), 0)) is None


@pytest.mark.parametrize("kind, detail, words", [
    ("bolus_started", {"programmed_mu": 3_200, "source": "calculator", "carbs_g": 45,
                       "meal_mu": 4_500, "correction_mu": 1_200, "iob_mu": 800, "mg_dl": 190},
     "bolus 3.20 U from the calculator: meal 45 g 4.50 U + corr 1.20 U - IOB 0.80 U; "
     "bg 190 mg/dL "),
    ("bolus_started", {"programmed_mu": 4_000, "source": "calculator", "carbs_g": 45,
                       "meal_mu": 4_500, "correction_mu": 0, "iob_mu": 500, "mg_dl": 110,
                       "glucose_source": "cgm", "carb_ratio_mg_per_u": 12_500,
                       "sensitivity_mg_dl_per_u": 40, "target_low_mg_dl": 100,
                       "target_high_mg_dl": 120, "suggested_mu": 4_000},
     "bolus 4.00 U from the calculator: meal 45 g 4.50 U - IOB 0.50 U; bg 110 mg/dL cgm; "
     "1 U per 12.5 g, 1 U per 40 mg/dL, target 100-120; suggested 4.00 U"),
    ("bolus_started", {"programmed_mu": 500, "source": "calculator", "carbs_g": 0,
                       "meal_mu": 0, "correction_mu": 0, "iob_mu": 0, "mg_dl": None,
                       "suggested_mu": 0},
     "bolus 0.50 U from the calculator: no meal, no correction; no bg; suggested 0.00 U, "
     "user set 0.50 U"),
    ("bolus_started", {"programmed_mu": 3_000, "source": "user", "kind": "dual",
                       "now_mu": 1_000, "extended_mu": 2_000, "duration_min": 90},
     "bolus 3.00 U (dual: 1.00 U now, 2.00 U over 1h30), amount set by the user"),
    ("bolus_cancelled", {"programmed_mu": 3_000, "delivered_mu": 1_200, "cause": "occlusion"},
     "bolus stopped: 1.20 U of 3.00 U (by an occlusion)"),
    ("stopped", {"reason": "suspended", "cause": "user"},
     "delivery stopped: suspended (by the user)"),
    ("stopped", {"reason": "auto off", "cause": "alarm", "alarm": "auto_off"},
     "delivery stopped: auto off (by an alarm auto off)"),
    ("stopped", {"reason": "reservoir empty", "cause": "empty_reservoir"},
     "delivery stopped: reservoir empty (the reservoir is empty)"),
    ("resumed", {"takeup_steps": 0, "cause": "user", "after": "occlusion"},
     "delivery resumed (by the user) after: occlusion; missed insulin is not made up"),
    ("temp_basal_cancelled", {"ran_min": 95, "cause": "loop"},
     "temp basal ended after 1h35 (by the loop)"),
    ("temp_basal_started", {"rate_mu_h": 0, "duration_min": 30, "source": "loop",
                            "cause": "low_glucose_suspend"},
     "temp basal 0.00 U/h for 30m, by the loop (low glucose suspend)"),
    ("carbs", {"grams": 20, "source": "user"}, "carbs 20 g announced to the loop alone"),
    ("carbs", {"grams": 45, "source": "calculator"},
     "carbs 45 g announced to the loop with a calculator bolus"),
    ("loop_decision", {"mode": "closed", "action": "temp", "rate_mu_h": 3_000, "minutes": 30,
                       "eventual": 210, "limit": "max_temp",
                       "prediction": [180, 185, 190, 195, 200, 204, 206, 208, 210]},
     "loop (closed): eventual 210 -> temp 3.00 U/h for 30 min; predicted 190, 200, 210 at "
     "30, 60, 120 min; bound by max temp"),
    ("bolus_started", {"programmed_mu": 300, "source": "loop"},
     "bolus 0.30 U by the loop (automatic)"),
    ("bolus_started", {"programmed_mu": 1_000, "source": "user"},
     "bolus 1.00 U, amount set by the user"),
    ("loop_decision", {"mode": "closed", "action": "temp", "rate_mu_h": 2_400, "minutes": 30,
                       "eventual": 170, "glucose": 160, "iob_mu": 500, "reason": "high"},
     "loop (closed): eventual 170 -> temp 2.40 U/h for 30 min; bg 160, IOB 0.50 U. high"),
    ("loop_decision", {"mode": "closed", "action": "cancel", "eventual": 95,
                       "refused": "pump is stopped"},
     "loop (closed): eventual 95 -> scheduled basal. REFUSED: pump is stopped"),
    ("alarm_raised", {"code": "occlusion", "priority": "high"},
     "alarm: occlusion, delivery stopped"),
    ("alarm_raised", {"code": "reservoir_low"}, "alarm: reservoir low"),
    ("temp_basal_started", {"percent": 150, "duration_min": 60, "source": "user"},
     "temp basal 150 % for 1h, by the user"),
    ("temp_basal_started", {"percent": 50, "duration_min": 4_320, "source": "user"},
     "temp basal 50 % for 72h, by the user"),
    ("cgm_pair", {"state": "refused", "detail": "no answer in time"},
     "CGM pairing: refused (no answer in time)"),
    ("bolus_interrupted", {"programmed_mu": 2_000, "delivered_lo_mu": 500,
                           "delivered_hi_mu": 900},
     "bolus of 2.00 U interrupted by a restart: 0.50 U to 0.90 U delivered; the user "
     "counts it"),
    ("something_new", {"b": 2, "a": 1}, "something new: a 1, b 2"),
])
def test_each_entry_says_who_and_why(kind, detail, words):
    assert describe(kind, detail) == words


def test_the_list_line_names_the_source():
    assert summary("bolus_started", {"programmed_mu": 2_100, "source": "calculator"}) == \
        "cal 2.10"
    assert summary("bolus_started", {"programmed_mu": 300, "source": "loop"}) == "auto 0.30"
    assert summary("loop_decision", {"action": "temp", "rate_mu_h": 2_400}) == "loop 2.40"
    assert summary("stopped", {"reason": "suspended", "cause": "user"}) == "stop user"
    assert summary("stopped", {"reason": "reservoir empty", "cause": "empty_reservoir"}) \
        == "stop empty"
    assert summary("stopped", {"reason": "suspended"}) == "suspended"  # an older record


# ----- from the buttons ----------------------------------------------------------------

def screen_text(s):
    dump = TextDump()
    s.ui.menu.draw(dump, s.ui.view)
    s.ui.menu.changed = True
    return dump.dump()


def journaled_session():
    from basalt.app import BOOT_WARNING, PumpApp
    from basalt.app.ui_task import UiTask
    from basalt.storage.keeper import Keeper
    from tools.fakes import FakeDisplay, FakeMotor, VirtualClock, bench_limits, fake_keys
    from tools.screens.shots import SETUP, Session
    from tools.sim import load_sim_board

    board = load_sim_board()
    s = Session.__new__(Session)
    s.clock = VirtualClock()
    s.app = PumpApp(board, s.clock, FakeMotor(s.clock, board.motor.max_step_hz),
                    limits=bench_limits())
    s.app.keeper = Keeper(FakeStorage(), settings_validator=lambda obj: (obj, []),
                          segment_bytes=1_024)
    s.app.keeper.start(0, "power_on")
    s.app.command({"cmd": "boot_ack"})
    for cmd in SETUP:
        s.app.command(cmd)
    s.display, s.keys = FakeDisplay(), fake_keys(4)
    s.ui = UiTask(s.app, s.display, s.keys, BOOT_WARNING)
    s.run(3_200)
    return s


def test_history_pages_back_past_the_last_twenty_events_with_the_reasons():
    s = journaled_session()
    s.app.command(("bolus", {"units": 500, "carbs": 30, "meal": 300, "correction": 400,
                             "iob": 200, "glucose": 190}))
    s.run(60_000)
    for _ in range(25):  # more than the 20 recent events the old screen kept
        s.app.command({"cmd": "bolus", "units": 0.1})
        s.run(30_000)
    s.click(SELECT)  # wake
    s.click(SELECT)  # menu
    s.click(DOWN, 3)
    assert "> History" in screen_text(s) or "History" in screen_text(s)
    s.click(SELECT)
    assert screen_text(s).split("\n")[0] == "History"
    assert "bol 0.10" in screen_text(s)
    for _ in range(60):
        s.click(DOWN)
        if "cal 0.50" in screen_text(s):
            break
    assert "cal 0.50" in screen_text(s)
    s.click(SELECT)
    text = screen_text(s)
    s.click(DOWN, 2)
    text = (text + " " + screen_text(s)).replace("\n", " ")
    assert text.startswith("07:30 cal 0.50 bolus 0.50 U from the calculator: meal 30 g")
    for words in ("+ corr 0.40 U", "- IOB 0.20 U", "; bg 190 mg/dL"):
        assert words in text
    s.click(SELECT)  # closes the entry
    s.click(UP, 3)
    assert screen_text(s).split("\n")[0] == "History"


def test_hidden_kinds_are_the_ones_with_nothing_to_say_alone():
    assert "bolus_started" not in HIDDEN and "loop_decision" not in HIDDEN


@pytest.mark.parametrize("kind, detail, expected", [
    ("glucose", {"mg_dl": 120, "source": "cgm"}, False),  # every 5 min: the CGM screen
    ("glucose", {"mg_dl": 120}, False),
    ("glucose", {"mg_dl": 200, "source": "finger"}, True),  # typed by the user
    ("bolus_part_done", {}, False),
    ("bolus_started", {"programmed_mu": 500}, True),
    ("occlusion_learned", {"threshold_mn": 300}, False),  # the calibration screen's
])
def test_which_records_the_history_shows(kind, detail, expected):
    assert shown(jnl.Record(1, 1, 0, kind, detail)) is expected


def test_the_screenshots_in_docs_are_current(tmp_path):
    from tools import ROOT
    from tools.screens.shots import CGM_SCREENS, save_reference

    for path in save_reference(str(tmp_path), CGM_SCREENS):
        name = path.rsplit("/", 1)[-1]
        committed = open("%s/docs/%s" % (ROOT, name), "rb").read()
        assert open(path, "rb").read() == committed, (
            "docs/%s is stale: python -m tools.screens.shots --out docs --cgm" % name)


def test_a_calculator_bolus_and_a_suspend_from_the_buttons_say_why_in_the_history():
    """Issue 19: from the buttons, a calculator bolus (typed glucose, amount edited) and a
    suspend; the History screen then shows the suspend with its cause and the bolus with
    its reason: carbs, glucose and its source, ratio, sensitivity, target, suggested."""
    from host_tests.test_setup_flows import DAY_2026_12_06, Pump

    pump = Pump(epoch_s=DAY_2026_12_06 * 86_400 + 7 * 3600).ready()
    pump.click(SELECT)
    pump.click(SELECT)  # Bolus
    pump.click(SELECT)  # Calculator: no glucose yet
    pump.click(SELECT)  # Enter glucose (120)
    pump.click(UP, 6)
    pump.click(SELECT)  # 126
    pump.click(SELECT)  # saved as a fingerstick
    pump.click(UP, 45)
    pump.click(SELECT)  # 45 g
    assert "45g advice" in pump.text()
    pump.click(SELECT)  # edit
    pump.click(DOWN, 2)
    pump.click(SELECT)
    assert "Confirm bolus" in pump.text()
    pump.click(SELECT)
    started = pump.records("bolus_started")[0]
    assert started["source"] == "calculator" and started["glucose_source"] == "typed"
    assert started["suggested_mu"] == 4_600 > started["programmed_mu"]
    pump.idle(5 * 60_000)  # delivered
    pump.click(SELECT)  # wake
    pump.click(SELECT)  # menu
    pump.click(DOWN)
    pump.click(SELECT)  # Basal
    pump.click(DOWN, 2)
    pump.click(SELECT)  # Suspend
    assert pump.text().startswith("Suspend?")
    pump.click(SELECT)
    assert pump.records("stopped")[-1]["cause"] == "user"
    pump.click(SELECT)  # menu
    pump.click(DOWN, 4)
    pump.click(SELECT)  # History, newest first
    rows = pump.text().split("\n")
    assert rows[0] == "History" and rows[1].endswith("stop user")
    assert rows[4].endswith("cal " + units(started["programmed_mu"]))
    pump.click(SELECT)
    assert "delivery stopped: suspended (by the user)" in read_entry(pump)
    pump.click(SELECT)  # back to the list
    pump.click(DOWN, 3)
    pump.click(SELECT)
    words = read_entry(pump)
    confirmed = units(started["programmed_mu"])
    for part in ("bolus %s U from the calculator" % confirmed, "meal 45 g 4.50 U",
                 "bg 126 mg/dL typed", "1 U per 10 g", "1 U per 45 mg/dL",
                 "target 100-120", "suggested 4.60 U, user set %s U" % confirmed):
        assert part in words, (part, words)


def read_entry(pump):
    """An open history entry's whole text, scrolled a line at a time."""
    lines = pump.text().split("\n")[1:]
    for _ in range(40):
        pump.click(DOWN)
        shown = pump.text().split("\n")[1:]
        if shown == lines[-len(shown):]:
            break
        lines.append(shown[-1])
    return " ".join(lines)


def units(mu):
    return "%d.%02d" % (mu // 1000, mu % 1000 // 10)
