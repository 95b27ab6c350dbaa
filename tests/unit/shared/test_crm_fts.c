/*
 * test_crm_fts.c - free text into a boolean-mode FULLTEXT query that
 * cannot carry operators: word splitting, stop words, short words, UTF-8.
 */
#include "crm_fts.h"

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

static void assert_query(const char *q, const char *want)
{
    char *out = NULL;
    int rc = crm_fts_query(arena, q, &out);
    ck_assert_msg(rc == CRM_OK, "\"%s\" gave %d", q, rc);
    ck_assert_ptr_nonnull(out);
    ck_assert_str_eq(out, want);
}

static void assert_no_words(const char *q)
{
    char *out = (char *)"untouched";
    ck_assert_msg(crm_fts_query(arena, q, &out) == CRM_INVALID, "\"%s\" accepted", q);
    ck_assert_str_eq(out, "untouched");
}

START_TEST(test_words)
{
    assert_query("lovelace", "+lovelace*");
    assert_query("Ada Lovelace", "+Ada* +Lovelace*");
    assert_query("  many   spaces\there\n ", "+many* +spaces* +here*");
    assert_query("acme123 2026", "+acme123* +2026*");
}
END_TEST

START_TEST(test_split_on_punctuation)
{
    /* "com" is an InnoDB stop word. */
    assert_query("ada@example.com", "+ada* +example*");
    assert_query("o'brien-smith", "+brien* +smith*");
    assert_query("foo,bar;baz.qux/quux", "+foo* +bar* +baz* +qux* +quux*");
    assert_query("https://www.example.org/path", "+https* +example* +org* +path*");
}
END_TEST

START_TEST(test_operators_stripped)
{
    assert_query("+-*()<>~\"@ada", "+ada*");
    assert_query("\"exact phrase\"", "+exact* +phrase*");
    assert_query("-excluded +required", "+excluded* +required*");
    assert_query("(nested (groups)) >more <less ~neg", "+nested* +groups* +more* +less* +neg*");
    assert_query("wild* card*", "+wild* +card*");
    assert_query("@distance \"near\"@3", "+distance* +near*");
    assert_no_words("+-*()<>~\"@");
    assert_no_words("\"\" ++ -- ** () <> ~~ @@");

    /* Whatever comes in, only words, '+', '*' and spaces come out. */
    char *out;
    ck_assert_int_eq(
        crm_fts_query(arena, "a+b-c*d(e)f<g>h~i\"j@k' OR 1=1; DROP TABLE customers--", &out),
        CRM_OK);
    for (const char *p = out; *p != '\0'; p++)
        ck_assert_msg(strchr("-()<>~\"@';=", *p) == NULL, "operator %c in %s", *p, out);
    ck_assert_str_eq(out, "+DROP* +TABLE* +customers*");
}
END_TEST

START_TEST(test_short_words_dropped)
{
    assert_query("Jo Ann Li", "+Ann*");
    assert_query("a ab abc abcd", "+abc* +abcd*");
    assert_query("x 42 123", "+123*");
    assert_no_words("a b c de fg");
    assert_no_words("12 34 5");
}
END_TEST

START_TEST(test_stop_words)
{
    assert_query("The Who and the Band", "+and* +Band*");
    assert_query("what about www dot com", "+dot*");
    assert_no_words("THIS WAS FROM");
    assert_query("Where Will Lovelace", "+Lovelace*");
}
END_TEST

START_TEST(test_utf8)
{
    /* Counted in characters: "Zoë" is 3 characters in 4 bytes. */
    assert_query("Zo\xC3\xAB", "+Zo\xC3\xAB*");
    /* 2 characters in 3 bytes is still too short. */
    assert_no_words("Z\xC3\xB6");
    assert_no_words("\xC3\xA9\xC3\xA9"); /* two characters, four bytes */
    assert_query("\xC3\xA9\xC3\xA9\xC3\xA9", "+\xC3\xA9\xC3\xA9\xC3\xA9*");
    assert_query("M\xC3\xBCller-L\xC3\xBC\xC3\xBC"
                 "denscheid",
                 "+M\xC3\xBCller* +L\xC3\xBC\xC3\xBC"
                 "denscheid*");
    /* CJK: three characters of three bytes each. */
    assert_query("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", "+\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E*");
    /* An emoji next to a word is part of it (non-ASCII counts as a letter). */
    assert_query("caf\xC3\xA9 \xF0\x9F\x98\x80!", "+caf\xC3\xA9*");
}
END_TEST

START_TEST(test_max_words)
{
    assert_query("one1 two2 thr3 fou4 fiv5 six6 sev7 eig8 nin9 ten0",
                 "+one1* +two2* +thr3* +fou4* +fiv5* +six6* +sev7* +eig8*");
    /* Dropped words do not count toward the cap. */
    assert_query("a the one1 b two2 c thr3 fou4 of fiv5 six6 sev7 eig8 nin9",
                 "+one1* +two2* +thr3* +fou4* +fiv5* +six6* +sev7* +eig8*");

    /* Many long words: the cap holds and nothing overflows. */
    char q[4096];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(q + n, sizeof(q) - n, "word%03d ", i);
    char *out;
    ck_assert_int_eq(crm_fts_query(arena, q, &out), CRM_OK);
    size_t words = 1;
    for (const char *p = out; *p != '\0'; p++)
        words += *p == ' ';
    ck_assert_uint_eq(words, CRM_FTS_MAX_WORDS);
}
END_TEST

START_TEST(test_empty)
{
    assert_no_words("");
    assert_no_words("   ");
    assert_no_words("!!!...,,,");
    assert_no_words("the a an of com www");
}
END_TEST

static Suite *fts_suite(void)
{
    Suite *s = suite_create("crm_fts");
    TCase *tc = tcase_create("query");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_words);
    tcase_add_test(tc, test_split_on_punctuation);
    tcase_add_test(tc, test_operators_stripped);
    tcase_add_test(tc, test_short_words_dropped);
    tcase_add_test(tc, test_stop_words);
    tcase_add_test(tc, test_utf8);
    tcase_add_test(tc, test_max_words);
    tcase_add_test(tc, test_empty);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fts_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
