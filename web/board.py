"""The browser page's board (web/): the Pico W's board file (same pins, syringe and
drive) under its own name, so what a student does on the page is what a Pico W does.
The page runs it over the device VM's fakes (tools/devicevm/py), which model the
RP2040's PIO step generator, the SSD1306, the HX711 and the Pico W's BLE."""

from boards.pico_w import BOARD as PICO_W

BOARD = dict(PICO_W, name="browser")
