"""The trumpet plot: Ep(max)/Ep(min) per window, and the flow in each interval.

trumpet_panel and flow_panel draw one axes each, so other reports (tools.rig's) show
the same panels beside their own."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402


def plot(result, path, title):
    rate = result["rate_ml_h"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5),
                                      gridspec_kw={"width_ratios": [1, 1.4]})
    fig.suptitle("%s: set rate %.4g mL/h, overall error %+.2f %% (benchtop prototype, "
                 "not for human use)" % (title, rate, result["overall_error_pct"]), fontsize=10)
    trumpet_panel(left, result)
    flow_panel(right, result)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def trumpet_panel(axes, result):
    windows = [w for w in result["windows"] if w["count"]]
    minutes = [w["minutes"] for w in windows]
    axes.plot(minutes, [w["ep_max_pct"] for w in windows], "o-", color="tab:red",
              label="Ep(max)")
    axes.plot(minutes, [w["ep_min_pct"] for w in windows], "o-", color="tab:blue",
              label="Ep(min)")
    axes.axhline(result["overall_error_pct"], color="black", linestyle="--", linewidth=1,
                 label="overall error A")
    axes.axhline(0, color="grey", linewidth=0.5)
    axes.set_xlabel("observation window (min)")
    axes.set_ylabel("error (% of set rate)")
    axes.set_title("trumpet curve", fontsize=10)
    if minutes:
        axes.set_xticks(minutes)
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)


def flow_panel(axes, result):
    axes.step(result["flow_t_min"], result["flow_ml_h"], where="pre", color="tab:green",
              linewidth=0.8, label="flow per %g s interval" % result["analysis"]["interval_s"])
    axes.axhline(result["rate_ml_h"], color="black", linestyle="--", linewidth=1,
                 label="set rate")
    axes.set_xlabel("time since the first reading (min)")
    axes.set_ylabel("flow (mL/h)")
    axes.set_title("analysis period %g to %g min" % (result["analysis"]["start_min"],
                                                     result["analysis"]["end_min"]), fontsize=10)
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
