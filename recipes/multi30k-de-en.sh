#!/usr/bin/env bash
# multi30k-de-en.sh: the Multi30k German->English recipe, end to end, from the repository root:
# trains recipes/multi30k-de-en.cfg into a model directory, translates test2016 with beam search,
# and scores it with sacreBLEU's defaults (cased, detokenized; `baton bleu` equals sacreBLEU, and
# the sacrebleu package is run too where it is installed). Everything lands in OUT:
# info.txt (date, commit, machine, commands, times), train.log, metrics.jsonl, loss.png,
# test2016.hyp.en, score.txt.
# usage: bash recipes/multi30k-de-en.sh [OUT]   (default bench/results/<date>-multi30k-de-en)
#        BATON=path/to/baton  EXTRA="--device cuda ..." (appended to the train flags)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
baton=${BATON:-build/src/baton}
data=../shared/data/multi30k
out=${1:-bench/results/$(date +%F)-multi30k-de-en}
[ -x "$baton" ] || { echo "multi30k-de-en.sh: $baton not built (bash scripts/build.sh)" >&2; exit 2; }
[ -f "$data/train.de" ] || { echo "multi30k-de-en.sh: $data/train.de not found (../shared/data)" >&2; exit 2; }
mkdir -p "$out"
model=$out/model
train_cmd=("$baton" train --config recipes/multi30k-de-en.cfg --model "$model" --metrics "$out/metrics.jsonl")
[ -n "${EXTRA:-}" ] && read -r -a extra <<<"$EXTRA" && train_cmd+=("${extra[@]}")
[ -f "$model/checkpoint.safetensors" ] && train_cmd+=(--resume)
translate_cmd=("$baton" translate --model "$model" --input "$data/test2016.de" --beam 5 --alpha 0.6 --batch 32)
{
    echo "date: $(date -u +'%F %T UTC')"
    echo "commit: $(git describe --always --dirty --abbrev=10 2>/dev/null || echo unknown)"
    echo "machine: $(uname -srm); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
    echo "train: ${train_cmd[*]}"
    echo "translate: ${translate_cmd[*]} > $out/test2016.hyp.en"
    echo "score: $baton bleu $data/test2016.en -i $out/test2016.hyp.en"
} >"$out/info.txt"
t0=$(date +%s)
"${train_cmd[@]}" 2> >(tee "$out/train.log" >&2)
t1=$(date +%s)
"${translate_cmd[@]}" >"$out/test2016.hyp.en"
t2=$(date +%s)
"$baton" bleu "$data/test2016.en" -i "$out/test2016.hyp.en" | tee "$out/score.txt"
if python3 -c 'import sacrebleu' 2>/dev/null; then
    python3 -m sacrebleu "$data/test2016.en" -i "$out/test2016.hyp.en" -m bleu chrf -b | sed 's/^/sacrebleu: /' | tee -a "$out/score.txt"
fi
cp "$model/loss.png" "$out/loss.png" 2>/dev/null || true
echo "train: $(( (t1 - t0) / 60 )) min $(( (t1 - t0) % 60 )) s; translate test2016 (beam 5): $((t2 - t1)) s" | tee -a "$out/info.txt"
