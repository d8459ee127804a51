"""The trial's pictures: an AGP per scenario (a panel per controller) and stacked
time-in-ranges bars, the standard views of CGM data (docs/references.md: the
international consensus on time in range, Battelino 2019; the AGP, Johnson 2019)."""

import os

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

STEP_MIN = 5  # the cells keep true glucose every 5 minutes
RANGES = (  # (label, colour), bottom to top of a bar
    ("<54", "#8b0000"), ("54-70", "#e0312b"), ("70-180", "#3a9d4a"),
    ("180-250", "#f2c12e"), (">250", "#f08a24"))


ORDER = ("pump", "loop", "oref0", "oref1", "simglucose-bb")  # columns, left to right


def _order(label):
    base = label.split("+")[0]
    return (ORDER.index(base) if base in ORDER else len(ORDER), label)


def _by_scenario(done, label):
    """{scenario: {controller label: [results]}}, the labels in ORDER."""
    out = {}
    for result in sorted(done.values(), key=lambda r: _order(label(r))):
        out.setdefault(result["scenario"], {}).setdefault(label(result), []).append(result)
    return out


def _profile(results):
    """Percentiles 5, 25, 50, 75, 95 of glucose at each 5-minute time of day, pooled over
    patients and days, smoothed over 30 minutes (circularly)."""
    per_day = 1440 // STEP_MIN
    rows = []
    for result in results:
        g = np.asarray(result["glucose_5min"], dtype=float)
        days = len(g) // per_day
        rows.append(g[:days * per_day].reshape(days, per_day))
    pooled = np.vstack(rows)
    pct = np.percentile(pooled, [5, 25, 50, 75, 95], axis=0)
    kernel = np.ones(7) / 7
    padded = np.concatenate([pct[:, -3:], pct, pct[:, :3]], axis=1)
    return np.array([np.convolve(row, kernel, mode="valid") for row in padded])


def agp_pngs(done, out, label):
    """agp_SCENARIO.png for each scenario; returns the file names."""
    written = []
    for scenario, by_controller in sorted(_by_scenario(done, label).items()):
        controllers = list(by_controller)
        cols = min(len(controllers), 4)
        rows = -(-len(controllers) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols + 0.6, 3.4 * rows + 0.8),
                                 sharey=True, squeeze=False)
        hours = np.arange(1440 // STEP_MIN) * STEP_MIN / 60
        for ax, controller in zip(axes.flat, controllers):
            pct = _profile(by_controller[controller])
            ax.axhspan(70, 180, color="#3a9d4a", alpha=0.08)
            for level, style in ((70, "--"), (180, "--"), (54, ":"), (250, ":")):
                ax.axhline(level, color="#555555", lw=0.7, ls=style)
            ax.fill_between(hours, pct[0], pct[4], color="#7aa6d8", alpha=0.35, lw=0,
                            label="5-95 %")
            ax.fill_between(hours, pct[1], pct[3], color="#2f6db5", alpha=0.55, lw=0,
                            label="25-75 %")
            ax.plot(hours, pct[2], color="#0b2a55", lw=1.8, label="median")
            n = len(by_controller[controller])
            ax.set_title("%s  (%d patient%s)" % (controller, n, "" if n == 1 else "s"),
                         fontsize=10)
            ax.set_xlim(0, 24)
            ax.set_xticks(range(0, 25, 6))
            ax.set_xticklabels(["%02d:00" % h for h in range(0, 25, 6)], fontsize=8)
            ax.set_ylim(40, 400)
            ax.grid(alpha=0.25)
        for ax in axes.flat[len(controllers):]:
            ax.set_visible(False)
        for ax in axes[:, 0]:
            ax.set_ylabel("glucose mg/dL")
        axes.flat[0].legend(loc="upper left", fontsize=7, framealpha=0.9)
        fig.suptitle("Ambulatory glucose profile: scenario %s (true glucose, time of day)"
                     % scenario, fontsize=11)
        fig.tight_layout()
        name = "agp_%s.png" % scenario
        fig.savefig(os.path.join(out, name), dpi=110)
        plt.close(fig)
        written.append(name)
    return written


def _ranges(results):
    """Mean % of time in each of RANGES over the results (from per-minute metrics)."""
    def mean(key):
        return sum(r["metrics"][key] for r in results) / len(results)

    tbr54, tbr70, tar180, tar250 = mean("tbr54"), mean("tbr70"), mean("tar180"), mean("tar250")
    return [tbr54, tbr70 - tbr54, 100 - tbr70 - tar180, tar180 - tar250, tar250]


def tir_png(done, path, label):
    """Stacked time-in-ranges bars: one group of bars per scenario, a bar per controller
    (all patients of the cell set)."""
    by_scenario = _by_scenario(done, label)
    scenarios = sorted(by_scenario)
    controllers = []
    for scenario in scenarios:
        controllers += [c for c in by_scenario[scenario] if c not in controllers]
    width = 0.8 / len(controllers)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.0 + 1.1 * len(scenarios) * len(controllers)
                                        * 0.45), 4.8))
    for j, controller in enumerate(controllers):
        for i, scenario in enumerate(scenarios):
            results = by_scenario[scenario].get(controller)
            if not results:
                continue
            x = i + (j - (len(controllers) - 1) / 2) * width
            bottom = 0.0
            for (name, colour), value in zip(RANGES, _ranges(results)):
                ax.bar(x, value, width * 0.92, bottom=bottom, color=colour,
                       label=name if (i, j) == (0, 0) else None, edgecolor="white", lw=0.4)
                bottom += value
            tir = _ranges(results)[2]
            ax.text(x, 101, "%.0f" % tir, ha="center", va="bottom", fontsize=7)
            ax.text(x, -2, controller, ha="center", va="top", fontsize=7, rotation=90)
    ax.set_xticks(range(len(scenarios)))
    ax.set_xticklabels(scenarios, fontsize=9)
    ax.tick_params(axis="x", pad=48, length=0)
    ax.set_ylim(0, 108)
    ax.set_ylabel("% of time (true glucose)")
    ax.set_title("Time in ranges by scenario and controller (number above: % in 70-180)",
                 fontsize=10)
    handles, names = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], [n + " mg/dL" for n in names[::-1]], loc="center left",
              bbox_to_anchor=(1.01, 0.5), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return os.path.basename(path)
