/*
 * rules.c - segment rules: check a rule, render its canonical JSON, and
 * compile it into a condition on the customers table (alias c).
 *
 * The SQL is assembled only from the constant fragments of this file: the
 * field chooses a column expression from the whitelist below, the operator
 * a comparison, and every value the client sent becomes a bound parameter
 * (rule_sql.binds). No byte of a value is ever copied into the SQL text.
 *
 * Score fields (r_score, f_score, m_score) compare the underlying metric
 * with the current quintile cut-offs, so a condition on a score is an
 * indexed range on orders_count, revenue_cents or last_order_at:
 *   score >= k  <=>  value > c[k-2]        (k = 2..5; k = 1: has orders)
 *   score <= k  <=>  value <= c[k-1]       (k = 1..4; k = 5: has orders)
 * "days since the last order" likewise becomes a range on last_order_at
 * computed from `now`. A customer without orders has no score and no
 * "days since": every condition on them is false for it.
 */
#include "marketing.h"

#include "crm_api.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

typedef enum { F_STATUS, F_TAG, F_ORDERS, F_REVENUE, F_DAYS, F_R, F_F, F_M, F_N } field_id;
typedef enum { OP_EQ, OP_NE, OP_LT, OP_LTE, OP_GT, OP_GTE, OP_IN, OP_NOT_IN, OP_N } op_id;

const char *const rule_fields[F_N + 1] = {
    "status",  "tag",     "orders_count", "revenue", "days_since_last_order",
    "r_score", "f_score", "m_score",      NULL,
};
const char *const rule_ops[OP_N + 1] = {
    "eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", NULL
};
static const char *const op_sql[OP_GTE + 1] = { " = ?", " <> ?", " < ?", " <= ?", " > ?", " >= ?" };
static const char *const statuses[] = { "lead", "prospect", "customer", "churned", NULL };

#define DAYS_MAX    36500
#define ORDERS_MAX  INT64_C(4294967295)
#define HAS_ORDERS  "c.orders_count > 0"
#define NEVER       "1 = 0"
#define TAG_LEN_MAX 32

typedef struct {
    crm_arena *a;
    crm_valid *v;
    const char *prefix;
    const rfm_cutoffs *cut;
    const char *now;
    crm_buf sql;
    crm_buf json;
    rule_bind *binds;
    size_t n_binds;
    int conditions;
    int failed;
} compiler;

static void fail(compiler *c, const char *path, const char *msg)
{
    crm_valid_error(c->v, path, msg);
    c->failed = 1;
}

static rule_bind *next_bind(compiler *c)
{
    if (c->n_binds < RULE_BINDS_MAX)
        return &c->binds[c->n_binds++];
    fail(c, c->prefix, "the rule is too large: at most 1024 values once compiled");
    return NULL;
}

static void bind_int(compiler *c, int64_t i)
{
    rule_bind *b = next_bind(c);
    if (b != NULL)
        *b = (rule_bind){ .is_str = 0, .i = i };
}

static void bind_str(compiler *c, const char *s)
{
    rule_bind *b = next_bind(c);
    if (b != NULL)
        *b = (rule_bind){ .is_str = 1, .s = s };
}

