#!/usr/bin/env bash
# Benchmark the stack through the public HTTPS listener with wrk (`make bench`).
#
# Brings up its own stack (state/bench, ports 28443/28080/28081, MariaDB
# 28307, admin 29100) with the demo data, runs five customers routes (one
# of them the UI's customers page) and, when the stack has the sales
# service, four sales ones, prints a table,
# then drives a fixed number of GET-by-id requests and shows the workers'
# RSS before and after. Stops its stack at the end, whatever happens.
#
# Sales (CRM_SERVICES must list customers before sales; without
# CRM_SERVICES, sales is benched when its binary exists): the database gets
# BENCH_ORDERS orders from scripts/demo/sales.awk (loaded as the DB admin),
# then
#   - GET /api/v1/sales/summary over all of them (from 200 days ago), at 1
#     and 8 connections;
#   - POST /api/v1/orders: one fixed body, 3 lines of products whose stock
#     is not tracked, for a customer the replica knows;
#   - POST /api/v1/orders/{id}/confirm: every request confirms another of
#     BENCH_DRAFTS drafts loaded as the DB admin (1..3 such lines each),
#     each wrk thread walking its own slice of their ids;
# after each, the statements a request runs as MariaDB times them (slow log
# at long_query_time 0 during BENCH_SQL_SAMPLES requests one at a time) and
# for the two POSTs, InnoDB's row lock waits during the run; at the end, it
# checks that the per-day tables still add up to the orders.
#
#   BENCH_SECONDS=15         length of each run
#   BENCH_CONNECTIONS=64     wrk connections (keep-alive)
#   BENCH_THREADS=2          wrk threads
#   BENCH_RSS_REQUESTS=200000  requests of the RSS run (0: skip it)
#   BENCH_KEEP_CONN=off      on: NGINX fastcgi_keep_conn + upstream keepalive
#   BENCH_WORKERS=           pool size (CRM_WORKERS; default 2 x cores)
#   BENCH_MAX_REQUESTS=0     CRM_MAX_REQUESTS of the pool (0: never recycle)
#   BENCH_KEEP_STATE=1       reuse state/bench instead of starting afresh
#   BENCH_SUITES=            services to bench (default: those of CRM_SERVICES)
#   BENCH_ORDERS=100000      orders loaded for the sales summary
#   BENCH_DRAFTS=            drafts for the confirm run (4000 x BENCH_SECONDS);
#                            the run ends early when every thread used its slice
#   BENCH_SQL_SAMPLES=50     requests per sales route whose SQL is timed (0: skip)
#   BENCH_SALES_PRODUCTS=12  untracked products the orders made here spread over
#   BENCH_SEGMENT_CUSTOMERS=100000  customers loaded into marketing for the
#                            segment members runs
#
# Marketing (when the stack has it): the events of the customers create run
# and of the confirm run (order.confirmed) are timed to marketing's inbox as
# to sales' (rate and lag p50/p99/max); then BENCH_SEGMENT_CUSTOMERS
# customers with metrics are loaded into crm_marketing as the DB admin, and
# GET /api/v1/segments/{id}/members walks every page (following
# next_cursor) of a broad and of a selective segment, at 1 and 8
# connections.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
STACK=$REPO/scripts/stack.sh
cd "$REPO"

SECONDS_EACH=${BENCH_SECONDS:-15}
CONNS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
RSS_REQUESTS=${BENCH_RSS_REQUESTS:-200000}
ORDERS=${BENCH_ORDERS:-100000}
DRAFTS=${BENCH_DRAFTS:-$((4000 * SECONDS_EACH))}
SQL_SAMPLES=${BENCH_SQL_SAMPLES:-50}
SALES_PRODUCTS=${BENCH_SALES_PRODUCTS:-12}
SEGMENT_CUSTOMERS=${BENCH_SEGMENT_CUSTOMERS:-100000}
for v in SECONDS_EACH CONNS THREADS RSS_REQUESTS ORDERS DRAFTS SQL_SAMPLES SALES_PRODUCTS \
    SEGMENT_CUSTOMERS; do
    [[ ${!v} =~ ^[0-9]+$ ]] || {
        echo "bench: ${v} must be a number" >&2
        exit 2
    }
done
((DRAFTS >= THREADS)) || {
    echo "bench: BENCH_DRAFTS must be at least BENCH_THREADS" >&2
    exit 2
}
((SALES_PRODUCTS >= 3)) || {
    echo "bench: BENCH_SALES_PRODUCTS must be at least 3 (an order has 3 lines)" >&2
    exit 2
}

