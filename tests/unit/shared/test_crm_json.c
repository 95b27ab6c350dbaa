/*
 * test_crm_json.c - strict JSON parsing into fields, and JSON output.
 *
 * Boundaries pinned here: nesting counts containers with the top-level
 * object as depth 1, CRM_JSON_MAX_DEPTH (8) passes and 9 fails whatever
 * the innermost container holds; at most 10000 values (keys not counted);
 * an integer literal that fits int64 is CRM_FIELD_INT, every other number
 * is CRM_FIELD_NUMBER with its text.
 */
#include "crm_json.h"

#include <check.h>
#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static crm_arena *arena;
static crm_fields fs;
static const char *why;

static void setup(void)
{
    arena = crm_arena_new(4096);
}

static void teardown(void)
{
    crm_arena_free(arena);
}

static int parse_n(const char *s, size_t n)
{
    fs.form = 7; /* sentinels: outputs are set only on success */
    fs.items = NULL;
    fs.n = 999;
    why = NULL;
    return crm_json_parse(arena, s, n, &fs, &why);
}

static int parse(const char *s)
{
    return parse_n(s, strlen(s));
}

/* The input is named in every failure message; Check's line is the helper's. */
static void ok(const char *s)
{
    int rc = parse(s);
    ck_assert_msg(rc == CRM_OK, "%s: rc %d (%s)", s, rc, why ? why : "");
    ck_assert_int_eq(fs.form, 0);
}

static void bad_n(const char *s, size_t n, const char *want)
{
    int rc = parse_n(s, n);
    const char *shown = s ? s : "(null)";
    ck_assert_msg(rc == CRM_INVALID, "%s: rc %d", shown, rc);
    ck_assert_msg(why != NULL && strcmp(why, want) == 0, "%s: why \"%s\", want \"%s\"", shown,
                  why ? why : "(null)", want);
    ck_assert_uint_eq(fs.n, 999);
    ck_assert_int_eq(fs.form, 7);
}

static void bad(const char *s, const char *want)
{
    bad_n(s, strlen(s), want);
}

static const crm_field *get(const char *name)
{
    const crm_field *f = crm_fields_get(&fs, name);
    ck_assert_msg(f != NULL, "no field %s", name);
    return f;
}

/* k nested objects ({"a":{"a":...}}); the innermost holds "a":inner, or nothing. */
static char *nest_objects(int k, const char *inner)
{
    size_t n = (size_t)k * 6 + (inner ? strlen(inner) + 4 : 0) + 1;
    char *s = malloc(n), *p = s;
    for (int i = 0; i < k - 1; i++)
        p += sprintf(p, "{\"a\":");
    p += sprintf(p, inner ? "{\"a\":%s}" : "{}", inner ? inner : "");
    for (int i = 0; i < k - 1; i++)
        *p++ = '}';
    *p = '\0';
    return s;
}

/* The top-level object holding k-1 nested arrays: k containers in all. */
static char *nest_arrays(int k, const char *inner)
{
    size_t n = (size_t)k * 2 + (inner ? strlen(inner) : 0) + 8;
    char *s = malloc(n), *p = s;
    p += sprintf(p, "{\"a\":");
    for (int i = 0; i < k - 1; i++)
        *p++ = '[';
    p += sprintf(p, "%s", inner ? inner : "");
    for (int i = 0; i < k - 1; i++)
        *p++ = ']';
    p += sprintf(p, "}");
    return s;
}

