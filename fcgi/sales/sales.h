/*
 * sales.h - what the sales service's handlers, store and rules share.
 */
#ifndef SALES_H
#define SALES_H

#include "crm_api.h"
#include "crm_arena.h"
#include "crm_buf.h"
#include "crm_config.h"
#include "crm_db.h"
#include "crm_router.h"
#include "crm_valid.h"

/* Largest amount in minor units: 2^53 - 1, exact in every JSON reader. */
#define MONEY_MAX       INT64_C(9007199254740991)
#define QUANTITY_MAX    1000000
#define STOCK_MAX       1000000000
#define ORDER_LINES_MAX 100
/* Summary figures are spread over this many rows per key (see 001_sales.sql). */
#define SUMMARY_SLOTS 8

/* ---- pricing.c: money arithmetic ---- */

/* unit_price x quantity: CRM_OK, CRM_TOOBIG over MONEY_MAX, CRM_INVALID
   for a price or quantity out of range. */
int pricing_line_total(int64_t unit_price, int64_t quantity, int64_t *out);
/* total + amount: CRM_OK, CRM_TOOBIG over MONEY_MAX, CRM_INVALID if negative. */
int pricing_add(int64_t total, int64_t amount, int64_t *out);

/* ---- states.c: the order life cycle ---- */

typedef enum {
    ORDER_DRAFT,
    ORDER_CONFIRMED,
    ORDER_FULFILLED,
    ORDER_CANCELLED,
    ORDER_NSTATUS
} order_status;
typedef enum { ACT_CONFIRM, ACT_FULFILL, ACT_CANCEL, ACT_N } order_action;

const char *order_status_name(order_status s);
int order_status_parse(const char *s, order_status *out);
const char *order_action_name(order_action a);
/* CRM_OK with *to set, or CRM_CONFLICT when act is not allowed from `from`. */
int order_transition(order_status from, order_action act, order_status *to);
/* 1 when the order's fields and lines may change. */
int order_editable(order_status s);
/* Problem members naming the status and the actions it allows:
   "order_status":"draft","allowed":["confirm","cancel"] (in the arena). */
const char *order_conflict_members(crm_arena *a, order_status s);

/* ---- rows (strings live in the request arena) ---- */

typedef struct {
    int64_t id;
    const char *sku;
    const char *name;
    const char *description; /* NULL: none */
    int64_t price_cents;
    const char *currency;
    int tracked; /* stock is counted */
    int64_t stock;
    int active;
    int64_t version;
    const char *created_at;
    const char *updated_at;
    const char *sort_value; /* lists only */
} product;

typedef struct {
    const char *sku;
    const char *name;
    const char *description;
    int64_t price_cents;
    const char *currency;
    int tracked;
    int64_t stock;
    int active;
    const char *now;
} product_in;

typedef struct {
    int64_t id;
    int64_t order_id;
    int64_t product_id;
    const char *sku;
    const char *name;
    int64_t quantity;
    int64_t unit_price_cents;
    int64_t line_total_cents;
    int64_t reserved;
    int tracked; /* store_order_lines: the product's stock is tracked (snapshot) */
} order_line;

typedef struct {
    int64_t id;
    int64_t customer_id;
    const char *currency;
    order_status status;
    int64_t campaign_id; /* 0: none */
    int64_t owner_id;    /* the customer's owner when the order was made; 0: none */
    const char *note;
    int64_t total_cents;
    int64_t line_count;
    int64_t version;
    const char *created_at; /* ISO 8601 */
    const char *updated_at;
    const char *confirmed_at;
    const char *fulfilled_at;
    const char *cancelled_at;
    const char *created_sql;   /* created_at as stored, for the summary's day */
    const char *confirmed_sql; /* confirmed_at as stored, or NULL */
    const char *sort_value;    /* lists only */
    const char *customer_name; /* lists only: as the replica knows it, NULL or "" unknown */
    int64_t customer_owner;    /* lists only: the customer's owner now (0: none) */
    order_line *lines;         /* NULL in lists */
    size_t n_lines;
} order;

/* ---- lists ---- */

enum {
    PSORT_CREATED_DESC,
    PSORT_CREATED_ASC,
    PSORT_NAME_ASC,
    PSORT_NAME_DESC,
    PSORT_SKU_ASC,
    PSORT_SKU_DESC,
    PSORT_COUNT
};
extern const char *const product_sorts[PSORT_COUNT + 1];

typedef struct {
    int sort;
    int active; /* -1: any */
    const char *currency;
    const char *sku; /* exact (case-insensitive, as the unique key) */
    const char *fts;
    int after;
    const char *after_value;
    int64_t after_id;
    int limit;
} product_filter;

