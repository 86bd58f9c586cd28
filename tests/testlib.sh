# testlib.sh: what the shell tests share (sourced): a scratch directory removed on exit, check and
# expect_exit, and the summary line. Each test sets `name` before sourcing it.
work=$(mktemp -d)
trap '[ -n "${KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
fails=0
check() { # check NAME CONDITION...
    local what=$1; shift
    if "$@"; then echo "$what: ok"; else echo "$what: FAIL"; fails=$((fails + 1)); fi
}
expect_exit() { # expect_exit STATUS PATTERN CMD...: status and one stderr line matching PATTERN
    local want=$1 pattern=$2; shift 2
    "$@" >"$work/out" 2>"$work/err"
    local got=$?
    [ "$got" -eq "$want" ] && grep -q -- "$pattern" "$work/err"
}
corpus() { # corpus DIR PAIRS SEED: DIR/train.{src,tgt} (target = source reversed, 3..8 words of 40), dev = first 20
    awk -v n="$2" -v seed="$3" -v dir="$1" 'BEGIN { srand(seed); for (i = 0; i < n; i++) { m = 3 + int(rand() * 6);
        s = ""; t = ""; for (j = 0; j < m; j++) { w = "w" int(rand() * 40); s = s (j ? " " : "") w; t = w (j ? " " : "") t }
        print s > (dir "/train.src"); print t > (dir "/train.tgt") } }'
    head -20 "$1/train.src" >"$1/dev.src"
    head -20 "$1/train.tgt" >"$1/dev.tgt"
}
finish() { # the summary line and the exit status
    echo "$name: $fails failed"
    [ "$fails" -eq 0 ]
}
