/*
 * test_sales_orders.c - orders, their lines, states, stock, money limits,
 * lists and the sales summary of the sales API (docs/api-sales.md), over
 * HTTPS through NGINX to the crm-sales pool.
 */
#include "itest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_SAFE 9007199254740991LL /* 2^53 - 1 */
#define P52      4503599627370496LL /* 2^52 */
#define MAX_IDS  256
/* A currency no other test of these suites sells in: the summary's own. */
#define SUMMARY_CURRENCY "ISK"

static const char *const ALLOWED_DRAFT[] = { "confirm", "cancel", NULL };
static const char *const ALLOWED_CONFIRMED[] = { "fulfill", "cancel", NULL };
static const char *const ALLOWED_NONE[] = { NULL };

/* ---- helpers ------------------------------------------------------------------------------ */

static const char *str_or(const char *s)
{
    return s ? s : "(null)";
}

static void order_path(char *buf, size_t n, int64_t id, const char *suffix)
{
    snprintf(buf, n, ITEST_ORDERS "/%" PRId64 "%s", id, suffix ? suffix : "");
}

static void line_suffix(char *buf, size_t n, int64_t line_id)
{
    snprintf(buf, n, "/lines/%" PRId64, line_id);
}

/*
 * method on /api/v1/orders/{id}{suffix} with an optional If-Match value and
 * Idempotency-Key. body: JSON, or NULL for none (a POST then goes out with
 * an empty body and no Content-Type, as the actions expect).
 */
static itest_resp *oreq(const char *method, int64_t id, const char *suffix, const char *if_match,
                        const char *key, const char *body)
{
    char path[256], im[128], ik[320];
    const char *hdrs[3];
    size_t h = 0;
    if (if_match != NULL) {
        snprintf(im, sizeof im, "If-Match: %s", if_match);
        hdrs[h++] = im;
    }
    if (key != NULL) {
        snprintf(ik, sizeof ik, "Idempotency-Key: %s", key);
        hdrs[h++] = ik;
    }
    hdrs[h] = NULL;
    order_path(path, sizeof path, id, suffix);
    if (body != NULL)
        return itest_json(method, path, hdrs, body);
    if (strcmp(method, "POST") == 0)
        return itest_request(method, path, hdrs, "", 0, NULL);
    return itest_request(method, path, hdrs, NULL, 0, NULL);
}

static itest_resp *action(int64_t id, const char *act, const char *if_match, const char *key)
{
    char suffix[32];
    snprintf(suffix, sizeof suffix, "/%s", act);
    return oreq("POST", id, suffix, if_match, key, NULL);
}

static itest_resp *get_order(int64_t id)
{
    char path[128];
    order_path(path, sizeof path, id, NULL);
    return itest_get(path, NULL);
}

static json_object *lines_of(const itest_resp *r)
{
    json_object *ls = itest_jget(r->json, "lines");
    ck_assert_msg(ls != NULL && json_object_is_type(ls, json_type_array),
                  "order without a lines array: %s", itest_describe(r));
    return ls;
}

/* The first line of the order in r for product pid (asserting there is one). */
static json_object *line_for(const itest_resp *r, int64_t pid)
{
    json_object *ls = lines_of(r);
    for (size_t i = 0; i < json_object_array_length(ls); i++) {
        json_object *l = json_object_array_get_idx(ls, i);
        if (itest_jint(l, "product_id") == pid)
            return l;
    }
    ck_abort_msg("no line for product %" PRId64 ": %s", pid, itest_describe(r));
    return NULL;
}

static json_object *line_by_id(const itest_resp *r, int64_t line_id)
{
    json_object *ls = lines_of(r);
    for (size_t i = 0; i < json_object_array_length(ls); i++) {
        json_object *l = json_object_array_get_idx(ls, i);
        if (itest_jint(l, "id") == line_id)
            return l;
    }
    return NULL;
}

/* Assert status, version (body and ETag), total and line count of an order. */
static void assert_order(int64_t id, const char *status, long version, int64_t total,
                         int64_t line_count)
{
    itest_resp *r = get_order(id);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_msg(strcmp(str_or(itest_jstr(r->json, "status")), status) == 0,
                  "order %" PRId64 " is not %s: %s", id, status, itest_describe(r));
    if (version > 0)
        ck_assert_msg(itest_etag_version(r) == version && itest_jint(r->json, "version") == version,
                      "order %" PRId64 " is not at version %ld: %s", id, version,
                      itest_describe(r));
    if (total >= 0)
        ck_assert_msg(itest_jint(r->json, "total_cents") == total,
                      "order %" PRId64 " total is not %" PRId64 ": %s", id, total,
                      itest_describe(r));
    if (line_count >= 0) {
        ck_assert_msg(itest_jint(r->json, "line_count") == line_count &&
                          (int64_t)json_object_array_length(lines_of(r)) == line_count,
                      "order %" PRId64 " does not have %" PRId64 " lines: %s", id, line_count,
                      itest_describe(r));
    }
    itest_free(r);
}

static long order_version(int64_t id)
{
    itest_resp *r = get_order(id);
    ITEST_ASSERT_STATUS(r, 200);
    long v = itest_etag_version(r);
    ck_assert_msg(v > 0, "%s", itest_describe(r));
    itest_free(r);
    return v;
}

static itest_resp *get_product(int64_t id)
{
    char path[128];
    snprintf(path, sizeof path, ITEST_PRODUCTS "/%" PRId64, id);
    return itest_get(path, NULL);
}

/* A product's stock, -1 when null (untracked). */
static int64_t stock_of(int64_t pid)
{
    itest_resp *r = get_product(pid);
    ITEST_ASSERT_STATUS(r, 200);
    int64_t s = itest_jnull(r->json, "stock") ? -1 : itest_jint(r->json, "stock");
    ck_assert_msg(s == -1 || s >= 0, "stock: %s", itest_describe(r));
    itest_free(r);
    return s;
}

static long product_version(int64_t pid)
{
    itest_resp *r = get_product(pid);
    ITEST_ASSERT_STATUS(r, 200);
    long v = itest_etag_version(r);
    itest_free(r);
    return v;
}

/* PATCH a product, asserting 200. */
static void patch_product(int64_t pid, const char *body)
{
    char path[128];
    snprintf(path, sizeof path, ITEST_PRODUCTS "/%" PRId64, pid);
    itest_resp *r = itest_json("PATCH", path, NULL, body);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
}

/* Copy of a product's member (sku, name); the caller frees. */
static char *product_str(int64_t pid, const char *key)
{
    itest_resp *r = get_product(pid);
    ITEST_ASSERT_STATUS(r, 200);
    const char *s = itest_jstr(r->json, key);
    ck_assert_msg(s != NULL, "product without %s: %s", key, itest_describe(r));
    char *c = strdup(s);
    itest_free(r);
    return c;
}

static void lines1(char *buf, size_t n, int64_t p, long q)
{
    snprintf(buf, n, "[{\"product_id\":%" PRId64 ",\"quantity\":%ld}]", p, q);
}

static void lines2(char *buf, size_t n, int64_t p1, long q1, int64_t p2, long q2)
{
    snprintf(buf, n,
             "[{\"product_id\":%" PRId64 ",\"quantity\":%ld},{\"product_id\":%" PRId64
             ",\"quantity\":%ld}]",
             p1, q1, p2, q2);
}

static int64_t draft_with(int64_t cust, int64_t pid, long q)
{
    char ls[128];
    lines1(ls, sizeof ls, pid, q);
    return itest_new_order(cust, ls, NULL);
}

/* POST the action, asserting 200 and the new status. */
static void act_ok(int64_t id, const char *act, const char *status)
{
    itest_resp *r = action(id, act, NULL, NULL);
    ck_assert_msg(r->status == 200, "%s of order %" PRId64 ": %s", act, id, itest_describe(r));
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_msg(strcmp(str_or(itest_jstr(r->json, "status")), status) == 0, "%s: %s", act,
                  itest_describe(r));
    itest_free(r);
}

/* An order of one untracked product in the given state. */
static int64_t order_in(int64_t cust, int64_t pid, const char *state)
{
    int64_t id = draft_with(cust, pid, 1);
    if (strcmp(state, "confirmed") == 0 || strcmp(state, "fulfilled") == 0)
        act_ok(id, "confirm", "confirmed");
    if (strcmp(state, "fulfilled") == 0)
        act_ok(id, "fulfill", "fulfilled");
    if (strcmp(state, "cancelled") == 0)
        act_ok(id, "cancel", "cancelled");
    return id;
}

/* The problem names the order's status and exactly the allowed actions. */
static void assert_allowed(const itest_resp *r, const char *status, const char *const *want)
{
    ck_assert_msg(strcmp(str_or(itest_jstr(r->json, "order_status")), status) == 0,
                  "order_status is not %s: %s", status, itest_describe(r));
    json_object *allowed = itest_jget(r->json, "allowed");
    ck_assert_msg(allowed && json_object_is_type(allowed, json_type_array), "no allowed array: %s",
                  itest_describe(r));
    size_t n_want = 0;
    while (want[n_want] != NULL)
        n_want++;
    ck_assert_msg(json_object_array_length(allowed) == n_want,
                  "allowed has %zu entries, want %zu: %s", json_object_array_length(allowed),
                  n_want, itest_describe(r));
    for (size_t i = 0; i < n_want; i++) {
        int found = 0;
        for (size_t j = 0; j < n_want; j++) {
            json_object *v = json_object_array_get_idx(allowed, j);
            if (json_object_is_type(v, json_type_string) &&
                strcmp(json_object_get_string(v), want[i]) == 0)
                found = 1;
        }
        ck_assert_msg(found, "allowed lacks %s: %s", want[i], itest_describe(r));
    }
}

static void expect_field(const itest_resp *r, long status, const char *field)
{
    ITEST_ASSERT_PROBLEM(r, status);
    ck_assert_msg(itest_problem_field_count(r, field) >= 1, "want an errors entry for %s: %s",
                  field, itest_describe(r));
}

static int problem_mentions(const itest_resp *r, const char *field)
{
    if (itest_problem_field_count(r, field) > 0)
        return 1;
    const char *d = itest_jstr(r->json, "detail");
    return d != NULL && strstr(d, field) != NULL;
}

/* Some errors entry's field starts with prefix. */
static int problem_field_prefix(const itest_resp *r, const char *prefix)
{
    json_object *errs = itest_jget(r->json, "errors");
    for (size_t i = 0; errs && i < json_object_array_length(errs); i++) {
        const char *f = itest_jstr(json_object_array_get_idx(errs, i), "field");
        if (f != NULL && strncmp(f, prefix, strlen(prefix)) == 0)
            return 1;
    }
    return 0;
}

static int iso_time(const char *s)
{
    if (s == NULL || strlen(s) < 20)
        return 0;
    return s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' &&
           s[strlen(s) - 1] == 'Z';
}

static char *repeat(const char *unit, size_t times)
{
    size_t u = strlen(unit);
    char *s = malloc(u * times + 1);
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < times; i++)
        memcpy(s + i * u, unit, u);
    s[u * times] = '\0';
    return s;
}

static void assert_location(const itest_resp *r, const char *want)
{
    const char *loc = itest_header_get(r, "Location");
    ck_assert_msg(loc && strlen(loc) >= strlen(want) &&
                      strcmp(loc + strlen(loc) - strlen(want), want) == 0,
                  "Location %s, want %s: %s", str_or(loc), want, itest_describe(r));
}

static void assert_replayed(const itest_resp *r, int want)
{
    const char *rep = itest_header_get(r, "Idempotent-Replayed");
    int is = rep != NULL && strcasecmp(rep, "true") == 0;
    ck_assert_msg(is == want, "Idempotent-Replayed %s, want %s: %s", str_or(rep),
                  want ? "true" : "absent", itest_describe(r));
}

/* ---- create ------------------------------------------------------------------------------- */

