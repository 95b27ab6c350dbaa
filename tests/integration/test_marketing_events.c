/*
 * test_marketing_events.c - crm-marketing fed by the other services'
 * events: customers' customer.created|updated|deleted and sales'
 * order.confirmed|cancelled, delivered by their relays to POST
 * /internal/v1/events with "Host: marketing.internal" and turned into
 * customer metrics (orders_count, revenue_cents in the reporting currency,
 * revenue_by_currency, first/last order time) and RFM scores.
 *
 *   end to end   a customer reaches sales and marketing within 2 s; its
 *                confirmed orders move its metrics and RFM scores exactly
 *                as computed here from the published cut-offs (against a
 *                population of synthetic customers with known orders, so
 *                the scores do move); a cancel moves them back; an update
 *                and a delete reach segments.
 *   inbox        signatures and clock skew (401, nothing applied);
 *                redelivery, stale and out-of-order versions with
 *                hand-made events of synthetic ids.
 *   concurrent   confirmations from several clients at once, marketing up:
 *                every one counted once.
 *   relay killed the sales relay SIGKILLed mid-burst: its supervisor
 *                restarts it, nothing lost, nothing counted twice.
 *   marketing down  500 confirmations while marketing is stopped: all of
 *                them arrive once it is back, each counted once (last: it
 *                leaves the relays' backoff at its longest).
 *
 * "The truth" of a customer is what sales lists: GET /api/v1/orders?
 * customer=ID&status=confirmed, every page. Hand-made events use ids the
 * real services never hand out (SYNTHETIC_BASE + pid * 1000 + n) and are
 * signed with $CRM_EVENT_KEY_FILE, else $CRM_STATE/secrets/events.key.
 * Tests that stop a pool sit in their own TCase whose unchecked fixture
 * starts it again whatever happened.
 */
#include "itest.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define EVENTS_PATH    "/internal/v1/events"
#define MARKETING_HOST "Host: marketing.internal"
#define MAX_SKEW_S     300
#define SYNTHETIC_BASE INT64_C(900000000000)
#define BODY_MAX       16384
#define CURRENCY       "EUR" /* CRM_REPORTING_CURRENCY of the stack (its default) */

#define ANALYTICS      "/api/v1/analytics/customers"
#define RFM_PATH       "/api/v1/analytics/rfm"
#define SEGMENTS       "/api/v1/segments"
#define PREVIEW        "/api/v1/segments/preview"
#define MARKETING_PING "/api/v1/marketing/ping"

/* Bounds (seconds). */
#define ARRIVE_WITHIN_S    2.0  /* a customer change reaches sales and marketing */
#define APPLY_WITHIN_S     5.0  /* an order event reaches marketing, nothing down */
#define RFM_WITHIN_S       10.0 /* cut-offs computed after a change (refresher: ~1 s) */
#define FAILURE_WITHIN_S   5.0  /* a failed delivery shows in the relay's metrics */
#define REDELIVER_WITHIN_S 60.0 /* after marketing is back (backoff capped at 30 s) */
#define DRAINED_WITHIN_S   40.0 /* whatever an earlier test left in flight */
#define POOL_BACK_S        30.0

static const char *const SALES_TO_MK[] = { "service", "sales", "subscriber", "marketing", NULL };
static const char *const SALES_SVC[] = { "service", "sales", NULL };
static const char *const CUST_TO_SALES[] = { "service", "customers", "subscriber", "sales", NULL };
static const char *const CUST_SVC[] = { "service", "customers", NULL };

static const char *env_url(const char *name)
{
    const char *v = getenv(name);
    ck_assert_msg(v != NULL && *v != '\0', "%s is not set", name);
    return v;
}

/* Now, UTC, as the services write times: "2026-11-27T12:00:00.000000Z". */
static void iso_now(char *buf, size_t n)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    char day[32];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, n, "%s.%06ldZ", day, (long)tv.tv_usec);
}

/* ---- deliveries --------------------------------------------------------------------------- */

typedef enum {
    SIG_NONE,     /* no X-CRM-Timestamp, no X-CRM-Signature */
    SIG_GOOD,     /* signed with the key */
    SIG_BAD,      /* signed with another key */
    SIG_TAMPERED, /* signed with the key, then the body changed */
} sig_mode;

/*
 * POST body to the internal listener's /internal/v1/events as marketing's
 * inbox, signed as mode says with a timestamp skew seconds off now.
 * public_listener: the public origin instead (no Host override).
 * SIG_TAMPERED signs body and sends tampered.
 */
static itest_resp *post_events(const char *body, const char *tampered, sig_mode mode, long skew,
                               int public_listener)
{
    char key[512], sig[68], ts_line[64], sig_line[96];
    const char *headers[4];
    size_t nh = 0;
    if (!public_listener)
        headers[nh++] = MARKETING_HOST;
    if (mode != SIG_NONE) {
        long long ts = (long long)time(NULL) + skew;
        if (mode == SIG_BAD)
            snprintf(key, sizeof key, "not-the-event-key-%ld", (long)getpid());
        else
            itest_event_key(key, sizeof key);
        itest_event_sign(key, ts, body, sig);
        snprintf(ts_line, sizeof ts_line, "X-CRM-Timestamp: %lld", ts);
        snprintf(sig_line, sizeof sig_line, "X-CRM-Signature: %s", sig);
        headers[nh++] = ts_line;
        headers[nh++] = sig_line;
    }
    headers[nh] = NULL;
    const char *sent = mode == SIG_TAMPERED ? tampered : body;
    if (public_listener)
        return itest_request("POST", EVENTS_PATH, headers, sent, strlen(sent), "application/json");
    char url[512];
    snprintf(url, sizeof url, "%s%s", env_url("CRM_INTERNAL_URL"), EVENTS_PATH);
    return itest_request_url("POST", url, headers, sent, strlen(sent), "application/json");
}

/* Deliver a correctly signed batch; assert 200 {"applied":applied,"duplicates":dups}. */
static void deliver_expect(const char *body, int64_t applied, int64_t dups, const char *what)
{
    itest_resp *r = post_events(body, NULL, SIG_GOOD, 0, 0);
    ck_assert_msg(r->status == 200, "%s: %s", what, itest_describe(r));
    ck_assert_msg(r->json != NULL, "%s: no JSON answer: %s", what, itest_describe(r));
    ck_assert_msg(itest_jint(r->json, "applied") == applied &&
                      itest_jint(r->json, "duplicates") == dups,
                  "%s: want applied %" PRId64 ", duplicates %" PRId64 ": %s", what, applied, dups,
                  itest_describe(r));
    itest_free(r);
}

/* ---- hand-made events --------------------------------------------------------------------- */

/* A customer or order id the real services never hand out, unique per call. */
static int64_t synthetic_id(void)
{
    static int n;
    return SYNTHETIC_BASE + (int64_t)getpid() * 1000 + ++n;
}

/*
 * order.<kind> ("confirmed" or "cancelled") of order at version, for
 * cust, as sales publishes it: the order (one line) plus previous_status.
 * confirmed_at: ISO, or NULL for null.
 */
static void order_event(char *buf, size_t n, const char *id, const char *kind, int64_t order,
                        int64_t version, int64_t cust, int64_t total, const char *currency,
                        const char *confirmed_at, const char *previous)
{
    char when[64], conf[96], canc[96];
    iso_now(when, sizeof when);
    if (confirmed_at != NULL)
        snprintf(conf, sizeof conf, "\"%s\"", confirmed_at);
    else
        snprintf(conf, sizeof conf, "null");
    if (strcmp(kind, "cancelled") == 0)
        snprintf(canc, sizeof canc, "\"%s\"", when);
    else
        snprintf(canc, sizeof canc, "null");
    int len = snprintf(
        buf, n,
        "{\"id\":\"%s\",\"type\":\"order.%s\",\"aggregate_id\":%" PRId64
        ",\"aggregate_version\":%" PRId64 ",\"occurred_at\":\"%s\",\"source\":\"sales\","
        "\"payload\":{\"id\":%" PRId64 ",\"customer_id\":%" PRId64 ",\"currency\":\"%s\","
        "\"status\":\"%s\",\"campaign_id\":null,\"note\":null,\"total_cents\":%" PRId64
        ",\"line_count\":1,\"lines\":[{\"id\":%" PRId64 ",\"product_id\":%" PRId64
        ",\"sku\":\"IT-SYNTH\",\"name\":\"Synthetic\",\"quantity\":1,\"unit_price_cents\":%" PRId64
        ",\"line_total_cents\":%" PRId64 "}],\"version\":%" PRId64 ",\"created_at\":\"%s\","
        "\"updated_at\":\"%s\",\"confirmed_at\":%s,\"fulfilled_at\":null,\"cancelled_at\":%s,"
        "\"previous_status\":\"%s\"}}",
        id, kind, order, version, when, order, cust, currency, kind, total, order, order, total,
        total, version, when, when, conf, canc, previous);
    ck_assert_msg(len > 0 && (size_t)len < n, "event too long");
}

/*
 * customer.<kind> of cust at version as the customers service publishes
 * it: the customer (status, one tag) plus "deleted":false, or only id,
 * deleted and version for "deleted".
 */
static void customer_event(char *buf, size_t n, const char *id, const char *kind, int64_t cust,
                           int64_t version, const char *status, const char *tag)
{
    char when[64], email[128], payload[1024];
    iso_now(when, sizeof when);
    itest_unique_email(email, sizeof email, "mkevent");
    if (strcmp(kind, "deleted") == 0)
        snprintf(payload, sizeof payload,
                 "{\"id\":%" PRId64 ",\"deleted\":true,\"version\":%" PRId64 "}", cust, version);
    else
        snprintf(payload, sizeof payload,
                 "{\"id\":%" PRId64 ",\"name\":\"Synthetic %s\",\"email\":\"%s\",\"phone\":null,"
                 "\"company\":null,\"status\":\"%s\",\"owner_id\":null,\"tags\":[\"%s\"],"
                 "\"notes\":null,\"version\":%" PRId64 ",\"created_at\":\"%s\","
                 "\"updated_at\":\"%s\",\"deleted\":false}",
                 cust, tag, email, status, tag, version, when, when);
    int len = snprintf(buf, n,
                       "{\"id\":\"%s\",\"type\":\"customer.%s\",\"aggregate_id\":%" PRId64
                       ",\"aggregate_version\":%" PRId64 ",\"occurred_at\":\"%s\","
                       "\"source\":\"customers\",\"payload\":%s}",
                       id, kind, cust, version, when, payload);
    ck_assert_msg(len > 0 && (size_t)len < n, "event too long");
}

/* {"events":[a(,b)]}. */
static void batch_json(char *buf, size_t n, const char *a, const char *b)
{
    int len = snprintf(buf, n, "{\"events\":[%s%s%s]}", a, b ? "," : "", b ? b : "");
    ck_assert_msg(len > 0 && (size_t)len < n, "batch too long");
}

