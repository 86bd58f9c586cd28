#!/usr/bin/env bash
# Sets up a fresh machine, builds, and runs the demo. Until the translator lands, the demo is the
# LSTM layer benchmark on the CPU backend (B=32, T=50, H=256 and 512, 2 layers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
"${BUILD_DIR:-build}/bench/baton-bench-rnn" --device cpu --cell lstm --batch 32 --steps 50 --hidden 256,512 --layers 2