START_TEST(test_types)
{
    ok(" {\"s\":\"text\", \"i\":-42, \"t\":true, \"f\":false, \"z\":null, \"d\":2.5,"
       " \"arr\":[1,\"x\",null], \"obj\":{\"k\":\"v\"}, \"e\":\"\", \"ea\":[], \"eo\":{}} \n");
    ck_assert_uint_eq(fs.n, 11);
    ck_assert_int_eq(get("s")->type, CRM_FIELD_STRING);
    ck_assert_str_eq(get("s")->str, "text");
    ck_assert_uint_eq(get("s")->len, 4);
    ck_assert_int_eq(get("i")->type, CRM_FIELD_INT);
    ck_assert_int_eq(get("i")->i, -42);
    ck_assert_int_eq(get("t")->type, CRM_FIELD_BOOL);
    ck_assert_int_eq(get("t")->b, 1);
    ck_assert_int_eq(get("f")->b, 0);
    ck_assert_int_eq(get("z")->type, CRM_FIELD_NULL);
    ck_assert_int_eq(get("d")->type, CRM_FIELD_NUMBER);
    ck_assert_double_eq(get("d")->d, 2.5);
    ck_assert_str_eq(get("d")->str, "2.5");

    const crm_field *arr = get("arr");
    ck_assert_int_eq(arr->type, CRM_FIELD_ARRAY);
    ck_assert_uint_eq(arr->n, 3);
    ck_assert_ptr_null(arr->items[0].name);
    ck_assert_int_eq(arr->items[0].type, CRM_FIELD_INT);
    ck_assert_str_eq(arr->items[1].str, "x");
    ck_assert_int_eq(arr->items[2].type, CRM_FIELD_NULL);

    const crm_field *obj = get("obj");
    ck_assert_int_eq(obj->type, CRM_FIELD_OBJECT);
    ck_assert_uint_eq(obj->n, 1);
    ck_assert_str_eq(obj->items[0].name, "k");
    ck_assert_str_eq(obj->items[0].str, "v");

    ck_assert_uint_eq(get("e")->len, 0);
    ck_assert_int_eq(get("ea")->type, CRM_FIELD_ARRAY);
    ck_assert_uint_eq(get("ea")->n, 0);
    ck_assert_int_eq(get("eo")->type, CRM_FIELD_OBJECT);
    ck_assert_uint_eq(get("eo")->n, 0);
}
END_TEST

START_TEST(test_document_order)
{
    ok("{\"z\":1,\"a\":2,\"m\":3}");
    ck_assert_str_eq(fs.items[0].name, "z");
    ck_assert_str_eq(fs.items[1].name, "a");
    ck_assert_str_eq(fs.items[2].name, "m");
    ok("{}");
    ck_assert_uint_eq(fs.n, 0);
}
END_TEST

START_TEST(test_strings_unescaped)
{
    ok("{\"q\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\", \"e\":\"\\u00e9\\u00E9\", "
       "\"p\":\"\\ud83d\\ude00\","
       " \"raw\":\"caf\xC3\xA9 \xF0\x9F\x98\x80\", \"bom\":\"\xEF\xBB\xBF\", \"k\\u0065y\":1}");
    ck_assert_str_eq(get("q")->str, "a\"b\\c/d\b\f\n\r\t");
    ck_assert_str_eq(get("e")->str, "\xC3\xA9\xC3\xA9");
    ck_assert_uint_eq(get("e")->len, 4);
    ck_assert_str_eq(get("p")->str, "\xF0\x9F\x98\x80");
    ck_assert_str_eq(get("raw")->str, "caf\xC3\xA9 \xF0\x9F\x98\x80");
    ck_assert_str_eq(get("bom")->str, "\xEF\xBB\xBF"); /* U+FEFF inside a string is data */
    ck_assert_int_eq(get("key")->i, 1);
}
END_TEST

START_TEST(test_empty_and_whitespace)
{
    bad("", "body is empty");
    bad_n(NULL, 0, "body is empty");
    bad(" ", "body is empty");
    bad(" \t\r\n ", "body is empty");
    ok("\t\r\n {}\t\r\n ");
    bad("\f{}", "malformed JSON"); /* form feed is not JSON whitespace */
    bad("{}\xC2\xA0", "trailing data after JSON");
    bad("\xC2\xA0{}", "malformed JSON");
}
END_TEST

START_TEST(test_bom)
{
    bad("\xEF\xBB\xBF{}", "byte order mark not allowed");
    bad("\xEF\xBB\xBF{\"a\":1}", "byte order mark not allowed");
}
END_TEST

START_TEST(test_top_level)
{
    bad("[]", "top level must be an object");
    bad("[{\"a\":1}]", "top level must be an object");
    bad("1", "top level must be an object");
    bad("-1", "top level must be an object");
    bad("\"s\"", "top level must be an object");
    bad("null", "top level must be an object");
    bad("true", "top level must be an object");
    bad("}", "malformed JSON");
    bad("x", "malformed JSON");
}
END_TEST

