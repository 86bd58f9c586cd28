#!/usr/bin/env bash
# test_ema.sh: `baton train --ema` (the weights' moving average) end to end:
#   - a run stopped at step 10 and resumed to 20 logs the same losses as a run of 20 steps and
#     writes the same checkpoint tensors, byte for byte, the moving average included;
#   - the last model file holds the moving average (equal to the checkpoint's optim.ema.* tensors),
#     not the trained weights, after validations that swapped the two and back;
#   - a checkpoint of a run without --ema resumes with it, saying where the average starts.
# Usage: test_ema.sh BATON [DEVICE]  (DEVICE cuda: the gpu suite's run, in bf16, where the swaps go
# through a device copy and an upload that keep the weights' bf16 mirror current)
set -u
baton=$1
device=${2:-cpu}
name=ema
. "$(dirname "$0")/testlib.sh"
if ! "$baton" version | grep -q "checkpoints: save and load"; then
    echo "$name: this build cannot load checkpoints (no cJSON): skipped"
    exit 77
fi
corpus "$work" 200 7
common=(--train-src "$work/train.src" --train-tgt "$work/train.tgt" --dev-src "$work/dev.src" --dev-tgt "$work/dev.tgt"
        --emb 16 --hidden 32 --batch 16 --valid-every 5 --log-every 1 --threads 1 --dropout 0.2 --device "$device")
[ "$device" = cuda ] && common+=(--precision bf16)
losses() { grep '"kind":"train"' "$1" | sed 's/.*"step":\([0-9]*\).*"loss":\([^,]*\),.*/\1 \2/' | awk -v a="$2" '$1 > a'; }
tensors() { python3 -c 'import sys, struct; b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; sys.stdout.buffer.write(b[8 + n:])' "$1"; }

"$baton" train --model "$work/a" "${common[@]}" --ema 0.9 --steps 20 --metrics "$work/a.jsonl" 2>"$work/a.log"
check "a run of 20 steps with --ema: exit 0" test $? -eq 0
"$baton" train --model "$work/b" "${common[@]}" --ema 0.9 --steps 10 --metrics "$work/b.jsonl" 2>"$work/b1.log"
"$baton" train --model "$work/b" "${common[@]}" --ema 0.9 --steps 20 --metrics "$work/b.jsonl" --resume 2>"$work/b2.log"
check "resumed losses equal the uninterrupted run's, step for step" \
    cmp -s <(losses "$work/a.jsonl" 10) <(losses "$work/b.jsonl" 10)
check "resumed weights, moments and moving average equal the uninterrupted run's, byte for byte" \
    cmp -s <(tensors "$work/a/checkpoint.safetensors") <(tensors "$work/b/checkpoint.safetensors")
# prints "same" or "differs" for model file $1's tensors against the checkpoint's tensors with prefix $2
against() {
    python3 - "$1" "$work/a/checkpoint.safetensors" "$2" <<'PY'
import json, struct, sys
def load(path):
    b = open(path, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items() if k != "__metadata__"}
model, ckpt = load(sys.argv[1]), load(sys.argv[2])
print("same" if model and all(ckpt.get(sys.argv[3] + k) == v for k, v in model.items()) else "differs")
PY
}
last=$work/a/model.last.safetensors
[ -f "$last" ] || last=$work/a/model.safetensors
check "the checkpoint holds the moving average (optim.ema.*), and the last model file it" \
    test "$(against "$last" optim.ema.)" = same
check "the last model file holds the moving average, not the trained weights" test "$(against "$last" "")" = differs
"$baton" train --model "$work/c" "${common[@]}" --steps 10 2>/dev/null
"$baton" train --model "$work/c" "${common[@]}" --ema 0.9 --steps 15 --resume 2>"$work/c.log"
check "--ema resuming a run without it: the average starts from the resumed weights, and it says so" \
    sh -c "test $? -eq 0 && grep -q 'holds no moving average.*starts from the weights it resumes' '$work/c.log'"
finish
