/*
 * test_crm_req.c - requests over an in-memory transport: CGI variables,
 * headers, request ids, the query string, the capped body, path ids and
 * the one-write response.
 */
#include "crm_req.h"

#include "../fake_req.h"

#include <check.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    return json_object_get_string(v);
}

static crm_arena *arena;

static void setup(void)
{
    arena = crm_arena_new(4096);
}

static void teardown(void)
{
    crm_arena_free(arena);
}

/* ---- request line and headers ---- */

START_TEST(test_method_path)
{
    fake_req f;
    fake_req_init(&f);
    fake_req_set(&f, "REQUEST_METHOD", "PATCH");
    fake_req_set(&f, "DOCUMENT_URI", "/api/v1/customers/ignored");
    fake_req_set(&f, "REQUEST_URI", "/api/v1/customers/7?x=1");
    fake_req_set(&f, "QUERY_STRING", "x=1");
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 100);
    ck_assert_ptr_eq(crm_req_arena(r), arena);
    ck_assert_str_eq(crm_req_method(r), "PATCH");
    ck_assert_str_eq(crm_req_path(r), "/api/v1/customers/7");
    ck_assert_str_eq(crm_req_query_string(r), "x=1");
    ck_assert_int_eq(crm_req_route(r), -1);
    ck_assert_int_eq(crm_res_status(r), 0);
    fake_req_done(&f);
}
END_TEST

START_TEST(test_path_fallback_document_uri)
{
    fake_req f;
    fake_req_init(&f);
    /* The raw target is used as sent: no decoding, no slash merging. */
    fake_req_set(&f, "REQUEST_URI", "/api/v1/customers/%2F1");
    fake_req_set(&f, "DOCUMENT_URI", "/api/v1/customers/1");
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 100);
    ck_assert_str_eq(crm_req_method(r), "GET");
    ck_assert_str_eq(crm_req_path(r), "/api/v1/customers/%2F1");
    fake_req_done(&f);

    /* No REQUEST_URI (or an empty one): DOCUMENT_URI. */
    fake_req_init(&f);
    fake_req_set(&f, "REQUEST_URI", "");
    fake_req_set(&f, "DOCUMENT_URI", "/plain");
    r = crm_req_new(arena, &fake_req_io, &f, 100);
    ck_assert_str_eq(crm_req_path(r), "/plain");
    fake_req_done(&f);

    /* "?" first: the path is empty, not the query. */
    fake_req_init(&f);
    fake_req_set(&f, "REQUEST_URI", "?a=1");
    r = crm_req_new(arena, &fake_req_io, &f, 100);
    ck_assert_str_eq(crm_req_path(r), "");
    fake_req_done(&f);

    /* Nothing at all: "/". */
    fake_req_init(&f);
    r = crm_req_new(arena, &fake_req_io, &f, 100);
    ck_assert_str_eq(crm_req_path(r), "/");
    ck_assert_str_eq(crm_req_query_string(r), "");
    fake_req_done(&f);
}
END_TEST

