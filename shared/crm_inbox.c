/*
 * crm_inbox.c - POST /internal/v1/events (see crm_inbox.h).
 */
#include "crm_inbox.h"

#include "crm_api.h"
#include "crm_log.h"
#include "crm_problem.h"

#include <string.h>
#include <time.h>

#define ATTEMPTS 3 /* deadlocks are retried this many times per event */

/* crm_db key of this module (crm_db.h: 508 is ours). */
enum { ST_INBOX_CLAIM = 508 };

static const char SQL_INBOX_CLAIM[] = "INSERT INTO inbox (event_id, type) VALUES (?, ?)";

int crm_inbox_claim(crm_db *db, const char *event_id, const char *type)
{
    if (event_id == NULL || !crm_event_id_ok(event_id, strlen(event_id)) || type == NULL ||
        !crm_event_type_ok(type, strlen(type)))
        return CRM_INVALID;
    crm_stmt *st = crm_db_stmt(db, ST_INBOX_CLAIM, SQL_INBOX_CLAIM);
    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_str(st, 0, event_id, 36);
    crm_stmt_bind_str(st, 1, type, strlen(type));
    return crm_stmt_exec(st);
}

static int unauthorized(crm_req *r, const char *detail)
{
    crm_problem_t p = {
        .status = 401, .type = "bad-signature", .title = "Unauthorized", .detail = detail
    };
    return crm_problem_send(r, &p);
}

/* One event in its own transaction. CRM_DUP: applied before. */
static int apply_one(crm_db *db, crm_arena *a, const crm_event *ev, crm_inbox_apply apply)
{
    int rc = CRM_ERR;

    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        if ((rc = crm_db_begin(db)) != CRM_OK)
            return rc;
        rc = crm_inbox_claim(db, ev->id, ev->type);
        if (rc == CRM_OK)
            rc = apply(db, a, ev);
        if (rc == CRM_OK)
            rc = crm_db_commit(db);
        if (rc == CRM_OK)
            return CRM_OK;
        crm_db_rollback(db);
        if (rc != CRM_CONFLICT)
            return rc;
    }
    return rc;
}

/*
 * The common case first: the whole batch in one transaction (a claim and
 * the apply per event, one commit), which is what lets a consumer keep up
 * with a busy producer. CRM_OK with the counts, or anything else after a
 * rollback: the caller then goes event by event, which keeps the events
 * before a bad one and says which one it was.
 */
static int apply_batch(crm_db *db, crm_arena *a, const crm_event *ev, size_t n,
                       crm_inbox_apply apply, size_t *applied, size_t *dups)
{
    int rc = CRM_ERR;

    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        size_t ok = 0, dup = 0;
        if ((rc = crm_db_begin(db)) != CRM_OK)
            return rc;
        for (size_t i = 0; i < n && rc == CRM_OK; i++) {
            rc = crm_inbox_claim(db, ev[i].id, ev[i].type);
            if (rc == CRM_DUP) {
                /* Only the failed INSERT is undone: the transaction goes on. */
                dup++;
                rc = CRM_OK;
                continue;
            }
            if (rc == CRM_OK && (rc = apply(db, a, &ev[i])) == CRM_OK)
                ok++;
        }
        if (rc == CRM_OK)
            rc = crm_db_commit(db);
        if (rc == CRM_OK) {
            *applied = ok;
            *dups = dup;
            return CRM_OK;
        }
        crm_db_rollback(db);
        if (rc != CRM_CONFLICT)
            return rc;
    }
    return rc;
}

int crm_inbox_receive(crm_req *r, crm_db *db, const char *key, crm_inbox_apply apply)
{
    crm_arena *a = crm_req_arena(r);
    const char *body = NULL, *why = NULL;
    size_t len = 0, n = 0, applied = 0, dups = 0;
    crm_event *ev = NULL;
    int rc;

    if (key == NULL || key[0] == '\0')
        return unauthorized(r, "this service has no event key configured");
    rc = crm_req_body(r, &body, &len);
    if (rc == CRM_TOOBIG)
        return crm_problem(r, 413, "the batch is larger than the body limit");
    if (rc != CRM_OK)
        return crm_problem(r, 400, "the body could not be read");
    rc = crm_event_verify(key, strlen(key), crm_req_header(r, CRM_EVENT_TS_HEADER),
                          crm_req_header(r, CRM_EVENT_SIG_HEADER), body, len, (long long)time(NULL),
                          CRM_EVENT_MAX_SKEW);
    if (rc == CRM_CONFLICT)
        return unauthorized(r, "the timestamp is too far from now");
    if (rc != CRM_OK)
        return unauthorized(r, "missing or wrong signature");
    if (crm_event_batch_parse(a, body, len, &ev, &n, &why) != CRM_OK)
        return crm_problem(r, 400, why != NULL ? why : "not a batch of events");

    if (n > 1 && apply_batch(db, a, ev, n, apply, &applied, &dups) == CRM_OK)
        goto done;
    applied = dups = 0;
    for (size_t i = 0; i < n; i++) {
        rc = apply_one(db, a, &ev[i], apply);
        if (rc == CRM_DUP) {
            dups++;
            continue;
        }
        if (rc == CRM_OK) {
            applied++;
            continue;
        }
        if (rc == CRM_INVALID) {
            crm_log_error("event %s (%s) cannot be applied; the batch is refused", ev[i].id,
                          ev[i].type);
            return crm_problem(r, 422, "an event of the batch cannot be applied here");
        }
        return crm_api_db_error(r, db, rc);
    }
done:;
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_buf_printf(&b, "{\"applied\":%zu,\"duplicates\":%zu}", applied, dups);
    rc = crm_res_send(r, 200, CRM_API_JSON, b.data, b.len);
    crm_buf_free(&b);
    return rc;
}
