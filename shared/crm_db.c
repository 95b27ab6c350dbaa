/*
 * crm_db.c - the MySQL/MariaDB client of libcrm: one connection, a cache of
 * prepared statements indexed by small caller-owned keys, typed binds,
 * client-buffered results, transactions and named locks.
 *
 * Why it is shaped this way:
 * - The client library never reconnects by itself (MYSQL_OPT_RECONNECT
 *   off): a silent reconnect would drop the server-side prepared statements
 *   and any open transaction behind our back. Instead the call that sees a
 *   lost connection returns CRM_GONE after closing every handle, and the
 *   next crm_db_stmt()/crm_db_begin() connects and prepares again.
 * - A crm_stmt outlives its connection: on loss only its MYSQL_STMT handle
 *   is closed, so a stale pointer answers CRM_GONE instead of touching freed
 *   memory, and re-preparing the key reuses the same object.
 * - If the connection dies inside a transaction, nothing reconnects until
 *   the caller ends that transaction (commit, rollback or a new begin):
 *   otherwise the rest of the transaction's statements would run in
 *   autocommit on a fresh connection and half of the work would stick.
 * - Results are always buffered on the client (mysql_stmt_store_result), so
 *   a caller may run another statement before reading every row.
 * - Server error text goes to the log only; callers get a status.
 */
#include "crm_db.h"
#include "crm_log.h"

#include <inttypes.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* MySQL 8's client replaced my_bool by bool in MYSQL_BIND. */
#if defined(MARIADB_BASE_VERSION) || !defined(LIBMYSQL_VERSION_ID) || LIBMYSQL_VERSION_ID < 80000
typedef my_bool db_bool;
#else
typedef bool db_bool;
#endif

#define DB_KEYS CRM_DB_MAX_STMTS /* keys callers may use */
/* Slots past the callers' keys hold this module's own statements. */
enum { SLOT_GET_LOCK = DB_KEYS, SLOT_RELEASE_LOCK, SLOT_ADHOC, DB_SLOTS };

#define COL_INIT 256u         /* first buffer of a string column */
#define COL_MAX  (64ul << 20) /* hard cap of one value (MEDIUMTEXT is 16 MiB) */

/* Every session starts in UTC and strict mode, whatever the server default. */
#define INIT_SQL                                                                                   \
    "SET time_zone = '+00:00', sql_mode = "                                                        \
    "'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ZERO_DATE,NO_ZERO_IN_DATE,"                  \
    "NO_ENGINE_SUBSTITUTION'"

/* Server and client error numbers we act on (same in MySQL and MariaDB). */
enum {
    E_SERVER_SHUTDOWN = 1053,
    E_DUP_ENTRY = 1062,
    E_NET_PACKET_TOO_LARGE = 1153, /* the server hangs up after sending it */
    E_LOCK_WAIT_TIMEOUT = 1205,
    E_LOCK_DEADLOCK = 1213,
    E_DUP_ENTRY_WITH_KEY_NAME = 1586,
    E_CONNECTION_KILLED = 1927, /* MariaDB */
    E_CONNECTION_ERROR = 2002,
    E_CONN_HOST_ERROR = 2003,
    E_SERVER_GONE = 2006,
    E_SERVER_LOST = 2013,
    E_SERVER_LOST_EXTENDED = 2055,
    E_NEW_STMT_METADATA = 2057,
    /* MySQL 8: disconnected by the server. MariaDB uses the number for a
       trigger error (ER_REFERENCED_TRG_DOES_NOT_EXIST): see db_map. */
    E_CLIENT_INTERACTION_TIMEOUT = 4031,
};

typedef struct {
    int64_t ival;
    unsigned long len;
    int kind; /* PARAM_UNSET, PARAM_NULL, PARAM_INT or PARAM_STR */
    const char *s;
} db_param;

enum { PARAM_UNSET, PARAM_NULL, PARAM_INT, PARAM_STR };

typedef struct {
    int is_int;
    int is_unsigned;
    int64_t ival;
    char *buf; /* string columns: cap + 1 bytes, NUL-terminated after fetch */
    unsigned long cap;
    unsigned long len;
    db_bool is_null;
    db_bool error;
    char num[24]; /* an integer column rendered for crm_stmt_col_str */
} db_col;

struct crm_stmt {
    crm_db *db;
    unsigned key;
    char *sql;
    MYSQL_STMT *h; /* NULL while not prepared on the current connection */
    unsigned nparams;
    MYSQL_BIND *pbind;
    db_param *params;
    int bind_error; /* a bind named a placeholder that does not exist */
    unsigned ncols;
    MYSQL_BIND *rbind;
    db_col *cols;
    int has_result; /* a buffered result set is pending */
    int has_row;    /* cols hold a fetched row */
    uint64_t affected;
    uint64_t insert_id;
};