enum { OSORT_CREATED_DESC, OSORT_CREATED_ASC, OSORT_COUNT };
extern const char *const order_sorts[OSORT_COUNT + 1];

typedef struct {
    int sort;
    int64_t customer; /* 0: any */
    const char *status;
    int64_t campaign;
    const char *from; /* "YYYY-MM-DD 00:00:00" inclusive, or NULL */
    const char *to;   /* exclusive upper bound, or NULL */
    int64_t owner;    /* 0: any (a sales user: their own id) */
    int after;
    const char *after_value;
    int64_t after_id;
    int limit;
} order_filter;

/* A customer the order form offers. */
typedef struct {
    int64_t id;
    const char *name;
} customer_row;

/* ---- summary ---- */

typedef struct {
    const char *day; /* NULL in totals */
    const char *currency;
    const char *orders;  /* decimal text */
    const char *revenue; /* decimal text */
} revenue_row;

typedef struct {
    int64_t product_id;
    const char *sku;
    const char *name;
    const char *currency;
    const char *units;
    const char *revenue;
} top_row;

/* ---- handlers (products.c, orders.c, summary.c); routes in main.c ---- */

int sales_ping(crm_req *r);
int products_list(crm_req *r);
int products_create(crm_req *r);
int products_get(crm_req *r);
int products_patch(crm_req *r);
int products_put(crm_req *r);
int products_delete(crm_req *r);
int orders_list(crm_req *r);
int orders_create(crm_req *r);
int orders_get(crm_req *r);
int orders_patch(crm_req *r);
int orders_lines_add(crm_req *r);
int orders_lines_replace(crm_req *r);
int orders_line_get(crm_req *r);
int orders_line_patch(crm_req *r);
int orders_line_delete(crm_req *r);
int orders_confirm(crm_req *r);
int orders_fulfill(crm_req *r);
int orders_cancel(crm_req *r);
int sales_summary(crm_req *r);

/* A sales user's orders are those of their customers; others' are 404. */
int order_visible(crm_req *r, const order *o);

/*
 * The filters of GET /api/v1/products and /api/v1/orders (their query
 * parameters are product_params / order_params), shared with the list
 * pages: into f and l, with limit + 1 rows to fetch, and each problem
 * appended to errs (room for 12). A page's filter form sends its empty
 * fields too: with `page` set, an empty value is as absent. orders_filter
 * limits a sales user to their own orders.
 */
extern const char *const product_params[];
extern const char *const order_params[];
void products_filter(crm_req *r, int page, product_filter *f, crm_api_list *l,
                     crm_field_error *errs, size_t *ne);
void orders_filter(crm_req *r, int page, order_filter *f, crm_api_list *l, crm_field_error *errs,
                   size_t *ne);

/* ---- pages.c: what browsers see (crm_html.h); routes in main.c ---- */

int products_page_list(crm_req *r);
int products_page_new(crm_req *r);
int products_page_show(crm_req *r);
int orders_page_list(crm_req *r);
int orders_page_new(crm_req *r);
int orders_page_show(crm_req *r);

/* ---- order_form.c ---- */

/*
 * A browser form cannot send the JSON body's "lines":[{"product_id":7,
 * "quantity":2}, ...]; the order form sends rows of fields instead,
 * lines[N].product_id and lines[N].quantity, N the row from 0 - the names
 * the API's errors give ("lines[2].quantity"). This turns those fields of
 * fs into one "lines" member like the JSON one: an array with an object
 * per row, in row order, holding the row's members (strings); a row whose
 * fields are all empty is left out. *rows (NULL when nothing changed)
 * gives the row of each item, for errors to name. A field that is not
 * lines[N].<name> with N < ORDER_LINES_MAX in plain decimal stays as it
 * is (and is refused as unknown); so does every field when fs already has
 * a "lines" member. Everything is in the arena.
 */
void order_form_lines(crm_arena *a, crm_fields *fs, const size_t **rows);

int sales_worker_init(const crm_config *conf, crm_db *db);
void sales_worker_done(void);

/* State every handler file shares (handlers.c). */
extern crm_db *sales_db;
extern crm_buf sales_out;
#define TX_ATTEMPTS 3 /* deadlocks are retried this many times */
int sales_db_error(crm_req *r, int rc);
/* Query parameter name; with page set, "" (an empty filter field) is NULL. */
const char *sales_query(crm_req *r, const char *name, int page);
/* The JSON of one product into b. */
void product_json(crm_buf *b, const product *p);
/* Validate a currency member: the code, or NULL when absent, null or
   invalid (an error is recorded when invalid, or absent and required). */
const char *read_currency(crm_valid *v, const char *name, int required);

/* ---- replica.c: the customers sales sells to ---- */

