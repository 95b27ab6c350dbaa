/*
 * handlers.c - the customers service's HTTP handlers. Each one parses and
 * validates, runs its statements (store.c) in one transaction where it
 * writes, and answers; every error leaves through crm_problem_send.
 */
#include "customers.h"

#include "crm_api.h"
#include "crm_auth.h"
#include "crm_body.h"
#include "crm_buf.h"
#include "crm_cursor.h"
#include "crm_fts.h"
#include "crm_idem.h"
#include "crm_log.h"
#include "crm_outbox.h"
#include "crm_problem.h"
#include "crm_valid.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define OWNER_MAX     ((INT64_C(1) << 53) - 1)
#define LIMIT_DEFAULT 50
#define LIMIT_MAX     200
#define TAGS_MAX      20
#define TAG_LEN_MAX   32
#define NOTE_MAX      10000
#define OUT_CAP       (16u << 20)
#define TX_ATTEMPTS   3 /* deadlocks are retried this many times */

static crm_db *db;
static crm_buf out; /* response body, reused by every request of the worker */

const char *const customer_statuses[] = { "lead", "prospect", "customer", "churned", NULL };
const char *const customer_note_kinds[] = { "note", "call", "email", "meeting", NULL };
static const char *const customer_fields[] = {
    "name", "email", "phone", "company", "status", "owner_id", "tags", NULL,
};
static const char *const customer_readonly[] = {
    "id", "version", "created_at", "updated_at", "deleted_at", NULL,
};
/* A sales user's customers are their own: owner_id is not theirs to set. */
static const char *const customer_fields_own[] = {
    "name", "email", "phone", "company", "status", "tags", NULL,
};
static const char *const customer_readonly_own[] = {
    "id", "version", "created_at", "updated_at", "deleted_at", "owner_id", NULL,
};
static const char *const note_fields[] = { "kind", "body", "author_id", NULL };
static const char *const note_readonly[] = { "id", "customer_id", "created_at", NULL };
/* Only an admin writes a note in someone else's name. */
static const char *const note_fields_own[] = { "kind", "body", NULL };
static const char *const note_readonly_own[] = { "id", "customer_id", "created_at", "author_id",
                                                 NULL };

int customers_worker_init(const crm_config *conf, crm_db *conn)
{
    (void)conf;
    db = conn;
    crm_buf_init(&out, OUT_CAP);
    store_init();
    return CRM_OK;
}

void customers_worker_done(void)
{
    crm_buf_free(&out);
    db = NULL;
}

crm_db *customers_db(void)
{
    return db;
}

/* ---- small helpers ---- */

static void customer_json(crm_buf *b, const customer *c)
{
    crm_buf_printf(b, "{\"id\":%lld,\"name\":", (long long)c->id);
    crm_api_put_str(b, c->name);
    crm_buf_puts(b, ",\"email\":");
    crm_api_put_str(b, c->email);
    crm_buf_puts(b, ",\"phone\":");
    crm_api_put_str(b, c->phone);
    crm_buf_puts(b, ",\"company\":");
    crm_api_put_str(b, c->company);
    crm_buf_puts(b, ",\"status\":");
    crm_api_put_str(b, c->status);
    crm_buf_puts(b, ",\"owner_id\":");
    crm_api_put_id(b, c->owner_id);
    /* tags is JSON text this service wrote itself */
    crm_buf_puts(b, ",\"tags\":");
    crm_buf_puts(b, c->tags && c->tags[0] == '[' ? c->tags : "[]");
    crm_buf_printf(b, ",\"version\":%lld,\"created_at\":", (long long)c->version);
    crm_api_put_str(b, c->created_at);
    crm_buf_puts(b, ",\"updated_at\":");
    crm_api_put_str(b, c->updated_at);
    crm_buf_putc(b, '}');
}

