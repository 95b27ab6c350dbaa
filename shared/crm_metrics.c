/*
 * crm_metrics.c - counters in one shared anonymous mapping.
 *
 * Layout: a header written only by the supervisor (restarts by reason,
 * workers alive), then one slot per worker. A slot holds, for each route
 * plus one "unmatched" row, request counts per status and the latency
 * histogram (per-bucket counts, not cumulative, and the sum in
 * nanoseconds so it can be added atomically), and the in-flight gauge.
 * Each process writes only its own slot with relaxed atomics; the
 * supervisor reads all slots and sums them when rendering. A slot outlives
 * the worker using it, so sums never go backwards when a worker is
 * replaced.
 */
#include "crm_metrics.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Statuses counted one by one; others are counted by class (1xx..5xx). */
static const int statuses[] = { 200, 201, 204, 206, 301, 302, 303, 304, 400, 401, 403, 404,
                                405, 409, 412, 413, 415, 422, 428, 429, 500, 502, 503, 504 };
#define N_LISTED  CRM_NELEM(statuses)
#define N_CLASSES 5                          /* 1xx .. 5xx */
#define N_STATUS  (N_LISTED + N_CLASSES + 1) /* + anything outside 100..599 */

static const double bucket_le[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                    0.1,    0.25,  0.5,    1,     2.5,  5,     10 };
static const char *const bucket_label[] = { "0.0005", "0.001", "0.0025", "0.005", "0.01",
                                            "0.025",  "0.05",  "0.1",    "0.25",  "0.5",
                                            "1",      "2.5",   "5",      "10" };
#define N_BUCKETS (CRM_NELEM(bucket_le) + 1) /* + "+Inf" */

static const char *const reasons[] = { "crash", "recycle" };
#define N_REASONS (CRM_NELEM(reasons) + 1) /* + "other" */

/* What the event relay (one process) says of each subscriber. */
typedef struct {
    char name[32]; /* "" until the relay names it */
    int64_t pending;
    int64_t oldest_ms;
    uint64_t delivered;
    uint64_t failures;
    uint64_t attempts;
} relay_row;

typedef struct {
    uint64_t restarts[N_REASONS];
    int64_t workers;
    int64_t relay_leader; /* -1: this service runs no relay */
    relay_row relay[CRM_METRICS_SUBSCRIBERS];
} header;

/* Slots start on their own cache line, as does each slot. */
#define HEADER_SIZE ((sizeof(header) + 63) & ~(size_t)63)

/* Per-route row of a slot. */
typedef struct {
    uint64_t status[N_STATUS];
    uint64_t bucket[N_BUCKETS];
    uint64_t sum_ns;
} row;

typedef struct {
    int64_t inflight;
    row rows[]; /* n_routes + 1; the last is "unmatched" */
} slot;

static struct {
    char service[64];
    const char *const *routes;
    size_t n_routes;
    size_t n_slots;
    size_t slot_size;
    void *area;
    size_t area_size;
    slot *mine; /* this worker's slot, NULL in the supervisor */
} m;

static slot *slot_at(size_t i)
{
    return (slot *)(void *)((char *)m.area + HEADER_SIZE + i * m.slot_size);
}

static header *hdr(void)
{
    return (header *)m.area;
}

int crm_metrics_init(const char *service, size_t slots, const char *const *routes, size_t n_routes)
{
    if (m.area != NULL) {
        munmap(m.area, m.area_size);
        m.area = NULL;
    }
    m.mine = NULL;
    if (slots == 0)
        slots = 1;
    size_t slot_size = sizeof(slot) + (n_routes + 1) * sizeof(row);
    slot_size = (slot_size + 63) & ~(size_t)63; /* no false sharing between workers */
    size_t size = HEADER_SIZE + slots * slot_size;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return CRM_ERR;
    snprintf(m.service, sizeof(m.service), "%s", service != NULL ? service : "");
    m.routes = routes;
    m.n_routes = n_routes;
    m.n_slots = slots;
    m.slot_size = slot_size;
    m.area = p;
    m.area_size = size;
    hdr()->relay_leader = -1;
    return CRM_OK;
}

