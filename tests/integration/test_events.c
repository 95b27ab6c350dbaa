/*
 * test_events.c - customers' events (customer.created|updated|deleted)
 * delivered by the customers relay to the sales inbox, POST
 * /internal/v1/events with "Host: sales.internal", signed with
 * HMAC-SHA256(key, "<ts>.<body>") in X-CRM-Timestamp / X-CRM-Signature:
 * the inbox's checks (signature, clock skew, malformed batches, where it
 * is reachable), deletions and creations reaching the sales replica by
 * event rather than by read-through, redelivery and stale versions with
 * hand-made events, the relay's metrics on the customers admin port, the
 * relay killed mid-delivery (its supervisor restarts it and nothing is
 * lost) and the relay riding out a sales outage.
 *
 * The key is read from $CRM_EVENT_KEY_FILE, else $CRM_STATE/secrets/
 * events.key. Hand-made events use customer ids the customers service
 * never hands out (SYNTHETIC_BASE + pid * 1000 + n): an order for one can
 * only succeed when sales applied an event for it. Tests that stop a pool
 * sit in their own TCase whose unchecked fixture starts it again whatever
 * happened; the sales outage runs last.
 */
#include "itest.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define EVENTS_PATH    "/internal/v1/events"
#define SALES_HOST     "Host: sales.internal"
#define MAX_SKEW_S     300
#define SYNTHETIC_BASE INT64_C(900000000000)
#define BODY_MAX       8192

/* Bounds (seconds). */
#define DELETE_WITHIN_S  2.0  /* a delete reaches the replica by event */
#define DRAINED_WITHIN_S 2.0  /* the relay reports nothing pending for sales */
#define FAILURE_WITHIN_S 5.0  /* a failed delivery shows in the metrics */
#define REDELIVER_WITHIN 40.0 /* after sales is back (backoff capped at 30 s) */
#define POOL_BACK_S      30.0 /* a pool answers after pool-start */
#define METRICS_WITHIN_S 5.0

static const char *const SALES_LABELS[] = { "service", "customers", "subscriber", "sales", NULL };
static const char *const SERVICE_LABELS[] = { "service", "customers", NULL };

static const char *env_url(const char *name)
{
    const char *v = getenv(name);
    ck_assert_msg(v != NULL && *v != '\0', "%s is not set", name);
    return v;
}

/* ---- signing ------------------------------------------------------------------------------ */

typedef enum {
    SIG_NONE, /* no X-CRM-Timestamp, no X-CRM-Signature */
    SIG_GOOD, /* signed with the key */
    SIG_BAD,  /* signed with another key */
} sig_mode;

/*
 * POST body to base + /internal/v1/events with host ("Host: ..." or NULL:
 * the URL's), signed as mode says with a timestamp skew seconds off now.
 * base NULL: the public listener (itest_request).
 */
static itest_resp *post_events(const char *base, const char *host, const char *body, sig_mode mode,
                               long skew)
{
    char key[512], sig[68], ts_line[64], sig_line[96];
    const char *headers[4];
    size_t nh = 0;
    if (host != NULL)
        headers[nh++] = host;
    if (mode != SIG_NONE) {
        long long ts = (long long)time(NULL) + skew;
        if (mode == SIG_GOOD)
            itest_event_key(key, sizeof key);
        else
            snprintf(key, sizeof key, "not-the-event-key-%ld", (long)getpid());
        itest_event_sign(key, ts, body, sig);
        snprintf(ts_line, sizeof ts_line, "X-CRM-Timestamp: %lld", ts);
        snprintf(sig_line, sizeof sig_line, "X-CRM-Signature: %s", sig);
        headers[nh++] = ts_line;
        headers[nh++] = sig_line;
    }
    headers[nh] = NULL;
    if (base == NULL)
        return itest_request("POST", EVENTS_PATH, headers, body, strlen(body), "application/json");
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, EVENTS_PATH);
    return itest_request_url("POST", url, headers, body, strlen(body), "application/json");
}

/* A correctly signed delivery to the sales inbox. */
static itest_resp *deliver(const char *body)
{
    return post_events(env_url("CRM_INTERNAL_URL"), SALES_HOST, body, SIG_GOOD, 0);
}

/* ---- hand-made events --------------------------------------------------------------------- */

/* A customer id the customers service never hands out, unique per call. */
static int64_t synthetic_id(void)
{
    static int n;
    return SYNTHETIC_BASE + (int64_t)getpid() * 1000 + ++n;
}

/* Now, UTC, as "2026-11-27T12:00:00.000000Z". */
static void occurred_now(char *buf, size_t n)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, n, "%s.%06ldZ", day, (long)tv.tv_usec);
}

/*
 * One event object (no surrounding batch): type "customer.<kind>" for
 * customer cust at version, its payload the customer as the customers
 * service shows it. id: the event id.
 */
