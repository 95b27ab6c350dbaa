/*
 * orders.c - the order handlers: orders, their lines, and the confirm,
 * fulfill and cancel actions with the stock they take and give back.
 *
 * Every change runs in one transaction that locks the order row first
 * (SELECT ... FOR UPDATE), so two requests on one order never interleave;
 * confirming also locks the order's products, in id order.
 */
#include "sales.h"

#include "crm_api.h"
#include "crm_auth.h"
#include "crm_body.h"
#include "crm_outbox.h"
#include "crm_valid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ID_MAX   ((INT64_C(1) << 53) - 1)
#define NOTE_MAX 2000
/* A transaction found the input wrong (422 with the errors collected). */
#define TX_UNPROCESSABLE 1
/* A change named a line the order does not have (404). */
#define TX_NO_LINE 2
/* The replica does not know the customer: ask the customers service, retry. */
#define TX_NO_CUSTOMER 3
/* Statuses above this were sent already (a problem such as 409 or 412). */
#define TX_SENT 3

static const char *const order_fields[] = {
    "customer_id", "currency", "campaign_id", "note", "lines", NULL,
};
static const char *const order_patch_fields[] = {
    "customer_id", "currency", "campaign_id", "note", NULL,
};
static const char *const order_readonly[] = {
    "id",    "status",       "total_cents",  "line_count",   "version",  "created_at", "updated_at",
    "lines", "confirmed_at", "fulfilled_at", "cancelled_at", "owner_id", NULL,
};
static const char *const line_fields[] = { "product_id", "quantity", NULL };
static const char *const line_readonly[] = {
    "id", "order_id", "sku", "name", "unit_price_cents", "line_total_cents", "reserved", NULL,
};
static const char *const lines_fields[] = { "lines", NULL };
static const char *const no_fields[] = { NULL };

/* A line as asked for: product and quantity (0: not given, PATCH). */
typedef struct {
    int64_t product_id;
    int64_t quantity;
    size_t row; /* its index in the body's lines, or its form row: what errors name */
} line_req;

/* ---- output ---- */

static void line_json(crm_buf *b, const order_line *l)
{
    crm_buf_printf(b, "{\"id\":%lld,\"product_id\":%lld,\"sku\":", (long long)l->id,
                   (long long)l->product_id);
    crm_api_put_str(b, l->sku);
    crm_buf_puts(b, ",\"name\":");
    crm_api_put_str(b, l->name);
    crm_buf_printf(b, ",\"quantity\":%lld,\"unit_price_cents\":%lld,\"line_total_cents\":%lld}",
                   (long long)l->quantity, (long long)l->unit_price_cents,
                   (long long)l->line_total_cents);
}

static void order_json(crm_buf *b, const order *o, int with_lines)
{
    crm_buf_printf(b, "{\"id\":%lld,\"customer_id\":%lld,\"currency\":", (long long)o->id,
                   (long long)o->customer_id);
    crm_api_put_str(b, o->currency);
    crm_buf_printf(b, ",\"status\":\"%s\",\"campaign_id\":", order_status_name(o->status));
    crm_api_put_id(b, o->campaign_id);
    crm_buf_puts(b, ",\"owner_id\":");
    crm_api_put_id(b, o->owner_id);
    crm_buf_puts(b, ",\"note\":");
    crm_api_put_str(b, o->note);
    crm_buf_printf(b, ",\"total_cents\":%lld,\"line_count\":%lld", (long long)o->total_cents,
                   (long long)o->line_count);
    if (with_lines) {
        crm_buf_puts(b, ",\"lines\":[");
        for (size_t i = 0; i < o->n_lines; i++) {
            if (i > 0)
                crm_buf_putc(b, ',');
            line_json(b, &o->lines[i]);
        }
        crm_buf_putc(b, ']');
    }
    crm_buf_printf(b, ",\"version\":%lld,\"created_at\":", (long long)o->version);
    crm_api_put_str(b, o->created_at);
    crm_buf_puts(b, ",\"updated_at\":");
    crm_api_put_str(b, o->updated_at);
    crm_buf_puts(b, ",\"confirmed_at\":");
    crm_api_put_str(b, o->confirmed_at);
    crm_buf_puts(b, ",\"fulfilled_at\":");
    crm_api_put_str(b, o->fulfilled_at);
    crm_buf_puts(b, ",\"cancelled_at\":");
    crm_api_put_str(b, o->cancelled_at);
    crm_buf_putc(b, '}');
}

/* The order with its lines into sales_out. */
static void order_out(const order *o)
{
    crm_buf_reset(&sales_out);
    order_json(&sales_out, o, 1);
}

static int send_order_out(crm_req *r, int status, int64_t version)
{
    crm_res_header(r, "ETag", crm_api_etag(crm_req_arena(r), version));
    return crm_api_send(r, status, &sales_out);
}

int order_visible(crm_req *r, const order *o)
{
    int64_t scope = crm_auth_owner(r);
    return scope == 0 || o->owner_id == scope;
}

static int order_not_found(crm_req *r)
{
    return crm_problem(r, 404, "no such order");
}

static int line_not_found(crm_req *r)
{
    return crm_problem(r, 404, "no such line on this order");
}

/* 409 for an order whose status does not allow what was asked. */
static int status_conflict(crm_req *r, const char *type, const char *title, const char *detail,
                           order_status s)
{
    crm_problem_t p = { .status = 409,
                        .type = type,
                        .title = title,
                        .detail = detail,
                        .extra = order_conflict_members(crm_req_arena(r), s) };
    return crm_problem_send(r, &p);
}

static int not_draft(crm_req *r, order_status s)
{
    return status_conflict(r, "order-not-draft", "Order is not a draft",
                           "only a draft order's fields and lines can change", s);
}

static int customer_unavailable(crm_req *r)
{
    crm_problem_t p = {
        .status = 503,
        .type = "dependency-unavailable",
        .title = "Customers service unavailable",
        .detail = "the customer is not known here yet and the customers service did not "
                  "answer; retry shortly",
    };
    crm_res_header(r, "Retry-After", "2");
    return crm_problem_send(r, &p);
}

/* ---- input ---- */

static const char *line_name(crm_arena *a, size_t i, const char *field)
{
    return crm_arena_printf(a, "lines[%zu].%s", i, field);
}

/*
 * The "lines" member: an array of at most ORDER_LINES_MAX objects with
 * product_id and quantity. Unknown members of a line are a 400 (sent
 * here: returns its status); bad values are recorded in v (CRM_OK).
 * rows (NULL: the index) is each line's form row (order_form_lines).
 */
