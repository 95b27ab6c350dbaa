/*
 * store.c - every SQL statement of the marketing service. Parameters are
 * always bound. List statements are assembled once, at start, from the
 * constant fragments below; segment members use the condition rules.c
 * compiled from the same kind of fragments, in the connection's ad-hoc
 * statement slot.
 */
#include "marketing.h"

#include <stdlib.h>
#include <string.h>

enum {
    ST_CAMPAIGN_GET,
    ST_CAMPAIGN_GET_FOR_UPDATE,
    ST_CAMPAIGN_INSERT,
    ST_CAMPAIGN_UPDATE,
    ST_CAMPAIGN_STATUS,
    ST_CAMPAIGN_DELETE,
    ST_CAMPAIGN_REVENUE,
    ST_SEGMENT_GET,
    ST_SEGMENT_GET_FOR_UPDATE,
    ST_SEGMENT_EXISTS,
    ST_SEGMENT_INSERT,
    ST_SEGMENT_UPDATE,
    ST_SEGMENT_IN_USE,
    ST_SEGMENT_DELETE,
    ST_RFM_GET,
    ST_RFM_GRID,
    ST_CUSTOMER_GET,
    ST_CUSTOMER_REVENUE,
    ST_CUSTOMER_INSERT,
    ST_CUSTOMER_UPDATE,
    ST_CUSTOMER_ERASE,
    ST_TAGS_CLEAR,
    ST_TAG_INSERT,
    ST_ORDER_HELD,
    ST_ORDER_INSERT,
    ST_ORDER_UPDATE,
    ST_CUSTOMER_LOCK,
    ST_CUSTOMER_COUNT,
    ST_CUSTOMER_ADD,
    ST_CUSTOMER_ENSURE,
    ST_CUSTOMER_FIRST_LAST,
    ST_CUSTOMER_METRICS,
    ST_RFM_STATE,
    ST_RFM_CUSTOMERS,
    ST_RFM_VALUE_R,
    ST_RFM_VALUE_F,
    ST_RFM_VALUE_M,
    ST_RFM_COMPUTE_GRID,
    ST_RFM_SAVE,
    ST_RFM_GRID_CLEAR,
    ST_RFM_GRID_PUT,
    ST_REVENUE_BY_DAY,
    ST_SEGMENT_COUNT_BASE = 48,  /* 1 */
    ST_SEGMENT_LIST_BASE = 56,   /* + sort * 2 + cursor: 8 */
    ST_CAMPAIGN_COUNT_BASE = 64, /* + mask (8) */
    ST_CAMPAIGN_LIST_BASE = 80,  /* + (sort * 8 + mask) * 2 + cursor: 64, up to 143 */
};

