"""The simulator's picture: basal rate and bolus deliveries, and cumulative insulin."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402


def plot(recorder, path):
    rows = recorder.rows
    hours = [row["minute"] / 60 for row in rows]
    basal = [row["basal_u_h"] for row in rows]
    delivered = [row["delivered_u"] for row in rows]
    # Insulin delivered in each 10-minute bin beyond basal = boluses, shown as bars.
    bins, bolus = _bolus_bins(rows, 10)

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True,
                                      gridspec_kw={"height_ratios": [1, 1.2]})
    fig.suptitle("Basalt simulator: %d h on board '%s' (benchtop prototype, not for human use)"
                 % (round(hours[-1]), recorder.app.board.name), fontsize=11)
    top.step(hours, basal, where="post", color="tab:blue", label="basal rate (U/h)")
    top.set_ylabel("basal U/h")
    top.set_ylim(bottom=0)
    twin = top.twinx()
    twin.bar(bins, bolus, width=10 / 60, align="edge", color="tab:orange", alpha=0.8,
             label="bolus (U per 10 min)")
    twin.set_ylabel("bolus U / 10 min")
    handles = top.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    top.legend(handles, [h.get_label() for h in handles], loc="upper left", fontsize=8)
    top.grid(alpha=0.3)

    bottom.plot(hours, delivered, color="tab:green", label="delivered (basal + bolus)")
    bottom.plot(hours, [row["motor_u"] for row in rows], color="black", linestyle=":",
                label="motor-reported (prime excluded)")
    for minute, alarm in recorder.alarms:
        for axis in (top, bottom):
            axis.axvline(minute / 60, color="tab:red", linestyle="--", linewidth=1)
        bottom.annotate(alarm["code"], (minute / 60, 0), color="tab:red", fontsize=8,
                        rotation=90, va="bottom", ha="right")
    bottom.set_ylabel("cumulative U")
    bottom.set_xlabel("simulated hours")
    bottom.legend(loc="upper left", fontsize=8)
    bottom.grid(alpha=0.3)
    bottom.set_xlim(0, hours[-1])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _bolus_bins(rows, minutes):
    """Start hour and bolus units of each bin: delivered minus the basal integral."""
    starts, amounts = [], []
    for i in range(0, len(rows) - minutes, minutes):
        first, last = rows[i], rows[i + minutes]
        basal = sum(row["basal_u_h"] for row in rows[i:i + minutes]) / 60
        starts.append(first["minute"] / 60)
        amounts.append(max(0.0, last["delivered_u"] - first["delivered_u"] - basal))
    return starts, amounts


def plot_loop(rows, user_boluses, auto_boluses, name, path):
    """A closed-loop day: glucose and predictions; basal and boluses; insulin on board."""
    hours = [row["minute"] / 60 for row in rows]
    fig, (top, middle, bottom) = plt.subplots(3, 1, figsize=(11, 8.5), sharex=True,
                                              gridspec_kw={"height_ratios": [2.2, 1, 0.8]})
    fig.suptitle("Basalt closed loop: virtual patient %s, CGM over Bluetooth (benchtop "
                 "simulation, not for human use)" % name, fontsize=11)
    top.axhspan(70, 180, color="tab:green", alpha=0.08, label="range 70-180")
    top.plot(hours, [row["glucose"] for row in rows], color="black", lw=1.2,
             label="glucose (patient)")
    stored = [(h, row["cgm_stored"]) for h, row in zip(hours, rows) if row["cgm_stored"]]
    top.plot([h for h, _ in stored], [v for _, v in stored], ".", ms=2, color="tab:blue",
             label="CGM (pump's reading store)")
    for i, row in enumerate(rows):
        if row["minute"] % 60 == 30 and row["prediction"]:
            points = [int(v) for v in row["prediction"].split()]
            top.plot([hours[i] + 0.25 * k for k in range(len(points))], points,
                     color="tab:purple", lw=0.8, alpha=0.55,
                     label="loop prediction (hourly)" if row["minute"] == 30 else None)
    top.set_ylabel("mg/dL")
    top.set_ylim(40, max(250, max(row["glucose"] for row in rows) + 20))
    top.legend(loc="upper right", fontsize=7, ncol=2)
    top.grid(alpha=0.3)

    middle.step(hours, [row["scheduled_u_h"] for row in rows], where="post", color="gray",
                ls="--", lw=1, label="scheduled basal")
    middle.step(hours, [row["basal_u_h"] for row in rows], where="post", color="tab:blue",
                lw=1.2, label="delivered basal / temp (U/h)")
    middle.set_ylabel("U/h")
    twin = middle.twinx()
    if user_boluses:
        twin.bar([m / 60 for m, _ in user_boluses], [u for _, u in user_boluses], width=0.15,
                 color="tab:orange", label="meal bolus (calculator)")
    if auto_boluses:
        twin.bar([m / 60 for m, _ in auto_boluses], [u for _, u in auto_boluses], width=0.08,
                 color="tab:red", label="automatic bolus")
    twin.set_ylabel("bolus U")
    handles = middle.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    middle.legend(handles, [h.get_label() for h in handles], loc="upper left", fontsize=7)
    middle.grid(alpha=0.3)

    bottom.plot(hours, [row["iob_u"] for row in rows], color="tab:green",
                label="net insulin on board (U)")
    bottom.axhline(0, color="gray", lw=0.6)
    bottom.set_ylabel("IOB U")
    bottom.set_xlabel("hours")
    bottom.legend(loc="upper left", fontsize=7)
    bottom.grid(alpha=0.3)
    bottom.set_xlim(0, hours[-1] + 1 / 60)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
