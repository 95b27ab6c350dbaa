/*
 * test_customers_api.c - every route and error status of the customers
 * API (docs/api-customers.md), over HTTPS through NGINX to the pool.
 */
#include "itest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_IDS 512

/* ---- helpers ------------------------------------------------------------------------------ */

static void customer_path(char *buf, size_t n, int64_t id)
{
    snprintf(buf, n, ITEST_CUSTOMERS "/%" PRId64, id);
}

static itest_resp *get_customer(int64_t id)
{
    char path[128];
    customer_path(path, sizeof path, id);
    return itest_get(path, NULL);
}

/* PATCH/PUT/DELETE a customer with an optional If-Match value. */
static itest_resp *change(const char *method, int64_t id, const char *if_match, const char *body)
{
    char path[128], im[128];
    customer_path(path, sizeof path, id);
    snprintf(im, sizeof im, "If-Match: %s", if_match ? if_match : "");
    const char *hdrs[] = { im, NULL };
    return itest_json(method, path, if_match ? hdrs : NULL, body);
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

/* Ids of every row of GET ITEST_CUSTOMERS?query, following next_cursor. */
static size_t list_all(const char *query, int64_t *ids, size_t max)
{
    size_t n = 0;
    char *cursor = NULL;
    for (int page = 0; page < 50; page++) {
        char path[1024];
        snprintf(path, sizeof path, ITEST_CUSTOMERS "?%s%s%s", query, cursor ? "&cursor=" : "",
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
        if (cursor == NULL)
            return n;
    }
    ck_abort_msg("list %s did not end after 50 pages", query);
    return n;
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Assert that GET ?query returns exactly the ids given (any order). */
static void assert_list_is(const char *query, const int64_t *want, size_t n_want)
{
    int64_t got[MAX_IDS], exp[MAX_IDS] = { 0 };
    size_t n = list_all(query, got, MAX_IDS);
    char msg[1024];
    int off = snprintf(msg, sizeof msg, "got");
    for (size_t i = 0; i < n && off < 900; i++)
        off += snprintf(msg + off, sizeof msg - (size_t)off, " %" PRId64, got[i]);
    off += snprintf(msg + off, sizeof msg - (size_t)off, ", want");
    for (size_t i = 0; i < n_want && off < 1000; i++)
        off += snprintf(msg + off, sizeof msg - (size_t)off, " %" PRId64, want[i]);
    ck_assert_msg(n == n_want, "?%s: %zu rows, want %zu (%s)", query, n, n_want, msg);
    for (size_t i = 0; i < n_want; i++)
        exp[i] = want[i];
    qsort(got, n, sizeof *got, cmp_id);
    qsort(exp, n_want, sizeof *exp, cmp_id);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == exp[i], "?%s: %s", query, msg);
}

/* Assert the ids of one page (no cursor) in this order. */
static void assert_page_order(const char *query, const int64_t *want, size_t n_want)
{
    char path[512];
    snprintf(path, sizeof path, ITEST_CUSTOMERS "?%s", query);
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

static int json_array_has_string(json_object *arr, const char *s)
{
    if (arr == NULL || !json_object_is_type(arr, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *v = json_object_array_get_idx(arr, i);
        if (json_object_is_type(v, json_type_string) && strcmp(json_object_get_string(v), s) == 0)
            return 1;
    }
    return 0;
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

/* ---- ping, create, read ------------------------------------------------------------------- */

START_TEST(test_ping)
{
    itest_resp *r = itest_get(ITEST_CUSTOMERS "/ping", NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_str_eq(itest_jstr(r->json, "status") ? itest_jstr(r->json, "status") : "", "ok");
    ITEST_ASSERT_SECURITY(r);
    itest_free(r);
}
END_TEST

START_TEST(test_create_json)
{
    char email[128], upper[128];
    itest_unique_email(email, sizeof email, "ada");
    snprintf(upper, sizeof upper, "%s", email);
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'z' && (p - upper) % 2 == 0)
            *p = (char)(*p - 'a' + 'A');
    char body[1024];
    snprintf(body, sizeof body,
             "{\"name\":\"Ada Lovelace\",\"email\":\"%s\",\"phone\":\"+44 (1234) 567-890\","
             "\"company\":\"Analytical Engines Ltd\",\"status\":\"prospect\",\"owner_id\":7,"
             "\"tags\":[\"VIP\",\"b2b\",\"vip\"]}",
             upper);
    itest_resp *r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    ITEST_ASSERT_SECURITY(r);
    const char *ct = itest_header_get(r, "Content-Type");
    ck_assert_msg(ct && strncasecmp(ct, "application/json", 16) == 0, "%s", itest_describe(r));
    json_object *o = r->json;
    int64_t id = itest_jint(o, "id");
    ck_assert_msg(id > 0, "%s", itest_describe(r));
    char want_loc[128];
    customer_path(want_loc, sizeof want_loc, id);
    const char *loc = itest_header_get(r, "Location");
    ck_assert_msg(loc && strlen(loc) >= strlen(want_loc) &&
                      strcmp(loc + strlen(loc) - strlen(want_loc), want_loc) == 0,
                  "Location %s, want %s", loc ? loc : "(none)", want_loc);
    ck_assert_msg(itest_etag_version(r) == 1, "ETag: %s", itest_describe(r));
    ck_assert_str_eq(itest_jstr(o, "name"), "Ada Lovelace");
    ck_assert_str_eq(itest_jstr(o, "email"), email); /* lower-cased */
    ck_assert_str_eq(itest_jstr(o, "phone"), "+441234567890");
    ck_assert_str_eq(itest_jstr(o, "company"), "Analytical Engines Ltd");
    ck_assert_str_eq(itest_jstr(o, "status"), "prospect");
    ck_assert_int_eq(itest_jint(o, "owner_id"), 7);
    ck_assert_int_eq(itest_jint(o, "version"), 1);
    json_object *tags = itest_jget(o, "tags");
    ck_assert_msg(tags && json_object_is_type(tags, json_type_array) &&
                      json_object_array_length(tags) == 2 && json_array_has_string(tags, "vip") &&
                      json_array_has_string(tags, "b2b"),
                  "tags not lower-cased/de-duplicated: %s", itest_describe(r));
    ck_assert_msg(iso_time(itest_jstr(o, "created_at")), "created_at: %s", itest_describe(r));
    ck_assert_msg(iso_time(itest_jstr(o, "updated_at")), "updated_at: %s", itest_describe(r));
    char *created = strdup(itest_jstr(o, "created_at"));

    /* The Location reads back the same resource. */
    itest_resp *g = get_customer(id);
    ITEST_ASSERT_STATUS(g, 200);
    ck_assert_msg(itest_etag_version(g) == 1, "ETag: %s", itest_describe(g));
    ck_assert_str_eq(itest_jstr(g->json, "email"), email);
    ck_assert_str_eq(itest_jstr(g->json, "phone"), "+441234567890");
    ck_assert_str_eq(itest_jstr(g->json, "created_at"), created);
    ck_assert_int_eq(itest_jint(g->json, "owner_id"), 7);
    free(created);
    itest_free(g);
    itest_free(r);
}
END_TEST

START_TEST(test_create_defaults)
{
    itest_resp *r = itest_create_customer(NULL, NULL);
    ITEST_ASSERT_STATUS(r, 201);
    json_object *o = r->json;
    ck_assert_str_eq(itest_jstr(o, "status"), "lead");
    ck_assert_msg(itest_jnull(o, "phone") && itest_jnull(o, "company") &&
                      itest_jnull(o, "owner_id"),
                  "optional fields not null: %s", itest_describe(r));
    json_object *tags = itest_jget(o, "tags");
    ck_assert_msg(tags == NULL || json_object_array_length(tags) == 0, "tags: %s",
                  itest_describe(r));
    itest_free(r);
}
END_TEST

START_TEST(test_create_form)
{
    char email[128], body[512];
    itest_unique_email(email, sizeof email, "form");
    char *enc = itest_urlencode(email);
    snprintf(body, sizeof body, "name=Form+User&email=%s&tags=vip%%2Cb2b&phone=%%2B1+555+0100",
             enc);
    itest_resp *r = itest_request("POST", ITEST_CUSTOMERS, NULL, body, strlen(body),
                                  "application/x-www-form-urlencoded");
    ITEST_ASSERT_STATUS(r, 201);
    ck_assert_str_eq(itest_jstr(r->json, "name"), "Form User");
    ck_assert_str_eq(itest_jstr(r->json, "email"), email);
    ck_assert_str_eq(itest_jstr(r->json, "phone"), "+15550100");
    json_object *tags = itest_jget(r->json, "tags");
    ck_assert_msg(json_array_has_string(tags, "vip") && json_array_has_string(tags, "b2b") &&
                      json_object_array_length(tags) == 2,
                  "form tags: %s", itest_describe(r));
    ck_assert_msg(itest_location_id(r) == itest_jint(r->json, "id"), "%s", itest_describe(r));
    itest_free(r);

    /* A browser form post: 303 to the page of the new customer. */
    itest_unique_email(email, sizeof email, "browser");
    free(enc);
    enc = itest_urlencode(email);
    snprintf(body, sizeof body, "name=Browser+User&email=%s&status=customer", enc);
    const char *html[] = { "Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", NULL };
    r = itest_request("POST", ITEST_CUSTOMERS, html, body, strlen(body),
                      "application/x-www-form-urlencoded");
    ITEST_ASSERT_STATUS(r, 303);
    const char *loc = itest_header_get(r, "Location");
    ck_assert_msg(loc != NULL, "303 without Location: %s", itest_describe(r));
    const char *path = loc;
    if (strstr(loc, "://") != NULL)
        path = strchr(strstr(loc, "://") + 3, '/');
    ck_assert_msg(path && strncmp(path, "/customers/", 11) == 0, "Location %s", loc);
    char *end = NULL;
    long long id = strtoll(path + 11, &end, 10);
    ck_assert_msg(id > 0 && *end == '\0', "Location %s is not /customers/{id}", loc);
    itest_free(r);
    itest_resp *g = get_customer(id);
    ITEST_ASSERT_STATUS(g, 200);
    ck_assert_str_eq(itest_jstr(g->json, "email"), email);
    ck_assert_str_eq(itest_jstr(g->json, "status"), "customer");
    itest_free(g);
    free(enc);
}
END_TEST

START_TEST(test_read_etag_304)
{
    int64_t id = itest_new_customer(NULL);
    itest_resp *r = get_customer(id);
    ITEST_ASSERT_STATUS(r, 200);
    const char *etag = itest_header_get(r, "ETag");
    ck_assert_msg(etag && strcmp(etag, "\"1\"") == 0, "%s", itest_describe(r));
    ck_assert_int_eq(itest_jint(r->json, "id"), id);
    itest_free(r);

    char path[128];
    customer_path(path, sizeof path, id);
    const char *inm[] = { "If-None-Match: \"1\"", NULL };
    r = itest_get(path, inm);
    ITEST_ASSERT_STATUS(r, 304);
    ck_assert_msg(r->body_len == 0, "304 with a body: %s", itest_describe(r));
    itest_free(r);

    const char *other[] = { "If-None-Match: \"99\"", NULL };
    r = itest_get(path, other);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);

    /* After an update the old tag no longer matches. */
    r = change("PATCH", id, NULL, "{\"company\":\"Etag Co\"}");
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    r = itest_get(path, inm);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_etag_version(r), 2);
    itest_free(r);
}
END_TEST

/* ---- lists -------------------------------------------------------------------------------- */

START_TEST(test_list_shape)
{
    itest_new_customer(NULL);
    itest_resp *r = itest_get(ITEST_CUSTOMERS, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ITEST_ASSERT_SECURITY(r);
    json_object *items = items_of(r);
    ck_assert_msg(json_object_array_length(items) >= 1 && json_object_array_length(items) <= 50,
                  "%s", itest_describe(r));
    (void)next_cursor(r);
    ck_assert_msg(itest_jget(r->json, "count") == NULL, "count without count=true: %s",
                  itest_describe(r));
    json_object *first = json_object_array_get_idx(items, 0);
    static const char *const keys[] = { "id",   "name",    "email",      "status",
                                        "tags", "version", "created_at", "updated_at" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_msg(itest_jget(first, keys[i]) != NULL, "item lacks %s: %s", keys[i],
                      itest_describe(r));
    itest_free(r);
}
END_TEST

START_TEST(test_list_filters)
{
    char tag[40], tag2[40], extra[256], q[256];
    itest_unique_word(tag, sizeof tag);
    itest_unique_word(tag2, sizeof tag2);
    int64_t owner = 1000000000LL + (int64_t)(itest_now() * 1000) % 1000000000LL;
    snprintf(extra, sizeof extra,
             "\"status\":\"prospect\",\"owner_id\":%" PRId64 ",\"tags\":[\"%s\"]", owner, tag);
    int64_t a = itest_new_customer(extra);
    snprintf(extra, sizeof extra,
             "\"status\":\"customer\",\"owner_id\":%" PRId64 ",\"tags\":[\"%s\"]", owner, tag);
    int64_t b = itest_new_customer(extra);
    snprintf(extra, sizeof extra,
             "\"status\":\"prospect\",\"owner_id\":%" PRId64 ",\"tags\":[\"%s\",\"%s\"]", owner + 1,
             tag, tag2);
    int64_t c = itest_new_customer(extra);
    itest_new_customer("\"status\":\"prospect\"");

    snprintf(q, sizeof q, "tag=%s", tag);
    assert_list_is(q, (int64_t[]){ a, b, c }, 3);
    snprintf(q, sizeof q, "tag=%s&status=prospect", tag);
    assert_list_is(q, (int64_t[]){ a, c }, 2);
    snprintf(q, sizeof q, "status=customer&tag=%s", tag);
    assert_list_is(q, (int64_t[]){ b }, 1);
    snprintf(q, sizeof q, "tag=%s&owner=%" PRId64, tag, owner);
    assert_list_is(q, (int64_t[]){ a, b }, 2);
    snprintf(q, sizeof q, "owner=%" PRId64 "&status=prospect", owner + 1);
    assert_list_is(q, (int64_t[]){ c }, 1);
    snprintf(q, sizeof q, "tag=%s", tag2);
    assert_list_is(q, (int64_t[]){ c }, 1);
    snprintf(q, sizeof q, "tag=%s&status=churned", tag);
    assert_list_is(q, NULL, 0);
}
END_TEST

START_TEST(test_list_q)
{
    char word[40], word2[40], email_word[40], extra[256], q[256];
    itest_unique_word(word, sizeof word);
    itest_unique_word(word2, sizeof word2);
    itest_unique_word(email_word, sizeof email_word);
    snprintf(extra, sizeof extra, "\"company\":\"Acme %s Ltd\"", word);
    int64_t x = itest_new_customer(extra);
    snprintf(extra, sizeof extra, "\"company\":\"%s Industries\"", word);
    int64_t y = itest_new_customer(extra);
    snprintf(extra, sizeof extra, "\"company\":\"Other %s\"", word2);
    int64_t z = itest_new_customer(extra);

    snprintf(q, sizeof q, "q=%s", word);
    assert_list_is(q, (int64_t[]){ x, y }, 2);
    /* Prefix match: all but the last letter. */
    char prefix[40];
    snprintf(prefix, sizeof prefix, "%s", word);
    prefix[strlen(prefix) - 1] = '\0';
    snprintf(q, sizeof q, "q=%s", prefix);
    assert_list_is(q, (int64_t[]){ x, y }, 2);
    /* Every word must match. */
    snprintf(q, sizeof q, "q=%s+industries", word);
    assert_list_is(q, (int64_t[]){ y }, 1);
    snprintf(q, sizeof q, "q=%s+%s", word, word2);
    assert_list_is(q, NULL, 0);
    snprintf(q, sizeof q, "q=%s", word2);
    assert_list_is(q, (int64_t[]){ z }, 1);

    /* Name and email are searched too. */
    char body[512], email[128];
    itest_unique_email(email, sizeof email, email_word);
    snprintf(body, sizeof body, "{\"name\":\"Grace %s\",\"email\":\"%s\"}", word2, email);
    itest_resp *r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    int64_t w = itest_jint(r->json, "id");
    itest_free(r);
    snprintf(q, sizeof q, "q=%s", word2);
    assert_list_is(q, (int64_t[]){ z, w }, 2);
    snprintf(q, sizeof q, "q=%s", email_word);
    assert_list_is(q, (int64_t[]){ w }, 1);
    /* Combined with a filter. */
    snprintf(q, sizeof q, "q=%s&status=churned", word);
    assert_list_is(q, NULL, 0);
}
END_TEST

START_TEST(test_list_sort)
{
    char tag[40], q[256];
    itest_unique_word(tag, sizeof tag);
    /* Created in the order b, a, c. */
    const char *names[] = { "Sortb", "Sorta", "Sortc" };
    int64_t id[3];
    for (int i = 0; i < 3; i++) {
        char email[128], body[512];
        itest_unique_email(email, sizeof email, NULL);
        snprintf(body, sizeof body, "{\"name\":\"%s\",\"email\":\"%s\",\"tags\":[\"%s\"]}",
                 names[i], email, tag);
        itest_resp *r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
        ITEST_ASSERT_STATUS(r, 201);
        id[i] = itest_jint(r->json, "id");
        itest_free(r);
        itest_sleep_ms(5);
    }
    int64_t b = id[0], a = id[1], c = id[2];
    snprintf(q, sizeof q, "tag=%s&sort=name", tag);
    assert_page_order(q, (int64_t[]){ a, b, c }, 3);
    snprintf(q, sizeof q, "tag=%s&sort=-name", tag);
    assert_page_order(q, (int64_t[]){ c, b, a }, 3);
    snprintf(q, sizeof q, "tag=%s&sort=created_at", tag);
    assert_page_order(q, (int64_t[]){ b, a, c }, 3);
    snprintf(q, sizeof q, "tag=%s&sort=-created_at", tag);
    assert_page_order(q, (int64_t[]){ c, a, b }, 3);
    snprintf(q, sizeof q, "tag=%s", tag); /* default: newest first */
    assert_page_order(q, (int64_t[]){ c, a, b }, 3);
    /* Touch b: it becomes the most recently updated. */
    itest_resp *r = change("PATCH", b, NULL, "{\"company\":\"Touched\"}");
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    snprintf(q, sizeof q, "tag=%s&sort=updated_at", tag);
    assert_page_order(q, (int64_t[]){ a, c, b }, 3);
    snprintf(q, sizeof q, "tag=%s&sort=-updated_at", tag);
    assert_page_order(q, (int64_t[]){ b, c, a }, 3);

    static const char *const bad[] = { "sort=bogus", "sort=id",          "sort=email",
                                       "sort=-",     "sort=name%3Bdrop", "sort=" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, ITEST_CUSTOMERS "?%s", bad[i]);
        r = itest_get(path, NULL);
        ITEST_ASSERT_PROBLEM(r, 400);
        itest_free(r);
    }
}
END_TEST

START_TEST(test_list_count)
{
    char tag[40], extra[128], path[256];
    itest_unique_word(tag, sizeof tag);
    snprintf(extra, sizeof extra, "\"tags\":[\"%s\"]", tag);
    for (int i = 0; i < 3; i++)
        itest_new_customer(extra);
    snprintf(path, sizeof path, ITEST_CUSTOMERS "?tag=%s&count=true&limit=2", tag);
    itest_resp *r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_msg(itest_jint(r->json, "count") == 3, "count: %s", itest_describe(r));
    ck_assert_int_eq(json_object_array_length(items_of(r)), 2);
    itest_free(r);
    snprintf(path, sizeof path, ITEST_CUSTOMERS "?tag=%s", tag);
    r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_msg(itest_jget(r->json, "count") == NULL, "count unasked: %s", itest_describe(r));
    itest_free(r);
}
END_TEST

START_TEST(test_list_limit)
{
    char tag[40], extra[128], path[256];
    itest_unique_word(tag, sizeof tag);
    snprintf(extra, sizeof extra, "\"tags\":[\"%s\"]", tag);
    for (int i = 0; i < 3; i++)
        itest_new_customer(extra);
    static const char *const bad[] = { "0", "201", "abc", "-1", "", "1.5", "99999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, ITEST_CUSTOMERS "?limit=%s", bad[i]);
        itest_resp *r = itest_get(path, NULL);
        ITEST_ASSERT_PROBLEM(r, 400);
        itest_free(r);
    }
    snprintf(path, sizeof path, ITEST_CUSTOMERS "?tag=%s&limit=1", tag);
    itest_resp *r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(json_object_array_length(items_of(r)), 1);
    ck_assert_msg(next_cursor(r) != NULL, "limit=1 of 3 without next_cursor: %s",
                  itest_describe(r));
    itest_free(r);
    snprintf(path, sizeof path, ITEST_CUSTOMERS "?tag=%s&limit=200", tag);
    r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(json_object_array_length(items_of(r)), 3);
    ck_assert_msg(next_cursor(r) == NULL, "last page with a cursor: %s", itest_describe(r));
    itest_free(r);
    r = itest_get(ITEST_CUSTOMERS "?limit=200", NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_le(json_object_array_length(items_of(r)), 200);
    itest_free(r);
}
END_TEST

START_TEST(test_list_cursor)
{
    char tag[40], extra[128], path[1024];
    itest_unique_word(tag, sizeof tag);
    snprintf(extra, sizeof extra, "\"tags\":[\"%s\"]", tag);
    int64_t id[3];
    for (int i = 0; i < 3; i++)
        id[i] = itest_new_customer(extra);

    snprintf(path, sizeof path, ITEST_CUSTOMERS "?tag=%s&limit=2&sort=name", tag);
    itest_resp *r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_msg(next_cursor(r) != NULL, "%s", itest_describe(r));
    char *raw = strdup(next_cursor(r));
    char *cur = itest_urlencode(raw);
    itest_free(r);

    /* The same sort continues: the third row. */
    snprintf(path, sizeof path, ITEST_CUSTOMERS "?tag=%s&limit=2&sort=name&cursor=%s", tag, cur);
    r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(json_object_array_length(items_of(r)), 1);
    ck_assert_msg(next_cursor(r) == NULL, "%s", itest_describe(r));
    itest_free(r);

    /* Another sort, or none (the default): 400. */
    static const char *const sorts[] = { "&sort=-created_at", "", "&sort=-name" };
    for (size_t i = 0; i < sizeof sorts / sizeof sorts[0]; i++) {
        snprintf(path, sizeof path, ITEST_CUSTOMERS "?tag=%s&limit=2%s&cursor=%s", tag, sorts[i],
                 cur);
        r = itest_get(path, NULL);
        ITEST_ASSERT_PROBLEM(r, 400);
        itest_free(r);
    }

    /* Garbage and tampered cursors: 400. */
    static const char *const garbage[] = { "garbage", "AAAA", "%00", "eyJ9", "-" };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        snprintf(path, sizeof path, ITEST_CUSTOMERS "?sort=name&cursor=%s", garbage[i]);
        r = itest_get(path, NULL);
        ITEST_ASSERT_PROBLEM(r, 400);
        itest_free(r);
    }
    size_t len = strlen(raw);
    ck_assert_uint_gt(len, 2);
    for (size_t pos = 0; pos < len; pos += (len / 4 > 0 ? len / 4 : 1)) {
        char *t = strdup(raw);
        t[pos] = t[pos] == 'A' ? 'B' : 'A';
        char *te = itest_urlencode(t);
        snprintf(path, sizeof path, ITEST_CUSTOMERS "?tag=%s&limit=2&sort=name&cursor=%s", tag, te);
        r = itest_get(path, NULL);
        ck_assert_msg(r->status == 400, "tampered cursor (byte %zu) accepted: %s", pos,
                      itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 400);
        itest_free(r);
        free(te);
        free(t);
    }
    free(cur);
    free(raw);
    (void)id;
}
END_TEST

START_TEST(test_list_bad_params)
{
    static const char *const bad[] = {
        "foo=1",
        "limit=1&limit=2",
        "status=bogus",
        "owner=abc",
        "owner=-1",
        "count=maybe",
        "tag=a&tag=b",
        "sort=name&sort=-name",
        "q=abc&q=def",
        "LIMIT=5",
        "status=lead&status=lead",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, ITEST_CUSTOMERS "?%s", bad[i]);
        itest_resp *r = itest_get(path, NULL);
        ITEST_ASSERT_PROBLEM(r, 400);
        ITEST_ASSERT_SECURITY(r);
        itest_free(r);
    }
}
END_TEST

/* ---- updates ------------------------------------------------------------------------------ */

static int64_t new_full_customer(char *email, size_t n)
{
    char body[512];
    itest_unique_email(email, n, "full");
    snprintf(body, sizeof body,
             "{\"name\":\"Full Person\",\"email\":\"%s\",\"phone\":\"+1 (555) 010-0200\","
             "\"company\":\"Full Co\",\"status\":\"customer\",\"owner_id\":42,"
             "\"tags\":[\"alpha\",\"beta\"]}",
             email);
    itest_resp *r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    int64_t id = itest_jint(r->json, "id");
    itest_free(r);
    return id;
}

START_TEST(test_patch_partial)
{
    char email[128];
    int64_t id = new_full_customer(email, sizeof email);
    itest_resp *r = change("PATCH", id, NULL, "{\"company\":\"New Co\",\"status\":\"churned\"}");
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_msg(itest_etag_version(r) == 2, "ETag: %s", itest_describe(r));
    json_object *o = r->json;
    ck_assert_int_eq(itest_jint(o, "version"), 2);
    ck_assert_str_eq(itest_jstr(o, "company"), "New Co");
    ck_assert_str_eq(itest_jstr(o, "status"), "churned");
    ck_assert_str_eq(itest_jstr(o, "name"), "Full Person");
    ck_assert_str_eq(itest_jstr(o, "email"), email);
    ck_assert_str_eq(itest_jstr(o, "phone"), "+15550100200");
    ck_assert_int_eq(itest_jint(o, "owner_id"), 42);
    ck_assert_int_eq(json_object_array_length(itest_jget(o, "tags")), 2);
    ck_assert_msg(strcmp(itest_jstr(o, "updated_at"), itest_jstr(o, "created_at")) >= 0, "%s",
                  itest_describe(r));
    itest_free(r);
    r = get_customer(id);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_etag_version(r), 2);
    ck_assert_str_eq(itest_jstr(r->json, "company"), "New Co");
    itest_free(r);
    /* Tags replace as a whole; If-Match "*" matches any version. */
    r = change("PATCH", id, "*", "{\"tags\":[\"Gamma\"]}");
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_jint(r->json, "version"), 3);
    json_object *tags = itest_jget(r->json, "tags");
    ck_assert_msg(json_object_array_length(tags) == 1 && json_array_has_string(tags, "gamma"), "%s",
                  itest_describe(r));
    itest_free(r);
    /* Form PATCH goes through the same validation. */
    char path[128];
    customer_path(path, sizeof path, id);
    const char *form = "company=Form+Co";
    r = itest_request("PATCH", path, NULL, form, strlen(form), "application/x-www-form-urlencoded");
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_str_eq(itest_jstr(r->json, "company"), "Form Co");
    itest_free(r);
}
END_TEST

START_TEST(test_patch_null_clears)
{
    char email[128];
    int64_t id = new_full_customer(email, sizeof email);
    itest_resp *r = change("PATCH", id, "\"1\"", "{\"phone\":null,\"owner_id\":null}");
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_msg(itest_jnull(r->json, "phone") && itest_jnull(r->json, "owner_id"),
                  "not cleared: %s", itest_describe(r));
    ck_assert_str_eq(itest_jstr(r->json, "company"), "Full Co");
    itest_free(r);
    r = get_customer(id);
    ck_assert_msg(itest_jnull(r->json, "phone"), "phone back: %s", itest_describe(r));
    itest_free(r);
    /* A required field cannot be cleared. */
    r = change("PATCH", id, NULL, "{\"name\":null}");
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "name"), 1);
    itest_free(r);
}
END_TEST

