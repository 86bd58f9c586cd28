#!/usr/bin/env bash
# compare_cpu.sh: baton's CPU recurrent layers against PyTorch's nn.LSTM/GRU/RNN on the same machine,
# in one run, with the same thread count, and a final ratio table.
#
# The programs run alternately, one size at a time, in ABBA order over rounds (baton, torch;
# torch, baton; ...; with --variant, baton, variants, torch, then the reverse), so a slow drift of
# the machine (thermal, a neighbour's build) lands on every side instead of on whichever ran last.
# Each run's own number is a median over --reps calls; the ratio table takes the median over rounds.
#
# usage: bench/compare_cpu.sh [BUILD_DIR [THREADS]] [--out DIR] [--rounds N] [--reps N] [--warmup N]
#                             [--cell C,C] [--batch B,B] [--steps T] [--hidden H,H] [--layers L] [--bidirectional]
#                             [--variant KERNELS]...
#   --cell, --batch, --hidden  comma lists: every combination is one size
#   --variant KERNELS  also baton with --kernels KERNELS (e.g. cpurnn=sgemm, the per-step sgemm), in
#              the same rotation; its rows are "baton-KERNELS" and the table adds baton's speedup over it
#   BUILD_DIR  meson build directory holding bench/baton-bench-rnn (default ./build)
#   THREADS    threads for both sides (default: all cores)
#   --out DIR  results directory (default bench/results/<date>-cpu, with -2, -3, ... if that exists)
#   PYTHON     environment variable: the interpreter with torch (default /usr/bin/python3)
set -euo pipefail

die() { echo "compare_cpu.sh: $*" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
python=${PYTHON:-/usr/bin/python3}
[ -x "$python" ] || python=$(command -v python3) || die "PYTHON: no python3 found"

build=""
threads=""
out=""
rounds=3
reps=10
warmup=3
cell=lstm
batch=32
steps=50
hidden=256,512
layers=2
bidir=()
variants=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        --out|--rounds|--reps|--warmup|--cell|--batch|--steps|--hidden|--layers|--variant)
            [ $# -ge 2 ] || die "$1: expected a value after it"
            case "$1" in
                --out) out=$2 ;; --rounds) rounds=$2 ;; --reps) reps=$2 ;; --warmup) warmup=$2 ;;
                --cell) cell=$2 ;; --batch) batch=$2 ;; --steps) steps=$2 ;; --hidden) hidden=$2 ;;
                --layers) layers=$2 ;; --variant) variants+=("$2") ;;
            esac
            shift 2 ;;
        --bidirectional) bidir=(--bidirectional); shift ;;
        -*) die "unknown flag '$1' (see --help)" ;;
        *)
            if [ -z "$build" ]; then build=$1
            elif [ -z "$threads" ]; then threads=$1
            else die "unexpected argument '$1': expected [BUILD_DIR [THREADS]]"
            fi
            shift ;;
    esac
