#!/usr/bin/env bash
# clmtl (its reading as `clmtl model --json` prints it) and the pure-Python reader of
# tools/clmtl_cfg.py (configparser) read the same model files the same way (tests/dump_model.py
# prints both as one line per layer): for every file of tests/model_cfg/ (edge cases of
# the INI syntax: byte-order marks, inline comments, section headers, continuation lines, white
# space, encodings, sizes that overflow), the shipped models, the user models of tests/models
# and the model fuzz seeds, both refuse it or both read the same layers, every field, and the
# same parameter count; paths that are no model file (a directory, a device, a FIFO nobody
# writes to) both refuse by name, and a pipe both read alike.
#   test_model_cfg.sh CLMTL_BINARY SOURCE_DIR
. "$(dirname "$0")/check.sh"
clmtl="$1"
src="$2"
dump() { python3 "$src/tests/dump_model.py" --clmtl "$clmtl" "$@"; }
for f in "$src"/tests/model_cfg/*.cfg "$src"/models/*.cfg "$src"/tests/models/*.cfg "$src"/tests/fuzz/model/*.cfg \
         "$src"/tests/fuzz/model/regressions/*; do
  [ -f "$f" ] || continue
  dump "$f" > "$dir/c.txt" 2> "$dir/c.err"
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
# paths that are no model file: refused by both, by name, without waiting on a FIFO
mkfifo "$dir/fifo.cfg"
for f in "$dir" /dev/null "$dir/fifo.cfg" "$dir/missing.cfg"; do
  c=$(timeout 20 python3 "$src/tests/dump_model.py" --clmtl "$clmtl" "$f" 2> "$dir/c.err"); py=$(timeout 20 python3 "$src/tests/dump_model.py" "$f" 2> "$dir/py.err")
  [ "$c" = error ] && [ "$py" = error ] && grep -q "$f" "$dir/c.err" && grep -q "$f" "$dir/py.err"
  check "$f: both refuse it by name" $?
done
dump <(cat "$src/models/tiny.cfg") > "$dir/c.txt"; python3 "$src/tests/dump_model.py" <(cat "$src/models/tiny.cfg") > "$dir/py.txt"
grep -q "^params 3253" "$dir/c.txt" && cmp -s "$dir/c.txt" "$dir/py.txt"; check "a pipe (<(...)): both read it, the same" $?
# the files the issue named: accepted by both
for f in bom.cfg readme-inline.cfg crlf.cfg; do
  dump "$src/tests/model_cfg/$f" | grep -q '^params '; check "$f is accepted" $?
done
finish
