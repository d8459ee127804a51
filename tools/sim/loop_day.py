"""A day of one virtual patient on closed loop, the CGM arriving over (fake) Bluetooth.

    python -m tools.sim loop-day [--patient adolescent#003] [--hours 24] [--out out]
        [--announce all|none|FRACTION] [--seed 1] [--no-plot] [--journal FILE]

The patient (simglucose, tools/sim/patients.py) wears a CGM sensor that is a fake
Bluetooth CGMS peripheral (tools/fake_ble.py); the pump's own BLE client code
(basalt.ble.cgm_client over a fake aioble) connects to it, decodes every CGM Measurement
and fills the pump's reading store, which the loop reads. Everything else is the
cohort's `loop` controller: Basalt's PumpApp with the patient's settings, the simulated
user bolusing for meals with the calculator. Writes loop.csv and loop.png (glucose,
CGM, predictions, basal and temp basal, boluses, insulin on board) and prints a summary.
--journal FILE also keeps the pump's history journal (a bundle for tools.history).
"""

import argparse
import asyncio
import csv
import os
import random
import sys
import time

from basalt.ble.cgm_client import CgmClient
from basalt.core.readings import ReadingStore
from tools.fake_ble import UUID, FakeAioble, FakeSensor, StepClock
from tools.sim import cohort, patients
from tools.sim.controllers import BasaltLoop

SENSOR_ADDR = bytes.fromhex("c0ffee00b45a")
DEFAULT_PATIENT = "adolescent#003"
START_MS = 1_000_000


class BleLoop(BasaltLoop):
    """The loop controller whose reading store is filled by the BLE client instead."""

    def cgm_sample(self, minute, mg_dl):
        pass


async def _turns(n):
    for _ in range(n):
        await asyncio.sleep(0)


