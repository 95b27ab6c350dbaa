/*
 * test_rules.c - segment rules (rules.c) and RFM scores (rfm.c): every
 * field with every operator, the canonical JSON, every way a rule can be
 * wrong with the place named, and the promise of docs/api-marketing.md
 * that every value is a bound parameter and never SQL text.
 *
 * What a compiled condition means is checked by running its SQL over
 * sample customers with a small three-valued interpreter of the SQL that
 * rules.c emits (its comparisons, IN lists, AND/OR/NOT and the tag
 * EXISTS), against the meaning the contract gives each field, computed
 * here independently (dates by our own civil-calendar arithmetic).
 */
#include "marketing.h"

#include "crm_json.h"

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_US     INT64_C(86400000000)
#define ORDERS_TOP INT64_C(4294967295) /* the largest orders_count rules.c takes */
#define DAYS_TOP   36500               /* the largest days_since_last_order */

static const char *const NOW = "2026-11-27 12:00:00.000000";

static const char *const ops[] = { "eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in" };
enum { EQ, NE, LT, LTE, GT, GTE, IN, NOT_IN, NOPS };

static crm_arena *arena;
static crm_fields fs; /* the last parsed document, for crm_valid_init */
static crm_valid v;
static rule_sql out;

/* Strictly increasing cut-offs, and cut-offs with ties. */
static rfm_cutoffs cut, ties, nocut;

static void setup(void)
{
    arena = crm_arena_new(1 << 16);
    memset(&fs, 0, sizeof(fs));
    memset(&out, 0, sizeof(out));

    memset(&cut, 0, sizeof(cut));
    cut.valid = 1;
    cut.customers = 100;
    cut.r[0] = "2026-06-01 00:00:00.000000";
    cut.r[1] = "2026-09-01 00:00:00.000000";
    cut.r[2] = "2026-10-15 08:30:00.000000";
    cut.r[3] = "2026-11-20 10:00:00.500000";
    const int64_t f[4] = { 1, 2, 4, 7 }, m[4] = { 500, 1000, 5000, 50000 };
    memcpy(cut.f, f, sizeof(f));
    memcpy(cut.m, m, sizeof(m));
    cut.computed_at = "2026-11-27 11:00:00.000000";

    memset(&ties, 0, sizeof(ties));
    ties.valid = 1;
    ties.customers = 7;
    ties.r[0] = ties.r[1] = "2026-08-01 00:00:00.000000";
    ties.r[2] = ties.r[3] = "2026-11-01 00:00:00.000000";
    const int64_t tf[4] = { 1, 1, 3, 3 }, tm[4] = { 0, 1000, 1000, 50000 };
    memcpy(ties.f, tf, sizeof(tf));
    memcpy(ties.m, tm, sizeof(tm));

    memset(&nocut, 0, sizeof(nocut)); /* before the first refresh */
}

static void teardown(void)
{
    crm_arena_free(arena);
}

/* ---- compiling ---- */

/* The rule as segments.c builds it: a parsed document wrapped into one
   object field called "rule". */
static const crm_field *parse_rule(const char *json)
{
    crm_fields parsed;
    const char *why = NULL;
    int rc = crm_json_parse(arena, json, strlen(json), &parsed, &why);
    ck_assert_msg(rc == CRM_OK, "%s: %s", json, why ? why : "?");
    crm_field *obj = crm_arena_calloc(arena, sizeof(*obj));
    obj->name = "rule";
    obj->type = CRM_FIELD_OBJECT;
    obj->items = parsed.items;
    obj->n = parsed.n;
    fs = parsed;
    return obj;
}

static int compile_with(const crm_field *rule, const char *prefix, const rfm_cutoffs *c,
                        const char *now)
{
    crm_valid_init(&v, arena, &fs);
    memset(&out, 0, sizeof(out));
    out.sql = "untouched";
    out.json = "untouched";
    return rule_compile(arena, rule, prefix, c, now, &v, &out);
}

/* Every error recorded, for failure messages. */
static const char *errors_text(void)
{
    const char *s = "";
    for (size_t i = 0; i < v.n; i++)
        s = crm_arena_printf(arena, "%s [%s: %s]", s, v.errors[i].field ? v.errors[i].field : "-",
                             v.errors[i].message);
    return s;
}

/* Compile json against c at now; it must compile without an error. */
static rule_sql ok_at(const char *json, const rfm_cutoffs *c, const char *now)
{
    int rc = compile_with(parse_rule(json), "rule", c, now);
    ck_assert_msg(rc == CRM_OK, "%s refused:%s", json, errors_text());
    ck_assert_uint_eq(v.n, 0);
    ck_assert_ptr_nonnull(out.sql);
    ck_assert_ptr_nonnull(out.json);
    ck_assert_msg(out.n_binds == 0 || out.binds != NULL, "binds missing");
    return out;
}

static rule_sql ok(const char *json)
{
    return ok_at(json, &cut, NOW);
}

static const char *err(const char *path)
{
    for (size_t i = 0; i < v.n; i++)
        if (v.errors[i].field != NULL && strcmp(v.errors[i].field, path) == 0)
            return v.errors[i].message;
    return NULL;
}

/* The last compile failed with an error at path (and message, unless NULL),
   leaving out as it was. */
static void expect_err(const char *what, const char *path, const char *message)
{
    const char *got = err(path);
    ck_assert_msg(got != NULL, "%s: no error at %s; got:%s", what, path, errors_text());
    if (message != NULL)
        ck_assert_msg(strcmp(got, message) == 0, "%s: %s: \"%s\", want \"%s\"", what, path, got,
                      message);
    ck_assert_str_eq(out.sql, "untouched");
    ck_assert_str_eq(out.json, "untouched");
}

/* json is refused with exactly one error, at path (message unless NULL). */
static void bad(const char *json, const char *path, const char *message)
{
    int rc = compile_with(parse_rule(json), "rule", &cut, NOW);
    ck_assert_msg(rc == CRM_INVALID, "%s accepted: %s", json, out.sql);
    expect_err(json, path, message);
    ck_assert_msg(v.n == 1, "%s: one error expected, got:%s", json, errors_text());
}

/* s as a JSON string literal. */
static const char *jstr(const char *s)
{
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_buf_json_str(&b, s, strlen(s));
    const char *r = crm_arena_strndup(arena, b.data, b.len);
    crm_buf_free(&b);
    return r;
}

/* {"all":[{"field":F,"op":O,"value":V}]} with V as JSON text. */
static const char *cond1(const char *field, const char *op, const char *value)
{
    return crm_arena_printf(arena, "{\"all\":[{\"field\":\"%s\",\"op\":\"%s\",\"value\":%s}]}",
                            field, op, value);
}

/* ---- dates, independently of rules.c (days from civil, H. Hinnant) ---- */

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yoe + era * 400 + (*m <= 2);
}

/* "YYYY-MM-DD HH:MM:SS.ffffff" <-> microseconds since 1970 (UTC). */
static int64_t us_of(const char *s)
{
    int y, mo, d, h, mi, sec;
    long frac;
    ck_assert_msg(sscanf(s, "%d-%d-%d %d:%d:%d.%ld", &y, &mo, &d, &h, &mi, &sec, &frac) == 7,
                  "not a stored time: %s", s);
    return ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000000) + frac;
}

static const char *stamp(int64_t us)
{
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y, m, d;
    civil_from_days(days, &y, &m, &d);
    return crm_arena_printf(arena, "%04lld-%02lld-%02lld %02lld:%02lld:%02lld.%06lld", (long long)y,
                            (long long)m, (long long)d, (long long)(rem / 3600),
                            (long long)(rem / 60 % 60), (long long)(rem % 60), (long long)frac);
}

/* now minus n days, as stored. */
static const char *ago(const char *now, int64_t n)
{
    return stamp(us_of(now) - n * DAY_US);
}

/* ---- a three-valued interpreter of the SQL rules.c emits ---- */

typedef struct {
    int64_t orders;   /* c.orders_count */
    int64_t revenue;  /* c.revenue_cents */
    const char *last; /* c.last_order_at; NULL without orders */
    const char *status;
    const char *tags[4]; /* NULL-terminated */
} cust;

typedef struct {
    int null;
    int is_str;
    int64_t i;
    const char *s;
} sqlv;

enum { NO, YES, UNKNOWN };

typedef struct {
    const char *sql;
    const char *p;
    const rule_sql *rs;
    size_t bind;
    const cust *c;
} ev;

#define TAG_EXISTS "EXISTS (SELECT 1 FROM customer_tags t WHERE t.customer_id = c.id AND t.tag"

static int ev_or(ev *e);

static int eat(ev *e, const char *lit)
{
    size_t n = strlen(lit);
    while (*e->p == ' ')
        e->p++;
    if (strncmp(e->p, lit, n) != 0)
        return 0;
    e->p += n;
    return 1;
}

static void need(ev *e, const char *lit)
{
    ck_assert_msg(eat(e, lit), "expected \"%s\" at \"%s\" in %s", lit, e->p, e->sql);
}

static sqlv ev_operand(ev *e)
{
    sqlv r = { 0 };
    const cust *c = e->c;
    if (eat(e, "?")) {
        ck_assert_msg(e->bind < e->rs->n_binds, "more placeholders than binds in %s", e->sql);
        const rule_bind *b = &e->rs->binds[e->bind++];
        r.is_str = b->is_str;
        r.i = b->i;
        r.s = b->s;
        r.null = b->is_str && b->s == NULL;
    } else if (eat(e, "c.orders_count")) {
        r.i = c->orders;
    } else if (eat(e, "c.revenue_cents")) {
        r.i = c->revenue;
    } else if (eat(e, "c.last_order_at")) {
        r.is_str = 1;
        r.s = c->last;
        r.null = c->last == NULL;
    } else if (eat(e, "c.status")) {
        r.is_str = 1;
        r.s = c->status;
    } else {
        char *end;
        r.i = strtoll(e->p, &end, 10);
        ck_assert_msg(end != e->p, "unexpected \"%s\" in %s", e->p, e->sql);
        e->p = end;
    }
    return r;
}

/* a compared with b: <0, 0, >0 */
static int ev_cmp(const ev *e, sqlv a, sqlv b)
{
    ck_assert_msg(a.is_str == b.is_str, "a string compared with a number in %s", e->sql);
    if (a.is_str)
        return strcmp(a.s, b.s);
    return a.i < b.i ? -1 : a.i > b.i;
}

