/*
 * campaigns.c - campaigns and their life cycle:
 *
 *   draft --schedule--> scheduled --activate--> active --pause--> paused
 *                                                 |   ^--resume----'  |
 *                                                 `--complete--> completed <--complete--'
 *
 * One table says which action leads where; the 409 bodies are read from it.
 */
#include "marketing.h"

#include "crm_api.h"
#include "crm_body.h"
#include "crm_idem.h"

#include <stdio.h>
#include <string.h>

static const char *const status_names[CAMPAIGN_NSTATUS] = { "draft", "scheduled", "active",
                                                            "paused", "completed" };
static const char *const action_names[CACT_N] = { "schedule", "activate", "pause", "resume",
                                                  "complete" };
const char *const campaign_channels[] = { "email", "sms", "social", "event", "ads", NULL };

/* next[from][action]: the status reached, or -1 when not allowed. */
static const int next[CAMPAIGN_NSTATUS][CACT_N] = {
    [CAMPAIGN_DRAFT] = { CAMPAIGN_SCHEDULED, -1, -1, -1, -1 },
    [CAMPAIGN_SCHEDULED] = { -1, CAMPAIGN_ACTIVE, -1, -1, -1 },
    [CAMPAIGN_ACTIVE] = { -1, -1, CAMPAIGN_PAUSED, -1, CAMPAIGN_COMPLETED },
    [CAMPAIGN_PAUSED] = { -1, -1, -1, CAMPAIGN_ACTIVE, CAMPAIGN_COMPLETED },
    [CAMPAIGN_COMPLETED] = { -1, -1, -1, -1, -1 },
};

const char *campaign_status_name(campaign_status s)
{
    return (unsigned)s < CAMPAIGN_NSTATUS ? status_names[s] : "unknown";
}

int campaign_status_parse(const char *s, campaign_status *out)
{
    for (int i = 0; s != NULL && i < CAMPAIGN_NSTATUS; i++) {
        if (strcmp(s, status_names[i]) == 0) {
            *out = (campaign_status)i;
            return CRM_OK;
        }
    }
    return CRM_INVALID;
}

const char *campaign_action_name(campaign_action a)
{
    return (unsigned)a < CACT_N ? action_names[a] : "unknown";
}

int campaign_transition(campaign_status from, campaign_action act, campaign_status *to)
{
    if ((unsigned)from >= CAMPAIGN_NSTATUS || (unsigned)act >= CACT_N || next[from][act] < 0)
        return CRM_CONFLICT;
    *to = (campaign_status)next[from][act];
    return CRM_OK;
}

/* "campaign_status":"draft","allowed":["schedule"] */
static const char *conflict_members(crm_arena *a, campaign_status s)
{
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_buf_printf(&b, "\"campaign_status\":\"%s\",\"allowed\":[", campaign_status_name(s));
    int first = 1;
    for (int act = 0; act < CACT_N; act++) {
        if ((unsigned)s < CAMPAIGN_NSTATUS && next[s][act] >= 0) {
            crm_buf_printf(&b, "%s\"%s\"", first ? "" : ",", action_names[act]);
            first = 0;
        }
    }
    crm_buf_putc(&b, ']');
    const char *out = crm_arena_strndup(a, b.data, b.len);
    crm_buf_free(&b);
    return out;
}

/* ---- JSON ---- */

static void campaign_json(crm_buf *b, crm_arena *a, const campaign *c)
{
    crm_buf_printf(b, "{\"id\":%lld,\"name\":", (long long)c->id);
    crm_api_put_str(b, c->name);
    crm_buf_puts(b, ",\"description\":");
    crm_api_put_str(b, c->description);
    crm_buf_puts(b, ",\"channel\":");
    crm_api_put_str(b, c->channel);
    crm_buf_printf(b, ",\"status\":\"%s\",\"budget_cents\":%lld,\"currency\":",
                   campaign_status_name(c->status), (long long)c->budget_cents);
    crm_api_put_str(b, c->currency);
    crm_buf_puts(b, ",\"starts_at\":");
    crm_api_put_str(b, c->starts_at ? crm_api_iso(a, c->starts_at) : NULL);
    crm_buf_puts(b, ",\"ends_at\":");
    crm_api_put_str(b, c->ends_at ? crm_api_iso(a, c->ends_at) : NULL);
    crm_buf_puts(b, ",\"segment_id\":");
    crm_api_put_id(b, c->segment_id);
    crm_buf_printf(b, ",\"version\":%lld,\"created_at\":", (long long)c->version);
    crm_api_put_str(b, c->created_at);
    crm_buf_puts(b, ",\"updated_at\":");
    crm_api_put_str(b, c->updated_at);
    crm_buf_putc(b, '}');
}