struct crm_db {
    crm_db_opts opts; /* strings are our own copies */
    MYSQL *conn;      /* NULL while disconnected */
    crm_stmt *stmts[DB_SLOTS];
    int status;
    int in_txn;   /* begin seen, commit/rollback not yet */
    int txn_lost; /* the connection died inside the caller's transaction */
    int mariadb;  /* the server is MariaDB (error numbers past 4000 differ) */
    unsigned long connects;
    long long used_ms; /* when the connection was last taken up (monotonic) */
};

static char *opt_dup(const char *s)
{
    return s ? crm_xstrdup(s) : NULL;
}

static void opt_free(const char *s)
{
    if (s) {
        /* The password should not linger in freed heap memory. */
        size_t n = strlen(s);
        volatile char *p = (volatile char *)(uintptr_t)s;
        while (n--)
            *p++ = 0;
        free((void *)(uintptr_t)s);
    }
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

crm_db *crm_db_new(const crm_db_opts *opts)
{
    crm_db *db = crm_xcalloc(1, sizeof(*db));
    db->opts = *opts;
    db->opts.host = opt_dup(opts->host);
    db->opts.socket = opt_dup(opts->socket);
    db->opts.user = opt_dup(opts->user);
    db->opts.password = opt_dup(opts->password);
    db->opts.database = opt_dup(opts->database);
    db->status = CRM_OK;
    return db;
}

static int db_map(const crm_db *db, unsigned err)
{
    if (err == E_CLIENT_INTERACTION_TIMEOUT)
        return db->mariadb ? CRM_ERR : CRM_GONE;
    switch (err) {
    case E_DUP_ENTRY:
    case E_DUP_ENTRY_WITH_KEY_NAME:
        return CRM_DUP;
    case E_LOCK_DEADLOCK:
    case E_LOCK_WAIT_TIMEOUT:
        return CRM_CONFLICT;
    case E_SERVER_SHUTDOWN:
    case E_NET_PACKET_TOO_LARGE:
    case E_CONNECTION_KILLED:
    case E_CONNECTION_ERROR:
    case E_CONN_HOST_ERROR:
    case E_SERVER_GONE:
    case E_SERVER_LOST:
    case E_SERVER_LOST_EXTENDED:
        return CRM_GONE;
    default:
        return CRM_ERR;
    }
}

static void cols_free(crm_stmt *st)
{
    for (unsigned i = 0; i < st->ncols; i++)
        free(st->cols[i].buf);
    free(st->cols);
    free(st->rbind);
    st->cols = NULL;
    st->rbind = NULL;
    st->ncols = 0;
}

/* Free what a statement holds for its current connection, keep the object. */
static void stmt_close(crm_stmt *st)
{
    if (st->h) {
        if (st->has_result)
            mysql_stmt_free_result(st->h);
        mysql_stmt_close(st->h);
        st->h = NULL;
    }
    cols_free(st);
    free(st->params);
    free(st->pbind);
    st->params = NULL;
    st->pbind = NULL;
    st->nparams = 0;
    st->has_result = 0;
    st->has_row = 0;
    st->bind_error = 0;
}

/* Close every statement and the connection; the next use reconnects. */
static void db_drop(crm_db *db)
{
    for (unsigned i = 0; i < DB_SLOTS; i++)
        if (db->stmts[i])
            stmt_close(db->stmts[i]);
    if (db->conn) {
        mysql_close(db->conn);
        db->conn = NULL;
    }
    if (db->in_txn) {
        db->in_txn = 0;
        db->txn_lost = 1;
    }
}

/*
 * Map a failure to a status, log it once, drop the connection when it is
 * gone. st is the statement concerned, NULL for connection-level calls.
 * Duplicates are an expected outcome (the caller answers 409) and lock
 * conflicts are retried, so they are logged below error level.
 */
static int db_fail(crm_db *db, const char *what, const crm_stmt *st, unsigned err, const char *msg)
{
    int rc = db_map(db, err);
    unsigned key = st ? st->key : 0;
    switch (rc) {
    case CRM_DUP:
        crm_log_debug("db: %s of statement %u: duplicate key: %u %s", what, key, err, msg);
        break;
    case CRM_CONFLICT:
        crm_log_warn("db: %s of statement %u: lock conflict: %u %s", what, key, err, msg);
        break;
    case CRM_GONE:
        crm_log_error("db: %s: connection lost: %u %s", what, err, msg);
        db_drop(db);
        break;
    default:
        if (st)
            crm_log_error("db: %s of statement %u failed: %u %s; SQL: %.200s", what, key, err, msg,
                          st->sql);
        else
            crm_log_error("db: %s failed: %u %s", what, err, msg);
        break;
    }
    db->status = rc;
    return rc;
}

static int conn_fail(crm_db *db, const char *what)
{
    return db_fail(db, what, NULL, mysql_errno(db->conn), mysql_error(db->conn));
}

static int stmt_fail(crm_stmt *st, const char *what)
{
    return db_fail(st->db, what, st, mysql_stmt_errno(st->h), mysql_stmt_error(st->h));
}

int crm_db_connect(crm_db *db)
{
    if (db->txn_lost) {
        db->status = CRM_GONE;
        return CRM_GONE;
    }
    if (db->conn) {
        db->status = CRM_OK;
        return CRM_OK;
    }
    MYSQL *m = mysql_init(NULL);
    if (m == NULL)
        crm_oom();
    unsigned t = db->opts.timeout;
    unsigned rt = db->opts.read_timeout ? db->opts.read_timeout : t;
    if (t > 0) {
        /* 0 keeps the library defaults (no read/write timeout). */
        mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &t);
        mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &t);
    }
    if (rt > 0)
        mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rt);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(m, MYSQL_INIT_COMMAND, INIT_SQL);
    /* A server must not be able to ask us for local files. */
    unsigned no_infile = 0;
    mysql_options(m, MYSQL_OPT_LOCAL_INFILE, &no_infile);
