"""The trumpet plot: Ep(max)/Ep(min) per window, and the flow in each interval."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402


def plot(result, path, title):
    windows = [w for w in result["windows"] if w["count"]]
    rate = result["rate_ml_h"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5),
                                      gridspec_kw={"width_ratios": [1, 1.4]})
    fig.suptitle("%s: set rate %.4g mL/h, overall error %+.2f %% (benchtop prototype, "
                 "not for human use)" % (title, rate, result["overall_error_pct"]), fontsize=10)
    minutes = [w["minutes"] for w in windows]
    left.plot(minutes, [w["ep_max_pct"] for w in windows], "o-", color="tab:red",
              label="Ep(max)")
    left.plot(minutes, [w["ep_min_pct"] for w in windows], "o-", color="tab:blue",
              label="Ep(min)")
    left.axhline(result["overall_error_pct"], color="black", linestyle="--", linewidth=1,
                 label="overall error A")
    left.axhline(0, color="grey", linewidth=0.5)
    left.set_xlabel("observation window (min)")
    left.set_ylabel("error (% of set rate)")
    left.set_title("trumpet curve", fontsize=10)
    if minutes:
        left.set_xticks(minutes)
    left.legend(fontsize=8)
    left.grid(alpha=0.3)

    right.step(result["flow_t_min"], result["flow_ml_h"], where="pre", color="tab:green",
               linewidth=0.8, label="flow per %g s interval" % result["analysis"]["interval_s"])
    right.axhline(rate, color="black", linestyle="--", linewidth=1, label="set rate")
    right.set_xlabel("time since the first reading (min)")
    right.set_ylabel("flow (mL/h)")
    right.set_title("analysis period %g to %g min" % (result["analysis"]["start_min"],
                                                      result["analysis"]["end_min"]), fontsize=10)
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
