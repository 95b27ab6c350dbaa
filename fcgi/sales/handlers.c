/*
 * handlers.c - the sales service's worker state, its product handlers and
 * the summary. Orders are in orders.c. Each handler parses and validates,
 * runs its statements (store.c) in one transaction where it writes, and
 * answers; every error leaves through crm_problem_send.
 */
#include "sales.h"

#include "crm_api.h"
#include "crm_body.h"
#include "crm_fts.h"
#include "crm_valid.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define OUT_CAP      (16u << 20)
#define SUMMARY_DAYS 3660
#define TOP_MAX      100

crm_db *sales_db;
crm_buf sales_out; /* response body, reused by every request of the worker */

static const char *const product_fields[] = {
    "sku", "name", "description", "price_cents", "currency", "stock", "active", NULL,
};
static const char *const product_readonly[] = { "id", "version", "created_at", "updated_at", NULL };

int sales_worker_init(const crm_config *conf, crm_db *conn)
{
    sales_db = conn;
    crm_buf_init(&sales_out, OUT_CAP);
    store_init();
    return replica_init(conf);
}

void sales_worker_done(void)
{
    replica_done();
    crm_buf_free(&sales_out);
    sales_db = NULL;
}

int sales_db_error(crm_req *r, int rc)
{
    return crm_api_db_error(r, sales_db, rc);
}

int sales_ping(crm_req *r)
{
    static const char body[] = "{\"status\":\"ok\"}";
    return crm_res_send(r, 200, CRM_API_JSON, body, sizeof(body) - 1);
}

/* ---- products ---- */

void product_json(crm_buf *b, const product *p)
{
    crm_buf_printf(b, "{\"id\":%lld,\"sku\":", (long long)p->id);
    crm_api_put_str(b, p->sku);
    crm_buf_puts(b, ",\"name\":");
    crm_api_put_str(b, p->name);
    crm_buf_puts(b, ",\"description\":");
    crm_api_put_str(b, p->description);
    crm_buf_printf(b, ",\"price_cents\":%lld,\"currency\":", (long long)p->price_cents);
    crm_api_put_str(b, p->currency);
    if (p->tracked)
        crm_buf_printf(b, ",\"stock\":%lld", (long long)p->stock);
    else
        crm_buf_puts(b, ",\"stock\":null");
    crm_buf_printf(b,
                   ",\"active\":%s,\"version\":%lld,\"created_at\":", p->active ? "true" : "false",
                   (long long)p->version);
    crm_api_put_str(b, p->created_at);
    crm_buf_puts(b, ",\"updated_at\":");
    crm_api_put_str(b, p->updated_at);
    crm_buf_putc(b, '}');
}

static int send_product(crm_req *r, int status, const product *p)
{
    crm_buf_reset(&sales_out);
    product_json(&sales_out, p);
    crm_res_header(r, "ETag", crm_api_etag(crm_req_arena(r), p->version));
    return crm_api_send(r, status, &sales_out);
}

static int product_not_found(crm_req *r)
{
    return crm_problem(r, 404, "no such product");
}

static int sku_taken(crm_req *r)
{
    return crm_problem(r, 409, "a product with this SKU already exists");
}

