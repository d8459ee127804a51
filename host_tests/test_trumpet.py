"""tools.trumpet: IEC 60601-2-24 delivery accuracy from balance readings.

Hand-computed tables for the window arithmetic, synthetic balance data with a known
true flow error (plus evaporation, noise and jittered read times), the simulator's
own runs, and the CLI's output and refusals.
"""

import json
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools import trumpet
from tools.trumpet import TrumpetError
from tools.trumpet.__main__ import main
from tools.trumpet.simulate import balance_readings

# ----- window arithmetic, by hand -----------------------------------------------------


@pytest.mark.parametrize("flows, rate, length, expected", [
    ([1.0, 1.0, 1.0, 1.0], 1.0, 2, [0.0, 0.0, 0.0]),
    # window means 1.0, 0.95, 1.1 -> 0 %, -5 %, +10 %
    ([1.1, 0.9, 1.0, 1.2], 1.0, 2, [0.0, -5.0, 10.0]),
    # one window over everything: mean 1.05
    ([1.1, 0.9, 1.0, 1.2], 1.0, 4, [5.0]),
    # set rate 2: flows 1 and 3 average to the rate, single intervals are -50 / +50 %
    ([1.0, 3.0], 2.0, 1, [-50.0, 50.0]),
    ([1.0, 3.0], 2.0, 2, [0.0]),
    # a window longer than the data has no value
    ([1.0, 3.0], 2.0, 3, []),
])
def test_window_errors_by_hand(flows, rate, length, expected):
    assert trumpet.window_errors(flows, rate, length) == pytest.approx(expected)


def test_trumpet_extremes_and_window_lengths_by_hand():
    # 30 s intervals: a 1-minute window is 2 intervals, a 2-minute window 4.
    flows = [1.2, 0.8, 1.0, 1.4, 0.6, 1.0]
    out = trumpet.trumpet(flows, 1.0, (1, 2, 5), 30)
    one, two, five = out
    # 1 min: means 1.0, 0.9, 1.2, 1.0, 0.8
    assert (one["intervals"], one["count"]) == (2, 5)
    assert one["ep_max_pct"] == pytest.approx(20.0) and one["ep_min_pct"] == pytest.approx(-20)
    # 2 min: means 1.1, 0.95, 1.0
    assert (two["intervals"], two["count"]) == (4, 3)
    assert two["ep_max_pct"] == pytest.approx(10.0) and two["ep_min_pct"] == pytest.approx(-5)
    assert (five["count"], five["ep_max_pct"], five["ep_min_pct"]) == (0, None, None)


def test_a_window_must_be_whole_intervals():
    with pytest.raises(TrumpetError, match="2.5-minute window is not a whole number of 60 s"):
        trumpet.trumpet([1.0] * 10, 1.0, (2.5,), 60)


def test_flow_per_interval_by_hand():
    # 1 mg and 2 mg in 30 s of water at 1 g/mL: 0.12 and 0.24 mL/h (Q = 60 dW / (dt rho)).
    assert trumpet.flows_ml_h([0.0, 0.001, 0.003], 30, 1.0) == pytest.approx([0.12, 0.24])
    # density 0.998: 1 mg is 1.002 uL
    assert trumpet.flows_ml_h([0.0, 0.001], 30, 0.998) == pytest.approx([0.12 / 0.998])
    # a beaker losing 1.2 mg/h loses 0.01 mg in 30 s, which is added back
    assert trumpet.flows_ml_h([0.0, 0.00099], 30, 1.0, 0.0012) == pytest.approx([0.12])


@pytest.mark.parametrize("n, interval_s, start, end, expected", [
    (240, 30, 60, None, (120, 240)),     # 2 h run, default: the second hour
    (240, 30, 0, None, (0, 240)),
    (240, 30, 60, 90, (120, 180)),
    (240, 30, 60.2, 90.2, (121, 180)),   # only whole intervals inside the period
    (120, 60, 30, 120, (30, 120)),
])
def test_analysis_period(n, interval_s, start, end, expected):
    assert trumpet.analysis_period(n, interval_s, start, end) == expected


