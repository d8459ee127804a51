"""The closed loop's state the app holds (Loop: mode, carb record, what it added,
the last decision) and the settings section it is built from; the algorithm itself,
basalt.core.loop, is imported at the first decision. A pump without a CGM never
decides, so it never loads the algorithm's bytecode and names.
"""

from basalt.core.check import int_in, one_of
from basalt.core.limits import CARBS_MAX_G
from basalt.core.units import MS_PER_MIN, shifted

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):
        return value


MODES = ("off", "suspend_only", "closed")
PERIOD_MS = const(5 * 60_000)
MAX_CARB_ENTRIES = const(8)
TEMP_MIN = const(30)  # every loop temp basal; a lost loop reverts within this

DEFAULT_SUSPEND_MG_DL = 80
# Ranges the settings file allows (basalt.core.settings checks them).
SUSPEND_RANGE = (67, 110)  # Loop's suspend threshold guardrail (docs/references.md)
ABSORPTION_RANGE = (60, 360)
AUTO_BOLUS_PERCENT_RANGE = (10, 80)
AUTO_BOLUS_MAX_MIN_RANGE = (0, 120)
EXTRA_3H_RANGE_MU = (0, 50_000)
EXTRA_24H_RANGE_MU = (0, 200_000)
AIM_OFFSET_RANGE = (-15, 15)  # mg/dL from the middle of the target range


class LoopSettings:
    """The settings file's loop section in integers (checked by basalt.core.settings)."""

    def __init__(self, mode="off", suspend_mg_dl=DEFAULT_SUSPEND_MG_DL, auto_bolus=False,
                 auto_bolus_percent=40, auto_bolus_max_min=30, absorption_min=180,
                 max_extra_3h_mu=None, max_extra_24h_mu=None, aim_offset_mg_dl=0):
        self.mode = mode
        self.suspend_mg_dl = suspend_mg_dl
        self.auto_bolus = auto_bolus
        self.auto_bolus_percent = auto_bolus_percent
        self.auto_bolus_max_min = auto_bolus_max_min
        self.absorption_min = absorption_min
        # mU over scheduled basal in any 3 h / 24 h; None: the default (hours of the
        # active profile's highest rate, see extra_limits()).
        self.max_extra_3h_mu = max_extra_3h_mu
        self.max_extra_24h_mu = max_extra_24h_mu
        # Where the loop aims: the middle of the target range plus this, inside the range.
        self.aim_offset_mg_dl = aim_offset_mg_dl

    def as_dict(self, mode=None):
        """The input record's "settings" section (mode: the running mode, if changed)."""
        return {"mode": self.mode if mode is None else mode,
                "suspend_mg_dl": self.suspend_mg_dl, "auto_bolus": self.auto_bolus,
                "auto_bolus_percent": self.auto_bolus_percent,
                "auto_bolus_max_min": self.auto_bolus_max_min,
                "absorption_min": self.absorption_min,
                "max_extra_3h_mu": self.max_extra_3h_mu,
                "max_extra_24h_mu": self.max_extra_24h_mu}


def add_carbs(carbs, now_ms, grams):
    """A new carb record with `grams` eaten at now_ms; when it is full (MAX_CARB_ENTRIES)
    the oldest meal makes room (of two as old, the one announced first)."""
    int_in("carbs", grams, 1, CARBS_MAX_G, "g")
    kept = list(carbs)
    if len(kept) >= MAX_CARB_ENTRIES:
        oldest = 0
        for i in range(len(kept)):
            if kept[i][0] < kept[oldest][0]:
                oldest = i
        kept.pop(oldest)
    kept.append([now_ms, grams, 0])
    return kept


