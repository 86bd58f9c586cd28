#!/usr/bin/env bash
# gpu-check.sh: the one script to run on a machine with an NVIDIA GPU (bench/README.md, "The GPU check").
# It configures and builds baton with whatever that machine has (cuDNN and NCCL found in the Python
# environment's nvidia-* wheels when the system has none; OpenBLAS, cJSON, libpng used where present),
# then runs, most important first:
#   correctness: the gpu test suite (with the 1-GPU NCCL smoke test, nccl_gpu); baton check, fused kernels against cuDNN and against the CPU (fp32,
#                bf16, and the plain versions of the parts);
#   the headline: `baton bench train` gnmt in bf16 (fused recurrent kernels, newest part versions) and
#                PyTorch's cuDNN LSTM under AMP bf16 autocast on the same configuration (pytorch_baseline.py);
#   then issue 13's whole-recurrence versions (--rnn-impl fused-gemm, persistent, wavefront, auto): the LSTM layer of its
#   goals beside cuDNN at B = 8, 16, 128, base and gnmt trained with them;
#   then gnmt in tf32, with --rnn-impl cudnn, with the plain part versions (--kernels), base with the newest (and the fused loss, loss=fused, which the model favours at base)
#   and the plain versions, PyTorch base, `baton bench compare` of every CSV into one table with ratios,
#   decoding (`baton bench translate` greedy and beam 5 on a small model trained there, and
#   bench/pytorch_translate.py on the GPU over the same ids: speed and the same translations), short
#   layer / attention sweeps. (The cpu suite is CI's: a GPU machine's minutes go to the GPU.)
# Every part runs under its own time box, min(its box, what is left of the budget); a part that would get
# under 10 s is skipped and said so; one failing part never stops the others (a part that needs the baton
# executable is skipped when the build made none). The summary (the commit measured, each part ok /
# FAILED / TIMED OUT / skipped, the headline tokens/s and ratios) is rewritten after every part and
# printed however the script ends.
#
# usage: bench/gpu-check.sh [--export DIR] LOG_DIR       run it (logs, CSVs and summary.txt in LOG_DIR)
#        bench/gpu-check.sh --dry-run [--baton EXE] [LOG_DIR]
#   --export DIR  after every part, copy LOG_DIR/summary.txt to DIR/gpu-check-summary.txt and LOG_DIR as
#                 DIR/gpu-check-logs.tar.gz (two files, for a machine that returns few files, such as $OUT)
#   --dry-run     build and run nothing: print the plan (each part, its time box, the time it is expected
#                 to take on an H200 and its command), check that every planned baton command line parses
#                 (with EXE, default build/src/baton: each command with an invalid last flag appended must
#                 fail on that flag and no earlier one; --precision, --kernels and --rnn-impl values must be
#                 in `baton bench --help` / `baton check --help`) and every pytorch_baseline.py command line
#                 (with --list-configs appended, no torch needed); then compare and summarise the CSVs already
#                 in LOG_DIR, if any. Exit status 1 when a command line is rejected.
# Environment: BUDGET (seconds, default 270: under 5 minutes with the start), BUILD_DIR (default build-gpu,
#   removed and configured afresh), PYTHON (with torch, default python3), PLAIN_KERNELS (the plain versions,
#   default colsum=plain,dv=plain,embed=plain,loss=plain,step=eager).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd) || exit 2

dry=0 vbaton="" export_dir="" logs=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --dry-run) dry=1; shift ;;
    --baton) vbaton=${2:?--baton needs an executable}; shift 2 ;;
    --export) export_dir=${2:?--export needs a directory}; shift 2 ;;
    -*) echo "gpu-check.sh: unknown option '$1' (--help)" >&2; exit 2 ;;
    *) [ -z "$logs" ] || { echo "gpu-check.sh: one LOG_DIR only" >&2; exit 2; }; logs=$1; shift ;;
  esac
done
if [ -z "$logs" ]; then
  [ $dry = 1 ] || { echo "usage: bench/gpu-check.sh [--export DIR] LOG_DIR  (--help)" >&2; exit 2; }
  logs=$(mktemp -d)
