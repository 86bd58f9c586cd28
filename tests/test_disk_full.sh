#!/usr/bin/env bash
# test_disk_full.sh: `baton train` when the disk fills, on the CPU (docs/faults.md).
# What baton does: a checkpoint or best model that cannot be written (ENOSPC, EFBIG) gives one
# error line naming the file and the cause, leaves the previous file whole (the write goes to
# FILE.tmp, which is removed) and training goes on: the next checkpoint tries again, a best model
# waits in memory for it. Only the end (or a signal) must save: if that fails, exit 1 with what
# is on disk and "run the same command with --resume".
#   1. A real full disk (a small tmpfs; needs root, skipped without): a run resumed at step 10
#      with the disk filled to 16 KiB free fails its checkpoint at step 15, and at its validation
#      at step 20 the new best model and the checkpoint, each with "No space left on device" and
#      the file's name; while the disk is full the checkpoint is byte-identical to step 10's and
#      whole (an independent reader checks its CRC). Then the filler is deleted, as a user would:
#      a later checkpoint writes the best model of step 20, then itself, and the run ends (exit 0)
#      with the weights and moments of a run that never saw a full disk, byte for byte, and no
#      FILE.tmp left.
#   2. A file-size limit (ulimit -f 100: 100 KiB, between the model's 60 KiB and the checkpoint's
#      180 KiB; SIGXFSZ is ignored by baton, so writes fail with EFBIG): the checkpoints of steps
#      15 and 20 fail with "File too large", the models are written, the run trains on to step 20
#      and exits 1 saying that the checkpoint holds step 10 and to --resume; the checkpoint is
#      byte-identical to step 10's, no FILE.tmp is left; --resume without the limit continues
#      from step 10 and ends with the uninterrupted run's tensors.
# Skips (77) only where neither a tmpfs nor ulimit -f can be had.
# Usage: test_disk_full.sh BATON
set -u
baton=$1
name=disk_full
. "$(dirname "$0")/testlib.sh"
trap 'umount "$work/disk" 2>/dev/null; rm -rf "$work"' EXIT
if ! command -v python3 >/dev/null; then
    echo "disk_full: skipped: no python3 (the independent checkpoint reader)"
    exit 77
fi
common=(--task numbers --train-size 2000 --dev-size 20 --emb 16 --hidden 32 --batch 16 --threads 1 --device cpu
        --log-every 1 --keep-best loss --dropout 0.1)
tensors() { python3 -c 'import sys, struct; b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; sys.stdout.buffer.write(b[8 + n:])' "$1"; }
whole() { # whole CHECKPOINT: header, tiling and CRC-32 as checkpoint.h defines them; prints state.step
    python3 - "$1" <<'EOF'
import json, struct, sys, zlib
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
header = json.loads(b[8:8 + n])
meta = header.pop('__metadata__')
data = b[8 + n:]
assert max(t['data_offsets'][1] for t in header.values()) == len(data)
crc = 0
for k in sorted(meta, key=str.encode):
    if k != 'checksum':
        crc = zlib.crc32(k.encode() + b'\0' + meta[k].encode() + b'\0', crc)
assert meta['checksum'] == 'crc32:%08x' % zlib.crc32(data, crc)
print(meta['state.step'])
EOF
}
no_tmp() { ! ls "$1" | grep -q '\.tmp$'; }
ran=0

