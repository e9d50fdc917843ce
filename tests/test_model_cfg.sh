#!/usr/bin/env bash
# clmtl (its reading as `clmtl model --json` prints it) and the pure-Python reader of
# tools/clmtl_cfg.py (configparser) read the same model files the same way (tests/dump_model.py
# prints both as one line per layer): for every file of tests/model_cfg/ (edge cases of
# the INI syntax: byte-order marks, inline comments, section headers, continuation lines, white
# space, encodings, sizes that overflow), the shipped models, the user models of tests/models
# and the model fuzz seeds, both refuse it or both read the same layers, every field, the same
# execution order and output shapes, the same losses and the same parameter count; paths that are no model file (a directory, a device, a FIFO nobody
# writes to) both refuse by name, and a pipe both read alike.
#   test_model_cfg.sh CLMTL_BINARY SOURCE_DIR
. "$(dirname "$0")/check.sh"
clmtl="$1"
src="$2"
dump() { python3 "$src/tests/dump_model.py" --clmtl "$clmtl" "$@"; }
for f in "$src"/tests/model_cfg/*.cfg "$src"/models/*.cfg "$src"/tests/models/*.cfg "$src"/tests/fuzz/model/*.cfg \
         "$src"/tests/fuzz/model/regressions/*; do
  [ -f "$f" ] || continue
  dump "$f" > "$dir/c.txt" 2> "$dir/c.err"
  python3 "$src/tests/dump_model.py" "$f" > "$dir/py.txt" 2> "$dir/py.err"
  if cmp -s "$dir/c.txt" "$dir/py.txt"; then
    check "$(basename "$f"): $(head -c 5 "$dir/c.txt" | grep -q error && echo "both refuse" || echo "same layers")" 0
  else
    check "$(basename "$f"): clmtl and clmtl_cfg.py differ" 1
    diff "$dir/c.txt" "$dir/py.txt" | head -8
    echo "  clmtl: $(head -c 300 "$dir/c.err")"
    echo "  python: $(head -c 300 "$dir/py.err")"
  fi
done
# paths that are no model file: refused by both, by name, without waiting on a FIFO
mkfifo "$dir/fifo.cfg"
for f in "$dir" /dev/null "$dir/fifo.cfg" "$dir/missing.cfg"; do
  c=$(timeout 20 python3 "$src/tests/dump_model.py" --clmtl "$clmtl" "$f" 2> "$dir/c.err"); py=$(timeout 20 python3 "$src/tests/dump_model.py" "$f" 2> "$dir/py.err")
  [ "$c" = error ] && [ "$py" = error ] && grep -q "$f" "$dir/c.err" && grep -q "$f" "$dir/py.err"
  check "$f: both refuse it by name" $?
done
dump <(cat "$src/models/tiny.cfg") > "$dir/c.txt"; python3 "$src/tests/dump_model.py" <(cat "$src/models/tiny.cfg") > "$dir/py.txt"
grep -q "^params 3253" "$dir/c.txt" && cmp -s "$dir/c.txt" "$dir/py.txt"; check "a pipe (<(...)): both read it, the same" $?
# the JSON's parameters and tasks, against rules written here from the model files' keys:
# names as checkpoints have them, shapes, counts (task parameters included), task fields
for m in tiny default segnet-mtl; do
  "$clmtl" model --json "$src/models/$m.cfg" --size 64x96 --batch 3 > "$dir/m.json"
  python3 - "$dir/m.json" <<'EOF'
import json, math, sys
d = json.load(open(sys.argv[1]))
assert (d["batch"], d["height"], d["width"]) == (3, 64, 96)
by = {l["name"]: l for l in d["layers"]}
want, tasks = [], []
for nm in d["order"]:
    l = by[nm]
    k, t = l["keys"], l["type"]
    assert l["shape"][0] == (1 if l["is_loss"] else 3), l
    if t in ("conv", "deconv"):
        cin = by[l["from"][0]]["shape"][1]
        w = [k["filters"], cin] if t == "conv" else [cin, k["filters"]]
        want.append((nm + ".weight", w + [k["size"]] * 2, False))
        if k["bias"] == 1 or (k["bias"] == -1 and not k["bn"]):
            want.append((nm + ".bias", [1, k["filters"], 1, 1], False))
        if k["bn"]:
            want += [(f"{nm}.bn.{p}", [1, k["filters"], 1, 1], p.startswith("running"))
                     for p in ("weight", "bias", "running_mean", "running_var")]
    elif t == "batchnorm":
        want += [(f"{nm}.{p}", [1, l["shape"][1], 1, 1], p.startswith("running"))
                 for p in ("weight", "bias", "running_mean", "running_var")]
    elif l["is_loss"]:
        want.append((nm + ".task_param", [1, 1, 1, 1], False))
for nm in [l["name"] for l in d["layers"] if l["is_loss"]]:
    l, k = by[nm], by[nm]["keys"]
    pred = by[l["from"][0]]
    tasks.append({"name": nm, "type": l["type"], "kind": k["kind"], "prediction": pred["name"],
                  "target": k["target"], "mask": k["mask"] or None,
                  "channels": pred["shape"][1],
                  **({"classes": pred["shape"][1]} if l["type"] == "softmax_xent" else {}),
                  "weight": k["weight"]})
got = [(p["name"], p["shape"], p["state"]) for p in d["parameters"]]
assert sorted(got) == sorted(want), (got, want)
assert d["parameter_count"] == sum(math.prod(s) for _, s, st in got if not st)
assert d["state_count"] == sum(math.prod(s) for _, s, st in got if st)
assert d["tasks"] == tasks, (d["tasks"], tasks)
assert sorted(d["order"]) == sorted(by) and len(set(d["order"])) == len(by)
EOF
  check "$m: clmtl model --json: parameter names, shapes and counts, tasks" $?
done
"$clmtl" model --json "$dir/missing.cfg" > "$dir/c.txt" 2> "$dir/c.err"
[ $? -eq 1 ] && [ ! -s "$dir/c.txt" ] && grep -q "missing.cfg" "$dir/c.err"
check "clmtl model --json: a missing file is exit 1, named, nothing on stdout" $?
# the files the issue named: accepted by both
for f in bom.cfg readme-inline.cfg crlf.cfg; do
  dump "$src/tests/model_cfg/$f" | grep -q '^params '; check "$f is accepted" $?
done
finish
