/*
 * test_crm_api.c - the HTTP API conventions handlers share: entity tags
 * and preconditions, the time of a write, query integers, field checks
 * (no mass assignment), JSON output and list pages, created / replayed
 * answers (201, or 303 for a browser form) and the common problems.
 */
#include "crm_api.h"

#include "crm_body.h"
#include "crm_log.h"

#include "../fake_req.h"

#include <check.h>
#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static crm_arena *arena;
static fake_req f;

static void setup(void)
{
    arena = crm_arena_new(4096);
    fake_req_init(&f);
}

static void teardown(void)
{
    fake_req_done(&f);
    crm_arena_free(arena);
}

/*
 * A POST to /api/v1/orders with Accept: accept and a body of type ct (NULL:
 * header absent / no body); the output of the previous request is dropped.
 */
static crm_req *body_req(const char *accept, const char *ct, const char *body)
{
    fake_req_done(&f);
    fake_req_init(&f);
    fake_req_set(&f, "REQUEST_METHOD", "POST");
    fake_req_set(&f, "REQUEST_URI", "/api/v1/orders");
    fake_req_set(&f, "DOCUMENT_URI", "/api/v1/orders");
    fake_req_set(&f, "REQUEST_ID", "req-api-1");
    if (accept != NULL)
        fake_req_set(&f, "HTTP_ACCEPT", accept);
    if (ct != NULL)
        fake_req_set(&f, "CONTENT_TYPE", ct);
    if (body != NULL)
        fake_req_body(&f, body, strlen(body));
    f.out_max = 16384;
    return crm_req_new(arena, &fake_req_io, &f, 4096);
}

/* The same without a body. */
static crm_req *new_req(const char *accept)
{
    return body_req(accept, NULL, NULL);
}

/* One response was written, with this status line. */
static void assert_status(int status)
{
    char want[64];
    snprintf(want, sizeof(want), "Status: %d ", status);
    ck_assert_int_eq(f.writes, 1);
    ck_assert_msg(strncmp(f.out, want, strlen(want)) == 0, "%s", f.out);
}

/* Content-Length matches the body actually sent. */
static void assert_length(void)
{
    char cl[32];
    snprintf(cl, sizeof(cl), "%zu", strlen(fake_res_body(&f)));
    ck_assert_str_eq(fake_res_header(&f, "Content-Length"), cl);
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    ck_assert_msg(json_object_is_type(v, json_type_string), "%s is not a string", key);
    return json_object_get_string(v);
}

/*
 * The response checked as a problem: status, application/problem+json,
 * type "/problems/<slug>", instance and request id. Caller puts.
 */
static json_object *problem(int status, const char *slug)
{
    assert_status(status);
    ck_assert_str_eq(fake_res_header(&f, "Content-Type"), "application/problem+json");
    assert_length();
    json_object *o = fake_res_json(&f), *v;
    ck_assert(json_object_object_get_ex(o, "status", &v));
    ck_assert(json_object_is_type(v, json_type_int));
    ck_assert_int_eq(json_object_get_int(v), status);
    char type[128];
    snprintf(type, sizeof(type), "/problems/%s", slug);
    ck_assert_str_eq(jstr(o, "type"), type);
    ck_assert_str_eq(jstr(o, "instance"), "/api/v1/orders");
    ck_assert_str_eq(jstr(o, "request_id"), "req-api-1");
    return o;
}

/* The problem's errors array (borrowed from o); its length must be n. */
static json_object *errors(json_object *o, size_t n)
{
    json_object *a;
    ck_assert(json_object_object_get_ex(o, "errors", &a));
    ck_assert(json_object_is_type(a, json_type_array));
    ck_assert_uint_eq(json_object_array_length(a), n);
    return a;
}

/* errors[i] is {field, message}. */
static void assert_error(json_object *a, size_t i, const char *field, const char *message)
{
    json_object *e = json_object_array_get_idx(a, i);
    ck_assert_ptr_nonnull(e);
    ck_assert_str_eq(jstr(e, "field"), field);
    ck_assert_str_eq(jstr(e, "message"), message);
}

/* s parsed strictly as one JSON value (any type). Caller puts. */
static json_object *parse_json(const char *s)
{
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, s, (int)strlen(s));
    ck_assert_msg(json_tokener_get_error(tok) == json_tokener_success, "not JSON: %s", s);
    ck_assert_int_eq(json_tokener_get_parse_end(tok), strlen(s));
    json_tokener_free(tok);
    return o;
}

/* ---------------------------------------------------------------- */
/* Entity tags */

/* A GET with header name: value (value NULL: absent). */
static crm_req *get_with(const char *name, const char *value)
{
    fake_req_done(&f);
    fake_req_init(&f);
    fake_req_set(&f, "REQUEST_METHOD", "GET");
    fake_req_set(&f, "REQUEST_URI", "/api/v1/orders/7");
    fake_req_set(&f, "DOCUMENT_URI", "/api/v1/orders/7");
    fake_req_set(&f, "REQUEST_ID", "req-api-2");
    if (value != NULL)
        fake_req_set(&f, name, value);
    f.out_max = 16384;
    return crm_req_new(arena, &fake_req_io, &f, 4096);
}

START_TEST(test_conditional_helpers)
{
    crm_etags e;
    /* Well-formed or absent: CRM_OK and nothing sent. */
    crm_req *r = get_with("HTTP_IF_NONE_MATCH", "\"3\"");
    ck_assert_int_eq(crm_api_if_none_match(r, &e), CRM_OK);
    ck_assert_int_eq(f.writes, 0);
    /* A match: 304 with the ETag, and 1. */
    ck_assert_int_eq(crm_api_not_modified(r, &e, 3), 1);
    assert_status(304);
    ck_assert_str_eq(fake_res_header(&f, "ETag"), "\"3\"");
    /* No match, or no header: 0 and nothing sent. */
    r = get_with("HTTP_IF_NONE_MATCH", "\"3\"");
    ck_assert_int_eq(crm_api_if_none_match(r, &e), CRM_OK);
    ck_assert_int_eq(crm_api_not_modified(r, &e, 4), 0);
    ck_assert_int_eq(f.writes, 0);
    r = get_with("HTTP_IF_NONE_MATCH", NULL);
    ck_assert_int_eq(crm_api_if_none_match(r, &e), CRM_OK);
    ck_assert_int_eq(crm_api_not_modified(r, &e, 4), 0);
    ck_assert_int_eq(f.writes, 0);
    /* Malformed: a 400 naming the header, and its status. */
    r = get_with("HTTP_IF_NONE_MATCH", "3");
    ck_assert_int_eq(crm_api_if_none_match(r, &e), 400);
    assert_status(400);
    ck_assert_ptr_nonnull(strstr(fake_res_body(&f), "If-None-Match"));
    r = get_with("HTTP_IF_MATCH", "W/");
    ck_assert_int_eq(crm_api_if_match(r, &e), 400);
    assert_status(400);
    ck_assert_ptr_nonnull(strstr(fake_res_body(&f), "If-Match"));
    r = get_with("HTTP_IF_MATCH", "\"5\"");
    ck_assert_int_eq(crm_api_if_match(r, &e), CRM_OK);
    ck_assert(e.present && crm_api_etags_match(&e, 5, 1));
}
END_TEST

START_TEST(test_etags_absent)
{
    crm_etags e;
    memset(&e, 0x5a, sizeof(e));
    ck_assert_int_eq(crm_api_etags_parse(NULL, &e), CRM_OK);
    ck_assert_int_eq(e.present, 0);
    ck_assert_int_eq(e.star, 0);
    ck_assert_uint_eq(e.n, 0);
    /* Nothing matches an absent header. */
    ck_assert_int_eq(crm_api_etags_match(&e, 0, 0), 0);
    ck_assert_int_eq(crm_api_etags_match(&e, 1, 1), 0);
}
END_TEST