/* {"events":[evs[0],...]}. */
static void batch_of(char *buf, size_t n, char (*evs)[4096], int k)
{
    size_t used = 0;
    int len = snprintf(buf, n, "{\"events\":[");
    ck_assert(len > 0 && (size_t)len < n);
    used = (size_t)len;
    for (int i = 0; i < k; i++) {
        len = snprintf(buf + used, n - used, "%s%s", i > 0 ? "," : "", evs[i]);
        ck_assert_msg(len > 0 && (size_t)len < n - used, "batch too long");
        used += (size_t)len;
    }
    len = snprintf(buf + used, n - used, "]}");
    ck_assert_msg(len > 0 && (size_t)len < n - used, "batch too long");
}

/* days days and a minute ago, UTC, whole seconds: "2026-11-20T11:59:00.000000Z". */
/* days before base (a minute more), as the events carry it. */
static void iso_days_before(char *buf, size_t n, time_t base, int days)
{
    time_t t = base - (time_t)days * 86400 - 60;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%S.000000Z", &tm);
}

/* ---- marketing's view of a customer ------------------------------------------------------- */

typedef struct {
    long status;
    int deleted; /* -1: absent or not a boolean */
    int64_t orders, revenue, days;
    char currency[8];
    char first[64], last[64]; /* "" when null */
    char by_currency[512];    /* "EUR:1:2500,USD:1:3000" */
    int has_rfm, r, f, m;
    char code[8];
    char computed_at[64];
    char text[1200]; /* the request and answer, for messages */
} mk_view;

static void copy_str(char *dst, size_t n, const char *s)
{
    snprintf(dst, n, "%s", s != NULL ? s : "");
}

/* GET /api/v1/analytics/customers/{cust} into v (asserting only 200 or 404). */
static void mk_get(int64_t cust, mk_view *v)
{
    char path[128];
    snprintf(path, sizeof path, ANALYTICS "/%" PRId64, cust);
    itest_resp *r = itest_get(path, NULL);
    memset(v, 0, sizeof *v);
    v->status = r->status;
    v->deleted = -1;
    copy_str(v->text, sizeof v->text, itest_describe(r));
    ck_assert_msg(r->status == 200 || r->status == 404, "analytics of %" PRId64 ": %s", cust,
                  v->text);
    if (r->status == 404)
        ITEST_ASSERT_PROBLEM(r, 404);
    if (r->status != 200) {
        itest_free(r);
        return;
    }
    json_object *o = r->json;
    ck_assert_msg(o != NULL, "analytics: not JSON: %s", v->text);
    ck_assert_msg(itest_jint(o, "customer_id") == cust, "analytics: customer_id: %s", v->text);
    json_object *d = itest_jget(o, "deleted");
    if (d != NULL && json_object_is_type(d, json_type_boolean))
        v->deleted = json_object_get_boolean(d) ? 1 : 0;
    v->orders = itest_jint(o, "orders_count");
    v->revenue = itest_jint(o, "revenue_cents");
    v->days = itest_jnull(o, "days_since_last_order") ? -1 : itest_jint(o, "days_since_last_order");
    copy_str(v->currency, sizeof v->currency, itest_jstr(o, "reporting_currency"));
    copy_str(v->first, sizeof v->first, itest_jstr(o, "first_order_at"));
    copy_str(v->last, sizeof v->last, itest_jstr(o, "last_order_at"));
    copy_str(v->computed_at, sizeof v->computed_at, itest_jstr(o, "rfm_computed_at"));
    json_object *rows = itest_jget(o, "revenue_by_currency");
    ck_assert_msg(rows != NULL && json_object_is_type(rows, json_type_array),
                  "analytics: revenue_by_currency: %s", v->text);
    size_t used = 0;
    for (size_t i = 0; i < json_object_array_length(rows); i++) {
        json_object *row = json_object_array_get_idx(rows, i);
        const char *cur = itest_jstr(row, "currency");
        int w = snprintf(v->by_currency + used, sizeof v->by_currency - used,
                         "%s%s:%" PRId64 ":%" PRId64, i > 0 ? "," : "", cur ? cur : "?",
                         itest_jint(row, "orders"), itest_jint(row, "revenue_cents"));
        if (w > 0 && (size_t)w < sizeof v->by_currency - used)
            used += (size_t)w;
    }
    json_object *rfm = itest_jget(o, "rfm");
    if (rfm != NULL && json_object_is_type(rfm, json_type_object)) {
        v->has_rfm = 1;
        v->r = (int)itest_jint(rfm, "recency");
        v->f = (int)itest_jint(rfm, "frequency");
        v->m = (int)itest_jint(rfm, "monetary");
        copy_str(v->code, sizeof v->code, itest_jstr(rfm, "code"));
    }
    itest_free(r);
}

/*
 * Poll the analytics of cust every 50 ms until it is known with orders
 * orders and revenue revenue, or secs pass. 1 when it is; v holds the last
 * answer either way.
 */
static int wait_metrics(int64_t cust, int64_t orders, int64_t revenue, double secs, mk_view *v)
{
    double until = itest_now() + secs;
    for (;;) {
        mk_get(cust, v);
        if (v->status == 200 && v->orders == orders && v->revenue == revenue)
            return 1;
        if (itest_now() >= until)
            return 0;
        itest_sleep_ms(50);
    }
}

/* Assert the whole of v's metrics. first/last "" for null. */
static void expect_view(const mk_view *v, int64_t orders, int64_t revenue, const char *by,
                        const char *first, const char *last, const char *what)
{
    ck_assert_msg(v->status == 200, "%s: %s", what, v->text);
    ck_assert_msg(v->orders == orders, "%s: orders_count %" PRId64 ", want %" PRId64 ": %s", what,
                  v->orders, orders, v->text);
    ck_assert_msg(v->revenue == revenue, "%s: revenue_cents %" PRId64 ", want %" PRId64 ": %s",
                  what, v->revenue, revenue, v->text);
    ck_assert_msg(strcmp(v->by_currency, by) == 0, "%s: revenue_by_currency %s, want %s: %s", what,
                  v->by_currency, by, v->text);
    ck_assert_msg(strcmp(v->first, first) == 0, "%s: first_order_at '%s', want '%s': %s", what,
                  v->first, first, v->text);
    ck_assert_msg(strcmp(v->last, last) == 0, "%s: last_order_at '%s', want '%s': %s", what,
                  v->last, last, v->text);
    ck_assert_msg(strcmp(v->currency, CURRENCY) == 0, "%s: reporting_currency: %s", what, v->text);
    if (orders == 0)
        ck_assert_msg(v->days == -1 && !v->has_rfm,
                      "%s: no orders, want days_since_last_order and rfm null: %s", what, v->text);
    else
        ck_assert_msg(v->days == 0, "%s: orders of today, want days_since_last_order 0: %s", what,
                      v->text);
}

/* ---- RFM ---------------------------------------------------------------------------------- */

typedef struct {
    char computed_at[64]; /* "" when null */
    int64_t customers;
    int valid; /* cut-offs present */
    char r[4][64];
    int64_t f[4], m[4];
    int64_t grid[25][2]; /* (recency-1)*5 + frequency-1: customers, revenue */
    char text[1200];
} rfm_view;

static void rfm_get(rfm_view *c)
{
    itest_resp *r = itest_get(RFM_PATH, NULL);
    memset(c, 0, sizeof *c);
    copy_str(c->text, sizeof c->text, itest_describe(r));
    ck_assert_msg(r->status == 200 && r->json != NULL, "rfm: %s", c->text);
    json_object *o = r->json;
    ck_assert_msg(
        strcmp(itest_jstr(o, "reporting_currency") ? itest_jstr(o, "reporting_currency") : "",
               CURRENCY) == 0,
        "rfm: reporting_currency: %s", c->text);
    copy_str(c->computed_at, sizeof c->computed_at, itest_jstr(o, "computed_at"));
    c->customers = itest_jint(o, "customers");
    json_object *cut = itest_jget(o, "cutoffs");
    if (cut != NULL && json_object_is_type(cut, json_type_object)) {
        json_object *r4 = itest_jget(cut, "recency"), *f4 = itest_jget(cut, "frequency"),
                    *m4 = itest_jget(cut, "monetary");
        ck_assert_msg(r4 && f4 && m4 && json_object_is_type(r4, json_type_array) &&
                          json_object_is_type(f4, json_type_array) &&
                          json_object_is_type(m4, json_type_array) &&
                          json_object_array_length(r4) == 4 && json_object_array_length(f4) == 4 &&
                          json_object_array_length(m4) == 4,
                      "rfm: cutoffs are not three arrays of 4: %s", c->text);
        for (size_t i = 0; i < 4; i++) {
            json_object *ri = json_object_array_get_idx(r4, i);
            ck_assert_msg(ri && json_object_is_type(ri, json_type_string),
                          "rfm: recency cut-off %zu: %s", i, c->text);
            copy_str(c->r[i], sizeof c->r[i], json_object_get_string(ri));
            c->f[i] = json_object_get_int64(json_object_array_get_idx(f4, i));
            c->m[i] = json_object_get_int64(json_object_array_get_idx(m4, i));
        }
        c->valid = 1;
    }
    json_object *grid = itest_jget(o, "grid");
    ck_assert_msg(grid != NULL && json_object_is_type(grid, json_type_array) &&
                      json_object_array_length(grid) == 25,
                  "rfm: grid is not 25 cells: %s", c->text);
    for (size_t i = 0; i < 25; i++) {
        json_object *cell = json_object_array_get_idx(grid, i);
        int64_t rr = itest_jint(cell, "recency"), ff = itest_jint(cell, "frequency");
        ck_assert_msg(rr == (int64_t)(i / 5 + 1) && ff == (int64_t)(i % 5 + 1),
                      "rfm: grid cell %zu is (%" PRId64 ",%" PRId64 "), want recency-major: %s", i,
                      rr, ff, c->text);
        c->grid[i][0] = itest_jint(cell, "customers");
        c->grid[i][1] = itest_jint(cell, "revenue_cents");
    }
    itest_free(r);
}

/* 1 + the number of cut-offs v is strictly greater than. */
static int score_int(int64_t v, const int64_t c[4])
{
    int s = 1;
    for (int i = 0; i < 4; i++)
        s += v > c[i];
    return s;
}

/* The same for times (ISO strings of one shape compare as text). */
static int score_time(const char *v, const char c[4][64])
{
    int s = 1;
    for (int i = 0; i < 4; i++)
        s += strcmp(v, c[i]) > 0;
    return s;
}

typedef struct {
    int r, f, m;
    char computed_at[64];
} rfm_scores;

/*
 * Wait for cut-offs computed after `after` (ISO, a moment after the change
 * was seen in marketing), then check cust's scores against them by hand:
 * R from last_order_at, F from orders_count, M from revenue_cents. The
 * cut-offs are read before and after the customer; when they moved in
 * between, read again. Also checks the cut-offs are ascending, the grid
 * counts `customers`, and the customer's (R, F) cell is not empty.
 */
