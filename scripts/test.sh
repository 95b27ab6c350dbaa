#!/usr/bin/env bash
# Run the test suites (`make test`, `make unit`). Builds nothing: make did.
#
#   scripts/test.sh all          unit suites, then the stack, then integration
#   scripts/test.sh unit         unit suites only (MariaDB for the DB ones)
#   scripts/test.sh suite NAME   one suite, unit or integration, by file name
#                                (e.g. test_crm_json, test_customers_api)
#   scripts/test.sh containers   the container suite only (tests/containers/run.sh;
#                                `all` runs it after the local stack is down)
#   scripts/test.sh k8s          the Kubernetes manifests' suite only
#                                (tests/k8s/run.sh; `all` runs it last)
#   scripts/test.sh browser      the browser suite only (tests/browser: the UI
#                                in Chromium; `all` runs it after integration)
#
# A suite is one test binary under $CRM_BIN/tests/unit (recursively) or
# $CRM_BIN/tests/integration. The stack runs in its own state folder
# (state/test) on its own ports, so a `make run` next to it is untouched; its
# processes are stopped at the end whatever happens, its logs are kept until
# the next run. The last line is "N passed, M failed" counting suites.
#
# Environment: CRM_BIN (default build/release, or build/asan when SANITIZE=1),
# CRM_TEST_KEEP_STATE=1 (reuse state/test instead of starting afresh),
# CRM_SUITE_TIMEOUT (seconds per suite, default 900).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
STACK=$REPO/scripts/stack.sh
cd "$REPO"

MODE=${1:-all}
NAME=${2:-}

# `make test SANITIZE=1` puts SANITIZE in our environment: build/asan.
if [[ ${SANITIZE:-} == 1 ]]; then BIN=${CRM_BIN:-build/asan}; else BIN=${CRM_BIN:-build/release}; fi
case $BIN in /*) ;; *) BIN=$REPO/$BIN ;; esac
export CRM_BIN=$BIN
export CRM_STATE=${CRM_TEST_STATE:-$REPO/state/test}
export CRM_HTTPS_PORT=${CRM_TEST_HTTPS_PORT:-18443}
export CRM_HTTP_PORT=${CRM_TEST_HTTP_PORT:-18080}
export CRM_INTERNAL_PORT=${CRM_TEST_INTERNAL_PORT:-18081}
export CRM_MARIADB_PORT=${CRM_TEST_MARIADB_PORT:-13307}
export CRM_ADMIN_PORT_BASE=${CRM_TEST_ADMIN_PORT_BASE:-19100}
export CRM_DEMO=0
# The suites drive thousands of writes a second from one address (the
# concurrency suites, the event backlogs): NGINX's per-address write limit
# would turn most of them into 429. The login limit stays as shipped:
# test_edge and test_identity prove it, from addresses of their own.
export CRM_WRITE_RATE=${CRM_TEST_WRITE_RATE:-100000r/s}
SUITE_TIMEOUT=${CRM_SUITE_TIMEOUT:-900}

# Check: forked tests, generous timeouts (sanitizer builds are slower).
export CK_FORK=${CK_FORK:-yes}
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-30}
if [[ $BIN == */asan ]]; then
    export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-3}
fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