static void note_json(crm_buf *b, const note *n)
{
    crm_buf_printf(b, "{\"id\":%lld,\"customer_id\":%lld,\"kind\":", (long long)n->id,
                   (long long)n->customer_id);
    crm_api_put_str(b, n->kind);
    crm_buf_puts(b, ",\"body\":");
    crm_api_put_str(b, n->body);
    crm_buf_puts(b, ",\"author_id\":");
    crm_api_put_id(b, n->author_id);
    crm_buf_puts(b, ",\"created_at\":");
    crm_api_put_str(b, n->created_at);
    crm_buf_putc(b, '}');
}

static int send_customer(crm_req *r, int status, const customer *c)
{
    crm_buf_reset(&out);
    customer_json(&out, c);
    crm_res_header(r, "ETag", crm_api_etag(crm_req_arena(r), c->version));
    return crm_api_send(r, status, &out);
}

/*
 * The event of a change, into the outbox in the same transaction. Live
 * customers travel whole (what the API shows, plus "deleted":false); a
 * deleted one as id and version only, so its personal data leaves no copy.
 */
static int emit(const char *type, const customer *c, int deleted, int64_t version, const char *now)
{
    crm_buf b;
    int rc;

    crm_buf_init(&b, 0);
    if (deleted) {
        crm_buf_printf(&b, "{\"id\":%lld,\"deleted\":true,\"version\":%lld}", (long long)c->id,
                       (long long)version);
    } else {
        customer_json(&b, c);
        b.len--; /* reopen the object */
        crm_buf_puts(&b, ",\"deleted\":false}");
    }
    rc = crm_outbox_add(db, type, c->id, version, now, b.data, b.len);
    crm_buf_free(&b);
    return rc;
}

/* Roll back and answer for a database failure. */
static int db_error(crm_req *r, int rc)
{
    return crm_api_db_error(r, db, rc);
}

static int not_found(crm_req *r)
{
    return crm_problem(r, 404, "no such customer");
}

int customers_visible(crm_req *r, crm_arena *a, int64_t id, customer *c)
{
    int64_t owner = crm_auth_owner(r);
    int rc = store_customer_get(db, a, id, 0, c);

    if (rc == CRM_OK && owner != 0 && c->owner_id != owner)
        rc = CRM_NOTFOUND;
    if (rc == CRM_NOTFOUND)
        return not_found(r);
    if (rc != CRM_OK)
        return db_error(r, rc);
    return CRM_OK;
}

/* Unknown and read-only fields of a customer body, by the caller's role. */
static int check_customer_fields(crm_req *r, const crm_fields *fs)
{
    int own = crm_auth_owner(r) != 0;
    return crm_api_check_fields(r, fs->items, fs->n, NULL,
                                own ? customer_fields_own : customer_fields,
                                own ? customer_readonly_own : customer_readonly);
}

/* If-Match did not match: roll back, answer 412 with the current ETag. */
static int stale(crm_req *r, int64_t version)
{
    crm_db_rollback(db);
    crm_res_header(r, "ETag", crm_api_etag(crm_req_arena(r), version));
    return crm_problem(r, 412, "the customer changed since you read it");
}

static const char *tags_json(crm_arena *a, const char *const *tags, size_t n)
{
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_buf_putc(&b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            crm_buf_putc(&b, ',');
        crm_buf_json_str(&b, tags[i], strlen(tags[i]));
    }
    crm_buf_putc(&b, ']');
    const char *s = crm_arena_strndup(a, b.data, b.len);
    crm_buf_free(&b);
    return s;
}

/* ---- customers ---- */

enum {
    P_NAME = 1,
    P_EMAIL = 2,
    P_PHONE = 4,
    P_COMPANY = 8,
    P_STATUS = 16,
    P_OWNER = 32,
    P_TAGS = 64
};
enum { IN_CREATE, IN_PUT, IN_PATCH };

/*
 * Validate the body into in. Create and PUT need name and email and reset
 * everything else to its default; PATCH takes only what is present and
 * reports it in *present.
 */
