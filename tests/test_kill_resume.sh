#!/bin/sh
# Faults: a training run killed with SIGKILL at random moments, many times, including while it
# writes checkpoints. After every kill the last checkpoint on disk must load (clmtl eval), and
# `--resume` must carry on from it; in the end the run completes every epoch, and no temporary
# checkpoint file of a killed process is left (each start sweeps them).
set -u
clmtl="$1"
models="$2"
kills="${3:-12}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
run="$dir/run"
opts="--model $models/tiny.cfg --size 32x64 --batch 4 --train-count 32 --val-count 8 --epochs 25 \
  --patience 0 --schedule step --log-every 1000"
pass=0
fail=0
seed=12345
for k in $(seq 1 "$kills"); do
  if [ -f "$run/last.safetensors" ]; then
    "$clmtl" train $opts --resume "$run" > "$dir/out.log" 2>&1 &
  else # killed before its first checkpoint (a loaded machine): start again over that run
    "$clmtl" train $opts --out "$run" --overwrite > "$dir/out.log" 2>&1 &
  fi
  pid=$!
  # 0.5 to 4.5 s: start-up plus a few epochs, so kills land in training steps, validation
  # and checkpoint writes alike
  seed=$(( (seed * 1103515245 + 12345) % 2147483648 )) # a fixed pseudo-random sequence
  ms=$(( 500 + (seed / 65536) % 4000 ))
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  if [ -f "$run/last.safetensors" ]; then
    if "$clmtl" eval --model "$run/last.safetensors" --count 4 --batch 4 > "$dir/eval.log" 2>&1; then
      pass=$((pass + 1))
      echo "[PASS] kill $k at ${ms} ms: last.safetensors loads ($(grep -o '"event":"epoch","epoch":[0-9]*' "$run/log.jsonl" | tail -1))"
    else
      echo "[FAIL] after kill $k (at ${ms} ms) last.safetensors does not load:"; cat "$dir/eval.log"
      fail=$((fail + 1))
    fi
    if [ -f "$run/best.safetensors" ] && ! "$clmtl" eval --model "$run/best.safetensors" --count 4 --batch 4 > "$dir/eval.log" 2>&1; then
      echo "[FAIL] after kill $k best.safetensors does not load"; fail=$((fail + 1))
    fi
  fi
done
echo "[INFO] $kills kills; epochs logged so far: $(grep -c '"event":"epoch"' "$run/log.jsonl" 2>/dev/null)"
# let it finish
if [ -f "$run/last.safetensors" ]; then
  "$clmtl" train $opts --resume "$run" > "$dir/out.log" 2>&1
else
  "$clmtl" train $opts --out "$run" --overwrite > "$dir/out.log" 2>&1
fi
if [ $? -eq 0 ]; then pass=$((pass + 1)); echo "[PASS] the run completes after $kills kills"; else
  fail=$((fail + 1)); echo "[FAIL] the final resume failed:"; tail -5 "$dir/out.log"; fi
epoch=$("$clmtl" eval --model "$run/last.safetensors" --count 4 --batch 4 > /dev/null 2>&1 && \
  grep -o '"event":"epoch","epoch":[0-9]*' "$run/log.jsonl" | tail -1 | cut -d: -f3)
if [ "$epoch" = "25" ]; then pass=$((pass + 1)); echo "[PASS] the last logged epoch is the 25th (1-based)"; else
  fail=$((fail + 1)); echo "[FAIL] last logged epoch is '$epoch', want 25"; fi
if ls "$run" | grep -q '\.tmp\.'; then fail=$((fail + 1)); echo "[FAIL] temporary files left: $(ls "$run" | grep '\.tmp\.')"; else
  pass=$((pass + 1)); echo "[PASS] no temporary checkpoint file is left in the run directory"; fi
echo "[INFO] checkpoints loaded after kills: $pass checks"
echo "$pass passed, $fail failed"
test "$fail" -eq 0
