"""The rig's reports: JSON (the figures) and PNG (the trumpet, the flow, and both
sides' volumes: what the pump claimed and what the balance saw)."""

import json

from tools.trumpet.__main__ import report as trumpet_report


def accuracy_json(result, facts, files):
    """One object: the trumpet figures (tools.trumpet's --json) and the rig's facts."""
    out = trumpet_report(result, facts["rate_u_h"], files.get("png")) if result else {}
    out.update(facts)
    out["files"] = files
    return out


def write_run_csv(rows, path):
    """The run's readings as tools.trumpet reads them (time_s from the run's start)."""
    with open(path, "w") as handle:
        handle.write("time_s,grams,pump_usteps\n")
        for t, grams, usteps in rows:
            handle.write("%.3f,%.5f,%d\n" % (t, grams, usteps))


def write_json(obj, path):
    with open(path, "w") as handle:
        json.dump(obj, handle, indent=1, sort_keys=True)
        handle.write("\n")


def accuracy_png(result, facts, rows, path, title):
    import matplotlib.pyplot as plt

    from tools.trumpet.plot import flow_panel, trumpet_panel

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4.6),
                                              gridspec_kw={"width_ratios": [1, 1.3, 1.1]})
    fig.suptitle("%s: %g U/h for %g min, overall error %+.2f %%, evaporation %.3f mg/h "
                 "added back (benchtop prototype, not for human use)"
                 % (title, facts["rate_u_h"], facts["minutes"], result["overall_error_pct"],
                    facts["evaporation_mg_h"]), fontsize=10)
    trumpet_panel(left, result)
    flow_panel(middle, result)
    volumes_panel(right, facts, rows)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def volumes_panel(axes, facts, rows):
    """Since the run's first reading: how far the balance (evaporation added back) and
    the pump's microstep count are from the set rate, in uL."""
    run = facts["run"]
    t0, g0, u0 = rows[0]
    minutes = [(t - t0) / 60 for t, _, _ in rows]
    evaporation_g_h = facts["evaporation_mg_h"] / 1000
    density = facts["density_g_ml"]
    per_ustep_ul = run["pump_ml"] * 1000 / run["pump_delivered_usteps"] \
        if run["pump_delivered_usteps"] else 0.0
    set_ul = [facts["rate_ml_h"] * 1000 * m / 60 for m in minutes]
    balance = [((g - g0) + evaporation_g_h * m / 60) / density * 1000 - s
               for m, (_, g, _), s in zip(minutes, rows, set_ul)]
    pump = [(u - u0) * per_ustep_ul - s for (_, _, u), s in zip(rows, set_ul)]
    axes.plot(minutes, balance, color="tab:green", linewidth=1,
              label="balance saw %.2f uL (%+.2f %% of the pump's count)"
              % (run["balance_ml"] * 1000, run["balance_vs_pump_pct"] or 0))
    axes.plot(minutes, pump, color="tab:orange", linewidth=1,
              label="pump counted %d microsteps = %.2f uL"
              % (run["pump_delivered_usteps"], run["pump_ml"] * 1000))
    axes.axhline(0, color="black", linestyle="--", linewidth=1,
                 label="set rate: %.2f uL" % (run["set_ml"] * 1000))
    axes.set_xlabel("time since the run's first reading (min)")
    axes.set_ylabel("delivered minus set (uL)")
    axes.set_title("the whole run, against the set rate", fontsize=10)
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)


def accuracy_text(report):
    """The human summary printed at the end of a run."""
    lines = ["Delivery accuracy on the rig (IEC 60601-2-24 method)",
             "set rate          %g U/h = %.4g mL/h for %g min (analysis %g to %g min)"
             % (report["rate_u_h"], report["rate_ml_h"], report["minutes"],
                report["analysis"]["start_min"], report["analysis"]["end_min"]),
             "primed            %.2f U until the balance saw flow" % report["prime_u"],
             "evaporation       %.3f mg/h (blank of %g min), added back"
             % (report["evaporation_mg_h"], report["blank_min"]),
             "readings          %d counted; replies not counted: %s"
             % (report["readings"], _rejected(report["rejected_replies"])),
             "in the analysis period:",
             "the pump claimed  %d microsteps = %.3f U = %.5f mL (set: %.5f mL)"
             % (report["pump_delivered_usteps"], report["pump_delivered_mu"] / 1000,
                report["pump_ml"], report["set_ml"]),
             "the balance saw   %.5f mL (%+.2f %% against the pump's claim)"
             % (report["balance_ml"], report["balance_vs_pump_pct"]),
             "overall error A   %+.2f %%" % report["overall_error_pct"], "",
             " window     Ep(max)     Ep(min)"]
    for w in report["windows"]:
        if w["count"]:
            lines.append("%4g min  %+8.2f %%  %+8.2f %%" % (w["minutes"], w["ep_max_pct"],
                                                          w["ep_min_pct"]))
    return "\n".join(lines)


def _rejected(counts):
    return ", ".join("%d %s" % (n, kind) for kind, n in sorted(counts.items())) or "none"
