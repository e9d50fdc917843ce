#!/bin/sh
# clmtl's Adam/AdamW optimizer state in torch.optim and back, and one step each way agreeing
# (tests/torch_optim.py over tools/clmtl_torch.py and tests/optim_step.c). Exit 77 (skipped)
# where no python3 has torch.  test_torch_optim.sh CLMTL_PROGRAM OPTIM_STEP SOURCE_DIR
set -u
py=
for p in ${PYTHON:-} python3 /usr/bin/python3; do
  if "$p" -c "import torch" 2>/dev/null; then py="$p"; break; fi
done
if [ -z "$py" ]; then
  echo "SKIP: no python3 here can import torch (Debian: apt-get install python3-torch)"
  exit 77
fi
. "$(dirname "$0")/check.sh"
"$py" "$3/tests/torch_optim.py" "$1" "$2" "$3" "$dir"
