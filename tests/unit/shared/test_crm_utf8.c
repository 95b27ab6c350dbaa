/*
 * test_crm_utf8.c - strict UTF-8: every class of RFC 3629 violation.
 */
#include "crm_utf8.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static int valid(const char *s)
{
    return crm_utf8_valid(s, strlen(s));
}

START_TEST(test_valid_boundaries)
{
    ck_assert_int_eq(crm_utf8_valid("", 0), 1);
    ck_assert_int_eq(crm_utf8_valid(NULL, 0), 1);
    ck_assert_int_eq(valid("plain ascii ~\x7f"), 1);
    ck_assert_int_eq(valid("\xC2\x80"), 1);         /* U+0080, first 2-byte */
    ck_assert_int_eq(valid("\xC3\xA9"), 1);         /* e acute */
    ck_assert_int_eq(valid("\xDF\xBF"), 1);         /* U+07FF */
    ck_assert_int_eq(valid("\xE0\xA0\x80"), 1);     /* U+0800, first 3-byte */
    ck_assert_int_eq(valid("\xE2\x82\xAC"), 1);     /* euro sign */
    ck_assert_int_eq(valid("\xED\x9F\xBF"), 1);     /* U+D7FF, below surrogates */
    ck_assert_int_eq(valid("\xEE\x80\x80"), 1);     /* U+E000, above surrogates */
    ck_assert_int_eq(valid("\xEF\xBB\xBF"), 1);     /* U+FEFF (a BOM is a character) */
    ck_assert_int_eq(valid("\xEF\xBF\xBF"), 1);     /* U+FFFF */
    ck_assert_int_eq(valid("\xF0\x90\x80\x80"), 1); /* U+10000, first 4-byte */
    ck_assert_int_eq(valid("\xF0\x9F\x98\x80"), 1); /* emoji */
    ck_assert_int_eq(valid("\xF4\x8F\xBF\xBF"), 1); /* U+10FFFF, the last */
    ck_assert_int_eq(valid("mixed \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 end"), 1);
}
END_TEST

START_TEST(test_overlongs)
{
    ck_assert_int_eq(valid("\xC0\x80"), 0); /* NUL as two bytes */
    ck_assert_int_eq(valid("\xC0\xAF"), 0);
    ck_assert_int_eq(valid("\xC1\xBF"), 0);
    ck_assert_int_eq(valid("\xE0\x80\x80"), 0);
    ck_assert_int_eq(valid("\xE0\x9F\xBF"), 0);
    ck_assert_int_eq(valid("\xF0\x80\x80\x80"), 0);
    ck_assert_int_eq(valid("\xF0\x8F\xBF\xBF"), 0);
}
END_TEST

START_TEST(test_surrogates)
{
    ck_assert_int_eq(valid("\xED\xA0\x80"), 0); /* U+D800 */
    ck_assert_int_eq(valid("\xED\xAF\xBF"), 0); /* U+DBFF */
    ck_assert_int_eq(valid("\xED\xB0\x80"), 0); /* U+DC00 */
    ck_assert_int_eq(valid("\xED\xBF\xBF"), 0); /* U+DFFF */
    /* A CESU-8 pair is two surrogates, still invalid. */
    ck_assert_int_eq(valid("\xED\xA0\xBD\xED\xB8\x80"), 0);
}
END_TEST

START_TEST(test_above_max)
{
    ck_assert_int_eq(valid("\xF4\x90\x80\x80"), 0); /* U+110000 */
    ck_assert_int_eq(valid("\xF5\x80\x80\x80"), 0);
    ck_assert_int_eq(valid("\xF7\xBF\xBF\xBF"), 0);
    ck_assert_int_eq(valid("\xF8\x88\x80\x80\x80"), 0); /* old 5-byte form */
    ck_assert_int_eq(valid("\xFC\x84\x80\x80\x80\x80"), 0);
    ck_assert_int_eq(valid("\xFE"), 0);
    ck_assert_int_eq(valid("\xFF"), 0);
}
END_TEST

START_TEST(test_truncated)
{
    ck_assert_int_eq(valid("\xC3"), 0);
    ck_assert_int_eq(valid("a\xC3"), 0);
    ck_assert_int_eq(valid("\xE2\x82"), 0);
    ck_assert_int_eq(valid("\xF0\x9F\x98"), 0);
    ck_assert_int_eq(valid("\xF0\x9F"), 0);
    /* The length decides, not the terminator. */
    ck_assert_int_eq(crm_utf8_valid("\xC3\xA9", 1), 0);
    ck_assert_int_eq(crm_utf8_valid("\xF0\x9F\x98\x80", 3), 0);
    /* A lead byte followed by a new character, not a continuation. */
    ck_assert_int_eq(valid("\xC3"
                           "a"),
                     0);
    ck_assert_int_eq(valid("\xE2\x82"
                           "a"),
                     0);
    ck_assert_int_eq(valid("\xF0\x9F\x98"
                           "a"),
                     0);
    ck_assert_int_eq(valid("\xC3\xC3\xA9"), 0);
}
END_TEST

START_TEST(test_stray_continuation)
{
    ck_assert_int_eq(valid("\x80"), 0);
    ck_assert_int_eq(valid("\xBF"), 0);
    ck_assert_int_eq(valid("a\x80"
                           "b"),
                     0);
    ck_assert_int_eq(valid("\xC3\xA9\xA9"), 0); /* one continuation too many */
    ck_assert_int_eq(valid("\xE2\x82\xAC\x80"), 0);
    ck_assert_int_eq(valid("\xE2\x28\xA1"), 0);     /* bad second byte */
    ck_assert_int_eq(valid("\xE2\x82\x28"), 0);     /* bad third byte */
    ck_assert_int_eq(valid("\xF0\x9F\x28\x80"), 0); /* bad third of four */
    ck_assert_int_eq(valid("\xF0\x9F\x98\x28"), 0); /* bad fourth */
}
END_TEST

START_TEST(test_nul)
{
    ck_assert_int_eq(crm_utf8_valid("a\0b", 3), 0);
    ck_assert_int_eq(crm_utf8_valid("\0", 1), 0);
    ck_assert_int_eq(crm_utf8_valid("ab\0", 2), 1); /* NUL outside the range */
}
END_TEST

START_TEST(test_len)
{
    ck_assert_uint_eq(crm_utf8_len("", 0), 0);
    ck_assert_uint_eq(crm_utf8_len("abc", 3), 3);
    ck_assert_uint_eq(crm_utf8_len("h\xC3\xA9llo", 6), 5);
    ck_assert_uint_eq(crm_utf8_len("\xE2\x82\xAC\xF0\x9F\x98\x80", 7), 2);
    ck_assert_uint_eq(crm_utf8_len("\xF4\x8F\xBF\xBF"
                                   "x",
                                   5),
                      2);
}
END_TEST

static Suite *utf8_suite(void)
{
    Suite *s = suite_create("crm_utf8");
    TCase *tc = tcase_create("valid");

    tcase_add_test(tc, test_valid_boundaries);
    tcase_add_test(tc, test_overlongs);
    tcase_add_test(tc, test_surrogates);
    tcase_add_test(tc, test_above_max);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_stray_continuation);
    tcase_add_test(tc, test_nul);
    suite_add_tcase(s, tc);

    tc = tcase_create("len");
    tcase_add_test(tc, test_len);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(utf8_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
