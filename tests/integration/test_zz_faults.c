/*
 * test_zz_faults.c - the stack under faults: MariaDB stopped (every service
 * answers 503 problems that say nothing of the insides), MariaDB restarted, a worker
 * SIGKILLed, the pool SIGTERMed under load. Named to run after every other
 * integration suite; it leaves the stack as it found it (DB up, pool up).
 */
#include "itest.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define SERVICE      "customers"
#define MAX_SAMPLES  50000
#define MAX_CHILDREN 256

/* ---- a load generator recording every request --------------------------------------------- */

typedef struct {
    double start, end;
    long status;
    int problem_ok; /* 1 when a 503 was proper problem+json */
} sample;

typedef struct {
    const char *url; /* full URL (admin port) or NULL: path on the base */
    const char *path;
    long pause_ms; /* between requests */
    long timeout_ms;
    int stop;
    sample *s;
    size_t n;
    char first_bad[1024]; /* describe() of the first non-200 */
} loader;

static void *loader_main(void *arg)
{
    loader *l = arg;
    itest_set_timeout_ms(l->timeout_ms);
    while (!__atomic_load_n(&l->stop, __ATOMIC_SEQ_CST) && l->n < MAX_SAMPLES) {
        itest_resp *r = l->url ? itest_request_url("GET", l->url, NULL, NULL, 0, NULL)
                               : itest_get(l->path, NULL);
        sample *s = &l->s[l->n];
        s->start = r->started;
        s->end = r->started + r->seconds;
        s->status = r->status;
        s->problem_ok = r->status == 503 && itest_check_problem(r, 503) == NULL;
        if (r->status != 200 && l->first_bad[0] == '\0')
            snprintf(l->first_bad, sizeof l->first_bad, "%s", itest_describe(r));
        __atomic_store_n(&l->n, l->n + 1, __ATOMIC_SEQ_CST);
        itest_free(r);
        if (l->pause_ms > 0)
            itest_sleep_ms(l->pause_ms);
    }
    return NULL;
}

static loader *loader_start(pthread_t *th, const char *url, const char *path, long pause_ms,
                            long timeout_ms)
{
    loader *l = calloc(1, sizeof *l);
    ck_assert_ptr_nonnull(l);
    l->s = calloc(MAX_SAMPLES, sizeof *l->s);
    ck_assert_ptr_nonnull(l->s);
    l->url = url;
    l->path = path;
    l->pause_ms = pause_ms;
    l->timeout_ms = timeout_ms;
    pthread_create(th, NULL, loader_main, l);
    return l;
}

static void loader_stop(pthread_t th, loader *l)
{
    __atomic_store_n(&l->stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
}

static void loader_free(loader *l)
{
    free(l->s);
    free(l);
}

static void stack_ok(const char *a, const char *b)
{
    char out[8192];
    const char *args[] = { a, b, NULL };
    int rc = itest_stack(out, sizeof out, args);
    ck_assert_msg(rc == 0, "stack.sh %s %s exited %d: %s", a, b ? b : "", rc, out);
}

static pid_t pool_pid(void)
{
    pid_t pid = itest_pool_pid(SERVICE);
    ck_assert_msg(pid > 0, "stack.sh pool-pid " SERVICE " found no pool");
    return pid;
}

static int contains(const pid_t *set, size_t n, pid_t p)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == p)
            return 1;
    return 0;
}

/* GET path until it answers 200 or secs pass; 1 when it did. */
static int wait_serving(const char *path, double secs)
{
    double until = itest_now() + secs;
    while (itest_now() < until) {
        itest_resp *r = itest_get(path, NULL);
        long st = r->status;
        itest_free(r);
        if (st == 200)
            return 1;
        itest_sleep_ms(100);
    }
    return 0;
}

/* ---- (1) MariaDB restarted mid-run -------------------------------------------------------- */

