/*
 * test_ruleform.c - the segment pages' rule builder (ruleform.c): a
 * form's rows become the rule a JSON body would carry (same canonical
 * JSON, same SQL, same bound values), empty rows are left out, values get
 * the JSON type their field takes, and every problem rule_compile finds is
 * named after the input it is about, so a page can show it there.
 */
#include "marketing.h"

#include "crm_form.h"
#include "crm_json.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const NOW = "2026-11-27 12:00:00.000000";

static crm_arena *arena;
static crm_fields fs;
static crm_valid v;
static rfm_cutoffs cut;

static void setup(void)
{
    arena = crm_arena_new(1 << 16);
    memset(&fs, 0, sizeof(fs));
    memset(&cut, 0, sizeof(cut));
    cut.valid = 1;
    cut.customers = 10;
    cut.r[0] = "2026-06-01 00:00:00.000000";
    cut.r[1] = "2026-09-01 00:00:00.000000";
    cut.r[2] = "2026-10-01 00:00:00.000000";
    cut.r[3] = "2026-11-01 00:00:00.000000";
    const int64_t f[4] = { 1, 2, 4, 7 }, m[4] = { 500, 1000, 5000, 50000 };
    memcpy(cut.f, f, sizeof(f));
    memcpy(cut.m, m, sizeof(m));
}

static void teardown(void)
{
    crm_arena_free(arena);
}

/* A form body, percent-encoded as a browser sends it ('[' ']' as %5B %5D). */
static void form(const char *body)
{
    const char *why = NULL;
    int rc = crm_form_parse(arena, body, strlen(body), 64, &fs, &why);
    ck_assert_msg(rc == CRM_OK, "%s: %s", body, why ? why : "?");
    crm_valid_init(&v, arena, &fs);
}

static const char *errors_text(void)
{
    const char *s = "";
    for (size_t i = 0; i < v.n; i++)
        s = crm_arena_printf(arena, "%s [%s: %s]", s, v.errors[i].field ? v.errors[i].field : "-",
                             v.errors[i].message);
    return s;
}

/* Read the builder and compile what it made, renaming the problems. */
static int compile_form(const char *body, rule_sql *out)
{
    crm_field rule;
    rule_form_map map;

    form(body);
    ck_assert_int_eq(rule_form_read(arena, &fs, &v, &rule, &map), 1);
    size_t first = v.n;
    int rc = rule_compile(arena, &rule, "rule", &cut, NOW, &v, out);
    rule_form_rename(arena, &v, first, &map);
    return rc == CRM_OK && crm_valid_ok(&v) ? CRM_OK : CRM_INVALID;
}

static rule_sql compile_json(const char *json)
{
    crm_fields parsed;
    crm_valid jv;
    rule_sql out;
    const char *why = NULL;

    ck_assert_int_eq(crm_json_parse(arena, json, strlen(json), &parsed, &why), CRM_OK);
    crm_field *obj = crm_arena_calloc(arena, sizeof(*obj));
    obj->name = "rule";
    obj->type = CRM_FIELD_OBJECT;
    obj->items = parsed.items;
    obj->n = parsed.n;
    crm_valid_init(&jv, arena, &parsed);
    ck_assert_int_eq(rule_compile(arena, obj, "rule", &cut, NOW, &jv, &out), CRM_OK);
    return out;
}

/* The form compiles to exactly what the JSON rule compiles to. */
#define SAME_AS(body, json) same_as_at(__LINE__, (body), (json))
static void same_as_at(int line, const char *body, const char *json)
{
    rule_sql got;
    memset(&got, 0, sizeof(got));
    int rc = compile_form(body, &got);
    ck_assert_msg(rc == CRM_OK, "line %d: refused:%s", line, errors_text());
    rule_sql want = compile_json(json);
    ck_assert_msg(strcmp(got.json, want.json) == 0, "line %d: %s, want %s", line, got.json,
                  want.json);
    ck_assert_msg(strcmp(got.sql, want.sql) == 0, "line %d: sql %s, want %s", line, got.sql,
                  want.sql);
    ck_assert_uint_eq(got.n_binds, want.n_binds);
    for (size_t i = 0; i < got.n_binds; i++) {
        ck_assert_int_eq(got.binds[i].is_str, want.binds[i].is_str);
        if (got.binds[i].is_str)
            ck_assert_str_eq(got.binds[i].s, want.binds[i].s);
        else
            ck_assert_int_eq(got.binds[i].i, want.binds[i].i);
    }
}

