/*
 * test_crm_valid.c - every validator's good and bad paths, over JSON
 * bodies (typed values) and form bodies (strings the getters convert),
 * and the plain checks (dates, ISO 4217 currency codes).
 */
#include "crm_valid.h"

#include "crm_form.h"
#include "crm_json.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static crm_arena *arena;
static crm_fields fs;
static crm_valid v;

static const char *const statuses[] = { "lead", "prospect", "customer", "churned", NULL };

static void setup(void)
{
    arena = crm_arena_new(4096);
}

static void teardown(void)
{
    crm_arena_free(arena);
}

static void json(const char *body)
{
    const char *why = NULL;
    int rc = crm_json_parse(arena, body, strlen(body), &fs, &why);
    ck_assert_msg(rc == CRM_OK, "%s: %s", body, why ? why : "?");
    crm_valid_init(&v, arena, &fs);
}

static void form(const char *body)
{
    const char *why = NULL;
    int rc = crm_form_parse(arena, body, strlen(body), 64, &fs, &why);
    ck_assert_msg(rc == CRM_OK, "%s: %s", body, why ? why : "?");
    crm_valid_init(&v, arena, &fs);
}

/* The message recorded for field, or NULL. */
static const char *err(const char *field)
{
    for (size_t i = 0; i < v.n; i++)
        if (v.errors[i].field != NULL && strcmp(v.errors[i].field, field) == 0)
            return v.errors[i].message;
    return NULL;
}

static void expect_err(const char *field, const char *message)
{
    const char *got = err(field);
    ck_assert_msg(got != NULL, "no error for %s", field);
    ck_assert_msg(strcmp(got, message) == 0, "%s: \"%s\", want \"%s\"", field, got, message);
}

/* ---- the collector ---- */

START_TEST(test_errors_collected)
{
    json("{}");
    ck_assert_int_eq(crm_valid_ok(&v), 1);
    crm_valid_error(&v, "a", "first");
    crm_valid_error(&v, "a", "second"); /* one error per field: the first wins */
    crm_valid_error(&v, "b", "other");
    crm_valid_error(&v, NULL, "body-level");
    ck_assert_int_eq(crm_valid_ok(&v), 0);
    ck_assert_uint_eq(v.n, 3);
    expect_err("a", "first");
    expect_err("b", "other");
    ck_assert_ptr_null(v.errors[2].field);
}
END_TEST

START_TEST(test_errors_capped)
{
    static char names[CRM_VALID_MAX_ERRORS + 10][16];

    json("{}");
    for (int i = 0; i < CRM_VALID_MAX_ERRORS + 10; i++) {
        snprintf(names[i], sizeof(names[i]), "f%d", i);
        crm_valid_error(&v, names[i], "bad");
    }
    ck_assert_uint_eq(v.n, CRM_VALID_MAX_ERRORS);
    ck_assert_ptr_null(err("f40"));
}
END_TEST

START_TEST(test_unknown)
{
    static const char *const allowed[] = { "name", "email", NULL };

    json("{\"name\":\"Ada\",\"id\":1,\"email\":\"a@b.co\",\"version\":2}");
    ck_assert_uint_eq(crm_valid_unknown(&v, allowed), 2);
    expect_err("id", "unknown field");
    expect_err("version", "unknown field");
    ck_assert_ptr_null(err("name"));

    json("{\"name\":\"Ada\"}");
    ck_assert_uint_eq(crm_valid_unknown(&v, allowed), 0);
    ck_assert_int_eq(crm_valid_ok(&v), 1);

    form("name=Ada&Email=x");
    ck_assert_uint_eq(crm_valid_unknown(&v, allowed), 1); /* names are case-sensitive */
    expect_err("Email", "unknown field");

    /* The unknown field keeps its error when a getter reads it later. */
    json("{\"id\":\"x\"}");
    crm_valid_unknown(&v, allowed);
    const char *s;
    crm_valid_string(&v, "id", 1, 5, 10, &s);
    expect_err("id", "unknown field");
}
END_TEST

START_TEST(test_many_errors_at_once)
{
    const char *s;
    int64_t i;

    json("{\"name\":\"\",\"email\":\"nope\",\"status\":\"x\",\"owner_id\":0}");
    ck_assert_int_eq(crm_valid_string(&v, "name", 1, 1, 200, &s), CRM_INVALID);
    ck_assert_int_eq(crm_valid_email(&v, "email", 1, &s), CRM_INVALID);
    ck_assert_int_eq(crm_valid_enum(&v, "status", 0, statuses, &s), CRM_INVALID);
    ck_assert_int_eq(crm_valid_int(&v, "owner_id", 0, 1, 100, &i), CRM_INVALID);
    ck_assert_int_eq(crm_valid_string(&v, "company", 0, 0, 200, &s), CRM_NOTFOUND);
    ck_assert_uint_eq(v.n, 4);
    expect_err("name", "must not be empty");
    expect_err("email", "must be a valid email address");
    expect_err("status", "must be one of: lead, prospect, customer, churned");
    expect_err("owner_id", "must be an integer between 1 and 100");
}
END_TEST

/* ---- presence: absent, null, empty form value ---- */