#if defined(MARIADB_BASE_VERSION)
    /* Off by default in both libraries; MySQL 8.0.34+ warns when it is set. */
    my_bool no_reconnect = 0;
    mysql_options(m, MYSQL_OPT_RECONNECT, &no_reconnect);
#endif
    unsigned long flags = db->opts.multi_statements ? CLIENT_MULTI_STATEMENTS : 0;
    const char *host = db->opts.socket ? NULL : db->opts.host;
    if (mysql_real_connect(m, host, db->opts.user, db->opts.password, db->opts.database,
                           db->opts.port, db->opts.socket, flags) == NULL) {
        crm_log_error("db: connect to %s failed: %u %s",
                      db->opts.socket ? db->opts.socket : (host ? host : "localhost"),
                      mysql_errno(m), mysql_error(m));
        mysql_close(m);
        db->status = CRM_GONE;
        return CRM_GONE;
    }
    db->conn = m;
    db->mariadb = strstr(mysql_get_server_info(m), "MariaDB") != NULL;
    db->connects++;
    db->used_ms = mono_ms();
    db->status = CRM_OK;
    return CRM_OK;
}

int crm_db_connected(const crm_db *db)
{
    return db->conn != NULL;
}

int crm_db_ping(crm_db *db)
{
    if (db->conn == NULL)
        return crm_db_connect(db);
    if (mysql_ping(db->conn) != 0) {
        /* Whatever the reason, a connection that cannot answer a ping is
           of no use: report it gone so the next call starts afresh. */
        if (conn_fail(db, "ping") != CRM_GONE) {
            db_drop(db);
            db->status = CRM_GONE;
        }
        return CRM_GONE;
    }
    db->status = CRM_OK;
    return CRM_OK;
}

static int is_int_type(enum enum_field_types t)
{
    switch (t) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_YEAR:
        return 1;
    default:
        return 0;
    }
}

/* Result binds from the statement's metadata: integers as LONGLONG,
   everything else as text in a buffer that grows on demand. */
static int stmt_setup_result(crm_stmt *st, const char *what)
{
    cols_free(st);
    MYSQL_RES *meta = mysql_stmt_result_metadata(st->h);
    if (meta == NULL)
        return mysql_stmt_errno(st->h) ? stmt_fail(st, what) : CRM_OK;
    unsigned n = mysql_num_fields(meta);
    const MYSQL_FIELD *f = mysql_fetch_fields(meta);
    st->cols = crm_xcalloc(n, sizeof(*st->cols));
    st->rbind = crm_xcalloc(n, sizeof(*st->rbind));
    st->ncols = n;
    for (unsigned i = 0; i < n; i++) {
        db_col *c = &st->cols[i];
        MYSQL_BIND *b = &st->rbind[i];
        b->is_null = &c->is_null;
        b->error = &c->error;
        b->length = &c->len;
        if (is_int_type(f[i].type)) {
            c->is_int = 1;
            c->is_unsigned = (f[i].flags & UNSIGNED_FLAG) != 0;
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = &c->ival;
            b->buffer_length = sizeof(c->ival);
            b->is_unsigned = (db_bool)c->is_unsigned;
        } else {
            c->cap = COL_INIT;
            c->buf = crm_xmalloc(c->cap + 1);
            b->buffer_type = MYSQL_TYPE_STRING;
            b->buffer = c->buf;
            b->buffer_length = c->cap;
        }
    }
    mysql_free_result(meta);
    return CRM_OK;
}

