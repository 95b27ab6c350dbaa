/*
 * replica.c - the customers sales sells to. Sales keeps its own copy (the
 * customers table of its schema); an order for a customer it has not seen
 * makes it ask the customers service, through NGINX's internal listener,
 * and keep the answer. The customers' events (customer.created|updated|
 * deleted, POST /internal/v1/events) keep the copy current; the
 * read-through is the fallback for a customer whose event has not arrived.
 * A deleted customer keeps only its id here: name and email are erased.
 */
#include "sales.h"

#include "crm_auth.h"

#include "crm_api.h"
#include "crm_http.h"
#include "crm_inbox.h"
#include "crm_json.h"
#include "crm_log.h"

#include <stdio.h>
#include <string.h>

#define ANSWER_MAX (64u << 10)

static crm_http *http;

static const char *event_key; /* CRM_EVENT_KEY: checks events' signatures */

int replica_init(const crm_config *conf)
{
    http = crm_http_new(conf->internal_url, conf->http_timeout_ms, ANSWER_MAX);
    event_key = conf->event_key;
    return CRM_OK;
}

void replica_done(void)
{
    crm_http_free(http);
    http = NULL;
}

static const char *member_str(const crm_fields *fs, const char *name)
{
    const crm_field *f = crm_fields_get(fs, name);
    return f != NULL && f->type == CRM_FIELD_STRING ? f->str : NULL;
}

/* The customer's owner_id (a sales user), 0 when null or absent. */
static int64_t owner_of(const crm_fields *fs)
{
    const crm_field *f = crm_fields_get(fs, "owner_id");
    return f != NULL && f->type == CRM_FIELD_INT && f->i > 0 ? f->i : 0;
}

/*
 * Ask the customers service about id and store the answer. CRM_OK (stored;
 * *deleted says whether it is deleted), CRM_NOTFOUND (the service does not
 * know it), REPLICA_UNAVAILABLE (no answer, or one we cannot use), or a
 * database status.
 */
static int fetch(crm_req *r, crm_db *db, int64_t id, int *deleted)
{
    crm_arena *a = crm_req_arena(r);
    crm_http_res res;
    crm_fields fs;
    const char *why = NULL;
    char path[64];
    int rc;

    snprintf(path, sizeof(path), "/internal/v1/customers/%lld", (long long)id);
    /* Internal routes answer signed calls only (crm_auth.h). */
    char ts_line[64], sig_line[96];
    crm_auth_sign_path(event_key != NULL ? event_key : "", path, ts_line, sig_line);
    const char *headers[] = { ts_line, sig_line, NULL };
    rc = crm_http_get(http, a, path, crm_req_id(r), headers, &res);
    if (rc != CRM_OK)
        return REPLICA_UNAVAILABLE;
    if (res.status == 404)
        return CRM_NOTFOUND;
    if (res.status != 200) {
        crm_log_warn("customers service answered %d for customer %lld", res.status, (long long)id);
        return REPLICA_UNAVAILABLE;
    }
    if (crm_json_parse(a, res.body, res.len, &fs, &why) != CRM_OK) {
        crm_log_warn("customers service sent a body that is not JSON: %s", why ? why : "?");
        return REPLICA_UNAVAILABLE;
    }
    const crm_field *fid = crm_fields_get(&fs, "id"), *fver = crm_fields_get(&fs, "version");
    const crm_field *fdel = crm_fields_get(&fs, "deleted");
    const char *name = member_str(&fs, "name"), *email = member_str(&fs, "email");
    const char *status = member_str(&fs, "status");
    if (fid == NULL || fid->type != CRM_FIELD_INT || fid->i != id || fver == NULL ||
        fver->type != CRM_FIELD_INT || fdel == NULL || fdel->type != CRM_FIELD_BOOL ||
        name == NULL || email == NULL || status == NULL) {
        crm_log_warn("customers service sent an unexpected customer %lld", (long long)id);
        return REPLICA_UNAVAILABLE;
    }
    *deleted = fdel->b;
    if (fdel->b)
        return store_replica_erase(db, id, fver->i, crm_api_now(a));
    return store_replica_put(db, id, name, email, status, owner_of(&fs), 0, fver->i,
                             crm_api_now(a));
}

int replica_ensure(crm_req *r, crm_db *db, int64_t id)
{
    int deleted = 0;
    int64_t owner = 0;
    int rc = store_replica_get(db, id, 0, &deleted, &owner);

    if (rc == CRM_OK)
        return deleted ? CRM_NOTFOUND : CRM_OK;
    if (rc != CRM_NOTFOUND)
        return rc;
    rc = fetch(r, db, id, &deleted);
    if (rc == CRM_OK && deleted)
        return CRM_NOTFOUND;
    return rc;
}

/*
 * Apply one customer event to the replica (in the inbox's transaction).
 * Events of other types are acknowledged and ignored. A version older than
 * the replica's changes nothing (store_replica_*).
 */
static int apply(crm_db *db, crm_arena *a, const crm_event *ev)
{
    crm_fields fs;
    const char *why = NULL;
    int is_delete = strcmp(ev->type, "customer.deleted") == 0;

    if (!is_delete && strcmp(ev->type, "customer.created") != 0 &&
        strcmp(ev->type, "customer.updated") != 0)
        return CRM_OK;
    if (crm_json_parse(a, ev->payload, ev->payload_len, &fs, &why) != CRM_OK)
        return CRM_INVALID;
    if (is_delete)
        return store_replica_erase(db, ev->aggregate_id, ev->aggregate_version, crm_api_now(a));
    const char *name = member_str(&fs, "name"), *email = member_str(&fs, "email");
    const char *status = member_str(&fs, "status");
    if (name == NULL || email == NULL || status == NULL)
        return CRM_INVALID;
    return store_replica_put(db, ev->aggregate_id, name, email, status, owner_of(&fs), 0,
                             ev->aggregate_version, crm_api_now(a));
}

int sales_events(crm_req *r)
{
    return crm_inbox_receive(r, sales_db, event_key, apply);
}
