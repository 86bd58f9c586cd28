#!/usr/bin/env bash
# Builds baton with AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer (Meson's own
# -Db_sanitize=address,undefined) and runs the cpu suite, then the same with the CUDA emulation and
# its gpu suite (the kernels keep the emulation's compute-sanitizer checks; the host code, the CUDA
# backend and the emulated runtime get ASan's). Any report fails the test that caused it.
#   BUILD_DIR  prefix of the two build directories (default build-asan: build-asan, build-asan-emu)
#   SUITES     which to run: cpu, gpu or "cpu gpu" (default)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-asan}
# halt on the first report of any kind, leaks included, and say where: meson test passes these on
# to every test and to the baton runs inside the shell tests
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# The emulated gpu suite runs each launch under one schedule here: races are the plain emulation
# run's job (scripts/test.sh, four schedules); this run looks for the host code's memory errors
# and leaks, which one schedule exercises as fully, four times faster.
export BATON_EMU_SCHEDULES=${BATON_EMU_SCHEDULES:-forward}
# b_ndebug: the same error lines as a release build (debug builds add baton's source positions)
sanitize=(-Db_sanitize=address,undefined -Dbuildtype=debugoptimized -Db_ndebug=true)
for suite in ${SUITES:-cpu gpu}; do
  case $suite in
    cpu) BUILD_DIR="$build" bash scripts/build.sh -Dcuda=disabled "${sanitize[@]}"
         meson test -C "$build" --suite cpu --print-errorlogs --num-processes "${JOBS:-2}" \
           --timeout-multiplier 2 ;;
    gpu) BUILD_DIR="$build-emu" bash scripts/build.sh -Dgpu_emulation=true "${sanitize[@]}"
         meson test -C "$build-emu" --suite gpu --no-suite dist --print-errorlogs --num-processes "${JOBS:-2}" \
           --timeout-multiplier 2 ;;
    *) echo "sanitize.sh: SUITES: '$suite', expected cpu or gpu" >&2; exit 2 ;;
  esac
done
