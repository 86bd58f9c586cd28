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
finish() { # the summary line and the exit status
    echo "$name: $fails failed"
    [ "$fails" -eq 0 ]
}