START_TEST(test_create_with_lines)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t p1 = itest_new_product(14900, "EUR", NULL);
    int64_t p2 = itest_new_product(250, "EUR", NULL);
    char *sku1 = product_str(p1, "sku"), *name1 = product_str(p1, "name");
    char ls[256], extra[128];
    lines2(ls, sizeof ls, p1, 3, p2, 4);
    snprintf(extra, sizeof extra, "\"note\":\"Deliver before noon\",\"campaign_id\":77");
    itest_resp *r = itest_create_order(cust, ls, extra, NULL);
    ITEST_ASSERT_STATUS(r, 201);
    ITEST_ASSERT_SECURITY(r);
    json_object *o = r->json;
    int64_t id = itest_jint(o, "id");
    ck_assert_msg(id > 0, "%s", itest_describe(r));
    char want[128];
    order_path(want, sizeof want, id, NULL);
    assert_location(r, want);
    ck_assert_msg(itest_etag_version(r) == 1, "ETag: %s", itest_describe(r));
    ck_assert_int_eq(itest_jint(o, "customer_id"), cust);
    ck_assert_str_eq(str_or(itest_jstr(o, "currency")), "EUR"); /* from the lines */
    ck_assert_str_eq(str_or(itest_jstr(o, "status")), "draft");
    ck_assert_int_eq(itest_jint(o, "campaign_id"), 77);
    ck_assert_str_eq(str_or(itest_jstr(o, "note")), "Deliver before noon");
    ck_assert_int_eq(itest_jint(o, "total_cents"), 3 * 14900 + 4 * 250);
    ck_assert_int_eq(itest_jint(o, "line_count"), 2);
    ck_assert_int_eq(itest_jint(o, "version"), 1);
    ck_assert_msg(iso_time(itest_jstr(o, "created_at")) && iso_time(itest_jstr(o, "updated_at")),
                  "%s", itest_describe(r));
    ck_assert_msg(itest_jnull(o, "confirmed_at") && itest_jnull(o, "fulfilled_at") &&
                      itest_jnull(o, "cancelled_at"),
                  "a draft with action times: %s", itest_describe(r));
    ck_assert_uint_eq(json_object_array_length(lines_of(r)), 2);
    json_object *l1 = line_for(r, p1);
    ck_assert_msg(itest_jint(l1, "id") > 0, "%s", itest_describe(r));
    ck_assert_str_eq(str_or(itest_jstr(l1, "sku")), sku1);
    ck_assert_str_eq(str_or(itest_jstr(l1, "name")), name1);
    ck_assert_int_eq(itest_jint(l1, "quantity"), 3);
    ck_assert_int_eq(itest_jint(l1, "unit_price_cents"), 14900);
    ck_assert_int_eq(itest_jint(l1, "line_total_cents"), 44700);
    json_object *l2 = line_for(r, p2);
    ck_assert_int_eq(itest_jint(l2, "quantity"), 4);
    ck_assert_int_eq(itest_jint(l2, "unit_price_cents"), 250);
    ck_assert_int_eq(itest_jint(l2, "line_total_cents"), 1000);
    ck_assert_int_ne(itest_jint(l1, "id"), itest_jint(l2, "id"));
    char *created = strdup(str_or(itest_jstr(o, "created_at")));
    itest_free(r);

    /* Read back: the same order, 304 on its ETag, HEAD without a body. */
    r = get_order(id);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_etag_version(r), 1);
    ck_assert_int_eq(itest_jint(r->json, "total_cents"), 45700);
    ck_assert_str_eq(str_or(itest_jstr(r->json, "created_at")), created);
    ck_assert_str_eq(str_or(itest_jstr(line_for(r, p1), "sku")), sku1);
    itest_free(r);
    char path[128];
    order_path(path, sizeof path, id, NULL);
    const char *inm[] = { "If-None-Match: \"1\"", NULL };
    r = itest_get(path, inm);
    ITEST_ASSERT_STATUS(r, 304);
    ck_assert_msg(r->body_len == 0, "304 with a body: %s", itest_describe(r));
    itest_free(r);
    const char *other[] = { "If-None-Match: \"2\"", NULL };
    r = itest_get(path, other);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    r = itest_request("HEAD", path, NULL, NULL, 0, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_msg(r->body_len == 0, "HEAD with a body: %s", itest_describe(r));
    itest_free(r);
    free(created);
    free(sku1);
    free(name1);
}
END_TEST

START_TEST(test_create_without_lines)
{
    int64_t cust = itest_new_customer(NULL);
    itest_resp *r = itest_create_order(cust, NULL, "\"currency\":\"USD\"", NULL);
    ITEST_ASSERT_STATUS(r, 201);
    ck_assert_str_eq(str_or(itest_jstr(r->json, "currency")), "USD");
    ck_assert_int_eq(itest_jint(r->json, "total_cents"), 0);
    ck_assert_int_eq(itest_jint(r->json, "line_count"), 0);
    ck_assert_uint_eq(json_object_array_length(lines_of(r)), 0);
    ck_assert_msg(itest_jnull(r->json, "campaign_id") && itest_jnull(r->json, "note"), "%s",
                  itest_describe(r));
    itest_free(r);
    /* No lines and no currency: nothing to take it from. */
    r = itest_create_order(cust, NULL, NULL, NULL);
    expect_field(r, 422, "currency");
    itest_free(r);
    r = itest_create_order(cust, "[]", NULL, NULL);
    expect_field(r, 422, "currency");
    itest_free(r);
    /* An explicit currency that the lines share is fine. */
    int64_t p = itest_new_product(100, "GBP", NULL);
    char ls[128];
    lines1(ls, sizeof ls, p, 1);
    r = itest_create_order(cust, ls, "\"currency\":\"GBP\"", NULL);
    ITEST_ASSERT_STATUS(r, 201);
    ck_assert_str_eq(str_or(itest_jstr(r->json, "currency")), "GBP");
    itest_free(r);
}
END_TEST

START_TEST(test_create_currencies)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t eur = itest_new_product(100, "EUR", NULL);
    int64_t usd = itest_new_product(100, "USD", NULL);
    char ls[256];
    /* Mixed currencies: refused, naming the line that differs. */
    lines2(ls, sizeof ls, eur, 1, usd, 1);
    itest_resp *r = itest_create_order(cust, ls, NULL, NULL);
    expect_field(r, 422, "lines[1].product_id");
    itest_free(r);
    /* A line in another currency than the order's. */
    lines1(ls, sizeof ls, eur, 1);
    r = itest_create_order(cust, ls, "\"currency\":\"USD\"", NULL);
    expect_field(r, 422, "lines[0].product_id");
    itest_free(r);
    /* Unknown currency codes. */
    r = itest_create_order(cust, NULL, "\"currency\":\"XYZ\"", NULL);
    expect_field(r, 422, "currency");
    itest_free(r);
    r = itest_create_order(cust, NULL, "\"currency\":\"eur\"", NULL);
    expect_field(r, 422, "currency");
    itest_free(r);
}
END_TEST

START_TEST(test_create_server_totals)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t p = itest_new_product(100, "EUR", NULL);
    char ls[256];
    lines1(ls, sizeof ls, p, 1);
    itest_resp *r = itest_create_order(cust, ls, "\"total_cents\":100", NULL);
    ITEST_ASSERT_PROBLEM(r, 400);
    ck_assert_msg(problem_mentions(r, "total_cents"), "%s", itest_describe(r));
    itest_free(r);
    static const char *const in_line[] = { "\"line_total_cents\":100", "\"unit_price_cents\":1",
                                           "\"discount\":5", "\"id\":3", "\"sku\":\"X\"" };
    for (size_t i = 0; i < sizeof in_line / sizeof in_line[0]; i++) {
        snprintf(ls, sizeof ls, "[{\"product_id\":%" PRId64 ",\"quantity\":1,%s}]", p, in_line[i]);
        r = itest_create_order(cust, ls, NULL, NULL);
        ck_assert_msg(r->status == 400, "line with %s: %s", in_line[i], itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 400);
        itest_free(r);
    }
    static const char *const top[] = { "\"foo\":1",
                                       "\"status\":\"confirmed\"",
                                       "\"id\":5",
                                       "\"version\":1",
                                       "\"line_count\":1",
                                       "\"confirmed_at\":null",
                                       "\"created_at\":\"2020-01-01T00:00:00Z\"" };
    lines1(ls, sizeof ls, p, 1);
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++) {
        r = itest_create_order(cust, ls, top[i], NULL);
        ck_assert_msg(r->status == 400, "order with %s: %s", top[i], itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 400);
        itest_free(r);
    }
    /* Malformed JSON, other media types. */
    r = itest_request("POST", ITEST_ORDERS, NULL, "{\"customer_id\":", 15, "application/json");
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    char body[128];
    snprintf(body, sizeof body, "{\"customer_id\":%" PRId64 ",\"currency\":\"EUR\"}", cust);
    r = itest_request("POST", ITEST_ORDERS, NULL, body, strlen(body), "text/plain");
    ITEST_ASSERT_PROBLEM(r, 415);
    itest_free(r);
}
END_TEST

START_TEST(test_create_bad_lines)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t p = itest_new_product(100, "EUR", NULL);
    int64_t off = itest_new_product(100, "EUR", "\"active\":false");
    char ls[512];
    lines1(ls, sizeof ls, p + 1000000000LL, 1);
    itest_resp *r = itest_create_order(cust, ls, NULL, NULL);
    expect_field(r, 422, "lines[0].product_id");
    itest_free(r);
    lines2(ls, sizeof ls, p, 1, off, 1);
    r = itest_create_order(cust, ls, NULL, NULL);
    expect_field(r, 422, "lines[1].product_id");
    itest_free(r);
    static const char *const bad_q[] = { "0", "-1", "1000001", "1.5", "\"2\"", "null" };
    for (size_t i = 0; i < sizeof bad_q / sizeof bad_q[0]; i++) {
        snprintf(ls, sizeof ls, "[{\"product_id\":%" PRId64 ",\"quantity\":%s}]", p, bad_q[i]);
        r = itest_create_order(cust, ls, NULL, NULL);
        ck_assert_msg(r->status == 422, "quantity %s: %s", bad_q[i], itest_describe(r));
        expect_field(r, 422, "lines[0].quantity");
        itest_free(r);
    }
    snprintf(ls, sizeof ls,
             "[{\"product_id\":%" PRId64 ",\"quantity\":1},{\"product_id\":%" PRId64
             ",\"quantity\":0}]",
             p, p);
    r = itest_create_order(cust, ls, NULL, NULL);
    expect_field(r, 422, "lines[1].quantity");
    ck_assert_int_eq(itest_problem_field_count(r, "lines[0].quantity"), 0);
    itest_free(r);
    snprintf(ls, sizeof ls, "[{\"product_id\":%" PRId64 "}]", p);
    r = itest_create_order(cust, ls, NULL, NULL);
    expect_field(r, 422, "lines[0].quantity");
    itest_free(r);
    r = itest_create_order(cust, "[{\"quantity\":1}]", NULL, NULL);
    expect_field(r, 422, "lines[0].product_id");
    itest_free(r);
    r = itest_create_order(cust, "[{\"product_id\":\"abc\",\"quantity\":1}]", NULL, NULL);
    expect_field(r, 422, "lines[0].product_id");
    itest_free(r);
    r = itest_create_order(cust, "{}", "\"currency\":\"EUR\"", NULL);
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_msg(problem_mentions(r, "lines"), "%s", itest_describe(r));
    itest_free(r);
    /* The largest quantity is fine (untracked stock). */
    lines1(ls, sizeof ls, p, 1000000);
    r = itest_create_order(cust, ls, NULL, NULL);
    ITEST_ASSERT_STATUS(r, 201);
    ck_assert_int_eq(itest_jint(r->json, "total_cents"), 100000000);
    itest_free(r);

    /* 100 lines are fine, 101 are not. */
    size_t cap = 101 * 64 + 16;
    char *many = malloc(cap);
    ck_assert_ptr_nonnull(many);
    for (int n = 100; n <= 101; n++) {
        size_t o = (size_t)snprintf(many, cap, "[");
        for (int i = 0; i < n; i++)
            o += (size_t)snprintf(many + o, cap - o,
                                  "%s{\"product_id\":%" PRId64 ",\"quantity\":1}", i ? "," : "", p);
        snprintf(many + o, cap - o, "]");
        r = itest_create_order(cust, many, NULL, NULL);
        if (n == 100) {
            ITEST_ASSERT_STATUS(r, 201);
            ck_assert_int_eq(itest_jint(r->json, "line_count"), 100);
            ck_assert_int_eq(itest_jint(r->json, "total_cents"), 10000);
        } else {
            expect_field(r, 422, "lines");
        }
        itest_free(r);
    }
    free(many);
}
END_TEST

