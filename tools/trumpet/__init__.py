"""Delivery accuracy from balance readings, the way IEC 60601-2-24 measures it.

The pump delivers water into a beaker on a balance; the balance is read every
interval (IEC: 0.5 min). From the readings (docs/references.md, "Delivery accuracy"):

    flow per interval   Q_i = 60 * dW_i / (dt * rho)      mL/h (dW in g, dt in min)
    overall error       A   = 100 * (mean Q - r) / r      % of the set rate r
    trumpet curve       for each window of P minutes, the window-averaged percentage
                        error of every run of P/dt consecutive intervals in the analysis
                        period; Ep(max) and Ep(min) are the largest and smallest.

Everything here is plain functions on lists, so the tests can check the window
arithmetic by hand. The CLI is tools.trumpet.__main__; the plot is tools.trumpet.plot.
"""

import csv
import math

WINDOWS_MIN = (2, 5, 11, 19, 31, 60)  # IEC 60601-2-24 windows, plus 1-hour windows
WATER_G_ML = 0.998  # density of water at about 21 degC
ML_PER_UNIT = 0.01  # U-100: 1 U = 10 uL
INTERVAL_S = 30  # IEC sampling interval (0.5 min)
START_MIN = 60  # default analysis start: skip the first hour (start-up, backlash)
GRID_TOLERANCE_S = 0.001  # balance time stamps closer than this to the grid are on it
MAX_GAP = 1.5  # a gap longer than this many intervals is refused, not interpolated


class TrumpetError(ValueError):
    """Bad input or an analysis that cannot be done; the message says what to change."""


# ----- reading ------------------------------------------------------------------------


def read_balance_csv(path):
    """(line number, time_s, grams) rows of a balance CSV; TrumpetError names the line."""
    try:
        with open(path, newline="") as handle:
            return parse_balance_rows(handle, path)
    except OSError as error:
        raise TrumpetError("%s: cannot read (%s)" % (path, error.strerror or error))
    except UnicodeDecodeError:
        raise TrumpetError("%s: not a text CSV file" % path)


