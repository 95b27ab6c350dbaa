/*
 * test_sales_concurrency.c - many confirmations of orders for one product
 * with little stock, all released at once: exactly as many succeed as the
 * stock allows, the rest are 409 insufficient-stock, the stock never goes
 * below zero, and cancelling the winners puts back exactly what they took.
 */
#include "itest.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RACERS 50
#define STOCK  10

typedef struct {
    pthread_barrier_t *go;
    int64_t order;
    const char *action;   /* confirm | cancel */
    const char *want_409; /* problem type a 409 must have */
    /* results */
    long status;
    int body_ok;        /* 200: the order with the new status; 409: the problem as documented */
    size_t short_lines; /* 409: entries of short_lines */
    double seconds;
    char desc[1024];
} racer;

static void *racer_main(void *arg)
{
    racer *r = arg;
    itest_set_timeout_ms(60000);
    /* Open this thread's connection first so the race is the requests'. */
    itest_resp *w = itest_get(ITEST_PRODUCTS "?limit=1", NULL);
    itest_free(w);
    char path[128];
    snprintf(path, sizeof path, ITEST_ORDERS "/%" PRId64 "/%s", r->order, r->action);
    pthread_barrier_wait(r->go);
    itest_resp *resp = itest_request("POST", path, NULL, "", 0, NULL);
    r->status = resp->status;
    r->seconds = resp->seconds;
    if (resp->status == 200) {
        const char *st = itest_jstr(resp->json, "status");
        const char *want = strcmp(r->action, "confirm") == 0 ? "confirmed" : "cancelled";
        r->body_ok =
            st != NULL && strcmp(st, want) == 0 && itest_jint(resp->json, "id") == r->order;
    } else if (resp->status == 409) {
        r->body_ok = itest_check_problem_type(resp, 409, r->want_409) == NULL;
        json_object *sl = itest_jget(resp->json, "short_lines");
        if (sl == NULL || !json_object_is_type(sl, json_type_array))
            r->body_ok = 0;
        /* Each short line: what was asked and what was left (less, not negative). */
        for (size_t i = 0; r->body_ok && i < json_object_array_length(sl); i++) {
            json_object *e = json_object_array_get_idx(sl, i);
            r->body_ok = itest_jint(e, "requested") > itest_jint(e, "available") &&
                         itest_jint(e, "available") >= 0;
            r->short_lines++;
        }
    }
    snprintf(r->desc, sizeof r->desc, "%s", itest_describe(resp));
    itest_free(resp);
    return NULL;
}

/* POST /orders/{id}/action for every order at once; results in rs. */
static void race(racer *rs, const int64_t *orders, size_t n, const char *action)
{
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)n);
    pthread_t th[RACERS];
    for (size_t i = 0; i < n; i++) {
        memset(&rs[i], 0, sizeof rs[i]);
        rs[i].go = &go;
        rs[i].order = orders[i];
        rs[i].action = action;
        rs[i].want_409 = "/problems/insufficient-stock";
        ck_assert_int_eq(pthread_create(&th[i], NULL, racer_main, &rs[i]), 0);
    }
    for (size_t i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
}

static itest_resp *get_path(const char *base, int64_t id)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%" PRId64, base, id);
    return itest_get(path, NULL);
}

/* Stock and version of a product. */
static void product_state(int64_t pid, int64_t *stock, long *version)
{
    itest_resp *r = get_path(ITEST_PRODUCTS, pid);
    ITEST_ASSERT_STATUS(r, 200);
    *stock = itest_jint(r->json, "stock");
    *version = itest_etag_version(r);
    ck_assert_msg(*stock != INT64_MIN && *version > 0, "%s", itest_describe(r));
    itest_free(r);
}

static void assert_order_status(int64_t id, const char *status)
{
    itest_resp *r = get_path(ITEST_ORDERS, id);
    ITEST_ASSERT_STATUS(r, 200);
    const char *st = itest_jstr(r->json, "status");
    ck_assert_msg(st != NULL && strcmp(st, status) == 0, "order %" PRId64 " is not %s: %s", id,
                  status, itest_describe(r));
    itest_free(r);
}

/*
 * RACERS drafts of quantity each for one product with STOCK on hand,
 * confirmed at once: exactly STOCK / quantity succeed. Then the winners
 * are cancelled at once and the stock is whole again.
 */
