#!/usr/bin/env python3
"""Draws clmtl training runs' curves from RUN/log.jsonl: one figure per kind of curve, every run
given on the same axes in its own colour.

  python3 tools/plot.py runs/default
  python3 tools/plot.py runs/default-1 runs/default-2 --out docs

losses.png: each task's train and validation loss, and the fixed-weight validation loss (the
mean of the task losses);
metrics.png: each task's validation metric (mIoU and pixel accuracy in %, or the error of a
regression task: L1 per pixel and MAE in the target's units, pixels for the shipped depth
(disparity) and instance (offset) tasks);
weights.png: effective task weights and, where the weighting has them, the learned sigmas.
Figures are titled with the run's directory name (several runs: their names, one colour each,
legend). --out DIR: where the PNGs go (default: the run's directory; with several runs, the
current directory). Reads the per-epoch records of the log and ignores the others. Needs
matplotlib (Debian: python3-matplotlib)."""
import argparse
import json
import os
import sys

INSTALL_HINT = "python3-matplotlib: apt-get install python3-matplotlib"


def load(logdir):
    """The run's epoch records, with 1-based epoch numbers."""
    path = os.path.join(logdir, "log.jsonl")
    epochs = []
    try:
        f = open(path)
    except OSError as e:
        sys.exit(f"plot.py: cannot read {path}: {e.strerror}")
    with f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"plot.py: {path}:{n}: not JSON ({e})")
            if isinstance(rec, dict) and rec.get("event") == "epoch":
                epochs.append(rec)
    if not epochs:
        sys.exit(f"plot.py: {path} has no epoch records yet")
    # older logs count epochs from 0, newer ones from 1 as the console does
    base = 1 if min(e["epoch"] for e in epochs) == 0 else 0
    for e in epochs:
        e["epoch"] += base
    return epochs


def run_name(logdir):
    return os.path.basename(os.path.normpath(os.path.abspath(logdir)))


def series(epochs, task, key, scale=1.0):
    out = []
    for e in epochs:
        v = e["tasks"].get(task, {}).get(key)
        out.append(v * scale if isinstance(v, (int, float)) else float("nan"))
    return out


def value_unit(task):
    t = task.lower()
    if "depth" in t or "disp" in t:
        return "px of disparity"
    if "inst" in t:
        return "px of offset"
    return "target units"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", metavar="RUN", help="run directory holding log.jsonl")
    ap.add_argument("--out", metavar="DIR", help="where the PNGs go")
    args = ap.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"plot.py: matplotlib is missing ({INSTALL_HINT})", file=sys.stderr)
        sys.exit(1)

    runs = [(run_name(d), load(d)) for d in args.runs]
    out = args.out or (args.runs[0] if len(runs) == 1 else ".")
    os.makedirs(out, exist_ok=True)
    title = runs[0][0] if len(runs) == 1 else " vs ".join(name for name, _ in runs)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    tasks = []
    for _, epochs in runs:
        for t in epochs[0]["tasks"]:
            if t not in tasks:
                tasks.append(t)
    several = len(runs) > 1
    epoch_ticks = sorted({e["epoch"] for _, epochs in runs for e in epochs})

    def label(name, what):
        return f"{name} {what}" if several else what

    def finish(fig, axes, filename):
        for ax in axes:
            ax.set_xlabel("epoch")
            if len(epoch_ticks) <= 20:
                ax.set_xticks(epoch_ticks)
            else:
                ax.xaxis.get_major_locator().set_params(integer=True)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize="small")
        fig.suptitle(title)
        fig.tight_layout()
        path = os.path.join(out, filename)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path

    written = []
    fig, axes = plt.subplots(1, len(tasks) + 1, figsize=(4 * (len(tasks) + 1), 3.4), squeeze=False)
    axes = list(axes[0])
    for i, (name, epochs) in enumerate(runs):
        c = colours[i % len(colours)]
        x = [e["epoch"] for e in epochs]
        for ax, t in zip(axes, tasks):
            if t in epochs[0]["tasks"]:
                ax.plot(x, series(epochs, t, "train_loss"), "o-", color=c, label=label(name, "train"))
                ax.plot(x, series(epochs, t, "val_loss"), "s--", color=c, label=label(name, "validation"))
        axes[-1].plot(x, [e.get("val_loss") for e in epochs], "o-", color=c, label=name if several else None)
    for ax, t in zip(axes, tasks):
        ax.set_title(f"{t} loss")
        ax.set_ylabel("loss (task's own scale)")
    axes[-1].set_title("fixed-weight validation loss")
    axes[-1].set_ylabel("mean of the task losses")
    written.append(finish(fig, axes, "losses.png"))

    fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3.4), squeeze=False)
    axes = list(axes[0])
    for ax, t in zip(axes, tasks):
        ax.set_title(f"{t} (validation)")
    for i, (name, epochs) in enumerate(runs):
        c = colours[i % len(colours)]
        x = [e["epoch"] for e in epochs]
        for ax, t in zip(axes, tasks):
            rec = epochs[0]["tasks"].get(t)
            if rec is None:
                continue
            if "miou" in rec:
                ax.plot(x, series(epochs, t, "miou", 100), "o-", color=c, label=label(name, "mIoU"))
                ax.plot(x, series(epochs, t, "pixel_accuracy", 100), "s--", color=c,
                        label=label(name, "pixel accuracy"))
                ax.set_ylabel("%")
            else:
                ax.plot(x, series(epochs, t, "l1_per_pixel"), "o-", color=c, label=label(name, "L1 per pixel"))
                ax.plot(x, series(epochs, t, "mae"), "s--", color=c, label=label(name, "MAE"))
                ax.set_ylabel(f"error ({value_unit(t)})")
    written.append(finish(fig, axes, "metrics.png"))

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), squeeze=False)
    axes = list(axes[0])
    styles = ["o-", "s--", "^-.", "v:", "d-"]
    for i, (name, epochs) in enumerate(runs):
        c = colours[i % len(colours)]
        x = [e["epoch"] for e in epochs]
        for j, t in enumerate(tasks):
            if t not in epochs[0]["tasks"]:
                continue
            st = styles[j % len(styles)]
            axes[0].plot(x, series(epochs, t, "weight"), st, color=c if several else None, label=label(name, t))
            sig = series(epochs, t, "sigma")
            if any(s == s for s in sig):
                axes[1].plot(x, sig, st, color=c if several else None, label=label(name, t))
    axes[0].set_title("effective task weight")
    axes[0].set_ylabel("weight (multiplies the task loss)")
    axes[1].set_title("learned sigma")
    axes[1].set_ylabel("σ (task's own scale)")
    written.append(finish(fig, axes, "weights.png"))
    print("wrote " + ", ".join(written))


if __name__ == "__main__":
    main()
