/*
 * test_crm_cursor.c - keyset cursors: round trips, and every kind of
 * tampering answered with CRM_INVALID.
 */
#include "crm_cursor.h"

#include <check.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static crm_arena *arena;

#define TEST_KEY "test-key"

static void setup(void)
{
    arena = crm_arena_new(4096);
    crm_cursor_set_key(TEST_KEY, strlen(TEST_KEY));
}

static void teardown(void)
{
    crm_arena_free(arena);
}

/* Unpadded base64url of raw[0..n), written independently of the module. */
static char *b64url(const char *raw, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = crm_arena_alloc(arena, n / 3 * 4 + 5), *o = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)(unsigned char)raw[i] << 16 |
                     (unsigned)(unsigned char)raw[i + 1] << 8 | (unsigned char)raw[i + 2];
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = tab[v >> 6 & 63];
        *o++ = tab[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)(unsigned char)raw[i] << 16;
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)(unsigned char)raw[i] << 16 | (unsigned)(unsigned char)raw[i + 1]
                                                                 << 8;
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = tab[v >> 6 & 63];
    }
    *o = '\0';
    return out;
}

/* raw[0..n) with its 12-byte HMAC-SHA256 under TEST_KEY, in base64url. */
static char *signed_b64(const char *raw, size_t n)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = 0;
    char *buf = crm_arena_alloc(arena, n + 12);
    HMAC(EVP_sha256(), TEST_KEY, (int)strlen(TEST_KEY), (const unsigned char *)raw, n, mac, &ml);
    memcpy(buf, raw, n);
    memcpy(buf + n, mac, 12);
    return b64url(buf, n + 12);
}

static int decode(const char *cursor, const char **sort, const char **value, int64_t *id)
{
    return crm_cursor_decode(arena, cursor, sort, value, id);
}

static void round_trip(const char *sort, const char *value, int64_t id)
{
    const char *s = NULL, *v = NULL;
    int64_t got = 0;
    char *c = crm_cursor_encode(arena, sort, value, id);

    ck_assert_ptr_nonnull(c);
    ck_assert_uint_le(strlen(c), CRM_CURSOR_MAX);
    /* Safe in a URL as is: base64url without padding. */
    ck_assert_uint_eq(strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                      strlen(c));
    ck_assert_int_eq(decode(c, &s, &v, &got), CRM_OK);
    ck_assert_str_eq(s, sort);
    ck_assert_str_eq(v, value);
    ck_assert_int_eq(got, id);
}

START_TEST(test_round_trip)
{
    round_trip("created_at", "2026-11-27 12:00:00.123456", 42);
    round_trip("-name", "Ada Lovelace", 1);
    round_trip("name", "", 7);
    round_trip("name", "line one\nline two\n", 99);
    round_trip("name", "\n", 5);
    round_trip("name", "Zo\xC3\xAB \xE2\x82\xAC \xF0\x9F\x98\x80 \xE6\x97\xA5\xE6\x9C\xAC", 123456);
    round_trip("name", "quotes \" and \\ and ' and %00 and +/=", 3);
    round_trip("updated_at", "x", 999999999999999999LL);
    /* Every length mod 3, so every tail shape of the encoding. */
    for (size_t n = 0; n < 40; n++) {
        char v[64];
        memset(v, 'v', n);
        v[n] = '\0';
        round_trip("s", v, (int64_t)n + 1);
    }
}
END_TEST

/* Whatever id encode accepts must come back: ids are int64. */
START_TEST(test_round_trip_largest_id)
{
    round_trip("name", "x", INT64_MAX);
    round_trip("name", "x", 1000000000000000000LL); /* 19 digits */
}
END_TEST

START_TEST(test_raw_format)
{
    /* A cursor we build by hand in the documented shape decodes. */
    const char *s, *v;
    int64_t id;
    ck_assert_int_eq(decode(signed_b64("c1\nname\n17\nBob", 14), &s, &v, &id), CRM_OK);
    ck_assert_str_eq(s, "name");
    ck_assert_str_eq(v, "Bob");
    ck_assert_int_eq(id, 17);
}
END_TEST

static void assert_invalid(const char *cursor)
{
    const char *s = "unset", *v = "unset";
    int64_t id = -7;
    ck_assert_msg(decode(cursor, &s, &v, &id) == CRM_INVALID, "accepted \"%s\"", cursor);
    /* Outputs untouched on failure. */
    ck_assert_str_eq(s, "unset");
    ck_assert_str_eq(v, "unset");
    ck_assert_int_eq(id, -7);
}