static void confirm_race(long quantity)
{
    const int64_t winners_want = STOCK / quantity;
    int64_t cust = itest_new_customer(NULL);
    char extra[32];
    snprintf(extra, sizeof extra, "\"stock\":%d", STOCK);
    int64_t pid = itest_new_product(100, "EUR", extra);
    char lines[128];
    snprintf(lines, sizeof lines, "[{\"product_id\":%" PRId64 ",\"quantity\":%ld}]", pid, quantity);
    int64_t orders[RACERS];
    for (int i = 0; i < RACERS; i++)
        orders[i] = itest_new_order(cust, lines, NULL);

    racer *rs = calloc(RACERS, sizeof *rs);
    ck_assert_ptr_nonnull(rs);
    race(rs, orders, RACERS, "confirm");
    int64_t won[RACERS];
    size_t n_won = 0, n_short = 0;
    for (int i = 0; i < RACERS; i++) {
        if (rs[i].status == 200) {
            ck_assert_msg(rs[i].body_ok, "racer %d: 200 without the confirmed order: %s", i,
                          rs[i].desc);
            won[n_won++] = rs[i].order;
        } else if (rs[i].status == 409) {
            ck_assert_msg(rs[i].body_ok && rs[i].short_lines == 1,
                          "racer %d: 409 that is not insufficient-stock with one short line: %s", i,
                          rs[i].desc);
            n_short++;
        } else {
            ck_abort_msg("racer %d: want 200 or 409: %s", i, rs[i].desc);
        }
    }
    itest_note("quantity %ld: %zu confirmed, %zu short", quantity, n_won, n_short);
    ck_assert_msg((int64_t)n_won == winners_want && n_short == RACERS - n_won,
                  "quantity %ld, stock %d: %zu x 200 and %zu x 409, want %" PRId64 " x 200",
                  quantity, STOCK, n_won, n_short, winners_want);

    int64_t stock;
    long version;
    product_state(pid, &stock, &version);
    ck_assert_msg(stock == STOCK - winners_want * quantity,
                  "stock after the race is %" PRId64 ", want %" PRId64, stock,
                  STOCK - winners_want * quantity);
    ck_assert_msg(version == 1 + (long)n_won,
                  "product version %ld after %zu confirmations, want %ld (a lost update?)", version,
                  n_won, 1 + (long)n_won);
    /* The winners are confirmed, the others untouched drafts. */
    for (int i = 0; i < RACERS; i++)
        assert_order_status(rs[i].order, rs[i].status == 200 ? "confirmed" : "draft");

    /* Cancel the winners all at once: every unit comes back. */
    race(rs, won, n_won, "cancel");
    for (size_t i = 0; i < n_won; i++)
        ck_assert_msg(rs[i].status == 200 && rs[i].body_ok, "cancel %zu: %s", i, rs[i].desc);
    product_state(pid, &stock, &version);
    ck_assert_msg(stock == STOCK, "stock after cancelling the winners is %" PRId64 ", want %d",
                  stock, STOCK);
    ck_assert_msg(version == 1 + 2 * (long)n_won, "product version %ld after %zu cancels", version,
                  n_won);
    for (size_t i = 0; i < n_won; i++)
        assert_order_status(won[i], "cancelled");
    free(rs);
}

START_TEST(test_confirm_race_one_unit)
{
    confirm_race(1);
}
END_TEST

START_TEST(test_confirm_race_three_units)
{
    confirm_race(3);
}
END_TEST

/*
 * Orders of two products whose lines name them in opposite orders, so
 * that confirmations locking products in line order would deadlock: still
 * only 200 or 409, and never more sold than on hand.
 */
START_TEST(test_confirm_race_two_products)
{
    int64_t cust = itest_new_customer(NULL);
    char extra[32];
    snprintf(extra, sizeof extra, "\"stock\":%d", STOCK);
    int64_t a = itest_new_product(100, "EUR", extra);
    int64_t b = itest_new_product(100, "EUR", extra);
    int64_t orders[RACERS];
    for (int i = 0; i < RACERS; i++) {
        char lines[160];
        snprintf(lines, sizeof lines,
                 "[{\"product_id\":%" PRId64 ",\"quantity\":1},{\"product_id\":%" PRId64
                 ",\"quantity\":1}]",
                 i % 2 ? a : b, i % 2 ? b : a);
        orders[i] = itest_new_order(cust, lines, NULL);
    }
    racer *rs = calloc(RACERS, sizeof *rs);
    ck_assert_ptr_nonnull(rs);
    race(rs, orders, RACERS, "confirm");
    size_t n_won = 0;
    for (int i = 0; i < RACERS; i++) {
        if (rs[i].status == 200) {
            ck_assert_msg(rs[i].body_ok, "racer %d: %s", i, rs[i].desc);
            n_won++;
        } else {
            ck_assert_msg(rs[i].status == 409,
                          "racer %d: want 200 or 409 (a deadlock not retried?): %s", i, rs[i].desc);
            /* Both products may be short for a loser. */
            ck_assert_msg(rs[i].body_ok && rs[i].short_lines >= 1 && rs[i].short_lines <= 2,
                          "racer %d: %s", i, rs[i].desc);
        }
    }
    ck_assert_msg(n_won == STOCK, "%zu orders of both products confirmed, want %d", n_won, STOCK);
    int64_t sa, sb;
    long va, vb;
    product_state(a, &sa, &va);
    product_state(b, &sb, &vb);
    ck_assert_msg(sa == 0 && sb == 0, "stock left %" PRId64 " and %" PRId64 ", want 0 and 0", sa,
                  sb);
    free(rs);
}
END_TEST

static Suite *concurrency_suite(void)
{
    Suite *s = suite_create("sales_concurrency");
    TCase *tc = tcase_create("stock");
    tcase_set_timeout(tc, 180);
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_add_test(tc, test_confirm_race_one_unit);
    tcase_add_test(tc, test_confirm_race_three_units);
    tcase_add_test(tc, test_confirm_race_two_products);
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