#define STMT(db, key)                                                                              \
    crm_stmt *st = crm_db_stmt(db, ST_##key, SQL_##key);                                           \
    if (st == NULL)                                                                                \
    return crm_db_status(db)

/* ---- lists ---- */

const char *const list_sorts[SORT_COUNT + 1] = { "-created_at", "created_at", "name", "-name",
                                                 NULL };

#define CREATED_KEY(t) "DATE_FORMAT(" t ".created_at, '%Y-%m-%d %H:%i:%s.%f')"
#define SORTS(t)                                                                                   \
    {                                                                                              \
        { CREATED_KEY(t),                                                                          \
          " AND (" t ".created_at < ? OR (" t ".created_at = ? AND " t ".id < ?))",                \
          " ORDER BY " t ".created_at DESC, " t ".id DESC" },                                      \
            { CREATED_KEY(t),                                                                      \
              " AND (" t ".created_at > ? OR (" t ".created_at = ? AND " t ".id > ?))",            \
              " ORDER BY " t ".created_at, " t ".id" },                                            \
            { t ".name", " AND (" t ".name > ? OR (" t ".name = ? AND " t ".id > ?))",             \
              " ORDER BY " t ".name, " t ".id" },                                                  \
        {                                                                                          \
            t ".name", " AND (" t ".name < ? OR (" t ".name = ? AND " t ".id < ?))",               \
                " ORDER BY " t ".name DESC, " t ".id DESC"                                         \
        }                                                                                          \
    }

static const crm_db_sort campaign_sort_sql[SORT_COUNT] = SORTS("k");
static const crm_db_sort segment_sort_sql[SORT_COUNT] = SORTS("s");

/* Campaign filters bind in this order: status, channel, segment. */
enum { CF_STATUS = 1, CF_CHANNEL = 2, CF_SEGMENT = 4, CF_ALL = 8 };
static const char *const campaign_filter_sql[] = {
    " AND k.status = ?",
    " AND k.channel = ?",
    " AND k.segment_id = ?",
};

static char campaign_list_sql[SORT_COUNT][CF_ALL][2][1024];
static char campaign_count_sql[CF_ALL][512];
static char segment_list_sql[SORT_COUNT][2][1024];
static const char SQL_SEGMENT_COUNT[] = "SELECT COUNT(*) FROM segments s";

/* ---- campaigns ---- */

#define CAMPAIGN_COLS                                                                              \
    "k.id, k.name, k.description, k.channel, k.status, k.budget_cents, k.currency,"                \
    " k.starts_at, k.ends_at, k.segment_id, k.version, k.created_at, k.updated_at"

static const char SQL_CAMPAIGN_GET[] = "SELECT " CAMPAIGN_COLS " FROM campaigns k WHERE k.id = ?";
static const char SQL_CAMPAIGN_GET_FOR_UPDATE[] =
    "SELECT " CAMPAIGN_COLS " FROM campaigns k WHERE k.id = ? FOR UPDATE";
static const char SQL_CAMPAIGN_INSERT[] =
    "INSERT INTO campaigns (name, description, channel, status, budget_cents, currency,"
    " starts_at, ends_at, segment_id, created_at, updated_at)"
    " VALUES (?, ?, ?, 'draft', ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_CAMPAIGN_UPDATE[] =
    "UPDATE campaigns SET name = ?, description = ?, channel = ?, budget_cents = ?,"
    " currency = ?, starts_at = ?, ends_at = ?, segment_id = ?, updated_at = ?,"
    " version = version + 1 WHERE id = ?";
static const char SQL_CAMPAIGN_STATUS[] =
    "UPDATE campaigns SET status = ?, updated_at = ?, version = version + 1 WHERE id = ?";
static const char SQL_CAMPAIGN_DELETE[] = "DELETE FROM campaigns WHERE id = ?";
static const char SQL_CAMPAIGN_REVENUE[] =
    "SELECT currency, COUNT(*), SUM(total_cents) FROM orders"
    " WHERE campaign_id = ? AND counted = 1 GROUP BY currency ORDER BY currency";

/* The dashboard's revenue chart: a range of ix_orders_confirmed. */
static const char SQL_REVENUE_BY_DAY[] =
    "SELECT currency, DATE_FORMAT(confirmed_at, '%Y-%m-%d') AS day, COUNT(*), SUM(total_cents)"
    " FROM orders WHERE counted = 1 AND confirmed_at >= ?"
    " GROUP BY currency, day ORDER BY currency, day";

/* ---- segments ---- */

#define SEGMENT_COLS "s.id, s.name, s.description, s.rule, s.version, s.created_at, s.updated_at"

static const char SQL_SEGMENT_GET[] = "SELECT " SEGMENT_COLS " FROM segments s WHERE s.id = ?";
static const char SQL_SEGMENT_GET_FOR_UPDATE[] =
    "SELECT " SEGMENT_COLS " FROM segments s WHERE s.id = ? FOR UPDATE";
static const char SQL_SEGMENT_EXISTS[] = "SELECT 1 FROM segments WHERE id = ? LOCK IN SHARE MODE";
static const char SQL_SEGMENT_INSERT[] =
    "INSERT INTO segments (name, description, rule, created_at, updated_at) VALUES (?, ?, ?, ?, ?)";
static const char SQL_SEGMENT_UPDATE[] =
    "UPDATE segments SET name = ?, description = ?, rule = ?, updated_at = ?,"
    " version = version + 1 WHERE id = ?";
static const char SQL_SEGMENT_IN_USE[] =
    "SELECT 1 FROM campaigns WHERE segment_id = ? LIMIT 1 LOCK IN SHARE MODE";
static const char SQL_SEGMENT_DELETE[] = "DELETE FROM segments WHERE id = ?";

/* ---- RFM ---- */

static const char SQL_RFM_GET[] =
    "SELECT customers, r1, r2, r3, r4, f1, f2, f3, f4, m1, m2, m3, m4, computed_at"
    " FROM rfm WHERE id = 1";
static const char SQL_RFM_GRID[] =
    "SELECT recency, frequency, customers, revenue_cents FROM rfm_grid";
static const char SQL_RFM_STATE[] =
    "SELECT (SELECT MAX(updated_at) FROM customers),"
    " (SELECT seen_at FROM rfm WHERE id = 1), (SELECT computed_at FROM rfm WHERE id = 1)";
static const char SQL_RFM_CUSTOMERS[] = "SELECT COUNT(*) FROM customers WHERE orders_count > 0";
static const char SQL_RFM_VALUE_R[] =
    "SELECT last_order_at FROM customers WHERE last_order_at IS NOT NULL"
    " ORDER BY last_order_at LIMIT 1 OFFSET ?";
static const char SQL_RFM_VALUE_F[] = "SELECT orders_count FROM customers WHERE orders_count > 0"
                                      " ORDER BY orders_count LIMIT 1 OFFSET ?";
static const char SQL_RFM_VALUE_M[] = "SELECT revenue_cents FROM customers WHERE orders_count > 0"
                                      " ORDER BY revenue_cents LIMIT 1 OFFSET ?";
/* Scores are 1 + the number of cut-offs passed: comparisons are 0 or 1. */
static const char SQL_RFM_COMPUTE_GRID[] =
    "SELECT 1 + (last_order_at > ?) + (last_order_at > ?) + (last_order_at > ?)"
    " + (last_order_at > ?) AS r,"
    " 1 + (orders_count > ?) + (orders_count > ?) + (orders_count > ?) + (orders_count > ?) AS f,"
    " COUNT(*), SUM(revenue_cents) FROM customers WHERE orders_count > 0 GROUP BY r, f";
static const char SQL_RFM_SAVE[] =
    "REPLACE INTO rfm (id, customers, r1, r2, r3, r4, f1, f2, f3, f4, m1, m2, m3, m4, seen_at,"
    " computed_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_RFM_GRID_CLEAR[] = "DELETE FROM rfm_grid";
static const char SQL_RFM_GRID_PUT[] =
    "INSERT INTO rfm_grid (recency, frequency, customers, revenue_cents) VALUES (?, ?, ?, ?)";

/* ---- customers and orders (events) ---- */

#define CUSTOMER_COLS                                                                              \
    "c.id, c.name, c.email, c.status, c.deleted, c.version, c.orders_count, c.revenue_cents,"      \
    " c.first_order_at, c.last_order_at"

static const char SQL_CUSTOMER_GET[] = "SELECT " CUSTOMER_COLS " FROM customers c WHERE c.id = ?";
static const char SQL_CUSTOMER_REVENUE[] =
    "SELECT currency, COUNT(*), SUM(total_cents) FROM orders"
    " WHERE customer_id = ? AND counted = 1 GROUP BY currency ORDER BY currency";
static const char SQL_CUSTOMER_INSERT[] =
    "INSERT INTO customers (id, name, email, status, deleted, version, updated_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)";
/* An older event never overwrites a newer one. */
static const char SQL_CUSTOMER_UPDATE[] =
    "UPDATE customers SET name = ?, email = ?, status = ?, deleted = 0, version = ?,"
    " updated_at = ? WHERE id = ? AND version < ?";
static const char SQL_CUSTOMER_ERASE[] =
    "UPDATE customers SET name = NULL, email = NULL, deleted = 1, version = ?, updated_at = ?"
    " WHERE id = ? AND version < ?";
static const char SQL_TAGS_CLEAR[] = "DELETE FROM customer_tags WHERE customer_id = ?";
static const char SQL_TAG_INSERT[] =
    "INSERT IGNORE INTO customer_tags (customer_id, tag) VALUES (?, ?)";
static const char SQL_ORDER_HELD[] =
    "SELECT version, counted, currency, total_cents FROM orders WHERE id = ? FOR UPDATE";
static const char SQL_ORDER_INSERT[] =
    "INSERT INTO orders (id, customer_id, campaign_id, currency, total_cents, status, counted,"
    " confirmed_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_ORDER_UPDATE[] =
    "UPDATE orders SET customer_id = ?, campaign_id = ?, currency = ?, total_cents = ?,"
    " status = ?, counted = ?, confirmed_at = COALESCE(?, confirmed_at), version = ?"
    " WHERE id = ?";
/* The customer row, created (version 0) when no customer event came yet. */
static const char SQL_CUSTOMER_ENSURE[] =
    "INSERT IGNORE INTO customers (id, version, updated_at) VALUES (?, 0, ?)";
/* Creates the row when missing, else locks it (a no-op update locks too). */
static const char SQL_CUSTOMER_LOCK[] = "INSERT INTO customers (id, version, updated_at)"
                                        " VALUES (?, 0, ?) ON DUPLICATE KEY UPDATE id = id";
/* A new order that counts, for a customer known or not: one statement.
   (Values bound twice: MySQL 8.0.20 deprecated VALUES() here.) */
static const char SQL_CUSTOMER_ADD[] =
    "INSERT INTO customers (id, version, orders_count, revenue_cents, first_order_at,"
    " last_order_at, updated_at) VALUES (?, 0, 1, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE"
    " orders_count = orders_count + 1, revenue_cents = revenue_cents + ?,"
    " first_order_at = LEAST(COALESCE(first_order_at, ?), ?),"
    " last_order_at = GREATEST(COALESCE(last_order_at, ?), ?), updated_at = ?";
/* An order started counting: one more, its revenue, its time widens the span. */
static const char SQL_CUSTOMER_COUNT[] =
    "UPDATE customers SET orders_count = orders_count + 1, revenue_cents = revenue_cents + ?,"
    " first_order_at = LEAST(COALESCE(first_order_at, ?), ?),"
    " last_order_at = GREATEST(COALESCE(last_order_at, ?), ?), updated_at = ? WHERE id = ?";
/* Under the customer's lock: a locking read sees every committed order
   (an index range: ix_orders_customer). */
static const char SQL_CUSTOMER_FIRST_LAST[] =
    "SELECT MIN(confirmed_at), MAX(confirmed_at) FROM orders"
    " WHERE customer_id = ? AND counted = 1 LOCK IN SHARE MODE";
static const char SQL_CUSTOMER_METRICS[] =
    "UPDATE customers SET orders_count = orders_count + ?, revenue_cents = revenue_cents + ?,"
    " first_order_at = ?, last_order_at = ?, updated_at = ? WHERE id = ?";

/* ---- members (ad hoc) ---- */

#define MEMBER_COLS                                                                                \
    "SELECT c.id, c.name, c.email, c.status, c.deleted, c.version, c.orders_count,"                \
    " c.revenue_cents, c.first_order_at, c.last_order_at FROM customers c"
#define MEMBER_WHERE " WHERE c.deleted = 0 AND c.version > 0 AND "

/* ---- assembling ---- */

void store_init(void)
{
    char where[512];

    for (int mask = 0; mask < CF_ALL; mask++) {
        crm_db_where_sql(where, sizeof(where), (unsigned)mask, campaign_filter_sql, 3);
        campaign_count_sql[mask][0] = '\0';
        crm_db_sql_append(campaign_count_sql[mask], sizeof(campaign_count_sql[mask]),
                          "SELECT COUNT(*) FROM campaigns k");
        crm_db_sql_append(campaign_count_sql[mask], sizeof(campaign_count_sql[mask]), where);
        for (int s = 0; s < SORT_COUNT; s++)
            for (int cur = 0; cur < 2; cur++)
                crm_db_list_sql(campaign_list_sql[s][mask][cur],
                                sizeof(campaign_list_sql[s][mask][cur]), CAMPAIGN_COLS,
                                " FROM campaigns k", where, &campaign_sort_sql[s], cur);
    }
    for (int s = 0; s < SORT_COUNT; s++)
        for (int cur = 0; cur < 2; cur++)
            crm_db_list_sql(segment_list_sql[s][cur], sizeof(segment_list_sql[s][cur]),
                            SEGMENT_COLS, " FROM segments s", " WHERE 1 = 1", &segment_sort_sql[s],
                            cur);
}

/* ---- campaigns ---- */

static void read_campaign(crm_stmt *st, crm_arena *a, campaign *c)
{
    memset(c, 0, sizeof(*c));
    c->id = crm_stmt_col_int(st, 0);
    c->name = crm_stmt_col_dup(st, a, 1);
    c->description = crm_stmt_col_dup(st, a, 2);
    c->channel = crm_stmt_col_dup(st, a, 3);
    const char *s = crm_stmt_col_dup(st, a, 4);
    if (campaign_status_parse(s, &c->status) != CRM_OK)
        c->status = CAMPAIGN_DRAFT;
    c->budget_cents = crm_stmt_col_int(st, 5);
    c->currency = crm_stmt_col_dup(st, a, 6);
    c->starts_at = crm_stmt_col_dup(st, a, 7);
    c->ends_at = crm_stmt_col_dup(st, a, 8);
    c->segment_id = crm_stmt_col_int(st, 9);
    c->version = crm_stmt_col_int(st, 10);
    c->created_at = crm_stmt_col_iso(st, a, 11);
    c->updated_at = crm_stmt_col_iso(st, a, 12);
}

int store_campaign_get(crm_db *db, crm_arena *a, int64_t id, int for_update, campaign *out)
{
    crm_stmt *st = for_update
                       ? crm_db_stmt(db, ST_CAMPAIGN_GET_FOR_UPDATE, SQL_CAMPAIGN_GET_FOR_UPDATE)
                       : crm_db_stmt(db, ST_CAMPAIGN_GET, SQL_CAMPAIGN_GET);
    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, id);
    CRM_STMT_FETCH_ONE(st, read_campaign(st, a, out));
}