usage() {
    sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

PASSED=0
FAILED=0
FAILED_NAMES=()
STACK_STARTED=0

# Suites: executable test_* files without an extension (not .o/.d).
find_suites() {
    local dir=$1 depth=$2
    [[ -d $dir ]] || return 0
    find "$dir" -maxdepth "$depth" -type f -name 'test_*' ! -name '*.*' -perm -u+x | sort
}

run_suite() {
    local kind=$1 bin=$2 name rc start secs
    name=$(basename "$bin")
    printf '\n=== %s: %s ===\n' "$kind" "$name"
    start=$(date +%s)
    set +e
    timeout -k 10 "$SUITE_TIMEOUT" "$bin" </dev/null
    rc=$?
    set -e
    secs=$(($(date +%s) - start))
    if ((rc == 0)); then
        PASSED=$((PASSED + 1))
        printf -- '--- PASS %s (%ss)\n' "$name" "$secs"
    else
        FAILED=$((FAILED + 1))
        FAILED_NAMES+=("$kind/$name")
        if ((rc == 124)); then
            printf -- '--- FAIL %s (timed out after %ss)\n' "$name" "$SUITE_TIMEOUT"
        else
            printf -- '--- FAIL %s (exit %s, %ss)\n' "$name" "$rc" "$secs"
        fi
    fi
}

fail_step() {
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("$1")
    printf -- '--- FAIL %s\n' "$1"
}

load_env() {
    local lines
    lines=$("$STACK" env)
    set -a
    eval "$lines"
    set +a
    export CRM_TEST_DB_SOCKET=$CRM_DB_SOCKET
    export CRM_TEST_DB_USER=$CRM_DB_ADMIN_USER
}

start_db() {
    printf '\n=== MariaDB (%s) ===\n' "$CRM_STATE"
    STACK_STARTED=1
    if ! "$STACK" db-start; then
        fail_step "MariaDB start"
        return 1
    fi
    load_env
}

start_stack() {
    printf '\n=== stack up (%s) ===\n' "$CRM_STATE"
    STACK_STARTED=1
    if ! "$STACK" up; then
        fail_step "stack up"
        return 1
    fi
    load_env
    # The suites' admin (user 1 of an empty identity schema): the tokens
    # they mint by default name it, and identity checks that it exists.
    if [[ " $CRM_SERVICES " == *" identity "* ]] && ! "$STACK" create-admin it-admin@example.com; then
        fail_step "test admin"
        return 1
    fi
}

show_logs() {
    local f
    printf '\n=== logs (last lines; all of them in %s) ===\n' "$CRM_STATE"
    for f in "$CRM_STATE"/logs/*.log "$CRM_STATE/nginx/logs/error.log"; do
        [[ -s $f ]] || continue
        case $f in */mariadb-install.log | */openssl.log) continue ;; esac
        printf -- '--- %s\n' "${f#"$CRM_STATE"/}"
        tail -n 40 "$f"
    done
}

finish() {
    local rc=$?
    trap - EXIT INT TERM
    if ((STACK_STARTED)); then
        if ((FAILED)); then show_logs; fi
        printf '\n=== stack down ===\n'
        "$STACK" down || true
    fi
    if ((FAILED)); then
        printf '\nfailed: %s\n' "${FAILED_NAMES[*]}"
    fi
    if ((PASSED + FAILED == 0)) && ((rc == 0)); then
        printf '\nno test binaries under %s/tests (did "make tests" run?)\n' "$BIN"
    fi
    printf '\n%d passed, %d failed\n' "$PASSED" "$FAILED"
    if ((FAILED)) || ((rc != 0)); then
        exit 1
    fi
    exit 0
}

fresh_state() {
    "$STACK" down >/dev/null 2>&1 || true
    if [[ ${CRM_TEST_KEEP_STATE:-0} != 1 ]]; then
        rm -rf "$CRM_STATE"
    fi
}