static int stmt_prepare(crm_db *db, crm_stmt *st)
{
    st->h = mysql_stmt_init(db->conn);
    if (st->h == NULL)
        crm_oom();
    if (mysql_stmt_prepare(st->h, st->sql, strlen(st->sql)) != 0) {
        int rc = stmt_fail(st, "prepare");
        /* On CRM_GONE stmt_fail already closed every statement. */
        stmt_close(st);
        return rc;
    }
    /* store_result then records each column's longest value (stmt_presize). */
    db_bool on = 1;
    mysql_stmt_attr_set(st->h, STMT_ATTR_UPDATE_MAX_LENGTH, &on);
    unsigned n = (unsigned)mysql_stmt_param_count(st->h);
    if (st->params == NULL || n != st->nparams) {
        /* Kept otherwise, so that binds survive preparing again. */
        free(st->params);
        free(st->pbind);
        st->params = crm_xcalloc(n, sizeof(*st->params));
        st->pbind = crm_xcalloc(n, sizeof(*st->pbind));
        st->nparams = n;
    }
    int rc = stmt_setup_result(st, "prepare");
    if (rc != CRM_OK)
        stmt_close(st);
    return rc;
}

/* Connected and not inside a transaction that died. */

/*
 * A connection idle for a while may have died unseen (the server
 * restarted, a proxy or wait_timeout closed it): ping it before the
 * request's first statement, so that a dead one is replaced now instead
 * of failing that request with CRM_GONE. Busy connections are not
 * pinged; nor is one inside a transaction, which must fail rather than
 * go on elsewhere.
 */
static void db_fresh(crm_db *db)
{
    long long now = mono_ms();
    if (db->conn != NULL && !db->in_txn && now - db->used_ms >= CRM_DB_IDLE_PING_MS &&
        crm_db_ping(db) != CRM_OK)
        crm_log_info("db: the idle connection was lost; connecting again");
    db->used_ms = now;
}

static int db_ensure(crm_db *db)
{
    db_fresh(db);
    if (db->txn_lost) {
        crm_log_debug("db: transaction lost with its connection; end it first");
        db->status = CRM_GONE;
        return CRM_GONE;
    }
    return crm_db_connect(db);
}

static crm_stmt *db_stmt(crm_db *db, unsigned slot, const char *sql)
{
    crm_stmt *st = db->stmts[slot];
    if (st && strcmp(st->sql, sql) != 0) {
        /* Two callers picked the same key: fail loudly, never run the wrong SQL. */
        crm_log_error("db: statement key %u already holds other SQL: %.200s", slot, sql);
        db->status = CRM_ERR;
        return NULL;
    }
    if (db_ensure(db) != CRM_OK)
        return NULL;
    if (st == NULL) {
        st = crm_xcalloc(1, sizeof(*st));
        st->db = db;
        st->key = slot;
        st->sql = crm_xstrdup(sql);
        db->stmts[slot] = st;
    }
    if (st->h == NULL && stmt_prepare(db, st) != CRM_OK)
        return NULL;
    db->status = CRM_OK;
    return st;
}

crm_stmt *crm_db_stmt(crm_db *db, unsigned key, const char *sql)
{
    if (key >= DB_KEYS) {
        crm_log_error("db: statement key %u out of range", key);
        db->status = CRM_ERR;
        return NULL;
    }
    return db_stmt(db, key, sql);
}

crm_stmt *crm_db_stmt_adhoc(crm_db *db, const char *sql)
{
    crm_stmt *st = db->stmts[SLOT_ADHOC];
    if (st && strcmp(st->sql, sql) != 0) {
        stmt_close(st);
        free(st->sql);
        free(st);
        db->stmts[SLOT_ADHOC] = NULL;
    }
    return db_stmt(db, SLOT_ADHOC, sql);
}

int crm_db_status(const crm_db *db)
{
    return db->status;
}

