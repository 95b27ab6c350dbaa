/*
 * test_crm_problem.c - RFC 9457 problem details: every member, defaults,
 * and hostile strings that must still give valid JSON.
 */
#include "crm_problem.h"

#include "../fake_req.h"

#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static crm_arena *arena;
static fake_req f;
/* DOCUMENT_URI and REQUEST_ID of the next request; tests may change them. */
static const char *path;
static const char *request_id;

static void setup(void)
{
    arena = crm_arena_new(4096);
    fake_req_init(&f);
    path = "/api/v1/customers/5";
    request_id = "req-abc123";
}

static void teardown(void)
{
    fake_req_done(&f);
    crm_arena_free(arena);
}

/* A POST to path with request_id; the output of the previous one is dropped. */
static crm_req *new_req(void)
{
    fake_req_done(&f);
    fake_req_init(&f);
    fake_req_set(&f, "DOCUMENT_URI", path);
    fake_req_set(&f, "REQUEST_ID", request_id);
    fake_req_set(&f, "REQUEST_METHOD", "POST");
    f.out_max = 16384;
    return crm_req_new(arena, &fake_req_io, &f, 1024);
}

/*
 * The response checked as a problem with this status, parsed strictly
 * (valid UTF-8, nothing after the object). Caller puts.
 */
static json_object *problem(int status)
{
    char want[64];
    snprintf(want, sizeof(want), "Status: %d ", status);
    ck_assert_int_eq(f.writes, 1);
    ck_assert_msg(strncmp(f.out, want, strlen(want)) == 0, "%s", f.out);
    ck_assert_str_eq(fake_res_header(&f, "Content-Type"), "application/problem+json");
    const char *body = strstr(f.out, "\r\n\r\n") + 4;
    size_t len = f.out_len - (size_t)(body - f.out);
    char cl[32];
    snprintf(cl, sizeof(cl), "%zu", len);
    ck_assert_str_eq(fake_res_header(&f, "Content-Length"), cl);

    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, body, (int)len);
    ck_assert_msg(o != NULL, "not JSON: %s", body);
    ck_assert_int_eq(json_tokener_get_error(tok), json_tokener_success);
    ck_assert_int_eq(json_tokener_get_parse_end(tok), len);
    json_tokener_free(tok);
    ck_assert(json_object_is_type(o, json_type_object));

    json_object *v;
    ck_assert(json_object_object_get_ex(o, "status", &v));
    ck_assert(json_object_is_type(v, json_type_int));
    ck_assert_int_eq(json_object_get_int(v), status);
    return o;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    ck_assert_msg(json_object_is_type(v, json_type_string), "%s is not a string", key);
    return json_object_get_string(v);
}

START_TEST(test_full_problem)
{
    crm_req *r = new_req();
    crm_field_error errs[] = { { "email", "must be a valid address" },
                               { "name", "must not be empty" } };
    crm_problem_t p = { .status = 422,
                        .type = "validation",
                        .title = "Validation failed",
                        .detail = "2 fields are invalid",
                        .errors = errs,
                        .n_errors = 2,
                        .extra = "\"allowed\":[\"confirm\",\"cancel\"],\"retry\":3" };
    ck_assert_int_eq(crm_problem_send(r, &p), 422);
    ck_assert_int_eq(crm_res_status(r), 422);

    json_object *o = problem(422);
    ck_assert_str_eq(jstr(o, "type"), "/problems/validation");
    ck_assert_str_eq(jstr(o, "title"), "Validation failed");
    ck_assert_str_eq(jstr(o, "detail"), "2 fields are invalid");
    ck_assert_str_eq(jstr(o, "instance"), "/api/v1/customers/5");
    ck_assert_str_eq(jstr(o, "request_id"), "req-abc123");

    json_object *a, *e, *v;
    ck_assert(json_object_object_get_ex(o, "errors", &a));
    ck_assert(json_object_is_type(a, json_type_array));
    ck_assert_uint_eq(json_object_array_length(a), 2);
    e = json_object_array_get_idx(a, 0);
    ck_assert_str_eq(jstr(e, "field"), "email");
    ck_assert_str_eq(jstr(e, "message"), "must be a valid address");
    e = json_object_array_get_idx(a, 1);
    ck_assert_str_eq(jstr(e, "field"), "name");
    ck_assert_str_eq(jstr(e, "message"), "must not be empty");

    ck_assert(json_object_object_get_ex(o, "allowed", &v));
    ck_assert_uint_eq(json_object_array_length(v), 2);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(v, 0)), "confirm");
    ck_assert(json_object_object_get_ex(o, "retry", &v));
    ck_assert_int_eq(json_object_get_int(v), 3);
    json_object_put(o);
}
END_TEST

