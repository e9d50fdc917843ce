#!/bin/sh
# The CLI's environment variables (README, 'clmtl help'), read in one place (tools/cli_env.c)
# and handed to the library as context options: each still does what it says from the command
# line. `clmtl model` shows the device, the nodes (fused or not) and each convolution's variant,
# "(tuned)" where the device's tuning file chose it.
#   test_cli_env.sh CLMTL_BINARY MODELS_DIR
set -u
clmtl="$1"
models="$2"
. "$(dirname "$0")/check.sh"
model() { "$clmtl" model "$models/tiny.cfg" --size 16x32 "$@"; }
export CLMTL_CACHE_DIR="$dir/cache"
unset CLMTL_DEVICE CLMTL_KERNEL_DIR CLMTL_CACHE CLMTL_TUNING CLMTL_CONV_VARIANT CLMTL_FUSE CLMTL_MEMORY_LIMIT

model > "$dir/plain" 2>&1; check "model with no variable set" $?
grep -q "folded+relu" "$dir/plain"; check "fused by default" $?
CLMTL_FUSE=0 model > "$dir/nofuse" 2>&1
grep -q "enc1.act  *activation" "$dir/nofuse" && ! grep -q "folded+relu" "$dir/nofuse"
check "CLMTL_FUSE=0: batch norm and activation are separate nodes" $?
CLMTL_CONV_VARIANT=direct model > "$dir/direct" 2>&1
test "$(grep -c ' conv  .* direct' "$dir/direct")" -eq 6; check "CLMTL_CONV_VARIANT=direct on all 6 convolutions" $?
CLMTL_CONV_VARIANT=nosuch model > "$dir/badvar" 2>&1; rc=$?
test $rc -ne 0 && grep -q "nosuch.* is not a convolution variant (direct, " "$dir/badvar"
check "CLMTL_CONV_VARIANT=nosuch is refused with the list of variants" $?

CLMTL_DEVICE=no-such-device-xyz model > "$dir/nodev" 2>&1; rc=$?
test $rc -ne 0 && grep -q 'no OpenCL device matches "no-such-device-xyz"' "$dir/nodev"
check "CLMTL_DEVICE that matches nothing is refused by name" $?
CLMTL_DEVICE=no-such-device-xyz model --device 0:0 > /dev/null 2>&1; check "--device wins over CLMTL_DEVICE" $?
CLMTL_DEVICE=no-such-device-xyz "$clmtl" devices | grep -q "(default)"; test $? -ne 0
check "clmtl devices marks no default when CLMTL_DEVICE matches nothing" $?
"$clmtl" devices | grep -q "(default)"; check "clmtl devices marks the default device" $?

CLMTL_KERNEL_DIR="$dir/no-kernels" model --steps 1 > "$dir/nokdir" 2>&1; rc=$?
test $rc -ne 0 && grep -q "cannot open kernel source $dir/no-kernels/" "$dir/nokdir"
check "CLMTL_KERNEL_DIR: kernels are read from that directory" $?

"$clmtl" tune "$models/tiny.cfg" --size 16x32 --batch 2 --reps 1 > "$dir/tune" 2>&1
check "tune writes the tuning file into CLMTL_CACHE_DIR" $?
ls "$dir"/cache/tuning-*.txt > /dev/null 2>&1; check "the tuning file is in CLMTL_CACHE_DIR" $?
test "$(model 2> /dev/null | grep -c '(tuned)')" -eq 6; check "model follows the tuning file" $?
test "$(CLMTL_TUNING=0 model 2> /dev/null | grep -c '(tuned)')" -eq 0; check "CLMTL_TUNING=0 ignores it" $?
tuning=$(ls "$dir"/cache/tuning-*.txt)
echo "not a tuning line" >> "$tuning"
model > /dev/null 2> "$dir/warn"
test "$(grep -c '^clmtl: .*tuning-[0-9a-f]*\.txt:[0-9]*: not a tuning entry' "$dir/warn")" -eq 1
check "a malformed tuning line: one warning, printed by the CLI" $?
finish