/* After compile_form refused: an error on field whose message holds msg. */
#define HAS_ERROR(field, msg) has_error_at(__LINE__, (field), (msg))
static void has_error_at(int line, const char *field, const char *msg)
{
    for (size_t i = 0; i < v.n; i++)
        if (v.errors[i].field != NULL && strcmp(v.errors[i].field, field) == 0 &&
            strstr(v.errors[i].message, msg) != NULL)
            return;
    ck_abort_msg("line %d: no error on %s saying \"%s\":%s", line, field, msg, errors_text());
}

/* Every error names an input the builder has (or its rows' slot). */
static void errors_name_inputs(void)
{
    for (size_t i = 0; i < v.n; i++)
        ck_assert_msg(v.errors[i].field != NULL &&
                          (rule_form_name(v.errors[i].field) ||
                           strcmp(v.errors[i].field, "rule.conditions") == 0),
                      "error not on an input:%s", errors_text());
}

#define ROW(i, f, o, val)                                                                          \
    "rule.conditions%5B" #i "%5D.field=" f "&rule.conditions%5B" #i "%5D.op=" o                    \
    "&rule.conditions%5B" #i "%5D.value=" val

START_TEST(test_rows_are_the_json_rule)
{
    SAME_AS("rule.match=all&" ROW(0, "status", "eq", "lead"),
            "{\"all\":[{\"field\":\"status\",\"op\":\"eq\",\"value\":\"lead\"}]}");
    SAME_AS("rule.match=any&" ROW(0, "f_score", "gte", "4") "&" ROW(1, "days_since_last_order",
                                                                    "gt", "60"),
            "{\"any\":[{\"field\":\"f_score\",\"op\":\"gte\",\"value\":4},"
            "{\"field\":\"days_since_last_order\",\"op\":\"gt\",\"value\":60}]}");
    /* every field with a value of its type */
    SAME_AS(
        "rule.match=all&" ROW(0, "tag", "ne", "vip") "&" ROW(1, "orders_count", "lte", "3") "&" ROW(
            2, "revenue", "gt", "500000") "&" ROW(3, "r_score", "eq", "5") "&" ROW(4, "m_score",
                                                                                   "lt", "2"),
        "{\"all\":[{\"field\":\"tag\",\"op\":\"ne\",\"value\":\"vip\"},"
        "{\"field\":\"orders_count\",\"op\":\"lte\",\"value\":3},"
        "{\"field\":\"revenue\",\"op\":\"gt\",\"value\":500000},"
        "{\"field\":\"r_score\",\"op\":\"eq\",\"value\":5},"
        "{\"field\":\"m_score\",\"op\":\"lt\",\"value\":2}]}");
}
END_TEST

START_TEST(test_lists)
{
    /* comma-separated, spaces and a trailing comma forgiven */
    SAME_AS("rule.match=all&" ROW(0, "status", "in", "lead,%20prospect%20,"),
            "{\"all\":[{\"field\":\"status\",\"op\":\"in\",\"value\":[\"lead\",\"prospect\"]}]}");
    SAME_AS("rule.match=all&" ROW(0, "orders_count", "not_in", "0,1,%202"),
            "{\"all\":[{\"field\":\"orders_count\",\"op\":\"not_in\",\"value\":[0,1,2]}]}");
    SAME_AS("rule.match=all&" ROW(0, "tag", "in", "vip"),
            "{\"all\":[{\"field\":\"tag\",\"op\":\"in\",\"value\":[\"vip\"]}]}");
}
END_TEST

