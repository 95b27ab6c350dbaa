/*
 * test_crm_idem.c - Idempotency-Key parsing and the request hash
 * (crm_idem_init only; claim and store need MariaDB and are covered by the
 * integration tests).
 */
#include "crm_idem.h"

#include "../fake_req.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* What a request carries into the hash (NULL: the variable is absent). */
typedef struct {
    const char *method;
    const char *path;
    const char *content_type;
    const char *key;
    const char *body;
} request;

/* f made to carry q: a fresh fake_req with q's variables and body. */
static void fake_of(fake_req *f, const request *q)
{
    fake_req_init(f);
    fake_req_set(f, "REQUEST_METHOD", q->method);
    fake_req_set(f, "DOCUMENT_URI", q->path);
    fake_req_set(f, "CONTENT_TYPE", q->content_type);
    fake_req_set(f, "HTTP_IDEMPOTENCY_KEY", q->key);
    if (q->body != NULL)
        fake_req_body(f, q->body, strlen(q->body));
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

static request base(void)
{
    request f = { .method = "POST",
                  .path = "/api/v1/customers",
                  .content_type = "application/json",
                  .key = "3f2b9c1e-5d7a-4e8f-9a0b-1c2d3e4f5a6b",
                  .body = "{\"name\":\"Ada\"}" };
    return f;
}

static int init(const request *q, crm_idem *idem)
{
    fake_req f;
    fake_of(&f, q);
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 1024);
    memset(idem, 0xA5, sizeof(*idem)); /* init must clear everything */
    int rc = crm_idem_init(idem, r, "customers.create");
    fake_req_done(&f);
    return rc;
}

START_TEST(test_no_header)
{
    request f = base();
    f.key = NULL;
    crm_idem idem;
    ck_assert_int_eq(init(&f, &idem), CRM_OK);
    ck_assert_ptr_null(idem.key);
    ck_assert_str_eq(idem.scope, "customers.create");
    ck_assert_int_eq(idem.replay, 0);
    ck_assert_int_eq(idem.status, 0);
    ck_assert_ptr_null(idem.location);
    ck_assert_ptr_null(idem.etag);
    ck_assert_ptr_null(idem.body);
    ck_assert_uint_eq(idem.body_len, 0);
}
END_TEST

START_TEST(test_valid_keys)
{
    static const char *const keys[] = { "3f2b9c1e-5d7a-4e8f-9a0b-1c2d3e4f5a6b", "k", "!", "~",
                                        "key:with/punct;\"quotes\"" };
    for (size_t i = 0; i < CRM_NELEM(keys); i++) {
        request f = base();
        f.key = keys[i];
        crm_idem idem;
        ck_assert_msg(init(&f, &idem) == CRM_OK, "refused %s", keys[i]);
        ck_assert_str_eq(idem.key, keys[i]);
        ck_assert_int_eq(idem.replay, 0);
        ck_assert_ptr_null(idem.body);
    }

    /* Exactly CRM_IDEM_KEY_MAX characters. */
    char longest[CRM_IDEM_KEY_MAX + 1];
    memset(longest, 'k', CRM_IDEM_KEY_MAX);
    longest[CRM_IDEM_KEY_MAX] = '\0';
    request f = base();
    f.key = longest;
    crm_idem idem;
    ck_assert_int_eq(init(&f, &idem), CRM_OK);
    ck_assert_uint_eq(strlen(idem.key), 255);
}
END_TEST

START_TEST(test_invalid_keys)
{
    char too_long[CRM_IDEM_KEY_MAX + 2];
    memset(too_long, 'k', CRM_IDEM_KEY_MAX + 1);
    too_long[CRM_IDEM_KEY_MAX + 1] = '\0';
    ck_assert_uint_eq(strlen(too_long), 256);
    const char *bad[] = { "",         too_long,    "has space",   " lead",
                          "trail ",   "tab\there", "nl\nhere",    "cr\rhere",
                          "bell\x07", "del\x7f",   "caf\xC3\xA9", "\xFF" };
    for (size_t i = 0; i < CRM_NELEM(bad); i++) {
        request f = base();
        f.key = bad[i];
        crm_idem idem;
        ck_assert_msg(init(&f, &idem) == CRM_INVALID, "accepted key #%zu", i);
    }
}
END_TEST