START_TEST(test_truncated)
{
    bad("{", "unexpected end of JSON");
    bad("{\"a\"", "unexpected end of JSON");
    bad("{\"a\":", "unexpected end of JSON");
    bad("{\"a\":1", "unexpected end of JSON");
    bad("{\"a\":1,", "unexpected end of JSON");
    bad("{\"a\":[1,2", "unexpected end of JSON");
    bad("{\"a\":{\"b\":{}", "unexpected end of JSON");
    bad("{\"a\":\"abc", "unexpected end of JSON");
    bad("{\"a\":\"abc\\", "unexpected end of JSON");
    bad("{\"a\":\"\\u12", "unexpected end of JSON");
    bad("{\"a\":\"\\ud83d", "string contains a lone surrogate");
    bad("{\"a\":tr", "malformed JSON");
    bad("{\"a\":-", "invalid number");
    bad("{\"a\":1.", "invalid number");
    bad("{\"a\":1e", "invalid number");
    /* Cut inside a UTF-8 sequence. */
    bad("{\"a\":\"\xF0\x9F", "invalid UTF-8");
    bad_n("{\"a\":\"\xC3\xA9\"}", 7, "invalid UTF-8");
}
END_TEST

START_TEST(test_trailing)
{
    bad("{}x", "trailing data after JSON");
    bad("{} x", "trailing data after JSON");
    bad("{}{}", "trailing data after JSON");
    bad("{} {}", "trailing data after JSON");
    bad("{}]", "trailing data after JSON");
    bad("{},", "trailing data after JSON");
    bad("{}1", "trailing data after JSON");
    bad("{}\"\"", "trailing data after JSON");
    bad("{}/* comment */", "trailing data after JSON");
    bad("{}\n//", "trailing data after JSON");
    bad("{/* comment */}", "malformed JSON");
    bad("{\"a\":1 // comment\n}", "malformed JSON");
    /* A NUL after the object is not invisible. */
    bad_n("{}\0", 3, "NUL byte not allowed");
}
END_TEST

START_TEST(test_grammar)
{
    bad("{\"a\":1,}", "malformed JSON");
    bad("{\"a\":[1,]}", "malformed JSON");
    bad("{\"a\":[,1]}", "malformed JSON");
    bad("{,\"a\":1}", "malformed JSON");
    bad("{\"a\":1 \"b\":2}", "malformed JSON");
    bad("{\"a\" 1}", "malformed JSON");
    bad("{\"a\"::1}", "malformed JSON");
    bad("{\"a\":[1 2]}", "malformed JSON");
    bad("{\"a\":1]", "malformed JSON");
    bad("{\"a\":[1}", "malformed JSON");
    bad("{a:1}", "malformed JSON");
    bad("{1:1}", "malformed JSON");
    bad("{'a':1}", "malformed JSON");
    bad("{\"a\":'x'}", "malformed JSON");
    bad("{\"a\":NaN}", "malformed JSON");
    bad("{\"a\":Infinity}", "malformed JSON");
    bad("{\"a\":-Infinity}", "invalid number");
    bad("{\"a\":True}", "malformed JSON");
    bad("{\"a\":nul}", "malformed JSON");
    bad("{\"a\":nulll}", "malformed JSON");
    bad("{\"a\":truex}", "malformed JSON");
    bad("{\"a\":undefined}", "malformed JSON");
    bad("{\"a\":1}}", "trailing data after JSON");
}
END_TEST

START_TEST(test_bad_utf8)
{
    bad("{\"a\":\"\xC0\x80\"}", "invalid UTF-8");         /* overlong NUL */
    bad("{\"a\":\"\xE0\x80\xAF\"}", "invalid UTF-8");     /* overlong '/' */
    bad("{\"a\":\"\xED\xA0\x80\"}", "invalid UTF-8");     /* surrogate */
    bad("{\"a\":\"\xF4\x90\x80\x80\"}", "invalid UTF-8"); /* > U+10FFFF */
    bad("{\"a\":\"\xF0\x9F\x98\"}", "invalid UTF-8");     /* truncated */
    bad("{\"a\":\"\x80\"}", "invalid UTF-8");             /* stray continuation */
    bad("{\"a\":\"\xFF\"}", "invalid UTF-8");
    bad("{\"\xC3\":1}", "invalid UTF-8"); /* in a key */
    bad("{\"a\":1}\xC3", "invalid UTF-8");
    bad_n("{\"a\":\"x\0y\"}", 11, "NUL byte not allowed");
}
END_TEST

