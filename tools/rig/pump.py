"""The pump side of the rig: the pump's USB service (tools.pump_link), never the REPL.

Every request is answered by the running app between delivery ticks: reading the pump
never stops it. The rig changes delivery only through the pump's command table (suspend,
prime, resume, a temp basal at the test rate), the same commands the buttons give.
"""

from tools import pump_link

PL_PER_MU = 10_000  # U-100: 1 mU = 10 nL = 10,000 pL


class RigError(RuntimeError):
    """The rig cannot go on; the message says why and what to do."""


class RigPump:
    def __init__(self, link, board):
        self.link = link
        self.board = board

    def status(self):
        return self.link.status()

    def moved(self):
        """Forward microsteps the motor has done since the pump booted (its claim)."""
        return self.status()["moved"]

    def mu(self, usteps):
        return usteps * self.board.ustep_volume_pl // PL_PER_MU

    def ml(self, usteps):
        return usteps * self.board.ustep_volume_pl / 1e9

    def command(self, **cmd):
        try:
            return self.link.command(**cmd)
        except pump_link.Refused as error:
            raise RigError("the pump refused %s: %s" % (cmd.get("cmd"), error)) from None

    def suspend(self):
        status = self.status()
        if status["ack"]:
            raise RigError("the pump's boot screen waits to be acknowledged: read it and "
                           "press SELECT on the pump first")
        if status["bolus_running"]:
            raise RigError("a bolus is running on the pump: let it finish (or cancel it) "
                           "before the rig takes over")
        if status["stop"] is None:
            self.command(cmd="suspend")

    def prime(self, units):
        self.command(cmd="prime", units=units)

    def run_at(self, rate_u_h, minutes):
        """Deliver at rate_u_h for minutes: resume, then a temp basal at that rate."""
        if self.status()["stop"] is not None:
            self.command(cmd="resume")
        self.command(cmd="temp_basal", minutes=max(15, min(1440, int(minutes))),
                     rate=rate_u_h)

    def stop(self):
        """Delivery off: the temp basal ended and the pump suspended (best effort: the
        pump may already be stopped by an alarm). True if the pump says it is stopped."""
        try:
            try:
                self.link.command(cmd="cancel_temp_basal")
            except pump_link.Refused:
                pass  # none running, or the boot screen waits
            if self.status()["stop"] is None:
                self.link.command(cmd="suspend")
            return self.status()["stop"] is not None
        except pump_link.LinkError:
            return False

    def check_running(self):
        """RigError if the pump stopped delivering on its own (an alarm, an occlusion)."""
        status = self.status()
        if status["stop"] is not None:
            raise RigError("the pump stopped delivering: %s" % pump_link.describe(status))
        return status
