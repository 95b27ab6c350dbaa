#!/usr/bin/env bash
# Benchmark the stack through the public HTTPS listener with wrk (`make bench`).
#
# Brings up its own stack (state/bench, ports 28443/28080/28081, MariaDB
# 28307, admin 29100) with the demo data, runs four routes, prints a table,
# then drives a fixed number of GET-by-id requests and shows the workers'
# RSS before and after. Stops its stack at the end, whatever happens.
#
#   BENCH_SECONDS=15         length of each run
#   BENCH_CONNECTIONS=64     wrk connections (keep-alive)
#   BENCH_THREADS=2          wrk threads
#   BENCH_RSS_REQUESTS=200000  requests of the RSS run (0: skip it)
#   BENCH_KEEP_CONN=off      on: NGINX fastcgi_keep_conn + upstream keepalive
#   BENCH_WORKERS=           pool size (CRM_WORKERS; default 2 x cores)
#   BENCH_MAX_REQUESTS=0     CRM_MAX_REQUESTS of the pool (0: never recycle)
#   BENCH_KEEP_STATE=1       reuse state/bench instead of starting afresh
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
STACK=$REPO/scripts/stack.sh
cd "$REPO"

SECONDS_EACH=${BENCH_SECONDS:-15}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
RSS_REQUESTS=${BENCH_RSS_REQUESTS:-200000}
for v in SECONDS_EACH CONNS THREADS RSS_REQUESTS; do
    [[ ${!v} =~ ^[0-9]+$ ]] || {
        echo "bench: ${v} must be a number" >&2
        exit 2
    }
done

export CRM_STATE=${BENCH_STATE:-$REPO/state/bench}
export CRM_HTTPS_PORT=${BENCH_HTTPS_PORT:-28443}
export CRM_HTTP_PORT=${BENCH_HTTP_PORT:-28080}
export CRM_INTERNAL_PORT=${BENCH_INTERNAL_PORT:-28081}
export CRM_MARIADB_PORT=${BENCH_MARIADB_PORT:-28307}
export CRM_ADMIN_PORT_BASE=${BENCH_ADMIN_PORT_BASE:-29100}
export CRM_DEMO=1
export CRM_NGINX_KEEP_CONN=${BENCH_KEEP_CONN:-off}
if [[ -n ${BENCH_WORKERS:-} ]]; then
    export CRM_WORKERS=$BENCH_WORKERS
fi
# No recycling, so the memory run watches the same workers from start to end.
export CRM_MAX_REQUESTS=${BENCH_MAX_REQUESTS:-0}

OUT=$CRM_STATE/bench
DEMO_ROWS=1200

cleanup() {
    trap - EXIT INT TERM
    echo
    "$STACK" down || true
}

children_of() {
    local f stat rest ppid
    for f in /proc/[0-9]*/stat; do
        read -r stat 2>/dev/null <"$f" || continue
        rest=${stat##*) }
        read -r _ ppid _ <<<"$rest"
        [[ $ppid == "$1" ]] && { f=${f#/proc/}; echo "${f%/stat}"; }
    done
    return 0
}

rss_kb() {
    local line
    while read -r line; do
        [[ $line == VmRSS:* ]] && { read -r _ kb _ <<<"$line"; echo "$kb"; return 0; }
    done 2>/dev/null <"/proc/$1/status"
    echo "-"
}

# bench FILE LABEL [wrk args...]: run wrk, keep its output in $OUT/FILE.txt,
# add a row to the table.
ROWS=()
bench() {
    local out=$OUT/$1.txt name=$2 rps p50 p99 non2xx errors line
    shift 2
    printf 'bench: %-28s ' "$name"
    wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_EACH}s" --timeout 10s --latency "$@" >"$out" 2>&1 || {
        echo "wrk failed:"
        cat "$out"
        return 1
    }
    rps=- p50=- p99=- non2xx=0 errors=0
    while IFS= read -r line; do
        case $line in
        Requests/sec:*) read -r _ rps <<<"$line" ;;
        *" 50% "*) read -r _ p50 <<<"$line" ;;
        *" 99% "*) read -r _ p99 <<<"$line" ;;
        *Non-2xx\ or\ 3xx\ responses:*) non2xx=${line##*: } ;;
        *Socket\ errors:*)
            # "connect 0, read 0, write 0, timeout 0"
            errors=$(grep -o '[0-9]\+' <<<"${line#*:}" | awk '{s += $1} END {print s + 0}')
            ;;
        esac
    done <"$out"
    echo "$rps req/s"
    ROWS+=("$(printf '%-34s %10s %10s %10s %9s %8s' "$name" "$rps" "$p50" "$p99" "$non2xx" "$errors")")
}

db() { mariadb --defaults-file="$CRM_STATE/mariadb/my.cnf" -N -B "$@"; }

trap cleanup EXIT
trap 'exit 130' INT TERM