START_TEST(test_patch_empty)
{
    int64_t id = itest_new_customer(NULL);
    itest_resp *r = change("PATCH", id, NULL, "{}");
    ITEST_ASSERT_PROBLEM(r, 422);
    ITEST_ASSERT_SECURITY(r);
    itest_free(r);
    r = get_customer(id);
    ck_assert_int_eq(itest_etag_version(r), 1);
    itest_free(r);
}
END_TEST

START_TEST(test_patch_stale)
{
    char email[128];
    int64_t id = new_full_customer(email, sizeof email);
    itest_resp *r = change("PATCH", id, "\"1\"", "{\"company\":\"Second\"}");
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    r = change("PATCH", id, "\"1\"", "{\"company\":\"Lost update\"}");
    ITEST_ASSERT_PROBLEM(r, 412);
    itest_free(r);
    r = get_customer(id);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_etag_version(r), 2);
    ck_assert_str_eq(itest_jstr(r->json, "company"), "Second");
    itest_free(r);
    r = change("PATCH", id, "\"2\"", "{\"company\":\"Third\"}");
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_etag_version(r), 3);
    itest_free(r);
}
END_TEST

/* If-Match compares strongly: W/"1" names the right version but never matches. */
START_TEST(test_if_match_weak)
{
    int64_t id = itest_new_customer(NULL);
    itest_resp *r = change("PATCH", id, "W/\"1\"", "{\"company\":\"Weak\"}");
    ITEST_ASSERT_PROBLEM(r, 412);
    itest_free(r);
    /* If-None-Match compares weakly: W/"1" is the current version. */
    char path[128];
    customer_path(path, sizeof path, id);
    const char *inm[] = { "If-None-Match: W/\"1\"", NULL };
    r = itest_get(path, inm);
    ITEST_ASSERT_STATUS(r, 304);
    itest_free(r);
    r = change("PATCH", id, "\"1\"", "{\"company\":\"Strong\"}");
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
}
END_TEST

