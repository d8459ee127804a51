"""The wiring picture: the board on the left, each part on the right, one line per GPIO."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

from tools.wiring import digest, gpio, load, wires  # noqa: E402

COLORS = {"motor": "tab:orange", "display": "tab:blue", "buttons": "tab:green",
          "force": "tab:purple", "buzzer": "tab:red", "battery": "tab:brown"}

# What else each part needs besides its GPIO line (power, ground, the parts around it).
EXTRAS = {
    "motor": "VDD/VIO → 3V3, GND → GND; VMOT → 12 V (100 µF at the module); "
             "coils → motor; Vref set for ½ the motor's current",
    "SSD1306 OLED": "VCC → 3V3, GND → GND",
    "HX711 load-cell amplifier": "VCC → 3V3, GND; E+ E− A+ A− → load cell under the plunger",
    "FSR divider": "FSR 3V3 → midpoint, 10 kΩ midpoint → GND",
    "NPN transistor": "emitter → GND; collector → piezo −; piezo + → 3V3; "
                      "10 kΩ base → GND keeps it off in reset",
    "battery divider": "cell + → 100 kΩ → midpoint → 100 kΩ → GND; 100 nF midpoint → GND",
}


def _extra(wire):
    return EXTRAS["motor"] if wire.section == "motor" else EXTRAS.get(
        wire.part, "leg 2 → GND; the firmware debounces" if wire.section == "buttons" else "")


def draw(name, path):
    board = load(name)
    rows = wires(board)
    groups = []  # (part, [wires]) in first-seen order
    for w in rows:
        if not groups or groups[-1][0] != w.part:
            groups.append((w.part, []))
        groups[-1][1].append(w)

    pitch, gap = 1.0, 1.6
    part_y = []  # y of each wire at its part, and each group's box extent
    y = 0.0
    for _, members in groups:
        part_y.append([y - i * pitch for i in range(len(members))])
        y -= len(members) * pitch + gap
    height = -y
    mcu_y = [-(i * (height - gap) / max(1, len(rows) - 1)) for i in range(len(rows))]

    fig, ax = plt.subplots(figsize=(15, 0.34 * height + 3))
    ax.set_xlim(-1, 19)
    ax.set_ylim(y - 2.5, 3.2)
    ax.axis("off")
    ax.set_title("Basalt wiring, boards/%s.py (%s, %s driver): drawn from the board file by "
                 "python -m tools.wiring\nBenchtop prototype — never for use on a person"
                 % (name, board.mcu.upper(), board.motor.driver.upper()), fontsize=11)

    _box(ax, 0, mcu_y[-1] - 0.8, 3.2, -mcu_y[-1] + 2.4, "#e8eef7")
    ax.text(1.6, 1.15, {"rp2040": "Raspberry Pi Pico W", "esp32": "ESP32 DevKitC"}[board.mcu],
            ha="center", fontsize=11, weight="bold")
    ax.text(1.6, 0.6, "3V3 and GND to every part", ha="center", fontsize=8, style="italic")
    wire_index = 0
    for (part, members), ys in zip(groups, part_y):
        _box(ax, 9.5, ys[-1] - 0.55, 3.6, ys[0] - ys[-1] + 1.1, "#f4f4f4")
        ax.text(13.4, ys[0] + 0.15, part, fontsize=9.5, weight="bold", va="center")
        extra = _extra(members[0])
        if extra:
            ax.text(13.4, ys[0] - 0.45, extra, fontsize=7.5, va="top", wrap=True, color="#333")
        for w, part_pin_y in zip(members, ys):
            color = COLORS[w.section]
            start_y = mcu_y[wire_index]
            wire_index += 1
            ax.text(2.9, start_y, gpio(board, w.pin.number), ha="right", va="center",
                    fontsize=9, family="monospace")
            ax.text(3.4, start_y + 0.18, w.pin.path, fontsize=7, color=color, va="bottom")
            ax.plot([3.2, 6.3, 6.9, 9.5], [start_y, start_y, part_pin_y, part_pin_y],
                    color=color, linewidth=1.8)
            ax.text(9.65, part_pin_y, w.part_pin, fontsize=8.5, va="center")
    notes = ("Power: motor supply (VMOT, 12 V) and logic (3V3 from the board) share one ground; "
             "47-100 µF across VMOT at the driver, 100 nF at each module.  "
             "Never unplug the motor with VMOT on.")
    ax.text(-0.8, y - 1.2, notes, fontsize=8.5, va="top", wrap=True)
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Basalt-Board-Digest": digest(name),
                                        "Software": "Basalt tools.wiring"})
    plt.close(fig)


def _box(ax, x, y, w, h, color):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.1", facecolor=color,
                                edgecolor="#555", linewidth=1))
