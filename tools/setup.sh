#!/usr/bin/env bash
# One command from a fresh clone: install dependencies, build, list the OpenCL devices and
# run the main job (training on built-in synthetic scenes) on its built-in default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$(nproc)"
./build/clmtl devices
# the main job on its built-in default: models/default.cfg on synthetic street scenes,
# uncertainty weighting, Adam; about ten minutes on two CPU cores
./build/clmtl train --out runs/default
