/*
 * test_crm_metrics.c - workers (forked children) write their own slots of
 * the shared mapping; the parent renders the sums in Prometheus text.
 */
#include "crm_metrics.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const routes[] = { "customers.get", "customers.create" };

/* Render and return the text (caller frees). */
static char *render(void)
{
    crm_buf b;
    crm_buf_init(&b, 0);
    crm_metrics_render(&b);
    ck_assert_ptr_nonnull(b.data);
    return b.data;
}

/*
 * Value of the sample whose name and labels are exactly `key`, or -1 when
 * absent. Also checks that every line is a comment or "key value".
 */
static double sample(const char *text, const char *key)
{
    size_t klen = strlen(key);
    const char *line = text;

    while (*line != '\0') {
        const char *nl = strchr(line, '\n');
        ck_assert_ptr_nonnull(nl);
        if (line[0] != '#') {
            const char *sp = memrchr(line, ' ', (size_t)(nl - line));
            ck_assert_ptr_nonnull(sp);
            if ((size_t)(sp - line) == klen && memcmp(line, key, klen) == 0)
                return strtod(sp + 1, NULL);
        }
        line = nl + 1;
    }
    return -1;
}

static void run_child(int slot, void (*fn)(int))
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        crm_metrics_attach(slot);
        fn(slot);
        _exit(0);
    }
}