START_TEST(test_etags_star)
{
    static const char *const ok[] = { "*", " *", "* ", "  *  " };
    for (size_t i = 0; i < CRM_NELEM(ok); i++) {
        crm_etags e;
        ck_assert_msg(crm_api_etags_parse(ok[i], &e) == CRM_OK, "refused \"%s\"", ok[i]);
        ck_assert_int_eq(e.present, 1);
        ck_assert_int_eq(e.star, 1);
        ck_assert_uint_eq(e.n, 0);
        /* "*" matches any version, strongly and weakly. */
        ck_assert_int_eq(crm_api_etags_match(&e, 1, 1), 1);
        ck_assert_int_eq(crm_api_etags_match(&e, 987654321, 0), 1);
    }
    /* "*" stands alone. */
    static const char *const bad[] = { "**", "*,\"1\"", "* \"1\"", "*x", "\"1\", *" };
    for (size_t i = 0; i < CRM_NELEM(bad); i++) {
        crm_etags e;
        ck_assert_msg(crm_api_etags_parse(bad[i], &e) == CRM_INVALID, "accepted \"%s\"", bad[i]);
        ck_assert_int_eq(e.present, 1);
    }
}
END_TEST

START_TEST(test_etags_single)
{
    crm_etags e;
    ck_assert_int_eq(crm_api_etags_parse("\"7\"", &e), CRM_OK);
    ck_assert_int_eq(e.present, 1);
    ck_assert_int_eq(e.star, 0);
    ck_assert_uint_eq(e.n, 1);
    ck_assert_int_eq(e.v[0], 7);
    ck_assert_int_eq(e.weak[0], 0);

    ck_assert_int_eq(crm_api_etags_parse("\"0\"", &e), CRM_OK);
    ck_assert_int_eq(e.v[0], 0);
    ck_assert_int_eq(crm_api_etags_parse("\"007\"", &e), CRM_OK);
    ck_assert_int_eq(e.v[0], 7);

    /* Surrounding spaces are allowed. */
    ck_assert_int_eq(crm_api_etags_parse("  \"12\"  ", &e), CRM_OK);
    ck_assert_uint_eq(e.n, 1);
    ck_assert_int_eq(e.v[0], 12);

    ck_assert_int_eq(crm_api_etags_parse("W/\"3\"", &e), CRM_OK);
    ck_assert_uint_eq(e.n, 1);
    ck_assert_int_eq(e.v[0], 3);
    ck_assert_int_eq(e.weak[0], 1);
}
END_TEST

START_TEST(test_etags_list)
{
    crm_etags e;
    ck_assert_int_eq(crm_api_etags_parse("\"1\",W/\"2\" , \"3\",  W/\"44\"", &e), CRM_OK);
    ck_assert_int_eq(e.present, 1);
    ck_assert_int_eq(e.star, 0);
    ck_assert_uint_eq(e.n, 4);
    static const int64_t v[] = { 1, 2, 3, 44 };
    static const int weak[] = { 0, 1, 0, 1 };
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(e.v[i], v[i]);
        ck_assert_int_eq(e.weak[i], weak[i]);
    }

    /* Exactly eight tags fit; a ninth is refused, not dropped. */
    const char *eight = "\"1\", \"2\", \"3\", \"4\", \"5\", \"6\", \"7\", \"8\"";
    ck_assert_int_eq(crm_api_etags_parse(eight, &e), CRM_OK);
    ck_assert_uint_eq(e.n, 8);
    ck_assert_int_eq(e.v[7], 8);
    ck_assert_int_eq(
        crm_api_etags_parse("\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"", &e),
        CRM_INVALID);
    ck_assert_int_eq(
        crm_api_etags_parse("W/\"1\",W/\"2\",W/\"3\",W/\"4\",W/\"5\",W/\"6\",W/\"7\",W/\"8\",\"9\"",
                            &e),
        CRM_INVALID);
}
END_TEST

START_TEST(test_etags_digits)
{
    crm_etags e;
    /* 18 digits is the most a version may have. */
    ck_assert_int_eq(crm_api_etags_parse("\"999999999999999999\"", &e), CRM_OK);
    ck_assert_int_eq(e.v[0], 999999999999999999LL);
    ck_assert_int_eq(crm_api_etags_parse("W/\"123456789012345678\"", &e), CRM_OK);
    ck_assert_int_eq(e.v[0], 123456789012345678LL);
    /* 19 digits: refused before it could overflow, leading zeros or not. */
    static const char *const bad[] = {
        "\"1000000000000000000\"", "\"9223372036854775807\"",
        "\"9223372036854775808\"", "\"99999999999999999999999999\"",
        "\"0000000000000000001\"", "\"1\", \"9999999999999999999\"",
    };
    for (size_t i = 0; i < CRM_NELEM(bad); i++)
        ck_assert_msg(crm_api_etags_parse(bad[i], &e) == CRM_INVALID, "accepted %s", bad[i]);
}
END_TEST

START_TEST(test_etags_garbage)
{
    static const char *const bad[] = {
        "",              /* present but empty */
        " ",             /* only spaces */
        "7",             /* unquoted */
        "\"\"",          /* no digits */
        "\"abc\"",       /* an opaque tag that is not a version */
        "\"12a\"",       /* digits then junk */
        "\"-1\"",        /* sign */
        "\"+1\"",        /* sign */
        "\" 1\"",        /* space inside the quotes */
        "\"1 \"",        /* space inside the quotes */
        "\"1.5\"",       /* fraction */
        "'1'",           /* wrong quotes */
        "\"1\"x",        /* junk after the tag */
        "\"1\" \"2\"",   /* no comma */
        "\"1\",",        /* trailing comma */
        "\"1\", ",       /* trailing comma and space */
        ",\"1\"",        /* leading comma */
        "\"1\",,\"2\"",  /* empty element */
        "\"1\";\"2\"",   /* wrong separator */
        "w/\"1\"",       /* lower-case weak prefix */
        "W\"1\"",        /* half a prefix */
        "W/",            /* prefix alone */
        "W/ \"1\"",      /* space after the prefix */
        "W/W/\"1\"",     /* prefix twice */
        "\"1\", W/",     /* dangling prefix */
        "\"12",          /* unterminated quote */
        "\"",            /* a lone quote */
        "W/\"5",         /* unterminated weak tag */
        "\"1\", \"2",    /* unterminated second tag */
        "\"1\"\"2\"",    /* two tags glued */
        "\"1\"\n",       /* control character */
        "\xC3\xA9\"1\"", /* non-ASCII */
    };
    for (size_t i = 0; i < CRM_NELEM(bad); i++) {
        crm_etags e;
        ck_assert_msg(crm_api_etags_parse(bad[i], &e) == CRM_INVALID, "accepted \"%s\"", bad[i]);
        ck_assert_int_eq(e.present, 1);
    }
}
END_TEST

