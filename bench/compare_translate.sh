#!/usr/bin/env bash
# compare_translate.sh: baton's decoding against PyTorch's on the same trained model, the same
# source ids, the same batches and threads: target tokens/s and sentences/s of greedy and beam
# search, and whether the translations are the same (greedy: identical; beam: identical up to ties).
#
# `baton bench translate --write-ids` tokenizes the input once, sorts it longest first and writes
# the ids, the order and its outputs; bench/pytorch_translate.py decodes those ids with the model's
# weights in PyTorch. The two run alternately in ABBA order over rounds (baton, torch; torch, baton;
# ...), each reporting its median over --reps passes; ratio.txt takes the median over rounds.
#
# usage: bench/compare_translate.sh --model DIR [--input FILE] [--build DIR] [--threads N] [--batch N]
#                                   [--beam 1,5] [--rounds N] [--reps N] [--device cpu|cuda]
#                                   [--precision fp32|bf16] [--out DIR]
#   --input    sources, one per line (default ../shared/data/multi30k/test2016.de)
#   --build    meson build directory holding src/baton (default ./build)
#   --threads  threads on both sides (default: all cores)
#   --precision  both sides (default fp32); bf16: baton's bf16 GEMMs, PyTorch under autocast(bfloat16).
#              Translations are compared with each other and with nothing else: see the same-translations
#              column of an fp32 run for the exact agreement
#   --out      results directory (default bench/results/<date>-translate-<device>, -2, -3, ... if taken)
#   PYTHON     environment variable: the interpreter with torch (default python3)
set -euo pipefail

die() { echo "compare_translate.sh: $*" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
python=${PYTHON:-python3}
model="" input="$root/../shared/data/multi30k/test2016.de" build="$root/build" threads=$(nproc) batch=64
beams=1,5 rounds=3 reps=3 device=cpu precision=fp32 out=""
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        --model|--input|--build|--threads|--batch|--beam|--rounds|--reps|--device|--precision|--out)
            [ $# -ge 2 ] || die "$1: expected a value after it"
            case "$1" in
                --model) model=$2 ;; --input) input=$2 ;; --build) build=$2 ;; --threads) threads=$2 ;;
                --batch) batch=$2 ;; --beam) beams=$2 ;; --rounds) rounds=$2 ;; --reps) reps=$2 ;;
                --device) device=$2 ;; --precision) precision=$2 ;; --out) out=$2 ;;
            esac
            shift 2 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[ -n "$model" ] || die "--model DIR: a model directory written by baton train is required"
[ -f "$model/model.safetensors" ] || die "--model $model: no model.safetensors there"
[ -f "$input" ] || die "--input $input: no such file"
baton="$build/src/baton"
[ -x "$baton" ] || die "--build $build: no $baton (bash scripts/build.sh)"
[[ "$threads" =~ ^[1-9][0-9]*$ ]] || die "--threads: '$threads', expected an integer >= 1"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds: '$rounds', expected an integer >= 1"
case "$precision" in fp32|bf16) ;; *) die "--precision: '$precision', expected fp32 or bf16" ;; esac
"$python" -c 'import torch' 2>/dev/null || die "PYTHON: $python cannot import torch"
if [ -z "$out" ]; then
    out="$root/bench/results/$(date +%F)-translate-$device"
    base=$out n=2
    while [ -e "$out" ]; do out="$base-$n"; n=$((n + 1)); done
fi
mkdir -p "$out/raw" "$out/ids"
info="$out/info.txt"
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null | tr '\n' ' ')
{
    echo "date: $(date -Iseconds)"
    echo "commit: $commit${dirty:+-dirty (uncommitted: $dirty)}"
    echo "machine: $(grep -m1 -E '^(model name|Model)' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, $(uname -srm)"
    echo "model: $(cd "$model" && pwd) ($(grep -E '^(cell|emb|hidden|layers|bidirectional|attention|input-feed|subword-vocab) =' "$model/config.txt" | tr '\n' ' '))"
    echo "input: $input ($(wc -l <"$input") lines)"
    echo "threads: $threads (both sides); device: $device; precision: $precision; batch $batch; beams $beams"
    echo "python: $python, torch $("$python" -c 'import torch; print(torch.__version__)')"
    echo "order: $rounds rounds, ABBA (baton first in odd rounds, torch first in even rounds)"
    echo "commands (with the load average before each):"
} >"$info"