START_TEST(test_defaults)
{
    /* crm_problem(): default slug and the reason phrase as title. */
    crm_req *r = new_req();
    ck_assert_int_eq(crm_problem(r, 404, "no customer 5"), 404);
    json_object *o = problem(404);
    ck_assert_str_eq(jstr(o, "type"), "/problems/not-found");
    ck_assert_str_eq(jstr(o, "title"), "Not Found");
    ck_assert_str_eq(jstr(o, "detail"), "no customer 5");
    ck_assert(!json_object_object_get_ex(o, "errors", NULL));
    json_object_put(o);

    /* No detail: the member is left out. */
    r = new_req();
    crm_problem(r, 409, NULL);
    o = problem(409);
    ck_assert_str_eq(jstr(o, "type"), "/problems/conflict");
    ck_assert_str_eq(jstr(o, "title"), "Conflict");
    ck_assert(!json_object_object_get_ex(o, "detail", NULL));
    json_object_put(o);

    /* A status without a slug: about:blank. */
    r = new_req();
    crm_problem_t p = { .status = 418 };
    ck_assert_int_eq(crm_problem_send(r, &p), 418);
    o = problem(418);
    ck_assert_str_eq(jstr(o, "type"), "about:blank");
    ck_assert_ptr_nonnull(jstr(o, "title"));
    json_object_put(o);

    /* Server errors: the generic internal type. */
    r = new_req();
    crm_problem(r, 500, "database said no");
    o = problem(500);
    ck_assert_str_eq(jstr(o, "type"), "/problems/internal");
    ck_assert_str_eq(jstr(o, "title"), "Internal Server Error");
    json_object_put(o);

    r = new_req();
    crm_problem(r, 503, NULL);
    o = problem(503);
    ck_assert_str_eq(jstr(o, "type"), "/problems/unavailable");
    json_object_put(o);
}
END_TEST

START_TEST(test_slugs)
{
    ck_assert_str_eq(crm_problem_slug(400), "bad-request");
    ck_assert_str_eq(crm_problem_slug(404), "not-found");
    ck_assert_str_eq(crm_problem_slug(405), "method-not-allowed");
    ck_assert_str_eq(crm_problem_slug(412), "precondition-failed");
    ck_assert_str_eq(crm_problem_slug(413), "too-large");
    ck_assert_str_eq(crm_problem_slug(415), "unsupported-media-type");
    ck_assert_str_eq(crm_problem_slug(422), "validation");
    ck_assert_str_eq(crm_problem_slug(428), "precondition-required");
    ck_assert_str_eq(crm_problem_slug(502), "internal");
    ck_assert_ptr_null(crm_problem_slug(418));
}
END_TEST

START_TEST(test_errors_with_null_members)
{
    crm_req *r = new_req();
    crm_field_error errs[] = { { NULL, "the body as a whole" }, { "x", NULL } };
    crm_problem_t p = { .status = 400, .errors = errs, .n_errors = 2 };
    crm_problem_send(r, &p);
    json_object *o = problem(400);
    json_object *a;
    ck_assert(json_object_object_get_ex(o, "errors", &a));
    ck_assert_str_eq(jstr(json_object_array_get_idx(a, 0), "field"), "");
    ck_assert_str_eq(jstr(json_object_array_get_idx(a, 1), "message"), "");
    json_object_put(o);
}
END_TEST