static int read_lines(crm_req *r, crm_valid *v, const crm_field *f, const size_t *rows,
                      line_req **out, size_t *n)
{
    crm_arena *a = crm_req_arena(r);
    int rc;

    *out = NULL;
    *n = 0;
    if (f == NULL)
        return CRM_OK;
    if (f->type != CRM_FIELD_ARRAY) {
        crm_valid_error(v, "lines", "must be an array of {\"product_id\", \"quantity\"} objects");
        return CRM_OK;
    }
    if (f->n > ORDER_LINES_MAX) {
        crm_valid_error(v, "lines", "may hold at most 100 lines");
        return CRM_OK;
    }
    line_req *lines = crm_arena_calloc(a, sizeof(line_req) * (f->n > 0 ? f->n : 1));
    for (size_t i = 0; i < f->n; i++) {
        const crm_field *it = &f->items[i];
        size_t row = rows != NULL ? rows[i] : i;
        lines[i].row = row;
        if (it->type != CRM_FIELD_OBJECT) {
            crm_valid_error(v, crm_arena_printf(a, "lines[%zu]", row), "must be an object");
            continue;
        }
        if ((rc = crm_api_check_fields(r, it->items, it->n, crm_arena_printf(a, "lines[%zu].", row),
                                       line_fields, line_readonly)) != CRM_OK)
            return rc;
        /* A form's lines are strings, as its other fields. */
        crm_fields sub = { .form = v->fs->form, .items = it->items, .n = it->n };
        crm_valid lv;
        crm_valid_init(&lv, a, &sub);
        crm_valid_int(&lv, "product_id", 1, 1, ID_MAX, &lines[i].product_id);
        crm_valid_int(&lv, "quantity", 1, 1, QUANTITY_MAX, &lines[i].quantity);
        for (size_t k = 0; k < lv.n; k++)
            crm_valid_error(v, line_name(a, row, lv.errors[k].field), lv.errors[k].message);
    }
    *out = lines;
    *n = f->n;
    return CRM_OK;
}

/*
 * Price one line from its product (as it is now): capture sku, name and
 * price, check it may be sold in `currency` (NULL: take the product's).
 * Problems are recorded in v under `field`. CRM_OK (possibly with an
 * error recorded) or a database status.
 */
static int price_line(crm_arena *a, crm_valid *v, const char *field, const char *qty_field,
                      const line_req *in, const char **currency, order_line *out)
{
    product p;
    int rc = store_product_get(sales_db, a, in->product_id, 0, &p);

    if (rc == CRM_NOTFOUND) {
        crm_valid_error(v, field, "no such product");
        return CRM_OK;
    }
    if (rc != CRM_OK)
        return rc;
    if (!p.active) {
        crm_valid_error(v, field, "the product is not active");
        return CRM_OK;
    }
    if (*currency == NULL) {
        *currency = p.currency;
    } else if (strcmp(*currency, p.currency) != 0) {
        crm_valid_error(v, field,
                        crm_arena_printf(a, "the product is priced in %s, the order is in %s",
                                         p.currency, *currency));
        return CRM_OK;
    }
    out->product_id = p.id;
    out->sku = p.sku;
    out->name = p.name;
    out->quantity = in->quantity;
    out->unit_price_cents = p.price_cents;
    if (pricing_line_total(p.price_cents, in->quantity, &out->line_total_cents) != CRM_OK)
        crm_valid_error(v, qty_field, "the line total would exceed 9007199254740991 minor units");
    return CRM_OK;
}

/* Price every line; the sum goes to *total (errors recorded in v). */
static int price_lines(crm_arena *a, crm_valid *v, const line_req *in, size_t n,
                       const char **currency, order_line *out, int64_t *total)
{
    int64_t sum = 0;
    int over = 0, rc;

    for (size_t i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        rc = price_line(a, v, line_name(a, in[i].row, "product_id"),
                        line_name(a, in[i].row, "quantity"), &in[i], currency, &out[i]);
        if (rc != CRM_OK)
            return rc;
        if (!over && pricing_add(sum, out[i].line_total_cents, &sum) != CRM_OK)
            over = 1;
    }
    if (over)
        crm_valid_error(v, "lines", "the order total would exceed 9007199254740991 minor units");
    *total = sum;
    return CRM_OK;
}

/* ---- customers ---- */

/* 0 when the customer can be sold to; else the status sent. */
static int check_customer(crm_req *r, int64_t id)
{
    int rc = replica_ensure(r, sales_db, id);

    if (rc == CRM_OK)
        return 0;
    if (rc == CRM_NOTFOUND) {
        crm_field_error e = { "customer_id", "no such customer (unknown or deleted)" };
        return crm_api_invalid(r, &e, 1);
    }
    if (rc == REPLICA_UNAVAILABLE)
        return customer_unavailable(r);
    return sales_db_error(r, rc);
}

/*
 * In a transaction: the replica row is there and live (share lock), and
 * *owner is its owner. A deleted customer is an error in v, and so is
 * another sales user's; an unknown one too, or TX_NO_CUSTOMER when the
 * caller has not asked the customers service yet (ask_first).
 */
static int lock_customer(crm_req *r, crm_valid *v, int64_t id, int ask_first, int64_t *owner)
{
    int deleted = 0;
    int64_t scope = crm_auth_owner(r);
    int rc = store_replica_get(sales_db, id, 1, &deleted, owner);

    if (rc == CRM_NOTFOUND && ask_first)
        return TX_NO_CUSTOMER;
    /* A sales user sells to their own customers; the others do not exist for them. */
    if (rc == CRM_NOTFOUND || (rc == CRM_OK && (deleted || (scope != 0 && *owner != scope)))) {
        crm_valid_error(v, "customer_id", "no such customer (unknown or deleted)");
        return CRM_OK;
    }
    return rc;
}

/* ---- create ---- */

