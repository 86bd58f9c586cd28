#!/usr/bin/env bash
# test_sacrebleu.sh: baton's BLEU and chrF against the sacrebleu Python package, the reference
# implementation they claim to equal. For every hyp/ref pair in DATA_DIR (odd cases written by hand)
# plus generated ones (a 3000-token line always; ~200 perturbed Multi30k sentences, en and de, and
# all of them as one line when SHARED_DIR/data/multi30k exists), and for BLEU() default,
# BLEU(lowercase=True) and BLEU(tokenize='none') (with CHRF() / CHRF(lowercase=True)), bleu_tool's
# numbers must be within 0.01 of sacrebleu's and hyp_len, ref_len and sacreBLEU's printed line must
# be identical. Why 0.01: sacreBLEU reports scores with two decimals, so a difference below 0.01
# never changes a reported number by more than the last-digit rounding; the line check then pins the
# precisions, BP and ratio to sacreBLEU's printed digits. Skips (77) without sacrebleu.
# Usage: test_sacrebleu.sh BLEU_TOOL DATA_DIR SHARED_DIR
set -uo pipefail
tool=$1 data=$2 shared=${3:-}
if ! python3 -c 'import sacrebleu' 2>/dev/null; then
  echo "SKIP: python3 cannot import sacrebleu (python3 -m pip install sacrebleu)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Deterministic word-level damage (drop, repeat, swap, recase, substitute) keyed on line and word
# number, so the generated hypotheses are the same on every machine without storing corpus text.
perturb() {
  awk '{ out = ""; n = NF
         for (i = 1; i <= n; i++) {
           h = (NR * 131 + i * 71) % 17; w = $i
           if (h == 0) continue
           if (h == 1) w = w " " w
           if (h == 2 && i < n) { w = $(i + 1) " " $i; i++ }
           if (h == 3) w = toupper(substr(w, 1, 1)) substr(w, 2)
           if (h == 4) w = "the"
           out = out (out == "" ? "" : " ") w }
         print out }'
}

cases=()
for f in "$data"/*.hyp; do cases+=("${f%.hyp}"); done
# one sentence of 3000 tokens: no token limit may truncate it
seq 1 3000 | awk '{ printf "%s%s", (NR > 1 ? " " : ""), ($1 % 7 ? "w" $1 % 50 : "x") } END { print "" }' > "$tmp/long.ref"
perturb < "$tmp/long.ref" > "$tmp/long.hyp"
cases+=("$tmp/long")
m30k=$shared/data/multi30k
if [ -f "$m30k/val.en" ] && [ -f "$m30k/val.de" ]; then
  for lang in en de; do
    head -n 200 "$m30k/val.$lang" > "$tmp/m30k_$lang.ref"
    perturb < "$tmp/m30k_$lang.ref" > "$tmp/m30k_$lang.hyp"
    cases+=("$tmp/m30k_$lang")
  done
  paste -sd' ' "$tmp/m30k_en.ref" > "$tmp/m30k_oneline.ref"
  paste -sd' ' "$tmp/m30k_en.hyp" > "$tmp/m30k_oneline.hyp"
  cases+=("$tmp/m30k_oneline")
else
  echo "note: $m30k absent, the Multi30k cases are left out"
fi

# sacrebleu's values in bleu_tool's format, one file per case and mode. Lines are split on '\n' only
# and a final '\n' ends the last line, as bleu_tool reads them.
python3 - "$tmp" "${cases[@]}" <<'PY' || { echo "FAIL: the sacrebleu reference run failed"; exit 1; }
import sys, os
from sacrebleu.metrics import BLEU, CHRF
out = sys.argv[1]
def lines(p):
    s = open(p, encoding='utf-8', newline='\n').read()
    return s[:-1].split('\n') if s.endswith('\n') else (s.split('\n') if s else [])
modes = {'default': ({}, {}), 'lowercase': ({'lowercase': True}, {'lowercase': True}),
         'none': ({'tokenize': 'none'}, {})}
for case in sys.argv[2:]:
    hyp, ref = lines(case + '.hyp'), lines(case + '.ref')
    for mode, (bk, ck) in modes.items():
        b = BLEU(**bk).corpus_score(hyp, [ref])
        c = CHRF(**ck).corpus_score(hyp, [ref])
        with open(os.path.join(out, os.path.basename(case) + '.' + mode + '.want'), 'w') as f:
            f.write(f'bleu {b.score:.6f}\nchrf {c.score:.6f}\nhyp_len {b.sys_len}\nref_len {b.ref_len}\nline {b}\n')
PY

fails=0 checks=0 maxdiff=0
for case in "${cases[@]}"; do
  name=$(basename "$case")
  for mode in default lowercase none; do
    flags=()
    [ "$mode" = lowercase ] && flags=(--lowercase)
    [ "$mode" = none ] && flags=(--tokenize none)
    if ! "$tool" "${flags[@]}" "$case.hyp" "$case.ref" > "$tmp/$name.$mode.got"; then
      echo "FAIL $name [$mode]: bleu_tool failed"; fails=$((fails + 1)); continue
    fi
    # awk prints the largest numeric difference and one line per mismatch
    res=$(awk -v tol=0.01 '
      NR == FNR { want[$1] = substr($0, length($1) + 2); next }
      { got = substr($0, length($1) + 2); k = $1
        if (k == "bleu" || k == "chrf") { d = got - want[k]; d = d < 0 ? -d : d; if (d > m) m = d
          if (d > tol) print "mismatch " k ": baton " got ", sacrebleu " want[k] }
        else if (got != want[k]) print "mismatch " k ": baton \"" got "\", sacrebleu \"" want[k] "\""
        seen[k] = 1 }
      END { for (k in want) if (!(k in seen)) print "mismatch " k ": missing"; printf "maxdiff %.6f\n", m }' \
      "$tmp/$name.$mode.want" "$tmp/$name.$mode.got")
    checks=$((checks + 1))
    d=$(printf '%s\n' "$res" | awk '$1 == "maxdiff" { print $2 }')
    maxdiff=$(awk -v a="$maxdiff" -v b="$d" 'BEGIN { print (b > a ? b : a) }')
    if printf '%s\n' "$res" | grep -q '^mismatch'; then
      echo "FAIL $name [$mode]:"; printf '%s\n' "$res" | grep '^mismatch' | sed 's/^/  /'
      fails=$((fails + 1))
    else
      echo "ok   $name [$mode]: $(sed -n 's/^line //p' "$tmp/$name.$mode.got"), chrF $(sed -n 's/^chrf //p' "$tmp/$name.$mode.got")"
    fi
  done
done
echo "sacrebleu: $checks checks over ${#cases[@]} cases, $fails failed, max |diff| $maxdiff (tolerance 0.01)"
[ "$fails" -eq 0 ]
