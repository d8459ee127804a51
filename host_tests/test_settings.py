"""Therapy settings: the example loads; every bad file is refused naming the key path,
the value and what is allowed; all problems are listed at once; recommended ranges warn."""

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from basalt.core.board_file import load_board
from basalt.core.errors import ConfigError
from basalt.core.settings import load_settings, parse_settings_text
from boards import sim as sim_board
from tools.settings.__main__ import main as settings_main
from tools.settings.example import EXAMPLE

REPO = Path(__file__).resolve().parents[1]

GOOD = parse_settings_text(EXAMPLE)


def variant(**changes):
    """A copy of the example with dotted-path changes; None deletes the key."""
    obj = copy.deepcopy(GOOD)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = obj
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        elif value is None:
            del node[last]
        else:
            node[last] = value
    return obj


def refusal(obj):
    with pytest.raises(ConfigError) as info:
        load_settings(obj)
    return info.value


# ----- the example ------------------------------------------------------------------

def test_example_loads_into_integers():
    settings, warnings = load_settings(GOOD)
    assert warnings == []
    limits, alarms = settings.limits, settings.alarms
    assert (limits.max_bolus_mu, limits.max_basal_mu_h, limits.max_iob_mu,
            limits.max_bolus_60min_mu, limits.max_daily_mu) == (10_000, 3_000, 20_000, 15_000,
                                                                80_000)
    assert (alarms.reservoir_low_mu, alarms.auto_off_min, alarms.site_change_min,
            alarms.suspend_reminder_min, alarms.glucose_check_min) == (20_000, 720, 4_320, 30,
                                                                       120)
    assert (settings.bolus_speed_mu_min, settings.bolus_increment_mu) == (1_500, 50)
    assert settings.carb_ratio.segments() == [(0, 10_000), (660, 12_000), (1020, 9_500)]
    assert settings.sensitivity.segments() == [(0, 50), (360, 45)]
    assert settings.targets.segments() == [(0, (100, 120)), (1320, (110, 140))]
    assert (settings.insulin_type, settings.insulin_peak_min,
            settings.insulin_duration_min) == ("rapid_adult", 75, 360)
    assert settings.basal_profiles.active == "Weekday"
    assert settings.basal_profiles.current().segments()[:2] == [(0, 800), (180, 950)]
    assert (settings.min_glucose_mg_dl, settings.reverse_correction) == (70, False)
    assert (settings.syringe, settings.reservoir_fill_mu, settings.prime_mu) == (
        "BD 3 mL", 200_000, 12_000)


def test_committed_example_file_is_the_generated_one():
    assert (REPO / "settings" / "example.json").read_text() == EXAMPLE


def test_optional_keys_take_their_documented_defaults():
    settings, _ = load_settings(variant(limits__max_bolus_60min_u=None, limits__max_bolus_u=7.35,
                                        bolus__min_glucose_mg_dl=None))
    assert settings.limits.max_bolus_60min_mu == 11_020  # 1.5 x 7.35 U, down to 0.01 U
    assert settings.min_glucose_mg_dl == 70


def test_custom_insulin_and_presets():
    custom, _ = load_settings(variant(insulin={"type": "custom", "peak_min": 60,
                                               "duration_h": 5.5}))
    assert (custom.insulin_peak_min, custom.insulin_duration_min) == (60, 330)
    for kind, peak in (("rapid_child", 65), ("ultra_rapid", 55)):
        settings, _ = load_settings(variant(insulin={"type": kind, "duration_h": 8}))
        assert (settings.insulin_peak_min, settings.insulin_duration_min) == (peak, 480)


def test_loading_does_not_change_the_object():
    obj = copy.deepcopy(GOOD)
    load_settings(obj)
    assert obj == GOOD


def test_comments_only_as_whole_lines():
    assert parse_settings_text('// a\n  // b\n{"x": "// kept"}\n') == {"x": "// kept"}
    with pytest.raises(ConfigError) as info:
        parse_settings_text('{"x": 1} // trailing comments are not JSON')
    assert str(info.value).startswith("settings: not valid JSON")