/* A JSON create from a client that also accepts HTML is still a 201. */
START_TEST(test_create_json_accepting_html)
{
    const char *html[] = { "Accept: text/html, application/json", NULL };
    itest_resp *r = itest_create_customer(NULL, html);
    ITEST_ASSERT_STATUS(r, 201);
    ck_assert_msg(itest_location_id(r) == itest_jint(r->json, "id"), "%s", itest_describe(r));
    itest_free(r);
}
END_TEST

/* A notes cursor belongs to one customer's timeline. */
START_TEST(test_notes_cursor_other_customer)
{
    int64_t a = itest_new_customer(NULL), b = itest_new_customer(NULL);
    char path[128];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, ITEST_CUSTOMERS "/%" PRId64 "/notes", a);
        itest_resp *r = itest_json("POST", path, NULL, "{\"body\":\"note\"}");
        ITEST_ASSERT_STATUS(r, 201);
        itest_free(r);
    }
    snprintf(path, sizeof path, ITEST_CUSTOMERS "/%" PRId64 "/notes?limit=2", a);
    itest_resp *r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    const char *cur = next_cursor(r);
    ck_assert_ptr_nonnull(cur);
    char other[1024];
    snprintf(other, sizeof other, ITEST_CUSTOMERS "/%" PRId64 "/notes?cursor=%s", b, cur);
    char same[1024];
    snprintf(same, sizeof same, ITEST_CUSTOMERS "/%" PRId64 "/notes?limit=2&cursor=%s", a, cur);
    itest_free(r);
    r = itest_get(other, NULL);
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    r = itest_get(same, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_uint_eq(json_object_array_length(items_of(r)), 1);
    itest_free(r);
}
END_TEST

