"""Runs inside the MicroPython VM: bytes allocated per screen redraw.

Draws into MicroPython's own framebuf. Between redraws the view's numbers change (as
they do each tick: clock, glucose and its age, IOB, bolus progress, temp minutes), so
the figure covers formatting as well as drawing. gc is disabled around each measured
loop; prints one JSON line.
"""

import gc
import json

from screens.reference import Keys, base_view, full_view, menu_for, new_canvas  # /lib/screens

from basalt.core.ui.keys import SELECT, UP
from basalt.core.ui.paint import Painter

REDRAWS = 500


def vary(view, i):
    view.clock_min = (450 + i) % 1440
    view.glucose_mgdl = 40 + i % 360
    view.glucose_age_ms = (i * 7_919) % 900_000
    view.trend = i % 7 - 3
    view.iob_mu = i * 37 % 25_000
    view.bolus_delivered_mu = i * 5 % 2_500
    view.temp_left_min = 1 + i % 240
    view.battery_pct = i % 101


def measure(menu, view, painter):
    menu.draw(painter, view)  # the first redraw (may build things once)
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    menu.draw(painter, view)
    first = gc.mem_alloc() - before
    gc.collect()
    before = gc.mem_alloc()
    for i in range(REDRAWS):
        vary(view, i)
        menu.draw(painter, view)
    steady = gc.mem_alloc() - before
    gc.enable()
    return first, steady / REDRAWS


painter = Painter(new_canvas())
results = {}
view = full_view()
first, steady = measure(menu_for(view), view, painter)
results["home_second_redraw_bytes"] = first
results["home_redraw_bytes"] = steady
plain = base_view()
first, steady = measure(menu_for(plain), plain, painter)
results["home_no_cgm_redraw_bytes"] = steady
menu = menu_for(plain)
Keys(menu, plain).click(SELECT).click(SELECT).click(SELECT).click(UP, 25)
first, steady = measure(menu, plain, painter)
results["bolus_entry_redraw_bytes"] = steady


class Control:
    """Allocates one small tuple per draw: proves the method sees allocations."""

    def draw(self, painter, view):
        return (painter, view)


first, steady = measure(Control(), plain, painter)
results["control_tuple_bytes"] = steady
print(json.dumps(results))
