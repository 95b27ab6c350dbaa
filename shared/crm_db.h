/*
 * crm_db.h - MySQL/MariaDB access: one connection per worker, statements
 * prepared once per connection and reused, typed binds and fetches,
 * transactions, and reconnect-by-itself after a lost connection.
 *
 * Only crm_db.c includes <mysql.h>.
 *
 * Lost connection: the call that notices it returns CRM_GONE (the request
 * in hand answers 503); the next crm_db_stmt() or crm_db_begin()
 * reconnects and prepares again, so the next request succeeds.
 */
#ifndef CRM_DB_H
#define CRM_DB_H

#include "crm.h"
#include "crm_arena.h"

#define CRM_DB_MAX_STMTS 1024

typedef struct crm_db crm_db;
typedef struct crm_stmt crm_stmt;

typedef struct {
    const char *host;
    unsigned port;
    const char *socket; /* wins over host/port when set */
    const char *user;
    const char *password;
    const char *database;
    unsigned timeout;      /* connect, read and write, seconds */
    unsigned read_timeout; /* seconds a statement may take; 0: timeout */
    int multi_statements;  /* for migrations only */
} crm_db_opts;

/* Copies opts. Does not connect yet. Never NULL. */
crm_db *crm_db_new(const crm_db_opts *opts);
void crm_db_free(crm_db *db);

/* A connection idle this long is pinged before it is used again, and
   replaced if it died meanwhile (a server restart would otherwise fail
   each worker's next request). */
#define CRM_DB_IDLE_PING_MS 1000

/* Connect if not connected. CRM_OK or CRM_GONE (logged). */
int crm_db_connect(crm_db *db);
/* 1 when a connection is believed up. */
int crm_db_connected(const crm_db *db);
/* Round trip to the server: CRM_OK or CRM_GONE. */
int crm_db_ping(crm_db *db);

/*
 * The statement for key (a number < CRM_DB_MAX_STMTS: services own 0..495
 * and 512..1023, shared modules 496..511: crm_idem.c 496-499, crm_outbox.c 500-504
 * and 509-511, crm_migrate.c 505-507, crm_inbox.c 508), prepared from sql on first use
 * on this connection and reused after. Reconnects first if the connection
 * was lost. NULL on failure: crm_db_status()
 * says CRM_GONE (no connection) or CRM_ERR (bad SQL, logged).
 * A statement is valid until the connection is lost.
 */
crm_stmt *crm_db_stmt(crm_db *db, unsigned key, const char *sql);
/*
 * A statement composed per request from the program's own fragments (a
 * segment's rule): prepared into the connection's one ad-hoc slot, which
 * keeps it while the next call brings the same text and replaces it when
 * the text differs. Valid until the next crm_db_stmt_adhoc call.
 */
crm_stmt *crm_db_stmt_adhoc(crm_db *db, const char *sql);
int crm_db_status(const crm_db *db);

/*
 * Binds, by 0-based placeholder index. Strings are borrowed until
 * crm_stmt_exec returns; s == NULL binds SQL NULL.
 */
void crm_stmt_bind_int(crm_stmt *st, unsigned i, int64_t v);
void crm_stmt_bind_str(crm_stmt *st, unsigned i, const char *s, size_t n);
void crm_stmt_bind_null(crm_stmt *st, unsigned i);
/* s, or SQL NULL when s is NULL (length from strlen). */
void crm_stmt_bind_opt_str(crm_stmt *st, unsigned i, const char *s);
/* v when positive, else SQL NULL (optional foreign ids). */
void crm_stmt_bind_opt_id(crm_stmt *st, unsigned i, int64_t v);

/*
 * Execute with the current binds. Returns CRM_OK, CRM_DUP (unique key),
 * CRM_CONFLICT (deadlock or lock wait timeout: retryable), CRM_GONE
 * (connection lost; marked for reconnect) or CRM_ERR (logged). A result
 * set, if any, is buffered on the client and read with crm_stmt_fetch.
 */
int crm_stmt_exec(crm_stmt *st);