START_TEST(test_presence_json)
{
    const char *s = "untouched";

    json("{\"n\":null}");
    ck_assert_int_eq(crm_valid_string(&v, "absent", 0, 0, 10, &s), CRM_NOTFOUND);
    ck_assert_str_eq(s, "untouched");
    ck_assert_int_eq(crm_valid_ok(&v), 1);
    ck_assert_int_eq(crm_valid_string(&v, "absent", 1, 0, 10, &s), CRM_INVALID);
    expect_err("absent", "is required");
    ck_assert_str_eq(s, "untouched");

    ck_assert_int_eq(crm_valid_string(&v, "n", 0, 1, 10, &s), CRM_OK);
    ck_assert_ptr_null(s);
    s = "untouched";
    ck_assert_int_eq(crm_valid_string(&v, "n", 1, 1, 10, &s), CRM_INVALID);
    expect_err("n", "must not be null");
    ck_assert_str_eq(s, "untouched");
}
END_TEST

START_TEST(test_presence_form)
{
    const char *s = "untouched";

    form("empty=&blank");
    ck_assert_int_eq(crm_valid_string(&v, "empty", 0, 1, 10, &s), CRM_OK);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(crm_valid_string(&v, "blank", 0, 1, 10, &s), CRM_OK);
    ck_assert_ptr_null(s);
    s = "untouched";
    ck_assert_int_eq(crm_valid_string(&v, "empty", 1, 0, 10, &s), CRM_INVALID);
    expect_err("empty", "is required");
    ck_assert_str_eq(s, "untouched");
    ck_assert_int_eq(crm_valid_string(&v, "nothere", 0, 0, 10, &s), CRM_NOTFOUND);
}
END_TEST

/* ---- strings ---- */

START_TEST(test_string_lengths)
{
    char body[1100], name[402] = "";
    const char *s;

    /* 200 two-byte characters: 400 bytes, but 200 characters. */
    for (int i = 0; i < 200; i++)
        strcat(name, "\xC3\xA9");
    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"long\":\"%sx\"}", name, name);
    json(body);
    ck_assert_int_eq(crm_valid_string(&v, "name", 1, 1, 200, &s), CRM_OK);
    ck_assert_str_eq(s, name);
    ck_assert_int_eq(crm_valid_string(&v, "long", 1, 1, 200, &s), CRM_INVALID);
    expect_err("long", "must be at most 200 characters");

    json("{\"e\":\"\",\"two\":\"ab\",\"six\":\"abcdef\",\"one\":\"a\"}");
    ck_assert_int_eq(crm_valid_string(&v, "e", 1, 1, 10, &s), CRM_INVALID);
    expect_err("e", "must not be empty");
    ck_assert_int_eq(crm_valid_string(&v, "two", 1, 3, 5, &s), CRM_INVALID);
    expect_err("two", "must be between 3 and 5 characters");
    ck_assert_int_eq(crm_valid_string(&v, "six", 1, 3, 5, &s), CRM_INVALID);
    expect_err("six", "must be between 3 and 5 characters");
    ck_assert_int_eq(crm_valid_string(&v, "one", 1, 2, 2, &s), CRM_INVALID);
    expect_err("one", "must be exactly 2 characters");

    json("{\"a\":\"ab\",\"b\":\"\",\"c\":\"abc\"}");
    ck_assert_int_eq(crm_valid_string(&v, "a", 1, 3, SIZE_MAX, &s), CRM_INVALID);
    expect_err("a", "must be at least 3 characters");
    ck_assert_int_eq(crm_valid_string(&v, "b", 1, 0, 5, &s), CRM_OK); /* JSON "" is a value */
    ck_assert_str_eq(s, "");
    ck_assert_int_eq(crm_valid_string(&v, "c", 1, 0, 1, &s), CRM_INVALID);
    expect_err("c", "must be at most 1 character");
}
END_TEST

START_TEST(test_string_types)
{
    const char *s;

    json("{\"n\":1,\"b\":true,\"a\":[\"x\"],\"o\":{},\"d\":1.5}");
    ck_assert_int_eq(crm_valid_string(&v, "n", 1, 0, 10, &s), CRM_INVALID);
    ck_assert_int_eq(crm_valid_string(&v, "b", 1, 0, 10, &s), CRM_INVALID);
    ck_assert_int_eq(crm_valid_string(&v, "a", 1, 0, 10, &s), CRM_INVALID);
    ck_assert_int_eq(crm_valid_string(&v, "o", 1, 0, 10, &s), CRM_INVALID);
    ck_assert_int_eq(crm_valid_string(&v, "d", 1, 0, 10, &s), CRM_INVALID);
    expect_err("n", "must be a string");
    expect_err("o", "must be a string");

    form("name=Ada+Lovelace&num=12");
    ck_assert_int_eq(crm_valid_string(&v, "name", 1, 1, 200, &s), CRM_OK);
    ck_assert_str_eq(s, "Ada Lovelace");
    ck_assert_int_eq(crm_valid_string(&v, "num", 1, 1, 200, &s), CRM_OK); /* forms: all text */
    ck_assert_str_eq(s, "12");
}
END_TEST

/* ---- email ---- */

static int email_ok(const char *in, const char *want)
{
    char body[1024];
    const char *s = NULL;
    snprintf(body, sizeof(body), "{\"email\":\"%s\"}", in);
    json(body);
    int rc = crm_valid_email(&v, "email", 1, &s);
    if (rc == CRM_OK && want != NULL)
        ck_assert_str_eq(s, want);
    if (rc != CRM_OK)
        ck_assert_ptr_null(s);
    return rc == CRM_OK;
}