static int send_campaign(crm_req *r, int status, const campaign *c)
{
    crm_buf_reset(&mk_out);
    campaign_json(&mk_out, crm_req_arena(r), c);
    crm_res_header(r, "ETag", crm_api_etag(crm_req_arena(r), c->version));
    return crm_api_send(r, status, &mk_out);
}

static int not_found(crm_req *r)
{
    return crm_problem(r, 404, "no such campaign");
}

static int stale(crm_req *r, int64_t version)
{
    crm_db_rollback(mk_db);
    crm_res_header(r, "ETag", crm_api_etag(crm_req_arena(r), version));
    return crm_problem(r, 412, "the campaign changed since you read it");
}

static int conflict(crm_req *r, const char *type, const char *title, const char *detail,
                    campaign_status s)
{
    crm_db_rollback(mk_db);
    crm_problem_t p = { .status = 409,
                        .type = type,
                        .title = title,
                        .detail = detail,
                        .extra = conflict_members(crm_req_arena(r), s) };
    return crm_problem_send(r, &p);
}

/* ---- input ---- */

static const char *const fields[] = {
    "name",      "description", "channel",    "budget_cents", "currency",
    "starts_at", "ends_at",     "segment_id", NULL,
};
static const char *const readonly[] = {
    "id", "status", "version", "created_at", "updated_at", NULL
};

enum {
    C_NAME = 1,
    C_DESC = 2,
    C_CHANNEL = 4,
    C_BUDGET = 8,
    C_CURRENCY = 16,
    C_STARTS = 32,
    C_ENDS = 64,
    C_SEGMENT = 128
};

/* Validate into c; create needs name, channel and currency. */
static void read_campaign_in(crm_valid *v, const crm_fields *fs, int create, campaign *c,
                             unsigned *present)
{
    const char *s = NULL;
    int64_t i = 0;

    *present = 0;
    if (crm_valid_string(v, "name", create, 1, 200, &s) == CRM_OK) {
        if (s == NULL)
            crm_valid_error(v, "name", "must not be null");
        c->name = s;
        *present |= C_NAME;
    }
    s = NULL;
    if (crm_valid_string(v, "description", 0, 0, 2000, &s) == CRM_OK &&
        crm_fields_get(fs, "description") != NULL) {
        c->description = s != NULL && *s != '\0' ? s : NULL;
        *present |= C_DESC;
    }
    s = NULL;
    if (crm_valid_enum(v, "channel", create, campaign_channels, &s) == CRM_OK &&
        crm_fields_get(fs, "channel") != NULL) {
        if (s == NULL)
            crm_valid_error(v, "channel", "must not be null");
        c->channel = s;
        *present |= C_CHANNEL;
    }
    if (crm_api_is_null(fs, "budget_cents")) {
        crm_valid_error(v, "budget_cents", "must not be null");
    } else if (crm_fields_get(fs, "budget_cents") != NULL &&
               crm_valid_int(v, "budget_cents", 0, 0, MONEY_MAX, &i) == CRM_OK) {
        c->budget_cents = i;
        *present |= C_BUDGET;
    }
    if (crm_fields_get(fs, "currency") != NULL || create) {
        s = NULL;
        if (crm_valid_string(v, "currency", create, 3, 3, &s) == CRM_OK) {
            if (s == NULL || !crm_valid_is_currency(s))
                crm_valid_error(v, "currency",
                                "must be an ISO 4217 currency code in upper case, like EUR");
            c->currency = s;
            *present |= C_CURRENCY;
        }
    }
    s = NULL;
    if (crm_fields_get(fs, "starts_at") != NULL &&
        crm_valid_datetime(v, "starts_at", 0, &s) == CRM_OK) {
        c->starts_at = s;
        *present |= C_STARTS;
    }
    s = NULL;
    if (crm_fields_get(fs, "ends_at") != NULL &&
        crm_valid_datetime(v, "ends_at", 0, &s) == CRM_OK) {
        c->ends_at = s;
        *present |= C_ENDS;
    }
    if (crm_fields_get(fs, "segment_id") != NULL) {
        if (crm_api_is_null(fs, "segment_id")) {
            c->segment_id = 0;
            *present |= C_SEGMENT;
        } else if (crm_valid_int(v, "segment_id", 0, 1, MONEY_MAX, &i) == CRM_OK) {
            c->segment_id = i;
            *present |= C_SEGMENT;
        }
    }
}