static int ev_not(int t)
{
    return t == UNKNOWN ? UNKNOWN : !t;
}

/* a [NOT] IN (list), after the "IN". */
static int ev_in(ev *e, sqlv a)
{
    int found = 0, nulls = a.null;
    need(e, "(");
    do {
        sqlv b = ev_operand(e);
        if (b.null)
            nulls = 1;
        else if (!a.null && ev_cmp(e, a, b) == 0)
            found = 1;
    } while (eat(e, ","));
    need(e, ")");
    return found && !a.null ? YES : nulls ? UNKNOWN : NO;
}

static int ev_has_tag(const cust *c, const char *tag)
{
    for (size_t i = 0; c->tags[i] != NULL; i++)
        if (strcmp(c->tags[i], tag) == 0)
            return 1;
    return 0;
}

static int ev_primary(ev *e)
{
    if (eat(e, "(")) {
        int r = ev_or(e);
        need(e, ")");
        return r;
    }
    if (eat(e, TAG_EXISTS)) {
        int found = 0;
        if (eat(e, "IN")) {
            need(e, "(");
            do {
                sqlv b = ev_operand(e);
                ck_assert(b.is_str && !b.null);
                found |= ev_has_tag(e->c, b.s);
            } while (eat(e, ","));
            need(e, ")");
        } else {
            need(e, "=");
            sqlv b = ev_operand(e);
            ck_assert(b.is_str && !b.null);
            found = ev_has_tag(e->c, b.s);
        }
        need(e, ")");
        return found ? YES : NO;
    }
    sqlv a = ev_operand(e);
    if (eat(e, "NOT IN"))
        return ev_not(ev_in(e, a));
    if (eat(e, "IN"))
        return ev_in(e, a);
    static const char *const cmp_ops[] = { "<>", "<=", ">=", "=", "<", ">" };
    size_t k;
    for (k = 0; k < CRM_NELEM(cmp_ops); k++)
        if (eat(e, cmp_ops[k]))
            break;
    ck_assert_msg(k < CRM_NELEM(cmp_ops), "no comparison at \"%s\" in %s", e->p, e->sql);
    sqlv b = ev_operand(e);
    if (a.null || b.null)
        return UNKNOWN;
    int d = ev_cmp(e, a, b);
    switch (k) {
    case 0:
        return d != 0;
    case 1:
        return d <= 0;
    case 2:
        return d >= 0;
    case 3:
        return d == 0;
    case 4:
        return d < 0;
    default:
        return d > 0;
    }
}

static int ev_unary(ev *e)
{
    if (eat(e, "NOT "))
        return ev_not(ev_unary(e));
    return ev_primary(e);
}

static int ev_and(ev *e)
{
    int r = ev_unary(e);
    while (eat(e, "AND ")) {
        int t = ev_unary(e); /* always parsed: binds go in text order */
        r = r == NO || t == NO ? NO : r == UNKNOWN || t == UNKNOWN ? UNKNOWN : YES;
    }
    return r;
}

static int ev_or(ev *e)
{
    int r = ev_and(e);
    while (eat(e, "OR ")) {
        int t = ev_and(e);
        r = r == YES || t == YES ? YES : r == UNKNOWN || t == UNKNOWN ? UNKNOWN : NO;
    }
    return r;
}

/* Whether the compiled rule selects customer c (a WHERE keeps only TRUE). */
static int selects(const rule_sql *rs, const cust *c)
{
    ev e = { rs->sql, rs->sql, rs, 0, c };
    int r = ev_or(&e);
    ck_assert_msg(*e.p == '\0', "unparsed \"%s\" in %s", e.p, rs->sql);
    ck_assert_msg(e.bind == rs->n_binds, "%zu placeholders for %zu binds in %s", e.bind,
                  rs->n_binds, rs->sql);
    return r == YES;
}

/* x OP y for the scalar operators. */
static int holds(int op, int64_t x, int64_t y)
{
    switch (op) {
    case EQ:
        return x == y;
    case NE:
        return x != y;
    case LT:
        return x < y;
    case LTE:
        return x <= y;
    case GT:
        return x > y;
    default:
        return x >= y;
    }
}

static int in_values(int64_t x, const int64_t *vals, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (vals[i] == x)
            return 1;
    return 0;
}

/* "[a,b,...]" */
static const char *int_list(const int64_t *vals, size_t n)
{
    const char *s = "[";
    for (size_t i = 0; i < n; i++)
        s = crm_arena_printf(arena, "%s%s%lld", s, i ? "," : "", (long long)vals[i]);
    return crm_arena_printf(arena, "%s]", s);
}

/* ================================================================ */
/* every field with every operator                                   */

static const struct {
    const char *field;
    const char *one;  /* a scalar value, JSON */
    const char *list; /* a list value, JSON */
    int ordered;      /* takes lt, lte, gt, gte */
} fields[] = {
    { "status", "\"customer\"", "[\"customer\",\"churned\"]", 0 },
    { "tag", "\"vip\"", "[\"vip\",\"b2b\"]", 0 },
    { "orders_count", "3", "[1,2]", 1 },
    { "revenue", "10000", "[0,500]", 1 },
    { "days_since_last_order", "60", "[0,7]", 1 },
    { "r_score", "3", "[1,5]", 1 },
    { "f_score", "4", "[2,3]", 1 },
    { "m_score", "5", "[4]", 1 },
};

START_TEST(test_every_field_and_op)
{
    for (size_t f = 0; f < CRM_NELEM(fields); f++) {
        for (int op = 0; op < NOPS; op++) {
            const char *val = op >= IN ? fields[f].list : fields[f].one;
            const char *json = cond1(fields[f].field, ops[op], val);
            int rc = compile_with(parse_rule(json), "rule", &cut, NOW);
            if (!fields[f].ordered && op >= LT && op <= GTE) {
                ck_assert_msg(rc == CRM_INVALID, "%s accepted", json);
                expect_err(
                    json, "rule.all[0].op",
                    crm_arena_printf(arena, "%s takes eq, ne, in or not_in", fields[f].field));
                ck_assert_msg(v.n == 1, "%s:%s", json, errors_text());
                continue;
            }
            ck_assert_msg(rc == CRM_OK, "%s refused:%s", json, errors_text());
            ck_assert_uint_eq(v.n, 0);
            /* Canonical: compact, field, op, value in that order. */
            ck_assert_str_eq(out.json, json);
            ck_assert_msg(out.sql[0] == '(' && strlen(out.sql) > 2, "%s -> %s", json, out.sql);
            /* Every value is a parameter: one placeholder per bind. */
            size_t marks = 0;
            for (const char *p = out.sql; *p; p++)
                marks += *p == '?';
            ck_assert_uint_eq(marks, out.n_binds);
            if (strstr(fields[f].field, "_score") == NULL)
                ck_assert_uint_gt(out.n_binds, 0);
        }
    }
}
END_TEST

START_TEST(test_binds_in_order)
{
    rule_sql rs =
        ok("{\"any\":[{\"field\":\"status\",\"op\":\"in\",\"value\":[\"lead\",\"churned\"]},"
           "{\"field\":\"orders_count\",\"op\":\"gte\",\"value\":42},"
           "{\"field\":\"tag\",\"op\":\"not_in\",\"value\":[\"a\",\"b-c\",\"d_e\"]},"
           "{\"field\":\"revenue\",\"op\":\"not_in\",\"value\":[9007199254740991,0]}]}");
    ck_assert_uint_eq(rs.n_binds, 8);
    ck_assert(rs.binds[0].is_str);
    ck_assert_str_eq(rs.binds[0].s, "lead");
    ck_assert_str_eq(rs.binds[1].s, "churned");
    ck_assert(!rs.binds[2].is_str);
    ck_assert_int_eq(rs.binds[2].i, 42);
    ck_assert_str_eq(rs.binds[3].s, "a");
    ck_assert_str_eq(rs.binds[4].s, "b-c");
    ck_assert_str_eq(rs.binds[5].s, "d_e");
    ck_assert(!rs.binds[6].is_str && !rs.binds[7].is_str);
    ck_assert_int_eq(rs.binds[6].i, MONEY_MAX);
    ck_assert_int_eq(rs.binds[7].i, 0);
}
END_TEST

/* ================================================================ */
/* canonical JSON                                                    */

START_TEST(test_canonical_json)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        /* Member order, white space and escapes do not survive. */
        { " { \"any\" : [ { \"value\" : \"lead\" , \"op\" : \"eq\" , \"field\" : \"status\" } ] } ",
          "{\"any\":[{\"field\":\"status\",\"op\":\"eq\",\"value\":\"lead\"}]}" },
        { "{\"all\":[{\"op\":\"\\u0069n\",\"value\":[\"v\\u0069p\", \"b2b\"],"
          "\"field\":\"t\\u0061g\"}]}",
          "{\"all\":[{\"field\":\"tag\",\"op\":\"in\",\"value\":[\"vip\",\"b2b\"]}]}" },
        { "{\"all\":[{\"field\":\"revenue\",\"value\":0,\"op\":\"gte\"},\n"
          "\t{\"any\":[{\"field\":\"f_score\",\"op\":\"not_in\",\"value\":[ 1 , 5 ]}]}]}",
          "{\"all\":[{\"field\":\"revenue\",\"op\":\"gte\",\"value\":0},"
          "{\"any\":[{\"field\":\"f_score\",\"op\":\"not_in\",\"value\":[1,5]}]}]}" },
        /* The example of docs/api-marketing.md. */
        { "{\"all\": [\n"
          "   {\"field\": \"f_score\", \"op\": \"gte\", \"value\": 4},\n"
          "   {\"field\": \"days_since_last_order\", \"op\": \"gt\", \"value\": 60},\n"
          "   {\"any\": [{\"field\": \"tag\", \"op\": \"eq\", \"value\": \"vip\"},\n"
          "            {\"field\": \"status\", \"op\": \"in\", \"value\": [\"customer\", "
          "\"churned\"]}]}]}",
          "{\"all\":[{\"field\":\"f_score\",\"op\":\"gte\",\"value\":4},"
          "{\"field\":\"days_since_last_order\",\"op\":\"gt\",\"value\":60},"
          "{\"any\":[{\"field\":\"tag\",\"op\":\"eq\",\"value\":\"vip\"},"
          "{\"field\":\"status\",\"op\":\"in\",\"value\":[\"customer\",\"churned\"]}]}]}" },
    };
    for (size_t i = 0; i < CRM_NELEM(cases); i++) {
        rule_sql a = ok(cases[i].in);
        ck_assert_str_eq(a.json, cases[i].want);
        /* The canonical form is a fixed point and means the same. */
        rule_sql b = ok(a.json);
        ck_assert_str_eq(b.json, a.json);
        ck_assert_str_eq(b.sql, a.sql);
        ck_assert_uint_eq(b.n_binds, a.n_binds);
    }
}
END_TEST