static db_param *param_at(crm_stmt *st, unsigned i)
{
    if (i >= st->nparams) {
        st->bind_error = 1; /* reported by the next exec */
        return NULL;
    }
    return &st->params[i];
}

void crm_stmt_bind_int(crm_stmt *st, unsigned i, int64_t v)
{
    db_param *p = param_at(st, i);
    if (p) {
        p->kind = PARAM_INT;
        p->ival = v;
    }
}

void crm_stmt_bind_str(crm_stmt *st, unsigned i, const char *s, size_t n)
{
    db_param *p = param_at(st, i);
    if (p && s == NULL) {
        p->kind = PARAM_NULL;
    } else if (p) {
        p->kind = PARAM_STR;
        p->s = s;
        p->len = (unsigned long)n;
    }
}

void crm_stmt_bind_opt_str(crm_stmt *st, unsigned i, const char *s)
{
    crm_stmt_bind_str(st, i, s, s ? strlen(s) : 0);
}

void crm_stmt_bind_opt_id(crm_stmt *st, unsigned i, int64_t v)
{
    if (v > 0)
        crm_stmt_bind_int(st, i, v);
    else
        crm_stmt_bind_null(st, i);
}

void crm_stmt_bind_null(crm_stmt *st, unsigned i)
{
    db_param *p = param_at(st, i);
    if (p)
        p->kind = PARAM_NULL;
}

static void stmt_free_result(crm_stmt *st)
{
    if (st->has_result && st->h)
        mysql_stmt_free_result(st->h);
    st->has_result = 0;
    st->has_row = 0;
}

/* Borrowed strings die when exec returns: forget every bind. */
static void params_reset(crm_stmt *st)
{
    for (unsigned i = 0; i < st->nparams; i++) {
        st->params[i].kind = PARAM_UNSET;
        st->params[i].s = NULL;
    }
    st->bind_error = 0;
}

static int params_bind(crm_stmt *st)
{
    if (st->bind_error) {
        crm_log_error("db: statement %u: bind past its %u placeholders", st->key, st->nparams);
        return CRM_ERR;
    }
    for (unsigned i = 0; i < st->nparams; i++) {
        db_param *p = &st->params[i];
        MYSQL_BIND *b = &st->pbind[i];
        memset(b, 0, sizeof(*b));
        switch (p->kind) {
        case PARAM_INT:
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = &p->ival;
            break;
        case PARAM_STR:
            b->buffer_type = MYSQL_TYPE_STRING;
            b->buffer = (void *)(uintptr_t)p->s;
            b->buffer_length = p->len;
            b->length = &p->len;
            break;
        case PARAM_NULL:
            b->buffer_type = MYSQL_TYPE_NULL;
            break;
        default:
            crm_log_error("db: statement %u: placeholder %u not bound", st->key, i);
            return CRM_ERR;
        }
    }
    return CRM_OK;
}

static int stmt_presize(crm_stmt *st);

int crm_stmt_exec(crm_stmt *st)
{
    crm_db *db = st->db;
    int rc = CRM_ERR;

    if (st->h == NULL) {
        /* Prepared on a connection that has been lost since. */
        rc = CRM_GONE;
        goto out;
    }
    stmt_free_result(st);
    st->affected = 0;
    st->insert_id = 0;
    if (params_bind(st) != CRM_OK)
        goto out;
    for (int again = 0;; again++) {
        if (st->nparams > 0 && mysql_stmt_bind_param(st->h, st->pbind) != 0) {
            rc = stmt_fail(st, "bind");
            goto out;
        }
        if (mysql_stmt_execute(st->h) == 0)
            break;
        if (again || mysql_stmt_errno(st->h) != E_NEW_STMT_METADATA) {
            rc = stmt_fail(st, "execute");
            goto out;
        }
        /* A table changed shape under the statement (SELECT * after an
           ALTER): the library insists on a fresh prepare. */
        crm_log_warn("db: statement %u: its columns changed; preparing it again", st->key);
        mysql_stmt_close(st->h);
        st->h = NULL;
        if ((rc = stmt_prepare(db, st)) != CRM_OK)
            goto out;
    }
    if (mysql_stmt_field_count(st->h) != st->ncols) {
        /* Same, for a client library that takes the new columns as they come. */
        rc = stmt_setup_result(st, "execute");
        if (rc != CRM_OK)
            goto out;
    }
    if (st->ncols > 0) {
        if (mysql_stmt_bind_result(st->h, st->rbind) != 0 || mysql_stmt_store_result(st->h) != 0) {
            rc = stmt_fail(st, "execute");
            goto out;
        }
        st->has_result = 1;
        if ((rc = stmt_presize(st)) != CRM_OK)
            goto out;
    }
    st->affected = (uint64_t)mysql_stmt_affected_rows(st->h);
    st->insert_id = (uint64_t)mysql_stmt_insert_id(st->h);
    rc = CRM_OK;
out:
    params_reset(st);
    db->status = rc;
    return rc;
}