static void merge(campaign *in, unsigned present, const campaign *cur)
{
    if (!(present & C_NAME))
        in->name = cur->name;
    if (!(present & C_DESC))
        in->description = cur->description;
    if (!(present & C_CHANNEL))
        in->channel = cur->channel;
    if (!(present & C_BUDGET))
        in->budget_cents = cur->budget_cents;
    if (!(present & C_CURRENCY))
        in->currency = cur->currency;
    if (!(present & C_STARTS))
        in->starts_at = cur->starts_at;
    if (!(present & C_ENDS))
        in->ends_at = cur->ends_at;
    if (!(present & C_SEGMENT))
        in->segment_id = cur->segment_id;
}

/* Checks across fields, on the merged campaign: CRM_OK, or the status of
   the 422 sent (after rolling back). */
static int check_whole(crm_req *r, const campaign *c)
{
    crm_field_error e = { .field = NULL, .message = NULL };
    if (c->starts_at != NULL && c->ends_at != NULL && strcmp(c->ends_at, c->starts_at) <= 0) {
        e.field = "ends_at";
        e.message = "must be after starts_at";
    } else if (c->starts_at == NULL && c->status != CAMPAIGN_DRAFT) {
        /* scheduling needed it; a scheduled or running campaign keeps it */
        e.field = "starts_at";
        e.message = "a campaign past draft needs a start";
    }
    if (e.field == NULL)
        return CRM_OK;
    crm_db_rollback(mk_db);
    return crm_api_invalid(r, &e, 1);
}

/* segment_id names an existing segment (share-locked till commit):
   CRM_OK, NO_SEGMENT or a database status. */
#define NO_SEGMENT 4
static int check_segment(int64_t id)
{
    int exists = 0;
    int rc;

    if (id <= 0)
        return CRM_OK;
    if ((rc = store_segment_exists(mk_db, id, &exists)) != CRM_OK)
        return rc;
    return exists ? CRM_OK : NO_SEGMENT;
}

static int no_segment(crm_req *r)
{
    crm_field_error e = { .field = "segment_id", .message = "no such segment" };
    return crm_api_invalid(r, &e, 1);
}

/* ---- handlers ---- */

int campaigns_get(crm_req *r)
{
    int64_t id;
    campaign c;
    crm_etags inm;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return not_found(r);
    if ((rc = crm_api_if_none_match(r, &inm)) != CRM_OK)
        return rc;
    rc = store_campaign_get(mk_db, crm_req_arena(r), id, 0, &c);
    if (rc == CRM_NOTFOUND)
        return not_found(r);
    if (rc != CRM_OK)
        return mk_db_error(r, rc);
    if (crm_api_not_modified(r, &inm, c.version))
        return 304;
    return send_campaign(r, 200, &c);
}

void list_filter_from(list_filter *f, const crm_api_list *l)
{
    f->sort = l->sort;
    f->after = l->after;
    f->after_value = l->after_value;
    f->after_id = l->after_id;
    f->limit = (int)l->limit + 1; /* one more: is there a next page? */
}

/* A query value; from a form, an empty one means "any" (NULL). */
static const char *query_value(crm_req *r, const char *name, int form)
{
    const char *s = crm_req_query(r, name);
    return form && s != NULL && *s == '\0' ? NULL : s;
}