START_TEST(test_db_restart)
{
    pid_t sup = pool_pid();
    int64_t id = itest_new_customer(NULL);
    char path[128];
    snprintf(path, sizeof path, ITEST_CUSTOMERS "/%" PRId64, id);
    for (int i = 0; i < 5; i++) {
        itest_resp *r = itest_get(path, NULL);
        ITEST_ASSERT_STATUS(r, 200);
        itest_free(r);
    }

    /* A prober keeps reading while the database goes down and comes back. */
    pthread_t th;
    loader *probe = loader_start(&th, NULL, path, 20, 12000);
    double t0 = itest_now();
    char out[8192];
    const char *args[] = { "db-restart", NULL };
    int rc = itest_stack(out, sizeof out, args);
    double restarted = itest_now();
    if (rc != 0) {
        const char *start[] = { "db-start", NULL };
        itest_stack(NULL, 0, start);
    }
    ck_assert_msg(rc == 0, "stack.sh db-restart exited %d: %s", rc, out);

    /* Then until 20 reads in a row succeed, for up to 15 s. */
    int streak = 0, n503 = 0;
    double recovered = 0;
    itest_set_timeout_ms(12000);
    while (itest_now() - restarted < 15.0) {
        itest_resp *r = itest_get(path, NULL);
        ck_assert_msg(r->status == 200 || r->status == 503, "after db-restart: want 200 or 503: %s",
                      itest_describe(r));
        ck_assert_msg(r->seconds < 10.0, "after db-restart a request took %.1fs", r->seconds);
        if (r->status == 503) {
            ITEST_ASSERT_PROBLEM(r, 503);
            n503++;
            streak = 0;
        } else if (++streak == 20) {
            recovered = itest_now();
            itest_free(r);
            break;
        }
        itest_free(r);
        itest_sleep_ms(20);
    }
    loader_stop(th, probe);
    {
        size_t p503 = 0;
        for (size_t i = 0; i < probe->n; i++)
            p503 += probe->s[i].status == 503;
        itest_note("db-restart took %.2fs; prober: %zu requests, %zu x 503; after: %d x 503, "
                   "recovered %.2fs after the restart returned",
                   restarted - t0, probe->n, p503, n503,
                   recovered > 0 ? recovered - restarted : -1);
    }
    ck_assert_msg(recovered > 0, "reads did not recover within 15 s of the restart (%d x 503)",
                  n503);
    /* What the prober saw while the database was away. */
    for (size_t i = 0; i < probe->n; i++) {
        const sample *s = &probe->s[i];
        ck_assert_msg(s->status == 200 || (s->status == 503 && s->problem_ok),
                      "during the restart: status %ld (first non-200: %s)", s->status,
                      probe->first_bad);
        ck_assert_msg(s->end - s->start < 10.0, "during the restart a request hung %.1fs",
                      s->end - s->start);
    }
    ck_assert_msg(probe->n > 0 && t0 > 0, "the prober sent nothing");
    loader_free(probe);

    /* Same pool, and a write works right away. */
    ck_assert_msg(itest_pool_pid(SERVICE) == sup && itest_pid_alive(sup),
                  "the pool was restarted (supervisor %ld)", (long)sup);
    itest_resp *r = itest_create_customer(NULL, NULL);
    ITEST_ASSERT_STATUS(r, 201);
    itest_free(r);
    r = itest_json("PATCH", path, NULL, "{\"company\":\"After restart\"}");
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);

    /* The sales pool lost its connections too: it answers 503 or 200, never
       hangs, and recovers without a restart. */
    int sales_ok = 0;
    while (!sales_ok && itest_now() - restarted < 30.0) {
        r = itest_get(ITEST_PRODUCTS "?limit=1", NULL);
        ck_assert_msg(r->status == 200 || r->status == 503, "sales after db-restart: %s",
                      itest_describe(r));
        if (r->status == 503)
            ITEST_ASSERT_PROBLEM(r, 503);
        sales_ok = r->status == 200;
        itest_free(r);
        if (!sales_ok)
            itest_sleep_ms(50);
    }
    ck_assert_msg(sales_ok, "sales did not recover within 30 s of the restart");
    int64_t pid = itest_new_product(100, "EUR", "\"stock\":3");
    ck_assert_int_gt(pid, 0);
}
END_TEST

