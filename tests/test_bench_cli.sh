#!/bin/sh
# `clmtl bench` end to end on the tiny model at a small size: every report file is written, the
# JSON parses and carries the keys of the contract with tools/bench_torch.py, the temporary
# program cache is removed and the user's cache is left alone, and bad input exits 2 or 1.
# The results say when, where and from which source they were taken (UTC timestamp, host CPU and
# OS, version and commit), give min/median/max of every timing, measure the cold start with the
# driver's cache empty (so it cannot come out faster than the warm start), name the probe's
# float16 as the 16-float vector it is, and output paths are checked before anything runs.
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
sed -n 2p "$dir/out.txt" | grep -q "^device [0-9]*:[0-9]*: .* (.*, driver .*)$"
check "the chosen device is printed at the start" $?
grep -q "copy bandwidth (float16 vectors)" "$dir/out.txt" && ! grep -q "float16 FMA" "$dir/out.txt"
check "the probe's float16 is named as a vector width, not as half precision" $?
python3 - "$dir/b.json" <<'PY'
import json, math, re, sys
r = json.load(open(sys.argv[1]))
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["timestamp"]), r["timestamp"]
assert r["host"]["cpu"] and r["host"]["cpu"] != "unknown", r["host"]
assert r["host"]["os"].startswith("Linux "), r["host"]
assert r["commit"], r
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
sp = d["spread"]
for k, n in (("train_step_ms", 2), ("profiled_step_ms", 2), ("infer_ms", 3), ("cold_start_s", 1),
             ("cold_start_driver_cache_kept_s", 1), ("warm_start_s", 1), ("probe_bandwidth_gbs", 5),
             ("probe_peak_gflops", 5)):
    s = sp[k]
    assert 0 < s["min"] <= s["median"] <= s["max"] and s["n"] == n, (k, s)
for k in ("train_step_ms", "infer_ms", "cold_start_s", "warm_start_s", "profiled_step_ms"):
    assert sp[k]["median"] == d[k], k
assert sp["probe_bandwidth_gbs"]["max"] == d["probe"]["bandwidth_gbs"]
assert sp["probe_peak_gflops"]["max"] == d["probe"]["peak_gflops"]
assert "float16 vectors" in d["probe"]["bandwidth"], d["probe"]
if d["platform"] == "Portable Computing Language":
    assert d["cold_start_driver_cache"] == "emptied (POCL_CACHE_DIR)", d["cold_start_driver_cache"]
if d["cold_start_driver_cache"].startswith("emptied"):
    assert d["cold_start_s"] > d["warm_start_s"], (d["cold_start_s"], d["warm_start_s"])
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
assert d["weighting_cost"]["extra_backward_passes"] == 0, d["weighting_cost"]  # uncertainty: one backward
PY
check "the JSON has the contract's keys and consistent values" $?
# a gradient method's cost: one backward per task (tiny.cfg has 3) instead of one, so 2 extra,
# and its K x S per-task gradient rows in device memory
"$clmtl" bench "$models/tiny.cfg" --size 16x32 --batch 2 --steps 1 --warmup 0 --weighting pcgrad \
  --keep-driver-cache --json "$dir/p.json" > "$dir/p.txt" 2>&1
grep -q "weighting pcgrad   2 extra backward passes per step" "$dir/p.txt" &&
  python3 -c 'import json,sys; c = json.load(open(sys.argv[1]))["devices"][0]["weighting_cost"]; assert c["extra_backward_passes"] == 2 and c["extra_device_bytes"] > 0, c' "$dir/p.json"
check "bench --weighting pcgrad reports 2 extra backward passes and their memory" $?
commit=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["commit"])' "$dir/b.json")
if git -C "$models/.." rev-parse --git-dir > /dev/null 2>&1; then
  git -C "$models/.." cat-file -e "${commit%-dirty}^{commit}"  # built from this repository's history
else
  test "$commit" = unknown
fi
check "the JSON names the commit clmtl was built from ($commit)" $?
test "$(wc -l < "$dir/b.csv")" -eq 2 && head -1 "$dir/b.csv" | grep -q "^device,platform,"
check "the CSV has a header and one device line" $?
python3 - "$dir/b.csv" "$dir/b.json" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
j = json.load(open(sys.argv[2]))
assert len(rows) == 1 and None not in rows[0], rows
c, d = rows[0], j["devices"][0]
assert (c["timestamp"], c["commit"], c["clmtl_version"], c["host_cpu"], c["host_os"]) == \
    (j["timestamp"], j["commit"], j["version"], j["host"]["cpu"], j["host"]["os"]), c
assert c["cold_start_driver_cache"] == d["cold_start_driver_cache"]
for k in ("train_step_ms", "infer_ms"):
    assert float(c[k + "_min"]) <= float(c[k]) <= float(c[k + "_max"]), k
assert int(c["timed_steps"]) == 2 and int(c["probe_runs"]) == 5
PY
check "the CSV carries the same date, host, version, commit and spreads" $?
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
mkdir "$dir/adir"
for bad in "--json $dir/no-such-dir/x.json" "--csv $dir/adir" "--markdown $dir/no-such-dir/x.md" \
           "--png $dir/no-such-dir/x.png"; do
  start=$(date +%s)
  # shellcheck disable=SC2086
  "$clmtl" bench "$models/tiny.cfg" --size 16x32 --batch 2 --steps 2 $bad > "$dir/w.log" 2>&1
  rc=$?
  path=${bad#* }
  test $rc -eq 1 && grep -q -- "${bad%% *} $path" "$dir/w.log" && ! grep -q "train step" "$dir/w.log" &&
    test $(($(date +%s) - start)) -lt 5
  check "an unwritable ${bad%% *} is refused before the run, naming $path" $?
done
test ! -e "$dir/adir/x" && test -z "$(ls -A "$dir/adir")"; check "the writability check leaves nothing behind" $?
"$clmtl" bench --frobnicate > "$dir/bad.log" 2>&1
test $? -eq 2 && grep -q "unknown option" "$dir/bad.log"; check "an unknown option exits 2" $?
"$clmtl" bench --steps 0 > "$dir/bad.log" 2>&1
test $? -eq 2; check "--steps 0 exits 2" $?
"$clmtl" bench --weighting nonsense > "$dir/bad.log" 2>&1
test $? -eq 2 && grep -q "uncertainty" "$dir/bad.log"; check "an unknown weighting exits 2 with the valid names" $?
"$clmtl" bench "$dir/missing.cfg" > "$dir/bad.log" 2>&1
test $? -eq 1 && grep -q "missing.cfg" "$dir/bad.log"; check "an unreadable model exits 1 naming it" $?
finish
