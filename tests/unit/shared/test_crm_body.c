/*
 * test_crm_body.c - a request body into fields by content type: JSON
 * (UTF-8 only), forms, 415 for anything else, 413 over the cap, 400 when
 * the body does not parse.
 */
#include "crm_body.h"

#include "../fake_req.h"

#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static crm_arena *arena;
static fake_req f;

static void setup(void)
{
    arena = crm_arena_new(4096);
}

static void teardown(void)
{
    fake_req_done(&f);
    crm_arena_free(arena);
}

/* A fresh POST to /api/v1/customers in f, without Content-Type or body. */
static void reset(void)
{
    fake_req_done(&f);
    fake_req_init(&f);
    fake_req_set(&f, "REQUEST_METHOD", "POST");
    fake_req_set(&f, "DOCUMENT_URI", "/api/v1/customers");
    f.out_max = 16384;
}

/* crm_body_fields over body with content type ct and a body cap. */
static int parse(const char *ct, const char *body, size_t cap, crm_fields *out)
{
    reset();
    fake_req_set(&f, "CONTENT_TYPE", ct);
    fake_req_body(&f, body, strlen(body));
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, cap);
    memset(out, 0, sizeof(*out));
    int rc = crm_body_fields(r, out);
    if (rc == CRM_OK) {
        ck_assert_int_eq(f.writes, 0);
        ck_assert_int_eq(crm_res_status(r), 0);
    } else {
        ck_assert_int_eq(f.writes, 1);
        ck_assert_int_eq(crm_res_status(r), rc);
    }
    return rc;
}

/* The problem sent: checks status and type, returns the detail (static). */
static const char *problem(int status, const char *type)
{
    static char detail[512];
    char want[64];
    snprintf(want, sizeof(want), "Status: %d ", status);
    ck_assert_msg(strncmp(f.out, want, strlen(want)) == 0, "%s", f.out);
    ck_assert_ptr_nonnull(strstr(f.out, "\r\nContent-Type: application/problem+json\r\n"));
    json_object *o = json_tokener_parse(strstr(f.out, "\r\n\r\n") + 4);
    ck_assert_ptr_nonnull(o);
    json_object *v;
    ck_assert(json_object_object_get_ex(o, "status", &v));
    ck_assert_int_eq(json_object_get_int(v), status);
    ck_assert(json_object_object_get_ex(o, "type", &v));
    ck_assert_str_eq(json_object_get_string(v), type);
    detail[0] = '\0';
    if (json_object_object_get_ex(o, "detail", &v))
        snprintf(detail, sizeof(detail), "%s", json_object_get_string(v));
    json_object_put(o);
    return detail;
}

static const char json_body[] = "{\"name\":\"Ada\",\"age\":36,\"vip\":true,\"tags\":[\"a\",\"b\"]}";

START_TEST(test_json_types_accepted)
{
    static const char *const ok[] = {
        "application/json",
        "application/json; charset=utf-8",
        "application/json;charset=utf-8",
        "application/json; charset=UTF-8",
        "application/json; charset=\"UTF-8\"",
        "application/json; charset=\"utf-8\"",
        "Application/JSON",
        "application/json ; charset=utf-8",
        " application/json",
    };
    for (size_t i = 0; i < CRM_NELEM(ok); i++) {
        crm_fields fs;
        ck_assert_msg(parse(ok[i], json_body, 1024, &fs) == CRM_OK, "refused %s", ok[i]);
        ck_assert_int_eq(fs.form, 0);
        ck_assert_uint_eq(fs.n, 4);
    }
}
END_TEST

START_TEST(test_unsupported_types)
{
    static const char *const bad[] = {
        "application/json; charset=latin1",
        "application/json; charset=iso-8859-1",
        "application/json; charset=utf-16",
        "application/json; charset=\"latin1\"",
        "application/json; charset=",
        "text/plain",
        "text/json",
        "application/jsonx",
        "application/json-patch+json",
        "application/xml",
        "multipart/form-data; boundary=x",
        "",
    };
    for (size_t i = 0; i < CRM_NELEM(bad); i++) {
        crm_fields fs;
        ck_assert_msg(parse(bad[i], json_body, 1024, &fs) == 415, "accepted \"%s\"", bad[i]);
        problem(415, "/problems/unsupported-media-type");
        /* The body is not even read. */
        ck_assert_int_eq(f.reads, 0);
    }
    /* No Content-Type at all. */
    crm_fields fs;
    ck_assert_int_eq(parse(NULL, json_body, 1024, &fs), 415);
    problem(415, "/problems/unsupported-media-type");
}
END_TEST

START_TEST(test_json_fields)
{
    crm_fields fs;
    ck_assert_int_eq(parse("application/json", json_body, 1024, &fs), CRM_OK);
    const crm_field *v = crm_fields_get(&fs, "name");
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(v->type, CRM_FIELD_STRING);
    ck_assert_str_eq(v->str, "Ada");
    ck_assert_uint_eq(v->len, 3);
    v = crm_fields_get(&fs, "age");
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(v->type, CRM_FIELD_INT);
    ck_assert_int_eq(v->i, 36);
    v = crm_fields_get(&fs, "vip");
    ck_assert_int_eq(v->type, CRM_FIELD_BOOL);
    ck_assert_int_eq(v->b, 1);
    v = crm_fields_get(&fs, "tags");
    ck_assert_int_eq(v->type, CRM_FIELD_ARRAY);
    ck_assert_uint_eq(v->n, 2);
    ck_assert_ptr_null(crm_fields_get(&fs, "missing"));
    /* Document order. */
    ck_assert_str_eq(fs.items[0].name, "name");
    ck_assert_str_eq(fs.items[3].name, "tags");

    ck_assert_int_eq(parse("application/json", "{}", 1024, &fs), CRM_OK);
    ck_assert_uint_eq(fs.n, 0);
}
END_TEST