static int is_tag(const crm_field *f)
{
    if (f->type != CRM_FIELD_STRING || f->len == 0 || f->len > TAG_LEN_MAX)
        return 0;
    for (size_t i = 0; i < f->len; i++) {
        char ch = f->str[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

/* The range of an integer field's values. */
static void int_range(field_id f, int64_t *lo, int64_t *hi)
{
    *lo = 0;
    switch (f) {
    case F_ORDERS:
        *hi = ORDERS_MAX;
        break;
    case F_REVENUE:
        *hi = MONEY_MAX;
        break;
    case F_DAYS:
        *hi = DAYS_MAX;
        break;
    default: /* scores */
        *lo = 1;
        *hi = 5;
        break;
    }
}

/* Check one value; renders it into the canonical JSON. */
static int check_value(compiler *c, field_id f, const crm_field *val, const char *path)
{
    if (f == F_STATUS) {
        if (val->type != CRM_FIELD_STRING || !crm_api_in_list(statuses, val->str)) {
            fail(c, path, "must be one of lead, prospect, customer, churned");
            return CRM_INVALID;
        }
        crm_buf_json_str(&c->json, val->str, val->len);
        return CRM_OK;
    }
    if (f == F_TAG) {
        if (!is_tag(val)) {
            fail(c, path, "must be a tag: 1 to 32 of a-z, 0-9, '_' or '-'");
            return CRM_INVALID;
        }
        crm_buf_json_str(&c->json, val->str, val->len);
        return CRM_OK;
    }
    int64_t lo, hi;
    int_range(f, &lo, &hi);
    if (val->type != CRM_FIELD_INT || val->i < lo || val->i > hi) {
        fail(c, path,
             crm_arena_printf(c->a, "must be an integer from %lld to %lld", (long long)lo,
                              (long long)hi));
        return CRM_INVALID;
    }
    crm_buf_printf(&c->json, "%lld", (long long)val->i);
    return CRM_OK;
}

/* now - days, as stored ("YYYY-MM-DD HH:MM:SS.ffffff"). */
static const char *days_ago(compiler *c, int64_t days)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    long frac = 0;
    if (sscanf(c->now, "%d-%d-%d %d:%d:%d.%ld", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &frac) < 6)
        return c->now;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm) - (time_t)days * 86400;
    gmtime_r(&t, &tm);
    return crm_arena_printf(c->a, "%04d-%02d-%02d %02d:%02d:%02d.%06ld", tm.tm_year + 1900,
                            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

/* days since the last order OP n, as a range on last_order_at. */
static void days_cond(compiler *c, op_id op, int64_t n)
{
    crm_buf *s = &c->sql;
    switch (op) {
    case OP_EQ:
        crm_buf_puts(s, "(c.last_order_at <= ? AND c.last_order_at > ?)");
        bind_str(c, days_ago(c, n));
        bind_str(c, days_ago(c, n + 1));
        break;
    case OP_NE:
        crm_buf_puts(s, "(c.last_order_at > ? OR c.last_order_at <= ?)");
        bind_str(c, days_ago(c, n));
        bind_str(c, days_ago(c, n + 1));
        break;
    case OP_LT: /* days <= n - 1 */
        crm_buf_puts(s, "c.last_order_at > ?");
        bind_str(c, days_ago(c, n));
        break;
    case OP_LTE:
        crm_buf_puts(s, "c.last_order_at > ?");
        bind_str(c, days_ago(c, n + 1));
        break;
    case OP_GT: /* days >= n + 1 */
        crm_buf_puts(s, "c.last_order_at <= ?");
        bind_str(c, days_ago(c, n + 1));
        break;
    default: /* OP_GTE */
        crm_buf_puts(s, "c.last_order_at <= ?");
        bind_str(c, days_ago(c, n));
        break;
    }
}

static void score_bind(compiler *c, field_id f, int i)
{
    if (f == F_R)
        bind_str(c, c->cut->r[i]);
    else
        bind_int(c, f == F_F ? c->cut->f[i] : c->cut->m[i]);
}

static const char *score_col(field_id f)
{
    return f == F_R ? "c.last_order_at" : f == F_F ? "c.orders_count" : "c.revenue_cents";
}

/* score >= k */
static void score_ge(compiler *c, field_id f, int64_t k)
{
    if (k <= 1) {
        crm_buf_puts(&c->sql, HAS_ORDERS);
    } else if (k > 5) {
        crm_buf_puts(&c->sql, NEVER);
    } else {
        crm_buf_printf(&c->sql, "(" HAS_ORDERS " AND %s > ?)", score_col(f));
        score_bind(c, f, (int)k - 2);
    }
}

/* score <= k */
static void score_le(compiler *c, field_id f, int64_t k)
{
    if (k >= 5) {
        crm_buf_puts(&c->sql, HAS_ORDERS);
    } else if (k < 1) {
        crm_buf_puts(&c->sql, NEVER);
    } else {
        crm_buf_printf(&c->sql, "(" HAS_ORDERS " AND %s <= ?)", score_col(f));
        score_bind(c, f, (int)k - 1);
    }
}

static void score_eq(compiler *c, field_id f, int64_t k)
{
    crm_buf_putc(&c->sql, '(');
    score_ge(c, f, k);
    crm_buf_puts(&c->sql, " AND ");
    score_le(c, f, k);
    crm_buf_putc(&c->sql, ')');
}

static void score_cond(compiler *c, field_id f, op_id op, int64_t k)
{
    switch (op) {
    case OP_EQ:
        score_eq(c, f, k);
        break;
    case OP_NE:
        crm_buf_puts(&c->sql, "(" HAS_ORDERS " AND NOT ");
        score_eq(c, f, k);
        crm_buf_putc(&c->sql, ')');
        break;
    case OP_LT:
        score_le(c, f, k - 1);
        break;
    case OP_LTE:
        score_le(c, f, k);
        break;
    case OP_GT:
        score_ge(c, f, k + 1);
        break;
    default: /* OP_GTE */
        score_ge(c, f, k);
        break;
    }
}

/* One comparison of field f with the value (a scalar). */
static void scalar_cond(compiler *c, field_id f, op_id op, const crm_field *val)
{
    switch (f) {
    case F_STATUS:
        crm_buf_printf(&c->sql, "c.status%s", op_sql[op]);
        bind_str(c, val->str);
        break;
    case F_TAG:
        crm_buf_printf(&c->sql,
                       "%sEXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id"
                       " AND t.tag = ?)",
                       op == OP_NE ? "NOT " : "");
        bind_str(c, val->str);
        break;
    case F_ORDERS:
    case F_REVENUE:
        crm_buf_printf(&c->sql, "%s%s", f == F_ORDERS ? "c.orders_count" : "c.revenue_cents",
                       op_sql[op]);
        bind_int(c, val->i);
        break;
    case F_DAYS:
        days_cond(c, op, val->i);
        break;
    default:
        if (!c->cut->valid)
            crm_buf_puts(&c->sql, NEVER);
        else
            score_cond(c, f, op, val->i);
        break;
    }
}

/* field IN / NOT IN (values). */
static void list_cond(compiler *c, field_id f, op_id op, const crm_field *vals)
{
    int neg = op == OP_NOT_IN;

    if (f == F_STATUS || f == F_TAG || f == F_ORDERS || f == F_REVENUE) {
        if (f == F_TAG)
            crm_buf_printf(&c->sql,
                           "%sEXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id"
                           " AND t.tag IN (",
                           neg ? "NOT " : "");
        else
            crm_buf_printf(&c->sql, "%s %sIN (",
                           f == F_STATUS   ? "c.status"
                           : f == F_ORDERS ? "c.orders_count"
                                           : "c.revenue_cents",
                           neg ? "NOT " : "");
        for (size_t i = 0; i < vals->n; i++) {
            crm_buf_puts(&c->sql, i > 0 ? ", ?" : "?");
            if (f == F_STATUS || f == F_TAG)
                bind_str(c, vals->items[i].str);
            else
                bind_int(c, vals->items[i].i);
        }
        crm_buf_puts(&c->sql, f == F_TAG ? "))" : ")");
        return;
    }
    /* days and scores: one equality per value; a customer without orders
       matches neither form (its comparisons are NULL or guarded). */
    if (f != F_DAYS && !c->cut->valid) {
        crm_buf_puts(&c->sql, NEVER);
        return;
    }
    crm_buf_puts(&c->sql, neg ? "(" HAS_ORDERS " AND NOT (" : "((");
    for (size_t i = 0; i < vals->n; i++) {
        if (i > 0)
            crm_buf_puts(&c->sql, " OR ");
        if (f == F_DAYS)
            days_cond(c, OP_EQ, vals->items[i].i);
        else
            score_eq(c, f, vals->items[i].i);
    }
    crm_buf_puts(&c->sql, "))");
}

static int lookup(const char *const *names, int n, const crm_field *f)
{
    if (f == NULL || f->type != CRM_FIELD_STRING)
        return -1;
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], f->str) == 0)
            return i;
    return -1;
}