START_TEST(test_if_match_malformed)
{
    int64_t id = itest_new_customer(NULL);
    static const char *const bad[] = { "garbage", "1", "\"1", "W/", "\"1\" \"2" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        itest_resp *r = change("PATCH", id, bad[i], "{\"company\":\"X\"}");
        ck_assert_msg(r->status == 400, "If-Match: %s: %s", bad[i], itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 400);
        itest_free(r);
    }
    itest_resp *r = change("DELETE", id, "nope", NULL);
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    r = get_customer(id);
    ck_assert_int_eq(itest_etag_version(r), 1);
    itest_free(r);
}
END_TEST

START_TEST(test_put)
{
    char email[128], email2[128], body[512];
    int64_t id = new_full_customer(email, sizeof email);
    itest_unique_email(email2, sizeof email2, "put");
    snprintf(body, sizeof body, "{\"name\":\"Replaced\",\"email\":\"%s\"}", email2);
    itest_resp *r = change("PUT", id, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 428);
    itest_free(r);
    r = change("PUT", id, "\"7\"", body);
    ITEST_ASSERT_PROBLEM(r, 412);
    itest_free(r);
    r = get_customer(id);
    ck_assert_str_eq(itest_jstr(r->json, "name"), "Full Person");
    itest_free(r);

    r = change("PUT", id, "\"1\"", body);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_etag_version(r), 2);
    json_object *o = r->json;
    ck_assert_int_eq(itest_jint(o, "id"), id);
    ck_assert_int_eq(itest_jint(o, "version"), 2);
    ck_assert_str_eq(itest_jstr(o, "name"), "Replaced");
    ck_assert_str_eq(itest_jstr(o, "email"), email2);
    ck_assert_msg(itest_jnull(o, "phone") && itest_jnull(o, "company") &&
                      itest_jnull(o, "owner_id"),
                  "PUT kept omitted optional fields: %s", itest_describe(r));
    json_object *tags = itest_jget(o, "tags");
    ck_assert_msg(tags == NULL || json_object_array_length(tags) == 0, "PUT kept tags: %s",
                  itest_describe(r));
    ck_assert_msg(itest_jstr(o, "status") && strcmp(itest_jstr(o, "status"), "lead") == 0,
                  "PUT kept status (want the default lead): %s", itest_describe(r));
    itest_free(r);
    r = get_customer(id);
    ck_assert_msg(itest_jnull(r->json, "company"), "%s", itest_describe(r));
    itest_free(r);

    /* Full replace validates like create. */
    r = change("PUT", id, "\"2\"", "{\"company\":\"No name\"}");
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "name"), 1);
    ck_assert_int_eq(itest_problem_field_count(r, "email"), 1);
    itest_free(r);
    /* The old email is free again (no longer used by this customer). */
    snprintf(body, sizeof body, "{\"name\":\"Old mail\",\"email\":\"%s\"}", email);
    r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    itest_free(r);
}
END_TEST

START_TEST(test_delete)
{
    int64_t id = itest_new_customer(NULL);
    itest_resp *r = change("DELETE", id, NULL, NULL);
    ITEST_ASSERT_STATUS(r, 204);
    ck_assert_uint_eq(r->body_len, 0);
    itest_free(r);
    r = get_customer(id);
    ITEST_ASSERT_PROBLEM(r, 404);
    ITEST_ASSERT_SECURITY(r);
    itest_free(r);
    r = change("PATCH", id, NULL, "{\"company\":\"Ghost\"}");
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    r = change("PUT", id, "\"1\"", "{\"name\":\"Ghost\",\"email\":\"ghost@example.com\"}");
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    r = change("DELETE", id, NULL, NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    /* Gone from lists too. */
    r = itest_get(ITEST_CUSTOMERS "?limit=200", NULL);
    ITEST_ASSERT_STATUS(r, 200);
    json_object *items = items_of(r);
    for (size_t i = 0; i < json_object_array_length(items); i++)
        ck_assert_msg(itest_jint(json_object_array_get_idx(items, i), "id") != id,
                      "deleted customer listed");
    itest_free(r);
}
END_TEST

START_TEST(test_delete_stale)
{
    int64_t id = itest_new_customer(NULL);
    itest_resp *r = change("PATCH", id, NULL, "{\"company\":\"v2\"}");
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    r = change("DELETE", id, "\"1\"", NULL);
    ITEST_ASSERT_PROBLEM(r, 412);
    itest_free(r);
    r = get_customer(id);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_etag_version(r), 2);
    itest_free(r);
    r = change("DELETE", id, "\"2\"", NULL);
    ITEST_ASSERT_STATUS(r, 204);
    itest_free(r);
}
END_TEST

START_TEST(test_email_reuse_after_delete)
{
    char email[128], body[256];
    itest_unique_email(email, sizeof email, "reuse");
    snprintf(body, sizeof body, "{\"name\":\"First\",\"email\":\"%s\"}", email);
    itest_resp *r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    int64_t id = itest_jint(r->json, "id");
    itest_free(r);
    r = change("DELETE", id, NULL, NULL);
    ITEST_ASSERT_STATUS(r, 204);
    itest_free(r);
    r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    ck_assert_int_ne(itest_jint(r->json, "id"), id);
    itest_free(r);
}
END_TEST

