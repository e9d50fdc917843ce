#!/bin/bash
# Data-parallel training over MPI ranks (src/dist/, include/clmtl/dist.h), on this machine's one
# PoCL device shared by the ranks (one PoCL thread each). Modes, one ctest entry each:
#   equiv      mpirun -np 2 with global batch 8 equals one rank with batch 8 (tests/models/
#              tiny_nobn.cfg): every step's losses, weights and σ, and every tensor of the last
#              checkpoint (weights, task parameters, optimizer moments) within float32 tolerance
#              (tests/mpi_compare.py); the ranks' parameters identical after every step
#              (--check-replicas, hashes); the check and the comparison both shown to fail on
#              a difference (--inject-drift-at, another seed); a one-rank run resumed on two
#              ranks equals it resumed on one
#   weighting  fixed, uncertainty, dwa and gradnorm under 2 ranks each equal their one-rank run;
#              so does soft availability gating (a share of the global batch's targets)
#   bn         tiny.cfg (batch norm): per-rank statistics keep the replicas identical after every
#              step and differ from one rank; --sync-bn equals one rank with the global batch;
#              bench --ranks at 1 and 2 ranks writes its CSV rows
#   earlystop  --early-stop-patience 1 (two tasks stop after epoch 2, depth trains on) under 2 ranks
#              equals one rank: the same task_stop records, the stopped tasks masked on every
#              rank (the losses, weights and parameters after the stop), the same best-<task>
#              checkpoints and early_stop.json; so does a two-rank run stopped after epoch 2 and
#              resumed on two ranks
#   gradmethods pcgrad, imtl-g, cagrad, aligned-mtl and mgda-ub under 2 ranks each equal their
#              one-rank run with the global batch
#   faults     a rank killed mid-run ends the job within seconds with mpirun's message naming
#              rank, host and signal, and --resume with one rank completes; a rank whose device
#              does not exist ends every rank with a message naming rank, host and cause; a
#              global batch that is not a multiple of the ranks is refused
# usage: test_mpi.sh CLMTL SOURCE_DIR MODE
set -u
clmtl="$1"
src="$2"
mode="$3"
. "$src/tests/check.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# one PoCL thread per rank: 2 ranks on a 2-core machine (PoCL 3.1 reads POCL_MAX_PTHREAD_COUNT)
export POCL_MAX_PTHREAD_COUNT=1
# under the sanitizer run (tests/sanitize/run.sh): full stacks, so that LeakSanitizer can tell
# Open MPI's own leaks (tests/sanitize/lsan.supp) from ours
if [ -n "${ASAN_OPTIONS:-}" ]; then export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0"; fi
mpi="mpirun --allow-run-as-root --oversubscribe -x POCL_MAX_PTHREAD_COUNT -x CLMTL_CACHE_DIR"
compare="python3 $src/tests/mpi_compare.py"
small="--size 32x64 --val-count 8 --log-every 1 --patience 0 --seed 3"
nobn="--model $src/tests/models/tiny_nobn.cfg"

# one_vs_two NAME OPTIONS...: the same run on one rank (no mpirun) and on two; compares them
one_vs_two() {
  name=$1
  shift
  "$clmtl" train "$@" --out "$dir/$name-1" > "$dir/$name-1.log" 2>&1
  check "$name: one rank trains" $?
  $mpi -np 2 "$clmtl" train "$@" --check-replicas --out "$dir/$name-2" > "$dir/$name-2.log" 2>&1
  rc=$?
  check "$name: two ranks train" $rc
  [ $rc -eq 0 ] || tail -20 "$dir/$name-2.log"
  grep -q '"kind":"replicas".*identical after each of [1-9]' "$dir/$name-2/log.jsonl"
  check "$name: the two ranks' parameters were identical after every step" $?
  $compare "$dir/$name-1" "$dir/$name-2" ${compare_opts:-}
  check "$name: two ranks (global batch 8) equal one rank (batch 8)" $?
}

