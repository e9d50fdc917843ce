#!/usr/bin/env bash
# `clmtl model` on what broke it: sizes that wrapped the planner (same --batch/--size bounds as
# `clmtl train`), a plan beyond the memory budget (refused before allocating, with bytes and
# the largest layer), a model given through a pipe (read once), and paths that are no model
# file (a FIFO nobody writes to, a directory: refused by name, never waited on).
#   test_model_cli.sh CLMTL_BINARY MODELS_DIR
. "$(dirname "$0")/check.sh"
clmtl="$1"
models="$2"
expect() { # NAME STATUS PATTERN: the last run exited with STATUS and its stderr matches PATTERN
  [ "$rc" -eq "$2" ] && { [ -z "$3" ] || grep -q -- "$3" "$dir/err"; }; check "$1" $?
  [ "$rc" -eq "$2" ] || { echo "  exit $rc:"; head -c 600 "$dir/err"; echo; }
}
"$clmtl" model --batch 1048576 --size 4194304x4194304 "$models/tiny.cfg" > /dev/null 2> "$dir/err"; rc=$?
expect "model: --batch 1048576 refused with the bound" 2 "needs an integer in \[1, 4096\]"
"$clmtl" model --size 4194304x4194304 "$models/tiny.cfg" > /dev/null 2> "$dir/err"; rc=$?
expect "model: --size 4194304x4194304 refused with the bound" 2 "H and W in \[4, 4096\]"
"$clmtl" train --batch 1048576 > /dev/null 2> "$dir/err"; rc=$?
expect "train: the same --batch bound" 2 "needs an integer in \[1, 4096\]"
"$clmtl" train --size 4194304x4194304 > /dev/null 2> "$dir/err"; rc=$?
expect "train: the same --size bound" 2 "H and W in \[4, 4096\]"
CLMTL_MEMORY_LIMIT=1M "$clmtl" model "$models/tiny.cfg" > /dev/null 2> "$dir/err"; rc=$?
expect "a plan over the memory budget is refused with bytes and the largest layer" 1 \
  "tiny.cfg: the graph needs [0-9]* bytes.*available (CLMTL_MEMORY_LIMIT.*largest layer: .*tiny.cfg:[0-9]*: layer"
# the layer of the report (65536 filters of 63x63): 7 GB of device buffers plus 3 GB of host
# copies at the defaults, which PoCL's "all of RAM" global memory let through to an OOM kill
printf '[input]\ntype = input\nchannels = 3\n[big]\ntype = conv ; huge\nfrom = input\nfilters = 65536\nsize = 63\n' > "$dir/huge.cfg"
CLMTL_MEMORY_LIMIT=8G "$clmtl" model "$dir/huge.cfg" > /dev/null 2> "$dir/err"; rc=$?
expect "filters = 65536, size = 63: refused before allocating, naming the layer" 1 \
  "huge.cfg: the graph needs .*host copies.*largest layer: .*huge.cfg:4: layer 'big'"
"$clmtl" model <(cat "$models/tiny.cfg") > "$dir/out" 2> "$dir/err"; rc=$?
expect "a model through a pipe (<(...)) is read" 0 ""
grep -q "parameters: 3253" "$dir/out"; check "  ... and gives the same network" $?
mkfifo "$dir/fifo.cfg"
timeout 20 "$clmtl" model "$dir/fifo.cfg" > /dev/null 2> "$dir/err"; rc=$?
expect "a FIFO nobody writes to is refused by name, not waited on" 1 "fifo.cfg is a pipe that gave no data"
"$clmtl" model "$dir" > /dev/null 2> "$dir/err"; rc=$?
expect "a directory is refused by name" 1 "is a directory, not a regular file"
finish
