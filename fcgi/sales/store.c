/*
 * store.c - every SQL statement of the sales service. Parameters are
 * always bound. List statements are assembled once, at start, from the
 * constant fragments below (sort x filters x cursor), so each variant is a
 * fixed text prepared once per connection like any other.
 */
#include "sales.h"

#include <stdlib.h>
#include <string.h>

enum {
    ST_PRODUCT_GET,
    ST_PRODUCT_GET_FOR_UPDATE,
    ST_PRODUCT_INSERT,
    ST_PRODUCT_UPDATE,
    ST_PRODUCT_IN_USE,
    ST_PRODUCT_DELETE,
    ST_REPLICA_GET,
    ST_REPLICA_LOCK,
    ST_REPLICA_INSERT,
    ST_REPLICA_UPDATE,
    ST_REPLICA_ERASE_INSERT,
    ST_REPLICA_ERASE,
    ST_ORDER_GET,
    ST_ORDER_GET_FOR_UPDATE,
    ST_ORDER_LINES,
    ST_ORDER_INSERT,
    ST_ORDER_UPDATE,
    ST_ORDER_CONFIRM,
    ST_ORDER_FULFILL,
    ST_ORDER_CANCEL,
    ST_LINE_INSERT,
    ST_LINE_UPDATE,
    ST_LINE_DELETE,
    ST_LINES_CLEAR,
    ST_LINE_GET,
    ST_STOCK_TAKE,
    ST_STOCK_MARK,
    ST_STOCK_RETURN,
    ST_STOCK_UNMARK,
    ST_DAILY_STATUS,
    ST_DAILY_REVENUE,
    ST_DAILY_MOVE,
    ST_DAILY_PRODUCTS,
    ST_SUM_REVENUE,
    ST_SUM_TOTALS,
    ST_SUM_STATUS,
    ST_SUM_TOP,
    ST_CUSTOMER_NAME,
    ST_CUSTOMER_NAME_OWNER,
    ST_CUSTOMER_LIST,
    ST_CUSTOMER_LIST_OWNER,
    ST_PRODUCT_COUNT_BASE = 48, /* + mask (16) */
    ST_PRODUCT_LIST_BASE = 64,  /* + (sort * 16 + mask) * 2 + cursor: 192 */
    ST_ORDER_COUNT_BASE = 512,  /* + mask (64) */
    ST_ORDER_LIST_BASE = 576,   /* + (sort * 64 + mask) * 2 + cursor: 256, up to 831 */
};

/* ---- products ---- */

/* Times come back as "YYYY-MM-DD HH:MM:SS.ffffff" (UTC). */
#define PRODUCT_COLS                                                                               \
    "p.id, p.sku, p.name, p.description, p.price_cents, p.currency, p.stock, p.active,"            \
    " p.version, p.created_at, p.updated_at"

static const char SQL_PRODUCT_GET[] = "SELECT " PRODUCT_COLS " FROM products p WHERE p.id = ?";
static const char SQL_PRODUCT_GET_FOR_UPDATE[] =
    "SELECT " PRODUCT_COLS " FROM products p WHERE p.id = ? FOR UPDATE";
static const char SQL_PRODUCT_INSERT[] =
    "INSERT INTO products (sku, name, description, price_cents, currency, stock, active,"
    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_PRODUCT_UPDATE[] =
    "UPDATE products SET sku = ?, name = ?, description = ?, price_cents = ?, currency = ?,"
    " stock = ?, active = ?, updated_at = ?, version = version + 1 WHERE id = ?";
static const char SQL_PRODUCT_IN_USE[] =
    "SELECT 1 FROM order_lines WHERE product_id = ? LIMIT 1 LOCK IN SHARE MODE";
static const char SQL_PRODUCT_DELETE[] = "DELETE FROM products WHERE id = ?";

/* List fragments. Filters bind in this order: active, currency, sku, fts. */
enum { PF_ACTIVE = 1, PF_CURRENCY = 2, PF_SKU = 4, PF_FTS = 8, PF_ALL = 16 };

static const char *const product_filter_sql[] = {
    " AND p.active = ?",
    " AND p.currency = ?",
    " AND p.sku = ?",
    " AND MATCH (p.name, p.sku, p.description) AGAINST (? IN BOOLEAN MODE)",
};

const char *const product_sorts[PSORT_COUNT + 1] = {
    "-created_at", "created_at", "name", "-name", "sku", "-sku", NULL,
};

#define CREATED_KEY(t) "DATE_FORMAT(" t ".created_at, '%Y-%m-%d %H:%i:%s.%f')"

static const crm_db_sort product_sort_sql[PSORT_COUNT] = {
    { CREATED_KEY("p"), " AND (p.created_at < ? OR (p.created_at = ? AND p.id < ?))",
      " ORDER BY p.created_at DESC, p.id DESC" },
    { CREATED_KEY("p"), " AND (p.created_at > ? OR (p.created_at = ? AND p.id > ?))",
      " ORDER BY p.created_at, p.id" },
    { "p.name", " AND (p.name > ? OR (p.name = ? AND p.id > ?))", " ORDER BY p.name, p.id" },
    { "p.name", " AND (p.name < ? OR (p.name = ? AND p.id < ?))",
      " ORDER BY p.name DESC, p.id DESC" },
    { "p.sku", " AND (p.sku > ? OR (p.sku = ? AND p.id > ?))", " ORDER BY p.sku, p.id" },
    { "p.sku", " AND (p.sku < ? OR (p.sku = ? AND p.id < ?))", " ORDER BY p.sku DESC, p.id DESC" },
};

static char product_list_sql[PSORT_COUNT][PF_ALL][2][1024];
static char product_count_sql[PF_ALL][512];

/* ---- customers replica ---- */

static const char SQL_REPLICA_GET[] = "SELECT deleted, owner_id FROM customers WHERE id = ?";
static const char SQL_REPLICA_LOCK[] =
    "SELECT deleted, owner_id FROM customers WHERE id = ? LOCK IN SHARE MODE";