static int create_tx(crm_req *r, crm_idem *idem, crm_valid *v, order *o, const line_req *reqs,
                     size_t n, const char *now, int ask_first, const char **location)
{
    crm_arena *a = crm_req_arena(r);
    int rc;

    if ((rc = crm_db_begin(sales_db)) != CRM_OK)
        return rc;
    if ((rc = crm_idem_claim(idem, sales_db, a)) != CRM_OK || idem->replay)
        goto out;
    if ((rc = lock_customer(r, v, o->customer_id, ask_first, &o->owner_id)) != CRM_OK)
        goto out;
    o->lines = crm_arena_calloc(a, sizeof(order_line) * (n > 0 ? n : 1));
    o->n_lines = n;
    o->line_count = (int64_t)n;
    if ((rc = price_lines(a, v, reqs, n, &o->currency, o->lines, &o->total_cents)) != CRM_OK)
        goto out;
    if (!crm_valid_ok(v)) {
        rc = TX_UNPROCESSABLE;
        goto out;
    }
    if ((rc = store_order_insert(sales_db, o, now, &o->id)) != CRM_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        o->lines[i].order_id = o->id;
        if ((rc = store_line_insert(sales_db, &o->lines[i])) != CRM_OK)
            goto out;
    }
    if ((rc = store_daily_status(sales_db, now, ORDER_DRAFT, (int)(o->id % SUMMARY_SLOTS), 1)) !=
        CRM_OK)
        goto out;
    o->version = 1;
    o->status = ORDER_DRAFT;
    o->created_at = o->updated_at = crm_api_iso(a, now);
    order_out(o);
    *location = crm_arena_printf(a, "/api/v1/orders/%lld", (long long)o->id);
    rc = crm_idem_store(idem, sales_db, 201, *location, crm_api_etag(a, 1), sales_out.data,
                        sales_out.len);
    if (rc == CRM_OK)
        rc = crm_db_commit(sales_db);
out:
    if (rc != CRM_OK || idem->replay)
        crm_db_rollback(sales_db);
    return rc;
}

int orders_create(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    crm_fields fs;
    crm_valid v;
    crm_idem idem;
    order o;
    line_req *reqs = NULL;
    size_t n = 0;
    const size_t *rows = NULL;
    const char *location = NULL, *s = NULL;
    int64_t i = 0;
    int rc;

    if ((rc = crm_body_fields(r, &fs)) != CRM_OK)
        return rc;
    if (fs.form)
        order_form_lines(a, &fs, &rows);
    if ((rc = crm_api_check_fields(r, fs.items, fs.n, NULL, order_fields, order_readonly)) !=
        CRM_OK)
        return rc;
    if (crm_idem_init(&idem, r, "orders.create") != CRM_OK)
        return crm_api_bad_header(r, "Idempotency-Key",
                                  "must be 1 to 255 visible ASCII characters");
    memset(&o, 0, sizeof(o));
    crm_valid_init(&v, a, &fs);
    if (crm_valid_int(&v, "customer_id", 1, 1, ID_MAX, &i) == CRM_OK)
        o.customer_id = i;
    /* The order form sends its currency field empty when the lines decide. */
    const crm_field *cur = crm_fields_get(&fs, "currency");
    if (cur != NULL && fs.form && cur->len == 0)
        cur = NULL;
    if (cur != NULL)
        o.currency = read_currency(&v, "currency", 0);
    if (!crm_api_is_null(&fs, "campaign_id") &&
        crm_valid_int(&v, "campaign_id", 0, 1, ID_MAX, &i) == CRM_OK)
        o.campaign_id = i;
    if (crm_valid_string(&v, "note", 0, 0, NOTE_MAX, &s) == CRM_OK)
        o.note = s != NULL && *s != '\0' ? s : NULL;
    if ((rc = read_lines(r, &v, crm_fields_get(&fs, "lines"), rows, &reqs, &n)) != CRM_OK)
        return rc;
    if (n == 0 && o.currency == NULL && cur == NULL)
        crm_valid_error(&v, "currency", "is required when the order has no lines");
    if (!crm_valid_ok(&v))
        return crm_api_invalid(r, v.errors, v.n);
    /*
     * The replica is read inside the transaction; only a customer it does
     * not know yet costs a call to the customers service (outside any
     * transaction), and the create runs again.
     */
    const char *now = crm_api_now(a);
    int ask_first = 1;
    order w;
    for (int attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        w = o;
        crm_valid_init(&v, a, &fs);
        rc = create_tx(r, &idem, &v, &w, reqs, n, now, ask_first, &location);
        if (rc == TX_NO_CUSTOMER) {
            if ((rc = check_customer(r, o.customer_id)) != 0)
                return rc;
            ask_first = 0;
            attempt--; /* not a deadlock: this attempt does not count */
            continue;
        }
        if (rc != CRM_CONFLICT)
            break;
    }
    if (rc == TX_UNPROCESSABLE)
        return crm_api_invalid(r, v.errors, v.n);
    if (rc == CRM_INVALID)
        return crm_api_idem_reused(r);
    if (rc != CRM_OK)
        return sales_db_error(r, rc);
    if (idem.replay) {
        const char *id = idem.location ? strrchr(idem.location, '/') : NULL;
        return crm_api_replay(r, fs.form, &idem, crm_arena_printf(a, "/orders%s", id ? id : "/"));
    }
    return crm_api_created(r, fs.form, location,
                           crm_arena_printf(a, "/orders/%lld", (long long)w.id), crm_api_etag(a, 1),
                           &sales_out);
}

/* ---- read ---- */

int orders_get(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    int64_t id;
    order o;
    crm_etags inm;
    int rc;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return order_not_found(r);
    if ((rc = crm_api_if_none_match(r, &inm)) != CRM_OK)
        return rc;
    rc = store_order_get(sales_db, a, id, 0, &o);
    if (rc == CRM_OK && !order_visible(r, &o))
        rc = CRM_NOTFOUND;
    if (rc == CRM_NOTFOUND)
        return order_not_found(r);
    if (rc != CRM_OK)
        return sales_db_error(r, rc);
    if (crm_api_not_modified(r, &inm, o.version))
        return 304;
    if ((rc = store_order_lines(sales_db, a, &o)) != CRM_OK)
        return sales_db_error(r, rc);
    order_out(&o);
    return send_order_out(r, 200, o.version);
}

int orders_line_get(crm_req *r)
{
    int64_t id, line_id;
    order_line l;

    if (crm_req_path_id(r, "id", &id) != CRM_OK ||
        crm_req_path_id(r, "line_id", &line_id) != CRM_OK)
        return line_not_found(r);
    int rc = CRM_OK;
    if (crm_auth_owner(r) != 0) {
        order o;
        rc = store_order_get(sales_db, crm_req_arena(r), id, 0, &o);
        if (rc == CRM_OK && !order_visible(r, &o))
            rc = CRM_NOTFOUND;
    }
    if (rc == CRM_OK)
        rc = store_line_get(sales_db, crm_req_arena(r), id, line_id, &l);
    if (rc == CRM_NOTFOUND)
        return line_not_found(r);
    if (rc != CRM_OK)
        return sales_db_error(r, rc);
    crm_buf_reset(&sales_out);
    line_json(&sales_out, &l);
    return crm_api_send(r, 200, &sales_out);
}