START_TEST(test_email_good)
{
    ck_assert(email_ok("ada@example.com", "ada@example.com"));
    ck_assert(email_ok("Ada@Example.COM", "ada@example.com"));
    ck_assert(email_ok("  ada@example.com\\t\\r\\n ", "ada@example.com"));
    ck_assert(email_ok("a.b+tag@sub.example.co.uk", "a.b+tag@sub.example.co.uk"));
    ck_assert(email_ok("o'brien@example.ie", "o'brien@example.ie"));
    ck_assert(email_ok("x!#$%&'*+/=?^_`{|}~-y@example.org", NULL));
    ck_assert(email_ok("a@b.co", "a@b.co"));
    ck_assert(email_ok("a@xn--bcher-kva.example", NULL));
    ck_assert(email_ok("a@1.2.3.example", NULL)); /* numeric labels, alphabetic TLD */
    ck_assert(email_ok("a-b@a-b.c-d.com", NULL));
}
END_TEST

START_TEST(test_email_bad)
{
    const char *bad[] = {
        "",
        "   ",
        "ada",
        "ada@",
        "@example.com",
        "ada@@example.com",
        "a@b@example.com",
        "ada@example",
        "ada@example.c",
        "ada@example.c0m",
        "ada@example.123",
        ".ada@example.com",
        "ada.@example.com",
        "a..b@example.com",
        "ada@-example.com",
        "ada@example-.com",
        "ada@example..com",
        "ada@.example.com",
        "ada@example.com.",
        "a da@example.com",
        "ada@exa mple.com",
        "ada@ex_ample.com",
        "ada(x)@example.com",
        "\\\"ada\\\"@example.com",
        "a,b@example.com",
        "ada@[127.0.0.1]",
        "\xC3\xA9@example.com",
        "ada@exampl\xC3\xA9.com",
        "ada@example.com\\u0001",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(!email_ok(bad[i], NULL), "accepted %s", bad[i]);
        expect_err("email", "must be a valid email address");
    }
}
END_TEST

START_TEST(test_email_lengths)
{
    char local[80], label[80], addr[400];

    memset(local, 'l', 64);
    local[64] = '\0';
    snprintf(addr, sizeof(addr), "%s@example.com", local);
    ck_assert(email_ok(addr, addr));
    memset(local, 'l', 65);
    local[65] = '\0';
    snprintf(addr, sizeof(addr), "%s@example.com", local);
    ck_assert(!email_ok(addr, NULL));

    memset(label, 'd', 63);
    label[63] = '\0';
    snprintf(addr, sizeof(addr), "a@%s.com", label);
    ck_assert(email_ok(addr, addr));
    memset(label, 'd', 64);
    label[64] = '\0';
    snprintf(addr, sizeof(addr), "a@%s.com", label);
    ck_assert(!email_ok(addr, NULL));

    /* 254 characters in all is the most: "ab@" + 3 labels of 63 + a TLD of 59. */
    char tld[60];
    memset(label, 'd', 63);
    label[63] = '\0';
    memset(tld, 'z', 59);
    tld[59] = '\0';
    snprintf(addr, sizeof(addr), "ab@%s.%s.%s.%s", label, label, label, tld);
    ck_assert_uint_eq(strlen(addr), 254);
    ck_assert(email_ok(addr, addr));
    snprintf(addr, sizeof(addr), "abc@%s.%s.%s.%s", label, label, label, tld);
    ck_assert_uint_eq(strlen(addr), 255);
    ck_assert(!email_ok(addr, NULL));
    expect_err("email", "must be at most 254 characters");
    /* Surrounding blanks do not count against the limit. */
    snprintf(addr, sizeof(addr), "   ab@%s.%s.%s.%s   ", label, label, label, tld);
    ck_assert(email_ok(addr, NULL));
}
END_TEST

START_TEST(test_email_types_and_form)
{
    const char *s;

    json("{\"email\":5}");
    ck_assert_int_eq(crm_valid_email(&v, "email", 1, &s), CRM_INVALID);
    expect_err("email", "must be a string");

    form("email=+Ada%40Example.com+&other=");
    ck_assert_int_eq(crm_valid_email(&v, "email", 1, &s), CRM_OK);
    ck_assert_str_eq(s, "ada@example.com");
    ck_assert_int_eq(crm_valid_email(&v, "other", 0, &s), CRM_OK);
    ck_assert_ptr_null(s);

    ck_assert_int_eq(crm_valid_is_email("ADA@EXAMPLE.COM"), 1);
    ck_assert_int_eq(crm_valid_is_email(" ada@example.com"), 0); /* no trimming here */
    ck_assert_int_eq(crm_valid_is_email(NULL), 0);
    ck_assert_int_eq(crm_valid_is_email(""), 0);
}
END_TEST

/* ---- enum ---- */

START_TEST(test_enum)
{
    const char *s = NULL;

    json("{\"a\":\"prospect\",\"b\":\"Lead\",\"c\":1,\"d\":\"lead \",\"e\":null}");
    ck_assert_int_eq(crm_valid_enum(&v, "a", 1, statuses, &s), CRM_OK);
    ck_assert_ptr_eq(s, statuses[1]); /* points into the table */
    ck_assert_int_eq(crm_valid_enum(&v, "b", 1, statuses, &s), CRM_INVALID);
    ck_assert_int_eq(crm_valid_enum(&v, "c", 1, statuses, &s), CRM_INVALID);
    ck_assert_int_eq(crm_valid_enum(&v, "d", 1, statuses, &s), CRM_INVALID);
    expect_err("b", "must be one of: lead, prospect, customer, churned");
    expect_err("c", "must be one of: lead, prospect, customer, churned");
    ck_assert_int_eq(crm_valid_enum(&v, "e", 0, statuses, &s), CRM_OK);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(crm_valid_enum(&v, "z", 0, statuses, &s), CRM_NOTFOUND);

    form("status=churned&kind=");
    ck_assert_int_eq(crm_valid_enum(&v, "status", 1, statuses, &s), CRM_OK);
    ck_assert_str_eq(s, "churned");
    ck_assert_int_eq(crm_valid_enum(&v, "kind", 1, statuses, &s), CRM_INVALID);
    expect_err("kind", "is required");
}
END_TEST

