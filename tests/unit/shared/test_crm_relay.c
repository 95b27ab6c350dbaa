/*
 * test_crm_relay.c - the relay's retry schedule. The delivery loop itself
 * (leader election, cursors, signing, redelivery) runs against the real
 * stack in tests/integration/test_events.c.
 */
#include "crm_relay.h"

#include <check.h>
#include <stdlib.h>

START_TEST(test_backoff_doubles_then_caps)
{
    long prev_max = 0;
    for (unsigned n = 1; n <= 40; n++) {
        long lo = crm_relay_backoff_ms(n, 0.0), hi = crm_relay_backoff_ms(n, 0.999999);
        long d = CRM_RELAY_BACKOFF_MIN_MS;
        for (unsigned i = 1; i < n && d < CRM_RELAY_BACKOFF_MAX_MS; i++)
            d *= 2;
        if (d > CRM_RELAY_BACKOFF_MAX_MS)
            d = CRM_RELAY_BACKOFF_MAX_MS;
        /* Between half and all of the doubled delay, never past the cap. */
        ck_assert_int_eq(lo, d / 2);
        ck_assert_int_ge(hi, d - 1);
        ck_assert_int_le(hi, d);
        ck_assert_int_le(hi, CRM_RELAY_BACKOFF_MAX_MS);
        ck_assert_int_ge(hi, prev_max);
        prev_max = hi;
    }
    ck_assert_int_eq(crm_relay_backoff_ms(1, 0.0), CRM_RELAY_BACKOFF_MIN_MS / 2);
    ck_assert_int_le(crm_relay_backoff_ms(1000000, 0.5), CRM_RELAY_BACKOFF_MAX_MS);
}
END_TEST

START_TEST(test_jitter_spreads_and_is_clamped)
{
    /* Two relays failing together retry at different times. */
    ck_assert_int_lt(crm_relay_backoff_ms(5, 0.1), crm_relay_backoff_ms(5, 0.9));
    /* Out-of-range jitter is clamped, not trusted. */
    ck_assert_int_eq(crm_relay_backoff_ms(3, -5.0), crm_relay_backoff_ms(3, 0.0));
    ck_assert_int_le(crm_relay_backoff_ms(3, 7.0), crm_relay_backoff_ms(3, 0.999999));
    ck_assert_int_gt(crm_relay_backoff_ms(0, 0.0), 0);
}
END_TEST

static Suite *relay_suite(void)
{
    Suite *s = suite_create("crm_relay");
    TCase *tc = tcase_create("backoff");
    tcase_add_test(tc, test_backoff_doubles_then_caps);
    tcase_add_test(tc, test_jitter_spreads_and_is_clamped);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(relay_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