START_TEST(test_create_customers)
{
    int64_t p = itest_new_product(100, "EUR", NULL);
    char ls[128];
    lines1(ls, sizeof ls, p, 1);
    /* Unknown to the customers service. */
    itest_resp *r = itest_create_order(9000000000LL, ls, NULL, NULL);
    expect_field(r, 422, "customer_id");
    itest_free(r);
    /* Deleted there. */
    int64_t gone = itest_new_customer(NULL);
    char path[128];
    snprintf(path, sizeof path, ITEST_CUSTOMERS "/%" PRId64, gone);
    r = itest_request("DELETE", path, NULL, NULL, 0, NULL);
    ITEST_ASSERT_STATUS(r, 204);
    itest_free(r);
    r = itest_create_order(gone, ls, NULL, NULL);
    expect_field(r, 422, "customer_id");
    itest_free(r);
    /* Created a moment ago: sales reads it through. */
    int64_t fresh = itest_new_customer(NULL);
    r = itest_create_order(fresh, ls, NULL, NULL);
    ITEST_ASSERT_STATUS(r, 201);
    ck_assert_int_eq(itest_jint(r->json, "customer_id"), fresh);
    itest_free(r);
    /* Malformed ids. */
    r = itest_json("POST", ITEST_ORDERS, NULL, "{\"currency\":\"EUR\"}");
    expect_field(r, 422, "customer_id");
    itest_free(r);
    static const char *const bad[] = { "0", "-4", "\"12\"", "1.5", "null" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"customer_id\":%s,\"currency\":\"EUR\"}", bad[i]);
        r = itest_json("POST", ITEST_ORDERS, NULL, body);
        ck_assert_msg(r->status == 422, "customer_id %s: %s", bad[i], itest_describe(r));
        expect_field(r, 422, "customer_id");
        itest_free(r);
    }
}
END_TEST

START_TEST(test_create_fields)
{
    int64_t cust = itest_new_customer(NULL);
    char *n2000 = repeat("n", 2000), *n2001 = repeat("n", 2001);
    size_t cap = 2100;
    char *extra = malloc(cap);
    ck_assert_ptr_nonnull(extra);
    snprintf(extra, cap, "\"currency\":\"EUR\",\"note\":\"%s\"", n2000);
    itest_resp *r = itest_create_order(cust, NULL, extra, NULL);
    ITEST_ASSERT_STATUS(r, 201);
    itest_free(r);
    snprintf(extra, cap, "\"currency\":\"EUR\",\"note\":\"%s\"", n2001);
    r = itest_create_order(cust, NULL, extra, NULL);
    expect_field(r, 422, "note");
    itest_free(r);
    static const char *const bad_campaign[] = { "0", "-1", "\"7\"", "2.5" };
    for (size_t i = 0; i < sizeof bad_campaign / sizeof bad_campaign[0]; i++) {
        snprintf(extra, cap, "\"currency\":\"EUR\",\"campaign_id\":%s", bad_campaign[i]);
        r = itest_create_order(cust, NULL, extra, NULL);
        ck_assert_msg(r->status == 422, "campaign_id %s: %s", bad_campaign[i], itest_describe(r));
        expect_field(r, 422, "campaign_id");
        itest_free(r);
    }
    r = itest_create_order(cust, NULL, "\"currency\":\"EUR\",\"campaign_id\":null,\"note\":null",
                           NULL);
    ITEST_ASSERT_STATUS(r, 201);
    itest_free(r);
    free(extra);
    free(n2000);
    free(n2001);
}
END_TEST

START_TEST(test_create_form)
{
    int64_t cust = itest_new_customer(NULL);
    char body[256];
    snprintf(body, sizeof body, "customer_id=%" PRId64 "&currency=EUR&note=From+a+form", cust);
    itest_resp *r = itest_request("POST", ITEST_ORDERS, NULL, body, strlen(body),
                                  "application/x-www-form-urlencoded");
    ITEST_ASSERT_STATUS(r, 201);
    ck_assert_int_eq(itest_jint(r->json, "customer_id"), cust);
    ck_assert_str_eq(str_or(itest_jstr(r->json, "note")), "From a form");
    itest_free(r);
    const char *html[] = { "Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", NULL };
    r = itest_request("POST", ITEST_ORDERS, html, body, strlen(body),
                      "application/x-www-form-urlencoded");
    ITEST_ASSERT_STATUS(r, 303);
    const char *loc = itest_header_get(r, "Location");
    ck_assert_msg(loc != NULL, "303 without Location: %s", itest_describe(r));
    const char *path = loc;
    if (strstr(loc, "://") != NULL)
        path = strchr(strstr(loc, "://") + 3, '/');
    ck_assert_msg(path && strncmp(path, "/orders/", 8) == 0, "Location %s", loc);
    char *end = NULL;
    long long id = strtoll(path + 8, &end, 10);
    ck_assert_msg(id > 0 && *end == '\0', "Location %s is not /orders/{id}", loc);
    itest_free(r);
    assert_order(id, "draft", 1, 0, 0);
}
END_TEST

START_TEST(test_create_idempotency)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t p = itest_new_product(100, "EUR", NULL);
    char ls[128], key[64], hk[96];
    lines1(ls, sizeof ls, p, 2);
    itest_unique_word(key, sizeof key);
    snprintf(hk, sizeof hk, "Idempotency-Key: order-%s", key);
    const char *hdrs[] = { hk, NULL };
    itest_resp *a = itest_create_order(cust, ls, NULL, hdrs);
    ITEST_ASSERT_STATUS(a, 201);
    assert_replayed(a, 0);
    itest_resp *b = itest_create_order(cust, ls, NULL, hdrs);
    ITEST_ASSERT_STATUS(b, 201);
    assert_replayed(b, 1);
    ck_assert_int_eq(itest_jint(a->json, "id"), itest_jint(b->json, "id"));
    const char *la = itest_header_get(a, "Location"), *lb = itest_header_get(b, "Location");
    ck_assert_msg(la && lb && strcmp(la, lb) == 0, "replayed Location differs");
    itest_free(b);
    lines1(ls, sizeof ls, p, 3);
    b = itest_create_order(cust, ls, NULL, hdrs);
    ITEST_ASSERT_PROBLEM(b, 422);
    itest_free(b);
    char q[128];
    snprintf(q, sizeof q, ITEST_ORDERS "?customer=%" PRId64 "&count=true", cust);
    b = itest_get(q, NULL);
    ITEST_ASSERT_STATUS(b, 200);
    ck_assert_msg(itest_jint(b->json, "count") == 1, "orders after replays: %s", itest_describe(b));
    itest_free(b);
    itest_free(a);
}
END_TEST

/* ---- prices, PATCH ------------------------------------------------------------------------ */

START_TEST(test_price_captured)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t p = itest_new_product(1000, "EUR", NULL);
    char *old_name = product_str(p, "name");
    char *old_sku = product_str(p, "sku");
    int64_t id = draft_with(cust, p, 2);
    patch_product(p, "{\"price_cents\":1500,\"name\":\"Renamed product\"}");
    itest_resp *r = get_order(id);
    ITEST_ASSERT_STATUS(r, 200);
    json_object *l = line_for(r, p);
    ck_assert_int_eq(itest_jint(l, "unit_price_cents"), 1000);
    ck_assert_int_eq(itest_jint(l, "line_total_cents"), 2000);
    ck_assert_str_eq(str_or(itest_jstr(l, "name")), old_name);
    ck_assert_str_eq(str_or(itest_jstr(l, "sku")), old_sku);
    ck_assert_int_eq(itest_jint(r->json, "total_cents"), 2000);
    ck_assert_int_eq(itest_etag_version(r), 1);
    int64_t first_line = itest_jint(l, "id");
    itest_free(r);
    /* The same product again: a second line at today's price. */
    r = oreq("POST", id, "/lines", NULL, NULL, "{\"product_id\":0,\"quantity\":1}");
    ITEST_ASSERT_PROBLEM(r, 422);
    itest_free(r);
    char body[128];
    snprintf(body, sizeof body, "{\"product_id\":%" PRId64 ",\"quantity\":1}", p);
    r = oreq("POST", id, "/lines", NULL, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    ck_assert_int_eq(itest_jint(r->json, "line_count"), 2);
    ck_assert_int_eq(itest_jint(r->json, "total_cents"), 3500);
    int64_t second = itest_location_id(r);
    json_object *l2 = line_by_id(r, second);
    ck_assert_msg(l2 != NULL, "the Location's line is not in the body: %s", itest_describe(r));
    ck_assert_int_eq(itest_jint(l2, "unit_price_cents"), 1500);
    ck_assert_str_eq(str_or(itest_jstr(l2, "name")), "Renamed product");
    json_object *l1 = line_by_id(r, first_line);
    ck_assert_msg(l1 && itest_jint(l1, "unit_price_cents") == 1000, "%s", itest_describe(r));
    itest_free(r);
    free(old_name);
    free(old_sku);
}
END_TEST

START_TEST(test_patch_order)
{
    int64_t cust = itest_new_customer(NULL), cust2 = itest_new_customer(NULL);
    int64_t p = itest_new_product(100, "EUR", NULL);
    int64_t id = draft_with(cust, p, 1);
    itest_resp *r =
        oreq("PATCH", id, NULL, NULL, NULL, "{\"note\":\"Call first\",\"campaign_id\":9}");
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_etag_version(r), 2);
    ck_assert_int_eq(itest_jint(r->json, "version"), 2);
    ck_assert_str_eq(str_or(itest_jstr(r->json, "note")), "Call first");
    ck_assert_int_eq(itest_jint(r->json, "campaign_id"), 9);
    ck_assert_int_eq(itest_jint(r->json, "total_cents"), 100);
    ck_assert_int_eq(itest_jint(r->json, "line_count"), 1);
    itest_free(r);
    char body[128];
    snprintf(body, sizeof body, "{\"customer_id\":%" PRId64 "}", cust2);
    r = oreq("PATCH", id, NULL, "\"2\"", NULL, body);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_jint(r->json, "customer_id"), cust2);
    ck_assert_int_eq(itest_etag_version(r), 3);
    itest_free(r);
    r = oreq("PATCH", id, NULL, NULL, NULL, "{\"note\":null,\"campaign_id\":null}");
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_msg(itest_jnull(r->json, "note") && itest_jnull(r->json, "campaign_id"), "%s",
                  itest_describe(r));
    itest_free(r);
    /* Refused changes leave the order alone. */
    r = oreq("PATCH", id, NULL, NULL, NULL, "{\"customer_id\":9000000000}");
    expect_field(r, 422, "customer_id");
    itest_free(r);
    r = oreq("PATCH", id, NULL, NULL, NULL, "{\"currency\":\"USD\"}");
    expect_field(r, 422, "currency");
    itest_free(r);
    r = oreq("PATCH", id, NULL, NULL, NULL, "{\"campaign_id\":0}");
    expect_field(r, 422, "campaign_id");
    itest_free(r);
    static const char *const refused[] = { "{\"total_cents\":1}", "{\"status\":\"confirmed\"}",
                                           "{\"foo\":1}", "{\"version\":9}", "{\"id\":1}" };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        r = oreq("PATCH", id, NULL, NULL, NULL, refused[i]);
        ck_assert_msg(r->status == 400, "PATCH %s: %s", refused[i], itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 400);
        itest_free(r);
    }
    r = oreq("PATCH", id, NULL, "\"3\"", NULL, "{\"note\":\"stale\"}");
    ITEST_ASSERT_PROBLEM(r, 412);
    itest_free(r);
    assert_order(id, "draft", 4, 100, 1);

    /* Without lines the currency may change. */
    int64_t empty = itest_new_order(cust, NULL, "\"currency\":\"EUR\"");
    r = oreq("PATCH", empty, NULL, NULL, NULL, "{\"currency\":\"JPY\"}");
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_str_eq(str_or(itest_jstr(r->json, "currency")), "JPY");
    itest_free(r);
    r = oreq("PATCH", empty, NULL, NULL, NULL, "{\"currency\":\"ABC\"}");
    expect_field(r, 422, "currency");
    itest_free(r);
    /* ... and then lines must be in it. */
    snprintf(body, sizeof body, "{\"product_id\":%" PRId64 ",\"quantity\":1}", p);
    r = oreq("POST", empty, "/lines", NULL, NULL, body);
    expect_field(r, 422, "product_id");
    itest_free(r);
    assert_order(empty, "draft", 2, 0, 0);
}
END_TEST

/* ---- lines -------------------------------------------------------------------------------- */

