/*
 * test_sales_products.c - every route and error status of the products
 * part of the sales API (docs/api-sales.md), over HTTPS through NGINX to
 * the crm-sales pool.
 */
#include "itest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_IDS  512
#define MAX_SAFE 9007199254740991LL /* 2^53 - 1 */
#define OMIT     ((const char *)1)  /* leave a member out of a body */
#define N_PAGED  7

/* ---- helpers ------------------------------------------------------------------------------ */

static void product_path(char *buf, size_t n, int64_t id)
{
    snprintf(buf, n, ITEST_PRODUCTS "/%" PRId64, id);
}

static itest_resp *get_product(int64_t id)
{
    char path[128];
    product_path(path, sizeof path, id);
    return itest_get(path, NULL);
}

/* PATCH/PUT/DELETE a product with an optional If-Match value. */
static itest_resp *change(const char *method, int64_t id, const char *if_match, const char *body)
{
    char path[128], im[128];
    product_path(path, sizeof path, id);
    snprintf(im, sizeof im, "If-Match: %s", if_match ? if_match : "");
    const char *hdrs[] = { im, NULL };
    return itest_json(method, path, if_match ? hdrs : NULL, body);
}

/* The current version of a product (asserting it exists). */
static long product_version(int64_t id)
{
    itest_resp *r = get_product(id);
    ITEST_ASSERT_STATUS(r, 200);
    long v = itest_etag_version(r);
    ck_assert_msg(v > 0 && itest_jint(r->json, "version") == v, "ETag/version: %s",
                  itest_describe(r));
    itest_free(r);
    return v;
}

static json_object *items_of(const itest_resp *r)
{
    json_object *items = itest_jget(r->json, "items");
    ck_assert_msg(items != NULL && json_object_is_type(items, json_type_array),
                  "list without items array: %s", itest_describe(r));
    return items;
}

/* The next_cursor of a list page (NULL at the end), asserting its shape. */
static const char *next_cursor(const itest_resp *r)
{
    json_object *nc = NULL;
    ck_assert_msg(json_object_object_get_ex(r->json, "next_cursor", &nc),
                  "list without next_cursor: %s", itest_describe(r));
    ck_assert_msg(nc == NULL || json_object_is_type(nc, json_type_string),
                  "next_cursor neither string nor null: %s", itest_describe(r));
    return nc ? json_object_get_string(nc) : NULL;
}

/* Ids of every row of GET ITEST_PRODUCTS?query in order, following
   next_cursor; *pages receives the number of pages. */
