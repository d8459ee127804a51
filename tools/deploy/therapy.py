"""Deploy and a pump that may be delivering: ask first, stop cleanly, restart, check.

mpremote needs the board to itself: its Ctrl-C would end the running app, and the app's
hardware watchdog (which nothing can stop once started) would reset the board under
mpremote a few seconds later. So, through the pump's USB console service
(tools.pump_link), before the mpremote steps:

- a pump that is delivering is refused, unless --stop-therapy: then delivery is
  suspended through the pump's command table (the engine and the journal know), never
  in the middle of a bolus;
- the pump resets into one maintenance boot: no app, no watchdog; mpremote works.

deploy's last step resets the board into the new firmware, which restarts from its
checkpoint and journal. After it: the app must answer again; what --stop-therapy
suspended is resumed (the boot screen that restart shows is acknowledged, its notes
printed here), or the banner says that therapy is stopped.
"""

import time

from tools import pump_link


class TherapyError(Exception):
    pass


class TherapyGuard:
    def __init__(self, port, stop_therapy=False, link_factory=pump_link.PumpLink, say=print,
                 wait_s=30.0):
        self.port = port
        self.stop_therapy = stop_therapy
        self.link_factory = link_factory
        self.say = say
        self.wait_s = wait_s
        self.found = None  # the status the running app gave, or None (app not running)
        self.suspended_at = None  # time.monotonic() when --stop-therapy suspended it
        self.reachable = True  # pyserial could open the port

    def before(self):
        """Refuse, or leave the board free for mpremote (a maintenance boot)."""
        try:
            with self.link_factory(self.port) as link:
                self.found = status = link.status()
                self._stop(link, status)
                link.ask("maintenance")
        except pump_link.NotRunning:
            self.say("deploy: the pump app is not running on %s: nothing to stop" % self.port)
            return
        except pump_link.NoAnswer:
            self.say("deploy: no pump app answered on %s: going on with mpremote" % self.port)
            return
        except pump_link.Refused as error:
            raise TherapyError("the pump on %s refused: %s" % (self.port, error)) from None
        except OSError as error:  # not a port pyserial opens (mpremote may still)
            self.reachable = False
            self.say("deploy: cannot ask the pump app on %s (%s): going on with mpremote"
                     % (self.port, error))
            return
        if not self._wait(lambda: self._repl_answers()):
            raise TherapyError("the pump on %s did not come back in maintenance mode in %.0f s"
                               % (self.port, self.wait_s))
        self.say("deploy: the pump is in a maintenance boot (app stopped) for the install")

    def _stop(self, link, status):
        if not (status["delivering"] or status["bolus_running"]):
            self.say("deploy: the pump is %s" % pump_link.describe(status))
            return
        if not self.stop_therapy:
            raise TherapyError(
                "the pump on %s is %s: deploying stops it. Suspend it on the pump first, "
                "or run again with --stop-therapy (deploy suspends delivery through the "
                "pump's command table, installs, restarts the pump and resumes delivery)"
                % (self.port, pump_link.describe(status)))
        if status["bolus_running"]:
            raise TherapyError("a bolus is running on %s: --stop-therapy never cuts a bolus "
                               "short; deploy once it has finished (or cancel it on the pump)"
                               % self.port)
        link.command(cmd="suspend")
        self.suspended_at = time.monotonic()
        self.say("deploy: delivery suspended on %s (--stop-therapy)" % self.port)

    def _repl_answers(self):
        try:
            with self.link_factory(self.port) as link:
                link.status()
        except pump_link.NotRunning:
            return True
        except (pump_link.LinkError, OSError):
            pass
        return False

    def _wait(self, ready):
        end = time.monotonic() + self.wait_s
        while time.monotonic() < end:
            if ready():
                return True
            time.sleep(0.5)
        return False

    def failed(self):
        """The install failed after the pump app was stopped for it: say so loudly."""
        if self.found is None:
            return
        self.say(pump_link.loudly([
            "THE PUMP APP IS NOT RUNNING on %s: deploy stopped it for the install, which "
            "failed." % self.port,
            "NOTHING IS DELIVERED%s. Deploy again once fixed, or start the firmware on "
            "the board:" % (" (deploy suspended delivery)" if self.suspended_at else ""),
            "mpremote connect %s reset" % self.port]))

    def after(self):
        """After the reset into the new firmware: the app answers, and what
        --stop-therapy suspended runs again; else a banner says what is stopped."""
        if not self.reachable:
            self.say("deploy: check that the pump app started: mpremote connect %s repl"
                     % self.port)
            return None
        status = pump_link.wait_for_status(self.port, self.wait_s, self.link_factory)
        if status is None:
            self.say(pump_link.loudly([
                "THE PUMP APP DID NOT START on %s after the install:" % self.port,
                "NOTHING IS DELIVERED. Look at its REPL: mpremote connect %s repl"
                % self.port]))
            raise TherapyError("the pump app did not start after the install")
        if self.suspended_at is None:
            self.say("deploy: the pump app is running: %s" % pump_link.describe(status))
            return status
        try:
            with self.link_factory(self.port) as link:
                for note in status["notes"]:
                    self.say("deploy: boot screen: " + note)
                if status["ack"]:
                    link.command(cmd="boot_ack")
                link.command(cmd="resume")
                status = link.status()
        except pump_link.LinkError as error:
            self.say(pump_link.loudly([
                "THERAPY IS STOPPED on %s: the pump did not resume after the install:"
                % self.port, str(error), "Resume it on the pump (Menu > Resume)."]))
            raise TherapyError("delivery was not resumed: %s" % error) from None
        self.say("deploy: delivery resumed after %.0f s suspended (missed basal is not made "
                 "up): %s" % (time.monotonic() - self.suspended_at,
                              pump_link.describe(status)))
        return status
