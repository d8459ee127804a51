"""Plot the exported day as Nightscout draws it: glucose (sensor entries and meter
checks), the basal it draws from the Temp Basal and Combo Bolus treatments (so
suspends and stops show as zero), boluses with their carbs, to PNG. The series come
from the export itself (tools.history.nsexport) read by Nightscout's rules
(tools.history.nsmodel), so the picture is what the site will show."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tools.history import clock_warning, nightscout, nsmodel  # noqa: E402

H = 3_600_000


def series(view, start_ms, device="basalt"):
    """Hours since the first record's hour: {"glucose": [(h, mg/dL)], "checks": [...],
    "basal": [(h, U/h)] steps, "suspended": [(h0, h1)], "boluses": [(h, U, event)],
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
           "suspended": [(hours(t["date"]), hours(t["date"] + t["durationInMilliseconds"]))
                         for t in treatments if t.get("type") == "PUMP_SUSPEND"],
           "boluses": [(hours(t["date"]), t["insulin"], t["eventType"]) for t in treatments
                       if t.get("insulin")],
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
    if data["basal"]:
        xs = [b[0] for b in data["basal"]]
        ys = [b[1] for b in data["basal"]]
        mid.fill_between(xs, ys, step="post", color="tab:blue", alpha=0.3)
        mid.step(xs, ys, where="post", color="tab:blue", label="basal delivered")
    for start, end in data["suspended"]:
        mid.axvspan(start, end, color="tab:red", alpha=0.15)
    if data["suspended"]:
        mid.plot([], [], color="tab:red", alpha=0.3, linewidth=6, label="suspended / off")
    mid.legend(loc="upper right", fontsize=8)
    mid.set_ylabel("basal U/h")
    for hours, amount, event in data["boluses"]:
        low.bar(hours, amount, width=0.12, color="tab:orange" if event != "Correction Bolus"
                else "tab:purple")
        low.annotate("%.2f" % amount, (hours, amount), fontsize=7, ha="center",
                     va="bottom")
    low.set_ylabel("bolus U")
    if data["carbs"]:
        carbs = low.twinx()
        carbs.plot(*zip(*data["carbs"]), "^", color="tab:brown", markersize=8)
        for hours, grams in data["carbs"]:
            carbs.annotate("%d g" % grams, (hours, grams), fontsize=7, xytext=(4, 0),
                           textcoords="offset points", color="tab:brown")
        carbs.set_ylabel("carbs g", color="tab:brown")
        carbs.set_ylim(0, max(g for _, g in data["carbs"]) * 1.4)
    low.set_xlabel("hours from %s UTC" % _clock(data["first"]))
    for hours, text in data["notes"]:
        for axis in (top, mid, low):
            axis.axvline(hours, color="tab:gray", alpha=0.4, linewidth=0.8)
        top.annotate(text[:28], (hours, 1.0), xycoords=("data", "axes fraction"),
                     rotation=90, fontsize=6, va="top", color="tab:gray")
    for axis in (top, mid, low):
        axis.grid(alpha=0.3)
    low.set_xlim(0, max(data["end"], 1))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _clock(epoch_ms):
    from tools.history import iso

    return iso(epoch_ms)[:16].replace("T", " ")
