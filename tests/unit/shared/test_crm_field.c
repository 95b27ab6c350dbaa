/*
 * test_crm_field.c - lookups in the field view.
 */
#include "crm_field.h"

#include <check.h>
#include <stdlib.h>

START_TEST(test_get)
{
    crm_field items[3] = {
        { .name = "name", .type = CRM_FIELD_STRING, .str = "Ada", .len = 3 },
        { .name = "owner_id", .type = CRM_FIELD_INT, .i = 7 },
        { .name = "tags", .type = CRM_FIELD_NULL },
    };
    crm_fields fs = { .form = 0, .items = items, .n = 3 };

    ck_assert_ptr_eq(crm_fields_get(&fs, "name"), &items[0]);
    ck_assert_ptr_eq(crm_fields_get(&fs, "tags"), &items[2]);
    ck_assert_ptr_null(crm_fields_get(&fs, "Name")); /* names are case-sensitive */
    ck_assert_ptr_null(crm_fields_get(&fs, "nam"));  /* no prefix match */
    ck_assert_ptr_null(crm_fields_get(&fs, "name2"));
    ck_assert_ptr_null(crm_fields_get(&fs, ""));
}
END_TEST

START_TEST(test_empty)
{
    crm_fields fs = { .form = 1, .items = NULL, .n = 0 };
    ck_assert_ptr_null(crm_fields_get(&fs, "name"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("crm_field");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_get);
    tcase_add_test(tc, test_empty);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