void campaigns_filter(crm_req *r, int form, list_filter *f, crm_api_list *l, crm_field_error *errs,
                      size_t *ne)
{
    campaign_status cs;
    const char *s;

    memset(f, 0, sizeof(*f));
    crm_api_list_params(r, "campaigns", list_sorts, l, errs, ne);
    if ((s = query_value(r, "status", form)) != NULL) {
        if (campaign_status_parse(s, &cs) == CRM_OK) {
            f->status = s;
        } else {
            errs[*ne].field = "status";
            errs[(*ne)++].message = "must be draft, scheduled, active, paused or completed";
        }
    }
    if ((s = query_value(r, "channel", form)) != NULL) {
        if (crm_api_in_list(campaign_channels, s)) {
            f->channel = s;
        } else {
            errs[*ne].field = "channel";
            errs[(*ne)++].message = "must be email, sms, social, event or ads";
        }
    }
    if ((s = query_value(r, "segment", form)) != NULL &&
        crm_api_parse_int(s, 1, MONEY_MAX, &f->segment) != CRM_OK) {
        errs[*ne].field = "segment";
        errs[(*ne)++].message = "must be a segment id";
    }
    list_filter_from(f, l);
}

int campaigns_list(crm_req *r)
{
    static const char *const params[] = {
        "limit", "cursor", "status", "channel", "segment", "sort", "count", NULL,
    };
    crm_arena *a = crm_req_arena(r);
    crm_field_error errs[8];
    size_t ne = 0;
    list_filter f;
    crm_api_list l;
    int rc;

    if ((rc = crm_req_query_check(r, params)) != CRM_OK)
        return rc;
    campaigns_filter(r, 0, &f, &l, errs, &ne);
    if (ne > 0)
        return crm_api_bad_query(r, errs, ne);
    campaign *rows = crm_arena_alloc(a, sizeof(campaign) * (size_t)f.limit);
    size_t n = 0;
    int64_t count = 0;
    if ((rc = store_campaign_list(mk_db, a, &f, rows, &n)) != CRM_OK)
        return mk_db_error(r, rc);
    if (l.count && (rc = store_campaign_count(mk_db, &f, &count)) != CRM_OK)
        return mk_db_error(r, rc);
    size_t shown = n > (size_t)l.limit ? (size_t)l.limit : n;
    crm_buf_reset(&mk_out);
    crm_api_page_begin(&mk_out);
    for (size_t i = 0; i < shown; i++) {
        crm_api_page_sep(&mk_out, i);
        campaign_json(&mk_out, a, &rows[i]);
    }
    const campaign *last = &rows[shown > 0 ? shown - 1 : 0];
    crm_api_page_finish(&mk_out, a, &l, n, last->sort_value, last->id, count);
    return crm_api_send(r, 200, &mk_out);
}

static int create_tx(crm_req *r, crm_idem *idem, campaign *c, const char *now, const char **loc)
{
    crm_arena *a = crm_req_arena(r);
    int64_t id = 0;
    int rc;

    if ((rc = crm_db_begin(mk_db)) != CRM_OK)
        return rc;
    if ((rc = crm_idem_claim(idem, mk_db, a)) != CRM_OK || idem->replay)
        goto out;
    if ((rc = check_segment(c->segment_id)) != CRM_OK)
        goto out;
    if ((rc = store_campaign_insert(mk_db, c, now, &id)) != CRM_OK)
        goto out;
    c->id = id;
    c->status = CAMPAIGN_DRAFT;
    c->version = 1;
    c->created_at = c->updated_at = crm_api_iso(a, now);
    crm_buf_reset(&mk_out);
    campaign_json(&mk_out, a, c);
    *loc = crm_arena_printf(a, "/api/v1/campaigns/%lld", (long long)id);
    rc = crm_idem_store(idem, mk_db, 201, *loc, crm_api_etag(a, 1), mk_out.data, mk_out.len);
    if (rc == CRM_OK)
        rc = crm_db_commit(mk_db);
out:
    if (rc != CRM_OK || idem->replay)
        crm_db_rollback(mk_db);
    return rc;
}