def parse_balance_rows(lines, name="CSV"):
    """Rows from an iterable of text lines. Blank lines and '#' comments are skipped."""
    numbered = [(i, line) for i, line in enumerate(lines, 1)
                if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise TrumpetError("%s: empty; expected a header with time_s and grams" % name)
    reader = csv.reader(line for _, line in numbered)
    header_line = numbered[0][0]
    header = [cell.strip().lower() for cell in next(reader)]
    for column in ("time_s", "grams"):
        if column not in header:
            raise TrumpetError("%s line %d: header %s has no column %r (need time_s and grams)"
                               % (name, header_line, ",".join(header), column))
    t_col, g_col = header.index("time_s"), header.index("grams")
    rows = []
    for (line_no, _), cells in zip(numbered[1:], reader):
        if len(cells) != len(header):
            raise TrumpetError("%s line %d: %d columns, the header has %d"
                               % (name, line_no, len(cells), len(header)))
        time_s = _number(name, line_no, "time_s", cells[t_col])
        grams = _number(name, line_no, "grams", cells[g_col])
        if rows and time_s <= rows[-1][1]:
            raise TrumpetError("%s line %d: time_s %s is not after the previous reading "
                               "(%s at line %d)" % (name, line_no, _fmt(time_s),
                                                    _fmt(rows[-1][1]), rows[-1][0]))
        rows.append((line_no, time_s, grams))
    if len(rows) < 3:
        raise TrumpetError("%s: %d readings; at least 3 are needed" % (name, len(rows)))
    return rows


def _number(name, line_no, column, text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise TrumpetError("%s line %d: %s %r is not a number" % (name, line_no, column, text))
    return value


def _fmt(value):
    return ("%.3f" % value).rstrip("0").rstrip(".")


# ----- a regular series ---------------------------------------------------------------


def regular_series(rows, interval_s=INTERVAL_S):
    """Balance weights on a regular grid t0, t0 + interval, ... (t0 = first reading).

    Readings already on the grid (within GRID_TOLERANCE_S) are used as they are;
    otherwise the weight is interpolated linearly between the neighbouring readings
    (a reading 2 s late in a 30 s interval would otherwise read as a 7 % flow error).
    A gap of more than MAX_GAP intervals is refused: interpolating across it would
    invent the flow in between. Returns (t0_s, grams list, resampled flag).
    """
    if interval_s <= 0:
        raise TrumpetError("--interval-s must be positive, got %s" % _fmt(interval_s))
    for (_, t_prev, _), (line_no, t, _) in zip(rows, rows[1:]):
        if t - t_prev > MAX_GAP * interval_s:
            raise TrumpetError(
                "line %d: %s s since the previous reading; the analysis needs one at least "
                "every %s s (%s x --interval-s %s). Fill the gap, analyse a period without "
                "it (--start-min/--end-min), or use a longer --interval-s"
                % (line_no, _fmt(t - t_prev), _fmt(MAX_GAP * interval_s), _fmt(MAX_GAP),
                   _fmt(interval_s)))
    t0 = rows[0][1]
    count = int((rows[-1][1] - t0) / interval_s + 1e-9) + 1
    on_grid = len(rows) == count and all(
        abs(t - (t0 + k * interval_s)) <= GRID_TOLERANCE_S for k, (_, t, _) in enumerate(rows))
    if on_grid:
        return t0, [g for _, _, g in rows], False
    grams, j = [], 0
    for k in range(count):
        t = t0 + k * interval_s
        while rows[j + 1][1] < t:
            j += 1
        (_, ta, ga), (_, tb, gb) = rows[j], rows[j + 1]
        grams.append(ga + (gb - ga) * (t - ta) / (tb - ta))
    return t0, grams, True


# ----- the IEC arithmetic -------------------------------------------------------------


def flows_ml_h(grams, interval_s, density_g_ml=WATER_G_ML, evaporation_g_h=0.0):
    """Flow in each interval, mL/h; evaporation (g/h lost by the beaker) is added back."""
    hours = interval_s / 3600
    lost = evaporation_g_h * hours
    return [(b - a + lost) / density_g_ml / hours for a, b in zip(grams, grams[1:])]


def percent_error(flow, rate):
    return 100 * (flow - rate) / rate


def window_errors(flows, rate, length):
    """Percentage error of the mean flow in every run of `length` consecutive intervals."""
    if length < 1 or length > len(flows):
        return []
    errors = []
    total = sum(flows[:length])
    errors.append(percent_error(total / length, rate))
    for i in range(length, len(flows)):
        total += flows[i] - flows[i - length]
        errors.append(percent_error(total / length, rate))
    return errors


def trumpet(flows, rate, windows_min, interval_s):
    """[{minutes, intervals, count, ep_max_pct, ep_min_pct}] for each window length.

    A window must be a whole number of intervals; one longer than the analysis period
    has count 0 and None for its extremes.
    """
    out = []
    for minutes in windows_min:
        length = minutes * 60 / interval_s
        if abs(length - round(length)) > 1e-9:
            raise TrumpetError("a %s-minute window is not a whole number of %s s intervals"
                               % (_fmt(minutes), _fmt(interval_s)))
        errors = window_errors(flows, rate, int(round(length)))
        out.append({
            "minutes": minutes,
            "intervals": int(round(length)),
            "count": len(errors),
            "ep_max_pct": max(errors) if errors else None,
            "ep_min_pct": min(errors) if errors else None,
        })
    return out


def analysis_period(n_intervals, interval_s, start_min, end_min):
    """Indices [first, last) of the intervals inside [start_min, end_min) of the run."""
    run_min = n_intervals * interval_s / 60
    end = run_min if end_min is None else end_min
    if start_min < 0 or end <= start_min:
        raise TrumpetError("analysis period %s to %s min is empty"
                           % (_fmt(start_min), _fmt(end)))
    if end > run_min + 1e-9:
        raise TrumpetError("the run has %s min of readings; the analysis period ends at %s min "
                           "(lower --end-min, or --start-min for a short run)"
                           % (_fmt(run_min), _fmt(end)))
    first = int(math.ceil(start_min * 60 / interval_s - 1e-9))
    last = int(math.floor(end * 60 / interval_s + 1e-9))
    if last - first < 2:
        raise TrumpetError("analysis period %s to %s min holds %d interval(s); need at least 2"
                           % (_fmt(start_min), _fmt(end), max(0, last - first)))
    return first, last


def analyse(rows, rate_ml_h, density_g_ml=WATER_G_ML, interval_s=INTERVAL_S,
            start_min=START_MIN, end_min=None, evaporation_g_h=0.0, windows_min=WINDOWS_MIN):
    """Everything the report needs, as a plain dict (see tools.trumpet.__main__)."""
    if not rate_ml_h > 0:
        raise TrumpetError("the set rate must be positive, got %s mL/h" % _fmt(rate_ml_h))
    if not 0.5 <= density_g_ml <= 2:
        raise TrumpetError("--density %s g/mL is outside 0.5 to 2" % _fmt(density_g_ml))
    _, grams, resampled = regular_series(rows, interval_s)
    flows = flows_ml_h(grams, interval_s, density_g_ml, evaporation_g_h)
    first, last = analysis_period(len(flows), interval_s, start_min, end_min)
    period = flows[first:last]
    mean_flow = sum(period) / len(period)
    return {
        "rate_ml_h": rate_ml_h,
        "overall_error_pct": percent_error(mean_flow, rate_ml_h),
        "mean_flow_ml_h": mean_flow,
        "delivered_ml": sum(period) * interval_s / 3600,
        "analysis": {
            "start_min": first * interval_s / 60,
            "end_min": last * interval_s / 60,
            "interval_s": interval_s,
            "intervals": len(period),
            "readings": len(rows),
            "resampled": resampled,
            "density_g_ml": density_g_ml,
            "evaporation_g_h": evaporation_g_h,
        },
        "windows": trumpet(period, rate_ml_h, windows_min, interval_s),
        "flow_t_min": [(first + i + 1) * interval_s / 60 for i in range(len(period))],
        "flow_ml_h": period,
    }
