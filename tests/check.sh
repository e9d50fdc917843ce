# Shared by the shell tests (sourced): a scratch directory $dir, removed at exit, and the
# counters behind check NAME STATUS (status 0 passes) and finish (prints the tally, and its
# status is the test's).
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pass=0
fail=0
check() {
  if [ "$2" -eq 0 ]; then echo "[PASS] $1"; pass=$((pass + 1)); else echo "[FAIL] $1"; fail=$((fail + 1)); fi
}
finish() {
  echo "$pass passed, $fail failed"
  test "$fail" -eq 0
}
