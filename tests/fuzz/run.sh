#!/usr/bin/env bash
# run.sh: builds the libFuzzer targets of BUILD_DIR and runs each for SECONDS on a copy of its seed
# corpus (docs/fuzzing.md). Usage: tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
#   BUILD_DIR  configured with: CC=clang CXX=clang++ meson setup BUILD_DIR -Dfuzzing=true -Dcuda=disabled \
#                -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized
#   TARGET     safetensors, corpus, ... (default: every target the build has)
# Prints one line per target: executions, executions per second, the corpus it grew, and ok or
# what failed. Exits non-zero on any crash, leak, timeout, out-of-memory or sanitizer report, and
# names the input that caused it (kept, with the log, under BUILD_DIR/fuzz-run/TARGET/).
# FUZZ_JOBS=N runs N targets at a time (default 1); FUZZ_ARGS adds libFuzzer flags.
set -u
if [ $# -lt 2 ] || ! [[ $2 =~ ^[0-9]+$ ]] || [ "$2" -lt 1 ]; then
    echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2
    exit 2
fi
build=$1
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
jobs=${FUZZ_JOBS:-1}

if ! ninja -C "$build" -t targets all 2>/dev/null | grep -q '^fuzz:'; then
    echo "run.sh: $build is not a build with -Dfuzzing=true; configure one with" >&2
    echo "  CC=clang CXX=clang++ meson setup $build -Dfuzzing=true -Dcuda=disabled \\" >&2
    echo "    -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized" >&2
    exit 2
fi
echo "run.sh: building the fuzz targets in $build"
if ! ninja -C "$build" fuzz >"$build/fuzz-build.log" 2>&1; then
    tail -n 30 "$build/fuzz-build.log" >&2
    echo "run.sh: the build failed (log: $build/fuzz-build.log)" >&2
    exit 1
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for d in "$here"/seeds/*/; do
        t=$(basename "$d")
        if [ -x "$build/tests/fuzz/fuzz_$t" ]; then
            targets+=("$t")
        else
            echo "fuzz_$t: not built here (fuzz_spm needs SentencePiece), skipped"
        fi
    done
fi

runs="$build/fuzz-run"
# Sanitizer reports must end the input that caused them, so libFuzzer keeps it.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

# Runs one target in $runs/$1: the seeds copied into corpus/, libFuzzer's log in log.
run_one() {
    local t=$1 dir="$runs/$1"
    rm -rf "$dir"
    mkdir -p "$dir/corpus"
    cp "$here/seeds/$t"/* "$dir/corpus/"
    # -close_fd_mask=2: baton's error lines (thousands a second) go nowhere; libFuzzer's output and
    # the sanitizers' reports still come (the harness's own "fuzz:" failures through the latter).
    # shellcheck disable=SC2086
    "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -close_fd_mask=2 -artifact_prefix="$dir/" ${FUZZ_ARGS:-} "$dir/corpus" >"$dir/log" 2>&1
    echo $? >"$dir/rc"
}

running=0
for t in "${targets[@]}"; do
    if [ ! -x "$build/tests/fuzz/fuzz_$t" ] || [ ! -d "$here/seeds/$t" ]; then
        echo "run.sh: no target fuzz_$t in $build (or no seeds in $here/seeds/$t)" >&2
        exit 2
    fi
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

failed=0
for t in "${targets[@]}"; do
    dir="$runs/$t"
    rc=$(cat "$dir/rc" 2>/dev/null || echo 1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -n 1)
    files=$(find "$dir/corpus" -type f | wc -l)
    kb=$(du -sk --apparent-size "$dir/corpus" | cut -f1)
    report=$(grep -E '^(==[0-9]+== ?ERROR|SUMMARY|fuzz: |.*runtime error)' "$dir/log" | head -n 4)
    artifact=$(sed -n "s/.*Test unit written to //p" "$dir/log" | head -n 1)
    if [ "$rc" = 0 ] && [ -z "$report" ]; then
        status=ok
    else
        status="FAILED (exit $rc)"
        failed=1
    fi
    printf 'fuzz_%-16s %10s executions %7s exec/s  corpus %5s files %6s KB  %s\n' "$t" "${execs:-?}" "${rate:-?}" \
        "$files" "$kb" "$status"
    if [ "$status" != ok ]; then
        [ -n "$report" ] && echo "$report" | sed 's/^/    /'
        echo "    input: ${artifact:-(none written; see the log)}"
        echo "    log:   $dir/log"
        echo "    replay: $build/tests/fuzz/fuzz_$t ${artifact:-INPUT}"
    fi
done
exit $failed