static const char SQL_REPLICA_INSERT[] =
    "INSERT INTO customers (id, name, email, status, owner_id, deleted, version, synced_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
/* An older answer never overwrites a newer one. */
static const char SQL_REPLICA_UPDATE[] =
    "UPDATE customers SET name = ?, email = ?, status = ?, owner_id = ?, deleted = ?, version = ?,"
    " synced_at = ? WHERE id = ? AND version <= ?";

/* A deleted customer keeps its id (orders refer to it) and nothing personal. */
static const char SQL_REPLICA_ERASE_INSERT[] =
    "INSERT INTO customers (id, name, email, status, deleted, version, synced_at)"
    " VALUES (?, '', '', '', 1, ?, ?)";
static const char SQL_REPLICA_ERASE[] =
    "UPDATE customers SET name = '', email = '', deleted = 1, version = ?, synced_at = ?"
    " WHERE id = ? AND version <= ?";

/* The order form's choice of customers: live ones, by name (006_customer_names.sql). */
static const char SQL_CUSTOMER_NAME[] = "SELECT name FROM customers WHERE id = ? AND deleted = 0";
static const char SQL_CUSTOMER_NAME_OWNER[] =
    "SELECT name FROM customers WHERE id = ? AND owner_id = ? AND deleted = 0";
static const char SQL_CUSTOMER_LIST[] =
    "SELECT id, name FROM customers WHERE deleted = 0 ORDER BY name, id LIMIT ?";
static const char SQL_CUSTOMER_LIST_OWNER[] = "SELECT id, name FROM customers"
                                              " WHERE owner_id = ? AND deleted = 0"
                                              " ORDER BY name, id LIMIT ?";

/* ---- orders ---- */

#define ORDER_COLS                                                                                 \
    "o.id, o.customer_id, o.currency, o.status, o.campaign_id, o.note, o.total_cents,"             \
    " o.line_count, o.version, o.created_at, o.updated_at, o.confirmed_at, o.fulfilled_at,"        \
    " o.cancelled_at, o.owner_id"

static const char SQL_ORDER_GET[] = "SELECT " ORDER_COLS " FROM orders o WHERE o.id = ?";
static const char SQL_ORDER_GET_FOR_UPDATE[] =
    "SELECT " ORDER_COLS " FROM orders o WHERE o.id = ? FOR UPDATE";
#define LINE_COLS                                                                                  \
    "l.id, l.order_id, l.product_id, l.sku, l.name, l.quantity, l.unit_price_cents,"               \
    " l.line_total_cents, l.reserved"
/* With whether each product's stock is tracked, as of this transaction's snapshot. */
static const char SQL_ORDER_LINES[] =
    "SELECT " LINE_COLS ", p.stock IS NOT NULL FROM order_lines l"
    " JOIN products p ON p.id = l.product_id WHERE l.order_id = ? ORDER BY l.id";
static const char SQL_ORDER_INSERT[] =
    "INSERT INTO orders (customer_id, currency, campaign_id, note, total_cents, line_count,"
    " created_at, updated_at, owner_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_ORDER_UPDATE[] =
    "UPDATE orders SET customer_id = ?, currency = ?, campaign_id = ?, note = ?,"
    " total_cents = ?, line_count = ?, updated_at = ?, owner_id = ?, version = version + 1"
    " WHERE id = ?";
static const char SQL_ORDER_CONFIRM[] =
    "UPDATE orders SET status = 'confirmed', confirmed_at = ?, updated_at = ?,"
    " version = version + 1 WHERE id = ?";
static const char SQL_ORDER_FULFILL[] =
    "UPDATE orders SET status = 'fulfilled', fulfilled_at = ?, updated_at = ?,"
    " version = version + 1 WHERE id = ?";
static const char SQL_ORDER_CANCEL[] =
    "UPDATE orders SET status = 'cancelled', cancelled_at = ?, updated_at = ?,"
    " version = version + 1 WHERE id = ?";

static const char SQL_LINE_INSERT[] =
    "INSERT INTO order_lines (order_id, product_id, sku, name, quantity, unit_price_cents,"
    " line_total_cents) VALUES (?, ?, ?, ?, ?, ?, ?)";
static const char SQL_LINE_UPDATE[] =
    "UPDATE order_lines SET product_id = ?, sku = ?, name = ?, quantity = ?,"
    " unit_price_cents = ?, line_total_cents = ? WHERE id = ? AND order_id = ?";
static const char SQL_LINE_DELETE[] = "DELETE FROM order_lines WHERE id = ? AND order_id = ?";
static const char SQL_LINES_CLEAR[] = "DELETE FROM order_lines WHERE order_id = ?";
static const char SQL_LINE_GET[] =
    "SELECT " LINE_COLS " FROM order_lines l WHERE l.id = ? AND l.order_id = ?";

/* Stock: the products are locked by the caller (orders.c, in id order). */
/* The check already passed under the locks; "stock >= q" is a last guard. */
static const char SQL_STOCK_TAKE[] =
    "UPDATE products p JOIN (SELECT product_id, SUM(quantity) AS q FROM order_lines"
    " WHERE order_id = ? GROUP BY product_id) r ON r.product_id = p.id"
    " SET p.stock = p.stock - r.q, p.version = p.version + 1, p.updated_at = ?"
    " WHERE p.stock IS NOT NULL AND p.stock >= r.q";
static const char SQL_STOCK_MARK[] =
    "UPDATE order_lines l JOIN products p ON p.id = l.product_id"
    " SET l.reserved = IF(p.stock IS NULL, 0, l.quantity) WHERE l.order_id = ?";
static const char SQL_STOCK_RETURN[] =
    "UPDATE products p JOIN (SELECT product_id, SUM(reserved) AS q FROM order_lines"
    " WHERE order_id = ? GROUP BY product_id) r ON r.product_id = p.id"
    " SET p.stock = p.stock + r.q, p.version = p.version + 1, p.updated_at = ?"
    " WHERE p.stock IS NOT NULL AND r.q > 0";
