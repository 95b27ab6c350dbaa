/*
 * test_crm_router.c - route matching ({id} is digits only), 404 and 405
 * with Allow answered by the router, HEAD served by GET routes.
 */
#include "crm_router.h"

#include "../fake_req.h"

#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- handlers that say who they are ---- */

static const char *called;
static const char *if_match; /* the If-Match the handler saw */

static int answer(crm_req *r, const char *who)
{
    called = who;
    if_match = crm_req_header(r, "If-Match");
    return crm_res_send(r, 200, "text/plain", who, strlen(who));
}

static int h_list(crm_req *r)
{
    return answer(r, "list");
}

static int h_create(crm_req *r)
{
    return answer(r, "create");
}

static int h_get(crm_req *r)
{
    return answer(r, "get");
}

static int h_patch(crm_req *r)
{
    return answer(r, "patch");
}

static int h_delete(crm_req *r)
{
    return answer(r, "delete");
}

static int h_note(crm_req *r)
{
    return answer(r, "note");
}

static int h_note_delete(crm_req *r)
{
    return answer(r, "note_delete");
}

static int h_ping(crm_req *r)
{
    return answer(r, "ping");
}

static int h_import(crm_req *r)
{
    return answer(r, "import");
}

/* Matching is what these tests are about: every route is public, except
   imports, which proves that the router asks crm_auth before a handler
   runs (test_crm_auth.c covers the roles themselves). */
#define P CRM_ROLE_PUBLIC

static const crm_route routes[] = {
    { "GET", "/api/v1/customers", h_list, P, "customers.list" },
    { "POST", "/api/v1/customers", h_create, P, "customers.create" },
    { "GET", "/api/v1/customers/ping", h_ping, CRM_ROLE_PUBLIC, "customers.ping" },
    { "GET", "/api/v1/customers/{id}", h_get, P, "customers.get" },
    { "PATCH", "/api/v1/customers/{id}", h_patch, P, "customers.patch" },
    { "DELETE", "/api/v1/customers/{id}", h_delete, P, "customers.delete" },
    { "GET", "/api/v1/customers/{id}/notes/{note_id}", h_note, P, "notes.get" },
    { "DELETE", "/api/v1/customers/{id}/notes/{note_id}", h_note_delete, P, "notes.delete" },
    { "POST", "/api/v1/imports", h_import, CRM_ROLE_ADMIN, "imports.create" },
};

static crm_arena *arena;
static fake_req f;

static void setup(void)
{
    arena = crm_arena_new(4096);
    fake_req_init(&f);
    called = NULL;
}

static void teardown(void)
{
    fake_req_done(&f);
    crm_arena_free(arena);
}

/* Dispatch method path; returns the request for further checks. */
static crm_req *dispatch(const char *method, const char *path, int *status)
{
    fake_req_done(&f);
    fake_req_init(&f);
    called = NULL;
    fake_req_set(&f, "REQUEST_METHOD", method);
    fake_req_set(&f, "DOCUMENT_URI", path);
    fake_req_set(&f, "REQUEST_ID", "test-request");
    f.out_max = 8192;
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 1024);
    *status = crm_router_dispatch(routes, CRM_NELEM(routes), r);
    ck_assert_int_eq(*status, crm_res_status(r));
    ck_assert_int_eq(f.writes, 1);
    return r;
}

static void assert_problem(int status, const char *type)
{
    char want[64];
    snprintf(want, sizeof(want), "Status: %d ", status);
    ck_assert_msg(strncmp(f.out, want, strlen(want)) == 0, "%s", f.out);
    ck_assert_str_eq(fake_res_header(&f, "Content-Type"), "application/problem+json");
    const char *body = strstr(f.out, "\r\n\r\n") + 4;
    json_object *o = json_tokener_parse(body);
    ck_assert_msg(o != NULL, "not JSON: %s", body);
    json_object *v;
    ck_assert(json_object_object_get_ex(o, "status", &v));
    ck_assert_int_eq(json_object_get_int(v), status);
    ck_assert(json_object_object_get_ex(o, "type", &v));
    ck_assert_str_eq(json_object_get_string(v), type);
    json_object_put(o);
}

