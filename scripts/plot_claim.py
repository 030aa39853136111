#!/usr/bin/python3
"""plot_claim.py [--check-layout] OUT.png < CLAIM.json: tornado chart and histogram of a `trainsim claim` result.

The JSON is what `trainsim claim --format json` prints (trainsim claim --plot pipes it here).
Left panel: one bar per constant from the metric at its low end to the metric at its high end
(the others at their value), largest swing on top, around the nominal value; the claimed
value is a vertical line. Right panel: histogram of the Monte Carlo samples with p5/p50/p95
and the claimed value.
--check-layout: after drawing, list every pair of labels (tick labels, axis labels, titles,
legends) whose boxes overlap on the rendered figure, and exit 1 if there is one (the tests
draw a claim with six-digit values this way).
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def draw(r):
    """The figure for one claim result (a dict of its JSON)."""
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
    # right of the axes, where it covers neither bars, ticks nor the axis label (under the
    # axes it met the label when few constants make the figure short).
    hist.xaxis.set_major_locator(MaxNLocator(nbins=5))
    # Plain numbers: matplotlib's "1e6" offset text lands on the slanted axis label.
    for ax in (tornado, hist):
        ax.ticklabel_format(axis="x", style="plain", useOffset=False)
    hist.yaxis.set_major_locator(MaxNLocator(integer=True))
    for tick in hist.get_xticklabels():
        tick.set_rotation(30)
        tick.set_horizontalalignment("right")
    hist.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))

    fig.tight_layout()
    return fig


def label_overlaps(fig):
    """Pairs of text boxes that overlap on the rendered figure: (name, name)."""
    fig.canvas.draw()  # lay out at the figure's own dpi (savefig lays out at its own, then restores)
    renderer = fig.canvas.get_renderer()
    boxes = []  # (name, axes index or None, Bbox)
    for title in (fig._suptitle,):
        if title is not None and title.get_text():
            boxes.append(("suptitle", None, title.get_window_extent(renderer)))
    for i, ax in enumerate(fig.axes):
        texts = [(f"axes {i} title", ax.title), (f"axes {i} xlabel", ax.xaxis.label),
                 (f"axes {i} ylabel", ax.yaxis.label), (f"axes {i} x offset", ax.xaxis.get_offset_text()),
                 (f"axes {i} y offset", ax.yaxis.get_offset_text())]
        # Tick labels of ticks inside the view only: matplotlib keeps (undrawn) labels
        # for the locator's ticks beyond the limits.
        for axis, name in ((ax.xaxis, "xtick"), (ax.yaxis, "ytick")):
            lo, hi = sorted(axis.get_view_interval())
            texts += [(f"axes {i} {name} {t.label1.get_text()!r}", t.label1) for t in axis.get_major_ticks()
                      if lo <= t.get_loc() <= hi]
        for name, t in texts:
            if t.get_visible() and t.get_text():
                boxes.append((name, i, t.get_window_extent(renderer)))
        legend = ax.get_legend()
        if legend is not None:
            boxes.append((f"axes {i} legend", i, legend.get_window_extent(renderer)))
    overlaps = []
    for a in range(len(boxes)):
        for b in range(a + 1, len(boxes)):
            (na, _, ba), (nb, _, bb) = boxes[a], boxes[b]
            # Touching edges are not an overlap; a shared pixel row of two boxes is.
            if ba.x0 < bb.x1 - 0.5 and bb.x0 < ba.x1 - 0.5 and ba.y0 < bb.y1 - 0.5 and bb.y0 < ba.y1 - 0.5:
                overlaps.append((na, nb, min(ba.x1, bb.x1) - max(ba.x0, bb.x0), min(ba.y1, bb.y1) - max(ba.y0, bb.y0)))
    return overlaps


def main() -> int:
    args = sys.argv[1:]
    check = bool(args) and args[0] == "--check-layout"
    if check:
        args = args[1:]
    if len(args) != 1:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    fig = draw(json.load(sys.stdin))
    fig.savefig(args[0], dpi=120)
    if check:
        overlaps = label_overlaps(fig)
        for a, b, w, h in overlaps:
            print(f"plot_claim.py: {a} overlaps {b} ({w:.0f} x {h:.0f} px)", file=sys.stderr)
        return 1 if overlaps else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
