#!/usr/bin/env bash
# gpu-check.sh: the one script to run on a machine with an NVIDIA GPU. It configures and builds
# baton with whatever that machine has (cuDNN and NCCL found in the Python environment's
# nvidia-* wheels when the system has none; OpenBLAS, cJSON, libpng used where present), runs the
# gpu test suite, baton check (fused vs cuDNN and vs the CPU), short sweeps of baton bench layer /
# attention, the training-step comparison with PyTorch and the cpu suite, and a summary last.
# usage: bench/gpu-check.sh LOG_DIR        (full logs go to LOG_DIR)
# It finishes within BUDGET seconds (environment, default 270, so under 5 minutes with the
# build): each step runs for at most min(its cap, what is left of the budget), a step that would
# get under 10 s is skipped, and the summary is printed however the script ends.
set -uo pipefail
cd "$(dirname "$0")/.."
logs=${1:?usage: bench/gpu-check.sh LOG_DIR}
mkdir -p "$logs"
build=build-gpu
start=$(date +%s)
deadline=$((start + ${BUDGET:-270}))
summary=()
note() { summary+=("$1"); echo "== $1"; }

# The summary is the point of the script: print it on every exit, a killed step or a signal
# included (TERM and INT exit through the EXIT trap).
finish() {
  trap - EXIT
  note "elapsed: $(( $(date +%s) - start )) s of a ${BUDGET:-270} s budget"
  echo
  echo "---- summary ----"
  printf '%s\n' "${summary[@]}" | tee "$logs/summary.txt"
}
trap finish EXIT
trap 'note "interrupted by a signal"; exit 130' INT TERM

# limit CAP: prints the seconds the next step may run, min(CAP, budget left); fails when that is
# under 10 s, so the caller skips the step instead of starting something it must kill at once.
limit() {
  local left=$((deadline - $(date +%s)))
  local t=$(( $1 < left ? $1 : left ))
  [ "$t" -ge 10 ] && echo "$t"
}
# run CAP LOG CMD...: runs CMD with stdout and stderr to LOG under `timeout` (TERM, then KILL 5 s
# later); returns its status, 124 on a timeout, 125 when skipped for want of time.
run() {
  local cap=$1 log=$2 t; shift 2
  t=$(limit "$cap") || { echo "skipped: the time budget is spent" >"$log"; return 125; }
  timeout -k 5 "$t" "$@" >"$log" 2>&1
}
# why STATUS LOG: a few words on a failed step.
why() {
  case "$1" in
    124|137) echo "timed out" ;;
    125) echo "skipped, the time budget is spent" ;;
    *) echo "exit $1: $(tail -1 "$2")" ;;
  esac
}

# nvcc where scripts/build.sh finds it: -Dcuda=enabled fails when nvcc is not on PATH
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi

# the commit measured, and whether the tree differs from it (numbers from a dirty tree are not
# that commit's)
commit=$(git rev-parse HEAD 2>/dev/null || echo "unknown (not a git checkout)")
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | wc -l)
note "commit: $commit$( [ "$dirty" -gt 0 ] && echo " + uncommitted changes in $dirty files (dirty)" || echo " (clean)")"
{ nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null \
    || echo "no GPU seen by nvidia-smi"
  nvcc --version | tail -1; echo "$commit, $dirty files changed"; } >"$logs/machine.txt" 2>&1
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
run 60 "$logs/configure.txt" meson setup "$build" "${opts[@]}"
rc=$?; [ $rc -eq 0 ] || { note "configure: FAILED, $(why $rc "$logs/configure.txt") (see configure.txt)"; exit 1; }
note "configure: $(grep -E 'CUDA|cuDNN|BLAS' "$logs/configure.txt" | tr -s ' ' | tr '\n' ';')"
run 180 "$logs/build.txt" ninja -C "$build"
rc=$?; [ $rc -eq 0 ] || { note "build: FAILED, $(why $rc "$logs/build.txt") (see build.txt)"; exit 1; }
note "build: ok ($(( $(date +%s) - start )) s in)"