/* ================================================================ */
/* errors, with the place named                                      */

#define C_OK "{\"field\":\"status\",\"op\":\"eq\",\"value\":\"lead\"}"

START_TEST(test_unknown_names)
{
    const char *unknown_field = "unknown field; one of status, tag, orders_count, revenue,"
                                " days_since_last_order, r_score, f_score, m_score";
    const char *unknown_op = "unknown operator; one of eq, ne, lt, lte, gt, gte, in, not_in";

    bad(cond1("zip", "eq", "1"), "rule.all[0].field", unknown_field);
    bad(cond1("Status", "eq", "\"lead\""), "rule.all[0].field", unknown_field);
    bad(cond1("status ", "eq", "\"lead\""), "rule.all[0].field", unknown_field);
    bad(cond1("c.id", "eq", "1"), "rule.all[0].field", unknown_field);
    bad("{\"all\":[{\"op\":\"eq\",\"value\":1}]}", "rule.all[0].field", unknown_field);
    bad("{\"all\":[{\"field\":1,\"op\":\"eq\",\"value\":1}]}", "rule.all[0].field", unknown_field);
    bad("{\"all\":[{\"field\":null,\"op\":\"eq\",\"value\":1}]}", "rule.all[0].field",
        unknown_field);
    bad("{\"all\":[{\"field\":[\"tag\"],\"op\":\"eq\",\"value\":\"a\"}]}", "rule.all[0].field",
        unknown_field);

    bad(cond1("orders_count", "like", "1"), "rule.all[0].op", unknown_op);
    bad(cond1("orders_count", "EQ", "1"), "rule.all[0].op", unknown_op);
    bad(cond1("orders_count", "=", "1"), "rule.all[0].op", unknown_op);
    bad(cond1("orders_count", "between", "[1,2]"), "rule.all[0].op", unknown_op);
    bad("{\"all\":[{\"field\":\"tag\",\"value\":\"a\"}]}", "rule.all[0].op", unknown_op);
    bad("{\"all\":[{\"field\":\"tag\",\"op\":true,\"value\":\"a\"}]}", "rule.all[0].op",
        unknown_op);

    /* status and tag are not ordered. */
    static const char *const ordered[] = { "lt", "lte", "gt", "gte" };
    for (size_t i = 0; i < CRM_NELEM(ordered); i++) {
        bad(cond1("status", ordered[i], "\"lead\""), "rule.all[0].op",
            "status takes eq, ne, in or not_in");
        bad(cond1("tag", ordered[i], "\"vip\""), "rule.all[0].op",
            "tag takes eq, ne, in or not_in");
    }

    /* Unknown members of a condition, each named. */
    bad("{\"all\":[{\"field\":\"status\",\"op\":\"eq\",\"value\":\"lead\",\"note\":1}]}",
        "rule.all[0].note", "unknown member; a condition has field, op and value");
    int rc = compile_with(parse_rule("{\"all\":[" C_OK ",{\"field\":\"status\",\"Op\":\"eq\","
                                     "\"op\":\"eq\",\"value\":\"lead\",\"values\":[]}]}"),
                          "rule", &cut, NOW);
    ck_assert_int_eq(rc, CRM_INVALID);
    expect_err("two unknown members", "rule.all[1].Op", NULL);
    expect_err("two unknown members", "rule.all[1].values", NULL);
    ck_assert_uint_eq(v.n, 2);

    /* Unknown members of a group: a group has exactly one member. */
    const char *one_member = "must be an object with one member, \"all\" or \"any\"";
    bad("{\"all\":[" C_OK "],\"note\":\"x\"}", "rule", one_member);
    bad("{\"all\":[" C_OK "],\"any\":[" C_OK "]}", "rule", one_member);
    bad("{\"any\":[" C_OK "],\"all\":[" C_OK "]}", "rule", one_member);
    bad("{\"none\":[" C_OK "]}", "rule", one_member);
    bad("{\"ALL\":[" C_OK "]}", "rule", one_member);
    bad("{}", "rule", one_member);
    bad("{\"all\":[" C_OK ",{\"any\":[" C_OK "],\"all\":[" C_OK "]}]}", "rule.all[1]", one_member);
    bad("{\"all\":[" C_OK ",{\"any\":[" C_OK "],\"x\":1}]}", "rule.all[1]", one_member);
    bad("{\"all\":[{\"any\":[" C_OK ",{\"all\":[" C_OK "],\"field\":\"tag\"}]}]}",
        "rule.all[0].any[1]", one_member);
}
END_TEST

START_TEST(test_wrong_types)
{
    const char *orders = "must be an integer from 0 to 4294967295";
    const char *revenue = "must be an integer from 0 to 9007199254740991";
    const char *days = "must be an integer from 0 to 36500";
    const char *score = "must be an integer from 1 to 5";
    const char *status = "must be one of lead, prospect, customer, churned";
    const char *tag = "must be a tag: 1 to 32 of a-z, 0-9, '_' or '-'";

    bad(cond1("orders_count", "eq", "\"3\""), "rule.all[0].value", orders);
    bad(cond1("orders_count", "eq", "3.0"), "rule.all[0].value", orders);
    bad(cond1("orders_count", "eq", "null"), "rule.all[0].value", orders);
    bad(cond1("orders_count", "gt", "true"), "rule.all[0].value", orders);
    bad(cond1("orders_count", "gt", "{}"), "rule.all[0].value", orders);
    bad(cond1("revenue", "lt", "1.5"), "rule.all[0].value", revenue);
    bad(cond1("revenue", "lt", "1e3"), "rule.all[0].value", revenue);
    bad(cond1("revenue", "lt", "\"100\""), "rule.all[0].value", revenue);
    bad(cond1("days_since_last_order", "eq", "\"7\""), "rule.all[0].value", days);
    bad(cond1("days_since_last_order", "eq", "false"), "rule.all[0].value", days);
    bad(cond1("r_score", "eq", "\"5\""), "rule.all[0].value", score);
    bad(cond1("f_score", "eq", "4.5"), "rule.all[0].value", score);
    bad(cond1("m_score", "eq", "null"), "rule.all[0].value", score);
    bad(cond1("status", "eq", "1"), "rule.all[0].value", status);
    bad(cond1("status", "ne", "null"), "rule.all[0].value", status);
    bad(cond1("status", "eq", "{\"s\":\"lead\"}"), "rule.all[0].value", status);
    bad(cond1("tag", "eq", "5"), "rule.all[0].value", tag);
    bad(cond1("tag", "ne", "true"), "rule.all[0].value", tag);
    bad(cond1("tag", "eq", "null"), "rule.all[0].value", tag);

    /* A single-value operator with an array, a list operator without one. */
    for (int op = EQ; op <= GTE; op++) {
        const char *want = crm_arena_printf(arena, "must be a single value for %s", ops[op]);
        bad(cond1("orders_count", ops[op], "[1]"), "rule.all[0].value", want);
        bad(cond1("revenue", ops[op], "[]"), "rule.all[0].value", want);
    }
    bad(cond1("status", "eq", "[\"lead\"]"), "rule.all[0].value", "must be a single value for eq");
    bad(cond1("tag", "ne", "[\"vip\",\"b2b\"]"), "rule.all[0].value",
        "must be a single value for ne");
    const char *list = "must be an array of 1 to 100 values";
    for (size_t f = 0; f < CRM_NELEM(fields); f++) {
        bad(cond1(fields[f].field, "in", fields[f].one), "rule.all[0].value", list);
        bad(cond1(fields[f].field, "not_in", fields[f].one), "rule.all[0].value", list);
        bad(cond1(fields[f].field, "in", "[]"), "rule.all[0].value", list);
        bad(cond1(fields[f].field, "not_in", "{}"), "rule.all[0].value", list);
        bad(cond1(fields[f].field, "in", "null"), "rule.all[0].value", list);
    }

    /* A bad item of a list is named by its index. */
    bad(cond1("status", "in", "[\"lead\",\"boss\"]"), "rule.all[0].value[1]", status);
    bad(cond1("tag", "not_in", "[\"a\",\"b\",\"C\"]"), "rule.all[0].value[2]", tag);
    bad(cond1("orders_count", "in", "[\"1\",2]"), "rule.all[0].value[0]", orders);
    bad(cond1("r_score", "in", "[3,6]"), "rule.all[0].value[1]", score);
    bad(cond1("days_since_last_order", "not_in", "[1,[2]]"), "rule.all[0].value[1]", days);

    /* The value is required. */
    bad("{\"all\":[{\"field\":\"tag\",\"op\":\"eq\"}]}", "rule.all[0].value", "is required");
    bad("{\"all\":[{\"field\":\"tag\",\"op\":\"in\"}]}", "rule.all[0].value", "is required");
}
END_TEST

START_TEST(test_ranges)
{
    static const struct {
        const char *field;
        const char *low_ok, *high_ok, *low_bad, *high_bad, *message;
    } cases[] = {
        { "orders_count", "0", "4294967295", "-1", "4294967296",
          "must be an integer from 0 to 4294967295" },
        { "revenue", "0", "9007199254740991", "-1", "9007199254740992",
          "must be an integer from 0 to 9007199254740991" },
        { "days_since_last_order", "0", "36500", "-1", "36501",
          "must be an integer from 0 to 36500" },
        { "r_score", "1", "5", "0", "6", "must be an integer from 1 to 5" },
        { "f_score", "1", "5", "0", "6", "must be an integer from 1 to 5" },
        { "m_score", "1", "5", "0", "6", "must be an integer from 1 to 5" },
    };
    for (size_t i = 0; i < CRM_NELEM(cases); i++) {
        for (int op = 0; op < NOPS; op++) {
            int list = op >= IN;
            const char *lo = cases[i].low_ok, *hi = cases[i].high_ok;
            ok(cond1(cases[i].field, ops[op],
                     list ? crm_arena_printf(arena, "[%s,%s]", lo, hi) : lo));
            if (!list)
                ok(cond1(cases[i].field, ops[op], hi));
            const char *bads[] = { cases[i].low_bad, cases[i].high_bad, "-9223372036854775808",
                                   "9223372036854775807" };
            for (size_t b = 0; b < CRM_NELEM(bads); b++) {
                if (list)
                    bad(cond1(cases[i].field, ops[op],
                              crm_arena_printf(arena, "[%s,%s]", lo, bads[b])),
                        "rule.all[0].value[1]", cases[i].message);
                else
                    bad(cond1(cases[i].field, ops[op], bads[b]), "rule.all[0].value",
                        cases[i].message);
            }
        }
    }
}
END_TEST

