#!/usr/bin/env bash
# dist_scaling.sh: data-parallel scaling of `baton bench train` on this machine, measured: tokens/s
# of 1 process and of N ranks under mpirun (each rank 1 thread), and of 1 process with N threads
# (the same cores used the other way), side by side in ABBA order (A B C C B A), medians per run.
# Efficiency = tokens/s of N ranks / (N x tokens/s of 1 process with 1 thread): 1.0 is perfect
# scaling; the same-cores ratio says whether ranks or threads use N cores better.
#
# usage: bench/dist_scaling.sh [--ranks N] [--configs tiny,base] [--reps R] [--baton EXE] [OUT_DIR]
# Prints a markdown table; OUT_DIR (default a temporary directory) keeps each run's CSV.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
ranks=2 configs=tiny,base reps=20 baton=$here/build/src/baton out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks) ranks=$2; shift 2 ;;
    --configs) configs=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --baton) baton=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "dist_scaling.sh: unknown option '$1'" >&2; exit 2 ;;
    *) out=$1; shift ;;
  esac
done
[ -n "$out" ] || out=$(mktemp -d)
mkdir -p "$out"
command -v mpirun >/dev/null || { echo "dist_scaling.sh: needs Open MPI's mpirun (openmpi-bin)" >&2; exit 2; }
"$baton" --version | grep -q "data parallel: mpi" || { echo "dist_scaling.sh: $baton was built without Open MPI" >&2; exit 2; }
common=(train --device cpu --configs "$configs" --feed off --reps "$reps" --warmup 3)
run() { # run NAME: one measurement into $out/NAME.N.csv
  local name=$1 n
  n=$(ls "$out" | grep -c "^$name\." || true)
  case $name in
    one) "$baton" bench "${common[@]}" --threads 1 --csv "$out/$name.$n.csv" ;;
    ranks) bash "$here/tests/mpirun.sh" "$ranks" "$baton" bench "${common[@]}" --threads 1 --csv "$out/$name.$n.csv" ;;
    threads) "$baton" bench "${common[@]}" --threads "$ranks" --csv "$out/$name.$n.csv" ;;
  esac >/dev/null 2>"$out/$name.$n.log"
}
for name in one ranks threads threads ranks one; do
  echo "dist_scaling: $name" >&2
  run "$name"
done
python3 - "$out" "$ranks" "$(git -C "$here" describe --always --dirty 2>/dev/null || echo unknown)" <<'PY'
import csv, glob, os, statistics, sys
out, ranks, commit = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def tps(name):
    rows = {}
    for path in sorted(glob.glob(os.path.join(out, name + ".*.csv"))):
        for row in csv.DictReader(line for line in open(path) if not line.startswith("#")):
            rows.setdefault(row["config"], []).append(float(row["tokens_per_s"]))
    return {k: statistics.median(v) for k, v in rows.items()}
one, rk, th = tps("one"), tps("ranks"), tps("threads")
print(f"commit {commit}; {os.cpu_count()} cores; each figure the median of 2 runs (ABBA), each run's the median step")
print()
print(f"| config | 1 process, 1 thread | {ranks} ranks, 1 thread each | 1 process, {ranks} threads | "
      f"efficiency of {ranks} ranks | {ranks} ranks / {ranks} threads |")
print("|---|--:|--:|--:|--:|--:|")
for c in one:
    print(f"| {c} | {one[c]:,.0f} tok/s | {rk[c]:,.0f} | {th[c]:,.0f} | {rk[c] / (ranks * one[c]):.2f} | "
          f"{rk[c] / th[c]:.2f} |")
PY
