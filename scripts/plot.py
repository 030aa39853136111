#!/usr/bin/python3
"""plot.py STUDY.yaml STUDY.csv OUT.png: draws one study (scripts/study writes the CSV).

Plot kinds (the study's `plot.kind`):
  heatmap  two axes of one run; cells annotated with the metric and its change
           against `plot.reference`; error points drawn grey as "n/a".
  bars     one bar per point (run label, plus the axis value when the run has an
           axis); with `stack: breakdown` the bar is the step breakdown scaled to
           the metric (every category's share of the step time).
  line     metric over `plot.x`, one line per run, one panel per `plot.panels` entry;
           runs a panel lists under `points_only` are drawn as markers without a line
           (a few check points, which a line would join across values never run).
  ratio    metric per run, then simulated vs naive (params_active) ratio to the baseline.
  reliability  the run with failures, one run per cluster size: goodput and days per
           trillion tokens (with and without failures) against GPUs, and goodput
           against the checkpoint interval (the goodput block's interval_curve).
Every error point of the CSV is shown as "n/a", never dropped.
"""
import csv
import json
import re
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

# Fixed order and colours of the step-time breakdown, so every plot reads alike.
BREAKDOWN = ["attention", "mlp", "mtp", "embedding_head", "optimizer", "exposed_ep", "exposed_dp", "exposed_pp",
             "exposed_tp", "bubble", "imbalance_wait"]
BREAKDOWN_LABEL = {"attention": "attention", "mlp": "MLP / experts", "mtp": "MTP module",
                   "embedding_head": "embedding + head", "optimizer": "optimizer", "exposed_ep": "exposed EP all-to-all",
                   "exposed_dp": "exposed DP collectives", "exposed_pp": "exposed PP send/recv",
                   "exposed_tp": "exposed TP collectives", "bubble": "pipeline bubble",
                   "imbalance_wait": "load-imbalance wait"}
NA_COLOUR = "#d9d9d9"


def ok(row):
    return row.get("status") == "ok"


def num(row, key):
    return float(row[key])


def fmt_value(v):
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def strip_unit(text):
    m = re.match(r"^\s*([0-9.]+)", str(text))
    return m.group(1) if m else str(text)


def context_line(rows):
    """Cluster(s) and workload(s) named by the CSV, e.g. 'h800-2048 (2048 GPUs), DeepSeek-V3'."""
    good = [r for r in rows if ok(r)]
    # By size, then name: "h800-2048, h800-4096, ..., h800-16384", not string order.
    clusters = [f"{name} ({gpus} GPUs)" for gpus, name in
                sorted({(int(float(r["num_gpus"])), r["cluster"]) for r in good})]
    workloads = sorted({r["workload"] for r in good})
    fidelities = sorted({r["fidelity"] for r in good if r.get("fidelity")})
    return (f"cluster {', '.join(clusters)}; workload {' vs '.join(workloads)}; "
            f"{'/'.join(fidelities)} fidelity; full batch")


def axis_values(study, run_label, key):
    for run in study["runs"]:
        if run.get("label") == run_label and key in (run.get("axes") or {}):
            return [str(v) for v in run["axes"][key]]
    raise SystemExit(f"plot.py: run '{run_label}' has no axis {key}")


def axis_index(values, value):
    """Position of a CSV axis value among the study's values (as typed, or the same number)."""
    if value in values:
        return values.index(value)
    same = [i for i, v in enumerate(values) if strip_unit(v) == strip_unit(value)]
    if len(same) != 1:
        raise SystemExit(f"plot.py: axis value '{value}' is not one of {values}")
    return same[0]


