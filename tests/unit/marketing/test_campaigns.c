/*
 * test_campaigns.c - the campaign life cycle: every (status, action) pair
 * against the table of docs/api-marketing.md, and the status names.
 */
#include "marketing.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* The whole table, written out from docs/api-marketing.md:
 *   schedule  draft            -> scheduled
 *   activate  scheduled        -> active
 *   pause     active           -> paused
 *   resume    paused           -> active
 *   complete  active, paused   -> completed
 * and nothing else. */
static const struct {
    campaign_status from;
    campaign_action act;
    int allowed;
    campaign_status to;
} cases[] = {
    { CAMPAIGN_DRAFT, CACT_SCHEDULE, 1, CAMPAIGN_SCHEDULED },
    { CAMPAIGN_DRAFT, CACT_ACTIVATE, 0, 0 },
    { CAMPAIGN_DRAFT, CACT_PAUSE, 0, 0 },
    { CAMPAIGN_DRAFT, CACT_RESUME, 0, 0 },
    { CAMPAIGN_DRAFT, CACT_COMPLETE, 0, 0 },
    { CAMPAIGN_SCHEDULED, CACT_SCHEDULE, 0, 0 },
    { CAMPAIGN_SCHEDULED, CACT_ACTIVATE, 1, CAMPAIGN_ACTIVE },
    { CAMPAIGN_SCHEDULED, CACT_PAUSE, 0, 0 },
    { CAMPAIGN_SCHEDULED, CACT_RESUME, 0, 0 },
    { CAMPAIGN_SCHEDULED, CACT_COMPLETE, 0, 0 },
    { CAMPAIGN_ACTIVE, CACT_SCHEDULE, 0, 0 },
    { CAMPAIGN_ACTIVE, CACT_ACTIVATE, 0, 0 },
    { CAMPAIGN_ACTIVE, CACT_PAUSE, 1, CAMPAIGN_PAUSED },
    { CAMPAIGN_ACTIVE, CACT_RESUME, 0, 0 },
    { CAMPAIGN_ACTIVE, CACT_COMPLETE, 1, CAMPAIGN_COMPLETED },
    { CAMPAIGN_PAUSED, CACT_SCHEDULE, 0, 0 },
    { CAMPAIGN_PAUSED, CACT_ACTIVATE, 0, 0 },
    { CAMPAIGN_PAUSED, CACT_PAUSE, 0, 0 },
    { CAMPAIGN_PAUSED, CACT_RESUME, 1, CAMPAIGN_ACTIVE },
    { CAMPAIGN_PAUSED, CACT_COMPLETE, 1, CAMPAIGN_COMPLETED },
    { CAMPAIGN_COMPLETED, CACT_SCHEDULE, 0, 0 },
    { CAMPAIGN_COMPLETED, CACT_ACTIVATE, 0, 0 },
    { CAMPAIGN_COMPLETED, CACT_PAUSE, 0, 0 },
    { CAMPAIGN_COMPLETED, CACT_RESUME, 0, 0 },
    { CAMPAIGN_COMPLETED, CACT_COMPLETE, 0, 0 },
};

START_TEST(test_every_transition)
{
    ck_assert_int_eq(CRM_NELEM(cases), CAMPAIGN_NSTATUS * CACT_N);
    for (size_t i = 0; i < CRM_NELEM(cases); i++) {
        campaign_status to = (campaign_status)99;
        int rc = campaign_transition(cases[i].from, cases[i].act, &to);
        if (cases[i].allowed) {
            ck_assert_msg(rc == CRM_OK, "%s -%s-> should be allowed",
                          campaign_status_name(cases[i].from), campaign_action_name(cases[i].act));
            ck_assert_msg(to == cases[i].to, "%s -%s-> %s, want %s",
                          campaign_status_name(cases[i].from), campaign_action_name(cases[i].act),
                          campaign_status_name(to), campaign_status_name(cases[i].to));
        } else {
            ck_assert_msg(rc == CRM_CONFLICT, "%s -%s-> should be refused",
                          campaign_status_name(cases[i].from), campaign_action_name(cases[i].act));
            ck_assert_int_eq(to, 99); /* untouched */
        }
    }
}
END_TEST

