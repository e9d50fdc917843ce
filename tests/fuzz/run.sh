#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (AddressSanitizer + UBSan, -DCLMTL_FUZZ=ON) in their
# own build directory and runs each for a bounded time, one after the other.
#   tests/fuzz/run.sh [SECONDS_PER_TARGET (60)] [TARGET...]   targets: model graph safetensors png
# Each target starts from its seeds and regressions (tests/fuzz/<target>/, read only; for model
# also the shipped models/*.cfg) plus a working corpus kept in the build directory between runs. Exits non-zero when a target
# crashes (sanitizer report, failed check, leak, timeout, out of memory); the input is left
# as build-fuzz/crashes/<target>/crash-* — fix the bug, then commit the input as
# tests/fuzz/<target>/regressions/<what>, and the regular ctest run replays it from then on.
# Environment: CC (clang-14, else clang), FUZZ_BUILD (build-fuzz), FUZZ_JOBS (2).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../.." && pwd)"
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(model graph safetensors png)
build="${FUZZ_BUILD:-$src/build-fuzz}"
cc="${CC:-$(command -v clang-14 || command -v clang)}"

cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCLMTL_FUZZ=ON >/dev/null
cmake --build "$build" -j "${FUZZ_JOBS:-2}" --target $(printf 'fuzz_%s ' "${targets[@]}")

# Leaks are errors. The targets create no OpenCL context, so no driver library is loaded and no
# suppression is needed. halt_on_error: the first report fails the run.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1:symbolize=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

status=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  crashes="$build/crashes/$t"
  mkdir -p "$corpus" "$crashes"
  seeds=("$here/$t")
  [ -d "$here/$t/regressions" ] && seeds+=("$here/$t/regressions")
  [ "$t" = model ] && seeds+=("$src/models")
  echo "== fuzz_$t for ${secs}s"
  # -max_len: model files and datasets of a few small PNGs fit in 16 KiB. -timeout: one input
  # is microseconds to milliseconds; 10 s means a hang. -rss_limit_mb: large PNG dimensions
  # must fail cleanly, not allocate gigabytes.
  if ! "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=16384 -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/" \
      "$corpus" "${seeds[@]}"; then
    echo "fuzz_$t FAILED: input in $crashes/" >&2
    status=1
  fi
done
exit $status