static void event_json(char *buf, size_t n, const char *id, const char *kind, int64_t cust,
                       int64_t version, const char *name)
{
    char when[64], email[128];
    int deleted = strcmp(kind, "deleted") == 0;
    occurred_now(when, sizeof when);
    itest_unique_email(email, sizeof email, "event");
    int len = snprintf(buf, n,
                       "{\"id\":\"%s\",\"type\":\"customer.%s\",\"aggregate_id\":%" PRId64
                       ",\"aggregate_version\":%" PRId64 ",\"occurred_at\":\"%s\","
                       "\"source\":\"customers\",\"payload\":{\"id\":%" PRId64
                       ",\"name\":\"%s\",\"email\":\"%s\",\"status\":\"lead\",\"tags\":[],"
                       "\"version\":%" PRId64 ",\"deleted\":%s}}",
                       id, kind, cust, version, when, cust, name, email, version,
                       deleted ? "true" : "false");
    ck_assert_msg(len > 0 && (size_t)len < n, "event too long");
}

/* {"events":[a(,b)]}. */
static void batch_json(char *buf, size_t n, const char *a, const char *b)
{
    int len = snprintf(buf, n, "{\"events\":[%s%s%s]}", a, b ? "," : "", b ? b : "");
    ck_assert_msg(len > 0 && (size_t)len < n, "batch too long");
}

/* Deliver a batch; assert 200 {"applied":applied,"duplicates":dups}. */
static void deliver_expect(const char *body, int64_t applied, int64_t dups, const char *what)
{
    itest_resp *r = deliver(body);
    ck_assert_msg(r->status == 200, "%s: %s", what, itest_describe(r));
    ck_assert_msg(r->json != NULL, "%s: no JSON answer: %s", what, itest_describe(r));
    ck_assert_msg(itest_jint(r->json, "applied") == applied &&
                      itest_jint(r->json, "duplicates") == dups,
                  "%s: want applied %" PRId64 ", duplicates %" PRId64 ": %s", what, applied, dups,
                  itest_describe(r));
    itest_free(r);
}

/* ---- orders ------------------------------------------------------------------------------- */

/* An order without lines (so it needs a currency) for cust. */
static itest_resp *order_for(int64_t cust)
{
    return itest_create_order(cust, NULL, "\"currency\":\"EUR\"", NULL);
}

/* 422 problem naming customer_id. */
static int refused_customer(const itest_resp *r)
{
    return r->status == 422 && itest_check_problem(r, 422) == NULL &&
           itest_problem_field_count(r, "customer_id") > 0;
}

static void expect_order_ok(int64_t cust, const char *what)
{
    itest_resp *r = order_for(cust);
    ck_assert_msg(r->status == 201, "%s: order for customer %" PRId64 ": %s", what, cust,
                  itest_describe(r));
    ITEST_ASSERT_STATUS(r, 201);
    ck_assert_int_eq(itest_jint(r->json, "customer_id"), cust);
    itest_free(r);
}

static void expect_order_refused(int64_t cust, const char *what)
{
    itest_resp *r = order_for(cust);
    ck_assert_msg(refused_customer(r), "%s: want 422 on customer_id for customer %" PRId64 ": %s",
                  what, cust, itest_describe(r));
    itest_free(r);
}

/*
 * POST orders for cust every interval_ms until one is refused with 422 on
 * customer_id (1) or secs pass (0). 201 meanwhile is expected (the change
 * has not arrived yet); 502/503 are tolerated (a pool coming back), any
 * other answer fails the test. last: what the last attempt got.
 */
static int wait_order_refused(int64_t cust, double secs, long interval_ms, char *last, size_t n)
{
    double until = itest_now() + secs;
    snprintf(last, n, "(no attempt)");
    for (;;) {
        itest_resp *r = order_for(cust);
        snprintf(last, n, "%s", itest_describe(r));
        if (refused_customer(r)) {
            itest_free(r);
            return 1;
        }
        ck_assert_msg(r->status == 201 || r->status == 502 || r->status == 503,
                      "waiting for customer %" PRId64 " to be refused: %s", cust,
                      itest_describe(r));
        itest_free(r);
        if (itest_now() >= until)
            return 0;
        itest_sleep_ms(interval_ms);
    }
}

/* ---- stack control ------------------------------------------------------------------------ */

#define CUSTOMERS_PING ITEST_CUSTOMERS "/ping"
#define SALES_PROBE    ITEST_PRODUCTS "?limit=1"

/* ---- relay metrics (customers admin port) -------------------------------------------------- */

typedef struct {
    int have_leader, have_pending, have_delivered, have_failures, have_attempts, have_oldest;
    double leader, pending, delivered, failures, attempts, oldest;
    char *text; /* the whole exposition */
} relay_stats;

static void stats_free(relay_stats *s)
{
    free(s->text);
    s->text = NULL;
}

/* GET $CRM_ADMIN_URL_CUSTOMERS/metrics into s (asserting 200). */
static void stats_get(relay_stats *s)
{
    char url[512];
    snprintf(url, sizeof url, "%s/metrics", env_url("CRM_ADMIN_URL_CUSTOMERS"));
    itest_resp *r = itest_request_url("GET", url, NULL, NULL, 0, NULL);
    ck_assert_msg(r->status == 200, "%s", itest_describe(r));
    memset(s, 0, sizeof *s);
    s->text = strdup(r->body);
    ck_assert_ptr_nonnull(s->text);
    itest_free(r);
    s->have_leader = itest_metric(s->text, "crm_relay_leader", SERVICE_LABELS, &s->leader);
    s->have_pending = itest_metric(s->text, "crm_events_pending", SALES_LABELS, &s->pending);
    s->have_delivered =
        itest_metric(s->text, "crm_events_delivered_total", SALES_LABELS, &s->delivered);
    s->have_failures =
        itest_metric(s->text, "crm_event_delivery_failures_total", SALES_LABELS, &s->failures);
    s->have_attempts =
        itest_metric(s->text, "crm_event_delivery_attempts_total", SALES_LABELS, &s->attempts);
    s->have_oldest =
        itest_metric(s->text, "crm_events_oldest_pending_seconds", SALES_LABELS, &s->oldest);
}