START_TEST(test_list_lengths)
{
    const char *list = "must be an array of 1 to 100 values";
    for (size_t f = 0; f < CRM_NELEM(fields); f++) {
        const char *field = fields[f].field;
        int is_str = fields[f].one[0] == '"';
        /* 100 values (repeats allowed), then 101. */
        const char *vals = "";
        for (int i = 0; i < 100; i++) {
            const char *one = is_str ? fields[f].one : crm_arena_printf(arena, "%d", 1 + i % 5);
            vals = crm_arena_printf(arena, "%s%s%s", vals, i ? "," : "", one);
        }
        rule_sql rs = ok(cond1(field, "in", crm_arena_printf(arena, "[%s]", vals)));
        ok(cond1(field, "not_in", crm_arena_printf(arena, "[%s]", vals)));
        if (strcmp(field, "days_since_last_order") == 0)
            ck_assert_uint_eq(rs.n_binds, 200); /* a range per day */
        else if (strstr(field, "_score") == NULL)
            ck_assert_uint_eq(rs.n_binds, 100);
        const char *more = crm_arena_printf(arena, "[%s,%s]", vals, is_str ? fields[f].one : "1");
        bad(cond1(field, "in", more), "rule.all[0].value", list);
        bad(cond1(field, "not_in", more), "rule.all[0].value", list);
        ok(cond1(field, "in", is_str ? crm_arena_printf(arena, "[%s]", fields[f].one) : "[1]"));
    }
}
END_TEST

START_TEST(test_groups)
{
    const char *items = "must be an array of 1 to 20 conditions or groups";
    const char *item = "must be a condition or a group";

    bad("{\"all\":[]}", "rule.all", items);
    bad("{\"any\":[]}", "rule.any", items);
    bad("{\"all\":{}}", "rule.all", items);
    bad("{\"all\":" C_OK "}", "rule.all", items);
    bad("{\"any\":\"status\"}", "rule.any", items);
    bad("{\"any\":null}", "rule.any", items);
    bad("{\"all\":[" C_OK ",{\"any\":[]}]}", "rule.all[1].any", items);

    /* 20 items, then 21. */
    const char *twenty = C_OK;
    for (int i = 1; i < 20; i++)
        twenty = crm_arena_printf(arena, "%s,%s", twenty, C_OK);
    rule_sql rs = ok(crm_arena_printf(arena, "{\"any\":[%s]}", twenty));
    ck_assert_uint_eq(rs.n_binds, 20);
    bad(crm_arena_printf(arena, "{\"any\":[%s," C_OK "]}", twenty), "rule.any", items);
    bad(crm_arena_printf(arena, "{\"all\":[" C_OK ",{\"all\":[%s," C_OK "]}]}", twenty),
        "rule.all[1].all", items);

    /* Items that are neither conditions nor groups. */
    bad("{\"all\":[1]}", "rule.all[0]", item);
    bad("{\"all\":[" C_OK ",\"status\"]}", "rule.all[1]", item);
    bad("{\"all\":[" C_OK ",[" C_OK "]]}", "rule.all[1]", item);
    bad("{\"any\":[null]}", "rule.any[0]", item);
    bad("{\"any\":[" C_OK ",{\"all\":[true]}]}", "rule.any[1].all[0]", item);

    /* An empty object is a condition missing everything. */
    int rc = compile_with(parse_rule("{\"all\":[{}]}"), "rule", &cut, NOW);
    ck_assert_int_eq(rc, CRM_INVALID);
    expect_err("{}", "rule.all[0].field", NULL);
    expect_err("{}", "rule.all[0].op", NULL);
    expect_err("{}", "rule.all[0].value", "is required");
}
END_TEST

/* The rule field itself is not an object. */
START_TEST(test_not_an_object)
{
    const char *one_member = "must be an object with one member, \"all\" or \"any\"";
    const crm_field *doc = parse_rule("{\"s\":\"all\",\"a\":[" C_OK "],\"n\":null,\"i\":1}");
    for (size_t i = 0; i < doc->n; i++) {
        crm_field f = doc->items[i];
        f.name = "rule";
        ck_assert_int_eq(compile_with(&f, "rule", &cut, NOW), CRM_INVALID);
        expect_err(doc->items[i].name, "rule", one_member);
        ck_assert_uint_eq(v.n, 1);
    }
    /* The prefix names the place, whatever it is. */
    ck_assert_int_eq(compile_with(&doc->items[0], "segments[3].rule", &cut, NOW), CRM_INVALID);
    expect_err("prefix", "segments[3].rule", one_member);
    const crm_field *r = parse_rule("{\"all\":[" C_OK ",{\"any\":[" C_OK ",{\"field\":\"tag\","
                                    "\"op\":\"like\",\"value\":\"a\"}]}]}");
    ck_assert_int_eq(compile_with(r, "body.rule", &cut, NOW), CRM_INVALID);
    expect_err("prefix", "body.rule.all[1].any[1].op", NULL);
}
END_TEST

static const char *conditions(int n, const char *cond);

/* The place named in docs/api-marketing.md, and several errors at once. */
START_TEST(test_places)
{
    bad("{\"all\":[" C_OK "," C_OK
        ",{\"any\":[{\"field\":\"tag\",\"op\":\"has\",\"value\":\"a\"}]}]}",
        "rule.all[2].any[0].op", NULL);
    bad("{\"all\":[" C_OK ",{\"field\":\"status\",\"op\":\"lte\",\"value\":\"lead\"}]}",
        "rule.all[1].op", "status takes eq, ne, in or not_in");

    int rc =
        compile_with(parse_rule("{\"any\":[{\"field\":\"zip\",\"op\":\"eq\",\"value\":1}," C_OK ","
                                "{\"all\":[{\"field\":\"f_score\",\"op\":\"eq\",\"value\":9},"
                                "{\"field\":\"tag\",\"op\":\"in\",\"value\":[]}]},"
                                "{\"field\":\"revenue\",\"op\":\"gt\"}]}"),
                     "rule", &cut, NOW);
    ck_assert_int_eq(rc, CRM_INVALID);
    expect_err("many", "rule.any[0].field", NULL);
    expect_err("many", "rule.any[2].all[0].value", "must be an integer from 1 to 5");
    expect_err("many", "rule.any[2].all[1].value", "must be an array of 1 to 100 values");
    expect_err("many", "rule.any[3].value", "is required");
    ck_assert_msg(v.n == 4, "%s", errors_text());

    /* Every place at once, up to 32: 40 bad conditions in two groups. */
    const char *bad_op = "{\"field\":\"tag\",\"op\":\"has\",\"value\":\"a\"}";
    rc = compile_with(parse_rule(conditions(40, bad_op)), "rule", &cut, NOW);
    ck_assert_int_eq(rc, CRM_INVALID);
    ck_assert_uint_eq(v.n, CRM_VALID_MAX_ERRORS);
    ck_assert_uint_eq(CRM_VALID_MAX_ERRORS, 32);
    expect_err("40", "rule.all[0].any[0].op", NULL);
    expect_err("40", "rule.all[0].any[19].op", NULL);
    expect_err("40", "rule.all[1].any[11].op", NULL);
    ck_assert_ptr_null(err("rule.all[1].any[12].op"));
}
END_TEST

/* {"all":[ ... {"all":[leaf]} ... ]} with depth (>= 1) groups, built by
   hand so that the compiler's own limit is what is tested (crm_json_parse
   refuses a document 9 containers deep before the compiler sees it). */
static crm_field *nest(const crm_field *leaf, int depth)
{
    const crm_field *inner = leaf;
    crm_field *g;
    int d = 0;
    do {
        crm_field *list = crm_arena_calloc(arena, sizeof(*list));
        list->name = d % 2 ? "any" : "all";
        list->type = CRM_FIELD_ARRAY;
        list->items = inner;
        list->n = 1;
        g = crm_arena_calloc(arena, sizeof(*g));
        g->type = CRM_FIELD_OBJECT;
        g->items = list;
        g->n = 1;
        inner = g;
    } while (++d < depth);
    g->name = "rule";
    return g;
}

START_TEST(test_depth)
{
    crm_field leaf = *parse_rule("{\"field\":\"tag\",\"op\":\"eq\",\"value\":\"vip\"}");
    leaf.name = NULL;

    /* Groups nest at most 3 levels deep, the rule itself the first. */
    ck_assert_int_eq(compile_with(nest(&leaf, 3), "rule", &cut, NOW), CRM_OK);
    ck_assert_str_eq(out.json, "{\"all\":[{\"any\":[{\"all\":[{\"field\":\"tag\",\"op\":"
                               "\"eq\",\"value\":\"vip\"}]}]}]}");
    ck_assert_uint_eq(out.n_binds, 1);

    ck_assert_int_eq(compile_with(nest(&leaf, 4), "rule", &cut, NOW), CRM_INVALID);
    expect_err("4 deep", "rule.any[0].all[0].any[0]", "groups nest at most 3 deep");
    ck_assert_uint_eq(v.n, 1);
    ck_assert_int_eq(compile_with(nest(&leaf, 9), "rule", &cut, NOW), CRM_INVALID);
    expect_err("9 deep", "rule.all[0].any[0].all[0]", "groups nest at most 3 deep");
    ck_assert_uint_eq(v.n, 1);
}
END_TEST

/* n conditions in groups of 20 under one "all". */
static const char *conditions(int n, const char *cond)
{
    const char *s = "{\"all\":[";
    for (int g = 0; g * 20 < n; g++) {
        s = crm_arena_printf(arena, "%s%s{\"any\":[", s, g ? "," : "");
        for (int i = g * 20; i < n && i < g * 20 + 20; i++)
            s = crm_arena_printf(arena, "%s%s%s", s, i > g * 20 ? "," : "", cond);
        s = crm_arena_printf(arena, "%s]}", s);
    }
    return crm_arena_printf(arena, "%s]}", s);
}

