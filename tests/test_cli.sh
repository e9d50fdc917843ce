#!/bin/sh
# The command-line program end to end with the tiny model: train -> eval -> synth -> infer.
# Checks the files each step writes and that training beats the untrained model on
# validation (fixed-weight loss and segmentation pixel accuracy); then the run directory's
# rules (an existing run refused, runs/<model>-N, --overwrite, --resume DIR alone, an option
# changed on resume refused or logged), the log's start and step records, --help and unknown
# options, a checkpoint given as model file and the reverse, and messages without clmtl's
# source lines (unless CLMTL_DEBUG=1).
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
test $? -eq 2 && grep -q "^clmtl train: unknown option '--frobnicate'" "$dir/bad.log"; check "an unknown option is refused, named" $?

# ---- run directories ------------------------------------------------------------------------
tiny1="--model $models/tiny.cfg --size 32x64 --batch 4 --train-count 16 --val-count 8 --patience 0 --epochs 1"
sum=$(cksum < "$dir/run/log.jsonl")
"$clmtl" train $tiny1 --out "$dir/run" > "$dir/again.log" 2>&1
test $? -eq 1 && grep -q "already holds a run (log.jsonl): continue it with --resume $dir/run, replace it with --overwrite" "$dir/again.log"
check "an existing run is refused, offering --resume and --overwrite" $?
test "$(cksum < "$dir/run/log.jsonl")" = "$sum"; check "... and its log is untouched" $?
head -1 "$dir/run/log.jsonl" | grep -q '^{"event":"start","time":"[0-9-]*T[0-9:]*Z","version":"[0-9.]*","commit":"[^"]*",.*"label_set":"categories","class_names":\["flat",.*"options":{"model":"[^"]*tiny.cfg",.*"lr":0.01,.*"weighting":"uncertainty",.*"seed":3,.*"model_text":"'
check "the log's first record is the start: time, version, commit, labels, options, model text" $?
steps=$(grep -c '"event":"step","epoch":[1-4],"step":[0-9]*,"lr":[0-9.e-]*,"img_per_s":[0-9.e+]*,"losses":{"semantic":[0-9.e+-]*,"instance":.*"weights":{.*"sigma":{' "$dir/run/log.jsonl")
test "$steps" -ge 8; check "per-step records with losses, weights, sigma, lr, img/s by task ($steps)" $?
grep -o '"event":"epoch","epoch":[0-9]*' "$dir/run/log.jsonl" | cut -d: -f3 | tr '\n' ' ' | grep -q '^1 2 3 4 $'
check "epochs are numbered 1..4 in the log" $?
grep -q '^epoch 4: val loss' "$dir/t.log" && grep -q '^best epoch [1-4]: val loss' "$dir/t.log" && \
  grep -q "^checkpoints: $dir/run/best.safetensors  $dir/run/last.safetensors" "$dir/t.log" && grep -q '^wall time: ' "$dir/t.log"
check "... and on the console, with the summary (best epoch, checkpoints, wall time)" $?
"$clmtl" train --resume "$dir/run" --epochs 5 > "$dir/r.log" 2>&1
check "--resume DIR alone continues the run (model and options from its checkpoint)" $?
grep -q '"event":"epoch","epoch":5,' "$dir/run/log.jsonl" && grep -q '"event":"resume",.*"changed":{"epochs":{"from":4,"to":5}}' "$dir/run/log.jsonl"
check "... epoch 5 logged, and the change of --epochs logged as a resume event" $?
"$clmtl" train --resume "$dir/run" --epochs 6 --lr 0.5 > "$dir/r.log" 2>&1
test $? -eq 1 && grep -q "trained with --lr 0.01, and --lr 0.5 was given" "$dir/r.log"
check "an option changed on --resume is refused naming it and both values" $?
mkdir -p "$dir/cwd"
(cd "$dir/cwd" && "$clmtl" train $tiny1 > n1.log 2>&1 && "$clmtl" train $tiny1 > n2.log 2>&1)
test -f "$dir/cwd/runs/tiny-1/last.safetensors" && test -f "$dir/cwd/runs/tiny-2/last.safetensors" && \
  test "$(grep -c 'run directory:* runs/tiny-2$' "$dir/cwd/n2.log")" -eq 2
check "with no --out: runs/tiny-1, then runs/tiny-2, printed at start and end" $?
(cd "$dir/cwd" && "$clmtl" train $tiny1 --out runs/tiny-1 --overwrite > o.log 2>&1)
test $? -eq 0 && test "$(grep -c '"event":"start"' "$dir/cwd/runs/tiny-1/log.jsonl")" -eq 1
check "--overwrite replaces a run" $?

# ---- help and unknown options -----------------------------------------------------------------
for c in "train --help" "model --help" "synth --help" "devices --help" "help" "help train" "--help"; do
  "$clmtl" $c > "$dir/h.out" 2> "$dir/h.err"
  test $? -eq 0 && grep -q usage "$dir/h.out" && test ! -s "$dir/h.err"; check "clmtl $c: usage on stdout, exit 0" $?
done
for c in model devices; do
  "$clmtl" $c --frobnicate > /dev/null 2> "$dir/h.err"
  test $? -eq 2 && grep -q "^clmtl $c: unknown option '--frobnicate'" "$dir/h.err"; check "clmtl $c --frobnicate is refused, named" $?
done

# ---- the wrong kind of file -------------------------------------------------------------------
"$clmtl" train $tiny1 --model "$dir/run/best.safetensors" > "$dir/k.log" 2>&1
test $? -eq 1 && grep -q "best.safetensors: expected a model file (text with \[sections\]), found a safetensors checkpoint" "$dir/k.log"
check "train --model CHECKPOINT says a model file was expected and a checkpoint found" $?
"$clmtl" model "$dir/run/best.safetensors" > "$dir/k.log" 2>&1
test $? -eq 1 && grep -q "expected a model file (text with \[sections\]), found a safetensors checkpoint" "$dir/k.log"
check "model CHECKPOINT likewise" $?
"$clmtl" eval --model "$models/tiny.cfg" --count 4 > "$dir/k.log" 2>&1
test $? -eq 1 && grep -q "tiny.cfg: expected a checkpoint (.safetensors), found a model file" "$dir/k.log"
check "eval --model MODEL.cfg says a checkpoint was expected and a model file found" $?
mkdir -p "$dir/textrun" && cp "$models/tiny.cfg" "$dir/textrun/last.safetensors"
"$clmtl" train --resume "$dir/textrun" > "$dir/k.log" 2>&1
test $? -eq 1 && grep -q "textrun/last.safetensors: expected a checkpoint (.safetensors), found a model file" "$dir/k.log"
check "--resume of a directory whose last.safetensors is a model file likewise" $?

# ---- messages name the user's file and line, not clmtl's source -------------------------------
printf '[input]\nchannels = 3\n\n[conv1]\ntype = conv\ninput = nowhere\n' > "$dir/broken.cfg"
"$clmtl" model "$dir/broken.cfg" > "$dir/m.log" 2>&1
test $? -eq 1 && grep -q "broken.cfg" "$dir/m.log" && ! grep -Eq '[a-z_]+\.c:[0-9]+' "$dir/m.log"
check "an error names the model file, not clmtl's source file and line" $?
CLMTL_DEBUG=1 "$clmtl" model "$dir/broken.cfg" > "$dir/m.log" 2>&1
grep -Eq '\[at [a-z_]+\.c:[0-9]+' "$dir/m.log"; check "... which CLMTL_DEBUG=1 adds" $?
finish
