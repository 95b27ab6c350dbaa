/*
 * crm_relay.c - the event relay loop (see crm_relay.h).
 */
#include "crm_relay.h"

#include "crm_arena.h"
#include "crm_buf.h"
#include "crm_event.h"
#include "crm_http.h"
#include "crm_log.h"
#include "crm_metrics.h"
#include "crm_outbox.h"
#include "crm_pool.h"
#include "crm_service.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define ANSWER_MAX     (64u << 10)
#define IDLE_MS        50   /* nothing to send: look again after this */
#define LOCK_WAIT_MS   1000 /* not the leader: try the lock again after this */
#define STATS_MS       1000 /* pending count and age refreshed this often */
#define SEQUENCE_BATCH 1000 /* events numbered per round at most */
/* A batch body stays under this, well below the receivers' 1 MiB cap. */
#define BODY_BUDGET (512u << 10)

typedef struct {
    const char *name;
    const char *source; /* this service */
    char host[96];
    unsigned failures; /* in a row */
    double next_try;   /* monotonic seconds */
    double next_stats;
    int failing; /* logged once per outage */
    /* The delivery in hand: its own client and arena, so that deliveries
       to several subscribers can be in flight at once (one thread each). */
    crm_http *http;
    crm_arena *a;
    const crm_config *conf;
    crm_event ev[CRM_EVENT_BATCH_MAX];
    size_t n;
    size_t limit; /* events per batch now: smaller after a batch too big */
    int rc;       /* crm_http_post's */
    crm_http_res res;
} subscriber;

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double jitter(void)
{
    unsigned char b[4];
    if (RAND_bytes(b, sizeof(b)) != 1)
        return 0.5;
    uint32_t v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return (double)v / 4294967296.0;
}

long crm_relay_backoff_ms(unsigned failures, double j)
{
    long d = CRM_RELAY_BACKOFF_MIN_MS;
    for (unsigned i = 1; i < failures && d < CRM_RELAY_BACKOFF_MAX_MS; i++)
        d *= 2;
    if (d > CRM_RELAY_BACKOFF_MAX_MS)
        d = CRM_RELAY_BACKOFF_MAX_MS;
    if (j < 0)
        j = 0;
    if (j >= 1)
        j = 0.999999;
    return d / 2 + (long)((double)(d - d / 2) * j);
}