START_TEST(test_form_fields)
{
    crm_fields fs;
    ck_assert_int_eq(
        parse("application/x-www-form-urlencoded",
              "name=Ada+Lovelace&email=ada%40example.com&city=Z%C3%BCrich&empty=", 1024, &fs),
        CRM_OK);
    ck_assert_int_eq(fs.form, 1);
    ck_assert_uint_eq(fs.n, 4);
    const crm_field *v = crm_fields_get(&fs, "name");
    ck_assert_int_eq(v->type, CRM_FIELD_STRING);
    ck_assert_str_eq(v->str, "Ada Lovelace");
    ck_assert_str_eq(crm_fields_get(&fs, "email")->str, "ada@example.com");
    ck_assert_str_eq(crm_fields_get(&fs, "city")->str, "Z\xC3\xBCrich");
    ck_assert_str_eq(crm_fields_get(&fs, "empty")->str, "");

    ck_assert_int_eq(parse("application/x-www-form-urlencoded; charset=UTF-8", "a=1", 1024, &fs),
                     CRM_OK);
    ck_assert_str_eq(crm_fields_get(&fs, "a")->str, "1");
    ck_assert_int_eq(parse("APPLICATION/X-WWW-FORM-URLENCODED", "a=1", 1024, &fs), CRM_OK);
}
END_TEST

START_TEST(test_too_large)
{
    crm_fields fs;
    /* By bytes received (no Content-Length). */
    ck_assert_int_eq(parse("application/json", json_body, sizeof(json_body) - 2, &fs), 413);
    problem(413, "/problems/too-large");
    /* Exactly at the cap is fine. */
    ck_assert_int_eq(parse("application/json", json_body, sizeof(json_body) - 1, &fs), CRM_OK);

    /* By Content-Length, before reading. */
    reset();
    fake_req_set(&f, "CONTENT_TYPE", "application/x-www-form-urlencoded");
    fake_req_set(&f, "CONTENT_LENGTH", "100000");
    fake_req_body(&f, "a=1", 3);
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 1000);
    ck_assert_int_eq(crm_body_fields(r, &fs), 413);
    ck_assert_int_eq(f.reads, 0);
    problem(413, "/problems/too-large");
}
END_TEST

START_TEST(test_malformed)
{
    static const char *const bad_json[] = {
        "",
        "{",
        "{\"a\":}",
        "[1,2]",
        "\"str\"",
        "{\"a\":1} x",
        "{\"a\":1,\"a\":2}",
        "{'a':1}",
        "{\"a\":\"\xFF\"}",
        "{\"a\":\"\\u0000\"}",
        "{\"a\":[[[[[[[[[[[[1]]]]]]]]]]]]}",
    };
    for (size_t i = 0; i < CRM_NELEM(bad_json); i++) {
        crm_fields fs;
        ck_assert_msg(parse("application/json", bad_json[i], 1024, &fs) == 400, "accepted %s",
                      bad_json[i]);
        const char *detail = problem(400, "/problems/malformed-body");
        ck_assert_msg(detail[0] != '\0', "no detail for %s", bad_json[i]);
    }

    static const char *const bad_form[] = { "a=%zz", "a=%4", "a=1&a=2", "=x", "a=%FF", "a=%00" };
    for (size_t i = 0; i < CRM_NELEM(bad_form); i++) {
        crm_fields fs;
        ck_assert_msg(parse("application/x-www-form-urlencoded", bad_form[i], 1024, &fs) == 400,
                      "accepted %s", bad_form[i]);
        const char *detail = problem(400, "/problems/malformed-body");
        ck_assert_msg(detail[0] != '\0', "no detail for %s", bad_form[i]);
    }

    /* More form fields than allowed. */
    char many[CRM_FORM_MAX_FIELDS * 8 + 16];
    size_t n = 0;
    for (int i = 0; i <= CRM_FORM_MAX_FIELDS; i++)
        n += (size_t)snprintf(many + n, sizeof(many) - n, "%sf%d=1", i ? "&" : "", i);
    crm_fields fs;
    ck_assert_int_eq(parse("application/x-www-form-urlencoded", many, 4096, &fs), 400);
    problem(400, "/problems/malformed-body");
}
END_TEST

START_TEST(test_read_error)
{
    reset();
    fake_req_set(&f, "CONTENT_TYPE", "application/json");
    f.fail_after = 0; /* every read fails */
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 1000);
    crm_fields fs;
    ck_assert_int_eq(crm_body_fields(r, &fs), 400);
    problem(400, "/problems/bad-request");

    /* A Content-Length that is not a number. */
    reset();
    fake_req_set(&f, "CONTENT_TYPE", "application/json");
    fake_req_set(&f, "CONTENT_LENGTH", "-5");
    fake_req_body(&f, "{}", 2);
    r = crm_req_new(arena, &fake_req_io, &f, 1000);
    ck_assert_int_eq(crm_body_fields(r, &fs), 400);
}
END_TEST

static Suite *body_suite(void)
{
    Suite *s = suite_create("crm_body");
    TCase *tc = tcase_create("content_type");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_json_types_accepted);
    tcase_add_test(tc, test_unsupported_types);
    suite_add_tcase(s, tc);

    tc = tcase_create("parse");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_json_fields);
    tcase_add_test(tc, test_form_fields);
    tcase_add_test(tc, test_too_large);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_read_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(body_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