# ---- 1. a real full disk: ENOSPC on a small tmpfs, then space freed ----
mkdir -p "$work/disk"
if mount -t tmpfs -o size=4m tmpfs "$work/disk" 2>/dev/null; then
    ran=1
    m=$work/disk/m
    "$baton" train --model "$work/ref1" "${common[@]}" --steps 60 --valid-every 20 --save-every 5 2>"$work/ref1.log"
    "$baton" train --model "$m" "${common[@]}" --steps 10 --valid-every 20 --save-every 5 2>"$work/m1.log"
    cp "$m/checkpoint.safetensors" "$work/ck10"
    avail=$(df -B1 --output=avail "$work/disk" | tail -1)
    fallocate -l $((avail - 16384)) "$work/disk/filler" 2>/dev/null ||
        head -c $((avail - 16384)) /dev/zero >"$work/disk/filler" 2>/dev/null
    echo "disk_full: tmpfs of 4 MiB, $(df -B1 --output=avail "$work/disk" | tail -1) bytes left free"
    # every write attempt pauses 100 ms after its first tensor (the test hook): the user below has
    # that long, and steps 21-25, to free space before the next attempt, instead of a race
    BATON_FAULT_WRITE_PAUSE_MS=100 "$baton" train --model "$m" "${common[@]}" --steps 60 --valid-every 20 \
        --save-every 5 --resume >"$work/m2.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 1000); do # a user who sees the message frees space
        grep -q "the new best (step 20) was not written" "$work/m2.log" && break
        sleep 0.01
    done
    full_same=1 full_whole=0
    cmp -s "$work/ck10" "$m/checkpoint.safetensors" || full_same=0
    [ "$(whole "$m/checkpoint.safetensors" 2>/dev/null)" = 10 ] && full_whole=1
    rm -f "$work/disk/filler"
    wait "$pid"
    status=$?
    check "ENOSPC: one error line naming the best model, the cause, and that it is unchanged" \
        grep -q "^baton: error: cannot write $m/model.safetensors (.*): No space left on device; $m/model.safetensors is unchanged$" "$work/m2.log"
    check "... the new best is kept in memory, training goes on" \
        grep -q "^$m/model.safetensors: the new best (step 20) was not written (the error above); training goes on with it kept in memory" "$work/m2.log"
    check "... one error line naming the checkpoint and the cause" \
        grep -q "^baton: error: cannot write $m/checkpoint.safetensors (.*): No space left on device; $m/checkpoint.safetensors is unchanged$" "$work/m2.log"
    check "... (step 15) training goes on, saying what the disk holds" \
        grep -q "^step 15: not saved (the error above); training goes on, $m/checkpoint.safetensors holds step 10, and the next checkpoint tries again$" "$work/m2.log"
    check "... while the disk is full the checkpoint is byte-identical to step 10's" test "$full_same" -eq 1
    check "... and whole (header, tensors, CRC-32), at step 10" test "$full_whole" -eq 1
    check "space freed: a checkpoint writes the best model of step 20 (kept in memory) first" \
        grep -q "^model written to $m/model.safetensors (best loss, step 20)$" "$work/m2.log"
    check "... the run ends, exit 0" test "$status" -eq 0
    check "... with the weights and moments of a run that never saw a full disk, byte for byte" \
        cmp -s <(tensors "$work/ref1/checkpoint.safetensors") <(tensors "$m/checkpoint.safetensors")
    check "... no temporary file left behind" no_tmp "$m"
    umount "$work/disk"
else
    echo "disk_full: no tmpfs (not root, or no mount): the real full disk is not tested here"
fi

# ---- 2. a file-size limit: EFBIG, the run trains on, the end cannot save ----
if (ulimit -f 100) 2>/dev/null; then
    ran=1
    f=$work/f
    "$baton" train --model "$work/ref2" "${common[@]}" --steps 20 --valid-every 10 --save-every 5 2>"$work/ref2.log"
    "$baton" train --model "$f" "${common[@]}" --steps 10 --valid-every 10 --save-every 5 2>"$work/f1.log"
    cp "$f/checkpoint.safetensors" "$work/f10"
    (ulimit -f 100; exec "$baton" train --model "$f" "${common[@]}" --steps 20 --valid-every 10 --save-every 5 \
        --resume) >"$work/f2.log" 2>&1
    status=$?
    check "EFBIG: the checkpoints of steps 15 and 20 fail, naming the file and the cause" \
        test "$(grep -c "^baton: error: cannot write $f/checkpoint.safetensors (.*): File too large; $f/checkpoint.safetensors is unchanged$" "$work/f2.log")" -eq 3
    check "... step 15: training goes on" \
        grep -q "^step 15: not saved (the error above); training goes on, $f/checkpoint.safetensors holds step 10" "$work/f2.log"
    check "... it trains to step 20 and validates" grep -q "^eval  step 20 " "$work/f2.log"
    check "... the model (smaller than the limit) is written" grep -q "^model written to $f/model.safetensors" "$work/f2.log"
    check "... the end cannot save: exit 1, saying what the checkpoint holds and to --resume" \
        sh -c "test $status -eq 1 && grep -q '^training finished at step 20, but it could not be saved (the error above): $f/checkpoint.safetensors holds step 10. Free some space and run the same command with --resume' '$work/f2.log'"
    check "... the checkpoint is byte-identical to step 10's" cmp -s "$work/f10" "$f/checkpoint.safetensors"
    check "... and whole, at step 10" test "$(whole "$f/checkpoint.safetensors")" = 10
    check "... no temporary file is left" no_tmp "$f"
    "$baton" train --model "$f" "${common[@]}" --steps 20 --valid-every 10 --save-every 5 --resume >"$work/f3.log" 2>&1
    status=$?
    check "--resume without the limit: from step 10, exit 0" \
        sh -c "test $status -eq 0 && grep -q '^resumed from $f/checkpoint.safetensors: step 10,' '$work/f3.log'"
    check "... ending with the uninterrupted run's tensors, byte for byte" \
        cmp -s <(tensors "$work/ref2/checkpoint.safetensors") <(tensors "$f/checkpoint.safetensors")
else
    echo "disk_full: ulimit -f is not available: the file-size limit is not tested here"
fi
if [ "$ran" -eq 0 ]; then
    echo "disk_full: skipped: neither a tmpfs nor ulimit -f"
    exit 77
fi
finish
