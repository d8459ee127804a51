"""The virtual board (tools/vboard): STEP pulses from its simulated step generator.

vboard.StepTimer plays the part PIO plays on an RP2040: it issues `steps` pulses, one per
period, the first at once, timed by the VM's clock (time.ticks_us), and counts the rising
edges issued so far. Everything else (EN first and inactive, DIR setup, argument checks,
fail-safe rules) is StepDirMotor's, the same code that runs on the boards.
"""

from basalt.drivers.stepdir import StepDirMotor, hw_module


class VirtualStepper(StepDirMotor):
    """Motor port on the virtual board's STEP/DIR/EN driver."""

    def __init__(self, config, machine=None, vboard=None, time=None):
        StepDirMotor.__init__(self, config, machine, time)  # EN inactive before all else
        vboard = hw_module(vboard, "vboard")
        self._timer = vboard.StepTimer(config.step.number)

    def _start(self, steps, period_us):
        self._timer.start(steps, period_us)

    def _service(self):
        running = self._timer.running()
        self._done = self._timer.issued()
        return running

    def _abort(self):
        self._done = self._timer.abort()
