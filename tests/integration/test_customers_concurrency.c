/*
 * test_customers_concurrency.c - races: many PATCHes with one If-Match,
 * many POSTs with one Idempotency-Key, all released at once.
 */
#include "itest.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RACERS 16
#define ROUNDS 3

typedef struct {
    pthread_barrier_t *go;
    int index;
    const char *method;
    const char *path;
    const char *body;
    char header[320];
    /* results */
    long status;
    int64_t id;
    int replayed;
    char *body_copy;
    char desc[1024];
} racer;

static void *racer_main(void *arg)
{
    racer *r = arg;
    /* Open this thread's connection first so the race is the requests'. */
    itest_resp *w = itest_get(ITEST_CUSTOMERS "/ping", NULL);
    itest_free(w);
    const char *hdrs[] = { r->header, NULL };
    pthread_barrier_wait(r->go);
    itest_resp *resp = itest_json(r->method, r->path, hdrs, r->body);
    r->status = resp->status;
    r->id = itest_jint(resp->json, "id");
    const char *rep = itest_header_get(resp, "Idempotent-Replayed");
    r->replayed = rep != NULL && strcasecmp(rep, "true") == 0;
    r->body_copy = strdup(resp->body);
    snprintf(r->desc, sizeof r->desc, "%s", itest_describe(resp));
    itest_free(resp);
    return NULL;
}

/* Run RACERS copies of one request at once; results in rs. */
static void race(racer *rs, const char *method, const char *path, const char *header,
                 const char *const *bodies)
{
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, RACERS);
    pthread_t th[RACERS];
    for (int i = 0; i < RACERS; i++) {
        memset(&rs[i], 0, sizeof rs[i]);
        rs[i].go = &go;
        rs[i].index = i;
        rs[i].method = method;
        rs[i].path = path;
        rs[i].body = bodies[i];
        snprintf(rs[i].header, sizeof rs[i].header, "%s", header);
        pthread_create(&th[i], NULL, racer_main, &rs[i]);
    }
    for (int i = 0; i < RACERS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
}

static void racers_free(racer *rs)
{
    for (int i = 0; i < RACERS; i++)
        free(rs[i].body_copy);
}

START_TEST(test_patch_race)
{
    for (int round = 0; round < ROUNDS; round++) {
        int64_t id = itest_new_customer(NULL);
        char path[128];
        snprintf(path, sizeof path, ITEST_CUSTOMERS "/%" PRId64, id);
        char bodies[RACERS][64];
        const char *bp[RACERS];
        for (int i = 0; i < RACERS; i++) {
            snprintf(bodies[i], sizeof bodies[i], "{\"company\":\"Racer %d\"}", i);
            bp[i] = bodies[i];
        }
        racer rs[RACERS];
        race(rs, "PATCH", path, "If-Match: \"1\"", bp);
        int ok = 0, stale = 0, winner = -1;
        for (int i = 0; i < RACERS; i++) {
            if (rs[i].status == 200) {
                ok++;
                winner = i;
            } else if (rs[i].status == 412) {
                stale++;
            } else {
                ck_abort_msg("round %d racer %d: want 200 or 412: %s", round, i, rs[i].desc);
            }
        }
        ck_assert_msg(ok == 1 && stale == RACERS - 1, "round %d: %d x 200, %d x 412", round, ok,
                      stale);
        itest_resp *r = itest_get(path, NULL);
        ITEST_ASSERT_STATUS(r, 200);
        ck_assert_msg(itest_jint(r->json, "version") == 2 && itest_etag_version(r) == 2,
                      "round %d: version after the race: %s", round, itest_describe(r));
        ck_assert_msg(itest_jstr(r->json, "company") != NULL, "%s", itest_describe(r));
        char want[32];
        snprintf(want, sizeof want, "Racer %d", winner);
        ck_assert_msg(strcmp(itest_jstr(r->json, "company"), want) == 0,
                      "round %d: the winner was racer %d but the row says %s", round, winner,
                      itest_jstr(r->json, "company"));
        itest_free(r);
        racers_free(rs);
    }
}
END_TEST

