#!/usr/bin/env bash
# The container suite (part of `make test`): the images and compose.yaml,
# built and run for real with Podman on this machine.
#
#   1. a local base image (containers/base-image.sh: no registry here), the
#      five images on it, and MariaDB's in place of mysql:8;
#   2. each runtime image: non-root, starts with --read-only, no compiler,
#      no package lists or caches, OCI labels, ports 9000/9100, under the
#      size budget, and a graceful exit 0 on SIGTERM;
#   3. compose.yaml passes the Compose schema check (docker-compose config);
#   4. the compose stack in a Podman network, and the integration suites
#      that need only HTTP against its NGINX (only the URLs differ);
#   5. one replica killed under load: every GET answered, every create that
#      was acknowledged still there; the replica restarts and serves again.
#
# Prints "N passed, M failed" (checks) last and exits 1 on any failure.
# Everything it starts is removed at the end. State (secrets, logs) in
# $CRM_TEST_C_STATE (default state/containers).
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$REPO" || exit 1

export CONTAINERS_CONF=${CONTAINERS_CONF:-$REPO/containers/podman.conf}
STATE=${CRM_TEST_C_STATE:-$REPO/state/containers}
BIN=${CRM_BIN:-build/release}
[[ $BIN == /* ]] || BIN=$REPO/$BIN
PROJECT=crm-test
BASE=localhost/debian:bookworm-slim
TAG="test"
HTTPS_PORT=${CRM_TEST_C_HTTPS_PORT:-26443}
export CRM_TEST_C_HTTP_PORT=${CRM_TEST_C_HTTP_PORT:-26080}
export CRM_TEST_C_INTERNAL_PORT=${CRM_TEST_C_INTERNAL_PORT:-26081}
SIZE_BUDGET_MB=120
SERVICES=(customers sales marketing identity)
# The integration suites that speak only HTTP to the stack. The others
# need what a container stack does not give a test: stopping and starting
# pools (test_events, test_marketing_events, test_sales_readthrough,
# test_zz_faults), the database's socket (test_db_isolation), or many client
# addresses, which Podman's port forwarding turns into one (test_identity's
# and test_edge's per-address limits).
SUITES=(test_customers_api test_customers_paging test_customers_concurrency
    test_sales_products test_sales_orders test_sales_concurrency test_marketing_api test_access)

# shellcheck source=SCRIPTDIR/../lib/checks.sh
. "$REPO/tests/lib/checks.sh"

compose() {
    (cd containers && CRM_SECRETS=$STATE/secrets CRM_IMAGE_TAG=$TAG \
        CRM_DB_IMAGE=localhost/crm-mariadb:$TAG CRM_HTTPS_PUBLISH=127.0.0.1:$HTTPS_PORT \
        CRM_WRITE_RATE=100000r/s podman-compose -p "$PROJECT" -f compose.yaml \
        -f ../tests/containers/compose.test.yaml "$@")
}

teardown() {
    compose down -v >>"$STATE/compose.log" 2>&1 || true
    local ids
    mapfile -t ids < <(podman ps -aq --filter "label=io.podman.compose.project=$PROJECT")
    ((${#ids[@]} == 0)) || podman rm -f "${ids[@]}" >/dev/null 2>&1 || true
    podman network rm -f "${PROJECT}_default" >/dev/null 2>&1 || true
    podman volume rm -f "${PROJECT}_db-data" >/dev/null 2>&1 || true
    podman rm -f crm-test-alone >/dev/null 2>&1 || true
}

finish() {
    teardown
    echo
    echo "$passed passed, $failed failed"
    if ((failed > 0)); then exit 1; fi
    exit 0
}

for tool in podman podman-compose docker-compose debootstrap wrk curl openssl; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "containers: $tool is missing (make deps installs it)" >&2
        exit 1
    }
done
rm -rf "$STATE"
mkdir -p "$STATE"
trap finish EXIT
teardown

# ---- 1. images ------------------------------------------------------------
started=$(date +%s)
if ! containers/base-image.sh "$BASE" >"$STATE/base.log" 2>&1; then
    cat "$STATE/base.log"
    bad "local base image"
    exit 1
fi
build() { # build FILE IMAGE [ARGS...]
    local file=$1 image=$2
    shift 2
    podman build --network=host -f "containers/$file" --build-arg "BASE_IMAGE=$BASE" \
        -t "$image" "$@" . >"$STATE/build-${image##*/}.log" 2>&1
}
for svc in "${SERVICES[@]}"; do
    check "image localhost/crm-$svc:$TAG builds" \
        build service.Containerfile "localhost/crm-$svc:$TAG" --build-arg "SERVICE=$svc"