@pytest.mark.parametrize("source, expected", [
    ('\t// tab\r\n{"x": 1}\r\n', {"x": 1}),  # blanks and CR before the //
    ('{"x": [1,\n// between items\n2]}\n// the last line, no end', {"x": [1, 2]}),
    ('// caf\u00e9 \u2014 non-ASCII in a comment\n{"x": "\u00e9"}', {"x": "\u00e9"}),
    ('/\n{"x": 1}', None),  # one slash is not a comment
    ('{"x": 1}\n//', {"x": 1}),
])
def test_comment_lines_are_blanked_in_place(source, expected):
    for given in (source, source.encode()):  # the boot passes the file's text
        if expected is None:
            with pytest.raises(ConfigError, match="line 1"):
                parse_settings_text(given)
        else:
            assert parse_settings_text(given) == expected


def test_a_refusal_after_comments_names_the_file_line():
    text = '// one\n// two\n{"x": 1,\n "x": 2}\n'
    with pytest.raises(ConfigError, match="on line 3 and again on line 4"):
        parse_settings_text(text)


# ----- refusals: one problem each ---------------------------------------------------

REFUSED = [
    # (id, changes, key path, value shown, allowed contains)
    ("unknown-top-key", {"colour": "red"}, "colour", "unknown key", "keys alarms, basal"),
    ("missing-limits", {"limits": None}, "limits", "missing", "a value is required"),
    ("unknown-version", {"version": 2}, "version", "2", "1 (the version this firmware"),
    ("version-text", {"version": "1"}, "version", "'1'", "1 (the version"),
    ("missing-segment-at-midnight", {"carb_ratio_g_per_u": [["06:00", 10]]},
     "carb_ratio_g_per_u segment 1 start", "'06:00'", "00:00 (the first segment"),
    ("unsorted-isf", {"sensitivity_mg_dl_per_u": [["00:00", 50], ["08:00", 40],
                                                  ["06:00", 45]]},
     "sensitivity_mg_dl_per_u segment 3 start", "'06:00'", "after 08:00"),
    ("overlapping-targets", {"target_mg_dl": [["00:00", 100, 120], ["00:00", 90, 110]]},
     "target_mg_dl segment 2 start", "'00:00'", "after 00:00"),
    ("off-grid-basal", {"basal__profiles__Weekend__1": ["08:10", 1.0]},
     "basal.profiles.Weekend segment 2 start", "'08:10'", "on the half hour"),
    ("basal-rate-text", {"basal__profiles__Weekend__1": ["08:00", "fast"]},
     "basal.profiles.Weekend segment 2 rate", "'fast'", "0 to 30 U/h"),
    ("active-unknown", {"basal__active": "Holiday"}, "basal.active", "'Holiday'",
     "Weekday, Weekend"),
    ("carb-ratio-0", {"carb_ratio_g_per_u__0": ["00:00", 0]},
     "carb_ratio_g_per_u segment 1 ratio", "0", "1 to 150 g/U"),
    ("isf-float", {"sensitivity_mg_dl_per_u__0": ["00:00", 45.5]},
     "sensitivity_mg_dl_per_u segment 1 sensitivity", "45.5", "1 to 1000"),
    ("target-low-above-high", {"target_mg_dl__0": ["00:00", 130, 120]},
     "target_mg_dl segment 1 high", "120", "130 to 250"),
    ("target-segment-short", {"target_mg_dl__0": ["00:00", 100]},
     "target_mg_dl segment 1", "['00:00', 100]", "[HH:MM, low, high]"),
    ("max-bolus-over-25", {"limits__max_bolus_u": 25.5}, "limits.max_bolus_u", "25.5",
     "0.1 to 25 U"),
    ("max-bolus-bool", {"limits__max_bolus_u": True}, "limits.max_bolus_u", "True",
     "0.1 to 25 U"),
    ("max-basal-below-profile", {"limits__max_basal_u_h": 1.0}, "limits.max_basal_u_h", "1.0",
     "at least 1.2 U/h, the highest rate of basal profile Weekday"),
    ("max-daily-below-profile", {"limits__max_daily_u": 20}, "limits.max_daily_u", "20",
     "at least 23.35 U, the 24-hour total of basal profile Weekday"),
    ("60min-below-max-bolus", {"limits__max_bolus_60min_u": 9}, "limits.max_bolus_60min_u",
     "9", "10 to 30 U"),
    ("duration-4h", {"insulin__duration_h": 4}, "insulin.duration_h", "4", "5 to 8 h"),
    ("duration-off-step", {"insulin__duration_h": 6.25}, "insulin.duration_h", "6.25",
     "in steps of 0.5 h"),
    ("insulin-type", {"insulin__type": "nph"}, "insulin.type", "'nph'",
     "rapid_adult, rapid_child, ultra_rapid, custom"),
    ("peak-with-preset", {"insulin__peak_min": 60}, "insulin.peak_min", "60",
     "use type custom"),
    ("custom-without-peak", {"insulin__type": "custom"}, "insulin.peak_min", "missing",
     "35 to 120 min"),
    ("reservoir-low-9", {"alarms__reservoir_low_u": 9}, "alarms.reservoir_low_u", "9",
     "10 to 50 U"),
    ("reservoir-low-51", {"alarms__reservoir_low_u": 51}, "alarms.reservoir_low_u", "51",
     "10 to 50 U"),
    ("auto-off-4h", {"alarms__auto_off_h": 4}, "alarms.auto_off_h", "4",
     "0 (off) or 5 to 24 h"),
    ("auto-off-25h", {"alarms__auto_off_h": 25}, "alarms.auto_off_h", "25",
     "0 (off) or 5 to 24 h"),
    ("site-change-1-day", {"alarms__site_change_days": 1}, "alarms.site_change_days", "1",
     "0 (off) or 2 to 3 days"),
    ("site-change-4-days", {"alarms__site_change_days": 4}, "alarms.site_change_days", "4",
     "0 (off) or 2 to 3 days"),
    ("suspend-reminder-5", {"alarms__suspend_reminder_min": 5}, "alarms.suspend_reminder_min",
     "5", "0 (off) or 15 to 240 min"),
    ("speed-6", {"bolus__speed_u_per_min": 6}, "bolus.speed_u_per_min", "6", "0.5 to 5 U/min"),
    ("increment-0.025", {"bolus__increment_u": 0.025}, "bolus.increment_u", "0.025",
     "one of 0.01, 0.05, 0.1, 0.5, 1 U"),
    ("reverse-text", {"bolus__reverse_correction": "no"}, "bolus.reverse_correction", "'no'",
     "true or false"),
    ("min-glucose-50", {"bolus__min_glucose_mg_dl": 50}, "bolus.min_glucose_mg_dl", "50",
     "60 to 110 mg/dL"),
    ("syringe-label-empty", {"reservoir__syringe": ""}, "reservoir.syringe", "''",
     "1 to 16 printable"),
    ("fill-5", {"reservoir__fill_u": 5}, "reservoir.fill_u", "5", "10 to 6000 U"),
    ("profiles-empty", {"basal__profiles": {}}, "basal.profiles", "'a dict of 0'",
     "1 to 6 named profiles"),
]


