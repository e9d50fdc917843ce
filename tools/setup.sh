#!/usr/bin/env bash
# One command from a fresh clone: install dependencies, build, list the OpenCL devices and
# run the main job on its built-in default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j "$(nproc)"
./build/clmtl devices
./build/clmtl model models/tiny.cfg --size 64x128 --batch 4 --steps 20 --lr 0.01