START_TEST(test_headers)
{
    fake_req f;
    fake_req_init(&f);
    fake_req_set(&f, "HTTP_IF_MATCH", "\"3\"");
    fake_req_set(&f, "CONTENT_TYPE", "application/json");
    fake_req_set(&f, "CONTENT_LENGTH", "12");
    fake_req_set(&f, "HTTP_IDEMPOTENCY_KEY", "k-1");
    fake_req_set(&f, "HTTP_ACCEPT", "text/html,application/xhtml+xml");
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 100);

    ck_assert_str_eq(crm_req_header(r, "If-Match"), "\"3\"");
    ck_assert_str_eq(crm_req_header(r, "if-match"), "\"3\"");
    ck_assert_str_eq(crm_req_header(r, "IF-MATCH"), "\"3\"");
    ck_assert_str_eq(crm_req_header(r, "Content-Type"), "application/json");
    ck_assert_str_eq(crm_req_header(r, "content-type"), "application/json");
    ck_assert_str_eq(crm_req_header(r, "Content-Length"), "12");
    ck_assert_str_eq(crm_req_header(r, "Idempotency-Key"), "k-1");
    ck_assert_ptr_null(crm_req_header(r, "If-None-Match"));
    ck_assert_str_eq(crm_req_param(r, "CONTENT_TYPE"), "application/json");
    ck_assert_ptr_null(crm_req_param(r, "NOPE"));
    ck_assert_int_eq(crm_req_wants_html(r), 1);

    /* A name too long for any CGI variable is simply absent. */
    char longname[400];
    memset(longname, 'X', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    ck_assert_ptr_null(crm_req_header(r, longname));
    fake_req_done(&f);

    fake_req_init(&f);
    r = crm_req_new(arena, &fake_req_io, &f, 100);
    ck_assert_ptr_null(crm_req_header(r, "Content-Type"));
    ck_assert_int_eq(crm_req_wants_html(r), 0);
    fake_req_done(&f);
}
END_TEST

/* A generated id: a short token of [A-Za-z0-9-]. */
static void assert_token(const char *id)
{
    size_t n = strlen(id);
    ck_assert_uint_gt(n, 0);
    ck_assert_uint_le(n, 64);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
                          (id[i] >= '0' && id[i] <= '9') || id[i] == '-',
                      "bad char in id %s", id);
}

START_TEST(test_request_id)
{
    fake_req f;
    fake_req_init(&f);
    fake_req_set(&f, "REQUEST_ID", "0123456789abcdef0123456789abcdef");
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 100);
    ck_assert_str_eq(crm_req_id(r), "0123456789abcdef0123456789abcdef");
    fake_req_done(&f);

    /* Missing: one is made up, different for each request. */
    fake_req_init(&f);
    crm_req *r1 = crm_req_new(arena, &fake_req_io, &f, 100);
    crm_req *r2 = crm_req_new(arena, &fake_req_io, &f, 100);
    assert_token(crm_req_id(r1));
    assert_token(crm_req_id(r2));
    ck_assert_str_ne(crm_req_id(r1), crm_req_id(r2));
    fake_req_done(&f);

    /* Hostile values are not trusted. */
    char hundred[101];
    memset(hundred, 'a', 100);
    hundred[100] = '\0';
    const char *hostile[] = { "a b", "", hundred, "abc\"def", "id\nx", "<script>", "a/b" };
    for (size_t i = 0; i < CRM_NELEM(hostile); i++) {
        fake_req_init(&f);
        fake_req_set(&f, "REQUEST_ID", hostile[i]);
        r = crm_req_new(arena, &fake_req_io, &f, 100);
        ck_assert_str_ne(crm_req_id(r), hostile[i]);
        assert_token(crm_req_id(r));
        fake_req_done(&f);
    }
}
END_TEST

/* ---- query ---- */

START_TEST(test_query)
{
    fake_req f;
    fake_req_init(&f);
    fake_req_set(&f, "QUERY_STRING", "limit=10&q=J%C3%B6rg+Smith&empty=&flag&sort=-name");
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 100);
    ck_assert_str_eq(crm_req_query(r, "limit"), "10");
    ck_assert_str_eq(crm_req_query(r, "q"), "J\xC3\xB6rg Smith");
    ck_assert_str_eq(crm_req_query(r, "empty"), "");
    ck_assert_str_eq(crm_req_query(r, "flag"), "");
    ck_assert_str_eq(crm_req_query(r, "sort"), "-name");
    ck_assert_ptr_null(crm_req_query(r, "cursor"));
    static const char *const allowed[] = { "limit", "q", "empty", "flag", "sort", "cursor", NULL };
    ck_assert_int_eq(crm_req_query_check(r, allowed), CRM_OK);
    ck_assert_int_eq(f.writes, 0);
    ck_assert_int_eq(crm_res_status(r), 0);
    /* Still usable after the check. */
    ck_assert_str_eq(crm_req_query(r, "limit"), "10");
    fake_req_done(&f);

    /* No query at all. */
    fake_req_init(&f);
    r = crm_req_new(arena, &fake_req_io, &f, 100);
    ck_assert_ptr_null(crm_req_query(r, "limit"));
    ck_assert_int_eq(crm_req_query_check(r, allowed), CRM_OK);
    ck_assert_int_eq(f.writes, 0);
    fake_req_done(&f);
}
END_TEST