static size_t list_all(const char *query, int64_t *ids, size_t max, int *pages)
{
    size_t n = 0;
    char *cursor = NULL;
    for (int page = 0; page < 60; page++) {
        char path[1024];
        snprintf(path, sizeof path, ITEST_PRODUCTS "?%s%s%s", query, cursor ? "&cursor=" : "",
                 cursor ? cursor : "");
        free(cursor);
        cursor = NULL;
        itest_resp *r = itest_get(path, NULL);
        ITEST_ASSERT_STATUS(r, 200);
        json_object *items = items_of(r);
        for (size_t i = 0; i < json_object_array_length(items); i++) {
            ck_assert_msg(n < max, "more than %zu rows for %s", max, query);
            ids[n++] = itest_jint(json_object_array_get_idx(items, i), "id");
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

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void ids_text(char *msg, size_t cap, const int64_t *ids, size_t n)
{
    size_t off = 0;
    msg[0] = '\0';
    for (size_t i = 0; i < n && off + 24 < cap; i++)
        off += (size_t)snprintf(msg + off, cap - off, " %" PRId64, ids[i]);
}

/* Assert that GET ?query returns exactly the ids given (any order). */
static void assert_list_is(const char *query, const int64_t *want, size_t n_want)
{
    int64_t got[MAX_IDS], exp[MAX_IDS] = { 0 };
    size_t n = list_all(query, got, MAX_IDS, NULL);
    char gs[1024], ws[1024];
    ids_text(gs, sizeof gs, got, n);
    ids_text(ws, sizeof ws, want, n_want);
    ck_assert_msg(n == n_want, "?%s: %zu rows, want %zu (got%s; want%s)", query, n, n_want, gs, ws);
    for (size_t i = 0; i < n_want; i++)
        exp[i] = want[i];
    qsort(got, n, sizeof *got, cmp_id);
    qsort(exp, n_want, sizeof *exp, cmp_id);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == exp[i], "?%s: got%s; want%s", query, gs, ws);
}

/* Assert the ids of one page (no cursor) in this order. */
static void assert_page_order(const char *query, const int64_t *want, size_t n_want)
{
    char path[512];
    snprintf(path, sizeof path, ITEST_PRODUCTS "?%s", query);
    itest_resp *r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    json_object *items = items_of(r);
    ck_assert_msg(json_object_array_length(items) == n_want, "?%s: %zu items, want %zu: %s", query,
                  json_object_array_length(items), n_want, itest_describe(r));
    for (size_t i = 0; i < n_want; i++)
        ck_assert_msg(itest_jint(json_object_array_get_idx(items, i), "id") == want[i],
                      "?%s: item %zu is not id %" PRId64 ": %s", query, i, want[i],
                      itest_describe(r));
    itest_free(r);
}

static int problem_mentions(const itest_resp *r, const char *field)
{
    if (itest_problem_field_count(r, field) > 0)
        return 1;
    const char *d = itest_jstr(r->json, "detail");
    return d != NULL && strstr(d, field) != NULL;
}

static int iso_time(const char *s)
{
    /* 2026-11-27T12:00:00[.ffffff]Z */
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

static const char *str_or(const char *s)
{
    return s ? s : "(null)";
}

/* Location ends with want. */
static void assert_location(const itest_resp *r, const char *want)
{
    const char *loc = itest_header_get(r, "Location");
    ck_assert_msg(loc && strlen(loc) >= strlen(want) &&
                      strcmp(loc + strlen(loc) - strlen(want), want) == 0,
                  "Location %s, want %s: %s", str_or(loc), want, itest_describe(r));
}

/*
 * A product body from member values (JSON text): NULL takes a valid
 * default (a unique SKU, "P", 100, "EUR"), OMIT leaves the member out.
 * extra: more members or NULL. The caller frees.
 */
static char *product_body(const char *sku, const char *name, const char *price,
                          const char *currency, const char *extra)
{
    char usku[80];
    itest_unique_sku(usku, sizeof usku);
    char dsku[96];
    snprintf(dsku, sizeof dsku, "\"%s\"", usku);
    const char *names[] = { "sku", "name", "price_cents", "currency" };
    const char *vals[] = { sku ? sku : dsku, name ? name : "\"P\"", price ? price : "100",
                           currency ? currency : "\"EUR\"" };
    size_t cap = 256 + (extra ? strlen(extra) : 0);
    for (size_t i = 0; i < 4; i++)
        if (vals[i] != OMIT)
            cap += strlen(vals[i]);
    char *body = malloc(cap);
    ck_assert_ptr_nonnull(body);
    size_t off = (size_t)snprintf(body, cap, "{");
    int first = 1;
    for (size_t i = 0; i < 4; i++) {
        if (vals[i] == OMIT)
            continue;
        off += (size_t)snprintf(body + off, cap - off, "%s\"%s\":%s", first ? "" : ",", names[i],
                                vals[i]);
        first = 0;
    }
    if (extra != NULL)
        off += (size_t)snprintf(body + off, cap - off, "%s%s", first ? "" : ",", extra);
    snprintf(body + off, cap - off, "}");
    return body;
}

static itest_resp *post_product(const char *sku, const char *name, const char *price,
                                const char *currency, const char *extra)
{
    char *body = product_body(sku, name, price, currency, extra);
    itest_resp *r = itest_json("POST", ITEST_PRODUCTS, NULL, body);
    free(body);
    return r;
}

/* POST; expect 422 with exactly one errors entry, naming field. */
static void expect_422(const char *field, const char *sku, const char *name, const char *price,
                       const char *currency, const char *extra)
{
    itest_resp *r = post_product(sku, name, price, currency, extra);
    ck_assert_msg(r->status == 422, "want 422 on %s: %s", field, itest_describe(r));
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_msg(itest_problem_field_count(r, field) == 1, "want one errors entry for %s: %s",
                  field, itest_describe(r));
    json_object *errs = itest_jget(r->json, "errors");
    ck_assert_msg(errs && json_object_array_length(errs) == 1, "want only the %s entry: %s", field,
                  itest_describe(r));
    itest_free(r);
}

static void expect_201(const char *sku, const char *name, const char *price, const char *currency,
                       const char *extra)
{
    itest_resp *r = post_product(sku, name, price, currency, extra);
    ck_assert_msg(r->status == 201, "want 201: %s", itest_describe(r));
    itest_free(r);
}

/* Assert that Allow holds every method of want and not the one refused. */
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
    for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        ck_assert_msg(strcmp(t, refused) != 0, "Allow: %s lists the refused %s", allow, refused);
        int known = strcmp(t, "HEAD") == 0;
        for (size_t i = 0; want[i] != NULL; i++)
            if (strcmp(t, want[i]) == 0)
                known = 1;
        ck_assert_msg(known, "Allow: %s lists %s", allow, t);
    }
}

/* Create a product with the given name/description/currency/active, the
   SKU sku (unique) ; returns its id. */
static int64_t make_product(const char *sku, const char *name, const char *description,
                            const char *currency, int active)
{
    char body[1024];
    snprintf(body, sizeof body,
             "{\"sku\":\"%s\",\"name\":\"%s\",\"description\":%s%s%s,\"price_cents\":500,"
             "\"currency\":\"%s\",\"active\":%s}",
             sku, name, description ? "\"" : "", description ? description : "null",
             description ? "\"" : "", currency, active ? "true" : "false");
    itest_resp *r = itest_json("POST", ITEST_PRODUCTS, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    int64_t id = itest_jint(r->json, "id");
    ck_assert_msg(id > 0, "%s", itest_describe(r));
    itest_free(r);
    return id;
}

/* ---- create, read ------------------------------------------------------------------------- */

START_TEST(test_create_json)
{
    char sku[64], body[1024];
    itest_unique_sku(sku, sizeof sku);
    snprintf(body, sizeof body,
             "{\"sku\":\"%s\",\"name\":\"Office chair\",\"description\":\"Ergonomic, grey\","
             "\"price_cents\":14900,\"currency\":\"EUR\",\"stock\":25,\"active\":true}",
             sku);
    itest_resp *r = itest_json("POST", ITEST_PRODUCTS, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    ITEST_ASSERT_SECURITY(r);
    const char *ct = itest_header_get(r, "Content-Type");
    ck_assert_msg(ct && strncasecmp(ct, "application/json", 16) == 0, "%s", itest_describe(r));
    json_object *o = r->json;
    int64_t id = itest_jint(o, "id");
    ck_assert_msg(id > 0, "%s", itest_describe(r));
    char want_loc[128];
    product_path(want_loc, sizeof want_loc, id);
    assert_location(r, want_loc);
    ck_assert_msg(itest_etag_version(r) == 1, "ETag: %s", itest_describe(r));
    ck_assert_str_eq(str_or(itest_jstr(o, "sku")), sku);
    ck_assert_str_eq(str_or(itest_jstr(o, "name")), "Office chair");
    ck_assert_str_eq(str_or(itest_jstr(o, "description")), "Ergonomic, grey");
    ck_assert_int_eq(itest_jint(o, "price_cents"), 14900);
    ck_assert_str_eq(str_or(itest_jstr(o, "currency")), "EUR");
    ck_assert_int_eq(itest_jint(o, "stock"), 25);
    json_object *active = itest_jget(o, "active");
    ck_assert_msg(active && json_object_is_type(active, json_type_boolean) &&
                      json_object_get_boolean(active),
                  "active: %s", itest_describe(r));
    ck_assert_int_eq(itest_jint(o, "version"), 1);
    ck_assert_msg(iso_time(itest_jstr(o, "created_at")), "created_at: %s", itest_describe(r));
    ck_assert_msg(iso_time(itest_jstr(o, "updated_at")), "updated_at: %s", itest_describe(r));

    /* The Location reads back the same resource. */
    itest_resp *g = get_product(id);
    ITEST_ASSERT_STATUS(g, 200);
    ITEST_ASSERT_SECURITY(g);
    ck_assert_msg(itest_etag_version(g) == 1, "ETag: %s", itest_describe(g));
    ck_assert_int_eq(itest_jint(g->json, "id"), id);
    ck_assert_str_eq(str_or(itest_jstr(g->json, "sku")), sku);
    ck_assert_str_eq(str_or(itest_jstr(g->json, "description")), "Ergonomic, grey");
    ck_assert_int_eq(itest_jint(g->json, "price_cents"), 14900);
    ck_assert_int_eq(itest_jint(g->json, "stock"), 25);
    ck_assert_str_eq(str_or(itest_jstr(g->json, "created_at")), itest_jstr(o, "created_at"));
    itest_free(g);
    itest_free(r);
}
END_TEST

START_TEST(test_create_defaults)
{
    itest_resp *r = itest_create_product(0, "JPY", NULL, NULL);
    ITEST_ASSERT_STATUS(r, 201);
    json_object *o = r->json;
    ck_assert_msg(itest_jnull(o, "description"), "description not null: %s", itest_describe(r));
    ck_assert_msg(itest_jnull(o, "stock") && itest_jget(o, "stock") == NULL &&
                      json_object_object_get_ex(o, "stock", NULL),
                  "stock is not null (untracked) by default: %s", itest_describe(r));
    json_object *active = itest_jget(o, "active");
    ck_assert_msg(active && json_object_is_type(active, json_type_boolean) &&
                      json_object_get_boolean(active),
                  "active is not true by default: %s", itest_describe(r));
    ck_assert_int_eq(itest_jint(o, "price_cents"), 0);
    ck_assert_str_eq(str_or(itest_jstr(o, "currency")), "JPY");
    ck_assert_int_eq(itest_jint(o, "version"), 1);
    itest_free(r);
}
END_TEST

START_TEST(test_create_form)
{
    char sku[64], body[512];
    itest_unique_sku(sku, sizeof sku);
    snprintf(body, sizeof body,
             "sku=%s&name=Form+product&description=From+a+form&price_cents=1500&currency=EUR"
             "&stock=4",
             sku);
    itest_resp *r = itest_request("POST", ITEST_PRODUCTS, NULL, body, strlen(body),
                                  "application/x-www-form-urlencoded");
    ITEST_ASSERT_STATUS(r, 201);
    ck_assert_str_eq(str_or(itest_jstr(r->json, "sku")), sku);
    ck_assert_str_eq(str_or(itest_jstr(r->json, "name")), "Form product");
    ck_assert_str_eq(str_or(itest_jstr(r->json, "description")), "From a form");
    ck_assert_int_eq(itest_jint(r->json, "price_cents"), 1500);
    ck_assert_int_eq(itest_jint(r->json, "stock"), 4);
    ck_assert_msg(itest_location_id(r) == itest_jint(r->json, "id"), "%s", itest_describe(r));
    itest_free(r);

    /* A browser form post: 303 to the page of the new product. */
    itest_unique_sku(sku, sizeof sku);
    snprintf(body, sizeof body, "sku=%s&name=Browser+product&price_cents=250&currency=USD", sku);
    const char *html[] = { "Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", NULL };
    r = itest_request("POST", ITEST_PRODUCTS, html, body, strlen(body),
                      "application/x-www-form-urlencoded");
    ITEST_ASSERT_STATUS(r, 303);
    const char *loc = itest_header_get(r, "Location");
    ck_assert_msg(loc != NULL, "303 without Location: %s", itest_describe(r));
    const char *path = loc;
    if (strstr(loc, "://") != NULL)
        path = strchr(strstr(loc, "://") + 3, '/');
    ck_assert_msg(path && strncmp(path, "/products/", 10) == 0, "Location %s", loc);
    char *end = NULL;
    long long id = strtoll(path + 10, &end, 10);
    ck_assert_msg(id > 0 && *end == '\0', "Location %s is not /products/{id}", loc);
    itest_free(r);
    itest_resp *g = get_product(id);
    ITEST_ASSERT_STATUS(g, 200);
    ck_assert_str_eq(str_or(itest_jstr(g->json, "sku")), sku);
    ck_assert_str_eq(str_or(itest_jstr(g->json, "name")), "Browser product");
    ck_assert_int_eq(itest_jint(g->json, "price_cents"), 250);
    ck_assert_str_eq(str_or(itest_jstr(g->json, "currency")), "USD");
    itest_free(g);
}
END_TEST

START_TEST(test_read_etag_304)
{
    int64_t id = itest_new_product(700, "EUR", NULL);
    char path[128];
    product_path(path, sizeof path, id);
    itest_resp *r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    const char *etag = itest_header_get(r, "ETag");
    ck_assert_msg(etag && strcmp(etag, "\"1\"") == 0, "%s", itest_describe(r));
    itest_free(r);

    const char *inm[] = { "If-None-Match: \"1\"", NULL };
    r = itest_get(path, inm);
    ITEST_ASSERT_STATUS(r, 304);
    ck_assert_msg(r->body_len == 0, "304 with a body: %s", itest_describe(r));
    itest_free(r);
    const char *other[] = { "If-None-Match: \"99\"", NULL };
    r = itest_get(path, other);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);

    /* HEAD answers like GET, without a body. */
    r = itest_request("HEAD", path, NULL, NULL, 0, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_msg(r->body_len == 0, "HEAD with a body: %s", itest_describe(r));
    ck_assert_int_eq(itest_etag_version(r), 1);
    itest_free(r);
    r = itest_request("HEAD", ITEST_PRODUCTS "?limit=1", NULL, NULL, 0, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);

    /* After an update the old tag no longer matches. */
    r = change("PATCH", id, NULL, "{\"name\":\"Renamed\"}");
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    r = itest_get(path, inm);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_etag_version(r), 2);
    itest_free(r);
}
END_TEST

START_TEST(test_not_found)
{
    int64_t id = itest_new_product(1, "EUR", NULL);
    char big[128];
    snprintf(big, sizeof big, ITEST_PRODUCTS "/%" PRId64, id + 1000000000);
    static const char *paths[] = {
        NULL, /* the unknown id */
        ITEST_PRODUCTS "/abc",
        ITEST_PRODUCTS "/0",
        ITEST_PRODUCTS "/-1",
        ITEST_PRODUCTS "/1.5",
        ITEST_PRODUCTS "/1e3",
        ITEST_PRODUCTS "/99999999999999999999999999",
        ITEST_PRODUCTS "/1/unknown",
    };
    paths[0] = big;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        itest_resp *r = itest_get(paths[i], NULL);
        ck_assert_msg(r->status == 404, "GET %s: %s", paths[i], itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 404);
        ITEST_ASSERT_SECURITY(r);
        itest_free(r);
    }
    itest_resp *r = itest_json("PATCH", big, NULL, "{\"name\":\"x\"}");
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    const char *im[] = { "If-Match: \"1\"", NULL };
    r = itest_json("PUT", big, im,
                   "{\"sku\":\"NF-1\",\"name\":\"x\",\"price_cents\":1,\"currency\":\"EUR\"}");
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    r = itest_request("DELETE", big, NULL, NULL, 0, NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    r = itest_request("DELETE", ITEST_PRODUCTS "/abc", NULL, NULL, 0, NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
}
END_TEST

/* ---- validation --------------------------------------------------------------------------- */

START_TEST(test_validation_each_field)
{
    char quoted[4200];
    /* sku: charset, length, type, presence */
    char *s64 = repeat("S", 64), *s65 = repeat("S", 65);
    char usku[64];
    itest_unique_sku(usku, sizeof usku);
    memcpy(s64, usku, strlen(usku)); /* unique, still 64 characters */
    snprintf(quoted, sizeof quoted, "\"%s\"", s64);
    expect_201(quoted, NULL, NULL, NULL, NULL);
    snprintf(quoted, sizeof quoted, "\"%s\"", s65);
    expect_422("sku", quoted, NULL, NULL, NULL, NULL);
    expect_422("sku", "\"\"", NULL, NULL, NULL, NULL);
    expect_422("sku", "\"has space\"", NULL, NULL, NULL, NULL);
    expect_422("sku", "\"a/b\"", NULL, NULL, NULL, NULL);
    expect_422("sku", "\"caf\xc3\xa9\"", NULL, NULL, NULL, NULL);
    expect_422("sku", "\"a+b\"", NULL, NULL, NULL, NULL);
    expect_422("sku", "12", NULL, NULL, NULL, NULL);
    expect_422("sku", OMIT, NULL, NULL, NULL, NULL);
    itest_unique_sku(usku, sizeof usku);
    snprintf(quoted, sizeof quoted, "\"%s.a_b-C9\"", usku);
    expect_201(quoted, NULL, NULL, NULL, NULL);

    /* name: 1..200 characters */
    char *n200 = repeat("n", 200), *n201 = repeat("n", 201);
    char *e200 = repeat("\xc3\xa9", 200), *e201 = repeat("\xc3\xa9", 201);
    snprintf(quoted, sizeof quoted, "\"%s\"", n200);
    expect_201(NULL, quoted, NULL, NULL, NULL);
    snprintf(quoted, sizeof quoted, "\"%s\"", e200);
    expect_201(NULL, quoted, NULL, NULL, NULL);
    snprintf(quoted, sizeof quoted, "\"%s\"", n201);
    expect_422("name", NULL, quoted, NULL, NULL, NULL);
    snprintf(quoted, sizeof quoted, "\"%s\"", e201);
    expect_422("name", NULL, quoted, NULL, NULL, NULL);
    expect_422("name", NULL, "\"\"", NULL, NULL, NULL);
    expect_422("name", NULL, "5", NULL, NULL, NULL);
    expect_422("name", NULL, "null", NULL, NULL, NULL);
    expect_422("name", NULL, OMIT, NULL, NULL, NULL);

    /* description: optional, at most 2000 characters */
    char *d2000 = repeat("d", 2000), *d2001 = repeat("d", 2001);
    snprintf(quoted, sizeof quoted, "\"description\":\"%s\"", d2000);
    expect_201(NULL, NULL, NULL, NULL, quoted);
    snprintf(quoted, sizeof quoted, "\"description\":\"%s\"", d2001);
    expect_422("description", NULL, NULL, NULL, NULL, quoted);
    expect_422("description", NULL, NULL, NULL, NULL, "\"description\":7");
    expect_201(NULL, NULL, NULL, NULL, "\"description\":null");

    /* price_cents: integer 0..2^53-1 */
    expect_422("price_cents", NULL, NULL, "-1", NULL, NULL);
    expect_422("price_cents", NULL, NULL, "9007199254740992", NULL, NULL);
    expect_422("price_cents", NULL, NULL, "99999999999999999999", NULL, NULL);
    expect_422("price_cents", NULL, NULL, "1.5", NULL, NULL);
    expect_422("price_cents", NULL, NULL, "\"100\"", NULL, NULL);
    expect_422("price_cents", NULL, NULL, "null", NULL, NULL);
    expect_422("price_cents", NULL, NULL, OMIT, NULL, NULL);
    expect_201(NULL, NULL, "0", NULL, NULL);
    itest_resp *r = post_product(NULL, NULL, "9007199254740991", NULL, NULL);
    ITEST_ASSERT_STATUS(r, 201);
    ck_assert_msg(itest_jint(r->json, "price_cents") == MAX_SAFE, "2^53-1 not kept exactly: %s",
                  itest_describe(r));
    itest_free(r);

    /* currency: a known ISO 4217 code, upper case */
    expect_422("currency", NULL, NULL, NULL, "\"XYZ\"", NULL);
    expect_422("currency", NULL, NULL, NULL, "\"eur\"", NULL);
    expect_422("currency", NULL, NULL, NULL, "\"Eur\"", NULL);
    expect_422("currency", NULL, NULL, NULL, "\"EURO\"", NULL);
    expect_422("currency", NULL, NULL, NULL, "\"\"", NULL);
    expect_422("currency", NULL, NULL, NULL, "978", NULL);
    expect_422("currency", NULL, NULL, NULL, OMIT, NULL);
    expect_201(NULL, NULL, NULL, "\"USD\"", NULL);
    expect_201(NULL, NULL, NULL, "\"JPY\"", NULL);
    expect_201(NULL, NULL, NULL, "\"GBP\"", NULL);

    /* stock: 0..1,000,000,000 or null */
    expect_422("stock", NULL, NULL, NULL, NULL, "\"stock\":-1");
    expect_422("stock", NULL, NULL, NULL, NULL, "\"stock\":1000000001");
    expect_422("stock", NULL, NULL, NULL, NULL, "\"stock\":2.5");
    expect_422("stock", NULL, NULL, NULL, NULL, "\"stock\":\"5\"");
    expect_201(NULL, NULL, NULL, NULL, "\"stock\":0");
    expect_201(NULL, NULL, NULL, NULL, "\"stock\":1000000000");
    expect_201(NULL, NULL, NULL, NULL, "\"stock\":null");

    /* active: a boolean */
    expect_422("active", NULL, NULL, NULL, NULL, "\"active\":\"yes\"");
    expect_422("active", NULL, NULL, NULL, NULL, "\"active\":1");
    expect_422("active", NULL, NULL, NULL, NULL, "\"active\":\"true\"");
    r = post_product(NULL, NULL, NULL, NULL, "\"active\":false");
    ITEST_ASSERT_STATUS(r, 201);
    json_object *active = itest_jget(r->json, "active");
    ck_assert_msg(active && json_object_is_type(active, json_type_boolean) &&
                      !json_object_get_boolean(active),
                  "%s", itest_describe(r));
    itest_free(r);

    /* PATCH validates the same way and changes nothing. */
    int64_t id = itest_new_product(100, "EUR", NULL);
    r = change("PATCH", id, NULL, "{\"price_cents\":-5,\"currency\":\"eur\",\"stock\":-1}");
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "price_cents"), 1);
    ck_assert_int_eq(itest_problem_field_count(r, "currency"), 1);
    ck_assert_int_eq(itest_problem_field_count(r, "stock"), 1);
    itest_free(r);
    r = change("PATCH", id, NULL, "{\"sku\":\"bad sku\"}");
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "sku"), 1);
    itest_free(r);
    r = change("PATCH", id, NULL, "{\"name\":\"\"}");
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "name"), 1);
    itest_free(r);
    ck_assert_int_eq(product_version(id), 1);

    free(s64);
    free(s65);
    free(n200);
    free(n201);
    free(e200);
    free(e201);
    free(d2000);
    free(d2001);
}
END_TEST