int campaigns_create(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    crm_fields fs;
    crm_valid v;
    crm_idem idem;
    campaign c;
    unsigned present;
    const char *loc = NULL;
    int rc;

    if ((rc = crm_body_fields(r, &fs)) != CRM_OK)
        return rc;
    if ((rc = crm_api_check_fields(r, fs.items, fs.n, NULL, fields, readonly)) != CRM_OK)
        return rc;
    if (crm_idem_init(&idem, r, "campaigns.create") != CRM_OK)
        return crm_api_bad_header(r, "Idempotency-Key",
                                  "must be 1 to 255 visible ASCII characters");
    memset(&c, 0, sizeof(c));
    crm_valid_init(&v, a, &fs);
    read_campaign_in(&v, &fs, 1, &c, &present);
    if (!crm_valid_ok(&v))
        return crm_api_invalid(r, v.errors, v.n);
    if ((rc = check_whole(r, &c)) != CRM_OK)
        return rc;
    const char *now = crm_api_now(a);
    for (int attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        rc = create_tx(r, &idem, &c, now, &loc);
        if (rc != CRM_CONFLICT)
            break;
    }
    if (rc == NO_SEGMENT)
        return no_segment(r);
    if (rc == CRM_INVALID)
        return crm_api_idem_reused(r);
    if (rc != CRM_OK)
        return mk_db_error(r, rc);
    if (idem.replay) {
        const char *id = idem.location ? strrchr(idem.location, '/') : NULL;
        return crm_api_replay(r, fs.form, &idem,
                              crm_arena_printf(a, "/campaigns%s", id ? id : "/"));
    }
    return crm_api_created(r, fs.form, loc, crm_arena_printf(a, "/campaigns/%lld", (long long)c.id),
                           crm_api_etag(a, 1), &mk_out);
}

int campaigns_patch(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    crm_fields fs;
    crm_valid v;
    campaign in, cur;
    crm_etags im;
    unsigned present;
    int64_t id;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return not_found(r);
    if ((rc = crm_api_if_match(r, &im)) != CRM_OK)
        return rc;
    if ((rc = crm_body_fields(r, &fs)) != CRM_OK)
        return rc;
    if ((rc = crm_api_check_fields(r, fs.items, fs.n, NULL, fields, readonly)) != CRM_OK)
        return rc;
    memset(&in, 0, sizeof(in));
    crm_valid_init(&v, a, &fs);
    if (fs.n == 0)
        crm_valid_error(&v, "", "the body names no field to change");
    read_campaign_in(&v, &fs, 0, &in, &present);
    if (!crm_valid_ok(&v))
        return crm_api_invalid(r, v.errors, v.n);
    const char *now = crm_api_now(a);

    for (int attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        campaign w = in;
        if ((rc = crm_db_begin(mk_db)) != CRM_OK)
            break;
        rc = store_campaign_get(mk_db, a, id, 1, &cur);
        if (rc == CRM_OK && im.present && !crm_api_etags_match(&im, cur.version, 1))
            return stale(r, cur.version);
        if (rc == CRM_OK && cur.status == CAMPAIGN_COMPLETED)
            return conflict(r, "campaign-completed", "Campaign completed",
                            "a completed campaign cannot be changed", cur.status);
        if (rc == CRM_OK) {
            merge(&w, present, &cur);
            w.id = id;
            w.status = cur.status;
            if ((rc = check_whole(r, &w)) != CRM_OK)
                return rc;
            if (present & C_SEGMENT)
                rc = check_segment(w.segment_id);
        }
        if (rc == CRM_OK)
            rc = store_campaign_update(mk_db, &w, now);
        if (rc == CRM_OK)
            rc = store_campaign_get(mk_db, a, id, 0, &cur);
        if (rc == CRM_OK)
            rc = crm_db_commit(mk_db);
        if (rc == CRM_OK)
            return send_campaign(r, 200, &cur);
        crm_db_rollback(mk_db);
        if (rc != CRM_CONFLICT)
            break;
    }
    if (rc == CRM_NOTFOUND)
        return not_found(r);
    if (rc == NO_SEGMENT)
        return no_segment(r);
    return mk_db_error(r, rc);
}

int campaigns_delete(crm_req *r)
{
    campaign c;
    crm_etags im;
    int64_t id;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return not_found(r);
    if ((rc = crm_api_if_match(r, &im)) != CRM_OK)
        return rc;
    if ((rc = crm_db_begin(mk_db)) == CRM_OK) {
        rc = store_campaign_get(mk_db, crm_req_arena(r), id, 1, &c);
        if (rc == CRM_OK && im.present && !crm_api_etags_match(&im, c.version, 1))
            return stale(r, c.version);
        if (rc == CRM_OK && c.status != CAMPAIGN_DRAFT)
            return conflict(r, "campaign-not-draft", "Campaign not a draft",
                            "only a draft campaign can be deleted", c.status);
        if (rc == CRM_OK)
            rc = store_campaign_delete(mk_db, id);
        if (rc == CRM_OK)
            rc = crm_db_commit(mk_db);
        if (rc == CRM_OK)
            return crm_res_send(r, 204, NULL, NULL, 0);
        crm_db_rollback(mk_db);
    }
    if (rc == CRM_NOTFOUND)
        return not_found(r);
    return mk_db_error(r, rc);
}

