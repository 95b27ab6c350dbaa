/*
 * crm_outbox.c - the outbox and its delivery cursors (see crm_outbox.h),
 * with their SQL.
 */
#include "crm_outbox.h"

#include "crm_log.h"

#include <string.h>

/* crm_db keys of this module (crm_db.h: 500-504 are ours). */
enum {
    ST_OUTBOX_ADD = 500,
    ST_OUTBOX_FETCH,
    ST_CURSOR_GET,
    ST_CURSOR_SET,
    ST_PENDING,
    ST_SEQ_TOP = 509,
    ST_SEQ_READY,
    ST_SEQ_SET,
};

#define SEQUENCE_MAX 1000
#define SEQ_CHUNK    64 /* events numbered by one UPDATE */

static const char SQL_OUTBOX_ADD[] =
    "INSERT INTO outbox (event_id, type, aggregate_id, aggregate_version, occurred_at, payload)"
    " VALUES (?, ?, ?, ?, ?, ?)";
static const char SQL_OUTBOX_FETCH[] =
    "SELECT seq, event_id, type, aggregate_id, aggregate_version, occurred_at, payload"
    " FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?";
static const char SQL_SEQ_TOP[] = "SELECT COALESCE(MAX(seq), 0) FROM outbox";
/* uq_outbox_seq holds the NULLs in id order. */
static const char SQL_SEQ_READY[] =
    "SELECT id FROM outbox WHERE seq IS NULL ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED";
/* "UPDATE outbox SET seq = CASE id WHEN ? THEN ? ... END WHERE id IN (?, ...)",
   SEQ_CHUNK of each, made once by seq_set_sql(); unused places get id 0,
   which no row has. */
static char sql_seq_set[64 + SEQ_CHUNK * 16 + 32 + SEQ_CHUNK * 3];

static const char *seq_set_sql(void)
{
    if (sql_seq_set[0] != '\0')
        return sql_seq_set;
    crm_db_sql_append(sql_seq_set, sizeof(sql_seq_set), "UPDATE outbox SET seq = CASE id");
    for (int i = 0; i < SEQ_CHUNK; i++)
        crm_db_sql_append(sql_seq_set, sizeof(sql_seq_set), " WHEN ? THEN ?");
    crm_db_sql_append(sql_seq_set, sizeof(sql_seq_set), " END WHERE id IN (?");
    for (int i = 1; i < SEQ_CHUNK; i++)
        crm_db_sql_append(sql_seq_set, sizeof(sql_seq_set), ", ?");
    crm_db_sql_append(sql_seq_set, sizeof(sql_seq_set), ")");
    return sql_seq_set;
}
static const char SQL_CURSOR_GET[] = "SELECT last_id FROM outbox_cursors WHERE subscriber = ?";
/* Bound twice rather than VALUES(last_id): MySQL 8.0.20 deprecated that. */
static const char SQL_CURSOR_SET[] =
    "INSERT INTO outbox_cursors (subscriber, last_id, updated_at)"
    " VALUES (?, ?, CURRENT_TIMESTAMP(6))"
    " ON DUPLICATE KEY UPDATE last_id = GREATEST(last_id, ?), updated_at = CURRENT_TIMESTAMP(6)";
/* Sessions run in UTC (crm_db.c), like the occurred_at values written. */
static const char SQL_PENDING[] =
    "SELECT COUNT(*), COALESCE(TIMESTAMPDIFF(MICROSECOND, MIN(occurred_at),"
    " CURRENT_TIMESTAMP(6)), 0) FROM outbox WHERE seq IS NULL"
    " OR seq > COALESCE((SELECT last_id FROM outbox_cursors WHERE subscriber = ?), 0)";

