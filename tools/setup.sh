#!/usr/bin/env bash
# One command from a fresh clone: install dependencies, build, list the OpenCL devices and
# run the main job (training on built-in synthetic scenes) on its built-in default into
# runs/default. Run again, it leaves an existing runs/default alone (clmtl train refuses to
# overwrite a run) and says how to continue or replace it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$(nproc)"
./build/clmtl devices
# the main job on its built-in default: models/default.cfg on synthetic street scenes,
# uncertainty weighting, Adam; about ten minutes on two CPU cores
if [ -e runs/default/log.jsonl ] || [ -e runs/default/last.safetensors ]; then
  echo "runs/default already holds a run: continue it with './build/clmtl train --resume runs/default'"
  echo "or train again with './build/clmtl train --out runs/default --overwrite'"
else
  ./build/clmtl train --out runs/default
fi