static const char SQL_STOCK_UNMARK[] = "UPDATE order_lines SET reserved = 0 WHERE order_id = ?";

/* ---- summary figures ---- */

static const char SQL_DAILY_STATUS[] =
    "INSERT INTO sales_daily_status (day, status, slot, orders) VALUES (?, ?, ?, ?)"
    " ON DUPLICATE KEY UPDATE orders = orders + ?";
static const char SQL_DAILY_REVENUE[] =
    "INSERT INTO sales_daily (day, currency, slot, orders, revenue_cents) VALUES (?, ?, ?, ?, ?)"
    " ON DUPLICATE KEY UPDATE orders = orders + ?, revenue_cents = revenue_cents + ?";
/*
 * One statement per change, rows in a fixed order (the derived table's),
 * so two transactions take these row locks in the same order. Columns of
 * a derived table in ON DUPLICATE KEY UPDATE work in MySQL 8 and MariaDB.
 */
static const char SQL_DAILY_MOVE[] =
    "INSERT INTO sales_daily_status (day, status, slot, orders)"
    " SELECT * FROM (SELECT ? AS d, ? AS s, ? AS k, -1 AS n UNION ALL SELECT ?, ?, ?, 1) AS x"
    " ON DUPLICATE KEY UPDATE orders = orders + x.n";
static const char SQL_DAILY_PRODUCTS[] =
    "INSERT INTO sales_daily_products (day, product_id, currency, units, revenue_cents)"
    " SELECT * FROM (SELECT ? AS d, l.product_id AS p, ? AS c, SUM(l.quantity) * ? AS u,"
    " SUM(l.line_total_cents) * ? AS r FROM order_lines l WHERE l.order_id = ?"
    " GROUP BY l.product_id ORDER BY l.product_id) AS x"
    " ON DUPLICATE KEY UPDATE units = units + x.u, revenue_cents = revenue_cents + x.r";
static const char SQL_SUM_REVENUE[] =
    "SELECT DATE_FORMAT(day, '%Y-%m-%d'), currency, SUM(orders), SUM(revenue_cents)"
    " FROM sales_daily WHERE day BETWEEN ? AND ? GROUP BY day, currency"
    " HAVING SUM(orders) <> 0 ORDER BY day, currency";
static const char SQL_SUM_TOTALS[] =
    "SELECT currency, SUM(orders), SUM(revenue_cents) FROM sales_daily"
    " WHERE day BETWEEN ? AND ? GROUP BY currency HAVING SUM(orders) <> 0 ORDER BY currency";
static const char SQL_SUM_STATUS[] =
    "SELECT status, SUM(orders) FROM sales_daily_status WHERE day BETWEEN ? AND ?"
    " GROUP BY status";
static const char SQL_SUM_TOP[] =
    "SELECT t.product_id, p.sku, p.name, t.currency, t.units, t.revenue FROM"
    " (SELECT product_id, currency, SUM(units) AS units, SUM(revenue_cents) AS revenue"
    "  FROM sales_daily_products WHERE day BETWEEN ? AND ? GROUP BY product_id, currency"
    "  HAVING SUM(units) <> 0 ORDER BY revenue DESC, product_id LIMIT ?) t"
    " LEFT JOIN products p ON p.id = t.product_id ORDER BY t.revenue DESC, t.product_id";

/* Order list fragments. Filters bind in this order: customer, status, campaign, from, to, owner. */
enum {
    OF_CUSTOMER = 1,
    OF_STATUS = 2,
    OF_CAMPAIGN = 4,
    OF_FROM = 8,
    OF_TO = 16,
    OF_OWNER = 32,
    OF_ALL = 64
};

static const char *const order_filter_sql[] = {
    " AND o.customer_id = ?", " AND o.status = ?",     " AND o.campaign_id = ?",
    " AND o.created_at >= ?", " AND o.created_at < ?", " AND o.owner_id = ?",
};

const char *const order_sorts[OSORT_COUNT + 1] = { "-created_at", "created_at", NULL };

static const crm_db_sort order_sort_sql[OSORT_COUNT] = {
    { CREATED_KEY("o"), " AND (o.created_at < ? OR (o.created_at = ? AND o.id < ?))",
      " ORDER BY o.created_at DESC, o.id DESC" },
    { CREATED_KEY("o"), " AND (o.created_at > ? OR (o.created_at = ? AND o.id > ?))",
      " ORDER BY o.created_at, o.id" },
};

/* Lists name each order's customer as the replica knows it (pages show it),
   with the customer's owner now: a sales user sees the name only while the
   customer is theirs (the order keeps the owner it was made under). */
#define ORDER_LIST_COLS ORDER_COLS ", c.name, c.owner_id"
#define ORDER_LIST_FROM " FROM orders o LEFT JOIN customers c ON c.id = o.customer_id"

static char order_list_sql[OSORT_COUNT][OF_ALL][2][1024];
static char order_count_sql[OF_ALL][512];

void store_init(void)
{
    char where[512];

    for (int mask = 0; mask < PF_ALL; mask++) {
        crm_db_where_sql(where, sizeof(where), mask, product_filter_sql, 4);
        product_count_sql[mask][0] = '\0';
        crm_db_sql_append(product_count_sql[mask], sizeof(product_count_sql[mask]),
                          "SELECT COUNT(*) FROM products p");
        crm_db_sql_append(product_count_sql[mask], sizeof(product_count_sql[mask]), where);
        for (int s = 0; s < PSORT_COUNT; s++) {
            for (int cur = 0; cur < 2; cur++)
                crm_db_list_sql(product_list_sql[s][mask][cur],
                                sizeof(product_list_sql[s][mask][cur]), PRODUCT_COLS,
                                " FROM products p", where, &product_sort_sql[s], cur);
        }
    }
    for (int mask = 0; mask < OF_ALL; mask++) {
        crm_db_where_sql(where, sizeof(where), mask, order_filter_sql, 6);
        order_count_sql[mask][0] = '\0';
        crm_db_sql_append(order_count_sql[mask], sizeof(order_count_sql[mask]),
                          "SELECT COUNT(*) FROM orders o");
        crm_db_sql_append(order_count_sql[mask], sizeof(order_count_sql[mask]), where);
        for (int s = 0; s < OSORT_COUNT; s++) {
            for (int cur = 0; cur < 2; cur++)
                crm_db_list_sql(order_list_sql[s][mask][cur], sizeof(order_list_sql[s][mask][cur]),
                                ORDER_LIST_COLS, ORDER_LIST_FROM, where, &order_sort_sql[s], cur);
        }
    }
}

