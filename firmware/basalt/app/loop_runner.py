"""The loop runner: the closed loop's commands, its carb record fed from the event
stream, and every 5 minutes (or on a new reading) one decision carried out through
the command table, so the loop doses through the same checks and safety gate as a user.
"""

from basalt.core import loop_state
from basalt.core.errors import InvalidValue, NotAllowedNow
from basalt.core.limits import BOLUS_STEP_MU
from basalt.core.units import fmt_milli

ALGORITHM = ("basalt.core.loop",)  # imported by each decision (basalt.core.loop_state)


class LoopRunner:
    def __init__(self, loop_settings, engine, iob, iob_feed, stream):
        self.loop = None if loop_settings is None else loop_state.Loop(loop_settings)
        self.engine = engine
        self.iob = iob
        self.iob_feed = iob_feed
        self.stream = stream
        self.settings = None  # the therapy settings (schedules, limits) the loop doses by
        self.limited = False  # the last decision met the loop's 3 h or 24 h bound
        self.run = None  # the command table's entry: run(now_ms, (name, values))
        self.activity = None  # basalt.core.activity.Activity: exercise, sleep, sick day
        # unload(names) forgets modules (basalt.forget, set by a board's boot): the
        # algorithm's bytecode goes between decisions. None keeps it (a host).
        self.unload = None

    def replace(self, settings):
        """New settings: a changed loop section starts the loop as at boot (its mode from
        the file; carbs announced before are forgotten, so it doses no more than
        without them); an unchanged one keeps the running loop."""
        old = self.settings
        if old is None or self.loop is None or old.loop.__dict__ != settings.loop.__dict__:
            replaced = self.loop
            self.loop = loop_state.Loop(settings.loop)
            self.loop.carry_extra(replaced)
        self.settings = settings

    # ----- the command table's "loop" part -------------------------------------------

    def _require_loop(self, name):
        if self.loop is None:
            raise NotAllowedNow(name, "no therapy settings are loaded")
        return self.loop

    def set_mode(self, now_ms, mode):
        self._require_loop("loop_mode").set_mode(mode)
        self.stream.emit("loop_mode", {"at_ms": now_ms, "mode": mode})
        return mode

    def carbs(self, now_ms, grams, source=None):
        """Carbs for the loop; source "calculator": the same carbs are in its bolus
        record (an export counts them once)."""
        self._require_loop("carbs")
        self.stream.emit("carbs", {"at_ms": now_ms, "grams": grams,
                                   "source": source or "user"})
        return grams

    def rebase(self, shift_ms):
        if self.loop is not None:
            self.loop.rebase(shift_ms)

    def on_event(self, kind, detail):
        """The carb record: carbs announced by command reach the loop from the stream."""
        if kind == "carbs" and self.loop is not None:
            self.loop.add_carbs(detail["at_ms"], detail["grams"])

    # ----- one decision ----------------------------------------------------------------

    def step(self, now_ms, store):
        """Decide when due (one pure call from the live parts' record) and act through
        the command table."""
        loop = self.loop
        # Off, the loop would only journal "loop off" at every reading: it is not asked.
        if loop is None or loop.mode == "off" or store is None or not loop.due(
                now_ms, store.latest):
            return
        activity = self.activity
        decision = loop.decide_from(now_ms, store, self.iob, self.settings, self.engine,
                                    BOLUS_STEP_MU,
                                    None if activity is None else activity.rules())
        self._act(now_ms, decision)
        if self.unload is not None:  # nothing of the algorithm's is held until the next
            loop.last = Decided(decision)
            self.unload(ALGORITHM)

    def _act(self, now_ms, decision):
        """A refusal (LimitExceeded, NotAllowedNow, InvalidValue) is in the event and
        delivers nothing."""
        detail = decision.as_dict()
        detail["prediction"] = decision.prediction
        run = self.run
        try:
            if decision.action == "temp":
                values = {"rate": decision.rate_mu_h, "minutes": decision.minutes}
                if decision.limit == "low_glucose_suspend":
                    values["cause"] = decision.limit
                run(now_ms, ("loop_temp", values))
            elif decision.action == "cancel" and self.engine.temp_basal() is not None:
                run(now_ms, ("loop_cancel_temp", {}))
            if decision.bolus_mu:
                run(now_ms, ("loop_bolus", {"units": decision.bolus_mu}))
                self.iob_feed.update(now_ms)
        except (InvalidValue, NotAllowedNow) as error:
            detail["refused"] = str(error)
        self.stream.emit("loop_decision", detail)
        self._alert(now_ms, decision)

    def _alert(self, now_ms, decision):
        """The loop_limit alarm when the bound starts cutting the loop's dose; its cause
        ends with the first decision the bound does not cut (it latches until
        acknowledged). One event each way, not one per decision."""
        if decision.extra_limit is not None and not self.limited:
            from basalt.core.loop import extra_limits  # loaded by the decision

            most_3h, most_24h = extra_limits(self.loop.inputs["settings"],
                                             self.loop.inputs["schedule"])
            self.stream.emit("alarm", {
                "code": "loop_limit", "at_ms": now_ms, "window": decision.extra_limit,
                "detail": "loop added %s U in 3 h (bound %s), %s U in 24 h (bound %s)" % (
                    fmt_milli(decision.extra_3h_mu), fmt_milli(most_3h),
                    fmt_milli(decision.extra_24h_mu), fmt_milli(most_24h))})
            self.limited = True
        elif decision.extra_limit is None and self.limited:
            self.stream.emit("loop_limit_ended", {"code": "loop_limit", "at_ms": now_ms})
            self.limited = False


class Decided:
    """The last decision with Decision's attributes as plain data: a Decision would keep
    basalt.core.loop's class, and with it the whole module, after the module is forgotten."""

    def __init__(self, decision):
        for key, value in decision.as_dict().items():
            setattr(self, key, value)
        self.prediction = decision.prediction