export CRM_STATE=${BENCH_STATE:-$REPO/state/bench}
export CRM_HTTPS_PORT=${BENCH_HTTPS_PORT:-28443}
export CRM_HTTP_PORT=${BENCH_HTTP_PORT:-28080}
export CRM_INTERNAL_PORT=${BENCH_INTERNAL_PORT:-28081}
export CRM_MARIADB_PORT=${BENCH_MARIADB_PORT:-28307}
export CRM_ADMIN_PORT_BASE=${BENCH_ADMIN_PORT_BASE:-29100}
export CRM_DEMO=1
# wrk sends from one address; the per-address write limit would measure
# NGINX's limit_req, not the services.
export CRM_WRITE_RATE=100000r/s
# One login serves the whole run.
export CRM_TOKEN_TTL=${CRM_TOKEN_TTL:-14400}
export CRM_NGINX_KEEP_CONN=${BENCH_KEEP_CONN:-off}
if [[ -n ${BENCH_WORKERS:-} ]]; then
    export CRM_WORKERS=$BENCH_WORKERS
fi
# No recycling, so the memory run watches the same workers from start to end.
export CRM_MAX_REQUESTS=${BENCH_MAX_REQUESTS:-0}
if [[ -z ${CRM_SERVICES:-} ]]; then
    CRM_SERVICES="customers sales marketing identity"
fi
export CRM_SERVICES
SUITES=${BENCH_SUITES:-$CRM_SERVICES}

# has LIST WORD: is WORD one of the words of LIST?
has() { [[ " $1 " == *" $2 "* ]]; }

# Every request is authenticated, as the demo admin (login below): wrk and
# curl carry its token. The wrk scripts that build their own headers start
# from wrk.headers, so they keep it.
BENCH_TOKEN=
wrk() { command wrk -H "Authorization: Bearer $BENCH_TOKEN" "$@"; }
curl() { command curl -H "Authorization: Bearer $BENCH_TOKEN" "$@"; }

