#!/usr/bin/env bash
# test_nan.sh: `baton train` skips a step whose loss or gradient norm is NaN or Inf, end to end on
# the CPU, through the fault-injection hook (BATON_FAULT_NAN_STEPS poisons every gradient of the
# steps it lists, BATON_FAULT_INF_LOSS_STEPS their loss; docs/faults.md). test_nan_guard.c checks
# the trainer with real overflows (fp32 and bf16); this checks what the run does with a skip.
# Everything compared is exact (losses printed to 10 digits, tensors byte for byte): a skipped
# step must leave no trace but its counters, so there is nothing for a tolerance to absorb.
#   - poisoned steps 3, 4, 5 are skipped, each reported on its own line ("skip  step 3 | ... 1 in
#     a row, 1 in all") and in the metrics; the summary counts 3; the run goes on and exits 0;
#   - step 3's loss is the clean run's step 3 loss (NaN gradients leave the forward pass alone);
#   - after them the weights and Adam's moments equal, byte for byte, those of a run stopped at
#     step 2: no update, no moment update, no NaN left in the gradients;
#   - poisoning the loss instead (Inf loss, finite gradients) gives the same run: steps 6..10 and
#     the final tensors equal the NaN-gradient run's;
#   - a run stopped inside the streak (step 4) and resumed keeps the count (the checkpoint's
#     state.skipped_steps and state.bad_steps_in_a_row), skips step 5 as "3 in a row, 3 in all",
#     and ends with the uninterrupted run's losses and tensors;
#   - --max-bad-steps 5 with steps 3..40 poisoned stops at step 7 with exit 1 and one error line,
#     saves nothing (the checkpoint due at steps 4 and 6 waits for a good step that never comes, so
#     the file on disk is still step 2's, loadable, and --resume continues from it); 0 never stops;
#   - bf16 and --accumulate 2 skip the same way.
# Usage: test_nan.sh BATON
set -u
baton=$1
name=nan
. "$(dirname "$0")/testlib.sh"
if ! command -v python3 >/dev/null; then
    echo "nan: skipped: no python3 (to compare checkpoint tensors)"
    exit 77
fi
common=(--task numbers --train-size 2000 --dev-size 30 --emb 16 --hidden 32 --batch 16 --valid-every 0
        --log-every 1 --threads 1 --device cpu --dropout 0.1)
train() { # train DIR [options...]: a fresh run into $work/DIR, its log in DIR.log, its metrics in DIR.jsonl
    local dir=$1; shift
    "$baton" train --model "$work/$dir" "${common[@]}" --metrics "$work/$dir.jsonl" "$@" >>"$work/$dir.log" 2>&1
}
losses() { # losses DIR FROM TO: "step loss" of the train lines (and the skip lines' losses)
    sed -n 's/.*"step":\([0-9]*\),"epoch":[0-9]*,"loss":\([^,]*\),.*/\1 \2/p' "$work/$1.jsonl" |
        awk -v a="$2" -v b="$3" '$1 >= a && $1 <= b'
}
tensors() { python3 -c 'import sys, struct; b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; sys.stdout.buffer.write(b[8 + n:])' "$work/$1/checkpoint.safetensors"; }
state() { python3 -c 'import sys, json, struct; b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; print(json.loads(b[8:8 + n])["__metadata__"].get(sys.argv[2], "absent"))' "$work/$1/checkpoint.safetensors" "$2"; }
same_tensors() { cmp -s <(tensors "$1") <(tensors "$2"); }

train clean --steps 10
train two --steps 2
BATON_FAULT_NAN_STEPS=3,4,5 train nan --steps 10 --save-every 1
status=$?
check "NaN gradients at steps 3-5: the run goes on to the end, exit 0" test "$status" -eq 0
check "... the hook announces itself" grep -q "^BATON_FAULT_NAN_STEPS=3,4,5: test hook" "$work/nan.log"
for k in 3 4 5; do
    check "... step $k reported skipped, with its count" \
        grep -q "^skip  step $k | loss [0-9.]* | grad norm nan | gradient norm not finite: no update; $((k - 2)) in a row, $((k - 2)) in all (--max-bad-steps 5)$" "$work/nan.log"
done
check "... exactly three skip lines" test "$(grep -c '^skip ' "$work/nan.log")" -eq 3
check "... and three skipped metrics objects" test "$(grep -c '"kind":"skipped"' "$work/nan.jsonl")" -eq 3
check "... the summary counts them" grep -q "^done: .*; 3 step(s) skipped for a NaN or Inf loss or gradient norm" "$work/nan.log"
check "... steps 1-3 lose what the clean run loses (step 3's forward pass is untouched)" \
    cmp -s <(losses clean 1 3) <(losses nan 1 3)
