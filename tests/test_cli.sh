#!/usr/bin/env bash
# test_cli.sh: the baton program end to end on the CPU: train a tiny model on a built-in task into
# a model directory, translate and score with it, and check that bad input gives one clear error
# line and the documented exit status (2 for bad usage, 1 for a failed run). Usage: test_cli.sh BATON
set -u
baton=$1
name=cli
. "$(dirname "$0")/testlib.sh"

check "train writes a model directory" \
    "$baton" train --model "$work/m" --task numbers --train-size 500 --dev-size 50 --emb 16 --hidden 32 \
    --steps 30 --batch 16 --valid-every 0 --metrics "$work/metrics.jsonl" --threads 1
# pre-tokenized files instead of a built-in task, options from a config file
for i in $(seq 1 60); do echo "a b c $((i % 7))"; done >"$work/train.src"
for i in $(seq 1 60); do echo "$((i % 7)) c b a"; done >"$work/train.tgt"
head -5 "$work/train.src" >"$work/dev.src"
head -5 "$work/train.tgt" >"$work/dev.tgt"
printf 'emb = 8\nhidden = 16\nsteps = 5   # a comment\nbatch = 8\n' >"$work/small.cfg"
check "train from files with a config file" \
    "$baton" train --model "$work/f" --config "$work/small.cfg" --train-src "$work/train.src" \
    --train-tgt "$work/train.tgt" --dev-src "$work/dev.src" --dev-tgt "$work/dev.tgt" --threads 1
check "the config file's settings are in the model's config.txt" grep -qx "hidden = 16" "$work/f/config.txt"
check "train without a dev set: exit 1, says so" expect_exit 1 "without --dev-src" \
    "$baton" train --model "$work/g" --train-src "$work/train.src" --train-tgt "$work/train.tgt"
for f in config.txt src.vocab tgt.vocab model.safetensors; do
    check "model directory has $f" test -s "$work/m/$f"
done
check "metrics are JSON lines with the final evaluation" grep -q '"kind":"eval"' "$work/metrics.jsonl"
if "$baton" version | grep -q "plots: libpng"; then
    check "train draws the loss curves" test -s "$work/m/loss.png"
fi
if ! "$baton" version | grep -q "checkpoints: save and load"; then
    echo "cli: this build cannot load checkpoints (no cJSON): translate and score checks skipped"
    echo "cli: $fails failed"
    [ "$fails" -eq 0 ] || exit 1
    exit 77
fi
printf 'three hundred five\n\nseven\n' >"$work/in.txt"
"$baton" translate --model "$work/m" --input "$work/in.txt" >"$work/out.txt"
check "translate: exit 0" test $? -eq 0
check "translate: one output line per input line" test "$(wc -l <"$work/out.txt")" -eq 3
check "translate --max-len-ratio 1e30: the output length is capped, not overflowed" \
    bash -c "'$baton' translate --model '$work/m' --input '$work/in.txt' --beam 1 --max-len-ratio 1e30 | wc -l | grep -qx 3"
check "translate: reads standard input too" \
    bash -c "printf 'nine\n' | '$baton' translate --model '$work/m' | wc -l | grep -qx 1"
check "translate --nbest 3: three 'i ||| text ||| score' lines per input" \
    bash -c "printf 'nine\n' | '$baton' translate --model '$work/m' --beam 4 --nbest 3 | grep -c '^0 ||| .* ||| -\?[0-9]' | grep -qx 3"
check "translate --beam 1 (greedy) gives a line per input" \
    bash -c "'$baton' translate --model '$work/m' --beam 1 --input '$work/in.txt' | wc -l | grep -qx 3"
# beam scores equal re-scoring the output with `baton score` (alpha 0: the score is the log-probability)
printf 'three hundred five\nseventy two\n' >"$work/beam_src.txt"
"$baton" translate --model "$work/m" --beam 3 --nbest 3 --alpha 0 --input "$work/beam_src.txt" >"$work/nbest.txt"
awk -F' [|][|][|] ' '{ print $2 > "'"$work"'/nbest_tgt.txt"; print $3 > "'"$work"'/nbest_scores.txt" }' "$work/nbest.txt"
awk -F' [|][|][|] ' '{ print ($1 == 0 ? "three hundred five" : "seventy two") }' "$work/nbest.txt" >"$work/nbest_src.txt"
"$baton" score --model "$work/m" --src "$work/nbest_src.txt" --tgt "$work/nbest_tgt.txt" | cut -f1 >"$work/rescored.txt"
check "beam scores equal re-scoring the outputs with score (6 hypotheses, |diff| < 1e-3)" \
    bash -c "paste '$work/nbest_scores.txt' '$work/rescored.txt' | awk '{ d = \$1 - \$2; if (d < 0) d = -d; if (d > 1e-3) bad++ } END { exit NR != 6 || bad }'"
