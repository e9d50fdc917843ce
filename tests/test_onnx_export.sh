#!/bin/sh
# clmtl export --onnx against clmtl's own inference (tests/onnx_check.py): for the default
# model (a short training run), tiny.cfg, segnet-mtl.cfg (MaxUnpool), a grey model with renamed
# input, heads and tasks (tests/models/gray_renamed.cfg) and a model written here
# with every other op (deconv with output_padding, leaky relu, a batch-norm layer, an
# activation layer, sigmoid, add, dilation, stride, an odd-sized unpool), each checkpoint is
# exported, checked by onnx.checker.check_model and run in ONNX Runtime on synthetic images at
# the network's resolution, and compared with `clmtl infer --raw`: argmax agreement 100%,
# softmax within 1e-5, regression outputs within 1e-4. Also: a symbolic-size export run at
# twice the training size, a fixed-size export, and the CLI's refusals.
# ONNX Runtime comes from PyPI (pip install onnxruntime) into a venv under the build tree
# (python3 -m venv --system-site-packages, so Debian's python3-onnx is seen); exit 77 (skipped)
# only where that cannot be had (no venv/pip, PyPI unreachable) or no python3 has onnx and PIL.
#   test_onnx_export.sh CLMTL_PROGRAM SOURCE_DIR VENV_DIR
set -u
clmtl=$1 src=$2 venv=$3
export CLMTL_PROGRAM="$clmtl"
py=
for p in ${PYTHON:-} /usr/bin/python3 python3; do
  if "$p" -c "import onnx, numpy, PIL" 2>/dev/null; then py="$p"; break; fi
done
if [ -z "$py" ]; then
  echo "SKIP: no python3 here can import onnx, numpy and PIL (Debian: apt-get install python3-onnx python3-pil)"
  exit 77
fi
if ! "$venv/bin/python" -c "import onnxruntime, onnx" 2>/dev/null; then
  rm -rf "$venv"
  if ! "$py" -m venv --system-site-packages "$venv" >/dev/null 2>&1 ||
     ! "$venv/bin/pip" install -q --disable-pip-version-check onnxruntime >"$venv.log" 2>&1; then
    echo "SKIP: could not install onnxruntime from PyPI into $venv:"
    tail -3 "$venv.log" 2>/dev/null
    rm -rf "$venv"
    exit 77
  fi
fi
vpy="$venv/bin/python"
check_py="$src/tests/onnx_check.py"
"$vpy" -c "import onnxruntime, onnx; print('onnxruntime', onnxruntime.__version__, 'onnx', onnx.__version__)"
. "$(dirname "$0")/check.sh"

# every op the exporter writes; stride/dilation/pad give an odd 15x31 grid that pools to 7x15
cat > "$dir/ops.cfg" <<'EOF'
[input]
type = input
channels = 3

[c1]
type = conv
from = input
filters = 6
size = 3
bn = 1
act = leaky
slope = 0.2

[c2]
type = conv
from = c1
filters = 8
size = 3
stride = 2
dilation = 2
pad = 1
bias = 1

[bn2]
type = batchnorm
from = c2

[a2]
type = activation
from = bn2
act = sigmoid

[p2]
type = maxpool
from = a2

[u2]
type = unpool
from = p2
indices = p2

[d1]
type = deconv
from = u2
filters = 6
size = 3
stride = 2
pad = 0
output_padding = 1
bn = 1
act = relu

[sum]
type = add
from = d1, c1

[cat]
type = concat
from = sum, c1

[seg_head]
type = conv
from = cat
filters = 5
size = 1

[depth_head]
type = deconv
from = cat
filters = 1
size = 1

[task.semantic]
type = softmax_xent
from = seg_head
target = semantic

[task.depth]
type = l1
from = depth_head
target = depth
mask = depth_mask
EOF