START_TEST(test_etags_match)
{
    crm_etags e;
    ck_assert_int_eq(crm_api_etags_parse("\"5\", W/\"6\"", &e), CRM_OK);
    /* If-Match: strong comparison, a weak tag never matches. */
    ck_assert_int_eq(crm_api_etags_match(&e, 5, 1), 1);
    ck_assert_int_eq(crm_api_etags_match(&e, 6, 1), 0);
    ck_assert_int_eq(crm_api_etags_match(&e, 7, 1), 0);
    /* If-None-Match: weak comparison, both match. */
    ck_assert_int_eq(crm_api_etags_match(&e, 5, 0), 1);
    ck_assert_int_eq(crm_api_etags_match(&e, 6, 0), 1);
    ck_assert_int_eq(crm_api_etags_match(&e, 7, 0), 0);
    ck_assert_int_eq(crm_api_etags_match(&e, 0, 0), 0);

    /* The same version weak and strong: the strong one matches strongly. */
    ck_assert_int_eq(crm_api_etags_parse("W/\"9\", \"9\"", &e), CRM_OK);
    ck_assert_int_eq(crm_api_etags_match(&e, 9, 1), 1);
    ck_assert_int_eq(crm_api_etags_parse("W/\"9\"", &e), CRM_OK);
    ck_assert_int_eq(crm_api_etags_match(&e, 9, 1), 0);
    ck_assert_int_eq(crm_api_etags_match(&e, 9, 0), 1);

    /* Large versions compare exactly. */
    ck_assert_int_eq(crm_api_etags_parse("\"999999999999999999\"", &e), CRM_OK);
    ck_assert_int_eq(crm_api_etags_match(&e, 999999999999999999LL, 1), 1);
    ck_assert_int_eq(crm_api_etags_match(&e, 999999999999999998LL, 1), 0);
}
END_TEST

START_TEST(test_etag)
{
    ck_assert_str_eq(crm_api_etag(arena, 1), "\"1\"");
    ck_assert_str_eq(crm_api_etag(arena, 0), "\"0\"");
    ck_assert_str_eq(crm_api_etag(arena, 123456789012345678LL), "\"123456789012345678\"");
    ck_assert_str_eq(crm_api_etag(arena, INT64_MAX), "\"9223372036854775807\"");
    /* What we send comes back through the parser as the same version. */
    static const int64_t v[] = { 1, 42, 1000000, 999999999999999999LL };
    for (size_t i = 0; i < CRM_NELEM(v); i++) {
        crm_etags e;
        const char *tag = crm_api_etag(arena, v[i]);
        ck_assert_int_eq(crm_api_etags_parse(tag, &e), CRM_OK);
        ck_assert_uint_eq(e.n, 1);
        ck_assert_int_eq(e.weak[0], 0);
        ck_assert_int_eq(crm_api_etags_match(&e, v[i], 1), 1);
        ck_assert_int_eq(crm_api_etags_parse(crm_arena_printf(arena, "W/%s", tag), &e), CRM_OK);
        ck_assert_int_eq(crm_api_etags_match(&e, v[i], 0), 1);
        ck_assert_int_eq(crm_api_etags_match(&e, v[i], 1), 0);
    }
    /* Distinct strings: each lives on in the arena. */
    const char *a = crm_api_etag(arena, 2), *b = crm_api_etag(arena, 3);
    ck_assert_str_eq(a, "\"2\"");
    ck_assert_str_eq(b, "\"3\"");
}
END_TEST

/* ---------------------------------------------------------------- */
/* Time */

/* s is "YYYY-MM-DD HH:MM:SS.ffffff" (sep at index 10): returns its
   seconds since the epoch, after checking each field's range. */
static time_t check_sql_time(const char *s, char sep)
{
    ck_assert_uint_eq(strlen(s), 26);
    for (size_t i = 0; i < 26; i++) {
        switch (i) {
        case 4:
        case 7:
            ck_assert_msg(s[i] == '-', "%s: '-' at %zu", s, i);
            break;
        case 10:
            ck_assert_msg(s[i] == sep, "%s: '%c' at %zu", s, sep, i);
            break;
        case 13:
        case 16:
            ck_assert_msg(s[i] == ':', "%s: ':' at %zu", s, i);
            break;
        case 19:
            ck_assert_msg(s[i] == '.', "%s: '.' at %zu", s, i);
            break;
        default:
            ck_assert_msg(isdigit((unsigned char)s[i]), "%s: digit at %zu", s, i);
        }
    }
    struct tm tm = { 0 };
    long usec = -1;
    ck_assert_int_eq(sscanf(s, "%4d-%2d-%2d%*c%2d:%2d:%2d.%6ld", &tm.tm_year, &tm.tm_mon,
                            &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &usec),
                     7);
    ck_assert_int_ge(tm.tm_mon, 1);
    ck_assert_int_le(tm.tm_mon, 12);
    ck_assert_int_ge(tm.tm_mday, 1);
    ck_assert_int_le(tm.tm_mday, 31);
    ck_assert_int_le(tm.tm_hour, 23);
    ck_assert_int_le(tm.tm_min, 59);
    ck_assert_int_le(tm.tm_sec, 60);
    ck_assert_int_ge(usec, 0);
    ck_assert_int_le(usec, 999999);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return timegm(&tm);
}

START_TEST(test_now)
{
    time_t before = time(NULL);
    const char *s = crm_api_now(arena);
    time_t after = time(NULL);
    ck_assert_ptr_nonnull(s);
    time_t t = check_sql_time(s, ' ');
    /* UTC from this host's clock: within the two readings around it. */
    ck_assert_int_ge(t, before - 1);
    ck_assert_int_le(t, after + 1);

    /* Each call is its own string in the arena, well formed. */
    const char *s2 = crm_api_now(arena);
    ck_assert_ptr_ne(s, s2);
    check_sql_time(s2, ' ');
    ck_assert_uint_eq(strlen(s), 26);
}
END_TEST

START_TEST(test_iso)
{
    ck_assert_str_eq(crm_api_iso(arena, "2026-11-27 12:00:00.123456"),
                     "2026-11-27T12:00:00.123456Z");
    ck_assert_str_eq(crm_api_iso(arena, "1970-01-01 00:00:00.000000"),
                     "1970-01-01T00:00:00.000000Z");
    ck_assert_str_eq(crm_api_iso(arena, "2026-11-27 12:00:00"), "2026-11-27T12:00:00Z");
    /* The input is left alone; the result is a new string. */
    char in[] = "2000-02-29 23:59:59.999999";
    const char *out = crm_api_iso(arena, in);
    ck_assert_str_eq(in, "2000-02-29 23:59:59.999999");
    ck_assert_str_eq(out, "2000-02-29T23:59:59.999999Z");
    ck_assert_ptr_ne(out, in);

    /* crm_api_now's form turns into a well-formed ISO time. */
    const char *iso = crm_api_iso(arena, crm_api_now(arena));
    ck_assert_uint_eq(strlen(iso), 27);
    ck_assert_int_eq(iso[26], 'Z');
    check_sql_time(crm_arena_strndup(arena, iso, 26), 'T');

    /* Anything shorter than a date only gains the Z. */
    ck_assert_str_eq(crm_api_iso(arena, "2026-11-27"), "2026-11-27Z");
    ck_assert_str_eq(crm_api_iso(arena, ""), "Z");
}
END_TEST

/* ---------------------------------------------------------------- */
/* Query integers and lists */

START_TEST(test_parse_int_good)
{
    int64_t v = -99;
    ck_assert_int_eq(crm_api_parse_int("0", 0, 10, &v), CRM_OK);
    ck_assert_int_eq(v, 0);
    ck_assert_int_eq(crm_api_parse_int("5", 1, 10, &v), CRM_OK);
    ck_assert_int_eq(v, 5);
    /* Both bounds are inclusive. */
    ck_assert_int_eq(crm_api_parse_int("1", 1, 100, &v), CRM_OK);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(crm_api_parse_int("100", 1, 100, &v), CRM_OK);
    ck_assert_int_eq(v, 100);
    ck_assert_int_eq(crm_api_parse_int("42", 42, 42, &v), CRM_OK);
    ck_assert_int_eq(v, 42);
    /* Leading zeros are still decimal. */
    ck_assert_int_eq(crm_api_parse_int("007", 0, 100, &v), CRM_OK);
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(crm_api_parse_int("010", 0, 100, &v), CRM_OK);
    ck_assert_int_eq(v, 10);
    /* 18 digits is the most accepted. */
    ck_assert_int_eq(crm_api_parse_int("999999999999999999", 0, INT64_MAX, &v), CRM_OK);
    ck_assert_int_eq(v, 999999999999999999LL);
    ck_assert_int_eq(crm_api_parse_int("000000000000000001", 0, INT64_MAX, &v), CRM_OK);
    ck_assert_int_eq(v, 1);
}
END_TEST