START_TEST(test_lines_routes)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t p1 = itest_new_product(100, "EUR", NULL);
    int64_t p2 = itest_new_product(250, "EUR", NULL);
    int64_t p3 = itest_new_product(1000, "EUR", NULL);
    int64_t usd = itest_new_product(1000, "USD", NULL);
    int64_t id = draft_with(cust, p1, 1);
    int64_t other = draft_with(cust, p1, 1);

    /* POST a line: 201, Location of the line, the whole order back. */
    char body[512], suffix[64], want[192];
    snprintf(body, sizeof body, "{\"product_id\":%" PRId64 ",\"quantity\":2}", p2);
    itest_resp *r = oreq("POST", id, "/lines", NULL, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    int64_t lid = itest_location_id(r);
    ck_assert_msg(lid > 0, "%s", itest_describe(r));
    snprintf(want, sizeof want, ITEST_ORDERS "/%" PRId64 "/lines/%" PRId64, id, lid);
    assert_location(r, want);
    ck_assert_int_eq(itest_jint(r->json, "id"), id);
    ck_assert_int_eq(itest_jint(r->json, "total_cents"), 100 + 500);
    ck_assert_int_eq(itest_jint(r->json, "line_count"), 2);
    ck_assert_int_eq(itest_etag_version(r), 2);
    ck_assert_int_eq(itest_jint(r->json, "version"), 2);
    json_object *l = line_by_id(r, lid);
    ck_assert_msg(l && itest_jint(l, "product_id") == p2 && itest_jint(l, "quantity") == 2 &&
                      itest_jint(l, "line_total_cents") == 500,
                  "%s", itest_describe(r));
    itest_free(r);

    /* GET one line; unknown lines and lines of other orders are 404. */
    line_suffix(suffix, sizeof suffix, lid);
    r = oreq("GET", id, suffix, NULL, NULL, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_jint(r->json, "id"), lid);
    ck_assert_int_eq(itest_jint(r->json, "product_id"), p2);
    ck_assert_int_eq(itest_jint(r->json, "quantity"), 2);
    ck_assert_int_eq(itest_jint(r->json, "unit_price_cents"), 250);
    ck_assert_int_eq(itest_jint(r->json, "line_total_cents"), 500);
    ck_assert_msg(itest_jstr(r->json, "sku") && itest_jstr(r->json, "name"), "%s",
                  itest_describe(r));
    itest_free(r);
    r = oreq("GET", other, suffix, NULL, NULL, NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    r = oreq("PATCH", other, suffix, NULL, NULL, "{\"quantity\":3}");
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    r = oreq("DELETE", other, suffix, NULL, NULL, NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    char unknown[64];
    line_suffix(unknown, sizeof unknown, lid + 1000000000LL);
    r = oreq("GET", id, unknown, NULL, NULL, NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    r = oreq("GET", id, "/lines/abc", NULL, NULL, NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    assert_order(other, "draft", 1, 100, 1);

    /* PATCH a line's quantity: the totals follow. */
    r = oreq("PATCH", id, suffix, NULL, NULL, "{\"quantity\":5}");
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_jint(r->json, "total_cents"), 100 + 5 * 250);
    ck_assert_int_eq(itest_etag_version(r), 3);
    l = line_by_id(r, lid);
    ck_assert_msg(l && itest_jint(l, "quantity") == 5 && itest_jint(l, "line_total_cents") == 1250,
                  "%s", itest_describe(r));
    itest_free(r);
    /* PATCH its product: the new product's price, SKU and name are captured. */
    char *sku3 = product_str(p3, "sku");
    snprintf(body, sizeof body, "{\"product_id\":%" PRId64 "}", p3);
    r = oreq("PATCH", id, suffix, NULL, NULL, body);
    ITEST_ASSERT_STATUS(r, 200);
    l = line_by_id(r, lid);
    ck_assert_msg(l != NULL, "%s", itest_describe(r));
    ck_assert_int_eq(itest_jint(l, "product_id"), p3);
    ck_assert_int_eq(itest_jint(l, "quantity"), 5);
    ck_assert_int_eq(itest_jint(l, "unit_price_cents"), 1000);
    ck_assert_int_eq(itest_jint(l, "line_total_cents"), 5000);
    ck_assert_str_eq(str_or(itest_jstr(l, "sku")), sku3);
    ck_assert_int_eq(itest_jint(r->json, "total_cents"), 100 + 5000);
    ck_assert_int_eq(itest_etag_version(r), 4);
    itest_free(r);
    free(sku3);
    /* Refused line changes. */
    r = oreq("PATCH", id, suffix, NULL, NULL, "{\"quantity\":0}");
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_msg(problem_mentions(r, "quantity"), "%s", itest_describe(r));
    itest_free(r);
    snprintf(body, sizeof body, "{\"product_id\":%" PRId64 "}", usd);
    r = oreq("PATCH", id, suffix, NULL, NULL, body);
    expect_field(r, 422, "product_id");
    itest_free(r);
    r = oreq("PATCH", id, suffix, NULL, NULL, "{\"unit_price_cents\":1}");
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    r = oreq("PATCH", id, suffix, NULL, NULL, "{\"line_total_cents\":1}");
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    snprintf(body, sizeof body, "{\"product_id\":%" PRId64 ",\"quantity\":1,\"foo\":2}", p2);
    r = oreq("POST", id, "/lines", NULL, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    r = oreq("POST", id, "/lines", NULL, NULL, "{\"quantity\":1}");
    expect_field(r, 422, "product_id");
    itest_free(r);
    snprintf(body, sizeof body, "{\"product_id\":%" PRId64 ",\"quantity\":1000001}", p2);
    r = oreq("POST", id, "/lines", NULL, NULL, body);
    expect_field(r, 422, "quantity");
    itest_free(r);
    snprintf(body, sizeof body, "{\"product_id\":%" PRId64 ",\"quantity\":1}", usd);
    r = oreq("POST", id, "/lines", NULL, NULL, body);
    expect_field(r, 422, "product_id");
    itest_free(r);
    snprintf(body, sizeof body, "{\"product_id\":%" PRId64 ",\"quantity\":1}", p2);
    r = oreq("POST", id + 1000000000LL, "/lines", NULL, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    assert_order(id, "draft", 4, 5100, 2);

    /* DELETE the line: 204 with the order's new version. */
    r = oreq("DELETE", id, suffix, NULL, NULL, NULL);
    ITEST_ASSERT_STATUS(r, 204);
    ck_assert_msg(r->body_len == 0, "%s", itest_describe(r));
    ck_assert_msg(itest_etag_version(r) == 5, "DELETE line ETag: %s", itest_describe(r));
    itest_free(r);
    r = oreq("GET", id, suffix, NULL, NULL, NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    r = oreq("DELETE", id, suffix, NULL, NULL, NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    assert_order(id, "draft", 5, 100, 1);

    /* PUT replaces every line. */
    char ls[256];
    lines2(ls, sizeof ls, p2, 1, p3, 2);
    snprintf(body, sizeof body, "{\"lines\":%s}", ls);
    r = oreq("PUT", id, "/lines", NULL, NULL, body);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_etag_version(r), 6);
    ck_assert_int_eq(itest_jint(r->json, "line_count"), 2);
    ck_assert_int_eq(itest_jint(r->json, "total_cents"), 250 + 2000);
    json_object *all = lines_of(r);
    for (size_t i = 0; i < json_object_array_length(all); i++)
        ck_assert_int_ne(itest_jint(json_object_array_get_idx(all, i), "product_id"), p1);
    itest_free(r);
    /* A bad entry: 422 naming it, nothing replaced. */
    snprintf(body, sizeof body,
             "{\"lines\":[{\"product_id\":%" PRId64 ",\"quantity\":1},{\"product_id\":%" PRId64
             ",\"quantity\":0}]}",
             p1, p1);
    r = oreq("PUT", id, "/lines", NULL, NULL, body);
    expect_field(r, 422, "lines[1].quantity");
    itest_free(r);
    snprintf(body, sizeof body,
             "{\"lines\":[{\"product_id\":%" PRId64 ",\"quantity\":1,\"unit_price_cents\":1}]}",
             p1);
    r = oreq("PUT", id, "/lines", NULL, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    snprintf(body, sizeof body, "{\"lines\":[{\"product_id\":%" PRId64 ",\"quantity\":1}]}", usd);
    r = oreq("PUT", id, "/lines", NULL, NULL, body);
    expect_field(r, 422, "lines[0].product_id");
    itest_free(r);
    assert_order(id, "draft", 6, 2250, 2);
    /* [] empties the order. */
    r = oreq("PUT", id, "/lines", NULL, NULL, "{\"lines\":[]}");
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_jint(r->json, "line_count"), 0);
    ck_assert_int_eq(itest_jint(r->json, "total_cents"), 0);
    ck_assert_uint_eq(json_object_array_length(lines_of(r)), 0);
    ck_assert_int_eq(itest_etag_version(r), 7);
    itest_free(r);
    assert_order(id, "draft", 7, 0, 0);
}
END_TEST

/* Every route that changes an order: a stale If-Match is a 412 and changes
   nothing; the current one works. */
START_TEST(test_if_match_everywhere)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t p = itest_new_product(100, "EUR", NULL);
    int64_t p2 = itest_new_product(300, "EUR", NULL);
    int64_t id = draft_with(cust, p, 1);
    char body[256], suffix[64];
    itest_resp *r = get_order(id);
    int64_t lid = itest_jint(line_for(r, p), "id");
    itest_free(r);
    line_suffix(suffix, sizeof suffix, lid);
    snprintf(body, sizeof body, "{\"product_id\":%" PRId64 ",\"quantity\":1}", p2);

    struct {
        const char *method;
        const char *suffix;
        const char *body;
        long ok;
    } steps[] = {
        { "PATCH", NULL, "{\"note\":\"n\"}", 200 },
        { "POST", "/lines", body, 201 },
        { "PATCH", suffix, "{\"quantity\":2}", 200 },
        { "PUT", "/lines", NULL, 200 }, /* body set below */
    };
    char put_body[256];
    snprintf(put_body, sizeof put_body,
             "{\"lines\":[{\"product_id\":%" PRId64 ",\"quantity\":3},{\"product_id\":%" PRId64
             ",\"quantity\":1}]}",
             p, p2);
    steps[3].body = put_body;
    long v = 1;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        r = oreq(steps[i].method, id, steps[i].suffix, "\"999\"", NULL, steps[i].body);
        ck_assert_msg(r->status == 412, "%s %s with a stale If-Match: %s", steps[i].method,
                      str_or(steps[i].suffix), itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 412);
        itest_free(r);
        ck_assert_int_eq(order_version(id), v);
        char cur[32];
        snprintf(cur, sizeof cur, "\"%ld\"", v);
        r = oreq(steps[i].method, id, steps[i].suffix, cur, NULL, steps[i].body);
        ck_assert_msg(r->status == steps[i].ok, "%s %s with If-Match %s: %s", steps[i].method,
                      str_or(steps[i].suffix), cur, itest_describe(r));
        v++;
        ck_assert_msg(itest_etag_version(r) == v, "ETag after %s %s: %s", steps[i].method,
                      str_or(steps[i].suffix), itest_describe(r));
        itest_free(r);
    }
    /* DELETE a line (of the replaced set). */
    r = get_order(id);
    lid = itest_jint(line_for(r, p2), "id");
    itest_free(r);
    line_suffix(suffix, sizeof suffix, lid);
    r = oreq("DELETE", id, suffix, "\"1\"", NULL, NULL);
    ITEST_ASSERT_PROBLEM(r, 412);
    itest_free(r);
    assert_order(id, "draft", v, 600, 2);
    char cur[32];
    snprintf(cur, sizeof cur, "\"%ld\"", v);
    r = oreq("DELETE", id, suffix, cur, NULL, NULL);
    ITEST_ASSERT_STATUS(r, 204);
    v++;
    ck_assert_int_eq(itest_etag_version(r), v);
    itest_free(r);

    /* The actions. */
    static const char *const acts[] = { "confirm", "fulfill" };
    static const char *const after[] = { "confirmed", "fulfilled" };
    for (size_t i = 0; i < 2; i++) {
        r = action(id, acts[i], "\"1\"", NULL);
        ck_assert_msg(r->status == 412, "%s with a stale If-Match: %s", acts[i], itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 412);
        itest_free(r);
        ck_assert_int_eq(order_version(id), v);
        snprintf(cur, sizeof cur, "\"%ld\"", v);
        r = action(id, acts[i], cur, NULL);
        ITEST_ASSERT_STATUS(r, 200);
        ck_assert_str_eq(str_or(itest_jstr(r->json, "status")), after[i]);
        v++;
        ck_assert_int_eq(itest_etag_version(r), v);
        itest_free(r);
    }
    int64_t c = draft_with(cust, p, 1);
    r = action(c, "cancel", "\"2\"", NULL);
    ITEST_ASSERT_PROBLEM(r, 412);
    itest_free(r);
    assert_order(c, "draft", 1, 100, 1);
    r = action(c, "cancel", "\"1\"", NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_str_eq(str_or(itest_jstr(r->json, "status")), "cancelled");
    ck_assert_int_eq(itest_etag_version(r), 2);
    itest_free(r);
}
END_TEST

START_TEST(test_idempotent_lines_and_actions)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t p = itest_new_product(100, "EUR", "\"stock\":10");
    int64_t p2 = itest_new_product(200, "EUR", NULL);
    int64_t id = draft_with(cust, p, 2);
    char word[40], key[96], body[128];
    itest_unique_word(word, sizeof word);
    snprintf(key, sizeof key, "line-%s", word);
    snprintf(body, sizeof body, "{\"product_id\":%" PRId64 ",\"quantity\":1}", p2);
    itest_resp *a = oreq("POST", id, "/lines", NULL, key, body);
    ITEST_ASSERT_STATUS(a, 201);
    assert_replayed(a, 0);
    itest_resp *b = oreq("POST", id, "/lines", NULL, key, body);
    ITEST_ASSERT_STATUS(b, 201);
    assert_replayed(b, 1);
    const char *la = itest_header_get(a, "Location"), *lb = itest_header_get(b, "Location");
    ck_assert_msg(la && lb && strcmp(la, lb) == 0, "replayed Location differs: %s / %s", str_or(la),
                  str_or(lb));
    ck_assert_msg(a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0,
                  "replayed body differs: %s / %s", a->body, b->body);
    itest_free(a);
    itest_free(b);
    assert_order(id, "draft", 2, 400, 2);
    snprintf(body, sizeof body, "{\"product_id\":%" PRId64 ",\"quantity\":2}", p2);
    b = oreq("POST", id, "/lines", NULL, key, body);
    ITEST_ASSERT_PROBLEM(b, 422);
    itest_free(b);
    assert_order(id, "draft", 2, 400, 2);

    /* A retried confirm replays its answer and reserves once. */
    snprintf(key, sizeof key, "confirm-%s", word);
    a = action(id, "confirm", NULL, key);
    ITEST_ASSERT_STATUS(a, 200);
    assert_replayed(a, 0);
    ck_assert_int_eq(stock_of(p), 8);
    long pv = product_version(p);
    b = action(id, "confirm", NULL, key);
    ITEST_ASSERT_STATUS(b, 200);
    assert_replayed(b, 1);
    ck_assert_str_eq(str_or(itest_jstr(b->json, "status")), "confirmed");
    ck_assert_msg(a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0,
                  "replayed body differs: %s / %s", a->body, b->body);
    itest_free(a);
    itest_free(b);
    ck_assert_int_eq(stock_of(p), 8);
    ck_assert_int_eq(product_version(p), pv);
    assert_order(id, "confirmed", 3, 400, 2);
    /* Without the key it is a second confirm. */
    b = action(id, "confirm", NULL, NULL);
    ITEST_ASSERT_PROBLEM_TYPE(b, 409, "/problems/invalid-transition");
    itest_free(b);
    /* The same for cancel. */
    snprintf(key, sizeof key, "cancel-%s", word);
    a = action(id, "cancel", NULL, key);
    ITEST_ASSERT_STATUS(a, 200);
    ck_assert_int_eq(stock_of(p), 10);
    b = action(id, "cancel", NULL, key);
    ITEST_ASSERT_STATUS(b, 200);
    assert_replayed(b, 1);
    itest_free(a);
    itest_free(b);
    ck_assert_int_eq(stock_of(p), 10);
    assert_order(id, "cancelled", 4, 400, 2);
}
END_TEST

/* ---- states ------------------------------------------------------------------------------- */

START_TEST(test_transitions_allowed)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t p = itest_new_product(100, "EUR", NULL);
    int64_t a = draft_with(cust, p, 1);
    itest_resp *r = action(a, "confirm", NULL, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_str_eq(str_or(itest_jstr(r->json, "status")), "confirmed");
    ck_assert_msg(iso_time(itest_jstr(r->json, "confirmed_at")), "%s", itest_describe(r));
    ck_assert_msg(itest_jnull(r->json, "fulfilled_at") && itest_jnull(r->json, "cancelled_at"),
                  "%s", itest_describe(r));
    ck_assert_int_eq(itest_etag_version(r), 2);
    ck_assert_int_eq(itest_jint(r->json, "version"), 2);
    ck_assert_int_eq(itest_jint(r->json, "total_cents"), 100);
    ck_assert_uint_eq(json_object_array_length(lines_of(r)), 1);
    char *confirmed_at = strdup(str_or(itest_jstr(r->json, "confirmed_at")));
    itest_free(r);
    r = action(a, "fulfill", NULL, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_str_eq(str_or(itest_jstr(r->json, "status")), "fulfilled");
    ck_assert_msg(iso_time(itest_jstr(r->json, "fulfilled_at")), "%s", itest_describe(r));
    ck_assert_str_eq(str_or(itest_jstr(r->json, "confirmed_at")), confirmed_at);
    ck_assert_msg(itest_jnull(r->json, "cancelled_at"), "%s", itest_describe(r));
    ck_assert_int_eq(itest_etag_version(r), 3);
    itest_free(r);
    free(confirmed_at);
    assert_order(a, "fulfilled", 3, 100, 1);

    int64_t b = draft_with(cust, p, 1);
    r = action(b, "cancel", NULL, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_str_eq(str_or(itest_jstr(r->json, "status")), "cancelled");
    ck_assert_msg(iso_time(itest_jstr(r->json, "cancelled_at")), "%s", itest_describe(r));
    ck_assert_msg(itest_jnull(r->json, "confirmed_at") && itest_jnull(r->json, "fulfilled_at"),
                  "%s", itest_describe(r));
    ck_assert_int_eq(itest_etag_version(r), 2);
    itest_free(r);

    int64_t c = draft_with(cust, p, 1);
    act_ok(c, "confirm", "confirmed");
    r = action(c, "cancel", NULL, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_str_eq(str_or(itest_jstr(r->json, "status")), "cancelled");
    ck_assert_msg(iso_time(itest_jstr(r->json, "cancelled_at")) &&
                      iso_time(itest_jstr(r->json, "confirmed_at")),
                  "%s", itest_describe(r));
    ck_assert_msg(itest_jnull(r->json, "fulfilled_at"), "%s", itest_describe(r));
    ck_assert_int_eq(itest_etag_version(r), 3);
    itest_free(r);
    assert_order(c, "cancelled", 3, 100, 1);
}
END_TEST

START_TEST(test_transitions_forbidden)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t p = itest_new_product(100, "EUR", NULL);
    struct {
        const char *state;
        const char *act;
        const char *const *allowed;
    } cases[] = {
        { "confirmed", "confirm", ALLOWED_CONFIRMED }, { "fulfilled", "confirm", ALLOWED_NONE },
        { "cancelled", "confirm", ALLOWED_NONE },      { "draft", "fulfill", ALLOWED_DRAFT },
        { "fulfilled", "fulfill", ALLOWED_NONE },      { "cancelled", "fulfill", ALLOWED_NONE },
        { "fulfilled", "cancel", ALLOWED_NONE },       { "cancelled", "cancel", ALLOWED_NONE },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t id = order_in(cust, p, cases[i].state);
        long v = order_version(id);
        itest_resp *r = action(id, cases[i].act, NULL, NULL);
        ck_assert_msg(r->status == 409, "%s of a %s order: %s", cases[i].act, cases[i].state,
                      itest_describe(r));
        ITEST_ASSERT_PROBLEM_TYPE(r, 409, "/problems/invalid-transition");
        assert_allowed(r, cases[i].state, cases[i].allowed);
        itest_free(r);
        assert_order(id, cases[i].state, v, 100, 1);
    }
    /* Unknown actions and orders. */
    int64_t id = order_in(cust, p, "draft");
    itest_resp *r = action(id + 1000000000LL, "confirm", NULL, NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    r = action(id, "ship", NULL, NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    assert_order(id, "draft", 1, 100, 1);
}
END_TEST

START_TEST(test_not_draft)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t p = itest_new_product(100, "EUR", NULL);
    static const char *const states[] = { "confirmed", "fulfilled", "cancelled" };
    static const char *const *const allowed[] = { ALLOWED_CONFIRMED, ALLOWED_NONE, ALLOWED_NONE };
    for (size_t s = 0; s < 3; s++) {
        int64_t id = order_in(cust, p, states[s]);
        long v = order_version(id);
        itest_resp *r = get_order(id);
        int64_t lid = itest_jint(line_for(r, p), "id");
        itest_free(r);
        char suffix[64], line_body[128], put_body[160];
        line_suffix(suffix, sizeof suffix, lid);
        snprintf(line_body, sizeof line_body, "{\"product_id\":%" PRId64 ",\"quantity\":1}", p);
        snprintf(put_body, sizeof put_body, "{\"lines\":[%s]}", line_body);
        struct {
            const char *method;
            const char *suffix;
            const char *body;
        } edits[] = {
            { "PATCH", NULL, "{\"note\":\"late\"}" },
            { "POST", "/lines", line_body },
            { "PUT", "/lines", put_body },
            { "PATCH", suffix, "{\"quantity\":4}" },
            { "DELETE", suffix, NULL },
        };
        for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
            r = oreq(edits[i].method, id, edits[i].suffix, NULL, NULL, edits[i].body);
            ck_assert_msg(r->status == 409, "%s %s of a %s order: %s", edits[i].method,
                          str_or(edits[i].suffix), states[s], itest_describe(r));
            ITEST_ASSERT_PROBLEM_TYPE(r, 409, "/problems/order-not-draft");
            assert_allowed(r, states[s], allowed[s]);
            itest_free(r);
        }
        assert_order(id, states[s], v, 100, 1);
        /* Reading a line still works. */
        r = oreq("GET", id, suffix, NULL, NULL, NULL);
        ITEST_ASSERT_STATUS(r, 200);
        itest_free(r);
    }
}
END_TEST

START_TEST(test_empty_order)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t id = itest_new_order(cust, NULL, "\"currency\":\"EUR\"");
    itest_resp *r = action(id, "confirm", NULL, NULL);
    ITEST_ASSERT_PROBLEM_TYPE(r, 409, "/problems/empty-order");
    itest_free(r);
    assert_order(id, "draft", 1, 0, 0);
    /* Emptied by PUT []: the same. */
    int64_t p = itest_new_product(100, "EUR", "\"stock\":3");
    int64_t id2 = draft_with(cust, p, 1);
    r = oreq("PUT", id2, "/lines", NULL, NULL, "{\"lines\":[]}");
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    r = action(id2, "confirm", NULL, NULL);
    ITEST_ASSERT_PROBLEM_TYPE(r, 409, "/problems/empty-order");
    itest_free(r);
    ck_assert_int_eq(stock_of(p), 3);
    /* An empty draft can still be cancelled. */
    act_ok(id, "cancel", "cancelled");
}
END_TEST

/* ---- stock -------------------------------------------------------------------------------- */

START_TEST(test_stock_confirm_reduces)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t p = itest_new_product(100, "EUR", "\"stock\":10");
    int64_t id = draft_with(cust, p, 3);
    ck_assert_int_eq(stock_of(p), 10); /* a draft reserves nothing */
    long pv = product_version(p);
    act_ok(id, "confirm", "confirmed");
    ck_assert_int_eq(stock_of(p), 7);
    ck_assert_msg(product_version(p) == pv + 1, "the stock change did not bump the version");
    act_ok(id, "fulfill", "fulfilled");
    ck_assert_int_eq(stock_of(p), 7);
    /* Exactly what is on hand is enough. */
    int64_t id2 = draft_with(cust, p, 7);
    act_ok(id2, "confirm", "confirmed");
    ck_assert_int_eq(stock_of(p), 0);
}
END_TEST

START_TEST(test_stock_insufficient)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t a = itest_new_product(100, "EUR", "\"stock\":5");
    int64_t b = itest_new_product(200, "EUR", "\"stock\":1");
    char *sku_b = product_str(b, "sku");
    char ls[256];
    lines2(ls, sizeof ls, a, 2, b, 3);
    itest_resp *r = itest_create_order(cust, ls, NULL, NULL);
    ITEST_ASSERT_STATUS(r, 201);
    int64_t id = itest_jint(r->json, "id");
    int64_t line_b = itest_jint(line_for(r, b), "id");
    itest_free(r);
    long va = product_version(a), vb = product_version(b);

    r = action(id, "confirm", NULL, NULL);
    ITEST_ASSERT_PROBLEM_TYPE(r, 409, "/problems/insufficient-stock");
    json_object *sl = itest_jget(r->json, "short_lines");
    ck_assert_msg(sl && json_object_is_type(sl, json_type_array) &&
                      json_object_array_length(sl) == 1,
                  "want one short line: %s", itest_describe(r));
    json_object *s = json_object_array_get_idx(sl, 0);
    ck_assert_int_eq(itest_jint(s, "line_id"), line_b);
    ck_assert_int_eq(itest_jint(s, "product_id"), b);
    ck_assert_str_eq(str_or(itest_jstr(s, "sku")), sku_b);
    ck_assert_int_eq(itest_jint(s, "requested"), 3);
    ck_assert_int_eq(itest_jint(s, "available"), 1);
    itest_free(r);
    /* Nothing changed: neither product, nor the order. */
    ck_assert_int_eq(stock_of(a), 5);
    ck_assert_int_eq(stock_of(b), 1);
    ck_assert_int_eq(product_version(a), va);
    ck_assert_int_eq(product_version(b), vb);
    assert_order(id, "draft", 1, 800, 2);

    /* Restocked, it goes through. */
    patch_product(b, "{\"stock\":3}");
    act_ok(id, "confirm", "confirmed");
    ck_assert_int_eq(stock_of(a), 3);
    ck_assert_int_eq(stock_of(b), 0);
    free(sku_b);
}
END_TEST

START_TEST(test_stock_same_product_summed)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t p = itest_new_product(100, "EUR", "\"stock\":5");
    char ls[256];
    lines2(ls, sizeof ls, p, 3, p, 3);
    itest_resp *r = itest_create_order(cust, ls, NULL, NULL);
    ITEST_ASSERT_STATUS(r, 201);
    int64_t id = itest_jint(r->json, "id");
    json_object *lines = lines_of(r);
    ck_assert_uint_eq(json_object_array_length(lines), 2);
    int64_t first = itest_jint(json_object_array_get_idx(lines, 0), "id");
    int64_t second = itest_jint(json_object_array_get_idx(lines, 1), "id");
    itest_free(r);
    /* 3 + 3 > 5 although each line alone fits. */
    r = action(id, "confirm", NULL, NULL);
    ITEST_ASSERT_PROBLEM_TYPE(r, 409, "/problems/insufficient-stock");
    json_object *sl = itest_jget(r->json, "short_lines");
    /* One entry per short product: its first line, all its lines, the sum. */
    ck_assert_msg(sl && json_object_is_type(sl, json_type_array) &&
                      json_object_array_length(sl) == 1,
                  "%s", itest_describe(r));
    json_object *s0 = json_object_array_get_idx(sl, 0);
    ck_assert_int_eq(itest_jint(s0, "product_id"), p);
    ck_assert_int_eq(itest_jint(s0, "available"), 5);
    ck_assert_int_eq(itest_jint(s0, "requested"), 6);
    ck_assert_int_eq(itest_jint(s0, "line_id"), first);
    json_object *ids = itest_jget(s0, "line_ids");
    ck_assert_msg(ids && json_object_is_type(ids, json_type_array) &&
                      json_object_array_length(ids) == 2,
                  "%s", itest_describe(r));
    ck_assert_int_eq(json_object_get_int64(json_object_array_get_idx(ids, 0)), first);
    ck_assert_int_eq(json_object_get_int64(json_object_array_get_idx(ids, 1)), second);
    itest_free(r);
    ck_assert_int_eq(stock_of(p), 5);
    assert_order(id, "draft", 1, 600, 2);
    /* 3 + 2 fits exactly. */
    char suffix[64];
    line_suffix(suffix, sizeof suffix, second);
    r = oreq("PATCH", id, suffix, NULL, NULL, "{\"quantity\":2}");
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    act_ok(id, "confirm", "confirmed");
    ck_assert_int_eq(stock_of(p), 0);
}
END_TEST

START_TEST(test_stock_untracked)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t free_p = itest_new_product(1, "EUR", NULL);
    int64_t zero = itest_new_product(1, "EUR", "\"stock\":0");
    int64_t id = draft_with(cust, free_p, 1000000);
    act_ok(id, "confirm", "confirmed");
    ck_assert_int_eq(stock_of(free_p), -1);
    /* Next to a tracked product that is short, only that one is listed. */
    char ls[256];
    lines2(ls, sizeof ls, free_p, 5, zero, 1);
    int64_t id2 = itest_new_order(cust, ls, NULL);
    itest_resp *r = action(id2, "confirm", NULL, NULL);
    ITEST_ASSERT_PROBLEM_TYPE(r, 409, "/problems/insufficient-stock");
    json_object *sl = itest_jget(r->json, "short_lines");
    ck_assert_msg(sl && json_object_array_length(sl) == 1 &&
                      itest_jint(json_object_array_get_idx(sl, 0), "product_id") == zero &&
                      itest_jint(json_object_array_get_idx(sl, 0), "available") == 0 &&
                      itest_jint(json_object_array_get_idx(sl, 0), "requested") == 1,
                  "%s", itest_describe(r));
    itest_free(r);
    /* Untracking the short one lets it through; cancelling returns nothing. */
    patch_product(zero, "{\"stock\":null}");
    act_ok(id2, "confirm", "confirmed");
    act_ok(id2, "cancel", "cancelled");
    ck_assert_int_eq(stock_of(zero), -1);
    ck_assert_int_eq(stock_of(free_p), -1);
}
END_TEST

START_TEST(test_stock_cancel)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t p = itest_new_product(100, "EUR", "\"stock\":10");
    int64_t id = draft_with(cust, p, 4);
    act_ok(id, "confirm", "confirmed");
    ck_assert_int_eq(stock_of(p), 6);
    /* A stock count in between: cancelling adds back what was reserved. */
    patch_product(p, "{\"stock\":8}");
    long pv = product_version(p);
    act_ok(id, "cancel", "cancelled");
    ck_assert_int_eq(stock_of(p), 12);
    ck_assert_int_eq(product_version(p), pv + 1);
    /* Cancelling a draft touches no stock. */
    int64_t q = itest_new_product(100, "EUR", "\"stock\":10");
    int64_t d = draft_with(cust, q, 4);
    long qv = product_version(q);
    act_ok(d, "cancel", "cancelled");
    ck_assert_int_eq(stock_of(q), 10);
    ck_assert_int_eq(product_version(q), qv);
    /* A fulfilled order keeps its stock taken. */
    int64_t f = draft_with(cust, q, 3);
    act_ok(f, "confirm", "confirmed");
    act_ok(f, "fulfill", "fulfilled");
    itest_resp *r = action(f, "cancel", NULL, NULL);
    ITEST_ASSERT_PROBLEM(r, 409);
    itest_free(r);
    ck_assert_int_eq(stock_of(q), 7);
}
END_TEST

