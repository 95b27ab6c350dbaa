/*
 * test_crm_buf.c - the capped growable buffer: growth, the cap leaving the
 * buffer unchanged, and JSON string escaping with all-or-nothing rollback.
 */
#include "crm_buf.h"

#include <check.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

/* A string of n bytes cycling through the alphabet. Caller frees. */
static char *letters(size_t n)
{
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + i % 26);
    s[n] = '\0';
    return s;
}

/* The JSON string literal b holds, decoded strictly by json-c. Caller frees. */
static char *json_decode(const char *lit, size_t *len)
{
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, lit, (int)strlen(lit));
    ck_assert_msg(o != NULL, "not a JSON string: %s", lit);
    ck_assert_int_eq(json_tokener_get_error(tok), json_tokener_success);
    json_tokener_free(tok);
    ck_assert(json_object_is_type(o, json_type_string));
    *len = (size_t)json_object_get_string_len(o);
    char *out = malloc(*len + 1);
    memcpy(out, json_object_get_string(o), *len + 1);
    json_object_put(o);
    return out;
}

START_TEST(test_init_empty)
{
    crm_buf b;
    crm_buf_init(&b, 0);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.cap, 0);
    /* An empty append still leaves a terminated string. */
    ck_assert_int_eq(crm_buf_append(&b, "", 0), CRM_OK);
    ck_assert_ptr_nonnull(b.data);
    ck_assert_str_eq(b.data, "");
    crm_buf_free(&b);
    ck_assert_ptr_null(b.data);
    crm_buf_free(&b); /* twice is harmless */
}
END_TEST

START_TEST(test_append_growth)
{
    crm_buf b;
    crm_buf_init(&b, 0);
    for (size_t i = 0; i < 10000; i++)
        ck_assert_int_eq(crm_buf_putc(&b, (char)('a' + i % 26)), CRM_OK);
    ck_assert_uint_eq(b.len, 10000);
    ck_assert_uint_ge(b.size, b.len + 1);
    ck_assert_int_eq(b.data[b.len], '\0');
    for (size_t i = 0; i < 10000; i++)
        ck_assert_int_eq(b.data[i], 'a' + i % 26);

    /* One append far bigger than the current size. */
    char *big = letters(300000);
    ck_assert_int_eq(crm_buf_puts(&b, big), CRM_OK);
    ck_assert_uint_eq(b.len, 310000);
    ck_assert_int_eq(memcmp(b.data + 10000, big, 300000), 0);
    ck_assert_int_eq(b.data[b.len], '\0');
    free(big);

    /* Binary data with NUL bytes is kept as is. */
    crm_buf_reset(&b);
    ck_assert_int_eq(crm_buf_append(&b, "a\0b", 3), CRM_OK);
    ck_assert_uint_eq(b.len, 3);
    ck_assert_int_eq(memcmp(b.data, "a\0b", 4), 0);
    crm_buf_free(&b);
}
END_TEST

START_TEST(test_printf_growth)
{
    crm_buf b;
    crm_buf_init(&b, 0);
    ck_assert_int_eq(crm_buf_printf(&b, "%s=%d", "n", 42), CRM_OK);
    ck_assert_str_eq(b.data, "n=42");
    ck_assert_int_eq(crm_buf_printf(&b, "%s", ""), CRM_OK);
    ck_assert_str_eq(b.data, "n=42");

    /* Around the 256-byte stack buffer and well past the first growth. */
    static const size_t lens[] = { 254, 255, 256, 257, 511, 512, 4000, 70000 };
    for (size_t i = 0; i < CRM_NELEM(lens); i++) {
        char *s = letters(lens[i]);
        size_t before = b.len;
        ck_assert_int_eq(crm_buf_printf(&b, "[%s]", s), CRM_OK);
        ck_assert_uint_eq(b.len, before + lens[i] + 2);
        ck_assert_int_eq(b.data[before], '[');
        ck_assert_int_eq(memcmp(b.data + before + 1, s, lens[i]), 0);
        ck_assert_int_eq(b.data[b.len - 1], ']');
        ck_assert_int_eq(b.data[b.len], '\0');
        ck_assert_uint_eq(strlen(b.data), b.len);
        free(s);
    }
    crm_buf_free(&b);

    /* A long printf into a fresh buffer. */
    crm_buf_init(&b, 0);
    char *s = letters(1000);
    ck_assert_int_eq(crm_buf_printf(&b, "%s", s), CRM_OK);
    ck_assert_str_eq(b.data, s);
    free(s);
    crm_buf_free(&b);
}
END_TEST

