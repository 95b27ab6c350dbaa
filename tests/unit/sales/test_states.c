/*
 * test_states.c - the order life cycle: every (status, action) pair, the
 * allowed actions a 409 names, and which statuses may be edited.
 */
#include "sales.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* The whole table, written out independently of states.c. */
static const struct {
    order_status from;
    order_action act;
    int allowed;
    order_status to;
} cases[] = {
    { ORDER_DRAFT, ACT_CONFIRM, 1, ORDER_CONFIRMED },
    { ORDER_DRAFT, ACT_FULFILL, 0, 0 },
    { ORDER_DRAFT, ACT_CANCEL, 1, ORDER_CANCELLED },
    { ORDER_CONFIRMED, ACT_CONFIRM, 0, 0 },
    { ORDER_CONFIRMED, ACT_FULFILL, 1, ORDER_FULFILLED },
    { ORDER_CONFIRMED, ACT_CANCEL, 1, ORDER_CANCELLED },
    { ORDER_FULFILLED, ACT_CONFIRM, 0, 0 },
    { ORDER_FULFILLED, ACT_FULFILL, 0, 0 },
    { ORDER_FULFILLED, ACT_CANCEL, 0, 0 },
    { ORDER_CANCELLED, ACT_CONFIRM, 0, 0 },
    { ORDER_CANCELLED, ACT_FULFILL, 0, 0 },
    { ORDER_CANCELLED, ACT_CANCEL, 0, 0 },
};

START_TEST(test_every_transition)
{
    ck_assert_int_eq(CRM_NELEM(cases), ORDER_NSTATUS * ACT_N);
    for (size_t i = 0; i < CRM_NELEM(cases); i++) {
        order_status to = (order_status)99;
        int rc = order_transition(cases[i].from, cases[i].act, &to);
        if (cases[i].allowed) {
            ck_assert_msg(rc == CRM_OK, "%s -%s-> should be allowed",
                          order_status_name(cases[i].from), order_action_name(cases[i].act));
            ck_assert_int_eq(to, cases[i].to);
        } else {
            ck_assert_msg(rc == CRM_CONFLICT, "%s -%s-> should be refused",
                          order_status_name(cases[i].from), order_action_name(cases[i].act));
            ck_assert_int_eq(to, 99); /* untouched */
        }
    }
}
END_TEST

START_TEST(test_out_of_range)
{
    order_status to = ORDER_DRAFT;
    ck_assert_int_eq(order_transition(ORDER_NSTATUS, ACT_CONFIRM, &to), CRM_CONFLICT);
    ck_assert_int_eq(order_transition(ORDER_DRAFT, ACT_N, &to), CRM_CONFLICT);
    ck_assert_int_eq(order_transition((order_status)-1, ACT_CANCEL, &to), CRM_CONFLICT);
    ck_assert_str_eq(order_status_name(ORDER_NSTATUS), "unknown");
    ck_assert_str_eq(order_action_name(ACT_N), "unknown");
}
END_TEST

START_TEST(test_names_round_trip)
{
    static const char *const names[] = { "draft", "confirmed", "fulfilled", "cancelled" };
    for (int i = 0; i < ORDER_NSTATUS; i++) {
        order_status s;
        ck_assert_str_eq(order_status_name((order_status)i), names[i]);
        ck_assert_int_eq(order_status_parse(names[i], &s), CRM_OK);
        ck_assert_int_eq(s, i);
    }
    order_status s = ORDER_FULFILLED;
    ck_assert_int_eq(order_status_parse("Draft", &s), CRM_INVALID);
    ck_assert_int_eq(order_status_parse("", &s), CRM_INVALID);
    ck_assert_int_eq(order_status_parse(NULL, &s), CRM_INVALID);
    ck_assert_int_eq(s, ORDER_FULFILLED);
    ck_assert_str_eq(order_action_name(ACT_CONFIRM), "confirm");
    ck_assert_str_eq(order_action_name(ACT_FULFILL), "fulfill");
    ck_assert_str_eq(order_action_name(ACT_CANCEL), "cancel");
}
END_TEST

START_TEST(test_only_drafts_are_editable)
{
    ck_assert(order_editable(ORDER_DRAFT));
    ck_assert(!order_editable(ORDER_CONFIRMED));
    ck_assert(!order_editable(ORDER_FULFILLED));
    ck_assert(!order_editable(ORDER_CANCELLED));
}
END_TEST

START_TEST(test_conflict_members)
{
    crm_arena *a = crm_arena_new(1024);
    ck_assert_str_eq(order_conflict_members(a, ORDER_DRAFT),
                     "\"order_status\":\"draft\",\"allowed\":[\"confirm\",\"cancel\"]");
    ck_assert_str_eq(order_conflict_members(a, ORDER_CONFIRMED),
                     "\"order_status\":\"confirmed\",\"allowed\":[\"fulfill\",\"cancel\"]");
    ck_assert_str_eq(order_conflict_members(a, ORDER_FULFILLED),
                     "\"order_status\":\"fulfilled\",\"allowed\":[]");
    ck_assert_str_eq(order_conflict_members(a, ORDER_CANCELLED),
                     "\"order_status\":\"cancelled\",\"allowed\":[]");
    crm_arena_free(a);
}
END_TEST

static Suite *states_suite(void)
{
    Suite *s = suite_create("states");
    TCase *tc = tcase_create("life cycle");
    tcase_add_test(tc, test_every_transition);
    tcase_add_test(tc, test_out_of_range);
    tcase_add_test(tc, test_names_round_trip);
    tcase_add_test(tc, test_only_drafts_are_editable);
    tcase_add_test(tc, test_conflict_members);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(states_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
