"""Battery voltage through a resistor divider on an ADC pin (board.battery).

AdcBattery implements the Battery port: it averages a few ADC samples, turns them into
millivolts at the pin, and multiplies back through the divider
(Vbattery = Vpin * divider_milli / 1000). On the ESP32 the ADC is set to 11 dB
attenuation (about 0-3.1 V) and read_uv() gives factory-calibrated microvolts; the
RP2040's ADC spans 0-3.3 V (its ADC_VREF) over read_u16()'s 0-65535. A reading stuck at
either end of the scale means a broken divider or pin and raises OSError. MicroPython
only (machine is passed in by tests, or imported in the constructor).
"""

from basalt.drivers.stepdir import hw_module
from basalt.ports import Battery

try:
    from micropython import const
except ImportError:  # CPython (host tests)

    def const(value):
        return value


_SAMPLES = const(8)
_VREF_MV = const(3300)  # RP2040 ADC_VREF on the Pico


class AdcBattery(Battery):
    def __init__(self, section, machine=None):
        """section: board.battery (adc Pin, divider_milli)."""
        machine = hw_module(machine, "machine")
        self._adc = machine.ADC(machine.Pin(section.adc.number))
        atten = getattr(machine.ADC, "ATTN_11DB", None)
        if atten is not None:
            self._adc.atten(atten)
        self._calibrated = hasattr(self._adc, "read_uv")
        self._divider_milli = section.divider_milli

    def read_mv(self):
        pin_mv = self._calibrated_mv() if self._calibrated else self._raw_mv()
        return pin_mv * self._divider_milli // 1000

    def _raw_mv(self):
        total = 0
        for _ in range(_SAMPLES):
            raw = self._adc.read_u16()
            if raw == 0 or raw == 65535:
                raise OSError("battery ADC reads %d: divider or pin broken" % raw)
            total += raw
        return total // _SAMPLES * _VREF_MV // 65535

    def _calibrated_mv(self):
        total = 0
        for _ in range(_SAMPLES):
            uv = self._adc.read_uv()
            if uv <= 0:
                raise OSError("battery ADC reads 0 V: divider or pin broken")
            total += uv // 1000
        return total // _SAMPLES