START_TEST(test_reset_keeps_memory)
{
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_buf_puts(&b, "hello");
    char *data = b.data;
    size_t size = b.size;
    crm_buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_ptr_eq(b.data, data);
    ck_assert_uint_eq(b.size, size);
    ck_assert_str_eq(b.data, "");
    crm_buf_puts(&b, "x");
    ck_assert_str_eq(b.data, "x");
    crm_buf_free(&b);

    crm_buf_init(&b, 5);
    crm_buf_reset(&b); /* no memory yet */
    ck_assert_ptr_null(b.data);
    crm_buf_free(&b);
    ck_assert_uint_eq(b.cap, 5);
}
END_TEST

/* b must still hold exactly want (len, bytes and terminator). */
static void assert_holds(const crm_buf *b, const char *want)
{
    ck_assert_uint_eq(b->len, strlen(want));
    ck_assert_ptr_nonnull(b->data);
    ck_assert_str_eq(b->data, want);
}

START_TEST(test_cap)
{
    crm_buf b;
    crm_buf_init(&b, 10);

    ck_assert_int_eq(crm_buf_puts(&b, "12345"), CRM_OK);
    ck_assert_int_eq(crm_buf_puts(&b, "678901"), CRM_TOOBIG);
    assert_holds(&b, "12345");
    ck_assert_int_eq(crm_buf_printf(&b, "%s", "abcdefgh"), CRM_TOOBIG);
    assert_holds(&b, "12345");
    /* Up to the cap exactly is fine. */
    ck_assert_int_eq(crm_buf_puts(&b, "6789"), CRM_OK);
    ck_assert_int_eq(crm_buf_putc(&b, '0'), CRM_OK);
    assert_holds(&b, "1234567890");
    ck_assert_int_eq(crm_buf_putc(&b, 'x'), CRM_TOOBIG);
    ck_assert_int_eq(crm_buf_printf(&b, "%d", 1), CRM_TOOBIG);
    ck_assert_int_eq(crm_buf_append(&b, "x", 1), CRM_TOOBIG);
    assert_holds(&b, "1234567890");
    /* Nothing appended is always fine. */
    ck_assert_int_eq(crm_buf_append(&b, "", 0), CRM_OK);
    assert_holds(&b, "1234567890");
    crm_buf_free(&b);

    /* The long printf path (>= 256 bytes) honours the cap too. */
    crm_buf_init(&b, 300);
    char *s = letters(100);
    ck_assert_int_eq(crm_buf_puts(&b, s), CRM_OK);
    char *l = letters(256);
    ck_assert_int_eq(crm_buf_printf(&b, "%s", l), CRM_TOOBIG);
    assert_holds(&b, s);
    l[200] = '\0';
    ck_assert_int_eq(crm_buf_printf(&b, "%s", l), CRM_OK);
    ck_assert_uint_eq(b.len, 300);
    free(s);
    free(l);
    crm_buf_free(&b);

    /* A cap on a buffer that never allocated. */
    crm_buf_init(&b, 3);
    ck_assert_int_eq(crm_buf_puts(&b, "abcd"), CRM_TOOBIG);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_int_eq(crm_buf_puts(&b, "abc"), CRM_OK);
    assert_holds(&b, "abc");
    crm_buf_free(&b);
}
END_TEST

/* Escape s[0..n) alone and check the literal and what it decodes back to. */
static void check_escape(const char *s, size_t n, const char *want)
{
    crm_buf b;
    size_t len;

    crm_buf_init(&b, 0);
    ck_assert_int_eq(crm_buf_json_str(&b, s, n), CRM_OK);
    ck_assert_str_eq(b.data, want);
    ck_assert_uint_eq(b.len, strlen(want));
    char *back = json_decode(b.data, &len);
    ck_assert_uint_eq(len, n);
    ck_assert_int_eq(memcmp(back, s, n), 0);
    free(back);
    crm_buf_free(&b);
}

