"""Force-sensor reads and the delivery tick: what the HX711 costs the tick, per board.

Runs tools/bench/force_read_vm.py in the device VM for each board file with an HX711
(the RP2040's PIO reader, the ESP32's bit-banged slices) and reports its figures, and
per board the tick's growth with the sensor enabled against the same tick without it:

  tick_wait_growth_us      the most the tick waited or slept with the sensor, minus
                           without (VM clock: on the chip this is time the tick holds)
  tick_wait_us_max_blocking_read  the same with the read inside the tick (before)
  tick_host_us_median/max_*  the tick's own time on the host (the interpreter under
                           node, the fakes' Python included; a loaded host stretches
                           the max): without the sensor, with it, the blocking read
  tick_host_growth_us_median, _max  the host's median / longest tick with the sensor,
                           minus without
  poll_slice_wait_us_max   one slice of the reading task (9 to 11 PD_SCK pulses)
  tick_read_wait_us_max    the tick's read when the task stopped after a slice: it
                           clocks the rest (the tick never begins a read)
  waiting_read_wait_us     the read calibration uses, which waits for a conversion:
                           what a tick could wait before (up to 150 ms, 400 at power-up)

The VM's clock counts waits and sleeps, not the interpreter's own time.
"""

import json
import os

from tools import ROOT
from tools.bench import progress

BOARDS = ("pico_w", "esp32_devkitc")
LIMIT_US = 2_000  # the tick's worst case may grow by at most this much


def run():
    from tools.devicevm import run_with_fakes

    with open(os.path.join(ROOT, "tools", "bench", "force_read_vm.py")) as handle:
        code = handle.read()
    result = {"limit_growth_us": LIMIT_US}
    for board in BOARDS:
        progress.phase("device VM (%s)" % board)
        figures = json.loads(run_with_fakes(code, board=board, timeout=600)
                             .strip().splitlines()[-1])
        figures["tick_wait_growth_us"] = (figures["tick_wait_us_max_with_sensor"]
                                          - figures["tick_wait_us_max_without_sensor"])
        figures["tick_host_growth_us_median"] = (figures["tick_host_us_median_with_sensor"]
                                                 - figures["tick_host_us_median_without_sensor"])
        figures["tick_host_growth_us_max"] = (figures["tick_host_us_max_with_sensor"]
                                              - figures["tick_host_us_max_without_sensor"])
        result[board] = figures
    return result


def add_arguments(parser):
    pass


def bench(args, parser):
    return run()