/* "YYYY-MM-DD" + days as "YYYY-MM-DD 00:00:00". */
static const char *day_start(crm_arena *a, const char *date, int plus_days)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = (date[0] - '0') * 1000 + (date[1] - '0') * 100 + (date[2] - '0') * 10 +
                 (date[3] - '0') - 1900;
    tm.tm_mon = (date[5] - '0') * 10 + (date[6] - '0') - 1;
    tm.tm_mday = (date[8] - '0') * 10 + (date[9] - '0') + plus_days;
    time_t t = timegm(&tm);
    gmtime_r(&t, &tm);
    return crm_arena_printf(a, "%04d-%02d-%02d 00:00:00", tm.tm_year + 1900, tm.tm_mon + 1,
                            tm.tm_mday);
}

const char *const order_params[] = {
    "limit", "cursor", "customer", "status", "campaign", "from", "to", "sort", "count", NULL,
};

#define QERR(name_, msg_)                                                                          \
    do {                                                                                           \
        errs[*ne].field = (name_);                                                                 \
        errs[*ne].message = (msg_);                                                                \
        (*ne)++;                                                                                   \
    } while (0)

void orders_filter(crm_req *r, int page, order_filter *f, crm_api_list *l, crm_field_error *errs,
                   size_t *ne)
{
    crm_arena *a = crm_req_arena(r);
    int64_t v;
    order_status st;
    const char *s, *from = NULL, *to = NULL;
    size_t before = *ne;

    memset(f, 0, sizeof(*f));
    f->owner = crm_auth_owner(r);
    crm_api_list_params(r, "orders", order_sorts, l, errs, ne);
    if ((s = sales_query(r, "customer", page)) != NULL) {
        if (crm_api_parse_int(s, 1, ID_MAX, &v) == CRM_OK)
            f->customer = v;
        else
            QERR("customer", "must be a positive integer");
    }
    if ((s = sales_query(r, "campaign", page)) != NULL) {
        if (crm_api_parse_int(s, 1, ID_MAX, &v) == CRM_OK)
            f->campaign = v;
        else
            QERR("campaign", "must be a positive integer");
    }
    if ((s = sales_query(r, "status", page)) != NULL) {
        if (order_status_parse(s, &st) == CRM_OK)
            f->status = s;
        else
            QERR("status", "must be one of: draft, confirmed, fulfilled, cancelled");
    }
    if ((from = sales_query(r, "from", page)) != NULL && !crm_valid_is_date(from)) {
        QERR("from", "must be a date, YYYY-MM-DD");
        from = NULL;
    }
    if ((to = sales_query(r, "to", page)) != NULL && !crm_valid_is_date(to)) {
        QERR("to", "must be a date, YYYY-MM-DD");
        to = NULL;
    }
    if (from != NULL && to != NULL && strcmp(from, to) > 0)
        QERR("from", "must not be after to");
    if (*ne == before) {
        if (from != NULL)
            f->from = day_start(a, from, 0);
        if (to != NULL)
            f->to = day_start(a, to, 1);
    }
    f->sort = l->sort;
    f->after = l->after;
    f->after_value = l->after_value;
    f->after_id = l->after_id;
    f->limit = (int)l->limit + 1;
}
#undef QERR

int orders_list(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    crm_field_error errs[12];
    size_t ne = 0;
    order_filter f;
    crm_api_list l;
    int rc;

    if ((rc = crm_req_query_check(r, order_params)) != CRM_OK)
        return rc;
    orders_filter(r, 0, &f, &l, errs, &ne);
    if (ne > 0)
        return crm_api_bad_query(r, errs, ne);

    order *rows = crm_arena_alloc(a, sizeof(order) * (size_t)f.limit);
    size_t n = 0;
    int64_t count = 0;
    if ((rc = store_order_list(sales_db, a, &f, rows, &n)) != CRM_OK)
        return sales_db_error(r, rc);
    if (l.count && (rc = store_order_count(sales_db, &f, &count)) != CRM_OK)
        return sales_db_error(r, rc);

    size_t shown = n > (size_t)l.limit ? (size_t)l.limit : n;
    crm_api_page_begin(&sales_out);
    for (size_t i = 0; i < shown; i++) {
        crm_api_page_sep(&sales_out, i);
        order_json(&sales_out, &rows[i], 0);
    }
    const order *last = &rows[shown > 0 ? shown - 1 : 0];
    crm_api_page_finish(&sales_out, a, &l, n, last->sort_value, last->id, count);
    return crm_api_send(r, 200, &sales_out);
}

/* ---- changes of a draft ---- */

/*
 * What a change of a draft does inside the transaction, after the order is
 * locked, If-Match checked and the order found editable. It changes *o
 * (fields, lines, totals) and the lines in the store; the caller writes the
 * order row and answers. Problems go to v (return TX_UNPROCESSABLE) or are
 * a 404 for the line (TX_NO_LINE).
 */
typedef struct edit edit;
typedef int (*edit_fn)(crm_req *r, crm_valid *v, order *o, edit *e);

struct edit {
    edit_fn fn;
    const char *scope;    /* Idempotency-Key scope, NULL: none */
    int status;           /* 200, 201 (a line was added) or 204 */
    int64_t line_id;      /* the line addressed or added */
    const char *location; /* of the line added */
    /* the request */
    line_req line;         /* add / patch */
    const line_req *lines; /* replace */
    size_t n_lines;
    const crm_fields *fs; /* PATCH of the order */
    unsigned present;
    order patch;
};

static int recount(crm_valid *v, order *o)
{
    int64_t sum = 0;
    for (size_t i = 0; i < o->n_lines; i++) {
        if (pricing_add(sum, o->lines[i].line_total_cents, &sum) != CRM_OK) {
            crm_valid_error(v, "lines",
                            "the order total would exceed 9007199254740991 minor units");
            return TX_UNPROCESSABLE;
        }
    }
    o->total_cents = sum;
    o->line_count = (int64_t)o->n_lines;
    return CRM_OK;
}

static int edit_add_line(crm_req *r, crm_valid *v, order *o, edit *e)
{
    crm_arena *a = crm_req_arena(r);
    order_line *lines = crm_arena_calloc(a, sizeof(order_line) * (o->n_lines + 1));
    order_line *l = &lines[o->n_lines];
    const char *currency = o->currency;
    int rc;

    if (o->n_lines >= ORDER_LINES_MAX) {
        crm_valid_error(v, "lines", "an order may hold at most 100 lines");
        return TX_UNPROCESSABLE;
    }
    if ((rc = price_line(a, v, "product_id", "quantity", &e->line, &currency, l)) != CRM_OK)
        return rc;
    if (!crm_valid_ok(v))
        return TX_UNPROCESSABLE;
    memcpy(lines, o->lines, sizeof(order_line) * o->n_lines);
    o->lines = lines;
    o->n_lines++;
    if ((rc = recount(v, o)) != CRM_OK)
        return rc;
    l->order_id = o->id;
    if ((rc = store_line_insert(sales_db, l)) != CRM_OK)
        return rc;
    e->line_id = l->id;
    return CRM_OK;
}