/* ---- (2) SIGKILL one worker --------------------------------------------------------------- */

START_TEST(test_worker_killed)
{
    pid_t sup = pool_pid();
    pid_t before[MAX_CHILDREN];
    size_t n0 = itest_children(sup, before, MAX_CHILDREN);
    ck_assert_msg(n0 >= 1, "supervisor %ld has no workers", (long)sup);
    int64_t id = itest_new_customer(NULL);
    char path[128];
    snprintf(path, sizeof path, ITEST_CUSTOMERS "/%" PRId64, id);

    enum { SENDERS = 2 };
    pthread_t th[SENDERS];
    loader *l[SENDERS];
    for (int i = 0; i < SENDERS; i++)
        l[i] = loader_start(&th[i], NULL, path, 2, 10000);
    itest_sleep_ms(500);

    pid_t victim = before[n0 - 1];
    ck_assert_msg(kill(victim, SIGKILL) == 0, "kill %ld: %s", (long)victim, strerror(errno));
    double killed = itest_now();
    int replaced = 0;
    pid_t now[MAX_CHILDREN];
    size_t n = 0;
    while (itest_now() - killed < 5.0) {
        n = itest_children(sup, now, MAX_CHILDREN);
        int fresh = 0;
        for (size_t i = 0; i < n; i++)
            if (!contains(before, n0, now[i]))
                fresh = 1;
        if (fresh && n == n0 && !contains(now, n, victim)) {
            replaced = 1;
            break;
        }
        itest_sleep_ms(50);
    }
    double took = itest_now() - killed;
    itest_note("worker %ld killed; replaced=%d after %.3fs; workers %zu -> %zu", (long)victim,
               replaced, took, n0, n);
    itest_sleep_ms(1000);
    for (int i = 0; i < SENDERS; i++)
        loader_stop(th[i], l[i]);

    ck_assert_msg(replaced, "worker %ld killed: no replacement within 5 s (%zu workers, were %zu)",
                  (long)victim, n, n0);
    ck_assert_msg(itest_pid_alive(sup) && itest_pool_pid(SERVICE) == sup,
                  "the supervisor went away");
    size_t total = 0, ok = 0, failed = 0;
    for (int i = 0; i < SENDERS; i++) {
        for (size_t k = 0; k < l[i]->n; k++) {
            total++;
            if (l[i]->s[k].status == 200) {
                ok++;
            } else {
                failed++;
                ck_assert_msg(l[i]->s[k].status == 502,
                              "a request failed with %ld, not 502 (in flight on the killed "
                              "worker): %s",
                              l[i]->s[k].status, l[i]->first_bad);
            }
        }
    }
    ck_assert_msg(total >= 100, "only %zu requests during the test", total);
    itest_note("kill: %zu requests, %zu failed", total, failed);
    ck_assert_msg(failed <= SENDERS, "%zu of %zu requests failed (at most %d were in flight)",
                  failed, total, SENDERS);
    ck_assert_msg(ok * 100 >= total * 99, "%zu of %zu requests succeeded", ok, total);
    for (int i = 0; i < SENDERS; i++)
        loader_free(l[i]);
}
END_TEST

/* ---- (3) SIGTERM under load --------------------------------------------------------------- */

enum { LOADERS = 8 };

