#!/usr/bin/env bash
# Installs everything clmtl needs to build and test from Debian's packages: compiler, CMake,
# the OpenCL ICD loader and headers, PoCL (OpenCL on the CPU), oclgrind, CLBlast, stb, cJSON,
# clang with its sanitizer and libFuzzer runtimes for the fuzzing step, Open MPI for
# data-parallel training and its tests (tests/test_mpi.sh), and matplotlib for
# tools/plot.py (tests/test_plot.sh), NumPy and pytest for the Python package (python/,
# tests/python).
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake pkg-config clang-14 libclang-rt-14-dev \
  ocl-icd-opencl-dev opencl-headers clinfo pocl-opencl-icd oclgrind \
  libclblast-dev libstb-dev libcjson-dev openmpi-bin libopenmpi-dev \
  python3 python3-matplotlib python3-numpy python3-pytest >/dev/null