static int edit_replace_lines(crm_req *r, crm_valid *v, order *o, edit *e)
{
    crm_arena *a = crm_req_arena(r);
    order_line *lines = crm_arena_calloc(a, sizeof(order_line) * (e->n_lines > 0 ? e->n_lines : 1));
    const char *currency = o->currency;
    int64_t total = 0;
    int rc;

    if ((rc = price_lines(a, v, e->lines, e->n_lines, &currency, lines, &total)) != CRM_OK)
        return rc;
    if (!crm_valid_ok(v))
        return TX_UNPROCESSABLE;
    if ((rc = store_lines_clear(sales_db, o->id)) != CRM_OK)
        return rc;
    for (size_t i = 0; i < e->n_lines; i++) {
        lines[i].order_id = o->id;
        if ((rc = store_line_insert(sales_db, &lines[i])) != CRM_OK)
            return rc;
    }
    o->lines = lines;
    o->n_lines = e->n_lines;
    return recount(v, o);
}

static order_line *find_line(order *o, int64_t line_id)
{
    for (size_t i = 0; i < o->n_lines; i++) {
        if (o->lines[i].id == line_id)
            return &o->lines[i];
    }
    return NULL;
}

static int edit_patch_line(crm_req *r, crm_valid *v, order *o, edit *e)
{
    crm_arena *a = crm_req_arena(r);
    order_line *l = find_line(o, e->line_id);
    int rc;

    if (l == NULL)
        return TX_NO_LINE;
    line_req want = { .product_id = e->line.product_id > 0 ? e->line.product_id : l->product_id,
                      .quantity = e->line.quantity > 0 ? e->line.quantity : l->quantity };
    if (want.product_id != l->product_id) {
        /* Another product: its current price is captured. */
        const char *currency = o->currency;
        order_line n;
        memset(&n, 0, sizeof(n));
        if ((rc = price_line(a, v, "product_id", "quantity", &want, &currency, &n)) != CRM_OK)
            return rc;
        if (!crm_valid_ok(v))
            return TX_UNPROCESSABLE;
        n.id = l->id;
        n.order_id = l->order_id;
        *l = n;
    } else if (pricing_line_total(l->unit_price_cents, want.quantity, &l->line_total_cents) !=
               CRM_OK) {
        crm_valid_error(v, "quantity", "the line total would exceed 9007199254740991 minor units");
        return TX_UNPROCESSABLE;
    } else {
        l->quantity = want.quantity;
    }
    if ((rc = recount(v, o)) != CRM_OK)
        return rc;
    return store_line_update(sales_db, l);
}

static int edit_delete_line(crm_req *r, crm_valid *v, order *o, edit *e)
{
    order_line *l = find_line(o, e->line_id);
    int rc;

    (void)r;
    if (l == NULL)
        return TX_NO_LINE;
    if ((rc = store_line_delete(sales_db, o->id, l->id)) != CRM_OK)
        return rc;
    size_t k = (size_t)(l - o->lines);
    memmove(l, l + 1, sizeof(order_line) * (o->n_lines - k - 1));
    o->n_lines--;
    return recount(v, o);
}

enum { OP_CUSTOMER = 1, OP_CURRENCY = 2, OP_CAMPAIGN = 4, OP_NOTE = 8 };

static int edit_patch_order(crm_req *r, crm_valid *v, order *o, edit *e)
{
    int rc;

    if (e->present & OP_CURRENCY && strcmp(e->patch.currency, o->currency) != 0) {
        if (o->n_lines > 0) {
            crm_valid_error(v, "currency", "cannot change while the order has lines");
            return TX_UNPROCESSABLE;
        }
        o->currency = e->patch.currency;
    }
    if (e->present & OP_CUSTOMER && e->patch.customer_id != o->customer_id) {
        int64_t owner = 0;
        if ((rc = lock_customer(r, v, e->patch.customer_id, 0, &owner)) != CRM_OK)
            return rc;
        if (!crm_valid_ok(v))
            return TX_UNPROCESSABLE;
        o->customer_id = e->patch.customer_id;
        o->owner_id = owner;
    }
    if (e->present & OP_CAMPAIGN)
        o->campaign_id = e->patch.campaign_id;
    if (e->present & OP_NOTE)
        o->note = e->patch.note;
    return CRM_OK;
}

static int stale_order(crm_req *r, int64_t version)
{
    crm_db_rollback(sales_db);
    crm_res_header(r, "ETag", crm_api_etag(crm_req_arena(r), version));
    return crm_problem(r, 412, "the order changed since you read it");
}

/*
 * One attempt at changing a draft. Returns CRM_OK with the answer in
 * sales_out (and *o the order after the change), a status already sent
 * (> TX_SENT, e.g. 412/409), TX_UNPROCESSABLE, TX_NO_LINE, or a store status.
 */
static int edit_tx(crm_req *r, crm_idem *idem, const crm_etags *im, crm_valid *v, int64_t id,
                   edit *e, order *o)
{
    crm_arena *a = crm_req_arena(r);
    const char *now = crm_api_now(a);
    int rc;

    if ((rc = crm_db_begin(sales_db)) != CRM_OK)
        return rc;
    if ((rc = crm_idem_claim(idem, sales_db, a)) != CRM_OK || idem->replay)
        goto out;
    if ((rc = store_order_get(sales_db, a, id, 1, o)) != CRM_OK)
        goto out;
    if (!order_visible(r, o)) {
        rc = CRM_NOTFOUND;
        goto out;
    }
    if (im->present && !crm_api_etags_match(im, o->version, 1))
        return stale_order(r, o->version);
    if (!order_editable(o->status)) {
        crm_db_rollback(sales_db);
        return not_draft(r, o->status);
    }
    if ((rc = store_order_lines(sales_db, a, o)) != CRM_OK)
        goto out;
    if ((rc = e->fn(r, v, o, e)) != CRM_OK)
        goto out;
    if ((rc = store_order_update(sales_db, o, now)) != CRM_OK)
        goto out;
    o->version++;
    o->updated_at = crm_api_iso(a, now);
    order_out(o);
    if (e->status == 201) {
        const char *loc = crm_arena_printf(a, "/api/v1/orders/%lld/lines/%lld", (long long)o->id,
                                           (long long)e->line_id);
        e->location = loc;
        rc = crm_idem_store(idem, sales_db, 201, loc, crm_api_etag(a, o->version), sales_out.data,
                            sales_out.len);
        if (rc != CRM_OK)
            goto out;
    }
    rc = crm_db_commit(sales_db);
out:
    if (rc != CRM_OK || idem->replay)
        crm_db_rollback(sales_db);
    return rc;
}

