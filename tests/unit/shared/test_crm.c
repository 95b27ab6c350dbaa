/*
 * test_crm.c - the allocation wrappers: they never return NULL, and out
 * of memory ends the process (the supervisor replaces the worker).
 */
#include "crm.h"

#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Under ASan, let impossible allocations fail instead of being reported. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

START_TEST(test_alloc)
{
    char *p = crm_xmalloc(0);
    ck_assert_ptr_nonnull(p);
    free(p);
    int *z = crm_xcalloc(16, sizeof(int));
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(z[i], 0);
    z = crm_xrealloc(z, 1024 * sizeof(int));
    ck_assert_int_eq(z[15], 0);
    free(z);
    char *s = crm_xstrdup("héllo");
    ck_assert_str_eq(s, "héllo");
    free(s);
}
END_TEST

/* An allocation that cannot succeed aborts instead of returning NULL. */
START_TEST(test_oom_aborts)
{
    void *p = crm_xmalloc(SIZE_MAX - 64);
    ck_assert_msg(p == NULL, "unreachable: allocation of SIZE_MAX succeeded");
}
END_TEST

START_TEST(test_calloc_overflow_aborts)
{
    void *p = crm_xcalloc(SIZE_MAX / 2, 4);
    ck_assert_msg(p == NULL, "unreachable");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("crm");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_alloc);
    tcase_add_test_raise_signal(tc, test_oom_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, test_calloc_overflow_aborts, SIGABRT);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