START_TEST(test_validation_all_fields)
{
    itest_resp *r =
        post_product("\"bad sku!\"", "\"\"", "-3", "\"XYZ\"", "\"stock\":-2,\"active\":\"no\"");
    ITEST_ASSERT_PROBLEM(r, 422);
    ITEST_ASSERT_SECURITY(r);
    static const char *const fields[] = { "sku",      "name",  "price_cents",
                                          "currency", "stock", "active" };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        ck_assert_msg(itest_problem_field_count(r, fields[i]) == 1,
                      "want one errors entry for %s: %s", fields[i], itest_describe(r));
    ck_assert_msg(json_object_array_length(itest_jget(r->json, "errors")) == 6,
                  "want 6 errors entries: %s", itest_describe(r));
    itest_free(r);
}
END_TEST

START_TEST(test_unknown_and_readonly_fields)
{
    char sku[64], body[512];
    itest_unique_sku(sku, sizeof sku);
    snprintf(body, sizeof body,
             "{\"sku\":\"%s\",\"name\":\"U\",\"price_cents\":1,\"currency\":\"EUR\",\"foo\":1,"
             "\"cost_cents\":5}",
             sku);
    itest_resp *r = itest_json("POST", ITEST_PRODUCTS, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 400);
    ck_assert_msg(problem_mentions(r, "foo") && problem_mentions(r, "cost_cents"),
                  "400 does not list the fields: %s", itest_describe(r));
    itest_free(r);
    static const char *const ro[] = { "\"id\":5", "\"version\":3",
                                      "\"created_at\":\"2020-01-01T00:00:00Z\"",
                                      "\"updated_at\":\"2020-01-01T00:00:00Z\"" };
    static const char *const names[] = { "id", "version", "created_at", "updated_at" };
    int64_t id = itest_new_product(100, "EUR", NULL);
    for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++) {
        snprintf(body, sizeof body,
                 "{\"sku\":\"%s\",\"name\":\"R\",\"price_cents\":1,\"currency\":\"EUR\",%s}", sku,
                 ro[i]);
        r = itest_json("POST", ITEST_PRODUCTS, NULL, body);
        ck_assert_msg(r->status == 400, "POST with %s: %s", ro[i], itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 400);
        ck_assert_msg(problem_mentions(r, names[i]), "400 does not name %s: %s", names[i],
                      itest_describe(r));
        itest_free(r);
        snprintf(body, sizeof body, "{\"name\":\"R\",%s}", ro[i]);
        r = change("PATCH", id, NULL, body);
        ck_assert_msg(r->status == 400, "PATCH with %s: %s", ro[i], itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 400);
        itest_free(r);
    }
    r = change("PATCH", id, NULL, "{\"foo\":1}");
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    ck_assert_int_eq(product_version(id), 1);
    /* The SKU was never taken by the rejected posts. */
    snprintf(body, sizeof body,
             "{\"sku\":\"%s\",\"name\":\"U\",\"price_cents\":1,"
             "\"currency\":\"EUR\"}",
             sku);
    r = itest_json("POST", ITEST_PRODUCTS, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    itest_free(r);
    /* Unknown form fields too. */
    itest_unique_sku(sku, sizeof sku);
    snprintf(body, sizeof body, "sku=%s&name=F&price_cents=1&currency=EUR&discount=5", sku);
    r = itest_request("POST", ITEST_PRODUCTS, NULL, body, strlen(body),
                      "application/x-www-form-urlencoded");
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
}
END_TEST

