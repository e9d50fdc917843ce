#!/bin/sh
# Checkpoints between clmtl and PyTorch both ways (tests/torch_roundtrip.py over
# tools/clmtl_torch.py and the Python package). Exit 77 (skipped) where no python3 has torch
# and numpy.  test_torch_roundtrip.sh CLMTL_PROGRAM SOURCE_DIR LIBCLMTL_SO
set -u
py=
for p in ${PYTHON:-} python3 /usr/bin/python3; do
  if "$p" -c "import torch, numpy" 2>/dev/null; then py="$p"; break; fi
done
if [ -z "$py" ]; then
  echo "SKIP: no python3 here can import torch and numpy (Debian: apt-get install python3-torch)"
  exit 77
fi
. "$(dirname "$0")/check.sh"
CLMTL_LIBRARY="$3" "$py" "$2/tests/torch_roundtrip.py" "$1" "$2" "$dir"