START_TEST(test_string_escapes)
{
    bad("{\"a\":\"\\u0000\"}", "string contains a NUL character");
    bad("{\"a\":\"x\\u0000y\"}", "string contains a NUL character");
    bad("{\"a\\u0000b\":1}", "string contains a NUL character"); /* json-c would cut the key */
    bad("{\"a\":\"\\ud800\"}", "string contains a lone surrogate");
    bad("{\"a\":\"\\uDBFF\"}", "string contains a lone surrogate");
    bad("{\"a\":\"\\udc00\"}", "string contains a lone surrogate");
    bad("{\"a\":\"\\ud800x\"}", "string contains a lone surrogate");
    bad("{\"a\":\"\\ud800\\u0041\"}", "string contains a lone surrogate");
    bad("{\"a\":\"\\ud800\\ud800\"}", "string contains a lone surrogate");
    bad("{\"a\":\"\\udc00\\ud800\"}", "string contains a lone surrogate"); /* reversed pair */
    bad("{\"\\udfff\":1}", "string contains a lone surrogate");
    bad("{\"a\":\"\\x41\"}", "invalid escape in string");
    bad("{\"a\":\"\\'\"}", "invalid escape in string");
    bad("{\"a\":\"\\U0041\"}", "invalid escape in string");
    bad("{\"a\":\"\\u00g1\"}", "invalid escape in string");
    bad("{\"a\":\"\\u41\"}", "invalid escape in string");
    bad("{\"a\":\"tab\there\"}", "unescaped control character in string");
    bad("{\"a\":\"line\nbreak\"}", "unescaped control character in string");
    bad("{\"a\":\"\x1f\"}", "unescaped control character in string");
    ok("{\"a\":\"\x7f\"}"); /* DEL is not a control character to JSON */
    ok("{\"a\":\"\\u0001\\u001f\"}");
    ck_assert_uint_eq(get("a")->len, 2);
}
END_TEST

START_TEST(test_numbers_int64)
{
    ok("{\"max\":9223372036854775807,\"min\":-9223372036854775808,\"zero\":0,\"nz\":-0}");
    ck_assert_int_eq(get("max")->type, CRM_FIELD_INT);
    ck_assert_int_eq(get("max")->i, INT64_MAX);
    ck_assert_int_eq(get("min")->type, CRM_FIELD_INT);
    ck_assert_int_eq(get("min")->i, INT64_MIN);
    ck_assert_int_eq(get("zero")->i, 0);
    ck_assert_int_eq(get("nz")->type, CRM_FIELD_INT);
    ck_assert_int_eq(get("nz")->i, 0);
}
END_TEST

START_TEST(test_numbers_out_of_range)
{
    ok("{\"a\":9223372036854775808,\"b\":-9223372036854775809,\"c\":18446744073709551616,"
       "\"d\":123456789012345678901234567890,\"e\":1e400,\"f\":-1e400,\"g\":1e-400}");
    ck_assert_int_eq(get("a")->type, CRM_FIELD_NUMBER);
    ck_assert_str_eq(get("a")->str, "9223372036854775808");
    ck_assert_int_eq(get("b")->type, CRM_FIELD_NUMBER);
    ck_assert_str_eq(get("b")->str, "-9223372036854775809");
    ck_assert_int_eq(get("c")->type, CRM_FIELD_NUMBER);
    ck_assert_str_eq(get("c")->str, "18446744073709551616");
    ck_assert_str_eq(get("d")->str, "123456789012345678901234567890");
    ck_assert_int_eq(get("e")->type, CRM_FIELD_NUMBER);
    ck_assert_str_eq(get("e")->str, "1e400");
    ck_assert(isinf(get("e")->d) && get("e")->d > 0);
    ck_assert(isinf(get("f")->d) && get("f")->d < 0);
    ck_assert_str_eq(get("g")->str, "1e-400");
    ck_assert_uint_eq(get("g")->len, 6);
}
END_TEST