START_TEST(test_parse_int_bad)
{
    static const char *const bad[] = {
        "",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1a",
        "a1",
        "0x10",
        "1.5",
        "1e3",
        "1,000",
        "\xD9\xA1", /* ARABIC-INDIC DIGIT ONE */
        "1000000000000000000",
        "9223372036854775807",
        "9223372036854775808",
        "0000000000000000001",
        "123456789012345678901234567890",
    };
    for (size_t i = 0; i < CRM_NELEM(bad); i++) {
        int64_t v = -99;
        ck_assert_msg(crm_api_parse_int(bad[i], 0, INT64_MAX, &v) == CRM_INVALID, "accepted \"%s\"",
                      bad[i]);
        /* The output is untouched on failure. */
        ck_assert_int_eq(v, -99);
    }
    int64_t v = -99;
    ck_assert_int_eq(crm_api_parse_int(NULL, 0, 10, &v), CRM_INVALID);
    /* Out of [lo, hi]. */
    ck_assert_int_eq(crm_api_parse_int("0", 1, 100, &v), CRM_INVALID);
    ck_assert_int_eq(crm_api_parse_int("101", 1, 100, &v), CRM_INVALID);
    ck_assert_int_eq(crm_api_parse_int("1000", 1, 100, &v), CRM_INVALID);
    ck_assert_int_eq(crm_api_parse_int("41", 42, 42, &v), CRM_INVALID);
    ck_assert_int_eq(crm_api_parse_int("43", 42, 42, &v), CRM_INVALID);
    ck_assert_int_eq(v, -99);
}
END_TEST

START_TEST(test_in_list)
{
    static const char *const list[] = { "name", "email", "created_at", NULL };
    ck_assert_int_eq(crm_api_in_list(list, "name"), 1);
    ck_assert_int_eq(crm_api_in_list(list, "email"), 1);
    ck_assert_int_eq(crm_api_in_list(list, "created_at"), 1);
    /* Exact, case-sensitive, whole-string matches only. */
    ck_assert_int_eq(crm_api_in_list(list, "Name"), 0);
    ck_assert_int_eq(crm_api_in_list(list, "nam"), 0);
    ck_assert_int_eq(crm_api_in_list(list, "names"), 0);
    ck_assert_int_eq(crm_api_in_list(list, "created"), 0);
    ck_assert_int_eq(crm_api_in_list(list, ""), 0);
    static const char *const empty[] = { NULL };
    ck_assert_int_eq(crm_api_in_list(empty, "name"), 0);
    ck_assert_int_eq(crm_api_in_list(empty, ""), 0);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Fields */

START_TEST(test_is_null_json)
{
    crm_field items[] = {
        { .name = "a", .type = CRM_FIELD_NULL },
        { .name = "b", .type = CRM_FIELD_STRING, .str = "", .len = 0 },
        { .name = "c", .type = CRM_FIELD_STRING, .str = "x", .len = 1 },
        { .name = "d", .type = CRM_FIELD_INT, .i = 0 },
        { .name = "e", .type = CRM_FIELD_BOOL, .b = 0 },
        { .name = "g", .type = CRM_FIELD_ARRAY, .n = 0 },
    };
    crm_fields fs = { .form = 0, .items = items, .n = CRM_NELEM(items) };
    ck_assert_int_eq(crm_api_is_null(&fs, "a"), 1);
    /* In JSON an empty string is a value, not null. */
    ck_assert_int_eq(crm_api_is_null(&fs, "b"), 0);
    ck_assert_int_eq(crm_api_is_null(&fs, "c"), 0);
    ck_assert_int_eq(crm_api_is_null(&fs, "d"), 0);
    ck_assert_int_eq(crm_api_is_null(&fs, "e"), 0);
    ck_assert_int_eq(crm_api_is_null(&fs, "g"), 0);
    /* Absent is not null. */
    ck_assert_int_eq(crm_api_is_null(&fs, "zzz"), 0);
}
END_TEST

START_TEST(test_is_null_form)
{
    crm_field items[] = {
        { .name = "a", .type = CRM_FIELD_STRING, .str = "", .len = 0 },
        { .name = "b", .type = CRM_FIELD_STRING, .str = "x", .len = 1 },
        { .name = "c", .type = CRM_FIELD_STRING, .str = " ", .len = 1 },
    };
    crm_fields fs = { .form = 1, .items = items, .n = CRM_NELEM(items) };
    ck_assert_int_eq(crm_api_is_null(&fs, "a"), 1);
    ck_assert_int_eq(crm_api_is_null(&fs, "b"), 0);
    ck_assert_int_eq(crm_api_is_null(&fs, "c"), 0);
    ck_assert_int_eq(crm_api_is_null(&fs, "zzz"), 0);
}
END_TEST

/* Fields of body with content type ct, parsed as a handler would. */
static crm_fields body_fields(const char *ct, const char *body)
{
    crm_req *r = body_req(NULL, ct, body);
    crm_fields fs;
    ck_assert_int_eq(crm_body_fields(r, &fs), CRM_OK);
    ck_assert_int_eq(f.writes, 0);
    return fs;
}

START_TEST(test_is_null_parsed)
{
    /* What the real parsers make of a body agrees with crm_api_is_null. */
    crm_fields fs = body_fields("application/json", "{\"a\":null,\"b\":\"\",\"c\":\"x\",\"d\":0}");
    ck_assert_int_eq(fs.form, 0);
    ck_assert_int_eq(crm_api_is_null(&fs, "a"), 1);
    ck_assert_int_eq(crm_api_is_null(&fs, "b"), 0);
    ck_assert_int_eq(crm_api_is_null(&fs, "c"), 0);
    ck_assert_int_eq(crm_api_is_null(&fs, "d"), 0);
    ck_assert_int_eq(crm_api_is_null(&fs, "e"), 0);

    fs = body_fields("application/x-www-form-urlencoded", "a=&b=x&c=null");
    ck_assert_int_eq(fs.form, 1);
    ck_assert_int_eq(crm_api_is_null(&fs, "a"), 1);
    ck_assert_int_eq(crm_api_is_null(&fs, "b"), 0);
    /* The word null in a form is just text. */
    ck_assert_int_eq(crm_api_is_null(&fs, "c"), 0);
    ck_assert_int_eq(crm_api_is_null(&fs, "d"), 0);
}
END_TEST

static const char *const allowed[] = { "name", "email", "phone", NULL };
static const char *const readonly[] = { "id", "version", "created_at", NULL };

START_TEST(test_check_fields_all_allowed)
{
    crm_req *r = new_req(NULL);
    crm_field items[] = {
        { .name = "name", .type = CRM_FIELD_STRING, .str = "Ada", .len = 3 },
        { .name = "email", .type = CRM_FIELD_NULL },
        { .name = "phone", .type = CRM_FIELD_STRING, .str = "", .len = 0 },
    };
    ck_assert_int_eq(crm_api_check_fields(r, items, CRM_NELEM(items), NULL, allowed, readonly),
                     CRM_OK);
    ck_assert_int_eq(
        crm_api_check_fields(r, items, CRM_NELEM(items), "lines[2].", allowed, readonly), CRM_OK);
    /* No members at all; array items (no names) are not fields. */
    ck_assert_int_eq(crm_api_check_fields(r, items, 0, NULL, allowed, readonly), CRM_OK);
    crm_field unnamed[] = { { .name = NULL, .type = CRM_FIELD_INT, .i = 1 } };
    ck_assert_int_eq(crm_api_check_fields(r, unnamed, 1, NULL, allowed, readonly), CRM_OK);
    /* Nothing was sent. */
    ck_assert_int_eq(f.writes, 0);
    ck_assert_int_eq(crm_res_status(r), 0);
}
END_TEST

START_TEST(test_check_fields_rejects)
{
    crm_req *r = new_req(NULL);
    crm_field items[] = {
        { .name = "name", .type = CRM_FIELD_STRING, .str = "Ada", .len = 3 },
        { .name = "id", .type = CRM_FIELD_INT, .i = 5 },
        { .name = "is_admin", .type = CRM_FIELD_BOOL, .b = 1 },
        { .name = "created_at", .type = CRM_FIELD_STRING, .str = "x", .len = 1 },
        { .name = "Name", .type = CRM_FIELD_STRING, .str = "x", .len = 1 },
    };
    ck_assert_int_eq(crm_api_check_fields(r, items, CRM_NELEM(items), NULL, allowed, readonly),
                     400);
    ck_assert_int_eq(crm_res_status(r), 400);
    json_object *o = problem(400, "unknown-fields");
    ck_assert_str_eq(jstr(o, "title"), "Unknown or read-only fields");
    ck_assert_ptr_nonnull(jstr(o, "detail"));
    /* One error per refused member, in document order. */
    json_object *a = errors(o, 4);
    assert_error(a, 0, "id", "read-only field");
    assert_error(a, 1, "is_admin", "unknown field");
    assert_error(a, 2, "created_at", "read-only field");
    assert_error(a, 3, "Name", "unknown field");
    json_object_put(o);

    /* A read-only field that is also allowed is allowed. */
    r = new_req(NULL);
    static const char *const allow_id[] = { "id", NULL };
    crm_field id[] = { { .name = "id", .type = CRM_FIELD_INT, .i = 5 } };
    ck_assert_int_eq(crm_api_check_fields(r, id, 1, NULL, allow_id, readonly), CRM_OK);
    ck_assert_int_eq(f.writes, 0);

    /* Nothing allowed at all. */
    static const char *const none[] = { NULL };
    ck_assert_int_eq(crm_api_check_fields(r, items, 1, NULL, none, none), 400);
    o = problem(400, "unknown-fields");
    assert_error(errors(o, 1), 0, "name", "unknown field");
    json_object_put(o);
}
END_TEST

START_TEST(test_check_fields_prefix)
{
    crm_req *r = new_req(NULL);
    crm_field items[] = {
        { .name = "version", .type = CRM_FIELD_INT, .i = 1 },
        { .name = "email", .type = CRM_FIELD_STRING, .str = "a@b", .len = 3 },
        { .name = "price", .type = CRM_FIELD_INT, .i = 100 },
    };
    ck_assert_int_eq(
        crm_api_check_fields(r, items, CRM_NELEM(items), "lines[2].", allowed, readonly), 400);
    json_object *o = problem(400, "unknown-fields");
    json_object *a = errors(o, 2);
    assert_error(a, 0, "lines[2].version", "read-only field");
    assert_error(a, 1, "lines[2].price", "unknown field");
    json_object_put(o);

    /* An empty prefix is no prefix. */
    r = new_req(NULL);
    ck_assert_int_eq(crm_api_check_fields(r, items + 2, 1, "", allowed, readonly), 400);
    o = problem(400, "unknown-fields");
    assert_error(errors(o, 1), 0, "price", "unknown field");
    json_object_put(o);
}
END_TEST

START_TEST(test_check_fields_hostile)
{
    /* Names straight from a client: the problem stays valid JSON and does
       not let a name inject members. */
    const char *evil = "x\",\"status\":200,\"y\":\"\\\n\x01";
    crm_req *r = new_req(NULL);
    crm_field items[] = { { .name = evil, .type = CRM_FIELD_NULL } };
    ck_assert_int_eq(crm_api_check_fields(r, items, 1, "lines[0].", allowed, readonly), 400);
    json_object *o = problem(400, "unknown-fields");
    ck_assert(!json_object_object_get_ex(o, "y", NULL));
    char want[128];
    snprintf(want, sizeof(want), "lines[0].%s", evil);
    assert_error(errors(o, 1), 0, want, "unknown field");
    json_object_put(o);
}
END_TEST

START_TEST(test_check_fields_many)
{
    /* Far more bad members than a problem lists: still one valid 400. */
    crm_req *r = new_req(NULL);
    crm_field items[40];
    for (size_t i = 0; i < CRM_NELEM(items); i++)
        items[i] =
            (crm_field){ .name = crm_arena_printf(arena, "junk%zu", i), .type = CRM_FIELD_NULL };
    ck_assert_int_eq(
        crm_api_check_fields(r, items, CRM_NELEM(items), "lines[10].", allowed, readonly), 400);
    json_object *o = problem(400, "unknown-fields");
    json_object *a;
    ck_assert(json_object_object_get_ex(o, "errors", &a));
    size_t n = json_object_array_length(a);
    ck_assert_uint_ge(n, 1);
    ck_assert_uint_le(n, CRM_NELEM(items));
    for (size_t i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof(want), "lines[10].junk%zu", i);
        assert_error(a, i, want, "unknown field");
    }
    json_object_put(o);
}
END_TEST

