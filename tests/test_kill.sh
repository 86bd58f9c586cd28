#!/usr/bin/env bash
# test_kill.sh: `baton train` survives kill -9 at random moments, writes included, on the CPU.
# A small run (40 steps, a checkpoint after every step, a validation and best model every 10) is
# started, SIGKILLed after a random 0-600 ms, resumed with --resume, killed again, ... until it
# finishes; then again in a fresh directory, until at least KILLS (default 50) kills have landed.
# With BATON_FAULT_WRITE_PAUSE_MS=10 (a test hook, docs/faults.md) every file write sleeps 10 ms
# halfway through, before its flush and rename, so a good share of the kills land inside a write:
# counted as the kills after which a FILE.tmp (a write that never reached its rename) was left.
# Checked:
#   - every kill leaves a checkpoint that is whole: before each resume an independent reader (Python,
#     the format of checkpoint.h: header, tensors tiling the data, CRC-32 of metadata and data)
#     accepts it, and baton resumes from the step it holds ("resumed from ...: step K");
#   - no run fails: each ends killed (137) or finished (0); config.txt, the vocabularies and
#     model.safetensors stay readable (the last run's translate works);
#   - every loss logged, by every run of the round (steps re-run after a kill included), equals
#     the uninterrupted run's at that step, to 10 digits, and the last checkpoint's tensors equal
#     its, byte for byte: the project's claim that a resumed run is the run left alone;
#   - at least a tenth of the kills landed inside a write.
# The kill moments are drawn from $RANDOM seeded by the environment's KILL_SEED (printed), so a
# failure can be replayed. Runtime: about 30-60 s on 2 cores.
# Usage: test_kill.sh BATON [KILLS]
set -u
baton=$1
want=${2:-50}
name=kill
. "$(dirname "$0")/testlib.sh"
if ! command -v python3 >/dev/null; then
    echo "kill: skipped: no python3 (the independent checkpoint reader)"
    exit 77
fi
seed=${KILL_SEED:-$$}
RANDOM=$seed
echo "kill: KILL_SEED=$seed"
common=(--task numbers --train-size 2000 --dev-size 20 --emb 16 --hidden 32 --batch 16 --threads 1 --device cpu
        --log-every 1 --valid-every 10 --save-every 1 --steps 40 --keep-best loss --dropout 0.1)
cat >"$work/verify.py" <<'EOF'
# verify.py CHECKPOINT: prints state.step if the file is a whole baton checkpoint (checkpoint.h), else fails
import json, struct, sys, zlib
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
header = json.loads(b[8:8 + n])
meta = header.pop('__metadata__')
data = b[8 + n:]
spans = sorted(t['data_offsets'] for t in header.values())
assert spans[0][0] == 0 and spans[-1][1] == len(data), 'tensors do not tile the data'
assert all(a[1] == b[0] for a, b in zip(spans, spans[1:])), 'gaps between tensors'
crc = 0
for k in sorted(meta, key=str.encode):
    if k != 'checksum':
        crc = zlib.crc32(k.encode() + b'\0' + meta[k].encode() + b'\0', crc)
crc = zlib.crc32(data, crc)
assert meta['checksum'] == 'crc32:%08x' % crc, 'checksum mismatch'
assert meta['format'] == 'baton-checkpoint'
print(meta['state.step'])
EOF
losses() { sed -n 's/.*"step":\([0-9]*\),"epoch":[0-9]*,"loss":\([^,]*\),.*"kind":"train".*/\1 \2/p' "$1"; }
tensors() { python3 -c 'import sys, struct; b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; sys.stdout.buffer.write(b[8 + n:])' "$1"; }

start=$(date +%s)
"$baton" train --model "$work/ref" "${common[@]}" --metrics "$work/ref.jsonl" 2>"$work/ref.log"
check "the uninterrupted run" test "$(losses "$work/ref.jsonl" | wc -l)" -eq 40
losses "$work/ref.jsonl" >"$work/ref.losses"

