/*
 * test_customers_paging.c - keyset pagination under concurrent inserts:
 * over 1,050 rows tagged for this run, walked with limit=97 in several
 * sorts while another thread keeps adding rows with the same tag. No id
 * may appear twice, and every row that existed before a walk started must
 * appear exactly once.
 */
#include "itest.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_BULK       1050
#define BULK_THREADS 6
#define PAGE_LIMIT   97
#define MAX_PAGES    200
#define MAX_ROWS     (MAX_PAGES * PAGE_LIMIT)
#define MAX_INSERTS  400

/* Made once in the (unchecked) fixture, inherited by every forked test. */
static char g_tag[40];
static int64_t g_bulk[N_BULK];

typedef struct {
    uint64_t rng;
    int from, to;
    int64_t *ids;
    char err[1024];
} bulk_job;

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* POST one customer of this run's tag with a random name (so that rows
   added during a walk land anywhere in a name sort); its id or -1. */
static int64_t create_tagged(uint64_t *rng, char *err, size_t errlen)
{
    char email[128], body[512];
    itest_unique_email(email, sizeof email, NULL);
    snprintf(body, sizeof body,
             "{\"name\":\"pg %012" PRIx64 "\",\"email\":\"%s\",\"tags\":[\"%s\"]}",
             (uint64_t)(next_rand(rng) & 0xffffffffffffULL), email, g_tag);
    itest_resp *r = itest_json("POST", ITEST_CUSTOMERS, NULL, body);
    int64_t id = r->status == 201 ? itest_jint(r->json, "id") : -1;
    if (id <= 0) {
        snprintf(err, errlen, "creating: %s", itest_describe(r));
        id = -1;
    }
    itest_free(r);
    return id;
}

static void *bulk_main(void *arg)
{
    bulk_job *j = arg;
    for (int i = j->from; i < j->to; i++) {
        j->ids[i] = create_tagged(&j->rng, j->err, sizeof j->err);
        if (j->ids[i] < 0)
            break;
    }
    return NULL;
}

static void bulk_setup(void)
{
    itest_unique_word(g_tag, sizeof g_tag);
    pthread_t th[BULK_THREADS];
    bulk_job jobs[BULK_THREADS];
    for (int t = 0; t < BULK_THREADS; t++) {
        jobs[t] = (bulk_job){ .rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(t + 1) ^
                                     (uint64_t)(itest_now() * 1e6),
                              .from = N_BULK * t / BULK_THREADS,
                              .to = N_BULK * (t + 1) / BULK_THREADS,
                              .ids = g_bulk };
        jobs[t].err[0] = '\0';
        pthread_create(&th[t], NULL, bulk_main, &jobs[t]);
    }
    for (int t = 0; t < BULK_THREADS; t++)
        pthread_join(th[t], NULL);
    for (int t = 0; t < BULK_THREADS; t++)
        ck_assert_msg(jobs[t].err[0] == '\0', "bulk insert failed: %s", jobs[t].err);
}

/* ---- the inserter ------------------------------------------------------------------------- */

typedef struct {
    int stop;
    int64_t ids[MAX_INSERTS];
    int n;
    char err[1024];
} inserter;

static void *inserter_main(void *arg)
{
    inserter *in = arg;
    uint64_t rng = (uint64_t)(itest_now() * 1e9) | 1;
    while (!__atomic_load_n(&in->stop, __ATOMIC_SEQ_CST) && in->n < MAX_INSERTS) {
        int64_t id = create_tagged(&rng, in->err, sizeof in->err);
        if (id < 0)
            break;
        in->ids[in->n++] = id;
    }
    return NULL;
}

/* ---- walking ------------------------------------------------------------------------------ */

typedef struct {
    int64_t id;
    char key[64]; /* the sort key's value */
} row;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/*
 * Walk ?tag=g_tag&sort=sort&limit=97 to the end. rows gets every item in
 * order; asserts pages of at most 97 and the sort key in order.
 */
