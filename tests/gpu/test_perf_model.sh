#!/usr/bin/env bash
# test_perf_model.sh: bench/perf_model.py rebuilds a training step's launch structure from the
# source by hand; this checks it against what the code issues. The emulation counts a whole step
# without running it (BATON_EMU_EXECUTE=count), `baton bench train --json` reports the counts, and
# `perf_model.py --check-counts` must agree: kernel launches, graph launches and host syncs per step
# exactly, GEMM FLOPs by precision to every digit the report prints, bytes uploaded exactly.
#   - tiny and base, input feeding off and on, fp32, baton's default part versions;
#   - the same with every part at its plain first version (eager launches, so every kernel counts);
#   - the whole-recurrence versions (--rnn-impl fused-gemm, persistent, wavefront) in bf16, eager and graphed;
#   - the model's own table runs for every configuration and precision, and --check-counts fails
#     on a report whose counts were changed.
# When the code changes its launch structure, this fails until perf_model.py follows it.
# Usage: test_perf_model.sh BATON PERF_MODEL.py (skips with 77 without python3 or an emulation build)
set -u
baton=$1
model=$2
name=perf_model
. "$(dirname "$0")/../testlib.sh"
if ! command -v python3 >/dev/null; then
    echo "perf_model: skipped: no python3"
    exit 77
fi
export BATON_EMU_EXECUTE=count
plain=colsum=plain,dv=plain,embed=plain,loss=plain,step=eager
"$baton" bench configs >"$work/configs.json"

bench() { # bench OUT IMPLS PRECISION [--kernels SPEC]: counted steps of tiny and base, feed off and on
    local out=$1 impls=$2 precision=$3; shift 3
    "$baton" bench train --device cuda --configs tiny,base --feed off,on --rnn-impl "$impls" --reps 2 --warmup 1 \
        --precision "$precision" "$@" --json "$out" >"$work/bench.log" 2>&1
}

check "bench train counts the default versions' steps" bench "$work/default.json" fused fp32
check "the model's counts agree (default versions)" \
    python3 "$model" --configs-json "$work/configs.json" --check-counts "$work/default.json"
check "bench train counts the plain versions' steps" bench "$work/plain.json" fused fp32 --kernels "$plain"
check "the model's counts agree (plain versions, eager)" \
    python3 "$model" --configs-json "$work/configs.json" --kernels "$plain" --check-counts "$work/plain.json"

for kernels in "" "$plain"; do
    check "bench train counts the whole-recurrence versions' steps (bf16${kernels:+, plain})" \
        bench "$work/recur.json" fused-gemm,persistent,wavefront bf16 --kernels "$kernels"
    check "the model's counts agree (fused-gemm, persistent, wavefront${kernels:+, plain})" \
        python3 "$model" --configs-json "$work/configs.json" --kernels "$kernels" --check-counts "$work/recur.json"
done

# one launch more in the first row: the check must see it
python3 - "$work/plain.json" "$work/changed.json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
doc['rows'][0]['launches_per_step'] += 1
json.dump(doc, open(sys.argv[2], 'w'))
EOF
status() { "$@" >"$work/out" 2>&1; echo $?; }
check "a changed launch count is a mismatch (exit 1)" test "$(status python3 "$model" --configs-json \
    "$work/configs.json" --kernels "$plain" --check-counts "$work/changed.json")" -eq 1
check "... named on its line" grep -q "^MISMATCH tiny feed off fp32 fused: launches_per_step" "$work/out"

quiet() { "$@" >>"$work/model.log" 2>&1; }
check "the table runs for every configuration, feed and precision" \
    quiet python3 "$model" --configs-json "$work/configs.json" --config all --feed off,on --precision fp32,tf32,bf16 \
    --json "$work/model.json"
check "... and says it is modelled" grep -q "MODELLED, not measured" "$work/model.json"
check "the planned changes run (gnmt)" quiet python3 "$model" --configs-json "$work/configs.json" --scenarios
finish
