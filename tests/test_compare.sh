#!/bin/sh
# `clmtl compare` on a tiny study (a two-task copy of tiny.cfg, 16x32 images, one epoch, three
# seeds; about 2 s per run): the table's mean, sample std and Δm% are recomputed here in python3
# from each run's own log.jsonl (its last epoch record) and compared with the JSON and CSV the
# command wrote; a second invocation skips every finished run (result.json and log.jsonl
# untouched) and a run whose result.json is gone is the only one run again; a malformed study
# file, an unknown weighting and an option `clmtl train` refuses are each refused naming
# file:line before any run starts. Skips (77) without python3.
set -u
clmtl="$1"
models="$2"
. "$(dirname "$0")/check.sh"
command -v python3 > /dev/null || { echo "no python3: skipped"; exit 77; }

# the tiny model without its instance task: two tasks keep the study small
awk '/^\[/{skip = ($0 == "[instance_head]" || $0 == "[task.instance]")} !skip' "$models/tiny.cfg" > "$dir/two.cfg"

cat > "$dir/study.ini" <<EOF
[study]
name = tiny-study
model = $dir/two.cfg
epochs = 1
seeds = 4, 5, 6
out = $dir/out
size = 16x32
batch = 4
train-count = 8
val-count = 8
log-every = 100

[run.seg]
single = semantic

[run.depth]
single = depth

[run.equal]
weighting = equal

[grid.fixed]
weights = 0.7,0.3
EOF

"$clmtl" compare "$dir/study.ini" > "$dir/first.log" 2>&1
check "compare runs the study (exit 0)" $?
for ext in md csv json png; do
  test -s "$dir/out/tiny-study.$ext"; check "it writes tiny-study.$ext" $?
done
test "$(grep -c '\.\.\. [0-9.]* s$' "$dir/first.log")" -eq 12
check "12 runs (4 runs x 3 seeds) trained" $?
grep -q -- "--task-weights 1,0\|\"task-weights\":\"1,0\"" "$dir/out/seg/seed-4/log.jsonl"
check "the semantic baseline trained with weights 1,0" $?

python3 - "$dir/out" > "$dir/py.log" 2>&1 <<'EOF'
import csv, json, math, os, sys
out = sys.argv[1]
table = json.load(open(os.path.join(out, "tiny-study.json")))
rows = {r["run"]: r for r in csv.DictReader(open(os.path.join(out, "tiny-study.csv")))}
tasks = [("semantic", "miou", +1), ("depth", "mae", -1)]
seeds = [4, 5, 6]

def last_epoch(run, seed):
    recs = [json.loads(l) for l in open(os.path.join(out, run, "seed-%d" % seed, "log.jsonl"))]
    recs = [r for r in recs if r.get("event") == "epoch"]
    return max(recs, key=lambda r: r["epoch"])

def mean_std(xs):
    m = sum(xs) / len(xs)
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))

def close(a, b):
    return abs(a - b) <= 1e-5 * max(1.0, abs(a), abs(b))

metric = {(run, s): [last_epoch(run, s)["tasks"][t][k] for t, k, _ in tasks]
          for run in ["seg", "depth", "equal", "fixed-0.7-0.3"] for s in seeds}
bad = 0
for r in table["runs"]:
    name = r["name"]
    for i, (t, k, _) in enumerate(tasks):
        m, sd = mean_std([metric[(name, s)][i] for s in seeds])
        got = r["tasks"][t]
        if not (close(got["mean"], m) and close(got["std"], sd)):
            print("FAIL", name, t, "json", got["mean"], got["std"], "recomputed", m, sd); bad += 1
        if not (close(float(rows[name]["%s_%s_mean" % (t, k)]), m) and close(float(rows[name]["%s_%s_std" % (t, k)]), sd)):
            print("FAIL", name, t, "csv", rows[name]["%s_%s_mean" % (t, k)], "recomputed", m); bad += 1
    # delta_m per seed against the single-task runs of the same seed: mean over tasks of
    # sign * (M - B) / B, sign +1 where higher is better
    dms = []
    for s in seeds:
        base = [metric[("seg", s)][0], metric[("depth", s)][1]]
        dms.append(100 * sum(sign * (metric[(name, s)][i] - base[i]) / base[i]
                             for i, (_, _, sign) in enumerate(tasks)) / len(tasks))
    m, sd = mean_std(dms)
    if r["kind"] == "single-task":
        if r["delta_m_pct_mean"] is not None or rows[name]["delta_m_pct_mean"] != "":
            print("FAIL", name, "a single-task run has a delta_m"); bad += 1
        continue
    if not (close(r["delta_m_pct_mean"], m) and close(r["delta_m_pct_std"], sd)):
        print("FAIL", name, "delta_m", r["delta_m_pct_mean"], r["delta_m_pct_std"], "recomputed", m, sd); bad += 1
    if not close(float(rows[name]["delta_m_pct_mean"]), m):
        print("FAIL", name, "delta_m csv", rows[name]["delta_m_pct_mean"], "recomputed", m); bad += 1
    print(name, "ok" if not bad else "", m)
# non-dominated among the multi-task runs' means (single-task runs never are)
pts = {r["name"]: [r["tasks"][t]["mean"] * sign for t, _, sign in tasks]
       for r in table["runs"] if r["kind"] != "single-task"}
for r in table["runs"]:
    p = pts.get(r["name"])
    nd = p is not None and not any(all(q[i] >= p[i] for i in range(len(p))) and q != p
                                   for n, q in pts.items() if n != r["name"])
    if nd != r["nondominated"]:
        print("FAIL", r["name"], "nondominated", r["nondominated"], "recomputed", nd); bad += 1
