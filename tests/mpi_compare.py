#!/usr/bin/env python3
"""Compares two runs of clmtl train (tests/test_mpi.sh): every tensor of A/last.safetensors
against B/last.safetensors (weights, biases, task parameters, optimizer moments), the losses,
weights and sigmas of every step record of A/log.jsonl against B's, and every epoch record's
training and validation losses and validation metrics (mIoU, pixel accuracy, MAE, RMSE, ...). Reads safetensors with the
standard library alone (8-byte header length, JSON header, raw little-endian float32).
Prints the largest differences; exit status 1 when one exceeds the tolerance:
|a - b| <= atol + rtol * |b| elementwise.

usage: mpi_compare.py RUN_A RUN_B [--rtol X] [--atol X] [--only PREFIX] [--expect-differ]"""
import json
import struct
import sys


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        lo, hi = info["data_offsets"]
        out[name] = struct.unpack("<%df" % ((hi - lo) // 4), data[lo:hi])
    return out


def records(path, event):
    recs = []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r.get("event") == event:
                recs.append(r)
    return recs


def main():
    args = sys.argv[1:]
    a, b = args[0], args[1]
    rtol, atol, only, expect_differ = 1e-4, 1e-6, "", False
    i = 2
    while i < len(args):
        if args[i] == "--rtol": rtol = float(args[i + 1]); i += 2
        elif args[i] == "--atol": atol = float(args[i + 1]); i += 2
        elif args[i] == "--only": only = args[i + 1]; i += 2
        elif args[i] == "--expect-differ": expect_differ = True; i += 1
        else: sys.exit("unknown option " + args[i])
    ta, tb = read_safetensors(a + "/last.safetensors"), read_safetensors(b + "/last.safetensors")
    if set(ta) != set(tb):
        print("tensor names differ:", sorted(set(ta) ^ set(tb)))
        return 1
    worst, worst_name, bad = 0.0, "", 0
    for name in sorted(ta):
        if not name.startswith(only):
            continue
        for x, y in zip(ta[name], tb[name]):
            excess = abs(x - y) / (atol + rtol * abs(y))
            if excess > worst:
                worst, worst_name = excess, name
            bad += excess > 1
    sa, sb = records(a + "/log.jsonl", "step"), records(b + "/log.jsonl", "step")
    if len(sa) != len(sb) or not sa:
        print("step records: %d vs %d" % (len(sa), len(sb)))
        return 1
    for ra, rb in zip(sa, sb):
        for key in ("losses", "weights", "sigma"):
            for task, x in ra[key].items():
                y = rb[key][task]
                if x is None or y is None:
                    bad += (x is None) != (y is None)
                    continue
                excess = abs(x - y) / (atol + rtol * abs(y))
                if excess > worst:
                    worst, worst_name = excess, "step %d %s.%s" % (ra["step"], key, task)
                bad += excess > 1
    ea, eb = records(a + "/log.jsonl", "epoch"), records(b + "/log.jsonl", "epoch")
    if len(ea) != len(eb) or not ea:
        print("epoch records: %d vs %d" % (len(ea), len(eb)))
        return 1
    metrics = ("train_loss", "val_loss", "miou", "pixel_accuracy", "mae", "rmse", "rel_error", "l1_per_pixel")
    for ra, rb in zip(ea, eb):
        pairs = [("val_loss", ra["val_loss"], rb["val_loss"])]
        for task, m in ra["tasks"].items():
            pairs += [("%s.%s" % (task, k), m[k], rb["tasks"][task][k]) for k in metrics if k in m]
        for what, x, y in pairs:
            if x is None or y is None:
                bad += (x is None) != (y is None)
                continue
            excess = abs(x - y) / (atol + rtol * abs(y))
            if excess > worst:
                worst, worst_name = excess, "epoch %d %s" % (ra["epoch"], what)
            bad += excess > 1
    print("%d tensors, %d step and %d epoch records; largest difference %.3g of the tolerance (rtol %g, atol %g) "
          "at %s; %d values over" % (len(ta), len(sa), len(ea), worst, rtol, atol, worst_name, bad))
    if expect_differ:
        return 0 if bad else 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
