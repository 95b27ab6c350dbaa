/*
 * test_crm_password.c - argon2id hashes: their stored form and parameters
 * (OWASP's minimum), verification of the right and wrong passwords, weak
 * or foreign hashes refused, and a wrong password or an unknown account
 * costing about as much time as a right one.
 */
#include "crm_password.h"

#include <argon2.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(test_hash_format)
{
    char h[CRM_PASSWORD_ENC_MAX], h2[CRM_PASSWORD_ENC_MAX];
    unsigned long m = 0, t = 0, p = 0;
    ck_assert_int_eq(crm_password_hash("correct horse battery", 21, h), CRM_OK);
    ck_assert_msg(sscanf(h, "$argon2id$v=19$m=%lu,t=%lu,p=%lu$", &m, &t, &p) == 3, "%s", h);
    ck_assert_uint_ge(m, 19456);
    ck_assert_uint_ge(t, 2);
    ck_assert_uint_eq(p, 1);
    /* A random salt: the same password hashes differently each time. */
    ck_assert_int_eq(crm_password_hash("correct horse battery", 21, h2), CRM_OK);
    ck_assert_str_ne(h, h2);
    ck_assert_ptr_null(strstr(h, "correct horse"));
    char big[CRM_PASSWORD_MAX + 2];
    memset(big, 'a', sizeof big);
    ck_assert_int_eq(crm_password_hash(big, sizeof big, h), CRM_INVALID);
}
END_TEST

START_TEST(test_verify)
{
    char h[CRM_PASSWORD_ENC_MAX];
    ck_assert_int_eq(crm_password_hash("correct horse battery", 21, h), CRM_OK);
    ck_assert_int_eq(crm_password_verify(h, "correct horse battery", 21), 1);
    ck_assert_int_eq(crm_password_verify(h, "correct horse batterY", 21), 0);
    ck_assert_int_eq(crm_password_verify(h, "correct horse battery ", 22), 0);
    ck_assert_int_eq(crm_password_verify(h, "", 0), 0);
    /* Lengths count: no truncation at a NUL. */
    ck_assert_int_eq(crm_password_verify(h, "correct horse battery\0x", 23), 0);
    ck_assert_int_eq(crm_password_verify(NULL, "x", 1), 0);
    ck_assert_int_eq(crm_password_verify("", "x", 1), 0);
    ck_assert_int_eq(crm_password_verify("$2y$10$abcdefghijklmnopqrstuv", "x", 1), 0);
}
END_TEST

/* A hash below the minimum is never accepted, even with the right password. */
START_TEST(test_weak_hash_refused)
{
    /* argon2id of "password" at m = 4 MiB, t = 1: well below the minimum. */
    char weak[CRM_PASSWORD_ENC_MAX];
    ck_assert_int_eq(argon2id_hash_encoded(1, 4096, 1, "password", 8, "saltsaltsaltsalt", 16, 32,
                                           weak, sizeof weak),
                     ARGON2_OK);
    ck_assert_int_eq(crm_password_verify(weak, "password", 8), 0);
    /* argon2i and argon2d are not argon2id. */
    ck_assert_int_eq(argon2i_hash_encoded(2, 19456, 1, "password", 8, "saltsaltsaltsalt", 16, 32,
                                          weak, sizeof weak),
                     ARGON2_OK);
    ck_assert_int_eq(crm_password_verify(weak, "password", 8), 0);
}
END_TEST

START_TEST(test_timing)
{
    char h[CRM_PASSWORD_ENC_MAX];
    ck_assert_int_eq(crm_password_hash("correct horse battery", 21, h), CRM_OK);
    crm_password_dummy(); /* made once, before timing */
    double t0 = now_s();
    for (int i = 0; i < 3; i++)
        crm_password_verify(h, "correct horse battery", 21);
    double right = now_s() - t0;
    t0 = now_s();
    for (int i = 0; i < 3; i++)
        crm_password_verify(h, "wrong", 5);
    double wrong = now_s() - t0;
    t0 = now_s();
    for (int i = 0; i < 3; i++)
        crm_password_verify(NULL, "wrong", 5); /* an unknown account */
    double unknown = now_s() - t0;
    /* Each costs a full argon2id run (not a speed test: a side channel).
       A factor of three leaves room for a noisy machine. */
    ck_assert_msg(wrong > right / 3 && wrong < right * 3 && unknown > right / 3 &&
                      unknown < right * 3,
                  "right %.3f s, wrong %.3f s, unknown %.3f s", right, wrong, unknown);
}
END_TEST

static Suite *password_suite(void)
{
    Suite *s = suite_create("crm_password");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hash_format);
    tcase_add_test(tc, test_verify);
    tcase_add_test(tc, test_weak_hash_refused);
    tcase_add_test(tc, test_timing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(password_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