done
check "image localhost/crm-nginx:$TAG builds" build nginx.Containerfile "localhost/crm-nginx:$TAG"
check "image localhost/crm-mariadb:$TAG builds (in place of mysql:8)" \
    build mariadb.Containerfile "localhost/crm-mariadb:$TAG"
echo "containers: images built in $(($(date +%s) - started)) s"
((failed == 0)) || exit 1

# ---- 2. each runtime image ------------------------------------------------
# Start a service image alone, read-only, and wait for its admin port.
alone_live() {
    local img=$1 i
    podman rm -f crm-test-alone >/dev/null 2>&1
    podman run -d --name crm-test-alone --read-only --tmpfs /tmp \
        -e CRM_JWT_PUBLIC_KEYS_FILE=/run/secrets/jwt_public \
        -v "$STATE/secrets/jwt_public:/run/secrets/jwt_public:ro" "$img" >/dev/null || return 1
    for i in $(seq 1 50); do
        podman exec crm-test-alone /usr/local/bin/crm health live >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    podman logs crm-test-alone
    return 1
}
# SIGTERM: the pool drains and exits 0, well before a 20 s deadline.
alone_stops() {
    local t0 code
    t0=$(date +%s)
    podman stop -t 20 crm-test-alone >/dev/null || return 1
    code=$(podman inspect --format '{{.State.ExitCode}}' crm-test-alone)
    echo "exit $code after $(($(date +%s) - t0)) s"
    [[ $code == 0 ]] && (($(date +%s) - t0 < 15))
}
nonroot() {
    local user
    user=$(podman image inspect --format '{{.Config.User}}' "$1")
    [[ -n $user && ${user%%:*} != 0 && ${user%%:*} != root ]] &&
        [[ $(podman run --rm --entrypoint id "$1" -u) != 0 ]]
}
no_compiler() {
    ! podman run --rm --entrypoint sh "$1" -c \
        'command -v cc || command -v gcc || command -v c99 || command -v make || command -v ld'
}
no_caches() {
    [[ -z $(podman run --rm --entrypoint sh "$1" -c \
        'ls -A /var/lib/apt/lists /var/cache/apt 2>/dev/null | grep -v "^/\|^$\|^partial$\|^lock$"') ]]
}
labelled() {
    [[ -n $(podman image inspect --format '{{index .Config.Labels "org.opencontainers.image.title"}}' "$1") ]]
}
exposes() {
    local ports
    ports=$(podman image inspect --format '{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}' "$1")
    shift
    for p in "$@"; do [[ " $ports " == *" $p/tcp "* ]] || return 1; done
}
small() {
    local bytes
    bytes=$(podman image inspect --format '{{.Size}}' "$1")
    echo "$1: $((bytes / 1000000)) MB"
    ((bytes <= SIZE_BUDGET_MB * 1000000))
}

containers/secrets.sh "$STATE/secrets" >/dev/null
for img in "${SERVICES[@]/#/localhost/crm-}" localhost/crm-nginx; do
    img=$img:$TAG
    check "$img runs as a non-root user" nonroot "$img"
    check "$img has no compiler or make" no_compiler "$img"
    check "$img keeps no package lists or caches" no_caches "$img"
    check "$img carries OCI labels" labelled "$img"
    check "$img is at most $SIZE_BUDGET_MB MB" small "$img"
done
for svc in "${SERVICES[@]}"; do
    img=localhost/crm-$svc:$TAG
    check "$img exposes 9000 and 9100" exposes "$img" 9000 9100
    check "$img starts with --read-only" alone_live "$img"
    check "$img stops gracefully on SIGTERM (exit 0)" alone_stops
done
check "localhost/crm-nginx:$TAG exposes 8443" exposes "localhost/crm-nginx:$TAG" 8443
grep -h ' MB$' "$STATE/checks.log" | sed 's/^/containers: /'