/*
 * Size the text buffers for the longest value in the buffered result before
 * the first fetch, so rows do not come back truncated (stmt_refetch below
 * stays for a library that does not report max_length).
 */
static int stmt_presize(crm_stmt *st)
{
    int grown = 0;
    if (st->h->fields == NULL)
        return CRM_OK;
    for (unsigned i = 0; i < st->ncols; i++) {
        db_col *c = &st->cols[i];
        unsigned long need = st->h->fields[i].max_length;
        if (c->is_int || need <= c->cap)
            continue;
        if (need > COL_MAX)
            need = COL_MAX;
        c->buf = crm_xrealloc(c->buf, need + 1);
        c->cap = need;
        st->rbind[i].buffer = c->buf;
        st->rbind[i].buffer_length = need;
        grown = 1;
    }
    if (grown && mysql_stmt_bind_result(st->h, st->rbind) != 0)
        return stmt_fail(st, "execute");
    return CRM_OK;
}

/* After MYSQL_DATA_TRUNCATED: grow the short buffers, read those columns
   again, and keep the bigger buffers bound for the rows that follow. */
static int stmt_refetch(crm_stmt *st)
{
    int grown = 0;
    for (unsigned i = 0; i < st->ncols; i++) {
        db_col *c = &st->cols[i];
        if (c->is_int || c->is_null || c->len <= c->cap)
            continue;
        if (c->len > COL_MAX) {
            crm_log_error("db: statement %u: column %u holds %lu bytes, over the cap", st->key, i,
                          c->len);
            return CRM_ERR;
        }
        unsigned long cap = c->cap * 2 > c->len ? c->cap * 2 : c->len;
        if (cap > COL_MAX)
            cap = COL_MAX;
        c->buf = crm_xrealloc(c->buf, cap + 1);
        c->cap = cap;
        st->rbind[i].buffer = c->buf;
        st->rbind[i].buffer_length = cap;
        if (mysql_stmt_fetch_column(st->h, &st->rbind[i], i, 0) != 0)
            return stmt_fail(st, "fetch");
        grown = 1;
    }
    if (grown && mysql_stmt_bind_result(st->h, st->rbind) != 0)
        return stmt_fail(st, "fetch");
    return CRM_OK;
}

int crm_stmt_fetch(crm_stmt *st)
{
    crm_db *db = st->db;
    int rc;

    st->has_row = 0;
    if (st->h == NULL) {
        rc = CRM_GONE;
        goto out;
    }
    if (!st->has_result) {
        rc = CRM_NOTFOUND;
        goto out;
    }
    int r = mysql_stmt_fetch(st->h);
    if (r == MYSQL_NO_DATA) {
        stmt_free_result(st);
        rc = CRM_NOTFOUND;
        goto out;
    }
    if (r == 1) {
        rc = stmt_fail(st, "fetch");
        goto out;
    }
    if (r == MYSQL_DATA_TRUNCATED && (rc = stmt_refetch(st)) != CRM_OK)
        goto out;
    for (unsigned i = 0; i < st->ncols; i++) {
        db_col *c = &st->cols[i];
        if (!c->is_int)
            c->buf[c->len < c->cap ? c->len : c->cap] = '\0';
    }
    st->has_row = 1;
    rc = CRM_OK;
out:
    db->status = rc;
    return rc;
}

static db_col *col_at(crm_stmt *st, unsigned i)
{
    if (!st->has_row || i >= st->ncols) {
        crm_log_error("db: statement %u: no column %u in the current row", st->key, i);
        return NULL;
    }
    return &st->cols[i];
}

int crm_stmt_col_null(crm_stmt *st, unsigned i)
{
    const db_col *c = col_at(st, i);
    return c == NULL || c->is_null;
}

int64_t crm_stmt_col_int(crm_stmt *st, unsigned i)
{
    const db_col *c = col_at(st, i);
    if (c == NULL || c->is_null)
        return 0;
    if (c->is_int)
        return c->ival;
    return strtoll(c->buf, NULL, 10);
}