START_TEST(test_json_str_escaping)
{
    check_escape("", 0, "\"\"");
    check_escape("plain", 5, "\"plain\"");
    check_escape("say \"hi\"", 8, "\"say \\\"hi\\\"\"");
    check_escape("C:\\dir\\", 7, "\"C:\\\\dir\\\\\"");
    check_escape("a\nb\rc\td", 7, "\"a\\nb\\rc\\td\"");
    check_escape("\b\f", 2, "\"\\b\\f\"");
    check_escape("\x01", 1, "\"\\u0001\"");
    check_escape("\x1f\x0b\x7f", 3, "\"\\u001f\\u000b\x7f\"");
    check_escape("x\0y", 3, "\"x\\u0000y\"");
    /* UTF-8 and slashes pass through. */
    check_escape("Zo\xC3\xAB \xE2\x82\xAC </script>", 18, "\"Zo\xC3\xAB \xE2\x82\xAC </script>\"");
    /* Every control character becomes an escape JSON accepts. */
    char all[32];
    for (int i = 0; i < 32; i++)
        all[i] = (char)i;
    crm_buf b;
    crm_buf_init(&b, 0);
    ck_assert_int_eq(crm_buf_json_str(&b, all, 32), CRM_OK);
    for (size_t i = 0; i < b.len; i++)
        ck_assert_uint_ge((unsigned char)b.data[i], 0x20);
    size_t len;
    char *back = json_decode(b.data, &len);
    ck_assert_uint_eq(len, 32);
    ck_assert_int_eq(memcmp(back, all, 32), 0);
    free(back);
    crm_buf_free(&b);
}
END_TEST

START_TEST(test_json_str_appends)
{
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_buf_puts(&b, "{\"k\":");
    ck_assert_int_eq(crm_buf_json_str(&b, "v\"", 2), CRM_OK);
    crm_buf_putc(&b, '}');
    ck_assert_str_eq(b.data, "{\"k\":\"v\\\"\"}");
    crm_buf_free(&b);
}
END_TEST

/* A json_str that does not fit leaves "prefix" exactly as it was. */
START_TEST(test_json_str_cap_rolls_back)
{
    const char *s = "ab\"cd\x01";
    /* "prefix" (6) + "ab\"cd\u0001" quoted (14) */
    const size_t full = 6 + 14;

    for (size_t cap = 6; cap < full; cap++) {
        crm_buf b;
        crm_buf_init(&b, cap);
        ck_assert_int_eq(crm_buf_puts(&b, "prefix"), CRM_OK);
        ck_assert_msg(crm_buf_json_str(&b, s, strlen(s)) == CRM_TOOBIG, "cap %zu", cap);
        assert_holds(&b, "prefix");
        /* The buffer is still usable after the failure. */
        ck_assert_int_eq(crm_buf_puts(&b, ""), CRM_OK);
        assert_holds(&b, "prefix");
        crm_buf_free(&b);
    }

    crm_buf b;
    crm_buf_init(&b, full);
    ck_assert_int_eq(crm_buf_puts(&b, "prefix"), CRM_OK);
    ck_assert_int_eq(crm_buf_json_str(&b, s, strlen(s)), CRM_OK);
    assert_holds(&b, "prefix\"ab\\\"cd\\u0001\"");
    crm_buf_free(&b);

    /* From an empty, never-allocated buffer. */
    crm_buf_init(&b, 4);
    ck_assert_int_eq(crm_buf_json_str(&b, "abcd", 4), CRM_TOOBIG);
    ck_assert_uint_eq(b.len, 0);
    ck_assert(b.data == NULL || b.data[0] == '\0');
    crm_buf_free(&b);
}
END_TEST

static Suite *buf_suite(void)
{
    Suite *s = suite_create("crm_buf");
    TCase *tc = tcase_create("append");

    tcase_add_test(tc, test_init_empty);
    tcase_add_test(tc, test_append_growth);
    tcase_add_test(tc, test_printf_growth);
    tcase_add_test(tc, test_reset_keeps_memory);
    tcase_add_test(tc, test_cap);
    suite_add_tcase(s, tc);

    tc = tcase_create("json_str");
    tcase_add_test(tc, test_json_str_escaping);
    tcase_add_test(tc, test_json_str_appends);
    tcase_add_test(tc, test_json_str_cap_rolls_back);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(buf_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
