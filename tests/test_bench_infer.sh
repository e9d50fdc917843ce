#!/bin/sh
# `clmtl bench --mode infer` on the tiny model at a small size: the forward's median and img/s,
# the outputs' read-back, and a node table with kernel launches and host transfers per forward
# (every node launches at least one kernel, none transfers to the host); with the Winograd
# variant forced its 3×3 convolutions say so and launch the transforms and one GEMM per
# transformed position (3 + 16 with F(2×2, 3×3)); bad --mode values and train-only report
# options are usage errors (exit 2).
set -u
clmtl="$1"
models="$2"
. "$(dirname "$0")/check.sh"
"$clmtl" bench "$models/tiny.cfg" --mode infer --size 16x32 --batch 2 --steps 3 --ops \
  > "$dir/out.txt" 2>&1
check "bench --mode infer runs" $?
cat "$dir/out.txt"
grep -q "^forward: median [0-9.]* ms .* img/s$" "$dir/out.txt"; check "forward median and img/s" $?
grep -q "^read-back of [1-9][0-9]* task outputs" "$dir/out.txt"; check "outputs' read-back" $?
grep -q "per forward [1-9][0-9]* kernel launches, 0 host transfers" "$dir/out.txt"
check "launches and transfers per forward" $?
awk '/^  node /{t=1; next} t && /^  [^ ]/ && NF>=9 {n++; if ($(NF-3) < 1 || $(NF-2) != 0) bad++}
     END {exit !(n > 0 && bad == 0)}' "$dir/out.txt"
check "every node row: at least one launch, no host transfer" $?
CLMTL_CONV_VARIANT=winograd "$clmtl" bench "$models/tiny.cfg" --mode infer --size 16x32 \
  --batch 2 --steps 3 --ops > "$dir/wino.txt" 2>&1
check "bench --mode infer with the winograd variant forced" $?
cat "$dir/wino.txt"
awk '$3 == "winograd" && $2 == "conv" && $(NF-3) == 19 {n++} END {exit !(n > 0)}' "$dir/wino.txt"
check "a 3x3 winograd conv: weight, input, output transforms + 16 GEMMs = 19 launches" $?
"$clmtl" bench "$models/tiny.cfg" --mode fast > /dev/null 2>&1
test $? -eq 2; check "--mode fast is a usage error" $?
"$clmtl" bench "$models/tiny.cfg" --mode infer --json "$dir/x.json" > /dev/null 2>&1
test $? -eq 2; check "--mode infer with --json is a usage error" $?
finish
