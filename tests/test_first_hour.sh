#!/usr/bin/env bash
# test_first_hour.sh: what a new user meets in the first hour (issue 14), each behaviour as such a
# user would try it on the CPU: model directories that describe themselves, streaming translation,
# conventional flags and help, honest training ends. Every check here failed before the change that
# it covers. Usage: test_first_hour.sh BATON
set -u
baton=$1
name=first_hour
. "$(dirname "$0")/testlib.sh"
tiny=(--task numbers --train-size 300 --dev-size 20 --emb 16 --hidden 32 --batch 16 --valid-every 0 --threads 1)

# ---- flags and help (items 7, 8) ----
check "translate rejects a training option, naming the commands that take it" \
    expect_exit 2 "\-\-lr: not an option of baton translate (it is one of train, demo" "$baton" translate --lr 5
check "a near-miss gets 'did you mean'" expect_exit 2 "did you mean --hidden?" "$baton" train --hiden 64
check "--name=value works" expect_exit 2 "\-\-lr: 'abc', expected a number" "$baton" train --lr=abc
check "--no-NAME turns a boolean off" \
    "$baton" train --model "$work/nobi" "${tiny[@]}" --steps 2 --no-bidirectional
check "... and the model says so" grep -qx "bidirectional = false" "$work/nobi/config.txt"
check "--no-NAME of a non-boolean is unknown" expect_exit 2 "\-\-no-lr: unknown option" "$baton" train --no-lr
printf 'hidden = 48\n' >"$work/h48.cfg"
check "the command line beats --config, even when the file comes later" \
    "$baton" train --model "$work/cfgorder" "${tiny[@]}" --steps 2 --hidden 24 --config "$work/h48.cfg"
check "... hidden = 24 kept" grep -qx "hidden = 24" "$work/cfgorder/config.txt"
check "errors carry no source position without --verbose" \
    bash -c "! '$baton' train --lr abc 2>&1 | grep -q '(src/'"
check "... and with --verbose they do" bash -c "'$baton' train --lr abc --verbose 2>&1 | grep -q '(src/cli/'"
"$baton" translate --help >"$work/thelp" 2>&1
check "translate --help lists its decoding options with their defaults" grep -q -- "--beam X.*\[5\]" "$work/thelp"
check "... grouped" grep -qx "decoding:" "$work/thelp"
check "... and not the training ones" bash -c "! grep -q -- '--lr ' '$work/thelp'"
check "the top-level help says translate searches a beam" bash -c "'$baton' --help | grep -q 'translate.*beam'"
check "demo --help shows the demo's own defaults" bash -c "'$baton' demo --help | grep -q -- '--hidden X.*\[128\]'"

# ---- every option checked before any work (item 3) ----
for i in $(seq 1 80); do echo "a b c $((i % 7))"; done >"$work/train.src"
for i in $(seq 1 80); do echo "$((i % 7)) c b a"; done >"$work/train.tgt"
corpus=(--train-src "$work/train.src" --train-tgt "$work/train.tgt" --dev-src "$work/train.src"
    --dev-tgt "$work/train.tgt" --emb 16 --hidden 32 --batch 16 --valid-every 0 --threads 1)
check "--dropout 1.5: exit 2 at once, naming the option and the range" \
    expect_exit 2 "\-\-dropout 1.5: expected 0 <= p < 1" "$baton" train --model "$work/bad" "${corpus[@]}" --dropout 1.5
check "... and nothing is left behind" test ! -e "$work/bad"
check "--train-tgt without --train-src: exit 2" expect_exit 2 "\-\-train-tgt without \-\-train-src" \
    "$baton" train --model "$work/bad" --train-tgt "$work/train.tgt"
check "translate --beam 0: exit 2" expect_exit 2 "\-\-beam 0: expected 1 to 1024" "$baton" translate --model x --beam 0

# ---- --epochs alone, and what ended a run (item 9) ----
"$baton" train --model "$work/ep" "${corpus[@]}" --epochs 3 2>"$work/ep.log"
check "--epochs 3 alone trains three epochs and says so" grep -q "stopped at step 15: --epochs 3 done" "$work/ep.log"
"$baton" train --model "$work/st" "${corpus[@]}" --epochs 3 --steps 7 2>"$work/st.log"
check "--steps before --epochs says which limit ended it" \
    grep -q "stopped at step 7, in epoch 2: --steps 7 reached before --epochs" "$work/st.log"

# ---- a signal saves and exits 128 + the signal (item 10; SIGTERM in test_resume.sh) ----
"$baton" train --model "$work/sig" "${corpus[@]}" --steps 100000 2>"$work/sig.log" &
pid=$!
for i in $(seq 1 100); do grep -q "train step" "$work/sig.log" 2>/dev/null && break; sleep 0.1; done
check "config.txt is written when training starts (item 1)" test -s "$work/sig/config.txt"
check "... before any checkpoint" test ! -e "$work/sig/checkpoint.safetensors"
kill -INT "$pid"
wait "$pid"
check "SIGINT: exit 130, after saving a checkpoint" \
    bash -c "test $? -eq 130 && grep -q 'interrupted: checkpoint saved' '$work/sig.log' && test -s '$work/sig/checkpoint.safetensors'"

