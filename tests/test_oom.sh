#!/usr/bin/env bash
# test_oom.sh: `baton train` out of memory at set-up: one error line with the size asked, what is
# free, and which options lower what, the larger need first (docs/faults.md).
#   cpu (default): under an address-space limit (ulimit -v 4 GiB; a probe run first shows that
#     baton itself starts under it: ASan builds, for one, cannot, and skip);
#     - a batch of 4096 sentences with H=1024 asks 5.7 GiB for its activations: the line names the
#       activation arena, its size, MemAvailable and the limit, "lower --batch or --max-len", and
#       puts the activations before the 4 x 44 MiB of weights, gradients and moments;
#     - H=E=8192 with batches of 16 asks 4 x 4.3 GiB for weights, gradients and moments: the
#       weights come first, with "lower --hidden or --layers".
#   cuda: the same first case on the CUDA emulation with 256 MiB of device memory
#     (BATON_EMU_MEMORY_MB): cudaMalloc fails and the line says what cudaMemGetInfo says is free.
# Both exit 1 before any training; nothing here depends on how much memory the machine has.
# Usage: test_oom.sh BATON [cpu|cuda]
set -u
baton=$1
device=${2:-cpu}
name=oom_$device
. "$(dirname "$0")/testlib.sh"
common=(--task numbers --device "$device" --threads 1 --steps 1 --valid-every 0)
run() { # run DIR [options...]: exit status, stderr in DIR.log
    "$baton" train --model "$work/$1" "${common[@]}" "${@:2}" >"$work/$1.log" 2>&1
}
if [ "$device" = cpu ]; then
    limit=4194304 # KiB: 4 GiB
    if ! (ulimit -v $limit && exec "$baton" train --model "$work/probe" "${common[@]}" --hidden 32 --emb 16 \
          --batch 16 --train-size 200 --dev-size 10 --no-valid-bleu) >"$work/probe.log" 2>&1; then
        echo "oom_cpu: skipped: baton does not run under ulimit -v $limit here (an ASan build?):"
        tail -2 "$work/probe.log"
        exit 77
    fi
    (ulimit -v $limit; run acts --batch 4096 --hidden 1024 --emb 256)
    status=$?
    line=$(grep "^baton: error: out of memory" "$work/acts.log")
    echo "$line"
    check "activations: exit 1" test "$status" -eq 1
    check "... one error line naming the activation arena and the size asked" \
        grep -q "^baton: error: out of memory: activation arena needs [0-9.]* GiB ([0-9]* bytes) of host memory" "$work/acts.log"
    check "... what is free: MemAvailable and the limit" \
        grep -q "GiB available (MemAvailable); the address-space limit (ulimit -v) is 4.0 GiB, .* of it left" "$work/acts.log"
    check "... the activations first, with the options that lower them" \
        grep -q "training needs [0-9.]* GiB in all: [0-9.]* GiB for the activations of a batch of up to B=4096 sentences .* (lower --batch or --max-len); 4 x [0-9.]* MiB for the weights" "$work/acts.log"
    check "... and nothing after it: no training" sh -c "! grep -q '^train step' '$work/acts.log'"
    (ulimit -v $limit; run weights --batch 16 --hidden 8192 --emb 8192)
    status=$?
    grep "^baton: error: out of memory" "$work/weights.log"
    check "weights: exit 1" test "$status" -eq 1
    check "... the size asked and what is free" \
        grep -q "^baton: error: out of memory: .* need[s]* [0-9.]* GiB ([0-9]* bytes) of host memory; .* available (MemAvailable)" "$work/weights.log"
    check "... the weights first, with --hidden and --layers" \
        grep -q "training needs [0-9.]* GiB in all: 4 x [0-9.]* GiB for the weights, their gradients and Adam's two moments ([0-9]* parameters: lower --hidden or --layers, or --emb; .*); [0-9.]* MiB for the activations" "$work/weights.log"
else
    export BATON_EMU_MEMORY_MB=256
    run acts --batch 4096 --hidden 1024 --emb 256
    status=$?
    if grep -q "no usable GPU\|not available\|cannot use" "$work/acts.log" && ! grep -q "out of memory" "$work/acts.log"; then
        echo "oom_cuda: skipped: no CUDA device"
        tail -2 "$work/acts.log"
        exit 77
    fi
    grep "^baton: error: out of memory" "$work/acts.log"
    check "cuda: exit 1" test "$status" -eq 1
    check "... the activation arena, the size asked, what cudaMemGetInfo says is free" \
        grep -q "^baton: error: out of memory: activation arena needs [0-9.]* MiB ([0-9]* bytes) of device memory; cudaMalloc failed (.*); [0-9.]* of 256.0 MiB free on the device; training needs" "$work/acts.log"
    check "... with the options that lower the activations" grep -q "(lower --batch or --max-len)" "$work/acts.log"
fi
finish
