#!/bin/sh
# The training progress display: on a terminal (a pty from script(1)) one line redrawn in place
# with \r that never reaches the terminal's width, at 60 and at 200 columns (fewer fields at 60,
# the task names at 200); plain lines, no \r, when stdout is a pipe.
set -u
clmtl="$1"
models="$2"
. "$(dirname "$0")/check.sh"
if ! script -qc true /dev/null > /dev/null 2>&1; then
  echo "[SKIP] script(1) from util-linux is missing"
  exit 77
fi
opts="--model $models/tiny.cfg --size 32x64 --batch 4 --train-count 48 --val-count 8 --patience 0 --epochs 2 --log-every 1"
# the progress segments: the pieces between \r and \n of the epoch lines, escapes removed
segments() {
  tr '\r' '\n' < "$1" | sed 's/\x1b\[K//g' | grep '^epoch [0-9]*/[0-9]*'
}
for cols in 60 200; do
  script -qc "stty cols $cols; \"$clmtl\" train $opts --out \"$dir/tty$cols\"" /dev/null > "$dir/tty$cols.out" 2>&1
  check "training on a $cols-column pty succeeds" $?
  redraws=$(grep -o "$(printf '\r')epoch" "$dir/tty$cols.out" | wc -l)
  test "$redraws" -ge 20; check "... the progress line is redrawn in place with a carriage return ($redraws times)" $?
  widest=$(segments "$dir/tty$cols.out" | awk '{ n = length($0); if (n > m) m = n } END { print m + 0 }')
  test "$widest" -gt 0 && test "$widest" -lt "$cols"; check "... every progress line fits in $cols columns (widest $widest)" $?
done
segments "$dir/tty200.out" | tail -1 | grep -q 'semantic [0-9.]* w [0-9.]* σ [0-9.]* instance .* depth '
check "at 200 columns the tasks are shown by name with weight and sigma" $?
segments "$dir/tty60.out" | tail -1 | grep -q 'semantic.*w [0-9.]* σ.*depth'
test $? -ne 0; check "at 60 columns fields are dropped, not wrapped" $?
"$clmtl" train $opts --out "$dir/pipe" > "$dir/pipe.out" 2>&1
check "training into a pipe succeeds" $?
! grep -q "$(printf '\r')" "$dir/pipe.out"; check "... with no carriage return in its output" $?
test "$(grep -c '^epoch [12]/2 step' "$dir/pipe.out")" -ge 24; check "... and one plain line per progress report" $?
finish
