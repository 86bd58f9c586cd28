#!/usr/bin/env bash
# test_gpu_check.sh: bench/gpu-check.sh, the script a GPU machine runs once, checked on a machine without
# one. Its dry run must plan every part in priority order, and every baton and pytorch_baseline.py command
# line it plans must parse (with this build's baton: an invalid last flag appended must be the one refused,
# the --precision / --kernels / --rnn-impl values must be in baton's --help lists); a bad plain-versions spec
# must be caught; the summary must compute the headline and the ratios from CSVs and join them with
# `baton bench compare`. Without a GPU the real run must fail soft: each part said ok, FAILED or skipped
# with the reason, a spent budget skips the rest, a signal ends it at once with the summary written.
# Usage: test_gpu_check.sh BATON
set -u
baton=$1
name=gpu_check
. "$(dirname "$0")/testlib.sh"
script=$(cd "$(dirname "$0")/.." && pwd)/bench/gpu-check.sh

check "gpu-check.sh is valid bash" bash -n "$script"

# ---- the dry run: the plan and its command lines ----
"$script" --dry-run --baton "$baton" "$work/dry" >"$work/plan" 2>&1
rc=$?
check "dry run exits 0" test "$rc" -eq 0
order=(configure build gpu-tests check-cudnn check-cpu check-cpu-bf16 check-cpu-plain train-gnmt-bf16 torch-gnmt
       layer-recur-bf16 train-base-bf16-recur train-gnmt-bf16-recur
       train-gnmt-tf32 train-gnmt-bf16-cudnn train-gnmt-bf16-plain train-base-bf16 train-base-bf16-plain
       train-gnmt-tf32-cudnn torch-base compare translate-model translate torch-translate layer-bf16 layer-tf32
       attention)
planned=$(grep -E '^ *[0-9]+ [a-z0-9-]+ +box' "$work/plan" | awk '{ print $2 }' | tr '\n' ' ')
check "the plan lists every part, correctness first, the headline next" test "$planned" = "${order[*]} "
check "every part has a time box and an expected time" \
    test "$(grep -cE '^ *[0-9]+ [a-z0-9-]+ +box +[0-9]+ s  expect +[0-9]+ s' "$work/plan")" -eq "${#order[@]}"
n_parse=$(grep -c '^      parses$' "$work/plan")
n_cmd=$(grep -cE '^ *[0-9]+ .*(src/baton (check|bench (train|layer|attention|translate))|pytorch_baseline\.py)' "$work/plan")
check "every planned baton and pytorch_baseline.py command parses ($n_parse of $n_cmd)" \
    test "$n_parse" -eq "$n_cmd" -a "$n_cmd" -eq 20
check "nothing was rejected" grep -q 'dry run: 0 planned command lines rejected' "$work/plan"
check "baton gnmt bf16 and PyTorch AMP bf16 are planned" \
    grep -qE 'train --device cuda .*--configs gnmt --feed off --rnn-impl fused --precision bf16$' "$work/plan"
check "PyTorch gnmt in bf16 (AMP) and tf32" grep -qE 'pytorch_baseline.py --device cuda .*--configs gnmt .*--precision bf16\\?,tf32' "$work/plan"
check "the plain versions are planned" grep -q -- '--kernels colsum=plain\\\?,dv=plain' "$work/plan"
check "the expected total fits the budget" \
    awk '/expected on an H200: about/ { for (i = 1; i <= NF; i++) if ($i == "about") t = $(i + 1) } END { exit !(t > 0 && t <= 270) }' "$work/plan"
check "the dry run writes the summary with the commit" grep -q '^commit measured: ' "$work/dry/summary.txt"

# each kernels value is one baton bench --help lists: a wrong part or version must be caught
PLAIN_KERNELS=colsum=plain,dv=flat "$script" --dry-run --baton "$baton" "$work/dry2" >"$work/plan2" 2>&1
rc=$?
check "a bad --kernels value: the dry run exits 1" test "$rc" -eq 1
check "  and names it" grep -q 'REJECTED: --kernels dv=flat is not in baton bench --help' "$work/plan2"
PLAIN_KERNELS=colsum=plain,warp=fast "$script" --dry-run --baton "$baton" "$work/dry3" >"$work/plan3" 2>&1
check "an unknown part is refused by baton itself" grep -q "REJECTED: .*baton rejects it before the test flag: .*warp" "$work/plan3"

# ---- the summary from CSVs: headline, ratios, bench compare ----
mkdir -p "$work/csv"
hdr=system,config,feed,device,precision,batch,src_len,tgt_len,tokens_per_step,median_step_ms,tokens_per_s,peak_mem_mib
row() { echo "$1,$2,$3,cuda,$4,128,50,50,11264,$5,$6,9000"; }
{ echo "# baton 0.1.0"; echo "$hdr"; row baton-fused gnmt off bf16 18.773 600000; } >"$work/csv/train-gnmt-bf16.csv"
{ echo "$hdr"; row pytorch-2.11.0 gnmt off bf16 45.056 250000; row pytorch-2.11.0 gnmt off tf32 56.32 200000; } \
    >"$work/csv/torch-gnmt.csv"
{ echo "$hdr"; row baton-fused-plain gnmt off bf16 37.547 300000; } >"$work/csv/train-gnmt-bf16-plain.csv"
{ echo "$hdr"; row baton-cudnn gnmt off bf16 28.16 400000; } >"$work/csv/train-gnmt-bf16-cudnn.csv"
"$script" --dry-run --baton "$baton" "$work/csv" >"$work/plan4" 2>&1
s=$work/csv/summary.txt
check "headline: baton bf16 against PyTorch AMP bf16 with the ratio" \
    grep -q 'HEADLINE gnmt bf16 .*: 600000 vs 250000 tok/s (18.77 vs 45.06 ms/step): 2.40x' "$s"