/* ---------------------------------------------------------------- */
/* JSON output */

/* b's contents, wrapped as [ ... ], parsed strictly. Caller puts. */
static json_object *as_array(const crm_buf *b)
{
    char *s = crm_arena_printf(arena, "[%.*s]", (int)b->len, b->len ? b->data : "");
    json_object *o = parse_json(s);
    ck_assert(json_object_is_type(o, json_type_array));
    return o;
}

START_TEST(test_put_str)
{
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_api_put_str(&b, NULL);
    ck_assert_str_eq(b.data, "null");

    crm_buf_reset(&b);
    crm_api_put_str(&b, "Ada");
    ck_assert_str_eq(b.data, "\"Ada\"");

    crm_buf_reset(&b);
    crm_api_put_str(&b, "");
    ck_assert_str_eq(b.data, "\"\"");

    /* Quotes, backslashes, controls and UTF-8 come back intact. */
    const char *hard = "a\"b\\c\n\t\x01 </script> Zo\xC3\xAB \xF0\x9F\x98\x80";
    crm_buf_reset(&b);
    crm_api_put_str(&b, hard);
    crm_buf_putc(&b, ',');
    crm_api_put_str(&b, NULL);
    crm_buf_putc(&b, ',');
    crm_api_put_str(&b, "");
    json_object *o = as_array(&b);
    ck_assert_uint_eq(json_object_array_length(o), 3);
    json_object *v = json_object_array_get_idx(o, 0);
    ck_assert(json_object_is_type(v, json_type_string));
    ck_assert_str_eq(json_object_get_string(v), hard);
    ck_assert_ptr_null(json_object_array_get_idx(o, 1));
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(o, 2)), "");
    json_object_put(o);
    crm_buf_free(&b);
}
END_TEST

START_TEST(test_put_id)
{
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_api_put_id(&b, 5);
    ck_assert_str_eq(b.data, "5");
    crm_buf_reset(&b);
    crm_api_put_id(&b, 1);
    ck_assert_str_eq(b.data, "1");
    crm_buf_reset(&b);
    crm_api_put_id(&b, INT64_MAX);
    ck_assert_str_eq(b.data, "9223372036854775807");
    /* Not a positive id: null. */
    crm_buf_reset(&b);
    crm_api_put_id(&b, 0);
    ck_assert_str_eq(b.data, "null");
    crm_buf_reset(&b);
    crm_api_put_id(&b, -3);
    ck_assert_str_eq(b.data, "null");
    crm_buf_reset(&b);
    crm_api_put_id(&b, INT64_MIN);
    ck_assert_str_eq(b.data, "null");

    crm_buf_reset(&b);
    crm_api_put_id(&b, 42);
    crm_buf_putc(&b, ',');
    crm_api_put_id(&b, 0);
    json_object *o = as_array(&b);
    ck_assert_uint_eq(json_object_array_length(o), 2);
    ck_assert(json_object_is_type(json_object_array_get_idx(o, 0), json_type_int));
    ck_assert_int_eq(json_object_get_int64(json_object_array_get_idx(o, 0)), 42);
    ck_assert_ptr_null(json_object_array_get_idx(o, 1));
    json_object_put(o);
    crm_buf_free(&b);
}
END_TEST