/* The relay's samples for sales, for failure messages. */
static const char *stats_describe(const relay_stats *s)
{
    static char buf[512];
    snprintf(buf, sizeof buf,
             "leader %g%s, pending %g%s, delivered %g%s, failures %g%s, attempts %g%s, "
             "oldest %g%s",
             s->leader, s->have_leader ? "" : " (absent)", s->pending,
             s->have_pending ? "" : " (absent)", s->delivered, s->have_delivered ? "" : " (absent)",
             s->failures, s->have_failures ? "" : " (absent)", s->attempts,
             s->have_attempts ? "" : " (absent)", s->oldest, s->have_oldest ? "" : " (absent)");
    return buf;
}

/*
 * Poll the metrics every 100 ms until the relay has delivered more than
 * after events to sales and reports none pending, or secs pass. 1 when it
 * did; last holds the last sample either way.
 */
static int wait_drained(double after, double secs, relay_stats *last)
{
    double until = itest_now() + secs;
    memset(last, 0, sizeof *last);
    for (;;) {
        stats_free(last);
        stats_get(last);
        if (last->have_pending && last->pending == 0 && last->have_delivered &&
            last->delivered > after)
            return 1;
        if (itest_now() >= until)
            return 0;
        itest_sleep_ms(100);
    }
}

/* Poll the metrics every 10 ms until the relay has delivered more than
   after events to sales (pending or not), or secs pass; as wait_drained. */
static int wait_delivered(double after, double secs, relay_stats *last)
{
    double until = itest_now() + secs;
    memset(last, 0, sizeof *last);
    for (;;) {
        stats_free(last);
        stats_get(last);
        if (last->have_delivered && last->delivered > after)
            return 1;
        if (itest_now() >= until)
            return 0;
        itest_sleep_ms(10);
    }
}

/*
 * Labels of every sample of name: only service and subscriber may appear.
 * NULL when they hold, else the offending line.
 */
static const char *bad_labels(const char *text, const char *name)
{
    static char line[512];
    size_t nl = strlen(name);
    for (const char *p = text; p != NULL && *p != '\0';) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (strncmp(p, name, nl) == 0 && p[nl] == '{') {
            snprintf(line, sizeof line, "%.*s", (int)(len < 500 ? len : 500), p);
            /* Label names: after '{' or ',' up to '='; values are skipped. */
            const char *q = p + nl + 1;
            while (q < p + len && *q != '}') {
                const char *k = q;
                while (q < p + len && *q != '=')
                    q++;
                size_t klen = (size_t)(q - k);
                if (!((klen == 7 && strncmp(k, "service", 7) == 0) ||
                      (klen == 10 && strncmp(k, "subscriber", 10) == 0)))
                    return line;
                if (q + 1 >= p + len || q[1] != '"')
                    return line;
                q += 2;
                while (q < p + len && *q != '"')
                    q += (*q == '\\') ? 2 : 1;
                q++;
                if (q < p + len && *q == ',')
                    q++;
            }
        }
        p = eol ? eol + 1 : NULL;
    }
    return NULL;
}

/* ---- (1) the inbox's checks --------------------------------------------------------------- */