START_TEST(test_sigterm_drain)
{
    double drain = atof(itest_env("CRM_DRAIN_SECONDS", "10"));
    const char *admin = getenv("CRM_ADMIN_URL_CUSTOMERS");
    char readyz[512] = "";
    if (admin != NULL && *admin != '\0')
        snprintf(readyz, sizeof readyz, "%s/readyz", admin);

    /*
     * Restart the pool as a descendant of this process, made a subreaper:
     * when stack.sh exits the supervisor becomes our child, and its exit
     * status can be read with waitpid.
     */
    prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L);
    stack_ok("pool-stop", SERVICE);
    stack_ok("pool-start", SERVICE);
    pid_t sup = pool_pid();
    int64_t id = itest_new_customer(NULL);
    char path[128];
    snprintf(path, sizeof path, ITEST_CUSTOMERS "/%" PRId64, id);
    ck_assert_msg(wait_serving(path, 10), "the pool does not serve after pool-start");
    if (readyz[0] != '\0') {
        itest_resp *r = itest_request_url("GET", readyz, NULL, NULL, 0, NULL);
        ck_assert_msg(r->status == 200, "readyz before SIGTERM: %s", itest_describe(r));
        itest_free(r);
    }

    pthread_t th[LOADERS], rth;
    loader *l[LOADERS], *ready = NULL;
    for (int i = 0; i < LOADERS; i++)
        l[i] = loader_start(&th[i], NULL, path, 0, 15000);
    if (readyz[0] != '\0')
        ready = loader_start(&rth, readyz, NULL, 10, 1000);
    itest_sleep_ms(1000);

    double t_term = itest_now();
    ck_assert_msg(kill(sup, SIGTERM) == 0, "kill -TERM %ld: %s", (long)sup, strerror(errno));
    int status = -1, reaped = 0;
    double gone = 0;
    while (itest_now() - t_term < drain + 5.0) {
        pid_t w = waitpid(sup, &status, WNOHANG);
        if (w == sup) {
            reaped = 1;
            gone = itest_now();
            break;
        }
        if (w < 0 && !itest_pid_alive(sup)) { /* not our child after all */
            status = itest_zombie_exit_code(sup);
            gone = itest_now();
            break;
        }
        itest_sleep_ms(5);
    }
    itest_sleep_ms(200);
    for (int i = 0; i < LOADERS; i++)
        loader_stop(th[i], l[i]);
    if (ready != NULL)
        loader_stop(rth, ready);

    /* Put the pool back before judging, so a failure leaves a working stack. */
    int back_rc = -1;
    char out[8192] = "";
    if (gone > 0) {
        const char *args[] = { "pool-start", SERVICE, NULL };
        back_rc = itest_stack(out, sizeof out, args);
    }

    ck_assert_msg(gone > 0, "supervisor %ld still alive %.0f s after SIGTERM", (long)sup,
                  drain + 5.0);
    ck_assert_msg(gone - t_term <= drain + 0.5, "the pool took %.2f s to drain (limit %.0f s)",
                  gone - t_term, drain);
    if (reaped || status >= 0)
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "the supervisor ended with wait status 0x%x, want exit 0", status);

    size_t before = 0, total = 0;
    for (int i = 0; i < LOADERS; i++) {
        for (size_t k = 0; k < l[i]->n; k++) {
            const sample *s = &l[i]->s[k];
            total++;
            if (s->start < t_term - 0.05) {
                before++;
                ck_assert_msg(s->status == 200,
                              "a request started %.3f s before SIGTERM ended with %ld after "
                              "%.3f s (first non-200 of its thread: %s)",
                              t_term - s->start, s->status, s->end - s->start, l[i]->first_bad);
            }
        }
    }
    itest_note("SIGTERM: supervisor %ld %s after %.3fs, wait status 0x%x; %zu requests, %zu "
               "started before T-50ms",
               (long)sup, reaped ? "reaped by us" : "gone", gone - t_term, status, total, before);
    ck_assert_msg(before >= 50, "only %zu requests before SIGTERM", before);
    if (ready != NULL) {
        size_t saw503 = 0;
        for (size_t k = 0; k < ready->n; k++) {
            const sample *s = &ready->s[k];
            if (s->start > t_term + 0.1 && s->end < gone)
                ck_assert_msg(s->status != 200,
                              "readyz answered 200 %.3f s after SIGTERM while draining",
                              s->start - t_term);
            if (s->status == 503)
                saw503++;
        }
        itest_note("readyz: %zu probes, %zu x 503", ready->n, saw503);
    }

    ck_assert_msg(back_rc == 0, "stack.sh pool-start " SERVICE " exited %d: %s", back_rc, out);
    ck_assert_msg(wait_serving(path, 10), "the pool does not serve after pool-start");
    for (int i = 0; i < LOADERS; i++)
        loader_free(l[i]);
    if (ready != NULL)
        loader_free(ready);
}
END_TEST

