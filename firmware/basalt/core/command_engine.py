"""Commands for a bare engine or alarm manager, with no app around them: the core's
vectors, the benches and the tests enter here. The running pump never imports it (its
app wires a Dispatcher with the real guards)."""

from basalt.core.commands import Dispatcher
from basalt.core.errors import InvalidValue


class EngineOnly:
    """Guards for a bare engine (core vectors, benches): no boot lock, no alarms."""

    def __init__(self, engine):
        self.engine = engine

    def awaiting_ack(self):
        return False

    def stop_reason(self):
        return self.engine.stop_reason

    def require_resumable(self, name):
        pass

    def require_known_state(self, name):
        pass


def apply(engine, now_ms, cmd):
    """Check and apply one engine command (core vectors and benches without an app)."""
    return Dispatcher({"engine": engine, "profiles": engine}, EngineOnly(engine),
                      engine.board.syringe_capacity_mu).run(now_ms, cmd)


def apply_alarm(alarms, now_ms, cmd):
    """Check and apply an acknowledge or snooze command to a bare AlarmManager."""
    name = cmd.get("cmd") if isinstance(cmd, dict) else None
    if name not in ("acknowledge", "snooze"):
        raise InvalidValue("command", cmd, "{'cmd': 'acknowledge' or 'snooze', "
                           "'alarm': code}")
    return Dispatcher({"alarms": alarms}, EngineOnly(None)).run(now_ms, cmd)  # no guards