def heatmap(study, rows, ax, fig):
    p = study["plot"]
    run_label = rows[0]["run"]
    xs, ys = axis_values(study, run_label, p["x"]), axis_values(study, run_label, p["y"])
    grid = np.full((len(ys), len(xs)), np.nan)
    for r in rows:
        if ok(r):
            grid[axis_index(ys, r[p["y"]]), axis_index(xs, r[p["x"]])] = num(r, p["metric"])
    ref = p.get("reference")
    ref_value = grid[ys.index(str(ref["y"])), xs.index(str(ref["x"]))] if ref else np.nan
    cmap = matplotlib.colormaps["viridis_r"].copy()
    cmap.set_bad(NA_COLOUR)
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, origin="lower", aspect="auto")
    bar = fig.colorbar(image, ax=ax)
    bar.set_label(p["metric_label"])
    bar.ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    finite = grid[np.isfinite(grid)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0
    for i in range(len(ys)):
        for j in range(len(xs)):
            v = grid[i, j]
            if not np.isfinite(v):
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=11, color="black")
                continue
            text = fmt_value(v)
            if np.isfinite(ref_value):
                text += "\n(reference)" if (i, j) == (ys.index(str(ref["y"])), xs.index(str(ref["x"]))) \
                    else f"\n{100 * (v / ref_value - 1):+.1f} %"
            ax.text(j, i, text, ha="center", va="center", fontsize=10,
                    color="white" if v > mid else "black")
    tick = strip_unit if p.get("strip_units") else str
    ax.set_xticks(range(len(xs)), [tick(x) for x in xs])
    ax.set_yticks(range(len(ys)), [tick(y) for y in ys])
    ax.set_xlabel(p.get("xlabel", p["x"]))
    ax.set_ylabel(p.get("ylabel", p["y"]))


def point_label(study, row):
    """Run label, plus the axis values of the run when it has axes."""
    for run in study["runs"]:
        if run.get("label") == row["run"]:
            values = [str(row[k]) for k in (run.get("axes") or {})]
            return ", ".join(values) if values else row["run"]
    return row["run"]


def bars(study, rows, ax, fig):
    p = study["plot"]
    labels = [point_label(study, r) for r in rows]
    x = np.arange(len(rows))
    good = [num(r, p["metric"]) for r in rows if ok(r)]
    top = max(good) if good else 1
    if p.get("stack") == "breakdown":
        bottoms = np.zeros(len(rows))
        colours = matplotlib.colormaps["tab20"]
        for ci, cat in enumerate(BREAKDOWN):
            key = "breakdown." + cat
            heights = np.zeros(len(rows))
            for i, r in enumerate(rows):
                if ok(r) and r.get(key):
                    # A category's share of the step time is its share of the GPU-hours.
                    heights[i] = num(r, key) / num(r, "step_time_s") * num(r, p["metric"])
            if not heights.any():
                continue
            ax.bar(x, heights, bottom=bottoms, color=colours(ci), label=BREAKDOWN_LABEL[cat], width=0.6)
            bottoms += heights
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, title="step time spent in")
    else:
        ax.bar(x, [num(r, p["metric"]) if ok(r) else 0 for r in rows], width=0.6)
    # Change against the reference point (a point label), when the study names one.
    ref = [num(r, p["metric"]) for r, lab in zip(rows, labels) if ok(r) and lab == str(p.get("reference"))]
    for i, r in enumerate(rows):
        if ok(r):
            v = num(r, p["metric"])
            text = fmt_value(v)
            if ref:
                text += "\n(reference)" if labels[i] == str(p["reference"]) else f"\n{100 * (v / ref[0] - 1):+.1f} %"
            ax.text(i, v + 0.01 * top, text, ha="center", va="bottom", fontsize=10, fontweight="bold")
        else:
            ax.bar(i, 0.1 * top, width=0.6, color=NA_COLOUR, hatch="//")
            ax.text(i, 0.11 * top, "n/a", ha="center", va="bottom", fontsize=10, fontweight="bold")
            # Why, in short: the error message after its "FILE:..:" / "--set ..:" prefix.
            why = r.get("error", "").split(": ", 1)[-1]
            ax.text(i, 0.26 * top, textwrap.fill(textwrap.shorten(why, 110), 22), ha="center", va="bottom",
                    fontsize=7, wrap=True)
    ax.set_ylim(0, top * 1.18)
    ax.set_xticks(x, labels)
    ax.set_xlabel(p.get("xlabel", ""))
    ax.set_ylabel(p["metric_label"])
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))