void crm_metrics_attach(int slot_index)
{
    if (m.area == NULL || slot_index < 0 || (size_t)slot_index >= m.n_slots) {
        m.mine = NULL;
        return;
    }
    m.mine = slot_at((size_t)slot_index);
    /* The previous owner may have died mid-request. */
    __atomic_store_n(&m.mine->inflight, 0, __ATOMIC_RELAXED);
}

static size_t status_index(int status)
{
    for (size_t i = 0; i < N_LISTED; i++)
        if (statuses[i] == status)
            return i;
    if (status >= 100 && status <= 599)
        return N_LISTED + (size_t)(status / 100 - 1);
    return N_STATUS - 1;
}

void crm_metrics_request(int route, int status, double seconds)
{
    if (m.mine == NULL)
        return;
    size_t r = (route >= 0 && (size_t)route < m.n_routes) ? (size_t)route : m.n_routes;
    row *w = &m.mine->rows[r];
    size_t b = 0;

    if (!(seconds >= 0)) /* also catches NaN */
        seconds = 0;
    while (b < N_BUCKETS - 1 && seconds > bucket_le[b])
        b++;
    __atomic_fetch_add(&w->status[status_index(status)], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&w->bucket[b], 1, __ATOMIC_RELAXED);
    double ns = seconds * 1e9;
    uint64_t add = ns >= 1.8e19 ? UINT64_C(18000000000000000000) : (uint64_t)ns;
    __atomic_fetch_add(&w->sum_ns, add, __ATOMIC_RELAXED);
}

void crm_metrics_inflight(int delta)
{
    if (m.mine == NULL)
        return;
    __atomic_fetch_add(&m.mine->inflight, (int64_t)delta, __ATOMIC_RELAXED);
}

void crm_metrics_restart(int slot_index, const char *reason)
{
    if (m.area == NULL)
        return;
    size_t i = 0;
    while (i < CRM_NELEM(reasons) && (reason == NULL || strcmp(reason, reasons[i]) != 0))
        i++;
    __atomic_fetch_add(&hdr()->restarts[i], 1, __ATOMIC_RELAXED);
    /* The dead worker cannot take back what it had in flight. */
    if (slot_index >= 0 && (size_t)slot_index < m.n_slots)
        __atomic_store_n(&slot_at((size_t)slot_index)->inflight, 0, __ATOMIC_RELAXED);
}

void crm_metrics_workers(int alive)
{
    if (m.area == NULL)
        return;
    __atomic_store_n(&hdr()->workers, (int64_t)alive, __ATOMIC_RELAXED);
}

void crm_metrics_relay_leader(int leader)
{
    if (m.area == NULL)
        return;
    __atomic_store_n(&hdr()->relay_leader, (int64_t)(leader ? 1 : 0), __ATOMIC_RELAXED);
}

void crm_metrics_relay_gone(void)
{
    if (m.area == NULL)
        return;
    int64_t one = 1;
    __atomic_compare_exchange_n(&hdr()->relay_leader, &one, 0, 0, __ATOMIC_RELAXED,
                                __ATOMIC_RELAXED);
}

void crm_metrics_relay(size_t i, const char *subscriber, int64_t pending, double oldest_age,
                       uint64_t delivered, uint64_t failures, uint64_t attempts)
{
    if (m.area == NULL || i >= CRM_METRICS_SUBSCRIBERS)
        return;
    relay_row *r = &hdr()->relay[i];
    /* One writer (the relay); the name is set before anything is counted. */
    if (r->name[0] == '\0')
        snprintf(r->name, sizeof(r->name), "%s", subscriber);
    if (pending >= 0) {
        __atomic_store_n(&r->pending, pending, __ATOMIC_RELAXED);
        __atomic_store_n(&r->oldest_ms, (int64_t)(oldest_age * 1000.0), __ATOMIC_RELAXED);
    }
    __atomic_fetch_add(&r->delivered, delivered, __ATOMIC_RELAXED);
    __atomic_fetch_add(&r->failures, failures, __ATOMIC_RELAXED);
    __atomic_fetch_add(&r->attempts, attempts, __ATOMIC_RELAXED);
}

