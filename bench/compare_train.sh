#!/usr/bin/env bash
# compare_train.sh: whole training steps of baton and PyTorch on the same machine, in one run:
# `baton bench train` and bench/pytorch_baseline.py with the same configurations, input feeding,
# device, thread count, warm-up and repetitions, then `baton bench compare`, which joins the two
# reports and prints tokens/s side by side with the ratio baton/PyTorch (above 1: baton is faster).
# The two sides run alternately in ABBA order over --rounds (baton, torch; torch, baton; ...), each
# round's reports kept under raw/; baton.csv and pytorch.csv hold, for every configuration, the
# round whose tokens/s is the median, so a burst of load on one side in one round moves nothing.
#
# usage: bench/compare_train.sh [--build DIR] [--device cpu|cuda] [--configs tiny,base] [--feed off,on]
#                               [--threads N] [--warmup N] [--reps N] [--precision fp32,tf32,bf16] [--bf16]
#                               [--kernels PART=VERSION,...] [--rounds N] [--out DIR]
#   --build DIR  meson build directory holding src/baton (default ./build)
#   --precision  the precisions, both sides (default fp32): baton runs once per precision (baton.csv for
#                fp32, baton-<precision>.csv otherwise), PyTorch once with the list (tf32: CUDA only; bf16 is
#                AMP autocast: on a CPU with AMX both sides run oneDNN bf16 matmuls, see bench/README.md)
#   --bf16       adds bf16 to the precisions (kept for older commands)
#   --kernels    baton's part versions (baton bench --help), e.g. colsum=plain,step=eager
#   --rounds N   ABBA rounds (default 3 on the cpu, 1 on cuda)
#   --out DIR    results directory (default bench/results/<date>-train-<device>, -2, -3 ... if taken)
#   PYTHON       environment variable: the interpreter with torch (default: /usr/bin/python3 on the cpu,
#                python3 on cuda)
# Writes DIR/info.txt (date, commit, machine, commands), baton.csv, pytorch.csv, compare.csv,
# throughput.png and the logs; prints the ratio table last.
set -euo pipefail
die() { echo "compare_train.sh: $*" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

build=$root/build device=cpu configs="" feed=off,on threads=0 warmup="" reps="" bf16=0 out="" precisions=fp32 kernels=""
rounds=""
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        --build) build=$2; shift 2 ;;
        --device) device=$2; shift 2 ;;
        --configs) configs=$2; shift 2 ;;
        --feed) feed=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --reps) reps=$2; shift 2 ;;
        --bf16) bf16=1; shift ;;
        --precision) precisions=$2; shift 2 ;;
        --kernels) kernels=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) die "unknown option '$1' (--help lists them)" ;;
    esac
done
case "$device" in cpu|cuda) ;; *) die "--device '$device': expected cpu or cuda" ;; esac
baton=$build/src/baton
[ -x "$baton" ] || die "$baton: not built (bash scripts/build.sh, or --build DIR)"
if [ "$device" = cpu ]; then
    python=${PYTHON:-/usr/bin/python3}; configs=${configs:-tiny,base}; warmup=${warmup:-1}; reps=${reps:-3}
    rounds=${rounds:-3}
else
    python=${PYTHON:-python3}; configs=${configs:-tiny,base,gnmt}; warmup=${warmup:-5}; reps=${reps:-20}
    rounds=${rounds:-1}
fi
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds '$rounds': expected an integer >= 1"
"$python" -c 'import torch' 2>/dev/null || die "$python has no torch (set PYTHON=/path/to/python)"
if [ -z "$out" ]; then
    out=$root/bench/results/$(date +%F)-train-$device
    n=2; base=$out; while [ -e "$out" ]; do out=$base-$n; n=$((n + 1)); done
fi
mkdir -p "$out/raw"

# PyTorch's feed flag takes one value or both
case "$feed" in off|on) tfeed=$feed ;; *) tfeed=both ;; esac
[ "$bf16" = 1 ] && [[ ",$precisions," != *,bf16,* ]] && precisions=$precisions,bf16
for p in ${precisions//,/ }; do
    case "$p" in fp32|tf32|bf16) ;; *) die "--precision '$p': expected fp32, tf32 or bf16" ;; esac