sys.exit(1 if bad else 0)
EOF
rc=$?
cat "$dir/py.log"
check "mean, std, delta_m% and the non-dominated runs match an independent recomputation from the runs' log.jsonl" $rc
grep -q "Δm" "$dir/out/tiny-study.md" && grep -q "| equal" "$dir/out/tiny-study.md"
check "the Markdown table has the runs and the delta_m column" $?

# resume: a second invocation skips every finished run, touching none of their files
ls -l --time-style=+%s.%N "$dir"/out/*/seed-*/log.jsonl "$dir"/out/*/seed-*/result.json > "$dir/before.txt"
sleep 1
"$clmtl" compare "$dir/study.ini" > "$dir/second.log" 2>&1
check "a second invocation succeeds" $?
test "$(grep -c 'finished before, skipped' "$dir/second.log")" -eq 12 && ! grep -q '\.\.\. [0-9.]* s$' "$dir/second.log"
check "it skips all 12 finished runs and trains none" $?
ls -l --time-style=+%s.%N "$dir"/out/*/seed-*/log.jsonl "$dir"/out/*/seed-*/result.json > "$dir/after.txt"
cmp -s "$dir/before.txt" "$dir/after.txt"
check "their log.jsonl and result.json are untouched" $?
rm "$dir/out/equal/seed-5/result.json"
"$clmtl" compare "$dir/study.ini" > "$dir/third.log" 2>&1
check "an invocation after one result.json was removed succeeds" $?
test "$(grep -c 'finished before, skipped' "$dir/third.log")" -eq 11 && grep -q "equal seed 5.*\.\.\. [0-9.]* s$" "$dir/third.log"
check "only that run is taken up again" $?

# A stop request (SIGTERM here: a background job of a script ignores SIGINT): the running child
# gets it once, saves and stops; compare stops (143); the next invocation resumes that run from
# its last.safetensors
sed "s|out = $dir/out|out = $dir/int|; s/^epochs = 1$/epochs = 2/; s/^train-count = 8$/train-count = 64/; /^\[run.equal\]/,\$d" \
  "$dir/study.ini" > "$dir/int.ini"
"$clmtl" compare "$dir/int.ini" > "$dir/int.log" 2>&1 &
pid=$!
i=0
while [ $i -lt 300 ] && ! grep -q "^epoch 1/2 step" "$dir/int/seg/seed-4/console.txt" 2> /dev/null; do
  sleep 0.1
  i=$((i + 1))
done
kill -TERM $pid
wait $pid
rc=$?
test $rc -eq 143 && grep -q "stopped during seg seed 4" "$dir/int.log" && test -s "$dir/int/seg/seed-4/last.safetensors"
check "SIGTERM stops the study (143) after the running child saved its state" $?
test ! -e "$dir/int/seg/seed-5"; check "no later run started" $?
"$clmtl" compare "$dir/int.ini" > "$dir/int2.log" 2>&1
test $? -eq 0 && grep -q "seg seed 4 (resumed)" "$dir/int2.log" && grep -q '"event":"resume"' "$dir/int/seg/seed-4/log.jsonl"
check "the next invocation resumes the interrupted run and finishes" $?

# refusals before any run: a malformed line, an unknown weighting, an option train refuses
refused() { # NAME FILE PATTERN
  rm -rf "$dir/out2"
  "$clmtl" compare "$2" > "$dir/r.log" 2>&1
  rc=$?
  test $rc -eq 2 && grep -q -- "$3" "$dir/r.log" && test ! -e "$dir/out2"
  check "$1 (exit 2, message '$3', no run started)" $?
}
sed "s|out = $dir/out|out = $dir/out2|" "$dir/study.ini" > "$dir/base.ini"
sed 's/^epochs = 1$/epochs = one/' "$dir/base.ini" > "$dir/bad1.ini"
refused "a bad number" "$dir/bad1.ini" "bad1.ini:4: epochs = 'one'"
sed 's/^batch = 4$/batch 4/' "$dir/base.ini" > "$dir/bad2.ini"
refused "a line without '='" "$dir/bad2.ini" "bad2.ini:8: expected 'key = value'"
sed 's/^weighting = equal$/weighting = equall/' "$dir/base.ini" > "$dir/bad3.ini"
refused "an unknown weighting" "$dir/bad3.ini" "bad3.ini:20: weighting = equall: unknown weighting"
sed 's/^seeds = 4, 5, 6$/seeds = 4, 5/' "$dir/base.ini" > "$dir/bad4.ini"
refused "fewer than 3 seeds" "$dir/bad4.ini" "bad4.ini:5: .*at least 3 seeds"
sed 's/^single = depth$/single = dpth/' "$dir/base.ini" > "$dir/bad5.ini"
refused "an unknown task" "$dir/bad5.ini" "bad5.ini:17: single = dpth: the model .* has no such task"
sed 's/^weights = 0.7,0.3$/weights = 0.7,0.3,0.1/' "$dir/base.ini" > "$dir/bad6.ini"
refused "a weight list longer than the tasks" "$dir/bad6.ini" "bad6.ini:23: .*more than 2 weights"
printf '\n[run.odd]\nweighting = equal\nfrobnicate = 1\n' | cat "$dir/base.ini" - > "$dir/bad7.ini"
refused "an option clmtl train refuses" "$dir/bad7.ini" "bad7.ini:25: \[run.odd\]: 'clmtl train' refuses"
grep -q "unknown option '--frobnicate'" "$dir/r.log"; check "... naming the option" $?
finish
