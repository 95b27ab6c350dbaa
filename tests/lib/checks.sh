# checks.sh - the check bookkeeping of the shell suites (tests/containers,
# tests/k8s), sourced by them: ok, bad and check print one line per check
# and count them in $passed and $failed; check runs a command with its
# output appended to $STATE/checks.log.
# shellcheck shell=bash

passed=0 failed=0
ok() {
    passed=$((passed + 1))
    printf 'ok    %s\n' "$*"
}
bad() {
    failed=$((failed + 1))
    printf 'FAIL  %s\n' "$*"
}
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@" >>"$STATE/checks.log" 2>&1; then ok "$what"; else bad "$what"; fi
}
