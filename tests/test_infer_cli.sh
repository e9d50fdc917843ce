#!/bin/sh
# `clmtl infer` and `clmtl eval` end to end on a tiny model: the README's quick-start infer
# command (--out created), PNG and JPEG inputs, a folder, an @list, two inputs with the same
# base name (-1 suffix), outputs at the input's resolution read back by tests/infer_check.py
# (labelIds = argmax of the probabilities, disparity PNG = .npy within 1/256, instanceIds
# against labelIds and the JSON, letterbox box computed independently), --fit stretch, --size,
# --fit tile on an image 4x wider than the network's aspect (every file at the input's size,
# the same checks, the window layout recomputed; on an image of the network's aspect, one
# window, tile and stretch write the same files; on two copies of a network-sized image side by
# side, the columns only the first or the last window covers equal the single image's), the
# device line, --help; eval's per-class table with class names, --json, and delta_m% against
# baselines recomputed here from the JSON by the formula.
# usage: test_infer_cli.sh CLMTL MODELS_DIR TEST_INFER_IO_BINARY TESTS_DIR
set -u
clmtl="$1"
models="$2"
jpeg_writer="$3"
tests="$4"
. "$(dirname "$0")/check.sh"
command -v python3 > /dev/null || { echo "python3 missing: skipped"; exit 77; }
# a tiny model trained enough (about 3 s) that its instance head finds some instances, and a
# one-epoch baseline
tiny="--model $models/tiny.cfg --batch 4 --val-count 4 --patience 0"
"$clmtl" train $tiny --size 32x64 --train-count 96 --epochs 6 --lr 0.01 --seed 2 --out "$dir/run" > "$dir/train.log" 2>&1
check "train a tiny model" $?
"$clmtl" train $tiny --size 16x32 --train-count 4 --epochs 1 --seed 5 --out "$dir/run2" > "$dir/train2.log" 2>&1
check "train a second one (a baseline)" $?
"$clmtl" synth --out "$dir/scenes" --count 4 --size 40x70 > /dev/null 2>&1
check "synth 40x70 scenes" $?
"$clmtl" synth --out "$dir/big" --count 4 --size 96x192 > /dev/null 2>&1
check "synth 96x192 scenes" $?
"$clmtl" synth --out "$dir/wide" --count 1 --size 40x320 > /dev/null 2>&1
check "synth a 40x320 scene (4x the network's 32x64 aspect)" $?
"$clmtl" synth --out "$dir/same" --count 1 --size 64x128 > /dev/null 2>&1
check "synth a 64x128 scene (the network's aspect, twice its size)" $?
"$clmtl" synth --out "$dir/small" --count 1 --size 32x64 > /dev/null 2>&1
check "synth a 32x64 scene (the network's size)" $?
ckpt="$dir/run/best.safetensors"

