#!/usr/bin/env bash
# Sets up a fresh machine, builds, and runs the demo translator: a small attention LSTM learns a
# built-in task (spelled-out numbers to digits) on the CPU in about ten seconds, then translates
# sentences it has never seen. Extra arguments go to `baton demo` (e.g. --task dates).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
"${BUILD_DIR:-build}/src/baton" demo "$@"