/* ---- money -------------------------------------------------------------------------------- */

START_TEST(test_money_limits)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t max = itest_new_product(MAX_SAFE, "EUR", NULL);
    char ls[256];
    /* One unit at the largest price fits exactly. */
    lines1(ls, sizeof ls, max, 1);
    itest_resp *r = itest_create_order(cust, ls, NULL, NULL);
    ITEST_ASSERT_STATUS(r, 201);
    ck_assert_msg(itest_jint(r->json, "total_cents") == MAX_SAFE, "%s", itest_describe(r));
    itest_free(r);
    /* Two do not: the line itself would exceed 2^53-1. */
    lines1(ls, sizeof ls, max, 2);
    r = itest_create_order(cust, ls, NULL, NULL);
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_msg(problem_field_prefix(r, "lines[0]"), "the 422 does not name the line: %s",
                  itest_describe(r));
    itest_free(r);

    /* Lines that each fit but whose sum does not. */
    int64_t half = itest_new_product(P52, "EUR", NULL);
    lines2(ls, sizeof ls, half, 1, half, 1);
    r = itest_create_order(cust, ls, NULL, NULL);
    expect_field(r, 422, "lines");
    itest_free(r);
    lines2(ls, sizeof ls, half, 1, max, 1);
    r = itest_create_order(cust, ls, NULL, NULL);
    expect_field(r, 422, "lines");
    itest_free(r);

    /* An order at 2^52: a line pushing it over is refused, unchanged. */
    int64_t id = draft_with(cust, half, 1);
    char body[512];
    snprintf(body, sizeof body, "{\"product_id\":%" PRId64 ",\"quantity\":1}", half);
    r = oreq("POST", id, "/lines", NULL, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 422);
    itest_free(r);
    assert_order(id, "draft", 1, P52, 1);
    /* So are a quantity change and a replacement doing the same. */
    r = get_order(id);
    int64_t lid = itest_jint(line_for(r, half), "id");
    itest_free(r);
    char suffix[64];
    line_suffix(suffix, sizeof suffix, lid);
    r = oreq("PATCH", id, suffix, NULL, NULL, "{\"quantity\":2}");
    ITEST_ASSERT_PROBLEM(r, 422);
    itest_free(r);
    snprintf(body, sizeof body, "{\"lines\":%s}", ls);
    r = oreq("PUT", id, "/lines", NULL, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 422);
    itest_free(r);
    assert_order(id, "draft", 1, P52, 1);
    /* Just below the limit is fine. */
    int64_t rest = itest_new_product(P52 - 1, "EUR", NULL);
    snprintf(body, sizeof body, "{\"product_id\":%" PRId64 ",\"quantity\":1}", rest);
    r = oreq("POST", id, "/lines", NULL, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    ck_assert_msg(itest_jint(r->json, "total_cents") == MAX_SAFE, "%s", itest_describe(r));
    itest_free(r);
}
END_TEST

