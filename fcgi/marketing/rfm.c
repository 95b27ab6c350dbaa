/*
 * rfm.c - RFM scores and their refresher.
 *
 * The refresher is the pool's sidecar: one process per pod, and one active
 * per service (a MySQL named lock, as the relay). When a customer's metrics
 * changed since the last refresh (customers.updated_at moved) — or an hour
 * passed, since recency moves with the clock — it recomputes the quintile
 * cut-offs (four indexed OFFSET reads per dimension) and the R x F grid
 * (one aggregate over the customers with orders), and stores both. No
 * request ever rescans the customers: scores are read against the stored
 * cut-offs, the grid from its table.
 */
#include "marketing.h"

#include "crm_api.h"
#include "crm_log.h"
#include "crm_pool.h"
#include "crm_service.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define LOCK_WAIT_MS  1000
#define MAX_AGE_HOURS 1

int rfm_score_int(int64_t v, const int64_t c[4])
{
    int s = 1;
    for (int i = 0; i < 4; i++)
        s += v > c[i];
    return s;
}

int rfm_score_time(const char *v, const char *const c[4])
{
    int s = 1;
    for (int i = 0; i < 4; i++)
        s += c[i] != NULL && strcmp(v, c[i]) > 0;
    return s;
}

static void nap(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (!crm_pool_stopping() && nanosleep(&ts, &ts) != 0)
        ;
}

/* "YYYY-MM-DD HH:MM:SS..." older than hours before now (both as stored). */
static int older_than(const char *t, const char *now, int hours)
{
    struct tm a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    if (t == NULL ||
        sscanf(t, "%d-%d-%d %d:%d:%d", &a.tm_year, &a.tm_mon, &a.tm_mday, &a.tm_hour, &a.tm_min,
               &a.tm_sec) != 6 ||
        sscanf(now, "%d-%d-%d %d:%d:%d", &b.tm_year, &b.tm_mon, &b.tm_mday, &b.tm_hour, &b.tm_min,
               &b.tm_sec) != 6)
        return 1;
    return timegm(&b) - timegm(&a) > (time_t)hours * 3600;
}

static int same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* One refresh, in one transaction. */
static int refresh(crm_db *db, crm_arena *a, const char *seen_at)
{
    rfm_cutoffs cut;
    int64_t cells[25][2];
    int rc;

    memset(&cut, 0, sizeof(cut));
    memset(cells, 0, sizeof(cells));
    if ((rc = crm_db_begin(db)) != CRM_OK)
        return rc;
    if ((rc = store_rfm_customers(db, &cut.customers)) != CRM_OK)
        goto out;
    if (cut.customers > 0) {
        for (int i = 0; i < 4 && rc == CRM_OK; i++) {
            /* c_i: the value at position ceil(N * i / 5), from 1 */
            int64_t pos = (cut.customers * (i + 1) + 4) / 5;
            rc = store_rfm_value(db, a, 'r', pos, &cut.r[i], NULL);
            if (rc == CRM_OK)
                rc = store_rfm_value(db, a, 'f', pos, NULL, &cut.f[i]);
            if (rc == CRM_OK)
                rc = store_rfm_value(db, a, 'm', pos, NULL, &cut.m[i]);
        }
        if (rc == CRM_NOTFOUND) /* customers changed under us: next round */
            rc = CRM_CONFLICT;
        if (rc != CRM_OK)
            goto out;
        cut.valid = 1;
        if ((rc = store_rfm_compute_grid(db, &cut, cells)) != CRM_OK)
            goto out;
    }
    if ((rc = store_rfm_save(db, &cut, cells, seen_at, crm_api_now(a))) == CRM_OK)
        rc = crm_db_commit(db);
out:
    if (rc != CRM_OK)
        crm_db_rollback(db);
    return rc;
}

int rfm_refresher_run(const crm_config *conf)
{
    crm_db_opts o;
    char lock[96];
    int leader = 0;
    unsigned long connects = 0;

    crm_service_db_opts(conf, 0, &o);
    crm_db *db = crm_db_new(&o);
    crm_arena *a = crm_arena_new(16u << 10);
    snprintf(lock, sizeof(lock), "crm_rfm.%s", conf->db_name);
    store_init();
    crm_log_info("rfm refresher started (every %ld ms at most)", conf->rfm_refresh_ms);

    while (!crm_pool_stopping()) {
        crm_arena_reset(a);
        if (leader && crm_db_connects(db) != connects)
            leader = 0; /* a new connection does not hold the lock */
        if (!leader) {
            if (crm_db_lock(db, lock, 0) != CRM_OK) {
                nap(LOCK_WAIT_MS);
                continue;
            }
            leader = 1;
            connects = crm_db_connects(db);
        }
        const char *changed = NULL, *seen = NULL, *computed = NULL;
        int rc = store_rfm_state(db, a, &changed, &seen, &computed);
        if (rc == CRM_OK && changed != NULL &&
            (!same(changed, seen) || older_than(computed, crm_api_now(a), MAX_AGE_HOURS))) {
            rc = refresh(db, a, changed);
            if (rc != CRM_OK && rc != CRM_CONFLICT)
                crm_log_warn("rfm refresh failed (%d); trying again", rc);
        } else if (rc != CRM_OK) {
            crm_log_warn("rfm refresher: database unavailable (%d)", rc);
        }
        nap(conf->rfm_refresh_ms);
    }
    if (leader)
        crm_db_unlock(db, lock);
    crm_arena_free(a);
    crm_db_free(db);
    crm_log_info("rfm refresher stopped");
    return 0;
}