START_TEST(test_match_static)
{
    int status;
    crm_req *r = dispatch("GET", "/api/v1/customers", &status);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(called, "list");
    ck_assert_int_eq(crm_req_route(r), 0);

    r = dispatch("POST", "/api/v1/customers", &status);
    ck_assert_str_eq(called, "create");
    ck_assert_int_eq(crm_req_route(r), 1);

    /* A literal segment wins over {id}, which would not match it anyway. */
    r = dispatch("GET", "/api/v1/customers/ping", &status);
    ck_assert_str_eq(called, "ping");
    ck_assert_int_eq(crm_req_route(r), 2);
    ck_assert_ptr_null(crm_req_path_param(r, "id"));
}
END_TEST

START_TEST(test_match_params)
{
    int status;
    int64_t id;
    crm_req *r = dispatch("GET", "/api/v1/customers/42", &status);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(called, "get");
    ck_assert_int_eq(crm_req_route(r), 3);
    ck_assert_str_eq(crm_req_path_param(r, "id"), "42");
    ck_assert_int_eq(crm_req_path_id(r, "id", &id), CRM_OK);
    ck_assert_int_eq(id, 42);

    r = dispatch("PATCH", "/api/v1/customers/7", &status);
    ck_assert_str_eq(called, "patch");
    ck_assert_int_eq(crm_req_route(r), 4);
    ck_assert_str_eq(crm_req_path_param(r, "id"), "7");

    r = dispatch("GET", "/api/v1/customers/123/notes/4567", &status);
    ck_assert_str_eq(called, "note");
    ck_assert_int_eq(crm_req_route(r), 6);
    ck_assert_str_eq(crm_req_path_param(r, "id"), "123");
    ck_assert_str_eq(crm_req_path_param(r, "note_id"), "4567");

    r = dispatch("DELETE", "/api/v1/customers/1/notes/2", &status);
    ck_assert_str_eq(called, "note_delete");
    ck_assert_int_eq(crm_req_route(r), 7);
    ck_assert_str_eq(crm_req_path_param(r, "id"), "1");
    ck_assert_str_eq(crm_req_path_param(r, "note_id"), "2");
}
END_TEST

START_TEST(test_not_found)
{
    static const char *const paths[] = {
        "/",
        "",
        "/api/v1",
        "/api/v1/customer",
        "/api/v1/customersX",
        "/api/v1/customers/",    /* trailing slash */
        "/api/v1/customers/42/", /* trailing slash after {id} */
        "/api/v1/customers//",
        "/api/v1/customers/abc", /* {id} is digits only */
        "/api/v1/customers/4a2",
        "/api/v1/customers/42a",
        "/api/v1/customers/-1",
        "/api/v1/customers/+1",
        "/api/v1/customers/%31",
        "/api/v1/customers/1.5",
        "/api/v1/customers/42/notes",
        "/api/v1/customers/42/notes/",
        "/api/v1/customers/42/notes/x",
        "/api/v1/customers/42/notes/1/extra",
        "/API/V1/CUSTOMERS",
        "/api/v1/customers/ping/",
    };
    for (size_t i = 0; i < CRM_NELEM(paths); i++) {
        int status;
        crm_req *r = dispatch("GET", paths[i], &status);
        ck_assert_msg(status == 404, "%s: %d", paths[i], status);
        ck_assert_ptr_null(called);
        ck_assert_int_eq(crm_req_route(r), -1);
        assert_problem(404, "/problems/not-found");
    }
    /* Unknown path with any method is still 404, not 405. */
    int status;
    dispatch("PUT", "/nope", &status);
    ck_assert_int_eq(status, 404);
}
END_TEST

START_TEST(test_method_not_allowed)
{
    int status;
    crm_req *r = dispatch("PUT", "/api/v1/customers/42", &status);
    ck_assert_int_eq(status, 405);
    ck_assert_ptr_null(called);
    ck_assert_int_eq(crm_req_route(r), -1);
    assert_problem(405, "/problems/method-not-allowed");
    ck_assert_str_eq(fake_res_header(&f, "Allow"), "GET, HEAD, PATCH, DELETE");

    dispatch("DELETE", "/api/v1/customers", &status);
    ck_assert_int_eq(status, 405);
    ck_assert_str_eq(fake_res_header(&f, "Allow"), "GET, HEAD, POST");

    dispatch("POST", "/api/v1/customers/ping", &status);
    ck_assert_int_eq(status, 405);
    ck_assert_str_eq(fake_res_header(&f, "Allow"), "GET, HEAD");

    /* A POST-only resource: HEAD is not allowed there. */
    dispatch("HEAD", "/api/v1/imports", &status);
    ck_assert_int_eq(status, 405);
    ck_assert_str_eq(fake_res_header(&f, "Allow"), "POST");
    dispatch("GET", "/api/v1/imports", &status);
    ck_assert_int_eq(status, 405);
    ck_assert_str_eq(fake_res_header(&f, "Allow"), "POST");

    /* Methods are case-sensitive. */
    dispatch("get", "/api/v1/customers", &status);
    ck_assert_int_eq(status, 405);
}
END_TEST