# ---- model directories describe themselves, and are not silently reused (items 1, 2) ----
"$baton" train --model "$work/md" "${corpus[@]}" --hidden 48 --steps 5 2>/dev/null
"$baton" train --model "$work/md" --resume --steps 8 2>"$work/md.log"
check "train --resume with nothing else reads the directory's settings" \
    bash -c "test $? -eq 0 && grep -q 'resumed from .*: step 5' '$work/md.log' && grep -q 'H=48' '$work/md.log'"
check "... and says it reuses the vocabularies" grep -q "vocabularies: reusing" "$work/md.log"
check "--resume refuses a flag that shapes the model, by name" expect_exit 2 \
    "\-\-hidden 64: the checkpoint in $work/md was trained with \-\-hidden 48" \
    "$baton" train --model "$work/md" --resume --hidden 64
check "check --model takes the model's shape from its directory" bash -c "'$baton' check --device cpu \
    --reference cpu --model '$work/md' --threads 1 --max-len 4 --batch 2 | grep -q '^layer: lstm, I=16 H=48 L=1'"
check "--resume takes a new learning rate" "$baton" train --model "$work/md" --resume --steps 9 --lr 0.001
check "a non-empty directory without --resume or --overwrite: exit 2, says what to do" expect_exit 2 \
    "\-\-model $work/md: the directory is not empty (.*): \-\-resume continues its training, \-\-overwrite" \
    "$baton" train --model "$work/md" "${corpus[@]}" --steps 1
for i in $(seq 1 40); do echo "x y z $((i % 5))"; done >"$work/other.src"
for i in $(seq 1 40); do echo "$((i % 5)) z y x"; done >"$work/other.tgt"
"$baton" train --model "$work/md" --train-src "$work/other.src" --train-tgt "$work/other.tgt" \
    --dev-src "$work/other.src" --dev-tgt "$work/other.tgt" --emb 16 --hidden 32 --batch 16 --valid-every 0 \
    --threads 1 --steps 2 --overwrite 2>"$work/ow.log"
check "--overwrite builds new vocabularies from the new corpus" \
    bash -c "test $? -eq 0 && grep -qx x '$work/md/src.vocab' && ! grep -q reusing '$work/ow.log'"

# ---- translation as input arrives, over-long lines, byte order marks (items 4, 5, 6) ----
"$baton" train --model "$work/num" "${tiny[@]}" --steps 20 2>/dev/null
(echo seven; sleep 4; echo nine) | "$baton" translate --model "$work/num" --batch 1 --beam 1 >"$work/stream.txt" &
pid=$!
for i in $(seq 1 30); do [ -s "$work/stream.txt" ] && break; sleep 0.1; done
check "translate prints a line before its input has ended" test "$(wc -l <"$work/stream.txt")" -eq 1
wait "$pid"
check "... and the rest after" test "$(wc -l <"$work/stream.txt")" -eq 2
if command -v script >/dev/null; then
    # the terminal echoes the input line, then the translation follows it at once
    check "from a terminal, a line at a time (the default --batch)" bash -c "(echo seven; sleep 4; echo nine) |
        script -qec \"'$baton' translate --model '$work/num' --beam 1\" /dev/null >'$work/tty.txt' & sleep 3;
        test \$(wc -l <'$work/tty.txt') -eq 2; r=\$?; wait; exit \$r"
fi
python3 -c "print('seven'); print('one ' * 100000); print('nine')" >"$work/long.txt"
"$baton" translate --model "$work/num" --input "$work/long.txt" >"$work/long.out" 2>"$work/long.err"
check "a 500,000-character line is cropped with a warning naming its line, and the rest translated" \
    bash -c "test $? -eq 0 && test \$(wc -l <'$work/long.out') -eq 3 && grep -q 'line 2 has 100000 tokens' '$work/long.err'"
printf '\xef\xbb\xbfseven\nnine\n' >"$work/bom.txt"
printf 'seven\nnine\n' >"$work/nobom.txt"
check "a byte order mark at the start of the input is not part of the first word" \
    bash -c "diff <('$baton' translate --model '$work/num' --input '$work/bom.txt') \
                  <('$baton' translate --model '$work/num' --input '$work/nobom.txt')"
{ printf '\xef\xbb\xbf'; cat "$work/train.src"; } >"$work/bom.src"
"$baton" train --model "$work/bomc" "${corpus[@]}" --train-src "$work/bom.src" --steps 1 2>/dev/null
check "... nor of a corpus's first token" bash -c "! grep -q $'\xef\xbb\xbf' '$work/bomc/src.vocab'"