START_TEST(test_inbox_signature)
{
    const char *internal = env_url("CRM_INTERNAL_URL");
    char id[37], ev[2048], body[BODY_MAX];
    int64_t cust = synthetic_id();
    itest_uuid4(id);
    event_json(ev, sizeof ev, id, "created", cust, 1, "Signed Event");
    batch_json(body, sizeof body, ev, NULL);

    /* No signature at all. */
    itest_resp *r = post_events(internal, SALES_HOST, body, SIG_NONE, 0);
    ck_assert_msg(r->status == 401, "unsigned: %s", itest_describe(r));
    ITEST_ASSERT_PROBLEM(r, 401);
    itest_free(r);
    /* A timestamp but no signature. */
    {
        char ts_line[64], url[512];
        snprintf(ts_line, sizeof ts_line, "X-CRM-Timestamp: %lld", (long long)time(NULL));
        snprintf(url, sizeof url, "%s%s", internal, EVENTS_PATH);
        const char *h[] = { SALES_HOST, ts_line, NULL };
        r = itest_request_url("POST", url, h, body, strlen(body), "application/json");
        ck_assert_msg(r->status == 401, "timestamp without signature: %s", itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 401);
        itest_free(r);
    }
    /* Signed with another key. */
    r = post_events(internal, SALES_HOST, body, SIG_BAD, 0);
    ck_assert_msg(r->status == 401, "wrong signature: %s", itest_describe(r));
    ITEST_ASSERT_PROBLEM(r, 401);
    itest_free(r);
    /* Right key, body changed after signing. */
    {
        char key[512], sig[68], ts_line[64], sig_line[96], url[512];
        long long ts = (long long)time(NULL);
        itest_event_key(key, sizeof key);
        itest_event_sign(key, ts, body, sig);
        snprintf(ts_line, sizeof ts_line, "X-CRM-Timestamp: %lld", ts);
        snprintf(sig_line, sizeof sig_line, "X-CRM-Signature: %s", sig);
        snprintf(url, sizeof url, "%s%s", internal, EVENTS_PATH);
        const char *h[] = { SALES_HOST, ts_line, sig_line, NULL };
        char tampered[BODY_MAX];
        snprintf(tampered, sizeof tampered, "%s", body);
        char *at = strstr(tampered, "Signed Event");
        ck_assert_ptr_nonnull(at);
        at[0] = 'X';
        r = itest_request_url("POST", url, h, tampered, strlen(tampered), "application/json");
        ck_assert_msg(r->status == 401, "tampered body: %s", itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 401);
        itest_free(r);
    }
    /* Correctly signed, but too old or too far ahead. */
    r = post_events(internal, SALES_HOST, body, SIG_GOOD, -(MAX_SKEW_S + 1));
    ck_assert_msg(r->status == 401, "timestamp %d s old: %s", MAX_SKEW_S + 1, itest_describe(r));
    ITEST_ASSERT_PROBLEM(r, 401);
    itest_free(r);
    r = post_events(internal, SALES_HOST, body, SIG_GOOD, MAX_SKEW_S + 1);
    ck_assert_msg(r->status == 401, "timestamp %d s ahead: %s", MAX_SKEW_S + 1, itest_describe(r));
    ITEST_ASSERT_PROBLEM(r, 401);
    itest_free(r);

    /* None of those applied anything: sales does not know the customer. */
    expect_order_refused(cust, "after refused deliveries");

    /* Correct. */
    deliver_expect(body, 1, 0, "correctly signed");
    expect_order_ok(cust, "after the signed delivery");

    /* Correctly signed but not a batch. */
    static const char *const malformed[] = { "{\"events\":\"x\"}", "{}", "[1]", "{\"events\":[1]}",
                                             "{\"events\":[{\"id\":\"nope\"}]}" };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        r = deliver(malformed[i]);
        ck_assert_msg(r->status == 400, "malformed batch %s: %s", malformed[i], itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 400);
        itest_free(r);
    }

    /* Not on the public listener, signed or not. */
    r = post_events(NULL, NULL, body, SIG_GOOD, 0);
    ck_assert_msg(r->status == 404, "public listener: %s", itest_describe(r));
    ITEST_ASSERT_PROBLEM(r, 404);
    ITEST_ASSERT_SECURITY(r);
    itest_free(r);

    /* An inbox nobody has. */
    r = post_events(internal, "Host: nobody.internal", body, SIG_GOOD, 0);
    ck_assert_msg(r->status == 404, "unknown Host: %s", itest_describe(r));
    ck_assert_msg(itest_header_get(r, "X-Request-Id") != NULL, "%s", itest_describe(r));
    itest_free(r);
}
END_TEST

/* ---- (2) a deletion reaches sales by event ------------------------------------------------ */

START_TEST(test_delete_by_event)
{
    int64_t cust = itest_new_customer(NULL);
    expect_order_ok(cust, "before the delete"); /* the replica knows it now */

    char path[128], last[4096];
    snprintf(path, sizeof path, ITEST_CUSTOMERS "/%" PRId64, cust);
    itest_resp *r = itest_request("DELETE", path, NULL, NULL, 0, NULL);
    ITEST_ASSERT_STATUS(r, 204);
    itest_free(r);
    double t0 = itest_now();
    int ok = wait_order_refused(cust, DELETE_WITHIN_S, 100, last, sizeof last);
    ck_assert_msg(ok,
                  "orders for deleted customer %" PRId64 " still accepted %.1f s after the "
                  "delete (last: %s)",
                  cust, DELETE_WITHIN_S, last);
    itest_note("delete of %" PRId64 " reached sales after %.3f s", cust, itest_now() - t0);
}
END_TEST

/* ---- (4) redelivery, duplicates and stale versions ---------------------------------------- */