static size_t walk(const char *sort, row *rows, size_t max, long pause_ms)
{
    const char *field = sort[0] == '-' ? sort + 1 : sort;
    int desc = sort[0] == '-';
    size_t n = 0;
    char *cursor = NULL;
    int pages = 0;
    for (;;) {
        ck_assert_msg(pages++ < MAX_PAGES, "sort=%s: no end after %d pages", sort, MAX_PAGES);
        char path[1024];
        snprintf(path, sizeof path, ITEST_CUSTOMERS "?tag=%s&sort=%s&limit=%d%s%s", g_tag, sort,
                 PAGE_LIMIT, cursor ? "&cursor=" : "", cursor ? cursor : "");
        free(cursor);
        cursor = NULL;
        itest_resp *r = itest_get(path, NULL);
        ITEST_ASSERT_STATUS(r, 200);
        json_object *items = itest_jget(r->json, "items");
        ck_assert_msg(items && json_object_is_type(items, json_type_array), "%s",
                      itest_describe(r));
        size_t len = json_object_array_length(items);
        ck_assert_msg(len <= PAGE_LIMIT, "page of %zu rows", len);
        for (size_t i = 0; i < len; i++) {
            json_object *it = json_object_array_get_idx(items, i);
            ck_assert_msg(n < max, "sort=%s: more than %zu rows", sort, max);
            rows[n].id = itest_jint(it, "id");
            const char *k = itest_jstr(it, field);
            ck_assert_msg(k != NULL, "item without %s: %s", field, itest_describe(r));
            snprintf(rows[n].key, sizeof rows[n].key, "%s", k);
            if (n > 0) {
                int c = strcmp(rows[n - 1].key, rows[n].key);
                ck_assert_msg(desc ? c >= 0 : c <= 0,
                              "sort=%s out of order at row %zu: %s then %s (page %d)", sort, n,
                              rows[n - 1].key, rows[n].key, pages);
            }
            n++;
        }
        json_object *nc = NULL;
        ck_assert_msg(json_object_object_get_ex(r->json, "next_cursor", &nc), "%s",
                      itest_describe(r));
        if (nc != NULL)
            cursor = itest_urlencode(json_object_get_string(nc));
        itest_free(r);
        if (cursor == NULL)
            return n;
        itest_sleep_ms(pause_ms); /* give the inserter time to land rows mid-walk */
    }
}

static void walk_during_inserts(const char *sort)
{
    static row rows[MAX_ROWS];
    inserter *in = calloc(1, sizeof *in);
    ck_assert_ptr_nonnull(in);
    pthread_t th;
    pthread_create(&th, NULL, inserter_main, in);
    itest_sleep_ms(30); /* let the inserter get going */
    size_t n = walk(sort, rows, MAX_ROWS, 15);
    __atomic_store_n(&in->stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    ck_assert_msg(in->err[0] == '\0', "inserter failed: %s", in->err);
    ck_assert_msg(in->n >= 20, "the inserter added only %d rows during the walk", in->n);

    int64_t *seen = malloc(n * sizeof *seen);
    ck_assert_ptr_nonnull(seen);
    for (size_t i = 0; i < n; i++)
        seen[i] = rows[i].id;
    qsort(seen, n, sizeof *seen, cmp_i64);
    for (size_t i = 1; i < n; i++)
        ck_assert_msg(seen[i] != seen[i - 1], "sort=%s: id %" PRId64 " appears twice", sort,
                      seen[i]);
    /* Every bulk row exactly once. */
    for (size_t i = 0; i < N_BULK; i++)
        ck_assert_msg(bsearch(&g_bulk[i], seen, n, sizeof *seen, cmp_i64) != NULL,
                      "sort=%s: id %" PRId64 " (present before the walk) was skipped (%zu rows "
                      "seen, %d inserted meanwhile)",
                      sort, g_bulk[i], n, in->n);
    /* Nothing but rows of this tag: the bulk rows, those added meanwhile
       and those earlier walks added. */
    ck_assert_msg(n >= N_BULK && n <= N_BULK + (size_t)in->n + 3 * MAX_INSERTS, "sort=%s: %zu rows",
                  sort, n);
    free(seen);
    free(in);
}

START_TEST(test_walk_newest_first)
{
    walk_during_inserts("-created_at");
}
END_TEST

START_TEST(test_walk_by_name)
{
    walk_during_inserts("name");
}
END_TEST

START_TEST(test_walk_by_updated)
{
    walk_during_inserts("updated_at");
}
END_TEST

START_TEST(test_walk_by_name_desc)
{
    walk_during_inserts("-name");
}
END_TEST

/* At a quiet moment count=true equals the rows a full walk returns. */
START_TEST(test_count_quiet)
{
    static row rows[MAX_ROWS];
    size_t n = walk("created_at", rows, MAX_ROWS, 0);
    ck_assert_uint_ge(n, N_BULK);
    char path[256];
    snprintf(path, sizeof path, ITEST_CUSTOMERS "?tag=%s&count=true&limit=1", g_tag);
    itest_resp *r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_msg(itest_jint(r->json, "count") == (int64_t)n, "count %" PRId64 ", walk saw %zu",
                  itest_jint(r->json, "count"), n);
    itest_free(r);
    /* Filters combine with the count. */
    snprintf(path, sizeof path, ITEST_CUSTOMERS "?tag=%s&status=churned&count=true", g_tag);
    r = itest_get(path, NULL);
    ITEST_ASSERT_STATUS(r, 200);
    ck_assert_msg(itest_jint(r->json, "count") == 0, "%s", itest_describe(r));
    itest_free(r);
}
END_TEST

static Suite *paging_suite(void)
{
    Suite *s = suite_create("customers_paging");
    TCase *tc = tcase_create("paging");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, bulk_setup, NULL);
    tcase_add_checked_fixture(tc, NULL, itest_teardown);
    tcase_add_test(tc, test_walk_newest_first);
    tcase_add_test(tc, test_walk_by_name);
    tcase_add_test(tc, test_walk_by_updated);
    tcase_add_test(tc, test_walk_by_name_desc);
    tcase_add_test(tc, test_count_quiet);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    itest_init();
    SRunner *sr = srunner_create(paging_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
