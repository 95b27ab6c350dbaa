/*
 * replica.c - the customers sales sells to. Sales keeps its own copy (the
 * customers table of its schema); an order for a customer it has not seen
 * makes it ask the customers service, through NGINX's internal listener,
 * and keep the answer. The customers' events (a later issue) will keep the
 * copy current; this read-through stays as the fallback.
 */
#include "sales.h"

#include "crm_api.h"
#include "crm_http.h"
#include "crm_json.h"
#include "crm_log.h"

#include <stdio.h>
#include <string.h>

#define ANSWER_MAX (64u << 10)

static crm_http *http;

int replica_init(const crm_config *conf)
{
    http = crm_http_new(conf->internal_url, conf->http_timeout_ms, ANSWER_MAX);
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
    rc = crm_http_get(http, a, path, crm_req_id(r), &res);
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
    return store_replica_put(db, id, name, email, status, fdel->b, fver->i, crm_api_now(a));
}

int replica_ensure(crm_req *r, crm_db *db, int64_t id)
{
    int deleted = 0;
    int rc = store_replica_get(db, id, 0, &deleted);

    if (rc == CRM_OK)
        return deleted ? CRM_NOTFOUND : CRM_OK;
    if (rc != CRM_NOTFOUND)
        return rc;
    rc = fetch(r, db, id, &deleted);
    if (rc == CRM_OK && deleted)
        return CRM_NOTFOUND;
    return rc;
}