/* Run a statement that returns no rows; CRM_NOTFOUND when it changed none. */
static int exec_change(crm_stmt *st)
{
    int rc = crm_stmt_exec(st);
    if (rc != CRM_OK)
        return rc;
    return crm_stmt_affected(st) == 0 ? CRM_NOTFOUND : CRM_OK;
}

/* ---- products ---- */

static void read_product(crm_stmt *st, crm_arena *a, product *p)
{
    p->id = crm_stmt_col_int(st, 0);
    p->sku = crm_stmt_col_dup(st, a, 1);
    p->name = crm_stmt_col_dup(st, a, 2);
    p->description = crm_stmt_col_dup(st, a, 3);
    p->price_cents = crm_stmt_col_int(st, 4);
    p->currency = crm_stmt_col_dup(st, a, 5);
    p->tracked = !crm_stmt_col_null(st, 6);
    p->stock = crm_stmt_col_int(st, 6);
    p->active = crm_stmt_col_int(st, 7) != 0;
    p->version = crm_stmt_col_int(st, 8);
    p->created_at = crm_stmt_col_iso(st, a, 9);
    p->updated_at = crm_stmt_col_iso(st, a, 10);
    p->sort_value = NULL;
}

int store_product_get(crm_db *db, crm_arena *a, int64_t id, int for_update, product *out)
{
    crm_stmt *st = for_update
                       ? crm_db_stmt(db, ST_PRODUCT_GET_FOR_UPDATE, SQL_PRODUCT_GET_FOR_UPDATE)
                       : crm_db_stmt(db, ST_PRODUCT_GET, SQL_PRODUCT_GET);
    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, id);
    CRM_STMT_FETCH_ONE(st, read_product(st, a, out));
}

static void bind_product(crm_stmt *st, const product_in *in)
{
    crm_stmt_bind_opt_str(st, 0, in->sku);
    crm_stmt_bind_opt_str(st, 1, in->name);
    crm_stmt_bind_opt_str(st, 2, in->description);
    crm_stmt_bind_int(st, 3, in->price_cents);
    crm_stmt_bind_opt_str(st, 4, in->currency);
    if (in->tracked)
        crm_stmt_bind_int(st, 5, in->stock);
    else
        crm_stmt_bind_null(st, 5);
    crm_stmt_bind_int(st, 6, in->active ? 1 : 0);
    crm_stmt_bind_opt_str(st, 7, in->now);
}

int store_product_insert(crm_db *db, const product_in *in, int64_t *id)
{
    crm_stmt *st = crm_db_stmt(db, ST_PRODUCT_INSERT, SQL_PRODUCT_INSERT);
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    bind_product(st, in);
    crm_stmt_bind_opt_str(st, 8, in->now);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    *id = (int64_t)crm_stmt_insert_id(st);
    return CRM_OK;
}

int store_product_update(crm_db *db, int64_t id, const product_in *in)
{
    crm_stmt *st = crm_db_stmt(db, ST_PRODUCT_UPDATE, SQL_PRODUCT_UPDATE);

    if (st == NULL)
        return crm_db_status(db);
    bind_product(st, in);
    crm_stmt_bind_int(st, 8, id);
    return exec_change(st);
}

int store_product_delete(crm_db *db, int64_t id)
{
    crm_stmt *st = crm_db_stmt(db, ST_PRODUCT_IN_USE, SQL_PRODUCT_IN_USE);
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
    if ((st = crm_db_stmt(db, ST_PRODUCT_DELETE, SQL_PRODUCT_DELETE)) == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, id);
    return exec_change(st);
}

static int product_mask(const product_filter *f)
{
    return (f->active >= 0 ? PF_ACTIVE : 0) | (f->currency ? PF_CURRENCY : 0) |
           (f->sku ? PF_SKU : 0) | (f->fts ? PF_FTS : 0);
}

static unsigned bind_product_filters(crm_stmt *st, const product_filter *f)
{
    unsigned i = 0;
    if (f->active >= 0)
        crm_stmt_bind_int(st, i++, f->active);
    if (f->currency)
        crm_stmt_bind_opt_str(st, i++, f->currency);
    if (f->sku)
        crm_stmt_bind_opt_str(st, i++, f->sku);
    if (f->fts)
        crm_stmt_bind_opt_str(st, i++, f->fts);
    return i;
}

int store_product_list(crm_db *db, crm_arena *a, const product_filter *f, product *rows, size_t *n)
{
    int mask = product_mask(f), cur = f->after ? 1 : 0, rc;
    unsigned key = ST_PRODUCT_LIST_BASE + (unsigned)((f->sort * PF_ALL + mask) * 2 + cur);
    crm_stmt *st = crm_db_stmt(db, key, product_list_sql[f->sort][mask][cur]);

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_page(st, bind_product_filters(st, f), f->after, f->after_value, f->after_id,
                       f->limit);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    size_t k = 0;
    while (k < (size_t)f->limit && (rc = crm_stmt_fetch(st)) == CRM_OK) {
        read_product(st, a, &rows[k]);
        rows[k].sort_value = crm_stmt_col_dup(st, a, 11);
        k++;
    }
    crm_stmt_done(st);
    if (rc != CRM_OK && rc != CRM_NOTFOUND)
        return rc;
    *n = k;
    return CRM_OK;
}