/* Next row: CRM_OK, CRM_NOTFOUND at the end, CRM_GONE or CRM_ERR. */
int crm_stmt_fetch(crm_stmt *st);
/* Columns of the current row, 0-based; strings valid until next fetch. */
int crm_stmt_col_null(crm_stmt *st, unsigned i);
int64_t crm_stmt_col_int(crm_stmt *st, unsigned i); /* 0 for SQL NULL */
const char *crm_stmt_col_str(crm_stmt *st, unsigned i, size_t *len);
/* Column i copied into the arena; NULL for SQL NULL. */
const char *crm_stmt_col_dup(crm_stmt *st, crm_arena *a, unsigned i);
/* A DATETIME(6) column as ISO 8601 UTC ("...T...Z") in the arena; NULL for SQL NULL. */
const char *crm_stmt_col_iso(crm_stmt *st, crm_arena *a, unsigned i);
/*
 * Keyset paging binds, from placeholder i on: when after is set, the
 * condition "(key > ? OR (key = ? AND id > ?))" of the statement gets
 * value, value, id; then LIMIT ? gets limit. Returns the next index.
 */
unsigned crm_stmt_bind_page(crm_stmt *st, unsigned i, int after, const char *value, int64_t id,
                            int64_t limit);
/* Execute a query that returns one integer (COUNT(*)): CRM_OK with *out,
   CRM_ERR when it returned no row, else the crm_stmt_exec status. */
int crm_stmt_exec_int(crm_stmt *st, int64_t *out);
/*
 * Append s to the NUL-terminated SQL text in dst[size], for statements
 * composed once at start from constant fragments. Aborts when it does not
 * fit: the fragments are the program's own, so that is a bug.
 */
void crm_db_sql_append(char *dst, size_t size, const char *s);

/*
 * Keyset lists, composed once at start: a sort is the expression the
 * cursor value is read from, the condition after a cursor (binds value,
 * value, id: see crm_stmt_bind_page) and the ORDER BY.
 */
typedef struct {
    const char *key;
    const char *after;
    const char *order;
} crm_db_sort;
/* "SELECT cols, key" from where [after] order " LIMIT ?" into sql[size]. */
void crm_db_list_sql(char *sql, size_t size, const char *cols, const char *from, const char *where,
                     const crm_db_sort *s, int cursor);
/* " WHERE 1 = 1" and each frags[i] whose bit (1 << i) is set in mask. */
void crm_db_where_sql(char *where, size_t size, unsigned mask, const char *const *frags,
                      size_t nfrags);
/*
 * In a function returning a crm_db status: execute st, run read_call on
 * its first row if there is one, and return CRM_OK, CRM_NOTFOUND (no row)
 * or the error.
 */
#define CRM_STMT_FETCH_ONE(st, read_call)                                                          \
    do {                                                                                           \
        int rc_ = crm_stmt_exec(st);                                                               \
        if (rc_ != CRM_OK)                                                                         \
            return rc_;                                                                            \
        rc_ = crm_stmt_fetch(st);                                                                  \
        if (rc_ == CRM_OK) {                                                                       \
            read_call;                                                                             \
        }                                                                                          \
        crm_stmt_done(st);                                                                         \
        return rc_;                                                                                \
    } while (0)
/* Free the result of the last exec (also done by the next exec). */
void crm_stmt_done(crm_stmt *st);

uint64_t crm_stmt_affected(crm_stmt *st);
uint64_t crm_stmt_insert_id(crm_stmt *st);

/* Transactions: CRM_OK, CRM_GONE or CRM_ERR. begin reconnects if needed. */
int crm_db_begin(crm_db *db);
int crm_db_commit(crm_db *db);
int crm_db_rollback(crm_db *db);

/*
 * Run SQL text that takes no parameters (migrations, admin). With
 * multi_statements set, all result sets are drained. CRM_OK, CRM_GONE,
 * CRM_ERR (the server's message is logged, never returned to clients).
 */
int crm_db_exec_sql(crm_db *db, const char *sql);

/*
 * Named lock (GET_LOCK / RELEASE_LOCK). lock returns CRM_OK when held,
 * CRM_CONFLICT on timeout, CRM_GONE/CRM_ERR otherwise.
 */
int crm_db_lock(crm_db *db, const char *name, int timeout_seconds);
int crm_db_unlock(crm_db *db, const char *name);

/* Number of (re)connections made, for tests and metrics. */
unsigned long crm_db_connects(const crm_db *db);

#endif