START_TEST(test_condition_cap)
{
    rule_sql rs = ok(conditions(50, C_OK));
    ck_assert_uint_eq(rs.n_binds, 50);
    bad(conditions(51, C_OK), "rule.all[2].any[10]", "a rule has at most 50 conditions");
    ck_assert_int_eq(compile_with(parse_rule(conditions(60, C_OK)), "rule", &cut, NOW),
                     CRM_INVALID);
    expect_err("60", "rule.all[2].any[10]", "a rule has at most 50 conditions");
    /* Groups do not count as conditions. */
    rs = ok("{\"all\":[{\"any\":[{\"all\":[" C_OK "]}]}]}");
    ck_assert_uint_eq(rs.n_binds, 1);
}
END_TEST

/* conditions holding lists of n values in all, 100 to a condition */
static const char *values_rule(const char *field, int n, const char *value)
{
    const char *s = "{\"all\":[";
    for (int c = 0; c * 100 < n; c++) {
        s = crm_arena_printf(arena, "%s%s{\"field\":\"%s\",\"op\":\"in\",\"value\":[", s,
                             c ? "," : "", field);
        for (int i = c * 100; i < n && i < c * 100 + 100; i++)
            s = crm_arena_printf(arena, "%s%s%s", s, i > c * 100 ? "," : "", value);
        s = crm_arena_printf(arena, "%s]}", s);
    }
    return crm_arena_printf(arena, "%s]}", s);
}

START_TEST(test_bind_cap)
{
    const char *too_large = "the rule is too large: at most 1024 values once compiled";
    rule_sql rs = ok(values_rule("orders_count", 1024, "7"));
    ck_assert_uint_eq(rs.n_binds, RULE_BINDS_MAX);
    ck_assert_int_eq(rs.binds[1023].i, 7);
    bad(values_rule("orders_count", 1025, "7"), "rule", too_large);
    bad(values_rule("tag", 1100, "\"x\""), "rule", too_large);
    /* A day in a list is two binds: 512 days fit, 513 do not. */
    rs = ok(values_rule("days_since_last_order", 512, "3"));
    ck_assert_uint_eq(rs.n_binds, 1024);
    bad(values_rule("days_since_last_order", 513, "3"), "rule", too_large);
    /* The cap is reported at the prefix given. */
    ck_assert_int_eq(
        compile_with(parse_rule(values_rule("revenue", 1200, "1")), "preview.rule", &cut, NOW),
        CRM_INVALID);
    expect_err("prefix", "preview.rule", too_large);
}
END_TEST

/* ================================================================ */
/* values are bound, never SQL text                                  */

/* No literal of any kind, no comment, no second statement. */
static void expect_inert_sql(const char *sql)
{
    ck_assert_msg(strpbrk(sql, "'\";`\\") == NULL, "quote or separator in %s", sql);
    ck_assert_msg(strstr(sql, "--") == NULL && strstr(sql, "/*") == NULL &&
                      strchr(sql, '#') == NULL,
                  "comment in %s", sql);
}

static int bound_str(const rule_sql *rs, const char *s)
{
    for (size_t i = 0; i < rs->n_binds; i++)
        if (rs->binds[i].is_str && rs->binds[i].s != NULL && strcmp(rs->binds[i].s, s) == 0)
            return 1;
    return 0;
}

static int bound_int(const rule_sql *rs, int64_t x)
{
    for (size_t i = 0; i < rs->n_binds; i++)
        if (!rs->binds[i].is_str && rs->binds[i].i == x)
            return 1;
    return 0;
}

enum { K_STR, K_INT, K_DAYS, K_SCORE };

static const struct {
    const char *field;
    int kind;
    const char *a[2], *b[2]; /* two values for a scalar (a[0], b[0]) or a list */
} props[] = {
    { "status", K_STR, { "lead", "prospect" }, { "churned", "customer" } },
    { "tag", K_STR, { "or-1-1", "drop_table" }, { "union_select", "x--y" } },
    { "tag", K_STR, { "vip", "1-or-1" }, { "--", "delete-from" } },
    { "orders_count", K_INT, { "4242", "7777" }, { "31337", "4294967295" } },
    { "revenue", K_INT, { "9007199254740991", "123456789" }, { "86420", "0" } },
    { "days_since_last_order", K_DAYS, { "4242", "36500" }, { "3131", "17" } },
    { "r_score", K_SCORE, { "2", "3" }, { "3", "4" } },
    { "f_score", K_SCORE, { "3", "2" }, { "4", "3" } },
    { "m_score", K_SCORE, { "2", "4" }, { "3", "2" } },
};

static const char *value_json(int kind, const char *const *vals, int list)
{
    if (!list)
        return kind == K_STR ? jstr(vals[0]) : vals[0];
    if (kind == K_STR)
        return crm_arena_printf(arena, "[%s,%s]", jstr(vals[0]), jstr(vals[1]));
    return crm_arena_printf(arena, "[%s,%s]", vals[0], vals[1]);
}

/* The binds a days condition must carry, from our own calendar. */
static void expect_day_binds(const rule_sql *rs, int op, const char *const *vals, int list)
{
    size_t k = 0;
    for (int i = 0; i < (list ? 2 : 1); i++) {
        int64_t n = strtoll(vals[i], NULL, 10);
        int64_t want[2];
        size_t nw = 0;
        if (list || op == EQ || op == NE) {
            want[nw++] = n;
            want[nw++] = n + 1;
        } else {
            want[nw++] = op == LT || op == GTE ? n : n + 1;
        }
        for (size_t j = 0; j < nw; j++, k++) {
            ck_assert_msg(k < rs->n_binds, "missing bind in %s", rs->sql);
            ck_assert(rs->binds[k].is_str);
            ck_assert_str_eq(rs->binds[k].s, ago(NOW, want[j]));
        }
    }
    ck_assert_uint_eq(k, rs->n_binds);
}

static void expect_bound(const rule_sql *rs, const char *field, int kind, int op,
                         const char *const *vals, int list)
{
    const rfm_cutoffs *c = &cut;
    expect_inert_sql(rs->sql);
    for (int i = 0; i < (list ? 2 : 1); i++) {
        ck_assert_msg(strstr(rs->sql, vals[i]) == NULL, "%s %s: \"%s\" in %s", field, ops[op],
                      vals[i], rs->sql);
        if (kind == K_STR)
            ck_assert_msg(bound_str(rs, vals[i]), "%s not bound", vals[i]);
        else if (kind == K_INT)
            ck_assert_msg(bound_int(rs, strtoll(vals[i], NULL, 10)), "%s not bound", vals[i]);
    }
    if (kind == K_STR || kind == K_INT)
        ck_assert_uint_eq(rs->n_binds, list ? 2 : 1);
    if (kind == K_DAYS)
        expect_day_binds(rs, op, vals, list);
    if (kind == K_SCORE) {
        /* A score compares the metric with cut-offs: they are the binds. */
        for (size_t k = 0; k < rs->n_binds; k++) {
            int found = 0;
            for (int j = 0; j < 4; j++) {
                if (field[0] == 'r')
                    found |= rs->binds[k].is_str && strcmp(rs->binds[k].s, c->r[j]) == 0;
                else
                    found |= !rs->binds[k].is_str &&
                             rs->binds[k].i == (field[0] == 'f' ? c->f[j] : c->m[j]);
            }
            ck_assert_msg(found, "%s %s: bind %zu is not a cut-off", field, ops[op], k);
        }
    }
}

START_TEST(test_values_are_bound)
{
    for (size_t p = 0; p < CRM_NELEM(props); p++) {
        for (int op = 0; op < NOPS; op++) {
            if (props[p].kind == K_STR && op >= LT && op <= GTE)
                continue;
            int list = op >= IN;
            const char *f = props[p].field;
            rule_sql a = ok(cond1(f, ops[op], value_json(props[p].kind, props[p].a, list)));
            rule_sql b = ok(cond1(f, ops[op], value_json(props[p].kind, props[p].b, list)));
            /* Same shape, other values: byte-identical SQL. */
            ck_assert_msg(strcmp(a.sql, b.sql) == 0, "%s %s: SQL depends on the value:\n%s\n%s", f,
                          ops[op], a.sql, b.sql);
            ck_assert_uint_eq(a.n_binds, b.n_binds);
            expect_bound(&a, f, props[p].kind, op, props[p].a, list);
            expect_bound(&b, f, props[p].kind, op, props[p].b, list);
            /* The values did reach the canonical JSON. */
            ck_assert_ptr_nonnull(strstr(a.json, props[p].a[0]));
            ck_assert_ptr_nonnull(strstr(b.json, props[p].b[0]));
        }
    }
}
END_TEST

/* Tags that look like SQL are still tags: bound, and the SQL is the same
   as for "vip". */
START_TEST(test_hostile_looking_tags)
{
    static const char *const tags[] = {
        "or-1-1",
        "drop_table",
        "--",
        "1-or-1",
        "union_select",
        "x--y",
        "delete-from",
        "null",
        "select",
        "0x27",
        "abcdefghijklmnopqrstuvwxyz012345",
    };
    static const char *const tag_ops[] = { "eq", "ne", "in", "not_in" };
    for (size_t o = 0; o < CRM_NELEM(tag_ops); o++) {
        int list = o >= 2;
        rule_sql ref = ok(cond1("tag", tag_ops[o], list ? "[\"vip\"]" : "\"vip\""));
        for (size_t i = 0; i < CRM_NELEM(tags); i++) {
            const char *val = list ? crm_arena_printf(arena, "[%s]", jstr(tags[i])) : jstr(tags[i]);
            rule_sql rs = ok(cond1("tag", tag_ops[o], val));
            ck_assert_str_eq(rs.sql, ref.sql);
            expect_inert_sql(rs.sql);
            ck_assert_uint_eq(rs.n_binds, 1);
            ck_assert(rs.binds[0].is_str);
            ck_assert_str_eq(rs.binds[0].s, tags[i]);
            ck_assert_str_eq(rs.json, crm_arena_printf(arena,
                                                       "{\"all\":[{\"field\":\"tag\",\"op\":\"%s\","
                                                       "\"value\":%s}]}",
                                                       tag_ops[o], val));
        }
    }
}
END_TEST