int store_product_count(crm_db *db, const product_filter *f, int64_t *count)
{
    int mask = product_mask(f);
    crm_stmt *st = crm_db_stmt(db, ST_PRODUCT_COUNT_BASE + (unsigned)mask, product_count_sql[mask]);

    if (st == NULL)
        return crm_db_status(db);
    bind_product_filters(st, f);
    return crm_stmt_exec_int(st, count);
}

/* ---- customers replica ---- */

int store_replica_get(crm_db *db, int64_t id, int lock, int *deleted, int64_t *owner)
{
    crm_stmt *st = lock ? crm_db_stmt(db, ST_REPLICA_LOCK, SQL_REPLICA_LOCK)
                        : crm_db_stmt(db, ST_REPLICA_GET, SQL_REPLICA_GET);
    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, id);
    CRM_STMT_FETCH_ONE(st, {
        *deleted = crm_stmt_col_int(st, 0) != 0;
        *owner = crm_stmt_col_null(st, 1) ? 0 : crm_stmt_col_int(st, 1);
    });
}

int store_replica_put(crm_db *db, int64_t id, const char *name, const char *email,
                      const char *status, int64_t owner, int deleted, int64_t version,
                      const char *now)
{
    crm_stmt *st = crm_db_stmt(db, ST_REPLICA_INSERT, SQL_REPLICA_INSERT);
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, id);
    crm_stmt_bind_opt_str(st, 1, name);
    crm_stmt_bind_opt_str(st, 2, email);
    crm_stmt_bind_opt_str(st, 3, status);
    crm_stmt_bind_opt_id(st, 4, owner);
    crm_stmt_bind_int(st, 5, deleted ? 1 : 0);
    crm_stmt_bind_int(st, 6, version);
    crm_stmt_bind_opt_str(st, 7, now);
    rc = crm_stmt_exec(st);
    if (rc != CRM_DUP)
        return rc;
    if ((st = crm_db_stmt(db, ST_REPLICA_UPDATE, SQL_REPLICA_UPDATE)) == NULL)
        return crm_db_status(db);
    crm_stmt_bind_opt_str(st, 0, name);
    crm_stmt_bind_opt_str(st, 1, email);
    crm_stmt_bind_opt_str(st, 2, status);
    crm_stmt_bind_opt_id(st, 3, owner);
    crm_stmt_bind_int(st, 4, deleted ? 1 : 0);
    crm_stmt_bind_int(st, 5, version);
    crm_stmt_bind_opt_str(st, 6, now);
    crm_stmt_bind_int(st, 7, id);
    crm_stmt_bind_int(st, 8, version);
    /* No row changed: the replica already holds a newer version. */
    return crm_stmt_exec(st);
}

int store_replica_erase(crm_db *db, int64_t id, int64_t version, const char *now)
{
    crm_stmt *st = crm_db_stmt(db, ST_REPLICA_ERASE_INSERT, SQL_REPLICA_ERASE_INSERT);
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, id);
    crm_stmt_bind_int(st, 1, version);
    crm_stmt_bind_opt_str(st, 2, now);
    rc = crm_stmt_exec(st);
    if (rc != CRM_DUP)
        return rc;
    if ((st = crm_db_stmt(db, ST_REPLICA_ERASE, SQL_REPLICA_ERASE)) == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, version);
    crm_stmt_bind_opt_str(st, 1, now);
    crm_stmt_bind_int(st, 2, id);
    crm_stmt_bind_int(st, 3, version);
    return crm_stmt_exec(st);
}

int store_customer_name(crm_db *db, crm_arena *a, int64_t id, int64_t owner, const char **name)
{
    crm_stmt *st = owner > 0 ? crm_db_stmt(db, ST_CUSTOMER_NAME_OWNER, SQL_CUSTOMER_NAME_OWNER)
                             : crm_db_stmt(db, ST_CUSTOMER_NAME, SQL_CUSTOMER_NAME);

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, id);
    if (owner > 0)
        crm_stmt_bind_int(st, 1, owner);
    CRM_STMT_FETCH_ONE(st, *name = crm_stmt_col_dup(st, a, 0));
}

int store_customer_list(crm_db *db, crm_arena *a, int64_t owner, size_t limit, customer_row *rows,
                        size_t *n)
{
    crm_stmt *st = owner > 0 ? crm_db_stmt(db, ST_CUSTOMER_LIST_OWNER, SQL_CUSTOMER_LIST_OWNER)
                             : crm_db_stmt(db, ST_CUSTOMER_LIST, SQL_CUSTOMER_LIST);
    unsigned i = 0;
    size_t k = 0;
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    if (owner > 0)
        crm_stmt_bind_int(st, i++, owner);
    crm_stmt_bind_int(st, i, (int64_t)limit);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    while (k < limit && (rc = crm_stmt_fetch(st)) == CRM_OK) {
        rows[k].id = crm_stmt_col_int(st, 0);
        rows[k].name = crm_stmt_col_dup(st, a, 1);
        k++;
    }
    crm_stmt_done(st);
    if (rc != CRM_OK && rc != CRM_NOTFOUND)
        return rc;
    *n = k;
    return CRM_OK;
}

/* ---- orders ---- */

static void read_order(crm_stmt *st, crm_arena *a, order *o)
{
    const char *status = crm_stmt_col_dup(st, a, 3);

    memset(o, 0, sizeof(*o));
    o->id = crm_stmt_col_int(st, 0);
    o->customer_id = crm_stmt_col_int(st, 1);
    o->currency = crm_stmt_col_dup(st, a, 2);
    if (order_status_parse(status, &o->status) != CRM_OK)
        o->status = ORDER_DRAFT;
    o->campaign_id = crm_stmt_col_int(st, 4);
    o->note = crm_stmt_col_dup(st, a, 5);
    o->total_cents = crm_stmt_col_int(st, 6);
    o->line_count = crm_stmt_col_int(st, 7);
    o->version = crm_stmt_col_int(st, 8);
    o->created_sql = crm_stmt_col_dup(st, a, 9);
    o->created_at = crm_stmt_col_iso(st, a, 9);
    o->updated_at = crm_stmt_col_iso(st, a, 10);
    o->confirmed_sql = crm_stmt_col_dup(st, a, 11);
    o->confirmed_at = crm_stmt_col_iso(st, a, 11);
    o->fulfilled_at = crm_stmt_col_iso(st, a, 12);
    o->cancelled_at = crm_stmt_col_iso(st, a, 13);
    o->owner_id = crm_stmt_col_null(st, 14) ? 0 : crm_stmt_col_int(st, 14);
}