START_TEST(test_redelivery_and_order)
{
    int64_t cust = synthetic_id(), other = synthetic_id();
    char e1[37], e2[37], e3[37], e4[37];
    char created[2048], updated[2048], deleted[2048], other_created[2048], body[BODY_MAX];
    itest_uuid4(e1);
    itest_uuid4(e2);
    itest_uuid4(e3);
    itest_uuid4(e4);

    /* Unknown to everybody: refused. */
    expect_order_refused(cust, "before any event");

    /* created v1: the replica has it, and only the event can have told it. */
    event_json(created, sizeof created, e1, "created", cust, 1, "A");
    batch_json(body, sizeof body, created, NULL);
    deliver_expect(body, 1, 0, "customer.created v1");
    expect_order_ok(cust, "after customer.created");

    /* The same event again: acknowledged, nothing applied. */
    deliver_expect(body, 0, 1, "customer.created v1 again");
    expect_order_ok(cust, "after the duplicate");

    /* deleted v3, then a stale updated v2: the customer stays deleted. */
    event_json(deleted, sizeof deleted, e3, "deleted", cust, 3, "");
    batch_json(body, sizeof body, deleted, NULL);
    deliver_expect(body, 1, 0, "customer.deleted v3");
    expect_order_refused(cust, "after customer.deleted v3");
    event_json(updated, sizeof updated, e2, "updated", cust, 2, "B");
    batch_json(body, sizeof body, updated, NULL);
    deliver_expect(body, 1, 0, "stale customer.updated v2");
    expect_order_refused(cust, "after the stale customer.updated v2");

    /* A batch of an old event and a new one. */
    event_json(other_created, sizeof other_created, e4, "created", other, 1, "Other");
    batch_json(body, sizeof body, created, other_created);
    deliver_expect(body, 1, 1, "batch of a duplicate and a new event");
    expect_order_ok(other, "customer of the new event");
    /* The replayed created v1 did not bring the deleted customer back. */
    expect_order_refused(cust, "after customer.created v1 was replayed");
}
END_TEST

/* ---- (5) metrics -------------------------------------------------------------------------- */

START_TEST(test_relay_metrics)
{
    /* An event of our own, so the test holds on its own. */
    (void)itest_new_customer(NULL);
    relay_stats s;
    memset(&s, 0, sizeof s);
    double until = itest_now() + METRICS_WITHIN_S;
    for (;;) {
        stats_free(&s);
        stats_get(&s);
        if (s.have_leader && s.leader == 1 && s.have_delivered && s.delivered > 0)
            break;
        ck_assert_msg(itest_now() < until,
                      "customers relay not leading or nothing delivered to sales after %.0f s: "
                      "%s",
                      METRICS_WITHIN_S, stats_describe(&s));
        itest_sleep_ms(100);
    }
    ck_assert_msg(s.have_pending && s.pending >= 0, "crm_events_pending for sales: %s",
                  stats_describe(&s));
    ck_assert_msg(s.have_failures && s.failures >= 0, "%s", stats_describe(&s));
    ck_assert_msg(s.have_attempts && s.attempts > 0, "%s", stats_describe(&s));
    ck_assert_msg(s.have_oldest && s.oldest >= 0, "%s", stats_describe(&s));
    static const char *const names[] = { "crm_relay_leader",
                                         "crm_events_pending",
                                         "crm_events_oldest_pending_seconds",
                                         "crm_events_delivered_total",
                                         "crm_event_delivery_failures_total",
                                         "crm_event_delivery_attempts_total" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *bad = bad_labels(s.text, names[i]);
        ck_assert_msg(bad == NULL, "labels other than service and subscriber: %s", bad);
    }
    stats_free(&s);
}
END_TEST

/* ---- (3) a creation reaches sales by event (customers down) ------------------------------- */

START_TEST(test_create_by_event)
{
    relay_stats s;
    /* Whatever earlier tests left in flight goes first. */
    ck_assert_msg(wait_drained(-1, DRAINED_WITHIN_S + 3, &s),
                  "the relay still has events pending for sales: %s", stats_describe(&s));
    double before = s.delivered;
    stats_free(&s);

    int64_t cust = itest_new_customer(NULL);
    double t0 = itest_now();
    ck_assert_msg(wait_drained(before, DRAINED_WITHIN_S, &s),
                  "customer.created of %" PRId64 " not delivered within %.0f s: %s", cust,
                  DRAINED_WITHIN_S, stats_describe(&s));
    itest_note("customer.created of %" PRId64 " delivered within %.3f s (%s)", cust,
               itest_now() - t0, stats_describe(&s));
    stats_free(&s);

    itest_stack_ok("pool-stop", "customers");
    itest_resp *r = itest_get(CUSTOMERS_PING, NULL);
    ck_assert_msg(r->status != 200, "customers still answers after pool-stop: %s",
                  itest_describe(r));
    itest_free(r);

    /* No read-through possible: only the event can have told sales. */
    expect_order_ok(cust, "customers down, customer known by event");

    itest_stack_ok("pool-start", "customers");
    ck_assert_msg(itest_wait_serving(CUSTOMERS_PING, POOL_BACK_S),
                  "customers does not answer %.0f s after pool-start", POOL_BACK_S);
}
END_TEST

/* ---- (7) the relay killed mid-delivery ---------------------------------------------------- */

/*
 * The relay is the customers pool's sidecar: its supervisor logs "relay
 * started: pid=N" each time it forks one, and the relay logs RELAY_LEADS
 * (with its own pid) once it holds the relay lock.
 */
#define RELAY_STARTED  "relay started: pid="
#define RELAY_LEADS    "relay: this process now delivers the events of customers"
#define KILL_CUSTOMERS 40
#define KILL_AFTER     20 /* the relay is killed after this many creations */
/* Between creations, so that the relay delivers them as they come, in
   several batches, and the kill finds it in the middle of the stream. */
#define KILL_PACE_MS 10
/*
 * A relay that lived over 1 s is restarted at once, a younger one after a
 * 1 s back-off doubling on repeated early deaths; 15 s also covers taking
 * the lock and delivering the 40 events, sanitizer builds included.
 */
