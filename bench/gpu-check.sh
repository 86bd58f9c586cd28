#!/usr/bin/env bash
# gpu-check.sh: the one script to run on a machine with an NVIDIA GPU. It configures and builds
# baton with whatever that machine has (cuDNN and NCCL found in the Python environment's
# nvidia-* wheels when the system has none; OpenBLAS, cJSON, libpng used where present), runs the
# gpu test suite and the cpu suite, baton check (fused vs cuDNN and vs the CPU), short sweeps of
# baton bench layer / attention, the training-step comparison with PyTorch, and a summary last.
# usage: bench/gpu-check.sh LOG_DIR        (full logs go to LOG_DIR; aims to finish in 5 minutes)
set -uo pipefail
cd "$(dirname "$0")/.."
logs=${1:?usage: bench/gpu-check.sh LOG_DIR}
mkdir -p "$logs"
build=build-gpu
start=$(date +%s)
summary=()
note() { summary+=("$1"); echo "== $1"; }

# nvcc where scripts/build.sh finds it: -Dcuda=enabled fails when nvcc is not on PATH
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi

{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true
  nvcc --version | tail -1; git rev-parse --short HEAD; } >"$logs/machine.txt" 2>&1
note "machine: $(head -1 "$logs/machine.txt")"

# cuDNN / NCCL from the Python wheels when the system has none
opts=(-Dcuda=enabled -Dwerror=false -Dbuildtype=release)
py_nvidia=$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0] if hasattr(nvidia, "__path__") else nvidia.__file__) + "/nvidia")' 2>/dev/null || true)
for lib in cudnn nccl; do
  if ! ldconfig -p 2>/dev/null | grep -q "lib$lib.so" && [ -n "$py_nvidia" ] && [ -d "$py_nvidia/$lib/include" ]; then
    opts+=("-D${lib}_root=$py_nvidia/$lib")
  fi
done
rm -rf "$build"
if ! meson setup "$build" "${opts[@]}" >"$logs/configure.txt" 2>&1; then
  note "configure: FAILED (see configure.txt)"; printf '%s\n' "${summary[@]}"; exit 1
fi
note "configure: $(grep -E 'CUDA|cuDNN|BLAS' "$logs/configure.txt" | tr -s ' ' | tr '\n' ';')"
if ! ninja -C "$build" >"$logs/build.txt" 2>&1; then
  note "build: FAILED (see build.txt)"; printf '%s\n' "${summary[@]}"; exit 1
fi
note "build: ok"

timeout 180 meson test -C "$build" --suite gpu --print-errorlogs >"$logs/test-gpu.txt" 2>&1
note "gpu tests: $(grep -E '^(Ok|Fail|Skipped|Timeout):' "$logs/test-gpu.txt" | tr -s ' ' | tr '\n' ' ')"
timeout 120 meson test -C "$build" --suite cpu >"$logs/test-cpu.txt" 2>&1
note "cpu tests: $(grep -E '^(Ok|Fail|Skipped|Timeout):' "$logs/test-cpu.txt" | tr -s ' ' | tr '\n' ' ')"

# is the GPU path right: fused kernels against cuDNN and against the CPU, layer and training step
for ref in cudnn cpu; do
  timeout 90 "$build/src/baton" check --device cuda --reference "$ref" >"$logs/check-$ref.txt" 2>&1
  note "baton check (fused vs $ref): exit $?, $(grep -E 'comparisons within|error' "$logs/check-$ref.txt" | tail -1)"
done
# recurrent layers, fused against cuDNN (a short sweep of baton bench layer; fused_speedup > 1: fused faster)
timeout 120 "$build/src/baton" bench layer --device cuda --rnn-impl fused,cudnn --cells lstm \
    --batch 8,64,256 --hidden 256,1024 --steps 50 --layers 1,4 --warmup 2 --reps 5 --csv "$logs/layer.csv" \
    --plot "$logs/layer.png" >"$logs/layer.txt" 2>"$logs/layer.log" \
  && note "layer (cuDNN time / fused time, f+b; lstm T=50): $(awk -F, '
      /^#/ { next } !h { for (i = 1; i <= NF; i++) c[$i] = i; h = 1; next }
      $c["impl"] != "fused" { printf "%s B=%s H=%s L=%s %s; ", $c["impl"], $c["B"], $c["H"], $c["L"], $c["fused_speedup"] }
    ' "$logs/layer.csv")" \
  || note "layer: not run ($(tail -1 "$logs/layer.log"))"
timeout 60 "$build/src/baton" bench attention --device cuda --warmup 2 --reps 10 --csv "$logs/attention.csv" \
    >"$logs/attention.txt" 2>"$logs/attention.log" \
  && note "attention softmax (GB/s, fraction of copy bandwidth): $(awk -F, '
      /^#/ { next } !h { for (i = 1; i <= NF; i++) c[$i] = i; h = 1; next }
      { printf "B=%s S=%s %s %s (%s); ", $c["B"], $c["S"], $c["pass"], $c["gb_per_s"], $c["of_copy"] }
    ' "$logs/attention.csv")" \
  || note "attention: not run ($(tail -1 "$logs/attention.log"))"
# whole training steps against PyTorch (nn.LSTM on cuDNN, fp32 and AMP bf16), one run, same shapes;
# tiny and base only, to stay within the 5 minutes (gnmt: bench/compare_train.sh --device cuda)
timeout 150 bench/compare_train.sh --build "$build" --device cuda --configs tiny,base --warmup 2 --reps 5 \
    --bf16 --out "$logs/train" >"$logs/train.txt" 2>&1 \
  && note "train tokens/s, baton vs PyTorch:" && while IFS= read -r line; do note "  $line"; done \
       < <(grep -v '^#' "$logs/train/ratio.txt") \
  || note "train comparison: not run ($(tail -1 "$logs/train.txt"))"
note "elapsed: $(( $(date +%s) - start )) s"
echo
echo "---- summary ----"
printf '%s\n' "${summary[@]}" | tee "$logs/summary.txt"