case "$mode" in
equiv)
  t0=$(date +%s)
  one_vs_two nobn $nobn $small --batch 8 --train-count 32 --epochs 2
  grep -q "2 ranks, global batch 8 (4 per rank)" "$dir/nobn-2.log"
  check "rank 0 reports the ranks and the per-rank batch" $?
  [ "$(grep -c 'run directory' "$dir/nobn-2.log")" = 2 ] # the first line and the summary: rank 0 alone
  check "rank 0 alone prints" $?
  # --resume with another number of ranks: the one-rank run continued for a third epoch on two
  # ranks equals it continued on one
  cp -r "$dir/nobn-1" "$dir/res-1" && cp -r "$dir/nobn-1" "$dir/res-2"
  "$clmtl" train --resume "$dir/res-1" --epochs 3 > "$dir/res-1.log" 2>&1
  check "resume: one rank continues a one-rank run" $?
  $mpi -np 2 "$clmtl" train --resume "$dir/res-2" --epochs 3 --check-replicas > "$dir/res-2.log" 2>&1
  check "resume: two ranks continue a one-rank run" $?
  grep -q '"event":"epoch","epoch":3' "$dir/res-2/log.jsonl" && $compare "$dir/res-1" "$dir/res-2"
  check "resume: two ranks continuing equal one rank continuing" $?
  # the comparison can fail: another seed differs
  "$clmtl" train $nobn $small --batch 8 --train-count 32 --epochs 2 --seed 4 --out "$dir/seed4" > /dev/null 2>&1
  $compare "$dir/nobn-1" "$dir/seed4" --expect-differ
  check "negative control: the comparison tells another seed apart" $?
  # the replica check can fail: one rank's parameter moved after step 3
  $mpi -np 2 "$clmtl" train $nobn $small --batch 8 --train-count 32 --epochs 2 --check-replicas \
    --inject-drift-at 3 --out "$dir/drift" > "$dir/drift.log" 2>&1
  rc=$?
  [ $rc -ne 0 ] && grep -q "after step 4 the parameters of 1 rank(s) differ from rank 0's" "$dir/drift.log"
  check "negative control: --check-replicas stops a run whose replicas drifted, naming the step" $?
  echo "[INFO] equiv: $(( $(date +%s) - t0 )) s"
  ;;
weighting)
  for w in fixed uncertainty dwa gradnorm; do
    one_vs_two "$w" $nobn $small --batch 8 --train-count 16 --epochs 3 --weighting "$w"
  done
  # availability gating: each task's share of valid targets is of the global batch
  one_vs_two gating $nobn $small --batch 8 --train-count 16 --epochs 2 --weighting uncertainty \
    --gating soft --gate-threshold 0.9
  # dwa's weights moved off 1 in the third epoch, so the comparison covered them
  grep '"event":"step","epoch":3' "$dir/dwa-2/log.jsonl" | tail -1 | grep -vq '"weights":{"semantic":1,"instance":1,"depth":1}'
  check "dwa: the third epoch's weights are not all 1 (the comparison saw DWA act)" $?
  ;;
bn)
  bn="--model $src/models/tiny.cfg $small --batch 8 --train-count 32 --epochs 2"
  "$clmtl" train $bn --out "$dir/bn-1" > "$dir/bn-1.log" 2>&1
  check "batch norm: one rank trains" $?
  $mpi -np 2 "$clmtl" train $bn --check-replicas --out "$dir/bn" > "$dir/bn.log" 2>&1
  check "batch norm per rank: two ranks train" $?
  grep -q '"kind":"replicas".*identical after each of 8 steps' "$dir/bn/log.jsonl"
  check "batch norm per rank: parameters identical on both ranks after each of 8 steps" $?
  "$clmtl" eval --model "$dir/bn/last.safetensors" --count 4 --batch 4 > /dev/null 2>&1
  check "batch norm per rank: rank 0's checkpoint (statistics averaged over the ranks) loads" $?
  $compare "$dir/bn-1" "$dir/bn" --expect-differ
  check "batch norm per rank: differs from one rank with the global batch (statistics of 4, not 8)" $?
  $mpi -np 2 "$clmtl" train $bn --sync-bn --check-replicas --out "$dir/sync" > "$dir/sync.log" 2>&1
  check "--sync-bn: two ranks train" $?
  grep -q '"kind":"replicas".*identical after each of 8 steps' "$dir/sync/log.jsonl"
  check "--sync-bn: parameters identical on both ranks after each of 8 steps" $?
  # statistics merged in double from float partial moments: rtol 2e-4 (the others: 1e-4)
  $compare "$dir/bn-1" "$dir/sync" --rtol 2e-4
  check "--sync-bn: two ranks (global batch 8) equal one rank (batch 8): losses, metrics, weights, running statistics, moments" $?
  # bench --ranks at 1 and 2 ranks: one CSV row each, the reductions' share within [0, 1]
  for n in 1 2; do
    $mpi -np $n "$clmtl" bench --ranks "$src/models/tiny.cfg" --size 32x64 --steps 2 --warmup 1 \
      --csv "$dir/scaling.csv" > "$dir/bench-$n.log" 2>&1
    check "bench --ranks runs on $n rank(s)" $?
  done
  cat "$dir/bench-1.log" "$dir/bench-2.log"
  awk -F, 'NR > 1 { rows++; if ($2 != NR - 1 || $10 < 0 || $10 > 1 || $7 <= 0) bad = 1; if ($2 == 1 && $10 != 0) bad = 1 }
           END { exit !(rows == 2 && !bad) }' "$dir/scaling.csv"
  check "bench --ranks: a CSV row per run (ranks 1, 2), no reductions on one rank, a share in [0, 1] on two" $?
  ;;