static void check_rfm(int64_t cust, const char *after, const char *what, rfm_scores *out)
{
    double until = itest_now() + RFM_WITHIN_S;
    rfm_view a, b;
    mk_view v;
    for (;;) {
        rfm_get(&a);
        if (a.valid && strcmp(a.computed_at, after) > 0) {
            mk_get(cust, &v);
            rfm_get(&b);
            if (strcmp(a.computed_at, b.computed_at) == 0)
                break;
            itest_note("%s: cut-offs moved (%s -> %s); reading again", what, a.computed_at,
                       b.computed_at);
        }
        ck_assert_msg(itest_now() < until,
                      "%s: no RFM cut-offs computed after %s within %.0f s (last: %s)", what, after,
                      RFM_WITHIN_S, a.text);
        itest_sleep_ms(100);
    }
    ck_assert_msg(v.status == 200 && v.orders > 0, "%s: %s", what, v.text);
    ck_assert_msg(a.customers >= 1, "%s: rfm customers %" PRId64 ": %s", what, a.customers, a.text);
    int64_t in_grid = 0;
    for (int i = 0; i < 25; i++)
        in_grid += a.grid[i][0];
    ck_assert_msg(in_grid == a.customers,
                  "%s: the grid counts %" PRId64 " customers, want %" PRId64 ": %s", what, in_grid,
                  a.customers, a.text);
    for (int i = 1; i < 4; i++)
        ck_assert_msg(strcmp(a.r[i - 1], a.r[i]) <= 0 && a.f[i - 1] <= a.f[i] &&
                          a.m[i - 1] <= a.m[i],
                      "%s: cut-offs not ascending: %s", what, a.text);

    int er = score_time(v.last, a.r), ef = score_int(v.orders, a.f), em = score_int(v.revenue, a.m);
    char code[40];
    snprintf(code, sizeof code, "%d%d%d", er, ef, em);
    ck_assert_msg(v.has_rfm, "%s: rfm null for a customer with orders: %s", what, v.text);
    ck_assert_msg(v.r == er && v.f == ef && v.m == em && strcmp(v.code, code) == 0,
                  "%s: rfm %d%d%d (code %s), by hand %s from last_order_at %s, orders %" PRId64
                  ", revenue %" PRId64 " against cut-offs computed at %s: %s | %s",
                  what, v.r, v.f, v.m, v.code, code, v.last, v.orders, v.revenue, a.computed_at,
                  v.text, a.text);
    ck_assert_msg(strcmp(v.computed_at, a.computed_at) == 0,
                  "%s: rfm_computed_at %s, cut-offs computed at %s", what, v.computed_at,
                  a.computed_at);
    ck_assert_msg(a.grid[(er - 1) * 5 + (ef - 1)][0] >= 1,
                  "%s: grid cell R%d F%d is empty, yet customer %" PRId64 " is in it: %s", what, er,
                  ef, cust, a.text);
    itest_note("%s: RFM %s (cut-offs of %s)", what, code, a.computed_at);
    if (out != NULL) {
        out->r = er;
        out->f = ef;
        out->m = em;
        copy_str(out->computed_at, sizeof out->computed_at, a.computed_at);
    }
}

/*
 * RFM needs company: synthetic customers 1..POPULATION, customer i with i
 * orders of 1000 EUR confirmed i .. 2i-1 days ago (hand-made events), so
 * the cut-offs spread and a new customer's scores move as it orders.
 * Checks each one's metrics, days_since_last_order included.
 */
#define POPULATION 8

static void seed_population(void)
{
    static char evs[POPULATION][4096];
    char body[BODY_MAX], id[37], first[64], last[64], by[64];
    mk_view v;
    /* One clock reading for the events and the expectations: two readings
       may fall on either side of a second. */
    time_t base = time(NULL);
    for (int i = 1; i <= POPULATION; i++) {
        int64_t cust = synthetic_id();
        for (int j = 0; j < i; j++) {
            char when[64];
            iso_days_before(when, sizeof when, base, i + j);
            itest_uuid4(id);
            order_event(evs[j], sizeof evs[j], id, "confirmed", synthetic_id(), 2, cust, 1000,
                        "EUR", when, "draft");
        }
        batch_of(body, sizeof body, evs, i);
        deliver_expect(body, i, 0, "a batch of the RFM population");
        iso_days_before(first, sizeof first, base, 2 * i - 1);
        iso_days_before(last, sizeof last, base, i);
        snprintf(by, sizeof by, "EUR:%d:%d", i, i * 1000);
        mk_get(cust, &v);
        ck_assert_msg(v.status == 200 && v.orders == i && v.revenue == i * 1000 &&
                          strcmp(v.by_currency, by) == 0 && strcmp(v.first, first) == 0 &&
                          strcmp(v.last, last) == 0 && v.days == i,
                      "population customer %d: want %d orders, %d cents, first %s, last %s, "
                      "%d days since: %s",
                      i, i, i * 1000, first, last, i, v.text);
    }
}

/* ---- segments ----------------------------------------------------------------------------- */

/* POST /segments/preview {"rule":rule}: the count; *in_sample when cust is in the sample. */
static int64_t preview(const char *rule, int64_t cust, int *in_sample, char *last, size_t n)
{
    char body[2048];
    snprintf(body, sizeof body, "{\"rule\":%s}", rule);
    itest_resp *r = itest_json("POST", PREVIEW, NULL, body);
    snprintf(last, n, "%s", itest_describe(r));
    ck_assert_msg(r->status == 200 && r->json != NULL, "preview %s: %s", rule, itest_describe(r));
    int64_t count = itest_jint(r->json, "count");
    json_object *sample = itest_jget(r->json, "sample");
    ck_assert_msg(count >= 0 && sample != NULL && json_object_is_type(sample, json_type_array),
                  "preview %s: %s", rule, itest_describe(r));
    *in_sample = 0;
    for (size_t i = 0; i < json_object_array_length(sample); i++)
        if (json_object_get_int64(json_object_array_get_idx(sample, i)) == cust)
            *in_sample = 1;
    itest_free(r);
    return count;
}

/*
 * Poll the preview of rule until its count is want (and, when want > 0,
 * cust is in the sample) or secs pass. 1 when it is.
 */
static int wait_preview(const char *rule, int64_t want, int64_t cust, double secs, char *last,
                        size_t n)
{
    double until = itest_now() + secs;
    for (;;) {
        int in = 0;
        int64_t count = preview(rule, cust, &in, last, n);
        if (count == want && (want == 0 || in))
            return 1;
        if (itest_now() >= until)
            return 0;
        itest_sleep_ms(50);
    }
}

static int64_t segment_create(const char *rule)
{
    char word[64], body[2048];
    itest_unique_word(word, sizeof word);
    snprintf(body, sizeof body, "{\"name\":\"IT marketing events %s\",\"rule\":%s}", word, rule);
    itest_resp *r = itest_json("POST", SEGMENTS, NULL, body);
    ITEST_ASSERT_STATUS(r, 201);
    int64_t id = itest_jint(r->json, "id");
    ck_assert_msg(id > 0, "%s", itest_describe(r));
    itest_free(r);
    return id;
}

/*
 * Every page of the segment's members: 1 when cust is one of them, with
 * its member object's text in member (may be NULL).
 */
static int segment_has(int64_t seg, int64_t cust, char *member, size_t n)
{
    char path[1024];
    char *cursor = NULL;
    int found = 0;
    if (member != NULL && n > 0)
        member[0] = '\0';
    for (int page = 0; page < 1000; page++) {
        if (cursor != NULL) {
            char *enc = itest_urlencode(cursor);
            snprintf(path, sizeof path, SEGMENTS "/%" PRId64 "/members?limit=200&cursor=%s", seg,
                     enc);
            free(enc);
            free(cursor);
            cursor = NULL;
        } else {
            snprintf(path, sizeof path, SEGMENTS "/%" PRId64 "/members?limit=200", seg);
        }
        itest_resp *r = itest_get(path, NULL);
        ck_assert_msg(r->status == 200 && r->json != NULL, "%s", itest_describe(r));
        json_object *items = itest_jget(r->json, "items");
        ck_assert_msg(items != NULL && json_object_is_type(items, json_type_array), "%s",
                      itest_describe(r));
        for (size_t i = 0; i < json_object_array_length(items); i++) {
            json_object *m = json_object_array_get_idx(items, i);
            if (itest_jint(m, "customer_id") == cust) {
                found = 1;
                if (member != NULL)
                    snprintf(member, n, "%s", json_object_to_json_string(m));
            }
        }
        const char *next = itest_jstr(r->json, "next_cursor");
        if (next != NULL) {
            cursor = strdup(next);
            ck_assert_ptr_nonnull(cursor);
        }
        itest_free(r);
        if (cursor == NULL)
            return found;
    }
    ck_abort_msg("segment %" PRId64 ": more than 1000 pages of members", seg);
    return found;
}

/* ---- sales -------------------------------------------------------------------------------- */

/* POST path with an Idempotency-Key, retried on 503 (safe: same key). */
static itest_resp *post_action(const char *path, const char *key)
{
    char line[256];
    snprintf(line, sizeof line, "Idempotency-Key: %s", key);
    const char *h[] = { line, NULL };
    itest_resp *r = NULL;
    for (int attempt = 0; attempt < 4; attempt++) {
        itest_free(r);
        r = itest_request("POST", path, h, NULL, 0, NULL);
        if (r->status != 503)
            break;
        itest_sleep_ms(100 * (attempt + 1));
    }
    return r;
}

static void action_key(char *buf, size_t n, int64_t order, const char *action)
{
    char word[64];
    itest_unique_word(word, sizeof word);
    snprintf(buf, n, "it-mk-%" PRId64 "-%s-%s", order, action, word);
}

/*
 * POST /orders/{id}/{action} ("confirm", "cancel"); on 200 the order's
 * confirmed_at into when (may be NULL). NULL when it went well, else the
 * request described (per-thread buffer). Thread-safe, asserts nothing.
 */
static const char *order_act(int64_t order, const char *action, char *when, size_t n)
{
    char path[128], key[160];
    static _Thread_local char err[1024];
    snprintf(path, sizeof path, ITEST_ORDERS "/%" PRId64 "/%s", order, action);
    action_key(key, sizeof key, order, action);
    itest_resp *r = post_action(path, key);
    const char *st = r->json ? itest_jstr(r->json, "status") : NULL;
    const char *want = strcmp(action, "confirm") == 0 ? "confirmed" : "cancelled";
    if (r->status != 200 || st == NULL || strcmp(st, want) != 0) {
        snprintf(err, sizeof err, "%s", itest_describe(r));
        itest_free(r);
        return err;
    }
    if (when != NULL)
        copy_str(when, n, itest_jstr(r->json, "confirmed_at"));
    itest_free(r);
    return NULL;
}

