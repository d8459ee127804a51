"""Plot a journal: glucose, basal rate, boluses and alarms over time, to PNG."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tools.history import timeline  # noqa: E402

H = 3_600_000


def series(view, start_ms):
    """Hours since the first record: glucose points, basal steps, boluses, alarms."""
    glucose, basal, boluses, alarms = [], [], [], []
    points = timeline(view, start_ms)
    first = points[0][0]
    started = {}
    for when, record in points:
        hours = (when - first) / H
        detail = record.detail
        if record.kind == "glucose" and isinstance(detail.get("mg_dl"), int):
            glucose.append((hours, detail["mg_dl"]))
        elif record.kind == "basal_rate":
            basal.append((hours, detail.get("rate_mu_h", 0) / 1000))
        elif record.kind == "bolus_started":
            started[(record.boot, detail.get("id"))] = hours
        elif record.kind in ("bolus_done", "bolus_cancelled", "bolus_reconciled"):
            at = started.get((detail.get("bolus_boot", record.boot), detail.get("id")), hours)
            boluses.append((at, detail.get("delivered_mu", 0) / 1000, record.kind))
        elif record.kind in ("alarm", "alarm_raised", "bolus_interrupted", "boot"):
            alarms.append((hours, detail.get("code") or record.kind))
    end = (points[-1][0] - first) / H
    return glucose, basal, boluses, alarms, end


def plot(view, path, start_ms, title="Basalt history"):
    glucose, basal, boluses, alarms, end = series(view, start_ms)
    fig, (top, mid, low) = plt.subplots(3, 1, figsize=(11, 7), sharex=True,
                                        gridspec_kw={"height_ratios": [3, 2, 2]})
    fig.suptitle(title + " (benchtop prototype, not for human use)")
    if glucose:
        top.plot([g[0] for g in glucose], [g[1] for g in glucose], ".", color="tab:red",
                 markersize=3)
    else:
        top.text(0.5, 0.5, "no glucose readings in this journal", ha="center",
                 transform=top.transAxes, color="gray")
    top.axhspan(70, 180, color="tab:green", alpha=0.08)
    top.set_ylabel("glucose mg/dL")
    if basal:
        xs = [b[0] for b in basal] + [end]
        ys = [b[1] for b in basal] + [basal[-1][1]]
        mid.step(xs, ys, where="post", color="tab:blue")
    mid.set_ylabel("basal U/h")
    for hours, units, kind in boluses:
        low.bar(hours, units, width=0.15, color="tab:orange" if kind == "bolus_done"
                else "tab:gray")
    low.set_ylabel("bolus U")
    low.set_xlabel("hours since the first record")
    for hours, label in alarms:
        for axis in (top, mid, low):
            axis.axvline(hours, color="tab:purple", alpha=0.4, linewidth=0.8)
        top.annotate(label, (hours, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                     fontsize=7, va="top", color="tab:purple")
    for axis in (top, mid, low):
        axis.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
