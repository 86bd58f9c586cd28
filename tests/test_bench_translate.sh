#!/usr/bin/env bash
# test_bench_translate.sh: `baton bench translate` on a tiny trained model: its report, the files
# --write-ids leaves for bench/pytorch_translate.py, and that the translations it times are the ones
# `baton translate` prints for the same lines (greedy and beam 5), so the speed is of real work.
# Usage: test_bench_translate.sh BATON [DEVICE]  (DEVICE cuda: the gpu suite's run, where the
# decoded ids are also compared with the CPU's)
set -u
baton=$1
device=${2:-cpu}
name=bench_translate
. "$(dirname "$0")/testlib.sh"

if ! "$baton" version | grep -q "checkpoints: save and load"; then
    echo "$name: this build cannot load models (no cJSON): skipped"
    exit 77
fi
"$baton" train --model "$work/m" --task numbers --train-size 2000 --dev-size 50 --emb 32 --hidden 64 --steps 150 \
    --batch 32 --valid-every 0 --threads 1 >/dev/null 2>&1
check "a tiny model is trained" test -s "$work/m/model.safetensors"
# 120 sentences of 1 to 9 number words, and an empty line (not decoded, not counted)
awk 'BEGIN { srand(7); split("zero one two three four five six seven eight nine ten twenty thirty hundred thousand", w);
    for (i = 0; i < 120; i++) { n = 1 + int(rand() * 9); s = ""; for (j = 0; j < n; j++) s = s (j ? " " : "") w[1 + int(rand() * 15)];
    print s; if (i == 40) print "" } }' >"$work/in.txt"
mkdir -p "$work/ids"
"$baton" bench translate --device "$device" --model "$work/m" --input "$work/in.txt" --batch 16,40 --beam 1,5 \
    --reps 2 --warmup 0 --threads 1 --write-ids "$work/ids" --csv "$work/r.csv" >"$work/out" 2>"$work/err"
check "bench translate: exit 0" test $? -eq 0
grep -v '^#' "$work/r.csv" | tail -n +2 >"$work/rows.csv" # the CSV starts with '#' lines on the machine
check "the report has the columns bench/pytorch_translate.py writes" \
    grep -qx "system,mode,beam,batch,sentences,src_tokens,tgt_tokens,ms,sent_per_s,tok_per_s" "$work/r.csv"
check "a row per batch size and beam: 4" test "$(grep -c "^baton-$device," "$work/rows.csv")" -eq 4
check "120 sentences counted, the empty line not" \
    bash -c "cut -d, -f5 '$work/rows.csv' | sort -u | grep -qx 120"
check "tokens per second are positive" awk -F, '$10 <= 0 { bad = 1 } END { exit bad + 0 }' "$work/rows.csv"
for f in src.ids order.txt baton-greedy.ids baton-beam5.ids baton-beam5.scores; do
    check "--write-ids wrote $f, a line per sentence" test "$(wc -l <"$work/ids/$f")" -eq 120
done
check "meta.json names the batch, the output limit and the model" \
    grep -q "\"batch\": 16, \"max_len\": [0-9]*, \"alpha\": 0.6, \"beams\": \[1, 5\], \"sentences\": 120" "$work/ids/meta.json"
check "sources are in decode order: longest first" \
    bash -c "awk '{ print NF }' '$work/ids/src.ids' | sort -s -rn -c"
# The ids as text (tgt.vocab: one token per line, in id order), in input order, against `baton translate`.
as_text() { # as_text IDS: the translations of the non-empty input lines, in input order
    awk 'NR == FNR { tok[NR - 1] = $0; next } FILENAME == ARGV[2] { line[FNR] = $1; next }
        { s = ""; for (i = 1; i <= NF; i++) s = s (i > 1 ? " " : "") tok[$i]; out[line[FNR]] = s }
        END { for (l in out) print l "\t" out[l] }' "$work/m/tgt.vocab" "$work/ids/order.txt" "$1" | sort -n | cut -f2-
}
for beam in 1 5; do
    "$baton" translate --device "$device" --model "$work/m" --input "$work/in.txt" --beam "$beam" --threads 1 |
        grep -v '^$' >"$work/tr$beam.txt"
    ids=$work/ids/baton-greedy.ids
    [ "$beam" = 5 ] && ids=$work/ids/baton-beam5.ids
    as_text "$ids" >"$work/bench$beam.txt"
    check "beam $beam: the timed translations are baton translate's" cmp -s "$work/tr$beam.txt" "$work/bench$beam.txt"
done
check "bad input: --beam 0 is refused (exit 2)" expect_exit 2 "--beam: '0'" \
    "$baton" bench translate --model "$work/m" --input "$work/in.txt" --beam 0
check "bad input: no --model (exit 2)" expect_exit 2 "--model DIR" "$baton" bench translate --input "$work/in.txt"
check "bad input: a missing model directory names it (exit 1)" expect_exit 1 "$work/nope" \
    "$baton" bench translate --model "$work/nope" --input "$work/in.txt"
if [ "$device" = cuda ]; then # the same ids as the CPU's (fp32 both: only summation orders differ)
    mkdir -p "$work/cpu"
    "$baton" bench translate --device cpu --model "$work/m" --input "$work/in.txt" --batch 16 --beam 1,5 --reps 1 \
        --warmup 0 --threads 1 --write-ids "$work/cpu" >/dev/null 2>&1
    for f in baton-greedy.ids baton-beam5.ids; do
        check "$f: the GPU path decodes what the CPU decodes" cmp -s "$work/cpu/$f" "$work/ids/$f"
    done
fi
finish
