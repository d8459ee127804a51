"""The simulated bench rig (--simulate): the real firmware on the virtual board, on
virtual time, and a virtual MT-SICS balance on a pseudo-terminal.

- The pump: tools/vboard with virtual_time=True, the firmware installed by tools.deploy
  (the same mpremote path as `make deploy`), set up as an educator would (boot screen
  acknowledged, a full reservoir fitted), then driven by the rig over its USB service.
- The line: tools/sim/occlusion_physics.SyringePhysics, moved by the virtual motor's
  microsteps (the plunger, the fluid in the syringe and line, the flow out, the force
  on the load cell, a stopcock that closes the line). The force goes back to the
  virtual board's HX711, so the firmware's occlusion detector sees the physics.
- The beaker: what flows out, after the tubing's dead volume is filled, times
  (1 + error_pct / 100): the known error; minus evaporation; plus balance noise,
  rounded to the balance's 0.01 mg. The balance answers MT-SICS `SI` / `S` with that.

Time is the virtual board's: SimClock.sleep(s) runs s seconds of firmware, so the rig's
procedures run unchanged on a simulated rig, much faster than real time.
"""

import contextlib
import io
import json
import os
import random
import selectors
import tempfile
import threading
import tty
from pathlib import Path

from basalt.core.board_file import load_board
from tools import pump_link
from tools.sim.occlusion_physics import SyringePhysics
from tools.trumpet import WATER_G_ML

REPO = Path(__file__).resolve().parents[2]
CHUNK_S = 5.0  # the physics and the load cell follow the motor at least this often
RESOLUTION_G = 1e-5  # 0.01 mg, a semi-micro balance


class SimError(RuntimeError):
    pass


class VirtualBalance:
    """An MT-SICS balance behind a pseudo-terminal: `SI` and `S` answer `S S <g> g`
    with weigh()'s grams, `@` answers its serial number, anything else `ES`."""

    def __init__(self, weigh):
        self.weigh = weigh
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="sim-balance", daemon=True)
        self._thread.start()

    def answer(self, command):
        if command in ("SI", "S"):
            return "S S %11.5f g" % self.weigh()
        if command == "@":
            return 'I4 A "B021600001"'
        return "ES"

    def _serve(self):
        sel = selectors.DefaultSelector()
        sel.register(self._master, selectors.EVENT_READ)
        pending = b""
        while not self._stop.is_set():
            if not sel.select(timeout=0.1):
                continue
            try:
                pending += os.read(self._master, 1024)
            except OSError:
                return
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                reply = self.answer(line.strip(b"\r").decode("latin-1").strip())
                os.write(self._master, reply.encode() + b"\r\n")

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            os.close(fd)


