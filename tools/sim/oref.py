"""OpenAPS (oref0 / oref1) as cohort controllers, on Basalt's own pump.

    oref0   oref0's determine-basal with its documented defaults: temp basals only
    oref1   the same with super-micro-boluses (SMB) and unannounced-meal detection
            (UAM) enabled, the configuration AndroidAPS users run

Both drive the same PumpApp as `pump` and `loop` (tools/sim/controllers.py): the
simulated user boluses for announced meals with Basalt's calculator and enters the
carbs; Basalt's own loop is off. oref0 gets what a rig gets: the CGM history, the
pump's history in oref0's format (translated from the pump's event stream: what the
pump did, not what was asked) from which oref0 computes its own IOB and carbs on
board, and a profile built by oref0's own generator from the same settings
(profile_inputs). Its temp basals and SMBs go to the pump as the loop's commands
(loop_temp, loop_bolus, loop_cancel_temp), through the command table and the safety
gate. oref0 runs in node (tools/sim/oref0_bridge.js, oref0 from node_modules), one
long-lived process per worker process, one JSON line per request.

Every request that fails (a bridge error: an exception in oref0, an answer that is
not JSON, a dead process) and every command the pump refuses is counted: `errors`
and `refused` per run.
"""

import itertools
import json
import os
import select
import subprocess
import time

from basalt.core import insulin
from basalt.core.commands import COMMANDS
from basalt.core.errors import BasaltError
from basalt.core.limits import BOLUS_STEP_MU
from tools import ROOT
from tools.sim.controllers import BasaltPump

BRIDGE_JS = os.path.join(ROOT, "tools", "sim", "oref0_bridge.js")
EPOCH_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: simulated minute 0 (UTC, as the bridge)
GLUCOSE_KEEP_MIN = 8 * 60  # carbs absorb over at most 6 h (oref0 lib/meal/total.js)
HISTORY_KEEP_MIN = 12 * 60  # IOB at the oldest carbs (6 h ago) counts doses DIA (6 h) before
TEMP_MIN = 30  # oref0 sets 30-minute temps
DEVICE = "basalt-sim"
TIMEOUT_S = 60  # one decision takes milliseconds; a bridge silent this long is stuck
EXERCISE_TARGET = 140  # mg/dL: AndroidAPS's default activity temp target (references.md)
# The pump's loop temps last exactly this long (the command table's loop_temp minutes).
LOOP_TEMP_MIN = [f for f in COMMANDS["loop_temp"].fields if f.key == "minutes"][0].hi

# Profile fields Basalt has no equivalent for: oref0's own recommended values. oref0's
# lib/profile defaults() supplies them (docs/references.md: oref0 preferences); the
# ones listed here are those the OpenAPS / AndroidAPS documentation tells a user to set
# differently from the code's default, or that must match the pump.
OREF0_PREFS = {}
OREF1_PREFS = {
    # AndroidAPS "OpenAPS SMB": SMB with COB, after carbs and always (a Dexcom-class
    # filtered CGM), UAM; oref0's defaults for the SMB sizes (30 basal minutes).
    "enableSMB_with_COB": True,
    "enableSMB_after_carbs": True,
    "enableSMB_always": True,
    "enableSMB_with_temptarget": True,
    "enableUAM": True,
}


