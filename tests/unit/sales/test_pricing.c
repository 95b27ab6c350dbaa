/*
 * test_pricing.c - money arithmetic of the sales service: line totals and
 * sums stay exact up to 2^53 - 1 and are refused (never wrapped) beyond.
 * (Currency codes are crm_valid_is_currency's: tests/unit/shared/test_crm_valid.c.)
 */
#include "sales.h"

#include <check.h>
#include <stdlib.h>

START_TEST(test_line_total_exact)
{
    int64_t t = -1;
    ck_assert_int_eq(pricing_line_total(14900, 3, &t), CRM_OK);
    ck_assert_int_eq(t, 44700);
    ck_assert_int_eq(pricing_line_total(0, QUANTITY_MAX, &t), CRM_OK);
    ck_assert_int_eq(t, 0);
    ck_assert_int_eq(pricing_line_total(MONEY_MAX, 1, &t), CRM_OK);
    ck_assert_int_eq(t, MONEY_MAX);
    /* The largest price that fits a million units, and one more. */
    ck_assert_int_eq(pricing_line_total(MONEY_MAX / QUANTITY_MAX, QUANTITY_MAX, &t), CRM_OK);
    ck_assert_int_le(t, MONEY_MAX);
    t = 7;
    ck_assert_int_eq(pricing_line_total(MONEY_MAX / QUANTITY_MAX + 1, QUANTITY_MAX, &t),
                     CRM_TOOBIG);
    ck_assert_int_eq(t, 7); /* untouched on failure */
}
END_TEST

START_TEST(test_line_total_overflow)
{
    int64_t t = 7;
    ck_assert_int_eq(pricing_line_total(MONEY_MAX, 2, &t), CRM_TOOBIG);
    /* Would wrap int64 itself: refused, not wrapped. */
    ck_assert_int_eq(pricing_line_total(MONEY_MAX, QUANTITY_MAX, &t), CRM_TOOBIG);
    /* 2^62 / 1000 x 10^6 wraps int64 twice over: still CRM_TOOBIG. */
    ck_assert_int_eq(pricing_line_total(INT64_C(4611686018427387904) / 1000, QUANTITY_MAX, &t),
                     CRM_TOOBIG); /* price itself over MONEY_MAX */
    ck_assert_int_eq(t, 7);
}
END_TEST

START_TEST(test_line_total_bad_input)
{
    int64_t t = 7;
    ck_assert_int_eq(pricing_line_total(-1, 1, &t), CRM_INVALID);
    ck_assert_int_eq(pricing_line_total(100, 0, &t), CRM_INVALID);
    ck_assert_int_eq(pricing_line_total(100, -3, &t), CRM_INVALID);
    ck_assert_int_eq(pricing_line_total(100, QUANTITY_MAX + 1, &t), CRM_INVALID);
    ck_assert_int_eq(pricing_line_total(MONEY_MAX + 1, 1, &t), CRM_INVALID);
    ck_assert_int_eq(pricing_line_total(INT64_MAX, INT64_MAX, &t), CRM_INVALID);
    ck_assert_int_eq(t, 7);
}
END_TEST

START_TEST(test_add)
{
    int64_t t = -1;
    ck_assert_int_eq(pricing_add(0, 0, &t), CRM_OK);
    ck_assert_int_eq(t, 0);
    ck_assert_int_eq(pricing_add(MONEY_MAX - 5, 5, &t), CRM_OK);
    ck_assert_int_eq(t, MONEY_MAX);
    t = 7;
    ck_assert_int_eq(pricing_add(MONEY_MAX - 5, 6, &t), CRM_TOOBIG);
    ck_assert_int_eq(pricing_add(INT64_MAX, INT64_MAX, &t), CRM_TOOBIG);
    ck_assert_int_eq(pricing_add(-1, 5, &t), CRM_INVALID);
    ck_assert_int_eq(pricing_add(5, -1, &t), CRM_INVALID);
    ck_assert_int_eq(t, 7);
}
END_TEST

/* Many lines each fitting, whose sum does not: the sum is refused. */
START_TEST(test_many_lines_sum)
{
    int64_t line, total = 0;
    int rc = CRM_OK, i;
    ck_assert_int_eq(pricing_line_total(MONEY_MAX / 100, 1, &line), CRM_OK);
    for (i = 0; i < 200 && rc == CRM_OK; i++)
        rc = pricing_add(total, line, &total);
    ck_assert_int_eq(rc, CRM_TOOBIG);
    ck_assert_int_eq(i, 101); /* 100 fit, the 101st does not */
    ck_assert_int_le(total, MONEY_MAX);
}
END_TEST

static Suite *pricing_suite(void)
{
    Suite *s = suite_create("pricing");
    TCase *tc = tcase_create("money");
    tcase_add_test(tc, test_line_total_exact);
    tcase_add_test(tc, test_line_total_overflow);
    tcase_add_test(tc, test_line_total_bad_input);
    tcase_add_test(tc, test_add);
    tcase_add_test(tc, test_many_lines_sum);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(pricing_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