def carbs_on_board(carbs, now_ms, absorb_min):
    """Carbs not absorbed yet, whole grams (rounded up)."""
    left = 0
    for entry in carbs:
        left += _left_mg(entry, now_ms, absorb_min)
    return -(-left // 1000)


def _left_mg(entry, now_ms, absorb_min):
    """mg of one meal not absorbed yet."""
    at, grams, early = entry
    absorb = absorb_min * MS_PER_MIN
    age = now_ms - at
    if age < 0:
        age = 0
    if age >= absorb:
        return 0
    left = grams * 1000 * ((absorb - age) // MS_PER_MIN) // absorb_min - early
    return left if left > 0 else 0


class Loop:
    """The loop's memory (mode, the state decide() returns, when it last decided) around
    the pure decide(): what the app holds."""

    def __init__(self, loop_settings):
        self.settings = loop_settings
        self.mode = loop_settings.mode
        self.state = {"carbs": [], "last_ms": None, "extra": [], "loop_temp": None,
                      "sens": None}
        self._settings = loop_settings.as_dict()  # the record's "settings", kept
        self._last_offset = -1
        self.last = None  # the last Decision
        self.inputs = None  # the record of the last decide_from() (replayable)

    def in_control(self, now_ms):
        """True when the closed loop dosed from a usable glucose in the last two periods:
        it is correcting highs itself (the bolus calculator leaves them to it)."""
        d = self.last
        return (self.mode == "closed" and d is not None and d.mode == "closed"
                and d.glucose is not None and 0 <= now_ms - d.at_ms <= 2 * PERIOD_MS)

    def rebase(self, shift_ms):
        """The clock moved back by shift_ms: the state's times move with it (new lists:
        the last decision's input record keeps its own, consistent times)."""
        state = self.state
        temp = state.get("loop_temp")
        self.state = {
            "carbs": [[shifted(c[0], shift_ms)] + c[1:] for c in state["carbs"]],
            "last_ms": shifted(state["last_ms"], shift_ms),
            "extra": [[shifted(e[0], shift_ms), e[1]] for e in state.get("extra", [])],
            "loop_temp": None if temp is None else [shifted(temp[0], shift_ms), temp[1],
                                                    shifted(temp[2], shift_ms)],
            "sens": state.get("sens")}
        if self.last is not None:
            self.last.at_ms = shifted(self.last.at_ms, shift_ms)

    def set_mode(self, mode):
        self.mode = one_of("loop mode", mode, MODES)
        self._settings = self.settings.as_dict(mode)
        self.state = self._kept(self.state["carbs"], None)  # decide at once

    def add_carbs(self, now_ms, grams):
        """Announced carbs (whole grams, eaten now). The oldest entry makes room."""
        self.state = self._kept(add_carbs(self.state["carbs"], now_ms, grams),
                                self.state["last_ms"])

    def _kept(self, carbs, last_ms):
        """A state with new carbs and last_ms; what the loop added stays counted."""
        state = self.state
        return {"carbs": carbs, "last_ms": last_ms, "extra": state.get("extra", []),
                "loop_temp": state.get("loop_temp"), "sens": state.get("sens")}

    def carry_extra(self, other):
        """Count what another Loop (the one new settings replace) added as ours: a
        settings change does not hand the loop a fresh 24 h budget. What it learnt of
        the sensitivity was measured against the old settings: it starts again."""
        if other is not None:
            self.state = {"carbs": self.state["carbs"], "last_ms": self.state["last_ms"],
                          "extra": other.state.get("extra", []),
                          "loop_temp": other.state.get("loop_temp"), "sens": None}

    def cob_g(self, now_ms):
        """Carbs on board, whole grams (rounded up)."""
        return carbs_on_board(self.state["carbs"], now_ms, self.settings.absorption_min)

    def due(self, now_ms, latest_offset):
        """True every PERIOD_MS and when a reading with a new offset arrived."""
        last = self.state["last_ms"]
        if last is None or now_ms - last >= PERIOD_MS:
            return True
        return latest_offset != self._last_offset

    def record(self, now_ms, therapy, iob, state):
        """The input record (without readings) for this decision."""
        if self._settings["mode"] != self.mode:  # the mode was set directly
            self._settings = self.settings.as_dict(self.mode)
        alg = _alg()
        return {"now_ms": now_ms, "readings": [], "iob": alg.iob_figures(iob, now_ms),
                "schedule": alg.schedule_section(state, therapy),
                "settings": self._settings, "pump": alg.pump_section(state),
                "state": self.state}

    def decide(self, now_ms, therapy, cgm, why, iob, state, latest_offset=-1):
        """A Decision from the CGM (glucose x 1000, trend in mg/dL/min x 1000 or None, and
        a caution (text) that forbids raising insulin, or None: what cgm_input() gives;
        or None with `why` when there is nothing usable), the IOB tracker, the pump's
        state and the therapy at this time of day: therapy = (sensitivity mg/dL/U, carb
        ratio mg/U, target mg/dL)."""
        d, self.state = _alg()._decide(self.record(now_ms, therapy, iob, state), cgm, why)
        self._last_offset = latest_offset
        self.last = d
        return d


    def decide_from(self, now_ms, store, iob, settings, engine, bolus_step_mu, activity=None):
        """The app's one call: the record from the live parts (pump_inputs()), decided by
        the pure decide(), its state kept. self.inputs keeps the record: written to a
        file, `python -m tools.sim decide FILE` gives this decision again."""
        alg = _alg()
        record = alg.pump_inputs(now_ms, store, iob, settings, engine, self.mode, self.state,
                                 bolus_step_mu, activity)
        d, self.state = alg.decide(record, False)
        self.inputs = record
        self._last_offset = store.latest
        self.last = d
        return d



def _alg():
    """The algorithm (basalt.core.loop), loaded when the loop first decides."""
    from basalt.core import loop

    return loop
