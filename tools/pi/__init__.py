"""Raspberry Pi bench rigs: the firmware's app under CPython on the Pi's GPIO.

    python3 -m tools.pi [--board FILE] [--settings FILE] [--data DIR] [--seconds N]
                        [--status-s N] [--command JSON]...

The pump (basalt.app.PumpApp), the core, the drivers and the tasks are the firmware's
own, composed as a board composes them (basalt.app.device); only the hardware
underneath differs:

- machine.py  the slice of MicroPython's `machine` the drivers use (Pin, PWM, I2C) and
              a `time` with sleep_us/ticks_us, built on adafruit-blinka (digitalio,
              pwmio, busio), so drivers written for the boards run on the Pi unchanged;
- ssd1306.py  the `ssd1306` module the display driver imports, on the host canvas;
- stepper.py  ThreadStepper: STEP pulses from a dedicated thread on an absolute
              schedule (Linux has no hard real time; see there for the limits and
              `python -m tools.bench pi_jitter` for what a machine achieves);
- watchdog.py SoftWatchdog: a stalled delivery loop stops the motor and ends the
              process, as a board's watchdog resets it;
- rig.py      the composition (device.py's builders and tasks) and the status line;
- bench.py    a simulated bench (buttons, HX711, OLED) for machines that are not a Pi;
- __main__.py the Pi's board_main: load the board file, install the settings, build the
              pump, run it.

On a machine that is not a Pi, BLINKA_OS_AGNOSTIC=1 selects blinka's mock board for the
motor's pins, and the bench stands in for what blinka's mock cannot answer (an HX711
read, I2C writes to the OLED, key presses); that is how CI runs the Pi entry end to end.
"""