#define RELAY_BACK_S 15.0
/* The relay refreshes crm_events_pending every second (and zeroes it when
   it starts): only a sample taken this long after the new relay was seen
   leading counts. */
#define PENDING_FRESH_S 2.0

static void customers_log(char *buf, size_t n)
{
    snprintf(buf, n, "%s/logs/customers.log", env_url("CRM_STATE"));
}

/* The customers log's size: where the lines written from now on start. */
static long log_size(void)
{
    char path[4096];
    struct stat st;
    customers_log(path, sizeof path);
    ck_assert_msg(stat(path, &st) == 0, "cannot stat %s: %s", path, strerror(errno));
    return (long)st.st_size;
}

/*
 * The customers log from byte offset on: the pid of the last "relay
 * started" line whose relay is alive and a child of supervisor (-1 when
 * none); *leads is 1 when that relay then logged RELAY_LEADS. Lines that
 * are not JSON (one being written) are skipped. When trail is not NULL it
 * receives the last relay-related lines ("relay" in msg), for messages.
 */
static pid_t relay_from_log(long offset, pid_t supervisor, int *leads, char *trail, size_t n)
{
    char path[4096];
    customers_log(path, sizeof path);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s: %s", path, strerror(errno));
    ck_assert_msg(fseek(f, offset, SEEK_SET) == 0, "cannot seek %s to %ld", path, offset);
    pid_t found = -1;
    *leads = 0;
    if (trail != NULL && n > 0)
        trail[0] = '\0';
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        json_object *o = json_tokener_parse(line);
        const char *msg = itest_jstr(o, "msg");
        int64_t pid = itest_jint(o, "pid");
        if (msg != NULL && strstr(msg, "relay") != NULL && trail != NULL && n > 0) {
            size_t have = strlen(trail), add = (size_t)len;
            if (have + add >= n) { /* keep the newest lines */
                size_t drop = have + add - n + 1;
                const char *cut = drop < have ? strchr(trail + drop, '\n') : NULL;
                if (cut != NULL)
                    memmove(trail, cut + 1, strlen(cut + 1) + 1);
                else
                    trail[0] = '\0';
                have = strlen(trail);
            }
            if (have + add < n)
                memcpy(trail + have, line, add + 1);
        }
        if (msg != NULL && strncmp(msg, RELAY_STARTED, strlen(RELAY_STARTED)) == 0) {
            long pid_n = strtol(msg + strlen(RELAY_STARTED), NULL, 10);
            if (pid_n > 1 && itest_child_of((pid_t)pid_n, supervisor)) {
                found = (pid_t)pid_n;
                *leads = 0;
            }
        } else if (msg != NULL && found > 0 && pid == found && strcmp(msg, RELAY_LEADS) == 0) {
            *leads = 1;
        }
        json_object_put(o);
    }
    free(line);
    fclose(f);
    return found;
}