done
# one pool of threads per process; passive OpenMP waits keep torch's idle workers off the cores
export OMP_WAIT_POLICY=passive
# baton takes one precision per run: one command (and CSV) each
baton_cmds=() baton_csvs=()
for p in ${precisions//,/ }; do
    csv=$out/baton.csv; [ "$p" = fp32 ] || csv=$out/baton-$p.csv
    baton_csvs+=("$csv")
    csv=$out/raw/$(basename "$csv" .csv)-r@R@.csv
    baton_cmds+=("$(printf '%q ' "$baton" bench train --device "$device" --configs "$configs" --feed "$feed" \
        --threads "$threads" --warmup "$warmup" --reps "$reps" --precision "$p" ${kernels:+--kernels "$kernels"} \
        --csv "$csv")")
done
torch_cmd=("$python" "$here/pytorch_baseline.py" --device "$device" --configs "$configs" --feed "$tfeed"
           --threads "$threads" --warmup "$warmup" --steps "$reps" --precision "$precisions"
           --csv "$out/raw/pytorch-r@R@.csv")
compare_cmd=("$baton" bench compare "${baton_csvs[@]}" "$out/pytorch.csv" --csv "$out/compare.csv"
             --plot "$out/throughput.png")
{
    echo "date: $(date -u +'%F %T UTC')"
    echo "commit: $(git -C "$root" describe --always --dirty --abbrev=10 2>/dev/null || echo unknown)"
    echo "machine: $(uname -srm); $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
    echo "OMP_WAIT_POLICY=$OMP_WAIT_POLICY"
    echo "order: $rounds rounds, ABBA (baton first in odd rounds); @R@ is the round"
    printf 'baton:   %s\n' "${baton_cmds[@]}"
    echo "pytorch: ${torch_cmd[*]}"
    echo "compare: ${compare_cmd[*]}"
} >"$out/info.txt"
run_baton() { # round
    local cmd
    for cmd in "${baton_cmds[@]}"; do
        echo "  round $1 [load $(cut -d' ' -f1-3 /proc/loadavg)]: baton" >>"$out/info.txt"
        eval "${cmd//@R@/$1}" >>"$out/baton.txt" 2>>"$out/baton.log" ||
            die "baton bench failed: $(tail -1 "$out/baton.log")"
    done
}
run_torch() { # round
    echo "  round $1 [load $(cut -d' ' -f1-3 /proc/loadavg)]: pytorch" >>"$out/info.txt"
    "${torch_cmd[@]//@R@/$1}" >>"$out/pytorch.txt" 2>>"$out/pytorch.log" ||
        die "pytorch_baseline.py failed: $(tail -1 "$out/pytorch.log")"
}
for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then run_baton "$r"; run_torch "$r"; else run_torch "$r"; run_baton "$r"; fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/info.txt"
# each system's median round per configuration: round 1's comment lines, then those rows
"$python" - "$out" <<'EOF'
import csv, glob, os, statistics, sys
out = sys.argv[1]
stems = sorted({os.path.basename(p).rsplit("-r", 1)[0] for p in glob.glob(os.path.join(out, "raw", "*-r*.csv"))})
for stem in stems:
    paths = sorted(glob.glob(os.path.join(out, "raw", stem + "-r*.csv")))
    with open(paths[0]) as f:
        comments = [l for l in f if l.startswith("#")]
    groups, header = {}, None
    for p in paths:
        with open(p) as f:
            reader = csv.DictReader(l for l in f if not l.startswith("#"))
            header = reader.fieldnames
            for row in reader:
                key = tuple(row[c] for c in ("system", "config", "feed", "device", "precision"))
                groups.setdefault(key, []).append(row)
    with open(os.path.join(out, stem + ".csv"), "w", newline="") as f:
        f.writelines(comments)
        w = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        w.writeheader()
        for rows in groups.values():
            mid = statistics.median_low(float(r["tokens_per_s"]) for r in rows)
            w.writerow(next(r for r in rows if float(r["tokens_per_s"]) == mid))
EOF
"${compare_cmd[@]}" | tee "$out/ratio.txt"
echo "results in $out"