# ---- bleu takes its arguments as sacreBLEU does, several references included (item 14) ----
printf 'the cat sat on the mat\na dog ran in the park today\n' >"$work/ref1"
printf 'there is a cat on the mat\nsome dog runs in a park\n' >"$work/ref2"
printf 'there is a cat on the mat\na dog runs in the park today\n' >"$work/hyp"
"$baton" bleu "$work/ref1" "$work/ref2" -i "$work/hyp" >"$work/b12.txt"
"$baton" bleu "$work/ref1" -i "$work/hyp" >"$work/b1.txt"
check "bleu REF REF2 -i HYP uses the second reference" \
    bash -c "test \"\$(sed -n 's/^BLEU = \([0-9.]*\).*/\1/p' '$work/b12.txt')\" != \"\$(sed -n 's/^BLEU = \([0-9.]*\).*/\1/p' '$work/b1.txt')\""
check "bleu reads the hypotheses from standard input without -i" \
    bash -c "'$baton' bleu '$work/ref1' '$work/ref2' <'$work/hyp' | cmp -s - '$work/b12.txt'"
if python3 -c 'import sacrebleu' 2>/dev/null; then
    python3 - "$work" >"$work/sb.txt" <<'PY'
import sys
from sacrebleu.metrics import BLEU, CHRF
w = sys.argv[1]
r = lambda f: open(f'{w}/{f}').read().splitlines()
print(BLEU().corpus_score(r('hyp'), [r('ref1'), r('ref2')]))
print('chrF2 = %.2f' % CHRF().corpus_score(r('hyp'), [r('ref1'), r('ref2')]).score)
PY
    check "two references: sacreBLEU's BLEU line and chrF, digit for digit" bash -c "
        diff <(sed -n 's/^\(BLEU = [^)]*)\).*/\1/p; /^chrF2/p' '$work/b12.txt') \
             <(sed -n 's/^\(BLEU = [^)]*)\).*/\1/p; /^chrF2/p' '$work/sb.txt')"
fi

# ---- check without a GPU, bench train --help (item 13) ----
"$baton" check --emb 4 --hidden 4 --layers 1 --batch 2 --max-len 2 --threads 1 >"$work/chk.txt" 2>&1
rc=$?
if grep -q "no usable GPU" "$work/chk.txt"; then
    check "check without a GPU: exit 77 (nothing compared), and how to compare the CPU path" \
        bash -c "test $rc -eq 77 && grep -q 'baton check --device cpu --reference cpu' '$work/chk.txt'"
else
    echo "check without a GPU: not tried (a GPU, real or emulated, is usable here)"
fi
check "bench train --help prints the help" bash -c "'$baton' bench train --help | grep -q '^usage: baton bench'"

# ---- the best model and the last, a summary, early stopping on validation loss (item 11) ----
"$baton" train --model "$work/best" "${tiny[@]}" --steps 30 --valid-every 10 2>"$work/best.log"
check "the last weights are kept beside the best" test -s "$work/best/model.last.safetensors"
check "a summary line says which step model.safetensors holds, by which metric, and where the files are" \
    grep -q "^done: $work/best/model.safetensors holds step [0-9]*, the best of 3 validations by BLEU .*model.last.safetensors the last (step 30)" "$work/best.log"
# an update of 1e-30 leaves every weight as it was, so no validation loss improves on the first
"$baton" train --model "$work/pat" "${tiny[@]}" --steps 100 --valid-every 2 --patience 2 --lr 1e-30 2>"$work/pat.log"
check "--patience watches the validation loss by default, and the log says it stopped early" \
    grep -q "stopped early at step 6, epoch 1: \-\-patience 2 validations without a better loss" "$work/pat.log"

# ---- what a run shows (item 12) ----
check "each validation line says whether it is a new best, and when it was printed" \
    grep -q "^eval  step 10 | dev | .* | new best loss.* | at [0-9-]* [0-9:]*$" "$work/best.log"
check "... or how many validations since one" grep -q "| 1 without a better loss | at " "$work/pat.log"
check "throughput is labelled source + target tokens" grep -q " src+tgt tok/s " "$work/best.log"
"$baton" train --model "$work/eta" "${corpus[@]}" --epochs 3 --log-every 1 2>"$work/eta.log"
check "an --epochs run knows its length from the data in its first epoch" grep -q "^train step 1/15 " "$work/eta.log"

# ---- the demo's model on one-word inputs (item 15) ----
"$baton" demo --model "$work/demo" --threads 2 >"$work/demo.txt" 2>/dev/null
printf 'zero\nseven\neight\nnineteen\n' >"$work/words.txt"
check "the demo's model translates one-word numbers, greedy" \
    bash -c "'$baton' translate --model '$work/demo' --beam 1 --input '$work/words.txt' | tr '\n' , | grep -qx '0,7,8,1 9,'"
check "... and with beam search" \
    bash -c "'$baton' translate --model '$work/demo' --input '$work/words.txt' | tr '\n' , | grep -qx '0,7,8,1 9,'"
check "no empty translation of a non-empty line, even from an untrained model" \
    bash -c "'$baton' translate --model '$work/num' --input '$work/words.txt' --nbest 5 | grep -v '^[0-9]* ||| [^ |]' | wc -l | grep -qx 0"

finish