int store_order_get(crm_db *db, crm_arena *a, int64_t id, int for_update, order *out)
{
    crm_stmt *st = for_update ? crm_db_stmt(db, ST_ORDER_GET_FOR_UPDATE, SQL_ORDER_GET_FOR_UPDATE)
                              : crm_db_stmt(db, ST_ORDER_GET, SQL_ORDER_GET);
    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, id);
    CRM_STMT_FETCH_ONE(st, read_order(st, a, out));
}

static void read_line(crm_stmt *st, crm_arena *a, order_line *l)
{
    l->id = crm_stmt_col_int(st, 0);
    l->order_id = crm_stmt_col_int(st, 1);
    l->product_id = crm_stmt_col_int(st, 2);
    l->sku = crm_stmt_col_dup(st, a, 3);
    l->name = crm_stmt_col_dup(st, a, 4);
    l->quantity = crm_stmt_col_int(st, 5);
    l->unit_price_cents = crm_stmt_col_int(st, 6);
    l->line_total_cents = crm_stmt_col_int(st, 7);
    l->reserved = crm_stmt_col_int(st, 8);
}

int store_order_lines(crm_db *db, crm_arena *a, order *o)
{
    crm_stmt *st = crm_db_stmt(db, ST_ORDER_LINES, SQL_ORDER_LINES);
    size_t cap = o->line_count > 0 ? (size_t)o->line_count : 1;
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, o->id);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    o->lines = crm_arena_alloc(a, sizeof(order_line) * cap);
    o->n_lines = 0;
    while ((rc = crm_stmt_fetch(st)) == CRM_OK) {
        if (o->n_lines == cap) {
            /* line_count was stale: grow (rare, never in a consistent store) */
            order_line *more = crm_arena_alloc(a, sizeof(order_line) * cap * 2);
            memcpy(more, o->lines, sizeof(order_line) * cap);
            o->lines = more;
            cap *= 2;
        }
        read_line(st, a, &o->lines[o->n_lines]);
        o->lines[o->n_lines++].tracked = crm_stmt_col_int(st, 9) != 0;
    }
    crm_stmt_done(st);
    return rc == CRM_NOTFOUND ? CRM_OK : rc;
}

int store_order_insert(crm_db *db, const order *in, const char *now, int64_t *id)
{
    crm_stmt *st = crm_db_stmt(db, ST_ORDER_INSERT, SQL_ORDER_INSERT);
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, in->customer_id);
    crm_stmt_bind_opt_str(st, 1, in->currency);
    crm_stmt_bind_opt_id(st, 2, in->campaign_id);
    crm_stmt_bind_opt_str(st, 3, in->note);
    crm_stmt_bind_int(st, 4, in->total_cents);
    crm_stmt_bind_int(st, 5, in->line_count);
    crm_stmt_bind_opt_str(st, 6, now);
    crm_stmt_bind_opt_str(st, 7, now);
    crm_stmt_bind_opt_id(st, 8, in->owner_id);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    *id = (int64_t)crm_stmt_insert_id(st);
    return CRM_OK;
}

int store_order_update(crm_db *db, const order *o, const char *now)
{
    crm_stmt *st = crm_db_stmt(db, ST_ORDER_UPDATE, SQL_ORDER_UPDATE);

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, o->customer_id);
    crm_stmt_bind_opt_str(st, 1, o->currency);
    crm_stmt_bind_opt_id(st, 2, o->campaign_id);
    crm_stmt_bind_opt_str(st, 3, o->note);
    crm_stmt_bind_int(st, 4, o->total_cents);
    crm_stmt_bind_int(st, 5, o->line_count);
    crm_stmt_bind_opt_str(st, 6, now);
    crm_stmt_bind_opt_id(st, 7, o->owner_id);
    crm_stmt_bind_int(st, 8, o->id);
    return exec_change(st);
}

int store_order_set_status(crm_db *db, int64_t id, order_status to, const char *now)
{
    crm_stmt *st;

    switch (to) {
    case ORDER_CONFIRMED:
        st = crm_db_stmt(db, ST_ORDER_CONFIRM, SQL_ORDER_CONFIRM);
        break;
    case ORDER_FULFILLED:
        st = crm_db_stmt(db, ST_ORDER_FULFILL, SQL_ORDER_FULFILL);
        break;
    case ORDER_CANCELLED:
        st = crm_db_stmt(db, ST_ORDER_CANCEL, SQL_ORDER_CANCEL);
        break;
    default:
        return CRM_ERR;
    }
    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_opt_str(st, 0, now);
    crm_stmt_bind_opt_str(st, 1, now);
    crm_stmt_bind_int(st, 2, id);
    return exec_change(st);
}

static int order_mask(const order_filter *f)
{
    return (f->customer > 0 ? OF_CUSTOMER : 0) | (f->status ? OF_STATUS : 0) |
           (f->campaign > 0 ? OF_CAMPAIGN : 0) | (f->from ? OF_FROM : 0) | (f->to ? OF_TO : 0) |
           (f->owner > 0 ? OF_OWNER : 0);
}

static unsigned bind_order_filters(crm_stmt *st, const order_filter *f)
{
    unsigned i = 0;
    if (f->customer > 0)
        crm_stmt_bind_int(st, i++, f->customer);
    if (f->status)
        crm_stmt_bind_opt_str(st, i++, f->status);
    if (f->campaign > 0)
        crm_stmt_bind_int(st, i++, f->campaign);
    if (f->from)
        crm_stmt_bind_opt_str(st, i++, f->from);
    if (f->to)
        crm_stmt_bind_opt_str(st, i++, f->to);
    if (f->owner > 0)
        crm_stmt_bind_int(st, i++, f->owner);
    return i;
}