/* ---- int ---- */

static int json_int(const char *lit, int64_t lo, int64_t hi, int64_t *out)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"n\":%s}", lit);
    json(body);
    return crm_valid_int(&v, "n", 1, lo, hi, out);
}

static int form_int(const char *val, int64_t lo, int64_t hi, int64_t *out)
{
    char body[256];
    snprintf(body, sizeof(body), "n=%s", val);
    form(body);
    return crm_valid_int(&v, "n", 1, lo, hi, out);
}

START_TEST(test_int_json)
{
    int64_t x = 0;

    ck_assert_int_eq(json_int("5", 1, 100, &x), CRM_OK);
    ck_assert_int_eq(x, 5);
    ck_assert_int_eq(json_int("1", 1, 100, &x), CRM_OK);
    ck_assert_int_eq(json_int("100", 1, 100, &x), CRM_OK);
    ck_assert_int_eq(x, 100);
    x = 77;
    ck_assert_int_eq(json_int("0", 1, 100, &x), CRM_INVALID);
    expect_err("n", "must be an integer between 1 and 100");
    ck_assert_int_eq(x, 77);
    ck_assert_int_eq(json_int("101", 1, 100, &x), CRM_INVALID);
    ck_assert_int_eq(json_int("-1", 1, 100, &x), CRM_INVALID);
    ck_assert_int_eq(json_int("1.5", 1, 100, &x), CRM_INVALID);
    expect_err("n", "must be an integer between 1 and 100");
    ck_assert_int_eq(json_int("1.0", 1, 100, &x), CRM_INVALID);
    ck_assert_int_eq(json_int("1e1", 1, 100, &x), CRM_INVALID);
    ck_assert_int_eq(json_int("\"5\"", 1, 100, &x), CRM_INVALID); /* JSON keeps its types */
    ck_assert_int_eq(json_int("true", 1, 100, &x), CRM_INVALID);
    ck_assert_int_eq(json_int("[5]", 1, 100, &x), CRM_INVALID);
    ck_assert_int_eq(json_int("1e400", 1, 100, &x), CRM_INVALID);
    ck_assert_int_eq(json_int("9223372036854775808", INT64_MIN, INT64_MAX, &x), CRM_INVALID);
    expect_err("n", "must be an integer between -9223372036854775808 and 9223372036854775807");
    ck_assert_int_eq(json_int("-9223372036854775809", INT64_MIN, INT64_MAX, &x), CRM_INVALID);
    ck_assert_int_eq(json_int("9223372036854775807", INT64_MIN, INT64_MAX, &x), CRM_OK);
    ck_assert_int_eq(x, INT64_MAX);
    ck_assert_int_eq(json_int("-9223372036854775808", INT64_MIN, INT64_MAX, &x), CRM_OK);
    ck_assert_int_eq(x, INT64_MIN);
    ck_assert_int_eq(json_int("9007199254740991", 1, 9007199254740991LL, &x), CRM_OK);
    ck_assert_int_eq(json_int("9007199254740992", 1, 9007199254740991LL, &x), CRM_INVALID);
}
END_TEST

START_TEST(test_int_null)
{
    int64_t x = 77;

    /* An int64 has no null: an allowed null reads like an absent field. */
    json("{\"n\":null}");
    ck_assert_int_eq(crm_valid_int(&v, "n", 0, 1, 100, &x), CRM_NOTFOUND);
    ck_assert_int_eq(x, 77);
    ck_assert_int_eq(crm_valid_ok(&v), 1);
    ck_assert_int_eq(crm_valid_int(&v, "n", 1, 1, 100, &x), CRM_INVALID);
    expect_err("n", "must not be null");
    form("n=");
    ck_assert_int_eq(crm_valid_int(&v, "n", 0, 1, 100, &x), CRM_NOTFOUND);
    ck_assert_int_eq(crm_valid_int(&v, "n", 1, 1, 100, &x), CRM_INVALID);
    expect_err("n", "is required");
    ck_assert_int_eq(x, 77);
}
END_TEST

START_TEST(test_int_form)
{
    int64_t x = 0;

    ck_assert_int_eq(form_int("42", 1, 100, &x), CRM_OK);
    ck_assert_int_eq(x, 42);
    ck_assert_int_eq(form_int("-7", -10, 10, &x), CRM_OK);
    ck_assert_int_eq(x, -7);
    ck_assert_int_eq(form_int("007", 1, 100, &x), CRM_OK);
    ck_assert_int_eq(x, 7);
    ck_assert_int_eq(form_int("9223372036854775807", INT64_MIN, INT64_MAX, &x), CRM_OK);
    ck_assert_int_eq(x, INT64_MAX);
    ck_assert_int_eq(form_int("-9223372036854775808", INT64_MIN, INT64_MAX, &x), CRM_OK);
    ck_assert_int_eq(x, INT64_MIN);

    const char *bad[] = { "9223372036854775808",
                          "-9223372036854775809",
                          "99999999999999999999999",
                          "%2B5",
                          "+5",
                          "%205",
                          "5+",
                          "5a",
                          "0x10",
                          "1.0",
                          "1e3",
                          "-",
                          "--1",
                          "1-",
                          "%E2%80%8B5" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(form_int(bad[i], INT64_MIN, INT64_MAX, &x) == CRM_INVALID, "took %s", bad[i]);
        expect_err("n", "must be an integer between -9223372036854775808 and 9223372036854775807");
    }
    ck_assert_int_eq(form_int("0", 1, 100, &x), CRM_INVALID);
    expect_err("n", "must be an integer between 1 and 100");
}
END_TEST

