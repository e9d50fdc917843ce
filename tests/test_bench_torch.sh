#!/bin/sh
# tools/bench_torch.py end to end: PyTorch-only timing of the tiny model, the comparison table
# and JSON from a hand-written `clmtl bench --json` file, the parameter counts of the default
# and SegNet models against `clmtl model`, the first-step losses against `clmtl model --steps
# 1`, and the error exits. Exit 77 (skipped) when PyTorch cannot be imported.
set -u
clmtl="$1"
src="$2"
py=
for p in ${PYTHON:-} python3 /usr/bin/python3; do # the first interpreter with torch
  if "$p" -c "import torch" 2>/dev/null; then py="$p"; break; fi
done
if [ -z "$py" ]; then
  echo "SKIP: no python3 here can import torch (Debian: apt-get install python3-torch)"
  exit 77
fi
. "$(dirname "$0")/check.sh"
bench() { "$py" "$src/tools/bench_torch.py" "$@"; }
fast="--steps 1 --reps 2 --warmup 1 --threads 1" # one thread: steady on a busy machine

# 1. PyTorch only
bench "$src/models/tiny.cfg" --size 32x64 --batch 2 $fast --no-clmtl --clmtl "$clmtl" \
  --json "$dir/t.json" --markdown "$dir/t.md" > "$dir/t.out" 2>&1
check "PyTorch-only run of the tiny model" $?
cat "$dir/t.out"
grep -q "^parameter counts: equal" "$dir/t.out"; check "its parameter count equals clmtl's" $?
for row in "train ms/step" "train img/s" "infer ms/forward" "infer img/s" "peak memory MiB \\*"; do
  grep -q "^$row  *[0-9]" "$dir/t.out"; check "table row '$row'" $?
done
"$py" - "$dir/t.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["pytorch"]
assert (d["batch"], d["height"], d["width"]) == (2, 32, 64), d
assert d["clmtl"] is None and d["comparisons"] == []
for k in ("train_step_ms", "train_img_s", "infer_ms", "infer_img_s",
          "train_peak_rss_growth_bytes"):
    assert p[k] > 0, (k, p[k])
assert abs(p["train_img_s"] - 2000 / p["train_step_ms"]) < 1e-6 * p["train_img_s"]
assert len(p["train_step_ms_reps"]) == 2 and p["parameters"] == 3253
EOF
check "its JSON (PyTorch side only, img/s = batch * 1000 / ms)" $?
grep -q "^| train ms/step | [0-9]" "$dir/t.md"; check "its Markdown table" $?

# 2. against a hand-written clmtl bench JSON with two devices; the shape comes from the file
cat > "$dir/sample.json" <<'EOF'
{"tool": "clmtl", "version": "0.0-test", "model": "models/tiny.cfg", "batch": 2,
 "height": 32, "width": 64, "weighting": "uncertainty", "optimizer": "adam",
 "devices": [
  {"device": "Sample CPU", "platform": "Test", "kind": "cpu", "train_step_ms": 40.0,
   "train_img_s": 50.0, "infer_ms": 4.0, "infer_img_s": 500.0, "peak_device_bytes": 10485760},
  {"device": "Sample GPU", "platform": "Test", "kind": "gpu", "train_step_ms": 0.5,
   "train_img_s": 4000.0, "infer_ms": 0.1, "infer_img_s": 20000.0, "peak_device_bytes": 1048576}]}
EOF
bench "$src/models/tiny.cfg" $fast --clmtl-json "$dir/sample.json" --all-devices --clmtl "$clmtl" \
  --json "$dir/c.json" --markdown "$dir/c.md" > "$dir/c.out" 2>&1
check "comparison against a clmtl bench JSON" $?
cat "$dir/c.out"
grep -q "clmtl Sample CPU" "$dir/c.out" && grep -q "clmtl Sample GPU" "$dir/c.out"
check "one table per device with --all-devices" $?
grep -q "^train ms/step  *40\.00 " "$dir/c.out"; check "clmtl's train ms/step printed from the file" $?
"$py" - "$dir/c.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
p = d["pytorch"]
assert [c["device"] for c in d["comparisons"]] == ["Sample CPU", "Sample GPU"]
assert d["clmtl"]["version"] == "0.0-test"
want = {"train_step_ms": ("train_step_ms", True), "train_img_s": ("train_img_s", False),
        "infer_ms": ("infer_ms", True), "infer_img_s": ("infer_img_s", False),
        "peak_memory_bytes": ("train_peak_rss_growth_bytes", True)}
for c, dev in zip(d["comparisons"], d["clmtl"]["devices"]):
    assert len(c["rows"]) == len(want)
    for r in c["rows"]:
        tk, lower = want[r["metric"]]
        ck = "peak_device_bytes" if r["metric"] == "peak_memory_bytes" else r["metric"]
        assert r["clmtl"] == dev[ck] and r["pytorch"] == p[tk], r
        assert abs(r["ratio"] - dev[ck] / p[tk]) <= 1e-12 * r["ratio"], r
        assert r["better"] == ("clmtl" if (r["ratio"] < 1) == lower else "pytorch"), r
        assert abs(r["factor"] - max(r["ratio"], 1 / r["ratio"])) < 1e-9 * r["factor"], r