int store_order_list(crm_db *db, crm_arena *a, const order_filter *f, order *rows, size_t *n)
{
    int mask = order_mask(f), cur = f->after ? 1 : 0, rc;
    unsigned key = ST_ORDER_LIST_BASE + (unsigned)((f->sort * OF_ALL + mask) * 2 + cur);
    crm_stmt *st = crm_db_stmt(db, key, order_list_sql[f->sort][mask][cur]);

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_page(st, bind_order_filters(st, f), f->after, f->after_value, f->after_id,
                       f->limit);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    size_t k = 0;
    while (k < (size_t)f->limit && (rc = crm_stmt_fetch(st)) == CRM_OK) {
        read_order(st, a, &rows[k]);
        rows[k].customer_name = crm_stmt_col_dup(st, a, 15);
        rows[k].customer_owner = crm_stmt_col_int(st, 16);
        rows[k].sort_value = crm_stmt_col_dup(st, a, 17);
        k++;
    }
    crm_stmt_done(st);
    if (rc != CRM_OK && rc != CRM_NOTFOUND)
        return rc;
    *n = k;
    return CRM_OK;
}

int store_order_count(crm_db *db, const order_filter *f, int64_t *count)
{
    int mask = order_mask(f);
    crm_stmt *st = crm_db_stmt(db, ST_ORDER_COUNT_BASE + (unsigned)mask, order_count_sql[mask]);

    if (st == NULL)
        return crm_db_status(db);
    bind_order_filters(st, f);
    return crm_stmt_exec_int(st, count);
}

/* ---- lines ---- */

static void bind_line(crm_stmt *st, unsigned i, const order_line *l)
{
    crm_stmt_bind_int(st, i++, l->product_id);
    crm_stmt_bind_opt_str(st, i++, l->sku);
    crm_stmt_bind_opt_str(st, i++, l->name);
    crm_stmt_bind_int(st, i++, l->quantity);
    crm_stmt_bind_int(st, i++, l->unit_price_cents);
    crm_stmt_bind_int(st, i, l->line_total_cents);
}

int store_line_insert(crm_db *db, order_line *l)
{
    crm_stmt *st = crm_db_stmt(db, ST_LINE_INSERT, SQL_LINE_INSERT);
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, l->order_id);
    bind_line(st, 1, l);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    l->id = (int64_t)crm_stmt_insert_id(st);
    return CRM_OK;
}

int store_line_update(crm_db *db, const order_line *l)
{
    crm_stmt *st = crm_db_stmt(db, ST_LINE_UPDATE, SQL_LINE_UPDATE);

    if (st == NULL)
        return crm_db_status(db);
    bind_line(st, 0, l);
    crm_stmt_bind_int(st, 6, l->id);
    crm_stmt_bind_int(st, 7, l->order_id);
    /* MySQL counts changed rows: the same values again is not "not found". */
    return crm_stmt_exec(st);
}

int store_line_delete(crm_db *db, int64_t order_id, int64_t line_id)
{
    crm_stmt *st = crm_db_stmt(db, ST_LINE_DELETE, SQL_LINE_DELETE);

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, line_id);
    crm_stmt_bind_int(st, 1, order_id);
    return exec_change(st);
}

int store_lines_clear(crm_db *db, int64_t order_id)
{
    crm_stmt *st = crm_db_stmt(db, ST_LINES_CLEAR, SQL_LINES_CLEAR);

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, order_id);
    return crm_stmt_exec(st);
}

int store_line_get(crm_db *db, crm_arena *a, int64_t order_id, int64_t line_id, order_line *out)
{
    crm_stmt *st = crm_db_stmt(db, ST_LINE_GET, SQL_LINE_GET);

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, line_id);
    crm_stmt_bind_int(st, 1, order_id);
    CRM_STMT_FETCH_ONE(st, read_line(st, a, out));
}

/* ---- stock ---- */

static int exec_order_now(crm_db *db, unsigned key, const char *sql, int64_t order_id,
                          const char *now)
{
    crm_stmt *st = crm_db_stmt(db, key, sql);

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_int(st, 0, order_id);
    if (now != NULL)
        crm_stmt_bind_opt_str(st, 1, now);
    return crm_stmt_exec(st);
}

int store_stock_take(crm_db *db, int64_t order_id, const char *now, size_t tracked)
{
    if (tracked == 0)
        return CRM_OK; /* nothing to take; reserved stays 0 on every line */
    int rc = exec_order_now(db, ST_STOCK_MARK, SQL_STOCK_MARK, order_id, NULL);
    if (rc != CRM_OK)
        return rc;
    if ((rc = exec_order_now(db, ST_STOCK_TAKE, SQL_STOCK_TAKE, order_id, now)) != CRM_OK)
        return rc;
    /* Every tracked product must have given its units: else roll back. */
    crm_stmt *st = crm_db_stmt(db, ST_STOCK_TAKE, SQL_STOCK_TAKE);
    if (st == NULL)
        return crm_db_status(db);
    return crm_stmt_affected(st) == tracked ? CRM_OK : CRM_CONFLICT;
}

int store_stock_return(crm_db *db, int64_t order_id, const char *now)
{
    int rc = exec_order_now(db, ST_STOCK_RETURN, SQL_STOCK_RETURN, order_id, now);
    if (rc != CRM_OK)
        return rc;
    return exec_order_now(db, ST_STOCK_UNMARK, SQL_STOCK_UNMARK, order_id, NULL);
}

/* ---- summary figures ---- */