@pytest.mark.parametrize("changes, path, shown, allowed", [r[1:] for r in REFUSED],
                         ids=[r[0] for r in REFUSED])
def test_refused_with_key_path_value_and_range(changes, path, shown, allowed):
    error = refusal(variant(**changes))
    assert len(error.problems) == 1, str(error)
    message = str(error)
    assert message.startswith(path + ": "), message
    if shown in ("missing", "unknown key"):
        assert message.startswith("%s: %s; allowed: " % (path, shown)), message
    else:
        assert message.startswith("%s: %s is not allowed; allowed: " % (path, shown)), message
    assert allowed in message, message


def test_fill_checked_against_the_boards_syringe():
    board = load_board(sim_board.BOARD)  # a 3 mL syringe: 300 U
    with pytest.raises(ConfigError) as info:
        load_settings(variant(reservoir__fill_u=301), board)
    assert "reservoir.fill_u: 301 is not allowed; allowed: 10 to 300 U" in str(info.value)
    assert load_settings(variant(reservoir__fill_u=300), board)[0].reservoir_fill_mu == 300_000


@pytest.mark.parametrize("top", [None, [], "settings", 1])
def test_not_a_table_at_all(top):
    error = refusal(top)
    assert str(error).startswith("(top): ")


def test_every_problem_is_listed_not_only_the_first():
    # a missing key does not hide a bad value beside it
    error = refusal(variant(limits__max_bolus_u=30, limits__max_daily_u=None,
                            alarms__auto_off_h=None, alarms__reservoir_low_u=60, bolus__x=1,
                            insulin__type=None, insulin__duration_h=4,
                            carb_ratio_g_per_u=[["01:00", 10]],
                            basal__profiles__Weekday__2=["06:15", -1]))
    paths = sorted(p.field for p in error.problems)
    assert paths == sorted([
        "limits.max_bolus_u", "limits.max_daily_u", "alarms.auto_off_h",
        "alarms.reservoir_low_u", "bolus.x", "insulin.type", "insulin.duration_h",
        "carb_ratio_g_per_u segment 1 start", "basal.profiles.Weekday segment 3 start",
        "basal.profiles.Weekday segment 3 rate"])
    assert str(error).count("\n") == len(paths) - 1


