#!/bin/sh
# `clmtl bench` end to end on the tiny model at a small size: every report file is written, the
# JSON parses and carries the keys of the contract with tools/bench_torch.py, the temporary
# program cache is removed and the user's cache is left alone, and bad input exits 2 or 1.
set -u
clmtl="$1"
models="$2"
. "$(dirname "$0")/check.sh"
mkdir "$dir/tmp"
TMPDIR="$dir/tmp" CLMTL_CACHE_DIR="$dir/user-cache" "$clmtl" bench "$models/tiny.cfg" --size 16x32 \
  --batch 2 --steps 2 --warmup 0 --json "$dir/b.json" --csv "$dir/b.csv" --markdown "$dir/b.md" \
  --png "$dir/b.png" > "$dir/out.txt" 2>&1
check "bench runs" $?
cat "$dir/out.txt"
for f in b.json b.csv b.md b.png; do
  test -s "$dir/$f"; check "bench wrote $f" $?
done
python3 -m json.tool "$dir/b.json" > /dev/null; check "the JSON parses" $?
python3 - "$dir/b.json" <<'PY'
import json, math, sys
r = json.load(open(sys.argv[1]))
for k in ("tool", "version", "model", "batch", "height", "width", "weighting", "optimizer", "devices"):
    assert k in r, k
assert (r["tool"], r["batch"], r["height"], r["width"], r["weighting"], r["optimizer"]) == \
    ("clmtl", 2, 16, 32, "uncertainty", "adam"), r
assert len(r["devices"]) == 1
d = r["devices"][0]
for k in ("device", "platform", "vendor", "driver", "kind", "probe", "train_step_ms", "train_img_s",
          "infer_ms", "infer_img_s", "peak_device_bytes", "cold_start_s", "warm_start_s",
          "train_gflop_per_step", "train_gflops", "mtl_reduction", "ops"):
    assert k in d, k
assert d["kind"] in ("cpu", "gpu", "accelerator", "other")
for k in ("bandwidth_gbs", "peak_gflops"):
    assert d["probe"][k] > 0, k
for k in ("ms", "bytes", "gbs", "fraction_of_bandwidth"):
    assert d["mtl_reduction"][k] > 0, k
for k in ("train_step_ms", "infer_ms", "peak_device_bytes", "cold_start_s", "warm_start_s",
          "train_gflop_per_step", "train_gflops"):
    assert d[k] > 0, k
assert math.isclose(d["train_img_s"], 2000 / d["train_step_ms"], rel_tol=1e-9)
assert math.isclose(d["infer_img_s"], 2000 / d["infer_ms"], rel_tol=1e-9)
assert d["ops"], "no ops"
for o in d["ops"]:
    for k in ("node", "op", "pass", "variant", "ms", "gflop", "gflops", "bytes", "gbs"):
        assert k in o, k
    assert o["pass"] in ("forward", "backward", "backward_data", "backward_weight"), o
convs = [o for o in d["ops"] if o["op"] == "conv"]
assert convs and all(o["gflop"] > 0 and o["variant"] for o in convs)
# tiny.cfg at 16x32, batch 2: enc1 is 3->8 channels, 3x3, so its forward is 2*2*8*3*9*16*32 FLOP
enc1 = [o for o in convs if o["node"] == "enc1" and o["pass"] == "forward"][0]
assert enc1["gflop"] * 1e9 == 2 * 2 * 8 * 3 * 9 * 16 * 32, enc1
total = sum(o["gflop"] for o in d["ops"])  # one run of each per step with uncertainty weighting
assert math.isclose(total, d["train_gflop_per_step"], rel_tol=1e-9), (total, d["train_gflop_per_step"])
PY
check "the JSON has the contract's keys and consistent values" $?
test "$(wc -l < "$dir/b.csv")" -eq 2 && head -1 "$dir/b.csv" | grep -q "^device,platform,"
check "the CSV has a header and one device line" $?
grep -q "^| device | train ms" "$dir/b.md"; check "the Markdown has the comparison table" $?
test "$(head -c 8 "$dir/b.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a"; check "the chart is a PNG" $?
test -z "$(ls -A "$dir/tmp")"; check "the temporary program cache is removed" $?
test ! -e "$dir/user-cache" || test -z "$(ls -A "$dir/user-cache")"; check "the user's cache is left alone" $?
# A plan beyond the memory the device can take (capped with CLMTL_MEMORY_LIMIT so that the
# check does not depend on this machine's RAM), and one beyond what a tensor can hold.
CLMTL_MEMORY_LIMIT=64M "$clmtl" bench "$models/tiny.cfg" --batch 8 --size 256x512 --json "$dir/f.json" > "$dir/f.log" 2>&1
test $? -eq 1 && grep -q "needs [0-9]* bytes .* available" "$dir/f.log" &&
  python3 -c 'import json,sys; d = json.load(open(sys.argv[1]))["devices"][0]; assert "are available" in d["error"]' "$dir/f.json"
check "a device that cannot run the model is reported with its error (exit 1, JSON error)" $?
"$clmtl" bench "$models/tiny.cfg" --batch 100000 --size 512x1024 --json "$dir/f.json" > "$dir/f.log" 2>&1
test $? -eq 1 && grep -q "more than the 2147483647 elements" "$dir/f.log" &&
  python3 -c 'import json,sys; d = json.load(open(sys.argv[1]))["devices"][0]; assert "elements" in d["error"]' "$dir/f.json"
check "a batch whose tensors cannot be indexed is refused before any allocation (exit 1, JSON error)" $?
"$clmtl" bench --frobnicate > "$dir/bad.log" 2>&1
test $? -eq 2 && grep -q "unknown option" "$dir/bad.log"; check "an unknown option exits 2" $?
"$clmtl" bench --steps 0 > "$dir/bad.log" 2>&1
test $? -eq 2; check "--steps 0 exits 2" $?
"$clmtl" bench --weighting nonsense > "$dir/bad.log" 2>&1
test $? -eq 2 && grep -q "uncertainty" "$dir/bad.log"; check "an unknown weighting exits 2 with the valid names" $?
"$clmtl" bench "$dir/missing.cfg" > "$dir/bad.log" 2>&1
test $? -eq 1 && grep -q "missing.cfg" "$dir/bad.log"; check "an unreadable model exits 1 naming it" $?
finish