def line(study, rows, fig):
    p = study["plot"]
    panels = p.get("panels") or [{"title": "", "runs": [r["label"] for r in study["runs"]]}]
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        points_only = panel.get("points_only") or []
        for run_label in points_only:
            if run_label not in panel["runs"]:
                raise SystemExit(f"plot.py: points_only names run '{run_label}', which the panel does not draw")
        for run_label in panel["runs"]:
            pts = [r for r in rows if r["run"] == run_label]
            if not pts:
                raise SystemExit(f"plot.py: panel names run '{run_label}', which has no rows")
            xs = [float(r[p["x"]]) for r in pts]
            ys = [num(r, p["metric"]) if ok(r) else np.nan for r in pts]
            if run_label in points_only:
                (drawn,) = ax.plot(xs, ys, marker="s", markersize=9, linestyle="none", fillstyle="none",
                                   markeredgewidth=2, label=run_label)
            else:
                (drawn,) = ax.plot(xs, ys, marker="o", label=run_label)
            for xv, r in zip(xs, pts):
                if not ok(r):
                    ax.annotate("n/a", (xv, 0), xycoords=("data", "axes fraction"), xytext=(0, 4),
                                textcoords="offset points", ha="center", color=drawn.get_color())
        ax.set_title(panel.get("title", ""), fontsize=10)
        ax.set_xlabel(p.get("xlabel", p["x"]))
        ax.set_ylabel(p["metric_label"])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))


def ratio(study, rows, fig):
    p = study["plot"]
    base = study["baseline"]
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1]})
    notes = {r["label"]: r.get("note", "") for r in study["runs"]}
    labels = [r["run"] + ("\n" + textwrap.fill(notes[r["run"]], 26) if notes.get(r["run"]) else "") for r in rows]
    values = [num(r, p["metric"]) if ok(r) else 0 for r in rows]
    top = max(values) or 1
    left.tick_params(axis="x", labelsize=8)
    left.bar(labels, values, width=0.55, color=["#4c72b0" if r["run"] == base else "#dd8452" for r in rows])
    for i, r in enumerate(rows):
        text = (f"{fmt_value(values[i])}\n{float(r['params_active']) / 1e9:.1f} B active params\n"
                f"MFU {100 * float(r['mfu']):.1f} %" if ok(r) else "n/a")
        left.text(i, values[i] + 0.01 * top, text, ha="center", va="bottom", fontsize=8.5)
    left.set_ylim(0, top * 1.2)
    left.set_ylabel(p["metric_label"])
    left.set_title("simulated cost", fontsize=10)
    left.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    other = [r for r in rows if r["run"] != base]
    names, ratios = [], []
    for r in other:
        names += [f"{r['run']}\nsimulated\nGPU-hours", f"{r['run']}\nnaive\n6·N_active·tokens"]
        sim = float(r["gpu_hours_ratio_to_baseline"]) if ok(r) else np.nan
        ratios += [sim, float(r["params_active_ratio_to_baseline"])]
    right.bar(names, np.nan_to_num(ratios), width=0.55, color=["#55a868", "#8172b2"] * len(other))
    rtop = np.nanmax(ratios)
    for i, v in enumerate(ratios):
        right.text(i, (0 if np.isnan(v) else v) + 0.01 * rtop, "n/a" if np.isnan(v) else f"{v:.2f}×",
                   ha="center", va="bottom", fontsize=12, fontweight="bold")
    right.set_ylim(0, rtop * 1.15)
    right.set_ylabel(f"ratio to {base} (×)")
    right.set_title(f"ratio to {base}", fontsize=10)
    right.tick_params(axis="x", labelsize=8)


