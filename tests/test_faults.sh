#!/bin/sh
# Faults other than kills: a loss that turns NaN mid-run (injected) skips updates and, after
# N bad steps in a row, stops the run with a message while the last checkpoint stays good;
# no OpenCL platform at all is a clear error; several processes sharing one program cache
# directory, cold, warm and with corrupted entries, never load a broken binary.
set -u
clmtl="$1"
models="$2"
. "$(dirname "$0")/check.sh"
small="--model $models/tiny.cfg --size 32x64 --batch 4 --train-count 32 --val-count 8 --patience 0"

"$clmtl" train $small --epochs 8 --inject-nan-from 20 --max-bad-steps 6 --log-every 2 --out "$dir/badloss" > "$dir/badloss.log" 2>&1
rc=$?
test $rc -eq 1 && grep -q "in a row had a NaN or Inf loss" "$dir/badloss.log"
check "NaN losses from step 20 stop the run after 6 bad steps in a row, with a message" $?
grep -q "non-finite steps skipped" "$dir/badloss.log"; check "the skipped steps are reported" $?
"$clmtl" eval --model "$dir/badloss/last.safetensors" --count 8 --batch 4 > "$dir/eval.log" 2>&1
test $? -eq 0 && ! grep -qiw "nan" "$dir/eval.log"
check "the last checkpoint loads and evaluates to finite numbers" $?

OCL_ICD_VENDORS="$dir/no-vendors" "$clmtl" devices > "$dir/none.log" 2>&1
test $? -eq 1 && grep -q "no OpenCL platform" "$dir/none.log"; check "no OpenCL platform: a clear error, exit 1" $?
OCL_ICD_VENDORS="$dir/no-vendors" "$clmtl" train --epochs 1 > "$dir/none.log" 2>&1
test $? -eq 1 && grep -q "no OpenCL platform" "$dir/none.log"; check "training without a platform: the same error" $?

# four processes at once on one cache directory: cold, then warm, then with every entry cut
# (CLMTL_CACHE=1: on PoCL the binary cache is otherwise left to the driver's own)
cache="$dir/cache"
for round in cold warm corrupt; do
  if [ "$round" = corrupt ]; then
    for f in "$cache"/*.bin; do head -c 300 "$f" > "$f.cut" && mv "$f.cut" "$f"; done
  fi
  pids=""
  for i in 1 2 3 4; do
    CLMTL_CACHE=1 CLMTL_CACHE_DIR="$cache" "$clmtl" model "$models/tiny.cfg" --size 16x32 --steps 2 > "$dir/p$i.log" 2>&1 &
    pids="$pids $!"
  done
  ok=0
  for p in $pids; do wait "$p" || ok=1; done
  check "4 processes sharing a $round program cache all run" $ok
done
ls "$cache"/*.bin > /dev/null 2>&1; check "the cache holds entries again after the corrupt round" $?
ls "$cache" | grep -q '\.tmp\.' ; test $? -ne 0; check "no temporary cache files are left behind" $?
finish