START_TEST(test_duplicate_email)
{
    char email[128], upper[128], body[256];
    itest_unique_email(email, sizeof email, "dup");
    snprintf(body, sizeof body, "{\"name\":\"Ada\",\"email\":\"%s\"}", email);
    itest_resp *r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    itest_free(r);
    r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 409);
    ck_assert_msg(strstr(r->body, "SQL") == NULL && strstr(r->body, "Duplicate entry") == NULL,
                  "database text leaked: %s", itest_describe(r));
    itest_free(r);
    /* Case-insensitively the same address. */
    snprintf(upper, sizeof upper, "%s", email);
    upper[0] = 'I';
    upper[1] = 'T';
    char *at = strchr(upper, '@');
    for (char *p = at; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    snprintf(body, sizeof body, "{\"name\":\"Ada Again\",\"email\":\"%s\"}", upper);
    r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 409);
    itest_free(r);
    /* Changing another customer's email to it: 409 too, nothing changed. */
    int64_t other = itest_new_customer(NULL);
    snprintf(body, sizeof body, "{\"email\":\"%s\"}", upper);
    r = change("PATCH", other, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 409);
    itest_free(r);
    r = get_customer(other);
    ck_assert_int_eq(itest_etag_version(r), 1);
    itest_free(r);
}
END_TEST

/* ---- validation --------------------------------------------------------------------------- */

START_TEST(test_validation_all_fields)
{
    char *longname = repeat("n", 201);
    char body[2048];
    snprintf(body, sizeof body,
             "{\"name\":\"%s\",\"email\":\"not-an-email\",\"status\":\"vip\",\"phone\":\"12\","
             "\"owner_id\":0,\"tags\":[\"Bad Tag!\"]}",
             longname);
    itest_resp *r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 422);
    ITEST_ASSERT_SECURITY(r);
    static const char *const fields[] = { "name", "email", "status", "phone", "owner_id", "tags" };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        ck_assert_msg(itest_problem_field_count(r, fields[i]) == 1,
                      "want one errors entry for %s: %s", fields[i], itest_describe(r));
    ck_assert_msg(json_object_array_length(itest_jget(r->json, "errors")) == 6,
                  "want 6 errors entries: %s", itest_describe(r));
    itest_free(r);
    free(longname);
}
END_TEST

/* POST name/email plus extra; expect 422 naming field once. */
static void expect_422(const char *field, const char *name_json, const char *extra)
{
    char email[128], body[8192];
    itest_unique_email(email, sizeof email, NULL);
    snprintf(body, sizeof body, "{\"name\":%s,\"email\":\"%s\"%s%s}", name_json, email,
             extra ? "," : "", extra ? extra : "");
    itest_resp *r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ck_assert_msg(r->status == 422, "%s: %s", extra ? extra : name_json, itest_describe(r));
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_msg(itest_problem_field_count(r, field) == 1, "want one errors entry for %s: %s",
                  field, itest_describe(r));
    ck_assert_msg(json_object_array_length(itest_jget(r->json, "errors")) == 1,
                  "want only the %s entry: %s", field, itest_describe(r));
    itest_free(r);
}

static void expect_201(const char *name_json, const char *extra)
{
    char email[128], body[8192];
    itest_unique_email(email, sizeof email, NULL);
    snprintf(body, sizeof body, "{\"name\":%s,\"email\":\"%s\"%s%s}", name_json, email,
             extra ? "," : "", extra ? extra : "");
    itest_resp *r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ck_assert_msg(r->status == 201, "%s: %s", extra ? extra : name_json, itest_describe(r));
    itest_free(r);
}

START_TEST(test_validation_each_field)
{
    char *n200 = repeat("n", 200), *n201 = repeat("n", 201);
    char *e200 = repeat("\xc3\xa9", 200), *e201 = repeat("\xc3\xa9", 201);
    char quoted[1024];
    snprintf(quoted, sizeof quoted, "\"%s\"", n200);
    expect_201(quoted, NULL);
    snprintf(quoted, sizeof quoted, "\"%s\"", e200); /* 200 characters, 400 bytes */
    expect_201(quoted, NULL);
    snprintf(quoted, sizeof quoted, "\"%s\"", n201);
    expect_422("name", quoted, NULL);
    snprintf(quoted, sizeof quoted, "\"%s\"", e201);
    expect_422("name", quoted, NULL);
    expect_422("name", "\"\"", NULL);
    expect_422("name", "123", NULL);
    expect_422("name", "null", NULL);

    expect_422("status", "\"S\"", "\"status\":\"vip\"");
    expect_422("status", "\"S\"", "\"status\":1");
    expect_201("\"S\"", "\"status\":\"churned\"");

    expect_422("phone", "\"P\"", "\"phone\":\"123456\"");           /* 6 digits */
    expect_422("phone", "\"P\"", "\"phone\":\"1234567890123456\""); /* 16 */
    expect_422("phone", "\"P\"", "\"phone\":\"+1 555 CALL NOW\"");
    expect_422("phone", "\"P\"", "\"phone\":5550100");
    expect_201("\"P\"", "\"phone\":\"1234567\"");
    expect_201("\"P\"", "\"phone\":null");

    expect_422("owner_id", "\"O\"", "\"owner_id\":0");
    expect_422("owner_id", "\"O\"", "\"owner_id\":-5");
    expect_422("owner_id", "\"O\"", "\"owner_id\":9007199254740992");
    expect_422("owner_id", "\"O\"", "\"owner_id\":\"7\"");
    expect_422("owner_id", "\"O\"", "\"owner_id\":1.5");
    expect_201("\"O\"", "\"owner_id\":9007199254740991");

    char *c201 = repeat("c", 201);
    char extra[1024];
    snprintf(extra, sizeof extra, "\"company\":\"%s\"", c201);
    expect_422("company", "\"C\"", extra);

    expect_422("tags", "\"T\"", "\"tags\":[\"Bad Tag!\"]");
    expect_422("tags", "\"T\"", "\"tags\":[\"\"]");
    expect_422("tags", "\"T\"", "\"tags\":[\"abcdefghijklmnopqrstuvwxyz0123456\"]"); /* 33 */
    expect_422("tags", "\"T\"", "\"tags\":\"vip\"");
    expect_422("tags", "\"T\"", "\"tags\":[1]");
    expect_422("tags", "\"T\"",
               "\"tags\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\","
               "\"m\",\"n\",\"o\",\"p\",\"q\",\"r\",\"s\",\"t\",\"u\"]"); /* 21 */
    expect_201("\"T\"", "\"tags\":[\"abcdefghijklmnopqrstuvwxyz012345\",\"a_b-c\"]");

    /* email: missing, malformed, over 254 */
    char body[1024];
    snprintf(body, sizeof body, "{\"name\":\"No mail\"}");
    itest_resp *r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "email"), 1);
    itest_free(r);
    static const char *const bad_emails[] = { "plain", "a@", "@b.com", "a b@c.com", "a@@b.com" };
    for (size_t i = 0; i < sizeof bad_emails / sizeof bad_emails[0]; i++) {
        snprintf(body, sizeof body, "{\"name\":\"Bad mail\",\"email\":\"%s\"}", bad_emails[i]);
        r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
        ck_assert_msg(r->status == 422, "email %s: %s", bad_emails[i], itest_describe(r));
        ck_assert_int_eq(itest_problem_field_count(r, "email"), 1);
        itest_free(r);
    }
    char *local = repeat("x", 64), *l1 = repeat("d", 61), *l3 = repeat("d", 62);
    snprintf(body, sizeof body, "{\"name\":\"Long mail\",\"email\":\"%s@%s.%s.%s.com\"}", local, l1,
             l1, l3); /* 64 + 1 + 190 = 255 */
    r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "email"), 1);
    itest_free(r);

    /* PATCH validates the same way. */
    int64_t id = itest_new_customer(NULL);
    r = change("PATCH", id, NULL, "{\"status\":\"vip\",\"phone\":\"x\"}");
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "status"), 1);
    ck_assert_int_eq(itest_problem_field_count(r, "phone"), 1);
    itest_free(r);

    free(local);
    free(l1);
    free(l3);
    free(c201);
    free(n200);
    free(n201);
    free(e200);
    free(e201);
}
END_TEST

