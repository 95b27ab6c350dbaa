/*
 * test_crm_form.c - percent-decoding and form parsing, including the
 * hostile cases: bad escapes, NUL, invalid UTF-8, repeats, too many pairs.
 */
#include "crm_form.h"

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

/* Decode s; on success *out is the result, on failure it stays "unset". */
static int dec(const char *s, int plus, const char **out, size_t *len)
{
    char *o = (char *)"unset";
    size_t l = 12345;
    int rc = crm_form_decode(arena, s, strlen(s), plus, &o, &l);
    *out = o;
    *len = l;
    return rc;
}

static void ok_dec(const char *s, int plus, const char *want)
{
    const char *out;
    size_t len;
    ck_assert_int_eq(dec(s, plus, &out, &len), CRM_OK);
    ck_assert_str_eq(out, want);
    ck_assert_uint_eq(len, strlen(want));
}

static void bad_dec(const char *s)
{
    const char *out;
    size_t len;
    ck_assert_int_eq(dec(s, 1, &out, &len), CRM_INVALID);
    ck_assert_str_eq(out, "unset"); /* outputs set only on success */
    ck_assert_uint_eq(len, 12345);
}

START_TEST(test_decode_plain)
{
    ok_dec("", 1, "");
    ok_dec("abc", 1, "abc");
    ok_dec("a%20b", 1, "a b");
    ok_dec("a=b", 1, "a=b");
    ok_dec("caf\xC3\xA9", 1, "caf\xC3\xA9"); /* raw UTF-8 passes through */
}
END_TEST

START_TEST(test_decode_plus)
{
    ok_dec("a+b", 1, "a b");
    ok_dec("a+b", 0, "a+b");
    ok_dec("a%2Bb", 1, "a+b"); /* an escaped plus is always a plus */
    ok_dec("a%2bb", 0, "a+b");
    ok_dec("++", 1, "  ");
}
END_TEST

START_TEST(test_decode_hex_case)
{
    ok_dec("%C3%A9", 1, "\xC3\xA9");
    ok_dec("%c3%a9", 1, "\xC3\xA9");
    ok_dec("%c3%A9", 1, "\xC3\xA9");
    ok_dec("%41%7e%7E", 1, "A~~");
    ok_dec("%25", 1, "%");
    ok_dec("%2525", 1, "%25"); /* decoded once only */
    ok_dec("%F0%9F%98%80", 1, "\xF0\x9F\x98\x80");
}
END_TEST

START_TEST(test_decode_bad_escape)
{
    bad_dec("%");
    bad_dec("a%");
    bad_dec("%4");
    bad_dec("a%4");
    bad_dec("%zz");
    bad_dec("%4g");
    bad_dec("%g4");
    bad_dec("%%41");
    bad_dec("% 41");
    bad_dec("%-1");
    bad_dec("%+1");
}
END_TEST

