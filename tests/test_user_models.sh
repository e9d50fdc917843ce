#!/bin/sh
# User-written model files (tests/models/*.cfg) through the command-line program: each is
# trained (tiny sizes), evaluated and run by infer, and the outputs are checked by name and
# size; or it is refused before training with a message naming the model file, the layer, the
# task and both sides. Also: --labels trainids on 19- and 7-class heads (a CityScapes tree
# written by `clmtl synth`), a tree without disparity/ (the depth task is noted and left out),
# grey, grey+alpha and RGBA images, and the --skip-bad report.
set -u
clmtl="$1"
tests="$2"
. "$(dirname "$0")/check.sh"
models="$tests/models"
tiny="--size 16x32 --batch 2 --epochs 1 --train-count 4 --val-count 3 --patience 0 --seed 2"

# PNG width x height from its IHDR chunk.
png_wh() { od -An -tu1 -j16 -N8 "$1" | awk '{ print ($3 * 256 + $4) "x" ($7 * 256 + $8) }'; }
# check_png NAME FILE WxH
check_png() { test -s "$2" && test "$(png_wh "$2")" = "$3"; check "$1: $(basename "$2") is $3" $?; }

"$clmtl" synth --out "$dir/cs" --count 3 --size 16x32 > /dev/null 2>&1
check "synth writes a CityScapes tree" $?
img=$(ls "$dir"/cs/leftImg8bit/test/synth/*_leftImg8bit.png | head -1)
stem=$(basename "$img" .png)

# train_eval_infer NAME MODEL "TASK:FORM ..." [train options]: FORM is classes, instances or
# values:C (C channels).
train_eval_infer() {
  name=$1 model=$2 tasks=$3
  shift 3
  "$clmtl" train --model "$models/$model" $tiny --out "$dir/$name" "$@" > "$dir/$name.log" 2>&1
  check "$name: trains" $?
  "$clmtl" eval --model "$dir/$name/last.safetensors" --count 3 --batch 2 $EVAL_DATA > "$dir/$name.eval" 2>&1
  check "$name: evaluates" $?
  mkdir -p "$dir/$name.out"
  "$clmtl" infer --model "$dir/$name/last.safetensors" --raw --out "$dir/$name.out" "$img" > "$dir/$name.infer" 2>&1
  check "$name: infers" $?
  k=0
  for t in $tasks; do
    task=${t%%:*} form=${t#*:}
    k=$((k + 1))
    grep -q "^$task " "$dir/$name.eval"; check "$name: eval reports task $task" $?
    case $form in
      classes)
        check_png "$name" "$dir/$name.out/${stem}_$task.png" 32x16
        check_png "$name" "$dir/$name.out/${stem}_${task}_labelIds.png" 32x16 ;;
      instances)
        check_png "$name" "$dir/$name.out/${stem}_$task.png" 32x16 ;;
      values:*)
        c=${form#values:}
        check_png "$name" "$dir/$name.out/${stem}_$task.png" "$((32 * c))x16"
        test "$(wc -c < "$dir/$name.out/${stem}_$task.npy")" -eq $((128 + 4 * c * 16 * 32))
        check "$name: ${stem}_$task.npy holds $c x 16 x 32 float32" $? ;;
    esac
  done
  pw=$(png_wh "$dir/$name.out/${stem}_panel.png")
  test "${pw%x*}" -eq $((32 * (k + 1))) && test "${pw#*x}" -gt 16; check "$name: panel of $((k + 1)) tiles above its legend ($pw)" $?
  n=$(ls "$dir/$name.out" | wc -l)
  test "$n" -eq "$(ls "$dir/$name.out" | grep -c "^${stem}[_.]")"; check "$name: infer wrote only <stem>_<task> files and <stem>.json ($n)" $?
}

# refused NAME MODEL "TEXT|TEXT..." [train options]: exit 1 before training, the message holds
# every TEXT, and no run directory was made.
refused() {
  name=$1 model=$2 texts=$3
  shift 3
  "$clmtl" train --model "$models/$model" $tiny --out "$dir/$name" "$@" > "$dir/$name.log" 2>&1
  rc=$?
  test $rc -eq 1 && test ! -e "$dir/$name"; check "$name: refused before training (exit $rc)" $?
  ok=0
  IFS='|'
  for t in $texts; do grep -qF -- "$t" "$dir/$name.log" || { echo "  missing: $t"; ok=1; }; done
  unset IFS
  check "$name: the message names file, layer, task and both sides" $ok
  grep "clmtl train:" "$dir/$name.log" | head -2
}

EVAL_DATA=""
train_eval_infer gray gray_renamed.cfg "classes:classes centroids:instances inverse_depth:values:1"
train_eval_infer seg19 seg19_only.cfg "labels19:classes"
train_eval_infer two two_tasks.cfg "semantic:classes depth:values:1"
train_eval_infer four four_tasks.cfg "semantic:classes instance:instances depth:values:1 depth_l2:values:1"
"$clmtl" eval --model "$dir/four/last.safetensors" --count 3 --batch 1 > "$dir/four.eval1" 2>&1
diff "$dir/four.eval" "$dir/four.eval1" > /dev/null; check "four: eval prints the same table at batch 1 and 2 (3 samples)" $?

refused rgba rgba_input.cfg "rgba_input.cfg:3|input layer 'rgba'|takes 4 channels|'image' (image) has 3"
refused narrow seg5_narrow.cfg "seg5_narrow.cfg:41|task 'coarse'|layer 'task.coarse'|head 'narrow_head' has 5 classes|label set 'categories') have 7 classes"
refused depth2 depth_2ch.cfg "depth_2ch.cfg:41|task 'depth'|from 'dep'|target 'depth' needs 2 channels|the data's 'depth' has 1"
refused missing missing_target.cfg "missing_target.cfg:41|task 'normals'|layer 'task.normals'|target 'normals' (3 channels of values) is not offered|depth_mask (1 channel)"

# --labels trainids: a 19-class head trains, and eval takes the label set from the checkpoint;
# a 7-class head is refused.
EVAL_DATA="--data $dir/cs"
train_eval_infer trainids19 seg19_only.cfg "labels19:classes" --data "$dir/cs" --labels trainids
grep -q "labels trainids" "$dir/trainids19.eval"; check "trainids19: eval uses the checkpoint's label set" $?
head -c 8192 "$dir/trainids19/last.safetensors" | grep -a '"label_set":"trainids"' | grep -aqF '\"road\",\"sidewalk\"'
check "trainids19: the checkpoint records the label set and its class names" $?
"$clmtl" train --model "$models/seg19_only.cfg" $tiny --labels trainids --out "$dir/nolabels" > "$dir/nolabels.log" 2>&1
test $? -eq 2 && grep -q "applies to --data" "$dir/nolabels.log"; check "train refuses --labels without --data" $?
"$clmtl" eval --model "$dir/trainids19/last.safetensors" --data "$dir/cs" --labels categories > "$dir/disagree.log" 2>&1
test $? -eq 2 && grep -q "trained on label set 'trainids'; --labels categories disagrees" "$dir/disagree.log"
check "eval refuses --labels that disagree with the checkpoint" $?
"$clmtl" eval --model "$dir/trainids19/last.safetensors" --count 3 > "$dir/synthlabels.log" 2>&1
test $? -eq 1 && grep -q "trained on label set 'trainids', the synthetic data has 'categories'" "$dir/synthlabels.log"
check "eval refuses data of another label set" $?
refused trainids7 two_tasks.cfg "two_tasks.cfg:47|task 'semantic'|head 'sem' has 7 classes|label set 'trainids') have 19 classes" --data "$dir/cs" --labels trainids

# A tree without disparity/: the depth task is noted on stderr and in the log, has no valid
# target and is left out of the validation loss.
cp -r "$dir/cs" "$dir/nodisp" && rm -r "$dir/nodisp/disparity"
"$clmtl" train --model "$models/two_tasks.cfg" $tiny --data "$dir/nodisp" --out "$dir/nodisp_run" > "$dir/nodisp.log" 2>&1
check "no disparity: trains" $?
grep -q "task 'depth'.*lacks 'depth'.*left out of the validation loss" "$dir/nodisp.log"; check "no disparity: the depth task is noted on stderr" $?
grep -q '"kind":"task_without_data"' "$dir/nodisp_run/log.jsonl"; check "no disparity: and in log.jsonl" $?
grep '"event":"epoch"' "$dir/nodisp_run/log.jsonl" | grep -q '"depth":{"train_loss":[^,]*,"val_loss":null'
check "no disparity: depth has no validation loss" $?
sem=$(grep '"event":"epoch"' "$dir/nodisp_run/log.jsonl" | sed 's/.*"semantic":{"train_loss":[^,]*,"val_loss":\([^,]*\),.*/\1/')
agg=$(grep '"event":"epoch"' "$dir/nodisp_run/log.jsonl" | sed 's/.*,"val_loss":\([^,]*\),"skipped_steps".*/\1/')
awk -v a="$agg" -v s="$sem" 'BEGIN { d = a - s; exit !(a > 0 && d * d < 1e-10 * s * s) }'
check "no disparity: the validation loss is the semantic loss alone ($agg = $sem): depth left out, not averaged in as 0" $?

# Grey, grey + alpha and RGBA images are read as RGB by train (CityScapes reader) and infer.
python3 - "$dir/cs/leftImg8bit/train/synth" "$dir/grey.png" <<'EOF'
import struct, sys, zlib, os
def png(path, w, h, ctype, ch):
    raw = b"".join(b"\0" + bytes(((x * 7 + y * 13 + c * 50) % 256) for x in range(w) for c in range(ch)) for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
d = sys.argv[1]
for f, (ctype, ch) in zip(sorted(os.listdir(d)), [(0, 1), (4, 2), (6, 4)]):
    png(os.path.join(d, f), 32, 16, ctype, ch)
png(sys.argv[2], 40, 20, 0, 1)
EOF
check "write grey, grey+alpha and RGBA training images" $?
"$clmtl" train --model "$models/two_tasks.cfg" $tiny --data "$dir/cs" --out "$dir/grey_run" > "$dir/grey.log" 2>&1
check "train reads grey, grey+alpha and RGBA images" $?
mkdir -p "$dir/grey.out"
"$clmtl" infer --model "$dir/grey_run/last.safetensors" --out "$dir/grey.out" "$dir/grey.png" > "$dir/grey.infer" 2>&1
check "infer reads a grey image" $?
check_png grey "$dir/grey.out/grey_semantic.png" 40x20

# --skip-bad lists the samples it leaves out and why, on stderr and in the log.
cp -r "$dir/nodisp" "$dir/bad"
bad=$(ls "$dir"/bad/leftImg8bit/train/synth/*.png | head -1)
head -c 60 "$bad" > "$dir/cut.png" && mv "$dir/cut.png" "$bad"
"$clmtl" train --model "$models/two_tasks.cfg" $tiny --data "$dir/bad" --skip-bad --out "$dir/bad_run" > "$dir/bad.log" 2>&1
check "skip-bad: trains without the bad sample" $?
grep -q "left out 1 sample of the train split" "$dir/bad.log" && grep -qF "$bad" "$dir/bad.log"
check "skip-bad: stderr names the sample" $?
grep '"kind":"skipped_samples"' "$dir/bad_run/log.jsonl" | grep -qF "$bad"
check "skip-bad: log.jsonl names the sample" $?
finish