START_TEST(test_idempotency_race)
{
    for (int round = 0; round < ROUNDS; round++) {
        char tag[40], email[128], body[512], key[128];
        itest_unique_word(tag, sizeof tag);
        itest_unique_email(email, sizeof email, "race");
        snprintf(body, sizeof body, "{\"name\":\"Race\",\"email\":\"%s\",\"tags\":[\"%s\"]}", email,
                 tag);
        snprintf(key, sizeof key, "Idempotency-Key: race-%s", tag);
        const char *bp[RACERS];
        for (int i = 0; i < RACERS; i++)
            bp[i] = body;
        racer rs[RACERS];
        race(rs, "POST", ITEST_CUSTOMERS, key, bp);
        int originals = 0;
        for (int i = 0; i < RACERS; i++) {
            ck_assert_msg(rs[i].status == 201, "round %d racer %d: want 201: %s", round, i,
                          rs[i].desc);
            ck_assert_msg(rs[i].id > 0 && rs[i].id == rs[0].id,
                          "round %d: racer %d got id %" PRId64 ", racer 0 got %" PRId64, round, i,
                          rs[i].id, rs[0].id);
            ck_assert_msg(strcmp(rs[i].body_copy, rs[0].body_copy) == 0,
                          "round %d: bodies differ: %s / %s", round, rs[i].body_copy,
                          rs[0].body_copy);
            if (!rs[i].replayed)
                originals++;
        }
        ck_assert_msg(originals == 1, "round %d: %d responses not marked Idempotent-Replayed",
                      round, originals);
        char path[256];
        snprintf(path, sizeof path, ITEST_CUSTOMERS "?tag=%s&count=true", tag);
        itest_resp *r = itest_get(path, NULL);
        ITEST_ASSERT_STATUS(r, 200);
        ck_assert_msg(itest_jint(r->json, "count") == 1, "round %d: rows: %s", round,
                      itest_describe(r));
        json_object *items = itest_jget(r->json, "items");
        ck_assert_msg(items && json_object_array_length(items) == 1 &&
                          itest_jint(json_object_array_get_idx(items, 0), "id") == rs[0].id,
                      "%s", itest_describe(r));
        itest_free(r);
        racers_free(rs);
    }
}
END_TEST

/* Many creates at once with distinct emails: all succeed, distinct ids. */
START_TEST(test_parallel_creates)
{
    char tag[40];
    itest_unique_word(tag, sizeof tag);
    char bodies[RACERS][512];
    const char *bp[RACERS];
    for (int i = 0; i < RACERS; i++) {
        char email[128];
        itest_unique_email(email, sizeof email, NULL);
        snprintf(bodies[i], sizeof bodies[i],
                 "{\"name\":\"Parallel %d\",\"email\":\"%s\",\"tags\":[\"%s\"]}", i, email, tag);
        bp[i] = bodies[i];
    }
    racer rs[RACERS];
    race(rs, "POST", ITEST_CUSTOMERS, "X-Test: parallel", bp);
    for (int i = 0; i < RACERS; i++) {
        ck_assert_msg(rs[i].status == 201, "racer %d: %s", i, rs[i].desc);
        for (int j = 0; j < i; j++)
            ck_assert_msg(rs[i].id != rs[j].id, "racers %d and %d share id %" PRId64, i, j,
                          rs[i].id);
    }
    char path[256];
    snprintf(path, sizeof path, ITEST_CUSTOMERS "?tag=%s&count=true", tag);
    itest_resp *r = itest_get(path, NULL);
    ck_assert_msg(itest_jint(r->json, "count") == RACERS, "%s", itest_describe(r));
    itest_free(r);
    racers_free(rs);
}
END_TEST

/* The same email from many clients at once: exactly one 201, the rest 409. */
START_TEST(test_duplicate_email_race)
{
    char email[128], body[512];
    itest_unique_email(email, sizeof email, "dup-race");
    snprintf(body, sizeof body, "{\"name\":\"Dup race\",\"email\":\"%s\"}", email);
    const char *bp[RACERS];
    for (int i = 0; i < RACERS; i++)
        bp[i] = body;
    racer rs[RACERS];
    race(rs, "POST", ITEST_CUSTOMERS, "X-Test: dup", bp);
    int created = 0;
    for (int i = 0; i < RACERS; i++) {
        if (rs[i].status == 201)
            created++;
        else
            ck_assert_msg(rs[i].status == 409, "racer %d: want 201 or 409: %s", i, rs[i].desc);
    }
    ck_assert_int_eq(created, 1);
    racers_free(rs);
}
END_TEST

static Suite *concurrency_suite(void)
{
    Suite *s = suite_create("customers_concurrency");
    TCase *tc = tcase_create("races");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_add_test(tc, test_patch_race);
    tcase_add_test(tc, test_idempotency_race);
    tcase_add_test(tc, test_parallel_creates);
    tcase_add_test(tc, test_duplicate_email_race);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    itest_init();
    SRunner *sr = srunner_create(concurrency_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