# ----- recommended ranges warn but accept -------------------------------------------

WARNED = [
    ({"limits__max_bolus_u": 20, "limits__max_iob_u": 30, "limits__max_bolus_60min_u": 30},
     ["limits.max_bolus_u: 20 U is outside the recommended 0 to 17 U",
      "limits.max_iob_u: 30 U is outside the recommended 0 to 22 U"]),
    ({"carb_ratio_g_per_u__0": ["00:00", 120]},
     ["carb_ratio_g_per_u segment 1: 120 g/U is outside the recommended 2 to 100 g/U"]),
    ({"sensitivity_mg_dl_per_u__0": ["00:00", 600]},
     ["sensitivity_mg_dl_per_u segment 1: 600 mg/dL/U is outside the recommended 10 to 500"]),
    ({"target_mg_dl__0": ["00:00", 80, 200]},
     ["target_mg_dl segment 1 low: 80 mg/dL is outside the recommended 87 to 180",
      "target_mg_dl segment 1 high: 200 mg/dL is outside the recommended 87 to 180"]),
    ({"limits__max_iob_u": 5}, ["limits.max_iob_u: 5 U is below max_bolus_u (10 U)"]),
    ({"limits__max_basal_u_h": 12},
     ["limits.max_basal_u_h: 12 U/h is outside the recommended 0 to 10 U/h",
      "limits.max_basal_u_h: 12 U/h is more than 4 x the highest rate of profile Weekday"]),
    ({"alarms__reservoir_low_u": 45},
     ["alarms.reservoir_low_u: 45 U is outside the recommended 10 to 40 U"]),
    ({"bolus__min_glucose_mg_dl": 62},
     ["bolus.min_glucose_mg_dl: 62 mg/dL is outside the recommended 67 to 110"]),
]


@pytest.mark.parametrize("changes, expected", WARNED)
def test_recommended_ranges_warn_and_accept(changes, expected):
    settings, warnings = load_settings(variant(**changes))
    assert settings is not None
    assert len(warnings) == len(expected), warnings
    for warning, start in zip(sorted(warnings), sorted(expected)):
        assert warning.startswith(start), warning
        assert warning.endswith("accepted") or "max_bolus_u" in warning or "4 x" in warning


# ----- the CLI ------------------------------------------------------------------------