START_TEST(test_empty_rows_left_out)
{
    /* rows 0 and 2 empty (an operator alone is not a condition), row 5
       used though rows 3 and 4 were never sent, values trimmed */
    SAME_AS(
        "rule.match=any&" ROW(0, "", "eq", "") "&" ROW(1, "status", "eq", "%20churned%20") "&" ROW(
            2, "", "gt", "%20") "&" ROW(5, "orders_count", "gte", "2"),
        "{\"any\":[{\"field\":\"status\",\"op\":\"eq\",\"value\":\"churned\"},"
        "{\"field\":\"orders_count\",\"op\":\"gte\",\"value\":2}]}");
    /* no match sent: all */
    SAME_AS(ROW(0, "status", "eq", "lead"),
            "{\"all\":[{\"field\":\"status\",\"op\":\"eq\",\"value\":\"lead\"}]}");
}
END_TEST

START_TEST(test_not_a_builder)
{
    crm_field rule;
    rule_form_map map;
    const char *why = NULL;

    form("name=x&rule=%7B%22all%22%3A%5B%5D%7D"); /* the rule as JSON text */
    ck_assert_int_eq(rule_form_read(arena, &fs, &v, &rule, &map), 0);
    form("name=x&description=y");
    ck_assert_int_eq(rule_form_read(arena, &fs, &v, &rule, &map), 0);
    /* a JSON body never is, whatever its member names */
    const char *json = "{\"rule.match\":\"all\"}";
    ck_assert_int_eq(crm_json_parse(arena, json, strlen(json), &fs, &why), CRM_OK);
    ck_assert_int_eq(rule_form_read(arena, &fs, &v, &rule, &map), 0);
    ck_assert_uint_eq(v.n, 0);
}
END_TEST

START_TEST(test_names)
{
    ck_assert(rule_form_name("rule.match"));
    ck_assert(rule_form_name("rule.conditions[0].field"));
    ck_assert(rule_form_name("rule.conditions[7].op"));
    ck_assert(rule_form_name("rule.conditions[15].value"));
    ck_assert(!rule_form_name("rule.conditions[16].value")); /* RULE_FORM_ROWS */
    ck_assert(!rule_form_name("rule.conditions[01].value")); /* one name per row */
    ck_assert(!rule_form_name("rule.conditions[].value"));
    ck_assert(!rule_form_name("rule.conditions[x].value"));
    ck_assert(!rule_form_name("rule.conditions[0].values"));
    ck_assert(!rule_form_name("rule.conditions[0]"));
    ck_assert(!rule_form_name("rule.matches"));
    ck_assert(!rule_form_name("rule"));
    ck_assert(!rule_form_name("name"));
    ck_assert(!rule_form_name(NULL));
}
END_TEST

START_TEST(test_errors_name_the_rows)
{
    rule_sql out;

    /* row 3 is the rule's first condition: its problems are row 3's */
    ck_assert_int_eq(
        compile_form("rule.match=all&" ROW(0, "", "eq", "") "&" ROW(3, "status", "gt", "lead"),
                     &out),
        CRM_INVALID);
    HAS_ERROR("rule.conditions[3].op", "status takes eq, ne, in or not_in");
    errors_name_inputs();

    ck_assert_int_eq(
        compile_form("rule.match=all&" ROW(1, "f_score", "eq", "9") "&" ROW(
                         4, "orders_count", "lt", "many") "&" ROW(6, "bogus", "eq", "1"),
                     &out),
        CRM_INVALID);
    HAS_ERROR("rule.conditions[1].value", "from 1 to 5");
    HAS_ERROR("rule.conditions[4].value", "must be an integer");
    HAS_ERROR("rule.conditions[6].field", "unknown field");
    errors_name_inputs();

    /* an item of a list: the list's input, saying which item */
    ck_assert_int_eq(compile_form("rule.match=any&" ROW(2, "tag", "in", "ok,%20Not%20OK"), &out),
                     CRM_INVALID);
    HAS_ERROR("rule.conditions[2].value", "item 2 must be a tag");
    errors_name_inputs();

    /* a negative number is a number, out of range */
    ck_assert_int_eq(compile_form("rule.match=all&" ROW(0, "orders_count", "eq", "-5"), &out),
                     CRM_INVALID);
    HAS_ERROR("rule.conditions[0].value", "from 0 to");

    /* an operator the form does not offer */
    ck_assert_int_eq(compile_form("rule.match=all&" ROW(0, "status", "like", "lead"), &out),
                     CRM_INVALID);
    HAS_ERROR("rule.conditions[0].op", "unknown operator");
    errors_name_inputs();
}
END_TEST