START_TEST(test_hostile_strings)
{
    const char *evil = "\"}, \"status\": 200, \"x\": \"\\\n\r\t\x01\x1f </script> \xC3\xA9";
    path = "/api/v1/\"quoted\"/\n/\\/\x02";
    crm_req *r = new_req();
    crm_field_error errs[] = { { evil, evil } };
    crm_problem_t p = { .status = 400,
                        .type = "bad\"type",
                        .title = evil,
                        .detail = evil,
                        .errors = errs,
                        .n_errors = 1 };
    crm_problem_send(r, &p);
    json_object *o = problem(400);
    ck_assert_str_eq(jstr(o, "type"), "/problems/bad\"type");
    ck_assert_str_eq(jstr(o, "title"), evil);
    ck_assert_str_eq(jstr(o, "detail"), evil);
    ck_assert_str_eq(jstr(o, "instance"), "/api/v1/\"quoted\"/\n/\\/\x02");
    ck_assert(!json_object_object_get_ex(o, "x", NULL));
    json_object *a;
    ck_assert(json_object_object_get_ex(o, "errors", &a));
    ck_assert_str_eq(jstr(json_object_array_get_idx(a, 0), "field"), evil);
    ck_assert_str_eq(jstr(json_object_array_get_idx(a, 0), "message"), evil);
    json_object_put(o);

    /* The raw body has no bare control characters at all. */
    const char *body = strstr(f.out, "\r\n\r\n") + 4;
    for (const char *c = body; *c != '\0'; c++)
        ck_assert_uint_ge((unsigned char)*c, 0x20);
}
END_TEST

/*
 * NGINX's $document_uri is percent-decoded, so /x/%FF reaches us as a raw
 * 0xFF byte. The problem must still be valid UTF-8 JSON.
 */
START_TEST(test_invalid_utf8_path)
{
    path = "/api/v1/\xFF\xC3(\xED\xA0\x80/\xC3\xA9";
    crm_req *r = new_req();
    crm_problem(r, 404, "no resource at this path");
    json_object *o = problem(404);
    const char *inst = jstr(o, "instance");
    ck_assert_ptr_nonnull(inst);
    ck_assert_int_eq(strncmp(inst, "/api/v1/", 8), 0);
    /* Valid characters around the bad bytes survive. */
    ck_assert_ptr_nonnull(strstr(inst, "/\xC3\xA9"));
    json_object_put(o);
}
END_TEST

START_TEST(test_hostile_request_id_not_echoed)
{
    request_id = "\"injected\":true";
    crm_req *r = new_req();
    crm_problem(r, 400, NULL);
    json_object *o = problem(400);
    ck_assert(!json_object_object_get_ex(o, "injected", NULL));
    ck_assert_str_ne(jstr(o, "request_id"), "\"injected\":true");
    json_object_put(o);
}
END_TEST

START_TEST(test_long_detail)
{
    char detail[5000];
    memset(detail, 'd', sizeof(detail) - 1);
    detail[sizeof(detail) - 1] = '\0';
    crm_req *r = new_req();
    crm_problem(r, 400, detail);
    json_object *o = problem(400);
    ck_assert_str_eq(jstr(o, "detail"), detail);
    json_object_put(o);
}
END_TEST

START_TEST(test_only_once)
{
    crm_req *r = new_req();
    crm_problem(r, 404, NULL);
    /* A second problem on the same request is not written. */
    ck_assert_int_eq(crm_problem(r, 500, "later"), 404);
    ck_assert_int_eq(f.writes, 1);
}
END_TEST

static Suite *problem_suite(void)
{
    Suite *s = suite_create("crm_problem");
    TCase *tc = tcase_create("problem");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_full_problem);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_slugs);
    tcase_add_test(tc, test_errors_with_null_members);
    tcase_add_test(tc, test_hostile_strings);
    tcase_add_test(tc, test_invalid_utf8_path);
    tcase_add_test(tc, test_hostile_request_id_not_echoed);
    tcase_add_test(tc, test_long_detail);
    tcase_add_test(tc, test_only_once);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(problem_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
