#!/bin/sh
# tools/plot.py on two small hand-written runs, in the log.jsonl format the trainer writes
# (src/train/trainer.c log_epoch; older logs count epochs from 0, current ones from 1; the plots
# always from 1): the PNGs exist, every axis is labelled (epoch; %, the target's units, loss scale), each figure is
# titled with the run's directory name, mIoU and pixel accuracy are drawn in % (100 x the
# logged fractions), two runs share one figure per kind of curve with one colour per run and a
# legend naming the runs; without matplotlib it prints the install hint and exits 1.
# Skipped (77) where no python3 can import matplotlib.
set -u
src="$1"
plot="$src/tools/plot.py"
. "$(dirname "$0")/check.sh"
py=""
for p in ${PYTHON:-} python3 /usr/bin/python3; do
  if "$p" -c "import matplotlib" > /dev/null 2>&1; then py=$p; break; fi
done
if [ -z "$py" ]; then
  echo "matplotlib is not installed for python3: skipped (apt-get install python3-matplotlib)"
  exit 77
fi
mkdir "$dir/runA" "$dir/runB" "$dir/cmp"
# runA: uncertainty weighting (sigmas); runB: fixed weights (sigma null), one epoch fewer
cat > "$dir/runA/log.jsonl" <<'LOG'
{"event":"epoch","epoch":0,"lr":0.002,"seconds":1.5,"val_loss":2.5,"skipped_steps":0,"best":true,"tasks":{"semantic":{"train_loss":1.2,"val_loss":1.3,"weight":0.9,"sigma":1.05,"miou":0.21,"pixel_accuracy":0.55},"depth":{"train_loss":0.8,"val_loss":0.9,"weight":1.1,"sigma":0.95,"mae":3.2,"rmse":4.1,"rel_error":0.3,"l1_per_pixel":3.3}}}
{"event":"step","step":5,"loss":1.1}
{"event":"epoch","epoch":1,"lr":0.0015,"seconds":1.4,"val_loss":2.1,"skipped_steps":0,"best":true,"tasks":{"semantic":{"train_loss":1.0,"val_loss":1.1,"weight":0.8,"sigma":1.1,"miou":0.34,"pixel_accuracy":0.66},"depth":{"train_loss":0.7,"val_loss":0.8,"weight":1.2,"sigma":0.9,"mae":2.9,"rmse":3.8,"rel_error":0.27,"l1_per_pixel":3.0}}}
{"event":"epoch","epoch":2,"lr":0.001,"seconds":1.4,"val_loss":1.9,"skipped_steps":0,"best":true,"tasks":{"semantic":{"train_loss":0.9,"val_loss":1.0,"weight":0.7,"sigma":1.2,"miou":0.405,"pixel_accuracy":0.71},"depth":{"train_loss":0.6,"val_loss":0.75,"weight":1.3,"sigma":0.85,"mae":2.7,"rmse":3.5,"rel_error":0.25,"l1_per_pixel":2.8}}}
LOG
cat > "$dir/runB/log.jsonl" <<'LOG'
{"event":"epoch","epoch":0,"lr":0.002,"seconds":1.5,"val_loss":2.6,"skipped_steps":0,"best":true,"tasks":{"semantic":{"train_loss":1.3,"val_loss":1.4,"weight":1,"sigma":null,"miou":0.18,"pixel_accuracy":0.5},"depth":{"train_loss":0.85,"val_loss":0.95,"weight":1,"sigma":null,"mae":3.4,"rmse":4.3,"rel_error":0.32,"l1_per_pixel":3.5}}}
{"event":"epoch","epoch":1,"lr":0.001,"seconds":1.4,"val_loss":2.3,"skipped_steps":0,"best":true,"tasks":{"semantic":{"train_loss":1.1,"val_loss":1.2,"weight":1,"sigma":null,"miou":0.3,"pixel_accuracy":0.6},"depth":{"train_loss":0.75,"val_loss":0.85,"weight":1,"sigma":null,"mae":3.0,"rmse":3.9,"rel_error":0.28,"l1_per_pixel":3.1}}}
LOG
# plot.py run under a harness that records what each saved figure shows
cat > "$dir/harness.py" <<'PY'
import json, runpy, sys
import matplotlib
matplotlib.use("Agg")
from matplotlib.figure import Figure
from matplotlib.colors import to_hex
record, saved = sys.argv[1], []
orig = Figure.savefig
def savefig(self, path, **kw):
    axes = []
    for ax in self.axes:
        leg = ax.get_legend()
        axes.append({"title": ax.get_title(), "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(),
                     "legend": [t.get_text() for t in leg.get_texts()] if leg else [],
                     "lines": [{"label": l.get_label(), "x": [float(v) for v in l.get_xdata()],
                                "y": [float(v) for v in l.get_ydata()], "colour": to_hex(l.get_color())}
                               for l in ax.lines]})
    saved.append({"path": str(path), "suptitle": self._suptitle.get_text() if self._suptitle else "",
                  "axes": axes})
    json.dump(saved, open(record, "w"))
    return orig(self, path, **kw)
Figure.savefig = savefig
sys.argv = [sys.argv[2]] + sys.argv[3:]
runpy.run_path(sys.argv[0], run_name="__main__")
PY
"$py" "$dir/harness.py" "$dir/one.json" "$plot" "$dir/runA" > "$dir/one.log" 2>&1
check "plot.py draws one run" $?
cat "$dir/one.log"
for f in losses metrics weights; do
  test "$(head -c 8 "$dir/runA/$f.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a"
  check "runA/$f.png is a PNG" $?