/* query_check on qs must answer 400 bad-query; returns the parsed body. */
static json_object *check_rejects(const char *qs, fake_req *f)
{
    static const char *const allowed[] = { "limit", "q", NULL };
    fake_req_init(f);
    fake_req_set(f, "QUERY_STRING", qs);
    fake_req_set(f, "DOCUMENT_URI", "/api/v1/customers");
    fake_req_set(f, "REQUEST_ID", "rid-1");
    crm_req *r = crm_req_new(arena, &fake_req_io, f, 100);
    ck_assert_int_eq(crm_req_query_check(r, allowed), 400);
    ck_assert_int_eq(crm_res_status(r), 400);
    ck_assert_int_eq(f->writes, 1);
    ck_assert_msg(strncmp(f->out, "Status: 400 Bad Request\r\n", 25) == 0, "%s", f->out);
    ck_assert_str_eq(fake_res_header(f, "Content-Type"), "application/problem+json");
    json_object *o = fake_res_json(f);
    ck_assert_str_eq(jstr(o, "type"), "/problems/bad-query");
    ck_assert_str_eq(jstr(o, "status"), "400");
    ck_assert_str_eq(jstr(o, "instance"), "/api/v1/customers");
    ck_assert_str_eq(jstr(o, "request_id"), "rid-1");
    return o;
}

START_TEST(test_query_check_unknown)
{
    fake_req f;
    json_object *o = check_rejects("limit=5&color=red", &f);
    json_object *errs, *e;
    ck_assert(json_object_object_get_ex(o, "errors", &errs));
    ck_assert_uint_eq(json_object_array_length(errs), 1);
    e = json_object_array_get_idx(errs, 0);
    ck_assert_str_eq(jstr(e, "field"), "color");
    ck_assert_ptr_nonnull(jstr(e, "message"));
    json_object_put(o);
    fake_req_done(&f);
}
END_TEST

START_TEST(test_query_check_repeated)
{
    fake_req f;
    json_object *o = check_rejects("limit=5&limit=6", &f);
    ck_assert_ptr_nonnull(jstr(o, "detail"));
    json_object_put(o);
    fake_req_done(&f);

    /* The accessor refuses to pick one of the two values. */
    fake_req_init(&f);
    fake_req_set(&f, "QUERY_STRING", "q=a&q=b");
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 100);
    ck_assert_ptr_null(crm_req_query(r, "q"));
    fake_req_done(&f);
}
END_TEST

START_TEST(test_query_check_bad_encoding)
{
    static const char *const bad[] = { "q=%zz", "q=%4", "q=abc%", "q=%FF", "q=%00", "q=%C3" };
    for (size_t i = 0; i < CRM_NELEM(bad); i++) {
        fake_req f;
        json_object *o = check_rejects(bad[i], &f);
        json_object_put(o);
        fake_req_done(&f);

        fake_req_init(&f);
        fake_req_set(&f, "QUERY_STRING", bad[i]);
        crm_req *r = crm_req_new(arena, &fake_req_io, &f, 100);
        ck_assert_ptr_null(crm_req_query(r, "q"));
        fake_req_done(&f);
    }
}
END_TEST

START_TEST(test_query_check_too_many)
{
    /* More parameters than the request keeps: 400, not a silent cut. */
    char qs[512];
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(qs + n, sizeof(qs) - n, "%sq=%d", i ? "&" : "", i);
    fake_req f;
    json_object *o = check_rejects(qs, &f);
    ck_assert_ptr_nonnull(jstr(o, "detail"));
    json_object_put(o);
    fake_req_done(&f);
}
END_TEST