static void read_customer_in(crm_valid *v, const crm_fields *fs, int mode, crm_arena *a,
                             customer_in *in, unsigned *present)
{
    int req = mode != IN_PATCH;
    const char *s = NULL;
    int64_t i = 0;
    const char **tags = NULL;
    size_t ntags = 0;

    *present = 0;
    if (crm_valid_string(v, "name", req, 1, 200, &s) == CRM_OK) {
        if (s == NULL)
            crm_valid_error(v, "name", "must not be null");
        in->name = s;
        *present |= P_NAME;
    }
    s = NULL;
    if (crm_valid_email(v, "email", req, &s) == CRM_OK) {
        if (s == NULL)
            crm_valid_error(v, "email", "must not be null");
        in->email = s;
        *present |= P_EMAIL;
    }
    s = NULL;
    if (crm_valid_phone(v, "phone", 0, &s) == CRM_OK) {
        in->phone = s;
        *present |= P_PHONE;
    }
    s = NULL;
    if (crm_valid_string(v, "company", 0, 0, 200, &s) == CRM_OK) {
        in->company = s != NULL && *s != '\0' ? s : NULL;
        *present |= P_COMPANY;
    }
    s = NULL;
    if (crm_valid_enum(v, "status", 0, customer_statuses, &s) == CRM_OK) {
        if (s == NULL)
            crm_valid_error(v, "status", "must not be null");
        in->status = s;
        *present |= P_STATUS;
    }
    if (crm_api_is_null(fs, "owner_id")) {
        in->owner_id = 0;
        *present |= P_OWNER;
    } else if (crm_valid_int(v, "owner_id", 0, 1, OWNER_MAX, &i) == CRM_OK) {
        in->owner_id = i;
        *present |= P_OWNER;
    }
    if (crm_valid_tags(v, "tags", 0, TAGS_MAX, TAG_LEN_MAX, &tags, &ntags) == CRM_OK) {
        in->tags = tags;
        in->n_tags = tags ? ntags : 0;
        *present |= P_TAGS;
    }
    if (mode != IN_PATCH && in->status == NULL)
        in->status = "lead";
    if (mode != IN_PATCH || (*present & P_TAGS)) {
        in->tags_json = tags_json(a, in->tags, in->n_tags);
        in->set_tags = 1;
    }
}

int customers_ping(crm_req *r)
{
    static const char body[] = "{\"status\":\"ok\"}";
    return crm_res_send(r, 200, CRM_API_JSON, body, sizeof(body) - 1);
}

int customers_get(crm_req *r)
{
    int64_t id;
    customer c;
    crm_etags inm;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return not_found(r);
    if ((rc = crm_api_if_none_match(r, &inm)) != CRM_OK)
        return rc;
    if ((rc = customers_visible(r, crm_req_arena(r), id, &c)) != CRM_OK)
        return rc;
    if (crm_api_not_modified(r, &inm, c.version))
        return 304;
    return send_customer(r, 200, &c);
}

/*
 * What another service keeps of a customer (sales' replica): deleted ones
 * too, flagged, so a replica learns of a deletion instead of a 404.
 */
int customers_internal_get(crm_req *r)
{
    int64_t id;
    customer c;
    int deleted = 0;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return not_found(r);
    int rc = store_customer_get_any(db, crm_req_arena(r), id, &c, &deleted);
    if (rc == CRM_NOTFOUND)
        return not_found(r);
    if (rc != CRM_OK)
        return db_error(r, rc);
    crm_buf_reset(&out);
    crm_buf_printf(&out, "{\"id\":%lld,\"name\":", (long long)c.id);
    crm_api_put_str(&out, c.name);
    crm_buf_puts(&out, ",\"email\":");
    crm_api_put_str(&out, c.email);
    crm_buf_puts(&out, ",\"status\":");
    crm_api_put_str(&out, c.status);
    crm_buf_puts(&out, ",\"owner_id\":");
    crm_api_put_id(&out, c.owner_id);
    crm_buf_printf(&out, ",\"deleted\":%s,\"version\":%lld}", deleted ? "true" : "false",
                   (long long)c.version);
    crm_res_header(r, "ETag", crm_api_etag(crm_req_arena(r), c.version));
    return crm_api_send(r, 200, &out);
}

