#!/bin/sh
# `clmtl bench merge`: two short bench runs of the tiny model, one edited to look like another
# machine's (an AMD GPU, another host, date and commit) and one edited to another model with a
# failed device, merge into one table per model whose columns state device, driver, host, date
# and commit and carry each file's numbers unchanged (CSV compared with the JSON); files that are
# not clmtl bench results are refused by name, unwritable outputs before anything is read.
set -u
clmtl="$1"
models="$2"
. "$(dirname "$0")/check.sh"
for r in a b; do
  "$clmtl" bench "$models/tiny.cfg" --size 16x32 --batch 2 --steps 2 --keep-driver-cache \
    --json "$dir/$r.json" > "$dir/$r.log" 2>&1
  check "bench run $r" $?
done
python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
r = json.load(open(f"{d}/b.json"))
dev = r["devices"][0]
dev.update(device="gfx1100", platform="AMD Accelerated Parallel Processing", vendor="Advanced Micro Devices, Inc.",
           driver="3614.0 (HSA1.1,LC)", kind="gpu")
for k in ("train_step_ms",):
    dev[k] /= 4
    for s in ("min", "median", "max"):
        dev["spread"][k][s] /= 4
dev["train_img_s"] *= 4
r.update(host={"cpu": "AMD Ryzen 9 7950X 16-Core Processor", "os": "Linux 6.5.0 x86_64"},
         timestamp="2026-11-30T08:15:00Z", commit="abc1234")
json.dump(r, open(f"{d}/b.json", "w"))
r["model"] = "models/segnet-mtl.cfg"
r["devices"].append({"device": "Broken GPU", "platform": "X", "vendor": "X", "driver": "1", "kind": "gpu",
                     "error": "cold start: out of device memory"})
json.dump(r, open(f"{d}/c.json", "w"))
PY
check "edit one result to look like another machine, one to another model" $?
"$clmtl" bench merge "$dir/a.json" "$dir/b.json" "$dir/c.json" --markdown "$dir/m.md" --csv "$dir/m.csv" \
  --png "$dir/m.png" > "$dir/m.out" 2>&1
check "merge runs" $?
cat "$dir/m.out"
python3 - "$dir" <<'PY'
import csv, json, sys
d = sys.argv[1]
a, b, c = (json.load(open(f"{d}/{n}.json")) for n in "abc")
md = open(f"{d}/m.md").read()
# one table per model: tiny.cfg with two columns, segnet-mtl.cfg with two (one failed)
sections = md.split("\n## ")[1:]
assert [s.split("\n")[0] for s in sections] == ["tiny.cfg, 16x32, batch 2, uncertainty weighting",
                                                "segnet-mtl.cfg, 16x32, batch 2, uncertainty weighting"], md
tiny = sections[0]
head = tiny.split("\n")[2]
assert a["devices"][0]["device"] in head and "gfx1100" in head, head
def row(section, label):
    for line in section.split("\n"):
        if line.startswith(f"| {label} |"):
            return [x.strip() for x in line.strip("|").split(" | ")][1:]
    raise AssertionError(label)
assert row(tiny, "date (UTC)") == [a["timestamp"], "2026-11-30T08:15:00Z"], row(tiny, "date (UTC)")
assert row(tiny, "clmtl (commit)") == [f'{a["version"]} ({a["commit"]})', f'{b["version"]} (abc1234)']
drv = row(tiny, "kind, platform, driver")
assert "3.1" in drv[0] or a["devices"][0]["driver"] in drv[0], drv
assert drv[1] == "gpu, AMD Accelerated Parallel Processing 3614.0 (HSA1.1,LC)", drv
assert row(tiny, "host CPU; OS")[1] == "AMD Ryzen 9 7950X 16-Core Processor; Linux 6.5.0 x86_64"
assert row(tiny, "train img/s") == [f'{a["devices"][0]["train_img_s"]:.2f}', f'{b["devices"][0]["train_img_s"]:.2f}']
seg = sections[1]
assert row(seg, "train step ms, median (min-max)")[1] == "failed: cold start: out of device memory", seg
rows = list(csv.DictReader(open(f"{d}/m.csv")))
assert len(rows) == 4, rows
for r, (res, i) in zip(rows, ((a, 0), (b, 0), (c, 0), (c, 1))):
    dev = res["devices"][i]
    assert r["device"] == dev["device"] and r["timestamp"] == res["timestamp"] and r["commit"] == res["commit"]
    assert r["driver"] == dev["driver"] and r["host_cpu"] == res["host"]["cpu"]
    if "error" in dev:
        assert r["error"] == dev["error"] and r["train_step_ms"] == "", r
    else:
        for k in ("train_step_ms", "infer_ms", "cold_start_s", "warm_start_s"):
            assert abs(float(r[k]) - dev[k]) <= 1e-5 * dev[k], (k, r[k], dev[k])
        assert abs(float(r["train_step_ms_min"]) - dev["spread"]["train_step_ms"]["min"]) <= 1e-5 * dev["spread"]["train_step_ms"]["min"]
assert [r["group"] for r in rows] == ["tiny.cfg, 16x32, batch 2, uncertainty weighting"] * 2 + \
    ["segnet-mtl.cfg, 16x32, batch 2, uncertainty weighting"] * 2
PY
check "one table per model; each column's device, driver, host, date, commit and numbers are its file's" $?
test "$(head -c 8 "$dir/m.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a"; check "the chart is a PNG" $?
grep -q "gfx1100" "$dir/m.out" && grep -q "2026-11-30T08:15:00Z" "$dir/m.out"; check "stdout shows every column" $?

echo "not json" > "$dir/text.json"
echo '{"tool": "pytorch", "devices": []}' > "$dir/torch.json"
for bad in text.json torch.json missing.json; do
  "$clmtl" bench merge "$dir/a.json" "$dir/$bad" --markdown "$dir/x.md" > "$dir/e.log" 2>&1
  test $? -eq 1 && grep -q "$dir/$bad" "$dir/e.log" && test ! -e "$dir/x.md"
  check "$bad is refused by name, nothing written" $?
done
grep -q "not a clmtl bench result" "$dir/e.log" || grep -q "cannot open" "$dir/e.log"; check "the refusal says why" $?
"$clmtl" bench merge "$dir/a.json" --csv "$dir/no-such-dir/m.csv" > "$dir/e.log" 2>&1
test $? -eq 1 && grep -q -- "--csv $dir/no-such-dir/m.csv" "$dir/e.log"; check "an unwritable output is refused, named" $?
"$clmtl" bench merge > "$dir/e.log" 2>&1
test $? -eq 2; check "no files exits 2" $?
"$clmtl" bench merge "$dir/a.json" --frobnicate > "$dir/e.log" 2>&1
test $? -eq 2 && grep -q "unknown option '--frobnicate'" "$dir/e.log"; check "an unknown option names itself" $?
"$clmtl" bench merge --help > "$dir/e.log" 2>&1
test $? -eq 0 && grep -q "usage: clmtl bench merge" "$dir/e.log"; check "--help" $?
finish
