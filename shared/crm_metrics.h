/*
 * crm_metrics.h - Prometheus metrics shared by the supervisor and its
 * workers through one anonymous shared mapping made before the first fork.
 * Each worker writes only its own slot (no locks); the supervisor sums the
 * slots when /metrics is scraped, so counters stay monotonic across worker
 * restarts.
 */
#ifndef CRM_METRICS_H
#define CRM_METRICS_H

#include "crm_buf.h"

/*
 * Map the shared area for `slots` workers and the given route labels
 * (names are borrowed for the life of the process). Call once, in the
 * supervisor, before forking. CRM_OK or CRM_ERR.
 */
int crm_metrics_init(const char *service, size_t slots, const char *const *routes, size_t n_routes);

/* In a worker right after fork: the slot it owns. */
void crm_metrics_attach(int slot);

/* One request done: route index (-1: unmatched), status, seconds. */
void crm_metrics_request(int route, int status, double seconds);
/* In-flight gauge of the calling worker's slot: +1 / -1. */
void crm_metrics_inflight(int delta);

/* Supervisor: a worker was replaced; reason "crash" or "recycle". */
void crm_metrics_restart(int slot, const char *reason);
/* Supervisor: workers alive now (gauge). */
void crm_metrics_workers(int alive);

/*
 * The event relay (its own process; one writer). Once called, /metrics
 * shows the relay's gauges and counters. Subscriber i (0..3) is named on
 * its first call; pending and oldest_age replace the previous values
 * (pending < 0: leave them), delivered/failures/attempts are added.
 */
#define CRM_METRICS_SUBSCRIBERS 4
void crm_metrics_relay_leader(int leader);
/* Supervisor: the relay process ended; a leader gauge of 1 becomes 0. */
void crm_metrics_relay_gone(void);
void crm_metrics_relay(size_t i, const char *subscriber, int64_t pending, double oldest_age,
                       uint64_t delivered, uint64_t failures, uint64_t attempts);

/* Render everything in Prometheus text format 0.0.4. */
void crm_metrics_render(crm_buf *out);

#endif
