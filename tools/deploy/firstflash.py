"""The first flash: the checklist deploy prints last, and the self-test over USB.

    python -m tools.deploy --selftest PORT

runs the firmware's power-on self-test (basalt.app.selftest.report) on the board with
mpremote exec, prints its report, then resets the board so the pump starts again. As
deploy does, it first asks a running pump (tools/deploy/therapy.py): a delivering pump
is refused unless --stop-therapy (suspended first, resumed after), and the app stops
cleanly into a maintenance boot so mpremote has the board alone. Exit status 1 when a
check failed, 2 when the report could not be run.
"""

import subprocess

REPORT = "from basalt.app import selftest; selftest.report()"
PASS, FAIL = "SELFTEST PASS", "SELFTEST FAIL"


def checklist(board_name, board):
    """What to look at on the screen and check by hand, with this board's pins."""
    pin = "GP%d" if board.mcu in ("rp2040", "vboard") else "GPIO%d"
    lines = ["", "First flash: check all of this before any fluid goes near the pump",
             "(docs/maker-guide.md, \"First flash\").",
             "On the screen (the board has restarted):",
             "  1. BASALT, the version and the benchtop warning, then the boot notes.",
             "  2. \"Restarted (hard)\" is expected. A line naming a part and a pin is a",
             "     self-test problem: fix that wiring and reset. With one about the motor",
             "     driver, force sensor or storage the pump refuses to resume.",
             "  3. SELECT acknowledges the notes; the home screen shows basal and time."]
    by_hand = ["By hand:"]
    motor = board.motor
    by_hand.append("  4. Motor driver EN %s off: with power on the motor shaft turns freely"
                   " by hand until delivery starts." % (pin % motor.enable.number))
    if board.buttons is not None:
        keys = ", ".join("%s %s" % (name.upper(), pin % getattr(board.buttons, name).number)
                         for name in ("up", "down", "select", "back")
                         if getattr(board.buttons, name, None) is not None)
        by_hand.append("  5. Each button moves the menu: %s." % keys)
    if board.force is not None:
        by_hand.append("  6. Force sensor: tare it with the plunger free and scale it with "
                       "a known weight (force_tare, force_scale) before the first reservoir.")
    by_hand += ["  7. Set the clock (history dates): mpremote rtc --set",
                "  8. Run the self-test again at any time: python -m tools.deploy "
                "--selftest PORT",
                "  9. Fit a reservoir of water, prime, and watch a 0.05 U bolus move the "
                "plunger before anything else."]
    return "\n".join(lines + by_hand)


def selftest(port, mpremote, stop_therapy=False):
    """Run the report on the board, then reset it; (exit status, output). Raises
    DeployError when the pump refuses (delivering, without stop_therapy)."""
    from tools.deploy.deploy import _guarded, therapy_guard

    guard = therapy_guard(port, stop_therapy)
    proc = subprocess.run([mpremote, "connect", port, "exec", REPORT], capture_output=True,
                          text=True, timeout=120)
    output = proc.stdout + proc.stderr
    reset = subprocess.run([mpremote, "connect", port, "reset"], capture_output=True,
                           text=True, timeout=60)
    if reset.returncode == 0:
        _guarded(guard.after)  # the app answers again; what was suspended resumes
    else:
        guard.failed()
    if proc.returncode != 0 or not any(line.startswith((PASS, FAIL))
                                       for line in proc.stdout.splitlines()):
        return 2, output + "\nselftest: the board did not answer with a report (is the " \
                           "firmware deployed on %s?)" % port
    note = ("selftest: the board was reset: the pump starts again (acknowledge its boot "
            "screen)" if reset.returncode == 0 else
            "selftest: THE RESET FAILED: the pump is NOT running; reset the board")
    return (1 if FAIL in proc.stdout else 0), proc.stdout + note


def main(port, mpremote, stop_therapy=False):
    status, output = selftest(port, mpremote, stop_therapy)
    print(output)
    return status