/* name .. segment_id from placeholder 0: returns the next index. */
static unsigned bind_campaign(crm_stmt *st, const campaign *c)
{
    unsigned i = 0;
    crm_stmt_bind_opt_str(st, i++, c->name);
    crm_stmt_bind_opt_str(st, i++, c->description);
    crm_stmt_bind_opt_str(st, i++, c->channel);
    crm_stmt_bind_int(st, i++, c->budget_cents);
    crm_stmt_bind_opt_str(st, i++, c->currency);
    crm_stmt_bind_opt_str(st, i++, c->starts_at);
    crm_stmt_bind_opt_str(st, i++, c->ends_at);
    crm_stmt_bind_opt_id(st, i++, c->segment_id);
    return i;
}

int store_campaign_insert(crm_db *db, const campaign *c, const char *now, int64_t *id)
{
    STMT(db, CAMPAIGN_INSERT);
    unsigned i = bind_campaign(st, c);
    crm_stmt_bind_opt_str(st, i++, now);
    crm_stmt_bind_opt_str(st, i, now);
    int rc = crm_stmt_exec(st);
    if (rc == CRM_OK)
        *id = (int64_t)crm_stmt_insert_id(st);
    return rc;
}

int store_campaign_update(crm_db *db, const campaign *c, const char *now)
{
    STMT(db, CAMPAIGN_UPDATE);
    unsigned i = bind_campaign(st, c);
    crm_stmt_bind_opt_str(st, i++, now);
    crm_stmt_bind_int(st, i, c->id);
    int rc = crm_stmt_exec(st);
    if (rc == CRM_OK && crm_stmt_affected(st) == 0)
        return CRM_NOTFOUND;
    return rc;
}

