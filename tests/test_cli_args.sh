#!/usr/bin/env bash
# One option-parsing style across the sub-commands that use tools/cli_args.c (model, eval,
# infer, tune, bench, bench merge, synth, export): each prints its usage on --help and -h (exit 0); an
# unknown option is named with the usage (exit 2); an option without its value, a number out
# of its range and a choice outside its list are named with what is wanted (exit 2); a second
# positional argument where one is taken is named (exit 2). Nothing here opens a device.
#   test_cli_args.sh CLMTL_BINARY
. "$(dirname "$0")/check.sh"
clmtl="$1"
run() { "$clmtl" "$@" > "$dir/out" 2> "$dir/err"; rc=$?; }
expect() { # NAME STATUS FILE PATTERN: the last run exited with STATUS, FILE matches PATTERN
  [ "$rc" -eq "$2" ] && grep -q -- "$4" "$dir/$3"; check "$1" $?
  [ "$rc" -eq "$2" ] || { echo "  exit $rc:"; head -c 600 "$dir/err"; echo; }
}
for cmd in model eval infer tune bench "bench merge" synth export; do
  for h in --help -h; do
    run $cmd $h
    expect "$cmd $h prints its usage" 0 out "usage: clmtl $cmd"
  done
  run $cmd --frobnicate
  expect "$cmd names an unknown option, with its usage" 2 err "clmtl $cmd: unknown option '--frobnicate'"
  grep -q "usage: clmtl $cmd" "$dir/err"; check "$cmd: the usage follows the unknown option" $?
done
run model models/x.cfg --steps
expect "model: an option without its value" 2 err "clmtl model: --steps needs a value"
run model models/x.cfg --steps 1x
expect "model: --steps 1x is not an integer" 2 err "clmtl model: --steps 1x: needs an integer in \[0, 1000000\]"
run model models/x.cfg --lr -1
expect "model: --lr -1 is not positive" 2 err "clmtl model: --lr -1: needs a positive number"
run synth --out "$dir/s" --seed x
expect "synth: --seed x is refused" 2 err "--seed wants a non-negative integer"
run synth --out "$dir/s" --count 0
expect "synth: --count 0 is out of range" 2 err "clmtl synth: --count 0"
run model a.cfg b.cfg
expect "model: a second model file is named" 2 err "clmtl model: unexpected argument 'b.cfg'"
run eval --model x.safetensors --split dev
expect "eval: --split names its choices" 2 err "clmtl eval: --split dev: wants one of train, val, test"
run eval --model x.safetensors --count 0
expect "eval: --count 0 is out of range" 2 err "clmtl eval: --count 0: needs an integer in \[1,"
run infer --model x.safetensors --fit crop img.png
expect "infer: --fit names its choices" 2 err "clmtl infer: --fit crop: wants one of letterbox, stretch"
run tune --reps 0
expect "tune: --reps 0 is out of range" 2 err "clmtl tune: --reps 0: needs an integer in \[1, 1000\]"
run bench --warmup -1
expect "bench: --warmup -1 is out of range" 2 err "clmtl bench: --warmup -1: needs an integer in \[0, 1000000\]"
run export --onnx m.onnx --size 2x2 x.safetensors
expect "export: --size 2x2 is out of range" 2 err "clmtl export: --size 2x2"
run export --onnx m.onnx a.safetensors b.safetensors
expect "export: a second checkpoint is named" 2 err "clmtl export: unexpected argument 'b.safetensors'"
run bench merge --csv
expect "bench merge: --csv without a file name" 2 err "clmtl bench merge: --csv needs a value"
finish