H=32 W=64
"$clmtl" synth --out "$dir/scenes" --count 3 --size ${H}x${W} > /dev/null 2>&1
check "synth ${H}x${W} scenes" $?
imgs=$(ls "$dir"/scenes/leftImg8bit/test/synth/*.png)

# one model: export CKPT, infer --raw on the images, compare
run_model() { # TAG CKPT [infer options...]
  tag=$1 ckpt=$2
  shift 2
  "$clmtl" export --onnx "$dir/$tag.onnx" "$ckpt" > "$dir/$tag.export.log" 2>&1
  check "$tag: clmtl export --onnx" $?
  "$clmtl" infer --model "$ckpt" --raw --out "$dir/$tag.infer" "$@" $imgs > "$dir/$tag.infer.log" 2>&1
  check "$tag: clmtl infer --raw" $?
  # shellcheck disable=SC2086
  "$vpy" "$check_py" compare "$tag" "$dir/$tag.onnx" "$dir/$tag.infer" $imgs
  check "$tag: ONNX Runtime agrees with clmtl infer" $?
}

"$clmtl" train --model "$src/models/default.cfg" --size ${H}x${W} --train-count 8 --val-count 2 --batch 4 \
  --epochs 1 --seed 3 --out "$dir/run" > "$dir/train.log" 2>&1
check "train default.cfg briefly" $?
run_model default "$dir/run/best.safetensors"

for m in tiny segnet-mtl; do
  "$vpy" "$check_py" random "$src/models/$m.cfg" $H $W "$dir/$m.safetensors"
  check "$m: a checkpoint with random weights and batch-norm statistics" $?
  run_model "$m" "$dir/$m.safetensors"
done
# a grey model whose input layer is 'pixels' and whose heads and tasks are renamed
"$vpy" "$check_py" random "$src/tests/models/gray_renamed.cfg" $H $W "$dir/gray.safetensors"
check "gray_renamed: a checkpoint with random weights and batch-norm statistics" $?
run_model gray "$dir/gray.safetensors"
"$vpy" -c "import onnx, sys; sys.exit(0 if [i.name for i in onnx.load(sys.argv[1]).graph.input] == ['pixels'] else 1)" "$dir/gray.onnx"
check "gray_renamed: the graph input is named after the input layer, 'pixels'" $?
"$vpy" "$check_py" random "$dir/ops.cfg" $H $W "$dir/ops.safetensors"
check "ops: a checkpoint with random weights and batch-norm statistics" $?
run_model ops "$dir/ops.safetensors"
"$vpy" -c "
import onnx, sys
ops = sorted({n.op_type for n in onnx.load(sys.argv[1]).graph.node} | {n.op_type for n in onnx.load(sys.argv[2]).graph.node})
print('ops exported:', ' '.join(ops))
want = {'Conv', 'ConvTranspose', 'BatchNormalization', 'Relu', 'LeakyRelu', 'Sigmoid', 'MaxPool', 'MaxUnpool',
        'Shape', 'Resize', 'Concat', 'Add', 'Identity'}
sys.exit(0 if want <= set(ops) else 1)" "$dir/ops.onnx" "$dir/default.onnx"
check "the models exercise every op the exporter writes" $?

# symbolic height and width: the same file at twice the training size
"$clmtl" synth --out "$dir/big" --count 2 --size $((2 * H))x$((2 * W)) > /dev/null 2>&1
big=$(ls "$dir"/big/leftImg8bit/test/synth/*.png)
"$clmtl" infer --model "$dir/tiny.safetensors" --size $((2 * H))x$((2 * W)) --raw --out "$dir/tiny.big" $big \
  > "$dir/tiny.big.log" 2>&1
check "tiny: clmtl infer --size $((2 * H))x$((2 * W))" $?
# shellcheck disable=SC2086
"$vpy" "$check_py" compare tiny-big "$dir/tiny.onnx" "$dir/tiny.big" $big
check "tiny: the symbolic-size export at $((2 * H))x$((2 * W)) agrees" $?

# fixed sizes
"$clmtl" export --onnx "$dir/fixed.onnx" --size ${H}x${W} --batch 3 "$dir/tiny.safetensors" > /dev/null 2>&1
check "export --size ${H}x${W} --batch 3" $?
"$vpy" -c "
import onnx, sys
m = onnx.load(sys.argv[1])
dims = [[d.dim_value or d.dim_param for d in v.type.tensor_type.shape.dim] for v in list(m.graph.input) + list(m.graph.output)]
print(dims)
sys.exit(0 if dims == [[3, 3, $H, $W], [3, 7, $H, $W], [3, 2, $H, $W], [3, 1, $H, $W]] else 1)" "$dir/fixed.onnx"
check "its input and outputs have the fixed shapes" $?

# refusals
"$clmtl" export "$dir/tiny.safetensors" > "$dir/e1.log" 2>&1
test $? -eq 2 && grep -q -- "--onnx" "$dir/e1.log"
check "export without --onnx: usage error naming --onnx" $?
"$clmtl" export --onnx "$dir/x.onnx" "$src/models/tiny.cfg" > "$dir/e2.log" 2>&1
test $? -eq 1 && grep -q "tiny.cfg" "$dir/e2.log" && test ! -e "$dir/x.onnx"
check "export of a model file instead of a checkpoint: refused naming it, nothing written" $?
"$clmtl" export --onnx "$dir/nodir/x.onnx" "$dir/tiny.safetensors" > "$dir/e3.log" 2>&1
test $? -eq 1 && grep -q "nodir/x.onnx" "$dir/e3.log"
check "export into a missing directory: refused naming the file" $?
"$vpy" "$check_py" random "$src/models/tiny.cfg" $H $W "$dir/nan.safetensors" enc2.bn.running_var
"$clmtl" export --onnx "$dir/nan.onnx" "$dir/nan.safetensors" > "$dir/e4.log" 2>&1
test $? -eq 1 && grep -q "enc2.bn.running_var" "$dir/e4.log" && grep -q "index 3" "$dir/e4.log" && test ! -e "$dir/nan.onnx"
check "a NaN in a checkpoint is refused naming the tensor and the index, nothing written" $?
finish