int store_campaign_set_status(crm_db *db, int64_t id, campaign_status s, const char *now)
{
    STMT(db, CAMPAIGN_STATUS);
    crm_stmt_bind_opt_str(st, 0, campaign_status_name(s));
    crm_stmt_bind_opt_str(st, 1, now);
    crm_stmt_bind_int(st, 2, id);
    return crm_stmt_exec(st);
}

int store_campaign_delete(crm_db *db, int64_t id)
{
    STMT(db, CAMPAIGN_DELETE);
    crm_stmt_bind_int(st, 0, id);
    int rc = crm_stmt_exec(st);
    if (rc == CRM_OK && crm_stmt_affected(st) == 0)
        return CRM_NOTFOUND;
    return rc;
}

static int campaign_mask(const list_filter *f)
{
    return (f->status ? CF_STATUS : 0) | (f->channel ? CF_CHANNEL : 0) |
           (f->segment > 0 ? CF_SEGMENT : 0);
}

static unsigned bind_campaign_filters(crm_stmt *st, const list_filter *f)
{
    unsigned i = 0;
    if (f->status)
        crm_stmt_bind_opt_str(st, i++, f->status);
    if (f->channel)
        crm_stmt_bind_opt_str(st, i++, f->channel);
    if (f->segment > 0)
        crm_stmt_bind_int(st, i++, f->segment);
    return i;
}

int store_campaign_list(crm_db *db, crm_arena *a, const list_filter *f, campaign *rows, size_t *n)
{
    int mask = campaign_mask(f), cur = f->after ? 1 : 0, rc;
    unsigned key = ST_CAMPAIGN_LIST_BASE + (unsigned)((f->sort * CF_ALL + mask) * 2 + cur);
    crm_stmt *st = crm_db_stmt(db, key, campaign_list_sql[f->sort][mask][cur]);

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_page(st, bind_campaign_filters(st, f), f->after, f->after_value, f->after_id,
                       f->limit);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    size_t k = 0;
    while (k < (size_t)f->limit && (rc = crm_stmt_fetch(st)) == CRM_OK) {
        read_campaign(st, a, &rows[k]);
        rows[k].sort_value = crm_stmt_col_dup(st, a, 13);
        k++;
    }
    crm_stmt_done(st);
    if (rc != CRM_OK && rc != CRM_NOTFOUND)
        return rc;
    *n = k;
    return CRM_OK;
}

int store_campaign_count(crm_db *db, const list_filter *f, int64_t *count)
{
    int mask = campaign_mask(f);
    crm_stmt *st =
        crm_db_stmt(db, ST_CAMPAIGN_COUNT_BASE + (unsigned)mask, campaign_count_sql[mask]);

    if (st == NULL)
        return crm_db_status(db);
    bind_campaign_filters(st, f);
    return crm_stmt_exec_int(st, count);
}

static int currency_rows(crm_stmt *st, crm_arena *a, currency_row *rows, size_t max, size_t *n)
{
    int rc = crm_stmt_exec(st);
    size_t k = 0;

    if (rc != CRM_OK)
        return rc;
    while ((rc = crm_stmt_fetch(st)) == CRM_OK) {
        if (k < max) {
            rows[k].currency = crm_stmt_col_dup(st, a, 0);
            rows[k].orders = crm_stmt_col_int(st, 1);
            rows[k].revenue_cents = crm_stmt_col_int(st, 2);
            k++;
        }
    }
    crm_stmt_done(st);
    if (rc != CRM_NOTFOUND)
        return rc;
    *n = k;
    return CRM_OK;
}

int store_campaign_revenue(crm_db *db, crm_arena *a, int64_t id, currency_row *rows, size_t max,
                           size_t *n)
{
    STMT(db, CAMPAIGN_REVENUE);
    crm_stmt_bind_int(st, 0, id);
    return currency_rows(st, a, rows, max, n);
}

int store_revenue_by_day(crm_db *db, crm_arena *a, const char *since, day_row *rows, size_t max,
                         size_t *n)
{
    STMT(db, REVENUE_BY_DAY);
    crm_stmt_bind_opt_str(st, 0, since);
    int rc = crm_stmt_exec(st);
    size_t k = 0;

    if (rc != CRM_OK)
        return rc;
    while ((rc = crm_stmt_fetch(st)) == CRM_OK) {
        if (k < max) {
            rows[k].currency = crm_stmt_col_dup(st, a, 0);
            rows[k].day = crm_stmt_col_dup(st, a, 1);
            rows[k].orders = crm_stmt_col_int(st, 2);
            rows[k].revenue_cents = crm_stmt_col_int(st, 3);
            k++;
        }
    }
    crm_stmt_done(st);
    if (rc != CRM_NOTFOUND)
        return rc;
    *n = k;
    return CRM_OK;
}

/* ---- segments ---- */