/* An empty value of a search form's field means "any", like no value. */
static const char *list_param(crm_req *r, int form, const char *name)
{
    const char *s = crm_req_query(r, name);
    return form && s != NULL && *s == '\0' ? NULL : s;
}

int customers_list_query(crm_req *r, int form, customer_filter *f, crm_api_list *l)
{
    static const char *const params[] = {
        "limit", "cursor", "status", "owner", "tag", "q", "sort", "count", NULL,
    };
    crm_arena *a = crm_req_arena(r);
    crm_field_error errs[12];
    size_t ne = 0;
    int64_t v;
    int rc;
    const char *s;

    if ((rc = crm_req_query_check(r, params)) != CRM_OK)
        return rc;
    memset(f, 0, sizeof(*f));
    crm_api_list_params(r, "customers", customer_sorts, l, errs, &ne);

#define QERR(name_, msg_)                                                                          \
    do {                                                                                           \
        errs[ne].field = (name_);                                                                  \
        errs[ne].message = (msg_);                                                                 \
        ne++;                                                                                      \
    } while (0)

    if ((s = list_param(r, form, "status")) != NULL) {
        if (crm_api_in_list(customer_statuses, s))
            f->status = s;
        else
            QERR("status", "must be one of: lead, prospect, customer, churned");
    }
    if ((s = list_param(r, form, "owner")) != NULL) {
        if (crm_api_parse_int(s, 1, OWNER_MAX, &v) == CRM_OK)
            f->owner = v;
        else
            QERR("owner", "must be a positive integer");
    }
    /* A sales user lists their own customers, whatever they ask for. */
    int64_t own = crm_auth_owner(r);
    if (own != 0) {
        if (f->owner != 0 && f->owner != own)
            QERR("owner", "you can only list your own customers");
        f->owner = own;
    }
    if ((s = list_param(r, form, "tag")) != NULL) {
        size_t n = strlen(s), k = 0;
        char *t = crm_arena_strdup(a, s);
        for (; k < n; k++) {
            char ch = t[k];
            if (ch >= 'A' && ch <= 'Z')
                t[k] = (char)(ch - 'A' + 'a');
            else if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                       ch == '_'))
                break;
        }
        if (n == 0 || n > TAG_LEN_MAX || k < n)
            QERR("tag", "must be 1 to 32 characters of a-z, 0-9, - and _");
        else
            f->tag = t;
    }
    if ((s = list_param(r, form, "q")) != NULL) {
        char *q;
        if (crm_fts_query(a, s, &q) == CRM_OK)
            f->fts = q;
        else
            QERR("q", "needs a word of at least 3 letters or digits");
    }
#undef QERR
    if (ne > 0)
        return crm_api_bad_query(r, errs, ne);

    f->sort = l->sort;
    f->after = l->after;
    f->after_value = l->after_value;
    f->after_id = l->after_id;
    f->limit = (int)l->limit + 1; /* one more tells whether a next page exists */
    return CRM_OK;
}

int customers_list(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    customer_filter f;
    crm_api_list l;
    int rc;

    if ((rc = customers_list_query(r, 0, &f, &l)) != CRM_OK)
        return rc;
    customer *rows = crm_arena_alloc(a, sizeof(customer) * (size_t)f.limit);
    size_t n = 0;
    int64_t count = 0;
    if ((rc = store_customer_list(db, a, &f, rows, &n)) != CRM_OK)
        return db_error(r, rc);
    if (l.count && (rc = store_customer_count(db, &f, &count)) != CRM_OK)
        return db_error(r, rc);

    size_t shown = n > (size_t)l.limit ? (size_t)l.limit : n;
    crm_api_page_begin(&out);
    for (size_t i = 0; i < shown; i++) {
        crm_api_page_sep(&out, i);
        customer_json(&out, &rows[i]);
    }
    const customer *last = &rows[shown > 0 ? shown - 1 : 0];
    crm_api_page_finish(&out, a, &l, n, last->sort_value, last->id, count);
    return crm_api_send(r, 200, &out);
}

