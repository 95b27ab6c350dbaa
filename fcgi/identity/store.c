/*
 * store.c - every SQL statement of the identity service. Parameters are
 * always bound. List statements are assembled once, at start, from the
 * constant fragments below (sort x filters x cursor), so each variant is
 * a fixed text prepared once per connection like any other.
 *
 * Login throttling reads and writes login_failures on the database's
 * clock (UTC sessions): every worker of every pod counts against the same
 * rows and the same time, whatever the hosts' clocks say.
 */
#include "identity.h"

#include <string.h>

enum {
    ST_GET,
    ST_GET_FOR_UPDATE,
    ST_BY_EMAIL,
    ST_INSERT,
    ST_UPDATE,
    ST_DELETE,
    ST_THROTTLE_GET,
    ST_THROTTLE_FAIL,
    ST_THROTTLE_RESET,
    ST_THROTTLE_FORGIVE,
    ST_THROTTLE_PURGE,
    ST_COUNT_BASE = 16, /* + filter mask (4) */
    ST_LIST_BASE = 24,  /* + (sort * 4 + mask) * 2 + cursor: up to 71 */
};

#define STMT(db, key)                                                                              \
    crm_stmt *st = crm_db_stmt(db, ST_##key, SQL_##key);                                           \
    if (st == NULL)                                                                                \
    return crm_db_status(db)

#define COLS                                                                                       \
    "u.id, u.email, u.name, u.role, u.active, u.password_hash, u.version, u.created_at,"           \
    " u.updated_at"
#define NCOLS 9

static const char SQL_GET[] = "SELECT " COLS " FROM users u WHERE u.id = ?";
static const char SQL_GET_FOR_UPDATE[] = "SELECT " COLS " FROM users u WHERE u.id = ? FOR UPDATE";
static const char SQL_BY_EMAIL[] = "SELECT " COLS " FROM users u WHERE u.email = ?";
static const char SQL_INSERT[] =
    "INSERT INTO users (email, name, role, active, password_hash, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)";
static const char SQL_UPDATE[] =
    "UPDATE users SET email = ?, name = ?, role = ?, active = ?, password_hash = ?,"
    " updated_at = ?, version = version + 1 WHERE id = ?";
static const char SQL_DELETE[] = "DELETE FROM users WHERE id = ?";

/* Both counters of a login at once: failures and the microseconds the
   window still runs (negative once it is over). */
static const char SQL_THROTTLE_GET[] =
    "SELECT scope, failures,"
    " TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), window_start + INTERVAL ? SECOND)"
    " FROM login_failures"
    " WHERE (scope = 'account' AND throttle_key = ?) OR (scope = 'address' AND throttle_key = ?)";
/*
 * One failure for the account and the address in one atomic statement.
 * failures is assigned before window_start, so both read the window as it
 * was: an expired one restarts at this failure with a count of 1.
 */
static const char SQL_THROTTLE_FAIL[] =
    "INSERT INTO login_failures (scope, throttle_key, failures, window_start)"
    " VALUES ('account', ?, 1, UTC_TIMESTAMP(6)), ('address', ?, 1, UTC_TIMESTAMP(6))"
    " ON DUPLICATE KEY UPDATE"
    " failures = IF(window_start <= UTC_TIMESTAMP(6) - INTERVAL ? SECOND, 1, failures + 1),"
    " window_start = IF(window_start <= UTC_TIMESTAMP(6) - INTERVAL ? SECOND,"
    " UTC_TIMESTAMP(6), window_start)";
static const char SQL_THROTTLE_RESET[] =
    "DELETE FROM login_failures WHERE scope = 'account' AND throttle_key = ?";
/* The address counted the attempt before it succeeded: take it back. */
static const char SQL_THROTTLE_FORGIVE[] =
    "UPDATE login_failures SET failures = GREATEST(failures - 1, 0)"
    " WHERE scope = 'address' AND throttle_key = ?";
/* An expired row counts nothing: deleting it changes no decision. */
static const char SQL_THROTTLE_PURGE[] =
    "DELETE FROM login_failures WHERE window_start < UTC_TIMESTAMP(6) - INTERVAL ? SECOND LIMIT ?";

/* ---- lists ---- */

/* Filters bind in this order: role, active. */
enum { F_ROLE = 1, F_ACTIVE = 2, F_ALL = 4 };
static const char *const filter_sql[] = {
    " AND u.role = ?",
    " AND u.active = ?",
};

const char *const user_sorts[SORT_COUNT + 1] = {
    "email", "-email", "name", "-name", "created_at", "-created_at", NULL,
};

#define CREATED_KEY "DATE_FORMAT(u.created_at, '%Y-%m-%d %H:%i:%s.%f')"
static const crm_db_sort sort_sql[SORT_COUNT] = {
    { "u.email", " AND (u.email > ? OR (u.email = ? AND u.id > ?))", " ORDER BY u.email, u.id" },
    { "u.email", " AND (u.email < ? OR (u.email = ? AND u.id < ?))",
      " ORDER BY u.email DESC, u.id DESC" },
    { "u.name", " AND (u.name > ? OR (u.name = ? AND u.id > ?))", " ORDER BY u.name, u.id" },
    { "u.name", " AND (u.name < ? OR (u.name = ? AND u.id < ?))",
      " ORDER BY u.name DESC, u.id DESC" },
    { CREATED_KEY, " AND (u.created_at > ? OR (u.created_at = ? AND u.id > ?))",
      " ORDER BY u.created_at, u.id" },
    { CREATED_KEY, " AND (u.created_at < ? OR (u.created_at = ? AND u.id < ?))",
      " ORDER BY u.created_at DESC, u.id DESC" },
};

static char list_sql[SORT_COUNT][F_ALL][2][1024];
static char count_sql[F_ALL][256];

void store_init(void)
{
    char where[256];

    for (int mask = 0; mask < F_ALL; mask++) {
        crm_db_where_sql(where, sizeof(where), (unsigned)mask, filter_sql, CRM_NELEM(filter_sql));
        count_sql[mask][0] = '\0';
        crm_db_sql_append(count_sql[mask], sizeof(count_sql[mask]), "SELECT COUNT(*) FROM users u");
        crm_db_sql_append(count_sql[mask], sizeof(count_sql[mask]), where);
        for (int s = 0; s < SORT_COUNT; s++)
            for (int cur = 0; cur < 2; cur++)
                crm_db_list_sql(list_sql[s][mask][cur], sizeof(list_sql[s][mask][cur]), COLS,
                                " FROM users u", where, &sort_sql[s], cur);
    }
}

/* ---- users ---- */

static void read_user(crm_stmt *st, crm_arena *a, user *u)
{
    u->id = crm_stmt_col_int(st, 0);
    u->email = crm_stmt_col_dup(st, a, 1);
    u->name = crm_stmt_col_dup(st, a, 2);
    u->role = crm_stmt_col_dup(st, a, 3);
    u->active = crm_stmt_col_int(st, 4) != 0;
    u->password_hash = crm_stmt_col_dup(st, a, 5);
    u->version = crm_stmt_col_int(st, 6);
    u->created_at = crm_stmt_col_iso(st, a, 7);
    u->updated_at = crm_stmt_col_iso(st, a, 8);
    u->sort_value = NULL;
}

int store_user_get(crm_db *db, crm_arena *a, int64_t id, int for_update, user *out)
{
    crm_stmt *st = for_update ? crm_db_stmt(db, ST_GET_FOR_UPDATE, SQL_GET_FOR_UPDATE)
                              : crm_db_stmt(db, ST_GET, SQL_GET);
    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, id);
    CRM_STMT_FETCH_ONE(st, read_user(st, a, out));
}