/* A draft with lines for cust (asserting 201 and its total), then confirmed. */
static int64_t confirmed_order(int64_t cust, const char *lines, int64_t want_total, char *when,
                               size_t n)
{
    itest_resp *r = itest_create_order(cust, lines, NULL, NULL);
    ITEST_ASSERT_STATUS(r, 201);
    int64_t id = itest_jint(r->json, "id");
    ck_assert_msg(id > 0 && itest_jint(r->json, "total_cents") == want_total,
                  "order total, want %" PRId64 ": %s", want_total, itest_describe(r));
    itest_free(r);
    const char *err = order_act(id, "confirm", when, n);
    ck_assert_msg(err == NULL, "confirming order %" PRId64 ": %s", id, err);
    ck_assert_msg(when == NULL || when[0] != '\0',
                  "confirmed order %" PRId64 " has no confirmed_at", id);
    return id;
}

/*
 * The truth: cust's confirmed orders in sales, every page of GET
 * /orders?customer=&status=confirmed; revenue counts the reporting
 * currency only.
 */
static void sales_truth(int64_t cust, int64_t *count, int64_t *revenue)
{
    char path[1024];
    char *cursor = NULL;
    *count = *revenue = 0;
    for (int page = 0; page < 1000; page++) {
        if (cursor != NULL) {
            char *enc = itest_urlencode(cursor);
            snprintf(path, sizeof path,
                     ITEST_ORDERS "?customer=%" PRId64 "&status=confirmed&limit=200&cursor=%s",
                     cust, enc);
            free(enc);
            free(cursor);
            cursor = NULL;
        } else {
            snprintf(path, sizeof path,
                     ITEST_ORDERS "?customer=%" PRId64 "&status=confirmed&limit=200", cust);
        }
        itest_resp *r = itest_get(path, NULL);
        ck_assert_msg(r->status == 200 && r->json != NULL, "%s", itest_describe(r));
        json_object *items = itest_jget(r->json, "items");
        ck_assert_msg(items != NULL && json_object_is_type(items, json_type_array), "%s",
                      itest_describe(r));
        for (size_t i = 0; i < json_object_array_length(items); i++) {
            json_object *o = json_object_array_get_idx(items, i);
            const char *st = itest_jstr(o, "status"), *cur = itest_jstr(o, "currency");
            ck_assert_msg(
                itest_jint(o, "customer_id") == cust && st != NULL && strcmp(st, "confirmed") == 0,
                "sales list for customer %" PRId64 " has %s", cust, json_object_to_json_string(o));
            (*count)++;
            if (cur != NULL && strcmp(cur, CURRENCY) == 0)
                *revenue += itest_jint(o, "total_cents");
        }
        const char *next = itest_jstr(r->json, "next_cursor");
        if (next != NULL) {
            cursor = strdup(next);
            ck_assert_ptr_nonnull(cursor);
        }
        itest_free(r);
        if (cursor == NULL)
            return;
    }
    ck_abort_msg("customer %" PRId64 ": more than 1000 pages of orders", cust);
}

/* ---- many orders at once ------------------------------------------------------------------ */

typedef struct {
    int64_t cust, product;
    int quantity;
    int cancel; /* cancel it once confirmed */
    /* results */
    int64_t id, total;
    int ok;
    char err[1100];
} order_job;

typedef struct {
    order_job *jobs;
    size_t n;
    size_t next;
} job_queue;

/* Create, confirm and maybe cancel one order. Thread-safe, asserts nothing. */
static void job_run(order_job *j)
{
    char lines[128], key[160], line[256];
    snprintf(lines, sizeof lines, "[{\"product_id\":%" PRId64 ",\"quantity\":%d}]", j->product,
             j->quantity);
    action_key(key, sizeof key, j->cust, "create");
    snprintf(line, sizeof line, "Idempotency-Key: %s", key);
    const char *h[] = { line, NULL };
    itest_resp *r = NULL;
    for (int attempt = 0; attempt < 4; attempt++) {
        itest_free(r);
        r = itest_create_order(j->cust, lines, NULL, h);
        if (r->status != 503)
            break;
        itest_sleep_ms(100 * (attempt + 1));
    }
    j->id = r->status == 201 ? itest_jint(r->json, "id") : -1;
    j->total = r->status == 201 ? itest_jint(r->json, "total_cents") : -1;
    if (j->id <= 0 || j->total < 0) {
        snprintf(j->err, sizeof j->err, "create: %s", itest_describe(r));
        itest_free(r);
        return;
    }
    itest_free(r);
    const char *err = order_act(j->id, "confirm", NULL, 0);
    if (err == NULL && j->cancel)
        err = order_act(j->id, "cancel", NULL, 0);
    if (err != NULL) {
        snprintf(j->err, sizeof j->err, "order %" PRId64 ": %s", j->id, err);
        return;
    }
    j->ok = 1;
}

static void *job_thread(void *arg)
{
    job_queue *q = arg;
    for (;;) {
        size_t i = __atomic_fetch_add(&q->next, 1, __ATOMIC_SEQ_CST);
        if (i >= q->n)
            return NULL;
        job_run(&q->jobs[i]);
    }
}

/* Run the jobs on threads clients; assert every one went well. */
static void jobs_run(order_job *jobs, size_t n, int threads)
{
    pthread_t t[32];
    job_queue q = { jobs, n, 0 };
    ck_assert_int_le(threads, 32);
    for (int i = 0; i < threads; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, job_thread, &q), 0);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    size_t failed = 0;
    const char *first = NULL;
    for (size_t i = 0; i < n; i++)
        if (!jobs[i].ok && failed++ == 0)
            first = jobs[i].err;
    ck_assert_msg(failed == 0,
                  "%zu of %zu orders could not be created/confirmed/cancelled; first: %s", failed,
                  n, first ? first : "?");
}

/* What the jobs say cust's confirmed, not cancelled, orders are. */
static void jobs_expect(const order_job *jobs, size_t n, int64_t cust, int64_t *count,
                        int64_t *revenue)
{
    *count = *revenue = 0;
    for (size_t i = 0; i < n; i++)
        if (jobs[i].cust == cust && jobs[i].ok && !jobs[i].cancel) {
            (*count)++;
            *revenue += jobs[i].total;
        }
}

/*
 * The truth of each customer from sales (asserted equal to what the jobs
 * did when jobs is not NULL) into orders and revenue.
 */
static void truths(const int64_t *custs, size_t n, const order_job *jobs, size_t n_jobs,
                   int64_t *orders, int64_t *revenue)
{
    for (size_t i = 0; i < n; i++) {
        sales_truth(custs[i], &orders[i], &revenue[i]);
        if (jobs == NULL)
            continue;
        int64_t c, rv;
        jobs_expect(jobs, n_jobs, custs[i], &c, &rv);
        ck_assert_msg(c == orders[i] && rv == revenue[i],
                      "sales lists %" PRId64 " confirmed orders (%" PRId64
                      " cents) for customer %" PRId64 ", the test confirmed %" PRId64 " (%" PRId64
                      " cents)",
                      orders[i], revenue[i], custs[i], c, rv);
    }
}

/*
 * Poll marketing until every customer's metrics equal the truth (orders,
 * revenue, and revenue_by_currency "EUR:orders:revenue"), or secs pass.
 * 1 when they do; why describes the customers that still differ.
 */
static int wait_truth(const int64_t *custs, const int64_t *orders, const int64_t *revenue, size_t n,
                      double secs, char *why, size_t whyn)
{
    double until = itest_now() + secs;
    for (;;) {
        size_t used = 0, wrong = 0;
        why[0] = '\0';
        for (size_t i = 0; i < n; i++) {
            mk_view v;
            char by[128];
            mk_get(custs[i], &v);
            snprintf(by, sizeof by, "%s:%" PRId64 ":%" PRId64, CURRENCY, orders[i], revenue[i]);
            if (v.status == 200 && v.orders == orders[i] && v.revenue == revenue[i] &&
                strcmp(v.by_currency, orders[i] > 0 ? by : "") == 0)
                continue;
            wrong++;
            int w = snprintf(
                why + used, whyn - used,
                "\n  customer %" PRId64 ": marketing %ld orders %" PRId64 " revenue %" PRId64
                " by_currency [%s]; sales %" PRId64 " orders %" PRId64 " cents",
                custs[i], v.status, v.orders, v.revenue, v.by_currency, orders[i], revenue[i]);
            if (w > 0 && (size_t)w < whyn - used)
                used += (size_t)w;
        }
        if (wrong == 0)
            return 1;
        if (itest_now() >= until)
            return 0;
        itest_sleep_ms(200);
    }
}

/* ---- relay metrics ------------------------------------------------------------------------ */

typedef struct {
    int have_leader, have_pending, have_delivered, have_failures;
    double leader, pending, delivered, failures;
} relay_stats;

/* GET <admin>/metrics: the relay of the service to one subscriber. */
static void stats_get(const char *admin_env, const char *const *sub, const char *const *svc,
                      relay_stats *s)
{
    char url[512];
    snprintf(url, sizeof url, "%s/metrics", env_url(admin_env));
    itest_resp *r = itest_request_url("GET", url, NULL, NULL, 0, NULL);
    ck_assert_msg(r->status == 200, "%s", itest_describe(r));
    memset(s, 0, sizeof *s);
    s->have_leader = itest_metric(r->body, "crm_relay_leader", svc, &s->leader);
    s->have_pending = itest_metric(r->body, "crm_events_pending", sub, &s->pending);
    s->have_delivered = itest_metric(r->body, "crm_events_delivered_total", sub, &s->delivered);
    s->have_failures =
        itest_metric(r->body, "crm_event_delivery_failures_total", sub, &s->failures);
    itest_free(r);
}

/* The sales relay's samples for marketing. */
static void sales_stats(relay_stats *s)
{
    stats_get("CRM_ADMIN_URL_SALES", SALES_TO_MK, SALES_SVC, s);
}

/* The customers relay's samples for sales. */
static void customers_stats(relay_stats *s)
{
    stats_get("CRM_ADMIN_URL_CUSTOMERS", CUST_TO_SALES, CUST_SVC, s);
}

static const char *stats_describe(const relay_stats *s)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "leader %g%s, pending %g%s, delivered %g%s, failures %g%s", s->leader,
             s->have_leader ? "" : " (absent)", s->pending, s->have_pending ? "" : " (absent)",
             s->delivered, s->have_delivered ? "" : " (absent)", s->failures,
             s->have_failures ? "" : " (absent)");
    return buf;
}

/* Poll until the sales relay leads and has nothing pending for marketing. */
static int wait_sales_drained(double secs, relay_stats *s)
{
    double until = itest_now() + secs;
    for (;;) {
        sales_stats(s);
        if (s->have_leader && s->leader == 1 && s->have_pending && s->pending == 0)
            return 1;
        if (itest_now() >= until)
            return 0;
        itest_sleep_ms(100);
    }
}

/* ---- stack control ------------------------------------------------------------------------ */

/* ==== (1) end to end ======================================================================== */

