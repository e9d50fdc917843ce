#!/bin/sh
# tools/bench_peers.py end to end on the tiny model at a small size: the table has clmtl's row
# and PyTorch eager's with its outputs agreeing with clmtl's (the tool exits 1 beyond
# --tolerance, so --tolerance 0 must fail: the comparison runs), the JSON carries every row,
# and ONNX Runtime / OpenVINO either run (where the virtual environment has them) with their
# fp32 outputs agreeing, or say why not. Exit 77 (skipped) without a python3 that has torch,
# onnx and numpy.  test_bench_peers.sh CLMTL_PROGRAM SOURCE_DIR LIBCLMTL_SO
set -u
py=
for p in ${PYTHON:-} python3 /usr/bin/python3; do
  if "$p" -c "import torch, onnx, numpy" 2>/dev/null; then py="$p"; break; fi
done
if [ -z "$py" ]; then
  echo "SKIP: no python3 here can import torch, onnx and numpy (Debian: python3-torch python3-onnx)"
  exit 77
fi
. "$(dirname "$0")/check.sh"
clmtl="$1" src="$2" lib="$3"
peers() {
  "$py" "$src/tools/bench_peers.py" "$src/models/tiny.cfg" --size 16x32 --batch 2 --warmup 1 \
    --reps 2 --threads 1 --clmtl "$clmtl" --lib "$lib" "$@"
}
peers --json "$dir/p.json" > "$dir/out.txt" 2>&1
check "bench_peers runs and every engine agrees with clmtl" $?
cat "$dir/out.txt"
grep -q "^clmtl  *[0-9.]*  *[0-9.]*  *1.00x  (reference)" "$dir/out.txt"; check "clmtl's row" $?
grep -q "^PyTorch .* eager .*seg_head [0-9.e+-]* (100.00%)" "$dir/out.txt"
check "PyTorch eager's row with its agreement" $?
grep -Eq "^(ONNX Runtime [0-9]|ONNX Runtime / OpenVINO .*(--install|failed))" "$dir/out.txt"
check "ONNX Runtime ran, or the table says why not" $?
"$py" - "$dir/p.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
tags = [x.get("tag") for x in r["rows"]]
assert tags[:2] == ["clmtl", "torch"], tags
assert r["rows"][1]["agreement"]["seg_head"]["argmax"] == 1.0, r["rows"][1]
assert r["batch"] == 2 and r["threads"] == 1, r
PY
check "the JSON carries the rows and PyTorch's agreement" $?
peers --tolerance 0 > "$dir/zero.txt" 2>&1
test $? -eq 1 && grep -q "outputs disagree beyond 0" "$dir/zero.txt"
check "--tolerance 0: float rounding differences fail the run (the comparison is real)" $?
finish
