#!/usr/bin/env bash
# test_multi30k.sh: train -> translate -> BLEU on a slice of the real Multi30k corpus, end to end:
# SentencePiece models trained on 3,000 German/English pairs, a small model trained for 60 steps
# with validation, 50 test2016 sentences translated (beam 3) and scored. It checks that the
# pipeline runs and produces what it says (model files, one translation per line, detokenized
# text, a BLEU line), not translation quality, which the recipe measures. Skips (77) without
# ../shared/data/multi30k or without SentencePiece in the build. The same training in bf16
# precision must reach fp32's dev loss within 3%.
# Usage: test_multi30k.sh BATON SHARED_DIR
set -u
baton=$1
data=$2/data/multi30k
[ -f "$data/train.de" ] || { echo "multi30k: skipped: $data not found"; exit 77; }
"$baton" version | grep -q "subwords: SentencePiece" || { echo "multi30k: skipped: no SentencePiece in this build"; exit 77; }
name=multi30k
. "$(dirname "$0")/testlib.sh"
head -3000 "$data/train.de" >"$work/train.de"; head -3000 "$data/train.en" >"$work/train.en"
head -100 "$data/val.de" >"$work/val.de"; head -100 "$data/val.en" >"$work/val.en"
head -50 "$data/test2016.de" >"$work/test.de"; head -50 "$data/test2016.en" >"$work/test.en"
"$baton" train --model "$work/m" --train-src "$work/train.de" --train-tgt "$work/train.en" --dev-src "$work/val.de" \
    --dev-tgt "$work/val.en" --subwords spm --subword-vocab 1000 --emb 32 --hidden 64 --batch 32 --batch-tokens 800 \
    --steps 60 --valid-every 30 --threads 2 --device cpu 2>"$work/train.log"
check "train exits 0" test $? -eq 0
for f in config.txt src.vocab tgt.vocab src.spm.model tgt.spm.model model.safetensors checkpoint.safetensors; do
    check "model directory has $f" test -s "$work/m/$f"
done
check "validation reports BLEU" grep -q "eval .*bleu [0-9]" "$work/train.log"
# bf16 precision, the same run: the dev loss after 60 steps within 3% of fp32's (the rounding moves
# every GEMM by ~2^-9 relative; measured: see the printed pair) and the same pipeline around it
"$baton" train --model "$work/m16" --train-src "$work/train.de" --train-tgt "$work/train.en" --dev-src "$work/val.de" \
    --dev-tgt "$work/val.en" --subwords spm --subword-vocab 1000 --emb 32 --hidden 64 --batch 32 --batch-tokens 800 \
    --steps 60 --valid-every 30 --threads 2 --device cpu --precision bf16 2>"$work/train16.log"
check "train --precision bf16 exits 0" test $? -eq 0
l32=$(grep -o "eval  step 60 | dev | loss [0-9.]*" "$work/train.log" | grep -o "[0-9.]*$")
l16=$(grep -o "eval  step 60 | dev | loss [0-9.]*" "$work/train16.log" | grep -o "[0-9.]*$")
echo "multi30k: dev loss after 60 steps: fp32 $l32, bf16 $l16"
check "bf16 dev loss within 3% of fp32's" python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(not abs(b - a) <= 0.03 * a)" "$l32" "$l16"
"$baton" translate --model "$work/m" --input "$work/test.de" --beam 3 >"$work/hyp.en" 2>"$work/translate.log"
check "translate: one line per source" test "$(wc -l <"$work/hyp.en")" -eq 50
check "translate: detokenized (no SentencePiece markers)" sh -c "! grep -q '▁' '$work/hyp.en'"
"$baton" bleu "$work/test.en" -i "$work/hyp.en" >"$work/bleu.txt"
check "bleu prints sacreBLEU's line" grep -q "^BLEU = [0-9.]* " "$work/bleu.txt"
"$baton" score --model "$work/m" --src "$work/test.de" --tgt "$work/test.en" >"$work/score.txt"
check "score: a log-probability per pair" sh -c "test \$(grep -c '^-[0-9.]*	[0-9]*\$' '$work/score.txt') -eq 50"
finish