check "nbest above beam: exit 2, says why" expect_exit 2 "\-\-nbest 3: expected 1 <= nbest <= beam" \
    "$baton" translate --model "$work/m" --beam 2 --nbest 3 --input "$work/in.txt"
printf '3 0 5\n\n7\n' >"$work/tgt.txt"
"$baton" score --model "$work/m" --src "$work/in.txt" --tgt "$work/tgt.txt" >"$work/score.txt"
check "score: a log-probability and a token count per line" \
    awk -F'\t' 'NF != 2 || $1 > 0 || $2 < 1 { exit 1 } END { exit NR != 3 }' "$work/score.txt"
check "score: the empty target scores only </s>" bash -c "sed -n 2p '$work/score.txt' | cut -f2 | grep -qx 1"

check "unknown flag: exit 2, names it" expect_exit 2 "--bogus: unknown option of baton train" "$baton" train --bogus 1
check "bad value: exit 2, names the flag" expect_exit 2 "--lr: 'abc', expected a number" "$baton" train --lr abc
check "bad choice: exit 2, lists the choices" expect_exit 2 "expected one of rnn_tanh,lstm,gru" \
    "$baton" train --cell transformer
check "missing model: exit 1, names the directory" expect_exit 1 "model directory $work/none" \
    "$baton" translate --model "$work/none"
printf 'a b\nc\n' >"$work/two.txt"
printf 'x\n' >"$work/one.txt"
check "misaligned files: exit 1, names both" expect_exit 1 "has 2 lines but" \
    "$baton" score --model "$work/m" --src "$work/two.txt" --tgt "$work/one.txt"
awk 'BEGIN { printf "x"; for (i = 0; i < 70000; i++) printf " 3"; print "" }' >"$work/huge.txt"
check "score: a line of 70001 tokens is refused before it sizes memory, naming file:line" \
    expect_exit 1 "huge.txt:1: 70001 tokens, expected at most 65536" \
    "$baton" score --model "$work/m" --src "$work/one.txt" --tgt "$work/huge.txt"
check "a flag past its limit: exit 2, says the range" expect_exit 2 "--hidden 70000: expected 1 to 65536" \
    "$baton" train --hidden 70000
cp -r "$work/m" "$work/broken"
head -c 100 "$work/m/model.safetensors" >"$work/broken/model.safetensors"
check "corrupt model file: exit 1, names the file" expect_exit 1 "broken/model.safetensors" \
    "$baton" translate --model "$work/broken" --input "$work/in.txt"
check "missing input file: exit 1, names it" expect_exit 1 "$work/nothing.txt" \
    "$baton" translate --model "$work/m" --input "$work/nothing.txt"
printf 'lr = 0.01\nnot a setting\n' >"$work/bad.cfg"
check "bad config line: exit 2, names file:line" expect_exit 2 "bad.cfg:2" "$baton" train --config "$work/bad.cfg"
awk 'BEGIN { printf "model = "; for (i = 0; i < 5000; i++) printf "x"; print "" }' >"$work/long.cfg"
check "a config value over 4096 bytes: exit 2, names file:line" \
    expect_exit 2 "long.cfg:1: a value of 5000 bytes" "$baton" train --config "$work/long.cfg"
# corpus files that cannot be trained on: one line naming the file and line, exit 1
cp "$work/train.src" "$work/bad-utf8.src" && printf 'caf\xe9 x\n' >>"$work/bad-utf8.src"
cp "$work/train.tgt" "$work/bad-utf8.tgt" && echo "x" >>"$work/bad-utf8.tgt"
check "invalid UTF-8 in a corpus: exit 1, names file:line" expect_exit 1 "bad-utf8.src:61" \
    "$baton" train --model "$work/u" --train-src "$work/bad-utf8.src" --train-tgt "$work/bad-utf8.tgt" \
    --dev-src "$work/dev.src" --dev-tgt "$work/dev.tgt" --steps 1
check "--replace-invalid trains on it instead" \
    "$baton" train --model "$work/u2" --train-src "$work/bad-utf8.src" --train-tgt "$work/bad-utf8.tgt" \
    --dev-src "$work/dev.src" --dev-tgt "$work/dev.tgt" --steps 1 --replace-invalid --emb 8 --hidden 16 --threads 1
head -59 "$work/train.tgt" >"$work/short.tgt"
check "corpus files of different lengths: exit 1, names both" expect_exit 1 "short.tgt" \
    "$baton" train --model "$work/u3" --train-src "$work/train.src" --train-tgt "$work/short.tgt" \
    --dev-src "$work/dev.src" --dev-tgt "$work/dev.tgt" --steps 1
