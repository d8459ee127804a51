"""Plot the exported day as Nightscout draws it: glucose (sensor entries and meter
checks), the basal it draws from the Temp Basal and Combo Bolus treatments (so
suspends and stops show as zero), boluses with their carbs, to PNG. The series come
from the export itself (tools.history.nsexport) read by Nightscout's rules
(tools.history.nsmodel), so the picture is what the site will show."""

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tools.history import clock_warning, nightscout, nsmodel  # noqa: E402

H = 3_600_000
BOLUS_COLOURS = (("Meal Bolus", "tab:orange", "meal bolus (with carbs)"),
                 ("Correction Bolus", "tab:purple", "bolus without carbs"),
                 ("SMB", "tab:pink", "loop's automatic bolus"))


def series(view, start_ms, device="basalt"):
    """Hours since the first record's hour: {"glucose": [(h, mg/dL)], "checks": [...],
    "basal": [(h, U/h)] steps (Nightscout's basal line: temps + extended boluses),
    "basal_temp": the same without the extended boluses, "suspended": [(h0, h1)],
    "boluses": [(h, U, event: its eventType, or SMB)],
    "carbs": [(h, g)], "notes": [(h, text)], "end": h, "first": epoch ms}."""
    shaped = nightscout(view, start_ms, device)
    treatments = shaped["treatments"]
    times = [e["date"] for e in shaped["entries"]] + [t["date"] for t in treatments]
    first = (min(times) // H * H) if times else getattr(start_ms, "start_ms", start_ms)
    end = max([nsmodel.mills(t) + float(t.get("duration") or 0) * 60_000
               for t in treatments] + times + [first])

    def hours(ms):
        return (ms - first) / H

    out = {"first": first, "end": hours(end),
           "glucose": [(hours(e["date"]), e["sgv"]) for e in shaped["entries"]],
           "checks": [(hours(t["date"]), t["glucose"]) for t in treatments
                      if t["eventType"] == "BG Check"],
           "basal": [(hours(at), rate) for at, rate in nsmodel.basal_steps(treatments)],
           "basal_temp": [(hours(at), rate) for at, rate in
                          nsmodel.basal_steps(treatments, with_combos=False)],
           "suspended": [(hours(t["date"]), hours(t["date"] + t["durationInMilliseconds"]))
                         for t in treatments if t.get("type") == "PUMP_SUSPEND"],
           "boluses": [(hours(t["date"]), t["insulin"], "SMB" if t.get("isSMB") else
                        t["eventType"]) for t in treatments if t.get("insulin")],
           "carbs": [(hours(t["date"]), t["carbs"]) for t in treatments if t.get("carbs")],
           "notes": [(hours(t["date"]), t["notes"]) for t in treatments
                     if t["eventType"] == "Note" and t.get("reason")]}
    return out


def plot(view, path, start_ms, device="basalt", title="Basalt history"):
    data = series(view, start_ms, device)
    warning = clock_warning(view, start_ms)
    fig, (top, mid, low) = plt.subplots(3, 1, figsize=(11, 7.5), sharex=True,
                                        gridspec_kw={"height_ratios": [3, 2, 2]})
    fig.suptitle("%s from %s UTC%s (benchtop prototype, not for human use)" % (
        title, _clock(data["first"]), ", TIMES GUESSED: clock never set" if warning else ""))
    if data["glucose"]:
        top.plot(*zip(*data["glucose"]), ".", color="tab:green", markersize=3,
                 label="sensor")
    if data["checks"]:
        top.plot(*zip(*data["checks"]), "o", color="tab:red", markersize=6, label="meter")
    if not data["glucose"] and not data["checks"]:
        top.text(0.5, 0.5, "no glucose readings in this journal", ha="center",
                 transform=top.transAxes, color="gray")
    else:
        top.legend(loc="upper right", fontsize=8)
    values = [g for _, g in data["glucose"] + data["checks"]]
    top.set_ylim(min(values + [40]) - 10, max(values + [250]) + 10)
    top.axhspan(70, 180, color="tab:green", alpha=0.08)
    top.set_ylabel("glucose mg/dL")
    _draw_basal(mid, data)
    _draw_boluses(low, data)
    low.set_xlabel("hours from %s UTC" % _clock(data["first"]))
    for hours, text in data["notes"]:
        for axis in (top, mid, low):
            axis.axvline(hours, color="tab:gray", alpha=0.4, linewidth=0.8)
        top.annotate(textwrap.shorten(text, 36, placeholder="..."), (hours, 0.98),
                     xycoords=("data", "axes fraction"), xytext=(2, 0),
                     textcoords="offset points", rotation=90, fontsize=7, va="top",
                     color="dimgray")
    for axis in (top, mid, low):
        axis.grid(alpha=0.3)
    low.set_xlim(0, max(data["end"], 1))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def rate_at(steps, at):
    """The rate of a [(time, rate)] step series at a time (0 before its first step)."""
    rate = 0
    for time, value in steps:
        if time > at:
            break
        rate = value
    return rate


def _draw_basal(axis, data):
    """As Nightscout's basal chart: the temps' area, the extended boluses' area on top
    of it, the total as a line; suspends and pump-off shaded."""
    if data["basal"]:
        xs = sorted({h for h, _ in data["basal"] + data["basal_temp"]})
        total = [rate_at(data["basal"], x) for x in xs]
        temp = [rate_at(data["basal_temp"], x) for x in xs]
        axis.fill_between(xs, temp, step="post", color="tab:blue", alpha=0.3, linewidth=0)
        if any(t != b for t, b in zip(total, temp)):
            axis.fill_between(xs, temp, total, step="post", color="tab:orange", alpha=0.35,
                              linewidth=0, label="extended bolus")
        axis.step(xs, total, where="post", color="tab:blue", label="basal delivered")
        axis.set_ylim(0, max(total + [0.5]) * 1.4)  # room for the legend above
    for start, end in data["suspended"]:
        axis.axvspan(start, end, color="tab:red", alpha=0.15, linewidth=0)
    if data["suspended"]:
        axis.plot([], [], color="tab:red", alpha=0.3, linewidth=6, label="suspended / off")
    axis.legend(loc="upper left", fontsize=8)
    axis.set_ylabel("basal U/h")


def _draw_boluses(axis, data):
    colours = {event: (colour, label) for event, colour, label in BOLUS_COLOURS}
    shown = set()
    for hours, amount, event in data["boluses"]:
        colour, label = colours.get(event, ("tab:gray", event))
        axis.bar(hours, amount, width=0.12, color=colour,
                 label=None if event in shown else label)
        axis.plot([hours], [amount], "o", color=colour, markersize=4)  # tiny doses too
        axis.annotate("%.2f" % amount, (hours, amount), fontsize=7, ha="center",
                      va="bottom", xytext=(0, 5), textcoords="offset points")
        shown.add(event)
    top = max([amount for _, amount, _ in data["boluses"]] + [0.5])
    axis.set_ylim(0, top * 1.3)
    axis.set_ylabel("bolus U")
    handles = axis.get_legend_handles_labels()
    if data["carbs"]:
        carbs = axis.twinx()
        carbs.plot(*zip(*data["carbs"]), "^", color="tab:brown", markersize=8,
                   label="carbs")
        for hours, grams in data["carbs"]:
            carbs.annotate("%d g" % grams, (hours, grams), fontsize=7, xytext=(5, -3),
                           textcoords="offset points", color="tab:brown")
        carbs.set_ylabel("carbs g", color="tab:brown")
        carbs.set_ylim(0, max(g for _, g in data["carbs"]) * 1.4)
        more = carbs.get_legend_handles_labels()
        handles = (handles[0] + more[0], handles[1] + more[1])
        axis = carbs  # the legend goes on the top layer
    if handles[0]:
        axis.legend(*handles, loc="upper left", fontsize=8)
    if not data["boluses"] and not data["carbs"]:
        axis.text(0.5, 0.5, "no boluses or carbs", ha="center", transform=axis.transAxes,
                  color="gray")


def _clock(epoch_ms):
    from tools.history import iso

    return iso(epoch_ms)[:16].replace("T", " ")