START_TEST(test_unknown_and_readonly_fields)
{
    char email[128], body[512];
    itest_unique_email(email, sizeof email, NULL);
    snprintf(body, sizeof body, "{\"name\":\"U\",\"email\":\"%s\",\"foo\":1,\"is_admin\":true}",
             email);
    itest_resp *r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 400);
    ck_assert_msg(problem_mentions(r, "foo") && problem_mentions(r, "is_admin"),
                  "400 does not list the fields: %s", itest_describe(r));
    itest_free(r);
    static const char *const ro[] = { "\"id\":5", "\"version\":3",
                                      "\"created_at\":\"2020-01-01T00:00:00Z\"",
                                      "\"updated_at\":\"2020-01-01T00:00:00Z\"",
                                      "\"deleted_at\":null" };
    static const char *const names[] = { "id", "version", "created_at", "updated_at",
                                         "deleted_at" };
    int64_t id = itest_new_customer(NULL);
    for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++) {
        snprintf(body, sizeof body, "{\"name\":\"R\",\"email\":\"%s\",%s}", email, ro[i]);
        r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
        ck_assert_msg(r->status == 400, "POST with %s: %s", ro[i], itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 400);
        ck_assert_msg(problem_mentions(r, names[i]), "400 does not name %s: %s", names[i],
                      itest_describe(r));
        itest_free(r);
        snprintf(body, sizeof body, "{\"company\":\"R\",%s}", ro[i]);
        r = change("PATCH", id, NULL, body);
        ck_assert_msg(r->status == 400, "PATCH with %s: %s", ro[i], itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 400);
        itest_free(r);
    }
    r = get_customer(id);
    ck_assert_int_eq(itest_etag_version(r), 1);
    itest_free(r);
    /* The email was never taken by the rejected posts. */
    snprintf(body, sizeof body, "{\"name\":\"U\",\"email\":\"%s\"}", email);
    r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    itest_free(r);
    /* Unknown form fields too. */
    const char *form = "name=F&email=f%40example.com&role=admin";
    r = itest_request("POST", ITEST_CUSTOMERS, NULL, form, strlen(form),
                      "application/x-www-form-urlencoded");
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
}
END_TEST

START_TEST(test_malformed_bodies)
{
    char email[128], body[512];
    itest_unique_email(email, sizeof email, NULL);
    static const char *const bad[] = {
        "{\"name\":", "{\"name\":\"a\",}",   "{name:\"a\"}",   "{\"name\":\"a\"} trailing", "",
        "nul",        "{\"name\":\"a\\q\"}", "{\"name\":'a'}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        itest_resp *r = itest_request("POST", ITEST_CUSTOMERS, NULL, bad[i], strlen(bad[i]),
                                      "application/json");
        ck_assert_msg(r->status == 400, "body '%s': %s", bad[i], itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 400);
        ck_assert_msg(strstr(r->body, ".c:") == NULL, "source location leaked: %s",
                      itest_describe(r));
        itest_free(r);
    }
    /* Invalid UTF-8: a bare continuation byte, an overlong '/', a surrogate. */
    static const char *const utf8[] = { "\x80", "\xc0\xaf", "\xed\xa0\x80", "\xff", "\xc3" };
    for (size_t i = 0; i < sizeof utf8 / sizeof utf8[0]; i++) {
        snprintf(body, sizeof body, "{\"name\":\"Bad%sUtf\",\"email\":\"%s\"}", utf8[i], email);
        itest_resp *r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
        ck_assert_msg(r->status == 400, "invalid UTF-8 #%zu: %s", i, itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 400);
        itest_free(r);
    }
    /* ... also in a form. */
    snprintf(body, sizeof body, "name=Bad%%FFName&email=x%%40example.com");
    itest_resp *r = itest_request("POST", ITEST_CUSTOMERS, NULL, body, strlen(body),
                                  "application/x-www-form-urlencoded");
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    /* Malformed form: bad percent escape. */
    snprintf(body, sizeof body, "name=Bad%%G1&email=x%%40example.com");
    r = itest_request("POST", ITEST_CUSTOMERS, NULL, body, strlen(body),
                      "application/x-www-form-urlencoded");
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    /* Escaped NUL is valid JSON but not a valid name character either way: no 5xx. */
    snprintf(body, sizeof body, "{\"name\":\"a\\u0000b\",\"email\":\"%s\"}", email);
    r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ck_assert_msg(r->status == 400 || r->status == 422 || r->status == 201, "%s",
                  itest_describe(r));
    itest_free(r);
}
END_TEST

START_TEST(test_deep_nesting)
{
    char email[128];
    itest_unique_email(email, sizeof email, NULL);
    size_t depth = 1000;
    char *open = repeat("[", depth), *close = repeat("]", depth);
    size_t n = 2 * depth + 256;
    char *body = malloc(n);
    ck_assert_ptr_nonnull(body);
    snprintf(body, n, "{\"name\":\"Deep\",\"email\":\"%s\",\"company\":%s1%s}", email, open, close);
    itest_resp *r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    /* Objects nested too deep as well. */
    char *obj_open = repeat("{\"a\":", depth), *obj_close = repeat("}", depth);
    free(body);
    n = 7 * depth + 256;
    body = malloc(n);
    ck_assert_ptr_nonnull(body);
    snprintf(body, n, "{\"name\":\"Deep\",\"email\":\"%s\",\"company\":%s1%s}", email, obj_open,
             obj_close);
    r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    free(obj_open);
    free(obj_close);
    free(body);
    free(open);
    free(close);
}
END_TEST

START_TEST(test_duplicate_keys)
{
    char email[128], body[512];
    itest_unique_email(email, sizeof email, NULL);
    snprintf(body, sizeof body, "{\"name\":\"One\",\"email\":\"%s\",\"name\":\"Two\"}", email);
    itest_resp *r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    snprintf(body, sizeof body, "{\"name\":\"One\",\"email\":\"%s\",\"email\":\"%s\"}", email,
             email);
    r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    /* Repeated form fields too. */
    char *enc = itest_urlencode(email);
    snprintf(body, sizeof body, "name=One&email=%s&name=Two", enc);
    r = itest_request("POST", ITEST_CUSTOMERS, NULL, body, strlen(body),
                      "application/x-www-form-urlencoded");
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    free(enc);
}
END_TEST

START_TEST(test_unsupported_media_type)
{
    char email[128], body[512];
    itest_unique_email(email, sizeof email, NULL);
    snprintf(body, sizeof body, "{\"name\":\"Typed\",\"email\":\"%s\"}", email);
    static const char *const types[] = { "text/plain", "application/xml", "multipart/form-data",
                                         "application/json; charset=latin1", NULL };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        itest_resp *r = itest_request("POST", ITEST_CUSTOMERS, NULL, body, strlen(body), types[i]);
        ck_assert_msg(r->status == 415, "Content-Type %s: %s", types[i] ? types[i] : "(none)",
                      itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 415);
        ITEST_ASSERT_SECURITY(r);
        itest_free(r);
    }
    int64_t id = itest_new_customer(NULL);
    char path[128];
    customer_path(path, sizeof path, id);
    itest_resp *r = itest_request("PATCH", path, NULL, "{\"company\":\"x\"}", 15, "text/plain");
    ITEST_ASSERT_PROBLEM(r, 415);
    itest_free(r);
    /* Charset utf-8 and the form type are fine. */
    r = itest_request("POST", ITEST_CUSTOMERS, NULL, body, strlen(body),
                      "application/json; charset=utf-8");
    ITEST_ASSERT_STATUS(r, 201);
    itest_free(r);
}
END_TEST

START_TEST(test_body_too_large)
{
    size_t mib = 1024 * 1024;
    char *body = malloc(mib + 2);
    ck_assert_ptr_nonnull(body);

    /* Exactly at the limit: through, and rejected for what it says. */
    size_t n = mib;
    memset(body, 'x', n);
    memcpy(body, "{\"name\":\"", 9);
    memcpy(body + n - 2, "\"}", 2);
    itest_resp *r = itest_request("POST", ITEST_CUSTOMERS, NULL, body, n, "application/json");
    ck_assert_msg(r->status == 422, "a body of exactly 1 MiB: %s", itest_describe(r));
    ck_assert_int_eq(itest_problem_field_count(r, "name"), 1);
    itest_free(r);

    /* One byte more: NGINX refuses it. */
    n = mib + 1;
    memset(body, 'x', n);
    memcpy(body, "{\"name\":\"", 9);
    memcpy(body + n - 2, "\"}", 2);
    r = itest_request("POST", ITEST_CUSTOMERS, NULL, body, n, "application/json");
    ITEST_ASSERT_PROBLEM(r, 413);
    ITEST_ASSERT_SECURITY(r);
    itest_free(r);

    /* The worker's own limit, when it is below NGINX's. */
    long wmax = atol(itest_env("CRM_BODY_MAX", "0"));
    if (wmax > 16 && (size_t)wmax < mib) {
        n = (size_t)wmax + 1;
        memset(body, 'x', n);
        memcpy(body, "{\"name\":\"", 9);
        memcpy(body + n - 2, "\"}", 2);
        r = itest_request("POST", ITEST_CUSTOMERS, NULL, body, n, "application/json");
        ITEST_ASSERT_PROBLEM(r, 413);
        ITEST_ASSERT_SECURITY(r);
        itest_free(r);
    }
    free(body);
}
END_TEST

/* ---- routing ------------------------------------------------------------------------------ */

START_TEST(test_not_found)
{
    int64_t id = itest_new_customer(NULL);
    char big[128];
    snprintf(big, sizeof big, ITEST_CUSTOMERS "/%" PRId64, id + 100000000);
    /* The service's own 404s first, then those NGINX answers. */
    static const char *paths[] = {
        NULL, /* the unknown id */
        ITEST_CUSTOMERS "/abc",
        ITEST_CUSTOMERS "/0",
        ITEST_CUSTOMERS "/-1",
        ITEST_CUSTOMERS "/1.5",
        ITEST_CUSTOMERS "/1e3",
        ITEST_CUSTOMERS "/%2F1",
        ITEST_CUSTOMERS "/99999999999999999999999999",
        ITEST_CUSTOMERS "/18446744073709551617",
        ITEST_CUSTOMERS "/1/unknown",
        ITEST_CUSTOMERS "/1/notes/abc",
        "/api/v1/nope",
        "/api/v1/customerz",
    };
    paths[0] = big;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        itest_resp *r = itest_get(paths[i], NULL);
        ck_assert_msg(r->status == 404, "GET %s: %s", paths[i], itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 404);
        ITEST_ASSERT_SECURITY(r);
        itest_free(r);
    }
}
END_TEST