def test_cli_check_ok_prints_one_line(tmp_path, capsys):
    path = tmp_path / "s.json"
    path.write_text(EXAMPLE)
    assert settings_main(["check", str(path), "--board", "sim"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith(str(path) + ": ok, version 1: 2 basal profile")


@pytest.mark.parametrize("name", ["nope", "os", "../settings/example"])
def test_cli_check_unknown_board_is_one_line_naming_it_and_the_valid_ones(name, capsys):
    """Not a traceback: one line naming the board and every boards/*.py, exit 2."""
    assert settings_main(["check", str(REPO / "settings" / "example.json"),
                          "--board", name]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, lines
    assert "unknown board %r" % name in lines[0]
    valid = sorted(p.stem for p in (REPO / "boards").glob("*.py"))
    assert lines[0].endswith("valid boards: " + ", ".join(valid))
    assert "Traceback" not in captured.err


def test_cli_check_unknown_board_as_a_user_runs_it():
    proc = subprocess.run([sys.executable, "-m", "tools.settings", "check",
                           "settings/example.json", "--board", "nope"],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "--board: unknown board 'nope': no boards/nope.py; valid boards: "
        "esp32_devkitc, pico_w, raspberry_pi, sim, vboard"]


def test_cli_check_lists_every_problem_and_exits_1(tmp_path, capsys):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(variant(limits__max_bolus_u=30, alarms__auto_off_h=99)))
    assert settings_main(["check", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "%s: refused, 2 problem(s):" % path
    assert sorted(line.split(":")[0].strip() for line in out[1:]) == [
        "alarms.auto_off_h", "limits.max_bolus_u"]


def test_cli_check_unreadable_and_not_json(tmp_path, capsys):
    assert settings_main(["check", str(tmp_path / "missing.json")]) == 1
    path = tmp_path / "s.json"
    path.write_text("{not json")
    assert settings_main(["check", str(path)]) == 1
    assert "settings: not valid JSON" in capsys.readouterr().out


def test_cli_example_writes_a_file_that_checks(tmp_path, capsys):
    path = tmp_path / "example.json"
    assert settings_main(["example", "--out", str(path)]) == 0
    assert path.read_text() == EXAMPLE
    assert settings_main(["check", str(path)]) == 0


# ----- the simulator loads settings -----------------------------------------------------

def test_sim_runs_on_a_settings_file(tmp_path):
    from tools import sim

    program = {"start": "06:00", "settings": "settings.json",
               "setup": [{"cmd": "new_reservoir", "units": 100}],
               "events": [{"at": "06:01", "cmd": "resume"},
                          {"at": "07:00", "cmd": "bolus", "units": 2}]}
    (tmp_path / "settings.json").write_text(EXAMPLE)
    (tmp_path / "program.json").write_text(json.dumps(program))
    recorder = sim.run(sim.load_program(tmp_path / "program.json"), hours=2)
    app = recorder.app
    assert app.engine.profiles.active == "Weekday" and app.settings is not None
    assert app.engine.basal_steps > 0
    assert recorder.rows[-1]["iob_u"] > 1.5  # most of the 07:00 bolus is still on board
    too_big = EXAMPLE.replace('"max_bolus_u": 10', '"max_bolus_u": 99')
    (tmp_path / "settings.json").write_text(too_big)
    with pytest.raises(ConfigError, match="limits.max_bolus_u: 99"):
        sim.load_program(tmp_path / "program.json")


def _boot_settings(board, path):
    """What a board's boot reads: the keeper's settings file, read once (wiring)."""
    from basalt.app.wiring import make_keeper, read_settings

    return read_settings(make_keeper(board, str(path), str(path.parent / "data")), str(path))


def test_the_board_boots_with_its_settings_file_or_none(tmp_path, capsys):
    board = load_board(sim_board.BOARD)
    path = tmp_path / "settings.json"
    assert _boot_settings(board, path) is None
    assert "no %s: no basal profile" % path in capsys.readouterr().out
    path.write_text(EXAMPLE.replace('"max_iob_u": 20', '"max_iob_u": 5'))
    assert _boot_settings(board, path).limits.max_iob_mu == 5_000
    assert "settings warning: limits.max_iob_u: 5 U is below" in capsys.readouterr().out
    path.write_text(EXAMPLE.replace('"fill_u": 200', '"fill_u": 400'))  # sim syringe: 300 U
    assert _boot_settings(board, path) is None
    assert "reservoir.fill_u: 400 is not allowed" in capsys.readouterr().out


# ----- settings that lie: a key twice, nesting no schema has --------------------------
# json.loads keeps the last of two equal keys; the strict reader (basalt.core.strict_json)
# refuses the file instead, naming the key path and both lines, on every path that reads
# settings text: the CLI, the board's boot, the keeper's boot and its save, the tools.

HARD_MAXIMA = '"limits": {"max_bolus_u": 25, "max_basal_u_h": 30, "max_iob_u": 100,\n' \
    '             "max_bolus_60min_u": 75, "max_daily_u": 300}'


def _line_of(text, needle, nth=1):
    """1-based line of the nth occurrence of needle in text."""
    at = -1
    for _ in range(nth):
        at = text.index(needle, at + 1)
    return text.count("\n", 0, at) + 1


def _second_limits(text):
    end = text.rindex("}")
    return text[:end].rstrip() + ",\n\n  " + HARD_MAXIMA + "\n}\n"


def _nested_twice(text):
    return text.replace('"max_iob_u": 20,', '"max_iob_u": 20,\n             "max_iob_u": 100,')


def _profile_twice(text):
    return text.replace('"Weekend": [["00:00", 0.8]',
                        '"Weekday": [["00:00", 3.0]],\n      "Weekend": [["00:00", 0.8]')


def _segment_key_twice(text):
    return text.replace('"loop": {"mode": "off",', '"loop": {"mode": "off",\n    "mode": "closed",')


def _deep(levels):
    return lambda text: "[" * levels + "]" * levels


def _six_deep(text):
    return text.replace('["00:00", 0.8], ["03:00"', '["00:00", [0.8]], ["03:00"')


LYING = [
    # (id, edit of the example text, key path, key or None, (first needle, nth),
    #  (second needle, nth))
    ("top-level-limits-twice", _second_limits, "limits", "limits", ('"limits"', 1),
     ('"limits"', 2)),
    ("nested-limit-twice", _nested_twice, "limits.max_iob_u", "max_iob_u",
     ('"max_iob_u"', 1), ('"max_iob_u"', 2)),
    ("profile-twice", _profile_twice, "basal.profiles.Weekday", "Weekday",
     ('"Weekday": [[', 1), ('"Weekday": [[', 2)),
    ("loop-mode-twice", _segment_key_twice, "loop.mode", "mode", ('"mode"', 1),
     ('"mode"', 2)),
]


@pytest.mark.parametrize("edit, path, key, first, second", [r[1:] for r in LYING],
                         ids=[r[0] for r in LYING])
def test_a_key_twice_is_refused_naming_it_and_both_lines(edit, path, key, first, second):
    text = edit(EXAMPLE)
    plain = json.loads("\n".join("" if line.strip().startswith("//") else line
                                 for line in text.split("\n")))
    load_settings(plain)  # what json.loads alone makes of it: accepted, the last one wins
    with pytest.raises(ConfigError) as info:
        parse_settings_text(text)
    error = info.value
    lines = (_line_of(text, first[0], first[1]), _line_of(text, second[0], second[1]))
    assert error.field == path and error.value == key
    assert str(error) == ('%s: duplicate key "%s" on line %d and again on line %d; allowed: '
                          'each key once in a table (JSON keeps only the last, silently)'
                          % (path, key, lines[0], lines[1]))
    assert lines[0] < lines[1]


def test_the_second_limits_block_would_have_raised_every_limit():
    """Why it matters: read by json.loads alone, the file's limits are the hard maxima."""
    text = _second_limits(EXAMPLE)
    plain = json.loads("\n".join("" if line.strip().startswith("//") else line
                                 for line in text.split("\n")))
    settings, _ = load_settings(plain)
    assert settings.limits.max_bolus_mu == 25_000 and settings.limits.max_basal_mu_h == 30_000
    with pytest.raises(ConfigError, match='limits: duplicate key "limits"'):
        parse_settings_text(text)


def test_escaped_spelling_of_a_key_is_the_same_key():
    text = EXAMPLE.replace('"max_iob_u": 20,', '"max_iob_u": 20, "max_\\u0069ob_u": 100,')
    with pytest.raises(ConfigError, match='limits.max_iob_u: duplicate key "max_iob_u"'):
        parse_settings_text(text)


DEEP = [
    # (id, edit, refused by)
    ("2000-levels", _deep(2000), "settings"),
    ("6-levels", _deep(6), "settings"),
    ("a-segment-one-level-too-deep", _six_deep, "settings"),
]


@pytest.mark.parametrize("edit, field", [r[1:] for r in DEEP], ids=[r[0] for r in DEEP])
def test_nesting_deeper_than_the_schema_is_one_line(edit, field):
    with pytest.raises(ConfigError) as info:
        parse_settings_text(edit(EXAMPLE))
    message = str(info.value)
    assert info.value.field == field
    assert "\n" not in message
    assert message.startswith("settings: nested more than 5 levels deep on line ")
    assert message.endswith("allowed: at most 5 levels of tables and lists (what the "
                            "file's schema uses)")


def test_the_schema_nests_five_levels_and_five_are_read():
    from basalt.core.settings import MAX_DEPTH

    assert MAX_DEPTH == 5
    assert parse_settings_text("[" * 5 + "]" * 5) == [[[[[]]]]]


@pytest.mark.parametrize("text, problem", [
    ('{"a": 01}', "leading zeros"),
    ('{"a": NaN}', "expected a value"),
    ('{"a": 1,}', "expected a key in double quotes"),
    ('[1, 2,]', "expected a value"),
    ('{"a": "tab\there"}', "a control character (code 9)"),
    ('{"a": "\\ud83d\\ude00"}', "half of a surrogate pair"),
    ('{"a": 1} {"b": 2}', "more text after the value"),
    ('{"a": [1, 2}', "expected ',' or ']'"),
    ('{"a": "open', "a string is not closed"),
])
def test_only_strict_json_is_read(text, problem):
    with pytest.raises(ConfigError) as info:
        parse_settings_text(text)
    assert str(info.value).startswith("settings: not valid JSON (line 1: ")
    assert problem in str(info.value)


def test_cli_check_refuses_a_key_twice_and_deep_nesting(tmp_path, capsys):
    path = tmp_path / "lying.json"
    text = _second_limits(EXAMPLE)
    path.write_text(text)
    assert settings_main(["check", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == ["%s: refused, 1 problem(s):" % path,
                   '  limits: duplicate key "limits" on line %d and again on line %d; '
                   'allowed: each key once in a table (JSON keeps only the last, silently)'
                   % (_line_of(text, '"limits"'), _line_of(text, '"limits"', 2))]
    path.write_text("[" * 2000 + "]" * 2000)
    assert settings_main(["check", str(path)]) == 1  # not a RecursionError
    out = capsys.readouterr().out.splitlines()
    assert out == ["%s: refused, 1 problem(s):" % path,
                   "  settings: nested more than 5 levels deep on line 1; allowed: at most "
                   "5 levels of tables and lists (what the file's schema uses)"]


def test_the_board_refuses_a_key_twice_at_boot(tmp_path, capsys):
    board = load_board(sim_board.BOARD)
    path = tmp_path / "settings.json"
    path.write_text(_profile_twice(EXAMPLE))
    assert _boot_settings(board, path) is None
    assert 'basal.profiles.Weekday: duplicate key "Weekday"' in capsys.readouterr().out
    path.write_text("{" + '"a": {' * 1999 + "}" * 2000)
    assert _boot_settings(board, path) is None
    assert "settings: nested more than 5 levels deep" in capsys.readouterr().out


def test_the_keeper_refuses_a_key_twice_at_boot_and_keeps_the_pump_stopped():
    from basalt.storage.keeper import Keeper
    from tools.fake_storage import FakeStorage

    storage = FakeStorage()
    storage.files["settings.json"] = bytearray(_second_limits(EXAMPLE).encode())
    board = load_board(sim_board.BOARD)
    keeper = Keeper(storage)
    keeper.board = board
    assert keeper.load_settings() is None
    assert keeper.settings_error.startswith(
        'limits: duplicate key "limits" on line ')
    assert keeper._settings_events[0][0] == "settings_rejected"


def test_a_program_or_a_pi_command_with_a_key_twice_is_refused(tmp_path, capsys):
    from tools import sim
    from tools.pi.__main__ import main as pi_main

    (tmp_path / "program.json").write_text(
        '{"start": "06:00", "setup": [], "events": [],\n "start": "07:00"}')
    with pytest.raises(ConfigError, match='start: duplicate key "start" on line 1 and '
                       'again on line 2'):
        sim.load_program(tmp_path / "program.json")
    command = '{"cmd": "save_settings", "settings": {"limits": {},\n "limits": {}}}'
    capsys.readouterr()
    assert pi_main(["--command", command, "--seconds", "0"]) == 2
    assert ('pi: error: settings.limits: duplicate key "limits" on line 1 and again on '
            'line 2' in capsys.readouterr().err)