int store_daily_status(crm_db *db, const char *day, order_status s, int slot, int delta)
{
    crm_stmt *st = crm_db_stmt(db, ST_DAILY_STATUS, SQL_DAILY_STATUS);

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_str(st, 0, day, 10);
    crm_stmt_bind_opt_str(st, 1, order_status_name(s));
    crm_stmt_bind_int(st, 2, slot);
    crm_stmt_bind_int(st, 3, delta);
    crm_stmt_bind_int(st, 4, delta);
    return crm_stmt_exec(st);
}

int store_daily_revenue(crm_db *db, const char *day, const char *currency, int slot, int delta,
                        int64_t revenue)
{
    crm_stmt *st = crm_db_stmt(db, ST_DAILY_REVENUE, SQL_DAILY_REVENUE);

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_str(st, 0, day, 10);
    crm_stmt_bind_opt_str(st, 1, currency);
    crm_stmt_bind_int(st, 2, slot);
    crm_stmt_bind_int(st, 3, delta);
    crm_stmt_bind_int(st, 4, revenue);
    crm_stmt_bind_int(st, 5, delta);
    crm_stmt_bind_int(st, 6, revenue);
    return crm_stmt_exec(st);
}

int store_daily_move(crm_db *db, const char *day, order_status from, order_status to, int slot)
{
    crm_stmt *st = crm_db_stmt(db, ST_DAILY_MOVE, SQL_DAILY_MOVE);

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_str(st, 0, day, 10);
    crm_stmt_bind_opt_str(st, 1, order_status_name(from));
    crm_stmt_bind_int(st, 2, slot);
    crm_stmt_bind_str(st, 3, day, 10);
    crm_stmt_bind_opt_str(st, 4, order_status_name(to));
    crm_stmt_bind_int(st, 5, slot);
    return crm_stmt_exec(st);
}

int store_daily_products(crm_db *db, const char *day, int64_t order_id, const char *currency,
                         int sign)
{
    crm_stmt *st = crm_db_stmt(db, ST_DAILY_PRODUCTS, SQL_DAILY_PRODUCTS);

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_str(st, 0, day, 10);
    crm_stmt_bind_opt_str(st, 1, currency);
    crm_stmt_bind_int(st, 2, sign);
    crm_stmt_bind_int(st, 3, sign);
    crm_stmt_bind_int(st, 4, order_id);
    return crm_stmt_exec(st);
}

int store_summary_revenue(crm_db *db, crm_arena *a, const char *from, const char *to, int totals,
                          revenue_row **rows, size_t *n)
{
    crm_stmt *st = totals ? crm_db_stmt(db, ST_SUM_TOTALS, SQL_SUM_TOTALS)
                          : crm_db_stmt(db, ST_SUM_REVENUE, SQL_SUM_REVENUE);
    size_t cap = 64, k = 0;
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_opt_str(st, 0, from);
    crm_stmt_bind_opt_str(st, 1, to);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    revenue_row *out = crm_arena_alloc(a, sizeof(revenue_row) * cap);
    while ((rc = crm_stmt_fetch(st)) == CRM_OK) {
        if (k == cap) {
            revenue_row *more = crm_arena_alloc(a, sizeof(revenue_row) * cap * 2);
            memcpy(more, out, sizeof(revenue_row) * cap);
            out = more;
            cap *= 2;
        }
        unsigned c = 0;
        out[k].day = totals ? NULL : crm_stmt_col_dup(st, a, c++);
        out[k].currency = crm_stmt_col_dup(st, a, c++);
        out[k].orders = crm_stmt_col_dup(st, a, c++);
        out[k].revenue = crm_stmt_col_dup(st, a, c);
        k++;
    }
    crm_stmt_done(st);
    if (rc != CRM_NOTFOUND)
        return rc;
    *rows = out;
    *n = k;
    return CRM_OK;
}

int store_summary_status(crm_db *db, const char *from, const char *to,
                         int64_t counts[ORDER_NSTATUS])
{
    crm_stmt *st = crm_db_stmt(db, ST_SUM_STATUS, SQL_SUM_STATUS);
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_opt_str(st, 0, from);
    crm_stmt_bind_opt_str(st, 1, to);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    for (int i = 0; i < ORDER_NSTATUS; i++)
        counts[i] = 0;
    while ((rc = crm_stmt_fetch(st)) == CRM_OK) {
        size_t len;
        const char *name = crm_stmt_col_str(st, 0, &len);
        char buf[16];
        order_status s;
        if (name == NULL || len >= sizeof(buf))
            continue;
        memcpy(buf, name, len);
        buf[len] = '\0';
        if (order_status_parse(buf, &s) == CRM_OK)
            counts[s] = crm_stmt_col_int(st, 1);
    }
    crm_stmt_done(st);
    return rc == CRM_NOTFOUND ? CRM_OK : rc;
}

int store_summary_top(crm_db *db, crm_arena *a, const char *from, const char *to, int top,
                      top_row *rows, size_t *n)
{
    crm_stmt *st = crm_db_stmt(db, ST_SUM_TOP, SQL_SUM_TOP);
    size_t k = 0;
    int rc;

    if (st == NULL)
        return crm_db_status(db);
    crm_stmt_bind_opt_str(st, 0, from);
    crm_stmt_bind_opt_str(st, 1, to);
    crm_stmt_bind_int(st, 2, top);
    if ((rc = crm_stmt_exec(st)) != CRM_OK)
        return rc;
    while ((rc = crm_stmt_fetch(st)) == CRM_OK) {
        if (k >= (size_t)top)
            continue;
        rows[k].product_id = crm_stmt_col_int(st, 0);
        rows[k].sku = crm_stmt_col_dup(st, a, 1);
        rows[k].name = crm_stmt_col_dup(st, a, 2);
        rows[k].currency = crm_stmt_col_dup(st, a, 3);
        rows[k].units = crm_stmt_col_dup(st, a, 4);
        rows[k].revenue = crm_stmt_col_dup(st, a, 5);
        k++;
    }
    crm_stmt_done(st);
    if (rc != CRM_NOTFOUND)
        return rc;
    *n = k;
    return CRM_OK;
}