/* ---- bool ---- */

START_TEST(test_bool)
{
    int b = 7;

    json("{\"t\":true,\"f\":false,\"s\":\"true\",\"n\":1,\"z\":null}");
    ck_assert_int_eq(crm_valid_bool(&v, "t", 1, &b), CRM_OK);
    ck_assert_int_eq(b, 1);
    ck_assert_int_eq(crm_valid_bool(&v, "f", 1, &b), CRM_OK);
    ck_assert_int_eq(b, 0);
    b = 7;
    ck_assert_int_eq(crm_valid_bool(&v, "s", 1, &b), CRM_INVALID);
    ck_assert_int_eq(crm_valid_bool(&v, "n", 1, &b), CRM_INVALID);
    expect_err("s", "must be true or false");
    expect_err("n", "must be true or false");
    ck_assert_int_eq(crm_valid_bool(&v, "z", 0, &b), CRM_NOTFOUND);
    ck_assert_int_eq(crm_valid_bool(&v, "absent", 0, &b), CRM_NOTFOUND);
    ck_assert_int_eq(b, 7);

    form("a=true&b=on&c=1&d=false&e=0&f=yes&g=TRUE&h=off&i=&j=2");
    const struct {
        const char *name;
        int rc, value;
    } cases[] = { { "a", CRM_OK, 1 },      { "b", CRM_OK, 1 },      { "c", CRM_OK, 1 },
                  { "d", CRM_OK, 0 },      { "e", CRM_OK, 0 },      { "f", CRM_INVALID, 7 },
                  { "g", CRM_INVALID, 7 }, { "h", CRM_INVALID, 7 }, { "i", CRM_NOTFOUND, 7 },
                  { "j", CRM_INVALID, 7 } };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        b = 7;
        ck_assert_int_eq(crm_valid_bool(&v, cases[i].name, 0, &b), cases[i].rc);
        ck_assert_int_eq(b, cases[i].value);
    }
}
END_TEST

/* ---- phone ---- */

static const char *phone(const char *in)
{
    char body[256];
    const char *s = NULL;
    snprintf(body, sizeof(body), "{\"phone\":\"%s\"}", in);
    json(body);
    if (crm_valid_phone(&v, "phone", 1, &s) != CRM_OK) {
        ck_assert_ptr_null(s);
        expect_err("phone", "must be a phone number of 7 to 15 digits");
        return NULL;
    }
    return s;
}

START_TEST(test_phone_good)
{
    ck_assert_str_eq(phone("+44 20 7946 0018"), "+442079460018");
    ck_assert_str_eq(phone("(020) 7946-0018"), "02079460018");
    ck_assert_str_eq(phone("+1 (555) 123.4567"), "+15551234567");
    ck_assert_str_eq(phone("+44 (0) 20 7946 0018"), "+4402079460018");
    ck_assert_str_eq(phone("+44(0)2079460018"), "+4402079460018");
    ck_assert_str_eq(phone("1234567"), "1234567");
    ck_assert_str_eq(phone("123456789012345"), "123456789012345");
    ck_assert_str_eq(phone("  555-1234567  "), "5551234567");
    ck_assert_str_eq(phone("1.2.3.4.5.6.7"), "1234567");
    ck_assert_str_eq(phone("1 2 3 4 5 6 7 8 9 0 1 2 3 4 5"), "123456789012345"); /* 29 bytes */
}
END_TEST

