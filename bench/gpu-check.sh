#!/usr/bin/env bash
# gpu-check.sh: the one script to run on a machine with an NVIDIA GPU. It configures and builds
# baton with whatever that machine has (cuDNN and NCCL found in the Python environment's
# nvidia-* wheels when the system has none; OpenBLAS, cJSON, libpng used where present), runs the
# gpu test suite and the cpu suite, a short benchmark, and prints a short table last.
# usage: bench/gpu-check.sh LOG_DIR        (full logs go to LOG_DIR; aims to finish in 5 minutes)
set -uo pipefail
cd "$(dirname "$0")/.."
logs=${1:?usage: bench/gpu-check.sh LOG_DIR}
mkdir -p "$logs"
build=build-gpu
start=$(date +%s)
summary=()
note() { summary+=("$1"); echo "== $1"; }

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

for dev in cpu cuda; do
  timeout 60 "$build/bench/baton-bench-rnn" --device "$dev" --hidden 256,512 --reps 5 \
      >"$logs/bench-rnn-$dev.txt" 2>&1 && note "lstm layer ($dev):$(grep -E '^lstm' "$logs/bench-rnn-$dev.txt" | tr -s ' ' | sed 's/^/ /' | tr '\n' ';')" \
      || note "lstm layer ($dev): not run ($(tail -1 "$logs/bench-rnn-$dev.txt"))"
done
# the fused LSTM layer against cuDNN's (same shapes, one run): ratio = cuDNN ms / fused ms (> 1: fused faster)
for impl in fused cudnn-standard; do
  timeout 90 "$build/bench/baton-bench-rnn" --device cuda --impl "$impl" --batch 64 --hidden 256,512,1024 \
      --reps 10 --csv "$logs/layer-$impl.csv" >"$logs/layer-$impl.txt" 2>&1 \
      || note "layer ($impl): not run ($(tail -1 "$logs/layer-$impl.txt"))"
done
if [ -s "$logs/layer-fused.csv" ] && [ -s "$logs/layer-cudnn-standard.csv" ]; then
  note "layer lstm B=64 T=50 L=2, cuDNN/fused time ratio (fwd, f+b) per H: $(awk -F, '
      FNR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
      FILENAME ~ /fused/ { f[$col["H"]] = $col["fwd_ms_median"]; fb[$col["H"]] = $col["fwdbwd_ms_median"]; next }
      { h = $col["H"]; if (h in f) printf "H=%s %.2f, %.2f; ", h, $col["fwd_ms_median"] / f[h], $col["fwdbwd_ms_median"] / fb[h] }
    ' "$logs/layer-fused.csv" "$logs/layer-cudnn-standard.csv")"
fi
# is the GPU path right: fused kernels against cuDNN and against the CPU, layer and training step
for ref in cudnn cpu; do
  timeout 90 "$build/src/baton" check --device cuda --reference "$ref" >"$logs/check-$ref.txt" 2>&1
  note "baton check (fused vs $ref): exit $?, $(tail -1 "$logs/check-$ref.txt")"
done
# whole training steps of the translator (tokens/s: source + target non-pad tokens per second)
for run in "cpu fused 20" "cuda fused 100" "cuda cudnn 100"; do
  set -- $run; dev=$1; impl=$2; steps=$3
  timeout 90 "$build/src/baton" train --device "$dev" --rnn-impl "$impl" --model "$logs/model-$dev-$impl" \
      --task numbers --train-size 4000 --dev-size 100 --emb 256 --hidden 512 --layers 2 --batch 64 \
      --steps "$steps" --log-every 10 --valid-every 0 >"$logs/train-$dev-$impl.txt" 2>&1 \
      && note "train step ($dev, $impl, H=512 L=2 B=64, last 10 of $steps steps): $(grep -E "^train step $steps/" "$logs/train-$dev-$impl.txt" | grep -oE '[0-9.]+[kM]? tok/s')" \
      || note "train step ($dev, $impl): not run ($(tail -1 "$logs/train-$dev-$impl.txt"))"
done
note "elapsed: $(( $(date +%s) - start )) s"
echo
echo "---- summary ----"
printf '%s\n' "${summary[@]}" | tee "$logs/summary.txt"