/* Assert that Allow lists exactly the methods in want (comma-separated list). */
static void assert_allow(const itest_resp *r, const char *const *want)
{
    const char *allow = itest_header_get(r, "Allow");
    ck_assert_msg(allow != NULL, "405 without Allow: %s", itest_describe(r));
    char buf[256];
    snprintf(buf, sizeof buf, "%s", allow);
    size_t n_want = 0;
    while (want[n_want])
        n_want++;
    size_t n_got = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
        int ok = 0;
        for (size_t i = 0; i < n_want; i++)
            if (strcmp(t, want[i]) == 0)
                ok = 1;
        /* HEAD rides with GET on many servers; accept it there. */
        if (!ok && strcmp(t, "HEAD") == 0)
            continue;
        ck_assert_msg(ok, "Allow: %s lists %s", allow, t);
        n_got++;
    }
    ck_assert_msg(n_got == n_want, "Allow: %s, want %zu methods", allow, n_want);
}

START_TEST(test_method_not_allowed)
{
    int64_t id = itest_new_customer(NULL);
    char one[128], notes[192];
    customer_path(one, sizeof one, id);
    snprintf(notes, sizeof notes, "%s/notes", one);
    struct {
        const char *method;
        const char *path;
        const char *allow[6];
    } cases[] = {
        { "DELETE", ITEST_CUSTOMERS, { "GET", "POST", NULL } },
        { "PUT", ITEST_CUSTOMERS, { "GET", "POST", NULL } },
        { "PATCH", ITEST_CUSTOMERS, { "GET", "POST", NULL } },
        { "POST", one, { "GET", "PATCH", "PUT", "DELETE", NULL } },
        { "PUT", notes, { "GET", "POST", NULL } },
        { "POST", ITEST_CUSTOMERS "/ping", { "GET", NULL } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        itest_resp *r =
            itest_request(cases[i].method, cases[i].path, NULL, "{}", 2, "application/json");
        ck_assert_msg(r->status == 405, "%s %s: %s", cases[i].method, cases[i].path,
                      itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 405);
        ITEST_ASSERT_SECURITY(r);
        assert_allow(r, cases[i].allow);
        itest_free(r);
    }
}
END_TEST

/* ---- notes -------------------------------------------------------------------------------- */

START_TEST(test_notes)
{
    int64_t id = itest_new_customer(NULL);
    char notes[128];
    snprintf(notes, sizeof notes, ITEST_CUSTOMERS "/%" PRId64 "/notes", id);
    static const char *const kinds[] = { "note", "call", "email", "meeting", "call" };
    int64_t nid[5];
    for (int i = 0; i < 5; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"kind\":\"%s\",\"body\":\"Note number %d\",\"author_id\":3}",
                 kinds[i], i);
        itest_resp *r = itest_json("POST", notes, NULL, body);
        ITEST_ASSERT_STATUS(r, 201);
        nid[i] = itest_jint(r->json, "id");
        ck_assert_msg(nid[i] > 0, "%s", itest_describe(r));
        ck_assert_msg(itest_location_id(r) == nid[i], "Location: %s", itest_describe(r));
        const char *loc = itest_header_get(r, "Location");
        char want[192];
        snprintf(want, sizeof want, "%s/%" PRId64, notes, nid[i]);
        ck_assert_msg(strlen(loc) >= strlen(want) &&
                          strcmp(loc + strlen(loc) - strlen(want), want) == 0,
                      "Location %s, want %s", loc, want);
        ck_assert_str_eq(itest_jstr(r->json, "kind"), kinds[i]);
        char want_body[32];
        snprintf(want_body, sizeof want_body, "Note number %d", i);
        ck_assert_str_eq(itest_jstr(r->json, "body") ? itest_jstr(r->json, "body") : "", want_body);
        itest_free(r);
        itest_sleep_ms(3);
    }
    /* One note. */
    char path[192];
    snprintf(path, sizeof path, "%s/%" PRId64, notes, nid[2]);
    itest_resp *r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_int_eq(itest_jint(r->json, "id"), nid[2]);
    ck_assert_str_eq(itest_jstr(r->json, "kind"), "email");
    ck_assert_str_eq(itest_jstr(r->json, "body"), "Note number 2");
    ck_assert_int_eq(itest_jint(r->json, "author_id"), 3);
    itest_free(r);

    /* The timeline, newest first, two per page. */
    int64_t seen[10];
    size_t n = 0;
    char *cursor = NULL;
    for (int page = 0; page < 5; page++) {
        char lp[1024];
        snprintf(lp, sizeof lp, "%s?limit=2%s%s", notes, cursor ? "&cursor=" : "",
                 cursor ? cursor : "");
        free(cursor);
        cursor = NULL;
        r = itest_get(lp, NULL);
        ITEST_ASSERT_STATUS(r, 200);
        json_object *items = items_of(r);
        ck_assert_int_le(json_object_array_length(items), 2);
        for (size_t i = 0; i < json_object_array_length(items); i++) {
            ck_assert_int_lt(n, 10);
            seen[n++] = itest_jint(json_object_array_get_idx(items, i), "id");
        }
        const char *nc = next_cursor(r);
        if (nc)
            cursor = itest_urlencode(nc);
        itest_free(r);
        if (!cursor)
            break;
    }
    ck_assert_msg(cursor == NULL, "notes paging did not end");
    ck_assert_uint_eq(n, 5);
    for (size_t i = 0; i < 5; i++)
        ck_assert_msg(seen[i] == nid[4 - i], "timeline position %zu is %" PRId64 ", want %" PRId64,
                      i, seen[i], nid[4 - i]);

    /* Delete one. */
    r = itest_request("DELETE", path, NULL, NULL, 0, NULL);
    ITEST_ASSERT_STATUS(r, 204);
    itest_free(r);
    r = itest_get(path, NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    r = itest_request("DELETE", path, NULL, NULL, 0, NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    char lp[256];
    snprintf(lp, sizeof lp, "%s?limit=200", notes);
    r = itest_get(lp, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_uint_eq(json_object_array_length(items_of(r)), 4);
    itest_free(r);

    /* A note is reached only through its own customer. */
    int64_t other = itest_new_customer(NULL);
    snprintf(path, sizeof path, ITEST_CUSTOMERS "/%" PRId64 "/notes/%" PRId64, other, nid[0]);
    r = itest_get(path, NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
}
END_TEST

START_TEST(test_notes_errors)
{
    int64_t id = itest_new_customer(NULL);
    char notes[128], missing[128];
    snprintf(notes, sizeof notes, ITEST_CUSTOMERS "/%" PRId64 "/notes", id);
    snprintf(missing, sizeof missing, ITEST_CUSTOMERS "/%" PRId64 "/notes", id + 100000000);
    itest_resp *r = itest_get(missing, NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    r = itest_json("POST", missing, NULL, "{\"kind\":\"note\",\"body\":\"x\"}");
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);

    r = itest_json("POST", notes, NULL, "{\"kind\":\"fax\",\"body\":\"x\"}");
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "kind"), 1);
    itest_free(r);
    r = itest_json("POST", notes, NULL, "{\"kind\":\"note\",\"body\":\"\"}");
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "body"), 1);
    itest_free(r);
    r = itest_json("POST", notes, NULL, "{\"kind\":\"note\"}");
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "body"), 1);
    itest_free(r);
    char *big = repeat("b", 10001);
    size_t n = strlen(big) + 64;
    char *body = malloc(n);
    ck_assert_ptr_nonnull(body);
    snprintf(body, n, "{\"kind\":\"note\",\"body\":\"%s\"}", big);
    r = itest_json("POST", notes, NULL, body);
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "body"), 1);
    itest_free(r);
    big[10000] = '\0';
    snprintf(body, n, "{\"kind\":\"note\",\"body\":\"%s\"}", big);
    r = itest_json("POST", notes, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    itest_free(r);
    free(body);
    free(big);
    r = itest_json("POST", notes, NULL, "{\"kind\":\"note\",\"body\":\"x\",\"author_id\":\"me\"}");
    ITEST_ASSERT_PROBLEM(r, 422);
    ck_assert_int_eq(itest_problem_field_count(r, "author_id"), 1);
    itest_free(r);
    r = itest_json("POST", notes, NULL, "{\"kind\":\"note\",\"body\":\"x\",\"pinned\":true}");
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    r = itest_request("POST", notes, NULL, "{\"kind\":", 8, "application/json");
    ITEST_ASSERT_PROBLEM(r, 400);
    itest_free(r);
    r = itest_request("POST", notes, NULL, "kind=note&body=x", 16, "text/plain");
    ITEST_ASSERT_PROBLEM(r, 415);
    itest_free(r);

    /* A deleted customer's notes are gone with it. */
    char one[128];
    customer_path(one, sizeof one, id);
    r = itest_request("DELETE", one, NULL, NULL, 0, NULL);
    ITEST_ASSERT_STATUS(r, 204);
    itest_free(r);
    r = itest_get(notes, NULL);
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
    r = itest_json("POST", notes, NULL, "{\"kind\":\"note\",\"body\":\"late\"}");
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);
}
END_TEST