static void assert_raw_invalid(const char *raw)
{
    assert_invalid(signed_b64(raw, strlen(raw)));
}

START_TEST(test_bad_chars)
{
    char *c = crm_cursor_encode(arena, "name", "Ada", 5);
    size_t n = strlen(c);
    static const char bad[] = { '+', '/', '=', ' ', '.', '!', '%', '\n', '\x80', '~' };
    for (size_t i = 0; i < sizeof(bad); i++) {
        for (size_t pos = 0; pos < n; pos += n / 3) {
            char *t = crm_arena_strdup(arena, c);
            t[pos] = bad[i];
            assert_invalid(t);
        }
    }
    /* Standard base64 with padding is not ours. */
    char *padded = crm_arena_printf(arena, "%s==", c);
    assert_invalid(padded);
    assert_invalid("");
}
END_TEST

START_TEST(test_bad_length)
{
    /* 22 bytes + 12 of MAC: 46 characters, a length of 4k+2. */
    char *c = crm_cursor_encode(arena, "name", "Ada Lovelace", 5);
    ck_assert_uint_eq(strlen(c), 46);
    /* One character less: 4k+1 can never be base64. */
    char *t = crm_arena_strdup(arena, c);
    t[strlen(t) - 1] = '\0';
    assert_invalid(t);
    /* One character more: decodes to a trailing NUL byte. */
    assert_invalid(crm_arena_printf(arena, "%sA", c));

    /* A whole number of groups (12 + 12 raw bytes, 32 characters) plus one. */
    const char *s, *v;
    int64_t id;
    const char *whole = signed_b64("c1\nname\n1\nAd", 12);
    ck_assert_uint_eq(strlen(whole), 32);
    ck_assert_int_eq(decode(whole, &s, &v, &id), CRM_OK);
    ck_assert_str_eq(v, "Ad");
    assert_invalid(crm_arena_printf(arena, "%sA", whole));
    assert_invalid(crm_arena_printf(arena, "%sQ", whole));
    /* Too short to hold anything. */
    assert_invalid("YzEK");
    assert_invalid("YzEKbmE");
    assert_invalid("A");
}
END_TEST

START_TEST(test_wrong_prefix)
{
    assert_raw_invalid("c2\nname\n1\nx");
    assert_raw_invalid("C1\nname\n1\nx");
    assert_raw_invalid("c1 name\n1\nx");
    assert_raw_invalid("\nc1\nname\n1\nx");
    assert_raw_invalid("xc1\nname\n1\nx");
    assert_raw_invalid("name\n1\nx-------");
}
END_TEST

START_TEST(test_bad_fields)
{
    assert_raw_invalid("c1\nname\n0\nx");   /* id 0 */
    assert_raw_invalid("c1\nname\n000\nx"); /* still 0 */
    assert_raw_invalid("c1\nname\n-5\nx");  /* negative */
    assert_raw_invalid("c1\nname\n+5\nx");
    assert_raw_invalid("c1\nname\n12a\nx"); /* letters */
    assert_raw_invalid("c1\nname\nabc\nx");
    assert_raw_invalid("c1\nname\n 5\nx");
    assert_raw_invalid("c1\nname\n\nx");                    /* empty id */
    assert_raw_invalid("c1\nname\n5");                      /* no value line */
    assert_raw_invalid("c1\n\n5\nx");                       /* empty sort */
    assert_raw_invalid("c1\nname");                         /* nothing after sort */
    assert_raw_invalid("c1\nname\n9223372036854775808\nx"); /* past int64 */
    assert_raw_invalid("c1\nname\n99999999999999999999999\nx");
    /* Not UTF-8, or a NUL byte hidden inside. */
    assert_raw_invalid("c1\nname\n5\n\xFF\xFE");
    assert_raw_invalid("c1\nname\n5\n\xC3");
    assert_invalid(signed_b64("c1\nname\n5\nab\0cd", 14));
}
END_TEST