# ---- 3. compose.yaml ------------------------------------------------------
# podman-compose (1.0 in Debian 12) has no `config`; docker-compose checks
# the file against the Compose specification's schema and resolves it
# (anchors, variables, the test's additions) without an engine.
compose_config() {
    (cd containers && CRM_SECRETS=$STATE/secrets docker-compose -f compose.yaml \
        -f ../tests/containers/compose.test.yaml config -q)
}
check "compose.yaml passes the Compose schema check (docker-compose config)" compose_config

# ---- 4. the stack and the integration suites -------------------------------
ready() {
    local i svc n
    for i in $(seq 1 120); do
        n=0
        for svc in "${SERVICES[@]}"; do
            for r in 1 2; do
                podman exec "${PROJECT}_${svc}-${r}_1" /usr/local/bin/crm health >/dev/null 2>&1 &&
                    n=$((n + 1))
            done
        done
        if ((n == 8)) && curl -fsS -o /dev/null --cacert "$STATE/secrets/tls_cert" \
            "https://127.0.0.1:$HTTPS_PORT/api/v1/customers/ping" 2>/dev/null; then
            echo "ready after $i s"
            return 0
        fi
        sleep 1
    done
    return 1
}
started=$(date +%s)
if ! compose up -d >"$STATE/compose.log" 2>&1; then
    tail -n 30 "$STATE/compose.log"
    bad "the compose stack starts"
    exit 1
fi
if ! ready >>"$STATE/checks.log" 2>&1; then
    podman ps -a --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Names}} {{.Status}}'
    bad "all eight replicas ready and NGINX answering"
    exit 1
fi
ok "all eight replicas ready and NGINX answering ($(($(date +%s) - started)) s after up)"

# The suites find the token keys and the event key where a local stack
# keeps them ($CRM_STATE/secrets).
mkdir -p "$STATE/suite/secrets"
cp "$STATE/secrets/jwt_signing" "$STATE/suite/secrets/jwt-signing.pem"
cp "$STATE/secrets/jwt_public" "$STATE/suite/secrets/jwt-public.pem"
cp "$STATE/secrets/event_key" "$STATE/suite/secrets/events.key"
chmod 0600 "$STATE/suite/secrets/"*
for suite in "${SUITES[@]}"; do
    if CRM_BASE_URL=https://127.0.0.1:$HTTPS_PORT CRM_HTTP_URL=http://127.0.0.1:$CRM_TEST_C_HTTP_PORT \
        CRM_INTERNAL_URL=http://127.0.0.1:$CRM_TEST_C_INTERNAL_PORT \
        CRM_CA_FILE=$STATE/secrets/tls_cert CRM_STATE=$STATE/suite CRM_BIN=$BIN \
        CRM_SERVICES="${SERVICES[*]}" CK_DEFAULT_TIMEOUT=600 \
        timeout 900 "$BIN/tests/integration/$suite" >"$STATE/$suite.log" 2>&1; then
        ok "$suite against the containers ($(grep -o 'Checks: [0-9]*' "$STATE/$suite.log"))"
    else
        grep -E ':[FE]:' "$STATE/$suite.log" | head -n 5 | cut -c1-300
        bad "$suite against the containers"
    fi
done

# ---- 5. a replica killed under load ----------------------------------------
token=$(curl -sS --cacert "$STATE/secrets/tls_cert" -H 'Content-Type: application/json' \
    --data-binary @- "https://127.0.0.1:$HTTPS_PORT/api/v1/auth/login" <<EOF | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
{"email":"admin@crm.example","password":"$(cat "$STATE/secrets/admin_password")"}
EOF
)
auth=(-H "Authorization: Bearer $token")
url=https://127.0.0.1:$HTTPS_PORT
# The customers the reads pick from: made now, so every id exists.
create() { # create N: POST customer N; prints its id, or nothing
    curl -sS --max-time 10 --cacert "$STATE/secrets/tls_cert" "${auth[@]}" \
        -H 'Content-Type: application/json' \
        -d "{\"name\":\"Failover $1\",\"email\":\"failover-$$-$1@example.com\"}" \
        "$url/api/v1/customers" 2>>"$STATE/failover-curl.log" |
        sed -n 's/^{"id":\([0-9]*\),.*/\1/p'
}
lo=$(create first)
hi=$lo
for i in $(seq 1 30); do hi=$(create "seed$i"); done
if [[ -z $token || -z $lo || -z $hi ]]; then
    bad "log in as the first admin and make customers to read"
