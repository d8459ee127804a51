"""Raspberry Pi Pico W: TMC2209 (step/dir mode, 1/16) on a BD 3 mL syringe, M5 lead screw."""

# Pin plan (RP2040 GPIO numbers). Only the motor pins are configured below; the planned
# pins are reserved for drivers that later issues add: keep them off the motor.
#
# motor (BOARD["motor"]):
#   GP2  STEP -> TMC2209 STEP
#   GP3  DIR  -> TMC2209 DIR
#   GP6  EN   -> TMC2209 EN, active low; a 10 k pull-up to 3V3 keeps it off during reset
#   GP7  MS1  -> TMC2209 MS1 } both high: 1/16 microstepping (levels come from the
#   GP8  MS2  -> TMC2209 MS2 } driver table in basalt.core.board)
#
# planned: 4 = I2C0 SDA, SSD1306 OLED (the Pico's default I2C0 pins)
# planned: 5 = I2C0 SCL, SSD1306 OLED
# planned: 10 = button UP, to GND, internal pull-up
# planned: 11 = button DOWN, to GND, internal pull-up
# planned: 12 = button OK, to GND, internal pull-up
# planned: 13 = button BACK, to GND, internal pull-up
# planned: 14 = HX711 DOUT (force sensor)
# planned: 15 = HX711 PD_SCK
# planned: 16 = buzzer, PWM slice 0 A, through a transistor
# planned: 28 = battery voltage, ADC2, through a 2:1 divider
#
# Free: GP0/GP1 (UART0, debug console), GP9, GP17-GP22, GP26-GP27 (ADC0-1).
# Not on the header of a Pico W: GP23, GP24, GP25 and GP29 belong to the CYW43 radio
# (GP29/ADC3 reads VSYS/3 only while the radio's SPI is idle, hence GP28 for the battery).

BOARD = {
    "name": "pico_w",
    "mcu": "rp2040",
    "motor": {
        "driver": "tmc2209",
        "step": 2,
        "dir": 3,
        "enable": {"pin": 6, "invert": True},
        "microstep_pins": [7, 8],  # MS1, MS2
        "max_step_hz": 4000,
    },
    # Bore area of a BD 3 mL syringe as used by the Poseidon pump (REFERENCE.md).
    "syringe": {"capacity_ml": 3.0, "bore_area_mm2": 57.89},
    "drive": {"lead_mm": 0.8, "full_steps_per_rev": 200, "microsteps": 16},
}
