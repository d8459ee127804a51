"""CLI: python -m tools.rig accuracy|occlusion|detect [options] (see tools/rig)."""

import argparse
import os
import sys

from tools import pump_link, trumpet
from tools.rig import balances
from tools.rig.pump import RigError

PROG = "python -m tools.rig"


def _serial_line(parser):
    """The balance's serial line settings (its manual gives them)."""
    parser.add_argument("--baud", type=int, default=9600, help="balance baud rate (9600)")
    parser.add_argument("--bytesize", type=int, choices=(7, 8), default=8)
    parser.add_argument("--parity", choices=("N", "E", "O"), default="N")


def _connection(parser):
    group = parser.add_argument_group("the rig (or --simulate)")
    group.add_argument("--pump", metavar="PORT", help="the pump's USB serial port")
    group.add_argument("--board", default="pico_w",
                       help="the pump's board file (its volume per microstep); default "
                            "%(default)s")
    group.add_argument("--balance", metavar="PORT", help="the balance's serial port")
    group.add_argument("--protocol", default="auto",
                       choices=["auto"] + sorted(balances.PROTOCOLS),
                       help="the balance's protocol (default: try each once)")
    _serial_line(group)
    sim = parser.add_argument_group("a simulated rig")
    sim.add_argument("--simulate", action="store_true",
                     help="the virtual board (real firmware) and a virtual MT-SICS balance "
                          "on virtual time")
    sim.add_argument("--simulate-error-pct", type=float, default=0.0, metavar="P",
                     help="the simulated pump delivers P %% more than it counts (default 0)")
    sim.add_argument("--simulate-noise-mg", type=float, default=0.01,
                     help="balance noise, 1 sigma (default %(default)s mg)")
    sim.add_argument("--simulate-evaporation-mg-h", type=float, default=0.3,
                     help="the beaker's evaporation (default %(default)s mg/h)")
    sim.add_argument("--seed", type=int, default=1)
    parser.add_argument("--density", type=float, default=trumpet.WATER_G_ML,
                        help="g/mL of the liquid (default %(default)s, water)")
    parser.add_argument("--out", default="out/rig", help="folder for the report and CSV")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (messages go to stderr)")
    parser.add_argument("--prime-step-u", type=float, default=0.5, help="units per prime shot")
    parser.add_argument("--prime-max-u", type=float, default=20.0,
                        help="give up priming after this many units")


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description=(
        "The bench rig in one command: the pump over USB (its USB service: reading it "
        "never stops therapy), a balance over serial, the IEC 60601-2-24 tests."))
    sub = parser.add_subparsers(dest="command", required=True)
    acc = sub.add_parser("accuracy", help="prime, evaporation blank, IEC accuracy run, "
                                          "trumpet analysis and report")
    acc.add_argument("--rate", type=float, default=1.0, help="U/h (default 1, as IEC)")
    acc.add_argument("--minutes", type=float, default=150, help="run length (default 150)")
    acc.add_argument("--blank-min", type=float, default=30,
                     help="evaporation blank, pump stopped (default 30)")
    acc.add_argument("--start-min", type=float, default=None,
                     help="analysis starts here (default 60, a third of a short run)")
    _connection(acc)
    occ = sub.add_parser("occlusion", help="time the occlusion alarm, the force at it and "
                                           "the bolus released on reopening")
    occ.add_argument("--rate", type=float, default=1.0, help="U/h (default 1)")
    occ.add_argument("--settle-min", type=float, default=5,
                     help="delivery before the stopcock closes (default 5)")
    occ.add_argument("--max-min", type=float, default=300,
                     help="give up without an alarm after this long (default 300)")
    occ.add_argument("--release-s", type=float, default=60,
                     help="weigh the released bolus this long after reopening (default 60)")
    occ.add_argument("--no-prime", action="store_true", help="the line is primed already")
    _connection(occ)
    det = sub.add_parser("detect", help="which protocol the balance speaks")
    det.add_argument("--balance", metavar="PORT", required=True)
    _serial_line(det)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    out = sys.stderr if getattr(args, "json", False) else sys.stdout

    def say(text):
        print(text, file=out, flush=True)

    try:
        if args.command == "detect":
            return detect_main(args, say)
        return rig_main(args, say)
    except (RigError, balances.BalanceError, pump_link.LinkError, OSError) as error:
        print("rig: error: %s" % error, file=sys.stderr)
        return 2


