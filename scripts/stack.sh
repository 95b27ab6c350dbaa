#!/usr/bin/env bash
# The local stack: a project-local MariaDB, one worker pool per service and
# NGINX, all living under one state folder ($CRM_STATE, default state/run).
#
#   stack.sh up | down (stop) | run | status | env
#   stack.sh db-start | db-stop | db-restart
#   stack.sh pool-start SVC | pool-stop SVC | pool-pid SVC
#
# Every process is started by this script, records its pid in the state
# folder and is stopped by that pid only. Nothing is installed or started
# system-wide. See README.md for the whole story; `stack.sh help` for a
# summary.
set -euo pipefail

# mariadbd and nginx live in /usr/sbin, which a normal user's PATH lacks.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin:/sbin ;; esac
export PATH

SELF=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/$(basename "${BASH_SOURCE[0]}")
REPO=$(cd "$(dirname "$SELF")/.." && pwd -P)

say() { printf 'stack: %s\n' "$*"; }
warn() { printf 'stack: %s\n' "$*" >&2; }
die() {
    warn "$*"
    exit 1
}

usage() {
    cat <<'EOF'
usage: scripts/stack.sh COMMAND

  up                 start MariaDB, migrate, the pools and NGINX (idempotent)
  down | stop        stop everything this state folder started
  run                up with demo data, print the URLs, wait; Ctrl-C stops
  status             what runs (exit 0 when everything does, 3 otherwise)
  env                print the stack.env lines (shell-quoted)
  db-start | db-stop | db-restart
  pool-start SVC | pool-stop SVC | pool-pid SVC
  create-admin EMAIL [NAME]  an admin login (password: secrets/demo-<EMAIL before @>.password)
  create-user ROLE EMAIL [NAME]  a login of another role (sales, marketing, viewer), the same way

environment (defaults):
  CRM_STATE=<repo>/state/run  CRM_BIN=build/release (build/asan if SANITIZE=1)
  CRM_SERVICES="customers sales marketing identity"
  CRM_HTTPS_PORT=8443 CRM_HTTP_PORT=8080 CRM_INTERNAL_PORT=8081
  CRM_MARIADB_PORT=3307 CRM_ADMIN_PORT_BASE=9100 (service i: base+i)
  CRM_DEMO=0 (1: load demo data into empty tables)  CRM_WORKERS (pool size)
  CRM_DB_MAX_CONNECTIONS=100 (connections each service's DB account may hold)
  CRM_NGINX_KEEP_CONN=off (on: fastcgi_keep_conn + upstream keepalive)
  CRM_NGINX_KEEPALIVE (idle kept connections per NGINX worker when on)
  CRM_LOGIN_RATE=30r/m CRM_WRITE_RATE=100r/s (NGINX limit_req per address)
EOF
}

# --------------------------------------------------------------------------
# Configuration

CMD=${1:-help}
if (($#)); then shift; fi

STATE=${CRM_STATE:-$REPO/state/run}
case $STATE in /*) ;; *) STATE=$PWD/$STATE ;; esac
STATE=${STATE%/}

# Settings of the last `up` of this state folder: the commands that act on a
# running stack (down, pool-start, status ...) reuse them unless the
# environment says otherwise, so `CRM_STATE=state/test stack.sh pool-start
# customers` restarts the pool on the port it had.
CONF_VARS=(CRM_BIN CRM_SERVICES CRM_HTTPS_PORT CRM_HTTP_PORT CRM_INTERNAL_PORT
    CRM_MARIADB_PORT CRM_ADMIN_PORT_BASE CRM_WORKERS CRM_NGINX_KEEP_CONN
    CRM_NGINX_KEEPALIVE CRM_LOGIN_RATE CRM_WRITE_RATE)
if [[ $CMD != up && $CMD != run && -f $STATE/stack.conf ]]; then
    while IFS= read -r line; do
        name=${line%%=*}
        if [[ " ${CONF_VARS[*]} " == *" $name "* && -z ${!name+x} ]]; then
            eval "export $line"
        fi
    done <"$STATE/stack.conf"
fi

read -r -a SERVICES <<<"${CRM_SERVICES:-customers sales marketing identity}"
# `make ... SANITIZE=1` puts SANITIZE in our environment: its build is build/asan.
if [[ ${SANITIZE:-} == 1 ]]; then BIN=${CRM_BIN:-build/asan}; else BIN=${CRM_BIN:-build/release}; fi
case $BIN in /*) ;; *) BIN=$REPO/$BIN ;; esac
HTTPS_PORT=${CRM_HTTPS_PORT:-8443}
HTTP_PORT=${CRM_HTTP_PORT:-8080}
INTERNAL_PORT=${CRM_INTERNAL_PORT:-8081}
DB_PORT=${CRM_MARIADB_PORT:-3307}
ADMIN_BASE=${CRM_ADMIN_PORT_BASE:-9100}
DEMO=${CRM_DEMO:-0}
KEEP_CONN=${CRM_NGINX_KEEP_CONN:-off}
READY_TIMEOUT=${CRM_READY_TIMEOUT:-60}
DB_MAX_CONNECTIONS=${CRM_DB_MAX_CONNECTIONS:-100}
LOGIN_RATE=${CRM_LOGIN_RATE:-30r/m}
WRITE_RATE=${CRM_WRITE_RATE:-100r/s}

for v in HTTPS_PORT HTTP_PORT INTERNAL_PORT DB_PORT ADMIN_BASE READY_TIMEOUT DB_MAX_CONNECTIONS; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "bad ${v}: '${!v}' is not a number"
done
[[ $KEEP_CONN == on || $KEEP_CONN == off ]] || die "CRM_NGINX_KEEP_CONN must be on or off"
for v in LOGIN_RATE WRITE_RATE; do
    [[ ${!v} =~ ^[1-9][0-9]*r/[sm]$ ]] || die "bad CRM_${v}: '${!v}' (e.g. 30r/m or 100r/s)"
done
for svc in "${SERVICES[@]}"; do
    [[ $svc =~ ^[a-z][a-z0-9]*$ ]] || die "bad service name '$svc' in CRM_SERVICES"
done
# Paths end up quoted in nginx.conf and my.cnf.
[[ $STATE != *[\"\$\\]* ]] || die "CRM_STATE must not contain \", \$ or \\"

DB_DIR=$STATE/mariadb
DATA_DIR=$DB_DIR/data
MYCNF=$DB_DIR/my.cnf
TLS_DIR=$STATE/tls
SECRETS=$STATE/secrets
NGX=$STATE/nginx
LOGS=$STATE/logs
PIDS=$STATE/pids

# Unix socket paths are limited to 107 bytes. When the state folder is too
# deep for that, the sockets go to a short private folder named after it.
RUN_DIR=$STATE/run
longest=mariadb
for svc in "${SERVICES[@]}"; do ((${#svc} > ${#longest})) && longest=$svc; done
if ((${#RUN_DIR} + ${#longest} + 7 > 100)); then
    sum=$(printf '%s' "$STATE" | cksum)
    RUN_DIR=${TMPDIR:-/tmp}/crm-run-$(id -u)-${sum%% *}
fi
DB_SOCK=$RUN_DIR/mariadb.sock

ME=$(id -un)
IS_ROOT=0
[[ $(id -u) == 0 ]] && IS_ROOT=1

# Demo data per service: the table that must be empty, and the row count.
declare -A DEMO_TABLE=([customers]=customers [sales]=orders [marketing]=campaigns [identity]=users)
declare -A DEMO_ROWS=([customers]=1200 [sales]=300 [marketing]=12)

svc_index() {
    local i
    for i in "${!SERVICES[@]}"; do
        [[ ${SERVICES[$i]} == "$1" ]] && { echo "$i"; return 0; }
    done
    return 1
}
admin_port() { echo $((ADMIN_BASE + $(svc_index "$1"))); }
check_svc() {
    [[ -n ${1:-} ]] || die "$CMD: which service? (one of: ${SERVICES[*]})"
    svc_index "$1" >/dev/null || die "unknown service '$1' (CRM_SERVICES: ${SERVICES[*]})"
}

# --------------------------------------------------------------------------
# Processes, by pid file only

# Print the pid in file $1 when that process is alive and its command line
# or executable mentions $2 (guards against a recycled pid). Else fail.
live_pid() {
    local file=$1 needle=$2 pid cmd exe
    [[ -f $file ]] || return 1
    read -r pid <"$file" 2>/dev/null || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || cmd=
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || exe=
    [[ $cmd == *"$needle"* || $exe == *"$needle"* ]] || return 1
    echo "$pid"
}

# Wait up to $2 seconds for pid $1 to exit.
wait_exit() {
    local pid=$1 i
    for ((i = 0; i < $2 * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    ! kill -0 "$pid" 2>/dev/null
}

# Stop the process of pid file $1 (needle $2) with signal $3, give it $4
# seconds, then SIGKILL. $5=group: the pid leads a process group (started
# with setsid) and any of its children left over are killed with it.
stop_pidfile() {
    local file=$1 needle=$2 sig=$3 secs=$4 group=${5:-} pid
    if ! pid=$(live_pid "$file" "$needle"); then
        rm -f "$file"
        return 0
    fi
    kill "-$sig" "$pid" 2>/dev/null || true
    if ! wait_exit "$pid" "$secs"; then
        warn "pid $pid ($needle) still there after ${secs}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_exit "$pid" 5 || true
    fi
    if [[ $group == group ]] && kill -0 -- "-$pid" 2>/dev/null; then
        sleep 0.5
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$file"
}

# Children of pid $1 (the workers of a pool supervisor).
children_of() {
    local f stat rest ppid
    for f in /proc/[0-9]*/stat; do
        read -r stat 2>/dev/null <"$f" || continue
        rest=${stat##*) } # after "pid (comm) ": state ppid ...
        read -r _ ppid _ <<<"$rest"
        [[ $ppid == "$1" ]] && { f=${f#/proc/}; echo "${f%/stat}"; }
    done
    return 0
}

log_tail() {
    local file=$1 n=${2:-30}
    [[ -f $file ]] || return 0
    warn "---- last lines of $file ----"
    tail -n "$n" "$file" >&2 || true
    warn "----"
}

make_dirs() {
    umask 022
    mkdir -p "$STATE" "$DB_DIR" "$TLS_DIR" "$NGX/logs" "$LOGS" "$PIDS" \
        "$NGX/temp/client_body" "$NGX/temp/fastcgi" "$NGX/temp/proxy" \
        "$NGX/temp/uwsgi" "$NGX/temp/scgi"
    mkdir -p "$SECRETS"
    chmod 0700 "$SECRETS"
    if [[ $RUN_DIR == "$STATE/run" ]]; then
        mkdir -p "$RUN_DIR"
    else
        mkdir -p "$RUN_DIR"
        chmod 0700 "$RUN_DIR"
        [[ -O $RUN_DIR ]] || die "$RUN_DIR belongs to someone else"
    fi
}

# --------------------------------------------------------------------------
# Secrets and TLS

# Path of secret $1, created (random, 0600) on first use. Never printed.
secret_file() {
    local f=$SECRETS/$1
    if [[ ! -s $f ]]; then
        (
            umask 077
            openssl rand -hex 24 >"$f.tmp"
            mv "$f.tmp" "$f"
        )
    fi
    echo "$f"
}

tls_ensure() {
    [[ -s $TLS_DIR/cert.pem && -s $TLS_DIR/key.pem ]] && return 0
    say "generating a self-signed certificate for localhost"
    (
        umask 077
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -days 825 -subj "/CN=localhost" \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
            -keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem" >"$LOGS/openssl.log" 2>&1
    ) || {
        log_tail "$LOGS/openssl.log"
        die "openssl could not make the certificate"
    }
    chmod 0644 "$TLS_DIR/cert.pem"
}

# The Ed25519 key pair of access tokens: identity signs with the private
# key, every service checks with the public one. Both 0600, made once.
jwt_keys_ensure() {
    local key=$SECRETS/jwt-signing.pem pub=$SECRETS/jwt-public.pem
    [[ -s $key && -s $pub ]] && return 0
    say "generating the Ed25519 key that signs access tokens"
    (
        umask 077
        openssl genpkey -algorithm ed25519 -out "$key.tmp" &&
            openssl pkey -in "$key.tmp" -pubout -out "$pub.tmp" &&
            mv "$key.tmp" "$key" && mv "$pub.tmp" "$pub"
    ) >"$LOGS/openssl.log" 2>&1 || {
        log_tail "$LOGS/openssl.log"
        die "openssl could not make the token signing key"
    }
}

# --------------------------------------------------------------------------
# MariaDB

write_mycnf() {
    local tmp=$MYCNF.tmp
    {
        echo "# Written by scripts/stack.sh on every start; edit the script instead."
        echo "[mysqld]"
        ((IS_ROOT)) && echo "user = root"
        echo "datadir = \"$DATA_DIR\""
        echo "socket = \"$DB_SOCK\""
        echo "pid-file = \"$PIDS/mariadb.pid\""
        echo "log-error = \"$LOGS/mariadb.log\""
        echo "port = $DB_PORT"
        echo "bind-address = 127.0.0.1"
        echo "skip-name-resolve"
        echo "character-set-server = utf8mb4"
        echo "collation-server = utf8mb4_unicode_ci"
        # MySQL 8's defaults, so SQL that MySQL would refuse fails here too.
        echo "sql_mode = ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"
        echo "innodb_buffer_pool_size = 128M"
        # Dev speed: flush the log once a second rather than per commit.
        echo "innodb_flush_log_at_trx_commit = 2"
        echo "max_connections = 500"
        echo "innodb_ft_min_token_size = 3"
        echo "ft_min_word_len = 3"
        echo
        echo "[client]"
        echo "socket = \"$DB_SOCK\""
        echo "user = $ME"
    } >"$tmp"
    mv "$tmp" "$MYCNF"
}

# The DB admin: unix-socket authentication as the current OS user.
db_admin() { mariadb --defaults-file="$MYCNF" "$@"; }

db_pid() { live_pid "$PIDS/mariadb.pid" "$MYCNF"; }

db_init() {
    local datadir=$DATA_DIR tmp=
    [[ -f $DB_DIR/initialised ]] && return 0
    say "initialising MariaDB in $DATA_DIR"
    rm -rf "$DATA_DIR"
    mkdir -p "$DATA_DIR"
    # mariadb-install-db breaks on paths with spaces: hand it a symlink.
    if [[ $DATA_DIR == *[[:space:]]* ]]; then
        tmp=$(mktemp -d)
        ln -s "$DATA_DIR" "$tmp/data"
        datadir=$tmp/data
    fi
    # --no-defaults: nothing from /etc/mysql; creates root@localhost and
    # $ME@localhost, both unix-socket only (no password exists).
    mariadb-install-db --no-defaults --datadir="$datadir" --user="$ME" \
        --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve --force \
        </dev/null >"$LOGS/mariadb-install.log" 2>&1 9>&- || true
    [[ -n $tmp ]] && rm -rf "$tmp"
    # Its exit status is not trustworthy: check the result.
    if [[ ! -f $DATA_DIR/mysql/db.frm && ! -f $DATA_DIR/mysql/global_priv.frm ]]; then
        log_tail "$LOGS/mariadb-install.log"
        die "mariadb-install-db failed (log: $LOGS/mariadb-install.log)"
    fi
    touch "$DB_DIR/initialised"
}

db_start() {
    make_dirs
    if db_pid >/dev/null; then
        return 0
    fi
    db_init
    write_mycnf
    rm -f "$DB_SOCK"
    setsid mariadbd --defaults-file="$MYCNF" </dev/null >>"$LOGS/mariadb.log" 2>&1 9>&- &
    local pid=$! i
    echo "$pid" >"$PIDS/mariadb.pid"
    for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log_tail "$LOGS/mariadb.log"
            die "MariaDB exited while starting (log: $LOGS/mariadb.log)"
        fi
        if mariadb-admin --defaults-file="$MYCNF" --connect-timeout=2 ping >/dev/null 2>&1; then
            say "MariaDB up on 127.0.0.1:$DB_PORT (pid $pid)"
            return 0
        fi
        sleep 0.1
    done
    log_tail "$LOGS/mariadb.log"
    die "MariaDB did not answer within ${READY_TIMEOUT}s"
}

db_stop() {
    if db_pid >/dev/null; then
        stop_pidfile "$PIDS/mariadb.pid" "$MYCNF" TERM 60
        say "MariaDB stopped"
    else
        rm -f "$PIDS/mariadb.pid"
    fi
}

# Create the schema and the two accounts of service $1 from
# sql/grants.sql. Passwords are substituted in this shell and the SQL
# goes to the client on stdin: no password on a command line or in a log.
db_grants() {
    local svc=$1 file=$REPO/sql/grants.sql sql pw mpw err
    [[ -f $file ]] || die "$file is missing"
    pw=$(<"$(secret_file "$svc.db")")
    mpw=$(<"$(secret_file "$svc.migrate")")
    sql=$(<"$file")
    sql=${sql//@DB@/"crm_$svc"}
    sql=${sql//@HOST@/localhost}
    sql=${sql//@MIGRATE_USER@/"crm_${svc}_migrate"}
    sql=${sql//@MIGRATE_PASSWORD@/"$mpw"}
    sql=${sql//@USER@/"crm_$svc"}
    sql=${sql//@PASSWORD@/"$pw"}
    sql=${sql//@MAX_CONNECTIONS@/"$DB_MAX_CONNECTIONS"}
    sql="CREATE DATABASE IF NOT EXISTS \`crm_$svc\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
$sql"
    if ! err=$(printf '%s\n' "$sql" | db_admin 2>&1 >/dev/null); then
        # The client may quote the statement: mask the secrets first.
        err=${err//"$pw"/***}
        err=${err//"$mpw"/***}
        warn "$err"
        die "grants of $svc failed ($file)"
    fi
}

# Environment shared by `crm-SVC migrate` and `crm-SVC serve`.
svc_env() {
    local svc=$1
    export CRM_DB_SOCKET=$DB_SOCK
    export CRM_DB_HOST=127.0.0.1
    export CRM_DB_PORT=$DB_PORT
    export CRM_DB_NAME=crm_$svc
    export CRM_DB_USER=crm_$svc
    CRM_DB_PASSWORD_FILE=$(secret_file "$svc.db")
    export CRM_DB_PASSWORD_FILE
    export CRM_DB_MIGRATE_USER=crm_${svc}_migrate
    CRM_DB_MIGRATE_PASSWORD_FILE=$(secret_file "$svc.migrate")
    export CRM_DB_MIGRATE_PASSWORD_FILE
    export CRM_SQL_DIR=$REPO/sql/$svc
    # Calls to other services go through NGINX's internal listener.
    export CRM_INTERNAL_URL=http://127.0.0.1:$INTERNAL_PORT
    # One key signs and checks the events every service sends and receives.
    CRM_EVENT_KEY_FILE=$(secret_file events.key)
    export CRM_EVENT_KEY_FILE
    # Access tokens: checked by every service, signed by identity only.
    export CRM_JWT_PUBLIC_KEYS_FILE=$SECRETS/jwt-public.pem
    if [[ $svc == identity ]]; then
        export CRM_JWT_SIGNING_KEY_FILE=$SECRETS/jwt-signing.pem
    else
        unset CRM_JWT_SIGNING_KEY_FILE
    fi
    # Never let a value from the caller's environment win over the files.
    unset CRM_DB_PASSWORD CRM_DB_MIGRATE_PASSWORD CRM_EVENT_KEY CRM_JWT_PUBLIC_KEYS \
        CRM_JWT_SIGNING_KEY
}

svc_bin() {
    local b=$BIN/crm-$1
    [[ -x $b ]] || die "$b not found: build it first (make build)"
    echo "$b"
}

db_migrate() {
    local svc=$1 bin
    bin=$(svc_bin "$svc")
    if ! (
        svc_env "$svc"
        CRM_ADMIN_PORT=0 "$bin" migrate </dev/null >>"$LOGS/$svc-migrate.log" 2>&1 9>&-
    ); then
        log_tail "$LOGS/$svc-migrate.log"
        die "crm-$svc migrate failed (log: $LOGS/$svc-migrate.log)"
    fi
}

demo_load() {
    local svc=$1 awk_file=$REPO/scripts/demo/$1.awk table rows n
    [[ $DEMO == 1 ]] || return 0
    if [[ ! -f $awk_file ]]; then
        say "demo data: scripts/demo/$svc.awk does not exist yet; skipped"
        return 0
    fi
    table=${DEMO_TABLE[$svc]:-$svc}
    n=${DEMO_ROWS[$svc]:-1000}
    rows=$(db_admin -N -B -e "SELECT COUNT(*) FROM (SELECT 1 FROM \`crm_$svc\`.\`$table\` LIMIT 1) t") ||
        die "demo data: cannot read crm_$svc.$table"
    if [[ $rows != 0 ]]; then
        return 0
    fi
    say "demo data: loading $n rows into crm_$svc.$table"
    awk -v n="$n" -f "$awk_file" | db_admin "crm_$svc" ||
        die "demo data: loading scripts/demo/$svc.awk failed"
}

# Demo logins, made through `crm-identity create-user` (argon2id hashes)
# into an empty users table, in this order: the demo customers and orders
# belong to the two sales users (ids 2 and 3). Each password is random,
# kept 0600 in the secrets folder and shown by `make run`.
DEMO_USERS=(
    "admin|admin@crm.example|Ada Admin"
    "sales|sam@crm.example|Sam Sales"
    "sales|sofia@crm.example|Sofia Sales"
    "marketing|mia@crm.example|Mia Marketing"
    "viewer|victor@crm.example|Victor Viewer"
)

# Create user $2 (role $1, name $3) through `crm-identity create-user`,
# with a random password kept 0600 in $SECRETS/<local part>.password.
# A user that exists already is left as it is (create-user exits 3).
make_user() {
    local role=$1 email=$2 name=$3 bin f rc=0
    bin=$(svc_bin identity)
    f=$SECRETS/demo-${email%%@*}.password
    if [[ ! -s $f ]]; then
        (
            umask 077
            openssl rand -base64 15 >"$f"
        )
    fi
    (
        svc_env identity
        CRM_ADMIN_PORT=0 CRM_NEW_PASSWORD_FILE=$f "$bin" create-user --email "$email" \
            --name "$name" --role "$role" </dev/null >>"$LOGS/identity-users.log" 2>&1 9>&-
    ) || rc=$?
    if ((rc != 0 && rc != 3)); then
        log_tail "$LOGS/identity-users.log"
        die "crm-identity create-user $email failed"
    fi
}

demo_users() {
    local rows spec role email name
    [[ $DEMO == 1 ]] || return 0
    rows=$(db_admin -N -B -e "SELECT COUNT(*) FROM crm_identity.users") ||
        die "demo data: cannot read crm_identity.users"
    [[ $rows == 0 ]] || return 0
    say "demo data: creating ${#DEMO_USERS[@]} users"
    for spec in "${DEMO_USERS[@]}"; do
        IFS='|' read -r role email name <<<"$spec"
        make_user "$role" "$email" "$name"
    done
}

# "  email  password  (role)" of each demo user whose password file exists.
demo_logins() {
    local spec role email name f
    for spec in "${DEMO_USERS[@]}"; do
        IFS='|' read -r role email name <<<"$spec"
        f=$SECRETS/demo-${email%%@*}.password
        [[ -s $f ]] && printf '                 %-22s %-22s (%s)\n' "$email" "$(<"$f")" "$role"
    done
    return 0
}

# --------------------------------------------------------------------------
# Worker pools

pool_pid() { live_pid "$PIDS/$1.pid" "crm-$1"; }

admin_ok() {
    curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$(admin_port "$1")/$2" 2>/dev/null
}

pool_start() {
    local svc=$1 bin port pid i what=readyz
    make_dirs
    if pid=$(pool_pid "$svc"); then
        return 0
    fi
    bin=$(svc_bin "$svc")
    port=$(admin_port "$svc")
    rm -f "$RUN_DIR/$svc.sock"
    (
        svc_env "$svc"
        CRM_LISTEN=unix:$RUN_DIR/$svc.sock CRM_ADMIN_ADDR=127.0.0.1 CRM_ADMIN_PORT=$port \
            exec setsid "$bin" serve </dev/null >>"$LOGS/$svc.log" 2>&1 9>&-
    ) &
    pid=$!
    echo "$pid" >"$PIDS/$svc.pid"
    # Without a database the pool cannot be ready: then alive is enough.
    db_pid >/dev/null || what=healthz
    for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PIDS/$svc.pid"
            log_tail "$LOGS/$svc.log"
            die "crm-$svc exited while starting (log: $LOGS/$svc.log)"
        fi
        if admin_ok "$svc" "$what"; then
            say "$svc pool up (pid $pid, admin http://127.0.0.1:$port)"
            return 0
        fi
        sleep 0.1
    done
    log_tail "$LOGS/$svc.log"
    warn "readyz says: $(curl -sS --max-time 2 "http://127.0.0.1:$port/readyz" 2>&1 || true)"
    die "crm-$svc not ready within ${READY_TIMEOUT}s"
}

pool_stop() {
    local svc=$1
    if pool_pid "$svc" >/dev/null; then
        # The pool drains in CRM_DRAIN_SECONDS (10 unless set); allow more.
        stop_pidfile "$PIDS/$svc.pid" "crm-$svc" TERM $((${CRM_DRAIN_SECONDS:-10} + 10)) group
        say "$svc pool stopped"
    else
        rm -f "$PIDS/$svc.pid"
    fi
    rm -f "$RUN_DIR/$svc.sock"
}

# --------------------------------------------------------------------------
# NGINX

nginx_pid() { live_pid "$NGX/nginx.pid" "$NGX/nginx.conf"; }

# Idle FastCGI connections each NGINX worker may keep when keep_conn is on.
# libfcgi pins a worker to each kept connection, so all NGINX workers
# together must keep fewer than the pool has workers.
keepalive_default() {
    local cores workers
    cores=$(nproc 2>/dev/null || echo 2)
    workers=${CRM_WORKERS:-$((2 * cores))}
    ((workers == 0)) && workers=$((2 * cores))
    echo $((workers / cores > 1 ? workers / cores - 1 : 1))
}

nginx_render() {
    local user_line keepalive_line svc
    local -a servers=()
    if ((IS_ROOT)); then
        user_line="user root;"
    else
        user_line="# (not root: the workers run as $ME)"
    fi
    if [[ $KEEP_CONN == on ]]; then
        keepalive_line="keepalive ${CRM_NGINX_KEEPALIVE:-$(keepalive_default)};
        keepalive_timeout 10s;"
    else
        keepalive_line="# no keepalive: fastcgi_keep_conn is off"
    fi
    # Every service NGINX knows gets its upstream, running here or not.
    for svc in customers sales marketing identity; do
        servers+=("SERVERS_${svc^^}=server \"unix:$RUN_DIR/$svc.sock\" max_fails=3 fail_timeout=10s;")
    done
    "$REPO/scripts/nginx-render.sh" "$REPO/nginx/nginx.conf.in" "$NGX/nginx.conf" \
        "USER_LINE=$user_line" "KEEPALIVE_LINE=$keepalive_line" "KEEP_CONN=$KEEP_CONN" \
        "NGINX_DIR=$NGX" "TLS_DIR=$TLS_DIR" "HTML_DIR=$REPO/build/html" \
        "ERROR_LOG=\"$NGX/logs/error.log\"" "ACCESS_LOG=\"$NGX/logs/access.log\"" \
        "LISTEN_ADDR=127.0.0.1" "INTERNAL_ADDR=127.0.0.1" "INTERNAL_ALLOW=allow 127.0.0.1;" \
        "HTTPS_PORT=$HTTPS_PORT" "HTTP_PORT=$HTTP_PORT" "INTERNAL_PORT=$INTERNAL_PORT" \
        "LOGIN_RATE=$LOGIN_RATE" "WRITE_RATE=$WRITE_RATE" "${servers[@]}" ||
        die "could not render nginx/nginx.conf.in"
}

nginx_args() {
    NGINX_ARGS=(-p "$NGX/" -c "$NGX/nginx.conf")
    # -e (1.19.5+) keeps NGINX from opening its compiled-in error log.
    if nginx -h 2>&1 | grep -q -- '-e filename'; then
        NGINX_ARGS+=(-e "$NGX/logs/error.log")
    fi
}

https_ok() {
    curl -fsS -o /dev/null --max-time 2 --cacert "$TLS_DIR/cert.pem" \
        "https://127.0.0.1:$HTTPS_PORT/" 2>/dev/null
}

nginx_start() {
    local pid i
    if pid=$(nginx_pid); then
        return 0
    fi
    tls_ensure
    nginx_render
    nginx_args
    rm -f "$NGX/nginx.pid"
    nginx "${NGINX_ARGS[@]}" -t -q </dev/null >"$NGX/logs/configtest.log" 2>&1 9>&- || {
        log_tail "$NGX/logs/configtest.log"
        die "nginx -t refused $NGX/nginx.conf"
    }
    # NGINX daemonizes itself (new session) and writes its pid file.
    nginx "${NGINX_ARGS[@]}" </dev/null >>"$NGX/logs/error.log" 2>&1 9>&- || {
        log_tail "$NGX/logs/error.log"
        die "nginx did not start"
    }
    for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
        if pid=$(nginx_pid) && https_ok; then
            say "nginx up: https://localhost:$HTTPS_PORT (pid $pid)"
            return 0
        fi
        sleep 0.1
    done
    log_tail "$NGX/logs/error.log"
    die "nginx did not answer on https://127.0.0.1:$HTTPS_PORT within ${READY_TIMEOUT}s"
}

nginx_stop() {
    if nginx_pid >/dev/null; then
        # QUIT: graceful, requests in flight finish.
        stop_pidfile "$NGX/nginx.pid" "$NGX/nginx.conf" QUIT 15
        say "nginx stopped"
    else
        rm -f "$NGX/nginx.pid"
    fi
}

# --------------------------------------------------------------------------
# Commands

env_lines() {
    local svc up
    printf 'CRM_STATE=%q\n' "$STATE"
    printf 'CRM_REPO=%q\n' "$REPO"
    printf 'CRM_BASE_URL=%q\n' "https://127.0.0.1:$HTTPS_PORT"
    printf 'CRM_HTTP_URL=%q\n' "http://127.0.0.1:$HTTP_PORT"
    printf 'CRM_INTERNAL_URL=%q\n' "http://127.0.0.1:$INTERNAL_PORT"
    printf 'CRM_CA_FILE=%q\n' "$TLS_DIR/cert.pem"
    printf 'CRM_DB_SOCKET=%q\n' "$DB_SOCK"
    printf 'CRM_DB_ADMIN_USER=%q\n' "$ME"
    for svc in "${SERVICES[@]}"; do
        up=${svc^^}
        printf 'CRM_ADMIN_URL_%s=%q\n' "$up" "http://127.0.0.1:$(admin_port "$svc")"
    done
    conf_lines
}

conf_lines() {
    printf 'CRM_BIN=%q\n' "$BIN"
    printf 'CRM_SERVICES=%q\n' "${SERVICES[*]}"
    printf 'CRM_HTTPS_PORT=%q\n' "$HTTPS_PORT"
    printf 'CRM_HTTP_PORT=%q\n' "$HTTP_PORT"
    printf 'CRM_INTERNAL_PORT=%q\n' "$INTERNAL_PORT"
    printf 'CRM_MARIADB_PORT=%q\n' "$DB_PORT"
    printf 'CRM_ADMIN_PORT_BASE=%q\n' "$ADMIN_BASE"
    printf 'CRM_NGINX_KEEP_CONN=%q\n' "$KEEP_CONN"
    printf 'CRM_LOGIN_RATE=%q\n' "$LOGIN_RATE"
    printf 'CRM_WRITE_RATE=%q\n' "$WRITE_RATE"
    [[ -n ${CRM_NGINX_KEEPALIVE:-} ]] && printf 'CRM_NGINX_KEEPALIVE=%q\n' "$CRM_NGINX_KEEPALIVE"
    [[ -n ${CRM_WORKERS:-} ]] && printf 'CRM_WORKERS=%q\n' "$CRM_WORKERS"
    return 0
}

write_file() {
    "$2" >"$1.tmp"
    mv "$1.tmp" "$1"
}

cmd_up() {
    local svc
    make_dirs
    for svc in "${SERVICES[@]}"; do svc_bin "$svc" >/dev/null; done
    write_file "$STATE/stack.conf" conf_lines
    jwt_keys_ensure
    db_start
    for svc in "${SERVICES[@]}"; do
        db_grants "$svc"
        db_migrate "$svc"
        if [[ $svc == identity ]]; then demo_users; else demo_load "$svc"; fi
    done
    for svc in "${SERVICES[@]}"; do pool_start "$svc"; done
    nginx_start
    write_file "$STATE/stack.env" env_lines
}

cmd_down() {
    local i
    [[ -d $STATE ]] || return 0
    nginx_stop
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do pool_stop "${SERVICES[$i]}"; done
    db_stop
    rm -f "$STATE/stack.env"
}

cmd_status() {
    local pid svc all=0 ready
    if pid=$(db_pid); then
        say "mariadb    running (pid $pid) 127.0.0.1:$DB_PORT, socket $DB_SOCK"
    else
        say "mariadb    stopped"
        all=3
    fi
    for svc in "${SERVICES[@]}"; do
        if pid=$(pool_pid "$svc"); then
            ready="not ready"
            admin_ok "$svc" readyz && ready=ready
            say "$(printf '%-10s' "$svc") running (pid $pid, workers: $(children_of "$pid" | tr '\n' ' ')), $ready, admin http://127.0.0.1:$(admin_port "$svc")"
        else
            say "$(printf '%-10s' "$svc") stopped"
            all=3
        fi
    done
    if pid=$(nginx_pid); then
        say "nginx      running (pid $pid) https://localhost:$HTTPS_PORT"
    else
        say "nginx      stopped"
        all=3
    fi
    return $all
}

# Take the state folder's lock (fd 9) and run "$@": two stack.sh on one
# folder never start or stop things at the same time. Every process
# started under it closes fd 9 (9>&-) so no daemon keeps the lock.
locked() {
    mkdir -p "$STATE"
    (
        flock -w 600 9 || die "timed out waiting for $STATE/.lock"
        "$@"
    ) 9>"$STATE/.lock"
}

print_banner() {
    local svc
    cat <<EOF

  CRM is running.

  UI and API     https://localhost:$HTTPS_PORT/
  Customers API  https://localhost:$HTTPS_PORT/api/v1/customers
  Sales API      https://localhost:$HTTPS_PORT/api/v1/products  /api/v1/orders  /api/v1/sales/summary
  Marketing API  https://localhost:$HTTPS_PORT/api/v1/campaigns  /api/v1/segments  /api/v1/analytics/rfm
  Identity API   https://localhost:$HTTPS_PORT/api/v1/auth/login  /api/v1/auth/me  /api/v1/users
  Certificate    $TLS_DIR/cert.pem (self-signed; your browser will warn once)
  Plain HTTP     http://localhost:$HTTP_PORT/ redirects to HTTPS

  Demo logins    (passwords are in $SECRETS/demo-*.password)
$(demo_logins)

  Try            curl --cacert '$TLS_DIR/cert.pem' -c '$STATE/cookies.txt' \\
                     -H 'Content-Type: application/json' \\
                     -d '{"email":"admin@crm.example","password":"<password above>"}' \\
                     https://localhost:$HTTPS_PORT/api/v1/auth/login
                 curl --cacert '$TLS_DIR/cert.pem' -b '$STATE/cookies.txt' \\
                     'https://localhost:$HTTPS_PORT/api/v1/customers?limit=3'

EOF
    for svc in "${SERVICES[@]}"; do
        printf '  Admin %-9s http://127.0.0.1:%s/healthz  /readyz  /metrics\n' "$svc" "$(admin_port "$svc")"
    done
    cat <<EOF
  Logs           $LOGS/  and  $NGX/logs/access.log
  Database       mariadb --defaults-file='$MYCNF' crm_customers   (or crm_sales, crm_marketing, crm_identity)

  Ctrl-C or \`make stop\` stops everything.

EOF
}

cmd_run() {
    local stopping=0
    on_signal() {
        trap - INT TERM
        stopping=1
        echo
        say "stopping"
        "$SELF" down || true
        exit 0
    }
    trap on_signal INT TERM
    if ! CRM_DEMO=1 "$SELF" up; then
        warn "start failed; stopping what did start (logs stay in $LOGS)"
        "$SELF" down || true
        exit 1
    fi
    print_banner
    # Wait until Ctrl-C, or until the stack goes away (`make stop`).
    while ((!stopping)); do
        sleep 1 &
        wait $! || true
        if ! nginx_pid >/dev/null || ! db_pid >/dev/null; then
            say "the stack went away; stopping what is left"
            "$SELF" down || true
            exit 0
        fi
    done
}

case $CMD in
up) locked cmd_up ;;
down | stop)
    if [[ -d $STATE ]]; then locked cmd_down; fi
    ;;
run) cmd_run ;;
status) cmd_status ;;
env) env_lines ;;
db-start) locked db_start ;;
db-stop) locked db_stop ;;
db-restart)
    locked db_stop
    locked db_start
    ;;
create-admin)
    [[ -n ${1:-} ]] || die "create-admin: which email?"
    make_dirs
    locked make_user admin "$1" "${2:-Admin}"
    ;;
create-user)
    case ${1:-} in admin | sales | marketing | viewer) ;; *) die "create-user: role admin, sales, marketing or viewer first" ;; esac
    [[ -n ${2:-} ]] || die "create-user: which email?"
    make_dirs
    locked make_user "$1" "$2" "${3:-User}"
    ;;
pool-start)
    check_svc "${1:-}"
    locked pool_start "$1"
    ;;
pool-stop)
    check_svc "${1:-}"
    locked pool_stop "$1"
    ;;
pool-pid)
    check_svc "${1:-}"
    pool_pid "$1"
    ;;
help | -h | --help) usage ;;
*)
    usage >&2
    exit 2
    ;;
esac
