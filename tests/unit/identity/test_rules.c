/*
 * test_rules.c - the identity service's rules without I/O (rules.c): user
 * bodies for create, PUT and PATCH, the password policy, what an admin
 * may not do to their own account, and the login-throttle decision and
 * keys.
 */
#include "identity.h"

#include "crm_form.h"
#include "crm_json.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static crm_arena *arena;

static void setup(void)
{
    arena = crm_arena_new(4096);
}

static void teardown(void)
{
    crm_arena_free(arena);
}

/* Validate JSON body text for mode; returns the number of errors. */
static size_t read_json(const char *json, int mode, user_in *in, unsigned *present, crm_valid *v)
{
    static crm_fields fs;
    const char *why = NULL;
    ck_assert_msg(crm_json_parse(arena, json, strlen(json), &fs, &why) == CRM_OK, "%s: %s", json,
                  why ? why : "?");
    memset(in, 0, sizeof(*in));
    crm_valid_init(v, arena, &fs);
    user_read_in(v, mode, in, present);
    return v->n;
}

static size_t read_form(const char *form, int mode, user_in *in, unsigned *present, crm_valid *v)
{
    static crm_fields fs;
    const char *why = NULL;
    ck_assert_int_eq(crm_form_parse(arena, form, strlen(form), 64, &fs, &why), CRM_OK);
    memset(in, 0, sizeof(*in));
    crm_valid_init(v, arena, &fs);
    user_read_in(v, mode, in, present);
    return v->n;
}

/* The message recorded for field, or NULL. */
static const char *error_of(const crm_valid *v, const char *field)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->errors[i].field, field) == 0)
            return v->errors[i].message;
    return NULL;
}

START_TEST(test_create_ok)
{
    user_in in;
    unsigned present;
    crm_valid v;
    size_t n = read_json("{\"email\":\"  Ada@Example.COM \",\"name\":\"Ada\",\"role\":\"sales\","
                         "\"password\":\"correct horse battery\"}",
                         USER_CREATE, &in, &present, &v);
    ck_assert_uint_eq(n, 0);
    ck_assert_str_eq(in.email, "ada@example.com"); /* trimmed, lower case */
    ck_assert_str_eq(in.name, "Ada");
    ck_assert_str_eq(in.role, "sales");
    ck_assert_int_eq(in.active, 1); /* the default */
    ck_assert_str_eq(in.password, "correct horse battery");
    ck_assert_uint_eq(present, U_EMAIL | U_NAME | U_ROLE | U_PASSWORD);
}
END_TEST

START_TEST(test_create_inactive)
{
    user_in in;
    unsigned present;
    crm_valid v;
    ck_assert_uint_eq(read_json("{\"email\":\"a@b.io\",\"name\":\"A\",\"role\":\"viewer\","
                                "\"active\":false,\"password\":\"123456789012\"}",
                                USER_CREATE, &in, &present, &v),
                      0);
    ck_assert_int_eq(in.active, 0);
    ck_assert(present & U_ACTIVE);
}
END_TEST

START_TEST(test_create_requires)
{
    user_in in;
    unsigned present;
    crm_valid v;
    ck_assert_uint_eq(read_json("{}", USER_CREATE, &in, &present, &v), 4);
    ck_assert_ptr_nonnull(error_of(&v, "email"));
    ck_assert_ptr_nonnull(error_of(&v, "name"));
    ck_assert_ptr_nonnull(error_of(&v, "role"));
    ck_assert_ptr_nonnull(error_of(&v, "password"));
    ck_assert_ptr_null(error_of(&v, "active")); /* it has a default */
}
END_TEST

START_TEST(test_one_error_per_field)
{
    user_in in;
    unsigned present;
    crm_valid v;
    size_t n = read_json("{\"email\":\"not-an-email\",\"name\":\"\",\"role\":\"root\","
                         "\"active\":\"yes\",\"password\":\"short\"}",
                         USER_CREATE, &in, &present, &v);
    ck_assert_uint_eq(n, 5);
    ck_assert_ptr_nonnull(error_of(&v, "email"));
    ck_assert_ptr_nonnull(error_of(&v, "name"));
    ck_assert_ptr_nonnull(strstr(error_of(&v, "role"), "admin, sales, marketing, viewer"));
    ck_assert_ptr_nonnull(error_of(&v, "active"));
    ck_assert_str_eq(error_of(&v, "password"), "must be at least 12 characters");
}
END_TEST

START_TEST(test_types)
{
    user_in in;
    unsigned present;
    crm_valid v;
    read_json("{\"email\":5,\"name\":[],\"role\":true,\"active\":1,\"password\":123456789012345}",
              USER_CREATE, &in, &present, &v);
    ck_assert_uint_eq(v.n, 5);
    ck_assert_str_eq(error_of(&v, "password"), "must be a string");
}
END_TEST