check "... step 6 loses something else than the clean run (it trains on step 2's weights)" \
    test "$(losses clean 6 6)" != "$(losses nan 6 6)"
check "... the checkpoint counts 3 skipped, 0 in a row at the end" \
    test "$(state nan state.skipped_steps) $(state nan state.bad_steps_in_a_row)" = "3 0"

BATON_FAULT_NAN_STEPS=3,4,5 train nan5 --steps 5
check "a run ending at step 5 inside the streak: its weights and moments are step 2's, byte for byte" \
    same_tensors nan5 two
check "... its checkpoint says step 5, 3 skipped, 3 in a row" \
    test "$(state nan5 state.step) $(state nan5 state.skipped_steps) $(state nan5 state.bad_steps_in_a_row)" = "5 3 3"

BATON_FAULT_INF_LOSS_STEPS=3,4,5 train inf --steps 10
check "Inf loss at steps 3-5 (finite gradients): skipped as 'loss not finite'" \
    test "$(grep -c '^skip  step [345] | loss inf | grad norm unknown | loss not finite: no update' "$work/inf.log")" -eq 3
check "... steps 6-10 lose exactly what the NaN-gradient run loses" cmp -s <(losses nan 6 10) <(losses inf 6 10)
check "... and end with its weights and moments, byte for byte" same_tensors inf nan

BATON_FAULT_NAN_STEPS=3,4,5 train cut --steps 4
BATON_FAULT_NAN_STEPS=3,4,5 train cut --steps 10 --resume
check "stopped inside the streak (step 4), resumed: says how many were skipped" \
    grep -q "^resumed from .*checkpoint.safetensors: step 4, epoch 1 (2 step(s) skipped so far" "$work/cut.log"
check "... step 5 is the third in a row and in all" grep -q "^skip  step 5 | .* 3 in a row, 3 in all" "$work/cut.log"
check "... steps 5-10 lose what the uninterrupted run loses" cmp -s <(losses nan 5 10) <(losses cut 5 10)
check "... the end's tensors equal the uninterrupted run's" same_tensors cut nan
check "... the summary counts all 3" grep -q "^done: .*; 3 step(s) skipped" "$work/cut.log"

BATON_FAULT_NAN_STEPS=3-40 train stop --steps 50 --save-every 2 --max-bad-steps 5
status=$?
check "steps 3-40 poisoned, --max-bad-steps 5: exit 1" test "$status" -eq 1
check "... one error line: where, how many, what the checkpoint holds, how to go on" \
    grep -q "^baton: error: training stopped at step 7: 5 steps in a row (3 to 7) had a NaN or Inf loss or gradient norm (--max-bad-steps 5); their updates were skipped and nothing was saved over the last checkpoint: $work/stop/checkpoint.safetensors holds step 2. Continue with the same command and --resume" "$work/stop.log"
check "... the checkpoint on disk is step 2's (due at 4 and 6, but those steps were skipped)" \
    test "$(state stop state.step)" = 2
check "... its tensors are the 2-step run's" same_tensors stop two
check "... no temporary file left" test -z "$(ls "$work/stop" | grep '\.tmp$')"
train stop --steps 4 --resume
status=$?
check "... and it resumes (without the fault): exit 0, from step 2" \
    sh -c "test $status -eq 0 && grep -q 'resumed from .*: step 2, epoch 1$' '$work/stop.log'"

BATON_FAULT_NAN_STEPS=3-40 train never --steps 12 --max-bad-steps 0
status=$?
check "--max-bad-steps 0 never stops: exit 0, 10 skipped" \
    sh -c "test $status -eq 0 && grep -q '^done: .*; 10 step(s) skipped' '$work/never.log'"

train bf2 --steps 2 --precision bf16
BATON_FAULT_NAN_STEPS=3,4,5 train bf5 --steps 5 --precision bf16
check "bf16: steps 3-5 skipped" test "$(grep -c '^skip ' "$work/bf5.log")" -eq 3
check "bf16: ... the tensors are the 2-step run's, byte for byte" same_tensors bf5 bf2

train acc2 --steps 2 --accumulate 2
BATON_FAULT_NAN_STEPS=3 train acc3 --steps 3 --accumulate 2
check "--accumulate 2: step 3 (both its batches poisoned) skipped" test "$(grep -c '^skip  step 3 ' "$work/acc3.log")" -eq 1
check "... the tensors are step 2's, byte for byte" same_tensors acc3 acc2
check "a malformed hook value is refused" \
    sh -c "BATON_FAULT_NAN_STEPS=3,x '$baton' train --model '$work/bad' ${common[*]} --steps 2 2>&1 | grep -q 'BATON_FAULT_NAN_STEPS=3,x: expected'"
finish
