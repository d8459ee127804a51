"""Wiring made from the board files, so the pictures and tables cannot drift from them.

python -m tools.wiring writes, for each hardware board file:
  hardware/wiring_<board>.png        a wiring picture (matplotlib), stamped with a digest
                                     of the board data it was drawn from
  hardware/wokwi/<board>/diagram.json a Wokwi simulator diagram
  the pin tables in hardware/README.md between <!-- pins:<board> --> markers
and `--check` fails when any of them is stale.

Everything starts from wires(board): one row per GPIO the board file uses, found
through each Pin's board key (Pin.path), so a new pin in a board file shows up here.
"""

import hashlib
import json
from pathlib import Path

from basalt.core.board_file import DRIVERS, load_board
from tools import boardfiles

ROOT = Path(__file__).resolve().parents[2]
HARDWARE = ROOT / "hardware"
BOARDS = ("pico_w", "esp32_devkitc")
GENERATOR = "tools.wiring 1"  # bump when the drawing or diagram layout changes

GPIO_LABEL = {"rp2040": "GP%d", "esp32": "GPIO%d"}

# Driver pin names as printed on the modules (datasheets: A4988 MS1-3 / ENABLE,
# DRV8825 MODE0-2 / nENBL, TMC2209 MS1-2 / EN).
DRIVER_PINS = {
    "tmc2209": ("TMC2209", "EN", ("MS1", "MS2")),
    "a4988": ("A4988", "ENABLE", ("MS1", "MS2", "MS3")),
    "drv8825": ("DRV8825", "nENBL", ("MODE0", "MODE1", "MODE2")),
}


class Wire:
    """One GPIO of the board file: where it goes and what to know about it."""

    def __init__(self, pin, section, part, part_pin, note):
        self.pin = pin  # basalt.core.board_file.Pin (number, invert, pull, path)
        self.section = section  # motor, display, buttons, force, buzzer, battery
        self.part = part
        self.part_pin = part_pin
        self.note = note


# ----- board files --------------------------------------------------------------------


def board_spec(name):
    """The BOARD dict of boards/<name>.py (a fresh copy)."""
    return boardfiles.board_spec(name)


def load(name):
    return load_board(board_spec(name))


def digest(name):
    """What the generated files were made from: the board data and the generator."""
    text = json.dumps(board_spec(name), sort_keys=True) + GENERATOR
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def gpio(board, number):
    return GPIO_LABEL[board.mcu] % number


# ----- the wires ----------------------------------------------------------------------


def wires(board):
    """Every GPIO the board uses, motor first, in the board file's order."""
    out = _motor_wires(board)
    for section in ("display", "buttons", "force", "buzzer", "battery"):
        values = getattr(board, section)
        if values is not None:
            out += [_peripheral_wire(board, section, values, pin) for pin in _pins(values)]
    return out


def _pins(section):
    order = ("sda", "scl", "up", "down", "select", "back", "dout", "sck", "adc", "pin")
    return sorted(section.pins(), key=lambda p: order.index(p.path.split(".")[-1]))


def _motor_wires(board):
    m = board.motor
    driver, enable, ms_names = DRIVER_PINS[m.driver]
    active = "low" if m.enable.invert else "high"
    rows = [
        Wire(m.step, "motor", driver, "STEP", "one pulse per microstep, from the %s"
             % {"rp2040": "PIO", "esp32": "RMT"}.get(board.mcu, "step generator")),
        Wire(m.direction, "motor", driver, "DIR", "%s = forward (delivering)"
             % ("low" if m.direction.invert else "high")),
        Wire(m.enable, "motor", driver, enable, "%s = driver on; 10 kΩ pull-%s keeps it off "
             "in reset" % (active, "up to 3V3" if m.enable.invert else "down to GND")),
    ]
    for pin, name, level in zip(m.microstep_pins, ms_names, m.microstep_levels):
        rows.append(Wire(pin, "motor", driver, name, "driven %s (1/%d microstepping)"
                         % ("high" if pin.level(level) else "low", m.microsteps)))
    return rows