/* ---- body ---- */

static char *pattern(size_t n)
{
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('A' + i % 23);
    s[n] = '\0';
    return s;
}

/* Read a body of n bytes with optional Content-Length, delivered in chunks. */
static int read_body(size_t cap, size_t n, const char *cl, size_t chunk, fake_req *f,
                     const char **body, size_t *len)
{
    static char clbuf[32];
    char *data = pattern(n);
    fake_req_init(f);
    if (cl != NULL) {
        snprintf(clbuf, sizeof(clbuf), "%s", cl);
        fake_req_set(f, "CONTENT_LENGTH", clbuf);
    }
    fake_req_body(f, data, n);
    f->chunk = chunk;
    crm_req *r = crm_req_new(arena, &fake_req_io, f, cap);
    int rc = crm_req_body(r, body, len);
    if (rc == CRM_OK) {
        ck_assert_uint_eq(*len, n);
        ck_assert_int_eq(memcmp(*body, data, n), 0);
        ck_assert_int_eq((*body)[n], '\0');
    }
    free(data);
    return rc;
}

START_TEST(test_body_exact)
{
    fake_req f;
    const char *body;
    size_t len;

    fake_req_init(&f);
    fake_req_set(&f, "CONTENT_LENGTH", "11");
    fake_req_body(&f, "hello world", 11);
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 100);
    ck_assert_int_eq(crm_req_body(r, &body, &len), CRM_OK);
    ck_assert_uint_eq(len, 11);
    ck_assert_str_eq(body, "hello world");
    /* A second call answers the same without reading again. */
    int reads = f.reads;
    const char *body2;
    size_t len2;
    ck_assert_int_eq(crm_req_body(r, &body2, &len2), CRM_OK);
    ck_assert_ptr_eq(body2, body);
    ck_assert_uint_eq(len2, 11);
    ck_assert_int_eq(f.reads, reads);
    fake_req_done(&f);

    /* No body at all. */
    ck_assert_int_eq(read_body(100, 0, NULL, 0, &f, &body, &len), CRM_OK);
    ck_assert_str_eq(body, "");
    fake_req_done(&f);
    ck_assert_int_eq(read_body(100, 0, "0", 0, &f, &body, &len), CRM_OK);
    fake_req_done(&f);
    ck_assert_int_eq(read_body(0, 0, NULL, 0, &f, &body, &len), CRM_OK);
    fake_req_done(&f);
    ck_assert_int_eq(read_body(100, 5, "", 0, &f, &body, &len), CRM_OK);
    fake_req_done(&f);
}
END_TEST