START_TEST(test_duplicate_sku)
{
    char sku[64], body[512];
    itest_unique_sku(sku, sizeof sku);
    strcat(sku, "-abc");
    snprintf(body, sizeof body,
             "{\"sku\":\"%s\",\"name\":\"Dup\",\"price_cents\":1,\"currency\":\"EUR\"}", sku);
    itest_resp *r = itest_json("POST", ITEST_PRODUCTS, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    int64_t first = itest_jint(r->json, "id");
    itest_free(r);
    r = itest_json("POST", ITEST_PRODUCTS, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 409);
    ck_assert_msg(strstr(r->body, "SQL") == NULL && strstr(r->body, "Duplicate entry") == NULL,
                  "database text leaked: %s", itest_describe(r));
    itest_free(r);
    /* Differing only in case. */
    char other[64];
    snprintf(other, sizeof other, "%s", sku);
    for (char *p = other; *p; p++) {
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
        else if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    }
    snprintf(body, sizeof body,
             "{\"sku\":\"%s\",\"name\":\"Dup case\",\"price_cents\":1,\"currency\":\"USD\"}",
             other);
    r = itest_json("POST", ITEST_PRODUCTS, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 409);
    itest_free(r);
    /* Renaming another product's SKU to it: 409, nothing changed. */
    int64_t id = itest_new_product(5, "EUR", NULL);
    snprintf(body, sizeof body, "{\"sku\":\"%s\"}", other);
    r = change("PATCH", id, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 409);
    itest_free(r);
    ck_assert_int_eq(product_version(id), 1);
    /* Its own SKU again is no conflict. */
    r = get_product(first);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    snprintf(body, sizeof body, "{\"sku\":\"%s\",\"name\":\"Same sku\"}", sku);
    r = change("PATCH", first, NULL, body);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
}
END_TEST

START_TEST(test_malformed_bodies)
{
    static const char *const bad[] = {
        "{\"sku\":", "{\"sku\":\"a\",}", "{sku:\"a\"}", "{\"sku\":\"a\"} trailing", "",
        "[1]",       "{\"name\":'a'}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        itest_resp *r =
            itest_request("POST", ITEST_PRODUCTS, NULL, bad[i], strlen(bad[i]), "application/json");
        ck_assert_msg(r->status == 400, "body '%s': %s", bad[i], itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 400);
        itest_free(r);
    }
    /* Invalid UTF-8. */
    char sku[64], body[512];
    itest_unique_sku(sku, sizeof sku);
    snprintf(body, sizeof body,
             "{\"sku\":\"%s\",\"name\":\"Bad\xc3(\",\"price_cents\":1,\"currency\":\"EUR\"}", sku);
    itest_resp *r = itest_json("POST", ITEST_PRODUCTS, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    /* Duplicate keys. */
    snprintf(body, sizeof body,
             "{\"sku\":\"%s\",\"name\":\"A\",\"name\":\"B\",\"price_cents\":1,\"currency\":"
             "\"EUR\"}",
             sku);
    r = itest_json("POST", ITEST_PRODUCTS, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    /* PATCH with a malformed body changes nothing. */
    int64_t id = itest_new_product(1, "EUR", NULL);
    r = change("PATCH", id, NULL, "{\"name\":");
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    ck_assert_int_eq(product_version(id), 1);
    /* A body over the limit (1 MiB). */
    size_t big = 1024 * 1024 + 1;
    char *huge = malloc(big);
    ck_assert_ptr_nonnull(huge);
    memset(huge, 'x', big);
    memcpy(huge, "{\"name\":\"", 9);
    memcpy(huge + big - 2, "\"}", 2);
    r = itest_request("POST", ITEST_PRODUCTS, NULL, huge, big, "application/json");
    ITEST_ASSERT_PROBLEM(r, 413);
    itest_free(r);
    free(huge);
}
END_TEST

START_TEST(test_unsupported_media_type)
{
    char sku[64], body[512];
    itest_unique_sku(sku, sizeof sku);
    snprintf(body, sizeof body,
             "{\"sku\":\"%s\",\"name\":\"Typed\",\"price_cents\":1,\"currency\":\"EUR\"}", sku);
    static const char *const types[] = { "text/plain", "application/xml", "multipart/form-data",
                                         NULL };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        itest_resp *r = itest_request("POST", ITEST_PRODUCTS, NULL, body, strlen(body), types[i]);
        ck_assert_msg(r->status == 415, "Content-Type %s: %s", types[i] ? types[i] : "(none)",
                      itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 415);
        itest_free(r);
    }
    int64_t id = itest_new_product(1, "EUR", NULL);
    char path[128];
    product_path(path, sizeof path, id);
    itest_resp *r = itest_request("PATCH", path, NULL, "{\"name\":\"x\"}", 12, "text/plain");
    ITEST_ASSERT_PROBLEM(r, 415);
    itest_free(r);
    /* Nothing was created by the refused posts. */
    r = itest_request("POST", ITEST_PRODUCTS, NULL, body, strlen(body),
                      "application/json; charset=utf-8");
    ITEST_ASSERT_STATUS(r, 201);
    itest_free(r);
}
END_TEST

/* ---- idempotency -------------------------------------------------------------------------- */

START_TEST(test_idempotency)
{
    char word[40], key[128], sku[64], body[512];
    itest_unique_word(word, sizeof word);
    snprintf(key, sizeof key, "Idempotency-Key: prod-%s", word);
    itest_unique_sku(sku, sizeof sku);
    snprintf(body, sizeof body,
             "{\"sku\":\"%s\",\"name\":\"Idem %s\",\"price_cents\":42,\"currency\":\"EUR\"}", sku,
             word);
    const char *hdrs[] = { key, NULL };
    itest_resp *a = itest_json("POST", ITEST_PRODUCTS, hdrs, body);
    ITEST_ASSERT_STATUS(a, 201);
    const char *rep = itest_header_get(a, "Idempotent-Replayed");
    ck_assert_msg(rep == NULL || strcasecmp(rep, "true") != 0, "first response marked replayed");
    itest_resp *b = itest_json("POST", ITEST_PRODUCTS, hdrs, body);
    ITEST_ASSERT_STATUS(b, 201);
    rep = itest_header_get(b, "Idempotent-Replayed");
    ck_assert_msg(rep && strcasecmp(rep, "true") == 0, "replay without Idempotent-Replayed: %s",
                  itest_describe(b));
    ck_assert_int_eq(itest_jint(a->json, "id"), itest_jint(b->json, "id"));
    ck_assert_msg(a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0,
                  "replayed body differs: first %s", a->body);
    const char *la = itest_header_get(a, "Location"), *lb = itest_header_get(b, "Location");
    ck_assert_msg(la && lb && strcmp(la, lb) == 0, "replayed Location differs");
    char path[256];
    snprintf(path, sizeof path, ITEST_PRODUCTS "?q=%s&count=true", word);
    itest_resp *c = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(c, 200);
    ck_assert_msg(itest_jint(c->json, "count") == 1, "rows after replay: %s", itest_describe(c));
    itest_free(c);

    /* Same key, another body: 422, nothing created. */
    char sku2[64], body2[512];
    itest_unique_sku(sku2, sizeof sku2);
    snprintf(body2, sizeof body2,
             "{\"sku\":\"%s\",\"name\":\"Idem %s\",\"price_cents\":43,\"currency\":\"EUR\"}", sku2,
             word);
    c = itest_json("POST", ITEST_PRODUCTS, hdrs, body2);
    ITEST_ASSERT_PROBLEM(c, 422);
    itest_free(c);
    c = itest_get(path, NULL);
    ck_assert_msg(itest_jint(c->json, "count") == 1, "rows after conflict: %s", itest_describe(c));
    itest_free(c);
    /* Without the key the same body is a duplicate SKU. */
    c = itest_json("POST", ITEST_PRODUCTS, NULL, body);
    ITEST_ASSERT_PROBLEM(c, 409);
    itest_free(c);
    itest_free(a);
    itest_free(b);
    /* A malformed key is a 400. */
    const char *badkey[] = { "Idempotency-Key: abc def", NULL };
    c = itest_create_product(1, "EUR", NULL, badkey);
    ITEST_ASSERT_PROBLEM(c, 400);
    itest_free(c);
}
END_TEST

/* ---- update, replace, delete -------------------------------------------------------------- */

START_TEST(test_patch_partial)
{
    int64_t id = itest_new_product(1000, "EUR", "\"description\":\"Keep me\",\"stock\":5");
    itest_resp *r = change("PATCH", id, NULL, "{\"name\":\"Patched\",\"price_cents\":1200}");
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_etag_version(r), 2);
    ck_assert_int_eq(itest_jint(r->json, "version"), 2);
    ck_assert_str_eq(str_or(itest_jstr(r->json, "name")), "Patched");
    ck_assert_int_eq(itest_jint(r->json, "price_cents"), 1200);
    ck_assert_str_eq(str_or(itest_jstr(r->json, "description")), "Keep me");
    ck_assert_int_eq(itest_jint(r->json, "stock"), 5);
    ck_assert_str_eq(str_or(itest_jstr(r->json, "currency")), "EUR");
    itest_free(r);

    /* Setting stock replaces the number on hand; null stops tracking. */
    r = change("PATCH", id, "\"2\"", "{\"stock\":17}");
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_jint(r->json, "stock"), 17);
    ck_assert_int_eq(itest_etag_version(r), 3);
    itest_free(r);
    r = change("PATCH", id, NULL, "{\"stock\":null,\"description\":null}");
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_msg(itest_jnull(r->json, "stock") && itest_jnull(r->json, "description"),
                  "null does not clear: %s", itest_describe(r));
    itest_free(r);
    r = change("PATCH", id, "*", "{\"active\":false}");
    ITEST_ASSERT_STATUS(r, 200);
    json_object *active = itest_jget(r->json, "active");
    ck_assert_msg(active && !json_object_get_boolean(active), "%s", itest_describe(r));
    ck_assert_int_eq(itest_etag_version(r), 5);
    itest_free(r);

    /* A stale If-Match: 412, nothing changed. */
    r = change("PATCH", id, "\"1\"", "{\"name\":\"Stale\"}");
    ITEST_ASSERT_PROBLEM(r, 412);
    itest_free(r);
    r = get_product(id);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_str_eq(str_or(itest_jstr(r->json, "name")), "Patched");
    ck_assert_int_eq(itest_etag_version(r), 5);
    itest_free(r);
    /* A malformed If-Match: 400. */
    r = change("PATCH", id, "5", "{\"name\":\"Bad tag\"}");
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    /* Required members cannot be cleared: 422 naming each, nothing changed. */
    r = change("PATCH", id, NULL,
               "{\"sku\":null,\"name\":null,\"price_cents\":null,\"currency\":null,"
               "\"active\":null}");
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "sku"), 1);
    ck_assert_int_eq(itest_problem_field_count(r, "name"), 1);
    ck_assert_int_eq(itest_problem_field_count(r, "price_cents"), 1);
    ck_assert_int_eq(itest_problem_field_count(r, "currency"), 1);
    ck_assert_int_eq(itest_problem_field_count(r, "active"), 1);
    itest_free(r);
    r = get_product(id);
    ck_assert_int_eq(itest_etag_version(r), 5);
    itest_free(r);
}
END_TEST