/* ---- idempotency -------------------------------------------------------------------------- */

START_TEST(test_idempotency)
{
    char tag[40], key[96], keyh[160], email[128], body[512], path[256];
    itest_unique_word(tag, sizeof tag);
    snprintf(key, sizeof key, "it-%s", tag);
    snprintf(keyh, sizeof keyh, "Idempotency-Key: %s", key);
    itest_unique_email(email, sizeof email, "idem");
    snprintf(body, sizeof body, "{\"name\":\"Idem\",\"email\":\"%s\",\"tags\":[\"%s\"]}", email,
             tag);
    const char *hdrs[] = { keyh, NULL };
    itest_resp *a = itest_json("POST", ITEST_CUSTOMERS, hdrs, body);
    ITEST_ASSERT_STATUS(a, 201);
    const char *rep = itest_header_get(a, "Idempotent-Replayed");
    ck_assert_msg(rep == NULL || strcasecmp(rep, "true") != 0, "first response marked replayed");
    itest_resp *b = itest_json("POST", ITEST_CUSTOMERS, hdrs, body);
    ITEST_ASSERT_STATUS(b, 201);
    rep = itest_header_get(b, "Idempotent-Replayed");
    ck_assert_msg(rep && strcasecmp(rep, "true") == 0, "replay without Idempotent-Replayed: %s",
                  itest_describe(b));
    ck_assert_msg(a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0,
                  "replayed body differs: first %s", a->body);
    const char *la = itest_header_get(a, "Location"), *lb = itest_header_get(b, "Location");
    ck_assert_msg(la && lb && strcmp(la, lb) == 0, "replayed Location differs");
    snprintf(path, sizeof path, ITEST_CUSTOMERS "?tag=%s&count=true", tag);
    itest_resp *c = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(c, 200);
    ck_assert_msg(itest_jint(c->json, "count") == 1, "rows after replay: %s", itest_describe(c));
    itest_free(c);

    /* Same key, another body: 422, nothing created. */
    char body2[512];
    snprintf(body2, sizeof body2, "{\"name\":\"Idem other\",\"email\":\"x%s\",\"tags\":[\"%s\"]}",
             email, tag);
    c = itest_json("POST", ITEST_CUSTOMERS, hdrs, body2);
    ITEST_ASSERT_PROBLEM(c, 422);
    itest_free(c);
    c = itest_get(path, NULL);
    ck_assert_msg(itest_jint(c->json, "count") == 1, "rows after conflict: %s", itest_describe(c));
    itest_free(c);
    /* Without the key the same body is a duplicate email. */
    c = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    ITEST_ASSERT_PROBLEM(c, 409);
    itest_free(c);
    itest_free(a);
    itest_free(b);

    /* Keys of 255 visible characters are fine. */
    char *k255 = repeat("k", 240);
    char longkey[300];
    snprintf(longkey, sizeof longkey, "Idempotency-Key: %s%.15s", k255, tag);
    const char *lh[] = { longkey, NULL };
    c = itest_create_customer(NULL, lh);
    ITEST_ASSERT_STATUS(c, 201);
    itest_free(c);
    free(k255);
}
END_TEST

START_TEST(test_idempotency_bad_keys)
{
    char *k256 = repeat("k", 256);
    char h256[300];
    snprintf(h256, sizeof h256, "Idempotency-Key: %s", k256);
    const char *bad[] = { h256,
                          "Idempotency-Key: abc\x01"
                          "def",
                          "Idempotency-Key: abc def",
                          "Idempotency-Key: abc\x7f",
                          "Idempotency-Key: caf\xc3\xa9",
                          "Idempotency-Key;" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *hdrs[] = { bad[i], NULL };
        itest_resp *r = itest_create_customer(NULL, hdrs);
        ck_assert_msg(r->status == 400, "key #%zu: %s", i, itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 400);
        itest_free(r);
    }
    free(k256);
}
END_TEST

START_TEST(test_notes_idempotency)
{
    int64_t id = itest_new_customer(NULL);
    char notes[128], key[96], keyh[128];
    snprintf(notes, sizeof notes, ITEST_CUSTOMERS "/%" PRId64 "/notes", id);
    itest_unique_word(key, sizeof key);
    snprintf(keyh, sizeof keyh, "Idempotency-Key: note-%s", key);
    const char *hdrs[] = { keyh, NULL };
    itest_resp *a = itest_json("POST", notes, hdrs, "{\"kind\":\"call\",\"body\":\"once\"}");
    ITEST_ASSERT_STATUS(a, 201);
    itest_resp *b = itest_json("POST", notes, hdrs, "{\"kind\":\"call\",\"body\":\"once\"}");
    ITEST_ASSERT_STATUS(b, 201);
    ck_assert_int_eq(itest_jint(a->json, "id"), itest_jint(b->json, "id"));
    const char *rep = itest_header_get(b, "Idempotent-Replayed");
    ck_assert_msg(rep && strcasecmp(rep, "true") == 0, "%s", itest_describe(b));
    itest_free(a);
    itest_free(b);
    char lp[192];
    snprintf(lp, sizeof lp, "%s?limit=200", notes);
    itest_resp *r = itest_get(lp, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_uint_eq(json_object_array_length(items_of(r)), 1);
    itest_free(r);
}
END_TEST

/* ---- NGINX -------------------------------------------------------------------------------- */

START_TEST(test_http_redirects)
{
    const char *http = getenv("CRM_HTTP_URL");
    ck_assert_msg(http && *http, "CRM_HTTP_URL is not set");
    char url[512];
    snprintf(url, sizeof url, "%s%s", http, ITEST_CUSTOMERS "/ping?x=1");
    itest_resp *r = itest_request_url("GET", url, NULL, NULL, 0, NULL);
    ck_assert_msg(r->status == 301, "%s", itest_describe(r));
    const char *loc = itest_header_get(r, "Location");
    ck_assert_msg(loc && strncmp(loc, "https://", 8) == 0, "Location %s", loc ? loc : "(none)");
    ck_assert_msg(strstr(loc, ITEST_CUSTOMERS "/ping?x=1") != NULL,
                  "redirect drops the path/query: %s", loc);
    itest_free(r);
}
END_TEST

START_TEST(test_internal_not_public)
{
    static const char *const paths[] = { "/internal/v1/events", "/internal/", "/internal" };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        itest_resp *r = itest_get(paths[i], NULL);
        ck_assert_msg(r->status == 404, "GET %s: %s", paths[i], itest_describe(r));
        ITEST_ASSERT_SECURITY(r);
        ITEST_ASSERT_PROBLEM(r, 404);
        itest_free(r);
        r = itest_json("POST", paths[i], NULL, "{\"id\":\"x\",\"type\":\"customer.created\"}");
        ck_assert_msg(r->status == 404, "POST %s: %s", paths[i], itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 404);
        itest_free(r);
    }
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("customers_api");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_add_test(tc, test_ping);
    tcase_add_test(tc, test_create_json);
    tcase_add_test(tc, test_create_defaults);
    tcase_add_test(tc, test_create_form);
    tcase_add_test(tc, test_read_etag_304);
    tcase_add_test(tc, test_list_shape);
    tcase_add_test(tc, test_list_filters);
    tcase_add_test(tc, test_list_q);
    tcase_add_test(tc, test_list_sort);
    tcase_add_test(tc, test_list_count);
    tcase_add_test(tc, test_list_limit);
    tcase_add_test(tc, test_list_cursor);
    tcase_add_test(tc, test_list_bad_params);
    tcase_add_test(tc, test_patch_partial);
    tcase_add_test(tc, test_patch_null_clears);
    tcase_add_test(tc, test_patch_empty);
    tcase_add_test(tc, test_patch_stale);
    tcase_add_test(tc, test_if_match_malformed);
    tcase_add_test(tc, test_if_match_weak);
    tcase_add_test(tc, test_create_json_accepting_html);
    tcase_add_test(tc, test_notes_cursor_other_customer);
    tcase_add_test(tc, test_put);
    tcase_add_test(tc, test_delete);
    tcase_add_test(tc, test_delete_stale);
    tcase_add_test(tc, test_email_reuse_after_delete);
    tcase_add_test(tc, test_duplicate_email);
    tcase_add_test(tc, test_validation_all_fields);
    tcase_add_test(tc, test_validation_each_field);
    tcase_add_test(tc, test_unknown_and_readonly_fields);
    tcase_add_test(tc, test_malformed_bodies);
    tcase_add_test(tc, test_deep_nesting);
    tcase_add_test(tc, test_duplicate_keys);
    tcase_add_test(tc, test_unsupported_media_type);
    tcase_add_test(tc, test_body_too_large);
    tcase_add_test(tc, test_not_found);
    tcase_add_test(tc, test_method_not_allowed);
    tcase_add_test(tc, test_notes);
    tcase_add_test(tc, test_notes_errors);
    tcase_add_test(tc, test_idempotency);
    tcase_add_test(tc, test_idempotency_bad_keys);
    tcase_add_test(tc, test_notes_idempotency);
    tcase_add_test(tc, test_http_redirects);
    tcase_add_test(tc, test_internal_not_public);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    itest_init();
    SRunner *sr = srunner_create(api_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