START_TEST(test_phone_bad)
{
    const char *bad[] = {
        "",
        "+",
        "123456",
        "1234567890123456",
        "++441234567",
        "44+1234567",
        "020--79460018",
        "020 - 7946 0018",
        "(020 79460018",
        "020) 79460018",
        "((020)) 7946 0018",
        "()1234567",
        "1234567-",
        "-1234567",
        "12a4567",
        "123 456 7 ext 8",
        "+44 20 7946 0018 x",
        "(0 20) 7946",
        " + 441234567",
        "1234567()",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(phone(bad[i]) == NULL, "took %s", bad[i]);
    /* Over the input cap even with few digits. */
    ck_assert_ptr_null(phone("1.2.3.4.5.6.7.8.9.0.1.2.3.4.5.6.7.8.9.0.1"));
}
END_TEST

START_TEST(test_phone_types_and_form)
{
    const char *s = "untouched";

    json("{\"phone\":1234567,\"p2\":null}");
    ck_assert_int_eq(crm_valid_phone(&v, "phone", 0, &s), CRM_INVALID);
    expect_err("phone", "must be a string");
    ck_assert_int_eq(crm_valid_phone(&v, "p2", 0, &s), CRM_OK);
    ck_assert_ptr_null(s);

    form("phone=%2B44+20+7946+0018&p2=");
    ck_assert_int_eq(crm_valid_phone(&v, "phone", 1, &s), CRM_OK);
    ck_assert_str_eq(s, "+442079460018");
    ck_assert_int_eq(crm_valid_phone(&v, "p2", 0, &s), CRM_OK);
    ck_assert_ptr_null(s);
}
END_TEST

/* ---- date ---- */

START_TEST(test_is_date)
{
    const char *good[] = { "2026-11-27", "2024-02-29", "2000-02-29", "2026-12-31",
                           "2026-01-01", "1000-01-01", "9999-12-31", "2026-04-30" };
    const char *bad[] = { "2023-02-29",  "1900-02-29",
                          "2100-02-29",  "2026-04-31",
                          "2026-06-31",  "2026-13-01",
                          "2026-00-10",  "2026-01-00",
                          "2026-01-32",  "2026-1-01",
                          "26-01-01",    "2026/01/01",
                          "20260101",    " 2026-01-01",
                          "2026-01-01 ", "2026-01-01T00:00:00Z",
                          "0999-12-31",  "0000-01-01",
                          "abcd-ef-gh",  "2026-0a-01",
                          "+026-01-01",  "",
                          "2026-01-1",   "2026-01--1" };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(crm_valid_is_date(good[i]), "refused %s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!crm_valid_is_date(bad[i]), "took %s", bad[i]);
    ck_assert_int_eq(crm_valid_is_date(NULL), 0);
}
END_TEST

START_TEST(test_date)
{
    const char *s = NULL;

    json("{\"d\":\"2024-02-29\",\"bad\":\"2023-02-29\",\"num\":20240229,\"z\":null}");
    ck_assert_int_eq(crm_valid_date(&v, "d", 1, &s), CRM_OK);
    ck_assert_str_eq(s, "2024-02-29");
    ck_assert_int_eq(crm_valid_date(&v, "bad", 1, &s), CRM_INVALID);
    ck_assert_int_eq(crm_valid_date(&v, "num", 1, &s), CRM_INVALID);
    expect_err("bad", "must be a date like 2026-11-27");
    expect_err("num", "must be a date like 2026-11-27");
    ck_assert_int_eq(crm_valid_date(&v, "z", 0, &s), CRM_OK);
    ck_assert_ptr_null(s);

    form("d=2026-11-27&e=");
    ck_assert_int_eq(crm_valid_date(&v, "d", 1, &s), CRM_OK);
    ck_assert_str_eq(s, "2026-11-27");
    ck_assert_int_eq(crm_valid_date(&v, "e", 1, &s), CRM_INVALID);
    expect_err("e", "is required");
}
END_TEST

/* ---- datetime ---- */

static const char *dt(const char *in)
{
    char body[256];
    const char *s = NULL;
    snprintf(body, sizeof(body), "{\"t\":\"%s\"}", in);
    json(body);
    if (crm_valid_datetime(&v, "t", 1, &s) != CRM_OK) {
        ck_assert_ptr_null(s);
        expect_err("t", "must be a date-time like 2026-11-27T12:00:00Z");
        return NULL;
    }
    return s;
}

START_TEST(test_datetime_good)
{
    ck_assert_str_eq(dt("2026-11-27T12:00:00Z"), "2026-11-27 12:00:00.000000");
    ck_assert_str_eq(dt("2026-11-27T12:00:00.5Z"), "2026-11-27 12:00:00.500000");
    ck_assert_str_eq(dt("2026-11-27T12:00:00.000123Z"), "2026-11-27 12:00:00.000123");
    ck_assert_str_eq(dt("2026-11-27T12:00:00.123456Z"), "2026-11-27 12:00:00.123456");
    ck_assert_str_eq(dt("2026-11-27T12:00:00+02:00"), "2026-11-27 10:00:00.000000");
    ck_assert_str_eq(dt("2026-11-27T12:00:00-05:30"), "2026-11-27 17:30:00.000000");
    ck_assert_str_eq(dt("2026-11-27T12:00:00-00:00"), "2026-11-27 12:00:00.000000");
    ck_assert_str_eq(dt("2026-11-27t12:00:00z"), "2026-11-27 12:00:00.000000");
    ck_assert_str_eq(dt("2026-12-31T23:30:00-01:00"), "2027-01-01 00:30:00.000000");
    ck_assert_str_eq(dt("2024-03-01T00:30:00.25+01:00"), "2024-02-29 23:30:00.250000");
    ck_assert_str_eq(dt("2023-03-01T00:30:00+01:00"), "2023-02-28 23:30:00.000000");
    ck_assert_str_eq(dt("2026-01-01T00:00:00+23:59"), "2025-12-31 00:01:00.000000");
    ck_assert_str_eq(dt("9999-12-31T23:59:59.999999Z"), "9999-12-31 23:59:59.999999");
    ck_assert_str_eq(dt("1000-01-01T00:00:00Z"), "1000-01-01 00:00:00.000000");
}
END_TEST

START_TEST(test_datetime_bad)
{
    const char *bad[] = {
        "2026-11-27",
        "2026-11-27T12:00:00",  /* no zone */
        "2026-11-27T12:00Z",    /* no seconds */
        "2026-11-27 12:00:00Z", /* space, not T */
        "2026-11-27T24:00:00Z",
        "2026-11-27T12:60:00Z",
        "2026-11-27T12:00:60Z", /* no leap seconds */
        "2026-11-27T12:00:00.Z",
        "2026-11-27T12:00:00.1234567Z", /* more than 6 digits */
        "2026-11-27T12:00:00+24:00",
        "2026-11-27T12:00:00+02:60",
        "2026-11-27T12:00:00+0200",
        "2026-11-27T12:00:00+02",
        "2026-11-27T12:00:00UTC",
        "2026-11-27T12:00:00Zx",
        "2026-11-27T12:00:00Z ",
        " 2026-11-27T12:00:00Z",
        "2023-02-29T12:00:00Z",
        "2026-11-27T1:00:00Z",
        "2026-11-27T12:0a:00Z",
        "9999-12-31T23:00:00-02:00", /* year 10000 in UTC */
        "1000-01-01T00:30:00+01:00", /* year 999 in UTC */
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(dt(bad[i]) == NULL, "took %s", bad[i]);
}
END_TEST

START_TEST(test_datetime_types_and_form)
{
    const char *s = "untouched";

    json("{\"t\":1700000000,\"n\":null}");
    ck_assert_int_eq(crm_valid_datetime(&v, "t", 1, &s), CRM_INVALID);
    ck_assert_int_eq(crm_valid_datetime(&v, "n", 0, &s), CRM_OK);
    ck_assert_ptr_null(s);

    form("t=2026-11-27T12%3A00%3A00%2B01%3A00&e=");
    ck_assert_int_eq(crm_valid_datetime(&v, "t", 1, &s), CRM_OK);
    ck_assert_str_eq(s, "2026-11-27 11:00:00.000000");
    ck_assert_int_eq(crm_valid_datetime(&v, "e", 0, &s), CRM_OK);
    ck_assert_ptr_null(s);
}
END_TEST

/* ---- tags ---- */

START_TEST(test_tags_json)
{
    const char **t = NULL;
    size_t n = 99;

    json("{\"tags\":[\"VIP\",\" b2b \",\"vip\",\"a_b-1\"]}");
    ck_assert_int_eq(crm_valid_tags(&v, "tags", 1, 20, 32, &t, &n), CRM_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(t[0], "vip");
    ck_assert_str_eq(t[1], "b2b");
    ck_assert_str_eq(t[2], "a_b-1");
    ck_assert_ptr_null(t[3]); /* NULL-terminated as well */

    json("{\"tags\":[],\"z\":null}");
    ck_assert_int_eq(crm_valid_tags(&v, "tags", 1, 20, 32, &t, &n), CRM_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_nonnull(t); /* empty list, not null */
    n = 99;
    ck_assert_int_eq(crm_valid_tags(&v, "z", 0, 20, 32, &t, &n), CRM_OK);
    ck_assert_ptr_null(t);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(crm_valid_tags(&v, "absent", 0, 20, 32, &t, &n), CRM_NOTFOUND);
}
END_TEST

static int tags_rc(const char *body, size_t max_items, size_t item_max)
{
    const char **t = NULL;
    size_t n = 99;
    json(body);
    int rc = crm_valid_tags(&v, "tags", 1, max_items, item_max, &t, &n);
    if (rc != CRM_OK) {
        ck_assert_ptr_null(t);
        ck_assert_uint_eq(n, 99);
    }
    return rc;
}

START_TEST(test_tags_json_bad)
{
    ck_assert_int_eq(tags_rc("{\"tags\":[\"a\",1]}", 20, 32), CRM_INVALID);
    expect_err("tags", "must be an array of strings");
    ck_assert_int_eq(tags_rc("{\"tags\":[null]}", 20, 32), CRM_INVALID);
    ck_assert_int_eq(tags_rc("{\"tags\":[[\"a\"]]}", 20, 32), CRM_INVALID);
    ck_assert_int_eq(tags_rc("{\"tags\":\"vip,b2b\"}", 20, 32), CRM_INVALID);
    expect_err("tags", "must be an array of strings");
    ck_assert_int_eq(tags_rc("{\"tags\":{\"a\":\"b\"}}", 20, 32), CRM_INVALID);

    ck_assert_int_eq(tags_rc("{\"tags\":[\"a b\"]}", 20, 32), CRM_INVALID);
    expect_err("tags", "each tag must be 1 to 32 characters of a-z, 0-9, _ or -");
    ck_assert_int_eq(tags_rc("{\"tags\":[\"\"]}", 20, 32), CRM_INVALID);
    ck_assert_int_eq(tags_rc("{\"tags\":[\"  \"]}", 20, 32), CRM_INVALID);
    ck_assert_int_eq(tags_rc("{\"tags\":[\"a,b\"]}", 20, 32), CRM_INVALID);
    ck_assert_int_eq(tags_rc("{\"tags\":[\"caf\xC3\xA9\"]}", 20, 32), CRM_INVALID);
    ck_assert_int_eq(tags_rc("{\"tags\":[\"a.b\"]}", 20, 32), CRM_INVALID);

    ck_assert_int_eq(tags_rc("{\"tags\":[\"abcde\"]}", 20, 5), CRM_OK);
    ck_assert_int_eq(tags_rc("{\"tags\":[\"abcdef\"]}", 20, 5), CRM_INVALID);
    expect_err("tags", "each tag must be 1 to 5 characters of a-z, 0-9, _ or -");

    ck_assert_int_eq(tags_rc("{\"tags\":[\"a\",\"b\",\"c\"]}", 3, 32), CRM_OK);
    ck_assert_int_eq(tags_rc("{\"tags\":[\"a\",\"b\",\"c\",\"d\"]}", 3, 32), CRM_INVALID);
    expect_err("tags", "must have at most 3 tags");
    /* Duplicates do not count against the cap. */
    ck_assert_int_eq(tags_rc("{\"tags\":[\"a\",\"A\",\"b\",\" a\",\"c\",\"b\"]}", 3, 32), CRM_OK);
}
END_TEST

START_TEST(test_tags_form)
{
    const char **t = NULL;
    size_t n = 99;

    form("tags=vip%2C+B2B%2Cvip&one=solo&e=&bad1=a%2C%2Cb&bad2=a%2C&bad3=+&bad4=a%2Cb+c");
    ck_assert_int_eq(crm_valid_tags(&v, "tags", 1, 20, 32, &t, &n), CRM_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(t[0], "vip");
    ck_assert_str_eq(t[1], "b2b");
    ck_assert_int_eq(crm_valid_tags(&v, "one", 1, 20, 32, &t, &n), CRM_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(t[0], "solo");
    ck_assert_int_eq(crm_valid_tags(&v, "e", 0, 20, 32, &t, &n), CRM_OK);
    ck_assert_ptr_null(t);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(crm_valid_tags(&v, "bad1", 1, 20, 32, &t, &n), CRM_INVALID);
    ck_assert_int_eq(crm_valid_tags(&v, "bad2", 1, 20, 32, &t, &n), CRM_INVALID);
    ck_assert_int_eq(crm_valid_tags(&v, "bad3", 1, 20, 32, &t, &n), CRM_INVALID);
    ck_assert_int_eq(crm_valid_tags(&v, "bad4", 1, 20, 32, &t, &n), CRM_INVALID);
    expect_err("bad1", "each tag must be 1 to 32 characters of a-z, 0-9, _ or -");

    form("tags=a,b,c,d");
    ck_assert_int_eq(crm_valid_tags(&v, "tags", 1, 3, 32, &t, &n), CRM_INVALID);
    expect_err("tags", "must have at most 3 tags");
}
END_TEST

START_TEST(test_tags_many)
{
    /* A long array of one repeated tag is one tag; many distinct ones stop at the cap. */
    enum { N = 5000 };
    char *body = malloc(N * 8 + 32);
    size_t len = (size_t)sprintf(body, "{\"tags\":[");
    for (int i = 0; i < N; i++)
        len += (size_t)sprintf(body + len, "%s\"x\"", i ? "," : "");
    strcpy(body + len, "]}");
    ck_assert_int_eq(tags_rc(body, 20, 32), CRM_OK);

    len = (size_t)sprintf(body, "{\"tags\":[");
    for (int i = 0; i < N; i++)
        len += (size_t)sprintf(body + len, "%s\"t%d\"", i ? "," : "", i);
    strcpy(body + len, "]}");
    ck_assert_int_eq(tags_rc(body, 20, 32), CRM_INVALID);
    expect_err("tags", "must have at most 20 tags");
    free(body);
}
END_TEST

/* ---- currency codes ---- */

START_TEST(test_currencies)
{
    static const char *const good[] = { "EUR", "USD", "GBP", "JPY", "CHF", "ZWG", "AED", "XOF" };
    static const char *const bad[] = { "eur", "EU",  "EURO", "",    "XXX", "XAU",
                                       "XTS", "ABC", "E R",  "ZZZ", "AAA" };
    for (size_t i = 0; i < CRM_NELEM(good); i++)
        ck_assert_msg(crm_valid_is_currency(good[i]), "%s should be valid", good[i]);
    for (size_t i = 0; i < CRM_NELEM(bad); i++)
        ck_assert_msg(!crm_valid_is_currency(bad[i]), "%s should be invalid", bad[i]);
    ck_assert(!crm_valid_is_currency(NULL));
}
END_TEST

static Suite *valid_suite(void)
{
    Suite *s = suite_create("crm_valid");
    TCase *tc = tcase_create("collector");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_errors_collected);
    tcase_add_test(tc, test_errors_capped);
    tcase_add_test(tc, test_unknown);
    tcase_add_test(tc, test_many_errors_at_once);
    tcase_add_test(tc, test_presence_json);
    tcase_add_test(tc, test_presence_form);
    suite_add_tcase(s, tc);

    tc = tcase_create("strings");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_string_lengths);
    tcase_add_test(tc, test_string_types);
    tcase_add_test(tc, test_email_good);
    tcase_add_test(tc, test_email_bad);
    tcase_add_test(tc, test_email_lengths);
    tcase_add_test(tc, test_email_types_and_form);
    tcase_add_test(tc, test_enum);
    tcase_add_test(tc, test_phone_good);
    tcase_add_test(tc, test_phone_bad);
    tcase_add_test(tc, test_phone_types_and_form);
    suite_add_tcase(s, tc);

    tc = tcase_create("numbers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_int_json);
    tcase_add_test(tc, test_int_null);
    tcase_add_test(tc, test_int_form);
    tcase_add_test(tc, test_bool);
    suite_add_tcase(s, tc);

    tc = tcase_create("time");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_is_date);
    tcase_add_test(tc, test_date);
    tcase_add_test(tc, test_datetime_good);
    tcase_add_test(tc, test_datetime_bad);
    tcase_add_test(tc, test_datetime_types_and_form);
    suite_add_tcase(s, tc);

    tc = tcase_create("tags");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_tags_json);
    tcase_add_test(tc, test_tags_json_bad);
    tcase_add_test(tc, test_tags_form);
    tcase_add_test(tc, test_tags_many);
    suite_add_tcase(s, tc);

    tc = tcase_create("currency");
    tcase_add_test(tc, test_currencies);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(valid_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