static void wait_children(int n)
{
    for (int i = 0; i < n; i++) {
        int st;
        ck_assert_int_gt(wait(&st), 0);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
}

static void worker_traffic(int slot)
{
    for (int i = 0; i < (slot + 1) * 10; i++)
        crm_metrics_request(0, 200, 0.003);
    for (int i = 0; i < 5; i++)
        crm_metrics_request(1, 201, 0.2);
    crm_metrics_request(1, 418, 0.01);
    crm_metrics_request(1, 999, 0.01);
    crm_metrics_request(-1, 404, 0.0001);
    crm_metrics_request(7, 404, 0.0001); /* out of range: unmatched */
    crm_metrics_request(1, 500, 30.0);   /* beyond the last bucket */
    if (slot == 0)
        crm_metrics_inflight(+1); /* dies with a request in hand */
    crm_metrics_inflight(+1);
    crm_metrics_inflight(-1);
}

START_TEST(test_sums_over_workers)
{
    ck_assert_int_eq(crm_metrics_init("customers", 3, routes, 2), CRM_OK);
    for (int i = 0; i < 3; i++)
        run_child(i, worker_traffic);
    wait_children(3);
    crm_metrics_restart(1, "crash");
    crm_metrics_restart(2, "recycle");
    crm_metrics_restart(2, "recycle");
    crm_metrics_restart(2, "bogus");
    crm_metrics_workers(3);

    char *t = render();
    ck_assert_double_eq(
        sample(t, "crm_http_requests_total{service=\"customers\",route=\"customers.get\","
                  "status=\"200\"}"),
        60);
    ck_assert_double_eq(sample(t, "crm_http_requests_total{service=\"customers\",route="
                                  "\"customers.create\",status=\"201\"}"),
                        15);
    ck_assert_double_eq(sample(t, "crm_http_requests_total{service=\"customers\",route="
                                  "\"customers.create\",status=\"4xx\"}"),
                        3);
    ck_assert_double_eq(sample(t, "crm_http_requests_total{service=\"customers\",route="
                                  "\"customers.create\",status=\"other\"}"),
                        3);
    ck_assert_double_eq(sample(t, "crm_http_requests_total{service=\"customers\",route="
                                  "\"customers.create\",status=\"500\"}"),
                        3);
    ck_assert_double_eq(sample(t,
                               "crm_http_requests_total{service=\"customers\",route=\"unmatched\","
                               "status=\"404\"}"),
                        6);
    /* Only series that counted something. */
    ck_assert_double_eq(
        sample(t, "crm_http_requests_total{service=\"customers\",route=\"customers.get\","
                  "status=\"404\"}"),
        -1);

    /* Histogram of customers.get: 60 requests of 3 ms. */
    const char *b = "crm_http_request_duration_seconds_bucket{service=\"customers\",route="
                    "\"customers.get\",le=\"%s\"}";
    char key[256];
    snprintf(key, sizeof(key), b, "0.0025");
    ck_assert_double_eq(sample(t, key), 0);
    snprintf(key, sizeof(key), b, "0.005");
    ck_assert_double_eq(sample(t, key), 60);
    snprintf(key, sizeof(key), b, "+Inf");
    ck_assert_double_eq(sample(t, key), 60);
    ck_assert_double_eq(sample(t, "crm_http_request_duration_seconds_count{service=\"customers\","
                                  "route=\"customers.get\"}"),
                        60);
    ck_assert_double_eq_tol(sample(t, "crm_http_request_duration_seconds_sum{service="
                                      "\"customers\",route=\"customers.get\"}"),
                            0.18, 1e-6);

    /* customers.create: every bucket cumulative and monotone, 30 s only in +Inf. */
    static const char *const les[] = { "0.0005", "0.001", "0.0025", "0.005", "0.01",
                                       "0.025",  "0.05",  "0.1",    "0.25",  "0.5",
                                       "1",      "2.5",   "5",      "10",    "+Inf" };
    const char *bc = "crm_http_request_duration_seconds_bucket{service=\"customers\",route="
                     "\"customers.create\",le=\"%s\"}";
    double prev = 0;
    for (size_t i = 0; i < sizeof(les) / sizeof(les[0]); i++) {
        snprintf(key, sizeof(key), bc, les[i]);
        double v = sample(t, key);
        ck_assert_msg(v >= prev, "bucket %s: %f < %f", les[i], v, prev);
        prev = v;
    }
    snprintf(key, sizeof(key), bc, "0.01");
    ck_assert_double_eq(sample(t, key), 6);
    snprintf(key, sizeof(key), bc, "0.25");
    ck_assert_double_eq(sample(t, key), 21);
    snprintf(key, sizeof(key), bc, "10");
    ck_assert_double_eq(sample(t, key), 21);
    snprintf(key, sizeof(key), bc, "+Inf");
    ck_assert_double_eq(sample(t, key), 24);
    ck_assert_double_eq(sample(t, "crm_http_request_duration_seconds_count{service=\"customers\","
                                  "route=\"customers.create\"}"),
                        24);

    ck_assert_double_eq(sample(t, "crm_http_requests_in_flight{service=\"customers\"}"), 1);
    ck_assert_double_eq(
        sample(t, "crm_worker_restarts_total{service=\"customers\",reason=\"crash\"}"), 1);
    ck_assert_double_eq(
        sample(t, "crm_worker_restarts_total{service=\"customers\",reason=\"recycle\"}"), 2);
    ck_assert_double_eq(
        sample(t, "crm_worker_restarts_total{service=\"customers\",reason=\"other\"}"), 1);
    ck_assert_double_eq(sample(t, "crm_workers{service=\"customers\"}"), 3);

    /* Every family is introduced by HELP and TYPE. */
    static const char *const types[] = {
        "# TYPE crm_http_requests_total counter\n",
        "# TYPE crm_http_request_duration_seconds histogram\n",
        "# TYPE crm_http_requests_in_flight gauge\n",
        "# TYPE crm_worker_restarts_total counter\n",
        "# TYPE crm_workers gauge\n",
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        ck_assert_msg(strstr(t, types[i]) != NULL, "missing %s", types[i]);
    ck_assert_ptr_nonnull(strstr(t, "# HELP crm_http_requests_total "));
    free(t);

    /* The in-flight request of a dead worker is dropped when its slot is reused. */
    crm_metrics_restart(0, "crash");
    t = render();
    ck_assert_double_eq(sample(t, "crm_http_requests_in_flight{service=\"customers\"}"), 0);
    ck_assert_double_eq(
        sample(t, "crm_worker_restarts_total{service=\"customers\",reason=\"crash\"}"), 2);
    free(t);
}
END_TEST

static void many_requests(int slot)
{
    (void)slot;
    for (int i = 0; i < 100000; i++) {
        crm_metrics_inflight(+1);
        crm_metrics_request(i % 2, 200, 0.0001 * (i % 100));
        crm_metrics_inflight(-1);
    }
}

START_TEST(test_concurrent_writers_and_replacement)
{
    ck_assert_int_eq(crm_metrics_init("svc", 4, routes, 2), CRM_OK);
    for (int i = 0; i < 4; i++)
        run_child(i, many_requests);
    /* Render while they run: sums only grow. */
    double last = 0;
    for (int i = 0; i < 20; i++) {
        char *t = render();
        double v = sample(t, "crm_http_requests_total{service=\"svc\",route=\"customers.get\","
                             "status=\"200\"}");
        ck_assert(v >= last);
        last = v;
        free(t);
        usleep(1000);
    }
    wait_children(4);
    /* A replacement worker in slot 2 adds to what its predecessor left. */
    run_child(2, many_requests);
    wait_children(1);

    char *t = render();
    ck_assert_double_eq(
        sample(t,
               "crm_http_requests_total{service=\"svc\",route=\"customers.get\",status=\"200\"}"),
        250000);
    ck_assert_double_eq(sample(t, "crm_http_requests_total{service=\"svc\",route="
                                  "\"customers.create\",status=\"200\"}"),
                        250000);
    ck_assert_double_eq(sample(t, "crm_http_request_duration_seconds_count{service=\"svc\","
                                  "route=\"customers.get\"}"),
                        250000);
    ck_assert_double_eq(sample(t, "crm_http_requests_in_flight{service=\"svc\"}"), 0);
    free(t);
}
END_TEST

START_TEST(test_label_escaping_and_unattached)
{
    static const char *const odd[] = { "a\"b\\c\nd" };
    ck_assert_int_eq(crm_metrics_init("s\"vc", 1, odd, 1), CRM_OK);
    /* Not attached: the supervisor's own calls change nothing. */
    crm_metrics_request(0, 200, 0.1);
    crm_metrics_inflight(+1);
    crm_metrics_attach(5); /* no such slot: still detached */
    crm_metrics_request(0, 200, 0.1);
    crm_metrics_attach(0);
    crm_metrics_request(0, 200, 0.1);
    crm_metrics_request(0, 200, -1.0); /* clock oddities count as 0 s */

    char *t = render();
    ck_assert_double_eq(sample(t, "crm_http_requests_total{service=\"s\\\"vc\",route="
                                  "\"a\\\"b\\\\c\\nd\",status=\"200\"}"),
                        2);
    ck_assert_double_eq(sample(t, "crm_http_requests_in_flight{service=\"s\\\"vc\"}"), 0);
    free(t);
}
END_TEST

START_TEST(test_empty)
{
    ck_assert_int_eq(crm_metrics_init("svc", 2, NULL, 0), CRM_OK);
    char *t = render();
    ck_assert_ptr_null(strstr(t, "crm_http_requests_total{"));
    ck_assert_ptr_null(strstr(t, "crm_http_request_duration_seconds_bucket{"));
    ck_assert_double_eq(sample(t, "crm_workers{service=\"svc\"}"), 0);
    ck_assert_double_eq(sample(t, "crm_worker_restarts_total{service=\"svc\",reason=\"crash\"}"),
                        0);
    free(t);
}
END_TEST

/* The relay's figures: absent until it reports, written by another process. */
static void relay_traffic(int slot)
{
    (void)slot;
    crm_metrics_relay_leader(1);
    crm_metrics_relay(0, "sales", 7, 2.5, 0, 0, 0);
    crm_metrics_relay(1, "mark\"eting", 0, 0, 0, 0, 0);
    crm_metrics_relay(0, "ignored: named already", -1, -1, 3, 1, 4);
    crm_metrics_relay(0, "sales", -1, -1, 2, 0, 1);
    crm_metrics_relay(CRM_METRICS_SUBSCRIBERS, "out of range", 1, 1, 1, 1, 1);
}

START_TEST(test_relay)
{
    ck_assert_int_eq(crm_metrics_init("customers", 2, routes, 2), CRM_OK);
    char *t = render();
    ck_assert_ptr_null(strstr(t, "crm_relay_leader"));
    ck_assert_ptr_null(strstr(t, "crm_events_pending"));
    free(t);

    run_child(-1, relay_traffic);
    wait_children(1);
    t = render();
    ck_assert_double_eq(sample(t, "crm_relay_leader{service=\"customers\"}"), 1);
    ck_assert_double_eq(sample(t, "crm_events_pending{service=\"customers\",subscriber=\"sales\"}"),
                        7);
    ck_assert_double_eq(
        sample(t, "crm_events_oldest_pending_seconds{service=\"customers\",subscriber=\"sales\"}"),
        2.5);
    ck_assert_double_eq(
        sample(t, "crm_events_delivered_total{service=\"customers\",subscriber=\"sales\"}"), 5);
    ck_assert_double_eq(
        sample(t, "crm_event_delivery_failures_total{service=\"customers\",subscriber=\"sales\"}"),
        1);
    ck_assert_double_eq(
        sample(t, "crm_event_delivery_attempts_total{service=\"customers\",subscriber=\"sales\"}"),
        5);
    ck_assert_double_eq(
        sample(t, "crm_events_pending{service=\"customers\",subscriber=\"mark\\\"eting\"}"), 0);
    ck_assert_ptr_null(strstr(t, "out of range"));
    ck_assert_ptr_null(strstr(t, "ignored"));
    free(t);

    /* The supervisor saw the relay die: no longer the leader. */
    crm_metrics_relay_gone();
    t = render();
    ck_assert_double_eq(sample(t, "crm_relay_leader{service=\"customers\"}"), 0);
    free(t);
}
END_TEST

/* A service without a relay shows no relay metrics, even after a sidecar died. */
START_TEST(test_relay_gone_without_relay)
{
    ck_assert_int_eq(crm_metrics_init("sales", 1, routes, 2), CRM_OK);
    crm_metrics_relay_gone();
    char *t = render();
    ck_assert_ptr_null(strstr(t, "crm_relay_leader"));
    free(t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("crm_metrics");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_sums_over_workers);
    tcase_add_test(tc, test_concurrent_writers_and_replacement);
    tcase_add_test(tc, test_label_escaping_and_unattached);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_relay);
    tcase_add_test(tc, test_relay_gone_without_relay);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
