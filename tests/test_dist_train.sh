#!/usr/bin/env bash
# test_dist_train.sh: `baton train` as 2 real processes under Open MPI's mpirun, end to end on the
# CPU (suite dist; exit 77 without mpirun or without MPI in the build):
#   - one voice: rank 0 logs and writes; the checkpoint records 2 ranks; weights compared by checksum;
#   - corpus files: rank 0 prepares the vocabularies, the others read them; an epoch whose last
#     round leaves a rank without a batch (13 batches over 2 ranks) trains on;
#   - exact resume with 2 ranks: the same per-step losses and byte-identical weights and moments
#     as the uninterrupted run; a resume with 1 process is refused with one line, exit 1;
#   - SIGUSR1 to mpirun: every rank stops after the same step and the checkpoint is saved;
#   - a rank killed (kill -9): the job ends within seconds with a line naming rank 1, and the last
#     checkpoint resumes;
#   - a rank that hangs (SIGSTOP): rank 0 names it within --dist-timeout and the job ends.
# Usage: test_dist_train.sh BATON
set -u
baton=$1
name=dist_train
here=$(dirname "$0")
. "$here/testlib.sh"
command -v mpirun >/dev/null || { echo "skip: no mpirun (install openmpi-bin)"; exit 77; }
"$baton" --version 2>&1 | grep -q "data parallel: mpi" || { echo "skip: this baton was built without Open MPI"; exit 77; }
mpi() { bash "$here/mpirun.sh" 2 "$baton" train "$@"; }

# 416 pairs of 3..8 words, target = source reversed: --batch 32 cuts 13 batches, an odd number
corpus "$work" 416 11
common=(--train-src "$work/train.src" --train-tgt "$work/train.tgt" --dev-src "$work/dev.src" --dev-tgt "$work/dev.tgt"
        --emb 16 --hidden 32 --batch 32 --valid-every 10 --log-every 1 --threads 1 --dropout 0.2 --device cpu
        --check-every 5)
losses() { grep '"kind":"train"' "$1" | sed 's/.*"step":\([0-9]*\).*"loss":\([^,]*\),.*/\1 \2/' | awk -v a="$2" '$1 > a'; }
tensors() { python3 -c 'import sys, struct; b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; sys.stdout.buffer.write(b[8 + n:])' "$1"; }
rank_pid() { # the pid of rank $2 of the run writing into model directory $1
    local p
    for p in $(pgrep -f -- "--model $1 "); do
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && { echo "$p"; return; }
    done
}
wait_for() { # wait_for FILE PATTERN SECONDS
    for _ in $(seq 1 $(($3 * 10))); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}

mpi --model "$work/a" "${common[@]}" --steps 20 --metrics "$work/a.jsonl" 2>"$work/a.log"
check "2 ranks train: exit 0" test $? -eq 0
check "rank 0 says how the ranks share a step" grep -q "^data parallel: 2 ranks (mpirun, 2 on this machine: no GPU); gradients summed over mpi in 25 MB buckets; --batch 32 per rank: 64 sentences a step in all" "$work/a.log"
check "one voice: each step logged once" test "$(grep -c '^train step' "$work/a.log")" -eq 20
check "one voice: the other rank prints nothing" sh -c "! grep -q 'rank 1' '$work/a.log'"
check "an epoch of 13 batches is 7 steps of 2 ranks (the last round: one rank without a batch)" \
    grep -q "^epoch 1 done: 416 pairs in 13 batches" "$work/a.log"
check "the checkpoint records its 2 ranks" grep -aq '"ranks":"2"' "$work/a/checkpoint.safetensors"

mpi --model "$work/b" "${common[@]}" --steps 10 --metrics "$work/b.jsonl" 2>"$work/b1.log"
mpi --model "$work/b" "${common[@]}" --steps 20 --metrics "$work/b.jsonl" --resume 2>"$work/b2.log"
check "2-rank resume logs steps 11..20" test "$(losses "$work/b.jsonl" 10 | wc -l)" -eq 10
check "2-rank resume: the same losses as the uninterrupted run, step for step" \
    cmp -s <(losses "$work/a.jsonl" 10) <(losses "$work/b.jsonl" 10)
