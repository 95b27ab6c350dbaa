/*
 * test_order_form.c - the order form's rows of fields made into the JSON
 * body's "lines" member (order_form_lines, fcgi/sales/order_form.c).
 */
#include "sales.h"

#include "crm_form.h"

#include <check.h>
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

/* The form body parsed as crm_body_fields would, then converted. */
static crm_fields convert(const char *body, const size_t **rows)
{
    crm_fields fs;
    const char *why = NULL;
    ck_assert_int_eq(crm_form_parse(arena, body, strlen(body), 64, &fs, &why), CRM_OK);
    order_form_lines(arena, &fs, rows);
    ck_assert_int_eq(fs.form, 1);
    return fs;
}

static const char *member(const crm_field *obj, const char *name)
{
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->items[i].name, name) == 0)
            return obj->items[i].str;
    return NULL;
}

static void assert_field_names(const crm_fields *fs, const char *const *names)
{
    size_t n = 0;
    for (; names[n] != NULL; n++) {
        ck_assert_uint_lt(n, fs->n);
        ck_assert_str_eq(fs->items[n].name, names[n]);
    }
    ck_assert_uint_eq(fs->n, n);
}

START_TEST(test_rows_become_lines)
{
    const size_t *rows = NULL;
    crm_fields fs = convert("customer_id=7&lines%5B0%5D.product_id=3&lines%5B0%5D.quantity=2"
                            "&lines%5B1%5D.product_id=&lines%5B1%5D.quantity="
                            "&lines%5B2%5D.quantity=1&lines%5B2%5D.product_id=9&note=hi",
                            &rows);
    static const char *const names[] = { "customer_id", "lines", "note", NULL };
    assert_field_names(&fs, names);

    const crm_field *lines = crm_fields_get(&fs, "lines");
    ck_assert_int_eq(lines->type, CRM_FIELD_ARRAY);
    ck_assert_uint_eq(lines->n, 2); /* row 1 was empty */
    ck_assert_ptr_nonnull(rows);
    ck_assert_uint_eq(rows[0], 0);
    ck_assert_uint_eq(rows[1], 2);
    ck_assert_int_eq(lines->items[0].type, CRM_FIELD_OBJECT);
    ck_assert_uint_eq(lines->items[0].n, 2);
    ck_assert_str_eq(member(&lines->items[0], "product_id"), "3");
    ck_assert_str_eq(member(&lines->items[0], "quantity"), "2");
    /* members keep the order they came in */
    ck_assert_str_eq(lines->items[1].items[0].name, "quantity");
    ck_assert_str_eq(member(&lines->items[1], "product_id"), "9");
    ck_assert_str_eq(member(&lines->items[1], "quantity"), "1");
}
END_TEST

START_TEST(test_rows_in_row_order)
{
    const size_t *rows = NULL;
    crm_fields fs = convert("lines%5B10%5D.product_id=5&lines%5B3%5D.product_id=4"
                            "&lines%5B3%5D.quantity=&customer_id=1",
                            &rows);
    static const char *const names[] = { "lines", "customer_id", NULL };
    assert_field_names(&fs, names);
    const crm_field *lines = &fs.items[0];
    ck_assert_uint_eq(lines->n, 2);
    ck_assert_uint_eq(rows[0], 3);
    ck_assert_uint_eq(rows[1], 10);
    /* a row half filled is a line: its empty field is for validation to name */
    ck_assert_uint_eq(lines->items[0].n, 2);
    ck_assert_str_eq(member(&lines->items[0], "quantity"), "");
    ck_assert_str_eq(member(&lines->items[1], "product_id"), "5");
}
END_TEST

START_TEST(test_all_rows_empty)
{
    const size_t *rows = NULL;
    crm_fields fs = convert("customer_id=1&lines%5B0%5D.product_id=&lines%5B0%5D.quantity="
                            "&currency=EUR",
                            &rows);
    static const char *const names[] = { "customer_id", "lines", "currency", NULL };
    assert_field_names(&fs, names);
    ck_assert_int_eq(fs.items[1].type, CRM_FIELD_ARRAY);
    ck_assert_uint_eq(fs.items[1].n, 0);
    ck_assert_ptr_nonnull(rows);
}
END_TEST

START_TEST(test_other_members_kept)
{
    const size_t *rows = NULL;
    crm_fields fs = convert("lines%5B0%5D.product_id=1&lines%5B0%5D.colour=red", &rows);
    ck_assert_uint_eq(fs.n, 1);
    const crm_field *line = &fs.items[0].items[0];
    ck_assert_uint_eq(line->n, 2);
    ck_assert_str_eq(line->items[1].name, "colour"); /* refused as unknown later, as in JSON */
}
END_TEST

START_TEST(test_not_lines_left_alone)
{
    static const char *const bodies[] = {
        "lines%5B01%5D.product_id=1",   /* leading zero */
        "lines%5B100%5D.product_id=1",  /* beyond ORDER_LINES_MAX */
        "lines%5Bx%5D.product_id=1",    /* not a number */
        "lines%5B%5D.product_id=1",     /* no number */
        "lines%5B0%5D.=1",              /* no member */
        "lines%5B0%5Dproduct_id=1",     /* no dot */
        "lines%5B0%5D=1",               /* no member at all */
        "lines.0.product_id=1",         /* another notation */
        "customer_id=1&note=lines%5B0", /* a value, not a name */
    };
    for (size_t i = 0; i < CRM_NELEM(bodies); i++) {
        const size_t *rows = (const size_t *)1;
        crm_fields before, fs;
        const char *why = NULL;
        ck_assert_int_eq(crm_form_parse(arena, bodies[i], strlen(bodies[i]), 64, &before, &why),
                         CRM_OK);
        fs = convert(bodies[i], &rows);
        ck_assert_msg(rows == NULL, "%s", bodies[i]);
        ck_assert_uint_eq(fs.n, before.n);
        for (size_t k = 0; k < fs.n; k++)
            ck_assert_str_eq(fs.items[k].name, before.items[k].name);
        ck_assert_ptr_null(crm_fields_get(&fs, "lines"));
    }
}
END_TEST

START_TEST(test_lines_field_wins)
{
    /* A body with a "lines" field of its own is not rewritten: the row
       fields stay and are refused as unknown. */
    const size_t *rows = (const size_t *)1;
    crm_fields fs = convert("lines=x&lines%5B0%5D.product_id=1", &rows);
    ck_assert_ptr_null(rows);
    ck_assert_uint_eq(fs.n, 2);
    ck_assert_str_eq(fs.items[1].name, "lines[0].product_id");
}
END_TEST

START_TEST(test_highest_row)
{
    const size_t *rows = NULL;
    crm_fields fs = convert("lines%5B99%5D.quantity=1", &rows);
    ck_assert_uint_eq(fs.items[0].n, 1);
    ck_assert_uint_eq(rows[0], 99);
}
END_TEST

static Suite *order_form_suite(void)
{
    Suite *s = suite_create("order_form");
    TCase *tc = tcase_create("lines");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_rows_become_lines);
    tcase_add_test(tc, test_rows_in_row_order);
    tcase_add_test(tc, test_all_rows_empty);
    tcase_add_test(tc, test_other_members_kept);
    tcase_add_test(tc, test_not_lines_left_alone);
    tcase_add_test(tc, test_lines_field_wins);
    tcase_add_test(tc, test_highest_row);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(order_form_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
