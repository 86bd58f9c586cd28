#!/usr/bin/env bash
# Sets up a fresh machine, builds, and runs every test suite: cpu, and gpu twice: on a real GPU
# where there is one (else its tests skip), and on the CUDA emulation (a second build,
# -Dgpu_emulation=true, in BUILD_DIR-emu), which runs the kernels and the CUDA backend on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
bash scripts/install-deps.sh
bash scripts/build.sh
meson test -C "$build" --print-errorlogs
BUILD_DIR="$build-emu" bash scripts/build.sh -Dgpu_emulation=true
meson test -C "$build-emu" --suite gpu --print-errorlogs
