#!/bin/sh
# The gradient methods and rlw, gls through the command line on the tiny model: each name
# trains one epoch (the trainer compiles the graph for one backward pass per task where the
# method needs it, else clm_mtl_create refuses), and `clmtl model --steps` and `clmtl bench
# --weighting` take a gradient method too. The numbers are checked in test_gradmethods_ref.
set -u
clmtl="$1"
models="$2"
. "$(dirname "$0")/check.sh"
common="--model $models/tiny.cfg --size 16x32 --batch 2 --train-count 8 --val-count 4 --patience 0 --seed 3"
for w in pcgrad mgda-ub cagrad imtl-g aligned-mtl rlw gls; do
  "$clmtl" train $common --epochs 1 --weighting $w --out "$dir/$w" > "$dir/$w.log" 2>&1
  check "train --weighting $w" $?
  test -s "$dir/$w/last.safetensors"; check "train --weighting $w wrote its checkpoint" $?
done
"$clmtl" model "$models/tiny.cfg" --size 16x16 --batch 2 --steps 2 --weighting mgda-ub > "$dir/m.log" 2>&1
check "model --steps 2 --weighting mgda-ub" $?
grep -q "weighting: mgda-ub" "$dir/m.log"; check "model names the weighting" $?
"$clmtl" bench "$models/tiny.cfg" --size 16x16 --batch 2 --steps 1 --weighting pcgrad \
  --keep-driver-cache > "$dir/b.log" 2>&1
check "bench --weighting pcgrad" $?
"$clmtl" train $common --epochs 1 --weighting pcgrad2 --out "$dir/bad" > "$dir/bad.log" 2>&1
test $? -ne 0 && grep -q "aligned-mtl" "$dir/bad.log"
check "an unknown weighting is refused with the list of names" $?
finish