START_TEST(test_body_cap)
{
    fake_req f;
    const char *body;
    size_t len;
    static const size_t caps[] = { 1, 100, 4095, 4096, 4097, 10000 };

    for (size_t i = 0; i < CRM_NELEM(caps); i++) {
        size_t cap = caps[i];
        char cl[32], cl1[32];
        snprintf(cl, sizeof(cl), "%zu", cap);
        snprintf(cl1, sizeof(cl1), "%zu", cap + 1);

        /* Exactly the cap: fine, with or without Content-Length. */
        ck_assert_int_eq(read_body(cap, cap, cl, 0, &f, &body, &len), CRM_OK);
        fake_req_done(&f);
        ck_assert_int_eq(read_body(cap, cap, NULL, 0, &f, &body, &len), CRM_OK);
        fake_req_done(&f);
        ck_assert_int_eq(read_body(cap, cap, NULL, 7, &f, &body, &len), CRM_OK);
        fake_req_done(&f);

        /* One byte over, announced: refused before reading anything. */
        ck_assert_int_eq(read_body(cap, cap + 1, cl1, 0, &f, &body, &len), CRM_TOOBIG);
        ck_assert_int_eq(f.reads, 0);
        fake_req_done(&f);
        /* One byte over, not announced: refused by bytes received. */
        ck_assert_int_eq(read_body(cap, cap + 1, NULL, 0, &f, &body, &len), CRM_TOOBIG);
        fake_req_done(&f);
        ck_assert_int_eq(read_body(cap, cap + 1, NULL, 3, &f, &body, &len), CRM_TOOBIG);
        fake_req_done(&f);
        /* Announced small, sent big: bytes received win. */
        ck_assert_int_eq(read_body(cap, cap + 1, "1", 0, &f, &body, &len), CRM_TOOBIG);
        fake_req_done(&f);
        /* Far over the cap, not announced: read stops soon after the cap. */
        ck_assert_int_eq(read_body(cap, cap * 3 + 50, NULL, 0, &f, &body, &len), CRM_TOOBIG);
        ck_assert_uint_le(f.pos, cap + 1);
        fake_req_done(&f);
    }

    /* Announced bigger than sent: reads what came. */
    ck_assert_int_eq(read_body(100, 5, "50", 0, &f, &body, &len), CRM_OK);
    fake_req_done(&f);
    /* A huge Content-Length is over any cap. */
    ck_assert_int_eq(read_body(100, 5, "99999999999999999999999", 0, &f, &body, &len), CRM_TOOBIG);
    fake_req_done(&f);
}
END_TEST

START_TEST(test_body_chunked)
{
    fake_req f;
    const char *body;
    size_t len;
    static const size_t chunks[] = { 1, 2, 7, 100, 4095, 4096, 5000 };

    for (size_t i = 0; i < CRM_NELEM(chunks); i++) {
        ck_assert_int_eq(read_body(20000, 12345, NULL, chunks[i], &f, &body, &len), CRM_OK);
        fake_req_done(&f);
        ck_assert_int_eq(read_body(20000, 12345, "12345", chunks[i], &f, &body, &len), CRM_OK);
        fake_req_done(&f);
    }
    /* One byte at a time, many reads. */
    ck_assert_int_eq(read_body(300, 300, NULL, 1, &f, &body, &len), CRM_OK);
    ck_assert_int_ge(f.reads, 300);
    fake_req_done(&f);
}
END_TEST

START_TEST(test_body_read_error)
{
    fake_req f;
    const char *body = "untouched";
    size_t len = 77;
    char *data = pattern(500);

    fake_req_init(&f);
    fake_req_body(&f, data, 500);
    f.chunk = 50;
    f.fail_after = 120;
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 1000);
    ck_assert_int_eq(crm_req_body(r, &body, &len), CRM_ERR);
    ck_assert_str_eq(body, "untouched");
    ck_assert_uint_eq(len, 77);
    /* The failure is remembered. */
    int reads = f.reads;
    ck_assert_int_eq(crm_req_body(r, &body, &len), CRM_ERR);
    ck_assert_int_eq(f.reads, reads);
    fake_req_done(&f);

    /* Failing on the first read, with Content-Length. */
    fake_req_init(&f);
    fake_req_set(&f, "CONTENT_LENGTH", "500");
    fake_req_body(&f, data, 500);
    f.fail_after = 0;
    r = crm_req_new(arena, &fake_req_io, &f, 1000);
    ck_assert_int_eq(crm_req_body(r, &body, &len), CRM_ERR);
    fake_req_done(&f);
    free(data);
}
END_TEST

START_TEST(test_body_bad_content_length)
{
    static const char *const bad[] = { "-1", "-0", "abc", "12abc", "1.5", "0x10", "5 " };
    for (size_t i = 0; i < CRM_NELEM(bad); i++) {
        fake_req f;
        const char *body = "untouched";
        size_t len = 0;
        fake_req_init(&f);
        fake_req_set(&f, "CONTENT_LENGTH", bad[i]);
        fake_req_body(&f, "hello", 5);
        crm_req *r = crm_req_new(arena, &fake_req_io, &f, 100);
        ck_assert_msg(crm_req_body(r, &body, &len) == CRM_ERR, "Content-Length \"%s\"", bad[i]);
        ck_assert_str_eq(body, "untouched");
        fake_req_done(&f);
    }
}
END_TEST