earlystop)
  t0=$(date +%s)
  one_vs_two es $nobn $small --batch 8 --train-count 16 --epochs 5 --early-stop-patience 1 \
    --optimizer sgd --momentum 0 --lr 0.1 --schedule constant
  # the task_stop records (task, epoch, best epoch; the best metric to 1e-5) and the state file
  python3 - "$dir/es-1" "$dir/es-2" <<'EOF'
import json, sys
def stops(d):
    return [r for r in map(json.loads, open(d + "/log.jsonl")) if r.get("event") == "task_stop"]
a, b = stops(sys.argv[1]), stops(sys.argv[2])
ja, jb = (json.load(open(d + "/early_stop.json")) for d in sys.argv[1:])
same = len(a) == len(b) >= 1 and all(
    (x["task"], x["epoch"], x["best_epoch"]) == (y["task"], y["epoch"], y["best_epoch"])
    and abs(x["best"] - y["best"]) <= 1e-5 * abs(y["best"]) for x, y in zip(a, b))
same = same and all(ja[k] == jb[k] for k in ("best_epoch", "since", "stopped"))
print("task_stop records:", [(r["task"], r["epoch"]) for r in a], "vs", [(r["task"], r["epoch"]) for r in b])
sys.exit(not same)
EOF
  check "earlystop: the same task_stop records and early_stop.json on two ranks" $?
  grep -q '"event":"epoch","epoch":5' "$dir/es-1/log.jsonl" && grep -q '"event":"task_stop"' "$dir/es-1/log.jsonl"
  check "earlystop: a task stopped and training went on to epoch 5 (the comparison covers the masked steps)" $?
  for f in "$dir"/es-1/best-*.safetensors; do
    b=$(basename "$f")
    PYTHONPATH="$src/tests" python3 -c 'import sys; from mpi_compare import read_safetensors as r
a, b = r(sys.argv[1]), r(sys.argv[2])
sys.exit(set(a) != set(b) or any(abs(x - y) > 1e-6 + 1e-4 * abs(y) for k in a for x, y in zip(a[k], b[k])))' \
      "$f" "$dir/es-2/$b" 2>&1
    check "earlystop: two ranks' $b equals one rank's" $?
  done
  # --resume on two ranks after the stop: rank 0 reads early_stop.json and sends the state, so
  # rank 1 masks the stopped tasks too
  $mpi -np 2 "$clmtl" train $nobn $small --batch 8 --train-count 16 --epochs 2 --early-stop-patience 1 \
    --optimizer sgd --momentum 0 --lr 0.1 --schedule constant --out "$dir/esr" > "$dir/esr.log" 2>&1 &&
    $mpi -np 2 "$clmtl" train --resume "$dir/esr" --epochs 5 --check-replicas >> "$dir/esr.log" 2>&1
  check "earlystop: two ranks, stopped after epoch 2 and resumed to 5" $?
  $compare "$dir/es-1" "$dir/esr"
  check "earlystop: resumed on two ranks equals one rank straight through" $?
  echo "[INFO] earlystop: $(( $(date +%s) - t0 )) s"
  ;;