/* A page of ids[0..n) with next_cursor and a count, parsed. Caller puts. */
static json_object *page(crm_buf *b, const int64_t *ids, size_t n, const char *next_cursor)
{
    crm_api_page_begin(b);
    for (size_t i = 0; i < n; i++) {
        crm_api_page_sep(b, i);
        crm_buf_puts(b, "{\"id\":");
        crm_api_put_id(b, ids[i]);
        crm_buf_putc(b, '}');
    }
    crm_api_page_end(b, next_cursor);
    crm_buf_printf(b, ",\"count\":%zu}", n);
    json_object *o = parse_json(b->data);
    ck_assert(json_object_is_type(o, json_type_object));
    return o;
}

/* A GET of the list with query string qs. */
static crm_req *list_req(const char *qs)
{
    fake_req_done(&f);
    fake_req_init(&f);
    fake_req_set(&f, "REQUEST_METHOD", "GET");
    fake_req_set(&f, "REQUEST_URI", crm_arena_printf(arena, "/api/v1/things?%s", qs));
    fake_req_set(&f, "QUERY_STRING", qs);
    return crm_req_new(arena, &fake_req_io, &f, 4096);
}

static const char *const list_sorts[] = { "-created_at", "name", NULL };

START_TEST(test_list_params_defaults_and_values)
{
    crm_field_error errs[4];
    size_t ne = 0;
    crm_api_list l;

    crm_api_list_params(list_req(""), "things", list_sorts, &l, errs, &ne);
    ck_assert_uint_eq(ne, 0);
    ck_assert_int_eq(l.limit, CRM_API_LIMIT_DEFAULT);
    ck_assert_int_eq(l.sort, 0);
    ck_assert_int_eq(l.count, 0);
    ck_assert_int_eq(l.after, 0);
    ck_assert_str_eq(l.scope, "things:-created_at");

    crm_api_list_params(list_req("limit=200&sort=name&count=true"), "things", list_sorts, &l, errs,
                        &ne);
    ck_assert_uint_eq(ne, 0);
    ck_assert_int_eq(l.limit, 200);
    ck_assert_int_eq(l.sort, 1);
    ck_assert_int_eq(l.count, 1);
    ck_assert_str_eq(l.scope, "things:name");

    crm_api_list_params(list_req("count=false&limit=1"), "things", list_sorts, &l, errs, &ne);
    ck_assert_uint_eq(ne, 0);
    ck_assert_int_eq(l.count, 0);
    ck_assert_int_eq(l.limit, 1);
}
END_TEST

START_TEST(test_list_params_errors)
{
    crm_field_error errs[4];
    size_t ne = 0;
    crm_api_list l;

    crm_api_list_params(list_req("limit=0&sort=age&count=yes&cursor=zzz"), "things", list_sorts, &l,
                        errs, &ne);
    ck_assert_uint_eq(ne, 4);
    ck_assert_str_eq(errs[0].field, "limit");
    ck_assert_str_eq(errs[1].field, "sort");
    ck_assert_str_eq(errs[1].message, "must be one of: -created_at, name");
    ck_assert_str_eq(errs[2].field, "count");
    ck_assert_str_eq(errs[3].field, "cursor");
    ck_assert_int_eq(l.limit, CRM_API_LIMIT_DEFAULT); /* a bad limit leaves the default */
    ck_assert_int_eq(l.after, 0);

    ne = 0;
    crm_api_list_params(list_req("limit=201"), "things", list_sorts, &l, errs, &ne);
    ck_assert_uint_eq(ne, 1);
}
END_TEST

/* A cursor is good for its own list and sort only. */
START_TEST(test_list_cursor_scope)
{
    crm_field_error errs[4];
    size_t ne = 0;
    crm_api_list l;
    crm_buf b;

    crm_cursor_set_key("k", 1);
    crm_buf_init(&b, 0);
    crm_api_list_params(list_req("sort=name&limit=2"), "things", list_sorts, &l, errs, &ne);
    crm_api_page_begin(&b);
    crm_api_page_finish(&b, arena, &l, 3, "Ada", 42, 0); /* 3 fetched > limit 2: more */
    json_object *o = json_tokener_parse(b.data), *v;
    ck_assert_ptr_nonnull(o);
    ck_assert(json_object_object_get_ex(o, "next_cursor", &v));
    char *cur = crm_arena_strdup(arena, json_object_get_string(v));
    ck_assert(!json_object_object_get_ex(o, "count", &v)); /* not asked */
    json_object_put(o);

    char *qs = crm_arena_printf(arena, "sort=name&cursor=%s", cur);
    crm_api_list_params(list_req(qs), "things", list_sorts, &l, errs, &ne);
    ck_assert_uint_eq(ne, 0);
    ck_assert_int_eq(l.after, 1);
    ck_assert_str_eq(l.after_value, "Ada");
    ck_assert_int_eq(l.after_id, 42);

    /* Another sort, or another list, refuses it. */
    crm_api_list_params(list_req(crm_arena_printf(arena, "cursor=%s", cur)), "things", list_sorts,
                        &l, errs, &ne);
    ck_assert_uint_eq(ne, 1);
    ck_assert_str_eq(errs[0].message, "belongs to another list or sort order");
    ne = 0;
    crm_api_list_params(list_req(qs), "others", list_sorts, &l, errs, &ne);
    ck_assert_uint_eq(ne, 1);
    ck_assert_int_eq(l.after, 0);

    /* The last page: no cursor; count when asked. */
    ne = 0;
    crm_api_list_params(list_req("count=true&limit=2"), "things", list_sorts, &l, errs, &ne);
    crm_api_page_begin(&b);
    crm_api_page_finish(&b, arena, &l, 2, "x", 1, 7);
    ck_assert_str_eq(b.data, "{\"items\":[],\"next_cursor\":null,\"count\":7}");
    crm_buf_free(&b);
}
END_TEST