static void read_segment(crm_stmt *st, crm_arena *a, segment *s)
{
    memset(s, 0, sizeof(*s));
    s->id = crm_stmt_col_int(st, 0);
    s->name = crm_stmt_col_dup(st, a, 1);
    s->description = crm_stmt_col_dup(st, a, 2);
    s->rule = crm_stmt_col_dup(st, a, 3);
    s->version = crm_stmt_col_int(st, 4);
    s->created_at = crm_stmt_col_iso(st, a, 5);
    s->updated_at = crm_stmt_col_iso(st, a, 6);
}

int store_segment_get(crm_db *db, crm_arena *a, int64_t id, int for_update, segment *out)
{
    crm_stmt *st = for_update
                       ? crm_db_stmt(db, ST_SEGMENT_GET_FOR_UPDATE, SQL_SEGMENT_GET_FOR_UPDATE)
                       : crm_db_stmt(db, ST_SEGMENT_GET, SQL_SEGMENT_GET);
    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, id);
    CRM_STMT_FETCH_ONE(st, read_segment(st, a, out));
}

int store_segment_exists(crm_db *db, int64_t id, int *exists)
{
    STMT(db, SEGMENT_EXISTS);
    crm_stmt_bind_int(st, 0, id);
    *exists = 0;
    int rc = crm_stmt_exec(st);
    if (rc != CRM_OK)
        return rc;
    rc = crm_stmt_fetch(st);
    crm_stmt_done(st);
    if (rc == CRM_OK)
        *exists = 1;
    return rc == CRM_NOTFOUND ? CRM_OK : rc;
}

int store_segment_insert(crm_db *db, const segment *s, const char *now, int64_t *id)
{
    STMT(db, SEGMENT_INSERT);
    crm_stmt_bind_opt_str(st, 0, s->name);
    crm_stmt_bind_opt_str(st, 1, s->description);
    crm_stmt_bind_opt_str(st, 2, s->rule);
    crm_stmt_bind_opt_str(st, 3, now);
    crm_stmt_bind_opt_str(st, 4, now);
    int rc = crm_stmt_exec(st);
    if (rc == CRM_OK)
        *id = (int64_t)crm_stmt_insert_id(st);
    return rc;
}

int store_segment_update(crm_db *db, const segment *s, const char *now)
{
    STMT(db, SEGMENT_UPDATE);
    crm_stmt_bind_opt_str(st, 0, s->name);
    crm_stmt_bind_opt_str(st, 1, s->description);
    crm_stmt_bind_opt_str(st, 2, s->rule);
    crm_stmt_bind_opt_str(st, 3, now);
    crm_stmt_bind_int(st, 4, s->id);
    int rc = crm_stmt_exec(st);
    if (rc == CRM_OK && crm_stmt_affected(st) == 0)
        return CRM_NOTFOUND;
    return rc;
}

int store_segment_delete(crm_db *db, int64_t id)
{
    crm_stmt *st = crm_db_stmt(db, ST_SEGMENT_IN_USE, SQL_SEGMENT_IN_USE);
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, id);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    rc = crm_stmt_fetch(st);
    crm_stmt_done(st);
    if (rc == CRM_OK)
        return STORE_IN_USE;
    if (rc != CRM_NOTFOUND)
        return rc;
    if ((st = crm_db_stmt(db, ST_SEGMENT_DELETE, SQL_SEGMENT_DELETE)) == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, id);
    rc = crm_stmt_exec(st);
    if (rc == CRM_OK && crm_stmt_affected(st) == 0)
        return CRM_NOTFOUND;
    return rc;
}

int store_segment_list(crm_db *db, crm_arena *a, const list_filter *f, segment *rows, size_t *n)
{
    int cur = f->after ? 1 : 0, rc;
    crm_stmt *st = crm_db_stmt(db, ST_SEGMENT_LIST_BASE + (unsigned)(f->sort * 2 + cur),
                               segment_list_sql[f->sort][cur]);

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_page(st, 0, f->after, f->after_value, f->after_id, f->limit);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    size_t k = 0;
    while (k < (size_t)f->limit && (rc = crm_stmt_fetch(st)) == CRM_OK) {
        read_segment(st, a, &rows[k]);
        rows[k].sort_value = crm_stmt_col_dup(st, a, 7);
        k++;
    }
    crm_stmt_done(st);
    if (rc != CRM_OK && rc != CRM_NOTFOUND)
        return rc;
    *n = k;
    return CRM_OK;
}

int store_segment_count(crm_db *db, const list_filter *f, int64_t *count)
{
    (void)f;
    crm_stmt *st = crm_db_stmt(db, ST_SEGMENT_COUNT_BASE, SQL_SEGMENT_COUNT);
    if (st == NULL)
        return crm_db_status(db);
    return crm_stmt_exec_int(st, count);
}

/* ---- RFM ---- */

int store_rfm_get(crm_db *db, crm_arena *a, rfm_cutoffs *out)
{
    STMT(db, RFM_GET);
    memset(out, 0, sizeof(*out));
    int rc = crm_stmt_exec(st);
    if (rc != CRM_OK)
        return rc;
    rc = crm_stmt_fetch(st);
    if (rc == CRM_OK) {
        out->customers = crm_stmt_col_int(st, 0);
        out->valid = out->customers > 0 && !crm_stmt_col_null(st, 1);
        for (unsigned i = 0; i < 4; i++) {
            out->r[i] = crm_stmt_col_dup(st, a, 1 + i);
            out->f[i] = crm_stmt_col_int(st, 5 + i);
            out->m[i] = crm_stmt_col_int(st, 9 + i);
        }
        out->computed_at = crm_stmt_col_dup(st, a, 13);
    }
    crm_stmt_done(st);
    return rc == CRM_NOTFOUND ? CRM_OK : rc;
}

int store_rfm_grid(crm_db *db, int64_t cells[25][2])
{
    STMT(db, RFM_GRID);
    memset(cells, 0, sizeof(int64_t) * 50);
    int rc = crm_stmt_exec(st);
    if (rc != CRM_OK)
        return rc;
    while ((rc = crm_stmt_fetch(st)) == CRM_OK) {
        int64_t r = crm_stmt_col_int(st, 0), f = crm_stmt_col_int(st, 1);
        if (r >= 1 && r <= 5 && f >= 1 && f <= 5) {
            cells[(r - 1) * 5 + (f - 1)][0] = crm_stmt_col_int(st, 2);
            cells[(r - 1) * 5 + (f - 1)][1] = crm_stmt_col_int(st, 3);
        }
    }
    crm_stmt_done(st);
    return rc == CRM_NOTFOUND ? CRM_OK : rc;
}

