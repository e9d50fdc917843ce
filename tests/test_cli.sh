#!/bin/sh
# The command-line program end to end with the tiny model: train -> eval -> synth -> infer.
# Checks the files each step writes and that training beats the untrained model on
# validation (fixed-weight loss and segmentation pixel accuracy).
set -u
clmtl="$1"
models="$2"
. "$(dirname "$0")/check.sh"
common="--model $models/tiny.cfg --size 32x64 --batch 4 --train-count 48 --val-count 16 --patience 0 --seed 3"
"$clmtl" train $common --epochs 1 --lr 0 --schedule constant --out "$dir/untrained" > "$dir/u.log" 2>&1
check "train an untrained baseline (lr 0)" $?
"$clmtl" train $common --epochs 4 --lr 0.01 --out "$dir/run" > "$dir/t.log" 2>&1
check "train the tiny model" $?
for f in log.jsonl best.safetensors last.safetensors; do
  test -s "$dir/run/$f"; check "train wrote $f" $?
done
test "$(grep -c '"event":"epoch"' "$dir/run/log.jsonl")" -eq 4; check "one log line per epoch" $?
"$clmtl" eval --model "$dir/run/best.safetensors" --count 16 --baseline > "$dir/e.log" 2>&1
check "eval the trained checkpoint" $?
"$clmtl" eval --model "$dir/untrained/last.safetensors" --count 16 > "$dir/e0.log" 2>&1
check "eval the untrained checkpoint" $?
cat "$dir/e.log"
acc=$(awk '$1 == "semantic" {print $3}' "$dir/e.log")
acc0=$(awk '$1 == "semantic" {print $3}' "$dir/e0.log")
loss=$(awk '$1 == "semantic" {print $NF}' "$dir/e.log")
loss0=$(awk '$1 == "semantic" {print $NF}' "$dir/e0.log")
echo "semantic pixel accuracy $acc0% -> $acc%, loss $loss0 -> $loss"
awk -v a="$acc" -v b="$acc0" 'BEGIN { exit !(a > b) }'; check "training raises pixel accuracy over the untrained model" $?
awk -v a="$loss" -v b="$loss0" 'BEGIN { exit !(a < b) }'; check "training lowers the semantic loss" $?
"$clmtl" synth --out "$dir/data" --count 2 --size 48x96 > /dev/null 2>&1
check "synth writes the CityScapes layout" $?
img=$(ls "$dir"/data/leftImg8bit/test/synth/*_leftImg8bit.png | head -1)
test -s "$dir/data/gtFine/test/synth/$(basename "$img" _leftImg8bit.png)_gtFine_labelIds.png"; check "with labels" $?
"$clmtl" infer --model "$dir/run/best.safetensors" --out "$dir" "$img" > /dev/null 2>&1
check "infer runs" $?
stem=$(basename "$img" .png)
for k in semantic semantic_labelIds instance depth depth_disparity instanceIds panel; do
  test -s "$dir/${stem}_$k.png"; check "infer wrote the $k picture" $?
done
"$clmtl" train --model "$models/tiny.cfg" --weighting nonsense > "$dir/bad.log" 2>&1
test $? -eq 2 && grep -q "uncertainty" "$dir/bad.log"; check "an unknown weighting is refused with the valid names" $?
"$clmtl" train --batch 0 > "$dir/bad.log" 2>&1
test $? -eq 2; check "an out-of-range option is refused" $?
"$clmtl" train --frobnicate > "$dir/bad.log" 2>&1
test $? -eq 2 && grep -q "unknown option" "$dir/bad.log"; check "an unknown option is refused" $?
finish