# check's machinery on the CPU (a GPU machine runs the real comparison in bench/gpu-check.sh)
check "check: cpu against cpu, every comparison within tolerance" \
    sh -c "'$baton' check --device cpu --reference cpu --emb 8 --hidden 16 --batch 4 --max-len 6 --threads 1 |
        grep -q '^[0-9]* of [0-9]* comparisons within tolerance\$'"
check "check: cudnn on the cpu device: exit 1, says why" expect_exit 1 "runs on the cuda device\|has no cuDNN" \
    "$baton" check --device cpu --reference cudnn --emb 8 --hidden 16 --batch 4 --max-len 6
# cuDNN's persistent algorithms take no ragged batch: refused before any data or device is touched
check "train: a persistent cuDNN algorithm: exit 1, says why" expect_exit 1 "needs every sequence of a batch" \
    "$baton" train --model "$work/persist" --rnn-impl cudnn-persist-static --device cpu
check "bench train: a persistent cuDNN algorithm: exit 1, says why" expect_exit 1 "do not take ragged batches" \
    "$baton" bench train --device cpu --rnn-impl fused,cudnn-persist-dynamic
# the whole-recurrence versions are kernels of the cuda backend; auto falls back to fused on the cpu
check "train: persistent on the cpu: exit 1, says why" expect_exit 1 "persistent runs on the cuda device" \
    "$baton" train --model "$work/recur" --rnn-impl persistent --device cpu --steps 1
"$baton" train --model "$work/recur" --rnn-impl auto --device cpu --train-size 50 --dev-size 10 --emb 8 --hidden 16 \
    --steps 1 --threads 1 2>"$work/recur.log" >/dev/null
check "train: auto on the cpu runs packed (fused in a build without libxsmm) and says so" \
    grep -q -E "encoder auto: (packed|per-step sgemm \(not packed: this build has no libxsmm)" "$work/recur.log"
"$baton" train --model "$work/auto" --train-size 50 --dev-size 10 --emb 8 --hidden 16 --steps 1 --threads 1 \
    --device auto 2>"$work/train.log" >/dev/null
check "device auto picks the cpu without a GPU and says so" grep -q "^device: cpu" "$work/train.log"
# baton bench on the CPU: a short training-step run, its CSV, and the configurations shared with
# bench/pytorch_baseline.py (which must describe the same models for the ratios to mean anything)
check "bench train tiny: a row of 3392 tokens per step" \
    sh -c "'$baton' bench train --configs tiny --feed off --warmup 0 --reps 1 --threads 1 --csv '$work/bench.csv' \
        --json '$work/bench.json' 2>/dev/null | grep -q '^baton-fused  *tiny  *off  *cpu  *fp32  *64  *30  *30  *3392 '"
check "bench CSV has the header of pytorch_baseline.py, then the issued-work columns" \
    grep -qx "system,config,feed,device,precision,batch,src_len,tgt_len,tokens_per_step,median_step_ms,tokens_per_s,peak_mem_mib,launches_per_step,kernels_per_step,graph_launches_per_step,syncs_per_step,allocs_per_step,gemm_flops_fp32,gemm_flops_tf32,gemm_flops_bf16,bytes_h2d_per_step,kernel_bytes_per_step,gemm_bytes_per_step" \
    "$work/bench.csv"
check "bench JSON parses, with the machine first" \
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['machine'][0].startswith('baton'); assert d['rows'][0]['tokens_per_step']==3392" \
    "$work/bench.json"
"$baton" bench configs >"$work/configs-baton.json"
python3 "$(dirname "$0")/../bench/pytorch_baseline.py" --list-configs >"$work/configs-torch.json"
check "bench configurations equal pytorch_baseline.py's" python3 -c "
import json, sys
a = {c['name']: c for c in json.load(open(sys.argv[1]))}
b = {c['name']: c for c in json.load(open(sys.argv[2]))}
assert a.keys() == b.keys(), (a.keys(), b.keys())
for n in a:
    for k, v in a[n].items():
        if k in b[n]:
            assert b[n][k] == v, (n, k, v, b[n][k])
" "$work/configs-baton.json" "$work/configs-torch.json"
check "bench: unknown benchmark: exit 2" expect_exit 2 "expected train, layer" "$baton" bench fly
check "bench: bad list value: exit 2, names the flag" expect_exit 2 "\-\-batch: 'x'" "$baton" bench layer --batch 8,x
check "bench compare joins two systems" sh -c "sed 's/baton-fused/other/' '$work/bench.csv' >'$work/other.csv' &&
    '$baton' bench compare '$work/bench.csv' '$work/other.csv' | grep -q '^tiny .* 1.00 *\$'"
check "unknown command: exit 2" expect_exit 2 "unknown command 'fly'" "$baton" fly
check "version prints the build" bash -c "'$baton' version | grep -q '^baton '"

finish