check "  and the goals" grep -q 'goal baton/PyTorch >= 2: MET (2.40); goal >= 500k tok/s on an H200: MET' "$s"
check "newest against plain parts" grep -q 'gnmt bf16, newest vs plain parts: 600000 vs 300000 tok/s .*: 2.00x' "$s"
check "fused against cuDNN" grep -q 'gnmt bf16, fused vs --rnn-impl cudnn: .*: 1.50x' "$s"
check "a ratio without its numbers says what is missing" \
    grep -q 'gnmt tf32, baton vs PyTorch TF32: not measured (first: missing, second: ok)' "$s"
check "bench compare joined the CSVs (a dry run compares what LOG_DIR holds)" grep -qE '^compare +ok' "$s"
check "  with the ratio of baton to PyTorch" awk -F, '/^#/ { next } !h { for (i = 1; i <= NF; i++) c[$i] = i; h = 1; next }
    $1 == "gnmt" && $4 == "bf16" && $c["baton-fused/pytorch-2.11.0"] == "2.40" { ok = 1 } END { exit !ok }' "$work/csv/compare.csv"
check "  and the plain versions as their own system" grep -q 'baton-fused/baton-fused-plain' "$work/csv/compare.csv"

# ---- the real run without a GPU: fail soft, say why, write the summary ----
# a PATH where nvcc fails and nvidia-smi sees nothing, whatever this machine has
mkdir -p "$work/bin"
printf '#!/bin/sh\necho "nvcc: not here (test)" >&2\nexit 1\n' >"$work/bin/nvcc"
printf '#!/bin/sh\nexit 9\n' >"$work/bin/nvidia-smi"
chmod +x "$work/bin/nvcc" "$work/bin/nvidia-smi"
nogpu() { [ ! -e /dev/nvidia0 ]; }
if nogpu; then
    t0=$(date +%s)
    PATH=$work/bin:$PATH BUDGET=60 BUILD_DIR=$work/b "$script" --export "$work/exp" "$work/real" >"$work/real.out" 2>&1
    rc=$?
    s=$work/real/summary.txt
    check "no GPU: the run ends at once ($(( $(date +%s) - t0 )) s)" test $(( $(date +%s) - t0 )) -lt 45
    check "  exit 1 (a part failed)" test "$rc" -eq 1
    check "  configure FAILED, with meson's reason" grep -qE '^configure +FAILED \(exit 1' "$s"
    check "  the build skipped: not configured" grep -qE '^build +skipped \(not configured\)' "$s"
    check "  the GPU parts skipped: no GPU" \
        test "$(grep -cE '^(check-|train-|torch-|layer-|attention).*skipped \(no GPU\)' "$s")" -eq 19
    check "  the headline says it was not measured" grep -q 'HEADLINE .*not measured' "$s"
    check "  every part is in the summary" test "$(grep -cE '^[a-z0-9-]+ +(ok|FAILED|TIMED OUT|skipped)' "$s")" -eq 26
    check "  --export: the summary" cmp -s "$s" "$work/exp/gpu-check-summary.txt"
    check "  --export: the logs" sh -c "tar tzf '$work/exp/gpu-check-logs.tar.gz' | grep -q 'real/configure.txt'"
    check "  the commit measured" grep -q '^commit measured: ' "$s"

    PATH=$work/bin:$PATH BUDGET=5 BUILD_DIR=$work/b "$script" "$work/short" >"$work/short.out" 2>&1
    check "a spent budget: the parts are skipped and said so" grep -qE '^configure +skipped \(budget spent\)' \
        "$work/short/summary.txt"

    # a signal: the part in flight is stopped, the summary written, exit 130
    nap="77.$$"   # a duration no other process sleeps
    printf '#!/bin/sh\nexec sleep %s\n' "$nap" >"$work/bin/meson"
    chmod +x "$work/bin/meson"
    PATH=$work/bin:$PATH BUILD_DIR=$work/b "$script" "$work/sig" >"$work/sig.out" 2>&1 &
    pid=$!
    for _ in $(seq 50); do grep -q '^== configure (box' "$work/sig.out" 2>/dev/null && break; sleep 0.1; done
    sleep 0.3
    t0=$(date +%s)
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    check "TERM: exit 130 within seconds" test "$rc" -eq 130 -a $(( $(date +%s) - t0 )) -lt 10
    check "  the part in flight is INTERRUPTED" grep -qE '^configure +INTERRUPTED' "$work/sig/summary.txt"
    check "  and the summary says so" grep -q 'interrupted by a signal during configure' "$work/sig/summary.txt"
    sleep 0.5
    if command -v pgrep >/dev/null; then
        check "  the part's processes are gone" sh -c "! pgrep -f 'slee[p] $nap' >/dev/null"
    fi
else
    echo "a GPU device node exists here: the no-GPU runs are skipped"
fi

finish
