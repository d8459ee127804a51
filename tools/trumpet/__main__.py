"""Delivery accuracy from balance readings (IEC 60601-2-24 trumpet curve).

    python -m tools.trumpet FILE.csv --rate 1.0 [--json] [options]   analyse a run
    python -m tools.trumpet simulate [--rate 1.0] [--out FILE.csv] [...]  make a run

FILE.csv has a header and the columns time_s (seconds) and grams (balance reading);
other columns are ignored. The rate is in U/h of U-100 insulin (--rate) or in mL/h
(--ml-h). By default the first hour is skipped (start-up) and the rest analysed.
"""

import argparse
import json
import os
import sys

from tools import trumpet

PROG = "python -m tools.trumpet"
DEFAULT_SIM_RATE_U_H = 1.0  # insulin pumps are tested at 1 U/h (IEC 60601-2-24)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["simulate"]:
        return simulate_main(argv[1:])
    return analyse_main(argv)


def analyse_main(argv):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0],
                                     epilog="Make a CSV without a rig: %s simulate --help" % PROG)
    parser.add_argument("csv", metavar="FILE.csv", help="balance readings: time_s,grams")
    rate = parser.add_mutually_exclusive_group(required=True)
    rate.add_argument("--rate", type=float, metavar="U_H", help="set rate in U/h of U-100")
    rate.add_argument("--ml-h", type=float, metavar="ML_H", help="set rate in mL/h")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.add_argument("--density", type=float, default=trumpet.WATER_G_ML,
                        help="g/mL of the liquid (default %(default)s, water)")
    parser.add_argument("--interval-s", type=float, default=trumpet.INTERVAL_S,
                        help="analysis interval in s (default %(default)s, as IEC)")
    parser.add_argument("--start-min", type=float, default=trumpet.START_MIN,
                        help="analysis starts this many minutes after the first reading "
                             "(default %(default)s: skip the start-up hour)")
    parser.add_argument("--end-min", type=float, default=None,
                        help="analysis ends here (default: the last reading)")
    parser.add_argument("--evaporation-mg-h", type=float, default=0.0,
                        help="mass the beaker loses per hour with the pump stopped (added back)")
    parser.add_argument("--png", help="trumpet plot (default: FILE_trumpet.png beside FILE.csv)")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")
    parser.add_argument("--flows-csv", help="also write the flow of every interval to this CSV")
    args = parser.parse_args(argv)
    rate_ml_h = args.ml_h if args.rate is None else args.rate * trumpet.ML_PER_UNIT
    try:
        rows = trumpet.read_balance_csv(args.csv)
        result = trumpet.analyse(rows, rate_ml_h, args.density, args.interval_s,
                                 args.start_min, args.end_min, args.evaporation_mg_h / 1000)
    except trumpet.TrumpetError as error:
        print("error: %s" % error, file=sys.stderr)
        return 2
    png = None
    if not args.no_plot:
        from tools.trumpet.plot import plot

        png = args.png or os.path.splitext(args.csv)[0] + "_trumpet.png"
        title = os.path.basename(args.csv)
        plot(result, png, title if args.rate is None else "%s, %g U/h" % (title, args.rate))
    if args.flows_csv:
        _write_flows(result, args.flows_csv)
    if args.json:
        print(json.dumps(report(result, args.rate, png), sort_keys=True))
    else:
        print(text_report(result, args.csv, args.rate))
        for path in (png, args.flows_csv):
            if path:
                print("wrote %s" % path)
    return 0


def report(result, rate_u_h, png):
    """The JSON object: figures rounded to what a balance can support."""
    windows = [{
        "minutes": w["minutes"],
        "count": w["count"],
        "ep_max_pct": _round(w["ep_max_pct"], 3),
        "ep_min_pct": _round(w["ep_min_pct"], 3),
    } for w in result["windows"]]
    return {
        "rate_ml_h": result["rate_ml_h"],
        "rate_u_h": rate_u_h,
        "overall_error_pct": _round(result["overall_error_pct"], 3),
        "mean_flow_ml_h": _round(result["mean_flow_ml_h"], 7),
        "delivered_ml": _round(result["delivered_ml"], 6),
        "analysis": result["analysis"],
        "windows": windows,
        "png": png,
    }


def _round(value, digits):
    return None if value is None else round(value, digits)