static int is_sku(const char *s)
{
    for (; *s != '\0'; s++) {
        char c = *s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

enum {
    P_SKU = 1,
    P_NAME = 2,
    P_DESC = 4,
    P_PRICE = 8,
    P_CURRENCY = 16,
    P_STOCK = 32,
    P_ACTIVE = 64
};
enum { IN_CREATE, IN_PUT, IN_PATCH };

const char *read_currency(crm_valid *v, const char *name, int required)
{
    const char *s = NULL;
    if (crm_valid_string(v, name, required, 3, 3, &s) != CRM_OK)
        return NULL;
    if (s == NULL) {
        crm_valid_error(v, name, "must not be null");
        return NULL;
    }
    if (!crm_valid_is_currency(s)) {
        crm_valid_error(v, name, "must be an ISO 4217 currency code in upper case, like EUR");
        return NULL;
    }
    return s;
}

/*
 * Validate the body into in. Create and PUT need sku, name, price_cents
 * and currency and reset the rest to defaults; PATCH takes what is there.
 */
static void read_product_in(crm_valid *v, const crm_fields *fs, int mode, product_in *in,
                            unsigned *present)
{
    int req = mode != IN_PATCH;
    const char *s = NULL;
    int64_t i = 0;
    int b = 0;

    *present = 0;
    if (mode != IN_PATCH) {
        in->active = 1;
        in->tracked = 0;
    }
    if (crm_valid_string(v, "sku", req, 1, 64, &s) == CRM_OK) {
        if (s == NULL)
            crm_valid_error(v, "sku", "must not be null");
        else if (!is_sku(s))
            crm_valid_error(v, "sku", "must be letters, digits, '.', '_' or '-'");
        in->sku = s;
        *present |= P_SKU;
    }
    s = NULL;
    if (crm_valid_string(v, "name", req, 1, 200, &s) == CRM_OK) {
        if (s == NULL)
            crm_valid_error(v, "name", "must not be null");
        in->name = s;
        *present |= P_NAME;
    }
    s = NULL;
    if (crm_valid_string(v, "description", 0, 0, 2000, &s) == CRM_OK) {
        in->description = s != NULL && *s != '\0' ? s : NULL;
        *present |= P_DESC;
    }
    if (crm_valid_int(v, "price_cents", req, 0, MONEY_MAX, &i) == CRM_OK) {
        in->price_cents = i;
        *present |= P_PRICE;
    } else if (!req && crm_api_is_null(fs, "price_cents")) {
        crm_valid_error(v, "price_cents", "must not be null");
    }
    if (crm_fields_get(fs, "currency") != NULL || req) {
        if ((in->currency = read_currency(v, "currency", req)) != NULL)
            *present |= P_CURRENCY;
    }
    if (crm_api_is_null(fs, "stock")) {
        in->tracked = 0;
        *present |= P_STOCK;
    } else if (crm_valid_int(v, "stock", 0, 0, STOCK_MAX, &i) == CRM_OK) {
        in->tracked = 1;
        in->stock = i;
        *present |= P_STOCK;
    }
    if (crm_valid_bool(v, "active", 0, &b) == CRM_OK) {
        in->active = b;
        *present |= P_ACTIVE;
    } else if (crm_api_is_null(fs, "active")) {
        crm_valid_error(v, "active", "must be true or false");
    }
}

int products_get(crm_req *r)
{
    int64_t id;
    product p;
    crm_etags inm;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return product_not_found(r);
    if ((rc = crm_api_if_none_match(r, &inm)) != CRM_OK)
        return rc;
    rc = store_product_get(sales_db, crm_req_arena(r), id, 0, &p);
    if (rc == CRM_NOTFOUND)
        return product_not_found(r);
    if (rc != CRM_OK)
        return sales_db_error(r, rc);
    if (crm_api_not_modified(r, &inm, p.version))
        return 304;
    return send_product(r, 200, &p);
}

const char *const product_params[] = {
    "limit", "cursor", "active", "currency", "sku", "q", "sort", "count", NULL,
};

const char *sales_query(crm_req *r, const char *name, int page)
{
    const char *s = crm_req_query(r, name);
    return page && s != NULL && *s == '\0' ? NULL : s;
}

#define QERR(name_, msg_)                                                                          \
    do {                                                                                           \
        errs[*ne].field = (name_);                                                                 \
        errs[*ne].message = (msg_);                                                                \
        (*ne)++;                                                                                   \
    } while (0)

void products_filter(crm_req *r, int page, product_filter *f, crm_api_list *l,
                     crm_field_error *errs, size_t *ne)
{
    const char *s;

    memset(f, 0, sizeof(*f));
    f->active = -1;
    crm_api_list_params(r, "products", product_sorts, l, errs, ne);
    if ((s = sales_query(r, "active", page)) != NULL) {
        if (strcmp(s, "true") == 0)
            f->active = 1;
        else if (strcmp(s, "false") == 0)
            f->active = 0;
        else
            QERR("active", "must be true or false");
    }
    if ((s = sales_query(r, "currency", page)) != NULL) {
        if (crm_valid_is_currency(s))
            f->currency = s;
        else
            QERR("currency", "must be an ISO 4217 currency code in upper case, like EUR");
    }
    if ((s = sales_query(r, "sku", page)) != NULL) {
        if (*s != '\0' && strlen(s) <= 64 && is_sku(s))
            f->sku = s;
        else
            QERR("sku", "must be a SKU: 1 to 64 letters, digits, '.', '_' or '-'");
    }
    if ((s = sales_query(r, "q", page)) != NULL) {
        char *q;
        if (crm_fts_query(crm_req_arena(r), s, &q) == CRM_OK)
            f->fts = q;
        else
            QERR("q", "needs a word of at least 3 letters or digits");
    }
    f->sort = l->sort;
    f->after = l->after;
    f->after_value = l->after_value;
    f->after_id = l->after_id;
    f->limit = (int)l->limit + 1; /* one more tells whether a next page exists */
}
#undef QERR

int products_list(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    crm_field_error errs[12];
    size_t ne = 0;
    product_filter f;
    crm_api_list l;
    int rc;

    if ((rc = crm_req_query_check(r, product_params)) != CRM_OK)
        return rc;
    products_filter(r, 0, &f, &l, errs, &ne);
    if (ne > 0)
        return crm_api_bad_query(r, errs, ne);

    product *rows = crm_arena_alloc(a, sizeof(product) * (size_t)f.limit);
    size_t n = 0;
    int64_t count = 0;
    if ((rc = store_product_list(sales_db, a, &f, rows, &n)) != CRM_OK)
        return sales_db_error(r, rc);
    if (l.count && (rc = store_product_count(sales_db, &f, &count)) != CRM_OK)
        return sales_db_error(r, rc);

    size_t shown = n > (size_t)l.limit ? (size_t)l.limit : n;
    crm_api_page_begin(&sales_out);
    for (size_t i = 0; i < shown; i++) {
        crm_api_page_sep(&sales_out, i);
        product_json(&sales_out, &rows[i]);
    }
    const product *last = &rows[shown > 0 ? shown - 1 : 0];
    crm_api_page_finish(&sales_out, a, &l, n, last->sort_value, last->id, count);
    return crm_api_send(r, 200, &sales_out);
}

static void created_product(crm_arena *a, const product_in *in, int64_t id, product *p)
{
    p->id = id;
    p->sku = in->sku;
    p->name = in->name;
    p->description = in->description;
    p->price_cents = in->price_cents;
    p->currency = in->currency;
    p->tracked = in->tracked;
    p->stock = in->stock;
    p->active = in->active;
    p->version = 1;
    p->created_at = p->updated_at = crm_api_iso(a, in->now);
    p->sort_value = NULL;
}

/* One attempt at a create; the body ends up in sales_out. */
static int product_create_tx(crm_req *r, crm_idem *idem, const product_in *in, product *p,
                             const char **location)
{
    crm_arena *a = crm_req_arena(r);
    int tx = idem->key != NULL;
    int64_t id = 0;
    int rc;

    if (tx && (rc = crm_db_begin(sales_db)) != CRM_OK)
        return rc;
    if ((rc = crm_idem_claim(idem, sales_db, a)) != CRM_OK || idem->replay)
        goto out;
    if ((rc = store_product_insert(sales_db, in, &id)) != CRM_OK)
        goto out;
    created_product(a, in, id, p);
    crm_buf_reset(&sales_out);
    product_json(&sales_out, p);
    *location = crm_arena_printf(a, "/api/v1/products/%lld", (long long)id);
    rc = crm_idem_store(idem, sales_db, 201, *location, crm_api_etag(a, 1), sales_out.data,
                        sales_out.len);
    if (rc == CRM_OK && tx)
        rc = crm_db_commit(sales_db);
out:
    if (tx && (rc != CRM_OK || idem->replay))
        crm_db_rollback(sales_db);
    return rc;
}

int products_create(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    crm_fields fs;
    crm_valid v;
    crm_idem idem;
    product_in in;
    product p;
    unsigned present;
    const char *location = NULL;
    int rc;

    if ((rc = crm_body_fields(r, &fs)) != CRM_OK)
        return rc;
    if ((rc = crm_api_check_fields(r, fs.items, fs.n, NULL, product_fields, product_readonly)) !=
        CRM_OK)
        return rc;
    if (crm_idem_init(&idem, r, "products.create") != CRM_OK)
        return crm_api_bad_header(r, "Idempotency-Key",
                                  "must be 1 to 255 visible ASCII characters");
    memset(&in, 0, sizeof(in));
    crm_valid_init(&v, a, &fs);
    read_product_in(&v, &fs, IN_CREATE, &in, &present);
    in.now = crm_api_now(a);
    if (!crm_valid_ok(&v))
        return crm_api_invalid(r, v.errors, v.n);

    for (int attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        rc = product_create_tx(r, &idem, &in, &p, &location);
        if (rc != CRM_CONFLICT)
            break;
    }
    if (rc == CRM_INVALID)
        return crm_api_idem_reused(r);
    if (rc == CRM_DUP)
        return sku_taken(r);
    if (rc != CRM_OK)
        return sales_db_error(r, rc);
    if (idem.replay) {
        const char *id = idem.location ? strrchr(idem.location, '/') : NULL;
        return crm_api_replay(r, fs.form, &idem, crm_arena_printf(a, "/products%s", id ? id : "/"));
    }
    return crm_api_created(r, fs.form, location,
                           crm_arena_printf(a, "/products/%lld", (long long)p.id),
                           crm_api_etag(a, 1), &sales_out);
}

static void merge_product(product_in *in, unsigned present, const product *cur)
{
    if (!(present & P_SKU))
        in->sku = cur->sku;
    if (!(present & P_NAME))
        in->name = cur->name;
    if (!(present & P_DESC))
        in->description = cur->description;
    if (!(present & P_PRICE))
        in->price_cents = cur->price_cents;
    if (!(present & P_CURRENCY))
        in->currency = cur->currency;
    if (!(present & P_STOCK)) {
        in->tracked = cur->tracked;
        in->stock = cur->stock;
    }
    if (!(present & P_ACTIVE))
        in->active = cur->active;
}

static int stale_product(crm_req *r, int64_t version)
{
    crm_db_rollback(sales_db);
    crm_res_header(r, "ETag", crm_api_etag(crm_req_arena(r), version));
    return crm_problem(r, 412, "the product changed since you read it");
}

/* PATCH and PUT: read with a row lock, check If-Match, write, read back. */
static int product_update(crm_req *r, int mode)
{
    crm_arena *a = crm_req_arena(r);
    crm_fields fs;
    crm_valid v;
    product_in in;
    product p;
    crm_etags im;
    unsigned present;
    int64_t id;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return product_not_found(r);
    if ((rc = crm_api_if_match(r, &im)) != CRM_OK)
        return rc;
    if (mode == IN_PUT && !im.present)
        return crm_problem(r, 428, "PUT needs If-Match with the version you read");
    if ((rc = crm_body_fields(r, &fs)) != CRM_OK)
        return rc;
    if ((rc = crm_api_check_fields(r, fs.items, fs.n, NULL, product_fields, product_readonly)) !=
        CRM_OK)
        return rc;
    memset(&in, 0, sizeof(in));
    crm_valid_init(&v, a, &fs);
    if (mode == IN_PATCH && fs.n == 0)
        crm_valid_error(&v, "", "the body names no field to change");
    read_product_in(&v, &fs, mode, &in, &present);
    if (!crm_valid_ok(&v))
        return crm_api_invalid(r, v.errors, v.n);
    in.now = crm_api_now(a);

    for (int attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        product_in w = in;
        if ((rc = crm_db_begin(sales_db)) != CRM_OK)
            break;
        rc = store_product_get(sales_db, a, id, 1, &p);
        if (rc == CRM_OK && im.present && !crm_api_etags_match(&im, p.version, 1))
            return stale_product(r, p.version);
        if (rc == CRM_OK) {
            if (mode == IN_PATCH)
                merge_product(&w, present, &p);
            rc = store_product_update(sales_db, id, &w);
        }
        if (rc == CRM_OK)
            rc = store_product_get(sales_db, a, id, 0, &p);
        if (rc == CRM_OK)
            rc = crm_db_commit(sales_db);
        if (rc == CRM_OK)
            return send_product(r, 200, &p);
        crm_db_rollback(sales_db);
        if (rc != CRM_CONFLICT)
            break;
    }
    if (rc == CRM_NOTFOUND)
        return product_not_found(r);
    if (rc == CRM_DUP)
        return sku_taken(r);
    return sales_db_error(r, rc);
}

int products_patch(crm_req *r)
{
    return product_update(r, IN_PATCH);
}

int products_put(crm_req *r)
{
    return product_update(r, IN_PUT);
}

int products_delete(crm_req *r)
{
    product p;
    crm_etags im;
    int64_t id;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return product_not_found(r);
    if ((rc = crm_api_if_match(r, &im)) != CRM_OK)
        return rc;
    if ((rc = crm_db_begin(sales_db)) == CRM_OK) {
        rc = store_product_get(sales_db, crm_req_arena(r), id, 1, &p);
        if (rc == CRM_OK && im.present && !crm_api_etags_match(&im, p.version, 1))
            return stale_product(r, p.version);
        if (rc == CRM_OK)
            rc = store_product_delete(sales_db, id);
        if (rc == CRM_OK)
            rc = crm_db_commit(sales_db);
        if (rc == CRM_OK)
            return crm_res_send(r, 204, NULL, NULL, 0);
        crm_db_rollback(sales_db);
    }
    if (rc == CRM_NOTFOUND)
        return product_not_found(r);
    if (rc == STORE_IN_USE) {
        crm_problem_t pr = {
            .status = 409,
            .type = "product-in-use",
            .title = "Product in use",
            .detail = "the product is on orders and cannot be deleted; deactivate it instead "
                      "(PATCH {\"active\": false})",
        };
        return crm_problem_send(r, &pr);
    }
    return sales_db_error(r, rc);
}

/* ---- summary ---- */

/* Days since 1970-01-01 for a valid "YYYY-MM-DD" (days_from_civil). */
static long days_of(const char *s)
{
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static const char *date_of(crm_arena *a, long days)
{
    time_t t = (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    return crm_arena_printf(a, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

static void revenue_json(crm_buf *b, const revenue_row *rows, size_t n)
{
    crm_buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            crm_buf_putc(b, ',');
        crm_buf_putc(b, '{');
        if (rows[i].day != NULL) {
            crm_buf_puts(b, "\"day\":");
            crm_api_put_str(b, rows[i].day);
            crm_buf_putc(b, ',');
        }
        crm_buf_puts(b, "\"currency\":");
        crm_api_put_str(b, rows[i].currency);
        /* SUM() of integers: decimal digits, sent as JSON numbers. */
        crm_buf_printf(b, ",\"orders\":%s,\"revenue_cents\":%s}", rows[i].orders, rows[i].revenue);
    }
    crm_buf_putc(b, ']');
}

int sales_summary(crm_req *r)
{
    static const char *const params[] = { "from", "to", "top", NULL };
    crm_arena *a = crm_req_arena(r);
    crm_field_error errs[4];
    size_t ne = 0;
    const char *from = crm_req_query(r, "from"), *to = crm_req_query(r, "to"), *s;
    int64_t top = 10;
    int rc;

    if ((rc = crm_req_query_check(r, params)) != CRM_OK)
        return rc;
    if (to != NULL && !crm_valid_is_date(to)) {
        errs[ne].field = "to";
        errs[ne++].message = "must be a date, YYYY-MM-DD";
    }
    if (from != NULL && !crm_valid_is_date(from)) {
        errs[ne].field = "from";
        errs[ne++].message = "must be a date, YYYY-MM-DD";
    }
    if ((s = crm_req_query(r, "top")) != NULL && crm_api_parse_int(s, 1, TOP_MAX, &top) != CRM_OK) {
        errs[ne].field = "top";
        errs[ne++].message = "must be an integer between 1 and 100";
    }
    if (ne == 0) {
        if (to == NULL)
            to = date_of(a, (long)(time(NULL) / 86400));
        if (from == NULL)
            from = date_of(a, days_of(to) - 29);
        long span = days_of(to) - days_of(from);
        if (span < 0) {
            errs[ne].field = "from";
            errs[ne++].message = "must not be after to";
        } else if (span >= SUMMARY_DAYS) {
            errs[ne].field = "from";
            errs[ne++].message = "the range may span at most 3660 days";
        }
    }
    if (ne > 0)
        return crm_api_bad_query(r, errs, ne);

    revenue_row *days = NULL, *totals = NULL;
    size_t n_days = 0, n_totals = 0, n_top = 0;
    int64_t counts[ORDER_NSTATUS];
    top_row *tops = crm_arena_alloc(a, sizeof(top_row) * (size_t)top);
    if ((rc = store_summary_revenue(sales_db, a, from, to, 0, &days, &n_days)) != CRM_OK ||
        (rc = store_summary_revenue(sales_db, a, from, to, 1, &totals, &n_totals)) != CRM_OK ||
        (rc = store_summary_status(sales_db, from, to, counts)) != CRM_OK ||
        (rc = store_summary_top(sales_db, a, from, to, (int)top, tops, &n_top)) != CRM_OK)
        return sales_db_error(r, rc);

    crm_buf *b = &sales_out;
    crm_buf_reset(b);
    crm_buf_puts(b, "{\"from\":");
    crm_api_put_str(b, from);
    crm_buf_puts(b, ",\"to\":");
    crm_api_put_str(b, to);
    crm_buf_puts(b, ",\"revenue\":");
    revenue_json(b, days, n_days);
    crm_buf_puts(b, ",\"totals\":");
    revenue_json(b, totals, n_totals);
    crm_buf_puts(b, ",\"orders_by_status\":{");
    for (int i = 0; i < ORDER_NSTATUS; i++)
        crm_buf_printf(b, "%s\"%s\":%lld", i > 0 ? "," : "", order_status_name((order_status)i),
                       (long long)counts[i]);
    crm_buf_puts(b, "},\"top_products\":[");
    for (size_t i = 0; i < n_top; i++) {
        crm_buf_printf(b, "%s{\"product_id\":%lld,\"sku\":", i > 0 ? "," : "",
                       (long long)tops[i].product_id);
        crm_api_put_str(b, tops[i].sku);
        crm_buf_puts(b, ",\"name\":");
        crm_api_put_str(b, tops[i].name);
        crm_buf_puts(b, ",\"currency\":");
        crm_api_put_str(b, tops[i].currency);
        crm_buf_printf(b, ",\"units\":%s,\"revenue_cents\":%s}", tops[i].units, tops[i].revenue);
    }
    crm_buf_puts(b, "]}");
    return crm_api_send(r, 200, b);
}