static const crm_field *member(const crm_field *obj, const char *name)
{
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->items[i].name, name) == 0)
            return &obj->items[i];
    return NULL;
}

static void condition(compiler *c, const crm_field *f, const char *path)
{
    crm_arena *a = c->a;

    if (++c->conditions > RULE_CONDITIONS_MAX) {
        fail(c, path, "a rule has at most 50 conditions");
        return;
    }
    for (size_t i = 0; i < f->n; i++) {
        const char *n = f->items[i].name;
        if (strcmp(n, "field") != 0 && strcmp(n, "op") != 0 && strcmp(n, "value") != 0)
            fail(c, crm_arena_printf(a, "%s.%s", path, n),
                 "unknown member; a condition has field, op and value");
    }
    const crm_field *ff = member(f, "field"), *fo = member(f, "op"), *fv = member(f, "value");
    int fid = lookup(rule_fields, F_N, ff);
    int oid = lookup(rule_ops, OP_N, fo);
    if (fid < 0)
        fail(c, crm_arena_printf(a, "%s.field", path),
             "unknown field; one of status, tag, orders_count, revenue, days_since_last_order,"
             " r_score, f_score, m_score");
    if (oid < 0)
        fail(c, crm_arena_printf(a, "%s.op", path),
             "unknown operator; one of eq, ne, lt, lte, gt, gte, in, not_in");
    else if ((fid == F_STATUS || fid == F_TAG) && oid >= OP_LT && oid <= OP_GTE)
        fail(c, crm_arena_printf(a, "%s.op", path),
             crm_arena_printf(a, "%s takes eq, ne, in or not_in", rule_fields[fid]));
    const char *vpath = crm_arena_printf(a, "%s.value", path);
    if (fv == NULL) {
        fail(c, vpath, "is required");
        return;
    }
    if (fid < 0 || oid < 0)
        return;

    crm_buf_puts(&c->json, "{\"field\":");
    crm_buf_json_str(&c->json, rule_fields[fid], strlen(rule_fields[fid]));
    crm_buf_puts(&c->json, ",\"op\":");
    crm_buf_json_str(&c->json, rule_ops[oid], strlen(rule_ops[oid]));
    crm_buf_puts(&c->json, ",\"value\":");
    if (oid == OP_IN || oid == OP_NOT_IN) {
        if (fv->type != CRM_FIELD_ARRAY || fv->n == 0 || fv->n > RULE_VALUES_MAX) {
            fail(c, vpath, "must be an array of 1 to 100 values");
            return;
        }
        crm_buf_putc(&c->json, '[');
        for (size_t i = 0; i < fv->n; i++) {
            if (i > 0)
                crm_buf_putc(&c->json, ',');
            if (check_value(c, (field_id)fid, &fv->items[i],
                            crm_arena_printf(a, "%s[%zu]", vpath, i)) != CRM_OK)
                return;
        }
        crm_buf_puts(&c->json, "]}");
        list_cond(c, (field_id)fid, (op_id)oid, fv);
        return;
    }
    if (fv->type == CRM_FIELD_ARRAY) {
        fail(c, vpath, crm_arena_printf(a, "must be a single value for %s", rule_ops[oid]));
        return;
    }
    if (check_value(c, (field_id)fid, fv, vpath) != CRM_OK)
        return;
    crm_buf_putc(&c->json, '}');
    scalar_cond(c, (field_id)fid, (op_id)oid, fv);
}