/* Sleep ms, in steps, returning early when the pool stops. */
static void nap(long ms)
{
    while (ms > 0 && !crm_pool_stopping()) {
        long step = ms < 100 ? ms : 100;
        struct timespec ts = { 0, step * 1000000L };
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

/* The next batch after s's cursor into s->ev: 0 (s->n may be 0) or -1
   when the database failed. */
static int fetch(crm_db *db, subscriber *s)
{
    int64_t cursor = 0;

    crm_arena_reset(s->a);
    s->n = 0;
    s->rc = CRM_ERR; /* until send_batch says otherwise */
    if (crm_outbox_cursor_get(db, s->name, &cursor) != CRM_OK ||
        crm_outbox_fetch(db, s->a, cursor, s->limit, s->ev, &s->n) != CRM_OK)
        return -1;
    return 0;
}

/* POST s's batch, signed; no database here (it may run in a thread). */
static void *send_batch(void *arg)
{
    subscriber *s = arg;
    const crm_config *conf = s->conf;
    crm_buf body;
    char sig[68], ts_line[64], sig_line[96];

    for (size_t k = 0; k < s->n; k++)
        s->ev[k].source = s->source;
    crm_buf_init(&body, 0);
    crm_event_batch_json(&body, s->ev, s->n);
    /* Big events: fewer of them, so that the body fits (one always goes). */
    while (body.len > BODY_BUDGET && s->n > 1) {
        s->n /= 2;
        crm_buf_reset(&body);
        crm_event_batch_json(&body, s->ev, s->n);
    }
    long long ts = (long long)time(NULL);
    crm_event_sign(conf->event_key, strlen(conf->event_key), ts, body.data, body.len, sig);
    snprintf(ts_line, sizeof(ts_line), "%s: %lld", CRM_EVENT_TS_HEADER, ts);
    snprintf(sig_line, sizeof(sig_line), "%s: %s", CRM_EVENT_SIG_HEADER, sig);
    const char *headers[] = { s->host, ts_line, sig_line, NULL };
    s->rc = crm_http_post(s->http, s->a, "/internal/v1/events", NULL, headers, "application/json",
                          body.data, body.len, &s->res);
    crm_buf_free(&body);
    return NULL;
}

/*
 * After send_batch: move the cursor on an acknowledgement, else set the
 * backoff. 1 when events were acknowledged, 0 when the delivery failed,
 * -1 when the database failed.
 */
static int settle(crm_db *db, size_t i, subscriber *s)
{
    size_t n = s->n;

    if (s->rc == CRM_OK && s->res.status >= 200 && s->res.status < 300) {
        if (crm_outbox_cursor_set(db, s->name, s->ev[n - 1].seq) != CRM_OK)
            return -1; /* delivered again later: the inbox makes that harmless */
        if (s->failing)
            crm_log_info("relay: %s reachable again after %u failures", s->name, s->failures);
        s->failures = 0;
        s->failing = 0;
        if (s->limit < CRM_EVENT_BATCH_MAX) /* back towards full batches */
            s->limit = s->limit * 2 < CRM_EVENT_BATCH_MAX ? s->limit * 2 : CRM_EVENT_BATCH_MAX;
        crm_metrics_relay(i, s->name, -1, -1, n, 0, 1);
        return 1;
    }
    /*
     * 400 or 413 for several events: the batch as a whole is too big for
     * the receiver (values, body size). Half as many, at once; a single
     * event refused goes on being retried with backoff (and logged), never
     * skipped.
     */
    if (s->rc == CRM_OK && (s->res.status == 400 || s->res.status == 413) && n > 1) {
        s->limit = n / 2;
        crm_log_info("relay: %s refused %zu events at once (HTTP %d); sending %zu at a time",
                     s->name, n, s->res.status, s->limit);
        crm_metrics_relay(i, s->name, -1, -1, 0, 1, 1);
        return 0;
    }
    s->failures++;
    long wait = crm_relay_backoff_ms(s->failures, jitter());
    s->next_try = now_mono() + (double)wait / 1000.0;
    if (!s->failing || s->failures % 20 == 0)
        crm_log_warn("relay: delivering %zu events to %s failed (%s %d); retry %u in %ld ms", n,
                     s->name, s->rc == CRM_OK ? "HTTP" : "no answer",
                     s->rc == CRM_OK ? s->res.status : 0, s->failures, wait);
    s->failing = 1;
    crm_metrics_relay(i, s->name, -1, -1, 0, 1, 1);
    return 0;
}

/*
 * Send the fetched batches of subs[due[0..nd)] at once: the subscribers
 * apply them in parallel, so a round lasts as long as the slowest of them
 * rather than all of them in turn. The first goes in this thread.
 */
static void send_all(subscriber *subs, const size_t *due, size_t nd)
{
    pthread_t th[CRM_METRICS_SUBSCRIBERS];
    int started[CRM_METRICS_SUBSCRIBERS] = { 0 };

    for (size_t k = 1; k < nd; k++)
        started[k] = pthread_create(&th[k], NULL, send_batch, &subs[due[k]]) == 0;
    send_batch(&subs[due[0]]);
    for (size_t k = 1; k < nd; k++) {
        if (started[k])
            pthread_join(th[k], NULL);
        else
            send_batch(&subs[due[k]]); /* no thread to be had: in turn */
    }
}

static void stats(crm_db *db, size_t i, subscriber *s)
{
    int64_t count = 0;
    double age = 0;
    if (crm_outbox_pending(db, s->name, &count, &age) == CRM_OK)
        crm_metrics_relay(i, s->name, count, age, 0, 0, 0);
    s->next_stats = now_mono() + STATS_MS / 1000.0;
}

int crm_relay_run(const crm_config *conf, const char *service, const char *const *subscribers)
{
    subscriber subs[CRM_METRICS_SUBSCRIBERS];
    size_t n_subs = 0;
    crm_db_opts o;
    char lock[96];
    int leader = 0;
    unsigned long connects = 0;

    if (conf->event_key == NULL || conf->event_key[0] == '\0') {
        crm_log_error("relay: CRM_EVENT_KEY is not set; events of %s are not delivered", service);
        while (!crm_pool_stopping())
            nap(1000);
        return 1;
    }
    for (; n_subs < CRM_METRICS_SUBSCRIBERS && subscribers[n_subs] != NULL; n_subs++) {
        subscriber *s = &subs[n_subs];
        memset(s, 0, sizeof(*s));
        s->name = subscribers[n_subs];
        s->source = service;
        snprintf(s->host, sizeof(s->host), "Host: %s.internal", s->name);
        s->http = crm_http_new(conf->internal_url, conf->http_timeout_ms, ANSWER_MAX);
        s->limit = CRM_EVENT_BATCH_MAX;
        s->a = crm_arena_new(64u << 10);
        s->conf = conf;
        /* Named now; pending is said once it is counted (stats()). */
        crm_metrics_relay(n_subs, s->name, -1, -1, 0, 0, 0);
    }
    crm_metrics_relay_leader(0);
    crm_service_db_opts(conf, 0, &o);
    crm_db *db = crm_db_new(&o);
    snprintf(lock, sizeof(lock), "crm_relay.%s", conf->db_name);
    crm_log_info("relay of %s started (%zu subscribers)", service, n_subs);

    while (!crm_pool_stopping()) {
        /* A new connection does not hold the lock the old one had. */
        if (leader && crm_db_connects(db) != connects) {
            leader = 0;
            crm_metrics_relay_leader(0);
            crm_log_warn("relay: database connection lost; no longer the relay of %s", service);
        }
        if (!leader) {
            int rc = crm_db_lock(db, lock, 0);
            if (rc != CRM_OK) {
                nap(LOCK_WAIT_MS);
                continue;
            }
            leader = 1;
            connects = crm_db_connects(db);
            crm_metrics_relay_leader(1);
            crm_log_info("relay: this process now delivers the events of %s", service);
        }
        int worked = 0, db_failed = 0;
        size_t due[CRM_METRICS_SUBSCRIBERS], nd = 0, numbered = 0;
        /* Number what committed since the last round (crm_outbox.h). */
        if (crm_outbox_sequence(db, SEQUENCE_BATCH, &numbered) != CRM_OK)
            db_failed = 1;
        double t = now_mono();
        for (size_t i = 0; i < n_subs && !crm_pool_stopping(); i++) {
            if (t >= subs[i].next_stats)
                stats(db, i, &subs[i]);
            if (t < subs[i].next_try)
                continue;
            if (fetch(db, &subs[i]) < 0)
                db_failed = 1;
            else if (subs[i].n > 0)
                due[nd++] = i;
        }
        if (crm_pool_stopping())
            nd = 0; /* nothing sent: nothing to settle */
        else if (nd > 0)
            send_all(subs, due, nd);
        for (size_t k = 0; k < nd; k++) {
            int rc = settle(db, due[k], &subs[due[k]]);
            if (rc > 0)
                worked = 1;
            else if (rc < 0)
                db_failed = 1;
        }
        if (db_failed)
            nap(LOCK_WAIT_MS);
        else if (!worked)
            nap(IDLE_MS);
    }
    if (leader)
        crm_db_unlock(db, lock);
    crm_metrics_relay_leader(0);
    for (size_t i = 0; i < n_subs; i++) {
        crm_arena_free(subs[i].a);
        crm_http_free(subs[i].http);
    }
    crm_db_free(db);
    crm_log_info("relay of %s stopped", service);
    return 0;
}
