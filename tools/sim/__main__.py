"""make sim: run the pump app on fake hardware for a simulated day and report.

    python -m tools.sim [--hours 24] [--program FILE] [--tick-ms 1000] [--out out]
    python -m tools.sim cohort ...   (virtual patients; see tools/sim/cohort.py)
    python -m tools.sim loop-day ... (one patient on closed loop; tools/sim/loop_day.py)
    python -m tools.sim faults ...   (closed-loop fault scenarios; tools/sim/faults.py)
    python -m tools.sim patient-compare ... (the MicroPython virtual patient vs simglucose)
    python -m tools.sim trial ...    (controllers x scenarios on Dask; tools/sim/trial.py)

With the default program (make sim) it then runs the closed-loop day (out/loop.png,
loop.csv) for --hours (at most 24), unless --no-loop.

Then, as a separate step, screenshots of the pump's screens at key moments
(tools/screens/shots.py: boot, home, bolus confirm, bolus running, an alarm) in --out.
"""

import argparse
import csv
import os
import sys
import time

from basalt.core.errors import BasaltError
from basalt.core.units import PL_PER_MU
from basalt.storage.journal import bundle
from tools import sim
from tools.fake_storage import FakeStorage
from tools.settings import read_settings


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["cohort"]:
        from tools.sim import cohort

        return cohort.main(argv[1:])
    if argv[:1] == ["loop-day"]:
        from tools.sim import loop_day

        return loop_day.main(argv[1:])
    if argv[:1] == ["faults"]:
        from tools.sim import faults

        return faults.main(argv[1:])
    if argv[:1] == ["patient-compare"]:
        from tools.sim import patient_compare

        return patient_compare.main(argv[1:])
    if argv[:1] == ["decide"]:
        from tools.sim import decide

        return decide.main(argv[1:])
    if argv[:1] == ["trial"]:
        from tools.sim import trial

        return trial.main(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m tools.sim", description=__doc__.split("\n")[0],
        usage="%(prog)s [options]\n       %(prog)s "
              "{cohort,loop-day,faults,decide,patient-compare,trial} ...",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands (each has its own --help, e.g. python -m tools.sim cohort --help):\n"
               "  cohort     every virtual patient under one controller "
               "(tools/sim/cohort.py)\n"
               "  loop-day   a day of one virtual patient on closed loop, the CGM over "
               "(fake)\n"
               "             Bluetooth (tools/sim/loop_day.py)\n"
               "  faults     closed-loop fault scenarios, with expectations "
               "(tools/sim/faults.py)\n"
               "  decide     one loop decision from an input record (tools/sim/decide.py)\n"
               "  patient-compare  the MicroPython virtual patient against simglucose\n"
               "             (tools/sim/patient_compare.py)\n"
               "  trial      controllers x scenarios x patients on Dask, with a report "
               "(tools/sim/trial.py)\n"
               "\nwithout a command: the pump app on fake hardware for --hours, as make sim")
    parser.add_argument("--hours", type=int, default=24, help="simulated hours (1-720)")
    parser.add_argument("--program", default=None, help="program JSON file (default "
                        "tools/sim/default_program.json, followed by the closed-loop day)")
    parser.add_argument("--settings", help="therapy settings file (profiles, bolus speed, "
                        "insulin curve); overrides the program's")
    parser.add_argument("--tick-ms", type=int, default=1000, help="delivery tick (10-60000 ms)")
    parser.add_argument("--out", default="out", help="folder for sim.csv and sim.png")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")
    parser.add_argument("--no-loop", action="store_true", help="skip the closed-loop day")
    parser.add_argument("--loop-patient", default=None, help="virtual patient of the "
                        "closed-loop day (default adolescent#003)")
    parser.add_argument("--journal", default=None, help="also write the pump's history "
                        "journal (a bundle for python -m tools.history) to this file")
    parser.add_argument("--no-screens", action="store_true", help="skip the UI screenshots")
    args = parser.parse_args(argv)
    if not 1 <= args.hours <= 720:
        parser.error("--hours must be 1 to 720, got %d" % args.hours)
    if not 10 <= args.tick_ms <= 60_000:
        parser.error("--tick-ms must be 10 to 60000, got %d" % args.tick_ms)
    try:
        program = sim.load_program(args.program or sim.DEFAULT_PROGRAM)
        settings = read_settings(args.settings)[0] if args.settings else None
        started = time.perf_counter()
        storage = FakeStorage() if args.journal else None
        recorder = sim.run(program, args.hours, args.tick_ms, progress=_progress,
                           settings=settings, storage=storage)
        wall = time.perf_counter() - started
    except (OSError, ValueError, BasaltError) as error:
        print("error: %s" % error, file=sys.stderr)
        return 1
    sys.stderr.write("\n")
    print(summary(recorder, args.hours, wall))
    os.makedirs(args.out, exist_ok=True)
    csv_path = os.path.join(args.out, "sim.csv")
    write_csv(recorder, csv_path)
    print("wrote %s" % csv_path)
    if storage is not None:
        os.makedirs(os.path.dirname(args.journal) or ".", exist_ok=True)
        with open(args.journal, "wb") as handle:
            handle.write(bundle(storage))
        print("wrote %s" % args.journal)
    if not args.no_plot:
        png_path = os.path.join(args.out, "sim.png")
        from tools.sim.plot import plot

        plot(recorder, png_path)
        print("wrote %s" % png_path)
    if not args.no_loop and args.program is None:
        from tools.sim import loop_day

        print()
        loop_day.run(args.loop_patient or loop_day.DEFAULT_PATIENT, min(args.hours, 24),
                     args.out, plot=not args.no_plot)
    if not args.no_screens:
        save_screens(args.out)
    return 0


