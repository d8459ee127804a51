"""Force-sensing resistor on an ADC pin: a ForceSensor (cheaper, coarser than a load cell).

Wiring (the voltage divider of Interlink's FSR 400 datasheet): 3V3 -> FSR -> ADC pin ->
R_m (e.g. 10 k) -> GND. The pin reads u = 65535 * R_m / (R_m + R_fsr), so the FSR's
conductance 1/R_fsr is proportional to u / (65535 - u). An FSR's resistance is roughly
inversely proportional to force (Interlink FSR Integration Guide, p. 9), so read_raw()
returns that ratio scaled by 4096 ("linearised counts") and the calibration (tare and
scale) maps it to mN. Interlink calls FSR results qualitative and notes the resistance
settles over seconds under a load: an FSR sees an occlusion's rise, not an exact force.

Faults instead of a number: a pin at the top of its range ("saturated": the FSR is
shorted or overloaded) or at the bottom ("open": the plunger always presses on the FSR
through its friction preload, so no force at all means a broken wire or a missing
syringe) - never read as "no occlusion".
"""

from basalt.core.errors import SensorFault
from basalt.core.forcecal import load_force_calibration, nominal
from basalt.drivers.stepdir import hw_module
from basalt.ports import ForceSensor

try:
    from micropython import const
except ImportError:  # CPython (host tests)

    def const(value):
        return value


_FULL = const(65536)
_LINEAR_SCALE = const(4096)
_SATURATED_U16 = const(64_512)  # ~98.4 % of the range: R_fsr below ~1/60 of R_m
_OPEN_U16 = const(656)  # ~1 % of the range: R_fsr above ~100 x R_m


class FsrSensor(ForceSensor):
    """ForceSensor on an FSR divider; adc_pin is the board's Pin spec (board.force.adc)."""

    def __init__(self, adc_pin, calibration=None, samples=8, machine=None):
        if not isinstance(samples, int) or not 1 <= samples <= 64:
            raise ValueError("samples: %r is not allowed; allowed: 1 to 64" % (samples,))
        machine = hw_module(machine, "machine")
        self.calibration = load_force_calibration(calibration or nominal("fsr"))
        self._adc = machine.ADC(machine.Pin(adc_pin.number))
        self._samples = samples

    def read_raw(self):
        """Linearised conductance counts (mean of `samples` conversions)."""
        total = 0
        for _ in range(self._samples):
            total += self._adc.read_u16()
        u = total // self._samples
        if u >= _SATURATED_U16:
            raise SensorFault("saturated", "FSR ADC reads %d of 65535 (shorted or "
                              "overloaded)" % u)
        if u <= _OPEN_U16:
            raise SensorFault("open", "FSR ADC reads %d of 65535 (no force at all: a "
                              "broken wire or no syringe)" % u)
        return u * _LINEAR_SCALE // (_FULL - u)