/* Run an edit with retries and answer. The body (if any) was read by the caller. */
static int run_edit(crm_req *r, const crm_fields *fs, crm_valid *v, edit *e)
{
    crm_arena *a = crm_req_arena(r);
    crm_etags im;
    crm_idem idem;
    int64_t id;
    order o;
    int rc = CRM_ERR;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return order_not_found(r);
    if ((rc = crm_api_if_match(r, &im)) != CRM_OK)
        return rc;
    memset(&idem, 0, sizeof(idem));
    if (e->scope != NULL &&
        crm_idem_init(&idem, r, crm_arena_printf(a, "%s.%lld", e->scope, (long long)id)) != CRM_OK)
        return crm_api_bad_header(r, "Idempotency-Key",
                                  "must be 1 to 255 visible ASCII characters");
    for (int attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        crm_valid_init(v, a, fs);
        rc = edit_tx(r, &idem, &im, v, id, e, &o);
        if (rc != CRM_CONFLICT)
            break;
    }
    if (rc > TX_SENT)
        return rc;
    if (rc == TX_UNPROCESSABLE)
        return crm_api_invalid(r, v->errors, v->n);
    if (rc == TX_NO_LINE)
        return line_not_found(r);
    if (rc == CRM_INVALID)
        return crm_api_idem_reused(r);
    if (rc == CRM_NOTFOUND)
        return order_not_found(r);
    if (rc != CRM_OK)
        return sales_db_error(r, rc);
    const char *page = crm_arena_printf(a, "/orders/%lld", (long long)id);
    if (idem.replay)
        return crm_api_replay(r, fs->form, &idem, page);
    if (e->status == 201 && fs->form && crm_req_wants_html(r)) {
        crm_res_header(r, "Location", page);
        return crm_res_send(r, 303, NULL, NULL, 0);
    }
    if (e->status == 201)
        crm_res_header(r, "Location", e->location);
    if (e->status == 204) {
        crm_res_header(r, "ETag", crm_api_etag(a, o.version));
        return crm_res_send(r, 204, NULL, NULL, 0);
    }
    return send_order_out(r, e->status, o.version);
}

int orders_patch(crm_req *r)
{
    crm_arena *a = crm_req_arena(r);
    crm_fields fs;
    crm_valid v;
    edit e;
    const char *s = NULL;
    int64_t i = 0;
    int rc;

    if ((rc = crm_body_fields(r, &fs)) != CRM_OK)
        return rc;
    if ((rc = crm_api_check_fields(r, fs.items, fs.n, NULL, order_patch_fields, order_readonly)) !=
        CRM_OK)
        return rc;
    memset(&e, 0, sizeof(e));
    e.fn = edit_patch_order;
    e.status = 200;
    e.fs = &fs;
    crm_valid_init(&v, a, &fs);
    if (fs.n == 0)
        crm_valid_error(&v, "", "the body names no field to change");
    if (crm_valid_int(&v, "customer_id", 0, 1, ID_MAX, &i) == CRM_OK) {
        e.patch.customer_id = i;
        e.present |= OP_CUSTOMER;
    } else if (crm_api_is_null(&fs, "customer_id")) {
        crm_valid_error(&v, "customer_id", "must not be null");
    }
    if (crm_fields_get(&fs, "currency") != NULL &&
        (e.patch.currency = read_currency(&v, "currency", 1)) != NULL)
        e.present |= OP_CURRENCY;
    if (crm_api_is_null(&fs, "campaign_id")) {
        e.present |= OP_CAMPAIGN;
    } else if (crm_valid_int(&v, "campaign_id", 0, 1, ID_MAX, &i) == CRM_OK) {
        e.patch.campaign_id = i;
        e.present |= OP_CAMPAIGN;
    }
    if (crm_valid_string(&v, "note", 0, 0, NOTE_MAX, &s) == CRM_OK) {
        e.patch.note = s != NULL && *s != '\0' ? s : NULL;
        e.present |= OP_NOTE;
    }
    if (!crm_valid_ok(&v))
        return crm_api_invalid(r, v.errors, v.n);
    if ((e.present & OP_CUSTOMER) && (rc = check_customer(r, e.patch.customer_id)) != 0)
        return rc;
    return run_edit(r, &fs, &v, &e);
}

/* Body {"product_id", "quantity"}: both required (add) or either (patch). */
static int read_line_body(crm_req *r, crm_fields *fs, crm_valid *v, int required, line_req *out)
{
    int rc;

    if ((rc = crm_body_fields(r, fs)) != CRM_OK)
        return rc;
    if ((rc = crm_api_check_fields(r, fs->items, fs->n, NULL, line_fields, line_readonly)) !=
        CRM_OK)
        return rc;
    crm_valid_init(v, crm_req_arena(r), fs);
    if (!required && fs->n == 0)
        crm_valid_error(v, "", "the body names no field to change");
    out->product_id = out->quantity = 0;
    crm_valid_int(v, "product_id", required, 1, ID_MAX, &out->product_id);
    crm_valid_int(v, "quantity", required, 1, QUANTITY_MAX, &out->quantity);
    if (!crm_valid_ok(v))
        return crm_api_invalid(r, v->errors, v->n);
    return CRM_OK;
}

int orders_lines_add(crm_req *r)
{
    crm_fields fs;
    crm_valid v;
    edit e;
    int rc;

    memset(&e, 0, sizeof(e));
    if ((rc = read_line_body(r, &fs, &v, 1, &e.line)) != CRM_OK)
        return rc;
    e.fn = edit_add_line;
    e.scope = "orders.lines";
    e.status = 201;
    return run_edit(r, &fs, &v, &e);
}