@pytest.mark.parametrize("n, start, end, message", [
    (240, 60, 180, "the run has 120 min of readings; the analysis period ends at 180 min"),
    (100, 60, None, "analysis period 60 to 50 min is empty"),
    (240, 60, 60.5, "holds 1 interval"),
    (240, -1, None, "analysis period -1 to 120 min is empty"),
])
def test_analysis_period_refusals(n, start, end, message):
    with pytest.raises(TrumpetError, match=message):
        trumpet.analysis_period(n, 30, start, end)


# ----- reading the CSV ----------------------------------------------------------------


def _rows(text):
    return trumpet.parse_balance_rows(text.splitlines(True), "run.csv")


def test_csv_reader_takes_any_column_order_comments_and_blank_lines():
    rows = _rows("# balance XS205, serial 1234\nGrams,Time_s,note\n\n0.0,0,start\n"
                 "0.001,30,\n0.002,60,end\n")
    assert rows == [(4, 0.0, 0.0), (5, 30.0, 0.001), (6, 60.0, 0.002)]


@pytest.mark.parametrize("text, message", [
    ("", "run.csv: empty"),
    ("time,grams\n0,0\n", "run.csv line 1: header time,grams has no column 'time_s'"),
    ("time_s,grams\n0,0\n30,abc\n60,0.002\n", "run.csv line 3: grams 'abc' is not a number"),
    ("time_s,grams\n0,0\n30,nan\n60,0.002\n", "run.csv line 3: grams 'nan' is not a number"),
    ("time_s,grams\n0,0\n30\n60,0.002\n", "run.csv line 3: 1 columns, the header has 2"),
    ("time_s,grams\n0,0\n30,0.001\n30,0.002\n",
     r"run.csv line 4: time_s 30 is not after the previous reading \(30 at line 3\)"),
    ("time_s,grams\n0,0\n30,0.001\n", "run.csv: 2 readings; at least 3 are needed"),
])
def test_csv_refusals_name_the_line(text, message):
    with pytest.raises(TrumpetError, match=message):
        _rows(text)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(TrumpetError, match="nope.csv: cannot read"):
        trumpet.read_balance_csv(str(tmp_path / "nope.csv"))


def test_regular_readings_are_used_as_they_are():
    rows = [(i + 2, 10 + 30.0 * i, 0.001 * i) for i in range(5)]
    t0, grams, resampled = trumpet.regular_series(rows, 30)
    assert (t0, grams, resampled) == (10, [0.001 * i for i in range(5)], False)


def test_jittered_readings_are_interpolated_onto_the_grid():
    times = [0, 31.5, 58.7, 92.0, 119.1, 150.0]
    rows = [(i + 2, t, 0.002 * t) for i, t in enumerate(times)]  # a perfectly steady flow
    _, grams, resampled = trumpet.regular_series(rows, 30)
    assert resampled and grams == pytest.approx([0.002 * 30 * k for k in range(6)])


def test_a_gap_is_refused_with_its_line():
    rows = [(2, 0.0, 0.0), (3, 30.0, 0.001), (4, 80.0, 0.002), (5, 110.0, 0.003)]
    with pytest.raises(TrumpetError, match="line 4: 50 s since the previous reading; .* "
                                           "at least every 45 s"):
        trumpet.regular_series(rows, 30)


# ----- synthetic balance data with a known true error ---------------------------------


def synthetic(rate_ml_h, error_pct, hours, interval_s=30, evaporation_mg_h=0.0, noise_mg=0.0,
              jitter_s=0.0, density=trumpet.WATER_G_ML, seed=1):
    """Readings of a steady flow rate*(1+error): what a balance would log."""
    rng = random.Random(seed)
    flow_g_s = rate_ml_h * (1 + error_pct / 100) * density / 3600
    rows, last = [], int(hours * 3600 / interval_s)
    for k in range(last + 1):
        t = k * interval_s + (rng.uniform(-jitter_s, jitter_s) if 0 < k < last else 0)
        grams = flow_g_s * t - evaporation_mg_h / 1000 * t / 3600
        rows.append((k + 2, t, grams + rng.gauss(0, noise_mg / 1000)))
    return rows


# Read times either exactly on the grid or off it by more than the 1 ms the tool accepts
# as on the grid (which is then not interpolated).
@given(error=st.floats(-20, 20), rate=st.floats(0.001, 0.3),
       jitter=st.one_of(st.just(0.0), st.floats(0.01, 7)),
       seed=st.integers(0, 1000))