/* The row a create wrote, without reading it back. */
static void created_row(crm_arena *a, const customer_in *in, int64_t id, customer *c)
{
    c->id = id;
    c->name = in->name;
    c->email = in->email;
    c->phone = in->phone;
    c->company = in->company;
    c->status = in->status;
    c->owner_id = in->owner_id;
    c->tags = in->tags_json;
    c->version = 1;
    c->created_at = c->updated_at = crm_api_iso(a, in->now);
    c->sort_value = NULL;
}

/*
 * One attempt at a create; the body ends up in `out`. One transaction
 * writes the row, its tags, its event and the Idempotency-Key's answer.
 */
static int create_tx(crm_req *r, crm_idem *idem, const customer_in *in, customer *c,
                     const char **location)
{
    crm_arena *a = crm_req_arena(r);
    int64_t id = 0;
    int rc;

    if ((rc = crm_db_begin(db)) != CRM_OK)
        return rc;
    if ((rc = crm_idem_claim(idem, db, a)) != CRM_OK || idem->replay)
        goto out;
    if ((rc = store_customer_insert(db, in, &id)) != CRM_OK)
        goto out;
    created_row(a, in, id, c);
    if ((rc = emit("customer.created", c, 0, 1, in->now)) != CRM_OK)
        goto out;
    crm_buf_reset(&out);
    customer_json(&out, c);
    *location = crm_arena_printf(a, "/api/v1/customers/%lld", (long long)id);
    rc = crm_idem_store(idem, db, 201, *location, crm_api_etag(crm_req_arena(r), c->version),
                        out.data, out.len);
    if (rc == CRM_OK)
        rc = crm_db_commit(db);
out:
    if (rc != CRM_OK || idem->replay)
        crm_db_rollback(db);
    return rc;
}

int customers_create(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    crm_fields fs;
    crm_valid v;
    crm_idem idem;
    customer_in in;
    customer c;
    unsigned present;
    const char *location = NULL;
    int rc;

    if ((rc = crm_body_fields(r, &fs)) != CRM_OK)
        return rc;
    if ((rc = check_customer_fields(r, &fs)) != CRM_OK)
        return rc;
    if (crm_idem_init(&idem, r, "customers.create") != CRM_OK)
        return crm_api_bad_header(r, "Idempotency-Key",
                                  "must be 1 to 255 visible ASCII characters");
    memset(&in, 0, sizeof(in));
    crm_valid_init(&v, a, &fs);
    read_customer_in(&v, &fs, IN_CREATE, a, &in, &present);
    if (crm_auth_owner(r) != 0)
        in.owner_id = crm_auth_owner(r);
    in.now = crm_api_now(a);
    if (!crm_valid_ok(&v))
        return crm_api_invalid(r, v.errors, v.n);

    for (int attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        rc = create_tx(r, &idem, &in, &c, &location);
        if (rc != CRM_CONFLICT)
            break;
    }
    if (rc == CRM_INVALID)
        return crm_api_idem_reused(r);
    if (rc == CRM_DUP)
        return crm_problem(r, 409, "a customer with this email already exists");
    if (rc != CRM_OK)
        return db_error(r, rc);
    if (idem.replay) {
        /* The page of the customer the first request created: its id ends the Location. */
        const char *id = idem.location ? strrchr(idem.location, '/') : NULL;
        return crm_api_replay(r, fs.form, &idem,
                              crm_arena_printf(a, "/customers%s", id ? id : "/"));
    }
    return crm_api_created(r, fs.form, location,
                           crm_arena_printf(a, "/customers/%lld", (long long)c.id),
                           crm_api_etag(crm_req_arena(r), c.version), &out);
}