int orders_lines_replace(crm_req *r)
{
    crm_fields fs;
    crm_valid v;
    edit e;
    line_req *reqs = NULL;
    size_t n = 0;
    int rc;

    if ((rc = crm_body_fields(r, &fs)) != CRM_OK)
        return rc;
    if ((rc = crm_api_check_fields(r, fs.items, fs.n, NULL, lines_fields, no_fields)) != CRM_OK)
        return rc;
    crm_valid_init(&v, crm_req_arena(r), &fs);
    if (crm_fields_get(&fs, "lines") == NULL)
        crm_valid_error(&v, "lines", "is required (an empty array removes every line)");
    if ((rc = read_lines(r, &v, crm_fields_get(&fs, "lines"), NULL, &reqs, &n)) != CRM_OK)
        return rc;
    if (!crm_valid_ok(&v))
        return crm_api_invalid(r, v.errors, v.n);
    memset(&e, 0, sizeof(e));
    e.fn = edit_replace_lines;
    e.status = 200;
    e.lines = reqs;
    e.n_lines = n;
    return run_edit(r, &fs, &v, &e);
}

int orders_line_patch(crm_req *r)
{
    crm_fields fs;
    crm_valid v;
    edit e;
    int rc;

    memset(&e, 0, sizeof(e));
    if (crm_req_path_id(r, "line_id", &e.line_id) != CRM_OK)
        return line_not_found(r);
    if ((rc = read_line_body(r, &fs, &v, 0, &e.line)) != CRM_OK)
        return rc;
    e.fn = edit_patch_line;
    e.status = 200;
    return run_edit(r, &fs, &v, &e);
}

int orders_line_delete(crm_req *r)
{
    crm_fields fs;
    crm_valid v;
    edit e;

    memset(&e, 0, sizeof(e));
    memset(&fs, 0, sizeof(fs));
    if (crm_req_path_id(r, "line_id", &e.line_id) != CRM_OK)
        return line_not_found(r);
    e.fn = edit_delete_line;
    e.status = 204;
    return run_edit(r, &fs, &v, &e);
}

/* ---- actions ---- */

/* Per product of an order: units and the first line naming it. */
typedef struct {
    int64_t product_id;
    int64_t units;
    int64_t first_line;
    int64_t reserved; /* what its lines reserved at confirmation */
    int tracked;      /* its stock was tracked as the transaction first saw it */
    size_t n_lines;
} product_sum;

static size_t sum_by_product(const order *o, product_sum *sums)
{
    size_t n = 0;
    for (size_t i = 0; i < o->n_lines; i++) {
        const order_line *l = &o->lines[i];
        size_t k = 0;
        while (k < n && sums[k].product_id != l->product_id)
            k++;
        if (k == n) {
            memset(&sums[n], 0, sizeof(sums[n]));
            sums[n].product_id = l->product_id;
            sums[n].first_line = l->id;
            n++;
        }
        sums[k].units += l->quantity;
        sums[k].reserved += l->reserved;
        sums[k].tracked |= l->tracked;
        sums[k].n_lines++;
    }
    return n;
}

static int cmp_sum(const void *x, const void *y)
{
    const product_sum *a = x, *b = y;
    return a->product_id < b->product_id ? -1 : a->product_id > b->product_id;
}

/*
 * Lock, one by one in id order (SELECT ... FOR UPDATE), the products whose
 * stock will change, so that two confirmations never wait on each other in
 * a circle; a locking read also returns the latest committed stock,
 * whatever the transaction's snapshot. want(k) says which: products whose
 * stock is not tracked are not locked at all, so orders of a popular
 * untracked product do not queue (products[k].tracked is 0 for them).
 * Should one have become tracked since the snapshot, taking its stock
 * finds fewer rows than it expects and the transaction is retried.
 * sums[0..n) comes back sorted with products[k] the row of sums[k].
 */
static int lock_products(crm_req *r, product_sum *sums, size_t n, product *products, int returning)
{
    qsort(sums, n, sizeof(sums[0]), cmp_sum);
    for (size_t k = 0; k < n; k++) {
        memset(&products[k], 0, sizeof(products[k]));
        if (returning ? sums[k].reserved == 0 : !sums[k].tracked)
            continue;
        int rc = store_product_get(sales_db, crm_req_arena(r), sums[k].product_id, 1, &products[k]);
        if (rc != CRM_OK)
            return rc == CRM_NOTFOUND ? CRM_ERR : rc; /* a line keeps its product */
    }
    return CRM_OK;
}

/*
 * Lock the order's products and check every tracked one has the units its
 * lines ask for; take them. CRM_OK, or a 409 sent (status > 1) listing
 * the short ones, one entry per product.
 */
static int reserve_stock(crm_req *r, order *o, const char *now)
{
    crm_arena *a = crm_req_arena(r);
    product_sum *sums = crm_arena_alloc(a, sizeof(product_sum) * (o->n_lines + 1));
    product *products = crm_arena_alloc(a, sizeof(product) * (o->n_lines + 1));
    size_t n = sum_by_product(o, sums), tracked = 0;
    crm_buf extra;
    int rc, short_any = 0;

    if ((rc = lock_products(r, sums, n, products, 0)) != CRM_OK)
        return rc;
    crm_buf_init(&extra, 64u << 10);
    crm_buf_puts(&extra, "\"short_lines\":[");
    for (size_t k = 0; k < n; k++) {
        const product_sum *ps = &sums[k];
        if (!products[k].tracked)
            continue;
        tracked++;
        if (products[k].stock >= ps->units)
            continue;
        crm_buf_printf(&extra,
                       "%s{\"line_id\":%lld,\"product_id\":%lld,\"sku\":", short_any ? "," : "",
                       (long long)ps->first_line, (long long)ps->product_id);
        crm_api_put_str(&extra, products[k].sku);
        crm_buf_printf(&extra, ",\"requested\":%lld,\"available\":%lld,\"line_ids\":[",
                       (long long)ps->units, (long long)products[k].stock);
        int first = 1;
        for (size_t j = 0; j < o->n_lines; j++) {
            if (o->lines[j].product_id != ps->product_id)
                continue;
            crm_buf_printf(&extra, "%s%lld", first ? "" : ",", (long long)o->lines[j].id);
            first = 0;
        }
        crm_buf_puts(&extra, "]}");
        short_any = 1;
    }
    crm_buf_putc(&extra, ']');
    if (short_any) {
        crm_db_rollback(sales_db);
        crm_problem_t p = { .status = 409,
                            .type = "insufficient-stock",
                            .title = "Insufficient stock",
                            .detail = "some lines ask for more than is on hand; nothing was "
                                      "reserved",
                            .extra = crm_arena_strndup(a, extra.data, extra.len) };
        crm_buf_free(&extra);
        return crm_problem_send(r, &p);
    }
    crm_buf_free(&extra);
    return store_stock_take(sales_db, o->id, now, tracked);
}