/* Walks through the diagram: the paths the contract draws all work. */
START_TEST(test_paths)
{
    static const campaign_action walk[] = { CACT_SCHEDULE, CACT_ACTIVATE, CACT_PAUSE,   CACT_RESUME,
                                            CACT_PAUSE,    CACT_RESUME,   CACT_COMPLETE };
    static const campaign_status seen[] = { CAMPAIGN_SCHEDULED, CAMPAIGN_ACTIVE, CAMPAIGN_PAUSED,
                                            CAMPAIGN_ACTIVE,    CAMPAIGN_PAUSED, CAMPAIGN_ACTIVE,
                                            CAMPAIGN_COMPLETED };
    campaign_status s = CAMPAIGN_DRAFT;
    for (size_t i = 0; i < CRM_NELEM(walk); i++) {
        ck_assert_int_eq(campaign_transition(s, walk[i], &s), CRM_OK);
        ck_assert_int_eq(s, seen[i]);
    }
    /* Completed from paused, too; then nothing more. */
    s = CAMPAIGN_PAUSED;
    ck_assert_int_eq(campaign_transition(s, CACT_COMPLETE, &s), CRM_OK);
    ck_assert_int_eq(s, CAMPAIGN_COMPLETED);
    for (int a = 0; a < CACT_N; a++)
        ck_assert_int_eq(campaign_transition(s, (campaign_action)a, &s), CRM_CONFLICT);
    ck_assert_int_eq(s, CAMPAIGN_COMPLETED);
}
END_TEST

START_TEST(test_out_of_range)
{
    campaign_status to = CAMPAIGN_DRAFT;
    ck_assert_int_eq(campaign_transition(CAMPAIGN_NSTATUS, CACT_SCHEDULE, &to), CRM_CONFLICT);
    ck_assert_int_eq(campaign_transition(CAMPAIGN_DRAFT, CACT_N, &to), CRM_CONFLICT);
    ck_assert_int_eq(campaign_transition((campaign_status)-1, CACT_PAUSE, &to), CRM_CONFLICT);
    ck_assert_int_eq(campaign_transition(CAMPAIGN_ACTIVE, (campaign_action)-1, &to), CRM_CONFLICT);
    ck_assert_int_eq(campaign_transition((campaign_status)1000, (campaign_action)1000, &to),
                     CRM_CONFLICT);
    ck_assert_int_eq(to, CAMPAIGN_DRAFT);
    ck_assert_str_eq(campaign_status_name(CAMPAIGN_NSTATUS), "unknown");
    ck_assert_str_eq(campaign_status_name((campaign_status)-1), "unknown");
    ck_assert_str_eq(campaign_action_name(CACT_N), "unknown");
    ck_assert_str_eq(campaign_action_name((campaign_action)-1), "unknown");
}
END_TEST

START_TEST(test_names_round_trip)
{
    static const char *const names[] = { "draft", "scheduled", "active", "paused", "completed" };
    ck_assert_int_eq(CRM_NELEM(names), CAMPAIGN_NSTATUS);
    for (int i = 0; i < CAMPAIGN_NSTATUS; i++) {
        campaign_status s = (campaign_status)99;
        ck_assert_str_eq(campaign_status_name((campaign_status)i), names[i]);
        ck_assert_int_eq(campaign_status_parse(names[i], &s), CRM_OK);
        ck_assert_int_eq(s, i);
        /* name -> parse -> name */
        ck_assert_int_eq(campaign_status_parse(campaign_status_name((campaign_status)i), &s),
                         CRM_OK);
        ck_assert_str_eq(campaign_status_name(s), names[i]);
    }
    static const char *const actions[] = { "schedule", "activate", "pause", "resume", "complete" };
    ck_assert_int_eq(CRM_NELEM(actions), CACT_N);
    for (int i = 0; i < CACT_N; i++)
        ck_assert_str_eq(campaign_action_name((campaign_action)i), actions[i]);
}
END_TEST

START_TEST(test_parse_unknown)
{
    static const char *const bad[] = {
        "Draft",
        "DRAFT",
        "draft ",
        " draft",
        "",
        "drafts",
        "draf",
        "unknown",
        "schedule",
        "done",
        "deleted",
        "active\n",
        "paused,",
        "0",
        "1",
        "dr\xC3\xA1"
        "ft",
    };
    for (size_t i = 0; i < CRM_NELEM(bad); i++) {
        campaign_status s = CAMPAIGN_PAUSED;
        ck_assert_msg(campaign_status_parse(bad[i], &s) == CRM_INVALID, "took \"%s\"", bad[i]);
        ck_assert_int_eq(s, CAMPAIGN_PAUSED); /* untouched */
    }
    campaign_status s = CAMPAIGN_ACTIVE;
    ck_assert_int_eq(campaign_status_parse(NULL, &s), CRM_INVALID);
    ck_assert_int_eq(s, CAMPAIGN_ACTIVE);
    /* A name the parser does not know is "unknown", which it refuses. */
    ck_assert_int_eq(campaign_status_parse(campaign_status_name(CAMPAIGN_NSTATUS), &s),
                     CRM_INVALID);
}
END_TEST

static Suite *campaigns_suite(void)
{
    Suite *s = suite_create("campaigns");
    TCase *tc = tcase_create("life cycle");
    tcase_add_test(tc, test_every_transition);
    tcase_add_test(tc, test_paths);
    tcase_add_test(tc, test_out_of_range);
    suite_add_tcase(s, tc);
    tc = tcase_create("names");
    tcase_add_test(tc, test_names_round_trip);
    tcase_add_test(tc, test_parse_unknown);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(campaigns_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