START_TEST(test_end_to_end)
{
    char t1[64], t2[64], rule[1024], last[4096], when[4][64], mark[64], member[2048];
    char path[128];
    mk_view v;
    relay_stats s;
    itest_unique_word(t1, sizeof t1);
    itest_unique_word(t2, sizeof t2);
    seed_population();

    /* (a) A new customer reaches sales and marketing, by event, within 2 s. */
    customers_stats(&s);
    ck_assert_msg(s.have_delivered, "customers relay for sales: %s", stats_describe(&s));
    double before = s.delivered;
    char extra[256];
    snprintf(extra, sizeof extra, "\"status\":\"lead\",\"tags\":[\"%s\"]", t1);
    itest_resp *r = itest_create_customer(extra, NULL);
    ITEST_ASSERT_STATUS(r, 201);
    int64_t cust = itest_jint(r->json, "id");
    char email[256];
    copy_str(email, sizeof email, itest_jstr(r->json, "email"));
    ck_assert_msg(cust > 0, "%s", itest_describe(r));
    itest_free(r);
    double t0 = itest_now(), t_sales = -1, t_mk = -1;
    for (;;) {
        if (t_mk < 0) {
            mk_get(cust, &v);
            if (v.status == 200)
                t_mk = itest_now() - t0;
        }
        if (t_sales < 0) {
            customers_stats(&s);
            if (s.have_delivered && s.delivered >= before + 1)
                t_sales = itest_now() - t0;
        }
        if (t_mk >= 0 && t_sales >= 0)
            break;
        ck_assert_msg(itest_now() - t0 < ARRIVE_WITHIN_S,
                      "customer %" PRId64 " not delivered within %.0f s: sales %s (customers "
                      "relay for sales: %s, delivered before: %g); marketing %s (%s)",
                      cust, ARRIVE_WITHIN_S, t_sales >= 0 ? "yes" : "no", stats_describe(&s),
                      before, t_mk >= 0 ? "yes" : "no", v.text);
        itest_sleep_ms(20);
    }
    itest_note("customer %" PRId64 " reached sales in %.3f s, marketing in %.3f s", cust, t_sales,
               t_mk);
    ck_assert_msg(v.deleted == 0, "new customer: %s", v.text);
    expect_view(&v, 0, 0, "", "", "", "new customer");

    /* Segments see it as the event told: status and tag. */
    snprintf(rule, sizeof rule,
             "{\"all\":[{\"field\":\"tag\",\"op\":\"eq\",\"value\":\"%s\"},"
             "{\"field\":\"status\",\"op\":\"eq\",\"value\":\"lead\"}]}",
             t1);
    ck_assert_msg(wait_preview(rule, 1, cust, 0, last, sizeof last),
                  "preview of tag %s and status lead, want customer %" PRId64 " only: %s", t1, cust,
                  last);
    snprintf(rule, sizeof rule, "{\"all\":[{\"field\":\"tag\",\"op\":\"eq\",\"value\":\"%s\"}]}",
             t1);
    int64_t seg_tag = segment_create(rule);
    ck_assert_msg(segment_has(seg_tag, cust, member, sizeof member),
                  "customer %" PRId64 " not a member of segment %" PRId64 " (tag %s)", cust,
                  seg_tag, t1);
    {
        json_object *m = json_tokener_parse(member);
        ck_assert_msg(m != NULL, "member: %s", member);
        const char *name = itest_jstr(m, "name"), *em = itest_jstr(m, "email"),
                   *st = itest_jstr(m, "status");
        ck_assert_msg(name && strcmp(name, "IT customer") == 0 && em && strcmp(em, email) == 0 &&
                          st && strcmp(st, "lead") == 0 && itest_jint(m, "orders_count") == 0 &&
                          itest_jnull(m, "rfm") && itest_jnull(m, "last_order_at"),
                      "member of segment %" PRId64 ": %s (want name IT customer, email %s, "
                      "status lead, no orders)",
                      seg_tag, member, email);
        json_object_put(m);
    }

    /* (b) Orders. Products without stock; one in USD (not the reporting currency). */
    int64_t pa = itest_new_product(1250, "EUR", NULL);
    int64_t pb = itest_new_product(799, "EUR", NULL);
    int64_t pu = itest_new_product(3000, "USD", NULL);
    char lines[256];
    rfm_scores sc;

    snprintf(lines, sizeof lines, "[{\"product_id\":%" PRId64 ",\"quantity\":2}]", pa);
    confirmed_order(cust, lines, 2500, when[0], sizeof when[0]);
    ck_assert_msg(wait_metrics(cust, 1, 2500, APPLY_WITHIN_S, &v),
                  "first order (2500 EUR) not in marketing within %.0f s: %s", APPLY_WITHIN_S,
                  v.text);
    expect_view(&v, 1, 2500, "EUR:1:2500", when[0], when[0], "after the first order");
    iso_now(mark, sizeof mark);
    check_rfm(cust, mark, "after the first order", &sc);

    snprintf(lines, sizeof lines, "[{\"product_id\":%" PRId64 ",\"quantity\":1}]", pu);
    confirmed_order(cust, lines, 3000, when[1], sizeof when[1]);
    ck_assert_msg(wait_metrics(cust, 2, 2500, APPLY_WITHIN_S, &v),
                  "second order (3000 USD) not in marketing within %.0f s: %s", APPLY_WITHIN_S,
                  v.text);
    expect_view(&v, 2, 2500, "EUR:1:2500,USD:1:3000", when[0], when[1], "after the USD order");
    iso_now(mark, sizeof mark);
    check_rfm(cust, mark, "after the USD order", &sc);

    snprintf(lines, sizeof lines,
             "[{\"product_id\":%" PRId64 ",\"quantity\":3},{\"product_id\":%" PRId64
             ",\"quantity\":1}]",
             pb, pa);
    int64_t o3 = confirmed_order(cust, lines, 3 * 799 + 1250, when[2], sizeof when[2]);
    ck_assert_msg(wait_metrics(cust, 3, 2500 + 3647, APPLY_WITHIN_S, &v),
                  "third order (3647 EUR) not in marketing within %.0f s: %s", APPLY_WITHIN_S,
                  v.text);
    expect_view(&v, 3, 6147, "EUR:2:6147,USD:1:3000", when[0], when[2], "after the third order");
    iso_now(mark, sizeof mark);
    check_rfm(cust, mark, "after the third order", &sc);

    /* The scores as a segment sees them: exactly this customer's, not one off. */
    for (int attempt = 0;; attempt++) {
        rfm_view a, b;
        int in = 0;
        rfm_get(&a);
        mk_get(cust, &v);
        snprintf(rule, sizeof rule,
                 "{\"all\":[{\"field\":\"tag\",\"op\":\"eq\",\"value\":\"%s\"},"
                 "{\"field\":\"r_score\",\"op\":\"eq\",\"value\":%d},"
                 "{\"field\":\"f_score\",\"op\":\"eq\",\"value\":%d},"
                 "{\"field\":\"m_score\",\"op\":\"eq\",\"value\":%d}]}",
                 t1, v.r, v.f, v.m);
        int64_t hit = preview(rule, cust, &in, last, sizeof last);
        snprintf(rule, sizeof rule,
                 "{\"all\":[{\"field\":\"tag\",\"op\":\"eq\",\"value\":\"%s\"},"
                 "{\"field\":\"f_score\",\"op\":\"eq\",\"value\":%d}]}",
                 t1, v.f == 5 ? 4 : v.f + 1);
        int in_off = 0;
        int64_t off = preview(rule, cust, &in_off, last, sizeof last);
        rfm_get(&b);
        if (strcmp(a.computed_at, b.computed_at) != 0 && attempt < 5)
            continue;
        ck_assert_msg(hit == 1 && in,
                      "preview on tag %s and scores R%d F%d M%d (the customer's): count %" PRId64
                      ", want 1 (customer %" PRId64 ")",
                      t1, v.r, v.f, v.m, hit, cust);
        ck_assert_msg(off == 0, "preview on tag %s and f_score %d: count %" PRId64 ", want 0", t1,
                      v.f == 5 ? 4 : v.f + 1, off);
        break;
    }

    /* (c) A draft cancelled never counted; the third order cancelled goes away. */
    int64_t o4 = itest_new_order(cust, lines, NULL);
    const char *err = order_act(o4, "cancel", NULL, 0);
    ck_assert_msg(err == NULL, "cancelling draft %" PRId64 ": %s", o4, err);
    err = order_act(o3, "cancel", NULL, 0);
    ck_assert_msg(err == NULL, "cancelling order %" PRId64 ": %s", o3, err);
    ck_assert_msg(wait_metrics(cust, 2, 2500, APPLY_WITHIN_S, &v),
                  "cancelled order %" PRId64 " still counted %.0f s later: %s", o3, APPLY_WITHIN_S,
                  v.text);
    expect_view(&v, 2, 2500, "EUR:1:2500,USD:1:3000", when[0], when[1], "after the cancel");
    iso_now(mark, sizeof mark);
    check_rfm(cust, mark, "after the cancel", &sc);

    /* (d) customer.updated: status and tags as the update says, metrics untouched. */
    snprintf(path, sizeof path, ITEST_CUSTOMERS "/%" PRId64, cust);
    char patch[256];
    snprintf(patch, sizeof patch, "{\"status\":\"customer\",\"tags\":[\"%s\"]}", t2);
    r = itest_json("PATCH", path, NULL, patch);
    ITEST_ASSERT_STATUS(r, 200);
    itest_free(r);
    snprintf(rule, sizeof rule,
             "{\"all\":[{\"field\":\"tag\",\"op\":\"eq\",\"value\":\"%s\"},"
             "{\"field\":\"status\",\"op\":\"eq\",\"value\":\"customer\"}]}",
             t2);
    ck_assert_msg(wait_preview(rule, 1, cust, ARRIVE_WITHIN_S, last, sizeof last),
                  "customer.updated (status customer, tag %s) not in marketing within %.0f s: %s",
                  t2, ARRIVE_WITHIN_S, last);
    ck_assert_msg(!segment_has(seg_tag, cust, NULL, 0),
                  "customer %" PRId64 " lost tag %s but is still a member of segment %" PRId64,
                  cust, t1, seg_tag);
    mk_get(cust, &v);
    expect_view(&v, 2, 2500, "EUR:1:2500,USD:1:3000", when[0], when[1], "after customer.updated");
    ck_assert_msg(v.deleted == 0, "after customer.updated: %s", v.text);

    /* A segment on metrics only (no tag) that holds for it. */
    snprintf(rule, sizeof rule,
             "{\"all\":[{\"field\":\"orders_count\",\"op\":\"eq\",\"value\":2},"
             "{\"field\":\"revenue\",\"op\":\"eq\",\"value\":2500},"
             "{\"field\":\"status\",\"op\":\"eq\",\"value\":\"customer\"},"
             "{\"field\":\"days_since_last_order\",\"op\":\"lte\",\"value\":1}]}");
    int64_t seg_metrics = segment_create(rule);
    ck_assert_msg(segment_has(seg_metrics, cust, member, sizeof member),
                  "customer %" PRId64 " (2 orders, 2500 EUR, status customer) not a member of "
                  "segment %" PRId64 " %s",
                  cust, seg_metrics, rule);

    /* (e) customer.deleted: flagged, no longer a member anywhere, metrics kept. */
    r = itest_request("DELETE", path, NULL, NULL, 0, NULL);
    ITEST_ASSERT_STATUS(r, 204);
    itest_free(r);
    t0 = itest_now();
    for (;;) {
        mk_get(cust, &v);
        if (v.status == 200 && v.deleted == 1)
            break;
        ck_assert_msg(itest_now() - t0 < ARRIVE_WITHIN_S,
                      "customer.deleted of %" PRId64 " not in marketing within %.0f s: %s", cust,
                      ARRIVE_WITHIN_S, v.text);
        itest_sleep_ms(20);
    }
    itest_note("customer.deleted reached marketing in %.3f s", itest_now() - t0);
    expect_view(&v, 2, 2500, "EUR:1:2500,USD:1:3000", when[0], when[1], "after customer.deleted");
    ck_assert_msg(!segment_has(seg_metrics, cust, member, sizeof member),
                  "deleted customer %" PRId64 " is still a member of segment %" PRId64 ": %s", cust,
                  seg_metrics, member);
    snprintf(rule, sizeof rule, "{\"all\":[{\"field\":\"tag\",\"op\":\"eq\",\"value\":\"%s\"}]}",
             t2);
    ck_assert_msg(wait_preview(rule, 0, cust, 0, last, sizeof last),
                  "deleted customer still matches its tag %s: %s", t2, last);
}
END_TEST