START_TEST(test_form_mistakes)
{
    rule_sql out;

    /* a value without a field is not left out silently */
    ck_assert_int_eq(
        compile_form("rule.match=all&" ROW(0, "status", "eq", "lead") "&" ROW(2, "", "eq", "vip"),
                     &out),
        CRM_INVALID);
    HAS_ERROR("rule.conditions[2].field", "choose the field");
    /* a field without a value */
    ck_assert_int_eq(compile_form("rule.match=all&" ROW(0, "tag", "eq", ""), &out), CRM_INVALID);
    HAS_ERROR("rule.conditions[0].value", "is required");
    /* every row empty */
    ck_assert_int_eq(
        compile_form("rule.match=any&" ROW(0, "", "eq", "") "&" ROW(1, "", "in", ""), &out),
        CRM_INVALID);
    HAS_ERROR("rule.conditions", "add at least one condition");
    ck_assert_int_eq(compile_form("rule.match=all", &out), CRM_INVALID);
    HAS_ERROR("rule.conditions", "add at least one condition");
    /* an unknown match */
    ck_assert_int_eq(compile_form("rule.match=most&" ROW(0, "status", "eq", "lead"), &out),
                     CRM_INVALID);
    HAS_ERROR("rule.match", "must be all or any");
    errors_name_inputs();
    /* an in-list of only commas is empty */
    ck_assert_int_eq(compile_form("rule.match=all&" ROW(0, "status", "in", "%2C%20%2C"), &out),
                     CRM_INVALID);
    HAS_ERROR("rule.conditions[0].value", "array of 1 to 100");
}
END_TEST

START_TEST(test_every_row)
{
    char body[8192];
    ck_assert_int_le(3 * RULE_FORM_ROWS + 7, 64); /* rows, match, name, description, controls */
    size_t off = (size_t)snprintf(body, sizeof body, "rule.match=all");
    rule_sql out;

    for (int i = 0; i < RULE_FORM_ROWS; i++)
        off +=
            (size_t)snprintf(body + off, sizeof body - off,
                             "&rule.conditions%%5B%d%%5D.field=orders_count"
                             "&rule.conditions%%5B%d%%5D.op=gte&rule.conditions%%5B%d%%5D.value=%d",
                             i, i, i, i);
    ck_assert_uint_lt(off, sizeof body);
    memset(&out, 0, sizeof(out));
    /* 49 fields: a whole form stays within a body's 64 */
    ck_assert_int_eq(compile_form(body, &out), CRM_OK);
    ck_assert_uint_eq(out.n_binds, RULE_FORM_ROWS);
    ck_assert_int_eq(out.binds[RULE_FORM_ROWS - 1].i, RULE_FORM_ROWS - 1);
}
END_TEST

static Suite *ruleform_suite(void)
{
    Suite *s = suite_create("ruleform");
    TCase *tc = tcase_create("rows");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_rows_are_the_json_rule);
    tcase_add_test(tc, test_lists);
    tcase_add_test(tc, test_empty_rows_left_out);
    tcase_add_test(tc, test_not_a_builder);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_every_row);
    suite_add_tcase(s, tc);

    tc = tcase_create("problems");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_errors_name_the_rows);
    tcase_add_test(tc, test_form_mistakes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ruleform_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