START_TEST(test_page)
{
    crm_buf b;
    crm_buf_init(&b, 0);
    /* page_begin starts afresh whatever the buffer held. */
    crm_buf_puts(&b, "left over {{{");

    json_object *o = page(&b, NULL, 0, NULL), *v;
    ck_assert_str_eq(b.data, "{\"items\":[],\"next_cursor\":null,\"count\":0}");
    ck_assert(json_object_object_get_ex(o, "items", &v));
    ck_assert(json_object_is_type(v, json_type_array));
    ck_assert_uint_eq(json_object_array_length(v), 0);
    ck_assert(json_object_object_get_ex(o, "next_cursor", &v));
    ck_assert_ptr_null(v);
    json_object_put(o);

    static const int64_t ids[] = { 3, 2, 1 };
    o = page(&b, ids, 1, "c1");
    ck_assert_str_eq(b.data, "{\"items\":[{\"id\":3}],\"next_cursor\":\"c1\",\"count\":1}");
    json_object_put(o);

    o = page(&b, ids, 3, "eyJpZCI6MX0");
    ck_assert(json_object_object_get_ex(o, "items", &v));
    ck_assert_uint_eq(json_object_array_length(v), 3);
    for (size_t i = 0; i < 3; i++) {
        json_object *item = json_object_array_get_idx(v, i), *id;
        ck_assert(json_object_object_get_ex(item, "id", &id));
        ck_assert_int_eq(json_object_get_int64(id), ids[i]);
    }
    ck_assert_str_eq(jstr(o, "next_cursor"), "eyJpZCI6MX0");
    ck_assert(json_object_object_get_ex(o, "count", &v));
    ck_assert_int_eq(json_object_get_int(v), 3);
    json_object_put(o);

    /* A cursor with characters JSON must escape. */
    o = page(&b, ids, 2, "a\"b\\c");
    ck_assert_str_eq(jstr(o, "next_cursor"), "a\"b\\c");
    json_object_put(o);

    /* page_sep: nothing before the first item, one comma before others. */
    crm_buf_reset(&b);
    crm_api_page_sep(&b, 0);
    ck_assert_uint_eq(b.len, 0);
    crm_api_page_sep(&b, 1);
    crm_api_page_sep(&b, 7);
    ck_assert_str_eq(b.data, ",,");
    crm_buf_free(&b);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Responses */

START_TEST(test_send)
{
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_buf_puts(&b, "{\"id\":7,\"name\":\"Zo\xC3\xAB\"}");
    crm_req *r = new_req(NULL);
    ck_assert_int_eq(crm_api_send(r, 200, &b), 200);
    ck_assert_int_eq(crm_res_status(r), 200);
    assert_status(200);
    ck_assert_str_eq(fake_res_header(&f, "Content-Type"), CRM_API_JSON);
    ck_assert_str_eq(fake_res_header(&f, "Content-Type"), "application/json; charset=utf-8");
    assert_length();
    ck_assert_str_eq(fake_res_body(&f), b.data);

    /* Other statuses, and headers added before. */
    r = new_req(NULL);
    crm_res_header(r, "ETag", "\"3\"");
    ck_assert_int_eq(crm_api_send(r, 202, &b), 202);
    assert_status(202);
    ck_assert_str_eq(fake_res_header(&f, "ETag"), "\"3\"");
    ck_assert_str_eq(fake_res_body(&f), b.data);

    /* A second send on the same request is ignored. */
    ck_assert_int_eq(crm_api_send(r, 500, &b), 202);
    ck_assert_int_eq(f.writes, 1);
    crm_buf_free(&b);
}
END_TEST

START_TEST(test_created_json)
{
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_buf_puts(&b, "{\"id\":12,\"version\":1}");

    crm_req *r = new_req("application/json");
    ck_assert_int_eq(crm_api_created(r, 0, "/api/v1/orders/12", "/orders/12", "\"1\"", &b), 201);
    ck_assert_int_eq(crm_res_status(r), 201);
    assert_status(201);
    ck_assert_str_eq(fake_res_header(&f, "Location"), "/api/v1/orders/12");
    ck_assert_str_eq(fake_res_header(&f, "ETag"), "\"1\"");
    ck_assert_str_eq(fake_res_header(&f, "Content-Type"), CRM_API_JSON);
    assert_length();
    json_object *o = fake_res_json(&f), *v;
    ck_assert(json_object_object_get_ex(o, "id", &v));
    ck_assert_int_eq(json_object_get_int(v), 12);
    json_object_put(o);

    /* No ETag given: none sent. */
    r = new_req(NULL);
    ck_assert_int_eq(crm_api_created(r, 0, "/api/v1/orders/12", "/orders/12", NULL, &b), 201);
    assert_status(201);
    ck_assert_str_eq(fake_res_header(&f, "Location"), "/api/v1/orders/12");
    ck_assert_ptr_null(fake_res_header(&f, "ETag"));
    ck_assert_str_eq(fake_res_body(&f), b.data);

    /* A JSON body from a client that accepts HTML still gets 201. */
    r = new_req("text/html,application/xhtml+xml,*/*;q=0.8");
    ck_assert_int_eq(crm_api_created(r, 0, "/api/v1/orders/12", "/orders/12", "\"1\"", &b), 201);
    assert_status(201);
    ck_assert_str_eq(fake_res_header(&f, "Location"), "/api/v1/orders/12");

    /* A form from a client that does not want HTML (a script): 201 too. */
    r = new_req("application/json");
    ck_assert_int_eq(crm_api_created(r, 1, "/api/v1/orders/12", "/orders/12", "\"1\"", &b), 201);
    assert_status(201);
    ck_assert_str_eq(fake_res_header(&f, "Location"), "/api/v1/orders/12");
    r = new_req(NULL);
    ck_assert_int_eq(crm_api_created(r, 1, "/api/v1/orders/12", "/orders/12", "\"1\"", &b), 201);
    assert_status(201);
    crm_buf_free(&b);
}
END_TEST

START_TEST(test_created_form_html)
{
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_buf_puts(&b, "{\"id\":12}");
    crm_req *r = new_req("text/html,application/xhtml+xml,*/*;q=0.8");
    ck_assert_int_eq(crm_api_created(r, 1, "/api/v1/orders/12", "/orders/12", "\"1\"", &b), 303);
    ck_assert_int_eq(crm_res_status(r), 303);
    assert_status(303);
    /* See Other, to the page, with no body, ETag or content type. */
    ck_assert_str_eq(fake_res_header(&f, "Location"), "/orders/12");
    ck_assert_ptr_null(fake_res_header(&f, "ETag"));
    ck_assert_ptr_null(fake_res_header(&f, "Content-Type"));
    ck_assert_str_eq(fake_res_header(&f, "Content-Length"), "0");
    ck_assert_str_eq(fake_res_body(&f), "");
    crm_buf_free(&b);
}
END_TEST

START_TEST(test_replay)
{
    crm_idem idem;
    memset(&idem, 0, sizeof(idem));
    idem.scope = "orders.create";
    idem.key = "k-1";
    idem.replay = 1;
    idem.status = 201;
    idem.location = "/api/v1/orders/12";
    idem.etag = "\"1\"";
    idem.body = "{\"id\":12}";
    idem.body_len = strlen(idem.body);

    /* JSON: the stored answer again, marked as a replay. */
    crm_req *r = new_req("application/json");
    ck_assert_int_eq(crm_api_replay(r, 0, &idem, "/orders/12"), 201);
    assert_status(201);
    ck_assert_str_eq(fake_res_header(&f, "Idempotent-Replayed"), "true");
    ck_assert_str_eq(fake_res_header(&f, "Location"), "/api/v1/orders/12");
    ck_assert_str_eq(fake_res_header(&f, "ETag"), "\"1\"");
    ck_assert_str_eq(fake_res_body(&f), "{\"id\":12}");
    assert_length();

    /* A form without HTML wanted: the same. */
    r = new_req(NULL);
    ck_assert_int_eq(crm_api_replay(r, 1, &idem, "/orders/12"), 201);
    assert_status(201);
    ck_assert_str_eq(fake_res_body(&f), "{\"id\":12}");

    /* A browser form: 303 to the page, as the first time. */
    r = new_req("text/html");
    ck_assert_int_eq(crm_api_replay(r, 1, &idem, "/orders/12"), 303);
    assert_status(303);
    ck_assert_str_eq(fake_res_header(&f, "Location"), "/orders/12");
    ck_assert_str_eq(fake_res_body(&f), "");

    /* A stored failure is replayed as such, even to a browser. */
    idem.status = 422;
    idem.location = NULL;
    idem.etag = NULL;
    idem.body = "{\"status\":422}";
    idem.body_len = strlen(idem.body);
    r = new_req("text/html");
    ck_assert_int_eq(crm_api_replay(r, 1, &idem, "/orders/12"), 422);
    assert_status(422);
    ck_assert_str_eq(fake_res_header(&f, "Idempotent-Replayed"), "true");
    ck_assert_ptr_null(fake_res_header(&f, "Location"));
    ck_assert_str_eq(fake_res_body(&f), "{\"status\":422}");
}
END_TEST

/* ---------------------------------------------------------------- */
/* Problems */

START_TEST(test_bad_header)
{
    crm_req *r = new_req(NULL);
    ck_assert_int_eq(crm_api_bad_header(r, "If-Match", "must be \"*\" or a list of entity tags"),
                     400);
    ck_assert_int_eq(crm_res_status(r), 400);
    json_object *o = problem(400, "bad-header");
    ck_assert_str_eq(jstr(o, "title"), "Invalid request header");
    ck_assert_str_eq(jstr(o, "detail"), "must be \"*\" or a list of entity tags");
    assert_error(errors(o, 1), 0, "If-Match", "must be \"*\" or a list of entity tags");
    json_object_put(o);
}
END_TEST

START_TEST(test_bad_query)
{
    crm_req *r = new_req(NULL);
    crm_field_error errs[] = { { "limit", "must be an integer from 1 to 100" },
                               { "cursor", "is not a cursor from this list" } };
    ck_assert_int_eq(crm_api_bad_query(r, errs, 2), 400);
    json_object *o = problem(400, "bad-query");
    ck_assert_str_eq(jstr(o, "title"), "Invalid query string");
    ck_assert_ptr_nonnull(jstr(o, "detail"));
    json_object *a = errors(o, 2);
    assert_error(a, 0, "limit", "must be an integer from 1 to 100");
    assert_error(a, 1, "cursor", "is not a cursor from this list");
    json_object_put(o);

    /* Without errors the member is left out. */
    r = new_req(NULL);
    ck_assert_int_eq(crm_api_bad_query(r, NULL, 0), 400);
    o = problem(400, "bad-query");
    ck_assert(!json_object_object_get_ex(o, "errors", NULL));
    json_object_put(o);
}
END_TEST

START_TEST(test_invalid)
{
    crm_req *r = new_req(NULL);
    crm_field_error errs[] = { { "email", "must be a valid address" },
                               { "lines[0].qty", "must be at least 1" },
                               { "name", "must not be empty" } };
    ck_assert_int_eq(crm_api_invalid(r, errs, 3), 422);
    ck_assert_int_eq(crm_res_status(r), 422);
    json_object *o = problem(422, "validation");
    ck_assert_str_eq(jstr(o, "title"), "Invalid fields");
    ck_assert_ptr_nonnull(jstr(o, "detail"));
    json_object *a = errors(o, 3);
    assert_error(a, 0, "email", "must be a valid address");
    assert_error(a, 1, "lines[0].qty", "must be at least 1");
    assert_error(a, 2, "name", "must not be empty");
    json_object_put(o);
}
END_TEST

START_TEST(test_idem_reused)
{
    crm_req *r = new_req(NULL);
    ck_assert_int_eq(crm_api_idem_reused(r), 422);
    ck_assert_int_eq(crm_res_status(r), 422);
    json_object *o = problem(422, "idempotency-key-reused");
    ck_assert_str_eq(jstr(o, "title"), "Idempotency-Key reused");
    ck_assert_ptr_nonnull(jstr(o, "detail"));
    ck_assert(!json_object_object_get_ex(o, "errors", NULL));
    json_object_put(o);
}
END_TEST

/* A handle that was never connected: the options point at no server. */
static crm_db *unconnected_db(void)
{
    crm_db_opts o = { 0 };
    o.socket = "/nonexistent/crm-test-api.sock";
    o.user = "nobody";
    o.database = "nothing";
    o.timeout = 1;
    return crm_db_new(&o);
}

START_TEST(test_db_error)
{
    static const int retryable[] = { CRM_GONE, CRM_CONFLICT };
    for (size_t i = 0; i < CRM_NELEM(retryable); i++) {
        crm_db *db = unconnected_db();
        crm_req *r = new_req(NULL);
        ck_assert_int_eq(crm_api_db_error(r, db, retryable[i]), 503);
        ck_assert_int_eq(crm_res_status(r), 503);
        json_object *o = problem(503, "unavailable");
        ck_assert_str_eq(fake_res_header(&f, "Retry-After"), "1");
        /* Nothing about the database leaks out. */
        ck_assert(!json_object_object_get_ex(o, "errors", NULL));
        json_object_put(o);
        /* The rollback did not try to connect. */
        ck_assert_int_eq(crm_db_connected(db), 0);
        ck_assert_uint_eq(crm_db_connects(db), 0);
        crm_db_free(db);
    }

    static const int fatal[] = { CRM_ERR, CRM_DUP, CRM_INVALID };
    for (size_t i = 0; i < CRM_NELEM(fatal); i++) {
        crm_db *db = unconnected_db();
        crm_req *r = new_req(NULL);
        ck_assert_int_eq(crm_api_db_error(r, db, fatal[i]), 500);
        json_object *o = problem(500, "internal");
        ck_assert_ptr_null(fake_res_header(&f, "Retry-After"));
        json_object_put(o);
        ck_assert_uint_eq(crm_db_connects(db), 0);
        crm_db_free(db);
    }

    /* The handle is usable (and rolled back) after: a second error too. */
    crm_db *db = unconnected_db();
    crm_req *r = new_req(NULL);
    ck_assert_int_eq(crm_api_db_error(r, db, CRM_ERR), 500);
    r = new_req(NULL);
    ck_assert_int_eq(crm_api_db_error(r, db, CRM_GONE), 503);
    ck_assert_int_eq(crm_db_rollback(db), CRM_OK);
    crm_db_free(db);
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("crm_api");

    TCase *tc = tcase_create("etags");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_conditional_helpers);
    tcase_add_test(tc, test_etags_absent);
    tcase_add_test(tc, test_etags_star);
    tcase_add_test(tc, test_etags_single);
    tcase_add_test(tc, test_etags_list);
    tcase_add_test(tc, test_etags_digits);
    tcase_add_test(tc, test_etags_garbage);
    tcase_add_test(tc, test_etags_match);
    tcase_add_test(tc, test_etag);
    suite_add_tcase(s, tc);

    tc = tcase_create("values");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_now);
    tcase_add_test(tc, test_iso);
    tcase_add_test(tc, test_parse_int_good);
    tcase_add_test(tc, test_parse_int_bad);
    tcase_add_test(tc, test_in_list);
    tcase_add_test(tc, test_is_null_json);
    tcase_add_test(tc, test_is_null_form);
    tcase_add_test(tc, test_is_null_parsed);
    suite_add_tcase(s, tc);

    tc = tcase_create("fields");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_check_fields_all_allowed);
    tcase_add_test(tc, test_check_fields_rejects);
    tcase_add_test(tc, test_check_fields_prefix);
    tcase_add_test(tc, test_check_fields_hostile);
    tcase_add_test(tc, test_check_fields_many);
    suite_add_tcase(s, tc);

    tc = tcase_create("output");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_put_str);
    tcase_add_test(tc, test_put_id);
    tcase_add_test(tc, test_page);
    tcase_add_test(tc, test_list_params_defaults_and_values);
    tcase_add_test(tc, test_list_params_errors);
    tcase_add_test(tc, test_list_cursor_scope);
    tcase_add_test(tc, test_send);
    tcase_add_test(tc, test_created_json);
    tcase_add_test(tc, test_created_form_html);
    tcase_add_test(tc, test_replay);
    suite_add_tcase(s, tc);

    tc = tcase_create("problems");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_bad_header);
    tcase_add_test(tc, test_bad_query);
    tcase_add_test(tc, test_invalid);
    tcase_add_test(tc, test_idem_reused);
    tcase_add_test(tc, test_db_error);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* Only the errors logged for the 5xx problems this suite provokes. */
    crm_log_init("test_crm_api", CRM_LOG_ERROR);
    SRunner *sr = srunner_create(api_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
