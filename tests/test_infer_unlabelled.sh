#!/bin/sh
# clmtl infer on a checkpoint that records no label set (one written by another tool): the
# instance task is clustered with every pixel voting, and no CityScapes instanceIds image is
# made (its ids need each instance's class and which classes are things). Random weights and
# batch-norm statistics, so instances do span several predicted classes. Before: "instance 1
# spans classes 5 and 1", exit 1. Skipped (77) where no python3 has numpy.
#   test_infer_unlabelled.sh CLMTL_PROGRAM SOURCE_DIR
set -u
clmtl="$1"
src="$2"
. "$(dirname "$0")/check.sh"
py=""
for p in ${PYTHON:-} python3 /usr/bin/python3; do
  if "$p" -c "import numpy" > /dev/null 2>&1; then py=$p; break; fi
done
[ -n "$py" ] || { echo "no python3 with numpy: skipped"; exit 77; }
export CLMTL_PROGRAM="$clmtl"
"$py" "$src/tests/onnx_check.py" random-unlabelled "$src/models/default.cfg" 64 128 "$dir/nolabel.safetensors"
check "a random checkpoint without a label set" $?
"$py" "$src/tests/onnx_check.py" random "$src/models/default.cfg" 64 128 "$dir/labelled.safetensors"
check "the same with label set categories" $?
"$clmtl" synth --out "$dir/scenes" --count 3 --size 64x128 --seed 5 > /dev/null 2>&1
check "synthetic scenes" $?
imgs="$dir/scenes/leftImg8bit/test/synth"
"$clmtl" infer --model "$dir/nolabel.safetensors" --out "$dir/a" "$imgs" > "$dir/a.log" 2>&1
check "infer without a label set exits 0" $?
cat "$dir/a.log"
test "$(ls "$dir/a" | grep -c '_instance\.png$')" -eq 3; check "an instance image per input" $?
test "$(ls "$dir/a" | grep -c 'instanceIds')" -eq 0; check "no instanceIds image without a label set" $?
"$clmtl" infer --model "$dir/labelled.safetensors" --out "$dir/b" "$imgs" > "$dir/b.log" 2>&1
check "infer with label set categories exits 0" $?
test "$(ls "$dir/b" | grep -c '_instanceIds\.png$')" -eq 3; check "instanceIds images with a label set" $?
finish
