#!/usr/bin/env bash
# Installs what building and testing baton needs on Debian 12 / Ubuntu (run as root or with sudo).
# The CUDA toolkit is not installed here: where nvcc is on PATH (or in /usr/local/cuda) the build
# compiles the kernels too; without it the build is CPU-only.
set -euo pipefail
# --fuzzing adds clang with its sanitizer and libFuzzer runtimes (the fuzz targets: docs/fuzzing.md).
pkgs=(meson ninja-build pkg-config gcc g++ libopenblas-dev libxsmm-dev libdnnl-dev libcjson-dev libpng-dev
      libsentencepiece-dev libopenmpi-dev openmpi-bin)
if [ "${1:-}" = "--fuzzing" ]; then
  pkgs+=(clang libclang-rt-dev)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
