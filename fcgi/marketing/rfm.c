/*
 * rfm.c - RFM scores and their refresher.
 *
 * The refresher is the pool's sidecar: one process per pod, and one active
 * per service (a MySQL named lock, as the relay). When a customer's metrics
 * changed since the last refresh (customers.updated_at moved; and for a
 * minute after a change, in case a late commit carried an older time: see
 * stale()) — or an hour passed, since recency moves with the clock — it
 * recomputes the quintile cut-offs (four indexed OFFSET reads per
 * dimension) and the R x F grid
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
#define MAX_AGE_S     3600 /* recency moves with the clock */
#define LATE_COMMIT_S 60   /* longer than any transaction (lock waits are 50 s) */

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

/* Seconds since the epoch of a time as stored ("YYYY-MM-DD HH:MM:SS..."), or -1. */
static time_t seconds_of(const char *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (t == NULL || sscanf(t, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                            &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return timegm(&tm);
}

/*
 * Refresh again? When the newest change differs from the one the last
 * refresh saw; when that refresh came less than LATE_COMMIT_S after the
 * newest change (a transaction stamps its rows before it commits, so one
 * that committed after the refresh read may carry an older time than what
 * that refresh saw: looking again for a while catches it); and hourly.
 */
static int stale(const char *changed, const char *seen, const char *computed, const char *now)
{
    time_t ch = seconds_of(changed), co = seconds_of(computed), n = seconds_of(now);
    if (changed == NULL)
        return 0; /* no customer yet */
    if (seen == NULL || strcmp(changed, seen) != 0 || ch < 0 || co < 0 || n < 0)
        return 1;
    return co - ch < LATE_COMMIT_S || n - co > MAX_AGE_S;
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
        if (rc == CRM_OK && stale(changed, seen, computed, crm_api_now(a))) {
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