/*
 * Make sure customer id is in the replica, asking the customers service
 * when it is not. CRM_OK (known and live), CRM_NOTFOUND (unknown or
 * deleted: 422), REPLICA_UNAVAILABLE (the customers service did not give a
 * usable answer: 503) or a database status. Call outside any transaction.
 */
#define REPLICA_UNAVAILABLE 2
int replica_ensure(crm_req *r, crm_db *db, int64_t id);
int replica_init(const crm_config *conf);
/* POST /internal/v1/events: customers' events into the replica. */
int sales_events(crm_req *r);
void replica_done(void);

/* ---- store.c: every SQL statement. CRM_OK, CRM_NOTFOUND, CRM_DUP,
   CRM_CONFLICT (deadlock), CRM_GONE, CRM_ERR. ---- */

void store_init(void);

int store_product_get(crm_db *db, crm_arena *a, int64_t id, int for_update, product *out);
int store_product_insert(crm_db *db, const product_in *in, int64_t *id);
int store_product_update(crm_db *db, int64_t id, const product_in *in);
/* STORE_IN_USE when the product is on an order line. */
#define STORE_IN_USE 3
int store_product_delete(crm_db *db, int64_t id);
int store_product_list(crm_db *db, crm_arena *a, const product_filter *f, product *rows, size_t *n);
int store_product_count(crm_db *db, const product_filter *f, int64_t *count);

int store_replica_get(crm_db *db, int64_t id, int lock, int *deleted, int64_t *owner);
int store_replica_put(crm_db *db, int64_t id, const char *name, const char *email,
                      const char *status, int64_t owner, int deleted, int64_t version,
                      const char *now);
/* A deleted customer: keep the id, erase name and email (unless newer is held). */
int store_replica_erase(crm_db *db, int64_t id, int64_t version, const char *now);
/* A live customer's name (CRM_NOTFOUND: unknown or deleted, or, with
   owner > 0, not owner's customer). */
int store_customer_name(crm_db *db, crm_arena *a, int64_t id, int64_t owner, const char **name);
/* Up to limit live customers by name: all, or owner's (owner > 0). */
int store_customer_list(crm_db *db, crm_arena *a, int64_t owner, size_t limit, customer_row *rows,
                        size_t *n);

int store_order_get(crm_db *db, crm_arena *a, int64_t id, int for_update, order *out);
/* Fills out->lines / n_lines. */
int store_order_lines(crm_db *db, crm_arena *a, order *o);
int store_order_insert(crm_db *db, const order *in, const char *now, int64_t *id);
/* Writes customer_id, currency, campaign_id, note, total_cents, line_count. */
int store_order_update(crm_db *db, const order *o, const char *now);
int store_order_set_status(crm_db *db, int64_t id, order_status to, const char *now);
int store_order_list(crm_db *db, crm_arena *a, const order_filter *f, order *rows, size_t *n);
int store_order_count(crm_db *db, const order_filter *f, int64_t *count);

int store_line_insert(crm_db *db, order_line *l);
int store_line_update(crm_db *db, const order_line *l);
int store_line_delete(crm_db *db, int64_t order_id, int64_t line_id);
int store_lines_clear(crm_db *db, int64_t order_id);
int store_line_get(crm_db *db, crm_arena *a, int64_t order_id, int64_t line_id, order_line *out);

/* Take (confirm) or give back (cancel) the order's stock; marks lines.
   take: CRM_CONFLICT when fewer than `tracked` products could give it. */
int store_stock_take(crm_db *db, int64_t order_id, const char *now, size_t tracked);
int store_stock_return(crm_db *db, int64_t order_id, const char *now);

/* Summary figures: day "YYYY-MM-DD", slot = order id mod SUMMARY_SLOTS. */
int store_daily_status(crm_db *db, const char *day, order_status s, int slot, int delta);
int store_daily_revenue(crm_db *db, const char *day, const char *currency, int slot, int delta,
                        int64_t revenue);
/* An order moved from one status to another: -1 and +1 on its created day. */
int store_daily_move(crm_db *db, const char *day, order_status from, order_status to, int slot);
/* Units and revenue of each product of the order, times sign (1 or -1). */
int store_daily_products(crm_db *db, const char *day, int64_t order_id, const char *currency,
                         int sign);
int store_summary_revenue(crm_db *db, crm_arena *a, const char *from, const char *to, int totals,
                          revenue_row **rows, size_t *n);
int store_summary_status(crm_db *db, const char *from, const char *to,
                         int64_t counts[ORDER_NSTATUS]);
int store_summary_top(crm_db *db, crm_arena *a, const char *from, const char *to, int top,
                      top_row *rows, size_t *n);

#endif