int crm_outbox_add(crm_db *db, const char *type, int64_t aggregate_id, int64_t aggregate_version,
                   const char *occurred_sql, const char *payload, size_t len)
{
    const char *problem = NULL;

    /* A bug in the producer: say what is wrong, never the payload itself. */
    if (type == NULL || !crm_event_type_ok(type, strlen(type)))
        problem = "type is not 1..64 of [a-z._]";
    else if (aggregate_id < 1)
        problem = "aggregate_id is not positive";
    else if (aggregate_version < 1 || aggregate_version > CRM_EVENT_VERSION_MAX)
        problem = "aggregate_version is not in 1..4294967295";
    else if (occurred_sql == NULL)
        problem = "occurred_at is missing";
    if (problem != NULL) {
        crm_log_error("outbox: event refused: %s", problem);
        return CRM_INVALID;
    }
    if ((problem = crm_event_payload_problem(payload, len)) != NULL) {
        crm_log_error("outbox: event refused: payload: %s", problem);
        return CRM_INVALID;
    }

    char id[37];
    crm_event_uuid(id);
    crm_stmt *st = crm_db_stmt(db, ST_OUTBOX_ADD, SQL_OUTBOX_ADD);
    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_str(st, 0, id, 36);
    crm_stmt_bind_str(st, 1, type, strlen(type));
    crm_stmt_bind_int(st, 2, aggregate_id);
    crm_stmt_bind_int(st, 3, aggregate_version);
    crm_stmt_bind_str(st, 4, occurred_sql, strlen(occurred_sql));
    crm_stmt_bind_str(st, 5, payload, len);
    return crm_stmt_exec(st);
}