START_TEST(test_put)
{
    int64_t id = itest_new_product(
        300, "EUR", "\"description\":\"Old description\",\"stock\":9,\"active\":false");
    char sku[64], body[512];
    itest_unique_sku(sku, sizeof sku);
    snprintf(body, sizeof body,
             "{\"sku\":\"%s\",\"name\":\"Replaced\",\"price_cents\":999,\"currency\":\"USD\"}",
             sku);
    itest_resp *r = change("PUT", id, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 428);
    itest_free(r);
    r = change("PUT", id, "\"7\"", body);
    ITEST_ASSERT_PROBLEM(r, 412);
    itest_free(r);
    ck_assert_int_eq(product_version(id), 1);

    r = change("PUT", id, "\"1\"", body);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_etag_version(r), 2);
    json_object *o = r->json;
    ck_assert_int_eq(itest_jint(o, "id"), id);
    ck_assert_str_eq(str_or(itest_jstr(o, "sku")), sku);
    ck_assert_str_eq(str_or(itest_jstr(o, "name")), "Replaced");
    ck_assert_int_eq(itest_jint(o, "price_cents"), 999);
    ck_assert_str_eq(str_or(itest_jstr(o, "currency")), "USD");
    /* A full replace: what was left out takes its default. */
    ck_assert_msg(itest_jnull(o, "description"), "description survived PUT: %s", itest_describe(r));
    ck_assert_msg(itest_jnull(o, "stock"), "stock survived PUT: %s", itest_describe(r));
    json_object *active = itest_jget(o, "active");
    ck_assert_msg(active && json_object_get_boolean(active), "active not back to true: %s",
                  itest_describe(r));
    itest_free(r);

    /* PUT validates the whole resource. */
    r = change("PUT", id, "\"2\"", "{\"name\":\"No sku\",\"price_cents\":1,\"currency\":\"EUR\"}");
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "sku"), 1);
    itest_free(r);
    r = change("PUT", id, "\"2\"",
               "{\"sku\":\"X\",\"name\":\"N\",\"price_cents\":1,"
               "\"currency\":\"EUR\",\"version\":2}");
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    ck_assert_int_eq(product_version(id), 2);
}
END_TEST

