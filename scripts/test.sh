#!/usr/bin/env bash
# Sets up a fresh machine, builds, and runs every test suite (cpu; gpu tests skip without a GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
meson test -C "${BUILD_DIR:-build}" --print-errorlogs