START_TEST(test_relay_killed)
{
    char path[4096], trail[2048], pids[1024];
    relay_stats s;
    memset(&s, 0, sizeof s);
    customers_log(path, sizeof path);

    /* (1) The relay now: a live child of the customers supervisor. */
    pid_t sup = itest_pool_pid("customers");
    ck_assert_msg(sup > 0, "no customers supervisor (stack.sh pool-pid customers)");
    int leads = 0;
    pid_t relay = relay_from_log(0, sup, &leads, trail, sizeof trail);
    ck_assert_msg(relay > 0, "no live relay of supervisor %ld in %s; relay lines:\n%s", (long)sup,
                  path, trail);
    pid_t kids[64], workers[64];
    size_t n_kids = itest_children(sup, kids, 64), n_workers = 0;
    for (size_t i = 0; i < n_kids; i++)
        if (kids[i] != relay)
            workers[n_workers++] = kids[i];
    ck_assert_msg(n_workers > 0, "customers supervisor %ld has no workers", (long)sup);

    /* Whatever earlier tests left in flight goes first. */
    ck_assert_msg(wait_drained(-1, DRAINED_WITHIN_S + 3, &s),
                  "the relay still has events pending for sales: %s", stats_describe(&s));
    double before = s.delivered;
    stats_free(&s);

    /* (2) Customers created on both sides of the kill. */
    int64_t ids[KILL_CUSTOMERS];
    long offset = -1;
    double t_kill = 0;
    for (int i = 0; i < KILL_CUSTOMERS; i++) {
        if (i > 0)
            itest_sleep_ms(KILL_PACE_MS);
        ids[i] = itest_new_customer(NULL);
        if (i + 1 == KILL_AFTER) {
            /* Once the relay has delivered some of this test's events. */
            ck_assert_msg(wait_delivered(before, DRAINED_WITHIN_S, &s),
                          "none of %d new customers' events delivered within %.0f s: %s",
                          KILL_AFTER, DRAINED_WITHIN_S, stats_describe(&s));
            itest_note("killing relay %ld: %g of %d delivered, %s", (long)relay,
                       s.delivered - before, KILL_AFTER, stats_describe(&s));
            stats_free(&s);
            ck_assert_msg(itest_child_of(relay, sup), "relay %ld is no longer a child of %ld",
                          (long)relay, (long)sup);
            offset = log_size(); /* "relay started" lines past here are new */
            ck_assert_msg(kill(relay, SIGKILL) == 0, "kill -KILL %ld: %s", (long)relay,
                          strerror(errno));
            t_kill = itest_now();
        }
    }

    /* (3) A new relay leads and has delivered all of them. */
    double until = itest_now() + RELAY_BACK_S, t_lead = -1;
    pid_t fresh = -1;
    for (;;) {
        int fresh_leads = 0;
        fresh = relay_from_log(offset, sup, &fresh_leads, trail, sizeof trail);
        if (fresh == relay)
            fresh = -1; /* the killed one, not reaped yet */
        double t = itest_now();
        stats_free(&s);
        stats_get(&s);
        /*
         * The new relay leads once it logged so, or once the leader gauge
         * reads 1 again: the supervisor clears it when it reaps the killed
         * relay, so only a relay started since can set it back.
         */
        if (fresh > 0 && (fresh_leads || (s.have_leader && s.leader == 1)) && t_lead < 0) {
            t_lead = t;
            itest_note("relay %ld killed; relay %ld leads within %.3f s", (long)relay, (long)fresh,
                       t - t_kill);
        }
        if (t_lead >= 0 && t >= t_lead + PENDING_FRESH_S && s.have_leader && s.leader == 1 &&
            s.have_pending && s.pending == 0 && s.have_delivered &&
            s.delivered >= before + KILL_CUSTOMERS)
            break;
        ck_assert_msg(itest_now() < until,
                      "%.0f s after creating %d customers (relay %ld killed after the %dth): "
                      "new relay %ld%s; want leader 1, pending 0, delivered >= %g; %s; relay "
                      "lines of %s since the kill:\n%s",
                      RELAY_BACK_S, KILL_CUSTOMERS, (long)relay, KILL_AFTER, (long)fresh,
                      fresh > 0 ? (fresh_leads ? " leading" : " not leading") : " (none)",
                      before + KILL_CUSTOMERS, stats_describe(&s), path, trail);
        itest_sleep_ms(100);
    }
    itest_note("after the kill: %s", stats_describe(&s));
    stats_free(&s);
    ck_assert_msg(!itest_child_of(relay, sup), "killed relay %ld still alive", (long)relay);

    /* The supervisor replaced the relay and nothing else. */
    pid_t sup_now = itest_pool_pid("customers");
    ck_assert_msg(sup_now == sup, "customers supervisor was %ld before the relay kill, %ld after",
                  (long)sup, (long)sup_now);
    ck_assert_msg(itest_child_of(fresh, sup), "relay %ld is not a child of supervisor %ld",
                  (long)fresh, (long)sup);
    for (size_t i = 0; i < n_workers; i++)
        ck_assert_msg(itest_child_of(workers[i], sup),
                      "customers worker %ld (of supervisor %ld) gone after the relay kill",
                      (long)workers[i], (long)sup);

    /* (4) No loss: with customers down, only events can have told sales. */
    itest_stack_ok("pool-stop", "customers");
    itest_resp *r = itest_get(CUSTOMERS_PING, NULL);
    ck_assert_msg(r->status != 200, "customers still answers after pool-stop: %s",
                  itest_describe(r));
    itest_free(r);
    int missing = 0;
    char first[4096] = "";
    size_t used = 0;
    pids[0] = '\0';
    for (int i = 0; i < KILL_CUSTOMERS; i++) {
        r = order_for(ids[i]);
        if (r->status != 201) {
            if (missing++ == 0)
                snprintf(first, sizeof first, "%s", itest_describe(r));
            int w = snprintf(pids + used, sizeof pids - used, " %" PRId64 "%s", ids[i],
                             i < KILL_AFTER ? "(before)" : "(after)");
            if (w > 0 && (size_t)w < sizeof pids - used)
                used += (size_t)w;
        }
        itest_free(r);
    }
    ck_assert_msg(missing == 0,
                  "customers down: %d of %d customers created around the relay kill unknown "
                  "to sales:%s; first: %s",
                  missing, KILL_CUSTOMERS, pids, first);

    /* (5) Customers back. */
    itest_stack_ok("pool-start", "customers");
    ck_assert_msg(itest_wait_serving(CUSTOMERS_PING, POOL_BACK_S),
                  "customers does not answer %.0f s after pool-start", POOL_BACK_S);
}
END_TEST

/* ---- (6) the relay rides out a sales outage (last) ---------------------------------------- */

