"""Raspberry Pi bench rigs: the firmware's app under CPython on the Pi's GPIO.

    python3 -m tools.pi [--board boards/raspberry_pi.py] [--seconds N] [--command JSON]...

The app (basalt.app.PumpApp), the core and the step/dir rules (basalt.drivers.stepdir)
are the firmware's own code; only the hardware underneath differs:

- machine.py  the slice of MicroPython's `machine` the drivers use (Pin, PWM, I2C) and
              a `time` with sleep_us/ticks_us, built on adafruit-blinka (digitalio,
              pwmio, busio), so drivers written for the boards run on the Pi unchanged;
- stepper.py  ThreadStepper: STEP pulses from a dedicated thread on an absolute
              schedule (Linux has no hard real time; see there for the limits and
              `python -m tools.bench pi_jitter` for what a machine achieves);
- __main__.py the Pi's board_main: load the board file, build the app, run it.

On a machine that is not a Pi, BLINKA_OS_AGNOSTIC=1 selects blinka's mock board; the
pins then are blinka's mock pins (outputs accept writes, inputs read "not pressed"), which
is how CI runs the Pi entry end to end.
"""
