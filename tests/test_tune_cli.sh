#!/bin/sh
# `clmtl tune` end to end on the tiny model: it tunes the shapes `clmtl train` runs by default
# (64x128, batch 8: clm_train_defaults), takes --size/--batch as train does (same parser, same
# messages), writes the device's tuning file, and `--reset` removes that file, naming it, and
# says so when there is none.
set -u
clmtl="$1"
models="$2"
. "$(dirname "$0")/check.sh"
export CLMTL_CACHE_DIR="$dir/cache"
"$clmtl" tune "$models/tiny.cfg" --size 16x32 --batch 2 --reps 1 > "$dir/t.log" 2>&1
check "tune runs at a tiny size" $?
grep -q "at 16x32, batch 2" "$dir/t.log"; check "it tunes the given size and batch" $?
head -1 "$dir/t.log" | grep -q "^device: [0-9]*:[0-9]* .* (.*, driver .*)$"; check "the chosen device is printed first" $?
file=$(sed -n 's/^tuning file: //p' "$dir/t.log")
case "$file" in "$dir/cache/tuning-"*.txt) true ;; *) false ;; esac
check "it names the device's tuning file in the cache directory ($file)" $?
test -s "$file"
check "the tuning file exists and is not empty" $?
"$clmtl" tune --reset > "$dir/r.log" 2>&1
test $? -eq 0 && grep -q "removed the tuning file $file" "$dir/r.log" && test ! -e "$file"
check "--reset removes the tuning file and names it" $?
"$clmtl" tune --reset > "$dir/r2.log" 2>&1
test $? -eq 0 && grep -q "no tuning file" "$dir/r2.log"; check "--reset without a file says there was none" $?
"$clmtl" tune --model "$models/tiny.cfg" --reps 1 > "$dir/d.log" 2>&1
test $? -eq 0 && grep -q "at 64x128, batch 8" "$dir/d.log"
check "the default shapes are train's (64x128, batch 8)" $?
"$clmtl" tune --help > "$dir/h.log" 2>&1
test $? -eq 0 && grep -q "64x128" "$dir/h.log" && grep -q -- "--reset" "$dir/h.log"; check "--help states the defaults and --reset" $?
"$clmtl" tune --size 3x3 > "$dir/bad.log" 2>&1
test $? -eq 2 && grep -q "clmtl tune: --size 3x3: wants HxW with H and W in \[4, 4096\]" "$dir/bad.log"
check "--size is checked as train checks it" $?
"$clmtl" tune --batch 0 > "$dir/bad.log" 2>&1
test $? -eq 2 && grep -q "clmtl tune: --batch 0: needs an integer in \[1, 4096\]" "$dir/bad.log"
check "--batch is checked as train checks it" $?
"$clmtl" tune --frobnicate > "$dir/bad.log" 2>&1
test $? -eq 2 && grep -q "unknown option '--frobnicate'" "$dir/bad.log"; check "an unknown option names itself" $?
finish