export BATON_FAULT_WRITE_PAUSE_MS=10
kills=0 in_write=0 resumes=0 rounds=0 bad_ckpt=0 bad_exit=0 bad_resume=0 bad_loss=0 bad_final=0
declare -A tmp_kinds=()
while [ "$kills" -lt "$want" ]; do
    rounds=$((rounds + 1))
    dir=$work/r$rounds
    while :; do
        args=()
        if [ -e "$dir/checkpoint.safetensors" ]; then
            if ! step=$(python3 "$work/verify.py" "$dir/checkpoint.safetensors" 2>"$work/verify.err"); then
                bad_ckpt=$((bad_ckpt + 1))
                echo "round $rounds: the checkpoint after kill $kills is not whole: $(tail -1 "$work/verify.err")"
                cp "$dir/checkpoint.safetensors" "$work/bad-$kills.safetensors"
                break
            fi
            args=(--resume)
            resumes=$((resumes + 1))
        elif [ -d "$dir" ]; then
            step=0
            args=(--overwrite) # killed before its first checkpoint: start again
        fi
        "$baton" train --model "$dir" "${common[@]}" "${args[@]}" --metrics "$dir.jsonl" >"$work/run.log" 2>&1 &
        pid=$!
        sleep "0.$(printf '%03d' $((RANDOM % 600)))"
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null # (bash's "Killed" job notice goes to the shell's stderr)
        status=$?
        if [ "${args[0]:-}" = --resume ] && ! grep -q "^resumed from .*checkpoint.safetensors: step $step," "$work/run.log" &&
            grep -q "^resumed from" "$work/run.log"; then
            bad_resume=$((bad_resume + 1))
            echo "round $rounds: resumed from another step than the checkpoint's $step: $(grep '^resumed' "$work/run.log")"
        fi
        if [ "$status" -eq 0 ]; then
            break
        elif [ "$status" -ne 137 ]; then
            bad_exit=$((bad_exit + 1))
            echo "round $rounds: a run exited $status:"
            tail -3 "$work/run.log"
            break
        fi
        kills=$((kills + 1))
        for f in "$dir"/*.tmp; do
            [ -e "$f" ] || continue
            in_write=$((in_write + 1))
            tmp_kinds[$(basename "$f")]=1
            break
        done
    done
    [ "$status" -eq 0 ] || break
    # every logged loss of every run of the round against the uninterrupted run's
    if ! awk 'NR == FNR { ref[$1] = $2; next } !($1 in ref) || ref[$1] != $2 { bad++; print "step " $1 ": " $2 ", uninterrupted " ref[$1] } END { exit bad > 0 }' \
        "$work/ref.losses" <(losses "$dir.jsonl"); then
        bad_loss=$((bad_loss + 1))
    fi
    if ! cmp -s <(tensors "$work/ref/checkpoint.safetensors") <(tensors "$dir/checkpoint.safetensors") ||
        ! echo "three hundred five" | "$baton" translate --model "$dir" --beam 1 >/dev/null 2>"$work/translate.log"; then
        bad_final=$((bad_final + 1))
        echo "round $rounds: the final checkpoint or model differs or does not load"
    fi
done
elapsed=$(($(date +%s) - start))
echo "kill: $kills kills in $rounds rounds ($resumes resumes), $in_write of them inside a write" \
     "(left: ${!tmp_kinds[*]}), ${elapsed} s"
check "at least $want kills" test "$kills" -ge "$want"
check "every kill left a whole checkpoint (or none yet)" test "$bad_ckpt" -eq 0
check "every run ended killed (137) or finished (0)" test "$bad_exit" -eq 0
check "every resume started from the checkpoint's step" test "$bad_resume" -eq 0
check "every loss logged equals the uninterrupted run's at its step" test "$bad_loss" -eq 0
check "every round ends with the uninterrupted run's tensors, and its model translates" test "$bad_final" -eq 0
check "at least a tenth of the kills landed inside a write" test $((in_write * 10)) -ge "$kills"
finish