done
build=${build:-./build}
threads=${threads:-$(nproc)}
[[ "$threads" =~ ^[1-9][0-9]*$ ]] || die "THREADS: '$threads', expected an integer >= 1"
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || die "--rounds: '$rounds', expected an integer >= 1"
[[ "$hidden" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--hidden: '$hidden', expected a comma list such as 256,512"
[[ "$batch" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--batch: '$batch', expected a comma list such as 32,128"
[[ "$cell" =~ ^(lstm|gru|rnn_tanh)(,(lstm|gru|rnn_tanh))*$ ]] || die "--cell: '$cell', expected a comma list of lstm, gru, rnn_tanh"
bench="$build/bench/baton-bench-rnn"
[ -x "$bench" ] || die "BUILD_DIR: no $bench; build it first (meson setup $build && ninja -C $build)"
"$python" -c 'import torch' 2>/dev/null || die "PYTHON: $python cannot import torch"

if [ -z "$out" ]; then
    out="$root/bench/results/$(date +%F)-cpu"
    n=2
    base=$out
    while [ -e "$out" ]; do out="$base-$n"; n=$((n + 1)); done
fi
mkdir -p "$out/raw"
info="$out/info.txt"

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
changes=""
if [ "$commit" != unknown ]; then
    changes=$(git -C "$root" status --porcelain 2>/dev/null | tr '\n' ' ')
    [ -z "$changes" ] || commit="$commit-dirty"
fi
# A "-dirty" commit alone does not say what was measured: the hash of the diff against HEAD does.
diff_hash=$(git -C "$root" diff HEAD 2>/dev/null | sha256sum | cut -c1-16)
# Sources newer than the binary mean the numbers belong to an older state of the tree than the one recorded.
stale=$(find "$root/src" "$root/include" "$root/kernels" -newer "$bench" -type f 2>/dev/null | sed "s|^$root/||" | tr '\n' ' ')
[ -z "$stale" ] || echo "compare_cpu.sh: warning: newer than $bench: $stale(rebuild with ninja -C $build)" >&2
{
    echo "date: $(date -Iseconds)"
    echo "commit: $commit"
    [ -z "$changes" ] || echo "uncommitted: $changes(git diff HEAD sha256 $diff_hash)"
    [ -z "$stale" ] || echo "warning: sources newer than the baton binary: $stale"
    echo "machine: $(grep -m1 -E '^(model name|Model)' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores, $(uname -srm)"
    echo "cwd: $(pwd)"
    echo "threads: $threads (both sides)"
    echo "baton binary: $bench"
    echo "baton blas: $(ldd "$bench" | grep -E 'blas|gomp' | awk '{print $1 " => " $3}' | tr '\n' ' ')"
    echo "python: $python, torch $("$python" -c 'import torch; print(torch.__version__)')"
    echo "environment: $(env | grep -E '^(OMP_|OPENBLAS_|GOMP_|MKL_|KMP_|LD_LIBRARY_PATH=|LD_PRELOAD=)' | tr '\n' ' ')"
    echo "order: per size, $rounds rounds, ABBA (baton${variants[*]:+, the variants} then torch in odd rounds, the reverse in even rounds)"
    [ ${#variants[@]} -eq 0 ] || echo "baton variants: ${variants[*]} (baton-bench-rnn --kernels ...)"
    echo "commands (with the load average before each):"
} > "$info"

run() { # impl cell batch size round: one run of one program for one size; impl baton, torch or a variant index
    local impl=$1 c=$2 b=$3 h=$4 r=$5 name=$1
    [[ "$impl" =~ ^[0-9]+$ ]] && name="baton-${variants[$impl]}"
    local tag="${name//[^A-Za-z0-9_.-]/_}-$c-B$b-H$h-r$r"
    local common=(--cell "$c" --batch "$b" --steps "$steps" --hidden "$h" --layers "$layers" "${bidir[@]}"
                  --threads "$threads" --warmup "$warmup" --reps "$reps" --csv "$out/raw/$tag.csv")
    local cmd
    if [ "$impl" = baton ]; then cmd=("$bench" --device cpu "${common[@]}")
    elif [ "$impl" = torch ]; then cmd=("$python" "$here/pytorch_rnn.py" "${common[@]}")
    else cmd=("$bench" --device cpu --kernels "${variants[$impl]}" "${common[@]}"); fi
    { printf '  [load %s] ' "$(cut -d' ' -f1-3 /proc/loadavg)"; printf '%q ' "${cmd[@]}"; echo; } >> "$info"
    echo "== $tag" >&2
    "${cmd[@]}" > "$out/raw/$tag.txt"
    tail -n 1 "$out/raw/$tag.txt" >&2
}

IFS=, read -r -a sizes <<< "$hidden"
IFS=, read -r -a cells <<< "$cell"
IFS=, read -r -a batches <<< "$batch"
order=(baton)
for i in "${!variants[@]}"; do order+=("$i"); done
order+=(torch)
for c in "${cells[@]}"; do
    for b in "${batches[@]}"; do
        for h in "${sizes[@]}"; do
            for r in $(seq 1 "$rounds"); do
                if [ $((r % 2)) -eq 1 ]; then for i in "${order[@]}"; do run "$i" "$c" "$b" "$h" "$r"; done
                else for ((k = ${#order[@]} - 1; k >= 0; k--)); do run "${order[$k]}" "$c" "$b" "$h" "$r"; done; fi
            done
        done
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$info"

# Headers of the two runs' text outputs (machine, build, torch configuration), once each.
for impl in baton torch; do
    files=("$out/raw/$impl-${cells[0]}-B"*.txt)
    first=${files[0]}
    { echo "--- $impl header ($(basename "$first"))"; grep -v -E '^(lstm|gru|rnn_tanh) ' "$first"; } >> "$info"
done

"$python" - "$out" <<'EOF' | tee "$out/ratio.txt"
# Merges the per-run CSVs and prints per size: the median over rounds of each side's median time.
import csv, glob, os, statistics, sys
out = sys.argv[1]
rows = {"baton": [], "torch": []}
for path in sorted(glob.glob(os.path.join(out, "raw", "*.csv"))):
    with open(path) as f:
        for row in csv.DictReader(f):
            rows.setdefault(row["impl"], []).append(row)
for impl, rs in rows.items():
    if rs:
        with open(os.path.join(out, impl + ".csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rs[0].keys()))
            w.writeheader()
            w.writerows(rs)
key = lambda r: (r["cell"], int(r["B"]), int(r["T"]), int(r["I"]), int(r["H"]), int(r["L"]), int(r["dirs"]), int(r["threads"]))
def by_size(rs, col):
    d = {}
    for r in rs:
        d.setdefault(key(r), []).append(float(r[col]))
    return d
cols = {(impl, c): by_size(rows[impl], c) for impl in rows for c in ("fwd_ms_median", "fwdbwd_ms_median")}
sizes = sorted(set(cols[("baton", "fwd_ms_median")]) | set(cols[("torch", "fwd_ms_median")]))
print("ratio = torch ms / baton ms (> 1: baton is faster); each ms is the median over rounds of per-run medians;")
print("[lo-hi] is the range of the per-run medians over rounds")
hdr = f"{'cell':<8} {'B':>3} {'T':>3} {'I':>4} {'H':>4} {'L':>2} {'dirs':>4} {'thr':>3} |"
for what in ("fwd", "f+b"):
    hdr += f" {'baton ' + what + ' ms':>22} {'torch ' + what + ' ms':>22} {'ratio':>6} |"
print(hdr)
for k in sizes:
    line = f"{k[0]:<8} {k[1]:>3} {k[2]:>3} {k[3]:>4} {k[4]:>4} {k[5]:>2} {k[6]:>4} {k[7]:>3} |"
    for c in ("fwd_ms_median", "fwdbwd_ms_median"):
        b, t = cols[("baton", c)].get(k, []), cols[("torch", c)].get(k, [])
        fmt = lambda v: f"{statistics.median(v):8.2f} [{min(v):.1f}-{max(v):.1f}]" if v else "-"
        ratio = f"{statistics.median(t) / statistics.median(b):6.2f}" if b and t else "     -"
        line += f" {fmt(b):>22} {fmt(t):>22} {ratio} |"
    print(line)
for v in sorted(set(rows) - {"baton", "torch"}):
    print()
    print(f"{v}: the same sizes; 'vs torch' = torch ms / {v} ms, 'speedup' = {v} ms / baton ms (> 1: baton's default is faster)")
    print(f"{'cell':<8} {'B':>3} {'H':>4} {'thr':>3} | {'fwd ms':>8} {'vs torch':>8} {'speedup':>8} | {'f+b ms':>8} {'vs torch':>8} {'speedup':>8}")
    vc = {c: by_size(rows[v], c) for c in ("fwd_ms_median", "fwdbwd_ms_median")}
    for k in sizes:
        line = f"{k[0]:<8} {k[1]:>3} {k[4]:>4} {k[7]:>3} |"
        for c in ("fwd_ms_median", "fwdbwd_ms_median"):
            m, b, t = vc[c].get(k, []), cols[("baton", c)].get(k, []), cols[("torch", c)].get(k, [])
            med = statistics.median(m) if m else float("nan")
            vs = statistics.median(t) / med if m and t else float("nan")
            sp = med / statistics.median(b) if m and b else float("nan")
            line += f" {med:8.2f} {vs:8.2f} {sp:8.2f} |"
        print(line)
EOF
echo "results in $out" >&2