def iso(ms):
    """Simulated ms since minute 0 -> the ISO time a rig's files carry (UTC)."""
    seconds, millis = divmod(EPOCH_MS + int(ms), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + ".%03dZ" % millis


def _minutes(clock):
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _start(minute):
    return "%02d:%02d:00" % divmod(minute, 60)


def profile_inputs(settings, prefs=()):
    """oref0's profile generator inputs (lib/profile/index.js) from Basalt settings JSON
    (tools.sim.controllers.settings_json): the same basal, ISF, carb ratio, targets, max
    IOB, max basal and insulin curve; oref0's defaults for everything else."""
    basal = settings["basal"]["profiles"][settings["basal"]["active"]]
    kind = settings["insulin"]["type"]
    peak = settings["insulin"].get("peak_min") or insulin.preset_peak(kind)
    inputs = {
        "settings": {"insulin_action_curve": settings["insulin"]["duration_h"],
                     "maxBasal": settings["limits"]["max_basal_u_h"]},
        "basals": [{"i": i, "start": _start(_minutes(at)), "minutes": _minutes(at),
                    "rate": rate} for i, (at, rate) in enumerate(basal)],
        "targets": {"units": "mg/dL", "user_preferred_units": "mg/dL", "targets": [
            {"i": i, "offset": _minutes(at), "start": _start(_minutes(at)), "low": low,
             "high": high} for i, (at, low, high) in enumerate(settings["target_mg_dl"])]},
        "temptargets": [],
        "isf": {"units": "mg/dL", "user_preferred_units": "mg/dL", "sensitivities": [
            {"i": i, "offset": _minutes(at), "start": _start(_minutes(at)),
             "sensitivity": isf} for i, (at, isf) in
            enumerate(settings["sensitivity_mg_dl_per_u"])]},
        "carbratio": {"units": "grams", "schedule": [
            {"i": i, "offset": _minutes(at), "start": _start(_minutes(at)), "ratio": ratio}
            for i, (at, ratio) in enumerate(settings["carb_ratio_g_per_u"])]},
        "max_iob": settings["limits"]["max_iob_u"],
        "curve": "rapid-acting" if peak >= 65 else "ultra-rapid",
        "useCustomPeakTime": True,
        "insulinPeakTime": peak,
        "bolus_increment": settings["bolus"]["increment_u"],
    }
    inputs.update(prefs)
    return inputs


# ----- the node process ------------------------------------------------------------------


class BridgeError(Exception):
    pass


class Bridge:
    """One node process running tools/sim/oref0_bridge.js; call() sends one request."""

    def __init__(self, env=None):
        self.proc = None
        self.pid = os.getpid()
        self.requests = 0
        self.spawns = 0  # a new process knows no session: its controllers send all again
        self.env = None if env is None else dict(os.environ, **env)

    def _spawn(self):
        self.pid = os.getpid()
        self.spawns += 1
        self.proc = subprocess.Popen(
            ["node", BRIDGE_JS], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, bufsize=1, env=self.env)

    def call(self, request):
        """The answer (a dict); BridgeError when oref0 failed or the process died."""
        if self.pid != os.getpid():  # a forked child: the parent's pipes are not ours
            self.proc = None
        if self.proc is None or self.proc.poll() is not None:
            self._spawn()
        self.requests += 1
        try:
            self.proc.stdin.write(json.dumps(request, separators=(",", ":")) + "\n")
            self.proc.stdin.flush()
            ready, _, _ = select.select([self.proc.stdout], [], [], TIMEOUT_S)
            if not ready:
                self.proc.kill()
                self.close()
                raise BridgeError("node bridge: no answer in %d s (killed)" % TIMEOUT_S)
            line = self.proc.stdout.readline()
        except OSError as error:
            self.close()
            raise BridgeError("node bridge: %s" % error)
        if not line:
            self.close()
            raise BridgeError("node bridge exited (status %s)" % self.proc_status())
        try:
            answer = json.loads(line)
        except ValueError:
            raise BridgeError("node bridge answered non-JSON: %r" % line[:200])
        if "error" in answer:
            raise BridgeError(answer["error"])
        return answer

    def proc_status(self):
        return None if self.proc is None else self.proc.poll()

    def close(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            self.proc = None


_bridge = None
_sessions = itertools.count(1)  # session ids in this process's bridge


def bridge():
    """This process's bridge (a worker keeps one node process for all its patients)."""
    global _bridge
    if _bridge is None:
        _bridge = Bridge()
    return _bridge


# ----- pump history in oref0's format -----------------------------------------------------


PRIVATE = ("_ms", "_n")  # a record's simulated ms and serial number: not oref0's fields


def _public(record):
    return {k: v for k, v in record.items() if k not in PRIVATE}


class PumpHistory:
    """The pump's events as a Medtronic-format history (newest first), as a rig reads
    it: Bolus, TempBasal + TempBasalDuration (a cancel is a 0-minute temp), PumpSuspend,
    PumpResume, Rewind (a new reservoir); carbs entered, as carb treatments.

    recent() is the whole history oref0 reads now; changes() is what changed since the
    last changes(), for the bridge's session, which keeps the history (one line of a
    few records per decision instead of the whole history: same records, same order)."""

    def __init__(self):
        self.records = []  # oldest first here; newest first when handed to oref0
        self.carbs = []
        self._bolus_at = {}  # bolus id -> its record (amount fixed if cancelled)
        self._suspended = None  # the PumpSuspend record while the pump is suspended
        self._serial = 0
        self._ordered = True  # every record added at or after the one before it
        self._changed = []  # records added or amended since changes()
        self._new_carbs = []

    def add(self, at_ms, kind, detail):
        stamp = iso(at_ms)
        if kind == "temp_basal_started" and detail["rate_mu_h"] is not None:
            self._temp(at_ms, stamp, detail["rate_mu_h"] / 1000, detail["duration_min"])
        elif kind == "temp_basal_cancelled":
            self._temp(at_ms, stamp, 0, 0)
        elif kind == "bolus_started":
            units = detail["programmed_mu"] / 1000
            record = {"_type": "Bolus", "timestamp": stamp, "amount": units,
                      "programmed": units, "unabsorbed": 0, "duration": 0, "_ms": at_ms}
            self._bolus_at[detail["id"]] = record
            self._append(record)
        elif kind == "bolus_cancelled" and detail["id"] in self._bolus_at:
            record = self._bolus_at[detail["id"]]
            record["amount"] = detail["delivered_mu"] / 1000
            self._changed.append(record)
        elif kind == "stopped":
            self._suspended = {"_type": "PumpSuspend", "timestamp": stamp, "_ms": at_ms}
        elif kind == "resumed" and self._suspended is not None:
            # A refill in the simulator suspends and resumes within the minute; oref0
            # reads a resume at the suspend's own time as "still suspended" (it needs
            # the resume later), so a suspend under a minute is left out: it stopped
            # no delivery.
            if at_ms - self._suspended["_ms"] >= 60_000:
                self._append(self._suspended)
                self._append({"_type": "PumpResume", "timestamp": stamp, "_ms": at_ms})
            self._suspended = None
        elif kind == "reservoir_fitted":
            self._append({"_type": "Rewind", "timestamp": stamp, "_ms": at_ms})
        elif kind == "carbs":
            carbs = {"carbs": detail["grams"], "created_at": stamp, "_ms": at_ms}
            self.carbs.append(carbs)
            self._new_carbs.append(carbs)

    def _temp(self, at_ms, stamp, rate, minutes):
        self._append({"_type": "TempBasal", "temp": "absolute", "rate": rate,
                      "timestamp": stamp, "_ms": at_ms})
        self._append({"_type": "TempBasalDuration", "duration (min)": minutes,
                      "timestamp": stamp, "_ms": at_ms})

    def _append(self, record):
        self._serial += 1
        record["_n"] = self._serial
        if self.records and record["_ms"] < self.records[-1]["_ms"]:
            self._ordered = False
        self.records.append(record)
        self._changed.append(record)

    def _trim(self, now_ms):
        """Forget what is older than HISTORY_KEEP_MIN; returns the oldest ms kept."""
        since = now_ms - HISTORY_KEEP_MIN * 60_000
        records = self.records
        if self._ordered:  # oldest first: the old ones are at the front
            old = 0
            while old < len(records) and records[old]["_ms"] < since:
                old += 1
            del records[:old]
        else:
            self.records = [r for r in records if r["_ms"] >= since]
        self.carbs = [c for c in self.carbs if c["_ms"] >= since]
        return since

    def _suspend_shown(self, now_ms):
        """The open suspend, once it has stopped delivery (the resume() note in add)."""
        if self._suspended is not None and now_ms - self._suspended["_ms"] >= 60_000:
            return self._suspended
        return None

    def recent(self, now_ms):
        """(history, carbs) of the last HISTORY_KEEP_MIN, newest first, as oref0 reads."""
        self._trim(now_ms)
        records = self.records
        suspended = self._suspend_shown(now_ms)
        if suspended is not None:
            records = records + [suspended]
        history = [_public(r) for r in reversed(records)]
        carbs = [_public(c) for c in reversed(self.carbs)]
        return history, carbs

    def changes(self, now_ms, everything=False):
        """What the bridge's session needs to hold recent(now_ms): {"since": ms (older
        records are dropped), "history": [[serial, ms, record], ...] added or amended,
        oldest first, "carbs": [[ms, entry], ...] added, "suspended": the open suspend
        or None}; everything: all that is kept, for a new session."""
        since = self._trim(now_ms)
        if everything:
            changed, carbs = self.records, self.carbs
        else:
            changed, carbs = self._changed, self._new_carbs
        seen = set()
        history = []
        for record in changed:
            if record["_n"] not in seen:
                seen.add(record["_n"])
                history.append([record["_n"], record["_ms"], _public(record)])
        out = {"since": since, "history": history,
               "carbs": [[c["_ms"], _public(c)] for c in carbs]}
        suspended = self._suspend_shown(now_ms)
        out["suspended"] = None if suspended is None else _public(suspended)
        self._changed, self._new_carbs = [], []
        return out


# ----- the controllers ---------------------------------------------------------------------


class Oref0(BasaltPump):
    """oref0 deciding for Basalt's pump (module docstring)."""

    name = "oref0"
    mode = "off"  # Basalt's own loop stays off: oref0 doses
    prefs = OREF0_PREFS
    microbolus = False
    sessions = True  # False: the whole request every decision (the identity tests)

    def __init__(self, patient, sample_min, clock=None, store=None, overrides=None):
        super().__init__(patient, sample_min, clock, store, overrides)
        self.history = PumpHistory()
        self.glucose = []  # newest last: oref0's glucose entries
        self._new_glucose = []  # entries the bridge's session has not had yet
        self._session = None  # (bridge process number, session id) once opened
        self.temp_targets = []  # (from_ms, until_ms, mg/dL) the user set
        self.errors = []  # (minute, text): bridge errors
        self.decisions = 0
        self.last = None  # the last answer (iob, meal, suggested)
        self._now = 0  # simulated ms of the current minute
        self._decide = False
        self.bridge = bridge()
        answer = self.bridge.call({"op": "profile",
                                   "inputs": profile_inputs(self.settings_dict, self.prefs)})
        self.profile = answer["profile"]
        # The fill before minute 0 stays out of the history: the patient starts in the
        # steady state of scheduled basal, as on a pump that had been running for days
        # (a resume with no suspend before it would tell oref0 the pump had been
        # suspended for its whole 8 h look-back).
        self.app.pop_events()

    def cgm_sample(self, minute, mg_dl):
        super().cgm_sample(minute, mg_dl)
        at = minute * 60_000
        value = int(round(mg_dl))
        entry = {"date": EPOCH_MS + at, "dateString": iso(at), "sgv": value,
                 "glucose": value, "type": "sgv", "device": DEVICE}
        self.glucose.append(entry)
        self._new_glucose.append(entry)
        del self.glucose[:-self._glucose_keep()]
        self._decide = True  # a rig runs its loop on every new reading

    def activity(self, minute, kind, minutes):
        """Exercise: the user sets AndroidAPS's 'Activity' temp target (EXERCISE_TARGET);
        oref0 has no sick-day mode (autosens would see the resistance), so none."""
        if kind == "exercise":
            self.temp_targets.append((minute * 60_000, (minute + minutes) * 60_000,
                                      EXERCISE_TARGET))

    def before_step(self, minute):
        self._now = minute * 60_000
        self._read_events()
        if self._decide:
            self._decide = False
            self.decide(minute)
            self._read_events()

    def _read_events(self):
        offset = self._now - self.clock.now_ms()  # app time -> simulated time
        for kind, detail in self.app.pop_events():
            at = detail.get("at_ms")
            self.history.add(self._now if at is None else at + offset, kind, detail)

    def _glucose_keep(self):
        return GLUCOSE_KEEP_MIN // self.sample_min

    def _current_temp(self):
        temp = self.app.engine.temp_basal()
        if temp is not None and temp[0] is not None:
            return {"duration": temp[2], "rate": temp[0] / 1000, "temp": "absolute"}
        return {"duration": 0, "rate": 0, "temp": "absolute"}

    def _temp_target(self):
        """The temp target (mg/dL) the user has set now, or None."""
        target = [t for t in self.temp_targets if t[0] <= self._now < t[1]]
        return target[-1][2] if target else None

    def request(self):
        """What a rig hands oref0 now (the whole of it: the bridge's "decide")."""
        now = self._now
        history, carbs = self.history.recent(now)
        profile = self.profile
        target = self._temp_target()
        if target is not None:  # as lib/profile/targets.js sets a temp target
            profile = dict(profile, min_bg=target, max_bg=target, temptargetSet=True)
        return {"op": "decide", "clock": iso(now), "glucose": self.glucose[::-1],
                "history": history, "carbs": carbs, "profile": profile,
                "currenttemp": self._current_temp(), "microbolus": self.microbolus}

    def step_request(self):
        """The same decision as request() for the bridge's session ("step"), which keeps
        the profile, glucose, history and carbs from one decision to the next: only what
        changed is sent. A new bridge process (after a crash) gets a new session with
        everything."""
        now = self._now
        out = {"op": "step", "clock": iso(now), "target": self._temp_target(),
               "currenttemp": self._current_temp(), "microbolus": self.microbolus}
        fresh = self._session is None or self._session[0] != self.bridge.spawns
        if fresh:
            self._session = (self.bridge.spawns, next(_sessions))
            out["open"] = {"profile": self.profile, "glucose_keep": self._glucose_keep()}
            self._new_glucose = self.glucose[:]
        out["session"] = self._session[1]
        out.update(self.history.changes(now, everything=fresh))
        out["glucose"] = self._new_glucose
        self._new_glucose = []
        return out

    def decide(self, minute):
        self.decisions += 1
        try:
            answer = self.bridge.call(self.step_request() if self.sessions else
                                      self.request())
        except BridgeError as error:
            self.errors.append((minute, str(error)))
            return
        self.last = answer
        self.enact(minute, answer["suggested"])

    def enact(self, minute, suggested):
        """The suggestion as the loop's commands, through the command table and the gate;
        a refusal is recorded (the pump keeps doing what it did). oref0's longer temps
        (a 120-minute zero temp on a low) are set for the pump's LOOP_TEMP_MIN: oref0
        decides again at every reading and renews a temp before it ends, as a rig does
        on a pump whose temps are short."""
        run = self.app.command
        try:
            if "rate" in suggested and "duration" in suggested:
                if suggested["duration"] == 0:
                    if self.app.engine.temp_basal() is not None:
                        run(("loop_cancel_temp", {}))
                else:
                    rate = max(0, int(round(suggested["rate"] * 1000)))
                    minutes = min(int(suggested["duration"]), LOOP_TEMP_MIN)
                    run(("loop_temp", {"rate": rate, "minutes": minutes}))
        except BasaltError as error:
            self.refused.append((minute, "temp: %s" % error))
        units = suggested.get("units") or 0
        mu = int(round(units * 1000 / BOLUS_STEP_MU)) * BOLUS_STEP_MU
        if mu > 0:
            try:
                run(("loop_bolus", {"units": mu}))
            except BasaltError as error:
                self.refused.append((minute, "SMB: %s" % error))


class Oref1(Oref0):
    name = "oref1"
    prefs = OREF1_PREFS
    microbolus = True