static void group(compiler *c, const crm_field *f, const char *path, int depth)
{
    crm_arena *a = c->a;

    if (f->type != CRM_FIELD_OBJECT || f->n != 1 ||
        (strcmp(f->items[0].name, "all") != 0 && strcmp(f->items[0].name, "any") != 0)) {
        fail(c, path, "must be an object with one member, \"all\" or \"any\"");
        return;
    }
    if (depth > RULE_DEPTH_MAX) {
        fail(c, path, "groups nest at most 3 deep");
        return;
    }
    const crm_field *list = &f->items[0];
    int any = strcmp(list->name, "any") == 0;
    const char *lpath = crm_arena_printf(a, "%s.%s", path, list->name);
    if (list->type != CRM_FIELD_ARRAY || list->n == 0 || list->n > RULE_ITEMS_MAX) {
        fail(c, lpath, "must be an array of 1 to 20 conditions or groups");
        return;
    }
    crm_buf_printf(&c->json, "{\"%s\":[", list->name);
    crm_buf_putc(&c->sql, '(');
    for (size_t i = 0; i < list->n; i++) {
        const crm_field *it = &list->items[i];
        const char *ipath = crm_arena_printf(a, "%s[%zu]", lpath, i);
        if (i > 0) {
            crm_buf_putc(&c->json, ',');
            crm_buf_puts(&c->sql, any ? " OR " : " AND ");
        }
        if (it->type != CRM_FIELD_OBJECT)
            fail(c, ipath, "must be a condition or a group");
        else if (member(it, "all") != NULL || member(it, "any") != NULL)
            group(c, it, ipath, depth + 1);
        else
            condition(c, it, ipath);
    }
    crm_buf_putc(&c->sql, ')');
    crm_buf_puts(&c->json, "]}");
}

int rule_compile(crm_arena *a, const crm_field *rule, const char *prefix, const rfm_cutoffs *cut,
                 const char *now, crm_valid *v, rule_sql *out)
{
    compiler c;

    memset(&c, 0, sizeof(c));
    c.a = a;
    c.v = v;
    c.prefix = prefix;
    c.cut = cut;
    c.now = now;
    c.binds = crm_arena_alloc(a, sizeof(rule_bind) * RULE_BINDS_MAX);
    crm_buf_init(&c.sql, 0);
    crm_buf_init(&c.json, 0);
    group(&c, rule, prefix, 1);
    if (!c.failed) {
        out->sql = crm_arena_strndup(a, c.sql.data, c.sql.len);
        out->json = crm_arena_strndup(a, c.json.data, c.json.len);
        out->binds = c.binds;
        out->n_binds = c.n_binds;
    }
    crm_buf_free(&c.sql);
    crm_buf_free(&c.json);
    return c.failed ? CRM_INVALID : CRM_OK;
}

unsigned rule_bind_all(crm_stmt *st, unsigned i, const rule_sql *rs)
{
    for (size_t k = 0; k < rs->n_binds; k++, i++) {
        if (rs->binds[k].is_str)
            crm_stmt_bind_opt_str(st, i, rs->binds[k].s);
        else
            crm_stmt_bind_int(st, i, rs->binds[k].i);
    }
    return i;
}