START_TEST(test_nulls)
{
    user_in in;
    unsigned present;
    crm_valid v;
    /* PATCH: null is never a value of these. */
    read_json("{\"email\":null,\"name\":null,\"role\":null,\"active\":null,\"password\":null}",
              USER_PATCH, &in, &present, &v);
    ck_assert_uint_eq(v.n, 5);
    ck_assert_str_eq(error_of(&v, "password"), "must not be null");
    ck_assert_str_eq(error_of(&v, "active"), "must not be null");
}
END_TEST

START_TEST(test_patch_partial)
{
    user_in in;
    unsigned present;
    crm_valid v;
    ck_assert_uint_eq(read_json("{\"name\":\"New name\"}", USER_PATCH, &in, &present, &v), 0);
    ck_assert_uint_eq(present, U_NAME);
    ck_assert_str_eq(in.name, "New name");
    ck_assert_ptr_null(in.email);
    ck_assert_ptr_null(in.password);

    ck_assert_uint_eq(read_json("{\"active\":false,\"password\":\"a new long password\"}",
                                USER_PATCH, &in, &present, &v),
                      0);
    ck_assert_uint_eq(present, U_ACTIVE | U_PASSWORD);
    ck_assert_int_eq(in.active, 0);
}
END_TEST

START_TEST(test_put_needs_all_but_password)
{
    user_in in;
    unsigned present;
    crm_valid v;
    ck_assert_uint_eq(read_json("{\"email\":\"a@b.io\",\"name\":\"A\",\"role\":\"marketing\","
                                "\"active\":true}",
                                USER_PUT, &in, &present, &v),
                      0);
    ck_assert_ptr_null(in.password); /* unchanged */
    read_json("{\"email\":\"a@b.io\"}", USER_PUT, &in, &present, &v);
    ck_assert_uint_eq(v.n, 3);
    ck_assert_ptr_nonnull(error_of(&v, "active"));
    ck_assert_ptr_null(error_of(&v, "password"));
}
END_TEST

START_TEST(test_form_body)
{
    user_in in;
    unsigned present;
    crm_valid v;
    ck_assert_uint_eq(read_form("email=Bo%40Example.org&name=Bo+B&role=viewer&active=off"
                                "&password=twelve+chars+ok",
                                USER_CREATE, &in, &present, &v),
                      1); /* "off" is not a form boolean: "false" or "0" is */
    ck_assert_ptr_nonnull(error_of(&v, "active"));
    ck_assert_uint_eq(read_form("email=Bo%40Example.org&name=Bo+B&role=viewer&active=0"
                                "&password=twelve+chars+ok",
                                USER_CREATE, &in, &present, &v),
                      0);
    ck_assert_str_eq(in.email, "bo@example.org");
    ck_assert_str_eq(in.name, "Bo B");
    ck_assert_int_eq(in.active, 0);
    /* An empty form value is no password at all. */
    read_form("password=", USER_PATCH, &in, &present, &v);
    ck_assert_str_eq(error_of(&v, "password"), "must be at least 12 characters");
}
END_TEST

START_TEST(test_name_length)
{
    user_in in;
    unsigned present;
    crm_valid v;
    char body[512];
    char name[202];
    memset(name, 'x', 201);
    name[201] = '\0';
    snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
    read_json(body, USER_PATCH, &in, &present, &v);
    ck_assert_ptr_nonnull(error_of(&v, "name"));
    name[200] = '\0';
    snprintf(body, sizeof(body), "{\"name\":\"%s\"}", name);
    ck_assert_uint_eq(read_json(body, USER_PATCH, &in, &present, &v), 0);
}
END_TEST

START_TEST(test_password_policy)
{
    ck_assert_ptr_null(user_password_problem("123456789012", 12));
    ck_assert_str_eq(user_password_problem("12345678901", 11), "must be at least 12 characters");
    ck_assert_str_eq(user_password_problem("", 0), "must be at least 12 characters");
    /* Characters, not bytes: 11 two-byte characters are still too short,
       12 are enough. */
    const char *e11 = "ééééééééééé";
    ck_assert_uint_eq(strlen(e11), 22);
    ck_assert_str_eq(user_password_problem(e11, strlen(e11)), "must be at least 12 characters");
    const char *e12 = "éééééééééééé";
    ck_assert_ptr_null(user_password_problem(e12, strlen(e12)));
    /* Invalid UTF-8 and NUL bytes. */
    ck_assert_str_eq(user_password_problem("abcdefghijk\xff", 12), "must be valid UTF-8 text");
    ck_assert_str_eq(user_password_problem("abcdef\0ghijklm", 14), "must be valid UTF-8 text");
    /* At most CRM_PASSWORD_MAX bytes. */
    char big[300];
    memset(big, 'a', sizeof(big));
    ck_assert_ptr_null(user_password_problem(big, 256));
    ck_assert_str_eq(user_password_problem(big, 257), "must be at most 256 bytes");
}
END_TEST