def save_screens(out):
    """The UI screenshots: a short scripted session on the same app, fake keys."""
    from tools.screens.shots import save_sim_screens

    for path in save_sim_screens(out):
        print("wrote %s" % path)


def _progress(now_ms, end_ms):
    width = 40
    done = width * now_ms // end_ms
    sys.stderr.write("\r[%s%s] %3d h of %d h simulated" % (
        "#" * done, " " * (width - done), now_ms // 3_600_000, end_ms // 3_600_000))
    sys.stderr.flush()


def _u(steps, engine):
    return steps * engine.board.ustep_volume_pl / PL_PER_MU / 1000


def summary(recorder, hours, wall_s):
    app = recorder.app
    engine = app.engine
    lines = ["Basalt simulator: %d h on board '%s' (%.5f U per microstep)" % (
        hours, engine.board.name, engine.board.ustep_volume_pl / PL_PER_MU / 1000)]
    lines.append("")
    lines.append(" hour   programmed U   delivered U   difference U")
    for i, (programmed, steps) in enumerate(recorder.hours):
        delivered = _u(steps, engine)
        lines.append(" %4d   %12.3f   %11.3f   %+12.4f" % (
            i, float(programmed) / 1000, delivered, delivered - float(programmed) / 1000))
    therapy = engine.basal_steps + engine.bolus_steps
    in_flight = (therapy + engine.prime_steps + engine.reseat_steps - app.motion.moved_steps
                 - app.motion.pending_steps)
    lines += [
        "",
        "programmed therapy  %9.3f U" % (float(recorder.programmed) / 1000),
        "delivered therapy   %9.3f U  (%d microsteps)" % (_u(therapy, engine), therapy),
        "  basal             %9.3f U" % _u(engine.basal_steps, engine),
        "  bolus             %9.3f U" % _u(engine.bolus_steps, engine),
        "prime (not therapy) %9.3f U" % _u(engine.prime_steps, engine),
        "reservoir left      %9.3f U" % (engine.reservoir_mu() / 1000),
        "insulin on board    %9.3f U net, %.3f U from boluses" % (
            app.iob.iob_mu(app.clock.now_ms()) / 1000,
            app.iob.bolus_iob_mu(app.clock.now_ms()) / 1000),
        "motor reported      %9d microsteps (+%d planned, %d in flight at the end)" % (
            app.motion.moved_steps, app.motion.pending_steps, in_flight),
        "state               %s" % (engine.stop_reason or "delivering"),
    ] + _alarm_lines(recorder) + [
        "speed               %.0f simulated s per wall s" % (hours * 3600 / wall_s),
    ]
    return "\n".join(lines)


def _alarm_lines(recorder):
    """With physics: each alarm, the force at alarm and the insulin not delivered."""
    if recorder.app.occlusion.force is None:
        return []
    lines = ["alarms              %d" % len(recorder.alarms)]
    for minute, alarm in recorder.alarms:
        text = "  minute %d: %s" % (minute, alarm["code"])
        if alarm["code"] == "occlusion":
            text += " at %.2f N (baseline %.2f N), backed off %d microsteps" % (
                alarm["force_mn"] / 1000, alarm["baseline_mn"] / 1000, alarm["backoff_steps"])
        lines.append(text)
    return lines


def write_csv(recorder, path):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(recorder.rows[0]))
        writer.writeheader()
        writer.writerows(recorder.rows)


if __name__ == "__main__":
    sys.exit(main())
