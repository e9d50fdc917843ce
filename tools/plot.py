#!/usr/bin/env python3
"""Draws a clmtl training run's curves from LOGDIR/log.jsonl into LOGDIR/*.png.

  python3 tools/plot.py runs/default

losses.png: train and validation loss of every task and the fixed-weight validation loss;
metrics.png: each task's validation metric (mIoU, pixel accuracy, L1 per pixel, MAE);
weights.png: effective task weights and, where the weighting has them, the learned sigmas.
Needs matplotlib (Debian: python3-matplotlib)."""
import json
import os
import sys


def load(logdir):
    epochs = []
    with open(os.path.join(logdir, "log.jsonl")) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"{logdir}/log.jsonl:{n}: not JSON ({e})")
            if rec.get("event") == "epoch":
                epochs.append(rec)
    if not epochs:
        sys.exit(f"{logdir}/log.jsonl has no epoch records yet")
    return epochs


def series(epochs, task, key):
    return [e["tasks"][task].get(key) for e in epochs]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    logdir = sys.argv[1]
    epochs = load(logdir)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = [e["epoch"] + 1 for e in epochs]
    tasks = list(epochs[0]["tasks"].keys())

    fig, axes = plt.subplots(1, len(tasks) + 1, figsize=(4 * (len(tasks) + 1), 3.2))
    for ax, t in zip(axes, tasks):
        ax.plot(x, series(epochs, t, "train_loss"), "o-", label="train")
        ax.plot(x, series(epochs, t, "val_loss"), "s-", label="validation")
        ax.set_title(f"{t} loss")
        ax.set_xlabel("epoch")
        ax.legend()
    axes[-1].plot(x, [e["val_loss"] for e in epochs], "o-")
    axes[-1].set_title("fixed-weight validation loss")
    axes[-1].set_xlabel("epoch")
    fig.tight_layout()
    fig.savefig(os.path.join(logdir, "losses.png"), dpi=110)

    fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3.2))
    axes = axes if len(tasks) > 1 else [axes]
    for ax, t in zip(axes, tasks):
        rec = epochs[0]["tasks"][t]
        keys = ["miou", "pixel_accuracy"] if "miou" in rec else ["l1_per_pixel", "mae"]
        for k in keys:
            ax.plot(x, series(epochs, t, k), "o-", label=k)
        ax.set_title(f"{t} (validation)")
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(logdir, "metrics.png"), dpi=110)

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for t in tasks:
        axes[0].plot(x, series(epochs, t, "weight"), "o-", label=t)
        sig = series(epochs, t, "sigma")
        if any(s is not None for s in sig):
            axes[1].plot(x, sig, "o-", label=t)
    axes[0].set_title("effective task weight")
    axes[1].set_title("learned sigma")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(logdir, "weights.png"), dpi=110)
    print(f"wrote {logdir}/losses.png, metrics.png, weights.png")


if __name__ == "__main__":
    main()