START_TEST(test_delete)
{
    int64_t id = itest_new_product(10, "EUR", NULL);
    itest_resp *r = change("DELETE", id, "\"9\"", NULL);
    ITEST_ASSERT_PROBLEM(r, 412);
    itest_free(r);
    r = get_product(id);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    r = change("DELETE", id, "\"1\"", NULL);
    ITEST_ASSERT_STATUS(r, 204);
    ck_assert_msg(r->body_len == 0, "204 with a body: %s", itest_describe(r));
    itest_free(r);
    r = get_product(id);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    r = change("DELETE", id, NULL, NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    r = change("PATCH", id, NULL, "{\"name\":\"Ghost\"}");
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    /* Without If-Match too. */
    id = itest_new_product(10, "EUR", NULL);
    r = change("DELETE", id, NULL, NULL);
    ITEST_ASSERT_STATUS(r, 204);
    itest_free(r);
    r = get_product(id);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
}
END_TEST

START_TEST(test_delete_in_use)
{
    int64_t cust = itest_new_customer(NULL);
    int64_t pid = itest_new_product(250, "EUR", NULL);
    char lines[128];
    snprintf(lines, sizeof lines, "[{\"product_id\":%" PRId64 ",\"quantity\":2}]", pid);
    itest_resp *o = itest_create_order(cust, lines, NULL, NULL);
    ITEST_ASSERT_STATUS(o, 201);
    int64_t oid = itest_jint(o->json, "id");
    json_object *ls = itest_jget(o->json, "lines");
    ck_assert_msg(ls && json_object_array_length(ls) == 1, "%s", itest_describe(o));
    int64_t line_id = itest_jint(json_object_array_get_idx(ls, 0), "id");
    itest_free(o);

    itest_resp *r = change("DELETE", pid, NULL, NULL);
    ITEST_ASSERT_PROBLEM_TYPE(r, 409, "/problems/product-in-use");
    itest_free(r);
    r = get_product(pid);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_etag_version(r), 1);
    itest_free(r);
    /* Deactivating is the way out; the order keeps its line. */
    r = change("PATCH", pid, NULL, "{\"active\":false}");
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    char opath[128];
    snprintf(opath, sizeof opath, ITEST_ORDERS "/%" PRId64, oid);
    r = itest_get(opath, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_jint(r->json, "line_count"), 1);
    ck_assert_int_eq(itest_jint(r->json, "total_cents"), 500);
    itest_free(r);
    /* Once on no line any more, it can go. */
    char lpath[192];
    snprintf(lpath, sizeof lpath, ITEST_ORDERS "/%" PRId64 "/lines/%" PRId64, oid, line_id);
    r = itest_request("DELETE", lpath, NULL, NULL, 0, NULL);
    ITEST_ASSERT_STATUS(r, 204);
    itest_free(r);
    r = change("DELETE", pid, NULL, NULL);
    ITEST_ASSERT_STATUS(r, 204);
    itest_free(r);
}
END_TEST