def reliability(study, rows, fig):
    """Three panels from the goodput columns (`trainsim run` with a reliability section)."""
    left, mid, right = fig.subplots(1, 3)
    good = sorted((r for r in rows if ok(r)), key=lambda r: num(r, "num_gpus"))
    gpus = [num(r, "num_gpus") for r in good]
    left.plot(gpus, [100 * num(r, "goodput.goodput.mean") for r in good], marker="o", color="#4c72b0")
    for g, r in zip(gpus, good):
        left.annotate(f"{num(r, 'goodput.interruptions_per_day'):.1f}/day\n"
                      f"ckpt {num(r, 'goodput.optimal_interval_s') / 60:.0f} min", (g, 100 * num(r, "goodput.goodput.mean")),
                      xytext=(0, -26), textcoords="offset points", ha="center", fontsize=7.5)
    left.set_xscale("log", base=2)
    # Room for the labels under the points: off the tick labels of both axes.
    left.margins(x=0.12, y=0.25)
    left.set_xlabel("GPUs")
    left.set_ylabel("goodput at the optimal checkpoint interval (%)")
    left.set_title("goodput (interruptions per day, optimal interval)", fontsize=10)
    mid.plot(gpus, [num(r, "days_per_trillion_tokens") for r in good], marker="o", label="no failures (idealised)")
    mid.plot(gpus, [num(r, "goodput.days_per_trillion_tokens.mean") for r in good], marker="s",
             label="with failures (mean over seeds)")
    mid.set_xscale("log", base=2)
    mid.set_xlabel("GPUs")
    mid.set_ylabel(study["plot"]["metric_label"])
    mid.set_title("days per trillion tokens", fontsize=10)
    mid.legend(fontsize=8)
    for r in good:
        curve = json.loads(r["goodput.interval_curve"])
        right.plot([p["interval_s"] / 60 for p in curve], [100 * p["goodput"] for p in curve], marker="o",
                   label=f"{int(num(r, 'num_gpus')):,} GPUs")
    right.set_xscale("log")
    right.set_xlabel("checkpoint interval (minutes)")
    right.set_ylabel("goodput (%)")
    right.set_title("goodput against the checkpoint interval", fontsize=10)
    right.legend(fontsize=8)
    for ax in (left, mid, right):
        ax.grid(alpha=0.3)
    bad = [r["run"] for r in rows if not ok(r)]
    if bad:
        fig.text(0.01, 0.01, "n/a (failed): " + ", ".join(bad), fontsize=8, color="grey")


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: plot.py STUDY.yaml STUDY.csv OUT.png")
    with open(sys.argv[1], encoding="utf-8") as f:
        study = yaml.safe_load(f)
    with open(sys.argv[2], newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not any(ok(r) for r in rows):
        sys.exit(f"plot.py: no point of {sys.argv[2]} succeeded; nothing to plot")
    kind = study["plot"]["kind"]
    fig = plt.figure(figsize=(12, 6.5) if kind in ("line", "ratio") else (15, 6.5) if kind == "reliability" else (11, 6.5))
    if kind == "heatmap":
        heatmap(study, rows, fig.add_subplot(), fig)
    elif kind == "bars":
        bars(study, rows, fig.add_subplot(), fig)
    elif kind == "line":
        line(study, rows, fig)
    elif kind == "ratio":
        ratio(study, rows, fig)
    elif kind == "reliability":
        reliability(study, rows, fig)
    else:
        sys.exit(f"plot.py: unknown plot kind '{kind}' (heatmap, bars, line, ratio, reliability)")
    lines = [study["title"], context_line(rows)]
    if study["plot"].get("subtitle"):
        lines.append(study["plot"]["subtitle"])
    fig.suptitle(lines[0], fontsize=13, fontweight="bold")
    fig.text(0.5, 0.935, "\n".join(lines[1:]), ha="center", va="top", fontsize=9.5)
    fig.tight_layout(rect=(0, 0, 1, 0.92 if len(lines) < 3 else 0.89))
    fig.savefig(sys.argv[3], dpi=110)


if __name__ == "__main__":
    main()