else
    victim=${PROJECT}_customers-1_1
    # Reads: wrk on GET /api/v1/customers/{id} for 12 s.
    wrk -t2 -c16 -d12s --timeout 5s -H "Authorization: Bearer $token" \
        -s tests/bench/get_random.lua "$url/api/v1/customers" -- "$lo" "$hi" \
        >"$STATE/failover-wrk.txt" 2>&1 &
    wrk_pid=$!
    # Writes: creates one after another; the ids acknowledged are kept.
    : >"$STATE/failover-acked"
    : >"$STATE/failover-refused"
    (
        end=$(($(date +%s) + 12))
        n=0
        while (($(date +%s) < end)); do
            n=$((n + 1))
            id=$(create "$n")
            if [[ -n $id ]]; then
                echo "$id" >>"$STATE/failover-acked"
            else
                echo "$n" >>"$STATE/failover-refused"
            fi
        done
    ) &
    writer_pid=$!
    sleep 3
    restarts_before=$(podman inspect --format '{{.RestartCount}}' "$victim")
    # A crash, not a stop: SIGKILL to the replica's supervisor (the
    # container's first process), which Podman restarts (restart: always;
    # `podman kill` would count as stopped by the user).
    kill -KILL "$(podman inspect --format '{{.State.Pid}}' "$victim")"
    wait "$wrk_pid"
    wait "$writer_pid"
    non2xx=$(sed -n 's/.*Non-2xx or 3xx responses: *//p' "$STATE/failover-wrk.txt")
    errors=$(sed -n 's/.*Socket errors: //p' "$STATE/failover-wrk.txt")
    reqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$STATE/failover-wrk.txt")
    if [[ -n $reqs && -z $non2xx && -z $errors ]]; then
        ok "GET by id during the kill: $reqs requests, every one 2xx"
    else
        grep -E 'requests in|Non-2xx|Socket errors' "$STATE/failover-wrk.txt"
        bad "GET by id during the kill: every one 2xx"
    fi
    acked=$(wc -l <"$STATE/failover-acked")
    lost=0
    while read -r id; do
        code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$STATE/secrets/tls_cert" \
            "${auth[@]}" "$url/api/v1/customers/$id")
        [[ $code == 200 ]] || lost=$((lost + 1))
    done <"$STATE/failover-acked"
    refused=$(wc -l <"$STATE/failover-refused")
    if ((acked > 0 && lost == 0)); then
        ok "creates during the kill: $acked acknowledged, none lost ($refused refused, retried by no one)"
    else
        bad "creates during the kill: $acked acknowledged, $lost of them lost"
    fi
    # The replica comes back (restart: always) and serves requests again.
    back=0
    for _ in $(seq 1 60); do
        if podman exec "$victim" /usr/local/bin/crm health >/dev/null 2>&1; then
            back=1
            break
        fi
        sleep 1
    done
    restarts_after=$(podman inspect --format '{{.RestartCount}}' "$victim")
    if ((back)) && ((restarts_after > restarts_before)); then
        ok "the killed replica restarted ($restarts_before -> $restarts_after) and is ready"
    else
        bad "the killed replica restarted and is ready"
    fi
    # NGINX sends it work again once its fail_timeout (10 s) has passed.
    served() {
        podman exec "$victim" bash -c 'exec 3<>/dev/tcp/127.0.0.1/9100;
            printf "GET /metrics HTTP/1.0\r\n\r\n" >&3; cat <&3' |
            awk '/^crm_http_requests_total/ { s += $NF } END { print s + 0 }'
    }
    sleep 11
    before=$(served)
    for _ in $(seq 1 40); do
        curl -sS -o /dev/null --cacert "$STATE/secrets/tls_cert" "${auth[@]}" \
            "$url/api/v1/customers/$lo"
    done
    after=$(served)
    if ((after > before)); then
        ok "the restarted replica serves again ($((after - before)) of 40 requests)"
    else
        bad "the restarted replica serves again ($before -> $after requests)"
    fi
fi