"$STACK" down >/dev/null 2>&1 || true
if [[ ${BENCH_KEEP_STATE:-0} != 1 ]]; then
    rm -rf "$CRM_STATE"
fi
"$STACK" up
set -a
eval "$("$STACK" env)"
set +a
mkdir -p "$OUT"

BASE=$CRM_BASE_URL
TAG=$(date +%s)

# The ids to read: the demo rows (or, without demo data, rows made here).
range=$(db -e "SELECT COUNT(*), MIN(id), MAX(id) FROM
    (SELECT id FROM crm_customers.customers ORDER BY id LIMIT $DEMO_ROWS) t")
read -r count lo hi <<<"$range"
if ((count < 100)); then
    echo "bench: only $count customers (no demo data?): creating some first"
    wrk -t"$THREADS" -c"$CONNS" -d3s -s tests/bench/post_create.lua "$BASE/api/v1/customers" \
        -- "seed$TAG" >"$OUT/seed.txt" 2>&1
    range=$(db -e "SELECT COUNT(*), MIN(id), MAX(id) FROM
        (SELECT id FROM crm_customers.customers ORDER BY id LIMIT $DEMO_ROWS) t")
    read -r count lo hi <<<"$range"
fi
((count > 0)) || {
    echo "bench: no customers to read" >&2
    exit 1
}

sup=$("$STACK" pool-pid customers)
mapfile -t workers < <(children_of "$sup")
cat <<EOF

bench: $(nproc) cores, ${#workers[@]} workers, fastcgi_keep_conn $CRM_NGINX_KEEP_CONN,
bench: wrk $THREADS threads x $CONNS connections, ${SECONDS_EACH}s per route,
bench: ids $lo..$hi ($count rows), $BASE

EOF

# Warm up (TLS sessions, worker connections, buffer pool); not reported.
wrk -t"$THREADS" -c"$CONNS" -d2s "$BASE/api/v1/customers/ping" >/dev/null 2>&1 || true

bench ping "GET /api/v1/customers/ping" "$BASE/api/v1/customers/ping"
bench get_by_id "GET /api/v1/customers/{id}" -s tests/bench/get_random.lua \
    "$BASE/api/v1/customers" -- "$lo" "$hi"
bench list "GET /api/v1/customers?limit=50" "$BASE/api/v1/customers?limit=50"
bench create "POST /api/v1/customers" -s tests/bench/post_create.lua \
    "$BASE/api/v1/customers" -- "$TAG"

{
    echo
    printf '%-34s %10s %10s %10s %9s %8s\n' route req/s p50 p99 non-2xx errors
    printf '%s\n' "${ROWS[@]}"
} | tee "$OUT/results.txt"

if ((RSS_REQUESTS > 0)); then
    sup=$("$STACK" pool-pid customers)
    mapfile -t before < <(children_of "$sup")
    declare -A rss_before=()
    for w in "${before[@]}"; do rss_before[$w]=$(rss_kb "$w"); done
    echo
    echo "bench: $RSS_REQUESTS x GET /api/v1/customers/{id} to watch the workers' memory"
    # Each wrk thread stops after its share and leaves a file behind; wrk
    # itself waits for -d, so it gets SIGINT (report and exit) once all
    # threads are done.
    rm -f "$OUT"/rss-done-*
    wrk -t"$THREADS" -c"$CONNS" -d3600s --timeout 10s -s tests/bench/get_random.lua \
        "$BASE/api/v1/customers" -- "$lo" "$hi" "$RSS_REQUESTS" "$THREADS" "$OUT/rss-done-" \
        >"$OUT/rss.txt" 2>&1 &
    wrk_pid=$!
    while kill -0 "$wrk_pid" 2>/dev/null; do
        done_files=("$OUT"/rss-done-*)
        if [[ -e ${done_files[0]} ]] && ((${#done_files[@]} >= THREADS)); then
            kill -INT "$wrk_pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    wait "$wrk_pid" || true
    grep -E 'requests in|Requests/sec' "$OUT/rss.txt" | sed 's/^ */bench: /'
    mapfile -t after < <(children_of "$sup")
    {
        echo
        printf '%-10s %14s %14s\n' "worker" "RSS before kB" "RSS after kB"
        for w in "${before[@]}"; do
            printf '%-10s %14s %14s\n' "$w" "${rss_before[$w]}" "$(rss_kb "$w")"
        done
        recycled=0
        for w in "${after[@]}"; do
            [[ -z ${rss_before[$w]:-} ]] || continue
            printf '%-10s %14s %14s\n' "$w" "(new)" "$(rss_kb "$w")"
            recycled=1
        done
        if ((recycled)); then
            echo "(a new worker replaced one that was recycled after CRM_MAX_REQUESTS or died)"
        fi
    } | tee -a "$OUT/results.txt"
fi
echo
echo "bench: raw wrk output in $OUT/"