# the README's quick start: --out names a folder that does not exist yet
(cd "$dir" && "$clmtl" infer --model run/best.safetensors --out pics/new scenes/leftImg8bit/test/synth/*.png) > "$dir/q.log" 2>&1
check "README quick-start infer with a new --out folder" $?
test "$(ls "$dir/pics/new" | grep -c '_panel.png$')" -eq 4; check "one panel per image in the new folder" $?

# folder, @list, same base names, JPEG
mkdir -p "$dir/a" "$dir/b"
img=$(ls "$dir"/scenes/leftImg8bit/val/synth/*.png | head -1)
cp "$img" "$dir/a/x.png"
cp "$img" "$dir/b/x.png"
"$jpeg_writer" "$dir/b/photo.jpg"
check "write a JPEG fixture" $?
printf '# images\n%s\n\n%s\n' "$dir/b/x.png" "$dir/b/photo.jpg" > "$dir/list.txt"
"$clmtl" infer --model "$ckpt" --raw --out "$dir/o" "$dir/a" "@$dir/list.txt" > "$dir/i.log" 2>&1
check "infer a folder and an @list with --raw" $?
cat "$dir/i.log"
for s in x x-1 photo; do
  test -s "$dir/o/$s.json"; check "stem $s written" $?
done
cmp -s "$dir/o/x_semantic_labelIds.png" "$dir/o/x-1_semantic_labelIds.png"
check "the same image under two names gives the same labels, in two files" $?
python3 "$tests/infer_check.py" "$dir/o" x 70 40 32 64 letterbox; check "x: outputs read back and agree (letterbox 40x70 -> 32x64)" $?
python3 "$tests/infer_check.py" "$dir/o" photo 70 45 32 64 letterbox; check "photo.jpg: outputs read back and agree" $?
"$clmtl" infer --model "$ckpt" --raw --out "$dir/bo" "$dir/big/leftImg8bit/test/synth" > "$dir/bo.log" 2>&1
check "infer 96x192 scenes" $?
cat "$dir/bo.log"
for j in "$dir"/bo/*.json; do
  s=$(basename "$j" .json)
  python3 "$tests/infer_check.py" "$dir/bo" "$s" 192 96 32 64 letterbox; check "$s: outputs read back and agree" $?
done

"$clmtl" infer --model "$ckpt" --raw --fit stretch --size 16x32 --depth-range 0,4 --out "$dir/s" "$dir/a/x.png" > "$dir/s.log" 2>&1
check "infer --fit stretch --size 16x32 --depth-range 0,4" $?
python3 "$tests/infer_check.py" "$dir/s" x 70 40 16 32 stretch; check "stretch: outputs read back and agree" $?

wide=$(ls "$dir"/wide/leftImg8bit/*/synth/*.png | head -1)
cp "$wide" "$dir/wide.png"
"$clmtl" infer --model "$ckpt" --raw --fit tile --out "$dir/t" "$dir/wide.png" > "$dir/t.log" 2>&1
check "infer --fit tile a 40x320 image" $?
cat "$dir/t.log"
grep -q "^device: " "$dir/t.log"; check "infer prints the device at start" $?
python3 "$tests/infer_check.py" "$dir/t" wide 320 40 32 64 tile; check "tile: outputs at 320x40 read back and agree, windows as stated" $?
same=$(ls "$dir"/same/leftImg8bit/*/synth/*.png | head -1)
cp "$same" "$dir/same.png"
"$clmtl" infer --model "$ckpt" --raw --fit tile --out "$dir/t1" "$dir/same.png" > "$dir/t1.log" 2>&1 &&
  "$clmtl" infer --model "$ckpt" --raw --fit stretch --out "$dir/s1" "$dir/same.png" > "$dir/s1.log" 2>&1
check "infer a network-sized image with --fit tile and --fit stretch" $?
python3 "$tests/infer_check.py" "$dir/t1" same 128 64 32 64 tile; check "tile, one window: outputs agree" $?
for f in semantic_labelIds.png depth_disparity.png depth.npy instanceIds.png instance_offsets.npy semantic_probs.npy; do
  cmp -s "$dir/t1/same_$f" "$dir/s1/same_$f"; check "one window: tile writes the same $f as stretch" $?
done
# [A|A]: A a 32x64 image, two of it side by side (32x128) tiled: windows at x 0, 32, 64, so
# columns 0-31 are window 0's alone (= A's 0-31 under stretch) and 96-127 window 2's alone
# (= A's 32-63); the blend of one window is that window exactly
small=$(ls "$dir"/small/leftImg8bit/*/synth/*.png | head -1)
cp "$small" "$dir/a.png"
python3 - "$tests" "$dir/a.png" "$dir/aa.png" <<'EOF'
import struct, sys, zlib
sys.path.insert(0, sys.argv[1])
from infer_check import read_png
w, h, ch, depth, rows = read_png(sys.argv[2])
assert (w, h, ch, depth) == (64, 32, 3, 8), (w, h, ch, depth)
raw = b"".join(b"\0" + bytes(r + r) for r in rows)
def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
open(sys.argv[3], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2 * w, h, 8, 2, 0, 0, 0))
                              + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
EOF
check "write [A|A], two copies of a 32x64 image side by side" $?
"$clmtl" infer --model "$ckpt" --raw --fit tile --out "$dir/aa" "$dir/aa.png" > /dev/null 2>&1 &&
  "$clmtl" infer --model "$ckpt" --raw --fit stretch --out "$dir/aa" "$dir/a.png" > /dev/null 2>&1
check "infer [A|A] with --fit tile and A with --fit stretch" $?
python3 - "$tests" "$dir/aa" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from infer_check import read_npy
out, bad, seen = sys.argv[2], 0, 0
for f in ("depth.npy", "semantic_probs.npy", "instance_offsets.npy"):
    (c, h, w2), two = read_npy("%s/aa_%s" % (out, f))
    (_, _, w), one = read_npy("%s/a_%s" % (out, f))
    assert w2 == 2 * w, (w2, w)
    for k in range(c):
        for y in range(h):
            for x in list(range(32)) + list(range(96, 128)):
                seen += 1
                bad += two[(k * h + y) * w2 + x] != one[(k * h + y) * w + x - (64 if x >= 96 else 0)]
print("  [A|A] against A: %d of %d values differ in the columns one window covers" % (bad, seen))
sys.exit(1 if bad else 0)
EOF
check "tile: the columns only the first / last window covers equal A's (windows where stated)" $?

"$clmtl" infer --model "$ckpt" --depth-range 4,1 "$dir/a/x.png" > "$dir/bad.log" 2>&1
test $? -eq 2; check "--depth-range MAX < MIN is refused (exit 2)" $?
"$clmtl" infer --model "$ckpt" --out "$dir/o" "$dir/missing.png" > "$dir/bad.log" 2>&1
test $? -eq 1 && grep -q "missing.png" "$dir/bad.log"; check "a missing image: exit 1, named" $?
printf 'not an image' > "$dir/fake.jpg"
"$clmtl" infer --model "$ckpt" --out "$dir/o" "$dir/fake.jpg" > "$dir/bad.log" 2>&1
test $? -eq 1 && grep -q "fake.jpg: neither a PNG nor a JPEG" "$dir/bad.log"; check "a file that is no image is refused by name" $?
for c in infer eval; do
  "$clmtl" $c --help > "$dir/help.txt" 2> "$dir/help.err"
  test $? -eq 0 && test -s "$dir/help.txt" && test ! -s "$dir/help.err"; check "$c --help: stdout, exit 0" $?
done
grep -q "mIoU%" "$dir/help.txt" && grep -q "delta_m" "$dir/help.txt"; check "eval --help explains the columns and delta_m" $?

# eval: per-class IoU by name, JSON, delta_m
"$clmtl" eval --model "$ckpt" --count 5 --json "$dir/e.json" --baseline-runs "semantic=$dir/run2,depth=$dir/run2" > "$dir/e.log" 2>&1
check "eval --json --baseline-runs" $?
cat "$dir/e.log"
grep -q "5 samples evaluated" "$dir/e.log"; check "the header states the samples evaluated" $?
grep -Eq "^ +6 vehicle " "$dir/e.log"; check "per-class IoU rows carry the class names" $?
python3 - "$dir/e.json" "$dir/e.log" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
log = open(sys.argv[2]).read()
seg = [t for t in d["tasks"] if t["name"] == "semantic"][0]
names = [c["name"] for c in seg["per_class"]]
assert names == ["flat", "construction", "object", "nature", "sky", "human", "vehicle"], names
assert d["samples"] == 5, d["samples"]
# delta_m by its definition: mean over tasks of (-1)^lower (M - B) / B * 100
terms = []
for b in d["baselines"]:
    m, base = b["model_value"], b["baseline_value"]
    model = [t for t in d["tasks"] if t["name"] == b["task"]][0]
    assert abs(m - (model["mae"] if b["measure"] == "mae" else model["miou_percent"] / 100)) < 1e-12 * abs(m), b
    sign = -1 if b["measure"] == "mae" else 1
    terms.append(sign * (m - base) / base * 100)
want = sum(terms) / len(terms)
assert abs(d["delta_m_percent"] - want) < 1e-9, (d["delta_m_percent"], want)
assert ("delta_m%% over 2 tasks: %+.2f" % want) in log
print("delta_m %.4f recomputed from the JSON" % want)
EOF
check "eval JSON: class names, samples, delta_m by the formula" $?
"$clmtl" eval --model "$ckpt" --count 5 --baseline-runs "semantic=$dir/run,depth=$dir/run,instance=$dir/run" > "$dir/e0.log" 2>&1
grep -q "delta_m% over 3 tasks: +0.00" "$dir/e0.log"; check "a model against itself: delta_m 0" $?
"$clmtl" eval --model "$ckpt" --count 5 --baseline-runs "nosuch=$dir/run" > "$dir/bad.log" 2>&1
test $? -eq 2 && grep -q "nosuch" "$dir/bad.log"; check "a baseline for a task the model lacks is refused, named" $?
finish