static void merge(customer_in *in, unsigned present, const customer *cur)
{
    if (!(present & P_NAME))
        in->name = cur->name;
    if (!(present & P_EMAIL))
        in->email = cur->email;
    if (!(present & P_PHONE))
        in->phone = cur->phone;
    if (!(present & P_COMPANY))
        in->company = cur->company;
    if (!(present & P_STATUS))
        in->status = cur->status;
    if (!(present & P_OWNER))
        in->owner_id = cur->owner_id;
    if (!(present & P_TAGS))
        in->tags_json = cur->tags;
}

/* PATCH and PUT: read with a row lock, check If-Match, write, read back. */
static int update(crm_req *r, int mode)
{
    crm_arena *a = crm_req_arena(r);
    crm_fields fs;
    crm_valid v;
    customer_in in;
    customer c;
    crm_etags im;
    unsigned present;
    int64_t id, owner = crm_auth_owner(r);
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return not_found(r);
    if ((rc = crm_api_if_match(r, &im)) != CRM_OK)
        return rc;
    if (mode == IN_PUT && !im.present)
        return crm_problem(r, 428, "PUT needs If-Match with the version you read");
    if ((rc = crm_body_fields(r, &fs)) != CRM_OK)
        return rc;
    if ((rc = check_customer_fields(r, &fs)) != CRM_OK)
        return rc;
    memset(&in, 0, sizeof(in));
    crm_valid_init(&v, a, &fs);
    if (mode == IN_PATCH && fs.n == 0)
        crm_valid_error(&v, "", "the body names no field to change");
    read_customer_in(&v, &fs, mode, a, &in, &present);
    if (!crm_valid_ok(&v))
        return crm_api_invalid(r, v.errors, v.n);
    in.now = crm_api_now(a);

    for (int attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        customer_in w = in;
        if ((rc = crm_db_begin(db)) != CRM_OK)
            break;
        rc = store_customer_get(db, a, id, 1, &c);
        if (rc == CRM_OK && owner != 0 && c.owner_id != owner)
            rc = CRM_NOTFOUND;
        if (rc == CRM_OK && im.present && !crm_api_etags_match(&im, c.version, 1)) {
            return stale(r, c.version);
        }
        if (rc == CRM_OK) {
            if (mode == IN_PATCH)
                merge(&w, present, &c);
            /* A sales user's PUT cannot name an owner: the customer stays theirs. */
            if (owner != 0)
                w.owner_id = owner;
            rc = store_customer_update(db, id, &w);
        }
        if (rc == CRM_OK)
            rc = store_customer_get(db, a, id, 0, &c);
        if (rc == CRM_OK)
            rc = emit("customer.updated", &c, 0, c.version, in.now);
        if (rc == CRM_OK)
            rc = crm_db_commit(db);
        if (rc == CRM_OK)
            return send_customer(r, 200, &c);
        crm_db_rollback(db);
        if (rc != CRM_CONFLICT)
            break;
    }
    if (rc == CRM_NOTFOUND)
        return not_found(r);
    if (rc == CRM_DUP)
        return crm_problem(r, 409, "a customer with this email already exists");
    return db_error(r, rc);
}

int customers_patch(crm_req *r)
{
    return update(r, IN_PATCH);
}

int customers_put(crm_req *r)
{
    return update(r, IN_PUT);
}

int customers_delete(crm_req *r)
{
    customer c;
    crm_etags im;
    int64_t id, owner = crm_auth_owner(r);
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return not_found(r);
    if ((rc = crm_api_if_match(r, &im)) != CRM_OK)
        return rc;
    for (int attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        if ((rc = crm_db_begin(db)) != CRM_OK)
            break;
        rc = store_customer_get(db, crm_req_arena(r), id, 1, &c);
        if (rc == CRM_OK && owner != 0 && c.owner_id != owner)
            rc = CRM_NOTFOUND;
        if (rc == CRM_OK && im.present && !crm_api_etags_match(&im, c.version, 1)) {
            return stale(r, c.version);
        }
        if (rc == CRM_OK)
            rc = store_customer_delete(db, id);
        /* The delete made version + 1. */
        if (rc == CRM_OK)
            rc = emit("customer.deleted", &c, 1, c.version + 1, crm_api_now(crm_req_arena(r)));
        if (rc == CRM_OK)
            rc = crm_db_commit(db);
        if (rc == CRM_OK)
            return crm_res_send(r, 204, NULL, NULL, 0);
        crm_db_rollback(db);
        if (rc != CRM_CONFLICT)
            break;
    }
    if (rc == CRM_NOTFOUND)
        return not_found(r);
    return db_error(r, rc);
}