int store_user_by_email(crm_db *db, crm_arena *a, const char *email, user *out)
{
    STMT(db, BY_EMAIL);
    crm_stmt_bind_str(st, 0, email, strlen(email));
    CRM_STMT_FETCH_ONE(st, read_user(st, a, out));
}

static void bind_user(crm_stmt *st, const user_in *in)
{
    crm_stmt_bind_opt_str(st, 0, in->email);
    crm_stmt_bind_opt_str(st, 1, in->name);
    crm_stmt_bind_opt_str(st, 2, in->role);
    crm_stmt_bind_int(st, 3, in->active ? 1 : 0);
    crm_stmt_bind_opt_str(st, 4, in->password_hash);
    crm_stmt_bind_opt_str(st, 5, in->now);
}

int store_user_insert(crm_db *db, const user_in *in, int64_t *id)
{
    int rc;

    STMT(db, INSERT);
    bind_user(st, in);
    crm_stmt_bind_opt_str(st, 6, in->now);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    *id = (int64_t)crm_stmt_insert_id(st);
    return CRM_OK;
}

int store_user_update(crm_db *db, int64_t id, const user_in *in)
{
    int rc;

    STMT(db, UPDATE);
    bind_user(st, in);
    crm_stmt_bind_int(st, 6, id);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    return crm_stmt_affected(st) == 0 ? CRM_NOTFOUND : CRM_OK;
}