gradmethods)
  t0=$(date +%s)
  # the solves (projections, inverses, eigenvectors of the Gram) amplify the float32 rounding
  # of the two-part sums, and a small weight (imtl-g's depth, ~1e-3) is a difference of weights
  # near 1: rtol 1e-3, atol 1e-5; a Gram of one rank's rows misses by 160x to 1100x that. SGD,
  # not Adam, whose m/sqrt(v) turns the rounding of a near-zero gradient into a whole step
  compare_opts="--rtol 1e-3 --atol 1e-5"
  for w in pcgrad imtl-g cagrad aligned-mtl mgda-ub; do
    one_vs_two "$w" $nobn $small --batch 8 --train-count 24 --epochs 1 --weighting "$w" --optimizer sgd --lr 0.05
  done
  echo "[INFO] gradmethods: $(( $(date +%s) - t0 )) s"
  ;;
faults)
  # a rank killed mid-run
  $mpi -np 2 "$clmtl" train $nobn $small --batch 8 --train-count 64 --epochs 40 --log-every 1000 \
    --out "$dir/kill" > "$dir/kill.log" 2>&1 &
  job=$!
  victim=""
  for _ in $(seq 1 300); do # until an epoch's checkpoint exists, then rank 1's process
    if [ -f "$dir/kill/last.safetensors" ]; then
      for p in $(pgrep -f "$dir/kill" ); do
        grep -qz '^OMPI_COMM_WORLD_RANK=1$' "/proc/$p/environ" 2>/dev/null && victim=$p
      done
      [ -n "$victim" ] && break
    fi
    sleep 0.1
  done
  [ -n "$victim" ]
  check "found rank 1's process after the first checkpoint" $?
  kill -9 "$victim" 2>/dev/null
  t0=$(date +%s%N)
  for _ in $(seq 1 200); do kill -0 "$job" 2>/dev/null || break; sleep 0.1; done
  took=$(awk "BEGIN { printf \"%.1f\", ($(date +%s%N) - $t0) / 1e9 }")
  if kill -0 "$job" 2>/dev/null; then kill -9 "$job"; check "the job ends after rank 1 is killed" 1; fi
  wait "$job"
  rc=$?
  echo "[INFO] the job ended $took s after rank 1 was killed, status $rc"
  [ "$rc" -ne 0 ] && awk "BEGIN { exit !($took < 10) }"
  check "the job ends within 10 s with a failure status" $?
  grep -q "rank 1 .* on node $(hostname) .*signal 9" "$dir/kill.log"
  check "the message names rank 1, the host and signal 9" $?
  grep -B1 -A3 "rank 1" "$dir/kill.log" | head -6
  last=$(grep -o '"event":"epoch","epoch":[0-9]*' "$dir/kill/log.jsonl" | tail -1 | cut -d: -f3)
  "$clmtl" train --resume "$dir/kill" --epochs $((last + 1)) > "$dir/resume.log" 2>&1
  check "--resume on one rank completes from the last checkpoint (epoch $last)" $?
  grep -q "\"event\":\"epoch\",\"epoch\":$((last + 1))" "$dir/kill/log.jsonl"
  check "the resumed run logs its last epoch" $?
  # a rank whose device is missing
  t0=$(date +%s)
  $mpi -np 2 "$clmtl" train $nobn $small --batch 8 --train-count 32 --epochs 2 --device 0:0,9:9 \
    --out "$dir/baddev" > "$dir/baddev.log" 2>&1
  rc=$?
  took=$(( $(date +%s) - t0 ))
  [ $rc -ne 0 ] && [ $took -lt 30 ] && grep -q "clmtl train: rank 1 of 2 on $(hostname): .*no OpenCL device matches \"9:9\"" "$dir/baddev.log"
  check "a missing device on rank 1 ends the job (${took} s), naming rank, host and cause" $?
  # refused up front
  $mpi -np 2 "$clmtl" train $nobn $small --batch 7 --train-count 32 --epochs 1 --out "$dir/odd" > "$dir/odd.log" 2>&1
  [ $? -ne 0 ] && grep -q "must be a multiple of 2" "$dir/odd.log"
  check "a global batch that is not a multiple of the ranks is refused" $?
  ;;
*)
  echo "unknown mode $mode"
  exit 2
  ;;
esac
finish