START_TEST(test_head_uses_get)
{
    int status;
    crm_req *r = dispatch("HEAD", "/api/v1/customers/9", &status);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(called, "get");
    ck_assert_int_eq(crm_req_route(r), 3);
    ck_assert_str_eq(crm_req_path_param(r, "id"), "9");

    dispatch("HEAD", "/api/v1/customers", &status);
    ck_assert_str_eq(called, "list");
}
END_TEST

START_TEST(test_roles_checked_first)
{
    int status;
    called = NULL;
    dispatch("POST", "/api/v1/imports", &status);
    ck_assert_int_eq(status, 401);
    ck_assert_ptr_null(called);
}
END_TEST

START_TEST(test_router_match)
{
    const char *names[4], *values[4];
    size_t n = 99;

    ck_assert_int_eq(crm_router_match(arena, "/a/{x}/b/{y}", "/a/1/b/22", names, values, 4, &n), 1);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(names[0], "x");
    ck_assert_str_eq(values[0], "1");
    ck_assert_str_eq(names[1], "y");
    ck_assert_str_eq(values[1], "22");

    n = 99;
    ck_assert_int_eq(crm_router_match(arena, "/a", "/a", names, values, 4, &n), 1);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(crm_router_match(arena, "/a/{x}", "/a/", names, values, 4, &n), 0);
    ck_assert_int_eq(crm_router_match(arena, "/a/{x}", "/a/1/", names, values, 4, &n), 0);
    ck_assert_int_eq(crm_router_match(arena, "/a/{x}", "/a/1x", names, values, 4, &n), 0);
    ck_assert_int_eq(crm_router_match(arena, "/a/{x}", "/a", names, values, 4, &n), 0);
    ck_assert_int_eq(crm_router_match(arena, "/a", "/ab", names, values, 4, &n), 0);
    ck_assert_int_eq(crm_router_match(arena, "/ab", "/a", names, values, 4, &n), 0);
    /* A {param} at the end of a segment followed by more pattern text. */
    ck_assert_int_eq(crm_router_match(arena, "/a/{x}.json", "/a/5.json", names, values, 4, &n), 0);
    /* An unclosed brace never matches. */
    ck_assert_int_eq(crm_router_match(arena, "/a/{x", "/a/1", names, values, 4, &n), 0);
    /* More parameters than room: no match rather than an overflow. */
    ck_assert_int_eq(crm_router_match(arena, "/{a}/{b}/{c}", "/1/2/3", names, values, 2, &n), 0);
    /* Long digit runs are captured whole; the handler judges the value. */
    ck_assert_int_eq(crm_router_match(arena, "/a/{id}", "/a/000123456789012345678901234567890",
                                      names, values, 4, &n),
                     1);
    ck_assert_str_eq(values[0], "000123456789012345678901234567890");
}
END_TEST

/* ---- a browser form standing for another method (crm_body.h) ---- */

static int form_post(const char *path, const char *body, const char *accept)
{
    fake_req_done(&f);
    fake_req_init(&f);
    called = NULL;
    if_match = NULL;
    fake_req_set(&f, "REQUEST_METHOD", "POST");
    fake_req_set(&f, "DOCUMENT_URI", path);
    fake_req_set(&f, "CONTENT_TYPE", "application/x-www-form-urlencoded");
    if (accept != NULL)
        fake_req_set(&f, "HTTP_ACCEPT", accept);
    fake_req_body(&f, body, strlen(body));
    f.out_max = 16384;
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 1024);
    int status = crm_router_dispatch(routes, CRM_NELEM(routes), r);
    ck_assert_int_eq(status, crm_res_status(r));
    ck_assert_int_eq(f.writes, 1);
    return status;
}