/* ==== (2d) the inbox's checks =============================================================== */

START_TEST(test_inbox_auth)
{
    char id[37], ev[4096], body[BODY_MAX], tampered[BODY_MAX], when[64];
    int64_t cust = synthetic_id(), order = synthetic_id();
    mk_view v;
    itest_uuid4(id);
    iso_now(when, sizeof when);
    order_event(ev, sizeof ev, id, "confirmed", order, 2, cust, 5100, "EUR", when, "draft");
    batch_json(body, sizeof body, ev, NULL);
    snprintf(tampered, sizeof tampered, "%s", body);
    char *at = strstr(tampered, "\"total_cents\":5100");
    ck_assert_ptr_nonnull(at);
    at[strlen("\"total_cents\":")] = '9';

    static const struct {
        sig_mode mode;
        long skew;
        const char *what;
    } refused[] = {
        { SIG_NONE, 0, "unsigned" },
        { SIG_BAD, 0, "signed with another key" },
        { SIG_TAMPERED, 0, "body changed after signing" },
        { SIG_GOOD, -(MAX_SKEW_S + 1), "timestamp 301 s old" },
        { SIG_GOOD, -(MAX_SKEW_S + 60), "timestamp 360 s old" },
        { SIG_GOOD, MAX_SKEW_S + 1, "timestamp 301 s ahead" },
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        itest_resp *r = post_events(body, tampered, refused[i].mode, refused[i].skew, 0);
        ck_assert_msg(r->status == 401, "%s: %s", refused[i].what, itest_describe(r));
        ITEST_ASSERT_PROBLEM(r, 401);
        itest_free(r);
    }
    /* Not on the public listener, even correctly signed. */
    itest_resp *r = post_events(body, NULL, SIG_GOOD, 0, 1);
    ck_assert_msg(r->status == 404, "public listener: %s", itest_describe(r));
    ITEST_ASSERT_PROBLEM(r, 404);
    itest_free(r);

    /* Nothing of those was applied: marketing never heard of the customer. */
    mk_get(cust, &v);
    ck_assert_msg(v.status == 404, "after refused deliveries only: %s", v.text);

    /* The same batch, correctly signed: applied, with the signed total. */
    deliver_expect(body, 1, 0, "correctly signed");
    mk_get(cust, &v);
    ck_assert_msg(v.deleted == 0, "%s", v.text);
    expect_view(&v, 1, 5100, "EUR:1:5100", when, when, "after the signed delivery");

    /* Applied once; an old timestamp is refused even for an event already held. */
    r = post_events(body, NULL, SIG_GOOD, -(MAX_SKEW_S + 1), 0);
    ck_assert_msg(r->status == 401, "replayed with an old timestamp: %s", itest_describe(r));
    itest_free(r);
    mk_get(cust, &v);
    expect_view(&v, 1, 5100, "EUR:1:5100", when, when, "after the refused replay");
}
END_TEST

/* ==== (2c) redelivery, stale versions, out of order ========================================= */

START_TEST(test_redelivery_and_order)
{
    int64_t cust = synthetic_id(), o1 = synthetic_id(), o2 = synthetic_id(), o3 = synthetic_id(),
            o4 = synthetic_id();
    char id[37], e1[4096], e2[4096], body[BODY_MAX], x1[64], x2[64], x4[64], last[4096];
    char ta[64], tb[64], tc[64], rule[512];
    mk_view v;
    itest_unique_word(ta, sizeof ta);
    itest_unique_word(tb, sizeof tb);
    itest_unique_word(tc, sizeof tc);

    mk_get(cust, &v);
    ck_assert_msg(v.status == 404, "synthetic customer known before any event: %s", v.text);

    /* order.confirmed v2 of o1: counted (marketing learns of the customer by it). */
    iso_now(x1, sizeof x1);
    itest_uuid4(id);
    order_event(e1, sizeof e1, id, "confirmed", o1, 2, cust, 4200, "EUR", x1, "draft");
    batch_json(body, sizeof body, e1, NULL);
    deliver_expect(body, 1, 0, "order.confirmed v2");
    mk_get(cust, &v);
    expect_view(&v, 1, 4200, "EUR:1:4200", x1, x1, "after order.confirmed v2");

    /* The same event again: a duplicate, nothing changes. */
    deliver_expect(body, 0, 1, "order.confirmed v2 again");
    mk_get(cust, &v);
    expect_view(&v, 1, 4200, "EUR:1:4200", x1, x1, "after the duplicate");

    /* Another event (new id) of the same version, other total: stale, nothing changes. */
    itest_uuid4(id);
    order_event(e1, sizeof e1, id, "confirmed", o1, 2, cust, 9999, "EUR", x1, "draft");
    batch_json(body, sizeof body, e1, NULL);
    deliver_expect(body, 1, 0, "a second order.confirmed v2 of the same order");
    mk_get(cust, &v);
    expect_view(&v, 1, 4200, "EUR:1:4200", x1, x1, "after a same-version event");

    /* o2 out of order: cancelled v3 first, then the late confirmed v2. */
    itest_sleep_ms(5);
    iso_now(x2, sizeof x2);
    itest_uuid4(id);
    order_event(e1, sizeof e1, id, "cancelled", o2, 3, cust, 1500, "EUR", x2, "confirmed");
    batch_json(body, sizeof body, e1, NULL);
    deliver_expect(body, 1, 0, "order.cancelled v3 before its confirmation");
    mk_get(cust, &v);
    expect_view(&v, 1, 4200, "EUR:1:4200", x1, x1, "after order.cancelled v3");
    itest_uuid4(id);
    order_event(e1, sizeof e1, id, "confirmed", o2, 2, cust, 1500, "EUR", x2, "draft");
    batch_json(body, sizeof body, e1, NULL);
    deliver_expect(body, 1, 0, "late order.confirmed v2");
    mk_get(cust, &v);
    expect_view(&v, 1, 4200, "EUR:1:4200", x1, x1, "after the late order.confirmed v2");

    /* o3 in order, both in one batch: confirmed then cancelled, not counted. */
    itest_uuid4(id);
    order_event(e1, sizeof e1, id, "confirmed", o3, 2, cust, 700, "EUR", x2, "draft");
    itest_uuid4(id);
    order_event(e2, sizeof e2, id, "cancelled", o3, 3, cust, 700, "EUR", x2, "confirmed");
    batch_json(body, sizeof body, e1, e2);
    deliver_expect(body, 2, 0, "order.confirmed v2 + order.cancelled v3 in one batch");
    mk_get(cust, &v);
    expect_view(&v, 1, 4200, "EUR:1:4200", x1, x1, "after a batch confirming and cancelling");

    /* o4 in another currency: counted in orders and by currency, not in revenue. */
    iso_now(x4, sizeof x4);
    itest_uuid4(id);
    order_event(e1, sizeof e1, id, "confirmed", o4, 2, cust, 3300, "USD", x4, "draft");
    batch_json(body, sizeof body, e1, NULL);
    deliver_expect(body, 1, 0, "order.confirmed in USD");
    mk_get(cust, &v);
    expect_view(&v, 2, 4200, "EUR:1:4200,USD:1:3300", x1, x4, "after the USD order");

    /* o1 (the first order) cancelled: first_order_at moves to o4, EUR is gone. */
    itest_uuid4(id);
    order_event(e1, sizeof e1, id, "cancelled", o1, 3, cust, 4200, "EUR", x1, "confirmed");
    batch_json(body, sizeof body, e1, NULL);
    deliver_expect(body, 1, 0, "order.cancelled v3 of the first order");
    mk_get(cust, &v);
    expect_view(&v, 1, 0, "USD:1:3300", x4, x4, "after cancelling the first order");

    /* Customer events after its orders: created v1, updated v3, stale updated v2. */
    char tag_rule_a[256], tag_rule_c[256];
    snprintf(tag_rule_a, sizeof tag_rule_a,
             "{\"all\":[{\"field\":\"tag\",\"op\":\"eq\",\"value\":\"%s\"}]}", ta);
    snprintf(tag_rule_c, sizeof tag_rule_c,
             "{\"all\":[{\"field\":\"tag\",\"op\":\"eq\",\"value\":\"%s\"}]}", tc);
    snprintf(rule, sizeof rule,
             "{\"all\":[{\"field\":\"tag\",\"op\":\"eq\",\"value\":\"%s\"},"
             "{\"field\":\"status\",\"op\":\"eq\",\"value\":\"customer\"}]}",
             tb);
    itest_uuid4(id);
    customer_event(e1, sizeof e1, id, "created", cust, 1, "lead", ta);
    batch_json(body, sizeof body, e1, NULL);
    deliver_expect(body, 1, 0, "customer.created v1");
    ck_assert_msg(wait_preview(tag_rule_a, 1, cust, 0, last, sizeof last),
                  "customer.created v1 with tag %s: %s", ta, last);
    char upd3[4096];
    itest_uuid4(id);
    customer_event(upd3, sizeof upd3, id, "updated", cust, 3, "customer", tb);
    batch_json(body, sizeof body, upd3, NULL);
    deliver_expect(body, 1, 0, "customer.updated v3");
    ck_assert_msg(wait_preview(rule, 1, cust, 0, last, sizeof last),
                  "customer.updated v3 (status customer, tag %s): %s", tb, last);
    ck_assert_msg(wait_preview(tag_rule_a, 0, cust, 0, last, sizeof last),
                  "tag %s of v1 still there after v3: %s", ta, last);
    itest_uuid4(id);
    customer_event(e1, sizeof e1, id, "updated", cust, 2, "churned", tc);
    batch_json(body, sizeof body, e1, NULL);
    deliver_expect(body, 1, 0, "stale customer.updated v2");
    ck_assert_msg(wait_preview(rule, 1, cust, 0, last, sizeof last),
                  "after the stale customer.updated v2, want still status customer, tag %s: %s", tb,
                  last);
    ck_assert_msg(wait_preview(tag_rule_c, 0, cust, 0, last, sizeof last),
                  "the stale customer.updated v2 set tag %s: %s", tc, last);
    batch_json(body, sizeof body, upd3, NULL);
    deliver_expect(body, 0, 1, "customer.updated v3 again");
    mk_get(cust, &v);
    ck_assert_msg(v.deleted == 0, "%s", v.text);
    expect_view(&v, 1, 0, "USD:1:3300", x4, x4, "after the customer events");

    /* deleted v4, then a stale updated v3 (new id): stays deleted, metrics kept. */
    itest_uuid4(id);
    customer_event(e1, sizeof e1, id, "deleted", cust, 4, "", "");
    batch_json(body, sizeof body, e1, NULL);
    deliver_expect(body, 1, 0, "customer.deleted v4");
    itest_uuid4(id);
    customer_event(e1, sizeof e1, id, "updated", cust, 3, "customer", tb);
    batch_json(body, sizeof body, e1, NULL);
    deliver_expect(body, 1, 0, "stale customer.updated v3 after the delete");
    mk_get(cust, &v);
    ck_assert_msg(v.deleted == 1, "after customer.deleted v4 and a stale v3: %s", v.text);
    expect_view(&v, 1, 0, "USD:1:3300", x4, x4, "after customer.deleted");
    ck_assert_msg(wait_preview(rule, 0, cust, 0, last, sizeof last),
                  "deleted customer still matches tag %s: %s", tb, last);
}
END_TEST