START_TEST(test_numbers_fractions)
{
    ok("{\"a\":1.5,\"b\":1.0,\"c\":1e2,\"d\":1E+2,\"e\":-0.5e-3,\"f\":0.0}");
    ck_assert_int_eq(get("a")->type, CRM_FIELD_NUMBER);
    ck_assert_double_eq(get("a")->d, 1.5);
    /* Integral values written with a fraction or exponent are not integers. */
    ck_assert_int_eq(get("b")->type, CRM_FIELD_NUMBER);
    ck_assert_str_eq(get("b")->str, "1.0");
    ck_assert_int_eq(get("c")->type, CRM_FIELD_NUMBER);
    ck_assert_double_eq(get("c")->d, 100.0);
    ck_assert_str_eq(get("d")->str, "1E+2");
    ck_assert_double_eq(get("e")->d, -0.0005);
    ck_assert_int_eq(get("f")->type, CRM_FIELD_NUMBER);
}
END_TEST

START_TEST(test_numbers_malformed)
{
    bad("{\"a\":01}", "invalid number");
    bad("{\"a\":00}", "invalid number");
    bad("{\"a\":-01}", "invalid number");
    bad("{\"a\":1.}", "invalid number");
    bad("{\"a\":.5}", "malformed JSON");
    bad("{\"a\":+1}", "malformed JSON");
    bad("{\"a\":-}", "invalid number");
    bad("{\"a\":--1}", "invalid number");
    bad("{\"a\":1e}", "invalid number");
    bad("{\"a\":1e+}", "invalid number");
    bad("{\"a\":1.5.5}", "invalid number");
    bad("{\"a\":1.5e3e3}", "invalid number");
    bad("{\"a\":0x10}", "malformed JSON");
    bad("{\"a\":1-2}", "invalid number");
    bad("{\"a\":1_000}", "malformed JSON");
}
END_TEST

/* Numbers are matched to their literal text in document order. */
START_TEST(test_numbers_in_order)
{
    ok("{\"s\":\"12 [3] {4}: 5\",\"1\":[1,2.5,{\"9\":99999999999999999999,\"k\":\"7\"},[],-3],"
       "\"n\":{\"x\":{\"y\":[8e1]}},\"last\":6}");
    const crm_field *arr = get("1");
    ck_assert_str_eq(get("s")->str, "12 [3] {4}: 5");
    ck_assert_int_eq(arr->items[0].i, 1);
    ck_assert_str_eq(arr->items[1].str, "2.5");
    ck_assert_str_eq(arr->items[2].items[0].str, "99999999999999999999");
    ck_assert_str_eq(arr->items[2].items[1].str, "7");
    ck_assert_int_eq(arr->items[4].i, -3);
    ck_assert_str_eq(get("n")->items[0].items[0].items[0].str, "8e1");
    ck_assert_int_eq(get("last")->i, 6);
}
END_TEST

START_TEST(test_depth_objects)
{
    char *s;

    s = nest_objects(CRM_JSON_MAX_DEPTH, "1");
    ok(s);
    free(s);
    s = nest_objects(CRM_JSON_MAX_DEPTH, NULL);
    ok(s);
    free(s);
    s = nest_objects(CRM_JSON_MAX_DEPTH, "[]");
    bad(s, "nesting too deep");
    free(s);
    s = nest_objects(CRM_JSON_MAX_DEPTH + 1, "1");
    bad(s, "nesting too deep");
    free(s);
    s = nest_objects(CRM_JSON_MAX_DEPTH + 1, NULL);
    bad(s, "nesting too deep");
    free(s);
}
END_TEST

START_TEST(test_depth_arrays)
{
    char *s;

    s = nest_arrays(CRM_JSON_MAX_DEPTH, "1");
    ok(s);
    const crm_field *f = get("a");
    for (int i = 1; i < CRM_JSON_MAX_DEPTH - 1; i++) {
        ck_assert_int_eq(f->type, CRM_FIELD_ARRAY);
        f = &f->items[0];
    }
    ck_assert_int_eq(f->items[0].i, 1);
    free(s);
    s = nest_arrays(CRM_JSON_MAX_DEPTH, "");
    ok(s);
    free(s);
    s = nest_arrays(CRM_JSON_MAX_DEPTH + 1, "1");
    bad(s, "nesting too deep");
    free(s);
    s = nest_arrays(CRM_JSON_MAX_DEPTH + 1, "");
    bad(s, "nesting too deep");
    free(s);
    s = nest_arrays(CRM_JSON_MAX_DEPTH, "{}");
    bad(s, "nesting too deep");
    free(s);
}
END_TEST