/* Strings that are not tags or statuses never reach the SQL. */
START_TEST(test_hostile_strings_refused)
{
    const char *tag_msg = "must be a tag: 1 to 32 of a-z, 0-9, '_' or '-'";
    const char *status_msg = "must be one of lead, prospect, customer, churned";
    static const char *const not_tags[] = {
        "x' OR '1'='1",
        "vip'--",
        "vip; DROP TABLE customers",
        "vip\") OR (\"1\"=\"1",
        "a b",
        "VIP",
        "vip ",
        " vip",
        "",
        "abcdefghijklmnopqrstuvwxyz0123456", /* 33 */
        "caf\xC3\xA9",
        "a/*b*/",
        "a.b",
        "a%",
        "a\\b",
        "a\tb",
        "tag)",
        "1=1#",
        "vip\n",
    };
    static const char *const not_statuses[] = {
        "customer' OR '1'='1", "Customer",      "CUSTOMER", "customer ", "",
        "customer;--",         "lead,prospect", "le\\ad",   "deleted",   "lead\x01",
    };
    for (size_t i = 0; i < CRM_NELEM(not_tags); i++) {
        const char *s = jstr(not_tags[i]);
        bad(cond1("tag", "eq", s), "rule.all[0].value", tag_msg);
        bad(cond1("tag", "ne", s), "rule.all[0].value", tag_msg);
        bad(cond1("tag", "in", crm_arena_printf(arena, "[\"vip\",%s]", s)), "rule.all[0].value[1]",
            tag_msg);
        bad(cond1("tag", "not_in", crm_arena_printf(arena, "[%s]", s)), "rule.all[0].value[0]",
            tag_msg);
    }
    for (size_t i = 0; i < CRM_NELEM(not_statuses); i++) {
        const char *s = jstr(not_statuses[i]);
        bad(cond1("status", "eq", s), "rule.all[0].value", status_msg);
        bad(cond1("status", "not_in", crm_arena_printf(arena, "[\"lead\",%s]", s)),
            "rule.all[0].value[1]", status_msg);
    }
    /* Field and operator names are looked up, never copied. */
    bad(cond1("status = status OR 1", "eq", "\"lead\""), "rule.all[0].field", NULL);
    bad(cond1("status", "eq ? OR 1 = 1 --", "\"lead\""), "rule.all[0].op", NULL);
}
END_TEST

/* ================================================================ */
/* what a condition means                                            */

/* A customer with orders of the given metrics, or without (orders 0). */
static cust customer(int64_t orders, int64_t revenue, const char *last)
{
    cust c;
    memset(&c, 0, sizeof(c));
    c.orders = orders;
    c.revenue = revenue;
    c.last = orders > 0 ? last : NULL;
    c.status = "customer";
    return c;
}

static int score_int(int64_t x, const int64_t c[4])
{
    int s = 1;
    for (int i = 0; i < 4; i++)
        s += x > c[i];
    return s;
}

static int score_time(const char *x, const char *const c[4])
{
    int s = 1;
    for (int i = 0; i < 4; i++)
        s += strcmp(x, c[i]) > 0;
    return s;
}

/* Customers around every cut-off of c, and one without orders. */
static size_t score_customers(const rfm_cutoffs *c, char dim, cust *cs)
{
    size_t n = 0;
    const char *mid = "2026-07-01 00:00:00.000000";
    cs[n++] = customer(0, 0, NULL);
    for (int i = 0; i < 4; i++) {
        for (int64_t d = -1; d <= 1; d++) {
            if (dim == 'f' && c->f[i] + d > 0)
                cs[n++] = customer(c->f[i] + d, 1000, mid);
            else if (dim == 'm' && c->m[i] + d >= 0)
                cs[n++] = customer(1, c->m[i] + d, mid);
            else if (dim == 'r')
                cs[n++] = customer(1, 1000, stamp(us_of(c->r[i]) + d));
        }
    }
    if (dim == 'f') {
        cs[n++] = customer(1, 0, mid);
        cs[n++] = customer(ORDERS_TOP, 0, mid);
    } else if (dim == 'm') {
        cs[n++] = customer(1, 0, mid);
        cs[n++] = customer(3, MONEY_MAX, mid);
    } else {
        cs[n++] = customer(1, 0, "2001-01-01 00:00:00.000000");
        cs[n++] = customer(1, 0, NOW);
    }
    return n;
}

static int score_of(const cust *x, const rfm_cutoffs *c, char dim)
{
    if (dim == 'r')
        return score_time(x->last, c->r);
    return score_int(dim == 'f' ? x->orders : x->revenue, dim == 'f' ? c->f : c->m);
}

START_TEST(test_score_meaning)
{
    static const int64_t lists[][5] = { { 1 }, { 5 }, { 2, 4 }, { 3 }, { 1, 2, 3, 4, 5 } };
    static const size_t lens[] = { 1, 1, 2, 1, 5 };
    const rfm_cutoffs *cuts[] = { &cut, &ties };
    const char *names[] = { "r_score", "f_score", "m_score" };
    cust cs[32];

    for (size_t ci = 0; ci < CRM_NELEM(cuts); ci++) {
        for (size_t fi = 0; fi < CRM_NELEM(names); fi++) {
            char dim = names[fi][0];
            size_t nc = score_customers(cuts[ci], dim, cs);
            for (int op = 0; op < NOPS; op++) {
                size_t nvals = op >= IN ? CRM_NELEM(lists) : 5;
                for (size_t k = 0; k < nvals; k++) {
                    const char *val = op >= IN ? int_list(lists[k], lens[k])
                                               : crm_arena_printf(arena, "%zu", k + 1);
                    const char *json = cond1(names[fi], ops[op], val);
                    rule_sql rs = ok_at(json, cuts[ci], NOW);
                    expect_inert_sql(rs.sql);
                    for (size_t i = 0; i < nc; i++) {
                        int want = 0;
                        if (cs[i].orders > 0) {
                            int s = score_of(&cs[i], cuts[ci], dim);
                            if (op == IN)
                                want = in_values(s, lists[k], lens[k]);
                            else if (op == NOT_IN)
                                want = !in_values(s, lists[k], lens[k]);
                            else
                                want = holds(op, s, (int64_t)k + 1);
                        }
                        ck_assert_msg(selects(&rs, &cs[i]) == want,
                                      "%s (cut-offs %zu) on orders=%" PRId64 " revenue=%" PRId64
                                      " last=%s: want %d\nSQL %s",
                                      json, ci, cs[i].orders, cs[i].revenue,
                                      cs[i].last ? cs[i].last : "NULL", want, rs.sql);
                    }
                }
            }
        }
    }
}
END_TEST

/* Before the first refresh there are no scores: every score condition is
   false for everyone, and compiles to a condition without binds. */
START_TEST(test_scores_without_cutoffs)
{
    const char *names[] = { "r_score", "f_score", "m_score" };
    cust cs[] = {
        customer(0, 0, NULL),
        customer(1, 0, "2026-11-27 11:00:00.000000"),
        customer(ORDERS_TOP, MONEY_MAX, NOW),
        customer(3, 4500, "2020-01-01 00:00:00.000000"),
    };
    for (size_t fi = 0; fi < CRM_NELEM(names); fi++) {
        for (int op = 0; op < NOPS; op++) {
            const char *vals[] = { "1", "3", "5", "[1,2,3,4,5]", "[5]" };
            for (size_t k = 0; k < CRM_NELEM(vals); k++) {
                int list = vals[k][0] == '[';
                if (list != (op >= IN))
                    continue;
                const char *json = cond1(names[fi], ops[op], vals[k]);
                rule_sql rs = ok_at(json, &nocut, NOW);
                ck_assert_msg(rs.n_binds == 0, "%s: binds without cut-offs: %s", json, rs.sql);
                for (size_t i = 0; i < CRM_NELEM(cs); i++)
                    ck_assert_msg(!selects(&rs, &cs[i]), "%s holds without cut-offs: %s", json,
                                  rs.sql);
                /* Still checked and rendered. */
                ck_assert_str_eq(rs.json, json);
            }
        }
        bad(cond1(names[fi], "eq", "0"), "rule.all[0].value", "must be an integer from 1 to 5");
    }
    /* The others do not depend on cut-offs. */
    rule_sql rs = ok_at(cond1("orders_count", "gte", "1"), &nocut, NOW);
    ck_assert(selects(&rs, &cs[1]));
    ck_assert(!selects(&rs, &cs[0]));
    rs = ok_at(cond1("days_since_last_order", "lt", "1"), &nocut, NOW);
    ck_assert(selects(&rs, &cs[1]));
}
END_TEST

START_TEST(test_days_binds)
{
    /* "3 or more days ago" is a last order at or before now - 3 days. */
    rule_sql rs = ok(cond1("days_since_last_order", "gte", "3"));
    ck_assert_uint_eq(rs.n_binds, 1);
    ck_assert(rs.binds[0].is_str);
    ck_assert_str_eq(rs.binds[0].s, "2026-11-24 12:00:00.000000");

    static const struct {
        const char *now, *op, *value;
        const char *want[2];
        int64_t back[2]; /* the days each bind is before now */
    } cases[] = {
        { "2026-11-27 12:00:00.000000", "gte", "3", { "2026-11-24 12:00:00.000000" }, { 3 } },
        { "2026-11-27 12:00:00.000000", "gt", "3", { "2026-11-23 12:00:00.000000" }, { 4 } },
        { "2026-11-27 12:00:00.000000", "lt", "3", { "2026-11-24 12:00:00.000000" }, { 3 } },
        { "2026-11-27 12:00:00.000000", "lte", "3", { "2026-11-23 12:00:00.000000" }, { 4 } },
        { "2026-11-27 12:00:00.000000",
          "eq",
          "0",
          { "2026-11-27 12:00:00.000000", "2026-11-26 12:00:00.000000" },
          { 0, 1 } },
        { "2026-11-27 12:00:00.000000",
          "ne",
          "30",
          { "2026-10-28 12:00:00.000000", "2026-10-27 12:00:00.000000" },
          { 30, 31 } },
        /* Month, leap day, year; the fraction is kept. */
        { "2026-03-01 00:00:00.250000", "gte", "1", { "2026-02-28 00:00:00.250000" }, { 1 } },
        { "2024-03-01 23:59:59.999999", "gte", "1", { "2024-02-29 23:59:59.999999" }, { 1 } },
        { "2027-01-01 00:00:00.000001", "gte", "1", { "2026-12-31 00:00:00.000001" }, { 1 } },
        { "2026-11-27 12:00:00.000000", "gte", "365", { "2025-11-27 12:00:00.000000" }, { 365 } },
        { "2025-03-01 06:00:00.000000", "gte", "365", { "2024-03-01 06:00:00.000000" }, { 365 } },
        { "2026-11-27 12:00:00.000000",
          "gte",
          "36500",
          { "1926-12-22 12:00:00.000000" },
          { 36500 } },
        { "2026-11-27 12:00:00.000000", "gte", "0", { "2026-11-27 12:00:00.000000" }, { 0 } },
    };
    for (size_t i = 0; i < CRM_NELEM(cases); i++) {
        const char *json = cond1("days_since_last_order", cases[i].op, cases[i].value);
        rs = ok_at(json, &cut, cases[i].now);
        size_t n = cases[i].want[1] ? 2 : 1;
        ck_assert_msg(rs.n_binds == n, "%s at %s: %zu binds", json, cases[i].now, rs.n_binds);
        for (size_t k = 0; k < n; k++) {
            ck_assert(rs.binds[k].is_str);
            ck_assert_msg(strcmp(rs.binds[k].s, cases[i].want[k]) == 0, "%s at %s: %s, want %s",
                          json, cases[i].now, rs.binds[k].s, cases[i].want[k]);
            /* our calendar agrees with the table */
            ck_assert_str_eq(ago(cases[i].now, cases[i].back[k]), cases[i].want[k]);
        }
    }
}
END_TEST