/* ---- lists -------------------------------------------------------------------------------- */

static json_object *items_of(const itest_resp *r)
{
    json_object *items = itest_jget(r->json, "items");
    ck_assert_msg(items != NULL && json_object_is_type(items, json_type_array),
                  "list without items array: %s", itest_describe(r));
    return items;
}

static const char *next_cursor(const itest_resp *r)
{
    json_object *nc = NULL;
    ck_assert_msg(json_object_object_get_ex(r->json, "next_cursor", &nc),
                  "list without next_cursor: %s", itest_describe(r));
    ck_assert_msg(nc == NULL || json_object_is_type(nc, json_type_string),
                  "next_cursor neither string nor null: %s", itest_describe(r));
    return nc ? json_object_get_string(nc) : NULL;
}

/* Ids of GET ITEST_ORDERS?query in order, following next_cursor. */
static size_t list_all(const char *query, int64_t *ids, size_t max, int *pages)
{
    size_t n = 0;
    char *cursor = NULL;
    for (int page = 0; page < 60; page++) {
        char path[1024];
        snprintf(path, sizeof path, ITEST_ORDERS "?%s%s%s", query, cursor ? "&cursor=" : "",
                 cursor ? cursor : "");
        free(cursor);
        cursor = NULL;
        itest_resp *r = itest_get(path, NULL);
        ITEST_ASSERT_STATUS(r, 200);
        json_object *items = items_of(r);
        for (size_t i = 0; i < json_object_array_length(items); i++) {
            ck_assert_msg(n < max, "more than %zu rows for %s", max, query);
            json_object *it = json_object_array_get_idx(items, i);
            ck_assert_msg(itest_jget(it, "lines") == NULL && itest_jint(it, "line_count") >= 0,
                          "list items carry line_count, not lines: %s", itest_describe(r));
            ids[n++] = itest_jint(it, "id");
        }
        const char *nc = next_cursor(r);
        if (nc != NULL)
            cursor = itest_urlencode(nc);
        itest_free(r);
        if (cursor == NULL) {
            if (pages)
                *pages = page + 1;
            return n;
        }
    }
    ck_abort_msg("list %s did not end after 60 pages", query);
    return n;
}

/* Assert GET ?query lists exactly want, in this order. */
static void assert_list(const char *query, const int64_t *want, size_t n_want)
{
    int64_t got[MAX_IDS];
    size_t n = list_all(query, got, MAX_IDS, NULL);
    char msg[512] = "";
    size_t off = 0;
    for (size_t i = 0; i < n && off + 24 < sizeof msg; i++)
        off += (size_t)snprintf(msg + off, sizeof msg - off, " %" PRId64, got[i]);
    ck_assert_msg(n == n_want, "?%s: %zu rows, want %zu (got%s)", query, n, n_want, msg);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "?%s: row %zu is %" PRId64 ", want %" PRId64 " (got%s)",
                      query, i, got[i], want[i], msg);
}