/* A label value with \, " and newline escaped as the text format wants. */
static void put_label(crm_buf *out, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            crm_buf_puts(out, "\\\\");
        else if (*s == '"')
            crm_buf_puts(out, "\\\"");
        else if (*s == '\n')
            crm_buf_puts(out, "\\n");
        else
            crm_buf_putc(out, *s);
    }
}

static const char *route_name(size_t r)
{
    if (r >= m.n_routes)
        return "unmatched";
    const char *n = m.routes != NULL ? m.routes[r] : NULL;
    return n != NULL ? n : "unnamed";
}

static void put_status(crm_buf *out, size_t s)
{
    if (s < N_LISTED)
        crm_buf_printf(out, "%d", statuses[s]);
    else if (s < N_LISTED + N_CLASSES)
        crm_buf_printf(out, "%zuxx", s - N_LISTED + 1);
    else
        crm_buf_puts(out, "other");
}

/* Open a sample line: name{service="..",route=".." and the caller goes on. */
static void open_sample(crm_buf *out, const char *name, const char *route)
{
    crm_buf_puts(out, name);
    crm_buf_puts(out, "{service=\"");
    put_label(out, m.service);
    crm_buf_putc(out, '"');
    if (route != NULL) {
        crm_buf_puts(out, ",route=\"");
        put_label(out, route);
        crm_buf_putc(out, '"');
    }
}

static uint64_t load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* One relay sample per named subscriber. */
static void relay_samples(crm_buf *out, const char *name, const char *help, const char *type,
                          size_t field)
{
    crm_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (size_t i = 0; i < CRM_METRICS_SUBSCRIBERS; i++) {
        relay_row *r = &hdr()->relay[i];
        if (r->name[0] == '\0')
            continue;
        open_sample(out, name, NULL);
        crm_buf_puts(out, ",subscriber=\"");
        put_label(out, r->name);
        switch (field) {
        case 0:
            crm_buf_printf(out, "\"} %lld\n",
                           (long long)__atomic_load_n(&r->pending, __ATOMIC_RELAXED));
            break;
        case 1:
            crm_buf_printf(out, "\"} %.3f\n",
                           (double)__atomic_load_n(&r->oldest_ms, __ATOMIC_RELAXED) / 1000.0);
            break;
        case 2:
            crm_buf_printf(out, "\"} %llu\n", (unsigned long long)load(&r->delivered));
            break;
        case 3:
            crm_buf_printf(out, "\"} %llu\n", (unsigned long long)load(&r->failures));
            break;
        default:
            crm_buf_printf(out, "\"} %llu\n", (unsigned long long)load(&r->attempts));
            break;
        }
    }
}

static void render_relay(crm_buf *out)
{
    int64_t leader = __atomic_load_n(&hdr()->relay_leader, __ATOMIC_RELAXED);
    if (leader < 0)
        return;
    crm_buf_puts(out, "# HELP crm_relay_leader 1 when this pod's relay holds the service's relay "
                      "lock and delivers events.\n# TYPE crm_relay_leader gauge\n");
    open_sample(out, "crm_relay_leader", NULL);
    crm_buf_printf(out, "} %lld\n", (long long)leader);
    relay_samples(out, "crm_events_pending", "Events not yet delivered to the subscriber.", "gauge",
                  0);
    relay_samples(out, "crm_events_oldest_pending_seconds",
                  "Age of the oldest event not yet delivered (0: none).", "gauge", 1);
    relay_samples(out, "crm_events_delivered_total", "Events the subscriber acknowledged.",
                  "counter", 2);
    relay_samples(out, "crm_event_delivery_failures_total",
                  "Deliveries that failed and will be retried.", "counter", 3);
    relay_samples(out, "crm_event_delivery_attempts_total", "Deliveries tried (batches).",
                  "counter", 4);
}