START_TEST(test_form_method_override)
{
    ck_assert_int_eq(form_post("/api/v1/customers/5", "_method=PATCH&name=x", NULL), 200);
    ck_assert_str_eq(called, "patch");
    ck_assert_ptr_null(if_match);
    ck_assert_int_eq(form_post("/api/v1/customers/5", "_method=DELETE&_if_match=3", NULL), 200);
    ck_assert_str_eq(called, "delete");
    ck_assert_str_eq(if_match, "\"3\"");
    /* POST stays POST; no _method at all, too. */
    ck_assert_int_eq(form_post("/api/v1/customers", "_method=POST&name=x", NULL), 200);
    ck_assert_str_eq(called, "create");
    ck_assert_int_eq(form_post("/api/v1/customers", "name=x", NULL), 200);
    ck_assert_str_eq(called, "create");
    /* Only a form can stand for another method: JSON's _method is data. */
    fake_req_done(&f);
    fake_req_init(&f);
    called = NULL;
    fake_req_set(&f, "REQUEST_METHOD", "POST");
    fake_req_set(&f, "DOCUMENT_URI", "/api/v1/customers/5");
    fake_req_set(&f, "CONTENT_TYPE", "application/json");
    fake_req_body(&f, "{\"_method\":\"PATCH\"}", 19);
    crm_req *r = crm_req_new(arena, &fake_req_io, &f, 1024);
    ck_assert_int_eq(crm_router_dispatch(routes, CRM_NELEM(routes), r), 405);
    ck_assert_ptr_null(called);
}
END_TEST

START_TEST(test_form_control_refused)
{
    /* GET, HEAD or anything else is no method a form may stand for. */
    ck_assert_int_eq(form_post("/api/v1/customers/5", "_method=GET", NULL), 400);
    assert_problem(400, "/problems/bad-form-control");
    ck_assert_ptr_null(called);
    ck_assert_int_eq(form_post("/api/v1/customers/5", "_method=patch", NULL), 400);
    ck_assert_int_eq(form_post("/api/v1/customers/5", "_method=PATCH&_if_match=abc", NULL), 400);
    ck_assert_int_eq(form_post("/api/v1/customers/5", "_method=PATCH&_if_match=0", NULL), 400);
    ck_assert_int_eq(form_post("/api/v1/customers/5", "_method=PATCH&_if_match=-1", NULL), 400);
    /* _next is a page of this site, never another site. */
    const char *away[] = { "_next=%2F%2Fevil.example%2F",
                           "_next=https%3A%2F%2Fevil.example",
                           "_next=%2F%5Cevil.example",
                           "_next=",
                           "_next=customers",
                           "_next=%2Fa%0D%0ALocation%3A+x" };
    for (size_t i = 0; i < CRM_NELEM(away); i++) {
        ck_assert_int_eq(form_post("/api/v1/customers/5", away[i], "text/html"), 400);
        ck_assert_ptr_null(called);
    }
}
END_TEST

START_TEST(test_form_next_page)
{
    /* A browser (wants HTML) goes on to _next with a 303 and no body. */
    ck_assert_int_eq(form_post("/api/v1/customers/5", "_method=PATCH&_next=%2Fcustomers%2F5",
                               "text/html,application/xhtml+xml"),
                     303);
    ck_assert_str_eq(called, "patch");
    ck_assert_str_eq(fake_res_header(&f, "Location"), "/customers/5");
    ck_assert_str_eq(fake_res_body(&f), "");
    /* A script (app.js asks for JSON) gets the API's answer. */
    ck_assert_int_eq(form_post("/api/v1/customers/5", "_method=PATCH&_next=%2Fcustomers%2F5",
                               "application/json"),
                     200);
    ck_assert_str_eq(fake_res_body(&f), "patch");
}
END_TEST

static Suite *router_suite(void)
{
    Suite *s = suite_create("crm_router");
    TCase *tc = tcase_create("dispatch");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_match_static);
    tcase_add_test(tc, test_match_params);
    tcase_add_test(tc, test_not_found);
    tcase_add_test(tc, test_method_not_allowed);
    tcase_add_test(tc, test_head_uses_get);
    tcase_add_test(tc, test_router_match);
    tcase_add_test(tc, test_roles_checked_first);
    tcase_add_test(tc, test_form_method_override);
    tcase_add_test(tc, test_form_control_refused);
    tcase_add_test(tc, test_form_next_page);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(router_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