/* ---- notes ---- */

static int note_not_found(crm_req *r)
{
    return crm_problem(r, 404, "no such note");
}

int customers_notes_list(crm_req *r)
{
    static const char *const params[] = { "limit", "cursor", NULL };
    crm_arena *a = crm_req_arena(r);
    crm_field_error errs[2];
    size_t ne = 0;
    int64_t id, limit = LIMIT_DEFAULT, before = 0;
    customer c;
    const char *s;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return not_found(r);
    if ((rc = crm_req_query_check(r, params)) != CRM_OK)
        return rc;
    /* A timeline's cursors belong to that customer only. */
    const char *notes_sort = crm_arena_printf(a, "notes:%lld", (long long)id);
    if ((s = crm_req_query(r, "limit")) != NULL &&
        crm_api_parse_int(s, 1, LIMIT_MAX, &limit) != CRM_OK) {
        errs[ne].field = "limit";
        errs[ne++].message = "must be an integer between 1 and 200";
    }
    if ((s = crm_req_query(r, "cursor")) != NULL) {
        const char *sort, *value;
        if (crm_cursor_decode(a, s, &sort, &value, &before) != CRM_OK ||
            strcmp(sort, notes_sort) != 0) {
            errs[ne].field = "cursor";
            errs[ne++].message = "is not a cursor this list gave out";
            before = 0;
        }
    }
    if (ne > 0)
        return crm_api_bad_query(r, errs, ne);
    if ((rc = customers_visible(r, a, id, &c)) != CRM_OK)
        return rc;

    note *rows = crm_arena_alloc(a, sizeof(note) * (size_t)(limit + 1));
    size_t n = 0;
    if ((rc = store_note_list(db, a, id, before, (int)limit + 1, rows, &n)) != CRM_OK)
        return db_error(r, rc);
    size_t shown = n > (size_t)limit ? (size_t)limit : n;
    crm_api_page_begin(&out);
    for (size_t i = 0; i < shown; i++) {
        crm_api_page_sep(&out, i);
        note_json(&out, &rows[i]);
    }
    crm_api_page_end(&out,
                     n > shown ? crm_cursor_encode(a, notes_sort, "", rows[shown - 1].id) : NULL);
    crm_buf_putc(&out, '}');
    return crm_api_send(r, 200, &out);
}

static int note_tx(crm_req *r, crm_idem *idem, int64_t cid, const char *kind, const char *body,
                   int64_t author, note *nt, const char **location)
{
    crm_arena *a = crm_req_arena(r);
    int64_t nid = 0;
    int rc;

    if ((rc = crm_db_begin(db)) != CRM_OK)
        return rc;
    if ((rc = crm_idem_claim(idem, db, a)) != CRM_OK || idem->replay)
        goto out;
    if ((rc = store_customer_lock_live(db, cid)) != CRM_OK)
        goto out;
    if ((rc = store_note_insert(db, cid, kind, body, author, &nid)) != CRM_OK)
        goto out;
    if ((rc = store_note_get(db, a, cid, nid, nt)) != CRM_OK)
        goto out;
    crm_buf_reset(&out);
    note_json(&out, nt);
    *location =
        crm_arena_printf(a, "/api/v1/customers/%lld/notes/%lld", (long long)cid, (long long)nid);
    rc = crm_idem_store(idem, db, 201, *location, NULL, out.data, out.len);
    if (rc == CRM_OK)
        rc = crm_db_commit(db);
out:
    if (rc != CRM_OK || idem->replay)
        crm_db_rollback(db);
    return rc;
}