def open_balance(args, say):
    """(a BalanceReader, its serial port) on --balance with --protocol (or detected)."""
    port = balances.open_serial(args.balance, args.baud, args.bytesize, args.parity)
    if args.protocol != "auto":
        return balances.BalanceReader(port, balances.PROTOCOLS[args.protocol]), port
    protocol, lines = balances.detect(port)
    for line in lines:
        say("rig: detect: " + line)
    if protocol is None:
        port.close()
        raise RigError("no protocol answered on %s: check the cable and the baud rate, "
                       "or name it with --protocol" % args.balance)
    say("rig: the balance speaks %s" % protocol.title)
    return balances.BalanceReader(port, protocol), port


def detect_main(args, say):
    args.protocol = "auto"
    _, port = open_balance(args, say)
    port.close()
    return 0


def rig_main(args, say):
    from tools import boardfiles
    from tools.rig import bench as bench_mod
    from tools.rig.pump import RigPump

    if not 0.01 <= args.rate <= 30:
        raise RigError("--rate %g U/h is outside 0.01 to 30" % args.rate)
    sim = None
    if args.simulate:
        from tools.rig.sim import SimClock, SimRig

        sim = SimRig(args.rate, args.simulate_error_pct, args.simulate_noise_mg,
                     args.simulate_evaporation_mg_h, seed=args.seed, say=say)
        args.pump, args.balance, args.protocol = sim.pump_port, sim.balance_port, "auto"
        board, clock = sim.board, SimClock(sim)
    elif not (args.pump and args.balance):
        raise RigError("give --pump PORT and --balance PORT (or --simulate)")
    else:
        board, clock = boardfiles.load(args.board), bench_mod.WallClock()
    os.makedirs(args.out, exist_ok=True)
    try:
        reader, port = open_balance(args, say)
        with pump_link.PumpLink(args.pump) as link:
            bench = bench_mod.Bench(
                RigPump(link, board), reader, clock,
                os.path.join(args.out, "%s.csv" % args.command), say, args.density,
                operator=_sim_operator(sim) if sim else None)
            try:
                if args.command == "accuracy":
                    return accuracy_main(args, bench, sim, say)
                return occlusion_main(args, bench, sim, say)
            finally:
                bench.close()
                port.close()
    finally:
        if sim is not None:
            sim.close()


def _sim_operator(sim):
    def operate(action):
        (sim.close_line if action == "close" else sim.open_line)()

    return operate


def _simulated(args):
    return {"error_pct": args.simulate_error_pct, "noise_mg": args.simulate_noise_mg,
            "evaporation_mg_h": args.simulate_evaporation_mg_h, "seed": args.seed}


def accuracy_main(args, bench, sim, say):
    import json

    from tools.rig import report
    from tools.rig.accuracy import accuracy

    result, facts, rows = accuracy(bench, args.rate, args.minutes, args.blank_min,
                                   args.start_min, args.prime_step_u, args.prime_max_u)
    files = {"csv": bench.log_path, "json": os.path.join(args.out, "accuracy.json")}
    if rows:
        files["run_csv"] = os.path.join(args.out, "run.csv")
        report.write_run_csv(rows, files["run_csv"])
    if sim is not None:
        facts["simulated"] = _simulated(args)
    if result is not None:
        files["png"] = os.path.join(args.out, "accuracy.png")
        report.accuracy_png(result, facts, rows, files["png"],
                            "simulated rig" if sim else "rig")
    obj = report.accuracy_json(result, facts, files)
    report.write_json(obj, files["json"])
    if args.json:
        print(json.dumps(obj, sort_keys=True))
    elif result is not None:
        say(report.accuracy_text(obj))
    for path in files.values():
        say("rig: wrote %s" % path)
    if result is None:
        say("rig: no analysis: %s" % facts.get("analysis_error", "the run did not get far "
                                                "enough; the readings are in the CSV"))
        return 130 if facts["interrupted"] else 2
    return 130 if facts["interrupted"] else 0


def occlusion_main(args, bench, sim, say):
    import json

    from tools.rig import report
    from tools.rig.occlusion import occlusion, occlusion_text

    facts = occlusion(bench, args.rate, args.settle_min, args.max_min, args.release_s,
                      not args.no_prime, args.prime_step_u, args.prime_max_u)
    if sim is not None:
        facts["simulated"] = _simulated(args)
    facts["files"] = {"csv": bench.log_path, "json": os.path.join(args.out, "occlusion.json")}
    report.write_json(facts, facts["files"]["json"])
    if args.json:
        print(json.dumps(facts, sort_keys=True))
    elif not facts["interrupted"]:
        say(occlusion_text(facts))
    return 130 if facts["interrupted"] else 0


if __name__ == "__main__":
    sys.exit(main())
