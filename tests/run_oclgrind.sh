#!/bin/sh
# Runs a test program under oclgrind at small shapes; fails if the test fails or oclgrind
# reports anything (invalid memory access, data race, uninitialised value, API misuse).
log=$(mktemp)
CLMTL_TEST_SMALL=1 CLMTL_CACHE=0 oclgrind --check-api --data-races --uninitialized \
  --log "$log" "$@"
rc=$?
if [ -s "$log" ]; then
  echo "oclgrind reported:"
  head -c 20000 "$log"
  rc=1
fi
rm -f "$log"
exit $rc