const char *crm_stmt_col_str(crm_stmt *st, unsigned i, size_t *len)
{
    db_col *c = col_at(st, i);
    size_t n = 0;
    const char *s = NULL;
    if (c != NULL && !c->is_null) {
        if (c->is_int) {
            int w = c->is_unsigned ? snprintf(c->num, sizeof(c->num), "%" PRIu64, (uint64_t)c->ival)
                                   : snprintf(c->num, sizeof(c->num), "%" PRId64, c->ival);
            n = (size_t)w;
            s = c->num;
        } else {
            n = c->len < c->cap ? c->len : c->cap;
            s = c->buf;
        }
    }
    if (len)
        *len = n;
    return s;
}

const char *crm_stmt_col_dup(crm_stmt *st, crm_arena *a, unsigned i)
{
    size_t n;
    if (crm_stmt_col_null(st, i))
        return NULL;
    const char *s = crm_stmt_col_str(st, i, &n);
    return crm_arena_strndup(a, s ? s : "", n);
}

const char *crm_stmt_col_iso(crm_stmt *st, crm_arena *a, unsigned i)
{
    size_t n;
    if (crm_stmt_col_null(st, i))
        return NULL;
    const char *s = crm_stmt_col_str(st, i, &n);
    char *out = crm_arena_alloc(a, n + 2);
    memcpy(out, s ? s : "", n);
    if (n > 10 && out[10] == ' ')
        out[10] = 'T';
    out[n] = 'Z';
    out[n + 1] = '\0';
    return out;
}

unsigned crm_stmt_bind_page(crm_stmt *st, unsigned i, int after, const char *value, int64_t id,
                            int64_t limit)
{
    if (after) {
        crm_stmt_bind_opt_str(st, i++, value);
        crm_stmt_bind_opt_str(st, i++, value);
        crm_stmt_bind_int(st, i++, id);
    }
    crm_stmt_bind_int(st, i++, limit);
    return i;
}

int crm_stmt_exec_int(crm_stmt *st, int64_t *out)
{
    int rc = crm_stmt_exec(st);
    if (rc != CRM_OK)
        return rc;
    rc = crm_stmt_fetch(st);
    if (rc == CRM_OK)
        *out = crm_stmt_col_int(st, 0);
    crm_stmt_done(st);
    return rc == CRM_NOTFOUND ? CRM_ERR : rc;
}

void crm_db_list_sql(char *sql, size_t size, const char *cols, const char *from, const char *where,
                     const crm_db_sort *s, int cursor)
{
    sql[0] = '\0';
    crm_db_sql_append(sql, size, "SELECT ");
    crm_db_sql_append(sql, size, cols);
    crm_db_sql_append(sql, size, ", ");
    crm_db_sql_append(sql, size, s->key);
    crm_db_sql_append(sql, size, from);
    crm_db_sql_append(sql, size, where);
    if (cursor)
        crm_db_sql_append(sql, size, s->after);
    crm_db_sql_append(sql, size, s->order);
    crm_db_sql_append(sql, size, " LIMIT ?");
}

void crm_db_where_sql(char *where, size_t size, unsigned mask, const char *const *frags,
                      size_t nfrags)
{
    where[0] = '\0';
    crm_db_sql_append(where, size, " WHERE 1 = 1");
    for (size_t f = 0; f < nfrags; f++) {
        if (mask & (1u << f))
            crm_db_sql_append(where, size, frags[f]);
    }
}

void crm_db_sql_append(char *dst, size_t size, const char *s)
{
    size_t n = strlen(dst), k = strlen(s);
    if (n + k >= size)
        abort();
    memcpy(dst + n, s, k);
    dst[n + k] = '\0';
}

void crm_stmt_done(crm_stmt *st)
{
    stmt_free_result(st);
}

uint64_t crm_stmt_affected(crm_stmt *st)
{
    return st->affected;
}

uint64_t crm_stmt_insert_id(crm_stmt *st)
{
    return st->insert_id;
}

int crm_db_begin(crm_db *db)
{
    if (db->in_txn && db->conn) {
        /* START TRANSACTION would commit the forgotten one: undo it instead. */
        crm_log_warn("db: begin inside an open transaction; rolling the old one back");
        db->in_txn = 0;
        if (mysql_rollback(db->conn) != 0)
            conn_fail(db, "rollback");
    }
    db->in_txn = 0;
    db->txn_lost = 0;
    db_fresh(db);
    if (crm_db_connect(db) != CRM_OK)
        return CRM_GONE;
    static const char sql[] = "START TRANSACTION";
    if (mysql_real_query(db->conn, sql, sizeof(sql) - 1) != 0)
        return conn_fail(db, "begin");
    db->in_txn = 1;
    db->status = CRM_OK;
    return CRM_OK;
}