check "2-rank resume: weights and moments byte for byte" \
    cmp -s <(tensors "$work/a/checkpoint.safetensors") <(tensors "$work/b/checkpoint.safetensors")
"$baton" train --model "$work/b" "${common[@]}" --steps 30 --resume 2>"$work/one.log"
check "a 1-process resume of a 2-rank checkpoint is refused, exit 1" \
    sh -c "test $? -eq 1 && grep -q 'written by a run of 2 process(es), and this run has 1' '$work/one.log'"

# SIGUSR1 to mpirun, which passes it to every rank and goes on forwarding their output (SIGTERM
# to mpirun ends the job at once: Open MPI stops reading the ranks' output first): the ranks agree
# on the step, rank 0 saves, all exit 138 (128 + SIGUSR1)
bash "$here/mpirun.sh" 2 "$baton" train --model "$work/c" "${common[@]}" --steps 100000 --valid-every 0 \
    2>"$work/c.log" & # mpirun.sh execs mpirun: $! is mpirun
pid=$!
wait_for "$work/c.log" "^train step" 30
sleep 0.5
kill -USR1 "$pid"
wait "$pid"
check "SIGUSR1 to mpirun: the job stops, exit non-zero" test $? -ne 0
check "SIGUSR1 to mpirun: one checkpoint saved, by rank 0" \
    test "$(grep -c 'stopped by SIGUSR1: checkpoint saved at step' "$work/c.log")" -eq 1
step=$(sed -n 's/.*checkpoint saved at step \([0-9]*\).*/\1/p' "$work/c.log")
mpi --model "$work/c" "${common[@]}" --steps $((step + 2)) --valid-every 0 --resume 2>"$work/c2.log"
check "SIGUSR1 to mpirun: the run resumes from there" grep -q "resumed from .*: step $step" "$work/c2.log"

# disrupt DIR SIGNAL LINE ARGS...: starts a 2-rank run in DIR, sends SIGNAL to rank 1 once the log
# shows LINE, and waits for the job: $status is its exit status, $took the seconds it lived on
disrupt() {
    local dir=$1 sig=$2 line=$3 pid victim start
    shift 3
    bash "$here/mpirun.sh" 2 "$baton" train --model "$dir" "${common[@]}" --steps 100000 --valid-every 0 "$@" \
        2>"$dir.log" &
    pid=$!
    wait_for "$dir.log" "$line" 60
    victim=$(rank_pid "$dir" 1)
    start=$(date +%s)
    kill "-$sig" "$victim"
    wait "$pid"
    status=$?
    took=$(($(date +%s) - start))
    kill -KILL "$victim" 2>/dev/null # a stopped rank outlives an aborted job until killed
}

# kill -9 one rank: the job ends, naming it; the checkpoint on disk resumes
disrupt "$work/d" KILL "^train step 12" --save-every 5
check "a killed rank: the job fails" test "$status" -ne 0
check "a killed rank: it ends within 30 s (took ${took}s)" test "$took" -le 30
check "a killed rank: a line names rank 1" grep -q "rank 1" "$work/d.log"
step=$(python3 -c 'import json, struct, sys; b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; print(json.loads(b[8:8 + n])["__metadata__"]["state.step"])' "$work/d/checkpoint.safetensors")
mpi --model "$work/d" "${common[@]}" --steps $((step + 2)) --valid-every 0 --resume 2>"$work/d2.log"
check "after a killed rank, the last checkpoint (step $step) resumes" \
    sh -c "test $? -eq 0 && grep -q 'resumed from .*: step $step' '$work/d2.log'"

# SIGSTOP one rank: rank 0 gives up on it after --dist-timeout and names it
disrupt "$work/e" STOP "^train step 3" --dist-timeout 3
check "a hung rank: the job fails" test "$status" -ne 0
check "a hung rank: it ends within 30 s of --dist-timeout 3 (took ${took}s)" test "$took" -le 30
check "a hung rank: rank 0 names it" grep -q "rank 0 of 2: .*: no word from rank 1 within --dist-timeout 3 s" "$work/e.log"
finish