int store_user_delete(crm_db *db, int64_t id)
{
    int rc;

    STMT(db, DELETE);
    crm_stmt_bind_int(st, 0, id);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    return crm_stmt_affected(st) == 0 ? CRM_NOTFOUND : CRM_OK;
}

static int filter_mask(const user_filter *f)
{
    return (f->role ? F_ROLE : 0) | (f->active >= 0 ? F_ACTIVE : 0);
}

static unsigned bind_filters(crm_stmt *st, const user_filter *f)
{
    unsigned i = 0;
    if (f->role)
        crm_stmt_bind_str(st, i++, f->role, strlen(f->role));
    if (f->active >= 0)
        crm_stmt_bind_int(st, i++, f->active);
    return i;
}

int store_user_list(crm_db *db, crm_arena *a, const user_filter *f, user *rows, size_t *n)
{
    int mask = filter_mask(f), cur = f->after ? 1 : 0, rc;
    unsigned key = ST_LIST_BASE + (unsigned)((f->sort * F_ALL + mask) * 2 + cur);
    crm_stmt *st = crm_db_stmt(db, key, list_sql[f->sort][mask][cur]);

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_page(st, bind_filters(st, f), cur, f->after_value, f->after_id, f->limit);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    size_t k = 0;
    while (k < (size_t)f->limit && (rc = crm_stmt_fetch(st)) == CRM_OK) {
        read_user(st, a, &rows[k]);
        rows[k].sort_value = crm_stmt_col_dup(st, a, NCOLS);
        k++;
    }
    crm_stmt_done(st);
    if (rc != CRM_OK && rc != CRM_NOTFOUND)
        return rc;
    *n = k;
    return CRM_OK;
}

int store_user_count(crm_db *db, const user_filter *f, int64_t *count)
{
    int mask = filter_mask(f);
    crm_stmt *st = crm_db_stmt(db, ST_COUNT_BASE + (unsigned)mask, count_sql[mask]);

    if (st == NULL)
        return crm_db_status(db);
    bind_filters(st, f);
    return crm_stmt_exec_int(st, count);
}

/* ---- login throttling ---- */

int store_throttle_get(crm_db *db, const char *account, const char *address, long window_s,
                       throttle_state *acct, throttle_state *addr)
{
    int rc;

    memset(acct, 0, sizeof(*acct));
    memset(addr, 0, sizeof(*addr));
    STMT(db, THROTTLE_GET);
    crm_stmt_bind_int(st, 0, window_s);
    crm_stmt_bind_str(st, 1, account, strlen(account));
    crm_stmt_bind_str(st, 2, address, strlen(address));
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    while ((rc = crm_stmt_fetch(st)) == CRM_OK) {
        size_t n = 0;
        const char *scope = crm_stmt_col_str(st, 0, &n);
        throttle_state *t =
            scope != NULL && n == 7 && memcmp(scope, "account", 7) == 0 ? acct : addr;
        t->failures = crm_stmt_col_int(st, 1);
        t->remaining_us = crm_stmt_col_int(st, 2);
    }
    crm_stmt_done(st);
    return rc == CRM_NOTFOUND ? CRM_OK : rc;
}

int store_throttle_fail(crm_db *db, const char *account, const char *address, long window_s)
{
    STMT(db, THROTTLE_FAIL);
    crm_stmt_bind_str(st, 0, account, strlen(account));
    crm_stmt_bind_str(st, 1, address, strlen(address));
    crm_stmt_bind_int(st, 2, window_s);
    crm_stmt_bind_int(st, 3, window_s);
    return crm_stmt_exec(st);
}

int store_throttle_reset(crm_db *db, const char *account, const char *address)
{
    int rc;
    {
        STMT(db, THROTTLE_RESET);
        crm_stmt_bind_str(st, 0, account, strlen(account));
        if ((rc = crm_stmt_exec(st)) != CRM_OK)
            return rc;
    }
    STMT(db, THROTTLE_FORGIVE);
    crm_stmt_bind_str(st, 0, address, strlen(address));
    return crm_stmt_exec(st);
}

int store_throttle_purge(crm_db *db, long window_s, int64_t limit)
{
    STMT(db, THROTTLE_PURGE);
    crm_stmt_bind_int(st, 0, window_s);
    crm_stmt_bind_int(st, 1, limit);
    return crm_stmt_exec(st);
}