START_TEST(test_days_meaning)
{
    static const char *const nows[] = {
        "2026-11-27 12:00:00.000000",
        "2026-03-01 00:00:00.250000",
        "2024-03-01 23:59:59.999999",
        "2027-01-01 00:00:00.000000",
    };
    static const int64_t ns[] = { 0, 1, 2, 3, 30, 365, DAYS_TOP };
    static const int64_t lists[][3] = { { 0 }, { 1, 3 }, { 0, 365 }, { 2, 2 }, { 36500, 1, 30 } };
    static const size_t lens[] = { 1, 2, 2, 2, 3 };
    /* Microseconds before now. */
    static const int64_t offs[] = {
        0,
        1,
        DAY_US - 1,
        DAY_US,
        DAY_US + 1,
        2 * DAY_US - 1,
        2 * DAY_US,
        3 * DAY_US - 1,
        3 * DAY_US,
        3 * DAY_US + 1,
        4 * DAY_US - 1,
        30 * DAY_US,
        31 * DAY_US - 1,
        365 * DAY_US - 1,
        365 * DAY_US,
        366 * DAY_US,
        DAYS_TOP * DAY_US,
        (DAYS_TOP + 1) * DAY_US - 1,
        (DAYS_TOP + 1) * DAY_US,
    };
    for (size_t t = 0; t < CRM_NELEM(nows); t++) {
        cust cs[CRM_NELEM(offs) + 1];
        cs[0] = customer(0, 0, NULL);
        for (size_t i = 0; i < CRM_NELEM(offs); i++)
            cs[i + 1] = customer(2, 100, stamp(us_of(nows[t]) - offs[i]));
        for (int op = 0; op < NOPS; op++) {
            size_t nvals = op >= IN ? CRM_NELEM(lists) : CRM_NELEM(ns);
            for (size_t k = 0; k < nvals; k++) {
                const char *val = op >= IN ? int_list(lists[k], lens[k])
                                           : crm_arena_printf(arena, "%lld", (long long)ns[k]);
                const char *json = cond1("days_since_last_order", ops[op], val);
                rule_sql rs = ok_at(json, &cut, nows[t]);
                for (size_t i = 0; i < CRM_NELEM(cs); i++) {
                    int want = 0;
                    if (i > 0) {
                        int64_t days = offs[i - 1] / DAY_US;
                        if (op == IN)
                            want = in_values(days, lists[k], lens[k]);
                        else if (op == NOT_IN)
                            want = !in_values(days, lists[k], lens[k]);
                        else
                            want = holds(op, days, ns[k]);
                    }
                    ck_assert_msg(selects(&rs, &cs[i]) == want,
                                  "%s at %s on last=%s: want %d\nSQL %s", json, nows[t],
                                  cs[i].last ? cs[i].last : "NULL", want, rs.sql);
                }
            }
        }
    }
}
END_TEST

START_TEST(test_numbers_meaning)
{
    static const struct {
        const char *field;
        int64_t vals[4];
        int64_t lists[3][3];
        size_t lens[3];
        int64_t metric[7];
    } cases[] = {
        { "orders_count",
          { 0, 1, 5, ORDERS_TOP },
          { { 0 }, { 1, 5 }, { ORDERS_TOP, 4, 6 } },
          { 1, 2, 3 },
          { 0, 1, 4, 5, 6, ORDERS_TOP - 1, ORDERS_TOP } },
        { "revenue",
          { 0, 1000, 999, MONEY_MAX },
          { { 0 }, { 999, 1001 }, { MONEY_MAX, 1, 2 } },
          { 1, 2, 3 },
          { 0, 1, 999, 1000, 1001, MONEY_MAX - 1, MONEY_MAX } },
    };
    for (size_t f = 0; f < CRM_NELEM(cases); f++) {
        int is_orders = f == 0;
        for (int op = 0; op < NOPS; op++) {
            for (size_t k = 0; k < (op >= IN ? 3u : 4u); k++) {
                const char *val =
                    op >= IN ? int_list(cases[f].lists[k], cases[f].lens[k])
                             : crm_arena_printf(arena, "%lld", (long long)cases[f].vals[k]);
                const char *json = cond1(cases[f].field, ops[op], val);
                rule_sql rs = ok(json);
                for (size_t i = 0; i < CRM_NELEM(cases[f].metric); i++) {
                    int64_t x = cases[f].metric[i];
                    /* orders 0 is a customer without orders; revenue 0 may have some */
                    cust c = is_orders ? customer(x, 50, NOW) : customer(2, x, NOW);
                    int want = op == IN       ? in_values(x, cases[f].lists[k], cases[f].lens[k])
                               : op == NOT_IN ? !in_values(x, cases[f].lists[k], cases[f].lens[k])
                                              : holds(op, x, cases[f].vals[k]);
                    ck_assert_msg(selects(&rs, &c) == want, "%s on %" PRId64 ": want %d\nSQL %s",
                                  json, x, want, rs.sql);
                }
            }
        }
    }
}
END_TEST

/* Whether the rule json selects c. */
static int sel(const char *json, const cust *c)
{
    rule_sql rs = ok(json);
    return selects(&rs, c);
}

START_TEST(test_status_and_tag_meaning)
{
    static const char *const statuses[] = { "lead", "prospect", "customer", "churned" };
    static const char *const tagsets[][3] = { { NULL }, { "vip" }, { "b2b", "vip" }, { "or-1-1" } };
    for (size_t s = 0; s < CRM_NELEM(statuses); s++) {
        for (size_t t = 0; t < CRM_NELEM(tagsets); t++) {
            cust c = customer(1, 10, NOW);
            c.status = statuses[s];
            for (size_t j = 0; j < 3 && tagsets[t][j] != NULL; j++)
                c.tags[j] = tagsets[t][j];
            int vip = ev_has_tag(&c, "vip"), b2b = ev_has_tag(&c, "b2b");
            int lead = s == 0, late = s >= 2; /* customer or churned */
            const char *late_list = "[\"customer\",\"churned\"]";

            ck_assert_int_eq(sel(cond1("status", "eq", "\"lead\""), &c), lead);
            ck_assert_int_eq(sel(cond1("status", "ne", "\"lead\""), &c), !lead);
            ck_assert_int_eq(sel(cond1("status", "in", late_list), &c), late);
            ck_assert_int_eq(sel(cond1("status", "not_in", late_list), &c), !late);
            ck_assert_int_eq(sel(cond1("tag", "eq", "\"vip\""), &c), vip);
            ck_assert_int_eq(sel(cond1("tag", "ne", "\"vip\""), &c), !vip);
            ck_assert_int_eq(sel(cond1("tag", "in", "[\"vip\",\"b2b\"]"), &c), vip || b2b);
            ck_assert_int_eq(sel(cond1("tag", "not_in", "[\"vip\",\"b2b\"]"), &c), !(vip || b2b));
            ck_assert_int_eq(sel(cond1("tag", "in", "[\"or-1-1\"]"), &c), t == 3);
            ck_assert_int_eq(sel(cond1("tag", "eq", "\"drop_table\""), &c), 0);
        }
    }
}
END_TEST

/* The segment of the contract's example over a grid of customers. */
START_TEST(test_rule_meaning)
{
    static const char *const statuses[] = { "lead", "customer", "churned" };
    static const int64_t orders[] = { 0, 1, 2, 4, 5, 7, 8 };
    static const int64_t off_days[] = { 0, 60, 61, 400 };
    rule_sql rs =
        ok("{\"all\":[{\"field\":\"f_score\",\"op\":\"gte\",\"value\":4},"
           "{\"field\":\"days_since_last_order\",\"op\":\"gt\",\"value\":60},"
           "{\"any\":[{\"field\":\"tag\",\"op\":\"eq\",\"value\":\"vip\"},"
           "{\"field\":\"status\",\"op\":\"in\",\"value\":[\"customer\",\"churned\"]}]}]}");
    rule_sql alt = ok("{\"any\":[{\"all\":[{\"field\":\"m_score\",\"op\":\"eq\",\"value\":5},"
                      "{\"field\":\"tag\",\"op\":\"ne\",\"value\":\"vip\"}]},"
                      "{\"all\":[{\"field\":\"orders_count\",\"op\":\"eq\",\"value\":0},"
                      "{\"field\":\"status\",\"op\":\"eq\",\"value\":\"lead\"}]},"
                      "{\"field\":\"r_score\",\"op\":\"lte\",\"value\":1}]}");
    size_t seen = 0;
    for (size_t s = 0; s < CRM_NELEM(statuses); s++)
        for (size_t o = 0; o < CRM_NELEM(orders); o++)
            for (size_t d = 0; d < CRM_NELEM(off_days); d++)
                for (int vip = 0; vip < 2; vip++)
                    for (int64_t rev = 0; rev <= 60000; rev += 30000) {
                        cust c =
                            customer(orders[o], rev, stamp(us_of(NOW) - off_days[d] * DAY_US - 5));
                        c.status = statuses[s];
                        c.tags[0] = vip ? "vip" : "other";
                        int has = orders[o] > 0;
                        int days = (int)off_days[d];
                        int want =
                            has && score_int(orders[o], cut.f) >= 4 && days > 60 && (vip || s >= 1);
                        ck_assert_msg(selects(&rs, &c) == want,
                                      "%s orders=%" PRId64 " days=%d vip=%d: want %d", statuses[s],
                                      orders[o], days, vip, want);
                        int want2 = (has && score_int(rev, cut.m) == 5 && !vip) ||
                                    (orders[o] == 0 && s == 0) ||
                                    (has && score_time(c.last, cut.r) <= 1);
                        ck_assert_msg(
                            selects(&alt, &c) == want2,
                            "alt: %s orders=%" PRId64 " rev=%" PRId64 " last=%s vip=%d: want %d",
                            statuses[s], orders[o], rev, c.last ? c.last : "NULL", vip, want2);
                        seen += want + want2;
                    }
    ck_assert_uint_gt(seen, 0);
}
END_TEST