int store_rfm_state(crm_db *db, crm_arena *a, const char **changed_at, const char **seen_at,
                    const char **computed_at)
{
    STMT(db, RFM_STATE);
    CRM_STMT_FETCH_ONE(st, {
        *changed_at = crm_stmt_col_dup(st, a, 0);
        *seen_at = crm_stmt_col_dup(st, a, 1);
        *computed_at = crm_stmt_col_dup(st, a, 2);
    });
}

int store_rfm_customers(crm_db *db, int64_t *n)
{
    STMT(db, RFM_CUSTOMERS);
    return crm_stmt_exec_int(st, n);
}

int store_rfm_value(crm_db *db, crm_arena *a, char dim, int64_t pos, const char **r, int64_t *v)
{
    crm_stmt *st = dim == 'r'   ? crm_db_stmt(db, ST_RFM_VALUE_R, SQL_RFM_VALUE_R)
                   : dim == 'f' ? crm_db_stmt(db, ST_RFM_VALUE_F, SQL_RFM_VALUE_F)
                                : crm_db_stmt(db, ST_RFM_VALUE_M, SQL_RFM_VALUE_M);
    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, pos - 1);
    CRM_STMT_FETCH_ONE(st, {
        if (dim == 'r')
            *r = crm_stmt_col_dup(st, a, 0);
        else
            *v = crm_stmt_col_int(st, 0);
    });
}

int store_rfm_compute_grid(crm_db *db, const rfm_cutoffs *cut, int64_t cells[25][2])
{
    STMT(db, RFM_COMPUTE_GRID);
    for (unsigned i = 0; i < 4; i++) {
        crm_stmt_bind_opt_str(st, i, cut->r[i]);
        crm_stmt_bind_int(st, 4 + i, cut->f[i]);
    }
    memset(cells, 0, sizeof(int64_t) * 50);
    int rc = crm_stmt_exec(st);
    if (rc != CRM_OK)
        return rc;
    while ((rc = crm_stmt_fetch(st)) == CRM_OK) {
        int64_t r = crm_stmt_col_int(st, 0), f = crm_stmt_col_int(st, 1);
        if (r >= 1 && r <= 5 && f >= 1 && f <= 5) {
            cells[(r - 1) * 5 + (f - 1)][0] = crm_stmt_col_int(st, 2);
            cells[(r - 1) * 5 + (f - 1)][1] = crm_stmt_col_int(st, 3);
        }
    }
    crm_stmt_done(st);
    return rc == CRM_NOTFOUND ? CRM_OK : rc;
}

/* In the caller's transaction. */
int store_rfm_save(crm_db *db, const rfm_cutoffs *cut, int64_t cells[25][2], const char *seen_at,
                   const char *now)
{
    crm_stmt *st = crm_db_stmt(db, ST_RFM_SAVE, SQL_RFM_SAVE);
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, cut->customers);
    for (unsigned i = 0; i < 4; i++) {
        if (cut->valid) {
            crm_stmt_bind_opt_str(st, 1 + i, cut->r[i]);
            crm_stmt_bind_int(st, 5 + i, cut->f[i]);
            crm_stmt_bind_int(st, 9 + i, cut->m[i]);
        } else {
            crm_stmt_bind_null(st, 1 + i);
            crm_stmt_bind_null(st, 5 + i);
            crm_stmt_bind_null(st, 9 + i);
        }
    }
    crm_stmt_bind_opt_str(st, 13, seen_at);
    crm_stmt_bind_opt_str(st, 14, now);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    if ((st = crm_db_stmt(db, ST_RFM_GRID_CLEAR, SQL_RFM_GRID_CLEAR)) == NULL)
        return crm_db_status(db);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    if ((st = crm_db_stmt(db, ST_RFM_GRID_PUT, SQL_RFM_GRID_PUT)) == NULL)
        return crm_db_status(db);
    for (int i = 0; i < 25; i++) {
        if (cells[i][0] == 0)
            continue;
        crm_stmt_bind_int(st, 0, i / 5 + 1);
        crm_stmt_bind_int(st, 1, i % 5 + 1);
        crm_stmt_bind_int(st, 2, cells[i][0]);
        crm_stmt_bind_int(st, 3, cells[i][1]);
        if ((rc = crm_stmt_exec(st)) != CRM_OK)
            return rc;
    }
    return CRM_OK;
}

/* ---- customers ---- */

static void read_customer(crm_stmt *st, crm_arena *a, mcustomer *c)
{
    memset(c, 0, sizeof(*c));
    c->id = crm_stmt_col_int(st, 0);
    c->name = crm_stmt_col_dup(st, a, 1);
    c->email = crm_stmt_col_dup(st, a, 2);
    c->status = crm_stmt_col_dup(st, a, 3);
    c->deleted = crm_stmt_col_int(st, 4) != 0;
    c->version = crm_stmt_col_int(st, 5);
    c->orders_count = crm_stmt_col_int(st, 6);
    c->revenue_cents = crm_stmt_col_int(st, 7);
    c->first_order_at = crm_stmt_col_dup(st, a, 8);
    c->last_order_at = crm_stmt_col_dup(st, a, 9);
}

int store_customer_get(crm_db *db, crm_arena *a, int64_t id, mcustomer *out)
{
    STMT(db, CUSTOMER_GET);
    crm_stmt_bind_int(st, 0, id);
    CRM_STMT_FETCH_ONE(st, read_customer(st, a, out));
}

int store_customer_revenue(crm_db *db, crm_arena *a, int64_t id, currency_row *rows, size_t max,
                           size_t *n)
{
    STMT(db, CUSTOMER_REVENUE);
    crm_stmt_bind_int(st, 0, id);
    return currency_rows(st, a, rows, max, n);
}

