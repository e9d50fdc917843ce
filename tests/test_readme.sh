#!/bin/sh
# The README's commands, as a user copies them: every line of its ```sh blocks that starts with
# ./build/clmtl or python3 tools/ runs in a scratch directory laid out like a clone (build/clmtl,
# models/, tools/, cl/) where runs/default already holds a quickly trained run of the default
# model, and must exit 0. The README is read when the test runs, so it follows the README's
# edits. Left out: `bash tools/setup.sh` and `bash .ci/run` (they install packages and build
# or test everything: far beyond a test's time). Changed: a `clmtl train` line gets small
# counts and one epoch appended (later options win) and --overwrite unless it resumes, so that
# it takes seconds and may rerun into runs/default; a `clmtl compare` line gets --check (the
# study read and every run's options checked: a study trains for minutes); `python3 tools/...`
# lines are skipped when matplotlib is missing.
set -u
clmtl="$1"
src="$2"
. "$(dirname "$0")/check.sh"
repo="$dir/repo"
mkdir -p "$repo/build"
ln -s "$(cd "$(dirname "$clmtl")" && pwd)/$(basename "$clmtl")" "$repo/build/clmtl"
for d in models tools cl docs studies; do [ -e "$src/$d" ] && ln -s "$src/$d" "$repo/$d"; done
quick="--train-count 8 --val-count 4 --batch 2 --epochs 1"
(cd "$repo" && ./build/clmtl train --model models/default.cfg $quick --out runs/default > "$dir/train.log" 2>&1)
check "a quick run of the default model in runs/default" $?
has_plot=0
python3 -c 'import matplotlib' 2> /dev/null && has_plot=1
# the command lines: ```sh blocks only, continuation lines joined
awk '/^```sh/ { on = 1; next } /^```/ { on = 0 } on' "$src/README.md" |
  sed -e ':a' -e '/\\$/N; s/\\\n//; ta' |
  grep -E '^[[:space:]]*(\./build/clmtl|python3 tools/)' > "$dir/commands"
n=$(wc -l < "$dir/commands")
test "$n" -ge 3; check "the README has commands to run ($n)" $?
i=0
while IFS= read -r line; do
  i=$((i + 1))
  cmd=$line
  case "$line" in
  *"clmtl train"*)
    case "$line" in *--resume*) ;; *) cmd="${line%%#*} $quick --overwrite" ;; esac ;;
  *"clmtl compare"*) # a study is minutes of training: its file and every run's options only
    cmd="${line%%#*} --check" ;;
  *"python3 tools/"*)
    if [ $has_plot -eq 0 ]; then echo "[SKIP] $line (python3-matplotlib is missing)"; continue; fi ;;
  esac
  (cd "$repo" && timeout 300 sh -c "$cmd") > "$dir/cmd$i.log" 2>&1
  rc=$?
  check "README: $line (exit $rc)" $rc
  [ $rc -eq 0 ] || tail -5 "$dir/cmd$i.log"
done < "$dir/commands"
finish