done
"$py" - "$dir/one.json" <<'PY'
import json, math, sys
figs = {f["path"].rsplit("/", 1)[1]: f for f in json.load(open(sys.argv[1]))}
assert sorted(figs) == ["losses.png", "metrics.png", "weights.png"], figs.keys()
for name, f in figs.items():
    assert f["suptitle"] == "runA", (name, f["suptitle"])
    for ax in f["axes"]:
        assert ax["xlabel"] == "epoch" and ax["ylabel"], (name, ax["title"], ax["xlabel"], ax["ylabel"])
        for l in ax["lines"]:
            assert l["x"] == [1, 2, 3], (name, l)  # 1-based epochs
m = {ax["title"]: ax for ax in figs["metrics.png"]["axes"]}
sem = m["semantic (validation)"]
assert sem["ylabel"] == "%", sem["ylabel"]
miou = [l for l in sem["lines"] if l["label"] == "mIoU"][0]["y"]
acc = [l for l in sem["lines"] if l["label"] == "pixel accuracy"][0]["y"]
assert all(math.isclose(a, b) for a, b in zip(miou, [21.0, 34.0, 40.5])), miou
assert all(math.isclose(a, b) for a, b in zip(acc, [55.0, 66.0, 71.0])), acc
assert "px" in m["depth (validation)"]["ylabel"], m["depth (validation)"]["ylabel"]
w = {ax["title"]: ax for ax in figs["weights.png"]["axes"]}
assert [l["y"] for l in w["learned sigma"]["lines"] if l["label"] == "depth"] == [[0.95, 0.9, 0.85]]
PY
check "one run: titled with its directory, axes labelled with units, epochs from 1, mIoU in %" $?

"$py" "$dir/harness.py" "$dir/two.json" "$plot" "$dir/runA" "$dir/runB" --out "$dir/cmp" > "$dir/two.log" 2>&1
check "plot.py draws two runs on shared figures" $?
for f in losses metrics weights; do
  test "$(head -c 8 "$dir/cmp/$f.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a"
  check "cmp/$f.png is a PNG" $?
done
"$py" - "$dir/two.json" <<'PY'
import json, math, sys
figs = {f["path"].rsplit("/", 1)[1]: f for f in json.load(open(sys.argv[1]))}
assert sorted(figs) == ["losses.png", "metrics.png", "weights.png"], figs.keys()
for name, f in figs.items():
    assert f["suptitle"] == "runA vs runB", f["suptitle"]
    for ax in f["axes"]:
        runs = {l["label"].split(" ")[0] for l in ax["lines"]}
        if ax["title"] == "learned sigma":
            assert runs == {"runA"}, runs  # runB's weighting has none
            continue
        assert runs == {"runA", "runB"}, (name, ax["title"], runs)
        colour = {}
        for l in ax["lines"]:
            colour.setdefault(l["label"].split(" ")[0], set()).add(l["colour"])
        assert all(len(c) == 1 for c in colour.values()) and colour["runA"] != colour["runB"], colour
        assert any("runA" in t for t in ax["legend"]) and any("runB" in t for t in ax["legend"]), ax["legend"]
sem = [ax for ax in figs["metrics.png"]["axes"] if ax["title"] == "semantic (validation)"][0]
b = [l for l in sem["lines"] if l["label"] == "runB mIoU"][0]
assert b["x"] == [1, 2] and all(math.isclose(u, v) for u, v in zip(b["y"], [18.0, 30.0])), b
PY
check "two runs: one figure per kind of curve, one colour per run, legend names the runs" $?

# the trainer's current logs count epochs from 1: they are drawn as logged, not shifted
mkdir "$dir/runC"
sed 's/"epoch":1,/"epoch":2,/; s/"epoch":0,/"epoch":1,/' "$dir/runB/log.jsonl" > "$dir/runC/log.jsonl"
"$py" "$dir/harness.py" "$dir/c.json" "$plot" "$dir/runC" > "$dir/c.log" 2>&1
check "plot.py draws a 1-based log" $?
"$py" - "$dir/c.json" <<'PY'
import json, sys
for f in json.load(open(sys.argv[1])):
    for ax in f["axes"]:
        for l in ax["lines"]:
            assert l["x"] == [1, 2], (f["path"], ax["title"], l)
PY
check "a 1-based log keeps its epoch numbers (1, 2)" $?

# matplotlib hidden: a module on PYTHONPATH named matplotlib whose import fails
mkdir "$dir/shim" "$dir/shim/matplotlib"
echo 'raise ImportError("hidden by the test")' > "$dir/shim/matplotlib/__init__.py"
PYTHONPATH="$dir/shim" "$py" "$plot" "$dir/runA" > "$dir/hint.out" 2> "$dir/hint.err"
rc=$?
cat "$dir/hint.err"
test $rc -eq 1 && test "$(wc -l < "$dir/hint.err")" -eq 1 &&
  grep -q "python3-matplotlib: apt-get install python3-matplotlib" "$dir/hint.err" && test ! -s "$dir/hint.out"
check "without matplotlib: one-line install hint, exit 1" $?
"$py" "$plot" "$dir/nowhere" > /dev/null 2> "$dir/e.err"
test $? -eq 1 && grep -q "nowhere/log.jsonl" "$dir/e.err"; check "a missing log is named" $?
finish