START_TEST(test_decode_nul)
{
    const char raw[] = { 'a', '\0', 'b' };
    char *out = NULL;
    size_t len = 0;

    bad_dec("%00");
    bad_dec("a%00b");
    ck_assert_int_eq(crm_form_decode(arena, raw, sizeof(raw), 1, &out, &len), CRM_INVALID);
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(test_decode_bad_utf8)
{
    bad_dec("%C3"); /* truncated sequence */
    bad_dec("%C3x");
    bad_dec("%E2%82");
    bad_dec("%C0%80");       /* overlong NUL */
    bad_dec("%ED%A0%80");    /* surrogate */
    bad_dec("%F4%90%80%80"); /* above U+10FFFF */
    bad_dec("%80");          /* stray continuation */
    bad_dec("%FF");
    bad_dec("\xC3"); /* raw bytes are checked too */
    bad_dec("\xED\xA0\x80");
}
END_TEST

START_TEST(test_decode_length_bounds)
{
    char *out = NULL;
    size_t len = 0;

    /* Only s[0..n) is read: "%41" cut after "%4" is a truncated escape. */
    ck_assert_int_eq(crm_form_decode(arena, "%41", 2, 1, &out, &len), CRM_INVALID);
    ck_assert_int_eq(crm_form_decode(arena, "ab%41", 2, 1, &out, &len), CRM_OK);
    ck_assert_str_eq(out, "ab");
    ck_assert_int_eq(crm_form_decode(arena, "%C3%A9", 3, 1, &out, &len), CRM_INVALID);
}
END_TEST

/* Parse s (whole string) with a field cap. */
static int parse(const char *s, size_t max, crm_fields *fs, const char **why)
{
    fs->form = 0;
    fs->items = NULL;
    fs->n = 999;
    *why = NULL;
    return crm_form_parse(arena, s, strlen(s), max, fs, why);
}

static const char *get(const crm_fields *fs, const char *name)
{
    const crm_field *f = crm_fields_get(fs, name);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(f->type, CRM_FIELD_STRING);
    ck_assert_uint_eq(f->len, strlen(f->str));
    return f->str;
}

static void bad_parse(const char *s, size_t max, int want_rc, const char *want_why)
{
    crm_fields fs;
    const char *why;
    ck_assert_int_eq(parse(s, max, &fs, &why), want_rc);
    ck_assert_ptr_nonnull(why);
    ck_assert_str_eq(why, want_why);
    ck_assert_uint_eq(fs.n, 999); /* untouched */
}

START_TEST(test_parse_basic)
{
    crm_fields fs;
    const char *why;

    ck_assert_int_eq(parse("name=Ada+Lovelace&email=ada%40example.com&status=lead", 64, &fs, &why),
                     CRM_OK);
    ck_assert_int_eq(fs.form, 1);
    ck_assert_uint_eq(fs.n, 3);
    ck_assert_ptr_null(why);
    /* Document order, names decoded. */
    ck_assert_str_eq(fs.items[0].name, "name");
    ck_assert_str_eq(fs.items[1].name, "email");
    ck_assert_str_eq(fs.items[2].name, "status");
    ck_assert_str_eq(get(&fs, "name"), "Ada Lovelace");
    ck_assert_str_eq(get(&fs, "email"), "ada@example.com");
    ck_assert_str_eq(get(&fs, "status"), "lead");
    ck_assert_ptr_null(crm_fields_get(&fs, "missing"));
    ck_assert_ptr_null(crm_fields_get(&fs, "Name"));
    ck_assert_ptr_null(crm_fields_get(NULL, "name"));
}
END_TEST

START_TEST(test_parse_shapes)
{
    crm_fields fs;
    const char *why;

    ck_assert_int_eq(parse("", 64, &fs, &why), CRM_OK);
    ck_assert_uint_eq(fs.n, 0);
    ck_assert_int_eq(fs.form, 1);
    ck_assert_int_eq(parse("&&&", 64, &fs, &why), CRM_OK);
    ck_assert_uint_eq(fs.n, 0);

    ck_assert_int_eq(parse("a=1&&b=2&", 64, &fs, &why), CRM_OK);
    ck_assert_uint_eq(fs.n, 2);
    ck_assert_str_eq(get(&fs, "a"), "1");
    ck_assert_str_eq(get(&fs, "b"), "2");

    ck_assert_int_eq(parse("flag&x=", 64, &fs, &why), CRM_OK);
    ck_assert_str_eq(get(&fs, "flag"), "");
    ck_assert_str_eq(get(&fs, "x"), "");

    ck_assert_int_eq(parse("eq=a=b%3Dc", 64, &fs, &why), CRM_OK);
    ck_assert_str_eq(get(&fs, "eq"), "a=b=c");

    ck_assert_int_eq(parse("first+name=A%26B&%C3%A9t%C3%A9=%E2%82%AC", 64, &fs, &why), CRM_OK);
    ck_assert_str_eq(get(&fs, "first name"), "A&B");
    ck_assert_str_eq(get(&fs, "\xC3\xA9t\xC3\xA9"), "\xE2\x82\xAC");
}
END_TEST

START_TEST(test_parse_prefix_only)
{
    crm_fields fs;
    const char *why = NULL;

    ck_assert_int_eq(crm_form_parse(arena, "a=1&b=2", 3, 64, &fs, &why), CRM_OK);
    ck_assert_uint_eq(fs.n, 1);
    ck_assert_str_eq(get(&fs, "a"), "1");
}
END_TEST

START_TEST(test_parse_errors)
{
    bad_parse("=1", 64, CRM_INVALID, "empty field name");
    bad_parse("a=1&=2", 64, CRM_INVALID, "empty field name");
    bad_parse("=", 64, CRM_INVALID, "empty field name");
    bad_parse("a=1&a=2", 64, CRM_INVALID, "repeated field");
    bad_parse("a=1&b=2&a", 64, CRM_INVALID, "repeated field");
    bad_parse("a=1&%61=2", 64, CRM_INVALID, "repeated field"); /* equal after decoding */
    bad_parse("a+b=1&a%20b=2", 64, CRM_INVALID, "repeated field");
    bad_parse("a=%zz", 64, CRM_INVALID, "bad percent-encoding");
    bad_parse("a=%4", 64, CRM_INVALID, "bad percent-encoding");
    bad_parse("a=%", 64, CRM_INVALID, "bad percent-encoding");
    bad_parse("a%=1", 64, CRM_INVALID, "bad percent-encoding");
    bad_parse("a=%00", 64, CRM_INVALID, "NUL byte not allowed");
    bad_parse("a%00=1", 64, CRM_INVALID, "NUL byte not allowed");
    bad_parse("a=%C3", 64, CRM_INVALID, "invalid UTF-8");
    bad_parse("a=%C0%80", 64, CRM_INVALID, "invalid UTF-8");
    bad_parse("a=%ED%A0%80", 64, CRM_INVALID, "invalid UTF-8");
    bad_parse("%FF=1", 64, CRM_INVALID, "invalid UTF-8");
    bad_parse("a=\xF4\x90\x80\x80", 64, CRM_INVALID, "invalid UTF-8");
}
END_TEST

START_TEST(test_parse_truncated)
{
    /* A body cut mid-escape or mid-character. */
    bad_parse("name=Ada&email=ada%4", 64, CRM_INVALID, "bad percent-encoding");
    bad_parse("name=Ren%C3", 64, CRM_INVALID, "invalid UTF-8");
    bad_parse("name=\xE2\x82", 64, CRM_INVALID, "invalid UTF-8");
}
END_TEST

START_TEST(test_parse_why_optional)
{
    crm_fields fs = { 0 };
    ck_assert_int_eq(crm_form_parse(arena, "a=%zz", 5, 64, &fs, NULL), CRM_INVALID);
    ck_assert_int_eq(crm_form_parse(arena, "a&b", 3, 1, &fs, NULL), CRM_TOOBIG);
}
END_TEST

START_TEST(test_parse_max_fields)
{
    crm_fields fs;
    const char *why;

    ck_assert_int_eq(parse("a=1&b=2&c=3", 3, &fs, &why), CRM_OK);
    ck_assert_uint_eq(fs.n, 3);
    ck_assert_int_eq(parse("a=1&&&b=2&&c=3&&", 3, &fs, &why), CRM_OK); /* empties are free */
    bad_parse("a=1&b=2&c=3&d=4", 3, CRM_TOOBIG, "too many fields");
    bad_parse("a", 0, CRM_TOOBIG, "too many fields");
    ck_assert_int_eq(parse("", 0, &fs, &why), CRM_OK);
    /* The cap is checked before anything is decoded or compared. */
    bad_parse("a=1&a=1&a=%zz", 2, CRM_TOOBIG, "too many fields");
}
END_TEST

START_TEST(test_parse_many_fields)
{
    enum { N = 20000 };
    char *body = malloc(N * 12 + 1);
    size_t len = 0;
    crm_fields fs;
    const char *why = NULL;

    for (int i = 0; i < N; i++)
        len += (size_t)sprintf(body + len, "%sf%d=%d", i ? "&" : "", i, i);
    ck_assert_int_eq(crm_form_parse(arena, body, len, 64, &fs, &why), CRM_TOOBIG);
    ck_assert_str_eq(why, "too many fields");
    /* Unique names at scale parse fine when the cap allows them. */
    ck_assert_int_eq(crm_form_parse(arena, body, len, N, &fs, &why), CRM_OK);
    ck_assert_uint_eq(fs.n, N);
    ck_assert_str_eq(get(&fs, "f19999"), "19999");
    free(body);
}
END_TEST

static Suite *form_suite(void)
{
    Suite *s = suite_create("crm_form");
    TCase *tc = tcase_create("decode");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_decode_plain);
    tcase_add_test(tc, test_decode_plus);
    tcase_add_test(tc, test_decode_hex_case);
    tcase_add_test(tc, test_decode_bad_escape);
    tcase_add_test(tc, test_decode_nul);
    tcase_add_test(tc, test_decode_bad_utf8);
    tcase_add_test(tc, test_decode_length_bounds);
    suite_add_tcase(s, tc);

    tc = tcase_create("parse");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_parse_basic);
    tcase_add_test(tc, test_parse_shapes);
    tcase_add_test(tc, test_parse_prefix_only);
    tcase_add_test(tc, test_parse_errors);
    tcase_add_test(tc, test_parse_truncated);
    tcase_add_test(tc, test_parse_why_optional);
    tcase_add_test(tc, test_parse_max_fields);
    tcase_add_test(tc, test_parse_many_fields);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(form_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