/* One attempt at an action; the answer's body ends up in mk_out. A
   problem already sent returns its status (> CRM_OK's range: 4xx). */
static int act_tx(crm_req *r, crm_idem *idem, const crm_etags *im, int64_t id,
                  campaign_action action, campaign *c)
{
    crm_arena *a = crm_req_arena(r);
    const char *now = crm_api_now(a);
    campaign_status to;
    int rc;

    if ((rc = crm_db_begin(mk_db)) != CRM_OK)
        return rc;
    if ((rc = crm_idem_claim(idem, mk_db, a)) != CRM_OK || idem->replay)
        goto out;
    if ((rc = store_campaign_get(mk_db, a, id, 1, c)) != CRM_OK)
        goto out;
    if (im->present && !crm_api_etags_match(im, c->version, 1))
        return stale(r, c->version);
    if (campaign_transition(c->status, action, &to) != CRM_OK)
        return conflict(r, "invalid-transition", "Invalid transition",
                        crm_arena_printf(a, "a %s campaign cannot %s",
                                         campaign_status_name(c->status), action_names[action]),
                        c->status);
    if (action == CACT_SCHEDULE && c->starts_at == NULL)
        return conflict(r, "campaign-not-ready", "Campaign not ready",
                        "a campaign needs starts_at to be scheduled", c->status);
    if ((rc = store_campaign_set_status(mk_db, id, to, now)) != CRM_OK)
        goto out;
    if ((rc = store_campaign_get(mk_db, a, id, 0, c)) != CRM_OK)
        goto out;
    crm_buf_reset(&mk_out);
    campaign_json(&mk_out, a, c);
    rc = crm_idem_store(idem, mk_db, 200, NULL, crm_api_etag(a, c->version), mk_out.data,
                        mk_out.len);
    if (rc == CRM_OK)
        rc = crm_db_commit(mk_db);
out:
    if (rc != CRM_OK || idem->replay)
        crm_db_rollback(mk_db);
    return rc;
}

static int act(crm_req *r, campaign_action action)
{
    crm_arena *a = crm_req_arena(r);
    crm_etags im;
    crm_idem idem;
    campaign c;
    int64_t id;
    int rc = CRM_ERR;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return not_found(r);
    if ((rc = crm_api_if_match(r, &im)) != CRM_OK)
        return rc;
    if (crm_idem_init(&idem, r,
                      crm_arena_printf(a, "campaigns.%s.%lld", action_names[action],
                                       (long long)id)) != CRM_OK)
        return crm_api_bad_header(r, "Idempotency-Key",
                                  "must be 1 to 255 visible ASCII characters");
    for (int attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        rc = act_tx(r, &idem, &im, id, action, &c);
        if (rc != CRM_CONFLICT || crm_res_status(r) != 0)
            break;
    }
    if (crm_res_status(r) != 0)
        return rc; /* a problem was sent */
    if (rc == CRM_INVALID)
        return crm_api_idem_reused(r);
    if (rc == CRM_NOTFOUND)
        return not_found(r);
    if (rc != CRM_OK)
        return mk_db_error(r, rc);
    if (idem.replay)
        return crm_idem_replay(&idem, r);
    crm_res_header(r, "ETag", crm_api_etag(a, c.version));
    return crm_api_send(r, 200, &mk_out);
}

int campaigns_schedule(crm_req *r)
{
    return act(r, CACT_SCHEDULE);
}

int campaigns_activate(crm_req *r)
{
    return act(r, CACT_ACTIVATE);
}

int campaigns_pause(crm_req *r)
{
    return act(r, CACT_PAUSE);
}

int campaigns_resume(crm_req *r)
{
    return act(r, CACT_RESUME);
}

int campaigns_complete(crm_req *r)
{
    return act(r, CACT_COMPLETE);
}