def test_a_steady_flow_error_is_recovered_exactly_at_every_window(error, rate, jitter, seed):
    rows = synthetic(rate, error, 2, jitter_s=jitter, seed=seed)
    result = trumpet.analyse(rows, rate)
    assert result["overall_error_pct"] == pytest.approx(error, abs=1e-6)
    for window in result["windows"]:
        assert window["ep_max_pct"] == pytest.approx(error, abs=1e-6)
        assert window["ep_min_pct"] == pytest.approx(error, abs=1e-6)
    assert result["analysis"]["resampled"] == (jitter > 0)


def test_evaporation_biases_the_error_until_it_is_added_back():
    rate = 0.01  # 1 U/h: 9.98 mg of water per hour
    rows = synthetic(rate, 3.0, 3, evaporation_mg_h=0.5)
    corrected = trumpet.analyse(rows, rate, evaporation_g_h=0.0005)
    raw = trumpet.analyse(rows, rate)
    assert corrected["overall_error_pct"] == pytest.approx(3.0, abs=1e-6)
    # 0.5 mg/h lost is 0.5 / 0.998 uL/h, i.e. 5.01 % of 10 uL/h
    assert raw["overall_error_pct"] == pytest.approx(3.0 - 0.5 / 0.998 / 10 * 100, abs=1e-6)


def test_noise_widens_short_windows_but_the_overall_error_stays_within_its_bound():
    rate, noise_mg = 0.01, 0.05
    rows = synthetic(rate, 2.0, 5, noise_mg=noise_mg, jitter_s=2, seed=7)
    result = trumpet.analyse(rows, rate)
    # The overall error rests on the two end readings: SD = sqrt(2) * noise / delivered.
    delivered_mg = rate * 1.02 * 4 * 998
    bound = 4 * math.sqrt(2) * noise_mg / delivered_mg * 100
    assert result["overall_error_pct"] == pytest.approx(2.0, abs=bound)
    spans = [w["ep_max_pct"] - w["ep_min_pct"] for w in result["windows"]]
    assert spans == sorted(spans, reverse=True)  # the trumpet narrows with the window
    assert spans[0] > 20 and spans[-1] < 10


def test_density_and_rate_units():
    rows = synthetic(0.5, 0.0, 2, density=1.05)
    assert trumpet.analyse(rows, 0.5, density_g_ml=1.05)["overall_error_pct"] == pytest.approx(
        0.0, abs=1e-9)
    # analysed as water, the same readings look 5.2 % high
    assert trumpet.analyse(rows, 0.5)["overall_error_pct"] == pytest.approx(
        (1.05 / 0.998 - 1) * 100, abs=1e-9)


# ----- the simulator's runs -----------------------------------------------------------


def test_the_simulated_pump_recovers_the_mechanical_error():
    readings = balance_readings(1.0, 2, error_pct=2.0, noise_mg=0.0)
    rows = [(i + 2, t, g) for i, (t, g) in enumerate(readings)]
    result = trumpet.analyse(rows, 0.01)
    # Whole microsteps (14,473 pL, 691 per unit) and 0.01 mg balance resolution.
    assert result["overall_error_pct"] == pytest.approx(2.0, abs=0.2)
    hour = result["windows"][-1]
    assert hour["minutes"] == 60 and hour["count"] == 1
    assert hour["ep_max_pct"] == pytest.approx(2.0, abs=0.2)


def test_at_a_low_rate_the_short_windows_show_the_microsteps():
    readings = balance_readings(0.1, 2, noise_mg=0.0, resolution_mg=0.0)
    rows = [(i + 2, t, g) for i, (t, g) in enumerate(readings)]
    result = trumpet.analyse(rows, 0.001)
    # 69 steps an hour: a 2-minute window sees 2 or 3 steps where 2.3 are due.
    two = result["windows"][0]
    assert two["ep_max_pct"] > 20 and two["ep_min_pct"] < -10
    assert abs(result["overall_error_pct"]) < 2