def _peripheral_wire(board, section, values, pin):
    key = pin.path.split(".")[-1]
    if section == "display":
        return Wire(pin, section, "SSD1306 OLED", key.upper(), "I2C%d, address 0x%02X, %d kHz"
                    % (values.i2c, values.address, values.freq_hz // 1000))
    if section == "buttons":
        return Wire(pin, section, "button " + key.upper(), "leg 1 (leg 2 to GND)",
                    _input_note(pin))
    if section == "force" and values.kind == "hx711":
        return Wire(pin, section, "HX711 load-cell amplifier", "DOUT" if key == "dout" else
                    "PD_SCK", "data out, low = ready" if key == "dout" else
                    "clock; held high > 60 µs = power-down")
    if section == "force":
        return Wire(pin, section, "FSR divider", "midpoint",
                    "FSR from 3V3, 10 kΩ to GND; more force = higher voltage")
    if section == "buzzer":
        return Wire(pin, section, "NPN transistor", "base, through 1 kΩ",
                    "PWM tone; piezo between supply and collector")
    return Wire(pin, section, "battery divider", "midpoint",
                "Vbattery / %g (100 kΩ + 100 kΩ); full %d mV, low %d, critical %d"
                % (values.divider_milli / 1000, values.full_mv, values.low_mv,
                   values.critical_mv))


def _input_note(pin):
    pull = {"up": "internal pull-up", "down": "internal pull-down", None: "external pull"}
    return "pressed = %s; %s" % ("low" if pin.invert else "high", pull[pin.pull])


# ----- the pin tables in hardware/README.md -------------------------------------------


def pin_table(name):
    board = load(name)
    lines = [
        "<!-- pins:%s (made by python -m tools.wiring from boards/%s.py; do not edit) -->"
        % (name, name),
        "| GPIO | board key | wired to | pin | notes |",
        "|---|---|---|---|---|",
    ]
    for w in wires(board):
        lines.append("| %s | `%s` | %s | %s | %s |" % (gpio(board, w.pin.number), w.pin.path,
                                                     w.part, w.part_pin, w.note))
    lines.append("<!-- /pins:%s -->" % name)
    return "\n".join(lines)


def with_pin_tables(text):
    """README text with every board's table (between its markers) regenerated."""
    for name in BOARDS:
        start = text.find("<!-- pins:%s " % name)
        end_marker = "<!-- /pins:%s -->" % name
        end = text.find(end_marker)
        if start < 0 or end < start:
            raise ValueError("hardware/README.md has no <!-- pins:%s --> ... %s block"
                             % (name, end_marker))
        text = text[:start] + pin_table(name) + text[end + len(end_marker):]
    return text


# ----- Wokwi ----------------------------------------------------------------------------

WOKWI_MCU = {
    "rp2040": {"type": "board-pi-pico-w", "id": "pico", "gpio": "GP%d", "gnd": "GND.%d",
               "grounds": 8},
    "esp32": {"type": "board-esp32-devkit-c-v4", "id": "esp", "gpio": "%d", "gnd": "GND.%d",
              "grounds": 3},
}


def wokwi_diagram(name):
    """diagram.json for Wokwi: the board, an A4988 stand-in for the driver, and parts."""
    return _Diagram(load(name)).build()


class _Diagram:
    def __init__(self, board):
        self.board = board
        self.mcu = WOKWI_MCU[board.mcu]
        self.parts = []
        self.connections = []
        self._ground = 0

    def build(self):
        mcu = self.mcu
        self.part(mcu["type"], mcu["id"], 0, 0)
        self.motor()
        for section, build in (("display", self.display), ("buttons", self.buttons),
                               ("force", self.force), ("buzzer", self.buzzer),
                               ("battery", self.battery)):
            values = getattr(self.board, section)
            if values is not None:
                build(values)
        return {"version": 1, "author": "Basalt (python -m tools.wiring)", "editor": "wokwi",
                "parts": self.parts, "connections": self.connections, "dependencies": {}}

    def part(self, type_, id_, left, top, attrs=None, rotate=0):
        entry = {"type": type_, "id": id_, "top": top, "left": left, "attrs": attrs or {}}
        if rotate:
            entry["rotate"] = rotate
        self.parts.append(entry)

    def wire(self, a, b, color):
        self.connections.append([a, b, color, []])

    def pin(self, pin):
        return "%s:%s" % (self.mcu["id"], self.mcu["gpio"] % pin.number)

    def ground(self):
        """The board's GND pins in turn (Wokwi joins them; spreading keeps wires short)."""
        self._ground = self._ground % self.mcu["grounds"] + 1
        return "%s:%s" % (self.mcu["id"], self.mcu["gnd"] % self._ground)

    def supply(self):
        return "%s:3V3" % self.mcu["id"]

    def motor(self):
        m = self.board.motor
        self.part("wokwi-a4988", "drv", 260, -40)
        self.part("wokwi-stepper-motor", "stepper", 380, -260,
                  {"size": "17", "display": "steps", "arrow": "orange"})
        self.part("wokwi-resistor", "r_en", 240, -140, {"value": "10000"}, rotate=90)
        self.part("wokwi-vcc", "vmot", 420, -40, {"voltage": "12"})
        self.wire(self.pin(m.step), "drv:STEP", "green")
        self.wire(self.pin(m.direction), "drv:DIR", "blue")
        self.wire(self.pin(m.enable), "drv:ENABLE", "orange")
        self.wire("r_en:1", "drv:ENABLE", "orange")
        self.wire("r_en:2", self.supply(), "red")
        self.wire("drv:SLEEP", "drv:RESET", "gray")
        self.wire("drv:VDD", self.supply(), "red")
        self.wire("drv:GND.1", self.ground(), "black")
        self.wire("vmot:VCC", "drv:VMOT", "red")
        self.wire("drv:GND.2", self.ground(), "black")
        for drv_pin, motor_pin in (("2B", "A-"), ("2A", "A+"), ("1A", "B+"), ("1B", "B-")):
            self.wire("drv:" + drv_pin, "stepper:" + motor_pin, "purple")
        self.microstep_pins(m)

    def microstep_pins(self, m):
        """Wokwi has an A4988 only. The board's microstep GPIOs go to its MS pins when
        their levels mean the same there; otherwise to a logic analyser, and the A4988's
        MS pins are tied for the same microstepping."""
        wanted = DRIVERS["a4988"]["levels"].get(m.microsteps, (0, 0, 0))
        levels = tuple(pin.level(level) for pin, level in zip(m.microstep_pins, m.microstep_levels))
        same = levels == wanted[:len(levels)]
        names = ("MS1", "MS2", "MS3")
        if not same and m.microstep_pins:
            self.part("wokwi-logic-analyzer", "la", 480, 120)
            self.wire("la:GND", self.ground(), "black")
        for i, pin in enumerate(m.microstep_pins):
            self.wire(self.pin(pin), "drv:" + names[i] if same else "la:D%d" % i, "gray")
        for i in range(len(m.microstep_pins) if same else 0, 3):
            if wanted[i]:
                self.wire("drv:" + names[i], self.supply(), "red")

    def display(self, d):
        self.part("board-ssd1306", "oled", 260, 160, {"i2cAddress": "0x%02x" % d.address})
        self.wire(self.pin(d.sda), "oled:SDA", "blue")
        self.wire(self.pin(d.scl), "oled:SCL", "purple")
        self.wire("oled:VCC", self.supply(), "red")
        self.wire("oled:GND", self.ground(), "black")

    def buttons(self, b):
        colors = {"up": "green", "down": "blue", "select": "yellow", "back": "red"}
        for i, key in enumerate(k for k in ("up", "down", "select", "back") if hasattr(b, k)):
            part = "btn_" + key
            self.part("wokwi-pushbutton", part, -260, 20 + 70 * i,
                      {"color": colors[key], "label": key.upper()})
            self.wire(self.pin(getattr(b, key)), part + ":2.l", colors[key])
            self.wire(part + ":1.r", self.ground(), "black")

    def force(self, f):
        if f.kind == "hx711":
            self.part("wokwi-hx711", "cell", -320, 330, {"type": "5kg"})
            self.wire(self.pin(f.dout), "cell:DT", "green")
            self.wire(self.pin(f.sck), "cell:SCK", "blue")
            self.wire("cell:VCC", self.supply(), "red")
            self.wire("cell:GND", self.ground(), "black")
        else:  # an FSR reads as a voltage: a slider stands in for it
            self.part("wokwi-slide-potentiometer", "fsr", -320, 330, {"travelLength": "30"})
            self.wire(self.pin(f.adc), "fsr:SIG", "green")
            self.wire("fsr:VCC", self.supply(), "red")
            self.wire("fsr:GND", self.ground(), "black")

    def buzzer(self, b):
        self.part("wokwi-buzzer", "buzzer", 120, 300, {"volume": "0.2"})
        self.wire(self.pin(b.pin), "buzzer:2", "orange")
        self.wire("buzzer:1", self.ground(), "black")

    def battery(self, b):
        # The knob is the divider's midpoint: a full cell (full_mv / divider) to start.
        full_pin_mv = b.full_mv * 1000 // b.divider_milli
        self.part("wokwi-potentiometer", "battery", 120, 400,
                  {"value": str(full_pin_mv * 1023 // 3300)})
        self.wire(self.pin(b.adc), "battery:SIG", "green")
        self.wire("battery:VCC", self.supply(), "red")
        self.wire("battery:GND", self.ground(), "black")


def wokwi_text(name):
    return json.dumps(wokwi_diagram(name), indent=2) + "\n"