START_TEST(test_nonzero_trailing_bits)
{
    /* 16 raw bytes: the last group is 2 characters, 4 spare bits. */
    const char *raw = "c1\nname\n12\nabcde";
    ck_assert_uint_eq(strlen(raw) % 3, 1);
    char *c = signed_b64(raw, strlen(raw));
    const char *s, *v;
    int64_t id;
    ck_assert_int_eq(decode(c, &s, &v, &id), CRM_OK);
    size_t n = strlen(c);
    /* The last character carries 2 data bits and 4 spare bits. */
    static const char *const tab =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int last = (int)(strchr(tab, c[n - 1]) - tab);
    for (int spare = 1; spare < 16; spare++) {
        char *t = crm_arena_strdup(arena, c);
        t[n - 1] = tab[(last & ~15) | spare];
        assert_invalid(t);
    }

    /* 17 raw bytes: the last group is 3 characters, 2 spare bits. */
    raw = "c1\nname\n12\nabcdef";
    ck_assert_uint_eq(strlen(raw) % 3, 2);
    c = signed_b64(raw, strlen(raw));
    ck_assert_int_eq(decode(c, &s, &v, &id), CRM_OK);
    n = strlen(c);
    last = (int)(strchr(tab, c[n - 1]) - tab);
    for (int spare = 1; spare < 4; spare++) {
        char *t = crm_arena_strdup(arena, c);
        t[n - 1] = tab[(last & ~3) | spare];
        assert_invalid(t);
    }
}
END_TEST

START_TEST(test_too_long)
{
    /* A valid cursor just over the limit is refused; at the limit it is not. */
    char value[1024];
    size_t vlen = 0;
    char *c = NULL;
    /* Find a value whose cursor is exactly CRM_CURSOR_MAX characters. */
    for (vlen = 700; vlen < sizeof(value) - 1; vlen++) {
        memset(value, 'v', vlen);
        value[vlen] = '\0';
        c = crm_cursor_encode(arena, "name", value, 5);
        if (strlen(c) >= CRM_CURSOR_MAX)
            break;
    }
    const char *s, *v;
    int64_t id;
    if (strlen(c) == CRM_CURSOR_MAX) {
        ck_assert_int_eq(decode(c, &s, &v, &id), CRM_OK);
        value[vlen] = 'v';
        value[vlen + 1] = '\0';
        c = crm_cursor_encode(arena, "name", value, 5);
    }
    ck_assert_uint_gt(strlen(c), CRM_CURSOR_MAX);
    assert_invalid(c);

    /* Far over: refused without trouble. */
    char *huge = crm_arena_alloc(arena, 100001);
    memset(huge, 'A', 100000);
    huge[100000] = '\0';
    assert_invalid(huge);
}
END_TEST

START_TEST(test_tampered_or_unsigned)
{
    const char *s, *v;
    int64_t id;
    /* Well formed but not signed: refused. */
    const char *raw = "c1\nname\n17\nBob";
    assert_invalid(b64url(raw, strlen(raw)));
    /* Signed, then any one character changed: refused. */
    char *c = crm_cursor_encode(arena, "name", "Bob", 17);
    ck_assert_int_eq(decode(c, &s, &v, &id), CRM_OK);
    for (size_t i = 0; c[i] != '\0'; i++) {
        char *t = crm_arena_strdup(arena, c);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        assert_invalid(t);
    }
    /* Another key (another deployment): refused. */
    crm_cursor_set_key("other", 5);
    assert_invalid(c);
    crm_cursor_set_key(TEST_KEY, strlen(TEST_KEY));
    ck_assert_int_eq(decode(c, &s, &v, &id), CRM_OK);
}
END_TEST

START_TEST(test_cursor_from_other_sort_still_decodes)
{
    /* The sort is in the cursor, so the caller can compare it. */
    const char *s, *v;
    int64_t id;
    char *c = crm_cursor_encode(arena, "-created_at", "2026-01-01", 8);
    ck_assert_int_eq(decode(c, &s, &v, &id), CRM_OK);
    ck_assert_str_eq(s, "-created_at");
    ck_assert_str_ne(s, "created_at");
}
END_TEST

static Suite *cursor_suite(void)
{
    Suite *s = suite_create("crm_cursor");
    TCase *tc = tcase_create("round_trip");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_round_trip_largest_id);
    tcase_add_test(tc, test_raw_format);
    tcase_add_test(tc, test_cursor_from_other_sort_still_decodes);
    suite_add_tcase(s, tc);

    tc = tcase_create("tampered");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_bad_chars);
    tcase_add_test(tc, test_tampered_or_unsigned);
    tcase_add_test(tc, test_bad_length);
    tcase_add_test(tc, test_wrong_prefix);
    tcase_add_test(tc, test_bad_fields);
    tcase_add_test(tc, test_nonzero_trailing_bits);
    tcase_add_test(tc, test_too_long);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(cursor_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