int store_members(crm_db *db, crm_arena *a, const rule_sql *rs, int64_t after, int limit,
                  mcustomer *rows, size_t *n)
{
    size_t size = strlen(rs->sql) + 512;
    char *sql = crm_arena_alloc(a, size);
    int rc;

    sql[0] = '\0';
    crm_db_sql_append(sql, size, MEMBER_COLS MEMBER_WHERE);
    crm_db_sql_append(sql, size, rs->sql);
    crm_db_sql_append(sql, size, " AND c.id > ? ORDER BY c.id LIMIT ?");
    crm_stmt *st = crm_db_stmt_adhoc(db, sql);
    if (st == NULL)
        return crm_db_status(db);
    unsigned i = rule_bind_all(st, 0, rs);
    crm_stmt_bind_int(st, i++, after);
    crm_stmt_bind_int(st, i, limit);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    size_t k = 0;
    while (k < (size_t)limit && (rc = crm_stmt_fetch(st)) == CRM_OK)
        read_customer(st, a, &rows[k++]);
    crm_stmt_done(st);
    if (rc != CRM_OK && rc != CRM_NOTFOUND)
        return rc;
    *n = k;
    return CRM_OK;
}

int store_members_count(crm_db *db, const rule_sql *rs, int64_t *count)
{
    size_t size = strlen(rs->sql) + 256;
    char *sql = crm_xcalloc(1, size);

    crm_db_sql_append(sql, size, "SELECT COUNT(*) FROM customers c" MEMBER_WHERE);
    crm_db_sql_append(sql, size, rs->sql);
    crm_stmt *st = crm_db_stmt_adhoc(db, sql);
    free(sql);
    if (st == NULL)
        return crm_db_status(db);
    rule_bind_all(st, 0, rs);
    return crm_stmt_exec_int(st, count);
}

/* ---- events ---- */

static int customer_insert(crm_db *db, int64_t id, const char *name, const char *email,
                           const char *status, int64_t version, const char *now)
{
    STMT(db, CUSTOMER_INSERT);
    crm_stmt_bind_int(st, 0, id);
    crm_stmt_bind_opt_str(st, 1, name);
    crm_stmt_bind_opt_str(st, 2, email);
    crm_stmt_bind_opt_str(st, 3, status);
    crm_stmt_bind_int(st, 4, 0);
    crm_stmt_bind_int(st, 5, version);
    crm_stmt_bind_opt_str(st, 6, now);
    return crm_stmt_exec(st);
}

/* CRM_OK with *changed 1 when a row older than version was updated. */
static int customer_update(crm_db *db, int64_t id, const char *name, const char *email,
                           const char *status, int64_t version, const char *now, int *changed)
{
    STMT(db, CUSTOMER_UPDATE);
    crm_stmt_bind_opt_str(st, 0, name);
    crm_stmt_bind_opt_str(st, 1, email);
    crm_stmt_bind_opt_str(st, 2, status);
    crm_stmt_bind_int(st, 3, version);
    crm_stmt_bind_opt_str(st, 4, now);
    crm_stmt_bind_int(st, 5, id);
    crm_stmt_bind_int(st, 6, version);
    int rc = crm_stmt_exec(st);
    *changed = rc == CRM_OK && crm_stmt_affected(st) > 0;
    return rc;
}

int store_customer_put(crm_db *db, int64_t id, const char *name, const char *email,
                       const char *status, int64_t version, const char *now, int created,
                       int *applied)
{
    int changed = 0, rc;

    *applied = CUSTOMER_STALE;
    /* A creation is most likely new, an update most likely known: one
       statement in the likely case, the other one when it was not. */
    if (created) {
        rc = customer_insert(db, id, name, email, status, version, now);
        if (rc == CRM_OK)
            *applied = CUSTOMER_INSERTED;
        if (rc != CRM_DUP)
            return rc;
    }
    rc = customer_update(db, id, name, email, status, version, now, &changed);
    if (rc != CRM_OK || changed || created) {
        if (changed)
            *applied = CUSTOMER_UPDATED;
        return rc; /* not changed after a duplicate: as new or newer held */
    }
    /* Not changed: unknown (insert it) or as new or newer (a duplicate). */
    rc = customer_insert(db, id, name, email, status, version, now);
    if (rc == CRM_OK)
        *applied = CUSTOMER_INSERTED;
    return rc == CRM_DUP ? CRM_OK : rc;
}

int store_customer_erase(crm_db *db, int64_t id, int64_t version, const char *now, int *applied)
{
    crm_stmt *st;
    int rc;

    *applied = 0;
    /* A deletion of a customer never seen still leaves its tombstone. */
    if ((st = crm_db_stmt(db, ST_CUSTOMER_ENSURE, SQL_CUSTOMER_ENSURE)) == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, id);
    crm_stmt_bind_opt_str(st, 1, now);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    if ((st = crm_db_stmt(db, ST_CUSTOMER_ERASE, SQL_CUSTOMER_ERASE)) == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, version);
    crm_stmt_bind_opt_str(st, 1, now);
    crm_stmt_bind_int(st, 2, id);
    crm_stmt_bind_int(st, 3, version);
    if ((rc = crm_stmt_exec(st)) == CRM_OK)
        *applied = crm_stmt_affected(st) > 0;
    return rc;
}

int store_customer_tags(crm_db *db, int64_t id, const char *const *tags, size_t n, int clear)
{
    crm_stmt *st;
    int rc;

    if (clear) {
        if ((st = crm_db_stmt(db, ST_TAGS_CLEAR, SQL_TAGS_CLEAR)) == NULL)
            return crm_db_status(db);
        crm_stmt_bind_int(st, 0, id);
        if ((rc = crm_stmt_exec(st)) != CRM_OK)
            return rc;
    }
    if (n == 0)
        return CRM_OK;
    if ((st = crm_db_stmt(db, ST_TAG_INSERT, SQL_TAG_INSERT)) == NULL)
        return crm_db_status(db);
    for (size_t i = 0; i < n; i++) {
        crm_stmt_bind_int(st, 0, id);
        crm_stmt_bind_opt_str(st, 1, tags[i]);
        if ((rc = crm_stmt_exec(st)) != CRM_OK)
            return rc;
    }
    return CRM_OK;
}