async def simulate(name, hours, announce, seed, storage=None):
    """Minute rows and the run's objects; the whole day runs inside one event loop."""
    rng = random.Random("%d:%s" % (seed, name))
    plan = cohort.meal_plan(cohort.parse_meals(cohort.MEALS), -(-hours // 24), announce, 0.0,
                            rng)
    clock = StepClock(START_MS)
    radio = FakeAioble(clock)
    sensor = FakeSensor(radio, SENSOR_ADDR, clock)
    store = ReadingStore(clock.now_ms())
    client = CgmClient(store, clock, radio, UUID)
    task = asyncio.get_running_loop().create_task(client.run())
    for _ in range(2_000):
        if client.state == "connected":
            break
        await asyncio.sleep(0)
    patient = patients.VirtualPatient(name, sensor_seed=seed)
    pump = BleLoop(patients.settings_for(name), patient.sample_min, clock=clock, store=store,
                   storage=storage)
    pump.app.cgm_client = client  # as board_main.make_cgm wires it: link events to the history
    session_ms = clock.now_ms() - pump.sample_min * 60_000
    rows = []
    cgm = patient.cgm()
    started = time.perf_counter()
    for minute in range(hours * 60):
        if minute % patient.sample_min == 0:
            offset = (clock.now_ms() - session_ms) // 60_000
            sensor.measure(offset, int(round(cgm)))
            await _turns(20)  # the client drains the notification into the store
        eaten, announced = plan.get(minute, (0.0, None))
        rows.append(_row(minute, patient, pump, cgm))
        insulin = pump.minute(minute, cgm, announced)
        patient.step(insulin, eaten)
        rows[-1]["insulin_u"] = insulin
        rows[-1]["carbs_g"] = eaten
        cgm = patient.cgm()
    wall = time.perf_counter() - started
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    return rows, pump, client, plan, wall


def _row(minute, patient, pump, cgm):
    app = pump.app
    now = app.clock.now_ms()
    engine = app.engine
    reading = app.cgm.latest_reading(now)
    decision = app.loop.last
    scheduled = engine.profiles.current().rate_at(engine.day_ms())
    return {
        "minute": minute,
        "glucose": round(patient.glucose(), 1),
        "sensor": round(cgm, 1),
        "cgm_stored": None if reading is None or reading.glucose_milli is None
        else reading.glucose_milli / 1000,
        "basal_u_h": engine.basal_rate_mu_h() / 1000,
        "scheduled_u_h": scheduled / 1000,
        "iob_u": app.iob.iob_mu(now) / 1000,
        "action": "" if decision is None else decision.action,
        "reason": "" if decision is None else decision.reason,
        "prediction": "" if decision is None or decision.prediction is None
        else " ".join(str(v) for v in decision.prediction),
    }


def auto_boluses(app_events):
    """(minute, units) of every automatic bolus the loop gave."""
    out = []
    for kind, detail in app_events:
        if kind == "loop_decision" and detail["bolus_mu"] and "refused" not in detail:
            out.append(((detail["at_ms"] - START_MS) // 60_000 - 1, detail["bolus_mu"] / 1000))
    return out


def summary(name, rows, pump, client, events, wall, hours):
    glucose = [r["glucose"] for r in rows]
    metrics = cohort.outcome(glucose, sum(r["insulin_u"] for r in rows))
    decisions = [d for k, d in events if k == "loop_decision"]
    suspends = sum(1 for d in decisions if d["action"] == "temp" and d["rate_mu_h"] == 0)
    highs = sum(1 for d in decisions if d["action"] == "temp" and d["rate_mu_h"])
    autos = auto_boluses(events)
    user = sum(u for _, u in pump.boluses)
    lines = [
        "Basalt closed loop: %d h of virtual patient %s (simglucose UVA/Padova), CGM over "
        "Bluetooth (fake link), benchtop simulation - not for human use" % (hours, name),
        "",
        "time in range 70-180  %5.1f %%    below 70 %4.1f %%    below 54 %4.1f %%    above 180 "
        "%4.1f %%" % (metrics["tir"], metrics["tbr70"], metrics["tbr54"], metrics["tar180"]),
        "mean glucose          %5.0f mg/dL (CV %.1f %%)" % (metrics["mean"], metrics["cv"]),
        "insulin               %6.2f U: meal boluses %.2f U (%d), automatic boluses %.2f U "
        "(%d), basal %.2f U" % (metrics["insulin_u"], user, len(pump.boluses),
                                sum(u for _, u in autos), len(autos),
                                metrics["insulin_u"] - user - sum(u for _, u in autos)),
        "loop decisions        %6d: %d zero temps (suspend), %d other temps, refused %d" % (
            len(decisions), suspends, highs, sum(1 for d in decisions if "refused" in d)),
        "CGM over Bluetooth    %6d records, %d notifications, %d malformed, %d connects; "
        "%d link events in the pump's history" % (
            client.counts["records"], client.counts["notifications"],
            client.counts["malformed"], client.counts["connects"],
            sum(1 for k, _ in events if k.startswith("cgm_"))),
        "speed                 %6.0f simulated s per wall s" % (hours * 3600 / wall),
    ]
    return "\n".join(lines)


def write_csv(rows, path):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def run(name=DEFAULT_PATIENT, hours=24, out="out", announce=1.0, seed=1, plot=True,
        stream=None, journal=None):
    stream = stream or sys.stdout
    storage = None
    if journal is not None:
        from tools.fake_storage import FakeStorage

        storage = FakeStorage()
    rows, pump, client, plan, wall = asyncio.run(simulate(name, hours, announce, seed,
                                                          storage))
    events = pump.app.pop_events()
    print(summary(name, rows, pump, client, events, wall, hours), file=stream)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "loop.csv")
    write_csv(rows, path)
    print("wrote %s" % path, file=stream)
    if storage is not None:
        from basalt.storage.journal import bundle

        os.makedirs(os.path.dirname(journal) or ".", exist_ok=True)
        with open(journal, "wb") as handle:
            handle.write(bundle(storage))
        print("wrote %s" % journal, file=stream)
    if plot:
        from tools.sim.plot import plot_loop

        path = os.path.join(out, "loop.png")
        plot_loop(rows, pump.boluses, auto_boluses(events), name, path)
        print("wrote %s" % path, file=stream)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.sim loop-day",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--patient", default=DEFAULT_PATIENT, help="a virtual patient name")
    parser.add_argument("--hours", type=int, default=24, help="1-72")
    parser.add_argument("--announce", default="all", help="all, none or a fraction 0-1")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="out")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--journal", default=None, help="also write the pump's history "
                        "journal (a bundle for python -m tools.history) to this file")
    args = parser.parse_args(argv)
    try:
        if args.patient not in patients.PATIENTS:
            raise ValueError("--patient: unknown %r" % args.patient)
        if not 1 <= args.hours <= 72:
            raise ValueError("--hours must be 1 to 72, got %d" % args.hours)
        announce = cohort.parse_announce(args.announce)
    except ValueError as error:
        print("error: %s" % error, file=sys.stderr)
        return 2
    run(args.patient, args.hours, args.out, announce, args.seed, not args.no_plot,
        journal=args.journal)
    return 0