START_TEST(test_depth_hostile)
{
    enum { N = 1000000 };
    char *s = malloc(N + 8);

    /* A megabyte of '[' is refused by counting, before any tree exists. */
    memcpy(s, "{\"a\":", 5);
    memset(s + 5, '[', N);
    bad_n(s, N + 5, "nesting too deep");
    memset(s + 5, '{', N);
    bad_n(s, N + 5, "nesting too deep");
    free(s);
}
END_TEST

/* {"a":[1,1,...]} with k ones: k + 2 values. */
static char *ones(int k)
{
    char *s = malloc((size_t)k * 2 + 16), *p = s;
    p += sprintf(p, "{\"a\":[");
    for (int i = 0; i < k; i++)
        p += sprintf(p, i ? ",1" : "1");
    sprintf(p, "]}");
    return s;
}

START_TEST(test_value_cap)
{
    char *s = ones(9998); /* 10000 values: the most */
    ok(s);
    ck_assert_uint_eq(get("a")->n, 9998);
    free(s);

    s = ones(9999);
    ck_assert_int_eq(parse(s), CRM_TOOBIG);
    ck_assert_str_eq(why, "too many values");
    ck_assert_uint_eq(fs.n, 999);
    free(s);

    /* Keys are not values: 9999 members plus the object itself pass. */
    s = malloc(9999 * 16 + 8);
    char *p = s;
    *p++ = '{';
    for (int i = 0; i < 9999; i++)
        p += sprintf(p, "%s\"k%d\":\"v\"", i ? "," : "", i);
    strcpy(p, "}");
    ok(s);
    ck_assert_uint_eq(fs.n, 9999);
    free(s);
}
END_TEST

START_TEST(test_duplicates)
{
    bad("{\"a\":1,\"a\":2}", "duplicate key");
    bad("{\"a\":1,\"b\":2,\"a\":1}", "duplicate key");
    bad("{\"x\":{\"a\":1,\"a\":2}}", "duplicate key");
    bad("{\"x\":[{\"a\":1},{\"b\":1,\"b\":1}]}", "duplicate key");
    bad("{\"a\":{\"x\":1},\"a\":2}", "duplicate key"); /* the first value is discarded */
    bad("{\"a\":{\"x\":1,\"y\":{\"z\":1}},\"a\":{\"x\":1,\"y\":{\"z\":1}}}", "duplicate key");
    bad("{\"a\":1,\"\\u0061\":2}", "duplicate key");        /* equal after unescaping */
    bad("{\"\\u00e9\":1,\"\xC3\xA9\":2}", "duplicate key"); /* escaped vs raw UTF-8 */
    bad("{\"\\/\":1,\"/\":2}", "duplicate key");
    bad("{\"\":1,\"\":2}", "duplicate key");
    /* Same name in different objects, or as a value, is fine. */
    ok("{\"a\":{\"a\":1},\"b\":{\"a\":2},\"c\":[{\"a\":3},{\"a\":4}]}");
    ok("{\"a\":\"a\",\"b\":[\"a\",\"a\"],\"c\":\"x:y\",\"d\":\"\\\":\"}");
    ok("{\"\":1}");
    ck_assert_str_eq(fs.items[0].name, "");
}
END_TEST

START_TEST(test_json_str)
{
    struct json_object *o = crm_json_str("caf\xC3\xA9");
    ck_assert_str_eq(json_object_get_string(o), "caf\xC3\xA9");
    json_object_put(o);

    o = crm_json_strn("ab\0cd", 5);
    ck_assert_int_eq(json_object_get_string_len(o), 5);
    json_object_put(o);

    o = crm_json_strn("abcdef", 3);
    ck_assert_str_eq(json_object_get_string(o), "abc");
    json_object_put(o);
}
END_TEST

/* An in-memory transport for crm_json_send. */
typedef struct {
    char out[4096];
    size_t len;
} mem_io;