int crm_outbox_sequence(crm_db *db, size_t max, size_t *n)
{
    int64_t ids[SEQUENCE_MAX], top = 0;
    size_t got = 0;
    crm_stmt *st;
    int rc;

    *n = 0;
    if (max > SEQUENCE_MAX)
        max = SEQUENCE_MAX;
    if (max == 0)
        return CRM_OK;
    /*
     * READ COMMITTED: no gap locks, so producers inserting new rows never
     * wait for this transaction, and MAX(seq) is the latest committed.
     */
    if ((rc = crm_db_exec_sql(db, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED")) != CRM_OK)
        return rc;
    if ((rc = crm_db_begin(db)) != CRM_OK)
        return rc;
    if ((st = crm_db_stmt(db, ST_SEQ_TOP, SQL_SEQ_TOP)) == NULL) {
        rc = crm_db_status(db);
        goto out;
    }
    if ((rc = crm_stmt_exec_int(st, &top)) != CRM_OK)
        goto out;
    if ((st = crm_db_stmt(db, ST_SEQ_READY, SQL_SEQ_READY)) == NULL) {
        rc = crm_db_status(db);
        goto out;
    }
    crm_stmt_bind_int(st, 0, (int64_t)max);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        goto out;
    while (got < max && (rc = crm_stmt_fetch(st)) == CRM_OK)
        ids[got++] = crm_stmt_col_int(st, 0);
    crm_stmt_done(st);
    if (rc != CRM_OK && rc != CRM_NOTFOUND)
        goto out;
    rc = CRM_OK;
    if (got > 0 && (st = crm_db_stmt(db, ST_SEQ_SET, seq_set_sql())) == NULL) {
        rc = crm_db_status(db);
        goto out;
    }
    /* One UPDATE per SEQ_CHUNK events: a round trip each, not per event. */
    for (size_t i = 0; i < got && rc == CRM_OK; i += SEQ_CHUNK) {
        for (unsigned k = 0; k < SEQ_CHUNK; k++) {
            int used = i + k < got;
            int64_t id = used ? ids[i + k] : 0;
            crm_stmt_bind_int(st, 2 * k, id);
            crm_stmt_bind_int(st, 2 * k + 1, used ? top + (int64_t)(i + k) + 1 : 0);
            crm_stmt_bind_int(st, 2 * SEQ_CHUNK + k, id);
        }
        rc = crm_stmt_exec(st);
    }
    if (rc == CRM_OK)
        rc = crm_db_commit(db);
out:
    if (rc != CRM_OK) {
        crm_db_rollback(db);
        return rc;
    }
    *n = got;
    return CRM_OK;
}

int crm_outbox_fetch(crm_db *db, crm_arena *a, int64_t after, size_t max, crm_event *ev, size_t *n)
{
    size_t got = 0;
    int rc;

    if (max == 0) {
        *n = 0;
        return CRM_OK;
    }
    crm_stmt *st = crm_db_stmt(db, ST_OUTBOX_FETCH, SQL_OUTBOX_FETCH);
    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, after);
    crm_stmt_bind_int(st, 1, max > INT64_MAX ? INT64_MAX : (int64_t)max);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    while (got < max && (rc = crm_stmt_fetch(st)) == CRM_OK) {
        crm_event *e = &ev[got++];
        size_t pl = 0;
        const char *p = crm_stmt_col_str(st, 6, &pl);
        memset(e, 0, sizeof(*e));
        e->seq = crm_stmt_col_int(st, 0);
        e->id = crm_stmt_col_dup(st, a, 1);
        e->type = crm_stmt_col_dup(st, a, 2);
        e->aggregate_id = crm_stmt_col_int(st, 3);
        e->aggregate_version = crm_stmt_col_int(st, 4);
        e->occurred_at = crm_stmt_col_iso(st, a, 5);
        e->payload = crm_arena_strndup(a, p != NULL ? p : "", p != NULL ? pl : 0);
        e->payload_len = p != NULL ? pl : 0;
    }
    if (got == max)
        crm_stmt_done(st); /* LIMIT made it the end anyway */
    else if (rc != CRM_NOTFOUND)
        return rc;
    *n = got;
    return CRM_OK;
}

static int subscriber_ok(const char *subscriber)
{
    size_t n = subscriber != NULL ? strlen(subscriber) : 0;
    return n > 0 && n <= CRM_EVENT_SUBSCRIBER_MAX;
}

int crm_outbox_cursor_get(crm_db *db, const char *subscriber, int64_t *last)
{
    int rc;

    if (!subscriber_ok(subscriber))
        return CRM_INVALID;
    crm_stmt *st = crm_db_stmt(db, ST_CURSOR_GET, SQL_CURSOR_GET);
    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_str(st, 0, subscriber, strlen(subscriber));
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    rc = crm_stmt_fetch(st);
    if (rc == CRM_NOTFOUND) {
        *last = 0;
        return CRM_OK;
    }
    if (rc != CRM_OK)
        return rc;
    *last = crm_stmt_col_int(st, 0);
    crm_stmt_done(st);
    return CRM_OK;
}

int crm_outbox_cursor_set(crm_db *db, const char *subscriber, int64_t last)
{
    if (!subscriber_ok(subscriber) || last < 0)
        return CRM_INVALID;
    crm_stmt *st = crm_db_stmt(db, ST_CURSOR_SET, SQL_CURSOR_SET);
    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_str(st, 0, subscriber, strlen(subscriber));
    crm_stmt_bind_int(st, 1, last);
    crm_stmt_bind_int(st, 2, last);
    return crm_stmt_exec(st);
}

int crm_outbox_pending(crm_db *db, const char *subscriber, int64_t *count, double *oldest_age)
{
    int rc;

    if (!subscriber_ok(subscriber))
        return CRM_INVALID;
    crm_stmt *st = crm_db_stmt(db, ST_PENDING, SQL_PENDING);
    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_str(st, 0, subscriber, strlen(subscriber));
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    if ((rc = crm_stmt_fetch(st)) != CRM_OK)
        return rc == CRM_NOTFOUND ? CRM_ERR : rc; /* an aggregate has one row */
    int64_t c = crm_stmt_col_int(st, 0);
    int64_t us = crm_stmt_col_int(st, 1);
    crm_stmt_done(st);
    *count = c;
    /* A producer clock ahead of the database's must not read as negative. */
    *oldest_age = c > 0 && us > 0 ? (double)us / 1e6 : 0.0;
    return CRM_OK;
}