void crm_metrics_render(crm_buf *out)
{
    if (m.area == NULL)
        return;
    size_t n_rows = m.n_routes + 1;
    row *sum = crm_xcalloc(n_rows, sizeof(row));
    int64_t inflight = 0;

    for (size_t i = 0; i < m.n_slots; i++) {
        slot *s = slot_at(i);
        inflight += __atomic_load_n(&s->inflight, __ATOMIC_RELAXED);
        for (size_t r = 0; r < n_rows; r++) {
            for (size_t k = 0; k < N_STATUS; k++)
                sum[r].status[k] += load(&s->rows[r].status[k]);
            for (size_t k = 0; k < N_BUCKETS; k++)
                sum[r].bucket[k] += load(&s->rows[r].bucket[k]);
            sum[r].sum_ns += load(&s->rows[r].sum_ns);
        }
    }
    if (inflight < 0)
        inflight = 0;

    crm_buf_puts(out, "# HELP crm_http_requests_total HTTP requests served, by route and "
                      "status.\n# TYPE crm_http_requests_total counter\n");
    for (size_t r = 0; r < n_rows; r++) {
        for (size_t k = 0; k < N_STATUS; k++) {
            if (sum[r].status[k] == 0)
                continue;
            open_sample(out, "crm_http_requests_total", route_name(r));
            crm_buf_puts(out, ",status=\"");
            put_status(out, k);
            crm_buf_printf(out, "\"} %llu\n", (unsigned long long)sum[r].status[k]);
        }
    }

    crm_buf_puts(out, "# HELP crm_http_request_duration_seconds Time from accepting a request "
                      "to its response being sent.\n"
                      "# TYPE crm_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < n_rows; r++) {
        uint64_t cum = 0;
        for (size_t k = 0; k < N_BUCKETS; k++)
            cum += sum[r].bucket[k];
        if (cum == 0)
            continue;
        cum = 0;
        for (size_t k = 0; k < N_BUCKETS; k++) {
            cum += sum[r].bucket[k];
            open_sample(out, "crm_http_request_duration_seconds_bucket", route_name(r));
            crm_buf_printf(out, ",le=\"%s\"} %llu\n", k < N_BUCKETS - 1 ? bucket_label[k] : "+Inf",
                           (unsigned long long)cum);
        }
        open_sample(out, "crm_http_request_duration_seconds_sum", route_name(r));
        crm_buf_printf(out, "} %.9f\n", (double)sum[r].sum_ns / 1e9);
        open_sample(out, "crm_http_request_duration_seconds_count", route_name(r));
        crm_buf_printf(out, "} %llu\n", (unsigned long long)cum);
    }

    crm_buf_puts(out, "# HELP crm_http_requests_in_flight Requests being handled now.\n"
                      "# TYPE crm_http_requests_in_flight gauge\n");
    open_sample(out, "crm_http_requests_in_flight", NULL);
    crm_buf_printf(out, "} %lld\n", (long long)inflight);

    crm_buf_puts(out, "# HELP crm_worker_restarts_total Workers replaced, by reason.\n"
                      "# TYPE crm_worker_restarts_total counter\n");
    for (size_t i = 0; i < N_REASONS; i++) {
        open_sample(out, "crm_worker_restarts_total", NULL);
        crm_buf_printf(out, ",reason=\"%s\"} %llu\n", i < CRM_NELEM(reasons) ? reasons[i] : "other",
                       (unsigned long long)load(&hdr()->restarts[i]));
    }

    crm_buf_puts(out, "# HELP crm_workers Worker processes alive.\n# TYPE crm_workers gauge\n");
    open_sample(out, "crm_workers", NULL);
    crm_buf_printf(out, "} %lld\n", (long long)__atomic_load_n(&hdr()->workers, __ATOMIC_RELAXED));

    render_relay(out);
    free(sum);
}