static long mem_read(void *ctx, char *buf, size_t n)
{
    (void)ctx;
    (void)buf;
    (void)n;
    return 0;
}

static int mem_write(void *ctx, const char *buf, size_t n)
{
    mem_io *m = ctx;
    ck_assert_uint_lt(m->len + n, sizeof(m->out));
    memcpy(m->out + m->len, buf, n);
    m->len += n;
    m->out[m->len] = '\0';
    return CRM_OK;
}

static const char *mem_param(void *ctx, const char *name)
{
    (void)ctx;
    if (strcmp(name, "REQUEST_METHOD") == 0)
        return "GET";
    if (strcmp(name, "REQUEST_URI") == 0)
        return "/api/v1/customers/ping";
    return NULL;
}

static const crm_req_io mem = { mem_read, mem_write, mem_param };

START_TEST(test_send)
{
    mem_io m = { .len = 0 };
    crm_req *r = crm_req_new(arena, &mem, &m, 1024);
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "status", crm_json_str("ok"));
    json_object_object_add(o, "url", crm_json_str("a/b"));
    json_object_object_add(o, "n", json_object_new_int64(7));
    ck_assert_int_eq(crm_json_send(r, 200, o), 200);
    ck_assert_int_eq(crm_res_status(r), 200);
    ck_assert_ptr_nonnull(strstr(m.out, "Status: 200"));
    ck_assert_ptr_nonnull(strstr(m.out, "Content-Type: application/json; charset=utf-8\r\n"));
    /* Plain (no spaces) and slashes left alone. */
    const char *body = strstr(m.out, "\r\n\r\n");
    ck_assert_ptr_nonnull(body);
    ck_assert_str_eq(body + 4, "{\"status\":\"ok\",\"url\":\"a/b\",\"n\":7}");
    ck_assert_ptr_nonnull(strstr(m.out, "Content-Length: 33\r\n"));
    crm_req_finish(r);
}
END_TEST

/* What crm_json_send writes reads back through crm_json_parse. */
START_TEST(test_send_round_trip)
{
    mem_io m = { .len = 0 };
    crm_req *r = crm_req_new(arena, &mem, &m, 1024);
    struct json_object *o = json_object_new_object();

    json_object_object_add(o, "s", crm_json_str("q\"\\\n\x01\xC3\xA9\xF0\x9F\x98\x80"));
    json_object_object_add(o, "big", json_object_new_int64(INT64_MIN));
    ck_assert_int_eq(crm_json_send(r, 201, o), 201);
    const char *body = strstr(m.out, "\r\n\r\n") + 4;
    ok(body);
    ck_assert_str_eq(get("s")->str, "q\"\\\n\x01\xC3\xA9\xF0\x9F\x98\x80");
    ck_assert_int_eq(get("big")->i, INT64_MIN);
    crm_req_finish(r);
}
END_TEST

static Suite *json_suite(void)
{
    Suite *s = suite_create("crm_json");
    TCase *tc = tcase_create("parse");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_types);
    tcase_add_test(tc, test_document_order);
    tcase_add_test(tc, test_strings_unescaped);
    tcase_add_test(tc, test_empty_and_whitespace);
    tcase_add_test(tc, test_bom);
    tcase_add_test(tc, test_top_level);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_trailing);
    tcase_add_test(tc, test_grammar);
    tcase_add_test(tc, test_bad_utf8);
    tcase_add_test(tc, test_string_escapes);
    suite_add_tcase(s, tc);

    tc = tcase_create("numbers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_numbers_int64);
    tcase_add_test(tc, test_numbers_out_of_range);
    tcase_add_test(tc, test_numbers_fractions);
    tcase_add_test(tc, test_numbers_malformed);
    tcase_add_test(tc, test_numbers_in_order);
    suite_add_tcase(s, tc);

    tc = tcase_create("caps");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_depth_objects);
    tcase_add_test(tc, test_depth_arrays);
    tcase_add_test(tc, test_depth_hostile);
    tcase_add_test(tc, test_value_cap);
    suite_add_tcase(s, tc);

    tc = tcase_create("duplicates");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_duplicates);
    suite_add_tcase(s, tc);

    tc = tcase_create("output");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_json_str);
    tcase_add_test(tc, test_send);
    tcase_add_test(tc, test_send_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(json_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