login() {
    local pw body
    pw=$(<"$CRM_STATE/secrets/demo-admin.password")
    body=$(printf '{"email":"admin@crm.example","password":"%s"}' "$pw")
    BENCH_TOKEN=$(command curl -sS --cacert "$CRM_CA_FILE" -H 'Content-Type: application/json' \
        --data-binary @- "$BASE/api/v1/auth/login" <<<"$body" |
        sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
    [[ -n $BENCH_TOKEN ]] || {
        echo "bench: cannot log in as admin@crm.example" >&2
        exit 1
    }
}

# The demo orders belong to demo customers: customers must be loaded first.
seen=
for svc in $CRM_SERVICES; do
    if [[ $svc == sales ]] && ! has "$seen" customers; then
        echo "bench: CRM_SERVICES must list customers before sales" >&2
        exit 2
    fi
    if [[ $svc == marketing ]] && ! has "$seen" sales; then
        echo "bench: CRM_SERVICES must list customers and sales before marketing" >&2
        exit 2
    fi
    seen+=" $svc"
done
for svc in $SUITES; do
    has "$CRM_SERVICES" "$svc" || {
        echo "bench: BENCH_SUITES names $svc, which CRM_SERVICES ($CRM_SERVICES) lacks" >&2
        exit 2
    }
done

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
bench() { bench_with "$THREADS" "$CONNS" "$@"; }

# bench_with THREADS CONNECTIONS FILE LABEL [wrk args...]: the same with its
# own thread and connection counts. With DONE_PREFIX set, the wrk script
# stops each thread early and leaves DONE_PREFIX<thread number> behind; wrk
# itself waits for -d, so it gets SIGINT (report and exit) once all are done.
DONE_PREFIX=
bench_with() {
    local threads=$1 conns=$2 out=$OUT/$3.txt name=$4 rps p50 p99 non2xx errors line pid files
    shift 4
    printf 'bench: %-34s ' "$name"
    [[ -z $DONE_PREFIX ]] || rm -f "$DONE_PREFIX"*
    wrk -t"$threads" -c"$conns" -d"${SECONDS_EACH}s" --timeout 10s --latency "$@" >"$out" 2>&1 &
    pid=$!
    while [[ -n $DONE_PREFIX ]] && kill -0 "$pid" 2>/dev/null; do
        files=("$DONE_PREFIX"*)
        if [[ -e ${files[0]} ]] && ((${#files[@]} >= threads)); then
            kill -INT "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    wait "$pid" || {
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
    ROWS+=("$(printf '%-40s %10s %10s %10s %9s %8s' "$name" "$rps" "$p50" "$p99" "$non2xx" "$errors")")
}

db() { mariadb --defaults-file="$CRM_STATE/mariadb/my.cnf" -N -B "$@"; }

# Milliseconds since the epoch.
now_ms() {
    local t
    t=$(date +%s%N)
    echo $((t / 1000000))
}

# --------------------------------------------------------------------------
# Customers

bench_customers() {
    local sup workers
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

bench: customers: ${#workers[@]} workers, ids $lo..$hi ($count rows)

EOF

    # Warm up (TLS sessions, worker connections, buffer pool); not reported.
    wrk -t"$THREADS" -c"$CONNS" -d2s "$BASE/api/v1/customers/ping" >/dev/null 2>&1 || true

    bench ping "GET /api/v1/customers/ping" "$BASE/api/v1/customers/ping"
    bench get_by_id "GET /api/v1/customers/{id}" -s tests/bench/get_random.lua \
        "$BASE/api/v1/customers" -- "$lo" "$hi"
    noauth_baseline
    bench list "GET /api/v1/customers?limit=50" "$BASE/api/v1/customers?limit=50"
    # The same 50 rows as the UI's page (crm_html): HTML instead of JSON.
    bench list_page "GET /customers (page, 50 rows)" "$BASE/customers"
    local first_event
    first_event=$(db crm_customers -e "SELECT COALESCE(MAX(id), 0) FROM outbox")
    bench create "POST /api/v1/customers" -s tests/bench/post_create.lua \
        "$BASE/api/v1/customers" -- "$TAG"
    event_lag customers sales "$first_event"
    if has "$CRM_SERVICES" marketing; then event_lag customers marketing "$first_event"; fi
}

# event_lag PRODUCER SUBSCRIBER AFTER [NOTE]: the events of PRODUCER's outbox past
# id AFTER as SUBSCRIBER's inbox received them: how many, how fast they
# arrived, and the lag from the change to the inbox (p50/p99/max). Read as
# the DB admin, who sees both schemas.
event_lag() {
    local from=$1 to=$2 after=$3 note=${4:-} i=0 pending
    # Let the relay finish what the run left (at most 60 s).
    while ((i++ < 600)); do
        pending=$(db "crm_$from" -e "SELECT COUNT(*) FROM outbox o WHERE o.id > $after AND
            (o.seq IS NULL OR o.seq > (SELECT COALESCE(MAX(last_id), 0) FROM outbox_cursors
                                       WHERE subscriber = '$to'))")
        [[ $pending == 0 ]] && break
        sleep 0.1
    done
    db -e "
        SELECT CONCAT('bench:   events $from -> $to$note: ', COUNT(*), ' delivered, ',
                      ROUND(COUNT(*) / GREATEST(TIMESTAMPDIFF(MICROSECOND, MIN(i.received_at),
                                                              MAX(i.received_at)) / 1e6, 0.001)),
                      ' events/s; lag p50 ', ROUND(MAX(p50) / 1000, 1), ' ms, p99 ',
                      ROUND(MAX(p99) / 1000, 1), ' ms, max ', ROUND(MAX(lag) / 1000, 1), ' ms')
        FROM (SELECT i.received_at, TIMESTAMPDIFF(MICROSECOND, o.occurred_at, i.received_at) AS lag,
                     PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY
                         TIMESTAMPDIFF(MICROSECOND, o.occurred_at, i.received_at)) OVER () AS p50,
                     PERCENTILE_CONT(0.99) WITHIN GROUP (ORDER BY
                         TIMESTAMPDIFF(MICROSECOND, o.occurred_at, i.received_at)) OVER () AS p99
              FROM crm_$from.outbox o JOIN crm_$to.inbox i ON i.event_id = o.event_id
              WHERE o.id > $after) i" | tee -a "$OUT/events.txt" ||
        echo "bench:   (event lag not measured)"
}

# The same GET by id without access checks: the customers pool runs
# build/.../bench/crm-customers (every route public) for one run, then the
# real one again. The ratio of the two is the price of authentication.
noauth_baseline() {
    local open=$CRM_BIN/bench/crm-customers
    [[ $open == /* ]] || open=$REPO/$open
    if [[ ! -x $open ]]; then
        echo "bench: $open is missing (make bench builds it): no baseline"
        return 0
    fi
    "$STACK" pool-stop customers >/dev/null
    CRM_BIN=$(dirname "$open") "$STACK" pool-start customers >/dev/null
    command wrk -t"$THREADS" -c"$CONNS" -d2s "$BASE/api/v1/customers/ping" >/dev/null 2>&1 || true
    wrk() { command wrk "$@"; }
    bench get_by_id_noauth "GET /api/v1/customers/{id} no auth" -s tests/bench/get_random.lua \
        "$BASE/api/v1/customers" -- "$lo" "$hi"
    wrk() { command wrk -H "Authorization: Bearer $BENCH_TOKEN" "$@"; }
    "$STACK" pool-stop customers >/dev/null
    "$STACK" pool-start customers >/dev/null
    local a b
    a=$(sed -n 's/^Requests\/sec: *//p' "$OUT/get_by_id.txt")
    b=$(sed -n 's/^Requests\/sec: *//p' "$OUT/get_by_id_noauth.txt")
    if [[ -n $a && -n $b ]]; then
        awk -v a="$a" -v b="$b" 'BEGIN { printf "bench: GET by id with a Bearer token: %.0f%% of the same without access checks\n", 100 * a / b }' |
            tee -a "$OUT/events.txt"
    fi
}

# --------------------------------------------------------------------------
# Sales

# The wrk scripts of the sales runs, written into $OUT.
write_sales_lua() {
    cat >"$OUT/post_order.lua" <<'LUA'
-- wrk script: POST /api/v1/orders with the same JSON body (args[1]) each time.
local req

function init(args)
    local headers = { ["Content-Type"] = "application/json" }
    for k, v in pairs(wrk.headers) do headers[k] = headers[k] or v end
    req = wrk.format("POST", "/api/v1/orders", headers, args[1])
end

function request()
    return req
end
LUA
    cat >"$OUT/confirm.lua" <<'LUA'
-- wrk script: POST /api/v1/orders/{id}/confirm once for every id of FIRST..LAST.
--
--   wrk -s confirm.lua URL -- FIRST LAST THREADS DONE_PREFIX
--
-- Each thread walks its own slice of the ids. Once all its confirmations
-- are answered it creates DONE_PREFIX<thread number> and stops; requests
-- it must still send before that (other connections) read its last order.

local next_thread = 0

function setup(thread)
    thread:set("thread_no", next_thread)
    next_thread = next_thread + 1
end

local next_id, last, remaining, done_file

function init(args)
    local first, final, threads = tonumber(args[1]), tonumber(args[2]), tonumber(args[3])
    local t = thread_no or 0
    local per = math.floor((final - first + 1) / threads)
    next_id = first + t * per
    last = (t == threads - 1) and final or next_id + per - 1
    remaining = last - next_id + 1
    done_file = args[4] .. t
end

function request()
    if next_id > last then
        return wrk.format("GET", "/api/v1/orders/" .. last)
    end
    local id = next_id
    next_id = next_id + 1
    -- An empty body: wrk then sends Content-Length: 0.
    return wrk.format("POST", "/api/v1/orders/" .. id .. "/confirm", wrk.headers, "")
end

function response()
    remaining = remaining - 1
    if remaining == 0 then
        local f = io.open(done_file, "w")
        if f then
            f:close()
        end
        wrk.thread:stop()
    end
end
LUA
}

# Statements of a request as MariaDB times them. Sessions copy
# slow_query_log and long_query_time when they connect, and a statement is
# logged only when both the global and its session's slow_query_log are on:
# the sales workers connect once while it is on, and afterwards it is on
# only while sql_profile runs (off, it costs nothing).
sql_log_arm() {
    local sup workers n=0 i
    db -e "SET GLOBAL long_query_time = 0, GLOBAL slow_query_log_file = '$OUT/slow-start.log',
        GLOBAL slow_query_log = 1"
    "$STACK" pool-stop sales >/dev/null
    "$STACK" pool-start sales >/dev/null
    sup=$("$STACK" pool-pid sales)
    mapfile -t workers < <(children_of "$sup")
    # Busy every worker until each has its connection.
    for ((i = 0; i < 10 && n < ${#workers[@]}; i++)); do
        wrk -t"$THREADS" -c$((2 * ${#workers[@]})) -d1s "$BASE/api/v1/sales/summary" \
            >/dev/null 2>&1 || true
        n=$(db -e "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'crm_sales'")
    done
    db -e "SET GLOBAL slow_query_log = 0, GLOBAL long_query_time = 10"
    rm -f "$OUT/slow-start.log"
    ((n >= ${#workers[@]})) ||
        echo "bench: only $n of ${#workers[@]} sales workers connected: SQL profiles may miss some"
}

# Wait (at most 15 s) until no sales worker has run a statement for half a
# second: a wrk run that ended leaves requests behind in NGINX and the pool.
sales_idle() {
    local quiet=0 i busy
    for ((i = 0; i < 150 && quiet < 5; i++)); do
        busy=$(db -e "SELECT COUNT(*) FROM information_schema.PROCESSLIST
            WHERE USER = 'crm_sales' AND COMMAND <> 'Sleep'")
        if [[ $busy == 0 ]]; then quiet=$((quiet + 1)); else quiet=0; fi
        sleep 0.1
    done
}

# InnoDB's row lock waits so far: count and milliseconds.
row_locks() {
    db -e "SELECT SUM(IF(VARIABLE_NAME = 'INNODB_ROW_LOCK_WAITS', VARIABLE_VALUE, 0)),
        SUM(IF(VARIABLE_NAME = 'INNODB_ROW_LOCK_TIME', VARIABLE_VALUE, 0))
        FROM information_schema.GLOBAL_STATUS"
}

# locked_bench FILE LABEL [wrk args...]: bench, then say how often and how
# long its transactions waited for row locks.
locked_bench() {
    local w0 t0 w1 t1
    read -r w0 t0 <<<"$(row_locks)"
    bench "$@"
    read -r w1 t1 <<<"$(row_locks)"
    echo "bench:   InnoDB row lock waits: $((w1 - w0)), $((t1 - t0)) ms waited in all"
}

# sql_profile NAME LABEL FUNCTION: call FUNCTION i for i in 0..SQL_SAMPLES-1
# (one request each, one after the other) with the slow log on, and add to
# $OUT/sql.txt what the sales workers ran: statements per request, their
# mean and highest time and rows examined as MariaDB counts them.
sql_profile() {
    local name=$1 label=$2 fn=$3 log=$OUT/slow-$1.log i codes=()
    ((SQL_SAMPLES > 0)) || return 0
    rm -f "$log"
    sales_idle
    db -e "SET GLOBAL slow_query_log_file = '$log', GLOBAL slow_query_log = 1"
    for ((i = 0; i < SQL_SAMPLES; i++)); do
        codes+=("$("$fn" "$i" || true)")
    done
    db -e "SET GLOBAL slow_query_log = 0"
    {
        echo
        echo "SQL of $label: $SQL_SAMPLES requests one at a time, statuses $(printf '%s\n' "${codes[@]}" |
            sort | uniq -c | awk '{printf "%s%s x %s", (NR > 1 ? ", " : ""), $1, $2}')"
        awk -v n="$SQL_SAMPLES" -v want=crm_sales '
            function flush(    k) {
                if (stmt != "" && user == want) {
                    k = stmt
                    gsub(/'\''[^'\'']*'\''/, "?", k)
                    gsub(/[0-9]+/, "N", k)
                    gsub(/[ \t]+/, " ", k)
                    sub(/^ /, "", k)
                    k = substr(k, 1, 96)
                    if (!(k in calls))
                        keys[++nk] = k
                    calls[k]++
                    secs[k] += qt
                    if (qt > top[k])
                        top[k] = qt
                    rows[k] += rx
                    total += qt
                }
                stmt = ""
            }
            /^# User@Host:/ { flush(); user = $3; sub(/\[.*/, "", user); next }
            /^# Query_time:/ { qt = $3; rx = $9; next }
            /^#/ || /^SET timestamp=/ || /^use / { next }
            { stmt = stmt " " $0 }
            END {
                flush()
                printf "  %9s %9s %9s %10s  %s\n", "calls/req", "mean ms", "max ms", "rows exam.", "statement"
                for (i = 1; i <= nk; i++) {
                    k = keys[i]
                    printf "  %9.2f %9.3f %9.3f %10.0f  %s\n", calls[k] / n, 1000 * secs[k] / calls[k],
                        1000 * top[k], rows[k] / calls[k], k
                }
                printf "  SQL time per request: %.3f ms\n", 1000 * total / n
            }' "$log"
    } | tee -a "$OUT/sql.txt"
}

curl_code() { curl -sS -o /dev/null -w '%{http_code}' --cacert "$CRM_CA_FILE" "$@"; }
req_summary() { curl_code "$BASE/api/v1/sales/summary?from=$FROM"; }
req_create() {
    curl_code -H 'Content-Type: application/json' --data-binary "$ORDER_BODY" "$BASE/api/v1/orders"
}
req_confirm() { curl_code -X POST "$BASE/api/v1/orders/$((SAMPLE_FIRST + $1))/confirm"; }

# load_drafts COUNT CUSTOMER FIRST_PRODUCT PRODUCTS: COUNT draft orders for
# the replica's customers from CUSTOMER on, in turn (the replica holds the
# demo's consecutive ids), with ids from DRAFT_FIRST on, loaded as the DB admin, each with
# 1..3 lines of products picked at random (a hash of the id) among the
# PRODUCTS from id FIRST_PRODUCT on, with the totals and the per-day status
# counts the service would have written.
# MariaDB only (its seq_1_to_N tables).
load_drafts() {
    local count=$1 cust=$2 p0=$3 np=$4 first last ncust
    first=$(db crm_sales -e "SELECT COALESCE(MAX(id), 0) + 1 FROM orders")
    ncust=$(db crm_sales -e "SELECT COUNT(*) FROM customers WHERE id >= $cust AND deleted = 0")
    last=$((first + count - 1))
    DRAFT_FIRST=$first
    db crm_sales <<SQL
SET time_zone = '+00:00';
START TRANSACTION;
INSERT INTO orders (id, customer_id, currency, status, note)
    SELECT seq, $cust + seq % $ncust, 'EUR', 'draft', 'bench draft'
    FROM seq_${first}_to_${last};
INSERT INTO order_lines (order_id, product_id, sku, name, quantity, unit_price_cents,
        line_total_cents)
    SELECT o.seq, p.id, p.sku, p.name, k.seq, p.price_cents, k.seq * p.price_cents
    FROM seq_${first}_to_${last} o
    JOIN seq_1_to_3 k ON k.seq <= 1 + o.seq % 3
    JOIN products p ON p.id = $p0 + CRC32(3 * o.seq + k.seq) % $np
    ORDER BY o.seq, k.seq;
UPDATE orders o JOIN (SELECT order_id, SUM(line_total_cents) AS total, COUNT(*) AS n
        FROM order_lines WHERE order_id BETWEEN $first AND $last GROUP BY order_id) l
    ON l.order_id = o.id
    SET o.total_cents = l.total, o.line_count = l.n;
INSERT INTO sales_daily_status (day, status, slot, orders)
    SELECT DATE(created_at), 'draft', id % 8, COUNT(*) FROM orders
    WHERE id BETWEEN $first AND $last GROUP BY DATE(created_at), id % 8
    ON DUPLICATE KEY UPDATE orders = sales_daily_status.orders + VALUES(orders);
COMMIT;
SQL
}

# Do the per-day tables still add up to the orders? Prints the rows that
# differ per table (0 0 0 when all is well).
daily_diff() {
    db crm_sales <<'SQL'
SELECT
 (SELECT COUNT(*) FROM (SELECT 1 FROM (
    SELECT day, currency, slot, orders, revenue_cents FROM sales_daily
    UNION ALL
    SELECT DATE(confirmed_at), currency, id % 8, -COUNT(*), -SUM(total_cents) FROM orders
    WHERE status IN ('confirmed', 'fulfilled') GROUP BY DATE(confirmed_at), currency, id % 8) t
  GROUP BY day, currency, slot HAVING SUM(orders) <> 0 OR SUM(revenue_cents) <> 0) d),
 (SELECT COUNT(*) FROM (SELECT 1 FROM (
    SELECT day, product_id, currency, units, revenue_cents FROM sales_daily_products
    UNION ALL
    SELECT DATE(o.confirmed_at), l.product_id, o.currency, -SUM(l.quantity),
        -SUM(l.line_total_cents)
    FROM orders o JOIN order_lines l ON l.order_id = o.id
    WHERE o.status IN ('confirmed', 'fulfilled')
    GROUP BY DATE(o.confirmed_at), l.product_id, o.currency) t
  GROUP BY day, product_id, currency HAVING SUM(units) <> 0 OR SUM(revenue_cents) <> 0) d),
 (SELECT COUNT(*) FROM (SELECT 1 FROM (
    SELECT day, status, slot, orders FROM sales_daily_status
    UNION ALL
    SELECT DATE(created_at), status, id % 8, -COUNT(*) FROM orders
    GROUP BY DATE(created_at), status, id % 8) t
  GROUP BY day, status, slot HAVING SUM(orders) <> 0) d)
SQL
}

# catch_up CUSTOMER FIRST_PRODUCT PRODUCTS: how fast marketing takes events
# when nothing else competes for the machine. Marketing is stopped, a confirm
# run (its own drafts) piles order.confirmed events up in sales' outbox,
# marketing starts again, and the rate is the events over the time between
# the first and the last one its inbox received. (The lag printed is the
# outage's, not a measure of anything.)
catch_up() {
    local first last first_event drafts=$((400 * SECONDS_EACH))
    load_drafts "$drafts" "$1" "$2" "$3"
    first=$DRAFT_FIRST
    last=$((first + drafts - 1))
    first_event=$(db crm_sales -e "SELECT COALESCE(MAX(id), 0) FROM outbox")
    "$STACK" pool-stop marketing >/dev/null
    DONE_PREFIX=$OUT/confirm-down-done-
    bench confirm_mk_down "POST /orders/{id}/confirm (marketing down)" -s "$OUT/confirm.lua" \
        "$BASE/api/v1/orders" -- "$first" "$last" "$THREADS" "$DONE_PREFIX"
    DONE_PREFIX=
    "$STACK" pool-start marketing >/dev/null
    event_lag sales marketing "$first_event" " (catch-up after an outage)"
}

bench_sales() {
    local n t0 sup workers p0 np=$SALES_PRODUCTS i sql cust first last confirmed diff
    write_sales_lua

    # The orders of the summary: sales.awk's instead of the demo's few.
    n=$(db crm_sales -e "SELECT COUNT(*) FROM orders")
    if ((n < ORDERS)); then
        echo "bench: loading $ORDERS orders into crm_sales (scripts/demo/sales.awk)"
        t0=$(now_ms)
        db crm_sales <<'SQL'
SET foreign_key_checks = 0;
TRUNCATE TABLE order_lines;
TRUNCATE TABLE orders;
TRUNCATE TABLE products;
TRUNCATE TABLE customers;
TRUNCATE TABLE sales_daily;
TRUNCATE TABLE sales_daily_products;
TRUNCATE TABLE sales_daily_status;
TRUNCATE TABLE idempotency_keys;
SET foreign_key_checks = 1;
SQL
        awk -v n="$ORDERS" -f scripts/demo/sales.awk | db crm_sales
        echo "bench: loaded in $(($(now_ms) - t0)) ms"
    fi

    # Products of their own whose stock is not tracked (never short), and a
    # customer the replica knows, for the orders made here.
    p0=$(db crm_sales -e "SELECT COALESCE(MAX(id), 0) + 1 FROM products")
    sql="INSERT INTO products (id, sku, name, price_cents, currency, stock) VALUES "
    for ((i = 0; i < np; i++)); do
        ((i == 0)) || sql+=", "
        sql+="($((p0 + i)), 'BENCH-$TAG-$i', 'Bench product $i', $((990 + 100 * i)), 'EUR', NULL)"
    done
    db crm_sales <<<"$sql;"
    cust=$(db crm_sales -e "SELECT MIN(id) FROM customers WHERE deleted = 0")
    [[ $cust =~ ^[0-9]+$ ]] || {
        echo "bench: the sales replica knows no customer (no customers demo data?)" >&2
        exit 1
    }
    ORDER_BODY="{\"customer_id\":$cust,\"lines\":[{\"product_id\":$p0,\"quantity\":1},"
    ORDER_BODY+="{\"product_id\":$((p0 + 1)),\"quantity\":2},{\"product_id\":$((p0 + 2)),\"quantity\":3}]}"
    FROM=$(date -u -d '200 days ago' +%F)

    ((SQL_SAMPLES == 0)) || sql_log_arm
    sup=$("$STACK" pool-pid sales)
    mapfile -t workers < <(children_of "$sup")
    cat <<EOF

bench: sales: ${#workers[@]} workers, $(db crm_sales -e "SELECT COUNT(*) FROM orders") orders, \
summary from $FROM, orders for customer $cust

EOF

    wrk -t1 -c1 -d2s "$BASE/api/v1/sales/summary?from=$FROM" >/dev/null 2>&1 || true
    bench_with 1 1 summary_c1 "GET /api/v1/sales/summary (1 conn)" \
        "$BASE/api/v1/sales/summary?from=$FROM"
    bench_with $((THREADS < 8 ? THREADS : 8)) 8 summary_c8 "GET /api/v1/sales/summary (8 conns)" \
        "$BASE/api/v1/sales/summary?from=$FROM"
    sql_profile summary "GET /api/v1/sales/summary?from=$FROM" req_summary

    locked_bench create_order "POST /api/v1/orders (3 lines)" -s "$OUT/post_order.lua" \
        "$BASE/api/v1/orders" -- "$ORDER_BODY"
    sql_profile create_order "POST /api/v1/orders (3 lines)" req_create

    # Drafts to confirm, the last SQL_SAMPLES of them for the profile.
    t0=$(now_ms)
    load_drafts $((DRAFTS + SQL_SAMPLES)) "$cust" "$p0" "$np"
    first=$DRAFT_FIRST
    last=$((first + DRAFTS - 1))
    SAMPLE_FIRST=$((last + 1))
    echo "bench: $DRAFTS drafts (ids $first..$last) loaded in $(($(now_ms) - t0)) ms"
    local first_event
    first_event=$(db crm_sales -e "SELECT COALESCE(MAX(id), 0) FROM outbox")
    DONE_PREFIX=$OUT/confirm-done-
    locked_bench confirm "POST /api/v1/orders/{id}/confirm" -s "$OUT/confirm.lua" \
        "$BASE/api/v1/orders" -- "$first" "$last" "$THREADS" "$DONE_PREFIX"
    DONE_PREFIX=
    confirmed=$(db crm_sales -e "SELECT COUNT(*) FROM orders
        WHERE id BETWEEN $first AND $last AND status = 'confirmed'")
    echo "bench: $confirmed of the $DRAFTS drafts are confirmed now"
    if has "$CRM_SERVICES" marketing; then event_lag sales marketing "$first_event"; fi
    sql_profile confirm "POST /api/v1/orders/{id}/confirm" req_confirm
    if has "$CRM_SERVICES" marketing; then catch_up "$cust" "$p0" "$np"; fi

    read -r -a diff <<<"$(daily_diff)"
    echo "bench: rows of sales_daily, sales_daily_products, sales_daily_status that" \
        "disagree with the orders: ${diff[*]}"
}

# --------------------------------------------------------------------------
# Marketing

# SEGMENT_CUSTOMERS customers with metrics, ids from 10,000,001 on, spread
# by a hash of the id over statuses, order counts, revenue, last order
# times (the last 400 days) and the tag "vip" (one in ten); then waits for
# the RFM refresher's new cut-offs. MariaDB only (seq tables).
load_segment_customers() {
    local n=$1 base=10000000 before i
    before=$(db crm_marketing -e "SELECT COALESCE(MAX(computed_at), '') FROM rfm")
    db crm_marketing <<SQL
SET time_zone = '+00:00';
START TRANSACTION;
INSERT INTO customers (id, name, email, status, version, orders_count, revenue_cents,
        first_order_at, last_order_at, updated_at)
    SELECT $base + seq, CONCAT('Bench customer ', seq), CONCAT('bench', seq, '@example.com'),
        ELT(1 + CRC32(seq) % 4, 'lead', 'prospect', 'customer', 'churned'), 1,
        k, k * (1000 + CRC32(seq * 11) % 50000),
        IF(k = 0, NULL, UTC_TIMESTAMP(6) - INTERVAL 400 DAY),
        IF(k = 0, NULL, UTC_TIMESTAMP(6) - INTERVAL CRC32(seq * 13) % 400 DAY),
        UTC_TIMESTAMP(6)
    FROM (SELECT seq, IF(CRC32(seq) % 3 = 0, 0, 1 + CRC32(seq * 7) % 12) AS k
          FROM seq_1_to_$n) s;
INSERT INTO customer_tags (customer_id, tag)
    SELECT $base + seq, 'vip' FROM seq_1_to_$n WHERE CRC32(seq * 17) % 10 = 0;
COMMIT;
SQL
    for ((i = 0; i < 300; i++)); do
        [[ $(db crm_marketing -e "SELECT COALESCE(MAX(computed_at), '') FROM rfm") != "$before" ]] &&
            break
        sleep 0.1
    done
}

# segment NAME RULE: create a segment, print its id.
segment() {
    curl -sS --cacert "$CRM_CA_FILE" -H 'Content-Type: application/json' \
        -d "{\"name\":\"$1\",\"rule\":$2}" "$BASE/api/v1/segments" |
        sed -n 's/^{"id":\([0-9]*\),.*/\1/p'
}

# members_count ID: the member count of segment ID.
members_count() {
    curl -sS --cacert "$CRM_CA_FILE" "$BASE/api/v1/segments/$1/members?limit=1&count=true" |
        sed -n 's/.*"count":\([0-9]*\).*/\1/p'
}

bench_marketing() {
    local n broad selective m=/api/v1/segments t8=$((THREADS < 8 ? THREADS : 8))
    n=$(db crm_marketing -e "SELECT COUNT(*) FROM customers")
    if ((n < SEGMENT_CUSTOMERS)); then
        echo "bench: loading $SEGMENT_CUSTOMERS customers into crm_marketing"
        load_segment_customers "$SEGMENT_CUSTOMERS"
    fi
    broad=$(segment "Bench: ordered in the last year" \
        '{"all":[{"field":"days_since_last_order","op":"lte","value":365}]}')
    selective=$(segment "Bench: loyal VIP customers at risk" \
        '{"all":[{"field":"tag","op":"eq","value":"vip"},{"field":"f_score","op":"gte","value":4},{"field":"r_score","op":"lte","value":2},{"field":"status","op":"in","value":["customer","churned"]}]}')
    [[ $broad =~ ^[0-9]+$ && $selective =~ ^[0-9]+$ ]] || {
        echo "bench: could not create the segments" >&2
        exit 1
    }
    cat <<EOF

bench: marketing: $(db crm_marketing -e "SELECT COUNT(*) FROM customers") customers; \
segment $broad has $(members_count "$broad") members, segment $selective $(members_count "$selective"); \
pages of 50, every page in turn

EOF
    bench_with 1 1 members_broad_c1 "GET $m/{id}/members broad (1 conn)" \
        -s tests/bench/walk_pages.lua "$BASE" -- "$m/$broad/members?limit=50"
    bench_with "$t8" 8 members_broad_c8 "GET $m/{id}/members broad (8)" \
        -s tests/bench/walk_pages.lua "$BASE" -- "$m/$broad/members?limit=50"
    bench_with 1 1 members_sel_c1 "GET $m/{id}/members selective (1)" \
        -s tests/bench/walk_pages.lua "$BASE" -- "$m/$selective/members?limit=50"
    bench_with "$t8" 8 members_sel_c8 "GET $m/{id}/members selective (8)" \
        -s tests/bench/walk_pages.lua "$BASE" -- "$m/$selective/members?limit=50"
}

# --------------------------------------------------------------------------

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
rm -f "$OUT/sql.txt" "$OUT/events.txt"

BASE=$CRM_BASE_URL
TAG=$(date +%s)
login

cat <<EOF

bench: $(nproc) cores, services: $CRM_SERVICES, fastcgi_keep_conn $CRM_NGINX_KEEP_CONN,
bench: wrk $THREADS threads x $CONNS connections, ${SECONDS_EACH}s per route, $BASE
EOF

if has "$SUITES" customers; then bench_customers; fi
if has "$SUITES" sales; then bench_sales; fi
if has "$SUITES" marketing; then bench_marketing; fi

{
    echo
    printf '%-40s %10s %10s %10s %9s %8s\n' route req/s p50 p99 non-2xx errors
    printf '%s\n' "${ROWS[@]}"
    if [[ -s $OUT/sql.txt ]]; then cat "$OUT/sql.txt"; fi
    if [[ -s $OUT/events.txt ]]; then cat "$OUT/events.txt"; fi
} | tee "$OUT/results.txt"

if has "$SUITES" customers && ((RSS_REQUESTS > 0)); then
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
    # wrk itself, not the wrk() function: $! must be wrk's pid for the
    # SIGINT below (a function runs in a subshell, which ignores SIGINT
    # when started in the background, and wrk ran on for its hour).
    command wrk -H "Authorization: Bearer $BENCH_TOKEN" \
        -t"$THREADS" -c"$CONNS" -d3600s --timeout 10s -s tests/bench/get_random.lua \
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