run_units() {
    local bin units
    mapfile -t units < <(find_suites "$BIN/tests/unit" 3)
    ((${#units[@]})) || return 0
    start_db || return 0
    for bin in "${units[@]}"; do run_suite unit "$bin"; done
}

run_integration() {
    local bin its
    mapfile -t its < <(find_suites "$BIN/tests/integration" 1)
    if ! start_stack; then
        for bin in "${its[@]}"; do fail_step "integration/$(basename "$bin") (not run)"; done
        return 0
    fi
    if ((${#its[@]} == 0)); then
        printf 'no integration suites under %s/tests/integration\n' "$BIN"
        return 0
    fi
    for bin in "${its[@]}"; do run_suite integration "$bin"; done
}

# The UI in Debian's Chromium, driven by playwright-core (tests/browser),
# against the stack the integration suites used, with logins of its own.
run_browser() {
    local start secs rc u
    printf '\n=== browser: tests/browser/run.mjs ===\n'
    start=$(date +%s)
    rc=0
    for u in "admin ui-admin@example.com" "sales ui-sales@example.com" \
        "marketing ui-marketing@example.com" "viewer ui-viewer@example.com"; do
        # shellcheck disable=SC2086 # role and email, two words
        "$STACK" create-user $u "UI ${u%% *}" >/dev/null || rc=1
    done
    if ((rc == 0)); then
        set +e
        CRM_BROWSER_SECRETS=$CRM_STATE/secrets \
            CRM_BROWSER_ARTIFACTS=${CRM_BROWSER_ARTIFACTS:-$REPO/build/artifacts/browser} \
            timeout -k 10 900 node "$REPO/tests/browser/run.mjs" </dev/null
        rc=$?
        set -e
    fi
    secs=$(($(date +%s) - start))
    if ((rc == 0)); then
        PASSED=$((PASSED + 1))
        printf -- '--- PASS browser (%ss)\n' "$secs"
    else
        FAILED=$((FAILED + 1))
        FAILED_NAMES+=("browser")
        printf -- '--- FAIL browser (exit %s, %ss)\n' "$rc" "$secs"
    fi
}

# The images and compose.yaml, built and run with Podman (tests/containers).
run_containers() {
    local start secs rc
    printf '\n=== containers: tests/containers/run.sh ===\n'
    start=$(date +%s)
    set +e
    CRM_BIN=$BIN timeout -k 10 3600 "$REPO/tests/containers/run.sh" </dev/null
    rc=$?
    set -e
    secs=$(($(date +%s) - start))
    if ((rc == 0)); then
        PASSED=$((PASSED + 1))
        printf -- '--- PASS containers (%ss)\n' "$secs"
    else
        FAILED=$((FAILED + 1))
        FAILED_NAMES+=("containers")
        printf -- '--- FAIL containers (exit %s, %ss)\n' "$rc" "$secs"
    fi
}

# The Kubernetes manifests (k8s/): rendered, validated, checked against the
# policy, and played with Podman (tests/k8s).
run_k8s() {
    local start secs rc
    printf '\n=== k8s: tests/k8s/run.sh ===\n'
    start=$(date +%s)
    set +e
    timeout -k 10 1800 "$REPO/tests/k8s/run.sh" </dev/null
    rc=$?
    set -e
    secs=$(($(date +%s) - start))
    if ((rc == 0)); then
        PASSED=$((PASSED + 1))
        printf -- '--- PASS k8s (%ss)\n' "$secs"
    else
        FAILED=$((FAILED + 1))
        FAILED_NAMES+=("k8s")
        printf -- '--- FAIL k8s (exit %s, %ss)\n' "$rc" "$secs"
    fi
}

# A sanitizer report in a service's log fails the run even when every request
# a suite checked was answered: a worker that died is replaced silently.
check_service_logs() {
    local hits
    [[ -d $CRM_STATE/logs ]] || return 0
    hits=$(grep -hE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
        "$CRM_STATE"/logs/*.log 2>/dev/null | head -20 || true)
    if [[ -n $hits ]]; then
        printf '%s\n' "$hits"
        fail_step "service logs (sanitizer reports)"
    fi
}

run_one() {
    local bin
    [[ -n $NAME ]] || {
        usage >&2
        exit 2
    }
    bin=$(find_suites "$BIN/tests/unit" 3 | grep -E "/${NAME}\$" | head -1 || true)
    if [[ -n $bin ]]; then
        start_db || return 0
        run_suite unit "$bin"
        return 0
    fi
    bin=$(find_suites "$BIN/tests/integration" 1 | grep -E "/${NAME}\$" | head -1 || true)
    if [[ -n $bin ]]; then
        start_stack || return 0
        run_suite integration "$bin"
        return 0
    fi
    printf 'no suite named %s under %s/tests\n' "$NAME" "$BIN" >&2
    exit 2
}

case $MODE in
all | unit | suite | containers | k8s | browser) ;;
-h | --help | help)
    usage
    exit 0
    ;;
*)
    usage >&2
    exit 2
    ;;
esac

trap finish EXIT
trap 'exit 130' INT TERM
fresh_state
case $MODE in
all)
    run_units
    run_integration
    if ((STACK_STARTED)); then run_browser; fi
    check_service_logs
    # The machine's two cores go to the containers: the local stack stops.
    if ((STACK_STARTED)); then
        "$STACK" down >/dev/null || true
        STACK_STARTED=0
    fi
    run_containers
    run_k8s
    ;;
containers) run_containers ;;
k8s) run_k8s ;;
browser)
    if start_stack; then run_browser; fi
    check_service_logs
    ;;
unit) run_units ;;
suite) run_one ;;
esac