/* ==== concurrent confirmations, nothing down ================================================ */

#define BURST_CUSTOMERS 4
#define BURST_ORDERS    1000
#define BURST_THREADS   16

START_TEST(test_concurrent_confirmations)
{
    int64_t custs[BURST_CUSTOMERS], prods[3], orders[BURST_CUSTOMERS], revenue[BURST_CUSTOMERS];
    static order_job jobs[BURST_ORDERS];
    char why[4096];
    for (int i = 0; i < BURST_CUSTOMERS; i++)
        custs[i] = itest_new_customer(NULL);
    prods[0] = itest_new_product(1999, "EUR", NULL);
    prods[1] = itest_new_product(2500, "EUR", NULL);
    prods[2] = itest_new_product(12345, "EUR", NULL);
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < BURST_ORDERS; i++) {
        jobs[i].cust = custs[i % BURST_CUSTOMERS];
        jobs[i].product = prods[i % 3];
        jobs[i].quantity = 1 + i % 4;
        jobs[i].cancel = i % 10 == 9;
    }
    relay_stats s0, s;
    ck_assert_msg(wait_sales_drained(DRAINED_WITHIN_S, &s0),
                  "the sales relay still has events pending for marketing: %s",
                  stats_describe(&s0));
    double t0 = itest_now();
    jobs_run(jobs, BURST_ORDERS, BURST_THREADS);
    itest_note("%d orders confirmed by %d clients in %.2f s", BURST_ORDERS, BURST_THREADS,
               itest_now() - t0);
    truths(custs, BURST_CUSTOMERS, jobs, BURST_ORDERS, orders, revenue);
    t0 = itest_now();
    int ok =
        wait_truth(custs, orders, revenue, BURST_CUSTOMERS, APPLY_WITHIN_S + 5, why, sizeof why);
    /* pending is refreshed every second: a sample taken after the wait is current */
    sales_stats(&s);
    ck_assert_msg(ok,
                  "%.0f s after %d orders confirmed (%d cancelled) by %d concurrent clients, "
                  "marketing differs from sales:%s\nthe sales relay delivered %g of the %d "
                  "events of the burst and reports %g pending (%s)",
                  APPLY_WITHIN_S + 5, BURST_ORDERS, BURST_ORDERS / 10, BURST_THREADS, why,
                  s.delivered - s0.delivered, BURST_ORDERS + BURST_ORDERS / 10, s.pending,
                  stats_describe(&s));
    itest_note("marketing equal to sales %.2f s after the burst", itest_now() - t0);
}
END_TEST

/* ==== (2b) the sales relay killed mid-delivery ============================================== */

/*
 * The relay is the sales pool's sidecar: its supervisor logs "relay
 * started: pid=N" each time it forks one, and the relay logs RELAY_LEADS
 * (with its own pid) once it holds the relay lock.
 */
#define RELAY_STARTED  "relay started: pid="
#define RELAY_LEADS    "relay: this process now delivers the events of sales"
#define KILL_CUSTOMERS 3
#define KILL_ORDERS    60
#define KILL_AFTER     20 /* the relay is killed after this many confirmations */
#define KILL_PACE_MS   10
#define RELAY_BACK_S   15.0

static void sales_log(char *buf, size_t n)
{
    snprintf(buf, n, "%s/logs/sales.log", env_url("CRM_STATE"));
}

static long log_size(void)
{
    char path[4096];
    struct stat st;
    sales_log(path, sizeof path);
    ck_assert_msg(stat(path, &st) == 0, "cannot stat %s: %s", path, strerror(errno));
    return (long)st.st_size;
}

/*
 * The sales log from byte offset on: the pid of the last "relay started"
 * line whose relay is alive and a child of supervisor (-1 when none);
 * *leads is 1 when that relay then logged RELAY_LEADS.
 */