def text_report(result, name, rate_u_h):
    a = result["analysis"]
    rate = result["rate_ml_h"]
    lines = [
        "Delivery accuracy, IEC 60601-2-24 method: %s" % name,
        "set rate          %s%.5g mL/h (density %.4g g/mL)"
        % ("%.4g U/h = " % rate_u_h if rate_u_h is not None else "", rate, a["density_g_ml"]),
        "analysis period   %g to %g min: %d intervals of %g s from %d readings%s"
        % (a["start_min"], a["end_min"], a["intervals"], a["interval_s"], a["readings"],
           " (resampled to the grid)" if a["resampled"] else ""),
    ]
    if a["evaporation_g_h"]:
        lines.append("evaporation       %.3g mg/h added back" % (a["evaporation_g_h"] * 1000))
    lines += [
        "delivered         %.5f mL (mean flow %.5g mL/h)"
        % (result["delivered_ml"], result["mean_flow_ml_h"]),
        "overall error A   %+.2f %%" % result["overall_error_pct"],
        "",
        " window     Ep(max)     Ep(min)   windows",
    ]
    for w in result["windows"]:
        if w["count"]:
            lines.append("%4g min  %+8.2f %%  %+8.2f %%   %7d"
                         % (w["minutes"], w["ep_max_pct"], w["ep_min_pct"], w["count"]))
        else:
            lines.append("%4g min   longer than the analysis period" % w["minutes"])
    return "\n".join(lines)


def _write_flows(result, path):
    rate = result["rate_ml_h"]
    with open(path, "w") as handle:
        handle.write("t_min,flow_ml_h,error_pct\n")
        for t, flow in zip(result["flow_t_min"], result["flow_ml_h"]):
            handle.write("%.3f,%.7f,%.3f\n" % (t, flow, trumpet.percent_error(flow, rate)))


def simulate_main(argv):
    from tools.trumpet import simulate

    parser = argparse.ArgumentParser(
        prog=PROG + " simulate",
        description="Balance readings of a basal run of the firmware on the simulator, with "
                    "a known delivery error, evaporation and balance noise.")
    parser.add_argument("--rate", type=float, default=None,
                        help="basal rate, U/h (U-100); default %g U/h, the rate IEC 60601-2-24 "
                             "tests insulin pumps at" % DEFAULT_SIM_RATE_U_H)
    parser.add_argument("--hours", type=float, default=3, help="run length (default 3)")
    parser.add_argument("--out", default="out/balance.csv", help="CSV to write")
    parser.add_argument("--error-pct", type=float, default=0.0,
                        help="true delivery error of the mechanics, %% (default 0)")
    parser.add_argument("--noise-mg", type=float, default=0.1,
                        help="balance noise, standard deviation in mg (default 0.1)")
    parser.add_argument("--resolution-mg", type=float, default=0.01,
                        help="balance resolution in mg (default 0.01)")
    parser.add_argument("--evaporation-mg-h", type=float, default=0.0,
                        help="evaporation from the beaker, mg/h (default 0)")
    parser.add_argument("--jitter-s", type=float, default=0.0,
                        help="read times wander by up to this many seconds (default 0)")
    parser.add_argument("--occlusion-min", type=float, nargs=2, metavar=("START", "END"),
                        help="the line is closed from START to END minutes (a stopcock)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.rate is None:
        args.rate = DEFAULT_SIM_RATE_U_H
        print("no --rate given: simulating %g U/h (the IEC 60601-2-24 rate for insulin pumps)"
              % args.rate, file=sys.stderr)
    for name in ("noise_mg", "resolution_mg", "evaporation_mg_h"):
        if getattr(args, name) < 0:
            parser.error("--%s must not be negative" % name.replace("_", "-"))
    try:
        readings = simulate.balance_readings(
            args.rate, args.hours, args.error_pct, args.noise_mg, args.evaporation_mg_h,
            args.resolution_mg, args.jitter_s, seed=args.seed,
            occlusion_min=args.occlusion_min)
    except trumpet.TrumpetError as error:
        print("error: %s" % error, file=sys.stderr)
        return 2
    if os.path.dirname(args.out):
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
    simulate.write_csv(readings, args.out)
    print("wrote %s: %d readings, %g U/h for %g h; true delivery error %+g %% (plus the "
          "firmware's whole-microstep rounding), evaporation %g mg/h, noise %g mg"
          % (args.out, len(readings), args.rate, args.hours, args.error_pct,
             args.evaporation_mg_h, args.noise_mg))
    if args.occlusion_min:
        print("the line is closed from minute %g to minute %g" % tuple(args.occlusion_min))
    print("analyse it: %s %s --rate %g%s" % (
        PROG, args.out, args.rate,
        " --evaporation-mg-h %g" % args.evaporation_mg_h if args.evaporation_mg_h else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