int store_order_insert(crm_db *db, const order_in *in)
{
    STMT(db, ORDER_INSERT);
    crm_stmt_bind_int(st, 0, in->id);
    crm_stmt_bind_int(st, 1, in->customer_id);
    crm_stmt_bind_opt_id(st, 2, in->campaign_id);
    crm_stmt_bind_opt_str(st, 3, in->currency);
    crm_stmt_bind_int(st, 4, in->total_cents);
    crm_stmt_bind_opt_str(st, 5, in->counted ? "confirmed" : "cancelled");
    crm_stmt_bind_int(st, 6, in->counted);
    crm_stmt_bind_opt_str(st, 7, in->confirmed_at);
    crm_stmt_bind_int(st, 8, in->version);
    return crm_stmt_exec(st);
}

int store_customer_add(crm_db *db, int64_t id, int64_t revenue, const char *at, const char *now)
{
    STMT(db, CUSTOMER_ADD);
    crm_stmt_bind_int(st, 0, id);
    crm_stmt_bind_int(st, 1, revenue);
    crm_stmt_bind_opt_str(st, 2, at);
    crm_stmt_bind_opt_str(st, 3, at);
    crm_stmt_bind_opt_str(st, 4, now);
    crm_stmt_bind_int(st, 5, revenue);
    crm_stmt_bind_opt_str(st, 6, at);
    crm_stmt_bind_opt_str(st, 7, at);
    crm_stmt_bind_opt_str(st, 8, at);
    crm_stmt_bind_opt_str(st, 9, at);
    crm_stmt_bind_opt_str(st, 10, now);
    return crm_stmt_exec(st);
}

int store_order_put(crm_db *db, const order_in *in, order_held *held)
{
    crm_stmt *st = crm_db_stmt(db, ST_ORDER_HELD, SQL_ORDER_HELD);
    int rc;

    memset(held, 0, sizeof(*held));
    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, in->id);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    if ((rc = crm_stmt_fetch(st)) == CRM_OK) {
        size_t n = 0;
        const char *cur = crm_stmt_col_str(st, 2, &n);
        held->exists = 1;
        held->version = crm_stmt_col_int(st, 0);
        held->counted = crm_stmt_col_int(st, 1) != 0;
        if (cur != NULL && n < sizeof(held->currency))
            memcpy(held->currency, cur, n);
        held->total_cents = crm_stmt_col_int(st, 3);
    }
    crm_stmt_done(st);
    if (rc != CRM_OK && rc != CRM_NOTFOUND)
        return rc;
    if (held->exists && held->version >= in->version)
        return CRM_DUP; /* stale: what is held is as new or newer */
    if (!held->exists) {
        if ((st = crm_db_stmt(db, ST_ORDER_INSERT, SQL_ORDER_INSERT)) == NULL)
            return crm_db_status(db);
        crm_stmt_bind_int(st, 0, in->id);
        crm_stmt_bind_int(st, 1, in->customer_id);
        crm_stmt_bind_opt_id(st, 2, in->campaign_id);
        crm_stmt_bind_opt_str(st, 3, in->currency);
        crm_stmt_bind_int(st, 4, in->total_cents);
        crm_stmt_bind_opt_str(st, 5, in->counted ? "confirmed" : "cancelled");
        crm_stmt_bind_int(st, 6, in->counted);
        crm_stmt_bind_opt_str(st, 7, in->confirmed_at);
        crm_stmt_bind_int(st, 8, in->version);
        return crm_stmt_exec(st);
    }
    if ((st = crm_db_stmt(db, ST_ORDER_UPDATE, SQL_ORDER_UPDATE)) == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, in->customer_id);
    crm_stmt_bind_opt_id(st, 1, in->campaign_id);
    crm_stmt_bind_opt_str(st, 2, in->currency);
    crm_stmt_bind_int(st, 3, in->total_cents);
    crm_stmt_bind_opt_str(st, 4, in->counted ? "confirmed" : "cancelled");
    crm_stmt_bind_int(st, 5, in->counted);
    crm_stmt_bind_opt_str(st, 6, in->confirmed_at);
    crm_stmt_bind_int(st, 7, in->version);
    crm_stmt_bind_int(st, 8, in->id);
    return crm_stmt_exec(st);
}

int store_customer_lock(crm_db *db, int64_t id, const char *now)
{
    STMT(db, CUSTOMER_LOCK);
    crm_stmt_bind_int(st, 0, id);
    crm_stmt_bind_opt_str(st, 1, now);
    return crm_stmt_exec(st);
}

int store_customer_count(crm_db *db, int64_t id, int64_t revenue, const char *at, const char *now)
{
    STMT(db, CUSTOMER_COUNT);
    crm_stmt_bind_int(st, 0, revenue);
    crm_stmt_bind_opt_str(st, 1, at);
    crm_stmt_bind_opt_str(st, 2, at);
    crm_stmt_bind_opt_str(st, 3, at);
    crm_stmt_bind_opt_str(st, 4, at);
    crm_stmt_bind_opt_str(st, 5, now);
    crm_stmt_bind_int(st, 6, id);
    return crm_stmt_exec(st);
}

int store_customer_metrics(crm_db *db, int64_t id, int64_t orders, int64_t revenue, const char *now)
{
    crm_stmt *st = crm_db_stmt(db, ST_CUSTOMER_FIRST_LAST, SQL_CUSTOMER_FIRST_LAST);
    char first[32] = "", last[32] = "";
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, id);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    if ((rc = crm_stmt_fetch(st)) == CRM_OK) {
        size_t n;
        const char *s;
        if ((s = crm_stmt_col_str(st, 0, &n)) != NULL && n < sizeof(first))
            memcpy(first, s, n), first[n] = '\0';
        if ((s = crm_stmt_col_str(st, 1, &n)) != NULL && n < sizeof(last))
            memcpy(last, s, n), last[n] = '\0';
    }
    crm_stmt_done(st);
    if (rc != CRM_OK)
        return rc;
    if ((st = crm_db_stmt(db, ST_CUSTOMER_METRICS, SQL_CUSTOMER_METRICS)) == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, orders);
    crm_stmt_bind_int(st, 1, revenue);
    crm_stmt_bind_opt_str(st, 2, first[0] ? first : NULL);
    crm_stmt_bind_opt_str(st, 3, last[0] ? last : NULL);
    crm_stmt_bind_opt_str(st, 4, now);
    crm_stmt_bind_int(st, 5, id);
    return crm_stmt_exec(st);
}