static void hash_of(request f, char out[65])
{
    crm_idem idem;
    ck_assert_int_eq(init(&f, &idem), CRM_OK);
    ck_assert_ptr_nonnull(idem.key);
    memcpy(out, idem.hash, 65);
    ck_assert_uint_eq(strlen(out), 64);
}

START_TEST(test_hash)
{
    char h1[65], h2[65], h[65], zero[65] = { 0 };
    request f = base();

    hash_of(f, h1);
    hash_of(f, h2);
    ck_assert_int_eq(strcmp(h1, h2), 0); /* same request, same hash */
    ck_assert_int_ne(strcmp(h1, zero), 0);

    /* The key itself is not part of the request hash. */
    f = base();
    f.key = "another-key";
    hash_of(f, h);
    ck_assert_int_eq(strcmp(h1, h), 0);

    f = base();
    f.body = "{\"name\":\"Bob\"}";
    hash_of(f, h);
    ck_assert_int_ne(strcmp(h1, h), 0);

    f = base();
    f.body = "{\"name\":\"Ada\"} ";
    hash_of(f, h);
    ck_assert_int_ne(strcmp(h1, h), 0);

    f = base();
    f.body = "";
    hash_of(f, h);
    ck_assert_int_ne(strcmp(h1, h), 0);

    f = base();
    f.path = "/api/v1/customers/1/notes";
    hash_of(f, h);
    ck_assert_int_ne(strcmp(h1, h), 0);

    f = base();
    f.content_type = "application/x-www-form-urlencoded";
    hash_of(f, h);
    ck_assert_int_ne(strcmp(h1, h), 0);

    f = base();
    f.content_type = NULL;
    hash_of(f, h);
    ck_assert_int_ne(strcmp(h1, h), 0);

    f = base();
    f.method = "PUT";
    hash_of(f, h);
    ck_assert_int_ne(strcmp(h1, h), 0);
}
END_TEST

/* Fields are separated: moving bytes from one into the next changes the hash. */
START_TEST(test_hash_field_boundaries)
{
    char a[65], b[65];
    request f = base();
    f.path = "/api/v1/x";
    f.content_type = "ab";
    f.body = "c";
    hash_of(f, a);
    f.content_type = "a";
    f.body = "bc";
    hash_of(f, b);
    ck_assert_int_ne(strcmp(a, b), 0);

    f = base();
    f.method = "POST";
    f.path = "/ab";
    hash_of(f, a);
    f.path = "/a";
    f.content_type = "bapplication/json";
    hash_of(f, b);
    ck_assert_int_ne(strcmp(a, b), 0);
}
END_TEST

START_TEST(test_body_still_readable)
{
    /* init reads the body; the handler must still get it afterwards. */
    request q = base();
    fake_req f;
    fake_of(&f, &q);
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 1024);
    crm_idem idem;
    ck_assert_int_eq(crm_idem_init(&idem, r, "customers.create"), CRM_OK);
    const char *body;
    size_t len;
    ck_assert_int_eq(crm_req_body(r, &body, &len), CRM_OK);
    ck_assert_str_eq(body, "{\"name\":\"Ada\"}");
    ck_assert_uint_eq(len, strlen("{\"name\":\"Ada\"}"));
    fake_req_done(&f);
}
END_TEST

static Suite *idem_suite(void)
{
    Suite *s = suite_create("crm_idem");
    TCase *tc = tcase_create("init");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_no_header);
    tcase_add_test(tc, test_valid_keys);
    tcase_add_test(tc, test_invalid_keys);
    tcase_add_test(tc, test_hash);
    tcase_add_test(tc, test_hash_field_boundaries);
    tcase_add_test(tc, test_body_still_readable);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(idem_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