/* Whatever happened above, leave the database and the pool running. */
static void restore_stack(void)
{
    itest_resp *r = itest_get(ITEST_CUSTOMERS "?limit=1", NULL);
    long st = r->status;
    itest_free(r);
    if (st == 200)
        return;
    const char *db[] = { "db-start", NULL };
    const char *pool[] = { "pool-start", SERVICE, NULL };
    itest_stack(NULL, 0, db);
    itest_stack(NULL, 0, pool);
}

/* An error answer that holds nothing only the server should know. */
static void no_leak_fault(itest_resp *r, const char *what)
{
    const char *hit = itest_leak(r);
    ck_assert_msg(r->status >= 400, "%s: want an error: %s", what, itest_describe(r));
    ck_assert_msg(hit == NULL, "%s: the answer holds \"%s\": %s", what, hit, itest_describe(r));
    itest_free(r);
}

static void db_start(void)
{
    const char *args[] = { "db-start", NULL };
    itest_stack(NULL, 0, args);
}

/* The database down: every service answers 503 problems, and says nothing more. */
START_TEST(test_error_bodies_db_down)
{
    char out[4096];
    const char *stop[] = { "db-stop", NULL };
    ck_assert_msg(itest_stack(out, sizeof out, stop) == 0, "stack.sh db-stop: %s", out);
    static const char *const reads[] = {
        "/api/v1/customers/1",
        "/api/v1/customers?limit=5",
        "/api/v1/products/1",
        "/api/v1/orders?limit=5",
        "/api/v1/sales/summary?from=2026-01-01",
        "/api/v1/campaigns",
        "/api/v1/segments/1/members",
        "/api/v1/analytics/rfm",
    };
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        itest_resp *r = itest_get(reads[i], NULL);
        ck_assert_msg(r->status == 503, "%s with the database down: %s", reads[i],
                      itest_describe(r));
        no_leak_fault(r, reads[i]);
    }
    no_leak_fault(itest_json("POST", "/api/v1/customers", NULL,
                             "{\"name\":\"Down\",\"email\":\"down@example.com\"}"),
                  "POST /api/v1/customers with the database down");
    db_start();
    /* Back: the next requests reconnect by themselves. */
    double t0 = itest_now();
    for (;;) {
        itest_resp *r = itest_get("/api/v1/customers?limit=1", NULL);
        int ok = r->status == 200;
        itest_free(r);
        if (ok)
            break;
        ck_assert_msg(itest_now() - t0 < 15.0, "customers still failing 15 s after db-start");
        itest_sleep_ms(100);
    }
}
END_TEST

static Suite *faults_suite(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("faults");
    tcase_set_timeout(tc, 90);
    tcase_add_unchecked_fixture(tc, NULL, restore_stack);
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_add_test(tc, test_db_restart);
    tcase_add_test(tc, test_worker_killed);
    tcase_add_test(tc, test_sigterm_drain);
    suite_add_tcase(s, tc);

    /* Last: it leaves every other pool's workers to reconnect on their own. */
    TCase *down = tcase_create("database_down");
    tcase_set_timeout(down, 60);
    tcase_add_unchecked_fixture(down, NULL, restore_stack);
    tcase_add_checked_fixture(down, NULL, itest_teardown);
    tcase_add_test(down, test_error_bodies_db_down);
    suite_add_tcase(s, down);
    return s;
}

int main(void)
{
    itest_init();
    SRunner *sr = srunner_create(faults_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