START_TEST(test_list_filters)
{
    int64_t cust = itest_new_customer(NULL), other = itest_new_customer(NULL);
    int64_t p = itest_new_product(100, "EUR", NULL);
    int64_t campaign = 1000000000LL + (int64_t)(itest_now() * 1000) % 1000000000LL;
    char extra[64], ls[128];
    snprintf(extra, sizeof extra, "\"campaign_id\":%" PRId64, campaign);
    lines1(ls, sizeof ls, p, 1);
    int64_t a = itest_new_order(cust, ls, extra);  /* draft, campaign */
    int64_t b = itest_new_order(cust, ls, NULL);   /* confirmed */
    int64_t c = itest_new_order(cust, ls, extra);  /* cancelled, campaign */
    int64_t d = itest_new_order(cust, ls, NULL);   /* fulfilled */
    int64_t e = itest_new_order(other, ls, extra); /* other customer, campaign */
    act_ok(b, "confirm", "confirmed");
    act_ok(c, "cancel", "cancelled");
    act_ok(d, "confirm", "confirmed");
    act_ok(d, "fulfill", "fulfilled");

    char q[512], yesterday[16], tomorrow[16], past[16];
    itest_utc_date(yesterday, sizeof yesterday, -1);
    itest_utc_date(tomorrow, sizeof tomorrow, 1);
    itest_utc_date(past, sizeof past, -2);
    snprintf(q, sizeof q, "customer=%" PRId64, cust);
    assert_list(q, (int64_t[]){ d, c, b, a }, 4); /* newest first */
    snprintf(q, sizeof q, "customer=%" PRId64 "&sort=created_at", cust);
    assert_list(q, (int64_t[]){ a, b, c, d }, 4);
    snprintf(q, sizeof q, "customer=%" PRId64 "&sort=-created_at", cust);
    assert_list(q, (int64_t[]){ d, c, b, a }, 4);
    static const char *const st[] = { "draft", "confirmed", "cancelled", "fulfilled" };
    int64_t by_status[] = { a, b, c, d };
    for (size_t i = 0; i < 4; i++) {
        snprintf(q, sizeof q, "customer=%" PRId64 "&status=%s", cust, st[i]);
        assert_list(q, &by_status[i], 1);
    }
    snprintf(q, sizeof q, "campaign=%" PRId64 "&sort=created_at", campaign);
    assert_list(q, (int64_t[]){ a, c, e }, 3);
    snprintf(q, sizeof q, "campaign=%" PRId64 "&customer=%" PRId64 "&status=cancelled", campaign,
             cust);
    assert_list(q, (int64_t[]){ c }, 1);
    snprintf(q, sizeof q, "customer=%" PRId64, other);
    assert_list(q, (int64_t[]){ e }, 1);
    /* Dates are inclusive days of created_at. */
    snprintf(q, sizeof q, "customer=%" PRId64 "&from=%s&to=%s&sort=created_at", cust, yesterday,
             tomorrow);
    assert_list(q, (int64_t[]){ a, b, c, d }, 4);
    snprintf(q, sizeof q, "customer=%" PRId64 "&from=%s", cust, yesterday);
    assert_list(q, (int64_t[]){ d, c, b, a }, 4);
    snprintf(q, sizeof q, "customer=%" PRId64 "&to=%s", cust, past);
    assert_list(q, NULL, 0);
    snprintf(q, sizeof q, "customer=%" PRId64 "&from=2000-01-01&to=2000-12-31", cust);
    assert_list(q, NULL, 0);
    snprintf(q, sizeof q, "customer=%" PRId64 "&from=%s&to=%s", cust, tomorrow, tomorrow);
    assert_list(q, NULL, 0);
}
END_TEST

START_TEST(test_list_paging)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t made[7];
    for (int i = 0; i < 7; i++)
        made[i] = itest_new_order(cust, NULL, "\"currency\":\"EUR\"");
    char q[256];
    int64_t ids[MAX_IDS];
    int pages = 0;
    snprintf(q, sizeof q, "customer=%" PRId64 "&limit=3", cust);
    size_t n = list_all(q, ids, MAX_IDS, &pages);
    ck_assert_uint_eq(n, 7);
    ck_assert_int_eq(pages, 3);
    for (int i = 0; i < 7; i++)
        ck_assert_msg(ids[i] == made[6 - i], "position %d is %" PRId64 ", want %" PRId64, i, ids[i],
                      made[6 - i]);
    snprintf(q, sizeof q, "customer=%" PRId64 "&limit=2&sort=created_at", cust);
    n = list_all(q, ids, MAX_IDS, &pages);
    ck_assert_uint_eq(n, 7);
    ck_assert_int_eq(pages, 4);
    for (int i = 0; i < 7; i++)
        ck_assert_msg(ids[i] == made[i], "ascending position %d is %" PRId64, i, ids[i]);
    /* count=true */
    char path[512];
    snprintf(path, sizeof path, ITEST_ORDERS "?customer=%" PRId64 "&limit=2&count=true", cust);
    itest_resp *r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_msg(itest_jint(r->json, "count") == 7, "count: %s", itest_describe(r));
    ck_assert_uint_eq(json_object_array_length(items_of(r)), 2);
    ck_assert_msg(next_cursor(r) != NULL, "%s", itest_describe(r));
    itest_free(r);
    snprintf(path, sizeof path, ITEST_ORDERS "?customer=%" PRId64 "&status=confirmed&count=true",
             cust);
    r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_msg(itest_jint(r->json, "count") == 0, "count: %s", itest_describe(r));
    ck_assert_uint_eq(json_object_array_length(items_of(r)), 0);
    ck_assert_msg(next_cursor(r) == NULL, "%s", itest_describe(r));
    itest_free(r);
    r = itest_get(ITEST_ORDERS, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_msg(itest_jget(r->json, "count") == NULL, "count without count=true: %s",
                  itest_describe(r));
    ck_assert_uint_le(json_object_array_length(items_of(r)), 50);
    itest_free(r);
}
END_TEST

START_TEST(test_list_bad_params)
{
    static const char *const bad[] = {
        "from=2026-13-01",
        "from=2026-02-30",
        "from=2026-1-1",
        "from=yesterday",
        "to=20260101",
        "from=2026-03-02&to=2026-03-01",
        "status=open",
        "status=",
        "customer=abc",
        "campaign=-1",
        "limit=0",
        "limit=201",
        "limit=x",
        "sort=total_cents",
        "sort=name",
        "foo=1",
        "cursor=garbage",
        "count=maybe",
        "status=draft&status=confirmed",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, ITEST_ORDERS "?%s", bad[i]);
        itest_resp *r = itest_get(path, NULL);
        ck_assert_msg(r->status == 400, "?%s: %s", bad[i], itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 400);
        itest_free(r);
    }
    itest_resp *r = itest_get(ITEST_ORDERS "?from=2026-03-01&to=2026-03-01&limit=200", NULL);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
}
END_TEST

/* ---- summary ------------------------------------------------------------------------------ */

#define SUMMARY "/api/v1/sales/summary"

/* ymd ("YYYY-MM-DD") moved by days, into out. */
static void date_shift(const char *ymd, int days, char *out, size_t n)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    ck_assert_msg(sscanf(ymd, "%d-%d-%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) == 3,
                  "not a date: %s", ymd);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_hour = 12;
    time_t t = timegm(&tm) + (time_t)days * 86400;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%d", &tm);
}

/* Sum of revenue_cents and orders over the entries of arr for currency. */
static void sum_currency(json_object *arr, const char *currency, int64_t *revenue, int64_t *orders)
{
    *revenue = 0;
    *orders = 0;
    for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        if (strcmp(str_or(itest_jstr(e, "currency")), currency) != 0)
            continue;
        *revenue += itest_jint(e, "revenue_cents");
        *orders += itest_jint(e, "orders");
    }
}

static json_object *top_entry(json_object *top, int64_t pid, const char *currency)
{
    for (size_t i = 0; top && i < json_object_array_length(top); i++) {
        json_object *e = json_object_array_get_idx(top, i);
        if (itest_jint(e, "product_id") == pid &&
            strcmp(str_or(itest_jstr(e, "currency")), currency) == 0)
            return e;
    }
    return NULL;
}

/* GET the summary for yesterday..today with top=100, asserting its shape. */
static itest_resp *summary_now(void)
{
    char y[16], t[16], path[128];
    itest_utc_date(y, sizeof y, -1);
    itest_utc_date(t, sizeof t, 0);
    snprintf(path, sizeof path, SUMMARY "?from=%s&to=%s&top=100", y, t);
    itest_resp *r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    return r;
}

static void assert_summary_shape(const itest_resp *r)
{
    json_object *o = r->json;
    ck_assert_msg(itest_jstr(o, "from") && strlen(itest_jstr(o, "from")) == 10, "from: %s",
                  itest_describe(r));
    ck_assert_msg(itest_jstr(o, "to") && strlen(itest_jstr(o, "to")) == 10, "to: %s",
                  itest_describe(r));
    static const char *const arrays[] = { "revenue", "totals", "top_products" };
    for (size_t i = 0; i < 3; i++) {
        json_object *a = itest_jget(o, arrays[i]);
        ck_assert_msg(a && json_object_is_type(a, json_type_array), "%s is not an array: %s",
                      arrays[i], itest_describe(r));
    }
    json_object *rev = itest_jget(o, "revenue");
    for (size_t i = 0; i < json_object_array_length(rev); i++) {
        json_object *e = json_object_array_get_idx(rev, i);
        ck_assert_msg(itest_jstr(e, "day") && itest_jstr(e, "currency") &&
                          itest_jint(e, "orders") >= 0 && itest_jint(e, "revenue_cents") >= 0,
                      "revenue[%zu]: %s", i, itest_describe(r));
        if (i > 0) {
            json_object *p = json_object_array_get_idx(rev, i - 1);
            int c = strcmp(itest_jstr(p, "day"), itest_jstr(e, "day"));
            ck_assert_msg(c < 0 || (c == 0 && strcmp(itest_jstr(p, "currency"),
                                                     itest_jstr(e, "currency")) < 0),
                          "revenue not sorted by day then currency: %s", itest_describe(r));
        }
    }
    json_object *tot = itest_jget(o, "totals");
    for (size_t i = 0; i < json_object_array_length(tot); i++) {
        json_object *e = json_object_array_get_idx(tot, i);
        ck_assert_msg(itest_jstr(e, "currency") && itest_jint(e, "orders") >= 0 &&
                          itest_jint(e, "revenue_cents") >= 0,
                      "totals[%zu]: %s", i, itest_describe(r));
    }
    json_object *obs = itest_jget(o, "orders_by_status");
    ck_assert_msg(obs && json_object_is_type(obs, json_type_object), "orders_by_status: %s",
                  itest_describe(r));
    static const char *const st[] = { "draft", "confirmed", "fulfilled", "cancelled" };
    for (size_t i = 0; i < 4; i++)
        ck_assert_msg(itest_jint(obs, st[i]) >= 0, "orders_by_status.%s: %s", st[i],
                      itest_describe(r));
    json_object *top = itest_jget(o, "top_products");
    for (size_t i = 0; i < json_object_array_length(top); i++) {
        json_object *e = json_object_array_get_idx(top, i);
        ck_assert_msg(itest_jint(e, "product_id") > 0 && itest_jstr(e, "sku") &&
                          itest_jstr(e, "name") && itest_jstr(e, "currency") &&
                          itest_jint(e, "units") >= 0 && itest_jint(e, "revenue_cents") >= 0,
                      "top_products[%zu]: %s", i, itest_describe(r));
        if (i > 0)
            ck_assert_msg(itest_jint(json_object_array_get_idx(top, i - 1), "revenue_cents") >=
                              itest_jint(e, "revenue_cents"),
                          "top_products not by revenue, highest first: %s", itest_describe(r));
    }
}

START_TEST(test_summary_shape)
{
    char before[16], later[16];
    itest_utc_date(before, sizeof before, 0);
    itest_resp *r = itest_get(SUMMARY, NULL);
    itest_utc_date(later, sizeof later, 0);
    ITEST_ASSERT_STATUS(r, 200);
    ITEST_ASSERT_SECURITY(r);
    assert_summary_shape(r);
    /* Defaults: to today, from 29 days before it, top 10. */
    const char *to = itest_jstr(r->json, "to");
    ck_assert_msg(strcmp(to, before) == 0 || strcmp(to, later) == 0, "to %s is not today", to);
    char want_from[16];
    date_shift(to, -29, want_from, sizeof want_from);
    ck_assert_msg(strcmp(itest_jstr(r->json, "from"), want_from) == 0, "default from %s, want %s",
                  itest_jstr(r->json, "from"), want_from);
    ck_assert_uint_le(json_object_array_length(itest_jget(r->json, "top_products")), 10);
    itest_free(r);

    r = itest_get(SUMMARY "?to=2025-03-31", NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_str_eq(str_or(itest_jstr(r->json, "from")), "2025-03-02");
    ck_assert_str_eq(str_or(itest_jstr(r->json, "to")), "2025-03-31");
    itest_free(r);
    r = itest_get(SUMMARY "?from=2025-01-01&to=2025-01-31&top=1", NULL);
    ITEST_ASSERT_STATUS(r, 200);
    assert_summary_shape(r);
    ck_assert_uint_le(json_object_array_length(itest_jget(r->json, "top_products")), 1);
    itest_free(r);
    /* A long range (3,653 days) is within the limit. */
    r = itest_get(SUMMARY "?from=2015-01-01&to=2024-12-31&top=100", NULL);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    /* A day with no sales: empty lists, zero counts. */
    r = itest_get(SUMMARY "?from=2001-02-03&to=2001-02-03", NULL);
    ITEST_ASSERT_STATUS(r, 200);
    assert_summary_shape(r);
    ck_assert_uint_eq(json_object_array_length(itest_jget(r->json, "revenue")), 0);
    ck_assert_uint_eq(json_object_array_length(itest_jget(r->json, "top_products")), 0);
    ck_assert_int_eq(itest_jint(itest_jget(r->json, "orders_by_status"), "draft"), 0);
    itest_free(r);
}
END_TEST

START_TEST(test_summary_bad_params)
{
    static const char *const bad[] = {
        "from=2026-02-30",
        "from=2026-1-1",
        "to=tomorrow",
        "to=2026-13-01",
        "from=2026-03-02&to=2026-03-01",
        "from=2000-01-01&to=2020-01-01",
        "top=0",
        "top=101",
        "top=-1",
        "top=abc",
        "foo=1",
        "top=5&top=6",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, SUMMARY "?%s", bad[i]);
        itest_resp *r = itest_get(path, NULL);
        ck_assert_msg(r->status == 400, "?%s: %s", bad[i], itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 400);
        itest_free(r);
    }
    itest_resp *r = itest_get(SUMMARY "?top=100", NULL);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
}
END_TEST