# suite SUITE CAP: meson test for one suite. Meson's per-test timeouts (up to 300 s) are scaled
# by --timeout-multiplier to end 10 s before the step's own limit, so a slow test is reported as
# Timeout by meson and the counts are printed; if the step is killed all the same, the counts
# come from the tests meson had finished (its JSON log, written a test at a time).
suite() {
  local name=$1 cap=$2 t max mult log="$logs/test-$1.txt" counts
  if ! t=$(limit "$cap"); then note "$name tests: skipped, the time budget is spent"; return; fi
  max=$(meson introspect "$build" --tests 2>/dev/null | python3 -c '
import json, sys
print(max([x["timeout"] for x in json.load(sys.stdin) if any(s.endswith(":" + sys.argv[1]) or s == sys.argv[1] for s in x["suite"])] or [300]))' "$name" 2>/dev/null || echo 300)
  mult=$(awk -v t="$t" -v m="$max" 'BEGIN { printf "%.3f", (t - 10) / (m > 0 ? m : 300) }')
  timeout -k 5 "$t" meson test -C "$build" --suite "$name" --print-errorlogs --timeout-multiplier "$mult" \
    --logbase "test-$name" >"$log" 2>&1
  local rc=$?
  counts=$(grep -E '^(Ok|Fail|Skipped|Timeout):' "$log" | tr -s ' ' | tr '\n' ' ')
  if [ -z "$counts" ]; then
    counts="killed after ${t} s; finished before that: $(python3 -c '
import collections, json, sys
c = collections.Counter(json.loads(l)["result"] for l in open(sys.argv[1]) if l.strip())
print(" ".join(f"{k}: {v}" for k, v in sorted(c.items())) or "none")' "$build/meson-logs/test-$name.json" 2>/dev/null || echo none)"
  fi
  note "$name tests (per-test limit x$mult): $counts$( [ $rc -ne 0 ] && echo "(exit $rc)")"
}
suite gpu 75

# is the GPU path right: fused kernels against cuDNN and against the CPU, layer and training step
for ref in cudnn cpu; do
  run 30 "$logs/check-$ref.txt" "$build/src/baton" check --device cuda --reference "$ref"
  rc=$?
  note "baton check (fused vs $ref): $( [ $rc -eq 0 ] && echo ok || why $rc "$logs/check-$ref.txt"), $(grep -E 'comparisons within|error' "$logs/check-$ref.txt" | tail -1)"
done
# recurrent layers, fused against cuDNN (a short sweep of baton bench layer; fused_speedup > 1: fused faster)
run 40 "$logs/layer.log" "$build/src/baton" bench layer --device cuda --rnn-impl fused,cudnn --cells lstm \
    --batch 8,64,256 --hidden 256,1024 --steps 50 --layers 1,4 --warmup 2 --reps 5 --csv "$logs/layer.csv" \
    --plot "$logs/layer.png"
rc=$?
[ $rc -eq 0 ] && note "layer (cuDNN time / fused time, f+b; lstm T=50): $(awk -F, '
      /^#/ { next } !h { for (i = 1; i <= NF; i++) c[$i] = i; h = 1; next }
      $c["impl"] != "fused" { printf "%s B=%s H=%s L=%s %s; ", $c["impl"], $c["B"], $c["H"], $c["L"], $c["fused_speedup"] }
    ' "$logs/layer.csv")" \
  || note "layer: not run ($(why $rc "$logs/layer.log"))"
run 20 "$logs/attention.log" "$build/src/baton" bench attention --device cuda --warmup 2 --reps 10 \
    --csv "$logs/attention.csv"
rc=$?
[ $rc -eq 0 ] && note "attention softmax (GB/s, fraction of copy bandwidth): $(awk -F, '
      /^#/ { next } !h { for (i = 1; i <= NF; i++) c[$i] = i; h = 1; next }
      { printf "B=%s S=%s %s %s (%s); ", $c["B"], $c["S"], $c["pass"], $c["gb_per_s"], $c["of_copy"] }
    ' "$logs/attention.csv")" \
  || note "attention: not run ($(why $rc "$logs/attention.log"))"
# whole training steps against PyTorch (nn.LSTM on cuDNN, fp32 and AMP bf16), one run, same shapes;
# tiny and base only, to stay within the budget (gnmt: bench/compare_train.sh --device cuda)
run 60 "$logs/train.txt" bench/compare_train.sh --build "$build" --device cuda --configs tiny,base --warmup 2 \
    --reps 5 --bf16 --out "$logs/train"
rc=$?
if [ $rc -eq 0 ]; then
  note "train tokens/s, baton vs PyTorch:"
  while IFS= read -r line; do note "  $line"; done < <(grep -v '^#' "$logs/train/ratio.txt")
else
  note "train comparison: not run ($(why $rc "$logs/train.txt"))"
fi
# the cpu suite last: every CPU machine runs it too, so it takes what is left of the budget
suite cpu 60