/* ---- lists -------------------------------------------------------------------------------- */

START_TEST(test_list_shape)
{
    itest_new_product(1, "EUR", NULL);
    itest_resp *r = itest_get(ITEST_PRODUCTS, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ITEST_ASSERT_SECURITY(r);
    json_object *items = items_of(r);
    ck_assert_msg(json_object_array_length(items) >= 1 && json_object_array_length(items) <= 50,
                  "%s", itest_describe(r));
    (void)next_cursor(r);
    ck_assert_msg(itest_jget(r->json, "count") == NULL, "count without count=true: %s",
                  itest_describe(r));
    json_object *first = json_object_array_get_idx(items, 0);
    static const char *const keys[] = { "id",          "sku",        "name",
                                        "price_cents", "active",     "version",
                                        "created_at",  "updated_at", "currency" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_msg(itest_jget(first, keys[i]) != NULL, "item lacks %s: %s", keys[i],
                      itest_describe(r));
    itest_free(r);
}
END_TEST

START_TEST(test_list_filters_and_q)
{
    char w[40], w2[40], sku[64], s[5][96], name[160], desc[160], q[512];
    itest_unique_word(w, sizeof w);
    itest_unique_word(w2, sizeof w2);
    itest_unique_sku(sku, sizeof sku);
    for (int i = 0; i < 5; i++)
        snprintf(s[i], sizeof s[i], "%s-%c", sku, 'A' + i);
    snprintf(name, sizeof name, "%s alpha %s", w, w2);
    int64_t a = make_product(s[0], name, NULL, "EUR", 1);
    snprintf(name, sizeof name, "%s bravo", w);
    int64_t b = make_product(s[1], name, NULL, "USD", 1);
    snprintf(name, sizeof name, "%s charlie", w);
    int64_t c = make_product(s[2], name, NULL, "EUR", 0);
    snprintf(desc, sizeof desc, "Described by %s only", w);
    int64_t d = make_product(s[3], "Delta", desc, "JPY", 1);
    snprintf(name, sizeof name, "%s echo", w2);
    int64_t e = make_product(s[4], name, NULL, "EUR", 0);

    snprintf(q, sizeof q, "q=%s", w);
    assert_list_is(q, (int64_t[]){ a, b, c, d }, 4);
    snprintf(q, sizeof q, "q=%s&active=false", w);
    assert_list_is(q, (int64_t[]){ c }, 1);
    snprintf(q, sizeof q, "active=true&q=%s", w);
    assert_list_is(q, (int64_t[]){ a, b, d }, 3);
    snprintf(q, sizeof q, "q=%s&currency=EUR", w);
    assert_list_is(q, (int64_t[]){ a, c }, 2);
    snprintf(q, sizeof q, "q=%s&currency=EUR&active=true", w);
    assert_list_is(q, (int64_t[]){ a }, 1);
    snprintf(q, sizeof q, "q=%s&currency=USD", w);
    assert_list_is(q, (int64_t[]){ b }, 1);
    snprintf(q, sizeof q, "q=%s&currency=GBP", w);
    assert_list_is(q, NULL, 0);
    /* ?sku= is exact (and case-insensitive, like the unique key). */
    snprintf(q, sizeof q, "sku=%s", s[1]);
    assert_list_is(q, (int64_t[]){ b }, 1);
    char lower[96];
    size_t k = 0;
    for (; s[3][k] != '\0' && k + 1 < sizeof lower; k++)
        lower[k] = (char)(s[3][k] >= 'A' && s[3][k] <= 'Z' ? s[3][k] - 'A' + 'a' : s[3][k]);
    lower[k] = '\0';
    snprintf(q, sizeof q, "sku=%s&active=true", lower);
    assert_list_is(q, (int64_t[]){ d }, 1);
    snprintf(q, sizeof q, "sku=%s&currency=USD", s[0]);
    assert_list_is(q, NULL, 0);
    /* Every word must match. */
    snprintf(q, sizeof q, "q=%s%%20%s", w, w2);
    assert_list_is(q, (int64_t[]){ a }, 1);
    snprintf(q, sizeof q, "q=%s", w2);
    assert_list_is(q, (int64_t[]){ a, e }, 2);
    /* A trailing '*' is a prefix match. */
    char prefix[40];
    snprintf(prefix, sizeof prefix, "%.*s", (int)strlen(w) - 2, w);
    snprintf(q, sizeof q, "q=%s%%2A", prefix);
    assert_list_is(q, (int64_t[]){ a, b, c, d }, 4);
}
END_TEST

START_TEST(test_list_sort)
{
    char w[40], sku[64], s[5][96], name[160], q[256];
    itest_unique_word(w, sizeof w);
    itest_unique_sku(sku, sizeof sku);
    /* Names in one order, SKUs in another, creation in a third. */
    static const char *const names[] = { "delta", "alpha", "echo", "charlie", "bravo" };
    static const char skus[] = { 'B', 'E', 'A', 'D', 'C' };
    int64_t id[5];
    for (int i = 0; i < 5; i++) {
        snprintf(s[i], sizeof s[i], "%s-%c", sku, skus[i]);
        snprintf(name, sizeof name, "%s %s", names[i], w);
        id[i] = make_product(s[i], name, NULL, "EUR", 1);
    }
    snprintf(q, sizeof q, "q=%s", w);
    assert_page_order(q, (int64_t[]){ id[4], id[3], id[2], id[1], id[0] }, 5);
    snprintf(q, sizeof q, "q=%s&sort=-created_at", w);
    assert_page_order(q, (int64_t[]){ id[4], id[3], id[2], id[1], id[0] }, 5);
    snprintf(q, sizeof q, "q=%s&sort=created_at", w);
    assert_page_order(q, (int64_t[]){ id[0], id[1], id[2], id[3], id[4] }, 5);
    snprintf(q, sizeof q, "q=%s&sort=name", w);
    assert_page_order(q, (int64_t[]){ id[1], id[4], id[3], id[0], id[2] }, 5);
    snprintf(q, sizeof q, "q=%s&sort=-name", w);
    assert_page_order(q, (int64_t[]){ id[2], id[0], id[3], id[4], id[1] }, 5);
    snprintf(q, sizeof q, "q=%s&sort=sku", w);
    assert_page_order(q, (int64_t[]){ id[2], id[0], id[4], id[3], id[1] }, 5);
    snprintf(q, sizeof q, "q=%s&sort=-sku", w);
    assert_page_order(q, (int64_t[]){ id[1], id[3], id[4], id[0], id[2] }, 5);
}
END_TEST

START_TEST(test_list_paging)
{
    char w[40], sku[64], s[96], name[160], q[256];
    itest_unique_word(w, sizeof w);
    itest_unique_sku(sku, sizeof sku);
    int64_t created[N_PAGED];
    for (int i = 0; i < N_PAGED; i++) {
        snprintf(s, sizeof s, "%s-%c", sku, 'A' + i);
        snprintf(name, sizeof name, "%s item %c", w, 'G' - i);
        created[i] = make_product(s, name, NULL, i % 2 ? "USD" : "EUR", 1);
    }
    static const char *const sorts[] = { "", "&sort=created_at", "&sort=name", "&sort=-sku" };
    for (size_t k = 0; k < sizeof sorts / sizeof sorts[0]; k++) {
        int64_t ids[MAX_IDS];
        int pages = 0;
        snprintf(q, sizeof q, "q=%s&limit=3%s", w, sorts[k]);
        size_t n = list_all(q, ids, MAX_IDS, &pages);
        ck_assert_msg(n == N_PAGED, "?%s: %zu rows over %d pages, want %d", q, n, pages, N_PAGED);
        ck_assert_msg(pages == 3, "?%s: %d pages, want 3", q, pages);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < i; j++)
                ck_assert_msg(ids[i] != ids[j], "?%s: id %" PRId64 " twice", q, ids[i]);
        for (int i = 0; i < N_PAGED; i++) {
            int seen = 0;
            for (size_t j = 0; j < n; j++)
                seen += ids[j] == created[i];
            ck_assert_msg(seen == 1, "?%s: id %" PRId64 " seen %d times", q, created[i], seen);
        }
        /* The walk keeps the sort across pages: names and SKUs were given so
           that both run against the creation order. */
        if (strcmp(sorts[k], "&sort=created_at") == 0) {
            for (int i = 0; i < N_PAGED; i++)
                ck_assert_msg(ids[i] == created[i], "?%s: position %d", q, i);
        } else {
            for (int i = 0; i < N_PAGED; i++)
                ck_assert_msg(ids[i] == created[N_PAGED - 1 - i], "?%s: position %d", q, i);
        }
    }
    /* A filter holds across pages too. */
    int64_t ids[MAX_IDS];
    snprintf(q, sizeof q, "q=%s&limit=2&currency=USD", w);
    size_t n = list_all(q, ids, MAX_IDS, NULL);
    ck_assert_uint_eq(n, N_PAGED / 2);
    /* count=true adds the total of the filtered rows, whatever the page. */
    char path[512];
    snprintf(path, sizeof path, ITEST_PRODUCTS "?q=%s&limit=2&count=true", w);
    itest_resp *r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_msg(itest_jint(r->json, "count") == N_PAGED, "count: %s", itest_describe(r));
    ck_assert_uint_eq(json_object_array_length(items_of(r)), 2);
    ck_assert_msg(next_cursor(r) != NULL, "no next_cursor on a partial page: %s",
                  itest_describe(r));
    itest_free(r);
    snprintf(path, sizeof path, ITEST_PRODUCTS "?q=%s&currency=EUR&count=true", w);
    r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_msg(itest_jint(r->json, "count") == (N_PAGED + 1) / 2, "count: %s",
                  itest_describe(r));
    ck_assert_msg(next_cursor(r) == NULL, "next_cursor on the last page: %s", itest_describe(r));
    itest_free(r);
}
END_TEST

START_TEST(test_list_limit)
{
    char w[40], sku[64], s[96], name[160], q[256];
    itest_unique_word(w, sizeof w);
    itest_unique_sku(sku, sizeof sku);
    for (int i = 0; i < 3; i++) {
        snprintf(s, sizeof s, "%s-%c", sku, 'A' + i);
        snprintf(name, sizeof name, "%s limit", w);
        make_product(s, name, NULL, "EUR", 1);
    }
    snprintf(q, sizeof q, ITEST_PRODUCTS "?q=%s&limit=1", w);
    itest_resp *r = itest_get(q, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_uint_eq(json_object_array_length(items_of(r)), 1);
    itest_free(r);
    snprintf(q, sizeof q, ITEST_PRODUCTS "?q=%s&limit=200", w);
    r = itest_get(q, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_uint_eq(json_object_array_length(items_of(r)), 3);
    ck_assert_msg(next_cursor(r) == NULL, "%s", itest_describe(r));
    itest_free(r);
    r = itest_get(ITEST_PRODUCTS "?limit=200", NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_uint_le(json_object_array_length(items_of(r)), 200);
    itest_free(r);
}
END_TEST

START_TEST(test_list_bad_params)
{
    static const char *const bad[] = {
        "limit=0",      "limit=201",        "limit=-1",       "limit=abc",   "limit=",
        "limit=1.5",    "sort=price_cents", "sort=bogus",     "sort=",       "foo=1",
        "active=maybe", "active=1",         "cursor=garbage", "count=maybe", "limit=5&limit=6",
        "q=abc&q=def",  "currency=EURO",    "currency=123",   "sku=",        "sku=a%20b",
        "sku=%C3%A9",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, ITEST_PRODUCTS "?%s", bad[i]);
        itest_resp *r = itest_get(path, NULL);
        ck_assert_msg(r->status == 400, "?%s: %s", bad[i], itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 400);
        itest_free(r);
    }
    /* A cursor of one sort does not work with another. */
    itest_new_product(1, "EUR", NULL);
    itest_new_product(1, "EUR", NULL);
    itest_resp *r = itest_get(ITEST_PRODUCTS "?limit=1&sort=name", NULL);
    ITEST_ASSERT_STATUS(r, 200);
    const char *nc = next_cursor(r);
    ck_assert_msg(nc != NULL, "%s", itest_describe(r));
    char *enc = itest_urlencode(nc);
    itest_free(r);
    char path[1024];
    snprintf(path, sizeof path, ITEST_PRODUCTS "?limit=1&sort=-sku&cursor=%s", enc);
    r = itest_get(path, NULL);
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    /* A changed cursor is refused. */
    size_t len = strlen(enc);
    enc[len / 2] = enc[len / 2] == 'A' ? 'B' : 'A';
    snprintf(path, sizeof path, ITEST_PRODUCTS "?limit=1&sort=name&cursor=%s", enc);
    r = itest_get(path, NULL);
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    free(enc);
}
END_TEST

/* ---- routing ------------------------------------------------------------------------------ */

START_TEST(test_method_not_allowed)
{
    int64_t id = itest_new_product(1, "EUR", NULL);
    char one[128];
    product_path(one, sizeof one, id);
    struct {
        const char *method;
        const char *path;
        const char *allow[6];
    } cases[] = {
        { "DELETE", ITEST_PRODUCTS, { "GET", "POST", NULL } },
        { "PUT", ITEST_PRODUCTS, { "GET", "POST", NULL } },
        { "PATCH", ITEST_PRODUCTS, { "GET", "POST", NULL } },
        { "POST", one, { "GET", "PATCH", "PUT", "DELETE", NULL } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        itest_resp *r =
            itest_request(cases[i].method, cases[i].path, NULL, "{}", 2, "application/json");
        ck_assert_msg(r->status == 405, "%s %s: %s", cases[i].method, cases[i].path,
                      itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 405);
        ITEST_ASSERT_SECURITY(r);
        assert_allow(r, cases[i].method, cases[i].allow);
        itest_free(r);
    }
    /* Nothing happened to the product. */
    ck_assert_int_eq(product_version(id), 1);
}
END_TEST

static Suite *products_suite(void)
{
    Suite *s = suite_create("sales_products");
    TCase *tc = tcase_create("products");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_add_test(tc, test_create_json);
    tcase_add_test(tc, test_create_defaults);
    tcase_add_test(tc, test_create_form);
    tcase_add_test(tc, test_read_etag_304);
    tcase_add_test(tc, test_not_found);
    tcase_add_test(tc, test_validation_each_field);
    tcase_add_test(tc, test_validation_all_fields);
    tcase_add_test(tc, test_unknown_and_readonly_fields);
    tcase_add_test(tc, test_duplicate_sku);
    tcase_add_test(tc, test_malformed_bodies);
    tcase_add_test(tc, test_unsupported_media_type);
    tcase_add_test(tc, test_idempotency);
    tcase_add_test(tc, test_patch_partial);
    tcase_add_test(tc, test_put);
    tcase_add_test(tc, test_delete);
    tcase_add_test(tc, test_delete_in_use);
    tcase_add_test(tc, test_list_shape);
    tcase_add_test(tc, test_list_filters_and_q);
    tcase_add_test(tc, test_list_sort);
    tcase_add_test(tc, test_list_paging);
    tcase_add_test(tc, test_list_limit);
    tcase_add_test(tc, test_list_bad_params);
    tcase_add_test(tc, test_method_not_allowed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    itest_init();
    SRunner *sr = srunner_create(products_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