EOF
check "ratios clmtl/PyTorch and the better side in the JSON" $?
test "$(grep -c '^| train ms/step |' "$dir/c.md")" -eq 2; check "Markdown: a table per device" $?
bench "$src/models/tiny.cfg" --size 64x64 --clmtl-json "$dir/sample.json" > "$dir/m.out" 2>&1
rc=$?
cat "$dir/m.out"
[ $rc -eq 2 ] && grep -q "sample.json was measured at batch 2, 32x64" "$dir/m.out"
check "a clmtl JSON of another shape is refused (exit 2)" $?

# the clmtl run: a stand-in binary whose `bench` writes the sample JSON (`model` is clmtl's)
cat > "$dir/fake-clmtl" <<EOF
#!/bin/sh
if [ "\$1" = bench ]; then
  echo "\$@" > "$dir/bench-args"
  if [ -n "\${FAKE_FAIL:-}" ]; then echo "no OpenCL device here" >&2; exit 3; fi
  while [ \$# -gt 1 ]; do [ "\$1" = --json ] && cp "$dir/sample.json" "\$2"; shift; done
  exit 0
fi
exec "$clmtl" "\$@"
EOF
chmod +x "$dir/fake-clmtl"
bench "$src/models/tiny.cfg" --size 32x64 --batch 2 $fast --clmtl "$dir/fake-clmtl" --device 0:0 \
  > "$dir/f.out" 2>&1
check "clmtl bench run through --clmtl" $?
grep -q "^bench $src/models/tiny.cfg --size 32x64 --batch 2 --json .* --device 0:0\$" "$dir/bench-args"
check "clmtl bench got the model, size, batch, JSON path and device" $?
grep -q "^train ms/step  *40\.00 " "$dir/f.out"; check "its JSON read back" $?
! grep -q "Sample GPU" "$dir/f.out"; check "only the first device without --all-devices" $?
FAKE_FAIL=1 bench "$src/models/tiny.cfg" --size 32x64 --batch 2 $fast --clmtl "$dir/fake-clmtl" \
  > "$dir/f.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "no OpenCL device here" "$dir/f.out"
check "a failing clmtl bench: exit 1 with its message" $?

# 3. parameter counts of the big models, independently of the script's own check
for m in default segnet-mtl; do
  bench "$src/models/$m.cfg" --params-only --clmtl "$clmtl" > "$dir/p.out" 2>&1
  check "$m: --params-only" $?
  mine=$(awk '$1 == "parameters:" && $2 == "PyTorch" {print $3}' "$dir/p.out" | tr -d ,)
  theirs=$("$clmtl" model "$src/models/$m.cfg" --size 128x256 --batch 1 | awk '$1 == "parameters:" {print $2}')
  echo "$m: PyTorch $mine, clmtl $theirs parameters"
  [ -n "$mine" ] && [ "$mine" = "$theirs" ]; check "$m: PyTorch parameter count = clmtl model's" $?
done

# 4. PyTorch computes clmtl's first-step losses from clmtl's weights and batch
for m in tiny default; do
  bench "$src/models/$m.cfg" --size 32x64 --batch 2 --verify --clmtl "$clmtl" > "$dir/v.out" 2>&1
  rc=$?
  cat "$dir/v.out"
  [ $rc -eq 0 ] && grep -q "^first step: PyTorch computes" "$dir/v.out"
  check "$m: first-step losses and total equal clmtl model --steps 1's" $?
done

# 5. errors name the file and exit 1 (missing binary) or 2 (bad model file)
bench "$src/models/tiny.cfg" --clmtl "$dir/no-such-clmtl" > "$dir/e.out" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "no-such-clmtl" "$dir/e.out"; check "missing clmtl binary: exit 1, path named" $?
printf '[input]\ntype = input\nchannels = three\n' > "$dir/bad.cfg"
bench "$dir/bad.cfg" --no-clmtl > "$dir/e.out" 2>&1
rc=$?
cat "$dir/e.out"
[ $rc -eq 2 ] && grep -q "bad.cfg:3: layer 'input': 'channels = three' is not an integer" "$dir/e.out"
check "bad model file line: exit 2, file:line named" $?
printf '[input]\ntype = input\nchannels = 3\n\n[c]\ntype = conv\nfrom = nope\nfilters = 4\nsize = 3\n' > "$dir/bad.cfg"
bench "$dir/bad.cfg" --no-clmtl > "$dir/e.out" 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "bad.cfg:5: layer 'c': unknown input 'nope'" "$dir/e.out"
check "unknown input: exit 2, file:line named" $?

finish