int crm_db_commit(crm_db *db)
{
    int lost = db->txn_lost;
    db->in_txn = 0;
    db->txn_lost = 0;
    if (lost || db->conn == NULL) {
        db->status = CRM_GONE;
        return CRM_GONE;
    }
    if (mysql_commit(db->conn) != 0)
        return conn_fail(db, "commit");
    db->status = CRM_OK;
    return CRM_OK;
}

int crm_db_rollback(crm_db *db)
{
    db->in_txn = 0;
    db->txn_lost = 0;
    if (db->conn == NULL) {
        /* The server discarded the transaction with the connection. */
        db->status = CRM_OK;
        return CRM_OK;
    }
    if (mysql_rollback(db->conn) != 0)
        return conn_fail(db, "rollback");
    db->status = CRM_OK;
    return CRM_OK;
}

int crm_db_exec_sql(crm_db *db, const char *sql)
{
    if (db_ensure(db) != CRM_OK)
        return db->status;
    if (mysql_real_query(db->conn, sql, strlen(sql)) != 0)
        return conn_fail(db, "query");
    /* Drain every result so the connection is ready for the next command;
       an error in a later statement of a batch shows up here. */
    for (;;) {
        MYSQL_RES *res = mysql_store_result(db->conn);
        if (res != NULL)
            mysql_free_result(res);
        else if (mysql_field_count(db->conn) != 0)
            return conn_fail(db, "query");
        int more = mysql_next_result(db->conn);
        if (more < 0)
            break;
        if (more > 0)
            return conn_fail(db, "query");
    }
    db->status = CRM_OK;
    return CRM_OK;
}

/* Run a one-row, one-integer-column lock function; *v is -1 for NULL. */
static int db_lock_call(crm_stmt *st, int64_t *v)
{
    int rc = crm_stmt_exec(st);
    if (rc != CRM_OK)
        return rc;
    rc = crm_stmt_fetch(st);
    if (rc == CRM_OK)
        *v = crm_stmt_col_null(st, 0) ? -1 : crm_stmt_col_int(st, 0);
    else if (rc == CRM_NOTFOUND)
        rc = CRM_ERR;
    crm_stmt_done(st);
    return rc;
}

int crm_db_lock(crm_db *db, const char *name, int timeout_seconds)
{
    crm_stmt *st = db_stmt(db, SLOT_GET_LOCK, "SELECT GET_LOCK(?, ?)");
    if (st == NULL)
        return db->status;
    crm_stmt_bind_str(st, 0, name, strlen(name));
    crm_stmt_bind_int(st, 1, timeout_seconds);
    int64_t v = -1;
    int rc = db_lock_call(st, &v);
    if (rc == CRM_OK && v == 0) {
        crm_log_debug("db: lock %s is held elsewhere", name);
        rc = CRM_CONFLICT;
    } else if (rc == CRM_OK && v != 1) {
        crm_log_error("db: GET_LOCK(%s) failed", name);
        rc = CRM_ERR;
    }
    db->status = rc;
    return rc;
}

/*
 * CRM_OK when released; CRM_NOTFOUND (logged) when this connection did not
 * hold it; CRM_GONE when the connection is down (the server released the
 * lock with it, so there is nothing to reconnect for).
 */
int crm_db_unlock(crm_db *db, const char *name)
{
    if (db->conn == NULL) {
        db->status = CRM_GONE;
        return CRM_GONE;
    }
    crm_stmt *st = db_stmt(db, SLOT_RELEASE_LOCK, "SELECT RELEASE_LOCK(?)");
    if (st == NULL)
        return db->status;
    crm_stmt_bind_str(st, 0, name, strlen(name));
    int64_t v = -1;
    int rc = db_lock_call(st, &v);
    if (rc == CRM_OK && v != 1) {
        crm_log_warn("db: lock %s was not held by this connection", name);
        rc = CRM_NOTFOUND;
    }
    db->status = rc;
    return rc;
}

unsigned long crm_db_connects(const crm_db *db)
{
    return db->connects;
}

void crm_db_free(crm_db *db)
{
    if (db == NULL)
        return;
    db->in_txn = 0;
    db_drop(db);
    for (unsigned i = 0; i < DB_SLOTS; i++) {
        if (db->stmts[i]) {
            free(db->stmts[i]->sql);
            free(db->stmts[i]);
        }
    }
    opt_free(db->opts.host);
    opt_free(db->opts.socket);
    opt_free(db->opts.user);
    opt_free(db->opts.password);
    opt_free(db->opts.database);
    free(db);
}