/* ---- path parameters ---- */

static int path_id(const char *value, int64_t *out)
{
    fake_req f;
    fake_req_init(&f);
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 100);
    crm_req_set_path_param(r, "id", value);
    int rc = crm_req_path_id(r, "id", out);
    fake_req_done(&f);
    return rc;
}

START_TEST(test_path_id)
{
    int64_t v = -1;

    ck_assert_int_eq(path_id("1", &v), CRM_OK);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(path_id("123456", &v), CRM_OK);
    ck_assert_int_eq(v, 123456);
    /* Leading zeros are the same number. */
    ck_assert_int_eq(path_id("007", &v), CRM_OK);
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(path_id("999999999999999999", &v), CRM_OK); /* 18 digits */
    ck_assert_int_eq(v, 999999999999999999LL);
    /* 19 digits: the largest int64 is a positive int64; one more is not. */
    ck_assert_int_eq(path_id("9223372036854775807", &v), CRM_OK);
    ck_assert_int_eq(v, INT64_MAX);

    v = 42;
    static const char *const bad[] = { "0",
                                       "000",
                                       "",
                                       "-1",
                                       "+1",
                                       " 1",
                                       "1 ",
                                       "12a",
                                       "a12",
                                       "1.0",
                                       "0x1f",
                                       "9223372036854775808",
                                       "9999999999999999999",
                                       "18446744073709551617",
                                       "99999999999999999999999999" };
    for (size_t i = 0; i < CRM_NELEM(bad); i++) {
        ck_assert_msg(path_id(bad[i], &v) == CRM_INVALID, "\"%s\" accepted", bad[i]);
        ck_assert_int_eq(v, 42);
    }
}
END_TEST

START_TEST(test_path_params)
{
    fake_req f;
    int64_t v;
    fake_req_init(&f);
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 100);
    ck_assert_ptr_null(crm_req_path_param(r, "id"));
    ck_assert_int_eq(crm_req_path_id(r, "id", &v), CRM_INVALID);
    crm_req_set_path_param(r, "id", "5");
    crm_req_set_path_param(r, "note_id", "9");
    ck_assert_str_eq(crm_req_path_param(r, "id"), "5");
    ck_assert_str_eq(crm_req_path_param(r, "note_id"), "9");
    ck_assert_ptr_null(crm_req_path_param(r, "other"));
    crm_req_set_route(r, 3);
    ck_assert_int_eq(crm_req_route(r), 3);
    fake_req_done(&f);
}
END_TEST

/* ---- response ---- */

START_TEST(test_send)
{
    fake_req f;
    fake_req_init(&f);
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 100);
    const char *body = "{\"id\":1,\"name\":\"Ada\"}";
    crm_res_header(r, "Location", "/api/v1/customers/1");
    crm_res_header(r, "ETag", "\"1\"");
    ck_assert_int_eq(crm_res_send(r, 201, "application/json", body, strlen(body)), 201);
    ck_assert_int_eq(crm_res_status(r), 201);
    ck_assert_int_eq(f.writes, 1);
    ck_assert_msg(strncmp(f.out, "Status: 201 Created\r\n", 21) == 0, "%s", f.out);
    ck_assert_str_eq(fake_res_header(&f, "Location"), "/api/v1/customers/1");
    ck_assert_str_eq(fake_res_header(&f, "ETag"), "\"1\"");
    ck_assert_str_eq(fake_res_header(&f, "Content-Type"), "application/json");
    ck_assert_str_eq(fake_res_header(&f, "Content-Length"), "21");
    ck_assert_str_eq(fake_res_body(&f), body);
    ck_assert_uint_eq(f.out_len, (size_t)(fake_res_body(&f) - f.out) + strlen(body));
    /* Headers come before Content-Type, each once. */
    ck_assert_ptr_null(strstr(strstr(f.out, "Location:") + 1, "Location:"));

    /* A second send is ignored: nothing more is written. */
    ck_assert_int_eq(crm_res_send(r, 500, "text/plain", "oops", 4), 201);
    ck_assert_int_eq(f.writes, 1);
    ck_assert_int_eq(crm_res_status(r), 201);
    crm_req_finish(r);
    fake_req_done(&f);
}
END_TEST

