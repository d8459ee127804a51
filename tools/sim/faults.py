"""Fault scenarios for the closed loop: a scripted CGM and user, Basalt's app, expectations.

    python -m tools.sim faults [NAME ...] [--json]      (default: every scenario)

A scenario (host_tests/scenarios/loop_NAME.json) scripts what the CGM sensor sends
every 5 minutes (steady +-1 mg/dL, spoof +-2, ramp, nothing, a stuck value, noise, a
compression dip) and what
the user does (carbs, boluses, suspend, resume). The pump is Basalt's PumpApp on fake
hardware in closed loop with settings/example.json's therapy; readings reach its store
in the CGM wire format. Its expected file (loop_NAME.expected.json) lists what the loop
must do in given minutes:

    scheduled  no temp basal running (fell back, or nothing to do)
    no_rise    nothing above the scheduled basal and no automatic bolus
    zero       a zero temp (suspended)
    high       a temp above the scheduled basal
    waits      pump stopped by the user: the loop sends nothing

Every scenario is also held to rules that must never break: no temp above the max temp
basal or longer than 30 min; no temp above scheduled and no automatic bolus while the CGM
is unusable; a zero temp whenever glucose is below the suspend threshold; no automatic
bolus with a predicted low; net IOB from the loop within max IOB.
"""

import argparse
import json
import os
import sys

from basalt.app import PumpApp
from basalt.core import cgms, cgms_sensor, loop
from basalt.core.readings import ReadingStore
from basalt.core.settings import load_settings, parse_settings_text
from tools import ROOT
from tools.fakes import FakeMotor, VirtualClock

SCENARIOS = os.path.join(ROOT, "host_tests", "scenarios")
M = 60_000
TICK_MS = 10_000
SAMPLE_MIN = 5
EXPECTATIONS = ("scheduled", "no_rise", "zero", "high", "waits")


def names():
    return sorted(f[len("loop_"):-len(".json")] for f in os.listdir(SCENARIOS)
                  if f.startswith("loop_") and f.endswith(".json")
                  and not f.endswith(".expected.json"))


def load(name):
    with open(os.path.join(SCENARIOS, "loop_%s.json" % name)) as handle:
        scenario = json.load(handle)
    with open(os.path.join(SCENARIOS, "loop_%s.expected.json" % name)) as handle:
        expected = json.load(handle)
    return scenario, expected


def make_app(loop_settings, sections=None):
    """The app in closed loop on settings/example.json; `sections` changes keys of its
    other sections ({"alarms": {"auto_off_h": 0}}: a day without a button press)."""
    from tools.sim import load_sim_board

    with open(os.path.join(ROOT, "settings", "example.json")) as handle:
        obj = parse_settings_text(handle.read())
    for section, keys in (sections or {}).items():
        obj[section] = dict(obj[section], **keys)
    obj["loop"] = dict(loop_settings, mode="closed")
    settings = load_settings(obj)[0]
    board = load_sim_board()
    clock = VirtualClock()
    app = PumpApp(board, clock, FakeMotor(clock, board.motor.max_step_hz), tick_ms=TICK_MS,
                  settings=settings)
    app.command({"cmd": "new_reservoir", "units": 200})
    app.command({"cmd": "resume"})
    app.cgm = ReadingStore(clock.now_ms())
    return app, clock


