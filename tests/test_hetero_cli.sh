#!/bin/sh
# Per-pixel (heteroscedastic) uncertainty end to end: models/hetero.cfg (semantics, and depth
# with a Laplace likelihood and a log-variance head) trained twice for 4 short epochs at 32x64
# on the synthetic scenes, once with --noise-depth-far 2 (Gaussian disparity noise, σ = 2 px,
# on the far half of every image only) and once without (the control). `clmtl infer --raw`
# then writes the σ maps of 16 clean test scenes, and tests/hetero_sigma.py splits each scene's
# valid pixels at its median clean disparity as the noise option does. Checks: infer writes
# STEM_depth_sigma.png and .npy and names the likelihood in the JSON; with far noise, mean σ
# on the far half / mean σ on the near half > 1.25; and that ratio is > 1.5 times the control's
# (the network's own error already differs between halves; the noise must add to it).
# usage: test_hetero_cli.sh CLMTL MODELS_DIR TESTS_DIR
set -u
clmtl="$1"
models="$2"
tests="$3"
. "$(dirname "$0")/check.sh"
command -v python3 > /dev/null || { echo "python3 missing: skipped"; exit 77; }
opts="--model $models/hetero.cfg --size 32x64 --train-count 256 --val-count 16 --epochs 4 --batch 8 --lr 0.01 --seed 1 --patience 0"
"$clmtl" train $opts --noise-depth-far 2 --out "$dir/noisy" > "$dir/noisy.log" 2>&1
check "train models/hetero.cfg with --noise-depth-far 2" $?
"$clmtl" train $opts --out "$dir/control" > "$dir/control.log" 2>&1
check "train the control (no noise)" $?
"$clmtl" synth --out "$dir/scenes" --count 16 --size 32x64 --seed 99 > /dev/null 2>&1
check "synth 16 clean test scenes" $?
for run in noisy control; do
  "$clmtl" infer --model "$dir/$run/best.safetensors" --raw --out "$dir/inf_$run" \
    "$dir/scenes/leftImg8bit/test/synth" > "$dir/inf_$run.log" 2>&1
  check "infer --raw ($run)" $?
done
stem="$dir/inf_noisy/synth_000000_000019_leftImg8bit"
test -s "${stem}_depth_sigma.png" && test -s "${stem}_depth_sigma.npy"
check "infer writes STEM_depth_sigma.png and STEM_depth_sigma.npy" $?
grep -q '"likelihood":[[:space:]]*"laplace"' "$stem.json"
check "the JSON names the σ map's likelihood" $?
noisy=$(python3 "$tests/hetero_sigma.py" "$dir/scenes" "$dir/inf_noisy" depth)
control=$(python3 "$tests/hetero_sigma.py" "$dir/scenes" "$dir/inf_control" depth)
echo "far-noise run: $noisy"
echo "control run:   $control"
python3 - "$noisy" "$control" <<'PY'
import json, sys
n, c = json.loads(sys.argv[1]), json.loads(sys.argv[2])
ok1 = n["ratio"] > 1.25
ok2 = n["ratio"] > 1.5 * c["ratio"]
print("[%s] mean sigma far/near with far noise %.3f > 1.25" % ("PASS" if ok1 else "FAIL", n["ratio"]))
print("[%s] that ratio %.3f > 1.5 x the control's %.3f" % ("PASS" if ok2 else "FAIL", n["ratio"], c["ratio"]))
sys.exit(0 if ok1 and ok2 else 1)
PY
check "predicted σ follows the far-half noise" $?
finish