START_TEST(test_send_empty_and_large)
{
    fake_req f;
    fake_req_init(&f);
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 100);
    ck_assert_int_eq(crm_res_send(r, 204, NULL, NULL, 0), 204);
    ck_assert_str_eq(f.out, "Status: 204 No Content\r\nContent-Length: 0\r\n\r\n");
    ck_assert_ptr_null(fake_res_header(&f, "Content-Type"));
    fake_req_done(&f);

    /* A big body with binary bytes goes out whole, in one write. */
    size_t n = 200000;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i * 7);
    fake_req_init(&f);
    r = crm_req_new(arena, &fake_req_io, &f, 100);
    crm_res_header(r, "X-Long",
                   "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
                   "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv");
    ck_assert_int_eq(
        crm_res_send(r, 200, "application/octet-stream; x=\"a long parameter\"", big, n), 200);
    ck_assert_int_eq(f.writes, 1);
    ck_assert_str_eq(fake_res_header(&f, "Content-Length"), "200000");
    ck_assert_str_eq(fake_res_header(&f, "Content-Type"),
                     "application/octet-stream; x=\"a long parameter\"");
    const char *b = fake_res_body(&f);
    ck_assert_uint_eq(f.out_len - (size_t)(b - f.out), n);
    ck_assert_int_eq(memcmp(b, big, n), 0);
    free(big);
    fake_req_done(&f);
}
END_TEST

START_TEST(test_header_injection_dropped)
{
    fake_req f;
    fake_req_init(&f);
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 100);
    crm_res_header(r, "X-Evil", "a\r\nSet-Cookie: session=stolen");
    crm_res_header(r, "X-Lf", "a\nb");
    crm_res_header(r, "X-Cr", "a\rb");
    crm_res_header(r, "X-Good", "fine");
    crm_res_send(r, 200, "text/plain", "ok", 2);
    ck_assert_ptr_null(strstr(f.out, "Set-Cookie"));
    ck_assert_ptr_null(fake_res_header(&f, "X-Evil"));
    ck_assert_ptr_null(fake_res_header(&f, "X-Lf"));
    ck_assert_ptr_null(fake_res_header(&f, "X-Cr"));
    ck_assert_str_eq(fake_res_header(&f, "X-Good"), "fine");
    /* The only line breaks are the header line ends. */
    const char *end = strstr(f.out, "\r\n\r\n");
    for (const char *p = f.out; p < end; p++)
        if (*p == '\n')
            ck_assert_int_eq(p[-1], '\r');
    fake_req_done(&f);
}
END_TEST

START_TEST(test_header_values_copied_and_limited)
{
    fake_req f;
    fake_req_init(&f);
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 100);
    char name[32], value[32];
    snprintf(name, sizeof(name), "X-Copy");
    snprintf(value, sizeof(value), "before");
    crm_res_header(r, name, value);
    /* The caller's buffers may change right after: the header was copied. */
    snprintf(name, sizeof(name), "X-Changed");
    snprintf(value, sizeof(value), "after");
    /* Many headers: the first ones are kept, no overflow either way. */
    for (int i = 0; i < 40; i++) {
        char n[16];
        snprintf(n, sizeof(n), "X-H%d", i);
        crm_res_header(r, n, "v");
    }
    crm_res_send(r, 200, NULL, NULL, 0);
    ck_assert_str_eq(fake_res_header(&f, "X-Copy"), "before");
    ck_assert_ptr_null(fake_res_header(&f, "X-Changed"));
    ck_assert_str_eq(fake_res_header(&f, "X-H0"), "v");
    ck_assert_ptr_null(fake_res_header(&f, "X-H39"));
    fake_req_done(&f);
}
END_TEST