def test_an_occlusion_holds_the_delivery_back_then_releases_it_at_once():
    rate_u_h, start, end = 2.0, 60, 90
    clear = balance_readings(rate_u_h, 2, noise_mg=0.0, resolution_mg=0.0)
    blocked = balance_readings(rate_u_h, 2, noise_mg=0.0, resolution_mg=0.0,
                               occlusion_min=(start, end))
    grams = {t: g for t, g in blocked}
    during = [g for t, g in blocked if start * 60 <= t < end * 60]
    assert len(set(during)) == 1 and during[0] == dict(clear)[start * 60]
    # At the release the beaker catches up with the clear run: 30 min of 2 U/h = 1 U.
    released_mg = (grams[end * 60] - grams[end * 60 - 30]) * 1000
    assert released_mg == pytest.approx(10 * 0.998, rel=0.02)
    assert blocked[-1] == clear[-1]


@pytest.mark.parametrize("kwargs, message", [
    ({"rate_u_h": 40, "hours": 2}, "outside 0.01 to 30 U/h"),
    ({"rate_u_h": 1, "hours": 2, "occlusion_min": (90, 60)}, "start before end"),
    ({"rate_u_h": 30, "hours": 12}, "needs 360 U; the sim board's syringe holds 300 U"),
    ({"rate_u_h": 1, "hours": 2, "jitter_s": 10}, "--jitter-s"),
])
def test_simulate_refusals(kwargs, message):
    with pytest.raises(TrumpetError, match=message):
        balance_readings(**kwargs)


# ----- the command line ---------------------------------------------------------------


def _write(path, rows):
    path.write_text("time_s,grams\n" + "".join("%r,%r\n" % (t, g) for _, t, g in rows))
    return str(path)


def test_cli_json(tmp_path, capsys):
    csv_path = _write(tmp_path / "run.csv", synthetic(0.01, -1.5, 2))
    assert main([csv_path, "--rate", "1.0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["overall_error_pct"] == pytest.approx(-1.5, abs=1e-3)
    assert [w["minutes"] for w in out["windows"]] == [2, 5, 11, 19, 31, 60]
    assert all(w["ep_max_pct"] == pytest.approx(-1.5, abs=1e-3) for w in out["windows"])
    assert out["analysis"]["start_min"] == 60 and out["png"].endswith("run_trumpet.png")
    assert (tmp_path / "run_trumpet.png").stat().st_size > 10_000


def test_cli_ml_h_text_report_and_flows_csv(tmp_path, capsys):
    csv_path = _write(tmp_path / "run.csv", synthetic(0.5, 4.0, 1.5))
    flows = tmp_path / "flows.csv"
    assert main([csv_path, "--ml-h", "0.5", "--start-min", "30", "--no-plot",
                 "--flows-csv", str(flows)]) == 0
    text = capsys.readouterr().out
    assert "overall error A   +4.00 %" in text
    assert "  60 min     +4.00 %     +4.00 %         1" in text
    lines = flows.read_text().splitlines()
    assert lines[0] == "t_min,flow_ml_h,error_pct" and len(lines) == 121
    assert lines[1].endswith(",4.000")


def test_cli_refuses_bad_data_without_writing_a_plot(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("time_s,grams\n0,0\n30,0.001\n60,0.0O2\n")
    assert main([str(bad), "--rate", "1"]) == 2
    assert "bad.csv line 4: grams '0.0O2' is not a number" in capsys.readouterr().err
    assert not (tmp_path / "bad_trumpet.png").exists()


def test_cli_needs_exactly_one_rate(tmp_path):
    with pytest.raises(SystemExit):
        main([str(tmp_path / "x.csv"), "--rate", "1", "--ml-h", "0.01"])
    with pytest.raises(SystemExit):
        main([str(tmp_path / "x.csv")])


def test_cli_simulate_then_analyse(tmp_path, capsys):
    out = tmp_path / "sim.csv"
    assert main(["simulate", "--rate", "2", "--hours", "2", "--error-pct", "-3",
                 "--evaporation-mg-h", "0.4", "--noise-mg", "0", "--jitter-s", "2",
                 "--out", str(out)]) == 0
    assert "--evaporation-mg-h 0.4" in capsys.readouterr().out
    assert main([str(out), "--rate", "2", "--evaporation-mg-h", "0.4", "--json",
                 "--no-plot"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["overall_error_pct"] == pytest.approx(-3.0, abs=0.15)
    assert result["analysis"]["resampled"] is True