class SimRig:
    """The virtual pump, line, stopcock and balance; close() ends them."""

    def __init__(self, rate_u_h=1.0, error_pct=0.0, noise_mg=0.01, evaporation_mg_h=0.3,
                 dead_volume_ul=20.0, seed=1, say=print):
        from boards.vboard import BOARD
        from tools.vboard import VirtualBoard

        self.board = load_board(BOARD)
        self.error_pct = error_pct
        self.noise_mg = noise_mg
        self.evaporation_mg_h = evaporation_mg_h
        self.dead_volume_ul = dead_volume_ul
        self.rng = random.Random(seed)
        self._lock = threading.RLock()
        self.vboard = VirtualBoard(virtual_time=True)
        self.balance = None
        try:
            self.pump_port = self.vboard.port
            say("simulate: the virtual board on %s; installing the firmware (tools.deploy)"
                % self.pump_port)
            self._deploy(rate_u_h)
            self._fit_reservoir()
            state = self.vboard.state()
            self.physics = SyringePhysics(self.board.ustep_volume_pl, seed=seed,
                                          start_ms=state["now_us"] // 1000)
            self.physics.seat(state["position"])
            self._outflow_seen = self.physics.outflow
            self.tubing_ul = self.beaker_ul = 0.0
            self.t0_s = state["now_us"] / 1e6
            self._push_force()
            self.balance = VirtualBalance(self.weigh)
            self.balance_port = self.balance.port
            say("simulate: the virtual MT-SICS balance on %s (error %+g %%, noise %g mg, "
                "evaporation %g mg/h, %g uL of tubing to fill)" % (
                    self.balance_port, error_pct, noise_mg, evaporation_mg_h, dead_volume_ul))
        except BaseException:
            self.close()
            raise

    # ----- set-up, as an educator does it on the pump ---------------------------------

    def _deploy(self, rate_u_h):
        from tools.deploy.deploy import DeployError, deploy

        with tempfile.TemporaryDirectory(prefix="rig-sim-") as tmp:
            settings = Path(tmp) / "settings.json"
            settings.write_text(json.dumps(sim_settings(rate_u_h)), encoding="utf-8")
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out):
                    deploy("vboard", self.pump_port, str(settings), with_deps=False,
                           out_root=Path(tmp) / "build")
            except DeployError as error:
                raise SimError("deploy to the virtual board failed: %s\n%s"
                               % (error, out.getvalue()[-2000:])) from None

    def _fit_reservoir(self):
        with pump_link.PumpLink(self.pump_port) as link:
            link.command(cmd="boot_ack")
            link.command(cmd="new_reservoir", units=self.board.syringe_capacity_mu // 1000)
            for _ in range(600):  # the plunger rewinds first
                if not link.status()["busy"]:
                    return
                self.vboard.advance_ms(1000)
        raise SimError("the virtual pump did not finish rewinding for the new reservoir")

    # ----- time and physics -----------------------------------------------------------

    def now_s(self):
        return self.vboard.state()["now_us"] / 1e6 - self.t0_s

    def advance(self, seconds):
        """Run the firmware for `seconds`, the line and the load cell following it."""
        left = seconds
        while left > 1e-9:
            step = min(CHUNK_S, left)
            self.vboard.advance_ms(round(step * 1000))
            self._follow()
            self._push_force()
            left -= step

    def _follow(self):
        with self._lock:
            state = self.vboard.state()
            t_ms = state["now_us"] // 1000
            if t_ms >= self.physics.t_ms:
                self.physics.advance(t_ms, state["position"])
            return state

    def _push_force(self):
        with self._lock:
            self.vboard.set_force_mn(max(0, self.physics.reading_mn()))

    def close_line(self):
        """The stopcock to the beaker closes (the occlusion test)."""
        with self._lock:
            state = self._follow()
            self.physics.occlude(self.physics.t_ms, state["position"])

    def open_line(self):
        with self._lock:
            state = self._follow()
            self.physics.clear(self.physics.t_ms, state["position"])

    def weigh(self):
        """What the balance shows now, in g."""
        with self._lock:
            self._follow()
            self._collect()
            hours = (self.physics.t_ms / 1000 - self.t0_s) / 3600
            grams = self.beaker_ul * WATER_G_ML / 1000 - self.evaporation_mg_h * hours / 1000
            grams += self.rng.gauss(0, self.noise_mg / 1000) if self.noise_mg else 0.0
            return round(grams / RESOLUTION_G) * RESOLUTION_G

    def _collect(self):
        """What flowed out since the last look: into the tubing until it is full, then
        into the beaker, each microliter (1 + error_pct / 100) of the nominal one."""
        out = self.physics.outflow
        ul = (out - self._outflow_seen) * self.physics.ustep_ul * (1 + self.error_pct / 100)
        self._outflow_seen = out
        into_tubing = min(ul, self.dead_volume_ul - self.tubing_ul)
        self.tubing_ul += into_tubing
        self.beaker_ul += ul - into_tubing

    def close(self):
        if self.balance is not None:
            self.balance.close()
        self.vboard.close()


class SimClock:
    """The rig's clock on a simulated rig: seconds of virtual time."""

    def __init__(self, rig):
        self.rig = rig

    def now(self):
        return self.rig.now_s()

    def sleep(self, seconds):
        if seconds > 0:
            self.rig.advance(seconds)


def sim_settings(rate_u_h):
    """The example settings, with limits that let a temp basal at the test rate run and
    no reminders that would need a button press during a long suspended blank."""
    from basalt.core.settings import parse_settings_text

    obj = parse_settings_text((REPO / "settings" / "example.json").read_text())
    whole = int(-(-rate_u_h // 1))
    limits = obj["limits"]
    limits["max_basal_u_h"] = max(limits["max_basal_u_h"], whole)
    limits["max_daily_u"] = min(300, max(limits["max_daily_u"], 24 * whole))
    obj["alarms"].update(suspend_reminder_min=0, glucose_check_min=0)
    return obj