START_TEST(test_send_write_fails)
{
    fake_req f;
    fake_req_init(&f);
    f.write_fails = 1;
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 100);
    ck_assert_int_eq(crm_res_send(r, 200, "text/plain", "ok", 2), 200);
    ck_assert_int_eq(crm_res_status(r), 200);
    fake_req_done(&f);
}
END_TEST

START_TEST(test_http_reason)
{
    ck_assert_str_eq(crm_http_reason(200), "OK");
    ck_assert_str_eq(crm_http_reason(201), "Created");
    ck_assert_str_eq(crm_http_reason(204), "No Content");
    ck_assert_str_eq(crm_http_reason(303), "See Other");
    ck_assert_str_eq(crm_http_reason(304), "Not Modified");
    ck_assert_str_eq(crm_http_reason(400), "Bad Request");
    ck_assert_str_eq(crm_http_reason(404), "Not Found");
    ck_assert_str_eq(crm_http_reason(405), "Method Not Allowed");
    ck_assert_str_eq(crm_http_reason(409), "Conflict");
    ck_assert_str_eq(crm_http_reason(412), "Precondition Failed");
    ck_assert_str_eq(crm_http_reason(413), "Content Too Large");
    ck_assert_str_eq(crm_http_reason(415), "Unsupported Media Type");
    ck_assert_str_eq(crm_http_reason(422), "Unprocessable Content");
    ck_assert_str_eq(crm_http_reason(428), "Precondition Required");
    ck_assert_str_eq(crm_http_reason(500), "Internal Server Error");
    ck_assert_str_eq(crm_http_reason(503), "Service Unavailable");
    /* Unknown codes still get a phrase of the right class. */
    ck_assert_str_eq(crm_http_reason(299), "OK");
    ck_assert_str_eq(crm_http_reason(418), "Error");
    ck_assert_str_eq(crm_http_reason(599), "Error");

    fake_req f;
    fake_req_init(&f);
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 100);
    crm_res_send(r, 599, NULL, NULL, 0);
    ck_assert_msg(strncmp(f.out, "Status: 599 Error\r\n", 19) == 0, "%s", f.out);
    fake_req_done(&f);
}
END_TEST

static Suite *req_suite(void)
{
    Suite *s = suite_create("crm_req");
    TCase *tc = tcase_create("request");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_method_path);
    tcase_add_test(tc, test_path_fallback_document_uri);
    tcase_add_test(tc, test_headers);
    tcase_add_test(tc, test_request_id);
    tcase_add_test(tc, test_path_id);
    tcase_add_test(tc, test_path_params);
    suite_add_tcase(s, tc);

    tc = tcase_create("query");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_query);
    tcase_add_test(tc, test_query_check_unknown);
    tcase_add_test(tc, test_query_check_repeated);
    tcase_add_test(tc, test_query_check_bad_encoding);
    tcase_add_test(tc, test_query_check_too_many);
    suite_add_tcase(s, tc);

    tc = tcase_create("body");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_body_exact);
    tcase_add_test(tc, test_body_cap);
    tcase_add_test(tc, test_body_chunked);
    tcase_add_test(tc, test_body_read_error);
    tcase_add_test(tc, test_body_bad_content_length);
    suite_add_tcase(s, tc);

    tc = tcase_create("response");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_send);
    tcase_add_test(tc, test_send_empty_and_large);
    tcase_add_test(tc, test_header_injection_dropped);
    tcase_add_test(tc, test_header_values_copied_and_limited);
    tcase_add_test(tc, test_send_write_fails);
    tcase_add_test(tc, test_http_reason);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(req_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