def cgm_value(script, minute, last):
    """What the sensor sends at `minute`: mg/dL, or None for nothing (dropout)."""
    for part in script:
        start, end, kind = part[0], part[1], part[2]
        if start <= minute < end:
            if kind == "steady":  # a live sensor never repeats exactly: +-1 mg/dL
                return part[3] + (minute // SAMPLE_MIN) % 3 - 1
            if kind == "spoof":  # a replayed value with a little made-up noise: +-2
                return part[3] + (minute // SAMPLE_MIN) % 5 - 2
            if kind == "ramp":
                return part[3] + (part[4] - part[3]) * (minute - start) // (end - start)
            if kind == "none":
                return None
            if kind == "stuck":
                return last
            if kind == "noise":  # base +- amplitude, alternating every sample
                return part[3] + (part[4] if (minute // SAMPLE_MIN) % 2 else -part[4])
            raise ValueError("cgm kind %r: steady, spoof, ramp, none, stuck or noise" % kind)
    raise ValueError("no cgm script covers minute %d" % minute)


def run(scenario):
    """Decisions (plain dicts, with the minute) of one scenario."""
    app, clock = make_app(scenario.get("loop", {}), scenario.get("settings"))
    events = {}
    for minute, cmd in scenario.get("events", []):
        events.setdefault(minute, []).append(cmd)
    last = None
    decisions = []
    for minute in range(scenario["minutes"]):
        for cmd in events.get(minute, ()):
            app.command(cmd)
        if minute % SAMPLE_MIN == 0:
            value = cgm_value(scenario["cgm"], minute, last)
            if value is not None:
                record = cgms.decode_measurements(bytes(cgms_sensor.encode_record(
                    cgms_sensor.sfloat_from_milli(value * 1000), minute, crc=True)), True)[0]
                app.cgm.add(clock.now_ms(), record)
                last = value
        for _ in range(M // TICK_MS):
            app.step()
            for kind, detail in app.pop_events():
                if kind == "loop_decision":
                    detail = dict(detail, minute=clock.now_ms() // M,
                                  scheduled_mu_h=_scheduled(app))
                    detail["temp_after"] = _temp(app)
                    decisions.append(detail)
            clock.advance(TICK_MS)
    return app, decisions


def _scheduled(app):
    engine = app.engine
    return engine.profiles.current().rate_at(engine.day_ms())


def _temp(app):
    temp = app.engine.temp_basal()
    return None if temp is None else temp[0]


def check(app, decisions, expected):
    """Problems (strings): broken rules and unmet expectations. Empty means it passed."""
    problems = []
    limits = app.settings.limits
    threshold = app.settings.loop.suspend_mg_dl
    auto = 0
    for d in decisions:
        where = "minute %d (%s)" % (d["minute"], d["reason"])
        if d["action"] == "temp":
            if d["minutes"] != loop.TEMP_MIN:
                problems.append("%s: temp for %d min" % (where, d["minutes"]))
            if d["rate_mu_h"] > d["max_temp_mu_h"]:
                problems.append("%s: temp above the max temp basal" % where)
        if d["glucose"] is None and (d["bolus_mu"] or (d["action"] == "temp"
                                                       and d["rate_mu_h"] > d["scheduled_mu_h"])):
            problems.append("%s: raised insulin without a usable CGM" % where)
        if d["glucose"] is not None and d["glucose"] < threshold and d["temp_after"] != 0:
            problems.append("%s: glucose below the threshold and not suspended" % where)
        if d["bolus_mu"] and (d["lowest"] is None or d["lowest"] < threshold):
            problems.append("%s: automatic bolus with a predicted low" % where)
        auto += d["bolus_mu"]
        if "refused" in d:
            problems.append("%s: refused: %s" % (where, d["refused"]))
    if auto > limits.max_iob_mu:
        problems.append("automatic boluses %d mU exceed max IOB" % auto)
    for rule in expected["expect"]:
        problems += _expectation(decisions, rule)
    return problems


def _expectation(decisions, rule):
    start, end, what = rule["from"], rule["to"], rule["expect"]
    if what not in EXPECTATIONS:
        return ["expectation %r: one of %s" % (what, ", ".join(EXPECTATIONS))]
    inside = [d for d in decisions if start <= d["minute"] < end]
    if not inside:
        return ["minutes %d-%d: no loop decision" % (start, end)]
    bad = [d for d in inside if not _meets(d, what)]
    if not bad:
        return []
    d = bad[0]
    return ["minutes %d-%d expect %s; minute %d: %s, temp now %s, bolus %d (%s)" % (
        start, end, what, d["minute"], d["action"], d["temp_after"], d["bolus_mu"], d["reason"])]


def _meets(d, what):
    temp = d["temp_after"]
    if what == "scheduled":
        return temp is None and not d["bolus_mu"]
    if what == "no_rise":
        return not d["bolus_mu"] and (temp is None or temp <= d["scheduled_mu_h"])
    if what == "zero":
        return temp == 0
    if what == "high":
        return temp is not None and temp > d["scheduled_mu_h"]
    return d["action"] == "none" and "pump stopped" in d["reason"]


def run_one(name):
    scenario, expected = load(name)
    app, decisions = run(scenario)
    return {"name": name, "comment": scenario.get("comment", ""),
            "decisions": len(decisions), "problems": check(app, decisions, expected),
            "trace": [[d["minute"], d["action"], d["rate_mu_h"], d["bolus_mu"], d["glucose"],
                       d["reason"]] for d in decisions]}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.sim faults",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="scenarios (default all): " + ", ".join(
        names()))
    parser.add_argument("--json", action="store_true", help="results with every decision")
    parser.add_argument("--trace", action="store_true", help="print every decision")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in names()]
    if unknown:
        print("error: unknown scenario %s; known: %s" % (", ".join(unknown),
                                                        ", ".join(names())), file=sys.stderr)
        return 2
    results = [run_one(name) for name in args.names or names()]
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        for result in results:
            print("%-16s %s  %s" % (result["name"], "ok  " if not result["problems"]
                                    else "FAIL", result["comment"]))
            for problem in result["problems"]:
                print("    " + problem)
            if args.trace:
                for row in result["trace"]:
                    print("    %4d %-6s %-6s %4d %-4s %s" % tuple(
                        "-" if v is None else v for v in row))
    return 0 if all(not r["problems"] for r in results) else 1