fi
# paths from the command line are the caller's; then everything runs in the repository's root
mkdir -p "$logs" || exit 2
logs=$(cd "$logs" && pwd)
[ -z "$export_dir" ] || { mkdir -p "$export_dir" && export_dir=$(cd "$export_dir" && pwd); } || exit 2
[ -z "$vbaton" ] || [[ "$vbaton" == /* ]] || vbaton=$(pwd)/$vbaton
cd "$here" || exit 2
budget=${BUDGET:-270}
gpu=0 gpu_name="no GPU"
build=${BUILD_DIR:-build-gpu}
BATON=$build/src/baton
PYTHON=${PYTHON:-python3}
PLAIN_KERNELS=${PLAIN_KERNELS:-colsum=plain,dv=plain,embed=plain,loss=plain,step=eager}
if [ $dry = 1 ] && [ -z "$vbaton" ]; then
  for b in build/src/baton "$BATON"; do [ -x "$b" ] && { vbaton=$b; break; }; done
fi
start=$(date +%s)
deadline=$((start + budget))

parts=()                     # part names, in order
declare -A pstat pcap        # status line, time box
declare -A pdet              # a few words of result
notes=()                     # header lines: commit, machine, configuration
rejected=0                   # dry run: command lines that do not parse
current_pid="" current_part=""

note() { notes+=("$1"); echo "== $1"; }

# ---- summary -----------------------------------------------------------------------------------------------

# num FILE SYSTEM CONFIG FEED PRECISION: "tokens_per_s median_step_ms" of the matching row of a train CSV
# (baton's or pytorch_baseline.py's; SYSTEM "pytorch" matches any pytorch-<version>), else nothing.
num() {
  [ -f "$1" ] || return 0
  awk -F, -v sys="$2" -v cfg="$3" -v feed="$4" -v prec="$5" '
    /^#/ { next }
    !h { for (i = 1; i <= NF; i++) c[$i] = i; h = 1; next }
    ($c["system"] == sys || (sys == "pytorch" && index($c["system"], "pytorch-") == 1)) &&
    $c["config"] == cfg && $c["feed"] == feed && $c["precision"] == prec && $c["tokens_per_s"] + 0 > 0 {
      printf "%.0f %.3f\n", $c["tokens_per_s"], $c["median_step_ms"]; exit }' "$1"
}
# ratio "A_TPS A_MS" "B_TPS B_MS": "A tok/s (ms/step) vs B tok/s (ms/step): A/B x", or which one is missing.
ratio() {
  if [ -n "$1" ] && [ -n "$2" ]; then
    awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
      printf "%d vs %d tok/s (%.2f vs %.2f ms/step): %.2fx", x[1], y[1], x[2], y[2], x[1] / y[1] }'
  else
    echo "not measured (first: $([ -n "$1" ] && echo ok || echo missing), second: $([ -n "$2" ] && echo ok || echo missing))"
  fi
}
# The precision of the plain-versus-newest comparison: bf16, unless baton's gnmt bf16 run failed or timed out.
kprec() {
  case "${pstat[train-gnmt-bf16]:-}" in
    FAILED*|TIMED*) echo tf32 ;;
    *) echo bf16 ;;
  esac
}
key_numbers() {
  local l=$logs kp b p f
  kp=$(kprec)
  b=$(num "$l/train-gnmt-bf16.csv" baton-fused gnmt off bf16)
  p=$(num "$l/torch-gnmt.csv" pytorch gnmt off bf16)
  echo "HEADLINE gnmt bf16 (feed off, B=128), baton vs PyTorch AMP: $(ratio "$b" "$p")"
  [ -n "$b" ] && [ -n "$p" ] && awk -v a="$b" -v b="$p" -v gpu="$gpu_name" 'BEGIN { split(a, x, " "); split(b, y, " ");
      r = x[1] / y[1]; printf "  goal baton/PyTorch >= 2: %s (%.2f); goal >= 500k tok/s on an H200: %s (%.0fk on %s)\n",
      (r >= 2 ? "MET" : "not met"), r, (x[1] >= 500000 ? "MET" : "not met"), x[1] / 1000, gpu }'
  echo "gnmt tf32, baton vs PyTorch TF32: $(ratio "$(num "$l/train-gnmt-tf32.csv" baton-fused gnmt off tf32)" \
                                                   "$(num "$l/torch-gnmt.csv" pytorch gnmt off tf32)")"
  echo "gnmt bf16, fused vs --rnn-impl cudnn: $(ratio "$b" "$(num "$l/train-gnmt-bf16-cudnn.csv" baton-cudnn gnmt off bf16)")"
  echo "gnmt tf32, fused vs --rnn-impl cudnn: $(ratio "$(num "$l/train-gnmt-tf32.csv" baton-fused gnmt off tf32)" \
                                                       "$(num "$l/train-gnmt-tf32-cudnn.csv" baton-cudnn gnmt off tf32)")"
  echo "gnmt $kp, newest vs plain parts: $(ratio "$(num "$l/train-gnmt-$kp.csv" baton-fused gnmt off "$kp")" \
                                                  "$(num "$l/train-gnmt-$kp-plain.csv" baton-fused-plain gnmt off "$kp")")"
  for f in off on; do
    echo "base $kp feed $f, newest vs plain parts: $(ratio "$(num "$l/train-base-$kp.csv" baton-fused base "$f" "$kp")" \
                                                           "$(num "$l/train-base-$kp-plain.csv" baton-fused-plain base "$f" "$kp")")"
  done
  for f in off on; do
    echo "base $kp feed $f, baton vs PyTorch: $(ratio "$(num "$l/train-base-$kp.csv" baton-fused base "$f" "$kp")" \
                                                      "$(num "$l/torch-base.csv" pytorch base "$f" "$kp")")"
  done
}
summary() {
  local n_ok=0 n_bad=0 n_skip=0 p s
  echo "gpu-check.sh summary$([ $dry = 1 ] && echo " (DRY RUN: nothing was built or run; numbers below come from CSVs found in LOG_DIR)")"
  printf '%s\n' "${notes[@]}"
  echo "-- key numbers (tokens/s; ratio > 1: the first is faster) --"
  key_numbers
  echo "-- parts, in the order run --"
  for p in "${parts[@]}"; do
    s=${pstat[$p]:-not reached}
    case "$s" in ok*) n_ok=$((n_ok + 1)) ;; skipped*|planned*|"not reached") n_skip=$((n_skip + 1)) ;; *) n_bad=$((n_bad + 1)) ;; esac
    printf '%-24s %s%s\n' "$p" "$s" "${pdet[$p]:+; ${pdet[$p]}}"
  done
  if [ -s "$logs/compare.txt" ]; then
    echo "-- baton bench compare of every train CSV (tokens/s; ratios: each baton system over each other system) --"
    grep -av '^#' "$logs/compare.txt"
  fi
  echo "-- $n_ok ok, $n_bad failed or timed out, $n_skip skipped or not run; $(( $(date +%s) - start )) s of a $budget s budget"
  [ $dry = 1 ] && echo "-- dry run: $rejected planned command lines rejected"
  [ $n_bad -eq 0 ]
}
# After every part: summary.txt as it stands, and the export copies.
progress() {
  summary >"$logs/summary.txt.tmp" 2>&1
  mv -f "$logs/summary.txt.tmp" "$logs/summary.txt"
  if [ -n "$export_dir" ]; then
    cp -f "$logs/summary.txt" "$export_dir/gpu-check-summary.txt"
    tar czf "$export_dir/.gpu-check-logs.tmp" -C "$(dirname "$logs")" "$(basename "$logs")" 2>/dev/null &&
      mv -f "$export_dir/.gpu-check-logs.tmp" "$export_dir/gpu-check-logs.tar.gz"
  fi
}
finish() {
  local rc=$?
  trap - EXIT
  progress
  echo
  echo "---- summary ($logs/summary.txt) ----"
  cat "$logs/summary.txt"
  if [ $dry = 1 ]; then
    [ $rejected -eq 0 ] && exit 0 || exit 1
  fi
  [ $rc -ne 0 ] && exit $rc
  summary >/dev/null && exit 0 || exit 1
}
trap finish EXIT
on_signal() {
  trap - INT TERM
  note "interrupted by a signal$([ -n "$current_part" ] && echo " during $current_part")"
  if [ -n "$current_pid" ]; then
    pstat[$current_part]="INTERRUPTED"
    kill -TERM "$current_pid" 2>/dev/null   # timeout passes it on to the part's processes
    wait "$current_pid" 2>/dev/null
  fi
  exit 130
}
trap on_signal INT TERM

# ---- running parts -----------------------------------------------------------------------------------------

# limit CAP: prints the seconds the next part may run, min(CAP, budget left); fails when that is under 10 s.
limit() {
  local left=$((deadline - $(date +%s)))
  local t=$(( $1 < left ? $1 : left ))
  [ "$t" -ge 10 ] && echo "$t"
}
quote() { local q; q=$(printf '%q ' "$@"); echo "${q% }"; }
last_error() {
  local line
  line=$(grep -aiE 'error:|failed:' "$1" 2>/dev/null | grep -av '^#' | head -1)
  [ -n "$line" ] || line=$(grep -aiE 'error|fail|refus|not built|no usable|cannot' "$1" 2>/dev/null | grep -av '^#' | head -1)
  [ -n "$line" ] || line=$(grep -av '^[[:space:]]*$' "$1" 2>/dev/null | tail -1)
  echo "${line:0:200}"
}

# Dry run: does CMD parse? baton commands get an invalid last flag and must fail on it, and no sooner;
# their --precision / --kernels / --rnn-impl values must be in baton's --help lists; pytorch_baseline.py
# commands get --list-configs, which parses every flag and needs no torch.
help_bench="" help_check=""
validate() {
  local -a cmd=("$@")
  local out rc sentinel=() expect="" bad=()
  if [ "${cmd[0]}" = "$BATON" ]; then
    if [ -z "$vbaton" ] || [ ! -x "$vbaton" ]; then
      echo "      not checked: no baton executable (--baton EXE)"; return 0
    fi
    cmd[0]=$vbaton
    case "${cmd[1]} ${cmd[2]:-}" in
      "bench train"|"bench layer"|"bench attention"|"bench translate") sentinel=(--reps 0); expect="--reps: '0'" ;;
      "check "*) sentinel=(--seed x); expect="--seed: 'x'" ;;
      *) echo "      not checked (no parse-only form)"; return 0 ;;
    esac
    [ -n "$help_bench" ] || help_bench=$("$vbaton" bench --help 2>&1)
    [ -n "$help_check" ] || help_check=$("$vbaton" check --help 2>&1)
    local precisions kernels impls i v
    precisions=" $(grep -o -- '--precision [a-z0-9|]*' <<<"$help_bench" | head -1 | cut -d' ' -f2 | tr '|' ' ') "
    kernels=" $(grep -oE '[a-z]+=[a-z|]+' <<<"$help_bench" | awk -F= '{ n = split($2, v, "|"); for (i = 1; i <= n; i++) printf "%s=%s ", $1, v[i] }') "
    impls=" $(grep -- '--rnn-impl' <<<"$help_check" | grep -o '([a-z,-]*)' | tr -d '()' | tr ',' ' ') "
    for ((i = 1; i + 1 < ${#cmd[@]}; i++)); do
      case "${cmd[i]}" in
        --precision) [[ "$precisions" == *" ${cmd[i+1]} "* ]] || bad+=("--precision ${cmd[i+1]} is not in baton bench --help's list:$precisions") ;;
        --kernels) for v in ${cmd[i+1]//,/ }; do
                     [[ "$kernels" == *" $v "* ]] || bad+=("--kernels $v is not in baton bench --help's list:$kernels")
                   done ;;
        --rnn-impl) for v in ${cmd[i+1]//,/ }; do
                      [[ "$impls" == *" $v "* ]] || bad+=("--rnn-impl $v is not in baton check --help's list:$impls")
                    done ;;
      esac
    done
    out=$("${cmd[@]}" "${sentinel[@]}" 2>&1 >/dev/null); rc=$?
    if [ $rc -ne 2 ] || ! grep -qF -- "$expect" <<<"$out"; then
      bad+=("baton rejects it before the test flag: $(head -1 <<<"$out") (exit $rc)")
    fi
  elif [ "${cmd[0]}" = "$PYTHON" ] && [[ "${cmd[1]:-}" == *pytorch_baseline.py ]]; then
    out=$(python3 "${cmd[@]:1}" --list-configs 2>&1 >/dev/null); rc=$?
    [ $rc -eq 0 ] || bad+=("pytorch_baseline.py rejects it: $(head -1 <<<"$out")")
  else
    echo "      not checked (not a baton or pytorch_baseline.py command)"; return 0
  fi
  if [ ${#bad[@]} -eq 0 ]; then
    echo "      parses"
  else
    rejected=$((rejected + 1))
    printf '      REJECTED: %s\n' "${bad[@]}"
  fi
}

# part NAME BOX EXPECT LOG CMD...: runs CMD, stdout and stderr to LOG, under `timeout` (TERM, then KILL 5 s
# later) for min(BOX, budget left) seconds; records ok / FAILED / TIMED OUT / skipped. EXPECT: seconds it is
# expected to take on an H200 (the plan's). Returns CMD's status, 124/137 timed out, 125 skipped.
# With always=1 it runs in a dry run too (post-processing of CSVs, with the --baton executable).
always=0 plan_at=0 plan_n=0
part() {
  local name=$1 box=$2 expect=$3 log=$4; shift 4
  local -a cmd=("$@")
  parts+=("$name"); pcap[$name]=$box
  if [ $dry = 1 ]; then
    plan_n=$((plan_n + 1))
    printf '%2d %-24s box %3d s  expect %3d s  (from %3d s)  %s\n' "$plan_n" "$name" "$box" "$expect" "$plan_at" "$(quote "${cmd[@]}")"
    plan_at=$((plan_at + expect))
    if [ $always = 0 ]; then
      validate "${cmd[@]}"
      pstat[$name]="planned (box $box s, expect $expect s)"
      return 0
    fi
    [ "${cmd[0]}" = "$BATON" ] && { [ -x "$vbaton" ] || { pstat[$name]="skipped (no --baton executable)"; return 125; }; cmd[0]=$vbaton; }
  fi
  local t t0 rc dt
  if ! t=$(limit "$box"); then
    pstat[$name]="skipped (budget spent)"
    echo "skipped: the time budget is spent" >"$log"
    echo "== $name: skipped, the time budget is spent"
    progress
    return 125
  fi
  t0=$(date +%s)
  echo "== $name (box $t s): $(quote "${cmd[@]}")"
  { echo "# $(quote "${cmd[@]}")"; echo "# time box $t s, started $(date -u +'%F %T UTC')"; } >"$log"
  current_part=$name
  timeout -k 5 "$t" "${cmd[@]}" >>"$log" 2>&1 </dev/null &
  current_pid=$!
  wait "$current_pid"; rc=$?
  current_pid="" current_part=""
  dt=$(( $(date +%s) - t0 ))
  case $rc in
    0) pstat[$name]="ok (${dt} s)" ;;
    124|137) pstat[$name]="TIMED OUT (box $t s)" ;;
    *) if [ $rc -gt 128 ]; then
         pstat[$name]="FAILED (signal $(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128))), ${dt} s): $(last_error "$log")"
       else
         pstat[$name]="FAILED (exit $rc, ${dt} s): $(last_error "$log")"
       fi ;;
  esac
  echo "== $name: ${pstat[$name]}"
  progress
  return $rc
}
# skip NAME BOX EXPECT REASON: a part not started for want of what it needs (listed, and planned in a dry run).
skip() {
  if [ $dry = 1 ]; then return 1; fi
  parts+=("$1"); pcap[$1]=$2; pstat[$1]="skipped ($4)"
  echo "== $1: skipped ($4)"
  progress
}
have_baton() { [ $dry = 1 ] || [ -x "$BATON" ]; }
# bpart NAME BOX EXPECT LOG CMD...: a part that needs the baton executable and the GPU.
bpart() {
  if [ $dry = 0 ] && [ $gpu = 0 ]; then skip "$1" "$2" "$3" "no GPU"; return 125; fi
  if ! have_baton; then skip "$1" "$2" "$3" "no baton executable: the build failed or did not run"; return 125; fi
  part "$@"
}
# tpart NAME BOX EXPECT ARGS...: baton bench train on the GPU, CSV LOG_DIR/NAME.csv; the rows as the detail.
tpart() {
  local name=$1 box=$2 expect=$3; shift 3
  [ $dry = 1 ] || rm -f "$logs/$name.csv"
  bpart "$name" "$box" "$expect" "$logs/$name.log" "$BATON" bench train --device cuda --warmup 3 --reps 10 \
    --csv "$logs/$name.csv" "$@"
  local rc=$?
  rows "$name"
  return $rc
}
# ppart NAME BOX EXPECT ARGS...: pytorch_baseline.py on the GPU, CSV LOG_DIR/NAME.csv (written a row at a time).
ppart() {
  local name=$1 box=$2 expect=$3; shift 3
  if [ $dry = 0 ] && [ $gpu = 0 ]; then skip "$name" "$box" "$expect" "no GPU"; return 125; fi
  [ $dry = 1 ] || rm -f "$logs/$name.csv"
  part "$name" "$box" "$expect" "$logs/$name.log" "$PYTHON" bench/pytorch_baseline.py --device cuda --warmup 3 \
    --steps 10 --csv "$logs/$name.csv" "$@"
  local rc=$?
  rows "$name"
  return $rc
}
# rows NAME: "config feed precision system: tok/s, ms/step, MiB" of LOG_DIR/NAME.csv as the part's detail.
rows() {
  [ -f "$logs/$1.csv" ] || return 0
  pdet[$1]=$(awk -F, '/^#/ { next } !h { for (i = 1; i <= NF; i++) c[$i] = i; h = 1; next }
    { printf "%s%s %s feed %s %s: %.0f tok/s, %.2f ms/step, %.0f MiB", n++ ? "; " : "", $c["system"], $c["config"],
             $c["feed"], $c["precision"], $c["tokens_per_s"], $c["median_step_ms"], $c["peak_mem_mib"] }' "$logs/$1.csv")
  [ $dry = 1 ] || progress
}
# plain NAME: the plain-versions run's systems become baton-<impl>-plain, so that bench compare keeps them apart.
plain() {
  [ $dry = 0 ] && [ -f "$logs/$1.csv" ] || return 0
  sed -i -E 's/^(baton-[a-z-]+),/\1-plain,/' "$logs/$1.csv"
  rows "$1"
}

# ---- the machine, the commit --------------------------------------------------------------------------------

# nvcc where scripts/build.sh finds it: -Dcuda=enabled fails when nvcc is not on PATH
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
# meson and ninja from the Python environment's packages when they are not on PATH (pip's meson, ninja)
if ! command -v meson >/dev/null && "$PYTHON" -c 'import mesonbuild' 2>/dev/null; then
  mkdir -p "$logs/.bin" && printf '#!/bin/sh\nexec %q -m mesonbuild.mesonmain "$@"\n' "$(command -v "$PYTHON")" >"$logs/.bin/meson" &&
    chmod +x "$logs/.bin/meson" && export PATH=$logs/.bin:$PATH
fi
if ! command -v ninja >/dev/null; then
  nb=$("$PYTHON" -c 'import ninja; print(ninja.BIN_DIR)' 2>/dev/null) && [ -x "$nb/ninja" ] && export PATH=$PATH:$nb
fi
# the commit measured, and whether the tree differs from it (numbers from a dirty tree are not that commit's)
commit=$(git rev-parse HEAD 2>/dev/null || echo "unknown (not a git checkout)")
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | wc -l)
note "commit measured: $commit$( [ "$dirty" -gt 0 ] && echo " + uncommitted changes in $dirty files (dirty)" || echo " (clean)")"
sm="" smi=""
if smi=$(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,compute_cap --format=csv,noheader 2>/dev/null) &&
   [ -n "$smi" ]; then
  gpu=1
  gpu_name=$(head -1 <<<"$smi" | cut -d, -f1)
  sm=$(head -1 <<<"$smi" | awk -F', *' '{ gsub(/\./, "", $5); print $5 }')
elif [ -e /dev/nvidia0 ]; then
  gpu=1 gpu_name="a GPU (/dev/nvidia0; nvidia-smi did not answer)"
fi
{ echo "date: $(date -u +'%F %T UTC')"; echo "commit: $commit, $dirty files changed"
  echo "gpu: ${smi:-none seen by nvidia-smi}"; nvcc --version 2>/dev/null | tail -1
  echo "host: $(uname -srm), $(nproc) cores"; echo "budget: $budget s"
  nvidia-smi 2>/dev/null; } >"$logs/machine.txt" 2>&1
note "machine: $gpu_name$([ -n "$sm" ] && echo " (sm_$sm)"); $(nvcc --version 2>/dev/null | tail -1 || echo "no nvcc")"
[ $dry = 1 ] && note "dry run on $(uname -n): the plan, in order (box: the part's time limit; expect: seconds expected on an H200; from: expected start)"
[ $dry = 0 ] && [ $gpu = 0 ] && note "no GPU seen (nvidia-smi, /dev/nvidia0): the GPU parts are skipped"

# ---- build -------------------------------------------------------------------------------------------------

# cuDNN / NCCL from the Python wheels when the system has none; kernels for this GPU only (a shorter build)
opts=(-Dcuda=enabled -Dwerror=false -Dbuildtype=release)
[ -n "$sm" ] && opts+=("-Dgpu_sm=$sm")
[ -z "$sm" ] && [ $dry = 1 ] && opts+=("-Dgpu_sm=<the GPU's compute capability, from nvidia-smi>")
py_nvidia=$("$PYTHON" -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0] if hasattr(nvidia, "__path__") else nvidia.__file__) + "/nvidia")' 2>/dev/null || true)
for lib in cudnn nccl; do
  if ! ldconfig -p 2>/dev/null | grep -q "lib$lib.so" && [ -n "$py_nvidia" ] && [ -d "$py_nvidia/$lib/include" ]; then
    opts+=("-D${lib}_root=$py_nvidia/$lib")
  fi
done
[ $dry = 0 ] && rm -rf "$build"
part configure 45 5 "$logs/configure.txt" meson setup "$build" "${opts[@]}"
[ -f "$logs/configure.txt" ] && pdet[configure]=$(grep -aE '^ *(CUDA|cuDNN|BLAS|kernel archs|NCCL)' "$logs/configure.txt" | tr -s ' ' | tr '\n' ';')
# everything at once (-k 0: a test that does not compile does not stop the rest, nor baton itself)
if [ $dry = 1 ] || [ -f "$build/build.ninja" ]; then
  part build 180 30 "$logs/build.txt" ninja -C "$build" -k 0
  if [ $dry = 0 ]; then
    pdet[build]="$(grep -c '^FAILED:' "$logs/build.txt" 2>/dev/null) targets failed; baton executable: $([ -x "$BATON" ] && echo yes || echo NO)"
    progress
  fi
else
  skip build 180 30 "not configured"
fi

# ---- correctness first -------------------------------------------------------------------------------------

# suite NAME BOX EXPECT: meson test for one suite, of the tests whose programs were built (meson refuses the
# whole run when one is missing; the missing ones are named in the summary). Meson's per-test timeouts (up
# to 300 s) are scaled by --timeout-multiplier to end 10 s before the part's own limit, so a slow test is
# reported as Timeout by meson and the counts are printed; if the part is killed all the same, the counts
# come from the tests meson had finished (its JSON log, written a test at a time).
suite() {
  local name=$1-tests box=$2 expect=$3 log="$logs/test-$1.txt" t max mult counts info
  local -a built=() missing=()
  if [ $dry = 0 ] && [ ! -f "$build/build.ninja" ]; then skip "$name" "$box" "$expect" "not configured"; return; fi
  t=$(limit "$box") || t=$box
  # line 1: the longest timeout of the suite; line 2: the tests that can run; line 3: those not built
  mapfile -t info < <(meson introspect "$build" --tests 2>/dev/null | python3 -c '
import json, os, sys
tests = [x for x in json.load(sys.stdin) if any(s.endswith(":" + sys.argv[1]) or s == sys.argv[1] for s in x["suite"])]
print(max([x["timeout"] for x in tests] or [300]))
print(" ".join(x["name"] for x in tests if os.path.exists(x["cmd"][0])))
print(" ".join(x["name"] for x in tests if not os.path.exists(x["cmd"][0])))' "$1" 2>/dev/null)
  max=${info[0]:-300}
  read -r -a built <<<"${info[1]:-}"
  read -r -a missing <<<"${info[2]:-}"
  if [ $dry = 0 ] && [ ${#built[@]} -eq 0 ]; then
    skip "$name" "$box" "$expect" "no test program of the suite was built${missing:+: ${missing[*]}}"; return
  fi
  mult=$(awk -v t="$t" -v m="$max" 'BEGIN { printf "%.3f", (t - 10) / (m > 0 ? m : 300) }')
  part "$name" "$box" "$expect" "$log" meson test -C "$build" --no-rebuild --suite "$1" --print-errorlogs \
    --timeout-multiplier "$mult" --logbase "test-$1" ${missing:+"${built[@]}"}
  local rc=$?
  [ $dry = 1 ] || [ $rc -eq 125 ] && return
  counts=$(grep -aE '^(Ok|Fail|Skipped|Timeout|Expected Fail|Unexpected Pass):' "$log" | tr -s ' ' | tr '\n' ' ')
  if [ -z "$counts" ]; then
    counts="killed; finished before that: $(python3 -c '
import collections, json, sys
c = collections.Counter(json.loads(l)["result"] for l in open(sys.argv[1]) if l.strip())
print(" ".join(f"{k}: {v}" for k, v in sorted(c.items())) or "none")' "$build/meson-logs/test-$1.json" 2>/dev/null || echo none)"
  fi
  pdet[$name]="$counts$(grep -aE '^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT) ' "$log" | awk '{ t = $2; if ($3 == "/") t = $4; if (!seen[t]++) printf "%s%s", n++ ? ", " : "; failing: ", t }')${missing:+; not built, not run: ${missing[*]}} (per-test limit x$mult)"
  cp -f "$build/meson-logs/test-$1.txt" "$logs/testlog-$1.txt" 2>/dev/null
  progress
}
suite gpu 75 30

# is the GPU path right: fused kernels against cuDNN and against the CPU (fp32, bf16, plain part versions)
check_part() {
  local name=$1; shift
  bpart "$name" 25 5 "$logs/$name.txt" "$BATON" check --device cuda "$@"
  [ -f "$logs/$name.txt" ] && pdet[$name]="$(grep -a 'comparisons within' "$logs/$name.txt" | tail -1)$(grep -a -m1 'FAIL' "$logs/$name.txt" | sed 's/^ */; first failure: /' | tr -s ' ')"
  [ $dry = 1 ] || progress
}
check_part check-cudnn --reference cudnn
check_part check-cpu --reference cpu
check_part check-cpu-bf16 --reference cpu --precision bf16
check_part check-cpu-plain --reference cpu --kernels "$PLAIN_KERNELS"

# ---- the headline: gnmt bf16, baton against PyTorch AMP ----------------------------------------------------

tpart train-gnmt-bf16 45 8 --configs gnmt --feed off --rnn-impl fused --precision bf16
ppart torch-gnmt 75 20 --configs gnmt --feed off --precision bf16,tf32

# ---- what issue 13 changes: the whole-recurrence versions against the plain path and cuDNN -------------------

# the layer of the issue's goals (LSTM H=1024, T=50, forward + backward): vs_cudnn < 1 is faster than cuDNN;
# the goals are <= 0.33 at B <= 16 and <= 0.9 at B = 128
bpart layer-recur-bf16 40 10 "$logs/layer-recur-bf16.log" "$BATON" bench layer --device cuda --precision bf16 \
  --rnn-impl fused,cudnn,fused-gemm,persistent --cells lstm --batch 8,16,128 --hidden 1024 --steps 50 --layers 1 \
  --warmup 2 --reps 5 --csv "$logs/layer-recur-bf16.csv"
[ -f "$logs/layer-recur-bf16.csv" ] && pdet[layer-recur-bf16]="time / cuDNN's, f+b: $(awk -F, '
    /^#/ { next } !h { for (i = 1; i <= NF; i++) c[$i] = i; h = 1; next }
    $c["impl"] != "cudnn" { printf "%s B=%s %s; ", $c["impl"], $c["B"], $c["vs_cudnn"] }
  ' "$logs/layer-recur-bf16.csv")"
tpart train-base-bf16-recur 45 12 --configs base --feed off --rnn-impl fused,fused-gemm,persistent,wavefront,auto \
  --precision bf16
tpart train-gnmt-bf16-recur 45 10 --configs gnmt --feed off --rnn-impl persistent,auto --precision bf16

# ---- what issue 12 changes: tf32, cuDNN, the plain part versions against the newest -------------------------

tpart train-gnmt-tf32 45 8 --configs gnmt --feed off --rnn-impl fused --precision tf32
tpart train-gnmt-bf16-cudnn 45 8 --configs gnmt --feed off --rnn-impl cudnn --precision bf16
kp=$(kprec)   # bf16, or tf32 when baton's bf16 run failed
[ "$kp" = bf16 ] || note "plain-versus-newest comparisons and torch-base in tf32: baton's gnmt bf16 run failed"
tpart "train-gnmt-$kp-plain" 45 8 --configs gnmt --feed off --rnn-impl fused --precision "$kp" --kernels "$PLAIN_KERNELS"
plain "train-gnmt-$kp-plain"
tpart "train-base-$kp" 40 6 --configs base --feed off,on --rnn-impl fused --precision "$kp" --kernels loss=fused
tpart "train-base-$kp-plain" 40 6 --configs base --feed off,on --rnn-impl fused --precision "$kp" --kernels "$PLAIN_KERNELS"
plain "train-base-$kp-plain"
tpart train-gnmt-tf32-cudnn 45 8 --configs gnmt --feed off --rnn-impl cudnn --precision tf32
ppart torch-base 60 15 --configs base --feed both --precision "$kp"

# every train CSV in one table, systems side by side with their ratios (baton-fused-plain: the plain versions)
csvs=()
for f in "$logs"/train-*.csv "$logs"/torch-*.csv; do [ -s "$f" ] && csvs+=("$f"); done
if [ ${#csvs[@]} -gt 0 ] || [ $dry = 1 ]; then
  # a dry run compares the CSVs already in LOG_DIR, if any, and otherwise only plans
  [ ${#csvs[@]} -gt 0 ] && always=1 || csvs=("$logs/train-gnmt-bf16.csv" "$logs/torch-gnmt.csv" "...")
  if have_baton; then
    part compare 15 1 "$logs/compare.txt" "$BATON" bench compare "${csvs[@]}" --csv "$logs/compare.csv"
  else
    skip compare 15 1 "no baton executable: the build failed or did not run"
  fi
  always=0
  [ -f "$logs/compare.csv" ] && pdet[compare]="$(grep -avc '^#' "$logs/compare.csv") lines in compare.csv (header included)"
else
  skip compare 15 1 "no train CSV"
fi

# ---- the rest, as the budget allows --------------------------------------------------------------------------

# decoding (issue 17): a small model trained here on a built-in task, then greedy and beam 5 over 2000 sources,
# baton on the GPU, and PyTorch on the GPU decoding the same ids with the same weights (same translations?)
[ $dry = 1 ] || awk 'BEGIN { srand(11); split("zero one two three four five six seven eight nine ten twenty thirty hundred thousand", w);
  for (i = 0; i < 2000; i++) { n = 1 + int(rand() * 9); s = ""; for (j = 0; j < n; j++) s = s (j ? " " : "") w[1 + int(rand() * 15)]; print s } }' \
  >"$logs/translate-input.txt"
bpart translate-model 30 10 "$logs/translate-model.log" "$BATON" train --device cuda --model "$logs/translate-model" \
  --overwrite --task numbers --train-size 5000 --dev-size 100 --emb 128 --hidden 256 --steps 300 --batch 64 --valid-every 0
mkdir -p "$logs/translate-ids"
bpart translate 30 5 "$logs/translate.log" "$BATON" bench translate --device cuda --model "$logs/translate-model" \
  --input "$logs/translate-input.txt" --batch 64 --beam 1,5 --write-ids "$logs/translate-ids" --csv "$logs/translate.csv"
if [ $dry = 0 ] && [ ! -s "$logs/translate-ids/src.ids" ]; then
  skip torch-translate 40 10 "no baton translate ids"
else
  part torch-translate 40 10 "$logs/torch-translate.log" "$PYTHON" bench/pytorch_translate.py --ids "$logs/translate-ids" \
    --device cuda --csv "$logs/torch-translate.csv"
fi
for f in translate torch-translate; do
  [ -s "$logs/$f.csv" ] && pdet[$f]="target tokens/s: $(awk -F, '/^#/ { next } !h { for (i = 1; i <= NF; i++) c[$i] = i; h = 1; next }
      { printf "%s %s; ", $c["mode"], $c["tok_per_s"] }' "$logs/$f.csv")"
done
for m in greedy beam5; do
  [ -s "$logs/translate-ids/torch-$m.ids" ] && note "translate $m: $(awk 'NR == FNR { a[FNR] = $0; next }
      { s += a[FNR] == $0; n++ } END { printf "%d of %d translations the same in PyTorch", s, n }' \
      "$logs/translate-ids/baton-$m.ids" "$logs/translate-ids/torch-$m.ids")"
done

# recurrent layers, fused against cuDNN (fused_speedup > 1: fused faster), in the two tensor-core precisions
for prec in bf16 tf32; do
  bpart "layer-$prec" 30 8 "$logs/layer-$prec.log" "$BATON" bench layer --device cuda --precision "$prec" \
    --rnn-impl fused,cudnn --cells lstm --batch 64,256 --hidden 1024 --steps 50 --layers 1,4 --warmup 2 --reps 5 \
    --csv "$logs/layer-$prec.csv"
  [ -f "$logs/layer-$prec.csv" ] && pdet[layer-$prec]="cuDNN time / fused time, f+b: $(awk -F, '
      /^#/ { next } !h { for (i = 1; i <= NF; i++) c[$i] = i; h = 1; next }
      $c["impl"] != "fused" { printf "B=%s H=%s L=%s %s; ", $c["B"], $c["H"], $c["L"], $c["fused_speedup"] }
    ' "$logs/layer-$prec.csv")"
done
bpart attention 20 5 "$logs/attention.log" "$BATON" bench attention --device cuda --warmup 2 --reps 10 \
  --csv "$logs/attention.csv"
[ -f "$logs/attention.csv" ] && pdet[attention]="GB/s (fraction of copy): $(awk -F, '
      /^#/ { next } !h { for (i = 1; i <= NF; i++) c[$i] = i; h = 1; next }
      { printf "B=%s S=%s %s %s (%s); ", $c["B"], $c["S"], $c["pass"], $c["gb_per_s"], $c["of_copy"] }
    ' "$logs/attention.csv")"

if [ $dry = 1 ]; then
  echo "-- sum of the time boxes: $(( $(IFS=+; echo "${pcap[*]}") )) s; expected on an H200: about $plan_at s" \
       "(the budget is $budget s: parts that would start after it are skipped, the last ones first)"
  note "dry run: sum of boxes $(( $(IFS=+; echo "${pcap[*]}") )) s, expected about $plan_at s on an H200"
fi