/* ================================================================ */
/* the contract end to end: a rule as the service receives it          */

/* A body {"rule": ...} as crm_body_fields parses it; its rule compiled. */
static int body_rule(const char *body, const char **why)
{
    crm_fields parsed;
    *why = NULL;
    int rc = crm_json_parse(arena, body, strlen(body), &parsed, why);
    if (rc != CRM_OK)
        return rc;
    fs = parsed;
    const crm_field *rule = crm_fields_get(&parsed, "rule");
    ck_assert_ptr_nonnull(rule);
    return compile_with(rule, "rule", &cut, NOW);
}

#define C_IN "{\"field\":\"tag\",\"op\":\"in\",\"value\":[\"vip\",\"b2b\"]}"

/* docs/api-marketing.md: 3 levels of groups; in a JSON body (8 nested
   containers at most) an in/not_in condition fits in the first two levels
   only, deeper is a 400 "nesting too deep". */
START_TEST(test_levels_in_a_body)
{
    const char *why;
    ck_assert_int_eq(body_rule("{\"name\":\"deep\",\"rule\":{\"all\":[{\"any\":[{\"all\":["
                               "{\"field\":\"tag\",\"op\":\"eq\",\"value\":\"vip\"}]}]}]}}",
                               &why),
                     CRM_OK);
    ck_assert_int_eq(body_rule("{\"rule\":{\"all\":[" C_IN ",{\"any\":[" C_IN "]}]}}", &why),
                     CRM_OK);
    ck_assert_int_eq(body_rule("{\"rule\":{\"all\":[{\"any\":[{\"all\":[" C_IN "]}]}]}}", &why),
                     CRM_INVALID);
    ck_assert_str_eq(why, "nesting too deep");
}
END_TEST

/* In a form the rule's JSON text is parsed on its own: the third level
   takes in/not_in too. The canonical JSON the service stores is read back
   the same way (segments.c stored_rule), so the deepest rule accepted must
   read back and compile to the same thing. */
START_TEST(test_deepest_rule_reads_back)
{
    const char *text =
        "{\"all\":[" C_IN ",{\"any\":[" C_IN ",{\"all\":["
        "{\"field\":\"days_since_last_order\",\"op\":\"not_in\",\"value\":[1,2]}," C_IN "]}]}]}";
    rule_sql first = ok(text);
    rule_sql again = ok(first.json);
    ck_assert_str_eq(again.json, first.json);
    ck_assert_str_eq(again.sql, first.sql);
    ck_assert_uint_eq(again.n_binds, first.n_binds);
}
END_TEST

/* ================================================================ */
/* RFM scores                                                        */

START_TEST(test_rfm_score_int)
{
    static const int64_t c[4] = { 10, 20, 30, 40 };
    static const struct {
        int64_t v;
        int s;
    } cases[] = {
        { INT64_MIN, 1 }, { -1, 1 }, { 0, 1 },  { 9, 1 },    { 10, 1 },
        { 11, 2 },        { 19, 2 }, { 20, 2 }, { 21, 3 },   { 30, 3 },
        { 31, 4 },        { 40, 4 }, { 41, 5 }, { 1000, 5 }, { INT64_MAX, 5 },
    };
    for (size_t i = 0; i < CRM_NELEM(cases); i++)
        ck_assert_msg(rfm_score_int(cases[i].v, c) == cases[i].s, "%" PRId64 ": %d, want %d",
                      cases[i].v, rfm_score_int(cases[i].v, c), cases[i].s);

    /* Ties: a value equal to tied cut-offs scores the lowest of them. */
    static const int64_t t[4] = { 1, 1, 3, 3 };
    ck_assert_int_eq(rfm_score_int(0, t), 1);
    ck_assert_int_eq(rfm_score_int(1, t), 1);
    ck_assert_int_eq(rfm_score_int(2, t), 3);
    ck_assert_int_eq(rfm_score_int(3, t), 3);
    ck_assert_int_eq(rfm_score_int(4, t), 5);
    static const int64_t same[4] = { 5, 5, 5, 5 };
    ck_assert_int_eq(rfm_score_int(5, same), 1);
    ck_assert_int_eq(rfm_score_int(6, same), 5);
    static const int64_t zero[4] = { 0, 0, 0, 1 };
    ck_assert_int_eq(rfm_score_int(0, zero), 1);
    ck_assert_int_eq(rfm_score_int(1, zero), 4);
    ck_assert_int_eq(rfm_score_int(2, zero), 5);
}
END_TEST

START_TEST(test_rfm_score_time)
{
    const char *const c[4] = { "2026-06-01 00:00:00.000000", "2026-09-01 00:00:00.000000",
                               "2026-10-15 08:30:00.000000", "2026-11-20 10:00:00.500000" };
    static const struct {
        const char *v;
        int s;
    } cases[] = {
        { "1970-01-01 00:00:00.000000", 1 }, { "2026-05-31 23:59:59.999999", 1 },
        { "2026-06-01 00:00:00.000000", 1 }, { "2026-06-01 00:00:00.000001", 2 },
        { "2026-09-01 00:00:00.000000", 2 }, { "2026-09-01 00:00:01.000000", 3 },
        { "2026-10-15 08:30:00.000000", 3 }, { "2026-10-15 08:30:00.000001", 4 },
        { "2026-11-20 10:00:00.500000", 4 }, { "2026-11-20 10:00:00.500001", 5 },
        { "2026-11-27 12:00:00.000000", 5 }, { "9999-12-31 23:59:59.999999", 5 },
    };
    for (size_t i = 0; i < CRM_NELEM(cases); i++)
        ck_assert_msg(rfm_score_time(cases[i].v, c) == cases[i].s, "%s: %d, want %d", cases[i].v,
                      rfm_score_time(cases[i].v, c), cases[i].s);
    const char *const t[4] = { "2026-08-01 00:00:00.000000", "2026-08-01 00:00:00.000000",
                               "2026-11-01 00:00:00.000000", "2026-11-01 00:00:00.000000" };
    ck_assert_int_eq(rfm_score_time("2026-08-01 00:00:00.000000", t), 1);
    ck_assert_int_eq(rfm_score_time("2026-08-01 00:00:00.000001", t), 3);
    ck_assert_int_eq(rfm_score_time("2026-11-01 00:00:00.000000", t), 3);
    ck_assert_int_eq(rfm_score_time("2026-11-01 00:00:00.000001", t), 5);
}
END_TEST

/* The scores the rules compare with are the scores customers are given:
   our reference agrees with rfm.c everywhere the meaning tests look. */
START_TEST(test_rfm_reference_agrees)
{
    const rfm_cutoffs *cuts[] = { &cut, &ties };
    cust cs[32];
    for (size_t ci = 0; ci < CRM_NELEM(cuts); ci++) {
        size_t n = score_customers(cuts[ci], 'f', cs);
        for (size_t i = 1; i < n; i++)
            ck_assert_int_eq(rfm_score_int(cs[i].orders, cuts[ci]->f),
                             score_int(cs[i].orders, cuts[ci]->f));
        n = score_customers(cuts[ci], 'm', cs);
        for (size_t i = 1; i < n; i++)
            ck_assert_int_eq(rfm_score_int(cs[i].revenue, cuts[ci]->m),
                             score_int(cs[i].revenue, cuts[ci]->m));
        n = score_customers(cuts[ci], 'r', cs);
        for (size_t i = 1; i < n; i++)
            ck_assert_int_eq(rfm_score_time(cs[i].last, cuts[ci]->r),
                             score_time(cs[i].last, cuts[ci]->r));
    }
}
END_TEST

static Suite *rules_suite(void)
{
    Suite *s = suite_create("rules");
    TCase *tc = tcase_create("compile");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_every_field_and_op);
    tcase_add_test(tc, test_binds_in_order);
    tcase_add_test(tc, test_canonical_json);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_unknown_names);
    tcase_add_test(tc, test_wrong_types);
    tcase_add_test(tc, test_ranges);
    tcase_add_test(tc, test_list_lengths);
    tcase_add_test(tc, test_groups);
    tcase_add_test(tc, test_not_an_object);
    tcase_add_test(tc, test_places);
    tcase_add_test(tc, test_depth);
    tcase_add_test(tc, test_condition_cap);
    tcase_add_test(tc, test_bind_cap);
    suite_add_tcase(s, tc);

    tc = tcase_create("bound values");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_values_are_bound);
    tcase_add_test(tc, test_hostile_looking_tags);
    tcase_add_test(tc, test_hostile_strings_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("meaning");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_score_meaning);
    tcase_add_test(tc, test_scores_without_cutoffs);
    tcase_add_test(tc, test_days_binds);
    tcase_add_test(tc, test_days_meaning);
    tcase_add_test(tc, test_numbers_meaning);
    tcase_add_test(tc, test_status_and_tag_meaning);
    tcase_add_test(tc, test_rule_meaning);
    suite_add_tcase(s, tc);

    tc = tcase_create("request body");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_levels_in_a_body);
    tcase_add_test(tc, test_deepest_rule_reads_back);
    suite_add_tcase(s, tc);

    tc = tcase_create("rfm");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_rfm_score_int);
    tcase_add_test(tc, test_rfm_score_time);
    tcase_add_test(tc, test_rfm_reference_agrees);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rules_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