START_TEST(test_summary_revenue)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t p = itest_new_product(123456789, SUMMARY_CURRENCY, NULL);
    char *sku = product_str(p, "sku");
    itest_resp *r = summary_now();
    int64_t rev0, n0;
    sum_currency(itest_jget(r->json, "totals"), SUMMARY_CURRENCY, &rev0, &n0);
    json_object *obs0 = itest_jget(r->json, "orders_by_status");
    int64_t confirmed0 = itest_jint(obs0, "confirmed"), cancelled0 = itest_jint(obs0, "cancelled");
    ck_assert_msg(top_entry(itest_jget(r->json, "top_products"), p, SUMMARY_CURRENCY) == NULL,
                  "an unsold product in top_products: %s", itest_describe(r));
    itest_free(r);

    int64_t id = draft_with(cust, p, 3);
    const int64_t total = 3 * 123456789LL;
    act_ok(id, "confirm", "confirmed");
    r = summary_now();
    assert_summary_shape(r);
    int64_t rev1, n1;
    sum_currency(itest_jget(r->json, "totals"), SUMMARY_CURRENCY, &rev1, &n1);
    ck_assert_msg(rev1 - rev0 == total && n1 - n0 == 1,
                  "totals " SUMMARY_CURRENCY " went from %" PRId64 "/%" PRId64 " to %" PRId64
                  "/%" PRId64 ", want +%" PRId64 "/+1: %s",
                  rev0, n0, rev1, n1, total, itest_describe(r));
    int64_t day_rev, day_n;
    sum_currency(itest_jget(r->json, "revenue"), SUMMARY_CURRENCY, &day_rev, &day_n);
    ck_assert_msg(day_rev == rev1 && day_n == n1, "revenue per day does not add up to totals: %s",
                  itest_describe(r));
    json_object *t = top_entry(itest_jget(r->json, "top_products"), p, SUMMARY_CURRENCY);
    ck_assert_msg(t != NULL, "the product is not in top_products: %s", itest_describe(r));
    ck_assert_int_eq(itest_jint(t, "units"), 3);
    ck_assert_int_eq(itest_jint(t, "revenue_cents"), total);
    ck_assert_str_eq(str_or(itest_jstr(t, "sku")), sku);
    json_object *obs1 = itest_jget(r->json, "orders_by_status");
    ck_assert_msg(itest_jint(obs1, "confirmed") >= confirmed0 + 1, "confirmed count: %s",
                  itest_describe(r));
    itest_free(r);

    act_ok(id, "cancel", "cancelled");
    r = summary_now();
    int64_t rev2, n2;
    sum_currency(itest_jget(r->json, "totals"), SUMMARY_CURRENCY, &rev2, &n2);
    ck_assert_msg(rev2 == rev0 && n2 == n0,
                  "after the cancel totals " SUMMARY_CURRENCY " are %" PRId64 "/%" PRId64
                  ", want %" PRId64 "/%" PRId64 ": %s",
                  rev2, n2, rev0, n0, itest_describe(r));
    t = top_entry(itest_jget(r->json, "top_products"), p, SUMMARY_CURRENCY);
    ck_assert_msg(t == NULL || (itest_jint(t, "units") == 0 && itest_jint(t, "revenue_cents") == 0),
                  "a cancelled sale still in top_products: %s", itest_describe(r));
    ck_assert_msg(itest_jint(itest_jget(r->json, "orders_by_status"), "cancelled") >=
                      cancelled0 + 1,
                  "cancelled count: %s", itest_describe(r));
    itest_free(r);
    free(sku);
}
END_TEST

/* ---- routing ------------------------------------------------------------------------------ */

START_TEST(test_not_found)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t id = itest_new_order(cust, NULL, "\"currency\":\"EUR\"");
    char big[128], nope[128];
    order_path(big, sizeof big, id + 1000000000LL, NULL);
    order_path(nope, sizeof nope, id, "/nope");
    const char *paths[] = {
        big,
        nope,
        ITEST_ORDERS "/abc",
        ITEST_ORDERS "/0",
        ITEST_ORDERS "/-3",
        ITEST_ORDERS "/99999999999999999999999",
        ITEST_ORDERS "/1/lines/abc",
        "/api/v1/sales/nope",
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        itest_resp *r = itest_get(paths[i], NULL);
        ck_assert_msg(r->status == 404, "GET %s: %s", paths[i], itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 404);
        ITEST_ASSERT_SECURITY(r);
        itest_free(r);
    }
    itest_resp *r = itest_json("PATCH", big, NULL, "{\"note\":\"x\"}");
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
}
END_TEST

/* The bare prefix of the summary is no route either: a 404 problem, not a
   redirect. */
START_TEST(test_sales_prefix_not_found)
{
    itest_resp *r = itest_get("/api/v1/sales", NULL);
    ck_assert_msg(r->status == 404, "GET /api/v1/sales: %s", itest_describe(r));
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
}
END_TEST

/* Every GET route also answers HEAD: the same status, no body. */
START_TEST(test_head)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t p = itest_new_product(100, "EUR", NULL);
    int64_t id = draft_with(cust, p, 1);
    itest_resp *g = get_order(id);
    int64_t lid = itest_jint(line_for(g, p), "id");
    itest_free(g);
    char one[128], line[192], list[128];
    order_path(one, sizeof one, id, NULL);
    snprintf(line, sizeof line, "%s/lines/%" PRId64, one, lid);
    snprintf(list, sizeof list, ITEST_ORDERS "?customer=%" PRId64, cust);
    const char *paths[] = { one, line, list, ITEST_ORDERS, SUMMARY, ITEST_PRODUCTS };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        itest_resp *r = itest_request("HEAD", paths[i], NULL, NULL, 0, NULL);
        ck_assert_msg(r->status == 200, "HEAD %s: %s", paths[i], itest_describe(r));
        ITEST_ASSERT_STATUS(r, 200);
        ck_assert_msg(r->body_len == 0, "HEAD %s with a body: %s", paths[i], itest_describe(r));
        itest_free(r);
    }
    char big[128];
    order_path(big, sizeof big, id + 1000000000LL, NULL);
    itest_resp *r = itest_request("HEAD", big, NULL, NULL, 0, NULL);
    ITEST_ASSERT_STATUS(r, 404);
    itest_free(r);
}
END_TEST

/* Malformed If-Match and Idempotency-Key headers are a 400 and change nothing. */
START_TEST(test_bad_headers)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t p = itest_new_product(100, "EUR", NULL);
    int64_t id = draft_with(cust, p, 1);
    char body[128];
    snprintf(body, sizeof body, "{\"product_id\":%" PRId64 ",\"quantity\":1}", p);
    itest_resp *r = oreq("PATCH", id, NULL, "1", NULL, "{\"note\":\"x\"}");
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    r = oreq("POST", id, "/lines", "\"1", NULL, body);
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    r = action(id, "confirm", "abc", NULL);
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    r = oreq("POST", id, "/lines", NULL, "has space", body);
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    r = action(id, "confirm", NULL, "caf\xc3\xa9");
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    assert_order(id, "draft", 1, 100, 1);
    /* A weak tag never matches If-Match. */
    r = oreq("PATCH", id, NULL, "W/\"1\"", NULL, "{\"note\":\"weak\"}");
    ITEST_ASSERT_PROBLEM(r, 412);
    itest_free(r);
    assert_order(id, "draft", 1, 100, 1);
}
END_TEST

static void assert_allow(const itest_resp *r, const char *refused, const char *const *want)
{
    const char *allow = itest_header_get(r, "Allow");
    ck_assert_msg(allow != NULL, "405 without Allow: %s", itest_describe(r));
    char buf[256];
    for (size_t i = 0; want[i] != NULL; i++) {
        int found = 0;
        snprintf(buf, sizeof buf, "%s", allow);
        char *save = NULL;
        for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
            if (strcmp(t, want[i]) == 0)
                found = 1;
        ck_assert_msg(found, "Allow: %s lacks %s", allow, want[i]);
    }
    snprintf(buf, sizeof buf, "%s", allow);
    char *save = NULL;
    for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
        ck_assert_msg(strcmp(t, refused) != 0, "Allow: %s lists the refused %s", allow, refused);
}

START_TEST(test_method_not_allowed)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t p = itest_new_product(100, "EUR", NULL);
    int64_t id = draft_with(cust, p, 1);
    itest_resp *g = get_order(id);
    int64_t lid = itest_jint(line_for(g, p), "id");
    itest_free(g);
    char one[128], lines[128], line[160], confirm[128];
    order_path(one, sizeof one, id, NULL);
    order_path(lines, sizeof lines, id, "/lines");
    snprintf(line, sizeof line, "%s/%" PRId64, lines, lid);
    order_path(confirm, sizeof confirm, id, "/confirm");
    struct {
        const char *method;
        const char *path;
        const char *allow[6];
    } cases[] = {
        { "DELETE", ITEST_ORDERS, { "GET", "POST", NULL } },
        { "PUT", ITEST_ORDERS, { "GET", "POST", NULL } },
        { "DELETE", one, { "GET", "PATCH", NULL } },
        { "PUT", one, { "GET", "PATCH", NULL } },
        { "POST", one, { "GET", "PATCH", NULL } },
        { "DELETE", lines, { "POST", "PUT", NULL } },
        { "POST", line, { "GET", "PATCH", "DELETE", NULL } },
        { "GET", confirm, { "POST", NULL } },
        { "DELETE", confirm, { "POST", NULL } },
        { "POST", SUMMARY, { "GET", NULL } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        itest_resp *r =
            strcmp(cases[i].method, "GET") == 0
                ? itest_get(cases[i].path, NULL)
                : itest_request(cases[i].method, cases[i].path, NULL, "{}", 2, "application/json");
        ck_assert_msg(r->status == 405, "%s %s: %s", cases[i].method, cases[i].path,
                      itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 405);
        assert_allow(r, cases[i].method, cases[i].allow);
        itest_free(r);
    }
    assert_order(id, "draft", 1, 100, 1);
}
END_TEST

static Suite *orders_suite(void)
{
    Suite *s = suite_create("sales_orders");
    TCase *tc = tcase_create("orders");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_add_test(tc, test_create_with_lines);
    tcase_add_test(tc, test_create_without_lines);
    tcase_add_test(tc, test_create_currencies);
    tcase_add_test(tc, test_create_server_totals);
    tcase_add_test(tc, test_create_bad_lines);
    tcase_add_test(tc, test_create_customers);
    tcase_add_test(tc, test_create_fields);
    tcase_add_test(tc, test_create_form);
    tcase_add_test(tc, test_create_idempotency);
    tcase_add_test(tc, test_price_captured);
    tcase_add_test(tc, test_patch_order);
    tcase_add_test(tc, test_lines_routes);
    tcase_add_test(tc, test_if_match_everywhere);
    tcase_add_test(tc, test_idempotent_lines_and_actions);
    tcase_add_test(tc, test_transitions_allowed);
    tcase_add_test(tc, test_transitions_forbidden);
    tcase_add_test(tc, test_not_draft);
    tcase_add_test(tc, test_empty_order);
    tcase_add_test(tc, test_stock_confirm_reduces);
    tcase_add_test(tc, test_stock_insufficient);
    tcase_add_test(tc, test_stock_same_product_summed);
    tcase_add_test(tc, test_stock_untracked);
    tcase_add_test(tc, test_stock_cancel);
    tcase_add_test(tc, test_money_limits);
    tcase_add_test(tc, test_list_filters);
    tcase_add_test(tc, test_list_paging);
    tcase_add_test(tc, test_list_bad_params);
    tcase_add_test(tc, test_summary_shape);
    tcase_add_test(tc, test_summary_bad_params);
    tcase_add_test(tc, test_summary_revenue);
    tcase_add_test(tc, test_not_found);
    tcase_add_test(tc, test_method_not_allowed);
    tcase_add_test(tc, test_sales_prefix_not_found);
    tcase_add_test(tc, test_head);
    tcase_add_test(tc, test_bad_headers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    itest_init();
    SRunner *sr = srunner_create(orders_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