/* Cancelling a confirmed order: lock its products as above, give back. */
static int return_stock(crm_req *r, order *o, const char *now)
{
    crm_arena *a = crm_req_arena(r);
    product_sum *sums = crm_arena_alloc(a, sizeof(product_sum) * (o->n_lines + 1));
    product *products = crm_arena_alloc(a, sizeof(product) * (o->n_lines + 1));
    int rc = lock_products(r, sums, sum_by_product(o, sums), products, 1);

    if (rc != CRM_OK)
        return rc;
    return store_stock_return(sales_db, o->id, now);
}

/* The summary's per-day figures for a confirmation (sign 1) or its undoing (-1). */
static int count_revenue(const order *o, const char *day, int sign)
{
    int rc = store_daily_revenue(sales_db, day, o->currency, (int)(o->id % SUMMARY_SLOTS), sign,
                                 sign * o->total_cents);

    if (rc == CRM_OK)
        rc = store_daily_products(sales_db, day, o->id, o->currency, sign);
    return rc;
}

static int act_tx(crm_req *r, crm_idem *idem, const crm_etags *im, int64_t id, order_action act,
                  order *o)
{
    crm_arena *a = crm_req_arena(r);
    const char *now = crm_api_now(a);
    order_status to;
    int rc;

    if ((rc = crm_db_begin(sales_db)) != CRM_OK)
        return rc;
    if ((rc = crm_idem_claim(idem, sales_db, a)) != CRM_OK || idem->replay)
        goto out;
    if ((rc = store_order_get(sales_db, a, id, 1, o)) != CRM_OK)
        goto out;
    if (!order_visible(r, o)) {
        rc = CRM_NOTFOUND;
        goto out;
    }
    if (im->present && !crm_api_etags_match(im, o->version, 1))
        return stale_order(r, o->version);
    if (order_transition(o->status, act, &to) != CRM_OK) {
        crm_db_rollback(sales_db);
        return status_conflict(r, "invalid-transition", "Invalid transition",
                               crm_arena_printf(a, "a %s order cannot be %s",
                                                order_status_name(o->status),
                                                act == ACT_CONFIRM   ? "confirmed"
                                                : act == ACT_FULFILL ? "fulfilled"
                                                                     : "cancelled"),
                               o->status);
    }
    if ((rc = store_order_lines(sales_db, a, o)) != CRM_OK)
        goto out;
    int slot = (int)(o->id % SUMMARY_SLOTS);
    if (act == ACT_CONFIRM) {
        if (o->n_lines == 0) {
            crm_db_rollback(sales_db);
            crm_problem_t p = { .status = 409,
                                .type = "empty-order",
                                .title = "Empty order",
                                .detail = "an order needs at least one line to be confirmed",
                                .extra = order_conflict_members(a, o->status) };
            return crm_problem_send(r, &p);
        }
        if ((rc = reserve_stock(r, o, now)) != CRM_OK)
            goto out;
    } else if (act == ACT_CANCEL && o->status == ORDER_CONFIRMED) {
        if ((rc = return_stock(r, o, now)) != CRM_OK)
            goto out;
    }
    if ((rc = store_order_set_status(sales_db, o->id, to, now)) != CRM_OK)
        goto out;
    const char *iso = crm_api_iso(a, now);
    order_status from = o->status;
    const char *was_confirmed = o->confirmed_sql;
    if (to == ORDER_CONFIRMED)
        o->confirmed_at = iso;
    else if (to == ORDER_FULFILLED)
        o->fulfilled_at = iso;
    else
        o->cancelled_at = iso;
    o->status = to;
    o->version++;
    o->updated_at = iso;
    /* The answer, rendered once: the event is the same order plus where it came from. */
    order_out(o);
    size_t answer_len = sales_out.len;
    if (to == ORDER_CONFIRMED || to == ORDER_CANCELLED) {
        sales_out.len--; /* reopen the object */
        crm_buf_printf(&sales_out, ",\"previous_status\":\"%s\"}", order_status_name(from));
        rc = crm_outbox_add(sales_db, to == ORDER_CONFIRMED ? "order.confirmed" : "order.cancelled",
                            o->id, o->version, now, sales_out.data, sales_out.len);
        sales_out.len = answer_len - 1;
        crm_buf_putc(&sales_out, '}'); /* back to the answer */
        if (rc != CRM_OK)
            goto out;
    }
    /*
     * The summary's rows last: every confirmation of the day writes them,
     * so their locks are held for as short a time as possible.
     */
    if (to == ORDER_CONFIRMED)
        rc = count_revenue(o, now, 1);
    else if (to == ORDER_CANCELLED && from == ORDER_CONFIRMED)
        rc = count_revenue(o, was_confirmed, -1);
    if (rc != CRM_OK)
        goto out;
    if ((rc = store_daily_move(sales_db, o->created_sql, from, to, slot)) != CRM_OK)
        goto out;
    rc = crm_idem_store(idem, sales_db, 200, NULL, crm_api_etag(a, o->version), sales_out.data,
                        sales_out.len);
    if (rc == CRM_OK)
        rc = crm_db_commit(sales_db);
out:
    if (rc != CRM_OK || idem->replay)
        crm_db_rollback(sales_db);
    return rc;
}

static int act(crm_req *r, order_action action)
{
    crm_arena *a = crm_req_arena(r);
    crm_etags im;
    crm_idem idem;
    int64_t id;
    order o;
    int rc = CRM_ERR;

    if (crm_req_path_id(r, "id", &id) != CRM_OK)
        return order_not_found(r);
    if ((rc = crm_api_if_match(r, &im)) != CRM_OK)
        return rc;
    if (crm_idem_init(&idem, r,
                      crm_arena_printf(a, "orders.%s.%lld", order_action_name(action),
                                       (long long)id)) != CRM_OK)
        return crm_api_bad_header(r, "Idempotency-Key",
                                  "must be 1 to 255 visible ASCII characters");
    for (int attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        rc = act_tx(r, &idem, &im, id, action, &o);
        if (rc != CRM_CONFLICT || crm_res_status(r) != 0)
            break;
    }
    if (rc > TX_SENT)
        return rc;
    if (rc == CRM_INVALID)
        return crm_api_idem_reused(r);
    if (rc == CRM_NOTFOUND)
        return order_not_found(r);
    if (rc != CRM_OK)
        return sales_db_error(r, rc);
    if (idem.replay)
        return crm_idem_replay(&idem, r);
    return send_order_out(r, 200, o.version);
}

int orders_confirm(crm_req *r)
{
    return act(r, ACT_CONFIRM);
}

int orders_fulfill(crm_req *r)
{
    return act(r, ACT_FULFILL);
}

int orders_cancel(crm_req *r)
{
    return act(r, ACT_CANCEL);
}