run() { # side round
    local side=$1 r=$2 cmd
    if [ "$side" = baton ]; then
        cmd=("$baton" bench translate --device "$device" --model "$model" --input "$input" --threads "$threads"
             --batch "$batch" --beam "$beams" --reps "$reps" --precision "$precision" --csv "$out/raw/baton-r$r.csv")
        [ "$r" = 1 ] && cmd+=(--write-ids "$out/ids")
    else
        cmd=("$python" "$here/pytorch_translate.py" --ids "$out/ids" --device "$device" --threads "$threads"
             --batch "$batch" --beams "$beams" --reps "$reps" --precision "$precision" --csv "$out/raw/torch-r$r.csv")
    fi
    { printf '  [load %s] ' "$(cut -d' ' -f1-3 /proc/loadavg)"; printf '%q ' "${cmd[@]}"; echo; } >>"$info"
    echo "== $side round $r" >&2
    "${cmd[@]}" >"$out/raw/$side-r$r.txt"
}
for r in $(seq 1 "$rounds"); do # baton's first round writes the ids torch reads
    if [ $((r % 2)) -eq 1 ] || [ "$r" = 1 ]; then run baton "$r"; run torch "$r"
    else run torch "$r"; run baton "$r"; fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$info"

"$python" - "$out" "$beams" <<'EOF' | tee "$out/ratio.txt"
import csv, glob, os, statistics, sys
out, beams = sys.argv[1], [int(b) for b in sys.argv[2].split(",")]
def rows(side):
    got = {}
    for path in sorted(glob.glob(os.path.join(out, "raw", side + "-r*.csv"))):
        with open(path) as f:
            for row in csv.DictReader(line for line in f if not line.startswith("#")):
                got.setdefault(row["mode"], []).append(row)
    return got
baton, torch = rows("baton"), rows("torch")
def lines(name):
    with open(os.path.join(out, "ids", name)) as f:
        return f.read().splitlines()
print("ratio = baton / PyTorch tokens per second, medians over rounds: above 1, baton is faster")
print("| mode | sentences | tgt tokens (baton / torch) | baton tok/s | torch tok/s | ratio | baton sent/s | torch sent/s | same translations |")
print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
for k in beams:
    mode = "greedy" if k == 1 else "beam%d" % k
    if mode not in baton or mode not in torch:
        print("| %s | missing |" % mode)
        continue
    med = lambda rs, col: statistics.median(float(r[col]) for r in rs)
    bt, tt = med(baton[mode], "tok_per_s"), med(torch[mode], "tok_per_s")
    mine, theirs = lines("baton-%s.ids" % mode), lines("torch-%s.ids" % mode)
    same = sum(a == b for a, b in zip(mine, theirs))
    note = "%d of %d" % (same, len(mine))
    if k > 1 and same < len(mine):  # a differing beam result is a tie when its score equals baton's
        bs, ts = lines("baton-%s.scores" % mode), lines("torch-%s.scores" % mode)
        ties = sum(a != b and abs(float(x) - float(y)) <= 1e-4 for a, b, x, y in zip(mine, theirs, bs, ts))
        note += " (%d more are ties: equal scores within 1e-4)" % ties
    print("| %s | %s | %s / %s | %.0f | %.0f | **%.2f** | %.1f | %.1f | %s |" % (
        mode, baton[mode][0]["sentences"], baton[mode][0]["tgt_tokens"], torch[mode][0]["tgt_tokens"], bt, tt,
        bt / tt, med(baton[mode], "sent_per_s"), med(torch[mode], "sent_per_s"), note))
EOF
echo "compare_translate.sh: results in $out" >&2