static pid_t relay_from_log(long offset, pid_t supervisor, int *leads)
{
    char path[4096];
    sales_log(path, sizeof path);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s: %s", path, strerror(errno));
    ck_assert_msg(fseek(f, offset, SEEK_SET) == 0, "cannot seek %s to %ld", path, offset);
    pid_t found = -1;
    *leads = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_object *o = json_tokener_parse(line);
        const char *msg = itest_jstr(o, "msg");
        int64_t pid = itest_jint(o, "pid");
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

START_TEST(test_sales_relay_killed)
{
    char path[4096], why[4096];
    int64_t custs[KILL_CUSTOMERS], orders[KILL_CUSTOMERS], revenue[KILL_CUSTOMERS];
    relay_stats s;
    sales_log(path, sizeof path);

    pid_t sup = itest_pool_pid("sales");
    ck_assert_msg(sup > 0, "no sales supervisor (stack.sh pool-pid sales)");
    int leads = 0;
    pid_t relay = relay_from_log(0, sup, &leads);
    ck_assert_msg(relay > 0, "no live relay of supervisor %ld in %s", (long)sup, path);
    pid_t kids[64], workers[64];
    size_t n_kids = itest_children(sup, kids, 64), n_workers = 0;
    for (size_t i = 0; i < n_kids; i++)
        if (kids[i] != relay)
            workers[n_workers++] = kids[i];
    ck_assert_msg(n_workers > 0, "sales supervisor %ld has no workers", (long)sup);

    ck_assert_msg(wait_sales_drained(DRAINED_WITHIN_S, &s),
                  "the sales relay still has events pending for marketing: %s", stats_describe(&s));
    double before = s.delivered;

    for (int i = 0; i < KILL_CUSTOMERS; i++)
        custs[i] = itest_new_customer(NULL);
    int64_t pa = itest_new_product(1500, "EUR", NULL), pb = itest_new_product(2750, "EUR", NULL);

    /* Confirmations (every 7th cancelled too) on both sides of the kill. */
    int events = 0;
    long offset = -1;
    double t_kill = 0;
    for (int i = 0; i < KILL_ORDERS; i++) {
        char lines[128];
        if (i > 0)
            itest_sleep_ms(KILL_PACE_MS);
        snprintf(lines, sizeof lines, "[{\"product_id\":%" PRId64 ",\"quantity\":%d}]",
                 i % 2 ? pa : pb, 1 + i % 3);
        itest_resp *r = itest_create_order(custs[i % KILL_CUSTOMERS], lines, NULL, NULL);
        ITEST_ASSERT_STATUS(r, 201);
        int64_t id = itest_jint(r->json, "id");
        itest_free(r);
        const char *err = order_act(id, "confirm", NULL, 0);
        ck_assert_msg(err == NULL, "confirming %" PRId64 ": %s", id, err);
        events++;
        if (i % 7 == 6) {
            err = order_act(id, "cancel", NULL, 0);
            ck_assert_msg(err == NULL, "cancelling %" PRId64 ": %s", id, err);
            events++;
        }
        if (i + 1 == KILL_AFTER) {
            double until = itest_now() + ARRIVE_WITHIN_S;
            for (;;) {
                sales_stats(&s);
                if (s.have_delivered && s.delivered > before)
                    break;
                ck_assert_msg(itest_now() < until,
                              "none of %d confirmations delivered within %.0f s: %s", KILL_AFTER,
                              ARRIVE_WITHIN_S, stats_describe(&s));
                itest_sleep_ms(10);
            }
            itest_note("killing sales relay %ld: %g of %d events delivered", (long)relay,
                       s.delivered - before, events);
            ck_assert_msg(itest_child_of(relay, sup), "relay %ld is no longer a child of %ld",
                          (long)relay, (long)sup);
            offset = log_size();
            ck_assert_msg(kill(relay, SIGKILL) == 0, "kill -KILL %ld: %s", (long)relay,
                          strerror(errno));
            t_kill = itest_now();
        }
    }

    /* A new relay leads and delivers everything. */
    double until = itest_now() + RELAY_BACK_S, t_lead = -1;
    pid_t fresh = -1;
    for (;;) {
        int fresh_leads = 0;
        fresh = relay_from_log(offset, sup, &fresh_leads);
        if (fresh == relay)
            fresh = -1;
        sales_stats(&s);
        double t = itest_now();
        if (fresh > 0 && (fresh_leads || (s.have_leader && s.leader == 1)) && t_lead < 0) {
            t_lead = t;
            itest_note("sales relay %ld killed; relay %ld leads within %.3f s", (long)relay,
                       (long)fresh, t - t_kill);
        }
        /* pending is refreshed every second: only a sample well after the new lead counts */
        if (t_lead >= 0 && t >= t_lead + 2.0 && s.have_leader && s.leader == 1 && s.have_pending &&
            s.pending == 0 && s.have_delivered && s.delivered >= before + events)
            break;
        ck_assert_msg(itest_now() < until,
                      "%.0f s after %d events (relay %ld killed after %d confirmations): new "
                      "relay %ld%s; want leader 1, pending 0, delivered >= %g; %s",
                      RELAY_BACK_S, events, (long)relay, KILL_AFTER, (long)fresh,
                      fresh > 0 ? (fresh_leads ? " leading" : " not leading") : " (none)",
                      before + events, stats_describe(&s));
        itest_sleep_ms(100);
    }
    ck_assert_msg(!itest_child_of(relay, sup), "killed relay %ld still alive", (long)relay);
    ck_assert_msg(itest_pool_pid("sales") == sup, "the sales supervisor changed");
    ck_assert_msg(itest_child_of(fresh, sup), "relay %ld is not a child of supervisor %ld",
                  (long)fresh, (long)sup);
    for (size_t i = 0; i < n_workers; i++)
        ck_assert_msg(itest_child_of(workers[i], sup), "sales worker %ld gone after the relay kill",
                      (long)workers[i]);

    /* No loss, no double count. */
    truths(custs, KILL_CUSTOMERS, NULL, 0, orders, revenue);
    int ok = wait_truth(custs, orders, revenue, KILL_CUSTOMERS, APPLY_WITHIN_S, why, sizeof why);
    ck_assert_msg(ok, "after the sales relay was killed mid-delivery, marketing differs:%s", why);
}
END_TEST

/* ==== (2a) marketing down while orders are confirmed (last) ================================= */

#define OUTAGE_CUSTOMERS 5
#define OUTAGE_ORDERS    500
#define OUTAGE_THREADS   8

START_TEST(test_marketing_down)
{
    int64_t custs[OUTAGE_CUSTOMERS], prods[3], orders[OUTAGE_CUSTOMERS], revenue[OUTAGE_CUSTOMERS];
    static order_job jobs[OUTAGE_ORDERS];
    char why[8192];
    relay_stats s0, s;
    mk_view v;

    for (int i = 0; i < OUTAGE_CUSTOMERS; i++)
        custs[i] = itest_new_customer(NULL);
    prods[0] = itest_new_product(1999, "EUR", NULL);
    prods[1] = itest_new_product(2500, "EUR", NULL);
    prods[2] = itest_new_product(12345, "EUR", NULL);
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < OUTAGE_ORDERS; i++) {
        jobs[i].cust = custs[i % OUTAGE_CUSTOMERS];
        jobs[i].product = prods[i % 3];
        jobs[i].quantity = 1 + i % 4;
        jobs[i].cancel = i % 25 == 24;
    }
    sales_stats(&s0);
    ck_assert_msg(s0.have_failures && s0.have_delivered, "%s", stats_describe(&s0));

    itest_stack_ok("pool-stop", "marketing");
    itest_resp *r = itest_get(MARKETING_PING, NULL);
    ck_assert_msg(r->status != 200, "marketing still answers after pool-stop: %s",
                  itest_describe(r));
    itest_free(r);

    double t0 = itest_now();
    jobs_run(jobs, OUTAGE_ORDERS, OUTAGE_THREADS);
    itest_note("%d orders confirmed (%d cancelled) in %.2f s with marketing down", OUTAGE_ORDERS,
               OUTAGE_ORDERS / 25, itest_now() - t0);

    /* A subscriber down holds up nobody else: a new customer still reaches sales. */
    relay_stats c;
    customers_stats(&c);
    double c_before = c.delivered;
    int64_t late = itest_new_customer(NULL);
    t0 = itest_now();
    for (;;) {
        customers_stats(&c);
        if (c.have_delivered && c.delivered >= c_before + 1)
            break;
        ck_assert_msg(itest_now() - t0 < ARRIVE_WITHIN_S,
                      "with marketing down, customer %" PRId64 " not delivered to sales within "
                      "%.0f s: %s",
                      late, ARRIVE_WITHIN_S, stats_describe(&c));
        itest_sleep_ms(20);
    }

    /* The sales relay saw the outage and keeps the events. */
    double until = itest_now() + FAILURE_WITHIN_S;
    for (;;) {
        sales_stats(&s);
        if (s.have_failures && s.failures > s0.failures && s.have_pending && s.pending >= 1)
            break;
        ck_assert_msg(itest_now() < until,
                      "%.0f s into the marketing outage: want failures > %g and pending >= 1; %s",
                      FAILURE_WITHIN_S, s0.failures, stats_describe(&s));
        itest_sleep_ms(100);
    }
    itest_note("marketing down: sales relay %s", stats_describe(&s));
    truths(custs, OUTAGE_CUSTOMERS, jobs, OUTAGE_ORDERS, orders, revenue);

    /* Marketing back: every event arrives, each counted once. */
    itest_stack_ok("pool-start", "marketing");
    ck_assert_msg(itest_wait_serving(MARKETING_PING, POOL_BACK_S),
                  "marketing does not answer %.0f s after pool-start", POOL_BACK_S);
    t0 = itest_now();
    int ok =
        wait_truth(custs, orders, revenue, OUTAGE_CUSTOMERS, REDELIVER_WITHIN_S, why, sizeof why);
    sales_stats(&s);
    ck_assert_msg(ok, "%.0f s after marketing came back, it differs from sales:%s\nsales relay: %s",
                  REDELIVER_WITHIN_S, why, stats_describe(&s));
    itest_note("all %d orders in marketing %.2f s after it came back", OUTAGE_ORDERS,
               itest_now() - t0);

    /* Drained, and still equal: nothing arrives twice later. */
    ck_assert_msg(wait_sales_drained(FAILURE_WITHIN_S, &s),
                  "the sales relay still has events pending for marketing: %s", stats_describe(&s));
    ck_assert_msg(s.delivered >= s0.delivered + OUTAGE_ORDERS + OUTAGE_ORDERS / 25,
                  "delivered %g, want >= %g + %d: %s", s.delivered, s0.delivered,
                  OUTAGE_ORDERS + OUTAGE_ORDERS / 25, stats_describe(&s));
    ck_assert_msg(wait_truth(custs, orders, revenue, OUTAGE_CUSTOMERS, 0, why, sizeof why),
                  "once the relay drained, marketing differs from sales:%s", why);

    /* And the customer created during the outage reached marketing too. */
    until = itest_now() + REDELIVER_WITHIN_S;
    for (;;) {
        mk_get(late, &v);
        if (v.status == 200)
            break;
        ck_assert_msg(itest_now() < until,
                      "customer %" PRId64 " created while marketing was down is unknown to it "
                      "%.0f s later: %s",
                      late, REDELIVER_WITHIN_S, v.text);
        itest_sleep_ms(200);
    }
}
END_TEST

/* ---- fixtures ----------------------------------------------------------------------------- */

/*
 * Orders of 100 lines, confirmed while marketing is down, pile up into
 * batches too big for one delivery (each order's payload holds over 1,000
 * JSON values; the inbox takes 10,000 per batch): the relay must send
 * fewer at a time rather than retry the same refused batch forever.
 */
#define BIG_ORDERS 15
#define BIG_LINES  100
START_TEST(test_big_batches)
{
    int64_t prods[BIG_LINES];
    char lines[BIG_LINES * 48 + 8];
    size_t off = 0;
    relay_stats s;
    mk_view v;

    int64_t cust = itest_new_customer(NULL);
    for (int i = 0; i < BIG_LINES; i++)
        prods[i] = itest_new_product(100, CURRENCY, NULL);
    off += (size_t)snprintf(lines + off, sizeof lines - off, "[");
    for (int i = 0; i < BIG_LINES; i++)
        off += (size_t)snprintf(lines + off, sizeof lines - off,
                                "%s{\"product_id\":%" PRId64 ",\"quantity\":1}", i ? "," : "",
                                prods[i]);
    snprintf(lines + off, sizeof lines - off, "]");
    ck_assert_msg(wait_metrics(cust, 0, 0, ARRIVE_WITHIN_S, &v), "customer not in marketing: %s",
                  v.text);

    itest_stack_ok("pool-stop", "marketing");
    for (int i = 0; i < BIG_ORDERS; i++)
        confirmed_order(cust, lines, 100 * BIG_LINES, NULL, 0);
    itest_stack_ok("pool-start", "marketing");
    ck_assert_msg(itest_wait_serving(MARKETING_PING, POOL_BACK_S),
                  "marketing does not answer %.0f s after pool-start", POOL_BACK_S);
    int ok = wait_metrics(cust, BIG_ORDERS, (int64_t)BIG_ORDERS * 100 * BIG_LINES,
                          REDELIVER_WITHIN_S, &v);
    sales_stats(&s);
    ck_assert_msg(ok, "%d orders of %d lines did not all reach marketing: %s\nsales relay: %s",
                  BIG_ORDERS, BIG_LINES, v.text, stats_describe(&s));
    ck_assert_msg(wait_sales_drained(FAILURE_WITHIN_S, &s),
                  "the sales relay still has events pending for marketing: %s", stats_describe(&s));
}
END_TEST

/* Start marketing's pool again unless it answers (in the runner's process). */
static void restore_marketing(void)
{
    itest_resp *r = itest_get(MARKETING_PING, NULL);
    long st = r->status;
    itest_free(r);
    if (st == 200)
        return;
    const char *args[] = { "pool-start", "marketing", NULL };
    char out[4096];
    int rc = itest_stack(out, sizeof out, args);
    if (rc != 0)
        fprintf(stderr, "test_marketing_events: stack.sh pool-start marketing exited %d: %s\n", rc,
                out);
    if (!itest_wait_serving(MARKETING_PING, POOL_BACK_S))
        fprintf(stderr, "test_marketing_events: marketing does not answer after pool-start\n");
}

static Suite *marketing_events_suite(void)
{
    Suite *s = suite_create("marketing_events");
    TCase *e2e = tcase_create("end_to_end");
    tcase_set_timeout(e2e, 90);
    tcase_add_checked_fixture(e2e, NULL, itest_teardown);
    tcase_add_test(e2e, test_end_to_end);
    suite_add_tcase(s, e2e);

    TCase *inbox = tcase_create("inbox");
    tcase_set_timeout(inbox, 60);
    tcase_add_checked_fixture(inbox, NULL, itest_teardown);
    tcase_add_test(inbox, test_inbox_auth);
    tcase_add_test(inbox, test_redelivery_and_order);
    suite_add_tcase(s, inbox);

    TCase *burst = tcase_create("concurrent");
    tcase_set_timeout(burst, 60);
    tcase_add_checked_fixture(burst, NULL, itest_teardown);
    tcase_add_test(burst, test_concurrent_confirmations);
    suite_add_tcase(s, burst);

    TCase *killed = tcase_create("sales_relay_killed");
    tcase_set_timeout(killed, 90);
    tcase_add_checked_fixture(killed, NULL, itest_teardown);
    tcase_add_test(killed, test_sales_relay_killed);
    suite_add_tcase(s, killed);

    /* Last: it leaves the relays' backoff for marketing at its longest. */
    TCase *down = tcase_create("marketing_down");
    tcase_set_timeout(down, 180);
    tcase_add_unchecked_fixture(down, NULL, restore_marketing);
    tcase_add_checked_fixture(down, NULL, itest_teardown);
    tcase_add_test(down, test_big_batches);
    tcase_add_test(down, test_marketing_down);
    suite_add_tcase(s, down);
    return s;
}

int main(void)
{
    itest_init();
    SRunner *sr = srunner_create(marketing_events_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
