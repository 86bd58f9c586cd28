#!/usr/bin/env bash
# test_resume.sh: checkpoints of `baton train` on corpus files, end to end on the CPU.
#   - exact resume: a run of 40 steps, and a run stopped at step 20 then resumed to 40, log the
#     same per-step losses (printed to 10 significant digits, enough to show any float that
#     differs) and write byte-identical weights;
#   - SIGTERM mid-run saves a checkpoint, exits 143 (128 + SIGTERM: the run did not finish) and says how
#     to continue; --resume finishes;
#   - a corrupted checkpoint is refused with one line naming it.
# (test_ema.sh: the same exact resume with --ema.)
# Usage: test_resume.sh BATON
set -u
baton=$1
name=resume
. "$(dirname "$0")/testlib.sh"
# a small parallel corpus: target = source reversed, from a fixed pseudo-random word stream
corpus "$work" 400 7
common=(--train-src "$work/train.src" --train-tgt "$work/train.tgt" --dev-src "$work/dev.src" --dev-tgt "$work/dev.tgt"
        --emb 16 --hidden 32 --batch 16 --valid-every 10 --log-every 1 --threads 1 --dropout 0.2 --device cpu)
losses() { grep '"kind":"train"' "$1" | sed 's/.*"step":\([0-9]*\).*"loss":\([^,]*\),.*/\1 \2/' | awk -v a="$2" '$1 > a'; }

"$baton" train --model "$work/a" "${common[@]}" --steps 40 --metrics "$work/a.jsonl" 2>"$work/a.log"
"$baton" train --model "$work/b" "${common[@]}" --steps 20 --metrics "$work/b.jsonl" 2>"$work/b1.log"
"$baton" train --model "$work/b" "${common[@]}" --steps 40 --metrics "$work/b.jsonl" --resume 2>"$work/b2.log"
check "each epoch's end is logged with what was skipped" grep -q "^epoch 1 done: 400 pairs in [0-9]* batches; 0 empty and 0 over --max-len skipped" "$work/a.log"
check "resume says where it continues" grep -q "resumed from .*checkpoint.safetensors: step 20" "$work/b2.log"
check "resumed run logs steps 21..40" test "$(losses "$work/b.jsonl" 20 | wc -l)" -eq 20
check "resumed losses equal the uninterrupted run's, step for step" \
    cmp -s <(losses "$work/a.jsonl" 20) <(losses "$work/b.jsonl" 20)
# the tensors of the two checkpoints (their metadata differ: the command lines, --steps and --resume)
tensors() { python3 -c 'import sys, struct; b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; sys.stdout.buffer.write(b[8 + n:])' "$1"; }
check "resumed weights and moments equal the uninterrupted run's, byte for byte" \
    cmp -s <(tensors "$work/a/checkpoint.safetensors") <(tensors "$work/b/checkpoint.safetensors")

"$baton" train --model "$work/c" "${common[@]}" --steps 100000 --save-every 0 2>"$work/c1.log" &
pid=$!
for _ in $(seq 1 100); do grep -q "^train step\|train step" "$work/c1.log" 2>/dev/null && break; sleep 0.1; done
sleep 0.5
kill -TERM "$pid"
wait "$pid"
status=$?
check "SIGTERM: exit 143 (128 + 15), so that train && translate stops" test "$status" -eq 143
check "SIGTERM: says a checkpoint was saved and how to continue" grep -q "terminated: checkpoint saved at step [0-9]*; continue with the same command and --resume" "$work/c1.log"
step=$(sed -n 's/.*checkpoint saved at step \([0-9]*\).*/\1/p' "$work/c1.log")
"$baton" train --model "$work/c" "${common[@]}" --steps $((step + 5)) --resume 2>"$work/c2.log"
check "resume after SIGTERM finishes" grep -q "resumed from .*: step $step" "$work/c2.log"

sed -i "10s/.*/zzz/" "$work/b/src.vocab"
"$baton" train --model "$work/b" "${common[@]}" --steps 50 --resume 2>"$work/vocab.log"
check "resume with another vocabulary is refused" sh -c "test $? -eq 1 && grep -q 'another source vocabulary' '$work/vocab.log'"
cp "$work/a/checkpoint.safetensors" "$work/bad.safetensors"
printf '\x00' | dd of="$work/a/checkpoint.safetensors" bs=1 seek=5000 conv=notrunc 2>/dev/null
"$baton" train --model "$work/a" "${common[@]}" --steps 50 --resume 2>"$work/bad.log"
check "a corrupted checkpoint is refused, exit 1, naming the file" \
    sh -c "test $? -eq 1 && grep -q 'checkpoint.safetensors' '$work/bad.log'"
finish