int customers_notes_create(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    crm_fields fs;
    crm_valid v;
    crm_idem idem;
    note nt;
    customer cust;
    int64_t cid, author = 0;
    const char *kind = "note", *body = NULL, *location = NULL;
    int rc;

    if (crm_req_path_id(r, "id", &cid) != CRM_OK)
        return not_found(r);
    if ((rc = crm_body_fields(r, &fs)) != CRM_OK)
        return rc;
    int admin = crm_auth_has(r, CRM_ROLE_ADMIN);
    if ((rc = crm_api_check_fields(r, fs.items, fs.n, NULL, admin ? note_fields : note_fields_own,
                                   admin ? note_readonly : note_readonly_own)) != CRM_OK)
        return rc;
    if ((rc = customers_visible(r, a, cid, &cust)) != CRM_OK)
        return rc;
    const char *scope = crm_arena_printf(a, "customers.notes.%lld", (long long)cid);
    if (crm_idem_init(&idem, r, scope) != CRM_OK)
        return crm_api_bad_header(r, "Idempotency-Key",
                                  "must be 1 to 255 visible ASCII characters");
    crm_valid_init(&v, a, &fs);
    const char *k = NULL;
    if (crm_valid_enum(&v, "kind", 0, customer_note_kinds, &k) == CRM_OK && k != NULL)
        kind = k;
    crm_valid_string(&v, "body", 1, 1, NOTE_MAX, &body);
    /* The author is the caller, unless an admin names someone else (or
       sends null: nobody). */
    author = crm_auth_identity(r)->user_id;
    if (admin && crm_fields_get(&fs, "author_id") != NULL) {
        author = 0;
        if (!crm_api_is_null(&fs, "author_id"))
            crm_valid_int(&v, "author_id", 0, 1, OWNER_MAX, &author);
    }
    if (!crm_valid_ok(&v))
        return crm_api_invalid(r, v.errors, v.n);

    for (int attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        rc = note_tx(r, &idem, cid, kind, body, author, &nt, &location);
        if (rc != CRM_CONFLICT)
            break;
    }
    if (rc == CRM_INVALID)
        return crm_api_idem_reused(r);
    if (rc == CRM_NOTFOUND)
        return not_found(r);
    if (rc != CRM_OK)
        return db_error(r, rc);
    const char *page = crm_arena_printf(a, "/customers/%lld", (long long)cid);
    if (idem.replay)
        return crm_api_replay(r, fs.form, &idem, page);
    return crm_api_created(r, fs.form, location, page, NULL, &out);
}

int customers_notes_get(crm_req *r)
{
    int64_t cid, nid;
    customer c;
    note nt;

    if (crm_req_path_id(r, "id", &cid) != CRM_OK || crm_req_path_id(r, "note_id", &nid) != CRM_OK)
        return note_not_found(r);
    int rc = customers_visible(r, crm_req_arena(r), cid, &c);
    if (rc != CRM_OK)
        return rc;
    rc = store_note_get(db, crm_req_arena(r), cid, nid, &nt);
    if (rc == CRM_NOTFOUND)
        return note_not_found(r);
    if (rc != CRM_OK)
        return db_error(r, rc);
    crm_buf_reset(&out);
    note_json(&out, &nt);
    return crm_api_send(r, 200, &out);
}

int customers_notes_delete(crm_req *r)
{
    int64_t cid, nid;
    customer c;

    if (crm_req_path_id(r, "id", &cid) != CRM_OK || crm_req_path_id(r, "note_id", &nid) != CRM_OK)
        return note_not_found(r);
    int rc = customers_visible(r, crm_req_arena(r), cid, &c);
    if (rc != CRM_OK)
        return rc;
    rc = store_note_delete(db, cid, nid);
    if (rc == CRM_NOTFOUND)
        return note_not_found(r);
    if (rc != CRM_OK)
        return db_error(r, rc);
    return crm_res_send(r, 204, NULL, NULL, 0);
}
