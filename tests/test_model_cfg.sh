#!/usr/bin/env bash
# clmtl (tests/dump_model.c) and its Python reader tools/clmtl_cfg.py (tests/dump_model.py)
# read the same model files the same way: for every file of tests/model_cfg/ (edge cases of
# the INI syntax: byte-order marks, inline comments, section headers, continuation lines, white
# space, encodings, sizes that overflow), the shipped models and the model fuzz seeds, both
# refuse it or both read the same layers, every field, and the same parameter count.
#   test_model_cfg.sh DUMP_MODEL_BINARY SOURCE_DIR
. "$(dirname "$0")/check.sh"
dump="$1"
src="$2"
for f in "$src"/tests/model_cfg/*.cfg "$src"/models/*.cfg "$src"/tests/fuzz/model/*.cfg \
         "$src"/tests/fuzz/model/regressions/*; do
  [ -f "$f" ] || continue
  "$dump" "$f" > "$dir/c.txt" 2> "$dir/c.err"
  python3 "$src/tests/dump_model.py" "$f" > "$dir/py.txt" 2> "$dir/py.err"
  if cmp -s "$dir/c.txt" "$dir/py.txt"; then
    check "$(basename "$f"): $(head -c 5 "$dir/c.txt" | grep -q error && echo "both refuse" || echo "same layers")" 0
  else
    check "$(basename "$f"): clmtl and clmtl_cfg.py differ" 1
    diff "$dir/c.txt" "$dir/py.txt" | head -8
    echo "  clmtl: $(head -c 300 "$dir/c.err")"
    echo "  python: $(head -c 300 "$dir/py.err")"
  fi
done
# the files the issue named: accepted by both
for f in bom.cfg readme-inline.cfg crlf.cfg; do
  "$dump" "$src/tests/model_cfg/$f" | grep -q '^params '; check "$f is accepted" $?
done
finish
