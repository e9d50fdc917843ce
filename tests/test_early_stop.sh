#!/bin/sh
# Per-task early stopping (--early-stop-patience N, src/train/early_stop.c) on a two-task copy
# of tiny.cfg whose depth head reads the image directly (so with depth's weight 0 nothing moves
# its prediction: its validation MAE cannot improve). Checked in python3 against the rule
# recomputed from each epoch record of log.jsonl: a task stops after N epochs in a row without a
# strictly better metric (mIoU higher, MAE lower), the task_stop records and the number of
# epochs agree, best-<task>.safetensors holds the task's best epoch; after a stop the task's
# weight and loss in every step record are 0 (excluded from the step); a run stopped and
# resumed stops its tasks at the same epochs as one run straight through; MGDA-UB with a task
# left out trains on without a non-finite step. Skips (77) without python3.
set -u
clmtl="$1"
models="$2"
. "$(dirname "$0")/check.sh"
command -v python3 > /dev/null || { echo "no python3: skipped"; exit 77; }

awk '/^\[/{skip = ($0 == "[instance_head]" || $0 == "[task.instance]")} !skip' "$models/tiny.cfg" |
  awk '/^\[depth_head\]/{d = 1} d && /^from = /{print "from = input"; d = 0; next} {print}' > "$dir/two.cfg"
common="--model $dir/two.cfg --size 16x32 --batch 4 --train-count 16 --val-count 8 --patience 0 --log-every 1 --seed 1"

# 1: depth's weight 0: its metric cannot improve, it stops after N = 2 epochs, best epoch 1
"$clmtl" train $common --epochs 6 --weighting fixed --task-weights 1,0 --early-stop-patience 2 \
  --out "$dir/a" > "$dir/a.log" 2>&1
check "train --early-stop-patience 2 (fixed weights 1,0)" $?
# 2: equal weights, SGD without momentum, patience 1, constant lr: straight through and in two parts
sgd="--weighting equal --optimizer sgd --momentum 0 --lr 0.1 --schedule constant --early-stop-patience 1"
"$clmtl" train $common $sgd --epochs 8 --out "$dir/b" > "$dir/b.log" 2>&1
check "train --early-stop-patience 1 (equal, SGD)" $?
"$clmtl" train $common $sgd --epochs 2 --out "$dir/c" > "$dir/c.log" 2>&1 &&
  "$clmtl" train --resume "$dir/c" --epochs 8 >> "$dir/c.log" 2>&1
check "the same run in two parts (--resume)" $?

# 3: a gradient method (per-task gradients, a min-norm solve) with a task left out: the original
# tiny head layout, whose layers the two tasks share
awk '/^\[/{skip = ($0 == "[instance_head]" || $0 == "[task.instance]")} !skip' "$models/tiny.cfg" > "$dir/shared.cfg"
"$clmtl" train $common --model "$dir/shared.cfg" --epochs 6 --weighting mgda-ub --optimizer sgd --momentum 0 \
  --lr 0.1 --schedule constant --early-stop-patience 1 --out "$dir/m" > "$dir/m.log" 2>&1
check "train --weighting mgda-ub --early-stop-patience 1" $?

python3 - "$dir" > "$dir/py.log" 2>&1 <<'EOF'
import json, os, struct, sys
d = sys.argv[1]
bad = 0
def fail(*a):
    global bad
    print("FAIL", *a); bad += 1

def records(run):
    return [json.loads(l) for l in open(os.path.join(d, run, "log.jsonl"))]

def epoch_of(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return int(json.loads(f.read(n))["__metadata__"]["epoch"])

def expected(run, patience, epochs):
    """the rule, from the epoch records: per task its best epoch and the epoch it stops"""
    ep = {}
    for r in records(run):
        if r.get("event") == "epoch": ep[r["epoch"]] = r
    tasks = list(ep[1]["tasks"])
    best, best_epoch, since, stop = {}, {}, {}, {}
    for e in sorted(ep):
        for t in tasks:
            if t in stop: continue
            m = ep[e]["tasks"][t]
            v, higher = (m["miou"], True) if "miou" in m else (m["mae"], False)
            if t not in best or (v > best[t] if higher else v < best[t]):
                best[t], best_epoch[t], since[t] = v, e, 0
            else:
                since[t] += 1
            if since[t] >= patience: stop[t] = e
        if len(stop) == len(tasks): break
    last = max(stop.values()) if len(stop) == len(tasks) else epochs
    return ep, best_epoch, stop, last

def check_run(run, patience, epochs):
    ep, best_epoch, stop, last = expected(run, patience, epochs)
    got = {r["task"]: r for r in records(run) if r.get("event") == "task_stop"}
    if set(got) != set(stop): fail(run, "stopped tasks", sorted(got), "expected", sorted(stop))
    for t, e in stop.items():
        if t in got and (got[t]["epoch"] != e or got[t]["best_epoch"] != best_epoch[t]):
            fail(run, t, "task_stop", got[t], "expected epoch", e, "best", best_epoch[t])
    if max(ep) != last: fail(run, "epochs trained", max(ep), "expected", last)
    for t, e in best_epoch.items():
        path = os.path.join(d, run, "best-%s.safetensors" % t)
        if not os.path.exists(path) or epoch_of(path) != e: fail(run, path, "not epoch", e)
    # after its stop a task is out of every step: weight 0 and loss 0
    after = 0
    for r in records(run):
        if r.get("event") != "step": continue
        for t, e in stop.items():
            if r["epoch"] > e:
                after += 1
                if r["weights"][t] != 0 or r["losses"][t] != 0: fail(run, "step", r["step"], t, r["weights"][t], r["losses"][t])
    print(run, "stops", stop, "best", best_epoch, "epochs", max(ep), "steps after a stop", after)
    return stop, best_epoch, after

stop, best, _ = check_run("a", 2, 6)
if stop.get("depth") != 3 or best.get("depth") != 1: fail("a: depth should stop at epoch 3 with best epoch 1:", stop, best)
stop_b, best_b, after = check_run("b", 1, 8)
if after == 0: fail("b: no step after a task stopped: the exclusion was not exercised")
stop_c, best_c, _ = check_run("c", 1, 8)
if (stop_c, best_c) != (stop_b, best_b): fail("resumed run stops", stop_c, best_c, "straight run", stop_b, best_b)
stop_m, _, _ = check_run("m", 1, 6)
if not stop_m: fail("m: no task stopped")
if any(r.get("skipped_steps") for r in records("m") if r.get("event") == "epoch"): fail("m: non-finite steps")
sys.exit(1 if bad else 0)
EOF
rc=$?
cat "$dir/py.log"
check "stops, best epochs, best-<task> checkpoints and excluded steps follow the rule recomputed from the log" $rc
"$clmtl" train $common --epochs 1 --early-stop-patience x --out "$dir/x" > "$dir/x.log" 2>&1
test $? -eq 2 && grep -q "early-stop-patience x" "$dir/x.log"
check "a bad --early-stop-patience is refused" $?
finish