START_TEST(test_sales_down)
{
    int64_t cust = itest_new_customer(NULL);
    expect_order_ok(cust, "before the outage"); /* the replica knows it now */
    relay_stats s0, s;
    memset(&s, 0, sizeof s);
    stats_get(&s0);
    ck_assert_msg(s0.have_failures && s0.have_delivered, "%s", stats_describe(&s0));

    itest_stack_ok("pool-stop", "sales");
    itest_resp *r = itest_get(SALES_PROBE, NULL);
    ck_assert_msg(r->status != 200, "sales still answers after pool-stop: %s", itest_describe(r));
    itest_free(r);

    /* Changes while sales is away: an update, then the delete. */
    char path[128], last[4096];
    snprintf(path, sizeof path, ITEST_CUSTOMERS "/%" PRId64, cust);
    r = itest_json("PATCH", path, NULL, "{\"name\":\"Renamed while sales is down\"}");
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    r = itest_request("DELETE", path, NULL, NULL, 0, NULL);
    ITEST_ASSERT_STATUS(r, 204);
    itest_free(r);

    /* The relay fails, counts it, and keeps the events. */
    double until = itest_now() + FAILURE_WITHIN_S;
    for (;;) {
        stats_free(&s);
        stats_get(&s);
        if (s.have_failures && s.failures > s0.failures && s.have_pending && s.pending >= 1)
            break;
        ck_assert_msg(itest_now() < until,
                      "%.0f s into the sales outage: want failures > %g and pending >= 1; %s",
                      FAILURE_WITHIN_S, s0.failures, stats_describe(&s));
        itest_sleep_ms(100);
    }
    ck_assert_msg(s.attempts > s0.attempts, "attempts did not grow: %s", stats_describe(&s));
    ck_assert_msg(s.have_leader && s.leader == 1, "%s", stats_describe(&s));
    itest_note("sales down: %s", stats_describe(&s));
    stats_free(&s);

    /* Sales back: the delete arrives (the backoff is capped at 30 s). */
    itest_stack_ok("pool-start", "sales");
    ck_assert_msg(itest_wait_serving(SALES_PROBE, POOL_BACK_S),
                  "sales does not answer %.0f s after pool-start", POOL_BACK_S);
    double t0 = itest_now();
    int ok = wait_order_refused(cust, REDELIVER_WITHIN, 250, last, sizeof last);
    ck_assert_msg(ok,
                  "customer %" PRId64 " deleted while sales was down is still accepted %.0f s "
                  "after sales came back (last: %s)",
                  cust, REDELIVER_WITHIN, last);
    itest_note("redelivered %.3f s after sales came back", itest_now() - t0);

    /* And the relay says so. */
    until = itest_now() + METRICS_WITHIN_S;
    for (;;) {
        stats_free(&s);
        stats_get(&s);
        if (s.have_delivered && s.delivered >= s0.delivered + 2)
            break;
        ck_assert_msg(itest_now() < until, "delivered did not grow by 2 (was %g): %s", s0.delivered,
                      stats_describe(&s));
        itest_sleep_ms(100);
    }
    stats_free(&s);
    stats_free(&s0);
}
END_TEST

/* ---- fixtures ----------------------------------------------------------------------------- */

/* Start svc's pool again unless probe answers 200 (in the runner's process). */
static void restore_pool(const char *svc, const char *probe)
{
    itest_resp *r = itest_get(probe, NULL);
    long st = r->status;
    itest_free(r);
    if (st == 200)
        return;
    const char *args[] = { "pool-start", svc, NULL };
    char out[4096];
    int rc = itest_stack(out, sizeof out, args);
    if (rc != 0)
        fprintf(stderr, "test_events: stack.sh pool-start %s exited %d: %s\n", svc, rc, out);
    if (!itest_wait_serving(probe, POOL_BACK_S))
        fprintf(stderr, "test_events: %s does not answer after pool-start\n", svc);
}

static void restore_customers(void)
{
    restore_pool("customers", CUSTOMERS_PING);
}

static void restore_sales(void)
{
    restore_pool("sales", SALES_PROBE);
}

static Suite *events_suite(void)
{
    Suite *s = suite_create("events");
    TCase *inbox = tcase_create("inbox");
    tcase_set_timeout(inbox, 60);
    tcase_add_checked_fixture(inbox, NULL, itest_teardown);
    tcase_add_test(inbox, test_inbox_signature);
    tcase_add_test(inbox, test_delete_by_event);
    suite_add_tcase(s, inbox);

    TCase *cdown = tcase_create("customers_down");
    tcase_set_timeout(cdown, 120);
    tcase_add_unchecked_fixture(cdown, NULL, restore_customers);
    tcase_add_checked_fixture(cdown, NULL, itest_teardown);
    tcase_add_test(cdown, test_create_by_event);
    suite_add_tcase(s, cdown);

    TCase *replay = tcase_create("replay");
    tcase_set_timeout(replay, 60);
    tcase_add_checked_fixture(replay, NULL, itest_teardown);
    tcase_add_test(replay, test_redelivery_and_order);
    tcase_add_test(replay, test_relay_metrics);
    suite_add_tcase(s, replay);

    TCase *killed = tcase_create("relay_killed_mid_delivery");
    tcase_set_timeout(killed, 120);
    tcase_add_unchecked_fixture(killed, NULL, restore_customers);
    tcase_add_checked_fixture(killed, NULL, itest_teardown);
    tcase_add_test(killed, test_relay_killed);
    suite_add_tcase(s, killed);

    /* Last: it leaves the relay's backoff at its longest. */
    TCase *sdown = tcase_create("sales_down");
    tcase_set_timeout(sdown, 180);
    tcase_add_unchecked_fixture(sdown, NULL, restore_sales);
    tcase_add_checked_fixture(sdown, NULL, itest_teardown);
    tcase_add_test(sdown, test_sales_down);
    suite_add_tcase(s, sdown);
    return s;
}

int main(void)
{
    itest_init();
    SRunner *sr = srunner_create(events_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
