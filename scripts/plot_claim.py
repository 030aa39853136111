#!/usr/bin/python3
"""plot_claim.py OUT.png < CLAIM.json: tornado chart and histogram of a `trainsim claim` result.

The JSON is what `trainsim claim --format json` prints (trainsim claim --plot pipes it here).
Left panel: one bar per constant from the metric at its low end to the metric at its high end
(the others at their value), largest swing on top, around the nominal value; the claimed
value is a vertical line. Right panel: histogram of the Monte Carlo samples with p5/p50/p95
and the claimed value.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    out = sys.argv[1]
    r = json.load(sys.stdin)
    metric, unit, claimed, nominal = r["metric"], r["unit"], r["claimed_value"], r["nominal"]
    sens = [s for s in r["sensitivity"] if s["swing"] != 0]
    sens.sort(key=lambda s: abs(s["swing"]))  # smallest at the bottom row, largest on top

    fig, (tornado, hist) = plt.subplots(1, 2, figsize=(15, max(4.5, 0.4 * len(sens) + 2)),
                                        gridspec_kw={"width_ratios": [3, 2]})
    fig.suptitle(f"{r['workload']} on {r['cluster']}: {metric} ({unit})\n"
                 f"{r['samples']} samples, seed {r['seed']}, {r['distribution']}; "
                 f"P(claim holds: {r['holds_when']}) = {100 * r['p_holds']:.1f} %")

    for row, s in enumerate(sens):
        # Bar halves coloured by which end of the constant's range produced them; the
        # longer one first, so a shorter one on the same side (non-monotone) stays visible.
        ends = [(s["metric_at_low"], "tab:blue", "constant at low"), (s["metric_at_high"], "tab:orange", "constant at high")]
        ends.sort(key=lambda e: -abs(e[0] - nominal))
        for value, colour, label in ends:
            tornado.barh(row, value - nominal, left=nominal, color=colour, label=label if row == 0 else None)
    tornado.set_yticks(range(len(sens)))
    tornado.set_yticklabels([f"{s['path']}  [{s['low']:.3g} .. {s['high']:.3g}]" for s in sens], fontsize=8)
    tornado.axvline(nominal, color="black", linewidth=1, label=f"nominal {nominal:.6g}")
    tornado.axvline(claimed, color="tab:red", linestyle="--", label=f"claimed {claimed:.6g}")
    tornado.set_xlabel(f"{metric} ({unit})")
    tornado.set_title("one-at-a-time sensitivity (others at value)")
    tornado.legend(fontsize=8, loc="lower right")

    samples = r["sample_metric"]
    hist.hist(samples, bins=max(5, min(30, len(samples) // 2)), color="tab:gray", edgecolor="black")
    for key, style in (("p5", ":"), ("p50", "-"), ("p95", ":")):
        hist.axvline(r[key], color="tab:green", linestyle=style, label=f"{key} {r[key]:.6g}")
    hist.axvline(claimed, color="tab:red", linestyle="--", label=f"claimed {claimed:.6g}")
    hist.set_xlabel(f"{metric} ({unit})")
    hist.set_ylabel("samples")
    hist.set_title("Monte Carlo samples")
    # Few, slanted tick labels (six-digit values side by side overlap) and the legend
    # under the axes, where it covers neither bars nor ticks.
    hist.xaxis.set_major_locator(MaxNLocator(nbins=5))
    hist.yaxis.set_major_locator(MaxNLocator(integer=True))
    for tick in hist.get_xticklabels():
        tick.set_rotation(30)
        tick.set_horizontalalignment("right")
    hist.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2)

    fig.tight_layout()
    fig.savefig(out, dpi=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