START_TEST(test_self_change)
{
    user_in after = { .role = "admin", .active = 1 };
    /* Another user: anything goes. */
    ck_assert_ptr_null(user_self_change_problem(1, 2, NULL));
    after.active = 0;
    ck_assert_ptr_null(user_self_change_problem(1, 2, &after));
    /* Oneself: no delete, no deactivation, no demotion. */
    ck_assert_ptr_nonnull(user_self_change_problem(7, 7, NULL));
    ck_assert_ptr_nonnull(user_self_change_problem(7, 7, &after));
    after.active = 1;
    after.role = "viewer";
    ck_assert_ptr_nonnull(user_self_change_problem(7, 7, &after));
    /* But a new name, email or password is fine. */
    after.role = "admin";
    after.name = "Me";
    ck_assert_ptr_null(user_self_change_problem(7, 7, &after));
}
END_TEST

START_TEST(test_throttle_decision)
{
    /* Under the limit: go on, whatever the window. */
    ck_assert_int_eq(throttle_retry_after(0, 0, 10), 0);
    ck_assert_int_eq(throttle_retry_after(9, 500000000, 10), 0);
    /* At the limit in a running window: wait until it ends, rounded up. */
    ck_assert_int_eq(throttle_retry_after(10, 899000001, 10), 900);
    ck_assert_int_eq(throttle_retry_after(10, 900000000, 10), 900);
    ck_assert_int_eq(throttle_retry_after(25, 1500000, 10), 2);
    ck_assert_int_eq(throttle_retry_after(10, 1, 10), 1); /* never "0 seconds" */
    /* The window is over: the failures no longer count. */
    ck_assert_int_eq(throttle_retry_after(1000, 0, 10), 0);
    ck_assert_int_eq(throttle_retry_after(1000, -5000000, 10), 0);
}
END_TEST

START_TEST(test_throttle_keys)
{
    ck_assert_str_eq(throttle_account_key(arena, " Ada@Example.COM\t", 17), "ada@example.com");
    ck_assert_str_eq(throttle_account_key(arena, "x\x01y\xc3\xa9", 5), "x?y??");
    char big[400];
    memset(big, 'A', sizeof(big));
    ck_assert_uint_eq(strlen(throttle_account_key(arena, big, sizeof(big))), 254);

    ck_assert_str_eq(throttle_address_key("127.0.0.9"), "127.0.0.9");
    ck_assert_str_eq(throttle_address_key("::1"), "::1");
    ck_assert_str_eq(throttle_address_key(NULL), "unknown");
    ck_assert_str_eq(throttle_address_key(""), "unknown");
    ck_assert_str_eq(throttle_address_key("1.2.3.4 5"), "unknown");
}
END_TEST

START_TEST(test_field_lists)
{
    /* What a body may set, and the read-only names a 400 calls so. */
    static const char *const writable[] = { "email", "name", "role", "active", "password" };
    static const char *const readonly[] = { "id", "version", "created_at", "updated_at",
                                            "password_hash" };
    for (size_t i = 0; i < CRM_NELEM(writable); i++) {
        size_t k = 0;
        while (user_fields[k] != NULL && strcmp(user_fields[k], writable[i]) != 0)
            k++;
        ck_assert_msg(user_fields[k] != NULL, "%s is not writable", writable[i]);
    }
    for (size_t i = 0; i < CRM_NELEM(readonly); i++) {
        size_t k = 0;
        while (user_readonly[k] != NULL && strcmp(user_readonly[k], readonly[i]) != 0)
            k++;
        ck_assert_msg(user_readonly[k] != NULL, "%s is not read-only", readonly[i]);
        for (k = 0; user_fields[k] != NULL; k++)
            ck_assert_str_ne(user_fields[k], readonly[i]);
    }
}
END_TEST

static Suite *rules_suite(void)
{
    Suite *s = suite_create("identity rules");
    TCase *tc = tcase_create("users");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_create_ok);
    tcase_add_test(tc, test_create_inactive);
    tcase_add_test(tc, test_create_requires);
    tcase_add_test(tc, test_one_error_per_field);
    tcase_add_test(tc, test_types);
    tcase_add_test(tc, test_nulls);
    tcase_add_test(tc, test_patch_partial);
    tcase_add_test(tc, test_put_needs_all_but_password);
    tcase_add_test(tc, test_form_body);
    tcase_add_test(tc, test_name_length);
    tcase_add_test(tc, test_password_policy);
    tcase_add_test(tc, test_self_change);
    tcase_add_test(tc, test_field_lists);
    suite_add_tcase(s, tc);
    tc = tcase_create("throttle");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_throttle_decision);
    tcase_add_test(tc, test_throttle_keys);
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
