#!/usr/bin/env bash
# Configures (once) and builds baton in BUILD_DIR (default: build), warnings as errors.
# Extra arguments go to `meson setup`, e.g. -Dcuda=disabled or -Dcudnn_root=DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dwerror=true "$@"
fi
ninja -C "$build"
